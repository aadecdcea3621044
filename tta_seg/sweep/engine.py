"""Run the trials of a sweep on Ray: a local instance by default, the
same call on an existing cluster with ``address``.

Why Ray core tasks and not Ray Tune: a trial here is one long run with
its own checkpointing (``resume_state.pth``, exact resume with an
identity check) and no intermediate metric to schedule on, so Tune's
trial schedulers and searchers have nothing to act on, and its
bookkeeping (experiment restore, trial dirs) would duplicate what the
work dirs already hold. Ray core gives what is needed: resources per
trial (fractional GPUs), placement on a cluster, and retries of a task
whose worker died (``max_retries``; SIGKILL, node loss, preemption),
without pulling Tune's extra dependencies (pandas, pyarrow) into the
install. Each task runs in a fresh worker process (``max_calls=1``), so
trials share no state, memory and peak-memory figures are per trial, and
a retry starts clean and resumes from the trial's work dir.

Application errors are not retried (a broken config fails alone, once,
with its traceback in ``sweep.json``); only worker deaths are.

On a cluster, ``work_root`` must be a folder every node reaches (a shared
file system): an interrupted trial resumes on whichever node retries it.
Without one, finished results still come back to the driver, which
writes them under its own ``work_root``, but resuming across nodes needs
the shared folder.
"""
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional

from tqdm import tqdm

from tta_seg.evaluation.results import RESULTS_FILE
from tta_seg.utils.io import atomic_write_text
from .spec import Trial, check_trials
from .trial import run_trial

SWEEP_FILE = 'sweep.json'


def _worker_env() -> dict:
    """Environment of the workers: the driver's directory and the
    repository on the import path (configs' ``custom_imports``)."""
    from tta_seg.apis.config import REPO_ROOT
    paths = [os.getcwd(), REPO_ROOT] + \
        [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
    return {'PYTHONPATH': os.pathsep.join(dict.fromkeys(paths))}


def init_ray(address: Optional[str] = None,
             num_cpus: Optional[int] = None) -> bool:
    """Connect to ``address`` (or ``$RAY_ADDRESS``), else start a local Ray
    instance with ``num_cpus``. Returns whether this call started or
    joined Ray (and so should shut it down)."""
    import logging

    import ray
    if ray.is_initialized():
        return False
    address = address or os.environ.get('RAY_ADDRESS') or None
    ray.init(address=address, num_cpus=None if address else num_cpus,
             include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING,
             runtime_env=dict(env_vars=_worker_env()))
    return True


def _failure(name: str, error: str, detail: Optional[str] = None) -> dict:
    out = dict(name=name, status='failed', error=error)
    if detail:
        out['traceback'] = detail
    return out


def _collect(ref, name: str) -> dict:
    import ray
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        return _failure(name, f'{type(cause).__name__}: {cause}'
                        if cause is not None else str(exc), str(exc))
    except ray.exceptions.RayError as exc:  # worker died on every retry
        return _failure(name, f'{type(exc).__name__}: {exc}')


def _land(outcome: dict, work_root: str) -> dict:
    """Write results that came back to a driver that does not share the
    work root; keep sweep.json small (no records)."""
    results = outcome.pop('results', None)
    if results is not None:
        path = osp.join(work_root, outcome['name'], RESULTS_FILE)
        if not osp.isfile(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
            atomic_write_text(path, json.dumps(results, indent=1))
        outcome['mean_mIoU'] = results.get('mean_mIoU')
    return outcome


def write_sweep_file(work_root: str, trials: List[Trial],
                     outcomes: Dict[str, dict], **extra) -> None:
    """Update ``sweep.json``: the rows of these trials replace those of the
    same name; rows of other trials (an earlier call on another part of
    the sweep, e.g. the validation phase) are kept."""
    path = osp.join(work_root, SWEEP_FILE)
    old = {}
    if osp.isfile(path):
        with open(path) as f:
            old = json.load(f)
    rows = {r['name']: r for r in old.get('trials', [])}
    for t in trials:
        outcome = outcomes.get(t.name, dict(status='pending'))
        before = rows.get(t.name, {})
        if outcome['status'] in ('skipped', 'pending') and \
                before.get('status') == 'done':
            continue  # keep the finished run's attempts, time and memory
        rows[t.name] = dict(t.to_dict(), **outcome)
    meta = {k: v for k, v in old.items() if k not in ('trials', 'work_root')}
    atomic_write_text(path, json.dumps(
        dict(work_root=work_root, **dict(meta, **extra),
             trials=list(rows.values())), indent=1, default=str))


def run_sweep(trials: List[Trial], work_root: str,
              address: Optional[str] = None, cpus_per_trial: float = 1,
              gpus_per_trial: float = 0, max_retries: int = 3,
              num_cpus: Optional[int] = None,
              progress: Optional[bool] = None) -> Dict[str, dict]:
    """Run every trial (skipping complete ones, resuming interrupted ones).

    Args:
        trials (list[Trial]): From :func:`~tta_seg.sweep.spec.expand`.
        work_root (str): Output folder of the sweep (made absolute).
        address (str, optional): Ray cluster address; default
            ``$RAY_ADDRESS``, else a local instance.
        cpus_per_trial (float): Ray CPUs (and torch threads) per trial.
        gpus_per_trial (float): Ray GPUs per trial (fractional shares one).
        max_retries (int): Retries of a trial whose worker died.
        num_cpus (int, optional): CPUs of a local instance (default all).
        progress (bool, optional): Progress bar (default: on a terminal).

    Returns:
        dict: trial name -> outcome (``status`` done / skipped / failed,
        ``error``, ``attempts``, ``resumed``, ``seconds``, peak memory,
        ``mean_mIoU``), also written to ``work_root/sweep.json`` after
        every trial, with the sweep's wall time at the end.
    """
    import ray
    work_root = osp.abspath(work_root)
    os.makedirs(work_root, exist_ok=True)
    outcomes = {name: _failure(name, error)
                for name, error in check_trials(trials, work_root).items()}
    write_sweep_file(work_root, trials, outcomes)
    started = init_ray(address, num_cpus)
    start = time.time()
    try:
        task = ray.remote(max_calls=1)(run_trial).options(
            num_cpus=cpus_per_trial, num_gpus=gpus_per_trial,
            max_retries=max_retries, retry_exceptions=False)
        threads = max(1, int(cpus_per_trial))
        pending = {task.remote(t.to_dict(), work_root, threads): t
                   for t in trials if t.name not in outcomes}
        with tqdm(total=len(trials), initial=len(outcomes), unit='trial',
                  desc='sweep', dynamic_ncols=True, disable=None
                  if progress is None else not progress) as bar:
            while pending:
                (ref, ), _ = ray.wait(list(pending), num_returns=1)
                trial = pending.pop(ref)
                outcomes[trial.name] = _land(_collect(ref, trial.name),
                                             work_root)
                write_sweep_file(work_root, trials, outcomes)
                bar.set_postfix_str(
                    f"{trial.name}: {outcomes[trial.name]['status']}")
                bar.update()
    finally:
        if started:
            ray.shutdown()
    write_sweep_file(work_root, trials, outcomes,
                     wall_seconds=round(time.time() - start, 1))
    return outcomes
