"""ContinualTestLoop: records, reset policies, results schema and resume."""
import json
import os.path as osp

import pytest
from mmengine.runner import Runner

from tests.loop_helpers import (assert_same_state, make_cfg, run, strip_time)
from tests.tiny import N_IMAGES

pytestmark = pytest.mark.slow


def test_records_and_schema(data_root, tmp_path):
    res = run(make_cfg(data_root, str(tmp_path)))
    assert res['method'] == 'TENT' and res['domains'] == ['a', 'b']
    assert res['rounds'] == 2
    assert [(r['round'], r['domain']) for r in res['records']] == [
        (1, 'a'), (1, 'b'), (2, 'a'), (2, 'b')]
    for rec in res['records']:
        assert set(rec) >= {'round', 'domain', 'mIoU', 'mAcc', 'aAcc',
                            'per_class_iou', 'num_images', 'seconds'}
        assert rec['num_images'] == N_IMAGES
        assert 0 <= rec['mIoU'] <= 100 and len(rec['per_class_iou']) == 19
    miou = [r['mIoU'] for r in res['records']]
    assert res['mean_mIoU'] == pytest.approx(sum(miou) / len(miou), abs=1e-3)
    assert [r['round'] for r in res['forgetting']] == [1, 2]
    for name in ('summary.md', 'summary.csv', 'miou.png'):
        assert osp.getsize(osp.join(str(tmp_path), name)) > 0


def test_source_records_do_not_drift(data_root, tmp_path):
    res = run(make_cfg(data_root, str(tmp_path), method='Source'))
    by_domain = {}
    for rec in res['records']:
        by_domain.setdefault(rec['domain'], []).append(rec['mIoU'])
    assert all(len(set(v)) == 1 for v in by_domain.values())


def test_reset_policies_change_the_stream(data_root, tmp_path):
    never, s_never = run(make_cfg(data_root, str(tmp_path / 'n')), True)
    batch = run(make_cfg(data_root, str(tmp_path / 'b'), reset='batch'))
    domain, s_domain = run(
        make_cfg(data_root, str(tmp_path / 'd'), reset='domain'), True)
    # episodic / per-domain resets make every round identical
    for res in (batch, domain):
        recs = res['records']
        assert strip_time(recs[:2]) == [dict(r, round=1) for r in
                                        strip_time(recs[2:])]
    assert strip_time(never['records'][:2]) == strip_time(
        domain['records'][:2])
    # ...while the continual stream carries its adaptation across domains
    assert_same_state(s_never, s_domain, same=False)


def test_resume_equals_uninterrupted_run(data_root, tmp_path):
    full, s_full = run(make_cfg(data_root, str(tmp_path / 'full')), True)
    cfg = make_cfg(data_root, str(tmp_path / 'cut'))
    cfg.custom_hooks = [dict(type='StopAt', at=[2, 'a', 1])]
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).test()
    with open(osp.join(cfg.work_dir, 'results.json')) as f:
        partial = json.load(f)
    assert [(r['round'], r['domain']) for r in partial['records']] == [
        (1, 'a'), (1, 'b')]
    resumed, s_resumed = run(
        make_cfg(data_root, cfg.work_dir, resume=True), True)
    assert_same_state(s_full, s_resumed)
    # finished steps were kept, not recomputed (their timings are the old ones)
    assert resumed['records'][:2] == partial['records'][:2]
    assert strip_time(resumed['records']) == strip_time(full['records'])
    assert strip_time(resumed['forgetting']) == strip_time(full['forgetting'])


def test_missing_data_root_is_named(tmp_path):
    missing = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='nowhere'):
        Runner.from_cfg(make_cfg(missing, str(tmp_path / 'w'))).test()


def test_rerun_keeps_earlier_results(data_root, tmp_path):
    run(make_cfg(data_root, str(tmp_path), method='Source', rounds=1))
    run(make_cfg(data_root, str(tmp_path), method='Source', rounds=1))
    assert len(list(tmp_path.glob('results.*.json'))) == 1


def test_sar_recoveries_are_counted_per_record(data_root, tmp_path):
    """A SAR whose recovery threshold is always met resets after every
    update: each record counts one recovery per adapted image."""
    cfg = make_cfg(data_root, str(tmp_path), method='SAR')
    cfg.model.update(reset_constant=1e9, margin_factor=10.0,
                     optim_wrapper=dict(optimizer=dict(
                         type='SAM', rho=0.05,
                         base_optimizer=dict(type='SGD', lr=1e-3))))
    res = run(cfg)
    assert [r['recoveries'] for r in res['records']] == [N_IMAGES] * 4
    assert all(r['recoveries'] == 0 for r in res['forgetting'])
    # methods without model recovery carry no such field
    tent = run(make_cfg(data_root, str(tmp_path / 'tent')))
    assert all('recoveries' not in r for r in tent['records'])


def test_adapter_counters_are_recorded_and_resumed(data_root, tmp_path):
    """A user adapter's own counter: every record carries its increase
    (none during forgetting checks), and --resume restores the total."""
    from tta_seg.adapters import Source
    from tta_seg.registry import MODELS

    class CountingSource(Source):

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.counters['frames'] = 0

        def forward_and_adapt(self, inputs, metas):
            self.count('frames', inputs.shape[0])
            return super().forward_and_adapt(inputs, metas)

    MODELS.register_module(module=CountingSource, force=True)
    cfg = make_cfg(data_root, str(tmp_path), method='CountingSource')
    cfg.custom_hooks = [dict(type='StopAt', at=[2, 'a', 1])]
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).test()
    runner = Runner.from_cfg(
        make_cfg(data_root, str(tmp_path), method='CountingSource',
                 resume=True))
    runner.test()
    with open(osp.join(str(tmp_path), 'results.json')) as f:
        res = json.load(f)
    assert [r['frames'] for r in res['records']] == [N_IMAGES] * 4
    assert all(r['skipped_updates'] == 0 for r in res['records'])
    assert all(r['frames'] == 0 for r in res['forgetting'])
    # 2 records before the interruption (restored) + 2 after the resume
    assert runner.model.counters == dict(skipped_updates=0,
                                         frames=4 * N_IMAGES)
