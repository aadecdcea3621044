"""Helpers of the loop tests: a tiny run config, running it, and the
``StopAt`` hook that simulates an interruption (registered on import)."""
import json
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from tests.tiny import tiny_dataset_cfg as dataset
from tests.tiny import tiny_segmentor_cfg
from tta_seg.registry import HOOKS


def make_cfg(root, work_dir, method='TENT', **loop):
    adapter = dict(type=method, segmentor=tiny_segmentor_cfg('bn'))
    if method == 'TENT':
        adapter['optim_wrapper'] = dict(optimizer=dict(type='Adam', lr=1e-2))
    test_cfg = dict(type='ContinualTestLoop', rounds=2, progress=False,
                    domains=[dict(name=s, dataset=dataset(root, s))
                             for s in ('a', 'b')],
                    source=dict(name='source', dataset=dataset(root, 'val')))
    test_cfg.update(loop)
    return Config(dict(
        default_scope='tta_seg', work_dir=work_dir, model=adapter,
        test_dataloader=dict(batch_size=1, num_workers=0,
                             sampler=dict(type='DefaultSampler',
                                          shuffle=False)),
        test_evaluator=dict(type='StreamIoUMetric'), test_cfg=test_cfg,
        default_hooks=dict(runtime_info=None, timer=None, logger=None,
                           param_scheduler=None, checkpoint=None,
                           sampler_seed=None),
        randomness=dict(seed=0), log_level='WARNING',
        env_cfg=dict(dist_cfg=dict(backend='gloo'))))


def run(cfg, with_state=False):
    runner = Runner.from_cfg(cfg)
    runner.test()
    with open(osp.join(cfg.work_dir, 'results.json')) as f:
        res = json.load(f)
    return (res, runner.model.state_dict()) if with_state else res


def assert_same_state(a, b, same=True):
    equal = all(torch.equal(a[k], b[k]) for k in a)
    assert equal == same


def strip_time(records):
    return [{k: v for k, v in r.items() if k != 'seconds'} for r in records]


class StopAt(Hook):
    """Simulates an interruption at a given (round, domain, batch)."""

    def __init__(self, at):
        self.at = tuple(at)

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None):
        if (*runner.test_loop.current, batch_idx) == self.at:
            raise KeyboardInterrupt


HOOKS.register_module(module=StopAt, force=True)
