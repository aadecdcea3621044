"""Stream protocols: domain orders and the time-budgeted online protocol."""
import copy
import math

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from tests.loop_helpers import make_cfg, run
from tests.tiny import N_IMAGES
from tta_seg.engine.loops.stream import TimeBudget, round_orders
from tta_seg.adapters.tent import TENT
from tta_seg.registry import HOOKS, MODELS

NAMES = ['fog', 'night', 'rain', 'snow']


def test_random_orders_are_seeded_and_change_every_round():
    orders = round_orders(NAMES, 10, 'random', seed=3)
    assert orders == round_orders(NAMES, 10, 'random', seed=3)
    assert orders != round_orders(NAMES, 10, 'random', seed=4)
    assert all(sorted(o) == sorted(NAMES) for o in orders)
    assert all(a != b for a, b in zip(orders, orders[1:]))


def test_fixed_and_explicit_orders():
    assert round_orders(NAMES, 2, 'fixed', 0) == [NAMES, NAMES]
    explicit = [['rain', 'fog'], ['snow', 'night', 'fog', 'rain']]
    assert round_orders(NAMES, 2, explicit, 0) == explicit
    for bad in ([['fog', 'fog']] * 2, [['hail']] * 2, [NAMES], 'sorted'):
        with pytest.raises(ValueError):
            round_orders(NAMES, 2, bad, 0)


@pytest.mark.slow
def test_loop_follows_and_records_random_orders(data_root, tmp_path):
    res = run(make_cfg(data_root, str(tmp_path), order='random'))
    orders = round_orders(['a', 'b'], 2, 'random', 0)
    assert res['stream']['order'] == 'random'
    assert res['stream']['orders'] == orders
    assert [r['domain'] for r in res['records']] == sum(orders, [])
    assert [r['position'] for r in res['records']] == [1, 2, 1, 2]


class States(Hook):
    """The adapter's weights after every adapted frame."""
    seen = []

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None):
        if runner.test_loop.current[1] != 'source':
            States.seen.append(copy.deepcopy(runner.model.state_dict()))


HOOKS.register_module(module=States, force=True)


def changed(a, b):
    return any(not torch.equal(a[k], b[k].to(a[k])) for k in a)


@pytest.mark.slow
@pytest.mark.parametrize('cost', [1, 2.5, 5])
def test_time_budget_adapts_on_every_kth_frame(data_root, tmp_path, cost):
    cfg = make_cfg(data_root, str(tmp_path),
                   time_budget=dict(relative_cost=cost))
    cfg.custom_hooks = [dict(type='States')]
    States.seen = []
    runner = Runner.from_cfg(cfg)
    runner.test()
    k, frames = math.ceil(cost), 4 * N_IMAGES  # 2 domains x 2 rounds
    before = [runner.model._source_state] + States.seen[:-1]
    steps = [i for i, (old, new) in enumerate(zip(before, States.seen))
             if changed(new, old)]
    assert steps == list(range(0, frames, k))  # frames between: unchanged
    assert len(steps) == math.ceil(frames / k)
    import json
    res = json.loads((tmp_path / 'results.json').read_text())
    assert sum(r['adapted_frames'] for r in res['records']) == len(steps)
    assert all(r['frames'] == N_IMAGES for r in res['records'])
    assert res['stream']['protocol'] == 'time budget'
    assert res['stream']['adapt_every'] == k


@MODELS.register_module(force=True)
class CallLog(TENT):
    """TENT that logs which prediction each frame of a domain got."""
    calls = []

    def predict_logits(self, inputs, metas):
        CallLog.calls.append('predict')
        return super().predict_logits(inputs, metas)

    def forward_logits(self, inputs, metas):
        CallLog.calls.append('forward')
        return super().predict_logits(inputs, metas)


@pytest.mark.slow
@pytest.mark.parametrize('skip', ['forward', 'adapter'])
def test_skipped_frames_get_the_chosen_prediction(data_root, tmp_path, skip):
    cfg = make_cfg(data_root, str(tmp_path), check_forgetting=False,
                   time_budget=dict(relative_cost=3, skip_prediction=skip))
    cfg.model.type = 'CallLog'
    CallLog.calls = []
    res = run(cfg)
    frames = 4 * N_IMAGES
    skipped = frames - math.ceil(frames / 3)
    assert CallLog.calls == [{'forward': 'forward',
                              'adapter': 'predict'}[skip]] * skipped
    assert res['stream']['skip_prediction'] == skip
    with pytest.raises(ValueError, match='skip_prediction'):
        TimeBudget(2, skip_prediction='teacher')


def test_relative_cost_from_benchmark_files(tmp_path):
    import json

    def bench(name, rows):
        path = tmp_path / name
        path.write_text(json.dumps(dict(rows=[
            dict(method=m, config=f'configs/x/{c}', interleaved_ratio=r)
            for m, c, r in rows])))
        return str(path)
    first = bench('a.json', [('TENT', 'tent.py', 2.5),
                             ('CoTTA[fast_views=False]', 'cotta.py', 30.0)])
    second = bench('b.json', [('CoTTA', 'cotta.py', 20.0),
                              ('TENT', 'tent.py', 9.0),
                              ('BNAdapt', 'bn.py', 0.97)])
    assert TimeBudget(second, config='bn.py').relative_cost == 1.0
    assert TimeBudget(first, config='c/tent.py').k == 3
    assert TimeBudget([first, second], config='c/tent.py').k == 3
    cotta = TimeBudget([first, second], config='other/cotta.py')
    assert cotta.relative_cost == 20.0 and cotta.k == 20  # variant row skipped
    with pytest.raises(KeyError, match='sar.py'):
        TimeBudget([first, second], config='sar.py')


def test_measured_budget_fixes_k_from_the_timings():
    budget = TimeBudget('measure', measure_frames=3)
    assert [budget.adapt_now() for _ in range(3)] == [True] * 3
    for step_s in (0.30, 0.25, 0.50):
        budget.add_measurement(step_s, 0.1)
    assert budget.k == 3 and budget.relative_cost == 3.0
    assert [budget.adapt_now() for _ in range(6)] == [True, False, False] * 2
    with pytest.raises(ValueError):
        TimeBudget(0.5)


@pytest.mark.slow
def test_time_budget_resumes_its_schedule(data_root, tmp_path):
    from tests.loop_helpers import StopAt  # noqa: F401
    from tests.loop_helpers import strip_time
    budget = dict(relative_cost=2)
    full = run(make_cfg(data_root, str(tmp_path / 'full'),
                        time_budget=budget))
    cfg = make_cfg(data_root, str(tmp_path / 'cut'), time_budget=budget)
    cfg.custom_hooks = [dict(type='StopAt', at=[1, 'b', 1])]
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).test()
    resumed = run(make_cfg(data_root, cfg.work_dir, time_budget=budget,
                           resume=True))
    assert strip_time(resumed['records']) == strip_time(full['records'])


@pytest.mark.slow
def test_measured_budget_runs_and_records_its_cost(data_root, tmp_path):
    res = run(make_cfg(data_root, str(tmp_path), rounds=1, time_budget=dict(
        relative_cost='measure', measure_frames=2)))
    stream = res['stream']
    assert isinstance(stream['relative_cost'], float)
    assert stream['adapt_every'] >= 1
    assert res['records'][0]['adapted_frames'] >= 2


class Paths(Hook):
    """Image paths in the order the adapter received them, per round."""
    seen = {}

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None):
        rnd, name = runner.test_loop.current
        if name != 'source':
            Paths.seen.setdefault(rnd, []).extend(
                s.img_path for s in data_batch['data_samples'])


HOOKS.register_module(module=Paths, force=True)


@pytest.mark.slow
def test_mixed_stream_holds_every_image_once_and_regroups(data_root,
                                                          tmp_path):
    cfg = make_cfg(data_root, str(tmp_path / 'mixed'), method='Source',
                   mixed=True)
    cfg.custom_hooks = [dict(type='Paths')]
    Paths.seen = {}
    res = run(cfg)
    fixed = run(make_cfg(data_root, str(tmp_path / 'fixed'),
                         method='Source'))
    for rnd, paths in Paths.seen.items():
        assert len(paths) == len(set(paths)) == 2 * N_IMAGES
    assert sorted(Paths.seen[1]) == sorted(Paths.seen[2])
    assert Paths.seen[1] != Paths.seen[2]  # a new shuffle each round
    assert any(p != q for p, q in zip(Paths.seen[1], sorted(Paths.seen[1])))
    # Source does not depend on the order: regrouping gives the same
    # per-domain numbers as the fixed stream
    key = lambda r: (r['round'], r['domain'])  # noqa: E731
    for got, want in zip(sorted(res['records'], key=key),
                         sorted(fixed['records'], key=key)):
        assert key(got) == key(want) and got['mIoU'] == want['mIoU']
        assert got['num_images'] == N_IMAGES
    assert [r['num_images'] for r in res['mixed']] == [2 * N_IMAGES] * 2
    assert res['stream']['order'] == 'mixed'


def test_mixed_stream_refuses_domain_resets(data_root, tmp_path):
    with pytest.raises(ValueError, match='mixed stream'):
        run(make_cfg(data_root, str(tmp_path), mixed=True, reset='domain'))


@pytest.mark.slow
def test_mixed_stream_resumes(data_root, tmp_path):
    from tests.loop_helpers import StopAt  # noqa: F401
    from tests.loop_helpers import strip_time
    full = run(make_cfg(data_root, str(tmp_path / 'full'), mixed=True))
    cfg = make_cfg(data_root, str(tmp_path / 'cut'), mixed=True)
    cfg.custom_hooks = [dict(type='StopAt', at=[2, 'mixed', 1])]
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).test()
    resumed = run(make_cfg(data_root, cfg.work_dir, mixed=True, resume=True))
    assert strip_time(resumed['records']) == strip_time(full['records'])
    assert strip_time(resumed['mixed']) == strip_time(full['mixed'])


@pytest.mark.slow
def test_results_carry_the_shift_of_each_domain(data_root, tmp_path):
    from mmcv.transforms import BaseTransform

    from tta_seg.registry import TRANSFORMS

    class Severe(BaseTransform):
        """Stands for a weather or corruption step (leaves the image)."""

        def __init__(self, severity, schedule=None):
            self.severity = severity

        def transform(self, results):
            return results

    TRANSFORMS.register_module(module=Severe, force=True)
    cfg = make_cfg(data_root, str(tmp_path), rounds=1, method='Source')
    step = dict(type='Severe', severity=3, schedule=dict(type='triangle'))
    cfg.test_cfg.domains[0].dataset.pipeline.insert(1, step)
    res = run(cfg)
    assert res['stream']['shifts'] == dict(a=[step], b=[])


def test_time_budget_needs_one_frame_per_batch(data_root, tmp_path):
    cfg = make_cfg(data_root, str(tmp_path), time_budget=dict(
        relative_cost=2))
    cfg.test_dataloader.batch_size = 2
    with pytest.raises(ValueError, match='batch_size=1'):
        Runner.from_cfg(cfg).test()


@pytest.mark.slow
def test_measured_budget_on_a_mixed_stream_records_k(data_root, tmp_path):
    res = run(make_cfg(data_root, str(tmp_path), rounds=1, mixed=True,
                       time_budget=dict(relative_cost='measure',
                                        measure_frames=2)))
    assert isinstance(res['stream']['adapt_every'], int)
    assert 'in None' not in (tmp_path / 'summary.md').read_text()
