"""tools/train.py: a few iterations on tiny data, exported weights load
with weights_only=True into the same model."""
import json
import os.path as osp
import sys
import textwrap

import torch

from tests.tiny import tiny_dataset_cfg, tiny_segmentor_cfg, \
    write_tiny_cityscapes
from tta_seg.apis.config import REPO_ROOT
from tta_seg.registry import MODELS
from tta_seg.utils.checkpoint import load_source_weights

sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
import train  # noqa: E402


def test_train_and_export(tmp_path):
    root = write_tiny_cityscapes(str(tmp_path / 'data'))
    train_set = tiny_dataset_cfg(root, 'a')
    train_set['pipeline'] = [dict(type='LoadImageFromFile'),
                             dict(type='LoadAnnotations'),
                             dict(type='RandomFlip', prob=0.5),
                             dict(type='PackSegInputs')]
    model = tiny_segmentor_cfg('bn')
    model['data_preprocessor']['size'] = (32, 48)
    cfg = f'''
    _base_ = [{osp.join(REPO_ROOT,
                        'configs/_base_/schedules/synthetic_source.py')!r}]
    synthetic_benchmark = None
    model = {model!r}
    train_dataloader = dict(batch_size=2, num_workers=0,
                            persistent_workers=False,
                            dataset={train_set!r})
    val_dataloader = dict(batch_size=1, num_workers=0,
                          dataset={tiny_dataset_cfg(root, 'val')!r})
    test_dataloader = val_dataloader
    train_cfg = dict(max_iters=4, val_interval=4)
    param_scheduler = []
    '''
    (tmp_path / 'cfg.py').write_text(textwrap.dedent(cfg))
    out = tmp_path / 'model.pth'
    train.main([str(tmp_path / 'cfg.py'), '--work-dir',
                str(tmp_path / 'work'), '--export', str(out)])
    summary = json.loads((tmp_path / 'work' / 'train_summary.json')
                         .read_text())
    assert summary['iters'] == 4 and 'mIoU' in summary['val_metrics']
    model = MODELS.build(tiny_segmentor_cfg('bn'))
    load_source_weights(model, str(out))  # weights_only=True
    state = torch.load(out, weights_only=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])
    # the train loop's final validation is reused: its metrics, not the
    # timer hook's scalars
    assert 'time' not in summary['val_metrics']
    # shipped form: fp16, optionally only some weights
    half = tmp_path / 'half.pth'
    train.export(_Runner(model, str(tmp_path / 'work')), str(half), {},
                 'float16', only='decode_head.')
    half_state = torch.load(half, weights_only=True)
    assert half_state and all(k.startswith('decode_head.')
                              for k in half_state)
    for key, value in half_state.items():
        ref = model.state_dict()[key]
        assert value.dtype == (torch.float16 if ref.is_floating_point()
                               else ref.dtype)
    assert json.loads((tmp_path / 'work' / 'train_summary.json').read_text(
    ))['dtype'] == 'float16'


class _Runner:
    """The attributes of a Runner that ``train.export`` reads."""

    def __init__(self, model, work_dir):
        self.model, self.work_dir, self.iter = model, work_dir, 0
        self.cfg = type('Cfg', (), {'filename': 'x.py'})()
        self.logger = type('Log', (), {'info': staticmethod(print)})()
