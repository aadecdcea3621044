"""Sweep specs: expansion into trials, names, grids, stream variants."""
import os.path as osp

import pytest

from tta_seg.apis.config import REPO_ROOT
from tta_seg.sweep.spec import expand, parse_grid, stream_options


def test_expand_is_the_product_in_order():
    trials = expand(dict(
        configs=dict(a='a.py', b=dict(config='b.py', grid={'x.lr': [1, 2]})),
        streams=dict(fixed={}, random={'test_cfg.order': 'random'}),
        seeds=[0, 1], cfg_options={'test_cfg.rounds': 1}))
    # a: 2 streams x 2 seeds; b: 2 streams x 2 lrs x 2 seeds
    assert len(trials) == 4 + 8
    assert [t.name for t in trials[:4]] == [
        'a-fixed-seed0', 'a-fixed-seed1', 'a-random-seed0', 'a-random-seed1']
    b = [t for t in trials if t.key == 'b' and t.stream == 'random']
    assert [t.name for t in b] == [
        'b-random-lr=1-seed0', 'b-random-lr=1-seed1',
        'b-random-lr=2-seed0', 'b-random-lr=2-seed1']
    assert b[2].cfg_options == {'test_cfg.rounds': 1,
                                'test_cfg.order': 'random', 'x.lr': 2}
    assert b[2].seed == 0 and b[2].params == {'x.lr': 2}
    # seeds share a group, grid points do not
    assert b[0].group == b[1].group != b[2].group


def test_names_stay_unique_and_safe():
    trials = expand(dict(configs=['configs/x/m_a.py'], seeds=[3],
                         grid={'a.lr': [1e-4], 'b.lr': ['p q']}))
    assert trials[0].name == 'm_a-default-a.lr=0.0001_b.lr=p_q-seed3'
    with pytest.raises(ValueError, match='share work dir names'):
        expand(dict(configs=dict(a='x.py'), seeds=[0, 0]))


@pytest.mark.parametrize('sweep, match', [
    (dict(configs=dict(a='x.py'), grid={'lr': []}), 'non-empty list'),
    (dict(configs=dict(a=dict(cfg='x.py'))), 'dict\\(config=FILE'),
    (dict(configs=dict(a=dict(config='x.py', seeds=[1]))), 'unknown entries'),
    (dict(configs=dict(a='x.py'), seed=[1]), 'unknown sweep entries'),
    (dict(configs={}), 'at least one config'),
])
def test_bad_specs_are_named(sweep, match):
    with pytest.raises((KeyError, ValueError), match=match):
        expand(sweep)


def test_parse_grid_types_values():
    assert parse_grid(['adapter.lr=1e-5,3e-4', 'test_cfg.order=random']) == {
        'adapter.lr': [1e-5, 3e-4], 'test_cfg.order': ['random']}
    with pytest.raises(ValueError, match='KEY=V1,V2'):
        parse_grid(['adapter.lr'])


def test_stream_file_replaces_test_cfg():
    path = osp.join(REPO_ROOT, 'configs', '_base_', 'streams',
                    'synthetic_3rounds_val.py')
    opts = stream_options(dict(stream=path, **{'test_cfg.order': 'random'}))
    domains = opts['test_cfg']['domains']
    assert [d['name'] for d in domains] == ['fog', 'night', 'rain', 'snow']
    assert all(d['dataset']['split'] == 'val' for d in domains)
    assert opts['test_cfg.order'] == 'random'
    with pytest.raises(FileNotFoundError, match='nowhere.py'):
        stream_options(dict(stream='nowhere.py'))


def test_config_paths_resolve_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rel = 'configs/source/source_deeplabv3plus-r18_synthetic.py'
    trial, = expand(dict(configs=[rel]))
    assert trial.config == osp.join(REPO_ROOT, rel)


def test_streams_select_the_sweep_configs_own_variants_first():
    from tta_seg.sweep.spec import STREAM_PRESETS, select_streams
    own = {'random': {'test_cfg.order': [['b', 'a']]},
           'gradual': dict(stream='streams/g.py')}
    got = select_streams(['gradual', 'random', 'budget'], own)
    assert list(got) == ['gradual', 'random', 'budget']
    assert got['gradual'] == own['gradual']
    assert got['random'] == own['random']      # the config's, not the preset
    assert got['budget'] == STREAM_PRESETS['budget']
    assert select_streams(['fixed']) == {'fixed': {}}
    with pytest.raises(KeyError, match=r"'grad'.*gradual, random.*budget"):
        select_streams(['grad'], own)


def test_sweep_tool_streams_flag_picks_from_the_sweep_file():
    from tta_seg.cli import sweep as tool
    path = osp.join(REPO_ROOT, 'configs', 'sweeps', 'protocols_embedded.py')
    sweep = tool.build_sweep(tool.parse_args(
        [path, '--streams', 'gradual', 'budget']))
    assert list(sweep['streams']) == ['gradual', 'budget']
    assert sweep['streams']['gradual']['stream'].endswith(
        'synthetic_gradual.py')
    # the file's budget (costs from the shipped benchmark JSONs), not the
    # preset's in-run measurement
    assert isinstance(
        sweep['streams']['budget']['test_cfg.time_budget']['relative_cost'],
        list)
    names = {t.stream for t in tool.expand(sweep)}
    assert names == {'gradual', 'budget'}
    with pytest.raises(SystemExit, match='neither a stream'):
        tool.build_sweep(tool.parse_args([path, '--streams', 'nope']))
