"""SVDP: prompt placement, MC-dropout uncertainty, prompted teacher views,
which parameters move, both EMAs and reset, by hand on tiny tensors."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn

import tta_seg.adapters.svdp  # noqa: F401  (registers SVDP)
from tests.contract import check_contract
from tests.tiny import make_batch, tiny_segmentor_cfg
from tta_seg.apis.config import REPO_ROOT
from tta_seg.models.svdp import (SparsePrompt, mc_dropout_probs,
                                 pixel_uncertainty, prompted_multi_view_probs,
                                 top_uncertain_pixels)
from tta_seg.registry import MODELS

H, W = 32, 48


def build(kind='bn', lr=1e-2, **kwargs):
    cfg = dict(type='SVDP', segmentor=tiny_segmentor_cfg(kind),
               prompt_shape=(H, W), sparse_ratio=0.01,
               optim_wrapper=dict(optimizer=dict(type='Adam', lr=lr)))
    return MODELS.build(dict(cfg, **kwargs))


def preprocess(adapter, batch):
    data = adapter.segmentor.data_preprocessor(batch, False)
    return data['inputs'], [s.metainfo for s in data['data_samples']]


def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def prompt_with(values):
    prompt = SparsePrompt(len(values))
    with torch.no_grad():
        prompt.values.copy_(torch.tensor(values, dtype=torch.float))
    return prompt


# ------------------------------------------------------------- placement --
def test_top_pixels_largest_first_ties_by_lower_index():
    unc = torch.tensor([[[0.1, 0.9, 0.5], [0.9, 0.2, 0.5]]])
    assert top_uncertain_pixels(unc, 4).tolist() == [[1, 3, 2, 5]]


def test_prompt_placement_by_hand():
    prompt = prompt_with([[1., 2., 3.], [10., 20., 30.]])
    unc = torch.tensor([[[0.0, 0.3, 0.0, 0.0],
                         [0.0, 0.0, 0.0, 0.7],
                         [0.2, 0.0, 0.0, 0.0]],
                        [[0.5, 0.0, 0.0, 0.0],
                         [0.0, 0.0, 0.0, 0.0],
                         [0.0, 0.0, 0.0, 0.6]]])
    images = torch.zeros(2, 3, 3, 4)
    out = prompt(images, unc)
    expected = torch.zeros(2, 3, 3, 4)
    expected[0, :, 1, 3] = torch.tensor([1., 2., 3.])  # most uncertain
    expected[0, :, 0, 1] = torch.tensor([10., 20., 30.])  # second
    expected[1, :, 2, 3] = torch.tensor([1., 2., 3.])
    expected[1, :, 0, 0] = torch.tensor([10., 20., 30.])
    assert torch.equal(out, expected)
    assert torch.equal(prompt(images + 5, unc), expected + 5)  # additive


def test_placement_on_a_resized_view_by_hand():
    """A 4x4 map of constant 2x2 blocks resized to a 2x2 view keeps the
    block values (bilinear, half-pixel centres); the prompt goes there."""
    blocks = torch.tensor([[0.1, 0.8], [0.3, 0.2]])
    unc = blocks.repeat_interleave(2, 0).repeat_interleave(2, 1)[None]
    out = prompt_with([[1., 1., 1.]])(torch.zeros(1, 3, 2, 2), unc)
    expected = torch.zeros(1, 3, 2, 2)
    expected[0, :, 0, 1] = 1.0
    assert torch.equal(out, expected)


def test_more_prompts_than_pixels_uses_the_first_ones():
    prompt = prompt_with([[1., 1., 1.], [2., 2., 2.], [3., 3., 3.]])
    out = prompt(torch.zeros(1, 3, 1, 2), torch.tensor([[[0.0, 1.0]]]))
    assert out[0, 0].tolist() == [[2.0, 1.0]]


def test_prompt_gradient_reaches_its_values_only_at_placed_pixels():
    prompt = prompt_with([[0., 0., 0.], [0., 0., 0.]])
    unc = torch.arange(12.).view(1, 3, 4)
    weights = torch.arange(36.).view(1, 3, 3, 4)
    (prompt(torch.zeros(1, 3, 3, 4), unc) * weights).sum().backward()
    # pixel 11 (rank 0) and pixel 10 (rank 1); channel c has offset 12 c
    expected = torch.tensor([[11., 23., 35.], [10., 22., 34.]])
    assert torch.equal(prompt.values.grad, expected)


# ----------------------------------------------------------- uncertainty --
def test_uncertainty_is_the_class_summed_variance_by_hand():
    probs = torch.zeros(2, 1, 2, 1, 1)  # 2 samples, 2 classes, one pixel
    probs[0, 0, :, 0, 0] = torch.tensor([0.2, 0.8])
    probs[1, 0, :, 0, 0] = torch.tensor([0.6, 0.4])
    # each class: values a, b -> population variance (a - b)^2 / 4
    expected = 2 * (0.4 ** 2) / 4
    torch.testing.assert_close(pixel_uncertainty(probs),
                               torch.full((1, 1, 1), expected))


class StubHead(nn.Module):
    """Features = image; a fixed 1x1 classifier (3 -> 2 classes)."""

    def __init__(self):
        super().__init__()
        self.classifier = nn.Conv2d(3, 2, 1)

    def inference(self, images, metas):
        return self.classifier(images)

    def two_crops(self, images, metas):  # slide-like: classifier runs twice
        half = images.shape[-1] // 2
        return torch.cat([self.classifier(images[..., :half]),
                          self.classifier(images[..., half:])], dim=-1)


def test_mc_dropout_reruns_only_the_classifier_by_hand():
    head, images = StubHead(), torch.randn(1, 3, 4, 6)
    torch.manual_seed(3)
    got = mc_dropout_probs(head.inference, head.classifier, images, [{}],
                           samples=3, p=0.5)
    torch.manual_seed(3)
    expected = torch.stack([
        head.classifier(F.dropout(images, 0.5, True)).softmax(1)
        for _ in range(3)])
    torch.testing.assert_close(got, expected)
    assert pixel_uncertainty(got).gt(0).any()


def test_mc_dropout_falls_back_to_full_forwards_for_crops():
    head, images = StubHead(), torch.randn(1, 3, 4, 6)
    torch.manual_seed(3)
    got = mc_dropout_probs(head.two_crops, head.classifier, images, [{}],
                           samples=3, p=0.5)
    torch.manual_seed(3)
    expected = []
    for _ in range(3):
        left = head.classifier(F.dropout(images[..., :3], 0.5, True))
        right = head.classifier(F.dropout(images[..., 3:], 0.5, True))
        expected.append(torch.cat([left, right], -1).softmax(1))
    torch.testing.assert_close(got, torch.stack(expected))


def test_uncertainty_uses_the_unprompted_teacher():
    adapter = build(prompt_init_std=1.0)
    adapter.prepare()
    inputs, metas = preprocess(adapter, make_batch())
    seen = []
    original = adapter.teacher.inference
    adapter.teacher.inference = lambda x, m: seen.append(x) or original(x, m)
    unc = adapter.uncertainty(inputs, metas)
    assert unc.shape == (2, H, W) and unc.ge(0).all() and unc.gt(0).any()
    assert len(seen) == 1 and torch.equal(seen[0], inputs)


# ------------------------------------------------------ prompted teacher --
def test_flipped_views_carry_the_flipped_prompt():
    seen = []

    def record(images, metas):
        seen.append(images.clone())
        return torch.zeros(images.shape[0], 2, *images.shape[-2:])

    prompt = prompt_with([[1., 2., 3.]])
    unc = torch.zeros(1, 4, 6)
    unc[0, 1, 0] = 1.0  # left column: a flip would move it right
    inputs = torch.randn(1, 3, 4, 6)
    for fast in (True, False):
        seen.clear()
        prompted_multi_view_probs(
            record, inputs, [{}], lambda v: prompt(v, unc), (1.0, ),
            fast=fast)
        views = torch.cat(seen)
        expected = prompt(inputs, unc)
        assert torch.equal(views[0], expected[0])
        assert torch.equal(views[1], expected[0].flip(-1))


def test_zero_prompts_give_the_source_prediction():
    """At the initial (zero) prompt SVDP's teacher is CoTTA's teacher on
    the same weights; a non-zero prompt changes it."""
    torch.manual_seed(1)
    svdp = build(min_view_size=1)
    torch.manual_seed(1)
    cotta = MODELS.build(dict(
        type='CoTTA', segmentor=tiny_segmentor_cfg('bn'), min_view_size=1,
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-2))))
    for adapter in (svdp, cotta):
        adapter.prepare()
    inputs, metas = preprocess(svdp, make_batch())
    unc = svdp.uncertainty(inputs, metas)
    assert torch.equal(svdp.prompt(inputs, unc), inputs)
    expected = cotta.teacher_prediction(inputs, metas)
    torch.testing.assert_close(
        svdp.teacher_prediction(inputs, metas, unc), expected)
    with torch.no_grad():
        svdp.teacher_prompt.values.fill_(3.0)
    assert not torch.allclose(
        svdp.teacher_prediction(inputs, metas, unc), expected)


# --------------------------------------------------- updates, EMA, reset --
def stub_uncertainty(adapter, value=0.05):
    """Constant uncertainty except a ramp that fixes the placement."""
    def uncertainty(inputs, metas):
        ramp = torch.linspace(0, 1e-3, H * W).view(1, H, W)
        return (value + ramp - ramp.mean()).expand(inputs.shape[0], H, W)
    adapter.uncertainty = uncertainty
    return uncertainty


def test_optimizer_groups_and_what_moves():
    adapter = build(lr=1e-1, prompt_lr=0.5, restore_prob=0.0)
    adapter.prepare()
    groups = adapter.optim_wrapper.optimizer.param_groups
    assert [g['lr'] for g in groups] == [0.5, 1e-1]
    assert len(groups[0]['params']) == 1
    assert groups[0]['params'][0] is adapter.prompt.values
    student = set(map(id, adapter.segmentor.parameters()))
    assert set(map(id, groups[1]['params'])) == student
    source = {name: params(getattr(adapter, name)) for name in
              ('segmentor', 'teacher', 'anchor', 'prompt', 'teacher_prompt')}
    adapter.test_step(make_batch())
    after = {name: params(getattr(adapter, name)) for name in source}
    assert after['anchor'].keys() == source['anchor'].keys()
    for key, value in after['anchor'].items():
        assert torch.equal(value, source['anchor'][key])
    for name in ('segmentor', 'teacher', 'prompt', 'teacher_prompt'):
        assert any(not torch.equal(v, source[name][k])
                   for k, v in after[name].items()), name


def test_prompt_lr_zero_keeps_the_official_fixed_prompt():
    adapter = build(prompt_lr=0.0, prompt_init_std=1.0)
    adapter.prepare()
    start = adapter.prompt.values.detach().clone()
    assert torch.equal(adapter.teacher_prompt.values, start)
    for seed in range(2):
        adapter.test_step(make_batch(seed=seed))
    assert torch.equal(adapter.prompt.values, start)
    # EMA of equal tensors: equal up to float rounding
    torch.testing.assert_close(adapter.teacher_prompt.values, start)


@pytest.mark.parametrize('scale,rate', [(0.1, 0.9 - 0.1 * 0.05),
                                        (100.0, 0.0)])
def test_both_emas_by_hand(scale, rate):
    adapter = build(lr=1e-1, prompt_lr=0.5, alpha_teacher=0.9,
                    uncertainty_scale=scale, restore_prob=0.0,
                    prompt_init_std=1.0)
    adapter.prepare()
    stub_uncertainty(adapter, 0.05)
    teacher, tprompt = params(adapter.teacher), params(adapter.teacher_prompt)
    adapter.test_step(make_batch())
    assert adapter.prompt_rate == pytest.approx(rate)
    student = params(adapter.segmentor)
    for key, value in params(adapter.teacher).items():
        torch.testing.assert_close(value,
                                   0.9 * teacher[key] + 0.1 * student[key])
    new = adapter.prompt.values.detach()
    torch.testing.assert_close(adapter.teacher_prompt.values,
                               rate * tprompt['values'] + (1 - rate) * new)


def test_student_loss_sees_its_prompt_at_the_uncertain_pixels(monkeypatch):
    adapter = build(prompt_init_std=1.0)
    adapter.prepare()
    stub_uncertainty(adapter)
    seen = []
    original = adapter.segmentor.loss
    monkeypatch.setattr(adapter.segmentor, 'loss',
                        lambda x, s: seen.append(x.detach()) or original(x, s))
    batch = make_batch()
    inputs, _ = preprocess(adapter, batch)
    values = adapter.prompt.values.detach().clone()
    adapter.test_step(batch)
    k = values.shape[0]  # int(32 * 48 * 0.01) = 15 pixels, last ones first
    assert k == 15
    expected = inputs.clone().flatten(2)
    expected[..., H * W - k:] += values.flip(0).t()
    assert len(seen) == 1 and torch.equal(seen[0], expected.view_as(inputs))


@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_reset_restores_prompts_and_teacher_exactly(kind):
    adapter = build(kind, lr=1e-1, prompt_lr=0.5, prompt_init_std=1.0)
    adapter.prepare()
    source = {k: v.clone() for k, v in adapter.state_dict().items()}
    assert {k.split('.')[0] for k in source} == {
        'segmentor', 'teacher', 'anchor', 'prompt', 'teacher_prompt'}
    for seed in range(2):
        adapter.test_step(make_batch(seed=seed))
    assert not torch.equal(adapter.prompt.values, source['prompt.values'])
    adapter.reset()
    for key, value in adapter.state_dict().items():
        assert torch.equal(value, source[key]), key


# ----------------------------------------------- segmentors and configs --
def test_plain_segmentor_refused_without_its_classifier_name():
    with pytest.raises(ValueError, match='classifier_name'):
        build('plain')
    check_contract(build('plain', classifier_name='classifier'))


@pytest.mark.parametrize('kwargs,match', [
    (dict(sparse_ratio=1e-5), 'sparse_ratio'),
    (dict(mc_samples=1), 'mc_samples'),
    (dict(mc_dropout=1.0), 'mc_dropout'),
    (dict(loss='entropy'), 'loss'),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


@pytest.mark.slow
def test_configs_keep_the_published_hyper_parameters():
    # the faithful configs (the tuned presets, *-tuned_*, differ in lr)
    paths = glob.glob(osp.join(REPO_ROOT, 'configs', 'svdp', 'svdp_*.py'))
    assert len(paths) == 5
    for path in paths:
        adapter = Config.fromfile(path).adapter
        assert adapter.type == 'SVDP'
        assert (adapter.alpha_teacher, adapter.anchor_threshold,
                adapter.restore_prob) == (0.999, 0.69, 0.01)
        assert (adapter.sparse_ratio, adapter.prompt_lr,
                adapter.uncertainty_scale) == (1e-3, 1e-4, 0.1)
        assert (adapter.mc_samples, adapter.mc_dropout) == (10, 0.5)
        assert adapter.optim_wrapper.optimizer.lr == 1e-4
        synthetic = 'synthetic' in osp.basename(path)
        assert tuple(adapter.prompt_shape) == (
            (128, 256) if synthetic else (540, 960))
    adapter = build(prompt_shape=(540, 960), sparse_ratio=1e-3)
    assert adapter.prompt.values.shape == (518, 3)
