"""tools/calibrate_weather.py on a tiny generated benchmark: severity 1 is
the stream of generated images, severity 0 the clear twins."""
import json
import os.path as osp
import textwrap

import pytest
import torch
from mmengine.registry import init_default_scope

from tests.tiny import tiny_segmentor_cfg
from tta_seg.apis.config import REPO_ROOT
from tta_seg.apis.run import build_run_cfg, run_tta
from tta_seg.datasets.synthetic import generate_benchmark
from tta_seg.registry import MODELS

from tta_seg.cli import calibrate_weather  # noqa: E402

# generated at severity 1 whatever the default, so that the calibration's
# severity 1 is the generated stream
SMALL = dict(num_train=1, num_val=1, num_target_train=2, num_target_val=1,
             width=96, height=48, seed=2, severity=1.0)


def _config(tmp_path, root, use_ref=False, adapter='Source'):
    seg = tiny_segmentor_cfg('plain')
    pipeline = [dict(type='LoadCheckedImage'),
                dict(type='LoadCheckedAnnotations'),
                dict(type='PackSegInputs')]
    acdc = dict(type='ACDCDataset', data_root=str(root / 'acdc'),
                split='train', use_ref=use_ref, pipeline=pipeline)
    cfg = f'''
    _base_ = [{osp.join(REPO_ROOT, 'configs/_base_/default_runtime.py')!r}]
    synthetic_benchmark = {dict(root=str(root), **SMALL)!r}
    model = {seg!r}
    adapter = dict(type={adapter!r})
    source_checkpoint = {str(tmp_path / 'source.pth')!r}
    test_dataloader = dict(num_workers=0)
    test_cfg = dict(type='ContinualTestLoop', rounds=1, progress=False,
                    domains=[dict(name='fog', dataset=dict({acdc!r},
                                                           condition='fog'))])
    '''
    path = tmp_path / f'cfg_{adapter}_{use_ref}.py'
    path.write_text(textwrap.dedent(cfg))
    return str(path)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    init_default_scope('tta_seg')  # runs before the autouse fixture
    tmp_path = tmp_path_factory.mktemp('calibrate')
    root = generate_benchmark(tmp_path / 'synthetic', workers=1,
                              progress=False, **SMALL)
    torch.manual_seed(0)
    state = MODELS.build(tiny_segmentor_cfg('plain')).state_dict()
    # a sharp classifier, so that the weather changes the predictions
    state['classifier.weight'] *= 10
    torch.save(state, tmp_path / 'source.pth')
    return tmp_path, root


def _stream_miou(tmp_path, config, name):
    cfg = build_run_cfg(config, work_dir=str(tmp_path / name))
    run_tta(cfg)
    with open(tmp_path / name / 'results.json') as f:
        return json.load(f)['records'][0]['mIoU']


@pytest.mark.slow
def test_calibration_table_matches_the_generated_stream(setup, capsys):
    tmp_path, root = setup
    out = str(tmp_path / 'cal')
    result = calibrate_weather.main([
        _config(tmp_path, root), '--severities', '1', '0', '0.5',
        '--conditions', 'fog', 'night', '--num-images', '2', '--out', out])
    assert result['severities'] == [0.0, 0.5, 1.0]
    assert set(result['mIoU']) == {'fog', 'night'}
    assert all(r['num_images'] == 2 for r in result['records'])
    assert len(result['records']) == 6
    # severity 1 renders the generated images, severity 0 is the twin
    adverse = _stream_miou(tmp_path, _config(tmp_path, root), 'adverse')
    clear = _stream_miou(tmp_path, _config(tmp_path, root, use_ref=True),
                         'clear')
    assert result['mIoU']['fog']['1'] == pytest.approx(adverse)
    assert result['mIoU']['fog']['0'] == pytest.approx(clear)
    assert adverse != pytest.approx(clear)
    markdown = open(out + '.md').read()
    assert '| fog |' in markdown and 'Drop from the clear twins' in markdown
    assert osp.getsize(out + '.png') > 0
    assert json.load(open(out + '.json'))['mIoU'] == result['mIoU']


def test_an_adapting_config_is_refused(setup):
    tmp_path, root = setup
    with pytest.raises(ValueError, match='calibrate with a Source config'):
        calibrate_weather.main([_config(tmp_path, root, adapter='BNAdapt'),
                                '--out', str(tmp_path / 'refused')])
