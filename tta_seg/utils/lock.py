"""One run per work dir: an exclusive ``flock`` on ``<work_dir>/.lock``.

Two runs writing one work dir (started together with other settings, or
a sweep trial retried while a worker of a killed driver still writes it)
would interleave their ``results.json`` and ``resume_state.pth``, and one
run's records would end up in no file. The first run holds the lock until
it ends; the second is refused at once with :class:`WorkDirBusy`, naming
the holder's pid (written into the lock file) and host.

The kernel drops a ``flock`` when its process dies, however it dies, so a
lock file left by a killed run never blocks the next one. Nested use in
one process (a sweep trial around the run it starts) is re-entrant.
Where ``fcntl`` is missing (Windows) the lock is skipped.
"""
import errno
import json
import os
import os.path as osp
import socket
import time
import warnings
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None

LOCK_FILE = '.lock'
#: errnos of file systems that do not support flock (Lustre without -o
#: flock, NFS without lockd, some FUSE/CIFS mounts): the run goes on
#: unlocked, with a warning.
UNSUPPORTED = (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL)
#: work dir (real path) -> [file descriptor, nesting depth] of this process.
_HELD: Dict[str, List[int]] = {}


class WorkDirBusy(RuntimeError):
    """Another live process holds the work dir."""


def lock_holder(work_dir: str) -> Optional[dict]:
    """What the lock file of ``work_dir`` says of its last holder
    (``pid``, ``host``, ``started``, ``command``), if readable."""
    try:
        with open(osp.join(work_dir, LOCK_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


@contextmanager
def work_dir_lock(work_dir: str, wait_s: float = 0.0,
                  poll_s: float = 0.5) -> Iterator[None]:
    """Hold ``work_dir`` exclusively for the ``with`` block.

    Args:
        work_dir (str): The run's folder (created if missing).
        wait_s (float): How long to wait for a busy lock before refusing
            (0: refuse at once).
        poll_s (float): Polling interval while waiting.

    Raises:
        WorkDirBusy: Another process holds the lock; the message names the
            work dir, the holder's pid and host, and what to do.
    """
    os.makedirs(work_dir, exist_ok=True)
    key = osp.realpath(work_dir)
    if fcntl is None or key in _HELD:
        if key in _HELD:
            _HELD[key][1] += 1
        try:
            yield
        finally:
            if key in _HELD:
                _HELD[key][1] -= 1
        return
    fd = _acquire(work_dir, wait_s, poll_s)
    if fd is None:  # no flock on this file system
        yield
        return
    _HELD[key] = [fd, 1]
    try:
        yield
    finally:
        del _HELD[key]
        os.close(fd)  # releases the flock (the file stays: harmless)


def _acquire(work_dir: str, wait_s: float, poll_s: float):
    """The locked file descriptor, or None where flock is unsupported."""
    path = osp.join(work_dir, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise WorkDirBusy(_busy_message(work_dir)) from None
            time.sleep(poll_s)
        except OSError as err:
            os.close(fd)
            if err.errno not in UNSUPPORTED:
                raise
            warnings.warn(f'{path}: this file system does not support '
                          f'flock ({err.strerror}); running without the '
                          'one-run-per-work-dir lock')
            return None
    info = dict(pid=os.getpid(), host=socket.gethostname(),
                started=time.strftime('%Y-%m-%d %H:%M:%S'),
                command=' '.join(_command()))
    try:  # who holds it, for the message of a refused run
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
    except OSError:  # a full disk: the lock holds, the note is missing
        pass
    return fd


def _command() -> List[str]:
    import sys
    return [osp.basename(sys.argv[0])] + sys.argv[1:] if sys.argv else []


def _busy_message(work_dir: str) -> str:
    holder = lock_holder(work_dir) or {}
    who = (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
           f"since {holder.get('started', '?')}")
    if holder.get('command'):
        who += f": {holder['command']}"
    return (f'work dir {work_dir} is in use by another run ({who}). Two '
            'runs in one work dir would mix their results: wait for that '
            'run to end (then --resume continues an interrupted one), or '
            'pass another --work-dir.')
