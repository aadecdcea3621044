"""Faithful vs tuned (tta_seg.sweep.tuned): the faithful grid point read
from the config file, the two-phase sweep running it beside the chosen
one, the comparison table against hand-computed values, and the tuned
configs written beside the faithful ones."""
import json

import pytest
from mmengine.config import Config

from tta_seg.sweep.engine import write_sweep_file
from tta_seg.sweep.leaderboard import load_trials
from tta_seg.sweep.selection import run_selected
from tta_seg.sweep.spec import expand
from tta_seg.sweep.tuned import (faithful_trials, is_faithful, own_values,
                                 short_point, tuned_config_path, tuned_table,
                                 write_tuned_configs)

LR = 'adapter.optim_wrapper.optimizer.lr'
SAM_LR = 'adapter.optim_wrapper.optimizer.base_optimizer.lr'


def method_configs(root):
    """``base.py`` (Adam lr 1e-4, SAM base lr 2.5e-4) and two configs
    inheriting it: ``tent_x.py`` (as is) and ``sar-bn_x.py`` (its own
    base lr 1e-3)."""
    (root / 'base.py').write_text(
        "adapter = dict(type='T', steps=1, optim_wrapper=dict(optimizer="
        "dict(type='Adam', lr=1e-4, base_optimizer=dict(type='SGD', "
        "lr=2.5e-4, momentum=0.9))))\n")
    (root / 'tent_x.py').write_text("_base_ = './base.py'\n")
    (root / 'sar-bn_x.py').write_text(
        "_base_ = './base.py'\nadapter = dict(optim_wrapper=dict(optimizer="
        "dict(base_optimizer=dict(lr=1e-3))))\n")
    return str(root / 'tent_x.py'), str(root / 'sar-bn_x.py')


def test_faithful_point_is_the_config_files_own(tmp_path):
    tent, sar = method_configs(tmp_path)
    assert own_values(tent, [LR, 'adapter.steps', 'nope.lr']) == {
        LR: 1e-4, 'adapter.steps': 1}
    assert own_values(sar, [SAM_LR]) == {SAM_LR: 1e-3}
    assert is_faithful(tent, {LR: 1e-4})
    assert is_faithful(tent, {LR: float(f'{1e-3 * 0.1:.3g}')})
    assert not is_faithful(tent, {LR: 1e-5})
    assert not is_faithful(tent, {LR: 1e-4, 'nope.lr': 1})  # not set there
    assert is_faithful(sar, {SAM_LR: 0.001})
    assert not is_faithful(sar, {SAM_LR: 2.5e-4})            # base's value
    trials = expand(dict(
        configs=dict(t=dict(config=tent, grid={LR: [1e-5, 1e-4, 1e-3]}),
                     s=dict(config=sar, grid={SAM_LR: [1e-4, 1e-3]})),
        streams=dict(val={}, test={}), seeds=[0, 1]))
    assert sorted(t.name for t in faithful_trials(trials, 'test')) == [
        's-test-lr=0.001-seed0', 's-test-lr=0.001-seed1',
        't-test-lr=0.0001-seed0', 't-test-lr=0.0001-seed1']
    # a flag recorded at run time wins over the config file (here gone)
    for t in trials:
        t.faithful, t.config = t.params[LR if t.key == 't' else SAM_LR] \
            == 1e-5, str(tmp_path / 'moved.py')
    assert [t.name for t in faithful_trials(trials, 'test')] == [
        't-test-lr=1e-05-seed0', 't-test-lr=1e-05-seed1']


def fake_runner(root, score):
    """A runner writing one-record results whose mIoU is
    ``score[(key, stream, lr)]`` + seed (the source split after it: 100 −
    that); records which trials each call ran."""
    ran = []

    def run(part):
        ran.append(sorted(t.name for t in part))
        outcomes = {}
        for t in part:
            (root / t.name).mkdir()
            miou = score[t.key, t.stream, next(iter(t.params.values()))] + \
                t.seed
            (root / t.name / 'results.json').write_text(json.dumps(dict(
                method=t.key.upper(), config=t.config, domains=['a'],
                rounds=1, complete=True,
                records=[dict(round=1, domain='a', mIoU=miou)],
                forgetting=[dict(round=1, domain='source',
                                 mIoU=100 - miou)])))
            outcomes[t.name] = dict(name=t.name, status='done')
        write_sweep_file(str(root), part, outcomes)
        return outcomes
    return run, ran


def sweep_trials(tent, sar):
    return expand(dict(
        configs=dict(t=dict(config=tent, grid={LR: [1e-5, 1e-4, 1e-3]}),
                     s=dict(config=sar, grid={SAM_LR: [1e-4, 1e-3]})),
        streams=dict(val={}, test={}), seeds=[0, 1]))


SCORES = {  # t: 1e-3 best on val, faithful 1e-4; s: 1e-4 is 0.04 better
    # on val than the faithful 1e-3, a tie (TIE), which the faithful wins
    ('t', 'val', 1e-5): 40, ('t', 'val', 1e-4): 50, ('t', 'val', 1e-3): 55,
    ('t', 'test', 1e-4): 48, ('t', 'test', 1e-3): 45,
    ('s', 'val', 1e-4): 35.04, ('s', 'val', 1e-3): 35,
    ('s', 'test', 1e-3): 33}


def test_sweep_runs_the_faithful_point_beside_the_chosen(tmp_path):
    (tmp_path / 'cfg').mkdir()
    tent, sar = method_configs(tmp_path / 'cfg')
    work = tmp_path / 'w'
    work.mkdir()
    trials = sweep_trials(tent, sar)
    run, ran = fake_runner(work, SCORES)
    run_selected(trials, str(work), run, 'val', 'test', faithful=True)
    assert ran[1] == sorted([
        't-test-lr=0.001-seed0', 't-test-lr=0.001-seed1',      # chosen
        't-test-lr=0.0001-seed0', 't-test-lr=0.0001-seed1',    # faithful
        's-test-lr=0.001-seed0', 's-test-lr=0.001-seed1'])     # both, once
    # without faithful: only the chosen points (the default)
    work2 = tmp_path / 'w2'
    work2.mkdir()
    run2, ran2 = fake_runner(work2, SCORES)
    run_selected(trials, str(work2), run2, 'val', 'test')
    assert not any('t-test-lr=0.0001' in n for n in ran2[1])

    table = tuned_table(load_trials(str(work)), 'val', 'test')
    assert table[0][0] == 'run' and table[0][-1] == 'Δ test'
    # means over the seeds' 0 and +1: x + 0.5; Δ = 45 - 48
    assert table[1] == ['T (t)', 'lr=0.0001', '50.5', '48.5', '51.5',
                        'lr=0.001 (3/3)', '55.5', '45.5', '54.5', '-3.0']
    assert table[2] == ['S (s)', 'lr=0.001', '35.5', '33.5', '66.5',
                        'lr=0.001 (2/2)', '35.5', '33.5', '66.5', '+0.0']


def tuned_env(root):
    """Method configs in ``root``, its work root ``w``, the sweep's trials
    and a fake runner into it."""
    tent, sar = method_configs(root)
    work = root / 'w'
    work.mkdir()
    run, _ = fake_runner(work, SCORES)
    return tent, sar, work, sweep_trials(tent, sar), run


def test_tuned_configs_beside_the_faithful_ones(tmp_path):
    tent, sar, work, trials, run = tuned_env(tmp_path)
    # t's validation grid finishes; s: nothing yet, then one of its points
    run([t for t in trials if t.stream == 'val' and t.key == 't'])
    write_sweep_file(str(work), [t for t in trials if t.key == 's'], {})
    assert [r[0] for r in tuned_table(load_trials(str(work)), 'val',
                                      'test')] == ['run', 'T (t)']
    run([t for t in trials if t.name == 's-val-lr=0.001-seed0'])
    written = write_tuned_configs(str(work), 'val', 'configs/sweeps/x.py')
    assert written == {'t': str(tmp_path / 'tent-tuned_x.py'), 's': None}
    text = (tmp_path / 'tent-tuned_x.py').read_text()
    assert '#   lr=0.001: 55.5 / - <- chosen' in text
    assert '#   lr=0.0001: 50.5 / - (faithful)' in text
    assert 'tta-seg sweep configs/sweeps/x.py --write-tuned' in text
    tuned = Config.fromfile(written['t'])
    faithful = Config.fromfile(tent)
    assert tuned.adapter.optim_wrapper.optimizer.lr == 1e-3
    tuned.adapter.optim_wrapper.optimizer.lr = 1e-4
    assert tuned.to_dict() == faithful.to_dict()  # nothing else changed

    # s finishes; its faithful value wins: a nested SAM key, same values
    run([t for t in trials if t.stream == 'val' and t.key == 's' and
         t.name != 's-val-lr=0.001-seed0'])
    written = write_tuned_configs(str(work), 'val', 'x.py')
    tuned_sar = Config.fromfile(written['s'])
    assert tuned_sar.to_dict() == Config.fromfile(sar).to_dict()
    assert 'this preset equals' in open(written['s']).read()


def test_short_point():
    assert short_point(f'{LR}=0.001') == 'lr=0.001'
    assert short_point(f'{LR}=1,{SAM_LR}=2') == f'{LR}=1,{SAM_LR}=2'
    assert short_point('a.x=1,b.y=2') == 'x=1,y=2'
    assert short_point(None) == '-'


def test_tuned_config_names():
    assert tuned_config_path('configs/tent/tent-original_r18_syn.py') == \
        'configs/tent/tent-original-tuned_r18_syn.py'
    assert tuned_config_path('a/plain.py') == 'a/plain-tuned.py'


def test_cli_write_tuned_needs_a_validation_stream(tmp_path):
    from tta_seg.cli.sweep import main
    tent, _ = method_configs(tmp_path)
    with pytest.raises(SystemExit, match='--write-tuned needs'):
        main(['--configs', tent, '--write-tuned', '--dry-run',
              '--work-root', str(tmp_path / 'w')])


def test_tie_window_seeds_and_recorded_flags(tmp_path):
    from tta_seg.sweep.leaderboard import TIE, choose_on_validation

    def row(name, lr, miou, seed=0, faithful=None, config=None):
        res = dict(method='T', domains=['a'], rounds=1, complete=True,
                   records=[dict(round=1, domain='a', mIoU=miou)])
        return dict(name=name, key='t', stream='val', seed=seed,
                    params={LR: lr}, results=res, faithful=faithful,
                    config=config)

    def pick(rows):
        return choose_on_validation(rows, 'val')['t']['params']

    # flags recorded at run time: no config file needed
    near = [row('a', 1e-4, 50.0, faithful=True),
            row('b', 1e-3, 50.0 + TIE - 0.01, faithful=False)]
    assert pick(near) == f'{LR}=0.0001'
    far = [row('a', 1e-4, 50.0, faithful=True),
           row('b', 1e-3, 50.0 + TIE + 0.01, faithful=False)]
    assert pick(far) == f'{LR}=0.001'
    # the faithful point over fewer seeds does not win a tie
    fewer = [row('a', 1e-4, 50.0, faithful=True),
             row('b', 1e-3, 50.01, faithful=False),
             row('c', 1e-3, 50.01, seed=1, faithful=False)]
    assert pick(fewer) == f'{LR}=0.001'
    # neither a flag nor the config file: a warning, no tie rule
    lost = [row('a', 1e-4, 50.0, config=str(tmp_path / 'gone.py')),
            row('b', 1e-3, 50.01, config=str(tmp_path / 'gone.py'))]
    with pytest.warns(UserWarning, match='faithful point is unknown'):
        assert pick(lost) == f'{LR}=0.001'
    assert not is_faithful(str(tmp_path / 'any.py'), {})


def test_tuned_configs_wait_for_the_whole_grid_and_out_dir(tmp_path):
    tent, _, work, trials, run = tuned_env(tmp_path)
    val_t = [t for t in trials if t.stream == 'val' and t.key == 't']
    run(val_t[:2])  # a --only part: 1e-3 has not run
    expected = {'t': {t.name for t in val_t}}
    assert write_tuned_configs(str(work), 'val', 'x.py', 'test',
                               expected) == {'t': None}
    run(val_t[2:])
    out = tmp_path / 'mine'
    written = write_tuned_configs(str(work), 'val', 'x.py', 'test',
                                  expected, str(out))
    assert written == {'t': str(out / tmp_path.name / 'tent-tuned_x.py')}
    assert f"_base_ = '{tent}'" in open(written['t']).read()
    assert Config.fromfile(written['t']).adapter.optim_wrapper.optimizer.lr \
        == 1e-3
