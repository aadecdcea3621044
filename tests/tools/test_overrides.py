"""Overrides that would do nothing are errors; data roots are named,
movable and independent of the working directory."""
import os.path as osp

import pytest

from tta_seg.apis.config import DATA_ENV, REPO_ROOT, load_config

SYNTH = osp.join(REPO_ROOT, 'configs/tent/tent-original_deeplabv3plus-r18_'
                 'synthetic.py')
ACDC = osp.join(REPO_ROOT, 'configs/tent/tent_segformer-b5_cityscapes-to-'
                'acdc.py')


def dataset_roots(cfg):
    loop = cfg.test_cfg
    roots = [d.dataset.data_root for d in loop.domains]
    return roots + [loop.source.dataset.data_root]


@pytest.mark.parametrize('key, expected', [
    ('adpter.type', "did you mean 'adapter.type'"),
    ('foo.bar', "the config has no 'foo'"),
])
def test_unknown_top_level_keys_are_errors(key, expected):
    with pytest.raises(KeyError, match=expected):
        load_config(SYNTH, {key: 'TENT'})


def test_consumed_variable_names_where_its_value_went():
    with pytest.raises(KeyError) as err:
        load_config(SYNTH, {'acdc.max_images': 5})
    text = str(err.value)
    assert 'already used when the file was parsed' in text
    assert 'test_cfg.domains.0.dataset.max_images' in text


@pytest.mark.parametrize('path, key', [(SYNTH, 'data_root'),
                                       (ACDC, 'acdc_root')])
def test_old_root_variables_point_to_data_root(path, key):
    with pytest.raises(KeyError, match='--data-root'):
        load_config(path, {key: '/elsewhere'})


@pytest.mark.slow
def test_live_overrides_still_apply():
    cfg = load_config(SYNTH, {'test_cfg.rounds': 1,
                              'adapter.optim_wrapper.optimizer.lr': 1e-5,
                              'test_cfg.domains.0.dataset.max_images': 5})
    assert cfg.test_cfg.rounds == 1
    assert cfg.adapter.optim_wrapper.optimizer.lr == 1e-5
    assert cfg.test_cfg.domains[0].dataset.max_images == 5
    assert cfg.overrides['test_cfg.rounds'] == 1


def test_embedded_root_does_not_depend_on_the_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(SYNTH)
    root = osp.join(REPO_ROOT, 'data', 'synthetic')
    assert cfg.synthetic_benchmark.root == root
    assert dataset_roots(cfg) == [osp.join(root, 'acdc')] * 4 + [
        osp.join(root, 'cityscapes')]
    monkeypatch.setenv(DATA_ENV, str(tmp_path / 'store'))
    moved = load_config(SYNTH)
    assert moved.synthetic_benchmark.root == str(tmp_path / 'store' /
                                                 'synthetic')


def test_data_root_moves_every_dataset(tmp_path):
    cfg = load_config(SYNTH, data_roots=[str(tmp_path)])
    assert cfg.synthetic_benchmark.root == str(tmp_path)
    assert dataset_roots(cfg)[0] == str(tmp_path / 'acdc')
    assert dataset_roots(cfg)[-1] == str(tmp_path / 'cityscapes')
    same = load_config(SYNTH, {'data_roots.synthetic': str(tmp_path)})
    assert dataset_roots(same) == dataset_roots(cfg)


@pytest.mark.slow
def test_named_data_roots_on_the_real_protocol(tmp_path):
    cfg = load_config(ACDC, data_roots=[f'acdc={tmp_path}/A',
                                        f'cityscapes={tmp_path}/C'])
    assert dataset_roots(cfg) == [f'{tmp_path}/A'] * 4 + [f'{tmp_path}/C']
    with pytest.raises(ValueError, match='name one'):
        load_config(ACDC, data_roots=[str(tmp_path)])
    with pytest.raises(KeyError, match='unknown root'):
        load_config(ACDC, data_roots=[f'acdcc={tmp_path}'])


def test_forgetting_check_switch_is_a_live_key():
    cfg = load_config(ACDC, {'test_cfg.check_forgetting': True})
    assert cfg.test_cfg.check_forgetting is True
    assert cfg.test_cfg.source.dataset.type == 'CityscapesDataset'


@pytest.mark.parametrize('key', ['data_roots.synthetik', 'data_preprocessor.mean'])
def test_overrides_that_would_be_dropped_are_errors(key):
    with pytest.raises(KeyError, match=key.split('.')[0]):
        load_config(SYNTH, {key: '/x'})


@pytest.mark.slow
def test_identity_does_not_depend_on_the_cwd(tmp_path, monkeypatch):
    from tta_seg.cli import run as test_tta

    from tta_seg.engine.identity import fingerprint, run_identity

    def identity():
        args = test_tta.parse_args([SYNTH, '--work-dir', str(tmp_path)])
        return fingerprint(run_identity(test_tta.build_cfg(args)))

    monkeypatch.chdir(REPO_ROOT)
    here = identity()
    monkeypatch.chdir(tmp_path)
    assert identity() == here


def test_identity_holds_the_embedded_benchmark_parameters(tmp_path,
                                                          monkeypatch):
    """The generated images depend on the benchmark's parameters (weather
    severity above all), which the config text may not spell out: a
    change of the generator's defaults makes another run."""
    from tta_seg.datasets.synthetic import generate
    from tta_seg.engine.identity import fingerprint, run_identity
    cfg = load_config(SYNTH, work_dir=str(tmp_path))
    identity = run_identity(cfg)
    assert identity['synthetic_benchmark'] == dict(
        version=generate.BENCHMARK_VERSION,
        params=json_params(generate.benchmark_params()))
    assert 'root' not in identity['synthetic_benchmark']['params']
    # data-preparation settings do not make another run
    cfg.synthetic_benchmark.update(workers=7, progress=False)
    assert run_identity(cfg) == identity
    calibrated = dict(fog=0.5, night=0.8, rain=0.3, snow=0.3)
    monkeypatch.setattr(generate, 'DEFAULT_SEVERITY', calibrated)
    other = run_identity(cfg)
    assert other['synthetic_benchmark']['params']['severity'] == calibrated
    assert fingerprint(other) != fingerprint(identity)
    # the same weather spelt out in the config is the same run
    cfg.synthetic_benchmark.severity = dict(calibrated)
    monkeypatch.setattr(generate, 'DEFAULT_SEVERITY', 1.0)
    assert fingerprint(run_identity(cfg)) == fingerprint(other)


def json_params(params):
    import json
    return json.loads(json.dumps(params))


CONFIGS = osp.join(REPO_ROOT, 'configs')
COTTA = osp.join(CONFIGS, 'cotta/cotta_deeplabv3plus-r18_synthetic.py')
LR = 'adapter.optim_wrapper.optimizer.lr'


@pytest.mark.parametrize('path, key, value', [
    (SYNTH, LR, 'abc'),
    (SYNTH, LR, float('nan')),
    (SYNTH, LR, -1e-3),
    (SYNTH, 'adapter.optim_wrapper.optimizer.betas', (0.9, 1.5)),
    (SYNTH, 'adapter.optim_wrapper.optimizer.momentum', 'high'),
    (SYNTH, 'test_cfg.rounds', 0),
    (SYNTH, 'test_cfg.rounds', -1),
    (SYNTH, 'test_cfg.rounds', 1.5),
    (SYNTH, 'test_cfg.rounds', True),
    (SYNTH, 'test_dataloader.batch_size', 0),
    (SYNTH, 'test_dataloader.num_workers', -2),
    (COTTA, 'adapter.alpha_teacher', 'x'),
    (COTTA, 'adapter.flip', 'yes'),
    (COTTA, 'adapter.min_view_size', 2.5),
])
@pytest.mark.slow
def test_bad_values_are_refused_at_build_time_naming_key_and_value(
        path, key, value):
    from tta_seg.apis.run import build_run_cfg
    from tta_seg.apis.values import ConfigValueError
    with pytest.raises(ConfigValueError) as err:
        build_run_cfg(path, '/nonexistent/work', {key: value})
    assert str(err.value).startswith(f'{key}={value!r}: expected')


@pytest.mark.parametrize('path, key, value', [
    (SYNTH, LR, 0.0), (SYNTH, LR, 3), (SYNTH, 'test_cfg.rounds', 2),
    (COTTA, 'adapter.view_batch', None), (COTTA, 'adapter.alpha_teacher', 1),
])
@pytest.mark.slow
def test_good_values_pass(path, key, value):
    from tta_seg.apis.run import build_run_cfg
    build_run_cfg(path, '/nonexistent/work', {key: value})


def test_sam_base_optimizer_lr_is_checked():
    from tta_seg.apis.run import build_run_cfg
    from tta_seg.apis.values import ConfigValueError
    sar = osp.join(REPO_ROOT, 'configs/sar/sar_deeplabv3plus-r18_synthetic.py')
    key = 'adapter.optim_wrapper.optimizer.base_optimizer.lr'
    with pytest.raises(ConfigValueError, match=key):
        build_run_cfg(sar, '/nonexistent/work', {key: 'abc'})
