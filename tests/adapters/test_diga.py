"""DIGA: mixed BN statistics, prototypes and posteriors by hand; contract."""
import math

import pytest
import torch
from mmengine.structures import PixelData
from torch.nn.modules.batchnorm import _BatchNorm

import tta_seg.adapters.diga  # noqa: F401  (registers DIGA)
from tests.tiny import NUM_CLASSES, make_batch, tiny_segmentor_cfg
from tta_seg.models.norm import MixStatBN
from tta_seg.models.prototypes import (RunningPrototypes, class_prototypes,
                                       confident_class_masks,
                                       prototype_posterior)
from tta_seg.registry import MODELS

E = math.exp


def build(kind='bn', segmentor=None, **kwargs):
    return MODELS.build(dict(type='DIGA', segmentor=segmentor or
                             tiny_segmentor_cfg(kind), **kwargs))


def outputs(adapter, batch):
    return torch.stack([o.seg_logits.data for o in adapter.test_step(batch)])


# ------------------------------------------------------------ hand-made --
# A 2x2 map, D=2, 3 classes: pixels 0, 1 confidently class 0, pixel 2
# confidently class 1, pixel 3 unconfident; class 2 never appears.
FEATS = torch.tensor([[0., 2., 0., 4.], [0., 0., 2., 4.]]).view(1, 2, 2, 2)
LOGITS = torch.tensor([[10., 10., 0., 1.], [0., 0., 10., 1.],
                       [0., 0., 0., 0.]]).view(1, 3, 2, 2)
PROTOS = torch.tensor([[[1., 0.], [0., 2.], [0., 0.]]])  # class means


def hand_posterior():
    """softmax(-dist) over classes 0 and 1 for the four pixels."""
    dists = [(1., 2.), (1., math.sqrt(8.)), (math.sqrt(5.), 0.),
             (5., math.sqrt(20.))]
    post = torch.zeros(1, 3, 4)
    for k, (d0, d1) in enumerate(dists):
        z = E(-d0) + E(-d1)
        post[0, 0, k], post[0, 1, k] = E(-d0) / z, E(-d1) / z
    return post.view(1, 3, 2, 2)


def test_prototypes_and_posterior_by_hand():
    masks = confident_class_masks(LOGITS.softmax(1), threshold=0.9)
    assert masks[0].tolist() == [[True, True, False, False],
                                 [False, False, True, False],
                                 [False] * 4]
    protos, present = class_prototypes(FEATS, masks)
    torch.testing.assert_close(protos, PROTOS)
    assert present.tolist() == [[True, True, False]]
    post = prototype_posterior(FEATS, protos, present)
    torch.testing.assert_close(post, hand_posterior())
    assert (post[:, 2] == 0).all()  # no prototype, zero probability


def test_threshold_is_inclusive():
    conf = LOGITS.softmax(1).max(1).values[0, 1, 1].item()  # pixel 3
    masks = confident_class_masks(LOGITS.softmax(1), threshold=conf)
    assert masks[0, :, 3].any()


def test_no_prototype_at_all_gives_zeros():
    post = prototype_posterior(FEATS, PROTOS, torch.zeros(1, 3,
                                                          dtype=torch.bool))
    assert torch.equal(post, torch.zeros(1, 3, 2, 2))


def test_running_update_follows_rate():
    running = RunningPrototypes(3, 2, rate=0.1)
    a = torch.tensor([[1., 2.], [3., 4.], [9., 9.]])
    b = torch.tensor([[11., 12.], [7., 7.], [5., 6.]])
    states, flags = running.track(
        torch.stack([a, b]),
        torch.tensor([[True, True, False], [True, False, True]]))
    # image 1: classes 0 and 1 initialised directly, class 2 untouched
    torch.testing.assert_close(states[0], torch.tensor(
        [[1., 2.], [3., 4.], [0., 0.]]))
    assert flags[0].tolist() == [True, True, False]
    # image 2: class 0 moves by 0.1, class 1 absent, class 2 first seen
    expected = torch.tensor([[0.9 * 1 + 0.1 * 11, 0.9 * 2 + 0.1 * 12],
                             [3., 4.], [5., 6.]])
    torch.testing.assert_close(states[1], expected)
    torch.testing.assert_close(running.prototypes, expected)
    assert running.initialised.tolist() == [True, True, True]


def test_classifier_hook_combines_as_documented():
    seg = tiny_segmentor_cfg('bn')
    seg['decode_head'].update(channels=2, num_classes=3)
    diga = build(segmentor=seg)
    diga.prepare()
    soft = LOGITS.softmax(1)
    out = diga._adapt_classifier(None, (FEATS, ), LOGITS, update=True)
    # first image: running = instance prototypes, so both posteriors agree
    torch.testing.assert_close(out, 0.8 * hand_posterior() + 0.2 * soft)
    # second image (features shifted by +1): running moved by rate 0.1
    feats2 = FEATS + 1.0
    out2 = diga._adapt_classifier(None, (feats2, ), LOGITS, update=True)
    inst = PROTOS + 1.0
    run = 0.9 * PROTOS + 0.1 * inst
    run[:, 2] = 0.0  # class 2 never present: never initialised
    present = torch.tensor([[True, True, False]])
    proto = (0.8 * prototype_posterior(feats2, run, present) +
             0.2 * prototype_posterior(feats2, inst, present))
    torch.testing.assert_close(out2, 0.8 * proto + 0.2 * soft)
    torch.testing.assert_close(diga.running.prototypes, run[0])


def three_class_diga():
    seg = tiny_segmentor_cfg('bn')
    seg['decode_head'].update(channels=2, num_classes=3)
    diga = build(segmentor=seg)
    diga.prepare()
    return diga


def test_empty_prototype_sets_give_their_weight_to_what_is_present():
    unsure = torch.zeros_like(LOGITS)  # softmax 1/3 < 0.9: no prototype
    third = torch.full_like(LOGITS, 1 / 3)
    # nothing confident yet: neither set exists, the model softmax alone
    diga = three_class_diga()
    out = diga._adapt_classifier(None, (FEATS, ), unsure, update=True)
    torch.testing.assert_close(out, third)
    # running set only (instance empty): 0.8 running + 0.2 softmax
    diga._adapt_classifier(None, (FEATS, ), LOGITS, update=True)
    out = diga._adapt_classifier(None, (FEATS, ), unsure, update=True)
    torch.testing.assert_close(out, 0.8 * hand_posterior() + 0.2 * third)
    torch.testing.assert_close(out.sum(1), torch.ones(1, 2, 2))
    # instance set only (no update, running never initialised)
    diga = three_class_diga()
    out = diga._adapt_classifier(None, (FEATS, ), LOGITS, update=False)
    torch.testing.assert_close(
        out, 0.8 * hand_posterior() + 0.2 * LOGITS.softmax(1))


def test_a_missing_classifier_is_named_at_build_time():
    seg = tiny_segmentor_cfg('bn')
    with pytest.raises(ValueError, match="no submodule 'head.cls'"):
        build(segmentor=seg, classifier_name='head.cls')


# ------------------------------------------------------------ adapter --
def test_bn_statistics_are_mixed_by_hand():
    diga = build('bn')
    diga.prepare()
    assert not any(isinstance(m, _BatchNorm) for m in diga.modules())
    layers = [m for m in diga.modules() if isinstance(m, MixStatBN)]
    assert layers and all(m.prior == 0.8 for m in layers)
    bn = layers[0]
    c = bn.num_features
    with torch.no_grad():
        bn.running_mean.fill_(1.0)
        bn.running_var.fill_(4.0)
        bn.weight.fill_(2.0)
        bn.bias.fill_(0.5)
    # per channel values 1 and 3: instance mean 2, biased variance 1
    x = torch.tensor([1., 3.]).view(1, 1, 2, 1).repeat(1, c, 1, 1)
    mean, var = 0.8 * 1.0 + 0.2 * 2.0, 0.8 * 4.0 + 0.2 * 1.0
    expected = (x - mean) / math.sqrt(var + bn.eps) * 2.0 + 0.5
    torch.testing.assert_close(bn(x), expected)


@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_runs_without_gradients_on_both_segmentors(kind):
    diga = build(kind, proto_conf_threshold=0.0)
    out = outputs(diga, make_batch())
    assert out.shape == (2, NUM_CLASSES, 32, 48)
    assert torch.isfinite(out).all() and not out.requires_grad
    assert diga.optim_wrapper is None
    assert any(isinstance(m, MixStatBN) for m in diga.modules())
    assert not any(isinstance(m, _BatchNorm) for m in diga.modules())
    assert diga.running.initialised.any()
    for param in diga.parameters():
        assert not param.requires_grad and param.grad is None
    # probabilities: with prototypes for every image, rows sum to one
    torch.testing.assert_close(out.sum(1), torch.ones(2, 32, 48))


def test_output_does_not_depend_on_labels():
    diga = build('bn', proto_conf_threshold=0.0)
    diga.prepare()
    runs = []
    for labels in ('random', 'constant', 'none'):
        diga.reset()
        batch = make_batch(seed=1, with_labels=labels != 'none')
        if labels == 'constant':
            for sample in batch['data_samples']:
                sample.gt_sem_seg = PixelData(
                    data=torch.zeros_like(sample.gt_sem_seg.data))
        runs.append([outputs(diga, batch) for _ in range(2)])
        runs[-1].append(diga.running.prototypes.clone())
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert torch.equal(a, b)


def test_reset_is_exact_and_predict_does_not_update():
    diga = build('ln', proto_conf_threshold=0.0)
    diga.prepare()
    source = {k: v.clone() for k, v in diga.state_dict().items()}
    assert not diga.running.initialised.any()
    first = [outputs(diga, make_batch(seed=i)) for i in range(3)]
    assert not torch.equal(diga.running.prototypes, source[
        'running.prototypes'])
    state = {k: v.clone() for k, v in diga.state_dict().items()}
    diga.predict_step(make_batch(seed=5))
    for key, value in diga.state_dict().items():
        assert torch.equal(value, state[key]), key
    diga.reset()
    for key, value in diga.state_dict().items():
        assert torch.equal(value, source[key]), key
    again = [outputs(diga, make_batch(seed=i)) for i in range(3)]
    for a, b in zip(first, again):
        assert torch.equal(a, b)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        build(optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)))
    with pytest.raises(ValueError):
        build(bn_lambda=1.5)
    with pytest.raises(TypeError):
        build(classifier_name='decode_head')
