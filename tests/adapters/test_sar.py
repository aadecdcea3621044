"""SAM by hand, SAR's reliable filters and model recovery."""
import copy
import math

import pytest
import torch

import tta_seg.adapters.sar  # noqa: F401  (registers SAR and SAM)
from tests.tiny import NUM_CLASSES, make_batch, tiny_segmentor_cfg
from tta_seg.adapters.sar import SAR, is_excluded
from tta_seg.models.losses import entropy_map, reliable_entropy
from tta_seg.models.norm import MixStatBN
from tta_seg.optim import SAM
from tta_seg.registry import MODELS, OPTIMIZERS

LR, MOMENTUM, RHO = 0.1, 0.9, 0.05
X, T = (3.0, 1.0), 0.5  # loss L(w) = (w.x - t)^2 / 2, grad = (w.x - t) x


def grad(w):
    r = w[0] * X[0] + w[1] * X[1] - T
    return [r * X[0], r * X[1]]


def sam(w, **kwargs):
    return OPTIMIZERS.build(dict(
        type='SAM', params=[w], rho=RHO, base_optimizer=dict(
            type='SGD', lr=LR, momentum=MOMENTUM), **kwargs))


def backward(w):
    w.grad = None
    (0.5 * (w @ torch.tensor(X, dtype=torch.float64) - T)**2).backward()


def test_sam_two_steps_by_hand():
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = sam(w)
    ref, buf = [1.0, -2.0], None
    for _ in range(2):
        g1 = grad(ref)
        norm = math.sqrt(g1[0]**2 + g1[1]**2)
        perturbed = [ref[i] + RHO * g1[i] / norm for i in range(2)]
        g2 = grad(perturbed)
        buf = g2 if buf is None else [MOMENTUM * buf[i] + g2[i]
                                      for i in range(2)]
        backward(w)
        opt.first_step(zero_grad=True)
        torch.testing.assert_close(w.detach(), torch.tensor(
            perturbed, dtype=torch.float64))
        backward(w)
        opt.second_step(zero_grad=True)
        ref = [ref[i] - LR * buf[i] for i in range(2)]
        torch.testing.assert_close(w.detach(), torch.tensor(
            ref, dtype=torch.float64))


def test_sam_step_via_closure_and_plain_step():
    w1 = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    w2 = w1.detach().clone().requires_grad_(True)
    opt1, opt2 = sam(w1), sam(w2)
    backward(w1)
    opt1.first_step(zero_grad=True)
    backward(w1)
    opt1.step()  # after first_step: the second step
    backward(w2)
    opt2.step(closure=lambda: backward(w2))
    torch.testing.assert_close(w1, w2)
    # no pending perturbation: a plain SGD step
    w3 = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    backward(w3)
    sam(w3).step()
    g = grad([1.0, -2.0])
    torch.testing.assert_close(w3.detach(), torch.tensor(
        [1.0 - LR * g[0], -2.0 - LR * g[1]], dtype=torch.float64))


def test_sam_state_dict_keeps_momentum_and_shared_groups():
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = sam(w)
    backward(w)
    opt.step()
    saved = copy.deepcopy(opt.state_dict())  # as BaseAdapter does
    momentum = opt.base_optimizer.state[w]['momentum_buffer'].clone()
    backward(w)
    opt.step()
    opt.load_state_dict(saved)
    torch.testing.assert_close(
        opt.base_optimizer.state[w]['momentum_buffer'], momentum)
    assert opt.param_groups is opt.base_optimizer.param_groups
    opt.param_groups[0]['lr'] = 0.5  # a scheduler's change reaches SGD
    assert opt.base_optimizer.param_groups[0]['lr'] == 0.5


def pixel_logits(a):
    """(1, C, H, W) logits, class 0 gets ``a[h][w]``, others 0."""
    a = torch.tensor(a, dtype=torch.float32)
    logits = torch.zeros(1, NUM_CLASSES, *a.shape)
    logits[0, 0] = a
    return logits


def ent(a):
    return entropy_map(pixel_logits([[a]])).item()


def test_reliable_entropy_by_hand():
    margin = 0.4 * math.log(NUM_CLASSES)
    assert ent(4.0) < margin < ent(2.0)
    loss, mask = reliable_entropy(pixel_logits([[4.0, 2.0, 6.0]]), margin)
    assert mask.tolist() == [[[True, False, True]]]
    assert loss.item() == pytest.approx((ent(4.0) + ent(6.0)) / 2)
    keep = torch.tensor([[[False, True, True]]])
    loss, mask = reliable_entropy(pixel_logits([[4.0, 2.0, 6.0]]), margin,
                                  keep)
    assert mask.tolist() == [[[False, False, True]]]
    assert loss.item() == pytest.approx(ent(6.0))


def test_excluded_prefixes_match_whole_module_names():
    prefixes = ('backbone.layers.3', 'decode_head')
    assert is_excluded('backbone.layers.3.1.0.norm1.weight', prefixes)
    assert is_excluded('decode_head', prefixes)
    assert not is_excluded('backbone.layers.30.norm.weight', prefixes)
    assert not is_excluded('backbone.layers.2.2.weight', prefixes)


def build(kind='bn', **kwargs):
    kwargs.setdefault('optim_wrapper', dict(optimizer=dict(
        type='SAM', rho=RHO, base_optimizer=dict(
            type='SGD', lr=LR, momentum=MOMENTUM))))
    return MODELS.build(dict(type='SAR', segmentor=tiny_segmentor_cfg(kind),
                             **kwargs))


@pytest.mark.parametrize('kind,top', [('bn', 'backbone.layer4'),
                                      ('ln', 'backbone.layers.3')])
def test_trainable_norm_params_exclude_top_layers(kind, top):
    sar = build(kind)
    sar.prepare()
    names = [n for n, p in sar.named_parameters() if p.requires_grad]
    assert names
    assert not any(n.startswith(f'segmentor.{top}.') or
                   n.startswith('segmentor.decode_head.') for n in names)
    assert all(n.endswith(('weight', 'bias')) for n in names)


def test_norm_stats_variants_and_optimizer_check():
    source, batch = build(norm_stats='source'), build()  # 'batch': default
    source.prepare()
    batch.prepare()
    assert not any(isinstance(m, MixStatBN) for m in source.modules())
    assert any(isinstance(m, MixStatBN) for m in batch.modules())
    adam = build(optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)))
    with pytest.raises(TypeError, match='SAM'):
        adam.prepare()


def script(monkeypatch, sar, passes):
    """Make ``inference`` return scripted logits (one map per call) whose
    value is exact while gradients reach a trainable parameter."""
    calls = iter(passes)
    param = next(p for p in sar.parameters() if p.requires_grad)

    def inference(inputs, metas):
        scale = 1 + (param.sum() - param.sum().detach())
        return pixel_logits(next(calls)) * scale

    monkeypatch.setattr(sar.segmentor, 'inference', inference)
    losses = []
    backward = sar.optim_wrapper.backward
    monkeypatch.setattr(sar.optim_wrapper, 'backward',
                        lambda loss, **kw: (losses.append(loss.item()),
                                            backward(loss, **kw)))
    return losses


def weights(sar):
    return {k: v.clone() for k, v in sar.state_dict().items()}


def test_filters_before_and_after_the_perturbation(monkeypatch):
    sar = build()
    sar.prepare()
    before = weights(sar)
    # pixels: reliable/reliable, reliable/unreliable, unreliable/reliable
    losses = script(monkeypatch, sar, [[[4.0, 5.0, 0.0, 6.0]],
                                       [[0.0, 3.5, 8.0, 7.0]]])
    logits = sar.forward_and_adapt(None, [])
    first = (ent(4.0) + ent(5.0) + ent(6.0)) / 3
    second = (ent(3.5) + ent(7.0)) / 2
    assert losses == pytest.approx([first, second])
    assert sar.loss_ema.item() == pytest.approx(second)
    assert sar.ema_count.item() == 1
    torch.testing.assert_close(logits, pixel_logits([[4.0, 5.0, 0.0, 6.0]]))
    assert any(not torch.equal(v, before[k])
               for k, v in sar.state_dict().items())


@pytest.mark.parametrize('passes', [
    [[[0.0, 0.0]]],                   # nothing reliable: one forward only
    [[[4.0, 0.0]], [[0.0, 8.0]]],     # the reliable pixel became unreliable
])
def test_no_step_without_reliable_pixels(monkeypatch, passes):
    sar = build()
    sar.prepare()
    before = weights(sar)
    losses = script(monkeypatch, sar, passes)
    sar.forward_and_adapt(None, [])
    assert len(losses) == len(passes) - 1
    assert not sar.optim_wrapper.optimizer.perturbed
    for key, value in sar.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_recovery_triggers_exactly_when_the_ema_falls_below(monkeypatch):
    h1, h2 = ent(3.5), ent(8.0)
    ema2 = 0.9 * h1 + 0.1 * h2
    ema3 = 0.9 * ema2 + 0.1 * h2
    sar = build(reset_constant=(ema2 + ema3) / 2)
    sar.prepare()
    source = weights(sar)
    script(monkeypatch, sar, [[[4.0]], [[3.5]], [[4.0]], [[8.0]],
                              [[4.0]], [[8.0]]])
    for expected_ema, recoveries in ((h1, 0), (ema2, 0)):
        sar.forward_and_adapt(None, [])
        assert sar.loss_ema.item() == pytest.approx(expected_ema)
        assert sar.num_recoveries == recoveries
    assert any(not torch.equal(v, source[k])
               for k, v in sar.state_dict().items())
    sar.forward_and_adapt(None, [])
    assert sar.num_recoveries == 1
    for key, value in sar.state_dict().items():  # source, EMA restarted
        assert torch.equal(value, source[key]), key
    assert sar.ema_count.item() == 0


@pytest.mark.slow
def test_a_collapsing_model_is_reset_to_the_source():
    # every norm layer trainable, lr 10: entropy minimisation collapses the
    # tiny segmentor to one class at near-zero entropy within ~10 steps; the
    # EMA falls below 0.2 at step 23 (below the former 0.02 at step 45)
    torch.manual_seed(0)
    sar = build(margin_factor=1.0, excluded_prefixes=(), optim_wrapper=dict(
        optimizer=dict(type='SAM', rho=RHO, base_optimizer=dict(
            type='SGD', lr=10.0, momentum=MOMENTUM))))
    sar.prepare()
    source = weights(sar)
    for step in range(30):
        out = sar.test_step(make_batch(seed=step))
        if sar.num_recoveries:
            break
    assert sar.num_recoveries == 1
    logits = torch.stack([o.seg_logits.data for o in out])
    assert logits.argmax(1).unique().numel() == 1  # collapsed ...
    assert entropy_map(logits).mean() < 0.01  # ... and sure of it
    for key, value in sar.state_dict().items():  # back at the source
        assert torch.equal(value, source[key]), key
    assert sar.ema_count.item() == 0


def test_two_forwards_per_step_on_a_real_segmentor():
    torch.manual_seed(0)
    sar = build(margin_factor=1.0)  # every pixel is reliable
    torch.manual_seed(0)
    source = build()
    source.prepare()
    sar.prepare()
    calls = []
    inference = sar.segmentor.inference
    sar.segmentor.inference = lambda *a: calls.append(1) or inference(*a)
    batch = make_batch()
    out = sar.test_step(batch)
    assert len(calls) == 2
    # the reported prediction is the pre-update forward (= source model)
    ref = source.predict_step(batch)
    for a, b in zip(out, ref):
        torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data)
    assert isinstance(sar, SAR) and isinstance(
        sar.optim_wrapper.optimizer, SAM)
    assert sar.num_recoveries == 0 and sar.ema_count.item() == 1


@pytest.mark.parametrize('kind,norm_stats', [('bn', 'source'),
                                             ('bn', 'batch'),
                                             ('ln', 'source')])
def test_updates_are_reproducible_after_reset(kind, norm_stats):
    sar = build(kind, margin_factor=1.0, norm_stats=norm_stats)
    sar.prepare()
    source = weights(sar)

    def run():
        outs = [torch.stack([o.seg_logits.data for o in sar.test_step(
            make_batch(seed=i))]) for i in range(3)]
        assert sar.ema_count.item() == 3  # every step was taken
        return outs

    first = run()
    assert any(not torch.equal(v, source[k])
               for k, v in sar.state_dict().items())
    sar.reset()
    for key, value in sar.state_dict().items():
        assert torch.equal(value, source[key]), key
    for a, b in zip(first, run()):
        torch.testing.assert_close(a, b)
