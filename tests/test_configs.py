"""Every config parses (and a method config's values pass the build-time
checks); the model bases build the networks they name."""
import copy
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from tests.contract import parsed_config
from tta_seg.apis.config import REPO_ROOT, compose_model_cfg
from tta_seg.apis.values import check_values
from tta_seg.registry import MODELS

pytestmark = pytest.mark.slow

ALL = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                       recursive=True))

# parameter counts of the mmseg model-zoo architectures (millions, +-1 %);
# mmseg's SegFormer head has 256 channels for every MiT size (the paper's
# B5 uses 768: 84.7 M), and its checkpoints were trained that way
EXPECTED_MPARAMS = {
    'segformer_mit-b5_cityscapes.py': 82.0,
    'deeplabv3plus_r50_cityscapes.py': 41.2,
}


@pytest.mark.parametrize('path', ALL,
                         ids=[osp.relpath(p, REPO_ROOT) for p in ALL])
def test_config_parses(path):
    cfg = copy.deepcopy(parsed_config(path))  # shared with the contract
    if 'adapter' in cfg and 'model' in cfg:  # runnable by tools/test_tta.py
        assert cfg.default_scope == 'tta_seg'
        assert cfg.test_cfg.type == 'ContinualTestLoop'
        assert 'source_checkpoint' in cfg
        # its values pass the build-time checks (no false alarm)
        check_values(compose_model_cfg(cfg, checkpoint='unused.pth'))
    elif 'adapter' in cfg:  # configs/_base_/adapters/: an adapter alone
        assert osp.basename(osp.dirname(path)) == 'adapters'


@pytest.mark.parametrize('name', sorted(EXPECTED_MPARAMS))
def test_real_model_bases_build(name):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/_base_/models', name))
    model = MODELS.build(cfg.model)
    mparams = sum(p.numel() for p in model.parameters()) / 1e6
    assert mparams == pytest.approx(EXPECTED_MPARAMS[name], rel=0.01)
