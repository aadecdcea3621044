"""Atomic file output: readers see the old file or the new one, never a
part, and an interrupted writer leaves nothing behind that lasts.

Every output goes to ``<path>.tmp<pid>`` and is renamed over ``path`` when
complete. A failed write removes its temporary file; a killed process
cannot, so :func:`clean_stale_tmp` removes the temporary files of writers
that are no longer running (their pid is gone). A full disk is reported
naming the file and the cause.
"""
import errno
import glob
import hashlib
import os
import os.path as osp
import re
import shutil
from typing import Callable, Dict, Tuple

_TMP = re.compile(r'\.tmp(\d+)$')
_HASHES: Dict[Tuple[str, int, float], str] = {}
#: How torch's C++ file writer words a failed write (torch 2.x).
WRITER_FAILURES = ('writ', 'unexpected pos', 'basic_ios')


def tmp_path(path: str) -> str:
    """The temporary file a writer of ``path`` in this process uses."""
    return f'{path}.tmp{os.getpid()}'


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (this one included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale_tmp(folder: str) -> list:
    """Remove ``*.tmp<pid>`` files in ``folder`` whose writer is gone.

    Returns:
        list[str]: The removed paths.
    """
    removed = []
    for path in glob.glob(osp.join(glob.escape(folder), '*.tmp*')):
        match = _TMP.search(path)
        if match and osp.isfile(path) and not pid_alive(int(match[1])):
            try:
                os.remove(path)
                removed.append(path)
            except FileNotFoundError:  # another cleaner was first
                pass
    return removed


def describe_os_error(err: OSError, path: str) -> str:
    """A message naming ``path`` and the cause of ``err``."""
    if err.errno == errno.ENOSPC:
        return f'no space left on the device while writing {path}'
    if err.errno == errno.EDQUOT:
        return f'disk quota exceeded while writing {path}'
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f'no permission to write {path} ({err.strerror})'
    return f'could not write {path}: {err.strerror or err}'


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` and rename the result over ``path``.

    Args:
        path (str): Final file.
        write (callable): Writes the complete file at the path it is given
            (e.g. :func:`save_torch`).

    Raises:
        OSError: Same errno, with a message naming ``path`` and the cause.
            A writer that fails with another error while the disk is full
            (torch's C++ writer says ``unexpected pos`` or
            ``basic_ios::clear``) is reported as ``ENOSPC`` too: the free
            space is read *before* the temporary file is removed, since
            removing it frees the space again.
    """
    tmp = tmp_path(path)
    try:
        write(tmp)
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        full = not isinstance(err, (OSError, KeyboardInterrupt)) and \
            osp.exists(tmp) and _disk_full(path)
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(err, OSError) and not isinstance(
                err, FileNotFoundError):
            raise OSError(err.errno, describe_os_error(err, path)) from err
        if full or _writer_failure(err):
            code = errno.ENOSPC if full else errno.EIO
            raise OSError(code, describe_os_error(
                OSError(code, str(err)), path)) from err
        raise


def _writer_failure(err: BaseException) -> bool:
    """A write failure that torch's C++ writer reports as RuntimeError."""
    return isinstance(err, RuntimeError) and any(
        mark in str(err) for mark in WRITER_FAILURES)


def _disk_full(path: str, margin: int = 1 << 20) -> bool:
    """Whether less than ``margin`` bytes are free beside ``path``."""
    try:
        return shutil.disk_usage(osp.dirname(osp.abspath(path))).free < margin
    except OSError:
        return False


def save_torch(obj, path: str) -> None:
    """``torch.save`` through a Python file object, so that a failed write
    raises the ``OSError`` of the system (``ENOSPC``...) rather than a
    ``RuntimeError`` of torch's own writer."""
    import torch
    with open(path, 'wb') as f:
        torch.save(obj, f)


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            f.write(text)

    atomic_write(path, write)


def file_sha256(path: str) -> str:
    """SHA-256 of a file (cached per path, size and modification time)."""
    stat = os.stat(path)
    key = (osp.abspath(path), stat.st_size, stat.st_mtime)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]
