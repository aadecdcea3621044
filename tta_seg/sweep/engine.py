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
import shutil
import socket
import tempfile
import time
from typing import Dict, List, Optional

from tqdm import tqdm

from tta_seg.evaluation.results import RESULTS_FILE
from tta_seg.utils.io import atomic_write_text
from .spec import Trial, check_trials
from .trial import TrialConflict, run_trial

SWEEP_FILE = 'sweep.json'
#: Status of a trial refused because its work dir holds another run.
CONFLICT = 'conflict'
#: Seconds to wait for a cluster address to accept a connection.
CONNECT_TIMEOUT_S = 10.0
#: Ray's default ports: the head's GCS, and the client server (ray://).
RAY_GCS_PORT, RAY_CLIENT_PORT = 6379, 10001
#: Prefix of the temporary folder of a local instance's session.
TEMP_PREFIX = 'tta_seg_ray_'
#: That folder while the instance runs (removed by :func:`shutdown_ray`).
_OWN_TEMP_DIR: Optional[str] = None


def _worker_env() -> dict:
    """Environment of the workers: the driver's directory and the
    repository on the import path (configs' ``custom_imports``)."""
    from tta_seg.utils.paths import REPO_ROOT
    paths = [os.getcwd(), REPO_ROOT] + \
        [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
    return {'PYTHONPATH': os.pathsep.join(dict.fromkeys(paths))}


class SweepNotStarted(RuntimeError):
    """The sweep cannot run at all (an address that does not answer, more
    resources per trial than any node has); nothing was submitted."""


def init_ray(address: Optional[str] = None,
             num_cpus: Optional[int] = None) -> bool:
    """Connect to ``address`` (or ``$RAY_ADDRESS``), else start a local Ray
    instance with ``num_cpus``. Returns whether this call started or
    joined Ray (and so should end it with :func:`shutdown_ray`).

    A local instance keeps its session folder (logs, sockets) in a
    temporary folder of its own, which :func:`shutdown_ray` removes; a
    cluster address is probed first (:func:`check_address`), since Ray
    itself waits for an unreachable one for ever.

    Raises:
        SweepNotStarted: Nothing answers at the address.
    """
    import logging

    import ray
    global _OWN_TEMP_DIR
    if ray.is_initialized():
        return False
    address = address or os.environ.get('RAY_ADDRESS') or None
    kwargs = dict(include_dashboard=False, log_to_driver=False,
                  logging_level=logging.WARNING,
                  runtime_env=dict(env_vars=_worker_env()))
    if address:
        check_address(address)
        ray.init(address=address, **kwargs)
        return True
    temp_dir = tempfile.mkdtemp(prefix=TEMP_PREFIX)
    try:
        ray.init(num_cpus=num_cpus, _temp_dir=temp_dir, **kwargs)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    _OWN_TEMP_DIR = temp_dir
    return True


def shutdown_ray() -> None:
    """``ray.shutdown()``, then remove the session folder of a local
    instance that :func:`init_ray` started."""
    import ray
    global _OWN_TEMP_DIR
    ray.shutdown()
    if _OWN_TEMP_DIR is not None:
        shutil.rmtree(_OWN_TEMP_DIR, ignore_errors=True)
        _OWN_TEMP_DIR = None


def check_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse a cluster address where nothing accepts a connection within
    ``timeout_s`` (``auto`` and ``local`` are Ray's own look-ups)."""
    if address in ('auto', 'local'):
        return
    client = address.startswith('ray://')
    rest = address.split('://', 1)[-1]
    host, sep, port = rest.rpartition(':')
    if not sep:
        host, port = rest, str(RAY_CLIENT_PORT if client else RAY_GCS_PORT)
    try:
        port_number = int(port)
    except ValueError:
        raise SweepNotStarted(f'--address {address}: expected HOST:PORT '
                              f'(e.g. 10.0.0.1:{RAY_GCS_PORT})') from None
    try:
        socket.create_connection((host.strip('[]'), port_number),
                                 timeout=timeout_s).close()
    except OSError as err:
        raise SweepNotStarted(
            f'--address {address}: no Ray cluster answers at {host}:{port} '
            f'within {timeout_s:g} s ({err.strerror or err}). Is its head '
            'node running (`ray start --head` prints the address) and is '
            'the port reachable from here? Without --address (and '
            '$RAY_ADDRESS) the sweep starts a local instance.') from err


def check_resources(cpus_per_trial: float, gpus_per_trial: float) -> None:
    """Refuse resources per trial that no node of the connected instance
    has: Ray would queue such tasks for ever.

    Raises:
        SweepNotStarted: Naming the flag, its value and the largest
            node's.
    """
    import ray
    nodes = [n.get('Resources', {}) for n in ray.nodes() if n.get('Alive')]
    for flag, want, key in (('--cpus-per-trial', cpus_per_trial, 'CPU'),
                            ('--gpus-per-trial', gpus_per_trial, 'GPU')):
        most = max((n.get(key, 0.0) for n in nodes), default=0.0)
        if want > most:
            where = 'this machine\'s local instance' if _OWN_TEMP_DIR \
                else 'the cluster'
            raise SweepNotStarted(
                f'{flag} {want:g}: no node of {where} has that many '
                f'{key}s (the largest has {most:g}), so no trial could '
                f'ever start. Lower {flag}' + (
                    ', or raise --num-cpus' if key == 'CPU' and
                    _OWN_TEMP_DIR else '') + '.')


def _failure(name: str, error: str, detail: Optional[str] = None) -> dict:
    out = dict(name=name, status='failed', error=error)
    if detail:
        out['traceback'] = detail
    return out


def _conflict(name: str, error: str) -> dict:
    return dict(name=name, status=CONFLICT, error=error)


def _collect(ref, name: str) -> dict:
    import ray
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, TrialConflict):
            return _conflict(name, str(cause))
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
    """
    import ray
    work_root = osp.abspath(work_root)
    os.makedirs(work_root, exist_ok=True)
    conflicts = {}
    outcomes = {name: _failure(name, error) for name, error in check_trials(
        trials, work_root, conflicts).items()}
    outcomes.update({name: _conflict(name, error)
                     for name, error in conflicts.items()})
    write_sweep_file(work_root, trials, outcomes)
    started = init_ray(address, num_cpus)
    start = time.time()
    try:
        check_resources(cpus_per_trial, gpus_per_trial)
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
            shutdown_ray()
    write_sweep_file(work_root, trials, outcomes,
                     wall_seconds=round(time.time() - start, 1))
    return outcomes
