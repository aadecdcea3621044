"""Run the trials of a sweep and keep ``sweep.json``: checking every
trial's config first, skipping finished trials, resuming interrupted ones,
refusing work dirs that hold another run, and recording each outcome as
it arrives. How the trials run is the launcher's business
(:mod:`.launchers`: Ray by default, ``serial`` without Ray).
"""
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional

from tqdm import tqdm

from tta_seg.evaluation.results import RESULTS_FILE
from tta_seg.utils.io import atomic_write_text
from .launchers import (CONFLICT, LAUNCHERS, SweepNotStarted, conflict,
                        failure, init_ray, shutdown_ray)
from .spec import Trial, check_trials

__all__ = ['CONFLICT', 'SWEEP_FILE', 'SweepNotStarted', 'init_ray',
           'run_sweep', 'shutdown_ray', 'write_sweep_file']

SWEEP_FILE = 'sweep.json'


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
    the sweep, e.g. the validation phase) are kept, and so is a finished
    row whose trial is now skipped, pending or refused as a conflict (its
    work dir still holds that finished run)."""
    path = osp.join(work_root, SWEEP_FILE)
    old = {}
    if osp.isfile(path):
        with open(path) as f:
            old = json.load(f)
    rows = {r['name']: r for r in old.get('trials', [])}
    for t in trials:
        outcome = outcomes.get(t.name, dict(status='pending'))
        before = rows.get(t.name, {})
        if outcome['status'] in ('skipped', 'pending', CONFLICT) and \
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
              progress: Optional[bool] = None,
              launcher: str = 'ray') -> Dict[str, dict]:
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
        launcher (str): A name of :data:`~.launchers.LAUNCHERS`
            (``'ray'`` or ``'serial'``).

    Returns:
        dict: trial name -> outcome (``status`` done / skipped / failed /
        conflict, ``error``, ``attempts``, ``resumed``, ``seconds``, peak
        memory, ``mean_mIoU``), also written to ``work_root/sweep.json``
        after every trial, with the sweep's wall time at the end. A
        ``conflict`` is a trial whose work dir holds the complete results
        of another run: it is not run, and a finished row of it in
        ``sweep.json`` is kept.

    Raises:
        SweepNotStarted: ``address`` does not answer, or no node has
            ``cpus_per_trial`` / ``gpus_per_trial``; nothing was submitted.
        KeyError: An unknown launcher.
    """
    if launcher not in LAUNCHERS:
        raise KeyError(f'unknown launcher {launcher!r}; known: '
                       f'{sorted(LAUNCHERS)}')
    work_root = osp.abspath(work_root)
    os.makedirs(work_root, exist_ok=True)
    conflicts = {}
    outcomes = {name: failure(name, error) for name, error in check_trials(
        trials, work_root, conflicts).items()}
    outcomes.update({name: conflict(name, error)
                     for name, error in conflicts.items()})
    write_sweep_file(work_root, trials, outcomes)
    start = time.time()
    with LAUNCHERS[launcher](address, num_cpus, cpus_per_trial,
                             gpus_per_trial, max_retries) as runner, \
            tqdm(total=len(trials), initial=len(outcomes), unit='trial',
                 desc='sweep', dynamic_ncols=True, disable=None
                 if progress is None else not progress) as bar:
        todo = [t for t in trials if t.name not in outcomes]
        for trial, outcome in runner.run(todo, work_root):
            outcomes[trial.name] = _land(outcome, work_root)
            write_sweep_file(work_root, trials, outcomes)
            bar.set_postfix_str(f"{trial.name}: {outcome['status']}")
            bar.update()
    write_sweep_file(work_root, trials, outcomes,
                     wall_seconds=round(time.time() - start, 1))
    return outcomes
