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
