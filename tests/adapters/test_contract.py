"""Contract tests over every method config and every registered adapter.

Each ``configs/<method>/*.py`` that defines ``adapter`` is run with its own
hyper-parameters on the tiny segmentors: it must run, keep output shapes,
stay finite, be label-blind, start its teacher at the source weights and
reset exactly. On a user's own ``BaseSegmentor`` without ``decode_head``
(``'plain'``) an adapter either meets the same contract or refuses when it
is built, with a message naming what it needs.
"""
import copy
import glob
import inspect
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from tests.tiny import NUM_CLASSES, make_batch, tiny_segmentor_cfg
from tta_seg.adapters import BaseAdapter
from tta_seg.apis.config import REPO_ROOT, registered_adapters
from tta_seg.registry import MODELS

STEPS = 3


def method_configs():
    paths = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*', '*.py')))
    out = []
    for path in paths:
        if '_base_' in path:
            continue
        cfg = Config.fromfile(path)
        if 'adapter' in cfg:
            out.append((osp.relpath(path, REPO_ROOT), cfg.adapter.to_dict()))
    return out


CONFIGS = method_configs()
IDS = [p for p, _ in CONFIGS]


def build(adapter_cfg, kind):
    cfg = copy.deepcopy(adapter_cfg)
    for key in [k for k in cfg if k.endswith('checkpoint')]:
        cfg.pop(key)  # shipped weights of the embedded models, not tiny
    cfg['segmentor'] = tiny_segmentor_cfg(kind)
    return MODELS.build(cfg)


def run_steps(adapter, steps=STEPS, **batch_kwargs):
    torch.manual_seed(0)
    outs = []
    for i in range(steps):
        out = adapter.test_step(make_batch(seed=i, **batch_kwargs))
        outs.append(torch.stack([o.seg_logits.data for o in out]))
    return outs


def test_every_registered_adapter_has_a_config():
    configured = {cfg['type'] for _, cfg in CONFIGS}
    tests_dir = osp.join(REPO_ROOT, 'tests') + osp.sep
    shipped = {name for name in registered_adapters()
               if not osp.abspath(inspect.getfile(MODELS.get(name)))
               .startswith(tests_dir)}
    missing = shipped - configured  # test modules register test adapters
    assert not missing, f'adapters without a method config: {missing}'


#: adapter type -> what it needs (in its build-time error) that the
#: 'plain' segmentor lacks; every other adapter must run on it.
NEEDS_OF_PLAIN = {
    'EcoTTA': 'EncoderDecoder',  # rebuilds the encoder into parts
    'DIGA': 'classifier_name',  # hooks the final classifier by name
    'SVDP': 'classifier_name',  # MC dropout before the final classifier
}


def build_or_refusal(adapter_cfg, kind):
    """The prepared adapter, or None after checking a build-time refusal."""
    needs = NEEDS_OF_PLAIN.get(adapter_cfg['type']) if kind == 'plain' \
        else None
    if needs is None:
        adapter = build(adapter_cfg, kind)
        adapter.prepare()
        return adapter
    with pytest.raises((TypeError, ValueError), match=needs):
        build(adapter_cfg, kind).prepare()
    return None


@pytest.mark.parametrize('kind', ['bn', 'ln', 'plain'])
@pytest.mark.parametrize('path,adapter_cfg', CONFIGS, ids=IDS)
def test_contract(path, adapter_cfg, kind):
    adapter = build_or_refusal(adapter_cfg, kind)
    if adapter is not None:
        check_contract(adapter)


def test_diga_runs_on_a_plain_segmentor_given_its_classifier():
    cfg = next(c for _, c in CONFIGS if c['type'] == 'DIGA')
    check_contract(build(dict(cfg, classifier_name='classifier'), 'plain'))


def check_contract(adapter):
    """Runs, shapes, finiteness, teacher at source, exact reset, blindness."""
    assert isinstance(adapter, BaseAdapter)
    adapter.prepare()
    source = {k: v.clone() for k, v in adapter.state_dict().items()}
    teacher = getattr(adapter, 'teacher', None)
    if teacher is not None:  # mean-teacher methods start at the source
        for (_, t), (_, s) in zip(teacher.state_dict().items(),
                                  adapter.segmentor.state_dict().items()):
            assert torch.equal(t, s)

    first = run_steps(adapter)
    for out in first:
        assert out.shape == (2, NUM_CLASSES, 32, 48)
        assert torch.isfinite(out).all()
    for param in adapter.parameters():
        assert torch.isfinite(param).all()

    # exact reset: same state, and the same outputs as the first run
    adapter.reset()
    for key, value in adapter.state_dict().items():
        assert torch.equal(value, source[key]), key
    again = run_steps(adapter)
    for a, b in zip(first, again):
        torch.testing.assert_close(a, b)

    # label-blind: without labels the stream gives identical outputs
    adapter.reset()
    blind = run_steps(adapter, with_labels=False)
    for a, b in zip(first, blind):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('path,adapter_cfg', CONFIGS[:1], ids=IDS[:1])
def test_adapter_never_receives_labels_or_paths(path, adapter_cfg,
                                                monkeypatch):
    adapter = build(adapter_cfg, 'bn')
    seen = []
    original = type(adapter).forward_and_adapt

    def spy(self, inputs, metas):
        seen.extend(metas)
        return original(self, inputs, metas)

    monkeypatch.setattr(type(adapter), 'forward_and_adapt', spy)
    adapter.test_step(make_batch())
    assert seen
    for meta in seen:
        assert not any('path' in k for k in meta)
        assert 'gt_sem_seg' not in meta


def test_a_segmentor_without_inference_is_refused_at_build():
    """``inference`` is EncoderDecoder's, not BaseSegmentor's: an adapter
    built on a segmentor without it says so at once."""
    from tests.tiny import TinyPlainSegmentor, tiny_segmentor_cfg

    class NoInference(TinyPlainSegmentor):
        inference = None

    cfg = tiny_segmentor_cfg('plain')
    seg = NoInference(data_preprocessor=cfg['data_preprocessor'])
    with pytest.raises(TypeError, match='TENT needs a segmentor with '
                       'inference: NoInference lacks it'):
        MODELS.build(dict(type='TENT', segmentor=seg, optim_wrapper=dict(
            optimizer=dict(type='Adam', lr=1e-3))))
