"""Shared test fixtures: tiny CPU segmentors and synthetic batches."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tta_seg  # noqa: E402,F401  (installs the mmcv._ext stub)
from tests.tiny import make_batch, tiny_segmentor_cfg  # noqa: E402


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
