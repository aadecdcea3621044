"""Sweeps on a local Ray instance (2 CPUs, tiny data): same records as
the runs done one after another, a SIGKILLed trial retried and resumed to
the records of an uninterrupted run, a broken trial failing alone, and a
re-run skipping finished trials."""
import json
import os
import os.path as osp
import textwrap

import pytest
import torch

from tests.tiny import tiny_dataset_cfg, tiny_segmentor_cfg, \
    write_tiny_cityscapes
from tta_seg.apis.config import REPO_ROOT
from tta_seg.apis.run import build_run_cfg, run_tta
from tta_seg.registry import MODELS

ray = pytest.importorskip('ray')

USER_MODULE = '''
import os
import signal

from tta_seg.adapters import TENT
from tta_seg.registry import MODELS


@MODELS.register_module(force=True)
class KillOnceTENT(TENT):
    """TENT whose process SIGKILLs itself at its ``kill_at``-th step, once
    (the marker file records that it did)."""

    def __init__(self, marker: str, kill_at: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.marker, self.kill_at, self.calls = marker, kill_at, 0

    def forward_and_adapt(self, inputs, metas):
        self.calls += 1
        if self.calls == self.kill_at and not os.path.exists(self.marker):
            open(self.marker, 'w').close()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().forward_and_adapt(inputs, metas)


@MODELS.register_module(force=True)
class BrokenAtStep(TENT):
    """Raises in its first step."""

    def forward_and_adapt(self, inputs, metas):
        raise RuntimeError('broken adapter')
'''

CFG = '''
_base_ = [{runtime!r}]
custom_imports = dict(imports=['sweep_user_methods'],
                      allow_failed_imports=False)
model = {model!r}
source_checkpoint = {ckpt!r}
adapter = {adapter!r}
test_dataloader = dict(num_workers=0)
test_cfg = dict(type='ContinualTestLoop', rounds=1, progress=False,
                domains=[dict(name='a', dataset={a!r}),
                         dict(name='b', dataset={b!r})],
                source=dict(name='source', dataset={val!r}))
'''


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('sweep')
    data = write_tiny_cityscapes(str(root / 'data'))
    (root / 'sweep_user_methods.py').write_text(USER_MODULE)
    from mmengine.registry import init_default_scope
    init_default_scope('tta_seg')
    seg = MODELS.build(tiny_segmentor_cfg('bn'))
    torch.save(seg.state_dict(), root / 'source.pth')
    adapters = dict(
        tent=dict(type='TENT', variant='original',
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05))),
        bn=dict(type='BNAdapt'),
        kill=dict(type='KillOnceTENT', variant='original',
                  marker=str(root / 'kill_marker'),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05))),
        broken=dict(type='BrokenAtStep'))
    for name, adapter in adapters.items():
        (root / f'{name}.py').write_text(textwrap.dedent(CFG.format(
            runtime=osp.join(REPO_ROOT, 'configs/_base_/default_runtime.py'),
            model=tiny_segmentor_cfg('bn'), ckpt=str(root / 'source.pth'),
            adapter=adapter, a=tiny_dataset_cfg(data, 'a'),
            b=tiny_dataset_cfg(data, 'b'), val=tiny_dataset_cfg(data, 'val'))))
    old = os.environ.get('PYTHONPATH')
    os.environ['PYTHONPATH'] = str(root)
    import sys
    sys.path.insert(0, str(root))
    from tta_seg.sweep.engine import init_ray, shutdown_ray
    started = init_ray(num_cpus=2)
    yield root
    if started:
        shutdown_ray()
    sys.path.remove(str(root))
    if old is None:
        os.environ.pop('PYTHONPATH')
    else:
        os.environ['PYTHONPATH'] = old


def records(path):
    with open(osp.join(path, 'results.json')) as f:
        res = json.load(f)
    assert res['complete']
    out = [{k: v for k, v in r.items() if k != 'seconds'}
           for r in res['records'] + res.get('forgetting', [])]
    return out, res['fingerprint']


def run_direct(config, work_dir, seed):
    run_tta(build_run_cfg(config, work_dir, seed=seed))
    return records(work_dir)


def sweep(root, work_root, configs, seeds=(0, ), **kwargs):
    from tta_seg.sweep import expand, run_sweep
    trials = expand(dict(configs={k: str(root / f'{k}.py') for k in configs},
                         seeds=list(seeds)))
    return trials, run_sweep(trials, str(work_root), progress=False,
                             **kwargs)


def test_sweep_equals_runs_one_after_another(env):
    trials, outcomes = sweep(env, env / 'sweep', ['tent', 'bn'], (0, 1))
    assert len(trials) == 4
    assert {o['status'] for o in outcomes.values()} == {'done'}
    for trial in trials:
        got = records(env / 'sweep' / trial.name)
        want = run_direct(trial.config, str(env / 'direct' / trial.name),
                          trial.seed)
        assert got == want, trial.name
        assert outcomes[trial.name]['peak_rss_mb'] > 0
    sweep_file = json.loads((env / 'sweep' / 'sweep.json').read_text())
    assert [t['status'] for t in sweep_file['trials']] == ['done'] * 4
    # a re-run skips every finished trial (same fingerprint)
    _, again = sweep(env, env / 'sweep', ['tent', 'bn'], (0, 1))
    assert {o['status'] for o in again.values()} == {'skipped'}
    # ...and sweep.json keeps what the finished runs measured
    kept = json.loads((env / 'sweep' / 'sweep.json').read_text())
    assert kept['trials'] == sweep_file['trials']


def test_sigkilled_trial_is_retried_and_resumed(env):
    _, outcomes = sweep(env, env / 'killed', ['kill'])
    (name, outcome), = outcomes.items()
    assert (env / 'kill_marker').is_file()  # it was killed once
    assert outcome['status'] == 'done' and outcome['attempts'] == 2
    assert outcome['resumed'] is True
    got = records(env / 'killed' / name)
    want = run_direct(str(env / 'kill.py'), str(env / 'direct_kill'), 0)
    assert got == want


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


def test_two_phase_selection_runs_only_the_chosen_test_point(env, tmp_path):
    import sys
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
    import sweep as sweep_tool
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
    assert sweep_tool.main([str(cfg), '--work-root', str(tmp_path / 'w'),
                            '--num-cpus', '2']) == 0
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


def test_a_conflicting_trial_keeps_the_finished_row(env, tmp_path, capsys):
    """A second sweep whose trial has the name but not the settings of a
    finished one is refused: the first run's row stays, and the console
    and exit code say so."""
    import sys
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
    import sweep as sweep_tool
    bn = str(env / 'bn.py')
    first, second = tmp_path / 'first.py', tmp_path / 'second.py'
    first.write_text(f'sweep = dict(configs=dict(bn={bn!r}))')
    second.write_text(f'sweep = dict(configs=dict(bn=dict(config={bn!r}, '
                      "cfg_options={'test_cfg.rounds': 2})))")
    work = str(tmp_path / 'w')
    assert sweep_tool.main([str(first), '--work-root', work]) == 0
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
    from tta_seg.sweep.engine import SweepNotStarted
    trials = expand(dict(configs=dict(bn=str(env / 'bn.py'))))
    with pytest.raises(SweepNotStarted,
                       match=r'--cpus-per-trial 3: .*the largest has 2'):
        run_sweep(trials, str(tmp_path), cpus_per_trial=3, progress=False)
    with pytest.raises(SweepNotStarted, match=r'--gpus-per-trial 1: .*GPU'):
        run_sweep(trials, str(tmp_path), gpus_per_trial=1, progress=False)
    assert not (tmp_path / trials[0].name).exists()  # nothing ran


def test_a_trial_dir_held_by_another_process_is_refused(env, tmp_path,
                                                        hold_work_dir):
    """E.g. a worker of a killed driver still writing the trial's dir."""
    from tta_seg.sweep.spec import expand
    from tta_seg.sweep.trial import run_trial
    from tta_seg.utils.lock import WorkDirBusy
    trial, = expand(dict(configs=dict(bn=str(env / 'bn.py'))))
    holder = hold_work_dir(tmp_path / trial.name)
    with pytest.raises(WorkDirBusy, match=f'pid {holder.pid}'):
        run_trial(trial.to_dict(), str(tmp_path))
    assert os.listdir(tmp_path / trial.name) == ['.lock']
