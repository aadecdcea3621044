"""Atomic outputs: a killed writer leaves the old file and a temporary
file that the next writer removes; a full disk is named."""
import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tta_seg.apis.config import REPO_ROOT
from tta_seg.evaluation.results import plot_stream
from tta_seg.utils.io import atomic_write_text, clean_stale_tmp

RECORDS = [dict(round=1, domain=d, mIoU=v)
           for d, v in (('fog', 10.0), ('night', 20.0))]

KILLED_PLOT = '''
import os, signal, sys
sys.path.insert(0, {repo!r})
import matplotlib
matplotlib.use('Agg')
from matplotlib.figure import Figure
from tta_seg.evaluation.results import plot_stream

def savefig_then_die(self, fname, *args, **kwargs):
    with open(fname, 'wb') as f:
        f.write(b'half a png')
        f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

Figure.savefig = savefig_then_die
plot_stream({records!r}, {path!r}, title='killed')
'''


@pytest.mark.slow
def test_kill_during_plot_write_keeps_the_old_plot(tmp_path):
    path = str(tmp_path / 'miou.png')
    plot_stream(RECORDS, path, title='first')
    before = open(path, 'rb').read()
    script = textwrap.dedent(KILLED_PLOT.format(repo=REPO_ROOT,
                                                records=RECORDS, path=path))
    proc = subprocess.run([sys.executable, '-c', script])
    assert proc.returncode == -signal.SIGKILL
    assert open(path, 'rb').read() == before  # never a partial plot
    left = [p for p in os.listdir(tmp_path) if '.tmp' in p]
    assert len(left) == 1
    assert clean_stale_tmp(str(tmp_path)) == [str(tmp_path / left[0])]
    assert os.listdir(tmp_path) == ['miou.png']


def test_live_writers_temporary_files_are_kept(tmp_path):
    mine = tmp_path / f'results.json.tmp{os.getpid()}'
    mine.write_text('{}')
    assert clean_stale_tmp(str(tmp_path)) == []
    assert mine.exists()


def test_full_disk_is_named_and_leaves_nothing(tmp_path, monkeypatch):
    path = str(tmp_path / 'results.json')
    real_open = open

    def full_disk_open(file, mode='r', *args, **kwargs):
        if 'w' in mode:
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr('builtins.open', full_disk_open)
    with pytest.raises(OSError, match='no space left.*results.json') as err:
        atomic_write_text(path, '{}')
    monkeypatch.undo()
    assert err.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []


def test_torch_writer_failure_on_a_full_disk_is_named(tmp_path, monkeypatch):
    """torch's C++ writer reports a full disk as ``unexpected pos`` or
    ``basic_ios::clear``; the space is checked while the temporary file
    still fills the disk, not after removing it frees the space."""
    import tta_seg.utils.io as io
    path = str(tmp_path / 'resume_state.pth')
    tmp = io.tmp_path(path)

    def disk_full_while_tmp_exists(_path, margin=1 << 20):
        return os.path.exists(tmp)

    def torch_like_writer(target):
        with open(target, 'wb') as f:
            f.write(b'x' * 100)
        raise RuntimeError('[enforce fail at inline_container.cc:672] . '
                           'unexpected pos 704 vs 598')

    monkeypatch.setattr(io, '_disk_full', disk_full_while_tmp_exists)
    with pytest.raises(OSError, match='no space left.*resume_state.pth') \
            as err:
        io.atomic_write(path, torch_like_writer)
    assert err.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []


def test_save_torch_on_a_real_full_disk(tmp_path):
    """On a 1 MiB tmpfs (needs root and mount; skipped elsewhere): the
    error names the file and the full disk, the old file survives."""
    import torch
    from tta_seg.utils.io import atomic_write, save_torch
    mnt = tmp_path / 'mnt'
    mnt.mkdir()
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs',
                       str(mnt)], capture_output=True).returncode != 0:
        pytest.skip('cannot mount a small tmpfs here')
    try:
        path = str(mnt / 'resume_state.pth')
        atomic_write(path, lambda t: save_torch({'w': torch.ones(4)}, t))
        big = {'w': torch.zeros(2 << 20)}  # 8 MiB
        with pytest.raises(OSError, match='no space left.*resume_state.pth'):
            atomic_write(path, lambda t: save_torch(big, t))
        with pytest.raises(OSError, match='no space left.*resume_state.pth'):
            atomic_write(path, lambda t: torch.save(big, t))  # C++ writer
        assert os.listdir(mnt) == ['resume_state.pth']
        assert torch.equal(torch.load(path)['w'], torch.ones(4))
    finally:
        subprocess.run(['umount', '-l', str(mnt)])
