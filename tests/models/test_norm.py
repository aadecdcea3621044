"""MixStatBN and the norm-swap helpers against hand-computed values."""
import pytest
import torch
from torch import nn

from tta_seg.models.norm import (MixStatBN, freeze_all_but,
                                 norm_affine_params, replace_norm_layers)


def hand_bn(x, mean, var, weight, bias, eps):
    shape = (1, -1, 1, 1)
    return (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps) * \
        weight.view(shape) + bias.view(shape)


def make_bn():
    bn = nn.BatchNorm2d(2)
    bn.running_mean.copy_(torch.tensor([1.0, -2.0]))
    bn.running_var.copy_(torch.tensor([4.0, 0.25]))
    bn.weight.data.copy_(torch.tensor([2.0, 0.5]))
    bn.bias.data.copy_(torch.tensor([0.1, -0.3]))
    return bn


@pytest.mark.parametrize('prior', [0.0, 0.8, 1.0])
def test_mixed_statistics_match_hand_computation(prior):
    # channel 0 holds 0,1,2,3 and channel 1 holds 10,10,10,14 (N=2, 1x2 maps)
    x = torch.tensor([[[[0., 1.]], [[10., 10.]]],
                      [[[2., 3.]], [[10., 14.]]]])
    layer = MixStatBN.from_bn(make_bn(), prior)
    batch_mean = torch.tensor([1.5, 11.0])
    batch_var = torch.tensor([1.25, 3.0])  # biased: mean of squared devs
    mean = prior * torch.tensor([1.0, -2.0]) + (1 - prior) * batch_mean
    var = prior * torch.tensor([4.0, 0.25]) + (1 - prior) * batch_var
    expected = hand_bn(x, mean, var, torch.tensor([2.0, 0.5]),
                       torch.tensor([0.1, -0.3]), 1e-5)
    torch.testing.assert_close(layer(x), expected)


def test_prior_one_equals_eval_bn_and_buffers_never_change():
    bn = make_bn().eval()
    layer = MixStatBN.from_bn(bn, 1.0)
    x = torch.randn(3, 2, 4, 4)
    torch.testing.assert_close(layer(x), bn(x))
    zero = MixStatBN.from_bn(bn, 0.0).train()
    zero(x * 5 + 3)
    assert torch.equal(zero.running_mean, bn.running_mean)
    assert torch.equal(zero.running_var, bn.running_var)


def test_single_value_per_channel_falls_back_to_source():
    layer = MixStatBN.from_bn(make_bn(), 0.0)
    x = torch.randn(1, 2, 1, 1)
    expected = hand_bn(x, layer.running_mean, layer.running_var,
                       layer.weight, layer.bias, layer.eps)
    torch.testing.assert_close(layer(x), expected)


def test_gradient_flows_through_batch_statistics():
    layer = MixStatBN.from_bn(make_bn(), 0.0)
    x = torch.randn(2, 2, 3, 3, requires_grad=True)
    layer(x).pow(2).sum().backward()
    ref = x.detach().clone().requires_grad_(True)
    torch.nn.functional.batch_norm(ref, None, None, layer.weight.detach(),
                                   layer.bias.detach(), training=True,
                                   eps=layer.eps).pow(2).sum().backward()
    torch.testing.assert_close(x.grad, ref.grad, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('prior', [0.0, 0.5])
@pytest.mark.parametrize('size', [(5, 3), (16, 16)])
def test_fast_and_differentiable_paths_agree(prior, size):
    # no-grad: one fused statistics op (small map) or the CPU sums (large
    # map); with grad: train-mode BN (prior 0) or written-out statistics
    layer = MixStatBN.from_bn(make_bn(), prior)
    x = torch.randn(2, 2, *size) * 3 + 1
    with torch.no_grad():
        fast = layer(x)
    xg = x.clone().requires_grad_(True)
    slow = layer(xg)
    torch.testing.assert_close(fast, slow.detach())
    slow.pow(2).sum().backward()
    # reference gradient: mixed statistics spelled out by hand
    ref = x.clone().requires_grad_(True)
    mean = prior * layer.running_mean + (1 - prior) * ref.mean((0, 2, 3))
    var = prior * layer.running_var + (1 - prior) * \
        ref.var((0, 2, 3), unbiased=False)
    hand_bn(ref, mean, var, layer.weight.detach(), layer.bias.detach(),
            layer.eps).pow(2).sum().backward()
    torch.testing.assert_close(xg.grad, ref.grad, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('batch,size', [(1, (8, 8)), (2, (4, 8)),
                                        (1, (16, 24)), (3, (16, 24)),
                                        (1, (64, 96)), (2, (64, 64))])
def test_mixed_statistics_keep_precision(batch, size):
    # against float64, on a channel whose mean is 40 standard deviations
    # away from zero (E[x^2] - E[x]^2 would lose digits there); the small
    # maps take the one-op path, the others the CPU sums
    layer = MixStatBN.from_bn(make_bn(), 0.8)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 2, *size, generator=gen)
    x[:, 0] = x[:, 0] * 0.5 + 20.0
    x[:, 1] = x[:, 1] * 3.0 - 1.0
    with torch.no_grad():
        mean, var = layer.mixed_stats(x)
    ref = x.double()
    ref_mean = 0.8 * layer.running_mean.double() + \
        0.2 * ref.mean((0, 2, 3))
    ref_var = 0.8 * layer.running_var.double() + \
        0.2 * ref.var((0, 2, 3), unbiased=False)
    torch.testing.assert_close(mean.double(), ref_mean, rtol=1e-6, atol=0)
    torch.testing.assert_close(var.double(), ref_var, rtol=1e-4, atol=0)


def test_replace_and_select_norm_layers():
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2),
                          nn.Sequential(nn.SyncBatchNorm(2), nn.ReLU()),
                          nn.LayerNorm(4))
    count = replace_norm_layers(model, lambda bn: MixStatBN.from_bn(bn, 0.5))
    assert count == 2
    assert isinstance(model[1], MixStatBN) and isinstance(model[2][0],
                                                          MixStatBN)
    names = [n for n, _ in norm_affine_params(model, (MixStatBN,
                                                      nn.LayerNorm))]
    assert names == ['1.weight', '1.bias', '2.0.weight', '2.0.bias',
                     '3.weight', '3.bias']
    params = [p for _, p in norm_affine_params(model, nn.LayerNorm)]
    assert freeze_all_but(model, params) == 2
    assert [p.requires_grad for p in model.parameters()].count(True) == 2
