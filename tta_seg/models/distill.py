"""Training a source model with pixel-wise distillation from another one.

Used for the embedded SegFormer-B0 source model: a vision transformer
trained from scratch on 800 images learns slowly, and DeiT (Touvron et
al., ICML 2021) showed that distilling from a convolutional teacher speeds
up and improves a transformer trained without large-scale pre-training.
The distillation term here is the pixel-wise one of structured knowledge
distillation for segmentation (Liu et al., CVPR 2019): the KL divergence
from the teacher's to the student's class distribution at every labelled
pixel, added to the student's own supervised loss. Several teachers may
be given; their logits are averaged (an ensemble teacher, as in
multi-teacher distillation), which normalised is the geometric mean of
their class distributions.

The teacher is frozen, in eval mode, and deliberately not a sub-module:
it is not in the state dict, so checkpoints and exported weights are the
student's alone and load into the plain ``EncoderDecoder`` of the test
configs, and the optimizer never sees it.
"""
import os.path as osp
from typing import Dict, List, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.utils import add_prefix

from tta_seg.registry import MODELS
from tta_seg.utils.checkpoint import load_source_weights
from tta_seg.utils.paths import ASSET_ROOT


def pixel_distillation_loss(student: torch.Tensor, teacher: torch.Tensor,
                            label: torch.Tensor, temperature: float = 1.0,
                            ignore_index: int = 255) -> torch.Tensor:
    """``T^2 * mean_i KL(p_t,i || p_s,i)`` over the labelled pixels ``i``.

    ``p = softmax(logits / T)``; ``T^2`` keeps the gradient's scale
    independent of the temperature (Hinton et al., 2015). Both logit maps
    must already have the label's size.

    Args:
        student (Tensor): (N, C, H, W) logits, with gradient.
        teacher (Tensor): (N, C, H, W) logits.
        label (Tensor): (N, H, W) class indices; ``ignore_index`` pixels
            (padding, void) do not count.
        temperature (float): Softening temperature, > 0.
        ignore_index (int): Label of the pixels to skip.

    Returns:
        Tensor: the scalar loss (0 when no pixel is labelled).
    """
    if student.shape != teacher.shape:
        raise ValueError(f'student logits {tuple(student.shape)} and teacher '
                         f'logits {tuple(teacher.shape)} differ in shape')
    if label.shape != student.shape[:1] + student.shape[2:]:
        raise ValueError(f'label {tuple(label.shape)} does not match the '
                         f'logits {tuple(student.shape)}')
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    log_p_s = F.log_softmax(student / temperature, dim=1)
    log_p_t = F.log_softmax(teacher.detach() / temperature, dim=1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)  # (N, H, W)
    mask = label != ignore_index
    if not mask.any():
        return student.sum() * 0.0
    return temperature**2 * kl[mask].mean()


@MODELS.register_module()
class DistillEncoderDecoder(EncoderDecoder):
    """An ``EncoderDecoder`` whose training loss adds pixel-wise
    distillation from a frozen teacher segmentor.

    ``loss = decode-head losses (+ auxiliary) + distill_weight *
    pixel_distillation_loss(student, teacher)``, both logit maps upsampled
    to the label size as the decode head's own loss does. Prediction and
    everything else are ``EncoderDecoder``'s.

    Args:
        teacher (dict | str | list): Model config of the teacher segmentor
            (any mmseg segmentor with ``_forward`` returning logits of the
            same classes), or a config file whose ``model`` it is (relative
            paths as for ``teacher_checkpoint``); or a list of them, an
            ensemble whose logits are averaged. Each data preprocessor must
            normalise as the student's: the teachers see the student's
            preprocessed batch.
        teacher_checkpoint (str | list): The teacher's weights (a state
            dict file, fp16 allowed; relative paths from the working
            directory, else from the repository root); a list with one
            entry per model of ``teacher``. An entry may itself be a list
            of files loaded in turn, e.g. a source model and the warmed-up
            blocks of an adapter's segmentor (EcoTTA, ViDA); every weight
            of the teacher must come from one of them.
        distill_weight (float): Factor on the distillation term.
        temperature (float): Softening temperature of both distributions.
        **kwargs: ``EncoderDecoder``'s arguments (the student).
    """

    def __init__(self, teacher: Union[dict, str, Sequence],
                 teacher_checkpoint: Union[str, Sequence[str]],
                 distill_weight: float = 1.0, temperature: float = 1.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        configs = list(teacher) if isinstance(teacher, (list, tuple)) \
            else [teacher]
        files = [teacher_checkpoint] if isinstance(teacher_checkpoint, str) \
            else list(teacher_checkpoint)
        if not isinstance(teacher, (list, tuple)) and len(files) > 1:
            files = [files]  # one teacher from several files
        if not configs or len(configs) != len(files):
            raise ValueError(
                f'teacher: {len(configs)} model config(s) but {len(files)} '
                'teacher_checkpoint entries; give one entry (a file, or a '
                'list of files) per teacher')
        models = []
        for config, file in zip(configs, files):
            if isinstance(config, str):
                config = _model_of(config)
            model = MODELS.build(config)
            _check_same_normalisation(model, self)
            load_source_weights(model, _in_repo(file) if isinstance(
                file, str) else [_in_repo(f) for f in file])
            model.requires_grad_(False)
            model.eval()
            models.append(model)
        # plain attributes, not sub-modules: not in state_dict(), not in
        # parameters(); _apply and train keep them on the device and in eval
        object.__setattr__(self, 'teachers', tuple(models))
        self.distill_weight = float(distill_weight)
        self.temperature = float(temperature)

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        for teacher in self.teachers:
            teacher._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True) -> 'DistillEncoderDecoder':
        super().train(mode)
        for teacher in self.teachers:
            teacher.eval()
        return self

    def loss(self, inputs: torch.Tensor, data_samples: List) -> Dict:
        x = self.extract_feat(inputs)
        seg_logits = self.decode_head(x)
        losses = add_prefix(
            self.decode_head.loss_by_feat(seg_logits, data_samples), 'decode')
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        label = torch.stack(
            [s.gt_sem_seg.data for s in data_samples]).squeeze(1)
        size = label.shape[-2:]
        align = self.decode_head.align_corners

        def at_label_size(logits):
            return resize(logits, size=size, mode='bilinear',
                          align_corners=align)

        with torch.no_grad():  # each teacher at label size, then averaged
            teacher_logits = torch.stack(
                [at_label_size(t._forward(inputs))
                 for t in self.teachers]).mean(dim=0)
        losses['distill.loss_kd'] = self.distill_weight * \
            pixel_distillation_loss(
                at_label_size(seg_logits), teacher_logits, label,
                self.temperature, self.decode_head.ignore_index)
        return losses


def _in_repo(path: str) -> str:
    """A relative path that does not exist from the working directory is
    taken from the repository root."""
    if osp.isabs(path) or osp.exists(path):
        return path
    return osp.join(ASSET_ROOT, path)


def _model_of(path: str) -> dict:
    full = _in_repo(path)
    if not osp.isfile(full):
        raise FileNotFoundError(f'teacher: no config file {full}')
    cfg = Config.fromfile(full)
    if 'model' not in cfg:
        raise KeyError(f'teacher: {full} defines no model')
    return cfg.model.to_dict()


def _check_same_normalisation(teacher: nn.Module, student: nn.Module) -> None:
    def stats(model):
        pre = model.data_preprocessor
        return [getattr(pre, name, None) for name in ('mean', 'std')] + [
            getattr(pre, 'channel_conversion', None)]

    for a, b in zip(stats(teacher), stats(student)):
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            same = torch.equal(a, b)  # False for other shapes too
        else:
            same = not isinstance(a, torch.Tensor) and a == b
        if not same:
            raise ValueError(
                'teacher: its data_preprocessor normalises the images '
                'differently from the student\'s (mean, std, bgr_to_rgb); '
                'the teacher sees the student\'s preprocessed batch, so '
                'they must agree')
