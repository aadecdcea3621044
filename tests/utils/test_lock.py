"""One run per work dir: a second holder is refused naming the first's
pid; the lock dies with its process; nesting in one process is fine."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tta_seg.apis.config import REPO_ROOT
from tta_seg.utils.lock import WorkDirBusy, lock_holder, work_dir_lock

pytestmark = pytest.mark.slow


@pytest.fixture
def holder(tmp_path, hold_work_dir):
    work_dir = str(tmp_path / 'work')
    return work_dir, hold_work_dir(work_dir)


def test_second_holder_is_refused_naming_the_pid(holder):
    work_dir, proc = holder
    with pytest.raises(WorkDirBusy) as err:
        with work_dir_lock(work_dir):
            pytest.fail('entered a work dir another process holds')
    message = str(err.value)
    assert f'pid {proc.pid}' in message and work_dir in message
    assert '--work-dir' in message
    assert lock_holder(work_dir)['pid'] == proc.pid


def test_lock_of_a_killed_process_is_free_again(holder):
    work_dir, proc = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with work_dir_lock(work_dir):  # the kernel dropped the dead one's lock
        assert lock_holder(work_dir)['pid'] == os.getpid()


def test_nested_use_in_one_process_and_release(tmp_path):
    work_dir = str(tmp_path / 'w')
    with work_dir_lock(work_dir):
        with work_dir_lock(work_dir):
            pass
        # still held after the inner block: another process is refused
        probe = subprocess.run(
            [sys.executable, '-c', textwrap.dedent(f'''
                import sys
                sys.path.insert(0, {REPO_ROOT!r})
                from tta_seg.utils.lock import WorkDirBusy, work_dir_lock
                try:
                    with work_dir_lock({work_dir!r}):
                        sys.exit(0)
                except WorkDirBusy:
                    sys.exit(3)''')])
        assert probe.returncode == 3
    with work_dir_lock(work_dir):  # released
        pass


def test_file_system_without_flock_runs_unlocked(tmp_path, monkeypatch):
    import errno

    import tta_seg.utils.lock as lock

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, 'No locks available')

    monkeypatch.setattr(lock.fcntl, 'flock', no_flock)
    with pytest.warns(UserWarning, match='does not support flock'):
        with work_dir_lock(str(tmp_path / 'w')):
            pass
