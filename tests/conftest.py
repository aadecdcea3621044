"""Shared test fixtures: tiny CPU segmentors and synthetic batches, and
another process holding a work dir."""
import os
import subprocess
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tta_seg  # noqa: E402,F401  (installs the mmcv._ext stub)
from tests.tiny import (make_batch, tiny_segmentor_cfg,  # noqa: E402
                        write_tiny_cityscapes)


def pytest_addoption(parser):
    parser.addoption('--run-heavy', action='store_true',
                     help='also run the tests marked heavy (minutes each)')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--run-heavy'):
        return
    skip = pytest.mark.skip(reason='heavy: run with --run-heavy')
    for item in items:
        if 'heavy' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _tta_scope():
    from mmengine.registry import init_default_scope
    init_default_scope('tta_seg')
    yield


@pytest.fixture
def bn_segmentor_cfg():
    return tiny_segmentor_cfg('bn')


@pytest.fixture
def ln_segmentor_cfg():
    return tiny_segmentor_cfg('ln')


@pytest.fixture
def batch():
    return make_batch()


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    """Tiny Cityscapes-layout data (splits a, b, val), one per module."""
    return write_tiny_cityscapes(str(tmp_path_factory.mktemp('tiny_cs')))


_HOLDER = '''
import sys
sys.path.insert(0, {repo!r})
from tta_seg.utils.lock import work_dir_lock
with work_dir_lock({work_dir!r}):
    print('locked', flush=True)
    sys.stdin.read()  # until the test closes stdin or kills us
'''


@pytest.fixture
def hold_work_dir():
    """``hold_work_dir(path)`` starts a process that holds ``path``'s
    work-dir lock until the test ends; returns the ``Popen``."""
    procs = []

    def start(work_dir: str) -> subprocess.Popen:
        from tta_seg.apis.config import REPO_ROOT
        proc = subprocess.Popen(
            [sys.executable, '-c', textwrap.dedent(_HOLDER.format(
                repo=REPO_ROOT, work_dir=str(work_dir)))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == 'locked'
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
