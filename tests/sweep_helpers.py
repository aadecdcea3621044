"""Helpers of the sweep tests: a folder with tiny data, a source model
and one config per adapter (TENT, BNAdapt, a TENT that SIGKILLs itself
once, one that raises), importable by Ray workers."""
import json
import os.path as osp
import textwrap

import torch

from tests.tiny import tiny_dataset_cfg, tiny_segmentor_cfg, \
    write_tiny_cityscapes
from tta_seg.registry import MODELS
from tta_seg.utils.paths import REPO_ROOT

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


def make_sweep_env(root) -> None:
    """Write the data, ``source.pth``, ``sweep_user_methods.py`` and
    ``tent.py``, ``bn.py``, ``kill.py``, ``broken.py`` into ``root``."""
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


def records(path):
    """A finished run's records (without times) and its fingerprint."""
    with open(osp.join(path, 'results.json')) as f:
        res = json.load(f)
    assert res['complete']
    out = [{k: v for k, v in r.items() if k != 'seconds'}
           for r in res['records'] + res.get('forgetting', [])]
    return out, res['fingerprint']
