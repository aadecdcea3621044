"""CoTTA: continual test-time adaptation with a mean teacher.

Wang et al., "Continual Test-Time Domain Adaptation", CVPR 2022
(github.com/qinenergy/cotta, segmentation code ``mmseg/apis/test.py``).
On a :class:`MeanTeacherAdapter`, per batch (N, 3, H, W):

1. anchor confidence (N, 1, H, W): max softmax at ``gate_scale``;
2. teacher softmax averaged over ``scales`` x {id, h-flip} views
   (:mod:`tta_seg.models.augment_views`), plus its ``gate_scale`` view;
3. gated probabilities p (N, C, H, W): the ``gate_scale`` view where the
   confidence > ``anchor_threshold``, else the average. p is the reported
   prediction (``seg_logits`` hold probabilities, as mmseg 0.x
   ``aug_test``) and the student's target;
4. student loss: ``'hard'`` (official code) = the segmentor's own
   ``loss(inputs, samples)`` (mmseg's ``BaseSegmentor`` API; for an
   ``EncoderDecoder`` the decode head's ``loss_decode``, class weights and
   sampler, from a whole-image forward, like ``forward_train``) on
   ``argmax p``. Where it returns ``decode.*`` losses (mmseg's prefix of the
   main head) only those count: the code computed every loss and
   back-propagated ``decode.loss_seg`` only, so auxiliary heads are left out.
   A segmentor without that prefix contributes every loss it returns.
   ``'soft'`` (paper) = ``-sum_c p_c log q_c`` with q the softmax of
   ``segmentor.inference``;
5. Adam step, EMA teacher, then stochastic restoration (``restore_prob``).

Gate view: scale 1.0 unflipped (default ``gate_scale=1.0``), as paper and
released code: the code reads the anchor confidence and the teacher's single
view from view index 4 of mmseg 0.x's ``MultiScaleFlipAug`` list (scales
outer, flips inner: ratio 1.0 of (0.5, 0.75, 1.0, ...), no flip). Other
scales are an option, not a reproduction.

Deliberate deviations from the official code:

* Views are bilinear resizes of the normalised input tensor, not aug
  pipeline resizes of the uint8 original (normalisation is affine: only
  uint8 rounding and the source resolution differ). Views are averaged,
  gated and used as labels at the model input size, not the original
  size; ``postprocess_result`` resizes p linearly to the original size.
* The anchor runs one view (the code ran all 14 and used one); a view and
  its flip share a forward (``fast_views``, exact for batch-independent
  models, tested). ``steps > 1`` recomputes p each step (code: 1 step).
* Views with a shorter side below ``min_view_size`` px are skipped (MiT's
  stride-8 reduction after its stride-4 stem needs >= 32 px); never the
  case on the benchmarks (>= 64 px), only for tiny test inputs.
"""
from typing import Optional, Sequence, Tuple

import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from tta_seg.models.augment_views import (multi_view_probs, scaled_size,
                                          view_probs)
from tta_seg.registry import MODELS
from .base import Losses, Metas
from .mean_teacher import MeanTeacherAdapter

#: CoTTA's 7 scales; with flips, 14 views.
SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
LOSSES = ('hard', 'soft')
#: mmseg's prefix of the main (decode) head's losses in ``segmentor.loss``.
MAIN_LOSS_PREFIX = 'decode.'


def main_head_losses(losses: Losses) -> Losses:
    """The ``decode.*`` entries of ``losses`` if any, else all of them."""
    main = {k: v for k, v in losses.items()
            if k.startswith(MAIN_LOSS_PREFIX)}
    return main or losses


def soft_cross_entropy(logits: torch.Tensor,
                       target_probs: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of ``-sum_c target_c * log_softmax(logits)_c``."""
    return -(target_probs * logits.log_softmax(dim=1)).sum(dim=1).mean()


@MODELS.register_module()
class CoTTA(MeanTeacherAdapter):
    """Weight-averaged, augmentation-averaged pseudo labels + restoration.

    Args:
        alpha_teacher (float): Teacher EMA momentum.
        anchor_threshold (float): Anchor confidence above which the
            teacher's single view is trusted (0.74 source 5% quantile - 0.05).
        restore_prob (float): Per-element restoration probability.
        scales (sequence of float): Teacher view scales.
        flip (bool): Add the horizontal flip of each scale.
        loss (str): ``'hard'`` (official code) or ``'soft'`` (paper).
        gate_scale (float): Scale of the anchor and single teacher view;
            must be one of ``scales``.
        fast_views (bool): Batch each scale's view with its flip.
        view_batch (int, optional): Max images per teacher forward.
        amp (bool): Autocast the teacher and anchor forwards.
        min_view_size (int): Skip views with a shorter side below this.
        **kwargs: :class:`MeanTeacherAdapter` arguments.
    """

    def __init__(self, alpha_teacher: float = 0.999,
                 anchor_threshold: float = 0.69, restore_prob: float = 0.01,
                 scales: Sequence[float] = SCALES, flip: bool = True,
                 loss: str = 'hard', gate_scale: float = 1.0,
                 fast_views: bool = True, view_batch: Optional[int] = None,
                 amp: bool = False, min_view_size: int = 32,
                 **kwargs) -> None:
        scales = tuple(float(s) for s in scales)
        if loss not in LOSSES:
            raise ValueError(f'loss must be one of {LOSSES}, got {loss!r}')
        if not scales or min(scales) <= 0 or gate_scale not in scales:
            raise ValueError(f'scales must be positive and contain '
                             f'gate_scale={gate_scale}, got {scales}')
        if not 0.0 <= restore_prob <= 1.0:
            raise ValueError(f'restore_prob must be in [0, 1], got '
                             f'{restore_prob}')
        if view_batch is not None and view_batch < 1:
            raise ValueError(f'view_batch must be >= 1, got {view_batch}')
        super().__init__(alpha_teacher=alpha_teacher, **kwargs)
        self.anchor_threshold = anchor_threshold
        self.restore_prob = restore_prob
        self.scales, self.flip, self.loss = scales, flip, loss
        self.gate_scale = float(gate_scale)
        self.fast_views, self.view_batch = fast_views, view_batch
        self.amp, self.min_view_size = amp, min_view_size

    def view_scales(self, size: Sequence[int]) -> Tuple[float, ...]:
        """Scales used for an input of ``size`` (see ``min_view_size``)."""
        return tuple(
            s for s in self.scales if s == self.gate_scale
            or min(scaled_size(size, s)) >= self.min_view_size)

    def _predictor(self, model):
        """``model.inference``, autocast if ``amp`` (teacher/anchor only)."""
        def predict(images, metas):
            with torch.autocast(images.device.type, enabled=self.amp):
                return model.inference(images, metas)
        return predict

    @torch.no_grad()
    def teacher_prediction(self, inputs: torch.Tensor,
                           metas: Metas) -> torch.Tensor:
        """Gated teacher probabilities (N, C, H, W) (steps 1-3 above)."""
        align = getattr(self.segmentor, 'align_corners', False)
        confidence = view_probs(self._predictor(self.anchor), inputs, metas,
                                self.gate_scale, False, align).amax(
                                    dim=1, keepdim=True)
        mean_probs, gate_probs = multi_view_probs(
            self._predictor(self.teacher), inputs, metas,
            self.view_scales(inputs.shape[-2:]),
            self.flip, keep_scale=self.gate_scale, fast=self.fast_views,
            view_batch=self.view_batch, align_corners=align)
        return torch.where(confidence > self.anchor_threshold, gate_probs,
                           mean_probs)

    def student_loss(self, inputs: torch.Tensor, metas: Metas,
                     target_probs: torch.Tensor) -> Losses:
        """The student's loss against the gated teacher probabilities."""
        if self.loss == 'soft':
            logits = self.segmentor.inference(inputs, metas)
            return dict(loss_soft_ce=soft_cross_entropy(logits,
                                                        target_probs))
        samples = [
            SegDataSample(metainfo=meta, gt_sem_seg=PixelData(data=lab[None]))
            for meta, lab in zip(metas, target_probs.argmax(dim=1))
        ]
        return main_head_losses(self.segmentor.loss(inputs, samples))

    def adapt_loss(self, inputs: torch.Tensor,
                   metas: Metas) -> Tuple[torch.Tensor, Losses]:
        probs = self.teacher_prediction(inputs, metas)
        return probs, self.student_loss(inputs, metas, probs)

    def predict_logits(self, inputs: torch.Tensor,
                       metas: Metas) -> torch.Tensor:
        """CoTTA's prediction without adapting: the gated teacher."""
        return self.teacher_prediction(inputs, metas)

    def after_update(self) -> None:
        super().after_update()  # EMA teacher first, as the official code
        self.restore_to_source(self.restore_prob)

