"""CoTTA: pseudo labels, losses, EMA/restoration order and fast views, by
hand on tiny models and stubbed teacher/anchor outputs."""
import copy
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

import tta_seg.adapters.cotta  # noqa: F401  (registers CoTTA)
from tests.tiny import make_batch, tiny_segmentor_cfg
from tta_seg.adapters.cotta import SCALES, soft_cross_entropy
from tta_seg.apis.config import REPO_ROOT
from tta_seg.models.augment_views import scaled_size
from tta_seg.registry import MODELS

H, W = 32, 48


def build(kind='bn', lr=1e-2, **kwargs):
    return MODELS.build(dict(
        type='CoTTA', segmentor=tiny_segmentor_cfg(kind),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=lr)), **kwargs))


def preprocess(adapter, batch):
    data = adapter.segmentor.data_preprocessor(batch, False)
    return data['inputs'], [s.metainfo for s in data['data_samples']]


def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


# ------------------------------------------------ hand-built pseudo labels --
#: teacher logits per view scale (constant over space), 3 classes
TEACHER = {0.5: (0.0, 3.0, 0.0), 1.0: (2.0, 0.0, 0.0), 2.0: (0.0, 3.0, 1.0)}


def constant_teacher(images, metas):
    scale = images.shape[-2] / H
    logits = torch.tensor(TEACHER[scale]).view(1, 3, 1, 1)
    return logits.expand(images.shape[0], 3, *images.shape[-2:]).clone()


def half_confident_anchor(images, metas):
    """Confident (softmax max ~1) on the left half, uniform on the right."""
    logits = torch.zeros(images.shape[0], 3, *images.shape[-2:])
    logits[:, 0, :, :images.shape[-1] // 2] = 10.0
    return logits


def stubbed(monkeypatch, teacher=constant_teacher,
            anchor=half_confident_anchor, **kwargs):
    cfg = dict(scales=tuple(TEACHER), min_view_size=1, **kwargs)
    adapter = build(**cfg)
    monkeypatch.setattr(adapter.teacher, 'inference', teacher)
    monkeypatch.setattr(adapter.anchor, 'inference', anchor)
    return adapter


@pytest.mark.parametrize('fast', [True, False])
def test_gate_and_view_average_by_hand(monkeypatch, fast):
    adapter = stubbed(monkeypatch, fast_views=fast)
    inputs = torch.randn(1, 3, H, W)
    probs = adapter.teacher_prediction(inputs, [dict(ori_shape=(H, W))])
    single = torch.tensor(TEACHER[1.0]).softmax(0)
    # 3 scales x 2 flips, each scale counted twice
    mean = sum(torch.tensor(v).softmax(0) for v in TEACHER.values()) / 3
    expected = torch.empty(1, 3, H, W)
    expected[..., :W // 2] = single.view(3, 1, 1)
    expected[..., W // 2:] = mean.view(3, 1, 1)
    torch.testing.assert_close(probs, expected)
    labels = probs.argmax(1)
    assert (labels[..., :W // 2] == 0).all()
    assert (labels[..., W // 2:] == 1).all()


def test_hard_loss_uses_the_gated_labels(monkeypatch):
    adapter = stubbed(monkeypatch)
    seen = []
    head = adapter.segmentor.decode_head
    original = head.loss

    def spy(feats, samples, train_cfg):
        seen.extend(s.gt_sem_seg.data for s in samples)
        return original(feats, samples, train_cfg)

    monkeypatch.setattr(head, 'loss', spy)
    adapter.test_step(make_batch(n=1))
    expected = torch.ones(1, H, W, dtype=torch.long)
    expected[..., :W // 2] = 0
    assert torch.equal(seen[0], expected)


def test_gate_scale_half_uses_the_half_scale_view(monkeypatch):
    confident = lambda images, metas: torch.full(  # noqa: E731
        (images.shape[0], 3, *images.shape[-2:]), 0.0).index_fill_(
            1, torch.tensor([2]), 20.0)
    adapter = stubbed(monkeypatch, anchor=confident, gate_scale=0.5)
    probs = adapter.teacher_prediction(torch.randn(2, 3, H, W), [{}] * 2)
    expected = torch.tensor(TEACHER[0.5]).softmax(0).view(1, 3, 1, 1)
    torch.testing.assert_close(probs, expected.expand_as(probs))


@pytest.mark.parametrize('fast', [True, False])
def test_flipped_views_are_unflipped(monkeypatch, fast):
    def pixelwise(images, metas):  # logits follow the pixels: flips commute
        x = images[:, :1]
        return torch.cat([x, -x, torch.zeros_like(x)], dim=1)

    uniform = lambda images, metas: torch.zeros(  # noqa: E731
        images.shape[0], 3, *images.shape[-2:])
    adapter = stubbed(monkeypatch, teacher=pixelwise, anchor=uniform,
                      fast_views=fast)
    adapter.scales = (1.0, )
    ramp = torch.linspace(-2, 2, W).expand(1, 3, H, W).clone()
    probs = adapter.teacher_prediction(ramp, [{}])
    torch.testing.assert_close(probs, pixelwise(ramp, None).softmax(1))


def test_view_scales_skip_only_too_small_views():
    adapter = build(min_view_size=32)
    assert adapter.view_scales((64, 96)) == SCALES
    assert adapter.view_scales((32, 48)) == SCALES[2:]  # 0.75 -> 24 px
    assert adapter.view_scales((8, 8)) == (1.0, )  # the gate view stays
    assert scaled_size((540, 960), 0.75) == (405, 720)


# ------------------------------------------------------ fast == straight --
@pytest.mark.slow
@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_fast_views_equal_one_view_at_a_time(kind):
    adapter = build(kind, anchor_threshold=0.3)
    adapter.prepare()
    inputs, metas = preprocess(adapter, make_batch(n=2, height=64, width=96))
    assert adapter.view_scales(inputs.shape[-2:]) == SCALES
    results = []
    for fast, view_batch in [(False, None), (True, None), (True, 3)]:
        adapter.fast_views, adapter.view_batch = fast, view_batch
        results.append(adapter.teacher_prediction(inputs, metas))
    for probs in results[1:]:
        torch.testing.assert_close(probs, results[0], rtol=1e-5, atol=1e-6)
        assert torch.equal(probs.argmax(1), results[0].argmax(1))


@pytest.mark.slow
def test_fast_and_straight_adaptation_agree():
    adapters = {}
    for fast in (True, False):
        torch.manual_seed(1)  # same random tiny weights
        adapters[fast] = build(fast_views=fast, restore_prob=0.1)
    outs = {}
    for fast, adapter in adapters.items():
        torch.manual_seed(0)
        outs[fast] = [adapter.test_step(make_batch(seed=s))[0].seg_logits.data
                      for s in range(3)]
    for a, b in zip(outs[True], outs[False]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    fast_teacher = params(adapters[True].teacher)
    for key, value in params(adapters[False].teacher).items():
        torch.testing.assert_close(fast_teacher[key], value)


def build_slide(kind='bn', seed=1, **kwargs):
    torch.manual_seed(seed)  # same random tiny weights
    seg = tiny_segmentor_cfg(kind)
    seg['test_cfg'] = dict(mode='slide', crop_size=(40, 48), stride=(24, 32))
    return MODELS.build(dict(
        type='CoTTA', segmentor=seg, restore_prob=0.1,
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-2)), **kwargs))


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_batched_slide_windows_equal_view_by_view_adaptation(kind):
    """Views of 0.5x-2x a 64x96 input: smaller than, across and larger than
    the crop, sides off the stride grid."""
    outs, teachers = {}, {}
    for batched in (True, False):
        adapter = build_slide(kind, batch_windows=batched, window_batch=5,
                              fast_views=False)
        assert (adapter.slide_cfg(adapter.teacher) is None) != batched
        outs[batched] = run(adapter, height=64, width=96)
        teachers[batched] = params(adapter.teacher)
    for a, b in zip(outs[True], outs[False]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    for key, value in teachers[False].items():
        torch.testing.assert_close(teachers[True][key], value)


@pytest.mark.slow
def test_batched_slide_windows_run_fewer_forwards(monkeypatch):
    adapter = build_slide()
    inputs, metas = preprocess(adapter, make_batch(n=1, height=64,
                                                   width=96))
    counts = {}
    for batched in (True, False):
        adapter.batch_windows, calls = batched, []
        forward = adapter.teacher.encode_decode
        monkeypatch.setattr(adapter.teacher, 'encode_decode',
                            lambda x, m, f=forward, c=calls: c.append(
                                x.shape[0]) or f(x, m))
        adapter.teacher_prediction(inputs, metas)
        monkeypatch.undo()
        counts[batched] = calls
    assert sum(counts[True]) == sum(counts[False])  # the same windows
    assert len(counts[True]) < len(counts[False]) / 2


# ---------------------------------------------------------------- losses --
def test_soft_cross_entropy_by_hand():
    logits = torch.tensor([[[[0.0]], [[0.0]]]])  # uniform over 2 classes
    target = torch.tensor([[[[0.25]], [[0.75]]]])
    torch.testing.assert_close(soft_cross_entropy(logits, target),
                               torch.log(torch.tensor(2.0)))


def test_hard_loss_is_the_decode_head_cross_entropy():
    adapter = build()
    adapter.prepare()
    inputs, metas = preprocess(adapter, make_batch())
    probs, losses = adapter.adapt_loss(inputs, metas)
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}
    with torch.no_grad():
        logits = adapter.segmentor.decode_head(
            adapter.segmentor.extract_feat(inputs))
        logits = F.interpolate(logits, size=(H, W), mode='bilinear',
                               align_corners=False)
    torch.testing.assert_close(losses['decode.loss_ce'].detach(),
                               F.cross_entropy(logits, probs.argmax(1)))


def test_hard_loss_leaves_auxiliary_heads_out():
    seg = tiny_segmentor_cfg('bn')
    seg['auxiliary_head'] = dict(seg['decode_head'], in_index=2,
                                 in_channels=16)
    adapter = MODELS.build(dict(
        type='CoTTA', segmentor=seg,
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-2))))
    adapter.prepare()
    inputs, metas = preprocess(adapter, make_batch())
    _, losses = adapter.adapt_loss(inputs, metas)
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}


def test_hard_loss_through_a_segmentor_without_decode_head():
    adapter = MODELS.build(dict(
        type='CoTTA', segmentor=tiny_segmentor_cfg('plain'),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-2))))
    adapter.prepare()
    inputs, metas = preprocess(adapter, make_batch())
    probs, losses = adapter.adapt_loss(inputs, metas)
    with torch.no_grad():
        logits = adapter.segmentor.inference(inputs, metas)
    torch.testing.assert_close(losses['loss_ce'].detach(),
                               F.cross_entropy(logits, probs.argmax(1)))


def test_soft_loss_against_teacher_probabilities():
    adapter = build(loss='soft')
    adapter.prepare()
    inputs, metas = preprocess(adapter, make_batch())
    probs, losses = adapter.adapt_loss(inputs, metas)
    with torch.no_grad():
        student = adapter.segmentor.inference(inputs, metas)
    expected = -(probs * student.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(losses['loss_soft_ce'].detach(), expected)


# ------------------------------------------- EMA, restoration, reporting --
def test_teacher_is_ema_of_the_unrestored_student():
    adapter = build(alpha_teacher=0.9, restore_prob=0.3, lr=1e-1)
    adapter.prepare()
    stepped = []
    restore = adapter.restore_to_source

    def spy(prob):  # the student after the optimizer step, before restore
        stepped.append(params(adapter.segmentor))
        restore(prob)

    adapter.restore_to_source = spy
    source = params(adapter.anchor)
    expected = dict(source)
    torch.manual_seed(0)
    for step in range(3):
        adapter.test_step(make_batch(seed=step))
        expected = {k: 0.9 * v + 0.1 * stepped[-1][k]
                    for k, v in expected.items()}
        student = params(adapter.segmentor)
        for key, value in student.items():  # restored or stepped, per element
            assert torch.all((value == source[key])
                             | (value == stepped[-1][key]))
    for key, value in params(adapter.teacher).items():
        torch.testing.assert_close(value, expected[key])
    for key, value in params(adapter.anchor).items():
        assert torch.equal(value, source[key])


def test_full_restoration_resets_student_not_teacher():
    adapter = build(restore_prob=1.0, lr=1e-1, alpha_teacher=0.5)
    adapter.prepare()
    source = params(adapter.anchor)
    adapter.test_step(make_batch())
    for key, value in params(adapter.segmentor).items():
        assert torch.equal(value, source[key])
    teacher = params(adapter.teacher)
    assert any(not torch.equal(teacher[k], source[k]) for k in source)


def test_reported_prediction_is_the_gated_teacher():
    adapter = build(lr=1e-1)
    batch = make_batch()
    adapter.prepare()
    inputs, metas = preprocess(adapter, batch)
    expected = adapter.teacher_prediction(inputs, metas)
    out = adapter.test_step(batch)
    got = torch.stack([o.seg_logits.data for o in out])
    torch.testing.assert_close(got, expected)
    after = adapter.teacher_prediction(inputs, metas)
    assert not torch.equal(after, expected)  # the step moved the teacher


def test_plain_prediction_is_one_teacher_forward(monkeypatch):
    """``predict_step(plain=True)`` (a frame skipped under a time budget):
    the teacher's one forward, no anchor, no views, no update."""
    adapter = build(lr=1e-1)
    adapter.prepare()
    adapter.test_step(make_batch(seed=1))  # a teacher that is not the source
    batch = make_batch(seed=2)
    inputs, metas = preprocess(adapter, batch)
    with torch.no_grad():
        expected = adapter.teacher.inference(inputs, metas)
    state = copy.deepcopy(adapter.state_dict())
    calls = []
    for name in ('teacher', 'anchor'):
        model = getattr(adapter, name)
        monkeypatch.setattr(model, 'inference', lambda i, m, f=model.inference,
                            n=name: calls.append(n) or f(i, m))
    got = torch.stack([o.seg_logits.data
                       for o in adapter.predict_step(batch, plain=True)])
    torch.testing.assert_close(got, expected)
    assert calls == ['teacher']
    for key, value in adapter.state_dict().items():
        assert torch.equal(value, state[key]), key
    full = torch.stack([o.seg_logits.data
                        for o in adapter.predict_step(batch)])
    assert not torch.allclose(full, got)  # the gated 14-view prediction
    assert len(calls) > 2


def run(adapter, steps=3, **kwargs):
    torch.manual_seed(0)
    return [adapter.test_step(make_batch(seed=s, **kwargs))[0].seg_logits.data
            for s in range(steps)]


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_reset_is_exact_and_labels_are_never_used(kind):
    adapter = build(kind, lr=1e-1, restore_prob=0.1)
    adapter.prepare()
    source = {k: v.clone() for k, v in adapter.state_dict().items()}
    first = run(adapter)
    adapter.reset()
    for key, value in adapter.state_dict().items():
        assert torch.equal(value, source[key]), key
    for a, b in zip(first, run(adapter)):
        torch.testing.assert_close(a, b)
    adapter.reset()
    for a, b in zip(first, run(adapter, with_labels=False)):
        torch.testing.assert_close(a, b)


def test_amp_runs_and_stays_finite():
    adapter = build(amp=True)
    out = run(adapter, steps=2)
    assert all(torch.isfinite(o).all() for o in out)


@pytest.mark.parametrize('kwargs,match', [
    (dict(loss='entropy'), 'loss'),
    (dict(gate_scale=3.0), 'gate_scale'),
    (dict(scales=(0.0, 1.0)), 'scales'),
    (dict(restore_prob=1.5), 'restore_prob'),
    (dict(view_batch=0), 'view_batch'),
    (dict(window_batch=0), 'window_batch'),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


@pytest.mark.slow
def test_configs_keep_the_published_hyper_parameters():
    paths = glob.glob(osp.join(REPO_ROOT, 'configs', 'cotta', '*.py'))
    assert len(paths) >= 6  # 5 protocol/model configs + a time budget
    for path in paths:
        adapter = copy.deepcopy(Config.fromfile(path).adapter)
        assert adapter.type == 'CoTTA'
        assert adapter.alpha_teacher == 0.999
        assert adapter.anchor_threshold == 0.69
        assert adapter.restore_prob == 0.01
        assert tuple(adapter.scales) == SCALES and adapter.flip
        assert adapter.loss == 'hard'
        optimizer = adapter.optim_wrapper.optimizer
        assert optimizer.type == 'Adam'
        if '-tuned_' not in osp.basename(path):  # tuned presets: their lr
            assert optimizer.lr == pytest.approx(7.5e-6)
