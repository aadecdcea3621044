"""One trial of a sweep, as a Ray worker (or anything else) runs it.

A trial is exactly ``tools/test_tta.py CONFIG --work-dir ROOT/NAME
--seed S --cfg-options ...`` run in the calling process, made idempotent:

* a work dir whose ``results.json`` is complete and has the trial's
  fingerprint (:mod:`tta_seg.engine.identity`) is not run again;
* one that is complete with another fingerprint is an error (the work
  root holds a different run under this name: nothing is overwritten);
* one that another live process holds (a worker of a killed driver
  still writing it) is refused, naming that process
  (:mod:`tta_seg.utils.lock`);
* one with a ``resume_state.pth`` (an interrupted attempt: SIGKILL, node
  loss, preemption) resumes from it, and the loop's own identity check
  refuses a state of a different run.

So a retried attempt ends with the records of an uninterrupted run.
"""
import json
import os.path as osp
import resource
import time
from typing import Optional

from tta_seg.engine.resume import RESUME_FILE
from tta_seg.evaluation.results import RESULTS_FILE
from tta_seg.utils.io import atomic_write_text
from tta_seg.utils.lock import work_dir_lock

ATTEMPTS_FILE = 'attempts.txt'
#: Seconds a trial waits for its work dir's lock: a worker on a lost node
#: may hold it on a shared file system until the server drops it (the
#: NFSv4 lease is 90 s); a live holder still refuses the trial after.
LOCK_WAIT_S = 120.0


class TrialConflict(RuntimeError):
    """The work dir holds the complete results of a different run."""


def read_results(work_dir: str) -> Optional[dict]:
    """``results.json`` of a work dir, or None when there is none."""
    path = osp.join(work_dir, RESULTS_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def conflict_with(cfg, work_dir: str,
                  done: Optional[dict] = None) -> Optional[str]:
    """Why ``work_dir`` cannot take the run of ``cfg``: it holds the
    complete results of a run with another fingerprint (None if not).
    ``done``: its results.json when the caller read it already."""
    from tta_seg.engine.identity import fingerprint, run_identity
    done = done if done is not None else read_results(work_dir)
    if not (done and done.get('complete')):
        return None
    expected = fingerprint(run_identity(cfg))
    if done.get('fingerprint') == expected:
        return None
    return (f'{work_dir} holds the complete results of another run '
            f"(fingerprint {done.get('fingerprint')}, this trial "
            f'{expected}); choose another work root or move that folder')


def _count_attempt(work_dir: str) -> int:
    path = osp.join(work_dir, ATTEMPTS_FILE)
    count = 0
    if osp.isfile(path):
        with open(path) as f:
            count = int(f.read().strip() or 0)
    atomic_write_text(path, str(count + 1))
    return count + 1


def _peak_memory() -> dict:
    """Peak memory of this process in MiB: resident set (CPU) and, on
    CUDA, the allocator's peak."""
    out = dict(peak_rss_mb=round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    import torch
    if torch.cuda.is_available():
        out['peak_cuda_mb'] = round(
            torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def run_trial(trial: dict, work_root: str,
              threads: Optional[int] = None) -> dict:
    """Run (or skip, or resume) one trial.

    Args:
        trial (dict): :meth:`Trial.to_dict`.
        work_root (str): Folder of the sweep; the trial writes into
            ``work_root/<name>``.
        threads (int, optional): ``torch.set_num_threads``.

    Returns:
        dict: ``name``, ``status`` ('done' or 'skipped': complete before),
        ``attempts``, ``resumed``, ``seconds``, peak memory and
        ``results`` (the run's results.json).

    Raises:
        WorkDirBusy: Another process (e.g. a worker of a killed driver)
            still runs in the trial's work dir after :data:`LOCK_WAIT_S`.
        TrialConflict: The work dir holds another run's complete results.
    """
    name = trial['name']
    work_dir = osp.join(work_root, name)
    with work_dir_lock(work_dir, wait_s=LOCK_WAIT_S):
        return _run_locked(trial, work_dir, threads)


def _run_locked(trial: dict, work_dir: str,
                threads: Optional[int]) -> dict:
    from tta_seg.apis.run import build_run_cfg, run_tta
    name = trial['name']
    start = time.time()
    cfg = build_run_cfg(trial['config'], work_dir, trial['cfg_options'],
                        trial['seed'],
                        data_roots=trial.get('data_roots') or None)
    done = read_results(work_dir)
    conflict = conflict_with(cfg, work_dir, done)
    if conflict:
        raise TrialConflict(conflict)
    out = dict(name=name, resumed=False)
    if done and done.get('complete'):
        return dict(out, status='skipped', attempts=0, seconds=0.0,
                    results=done)
    out['attempts'] = _count_attempt(work_dir)
    out['resumed'] = osp.isfile(osp.join(work_dir, RESUME_FILE))
    cfg.test_cfg.resume = out['resumed']
    if threads:
        import torch
        torch.set_num_threads(int(threads))
    run_tta(cfg)
    return dict(out, status='done', seconds=round(time.time() - start, 1),
                results=read_results(work_dir), **_peak_memory())
