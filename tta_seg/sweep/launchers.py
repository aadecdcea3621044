"""Launchers: how the trials of a sweep are run. A small registry
(:data:`LAUNCHERS`), so that the sweep's logic (skipping, resuming,
conflicts, ``sweep.json``, selection) is the same and tested whatever
runs the trials:

* ``ray`` (default): Ray core tasks on a local instance, or on an existing
  cluster with ``address``;
* ``serial``: one trial after another in this process: no Ray, no
  retries (a crash of the process ends the sweep; re-running it resumes).

A launcher is a context manager (start and stop what it needs) whose
:meth:`Launcher.run` yields ``(trial, outcome)`` as each trial ends; an
outcome is what :func:`~tta_seg.sweep.trial.run_trial` returns, or a
``failed`` / ``conflict`` row with the error.

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
import os
import shutil
import socket
import tempfile
import traceback
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from .spec import Trial
from .trial import TrialConflict, run_trial

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

#: name -> launcher class (:func:`register_launcher`).
LAUNCHERS: Dict[str, type] = {}


class SweepNotStarted(RuntimeError):
    """The sweep cannot run at all (an address that does not answer, more
    resources per trial than any node has); nothing was submitted."""


def register_launcher(name: str) -> Callable[[type], type]:
    """Class decorator: make a launcher available as ``name``."""
    def add(cls: type) -> type:
        LAUNCHERS[name] = cls
        return cls
    return add


def failure(name: str, error: str, detail: Optional[str] = None) -> dict:
    """A ``failed`` outcome."""
    out = dict(name=name, status='failed', error=error)
    if detail:
        out['traceback'] = detail
    return out


def conflict(name: str, error: str) -> dict:
    """A ``conflict`` outcome: the work dir holds another run."""
    return dict(name=name, status=CONFLICT, error=error)


class Launcher:
    """Runs trials. Args are those of
    :func:`~tta_seg.sweep.engine.run_sweep`; a launcher ignores what it
    has no use for."""

    def __init__(self, address: Optional[str] = None,
                 num_cpus: Optional[int] = None, cpus_per_trial: float = 1,
                 gpus_per_trial: float = 0, max_retries: int = 3) -> None:
        self.address, self.num_cpus = address, num_cpus
        self.cpus_per_trial, self.gpus_per_trial = cpus_per_trial, \
            gpus_per_trial
        self.max_retries = max_retries

    @property
    def threads(self) -> int:
        """torch threads of a trial."""
        return max(1, int(self.cpus_per_trial))

    def __enter__(self) -> 'Launcher':
        return self

    def __exit__(self, *exc) -> None:
        pass

    def run(self, trials: List[Trial],
            work_root: str) -> Iterator[Tuple[Trial, dict]]:
        raise NotImplementedError


@register_launcher('serial')
class SerialLauncher(Launcher):
    """One trial after another in this process (no Ray)."""

    def run(self, trials: List[Trial],
            work_root: str) -> Iterator[Tuple[Trial, dict]]:
        for trial in trials:
            try:
                outcome = run_trial(trial.to_dict(), work_root, self.threads)
            except TrialConflict as err:
                outcome = conflict(trial.name, str(err))
            except Exception as err:  # noqa: BLE001 (the trial fails alone)
                outcome = failure(trial.name, f'{type(err).__name__}: {err}',
                                  traceback.format_exc())
            yield trial, outcome


@register_launcher('ray')
class RayLauncher(Launcher):
    """Ray core tasks: a local instance, or a cluster at ``address``."""

    def __enter__(self) -> 'RayLauncher':
        self.started = init_ray(self.address, self.num_cpus)
        try:
            check_resources(self.cpus_per_trial, self.gpus_per_trial)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.started:
            shutdown_ray()
            self.started = False

    def run(self, trials: List[Trial],
            work_root: str) -> Iterator[Tuple[Trial, dict]]:
        import ray
        task = ray.remote(max_calls=1)(run_trial).options(
            num_cpus=self.cpus_per_trial, num_gpus=self.gpus_per_trial,
            max_retries=self.max_retries, retry_exceptions=False)
        pending = {task.remote(t.to_dict(), work_root, self.threads): t
                   for t in trials}
        while pending:
            (ref, ), _ = ray.wait(list(pending), num_returns=1)
            trial = pending.pop(ref)
            yield trial, _collect(ref, trial.name)


def _worker_env() -> dict:
    """Environment of the workers: the driver's directory and the
    repository on the import path (configs' ``custom_imports``)."""
    from tta_seg.utils.paths import REPO_ROOT
    paths = [os.getcwd(), REPO_ROOT] + \
        [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
    return {'PYTHONPATH': os.pathsep.join(dict.fromkeys(paths))}


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


def check_address(address: str,
                  timeout_s: float = CONNECT_TIMEOUT_S) -> None:
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


def _collect(ref, name: str) -> dict:
    import ray
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, TrialConflict):
            return conflict(name, str(cause))
        return failure(name, f'{type(cause).__name__}: {cause}'
                       if cause is not None else str(exc), str(exc))
    except ray.exceptions.RayError as exc:  # worker died on every retry
        return failure(name, f'{type(exc).__name__}: {exc}')
