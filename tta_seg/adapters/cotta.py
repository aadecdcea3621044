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
* Option ``batch_windows`` (off by default: no gain measured on a CPU at
  the protocol's crop-to-image ratio): with slide inference (SegFormer-B5
  protocol) the windows of all views run through ``encode_decode`` in
  batches of ``window_batch`` crops and are stitched as mmseg's
  ``slide_inference`` (exact for batch-independent models, tested) instead
  of one view after another.
* Views with a shorter side below ``min_view_size`` px are skipped (MiT's
  stride-8 reduction after its stride-4 stem needs >= 32 px); never the
  case on the benchmarks (>= 64 px), only for tiny test inputs.
"""
from typing import Optional, Sequence, Tuple

import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from tta_seg.models.augment_views import (multi_view_probs, scaled_size,
                                          view_probs,
                                          windowed_multi_view_probs)
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
        batch_windows (bool): With slide inference, batch the windows of
            all views (``fast_views`` and ``view_batch`` then unused).
        window_batch (int, optional): Max crops per window forward; None:
            all consecutive windows of one shape.
        amp (bool): Autocast the teacher and anchor forwards.
        min_view_size (int): Skip views with a shorter side below this.
        **kwargs: :class:`MeanTeacherAdapter` arguments.
    """

    def __init__(self, alpha_teacher: float = 0.999,
                 anchor_threshold: float = 0.69, restore_prob: float = 0.01,
                 scales: Sequence[float] = SCALES, flip: bool = True,
                 loss: str = 'hard', gate_scale: float = 1.0,
                 fast_views: bool = True, view_batch: Optional[int] = None,
                 batch_windows: bool = False,
                 window_batch: Optional[int] = 8,
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
        for name, size in dict(view_batch=view_batch,
                               window_batch=window_batch).items():
            if size is not None and size < 1:
                raise ValueError(f'{name} must be >= 1, got {size}')
        super().__init__(alpha_teacher=alpha_teacher, **kwargs)
        self.anchor_threshold = anchor_threshold
        self.restore_prob = restore_prob
        self.scales, self.flip, self.loss = scales, flip, loss
        self.gate_scale = float(gate_scale)
        self.fast_views, self.view_batch = fast_views, view_batch
        self.batch_windows, self.window_batch = batch_windows, window_batch
        self.amp, self.min_view_size = amp, min_view_size

    def view_scales(self, size: Sequence[int]) -> Tuple[float, ...]:
        """Scales used for an input of ``size`` (see ``min_view_size``)."""
        return tuple(
            s for s in self.scales if s == self.gate_scale
            or min(scaled_size(size, s)) >= self.min_view_size)

    def _predictor(self, model, method: str = 'inference'):
        """``model.<method>``, autocast if ``amp`` (teacher/anchor only)."""
        forward = getattr(model, method)

        def predict(images, metas):
            with torch.autocast(images.device.type, enabled=self.amp):
                return forward(images, metas)
        return predict

    def slide_cfg(self, model) -> Optional[dict]:
        """``model``'s slide ``test_cfg`` if its windows are batched."""
        cfg = getattr(model, 'test_cfg', None) or {}
        if self.batch_windows and cfg.get('mode') == 'slide':
            return cfg
        return None

    def teacher_views(self, inputs: torch.Tensor, metas: Metas
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mean teacher probabilities over the views, and the gate view's."""
        align = getattr(self.segmentor, 'align_corners', False)
        scales = self.view_scales(inputs.shape[-2:])
        slide = self.slide_cfg(self.teacher)
        if slide is not None:
            return windowed_multi_view_probs(
                self._predictor(self.teacher, 'encode_decode'), inputs,
                metas, scales, slide['crop_size'], slide['stride'],
                self.flip, self.gate_scale, self.window_batch, align)
        return multi_view_probs(
            self._predictor(self.teacher), inputs, metas, scales, self.flip,
            keep_scale=self.gate_scale, fast=self.fast_views,
            view_batch=self.view_batch, align_corners=align)

    @torch.no_grad()
    def anchor_gate(self, inputs: torch.Tensor, metas: Metas) -> torch.Tensor:
        """(N, 1, H, W): where the anchor's confidence on the gate view
        exceeds ``anchor_threshold`` (the teacher's gate view is used there,
        the mean over views elsewhere)."""
        align = getattr(self.segmentor, 'align_corners', False)
        confidence = view_probs(self._predictor(self.anchor), inputs, metas,
                                self.gate_scale, False, align).amax(
                                    dim=1, keepdim=True)
        return confidence > self.anchor_threshold

    @torch.no_grad()
    def teacher_prediction(self, inputs: torch.Tensor,
                           metas: Metas) -> torch.Tensor:
        """Gated teacher probabilities (N, C, H, W) (steps 1-3 above)."""
        gate = self.anchor_gate(inputs, metas)
        mean_probs, gate_probs = self.teacher_views(inputs, metas)
        return torch.where(gate, gate_probs, mean_probs)

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

    @torch.no_grad()
    def forward_logits(self, inputs: torch.Tensor,
                       metas: Metas) -> torch.Tensor:
        """One forward of the teacher (no views, no anchor gate, no
        prompt in SVDP): the model CoTTA reports, at Source cost."""
        return self._predictor(self.teacher)(inputs, metas)

    def after_update(self) -> None:
        super().after_update()  # EMA teacher first, as the official code
        self.restore_to_source(self.restore_prob)
