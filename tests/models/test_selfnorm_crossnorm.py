"""CrossNorm swaps exactly the statistics it should; SelfNorm starts as
the identity; both plug into mmseg ResNets."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import tta_seg.models.selfnorm_crossnorm as sncn
from tests.tiny import tiny_segmentor_cfg
from tta_seg.apis.config import REPO_ROOT
from tta_seg.models.selfnorm_crossnorm import (CrossNorm, ResNetV1cSNCN,
                                               SelfNorm, random_box)
from tta_seg.registry import MODELS

EPS = 1e-12  # statistics compared to 1e-6: keep eps out of the way


def stats(x):
    """Per (instance, channel) mean and biased std, (N, C)."""
    return x.mean((2, 3)), x.var((2, 3), unbiased=False).sqrt()


def features(seed=0):
    torch.manual_seed(seed)
    # distinct statistics per instance and channel
    scale = torch.arange(1., 7.).reshape(2, 3, 1, 1)
    return torch.randn(2, 3, 6, 8, dtype=torch.float64) * scale + scale**2


def check_stats(out, target):
    for a, b in zip(stats(out), stats(target)):
        torch.testing.assert_close(a, b)


def fixed_perm(monkeypatch, perm):
    monkeypatch.setattr(torch, 'randperm', lambda n, **kw: torch.tensor(perm))


def test_two_instance_swaps_statistics_between_instances(monkeypatch):
    x = features()
    fixed_perm(monkeypatch, [1, 0])
    out = CrossNorm(mode='2-instance', p=1.0, eps=EPS).train()(x)
    check_stats(out, x[[1, 0]])
    # the content (normalised pattern) is kept
    norm = lambda t: (t - stats(t)[0][..., None, None]) / \
        stats(t)[1][..., None, None]  # noqa: E731
    torch.testing.assert_close(norm(out), norm(x))


def test_one_instance_swaps_statistics_between_channels(monkeypatch):
    x = features()
    fixed_perm(monkeypatch, [2, 0, 1])
    out = CrossNorm(mode='1-instance', p=1.0, eps=EPS).train()(x)
    check_stats(out, x[:, [2, 0, 1]])


def test_style_crop_takes_statistics_from_the_box(monkeypatch):
    x = features()
    fixed_perm(monkeypatch, [1, 0])
    monkeypatch.setattr(sncn, 'random_box', lambda *a: (1, 4, 2, 7))
    out = CrossNorm(crop='style', p=1.0, eps=EPS).train()(x)
    check_stats(out, x[[1, 0], :, 1:4, 2:7])


def test_content_crop_restyles_only_the_box(monkeypatch):
    x = features()
    fixed_perm(monkeypatch, [1, 0])
    monkeypatch.setattr(sncn, 'random_box', lambda *a: (1, 4, 2, 7))
    out = CrossNorm(crop='content', p=1.0, eps=EPS).train()(x)
    check_stats(out[..., 1:4, 2:7], x[[1, 0]])
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[..., 1:4, 2:7] = False
    assert torch.equal(out[mask], x[mask])


def test_identity_in_eval_mode_and_with_p_zero():
    x = features()
    assert CrossNorm(p=1.0).eval()(x) is x
    assert CrossNorm(p=0.0).train()(x) is x


def test_random_box_covers_enough_and_terminates_on_tiny_maps():
    torch.manual_seed(0)
    for _ in range(20):
        y1, y2, x1, x2 = random_box(16, 24, beta=1.0, min_area=0.1)
        assert 0 <= y1 < y2 <= 16 and 0 <= x1 < x2 <= 24
        assert (y2 - y1) * (x2 - x1) > 0.1 * 16 * 24
    assert random_box(1, 1, beta=1.0, min_area=0.1) == (0, 1, 0, 1)


@pytest.mark.parametrize('recalibrate_mean', [True, False])
def test_selfnorm_is_the_identity_at_init(recalibrate_mean):
    x = features().float()
    layer = SelfNorm(3, recalibrate_mean=recalibrate_mean)
    for mode in (True, False):
        out = layer.train(mode)(x)
        assert out.shape == x.shape
        torch.testing.assert_close(out, x)
    one = x[:1]  # batch size 1 works in training (no BatchNorm1d)
    torch.testing.assert_close(layer.train()(one), one)


def test_selfnorm_recalibrates_mean_and_std_by_hand():
    x = features().float()
    layer = SelfNorm(3, eps=EPS)
    with torch.no_grad():
        layer.std_weight.copy_(torch.tensor([[0.1, -0.2]] * 3))
        layer.std_bias.fill_(0.3)
        layer.mean_weight.copy_(torch.tensor([[-0.05, 0.1]] * 3))
        layer.mean_bias.fill_(-0.2)
    out = layer(x)
    mean, std = stats(x)
    g = 2 * torch.sigmoid(0.1 * mean - 0.2 * std + 0.3)
    f = 2 * torch.sigmoid(-0.05 * mean + 0.1 * std - 0.2)
    out_mean, out_std = stats(out)
    torch.testing.assert_close(out_mean, f * mean.float(), rtol=1e-4,
                               atol=1e-4)
    torch.testing.assert_close(out_std, g * std.float(), rtol=1e-4,
                               atol=1e-4)


def test_selfnorm_single_gate_scales_the_input_by_hand():
    # official single-gate form (is_two=False): x * g, mean and std scaled
    x = features().float()
    layer = SelfNorm(3, recalibrate_mean=False, eps=EPS)
    with torch.no_grad():
        layer.std_weight.copy_(torch.tensor([[0.1, -0.2]] * 3))
        layer.std_bias.fill_(0.3)
    mean, std = stats(x)
    g = 2 * torch.sigmoid(0.1 * mean - 0.2 * std + 0.3)
    torch.testing.assert_close(layer(x), x * g[..., None, None].float(),
                               rtol=1e-4, atol=1e-4)


def backbone_cfg(**kwargs):
    cfg = tiny_segmentor_cfg('bn')['backbone']
    return dict(cfg, **kwargs)


def test_resnet_sncn_appends_layers_and_starts_as_the_plain_resnet():
    torch.manual_seed(0)
    net = MODELS.build(backbone_cfg(type='ResNetV1cSNCN',
                                    sncn_stages=(True, False, True, False)))
    net.init_weights()
    assert isinstance(net, ResNetV1cSNCN)
    assert isinstance(net.layer1[-1].crossnorm, CrossNorm)
    assert not isinstance(net.layer2[-1], torch.nn.Sequential)
    assert net.layer3[-1].selfnorm.std_weight.shape == (16, 2)
    plain = MODELS.build(backbone_cfg())
    missing = plain.load_state_dict(net.state_dict(), strict=False)
    assert not missing.missing_keys
    x = torch.randn(2, 3, 32, 48)
    net.eval()
    plain.eval()
    for a, b in zip(net(x), plain(x)):
        torch.testing.assert_close(a, b)


def test_plugins_in_a_bottleneck_resnet():
    cfg = tiny_segmentor_cfg('bn')
    cfg['backbone'].update(depth=50, plugins=[
        dict(cfg=dict(type='tta_seg.CrossNorm', p=1.0),
             position='after_conv3'),
        dict(cfg=dict(type='SelfNorm'), position='after_conv3')])
    cfg['decode_head']['in_channels'] = 128
    seg = MODELS.build(cfg)
    block = seg.backbone.layer2[0]
    assert isinstance(block.cross_norm, CrossNorm)
    assert block.self_norm.std_weight.shape == (32, 2)
    seg.train()
    assert seg(torch.randn(2, 3, 32, 48)).shape[:2] == (2, 5)


def test_sncn_training_config_builds_the_model():
    cfg = Config.fromfile(osp.join(
        REPO_ROOT, 'configs/sncn/sncn_deeplabv3plus-r18_synthetic-train.py'))
    assert cfg.model.backbone.type == 'tta_seg.ResNetV1cSNCN'
    model = MODELS.build(cfg.model)
    assert sum(isinstance(m, SelfNorm) for m in model.modules()) == 4
    assert sum(isinstance(m, CrossNorm) for m in model.modules()) == 4
