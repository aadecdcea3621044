"""Sweeps on a local Ray instance (2 CPUs, tiny data): same records as
the runs done one after another, a SIGKILLed trial retried and resumed to
the records of an uninterrupted run, a broken trial failing alone, and a
re-run skipping finished trials."""
import json
import os
import textwrap

import pytest

from tests.sweep_helpers import make_sweep_env, records
from tests.tiny import tiny_dataset_cfg
from tta_seg.apis.run import build_run_cfg, run_tta

ray = pytest.importorskip('ray')
pytestmark = pytest.mark.ray


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('sweep')
    make_sweep_env(root)
    old = os.environ.get('PYTHONPATH')
    os.environ['PYTHONPATH'] = str(root)
    import sys
    sys.path.insert(0, str(root))
    from tta_seg.sweep.launchers import init_ray, shutdown_ray
    started = init_ray(num_cpus=2)
    yield root
    if started:
        shutdown_ray()
    sys.path.remove(str(root))
    if old is None:
        os.environ.pop('PYTHONPATH')
    else:
        os.environ['PYTHONPATH'] = old


def run_direct(config, work_dir, seed):
    run_tta(build_run_cfg(config, work_dir, seed=seed))
    return records(work_dir)


def sweep(root, work_root, configs, seeds=(0, ), **kwargs):
    from tta_seg.sweep import expand, run_sweep
    trials = expand(dict(configs={k: str(root / f'{k}.py') for k in configs},
                         seeds=list(seeds)))
    return trials, run_sweep(trials, str(work_root), progress=False,
                             **kwargs)


@pytest.mark.slow
def test_sweep_equals_runs_one_after_another(env):
    # two seeds of one method on Ray (BNAdapt is compared on the serial
    # launcher in test_launchers.py)
    trials, outcomes = sweep(env, env / 'sweep', ['tent'], (0, 1))
    assert len(trials) == 2
    assert {o['status'] for o in outcomes.values()} == {'done'}
    for trial in trials:
        got = records(env / 'sweep' / trial.name)
        want = run_direct(trial.config, str(env / 'direct' / trial.name),
                          trial.seed)
        assert got == want, trial.name
        assert outcomes[trial.name]['peak_rss_mb'] > 0
    sweep_file = json.loads((env / 'sweep' / 'sweep.json').read_text())
    assert [t['status'] for t in sweep_file['trials']] == ['done'] * 2
    # a re-run skips every finished trial (same fingerprint)
    _, again = sweep(env, env / 'sweep', ['tent'], (0, 1))
    assert {o['status'] for o in again.values()} == {'skipped'}
    # ...and sweep.json keeps what the finished runs measured
    kept = json.loads((env / 'sweep' / 'sweep.json').read_text())
    assert kept['trials'] == sweep_file['trials']


@pytest.mark.slow
def test_sigkilled_trial_is_retried_and_resumed(env):
    _, outcomes = sweep(env, env / 'killed', ['kill'])
    (name, outcome), = outcomes.items()
    assert (env / 'kill_marker').is_file()  # it was killed once
    assert outcome['status'] == 'done' and outcome['attempts'] == 2
    assert outcome['resumed'] is True
    got = records(env / 'killed' / name)
    want = run_direct(str(env / 'kill.py'), str(env / 'direct_kill'), 0)
    assert got == want


@pytest.mark.slow
def test_broken_trials_fail_alone(env, tmp_path):
    from tta_seg.sweep import expand, run_sweep
    trials = expand(dict(
        configs=dict(broken=str(env / 'broken.py'), bn=str(env / 'bn.py'),
                     typo=dict(config=str(env / 'bn.py'),
                               cfg_options={'adpter.type': 'TENT'}))))
    outcomes = run_sweep(trials, str(tmp_path), progress=False)
    assert outcomes['bn-default-seed0']['status'] == 'done'
    broken = outcomes['broken-default-seed0']
    assert broken['status'] == 'failed'
    assert 'broken adapter' in broken['error']
    assert 'RuntimeError' in broken['error']
    typo = outcomes['typo-default-seed0']
    assert typo['status'] == 'failed' and 'adapter.type' in typo['error']
    saved = json.loads((tmp_path / 'sweep.json').read_text())
    assert {t['name']: t['status'] for t in saved['trials']} == {
        'broken-default-seed0': 'failed', 'bn-default-seed0': 'done',
        'typo-default-seed0': 'failed'}


@pytest.mark.slow
def test_a_finished_trial_of_another_run_is_refused(env, tmp_path):
    from tta_seg.sweep.spec import expand
    from tta_seg.sweep.trial import TrialConflict, run_trial
    trial, = expand(dict(configs=dict(bn=str(env / 'bn.py'))))
    first = run_trial(trial.to_dict(), str(tmp_path))
    assert first['status'] == 'done' and first['attempts'] == 1
    assert run_trial(trial.to_dict(), str(tmp_path))['status'] == 'skipped'
    # same work dir name, other settings: nothing is overwritten
    changed = dict(trial.to_dict(), cfg_options={'test_cfg.rounds': 2})
    with pytest.raises(TrialConflict, match='another run'):
        run_trial(changed, str(tmp_path))


@pytest.mark.slow
def test_two_phase_selection_runs_only_the_chosen_test_point(env, tmp_path):
    from tta_seg.cli import sweep as sweep_tool
    cfg = tmp_path / 'lr_sweep.py'
    cfg.write_text(textwrap.dedent(f'''
    sweep = dict(
        configs=dict(tent=dict(config={str(env / 'tent.py')!r},
                               grid={{'adapter.optim_wrapper.optimizer.lr':
                                      [0.05, 0.0]}})),
        streams=dict(val={{'test_cfg.domains': [{{'name': 'b',
            'dataset': {tiny_dataset_cfg(str(env / 'data'), 'b')!r}}}]}},
                     test={{}}),
        selection=dict(val='val', test='test'))
    '''))
    # the two phases are the CLI's logic, not Ray's: the serial launcher
    assert sweep_tool.main([str(cfg), '--work-root', str(tmp_path / 'w'),
                            '--launcher', 'serial']) == 0
    saved = json.loads((tmp_path / 'w' / 'sweep.json').read_text())
    names = [t['name'] for t in saved['trials']]
    assert sorted(names[:2]) == ['tent-val-lr=0.0-seed0',
                                 'tent-val-lr=0.05-seed0']
    val = {t['params']['adapter.optim_wrapper.optimizer.lr']: t['mean_mIoU']
           for t in saved['trials'][:2]}
    best = max(val, key=val.get)
    assert names[2:] == [f'tent-test-lr={best}-seed0']
    selected = (tmp_path / 'w' / 'selected.md').read_text()
    assert f'lr={best}' in selected


@pytest.mark.slow
def test_a_conflicting_trial_keeps_the_finished_row(env, tmp_path, capsys):
    """A second sweep whose trial has the name but not the settings of a
    finished one is refused: the first run's row stays, and the console
    and exit code say so."""
    from tta_seg.cli import sweep as sweep_tool
    bn = str(env / 'bn.py')
    first, second = tmp_path / 'first.py', tmp_path / 'second.py'
    first.write_text(f'sweep = dict(configs=dict(bn={bn!r}))')
    second.write_text(f'sweep = dict(configs=dict(bn=dict(config={bn!r}, '
                      "cfg_options={'test_cfg.rounds': 2})))")
    work = str(tmp_path / 'w')
    assert sweep_tool.main([str(first), '--work-root', work,
                            '--launcher', 'serial']) == 0
    finished = json.loads((tmp_path / 'w' / 'sweep.json').read_text())
    assert [t['status'] for t in finished['trials']] == ['done']
    capsys.readouterr()
    assert sweep_tool.main([str(second), '--work-root', work]) == 1
    err = capsys.readouterr().err
    assert 'CONFLICT bn-default-seed0' in err and 'another run' in err
    kept = json.loads((tmp_path / 'w' / 'sweep.json').read_text())
    assert kept['trials'] == finished['trials']


def test_more_resources_per_trial_than_any_node_are_refused(env, tmp_path):
    """Ray would queue such a trial for ever: refused before submitting."""
    from tta_seg.sweep import expand, run_sweep
    from tta_seg.sweep.launchers import SweepNotStarted
    trials = expand(dict(configs=dict(bn=str(env / 'bn.py'))))
    with pytest.raises(SweepNotStarted,
                       match=r'--cpus-per-trial 3: .*the largest has 2'):
        run_sweep(trials, str(tmp_path), cpus_per_trial=3, progress=False)
    with pytest.raises(SweepNotStarted, match=r'--gpus-per-trial 1: .*GPU'):
        run_sweep(trials, str(tmp_path), gpus_per_trial=1, progress=False)
    assert not (tmp_path / trials[0].name).exists()  # nothing ran


@pytest.mark.slow
def test_a_trial_dir_held_by_another_process_is_refused(env, tmp_path,
                                                        hold_work_dir,
                                                        monkeypatch):
    """E.g. a worker of a killed driver still writing the trial's dir (a
    trial waits LOCK_WAIT_S for a lost node's lock first: 0 here)."""
    from tta_seg.sweep import trial as trial_module
    from tta_seg.sweep.spec import expand
    from tta_seg.sweep.trial import run_trial
    monkeypatch.setattr(trial_module, 'LOCK_WAIT_S', 0.0)
    from tta_seg.utils.lock import WorkDirBusy
    trial, = expand(dict(configs=dict(bn=str(env / 'bn.py'))))
    holder = hold_work_dir(tmp_path / trial.name)
    with pytest.raises(WorkDirBusy, match=f'pid {holder.pid}'):
        run_trial(trial.to_dict(), str(tmp_path))
    assert os.listdir(tmp_path / trial.name) == ['.lock']
