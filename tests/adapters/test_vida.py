"""ViDA: injection at the source output, what adapts, HKA by hand, EMA,
reset, warm-up segmentor and checkpoint round trip on tiny models."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config, ConfigDict
from torch import nn

import tta_seg.models.vida as vida_layers
from tests.tiny import make_batch, tiny_segmentor_cfg
from tta_seg.adapters.vida import consistency_loss, hka_scales
from tta_seg.apis.config import REPO_ROOT
from tta_seg.models.vida import (ViDABranch, ViDAMultiheadAttention,
                                 inject_vida, set_vida_scales,
                                 vida_parameters)
from tta_seg.registry import MODELS

H, W = 32, 48
METAS = [dict(ori_shape=(H, W), img_shape=(H, W), pad_shape=(H, W))] * 2


def build(kind='bn', lr=1e-2, **kwargs):
    kwargs.setdefault('rank_high', 16)
    return MODELS.build(dict(
        type='ViDA', segmentor=tiny_segmentor_cfg(kind),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=lr)), **kwargs))


def source_model(kind):
    return MODELS.build(ConfigDict(tiny_segmentor_cfg(kind))).eval()


def params(module, vida=None):
    return {k: v.detach().clone() for k, v in module.named_parameters()
            if vida is None or ('vida' in k) == vida}


def randomise_branches(model):
    with torch.no_grad():
        for param in vida_parameters(model):
            param.normal_(0, 0.1)


# ------------------------------------------------------------ injection --
@pytest.mark.parametrize('kind', ['bn', 'ln', 'plain'])
def test_initial_adapter_output_equals_the_source(kind):
    torch.manual_seed(0)
    source = source_model(kind)
    torch.manual_seed(0)
    adapter = build(kind)
    adapter.prepare()
    inputs = torch.randn(2, 3, H, W)
    with torch.no_grad():
        expected = source.inference(inputs, METAS)
    set_vida_scales(adapter.segmentor, torch.tensor([0.3, 1.7]), 1.4)
    for model in (adapter.segmentor, adapter.teacher):
        with torch.no_grad():
            got = model.inference(inputs, METAS)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    first = adapter.test_step(make_batch())  # the reported teacher output
    data = source.data_preprocessor(make_batch(), False)
    with torch.no_grad():
        ref = source.inference(data['inputs'], METAS)
    torch.testing.assert_close(
        torch.stack([o.seg_logits.data for o in first]), ref, rtol=1e-5,
        atol=1e-5)


def test_targets_resnet_block_convs_and_mit_attention():
    resnet = source_model('bn')
    names = inject_vida(resnet, 1, 4)
    assert len(names) == 16  # ResNet-18: 8 basic blocks x 2 convs
    assert all('downsample' not in n and '.layer' in n for n in names)
    mit = source_model('ln')
    before = set(mit.state_dict())
    names = inject_vida(mit, 1, 4)
    assert len(names) == 4 and all(n.endswith('attn.attn') for n in names)
    assert all(isinstance(mit.get_submodule(n), ViDAMultiheadAttention)
               for n in names)
    after = set(mit.state_dict())
    assert before <= after  # source keys unchanged: checkpoints still load
    assert all('vida' in k for k in after - before)
    assert inject_vida(mit) == []  # idempotent


def test_vida_attention_equals_torch_attention():
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(8, 2, bias=True).eval()
    vida = ViDAMultiheadAttention.from_attention(attn, 1, 4).eval()
    q, kv = torch.randn(5, 2, 8), torch.randn(3, 2, 8)
    with torch.no_grad():
        torch.testing.assert_close(vida(q, kv, kv)[0], attn(q, kv, kv)[0])
    assert vida.in_proj_weight is attn.in_proj_weight


def test_branch_scales_are_per_sample_and_by_hand():
    torch.manual_seed(0)
    branch = ViDABranch(3, 2, 1, 4)
    randomise_branches(branch)
    x = torch.randn(2, 3)
    low = x @ branch.low_down.T @ branch.low_up.T
    high = x @ branch.high_down.T @ branch.high_up.T
    branch.scale_low, branch.scale_high = torch.tensor([2.0, 0.0]), 0.5
    expected = torch.stack([2 * low[0] + 0.5 * high[0], 0.5 * high[1]])
    torch.testing.assert_close(branch(x), expected)
    branch.scale_low = torch.ones(3)
    with pytest.raises(ValueError, match='per-sample'):
        branch(x)


# ------------------------------------------------------------------ HKA --
def test_hka_scales_by_hand():
    unc = torch.tensor([0.1, 0.3, 0.2])
    low, high = hka_scales(unc, threshold=0.2)
    torch.testing.assert_close(low, torch.tensor([1.1, 0.7, 0.8]))
    torch.testing.assert_close(high, torch.tensor([0.9, 1.3, 1.2]))
    low, high = hka_scales(unc, threshold=0.2, adaptive_high=False)
    torch.testing.assert_close(high, torch.ones(3))  # the code's rule


def test_uncertainty_and_allotment_by_hand(monkeypatch):
    adapter = build(uncertainty_views=3, uncertainty_scale=0.1,
                    uncertainty_threshold=0.5)
    adapter.prepare()
    draws = iter([(0.0, False), (1.0, True), (5.0, False)])

    def fake_view(images):  # tags each view by an offset
        offset, flipped = next(draws)
        return images * 0 + offset / 255.0, flipped

    def fake_teacher(images, metas):  # sample 1 sees 10x the offset
        offset = (images[:, :1] * adapter.segmentor.data_preprocessor.std[0]
                  + adapter.segmentor.data_preprocessor.mean[0])
        gain = torch.tensor([1.0, 10.0]).view(2, 1, 1, 1)
        return (offset * gain).expand(2, 5, H, W)

    monkeypatch.setattr(vida_layers, 'augmented_view', fake_view)
    monkeypatch.setattr(adapter.teacher, 'inference', fake_teacher)
    inputs = torch.randn(2, 3, H, W)
    unc = adapter.uncertainty(inputs, METAS)
    # unbiased variance of (0, 1, 5) = 7; of (0, 10, 50) = 700
    torch.testing.assert_close(unc, torch.tensor([0.7, 70.0]))
    draws = iter([(0.0, False), (1.0, True), (5.0, False)])
    adapter.adapt_loss(inputs, METAS)
    branch = next(m for m in adapter.segmentor.modules()
                  if isinstance(m, ViDABranch))
    torch.testing.assert_close(branch.scale_low, torch.tensor([0.3, -69.0]))
    torch.testing.assert_close(branch.scale_high, torch.tensor([1.7, 71.0]))
    assert adapter.counters['uncertain_samples'] == 2


def test_flipped_views_are_unflipped(monkeypatch):
    adapter = build(uncertainty_views=4)
    adapter.prepare()
    flips = iter([False, True, True, False])
    monkeypatch.setattr(vida_layers, 'augmented_view',
                        lambda images: (images.flip(-1) if (f := next(flips))
                                        else images, f))
    monkeypatch.setattr(adapter.teacher, 'inference',
                        lambda images, metas: images[:, :1].expand(
                            -1, 5, -1, -1))
    unc = adapter.uncertainty(torch.randn(2, 3, H, W), METAS)
    torch.testing.assert_close(unc, torch.zeros(2), atol=1e-6, rtol=0)


def test_consistency_losses_by_hand():
    student = torch.tensor([[[[0.0]], [[0.0]]]])  # uniform
    teacher = torch.log(torch.tensor([[[[0.25]], [[0.75]]]]))
    log2 = torch.log(torch.tensor(2.0))
    torch.testing.assert_close(consistency_loss(student, teacher), log2)
    reverse = -(0.5 * torch.log(torch.tensor(0.25)) +
                0.5 * torch.log(torch.tensor(0.75)))
    torch.testing.assert_close(
        consistency_loss(student, teacher, 'symmetric'),
        0.5 * log2 + 0.5 * reverse)


# ------------------------------------------------ what adapts, EMA, reset --
@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_only_vida_parameters_change(kind):
    adapter = build(kind, lr=1e-1)
    adapter.prepare()
    trainable = {id(p) for p in adapter.trainable_params()}
    assert trainable == {id(p) for p in vida_parameters(adapter.segmentor)}
    state = {k: v.clone() for k, v in adapter.state_dict().items()}
    torch.manual_seed(0)
    for step in range(2):
        adapter.test_step(make_batch(seed=step))
    changed = {k for k, v in adapter.state_dict().items()
               if not torch.equal(v, state[k])}
    assert changed and all('vida' in k for k in changed)
    assert all(not k.startswith('anchor.') for k in changed)
    assert any(k.startswith('segmentor.') and k.endswith('_up')
               for k in changed)


@pytest.mark.slow
def test_teacher_is_an_exact_ema_of_the_student_adapters():
    adapter = build(alpha_teacher=0.9, lr=1e-1)
    adapter.prepare()
    expected = params(adapter.teacher, vida=True)
    source = params(adapter.teacher, vida=False)
    original = adapter.update_teacher

    def spy():
        student = params(adapter.segmentor, vida=True)
        for key, value in student.items():
            expected[key] = 0.9 * expected[key] + 0.1 * value
        original()

    adapter.update_teacher = spy
    torch.manual_seed(0)
    for step in range(3):
        adapter.test_step(make_batch(seed=step))
    for key, value in params(adapter.teacher, vida=True).items():
        torch.testing.assert_close(value, expected[key], rtol=1e-6, atol=1e-7)
    for key, value in params(adapter.teacher, vida=False).items():
        assert torch.equal(value, source[key]), key  # bit-exact source


def test_plain_prediction_is_the_teacher_at_unit_scales():
    adapter = build(lr=1e-1)
    adapter.prepare()
    randomise_branches(adapter.teacher)
    batch = make_batch(seed=2)
    data = adapter.segmentor.data_preprocessor(batch, False)
    inputs, metas = data['inputs'], [s.metainfo for s in data['data_samples']]
    set_vida_scales(adapter.teacher, 1.0, 1.0)
    with torch.no_grad():
        expected = adapter.teacher.inference(inputs, metas)
    set_vida_scales(adapter.teacher, 0.1, 3.0)  # a previous frame's factors
    got = torch.stack([o.seg_logits.data
                       for o in adapter.predict_step(batch, plain=True)])
    torch.testing.assert_close(got, expected)


def run(adapter, steps=3, **kwargs):
    torch.manual_seed(0)
    return [adapter.test_step(make_batch(seed=s, **kwargs))[0].seg_logits.data
            for s in range(steps)]


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_reset_is_exact(kind):
    adapter = build(kind, lr=1e-1, restore_prob=0.1)
    adapter.prepare()
    source = {k: v.clone() for k, v in adapter.state_dict().items()}
    first = run(adapter)
    adapter.reset()
    for key, value in adapter.state_dict().items():
        assert torch.equal(value, source[key]), key
    for a, b in zip(first, run(adapter)):
        torch.testing.assert_close(a, b)


# ----------------------------------------------- warm-up and checkpoints --
def test_warmup_segmentor_trains_only_vida_and_starts_at_source(tmp_path):
    cfg = dict(tiny_segmentor_cfg('bn'), type='ViDASegmentor', rank_high=16)
    torch.manual_seed(0)
    source = source_model('bn')
    warm = MODELS.build(ConfigDict(cfg))
    warm.load_state_dict(source.state_dict(), strict=False)
    warm.init_weights()  # mmseg's walkers must not touch the branches
    warm.load_state_dict(source.state_dict(), strict=False)
    warm.train()
    assert not warm.backbone.training  # frozen BN statistics
    inputs = torch.randn(2, 3, H, W)
    with torch.no_grad():
        torch.testing.assert_close(warm.inference(inputs, METAS),
                                   source.inference(inputs, METAS))
    batch = warm.data_preprocessor(make_batch(), False)
    losses = warm.loss(batch['inputs'], batch['data_samples'])
    losses['decode.loss_ce'].backward()
    grads = {k for k, p in warm.named_parameters() if p.grad is not None}
    assert grads and all('vida' in k for k in grads)

    randomise_branches(warm)
    path = str(tmp_path / 'warm.pth')
    torch.save({k: v.half() for k, v in warm.state_dict().items()
                if 'vida' in k}, path)
    adapter = build(vida_checkpoint=path)
    for key, value in params(adapter.teacher, vida=True).items():
        torch.testing.assert_close(value, warm.state_dict()[key].half()
                                   .float())
    with pytest.raises(KeyError, match='does not fit'):
        build(vida_checkpoint=path, rank_high=8)


@pytest.mark.parametrize('kwargs,match', [
    (dict(loss='entropy'), 'loss'),
    (dict(uncertainty_views=1), 'uncertainty_views'),
    (dict(rank_low=0), 'ranks'),
    (dict(vida_targets='no_such_layer'), 'no linear/conv'),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


@pytest.mark.slow
def test_configs_share_the_official_hyper_parameters():
    paths = glob.glob(osp.join(REPO_ROOT, 'configs', 'vida', 'vida_*.py'))
    assert len(paths) == 5
    for path in paths:
        adapter = Config.fromfile(path).adapter
        assert adapter.type == 'ViDA'
        assert (adapter.rank_low, adapter.rank_high) == (1, 128)
        assert adapter.uncertainty_views == 10
        assert adapter.uncertainty_threshold == 0.2
        assert adapter.uncertainty_scale == 0.1
    for name in ('deeplabv3plus-r18', 'segformer-b0'):
        warm = Config.fromfile(osp.join(
            REPO_ROOT, 'configs', 'vida',
            f'vida-warmup_{name}_synthetic.py')).model
        assert warm.type == 'ViDASegmentor'
        assert (warm.rank_low, warm.rank_high) == (1, 128)
