"""ViDA: homeostatic low-/high-rank visual domain adapters, mean teacher.

Liu et al., "ViDA: Homeostatic Visual Domain Adapter for Continual Test Time
Adaptation", ICLR 2024 (arXiv 2306.04344); official classification code
github.com/Yangsenqiao/vida (``imagenet/vida.py``, ``cifar/vida.py``; no
segmentation code). Layers and injection: ``tta_seg/models/vida.py``.

Per batch (N, 3, H, W), on a :class:`MeanTeacherAdapter` whose three copies
carry ViDA branches (rank_low=1, rank_high=128 as the code):

1. uncertainty U (N,): the teacher (scales 1) predicts ``uncertainty_views``
   = 10 augmented views; U = 0.1 * mean over (C, H, W) of the variance of
   its logits (N, C, H, W) over the views (code: ``var`` of logits x 0.1);
2. HKA: U >= Theta (0.2): lambda_h = 1 + U, lambda_l = 1 - U; else
   lambda_h = 1 - U, lambda_l = 1 + U; set on teacher and student;
3. teacher logits on the original input: the reported prediction and the
   target of the consistency loss ``-sum_c softmax(t)_c log softmax(s)_c``
   (paper Eq. 6, CIFAR code; ``loss='symmetric'``: ImageNet code's mean of
   both directions), mean over pixels;
4. optimizer step on the ViDA parameters; EMA teacher of them
   (``alpha_teacher``); optional stochastic restoration (``restore_prob``).

Choices and deviations (paper and code leave them open or differ):

* Trainable: ViDA parameters only, as the paper describes. The released
  code also updates every source parameter at a second learning rate
  (ImageNet SGD 5e-7 / ViDA 2e-7; CIFAR Adam 1e-4 / 1e-5): not offered.
  The EMA runs over the trainable (ViDA) parameters only (frozen weights
  stay bit-exact), so ``alpha_teacher`` is the code's ViDA momentum
  ``MT_ViDA`` (0.999 in CIFAR, 0.8 in the ImageNet yaml; default 0.999).
  The anchor copy serves the optional restoration only.
* U per sample (the paper: "distribution shift of each sample"); the code
  takes one mean over the batch. Identical at the protocol's batch 1.
* The augmented teacher views run with lambda = 1 (the branches' sum, as in
  warm-up); the code leaves the previous batch's factors in place, which
  have no per-sample meaning for a new batch.
* The code's ``set_scale`` sets lambda_l only (an ``if/elif`` on modules
  that all carry both factors), so lambda_h stays 1 there; here both are set
  as the paper's Eq. 5 (``adaptive_high=False`` gives the code's rule).
* Views are photometric (colour jitter without hue, blur, noise) plus a
  horizontal flip undone on the logits; the code's random affine is left
  out: it would move pixels between views of a dense prediction.
* The code restores 10 % of the weights per step on CIFAR only
  (``restore_prob=0.1``), not on ImageNet (default 0 here).
* Learning rate: no segmentation value is published; configs use Adam 1e-4
  for the new adapter weights (as EcoTTA's configs here), not tuned.
"""
from typing import Tuple, Union

import torch
from mmengine.config import ConfigDict
from torch import Tensor, nn

from tta_seg.models.norm import freeze_all_but
from tta_seg.models.vida import (inject_vida, load_vida_weights,
                                 set_vida_scales, vida_parameters,
                                 view_variance)
from tta_seg.registry import MODELS
from tta_seg.utils.checkpoint import load_source_weights
from .base import Losses, Metas
from .cotta import soft_cross_entropy
from .mean_teacher import MeanTeacherAdapter

LOSSES = ('ce', 'symmetric')


def hka_scales(uncertainty: Tensor, threshold: float,
               adaptive_high: bool = True) -> Tuple[Tensor, Tensor]:
    """Homeostatic Knowledge Allotment: ``(lambda_l, lambda_h)`` per sample."""
    above = uncertainty >= threshold
    low = torch.where(above, 1 - uncertainty, 1 + uncertainty)
    high = torch.where(above, 1 + uncertainty, 1 - uncertainty)
    return low, (high if adaptive_high else torch.ones_like(high))


def consistency_loss(student: Tensor, teacher: Tensor,
                     kind: str = 'ce') -> Tensor:
    """Soft cross-entropy of student logits against teacher logits."""
    loss = soft_cross_entropy(student, teacher.softmax(dim=1))
    if kind == 'symmetric':
        loss = 0.5 * loss + 0.5 * soft_cross_entropy(
            teacher, student.softmax(dim=1))
    return loss


@MODELS.register_module()
class ViDA(MeanTeacherAdapter):
    """ViDA adapter (see the module docstring).

    Args:
        segmentor (dict | nn.Module): Source segmentor (without ViDAs).
        rank_low, rank_high (int): Adapter widths (code: 1 and 128).
        vida_targets (str, optional): Regex of injected module names.
        vida_checkpoint (str, optional): Warm-up weights (``*vida*`` keys).
        uncertainty_views (int): Augmented teacher views (code: 10).
        uncertainty_scale (float): Factor on the mean variance (code: 0.1).
        uncertainty_threshold (float): Theta (ImageNet code: 0.2).
        adaptive_high (bool): Also set lambda_h (paper) or keep it 1 (code).
        loss (str): ``'ce'`` (paper) or ``'symmetric'`` (ImageNet code).
        restore_prob (float): Stochastic restoration (CIFAR code: 0.1).
        source_checkpoint (str, optional): Source weights (before ViDAs).
        **kwargs: :class:`MeanTeacherAdapter` arguments.
    """

    def __init__(self, segmentor: Union[dict, nn.Module], rank_low: int = 1,
                 rank_high: int = 128, vida_targets: str = None,
                 vida_checkpoint: str = None, uncertainty_views: int = 10,
                 uncertainty_scale: float = 0.1,
                 uncertainty_threshold: float = 0.2,
                 adaptive_high: bool = True, loss: str = 'ce',
                 restore_prob: float = 0.0, source_checkpoint: str = None,
                 allow_unsafe_checkpoint: bool = False, **kwargs) -> None:
        if loss not in LOSSES:
            raise ValueError(f'loss must be one of {LOSSES}, got {loss!r}')
        if uncertainty_views < 2 or min(rank_low, rank_high) < 1:
            raise ValueError('ViDA needs uncertainty_views >= 2 and ranks '
                             '>= 1')
        if isinstance(segmentor, dict):
            segmentor = MODELS.build(ConfigDict(segmentor))
        if source_checkpoint:  # source keys only: load before injecting
            load_source_weights(segmentor, source_checkpoint,
                                allow_unsafe_checkpoint)
        inject_vida(segmentor, rank_low, rank_high, vida_targets)
        if vida_checkpoint:
            load_vida_weights(segmentor, vida_checkpoint,
                              allow_unsafe_checkpoint)
        super().__init__(segmentor=segmentor,
                         allow_unsafe_checkpoint=allow_unsafe_checkpoint,
                         **kwargs)
        self.uncertainty_views = uncertainty_views
        self.uncertainty_scale = uncertainty_scale
        self.uncertainty_threshold = uncertainty_threshold
        self.adaptive_high, self.loss, self.restore_prob = (adaptive_high,
                                                            loss, restore_prob)
        self.counters['uncertain_samples'] = 0  # U >= Theta: high rank up

    def configure_model(self) -> None:
        freeze_all_but(self, vida_parameters(self.segmentor))

    @torch.no_grad()
    def uncertainty(self, inputs: Tensor, metas: Metas) -> Tensor:
        """U (N,) of the teacher (at lambda = 1) over augmented views."""
        set_vida_scales(self.teacher, 1.0, 1.0)
        return self.uncertainty_scale * view_variance(
            self.teacher.inference, inputs, metas, self.uncertainty_views,
            self.segmentor.data_preprocessor)

    def allot(self, inputs: Tensor, metas: Metas) -> Tensor:
        """Set the HKA factors of teacher and student for this batch;
        return the uncertainty (N,)."""
        unc = self.uncertainty(inputs, metas)
        low, high = hka_scales(unc, self.uncertainty_threshold,
                               self.adaptive_high)
        for model in (self.teacher, self.segmentor):
            set_vida_scales(model, low, high)
        return unc

    def adapt_loss(self, inputs: Tensor,
                   metas: Metas) -> Tuple[Tensor, Losses]:
        unc = self.allot(inputs, metas)
        self.count('uncertain_samples',
                   int((unc >= self.uncertainty_threshold).sum()))
        with torch.no_grad():
            target = self.teacher.inference(inputs, metas)
        logits = self.segmentor.inference(inputs, metas)
        return target, dict(loss_consistency=consistency_loss(
            logits, target, self.loss))

    def predict_logits(self, inputs: Tensor, metas: Metas) -> Tensor:
        """The teacher under this batch's HKA factors, without adapting."""
        self.allot(inputs, metas)
        with torch.no_grad():
            return self.teacher.inference(inputs, metas)

    @torch.no_grad()
    def forward_logits(self, inputs: Tensor, metas: Metas) -> Tensor:
        """One forward of the teacher at lambda = 1 (the HKA factors need
        the uncertainty views this prediction is meant to skip)."""
        set_vida_scales(self.teacher, 1.0, 1.0)
        return self.teacher.inference(inputs, metas)

    @torch.no_grad()
    def update_teacher(self) -> None:
        """EMA of the trainable (ViDA) parameters only (module docstring)."""
        student = dict(self.segmentor.named_parameters())
        alpha = self.alpha_teacher
        for name, teacher in self.teacher.named_parameters():
            if student[name].requires_grad:
                teacher.mul_(alpha).add_(student[name], alpha=1.0 - alpha)

    def after_update(self) -> None:
        super().after_update()
        self.restore_to_source(self.restore_prob)
