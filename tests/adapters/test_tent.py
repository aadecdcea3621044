"""TENT's two variants: losses and trainable parameters, by hand."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from tests.tiny import make_batch, tiny_segmentor_cfg
from tta_seg.models.losses import (entropy_map, self_cross_entropy,
                                   softmax_entropy)
from tta_seg.models.norm import NORM_TYPES, MixStatBN
from tta_seg.registry import MODELS


def test_entropy_by_hand():
    # pixel 1: uniform over 2 classes -> ln 2; pixel 2: logits (ln 3, 0)
    # -> p = (3/4, 1/4) -> H = -(.75 ln .75 + .25 ln .25)
    logits = torch.tensor([[[[0.0, math.log(3.0)]], [[0.0, 0.0]]]])
    h2 = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    torch.testing.assert_close(entropy_map(logits),
                               torch.tensor([[[math.log(2.0), h2]]]))
    torch.testing.assert_close(softmax_entropy(logits),
                               torch.tensor((math.log(2.0) + h2) / 2))


def test_self_cross_entropy_by_hand():
    # argmax of (ln 3, 0) is class 0 -> -ln(3/4); of (0, 2) is class 1
    logits = torch.tensor([[[[math.log(3.0), 0.0]], [[0.0, 2.0]]]])
    p2 = math.exp(2) / (1 + math.exp(2))
    expected = (-math.log(0.75) - math.log(p2)) / 2
    torch.testing.assert_close(self_cross_entropy(logits),
                               torch.tensor(expected))
    # the target is detached: the gradient is plain CE's
    logits.requires_grad_(True)
    self_cross_entropy(logits).backward()
    ref = logits.detach().clone().requires_grad_(True)
    F.cross_entropy(ref, torch.tensor([[[0, 1]]])).backward()
    torch.testing.assert_close(logits.grad, ref.grad)


def build(variant, kind='bn', lr=1e-2):
    return MODELS.build(dict(
        type='TENT', variant=variant, segmentor=tiny_segmentor_cfg(kind),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=lr))))


@pytest.mark.parametrize('variant', ['cotta', 'original'])
def test_only_norm_affine_parameters_change(variant):
    tent = build(variant, 'ln')
    tent.prepare()
    before = {k: v.clone() for k, v in tent.named_parameters()}
    tent.test_step(make_batch())
    changed = {k for k, v in tent.named_parameters()
               if not torch.equal(v, before[k])}
    assert changed
    for name in changed:
        mod = tent.get_submodule(name.rsplit('.', 1)[0])
        allowed = (MixStatBN, ) if variant == 'original' else NORM_TYPES
        assert isinstance(mod, allowed), name


def affine_names(segmentor, layer_types):
    """Names of the weight/bias of every ``layer_types`` module, by hand."""
    return {f'segmentor.{name}.{p}' for name, mod in segmentor.named_modules()
            if isinstance(mod, layer_types) for p in ('weight', 'bias')
            if getattr(mod, p, None) is not None}


@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_trainable_set_is_exactly_the_norm_affine_parameters(kind):
    cotta, original = build('cotta', kind), build('original', kind)
    every_norm = affine_names(cotta.segmentor,
                              (_BatchNorm, nn.LayerNorm, nn.GroupNorm))
    bn_only = affine_names(original.segmentor, _BatchNorm)
    if kind == 'ln':  # MiT's LayerNorms and the head's BN
        assert every_norm - bn_only and bn_only
    cotta.prepare()
    original.prepare()
    for tent, expected in ((cotta, every_norm), (original, bn_only)):
        trainable = {n for n, p in tent.named_parameters() if p.requires_grad}
        assert trainable == expected
        optimized = {id(p) for group in tent.optim_wrapper.param_groups
                     for p in group['params']}
        assert optimized == {id(p) for n, p in tent.named_parameters()
                             if n in expected}


def dropout_segmentor():
    seg = tiny_segmentor_cfg('bn')
    seg['decode_head']['dropout_ratio'] = 0.5
    return seg


@pytest.mark.parametrize('train_mode', [False, True])
def test_train_mode_is_the_official_model_train(train_mode):
    tent = MODELS.build(dict(
        type='TENT', variant='original', train_mode=train_mode,
        segmentor=dropout_segmentor(),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.0))))
    tent.prepare()
    tent.eval()  # as mmengine's test loop: the adapter keeps its modes
    assert tent.segmentor.decode_head.dropout.training == train_mode
    assert not tent.training
    batch = make_batch(n=1)
    outs = [tent.test_step(batch)[0].seg_logits.data for _ in range(2)]
    assert torch.equal(outs[0], outs[1]) != train_mode  # lr 0: only dropout


def test_train_mode_needs_the_original_variant():
    with pytest.raises(ValueError, match='original'):
        MODELS.build(dict(type='TENT', variant='cotta', train_mode=True,
                          segmentor=tiny_segmentor_cfg('bn')))


def test_cotta_variant_keeps_source_statistics_original_uses_batch():
    cotta, original = build('cotta'), build('original')
    cotta.prepare()
    original.prepare()
    assert not any(isinstance(m, MixStatBN) for m in cotta.modules())
    assert any(isinstance(m, MixStatBN) and m.prior == 0.0
               for m in original.modules())


def test_original_variant_minimises_entropy():
    tent = build('original', lr=5e-2)
    batch = make_batch(n=2, seed=3)
    ent = []
    for _ in range(5):
        out = tent.test_step(batch)
        ent.append(softmax_entropy(torch.stack(
            [o.seg_logits.data for o in out])).item())
    assert ent[-1] < ent[0]


def test_nan_loss_skips_update_and_keeps_weights_finite(monkeypatch):
    tent = build('cotta')
    tent.prepare()
    before = {k: v.clone() for k, v in tent.state_dict().items()}
    monkeypatch.setattr(
        type(tent), 'adapt_loss', lambda self, inputs, metas: (
            self.segmentor.inference(inputs, metas),
            dict(loss=torch.tensor(float('nan'), requires_grad=True))))
    tent.test_step(make_batch())
    assert tent.skipped_updates == 1
    for key, value in tent.state_dict().items():
        assert torch.equal(value, before[key])


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match='original'):
        build('entropy')
