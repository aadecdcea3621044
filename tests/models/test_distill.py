"""Pixel-wise distillation: the loss by hand, the frozen teacher outside the
student's state dict, and the student's weights loading into the plain
test-time model."""
import math

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.models.utils import resize
from mmseg.structures import SegDataSample

from tests.tiny import NUM_CLASSES, tiny_segmentor_cfg
from tta_seg.models import DistillEncoderDecoder, pixel_distillation_loss
from tta_seg.registry import MODELS


def test_kl_over_labelled_pixels_by_hand():
    # 1 image, 2 classes, 3 pixels; the last one is ignored
    student = torch.tensor([[[[0.0, 1.0, 5.0]], [[0.0, 0.0, -5.0]]]])
    teacher = torch.tensor([[[[0.0, 0.0, 0.0]], [[0.0, 2.0, 9.0]]]])
    label = torch.tensor([[[0, 1, 255]]])

    def kl(t, s):  # KL(softmax(t) || softmax(s)) for 2 classes
        pt = [math.exp(v) / (math.exp(t[0]) + math.exp(t[1])) for v in t]
        ps = [math.exp(v) / (math.exp(s[0]) + math.exp(s[1])) for v in s]
        return sum(a * math.log(a / b) for a, b in zip(pt, ps))

    expected = (kl([0, 0], [0, 0]) + kl([0, 2], [1, 0])) / 2
    assert pixel_distillation_loss(student, teacher, label).item() == \
        pytest.approx(expected, rel=1e-6)
    # temperature 2: both distributions softened, scaled by T^2 = 4
    hot = 4 * (kl([0, 0], [0, 0]) + kl([0, 1], [0.5, 0])) / 2
    assert pixel_distillation_loss(student, teacher, label,
                                   temperature=2).item() == \
        pytest.approx(hot, rel=1e-6)


def test_loss_is_zero_for_the_teacher_itself_and_skips_unlabelled():
    logits = torch.randn(2, NUM_CLASSES, 4, 6)
    label = torch.randint(0, NUM_CLASSES, (2, 4, 6))
    assert pixel_distillation_loss(logits, logits, label).item() == \
        pytest.approx(0.0, abs=1e-6)
    empty = torch.full((2, 4, 6), 255)
    other = torch.randn(2, NUM_CLASSES, 4, 6, requires_grad=True)
    out = pixel_distillation_loss(other, logits, empty)
    assert out.item() == 0.0
    out.backward()  # still part of the graph


@pytest.mark.parametrize('args, match', [
    ((torch.zeros(1, 2, 3, 3), torch.zeros(1, 3, 3, 3),
      torch.zeros(1, 3, 3, dtype=torch.long)), 'differ in shape'),
    ((torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3),
      torch.zeros(1, 4, 3, dtype=torch.long)), 'does not match'),
])
def test_mismatched_inputs_are_refused(args, match):
    with pytest.raises(ValueError, match=match):
        pixel_distillation_loss(*args)


def _batch(seed=0, n=2, h=32, w=64):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, h, w, generator=g)
    samples = []
    for i in range(n):
        label = torch.randint(0, NUM_CLASSES, (1, h, w), generator=g)
        label[:, :4] = 255  # padding rows
        s = SegDataSample(gt_sem_seg=PixelData(data=label))
        s.set_metainfo(dict(img_shape=(h, w), pad_shape=(h, w),
                            ori_shape=(h, w)))
        samples.append(s)
    return inputs, samples


@pytest.fixture
def teacher_file(tmp_path):
    torch.manual_seed(1)
    teacher = MODELS.build(tiny_segmentor_cfg('bn'))
    path = tmp_path / 'teacher.pth'
    torch.save({k: v.half() if v.is_floating_point() else v
                for k, v in teacher.state_dict().items()}, path)
    return path, teacher


def _student(teacher_path, **kwargs):
    cfg = dict(tiny_segmentor_cfg('ln'), type='DistillEncoderDecoder',
               teacher=tiny_segmentor_cfg('bn'),
               teacher_checkpoint=str(teacher_path), **kwargs)
    return MODELS.build(cfg)


def test_the_teacher_is_frozen_and_not_part_of_the_student(teacher_file):
    path, reference = teacher_file
    torch.manual_seed(0)
    model = _student(path, distill_weight=2.0)
    assert isinstance(model, DistillEncoderDecoder)
    assert not any(k.startswith('teacher') for k in model.state_dict())
    ids = {id(p) for p in model.parameters()}
    assert not any(id(p) in ids for p in model.teachers[0].parameters())
    # the file's (fp16) weights, in fp32
    for k, v in reference.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(model.teachers[0].state_dict()[k],
                                       v.half().float())
    model.train()
    assert model.training and not model.teachers[0].training
    model.double()  # _apply reaches the teacher
    assert next(model.teachers[0].parameters()).dtype == torch.float64
    model.float()

    inputs, samples = _batch()
    before = {k: v.clone() for k, v in model.teachers[0].state_dict().items()}
    losses = model.loss(inputs, samples)
    assert set(losses) >= {'decode.loss_ce', 'distill.loss_kd'}
    (losses['decode.loss_ce'] + losses['distill.loss_kd']).backward()
    assert all(p.grad is None for p in model.teachers[0].parameters())
    assert model.decode_head.conv_seg.weight.grad is not None
    # eval mode: not even the teacher's BN statistics move
    for k, v in model.teachers[0].state_dict().items():
        assert torch.equal(v, before[k]), k

    # the term is distill_weight x the hand-checked function of both logit
    # maps, upsampled to the label size
    with torch.no_grad():
        s = model._forward(inputs)  # train mode, as in loss()
        t = model.teachers[0]._forward(inputs)
        label = torch.stack([x.gt_sem_seg.data for x in samples]).squeeze(1)
        expected = 2.0 * pixel_distillation_loss(
            resize(s, size=label.shape[-2:], mode='bilinear'),
            resize(t, size=label.shape[-2:], mode='bilinear'), label)
        torch.testing.assert_close(
            model.loss(inputs, samples)['distill.loss_kd'], expected)


def test_student_weights_load_into_the_plain_model(teacher_file):
    path, _ = teacher_file
    student = _student(path)
    plain = MODELS.build(tiny_segmentor_cfg('ln'))
    plain.load_state_dict(student.state_dict(), strict=True)
    x = torch.randn(1, 3, 32, 64)
    student.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(plain._forward(x), student._forward(x))


def test_a_teacher_normalising_otherwise_is_refused(teacher_file):
    path, _ = teacher_file
    teacher = tiny_segmentor_cfg('bn')
    teacher['data_preprocessor'] = dict(teacher['data_preprocessor'],
                                        mean=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match='normalises the images'):
        MODELS.build(dict(tiny_segmentor_cfg('ln'),
                          type='DistillEncoderDecoder', teacher=teacher,
                          teacher_checkpoint=str(path)))


def test_a_missing_teacher_file_is_named(tmp_path):
    with pytest.raises(Exception, match='nowhere.pth'):
        _student(tmp_path / 'nowhere.pth')


def test_an_ensemble_teacher_averages_the_teachers_logits(teacher_file,
                                                          tmp_path):
    path, _ = teacher_file
    torch.manual_seed(2)
    second = MODELS.build(tiny_segmentor_cfg('bn'))
    path2 = tmp_path / 'teacher2.pth'
    torch.save(second.state_dict(), path2)
    cfg = dict(tiny_segmentor_cfg('ln'), type='DistillEncoderDecoder',
               teacher=[tiny_segmentor_cfg('bn'), tiny_segmentor_cfg('bn')],
               teacher_checkpoint=[str(path), str(path2)],
               distill_weight=3.0, temperature=2.0)
    model = MODELS.build(cfg)
    assert len(model.teachers) == 2
    assert not any(k.startswith('teacher') for k in model.state_dict())
    model.train()
    assert not any(t.training for t in model.teachers)
    inputs, samples = _batch(seed=3)
    with torch.no_grad():
        s = model._forward(inputs)
        t1, t2 = (t._forward(inputs) for t in model.teachers)
        assert not torch.allclose(t1, t2)  # two different teachers
        label = torch.stack([x.gt_sem_seg.data for x in samples]).squeeze(1)
        size = label.shape[-2:]
        mean = (resize(t1, size=size, mode='bilinear')
                + resize(t2, size=size, mode='bilinear')) / 2
        expected = 3.0 * pixel_distillation_loss(
            resize(s, size=size, mode='bilinear'), mean, label,
            temperature=2.0)
        got = model.loss(inputs, samples)['distill.loss_kd']
        torch.testing.assert_close(got, expected)
        # and not the loss against either teacher alone
        alone = 3.0 * pixel_distillation_loss(
            resize(s, size=size, mode='bilinear'),
            resize(t1, size=size, mode='bilinear'), label, temperature=2.0)
        assert not torch.isclose(got, alone)


def test_one_checkpoint_per_teacher_is_required(teacher_file):
    path, _ = teacher_file
    with pytest.raises(ValueError, match='one entry .* per teacher'):
        MODELS.build(dict(
            tiny_segmentor_cfg('ln'), type='DistillEncoderDecoder',
            teacher=[tiny_segmentor_cfg('bn'), tiny_segmentor_cfg('bn')],
            teacher_checkpoint=str(path)))


def test_a_teacher_can_come_from_several_files(teacher_file, tmp_path):
    """E.g. a source model plus an adapter's warmed-up blocks: loaded in
    turn, and every weight must come from one of them."""
    path, reference = teacher_file
    state = torch.load(path, weights_only=True)
    parts = {'backbone': {k: v for k, v in state.items()
                          if k.startswith('backbone.')},
             'rest': {k: v for k, v in state.items()
                      if not k.startswith('backbone.')}}
    files = {}
    for name, part in parts.items():
        assert part
        files[name] = str(tmp_path / f'{name}.pth')
        torch.save(part, files[name])

    def student(checkpoint):
        return MODELS.build(dict(
            tiny_segmentor_cfg('ln'), type='DistillEncoderDecoder',
            teacher=tiny_segmentor_cfg('bn'), teacher_checkpoint=checkpoint))

    model = student([files['backbone'], files['rest']])
    assert len(model.teachers) == 1
    for k, v in reference.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(model.teachers[0].state_dict()[k],
                                       v.half().float())
    # in an ensemble, one entry per teacher, each a file or a list of them
    both = MODELS.build(dict(
        tiny_segmentor_cfg('ln'), type='DistillEncoderDecoder',
        teacher=[tiny_segmentor_cfg('bn'), tiny_segmentor_cfg('bn')],
        teacher_checkpoint=[str(path), [files['backbone'], files['rest']]]))
    for a, b in zip(both.teachers[0].state_dict().values(),
                    both.teachers[1].state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(KeyError, match='together lack'):
        student([files['backbone'], files['backbone']])
