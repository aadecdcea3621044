"""GpreBN: value with dataset statistics, gradient of training-mode BN."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import tta_seg.adapters.gprebn  # noqa: F401  (registers GpreBN)
from tests.tiny import make_batch, tiny_segmentor_cfg
from tta_seg.models.gprebn import GpreBNLayer
from tta_seg.registry import MODELS

EPS = 1e-5
DIMS = (0, 2, 3)


def source_bn(channels=3, seed=0):
    torch.manual_seed(seed)
    bn = nn.BatchNorm2d(channels, eps=EPS).double()
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return bn


def grads(fn, x, layer_params, upstream):
    """Gradients of <fn(x), upstream> w.r.t. x and the given parameters."""
    x = x.detach().clone().requires_grad_(True)
    out = fn(x)
    return (out, ) + torch.autograd.grad((out * upstream).sum(),
                                         [x] + layer_params)


def reference(bn, x):
    """The paper's formula, with F.batch_norm(training=True) for the
    gradient-carrying (x - mu_B) / sigma_B."""
    var_b, mu_b = torch.var_mean(x.detach(), dim=DIMS, correction=0)
    sigma_b = (var_b + EPS).sqrt()[None, :, None, None]
    mu_b = mu_b[None, :, None, None]
    mu_hat = bn.running_mean[None, :, None, None]
    sigma_hat = (bn.running_var + EPS).sqrt()[None, :, None, None]
    z = F.batch_norm(x, None, None, training=True, eps=EPS)
    bracket = z * sigma_b / sigma_hat + (mu_b - mu_hat) / sigma_hat
    return bracket * bn.weight[None, :, None, None] + \
        bn.bias[None, :, None, None]


def test_value_uses_dataset_statistics_gradient_follows_the_formula():
    bn = source_bn()
    layer = GpreBNLayer.from_bn(bn)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64) * 3 + 1
    upstream = torch.randn_like(x)
    ours = grads(layer, x, [layer.weight, layer.bias], upstream)
    ref = grads(lambda t: reference(bn, t), x, [bn.weight, bn.bias],
                upstream)
    bn.eval()
    torch.testing.assert_close(ours[0], bn(x))  # value: eval-mode BN
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)
    # d/dx is train-mode BN's, scaled per channel by sigma_B / sigma_hat
    train_bn = grads(lambda t: F.batch_norm(
        t, None, None, bn.weight, bn.bias, training=True, eps=EPS), x, [],
        upstream)
    ratio = ((x.var(DIMS, unbiased=False) + EPS) /
             (bn.running_var + EPS)).sqrt()[None, :, None, None]
    torch.testing.assert_close(ours[1], train_bn[1] * ratio)


def test_equals_train_mode_bn_when_dataset_stats_are_the_batch_stats():
    bn = source_bn()
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        var_b, mu_b = torch.var_mean(x, dim=DIMS, correction=0)
        bn.running_mean.copy_(mu_b)
        bn.running_var.copy_(var_b)
    layer = GpreBNLayer.from_bn(bn)
    upstream = torch.randn_like(x)
    ours = grads(layer, x, [layer.weight, layer.bias], upstream)
    ref = grads(lambda t: F.batch_norm(t, None, None, bn.weight, bn.bias,
                                       training=True, eps=EPS),
                x, [bn.weight, bn.bias], upstream)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)


def test_single_value_per_channel_is_eval_mode_bn():
    bn = source_bn()
    layer = GpreBNLayer.from_bn(bn)
    x = torch.randn(1, 3, 1, 1, dtype=torch.float64)
    upstream = torch.randn_like(x)
    ours = grads(layer, x, [layer.weight, layer.bias], upstream)
    ref = grads(lambda t: F.batch_norm(
        t, bn.running_mean, bn.running_var, bn.weight, bn.bias,
        training=False, eps=EPS), x, [bn.weight, bn.bias], upstream)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)
        assert torch.isfinite(a).all()


def build(kind='bn', lr=1e-2):
    return MODELS.build(dict(
        type='GpreBN', segmentor=tiny_segmentor_cfg(kind),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=lr))))


@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_adapter_swaps_every_bn_and_trains_only_its_affine(kind):
    torch.manual_seed(0)
    gpre = build(kind)
    torch.manual_seed(0)
    source = MODELS.build(dict(type='Source',
                               segmentor=tiny_segmentor_cfg(kind)))
    gpre.prepare()
    assert not any(isinstance(m, _BatchNorm) for m in gpre.modules())
    assert any(isinstance(m, GpreBNLayer) for m in gpre.modules())
    before = {k: v.clone() for k, v in gpre.named_parameters()}
    batch = make_batch()
    out = gpre.test_step(batch)
    # before its first update the network is the source model
    for a, b in zip(out, source.test_step(batch)):
        torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data)
    changed = [k for k, v in gpre.named_parameters()
               if not torch.equal(v, before[k])]
    assert changed
    for name in changed:
        assert isinstance(gpre.get_submodule(name.rsplit('.', 1)[0]),
                          GpreBNLayer), name


def test_adapter_lowers_the_entropy():
    from tta_seg.models.losses import softmax_entropy
    gpre = build(lr=5e-2)
    batch = make_batch(seed=3)
    ent = []
    for _ in range(5):
        out = gpre.test_step(batch)
        ent.append(softmax_entropy(torch.stack(
            [o.seg_logits.data for o in out])).item())
    assert ent[-1] < ent[0]
