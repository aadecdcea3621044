"""tools/test_tta.py end to end on tiny data, with a user adapter that is
registered outside tta_seg through ``custom_imports``."""
import json
import os.path as osp
import textwrap

import pytest
import torch

from tests.tiny import tiny_dataset_cfg, tiny_segmentor_cfg, \
    write_tiny_cityscapes
from tta_seg.apis.config import REPO_ROOT
from tta_seg.registry import MODELS

from tta_seg.cli import run as test_tta  # noqa: E402

USER_MODULE = '''
import torch
from tta_seg.adapters import BaseAdapter
from tta_seg.registry import MODELS


@MODELS.register_module()
class FlipAverage(BaseAdapter):
    """A user's method: average the predictions of an image and its flip."""

    def forward_and_adapt(self, inputs, metas):
        with torch.no_grad():
            out = self.segmentor.inference(inputs, metas)
            flip = self.segmentor.inference(inputs.flip(-1), metas)
        return (out + flip.flip(-1)) / 2
'''


@pytest.fixture
def setup(tmp_path, monkeypatch):
    root = write_tiny_cityscapes(str(tmp_path / 'data'))
    (tmp_path / 'my_methods.py').write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    seg = MODELS.build(tiny_segmentor_cfg('bn'))
    torch.save(seg.state_dict(), tmp_path / 'source.pth')
    cfg = f'''
    _base_ = [{osp.join(REPO_ROOT, 'configs/_base_/default_runtime.py')!r}]
    custom_imports = dict(imports=['my_methods'], allow_failed_imports=False)
    model = {tiny_segmentor_cfg('bn')!r}
    adapter = dict(type='FlipAverage')
    test_dataloader = dict(num_workers=0)
    test_cfg = dict(type='ContinualTestLoop', rounds=2, progress=False,
                    domains=[dict(name='a', dataset={tiny_dataset_cfg(root, 'a')!r}),
                             dict(name='b', dataset={tiny_dataset_cfg(root, 'b')!r})])
    '''
    (tmp_path / 'cfg.py').write_text(textwrap.dedent(cfg))
    return tmp_path


@pytest.mark.slow
def test_main_job_with_user_adapter(setup, capsys):
    work = setup / 'work'
    show = setup / 'show'
    test_tta.main([str(setup / 'cfg.py'), '--checkpoint',
                   str(setup / 'source.pth'), '--work-dir', str(work),
                   '--show-dir', str(show), '--cfg-options',
                   'test_cfg.rounds=1'])
    res = json.loads((work / 'results.json').read_text())
    assert res['method'] == 'FlipAverage' and res['rounds'] == 1
    assert [r['domain'] for r in res['records']] == ['a', 'b']
    assert (work / 'summary.md').read_text().count('|') > 4
    assert len(list(show.glob('round1_a/*.png'))) == 3
    # a quiet console: results, not mmengine's config and environment dump
    out = capsys.readouterr().out
    assert 'round 1 a: mIoU' in out and 'mean mIoU over 2 records' in out
    assert 'Config:' not in out and 'GPU number' not in out


@pytest.mark.slow
def test_verbose_prints_the_config(setup, capsys):
    test_tta.main([str(setup / 'cfg.py'), '--checkpoint',
                   str(setup / 'source.pth'), '--work-dir',
                   str(setup / 'work'), '--verbose', '--cfg-options',
                   'test_cfg.rounds=1'])
    assert 'Config:' in capsys.readouterr().out


def test_unknown_adapter_lists_registered_ones(setup):
    with pytest.raises(KeyError, match='TENT'):
        test_tta.main([str(setup / 'cfg.py'), '--checkpoint',
                       str(setup / 'source.pth'), '--cfg-options',
                       'adapter.type=Tnet'])


def test_missing_checkpoint_is_explained(setup):
    with pytest.raises(ValueError, match='--checkpoint'):
        test_tta.main([str(setup / 'cfg.py')])


@pytest.mark.slow
def test_real_config_builds_under_the_runner(tmp_path):
    """mmseg configs keep a top-level data_preprocessor that the Runner
    would pass to the adapter: composition must handle it."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from tta_seg.apis import compose_model_cfg
    cfg = Config.fromfile(osp.join(
        REPO_ROOT, 'configs/tent/tent_deeplabv3plus-r18_synthetic.py'))
    compose_model_cfg(cfg, random_weights=True)
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    assert type(runner.model).__name__ == 'TENT'
