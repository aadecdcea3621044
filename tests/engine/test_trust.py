"""A run never reports what the user did not ask for: resume identity,
data checked before adapting, forgetting on the adapted state."""
import copy
import json
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from tests.loop_helpers import StopAt  # noqa: F401 (registers)
from tests.loop_helpers import make_cfg, run
from tests.tiny import tiny_dataset_cfg
from tta_seg.engine.loops.continual_test_loop import (DATA_SECTION,
                                                      ResumeMismatchError)
from tta_seg.registry import HOOKS


def interrupted(data_root, work_dir, method='TENT'):
    cfg = make_cfg(data_root, work_dir, method=method)
    cfg.custom_hooks = [dict(type='StopAt', at=[1, 'b', 0])]
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).test()


@pytest.mark.slow
def test_resume_with_another_method_is_refused(data_root, tmp_path):
    interrupted(data_root, str(tmp_path))
    cfg = make_cfg(data_root, str(tmp_path), method='Source', resume=True)
    with pytest.raises(ResumeMismatchError, match=r"model\.type: 'TENT' -> "
                       r"'Source'"):
        Runner.from_cfg(cfg).test()
    # the refused run changed nothing: the original one still resumes
    res = run(make_cfg(data_root, str(tmp_path), resume=True))
    assert len(res['records']) == 4 and res['method'] == 'TENT'


@pytest.mark.slow
@pytest.mark.parametrize('change', ['lr', 'seed', 'rounds'])
def test_resume_with_other_settings_is_refused(data_root, tmp_path, change):
    interrupted(data_root, str(tmp_path))
    cfg = make_cfg(data_root, str(tmp_path), resume=True)
    expected = dict(lr='model.optim_wrapper.optimizer.lr',
                    seed='randomness.seed', rounds='test_cfg.rounds')[change]
    if change == 'lr':
        cfg.model.optim_wrapper.optimizer.lr = 0.5
    elif change == 'seed':
        cfg.randomness.seed = 1
    else:
        cfg.test_cfg.rounds = 3
    with pytest.raises(ResumeMismatchError, match=expected):
        Runner.from_cfg(cfg).test()


@pytest.mark.slow
def test_resume_state_without_identity_is_refused(data_root, tmp_path):
    interrupted(data_root, str(tmp_path))
    path = osp.join(str(tmp_path), 'resume_state.pth')
    state = torch.load(path, weights_only=True)
    del state['identity']
    torch.save(state, path)
    with pytest.raises(ResumeMismatchError, match='older tta_seg'):
        Runner.from_cfg(make_cfg(data_root, str(tmp_path),
                                 resume=True)).test()


@pytest.mark.slow
def test_damaged_resume_state_names_the_file(data_root, tmp_path):
    interrupted(data_root, str(tmp_path))
    path = osp.join(str(tmp_path), 'resume_state.pth')
    with open(path, 'rb') as f:
        head = f.read()
    with open(path, 'wb') as f:
        f.write(head[:len(head) // 2])
    with pytest.raises(Exception, match='resume_state.pth') as err:
        Runner.from_cfg(make_cfg(data_root, str(tmp_path),
                                 resume=True)).test()
    assert '--unsafe-checkpoint' not in str(err.value)


@pytest.mark.slow
def test_results_carry_the_fingerprint(data_root, tmp_path):
    res = run(make_cfg(data_root, str(tmp_path), rounds=1))
    other = run(make_cfg(data_root, str(tmp_path / 'o'), rounds=1,
                         method='Source'))
    assert len(res['fingerprint']) == 16
    assert res['fingerprint'] != other['fingerprint']
    assert res['identity']['model']['type'] == 'TENT'
    assert res['seed'] == 0


class CountIters(Hook):
    """Counts adapted batches (to show nothing ran before a data error)."""
    calls = 0

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None):
        CountIters.calls += 1


HOOKS.register_module(module=CountIters, force=True)


def _with_late_domain(data_root, work_dir, dataset):
    cfg = make_cfg(data_root, work_dir, rounds=1)
    cfg.test_cfg.domains.append(dict(name='snow', dataset=dataset))
    cfg.custom_hooks = [dict(type='CountIters')]
    CountIters.calls = 0
    return cfg


@pytest.mark.slow
def test_missing_late_domain_fails_before_adapting(data_root, tmp_path):
    missing = tiny_dataset_cfg(str(tmp_path / 'nowhere'), 'a')
    cfg = _with_late_domain(data_root, str(tmp_path), missing)
    with pytest.raises(FileNotFoundError) as err:
        Runner.from_cfg(cfg).test()
    assert CountIters.calls == 0
    text = str(err.value)
    assert "'snow'" in text and 'nowhere' in text and DATA_SECTION in text
    assert 'leftImg8bit/<split>/<city>' in text  # the expected layout


@pytest.mark.slow
def test_empty_source_split_fails_before_adapting(data_root, tmp_path):
    empty = tmp_path / 'empty'
    for sub in ('leftImg8bit/val/x', 'gtFine/val/x'):
        (empty / sub).mkdir(parents=True)
    cfg = make_cfg(data_root, str(tmp_path / 'w'), rounds=1)
    cfg.test_cfg.source.dataset = tiny_dataset_cfg(str(empty), 'val')
    cfg.custom_hooks = [dict(type='CountIters')]
    CountIters.calls = 0
    with pytest.raises(FileNotFoundError, match="'source'.*no image"):
        Runner.from_cfg(cfg).test()
    assert CountIters.calls == 0


@pytest.mark.slow
def test_unreadable_first_label_fails_before_adapting(data_root, tmp_path):
    import shutil
    copy_root = tmp_path / 'copy'
    shutil.copytree(data_root, copy_root)
    label = sorted((copy_root / 'gtFine' / 'a').rglob('*.png'))[0]
    label.write_bytes(b'not a png')
    cfg = _with_late_domain(data_root, str(tmp_path / 'w'),
                            tiny_dataset_cfg(str(copy_root), 'a'))
    with pytest.raises(FileNotFoundError, match=label.name):
        Runner.from_cfg(cfg).test()
    assert CountIters.calls == 0


@pytest.mark.slow
def test_forgetting_is_disabled_by_the_switch(data_root, tmp_path):
    res = run(make_cfg(data_root, str(tmp_path), rounds=1,
                       check_forgetting=False))
    assert 'forgetting' not in res


class StatesSeen(Hook):
    """Keeps the adapter state after the last adapted batch of each round
    and the state each forgetting batch is predicted with."""
    after_adapt, at_forgetting = [], []

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None):
        state = copy.deepcopy(runner.model.state_dict())
        if runner.test_loop.current[1] == 'source':
            StatesSeen.at_forgetting.append(state)
        else:
            StatesSeen.after_adapt.append(state)


HOOKS.register_module(module=StatesSeen, force=True)


@pytest.mark.slow
def test_forgetting_uses_the_adapted_state_under_batch_reset(data_root,
                                                             tmp_path):
    cfg = make_cfg(data_root, str(tmp_path), rounds=1, reset='batch')
    cfg.custom_hooks = [dict(type='StatesSeen')]
    StatesSeen.after_adapt, StatesSeen.at_forgetting = [], []
    runner = Runner.from_cfg(cfg)
    runner.test()
    source = runner.model._source_state
    last = StatesSeen.after_adapt[-1]
    assert any(not torch.equal(last[k], source[k].to(last[k]))
               for k in last)  # adapting changed the model
    for state in StatesSeen.at_forgetting:
        assert all(torch.equal(state[k], last[k]) for k in last)


def test_docs_have_the_section_errors_point_to():
    from tta_seg.apis.config import REPO_ROOT
    from tta_seg.engine.loops.data_checks import DATA_PAGE
    with open(osp.join(REPO_ROOT, DATA_PAGE)) as f:
        headings = [line.lstrip('#').strip() for line in f
                    if line.startswith('#')]
    assert DATA_SECTION in headings


@pytest.mark.slow
def test_summary_shows_counters(data_root, tmp_path):
    run(make_cfg(data_root, str(tmp_path), rounds=1))
    text = (tmp_path / 'summary.md').read_text()
    assert 'adapter counters: skipped_updates 0' in text
    res = json.loads((tmp_path / 'results.json').read_text())
    assert all(r['skipped_updates'] == 0 for r in res['records'])


@pytest.mark.slow
def test_wrapped_datasets_are_checked_too(data_root, tmp_path):
    cfg = make_cfg(data_root, str(tmp_path), rounds=1, method='Source')
    first = cfg.test_cfg.domains[0].dataset
    cfg.test_cfg.domains[0].dataset = dict(type='ConcatDataset',
                                           datasets=[first, first])
    res = run(cfg)
    assert res['records'][0]['num_images'] == 6


@pytest.mark.slow
def test_second_run_in_a_busy_work_dir_is_refused(data_root, tmp_path,
                                                  hold_work_dir):
    """Two runs in one work dir would mix their results files: the second
    is refused before it writes anything, naming the first's pid."""
    from tta_seg.utils.lock import WorkDirBusy
    holder = hold_work_dir(tmp_path)
    cfg = make_cfg(data_root, str(tmp_path))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(WorkDirBusy, match=f'pid {holder.pid}'):
        runner.test()
    assert not osp.exists(osp.join(str(tmp_path), 'results.json'))
    holder.kill()
    holder.wait()
    assert len(run(make_cfg(data_root, str(tmp_path)))['records']) == 4
