"""The CoTTA-protocol ACDC stream config, pointed at a tiny folder in the
real ACDC layout (written by the synthetic generator), loads and runs."""
import pytest
import json
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

from tests.tiny import tiny_segmentor_cfg
from tta_seg.apis.config import REPO_ROOT
from tta_seg.datasets.synthetic import generate_benchmark

pytestmark = pytest.mark.slow


def test_acdc_protocol_stream_runs_on_acdc_layout(tmp_path):
    root = tmp_path / 'bench'
    generate_benchmark(root, num_train=1, num_val=1, num_target_train=2,
                       num_target_val=0, width=64, height=32, workers=1,
                       progress=False)
    cfg = Config.fromfile(osp.join(
        REPO_ROOT, 'configs/tent/tent_deeplabv3plus-r50_cityscapes-to-acdc.py'))
    assert cfg.test_cfg.rounds == 10
    assert [d.name for d in cfg.test_cfg.domains] == [
        'fog', 'night', 'rain', 'snow']
    for domain in cfg.test_cfg.domains:
        assert domain.dataset.max_images == 400
        assert domain.dataset.split == 'train'
        domain.dataset.data_root = str(root / 'acdc')
    cfg.test_cfg.rounds = 1
    cfg.test_cfg.progress = False
    cfg.test_dataloader.num_workers = 0
    cfg.model = dict(cfg.adapter, segmentor=tiny_segmentor_cfg('bn'))
    cfg.pop('data_preprocessor', None)
    cfg.work_dir = str(tmp_path / 'work')
    Runner.from_cfg(cfg).test()
    res = json.loads((tmp_path / 'work' / 'results.json').read_text())
    assert [(r['domain'], r['num_images']) for r in res['records']] == [
        ('fog', 2), ('night', 2), ('rain', 2), ('snow', 2)]
