"""MeanTeacherAdapter: registration, EMA by hand, restoration, exact reset."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from tests.tiny import make_batch, tiny_segmentor_cfg
from tta_seg.adapters.mean_teacher import MeanTeacherAdapter
from tta_seg.models.losses import self_cross_entropy


class ToyMeanTeacher(MeanTeacherAdapter):
    """A mean teacher with a self-training loss on the student (test only)."""

    def adapt_loss(self, inputs, metas):
        logits = self.segmentor.inference(inputs, metas)
        return logits, dict(loss=self_cross_entropy(logits))


def build(kind='bn', alpha=0.9, lr=1e-2, **kwargs):
    return ToyMeanTeacher(
        segmentor=tiny_segmentor_cfg(kind), alpha_teacher=alpha,
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=lr)), **kwargs)


def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def test_copies_are_registered_frozen_and_start_at_source():
    adapter = build()
    adapter.prepare()
    prefixes = {k.split('.')[0] for k in adapter.state_dict()}
    assert prefixes == {'segmentor', 'teacher', 'anchor'}
    student = adapter.segmentor.state_dict()
    for copy in (adapter.teacher, adapter.anchor):
        for key, value in copy.state_dict().items():
            assert torch.equal(value, student[key])
        assert not any(p.requires_grad for p in copy.parameters())
    optimized = {id(p) for group in adapter.optim_wrapper.param_groups
                 for p in group['params']}
    assert optimized == {id(p) for p in adapter.segmentor.parameters()}
    adapter.double()  # .to() reaches the copies
    assert all(p.dtype == torch.float64 for p in adapter.teacher.parameters())
    assert all(p.dtype == torch.float64 for p in adapter.anchor.parameters())


@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_teacher_is_ema_of_student_trajectory(kind):
    adapter = build(kind, alpha=0.9)
    adapter.prepare()
    expected = params(adapter.teacher)
    for step in range(3):
        adapter.test_step(make_batch(seed=step))
        student = params(adapter.segmentor)
        expected = {k: 0.9 * v + 0.1 * student[k] for k, v in expected.items()}
    teacher = params(adapter.teacher)
    for key, value in expected.items():
        torch.testing.assert_close(teacher[key], value)
    moved = [k for k in teacher
             if not torch.equal(teacher[k], params(adapter.anchor)[k])]
    assert moved  # the teacher left the source ...
    assert any(not torch.equal(teacher[k], student[k]) for k in moved)


def test_anchor_never_changes():
    adapter = build(lr=1e-1)
    adapter.prepare()
    source = {k: v.clone() for k, v in adapter.anchor.state_dict().items()}
    for step in range(3):
        adapter.test_step(make_batch(seed=step))
    for key, value in adapter.anchor.state_dict().items():
        assert torch.equal(value, source[key])


@pytest.mark.parametrize('ema_buffers', [False, True])
def test_buffers_follow_ema_only_when_asked(ema_buffers):
    adapter = build(alpha=0.75, ema_buffers=ema_buffers)
    adapter.prepare()
    bn = next(m for m in adapter.segmentor.modules()
              if isinstance(m, _BatchNorm))
    name = next(n for n, m in adapter.segmentor.named_modules() if m is bn)
    teacher_bn = adapter.teacher.get_submodule(name)
    before = teacher_bn.running_mean.clone()
    with torch.no_grad():
        bn.running_mean.add_(4.0)
        bn.num_batches_tracked.add_(7)
    adapter.update_teacher()
    if ema_buffers:
        torch.testing.assert_close(teacher_bn.running_mean, before + 1.0)
        assert torch.equal(teacher_bn.num_batches_tracked,
                           bn.num_batches_tracked)
    else:
        assert torch.equal(teacher_bn.running_mean, before)


def test_restoration_fraction_and_values():
    adapter = build('ln')
    adapter.prepare()
    with torch.no_grad():
        for param in adapter.segmentor.parameters():
            param.add_(1.0)
    perturbed = params(adapter.segmentor)
    source = params(adapter.anchor)
    torch.manual_seed(0)
    adapter.restore_to_source(0.3)
    restored = total = 0
    for key, value in params(adapter.segmentor).items():
        is_source = value == source[key]
        # every element is exactly either the source or the untouched value
        assert torch.all(is_source | (value == perturbed[key])), key
        restored += int(is_source.sum())
        total += value.numel()
    assert total > 50_000
    assert abs(restored / total - 0.3) < 0.01
    # in_proj_weight (MiT's q/k/v) is restored too, not only 'weight'/'bias'
    name = next(k for k in source if k.endswith('in_proj_weight'))
    assert torch.any(params(adapter.segmentor)[name] == source[name])


def test_restoration_takes_source_values_not_the_teachers():
    adapter = build('bn')
    adapter.prepare()
    with torch.no_grad():  # three distinct copies: source, teacher, student
        for param in adapter.teacher.parameters():
            param.add_(2.0)
        for param in adapter.segmentor.parameters():
            param.add_(1.0)
    student, teacher = params(adapter.segmentor), params(adapter.teacher)
    source = params(adapter.anchor)
    torch.manual_seed(0)
    adapter.restore_to_source(0.5)
    restored = 0
    for key, value in params(adapter.segmentor).items():
        assert not torch.any(value == teacher[key]), key
        assert torch.all((value == source[key]) | (value == student[key]))
        restored += int((value == source[key]).sum())
    assert restored > 0
    # the teacher itself is never restored
    for key, value in params(adapter.teacher).items():
        assert torch.equal(value, teacher[key])


def test_restoration_is_seeded_and_extremes():
    adapter = build()
    adapter.prepare()
    with torch.no_grad():
        for param in adapter.segmentor.parameters():
            param.add_(1.0)
    perturbed = params(adapter.segmentor)
    states = []
    for _ in range(2):
        adapter.load_state_dict(dict(adapter.state_dict(), **{
            f'segmentor.{k}': v for k, v in perturbed.items()}))
        torch.manual_seed(3)
        adapter.restore_to_source(0.5)
        states.append(params(adapter.segmentor))
    for key in perturbed:
        assert torch.equal(states[0][key], states[1][key])
    adapter.restore_to_source(0.0)
    for key, value in params(adapter.segmentor).items():
        assert torch.equal(value, states[1][key])
    adapter.restore_to_source(1.0)
    for key, value in params(adapter.segmentor).items():
        assert torch.equal(value, params(adapter.anchor)[key])


def test_reset_restores_student_teacher_anchor_and_optimizer():
    adapter = build(lr=1e-1)
    adapter.prepare()
    source = {k: v.clone() for k, v in adapter.state_dict().items()}
    first = [adapter.test_step(make_batch(seed=s))[0].seg_logits.data
             for s in range(2)]
    assert adapter.optim_wrapper.optimizer.state  # Adam moments exist
    adapter.reset()
    for key, value in adapter.state_dict().items():
        assert torch.equal(value, source[key]), key
    assert not adapter.optim_wrapper.optimizer.state
    again = [adapter.test_step(make_batch(seed=s))[0].seg_logits.data
             for s in range(2)]
    for a, b in zip(first, again):
        torch.testing.assert_close(a, b)


def test_predict_step_uses_the_teacher():
    adapter = build(alpha=0.5, lr=1e-1)
    adapter.test_step(make_batch())
    batch = make_batch(seed=1)
    out = adapter.predict_step(batch)[0].seg_logits.data
    data = adapter.segmentor.data_preprocessor(batch, False)
    metas = [s.metainfo for s in data['data_samples']]
    with torch.no_grad():
        teacher = adapter.teacher.inference(data['inputs'], metas)[0]
        student = adapter.segmentor.inference(data['inputs'], metas)[0]
    torch.testing.assert_close(out, teacher)
    assert not torch.allclose(out, student)


def test_alpha_out_of_range_is_rejected():
    with pytest.raises(ValueError, match='alpha_teacher'):
        build(alpha=1.5)
