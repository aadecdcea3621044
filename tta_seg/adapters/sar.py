"""SAR: sharpness-aware and reliable entropy minimisation.

Niu et al., "Towards Stable Test-Time Adaptation in Dynamic Wild World",
ICLR 2023 (github.com/mr-eggplant/SAR, ``sar.py``). Per step, with logits
(N, C, H, W), pixel entropies E (N, H, W) and margin E0 = 0.4 ln C:

1. forward; ``R1 = E1 < E0``; backward ``mean(E1[R1])``; SAM first step
   (``w + rho g/||g||``; rho and SGD momentum 0.9 from the ``SAM`` config);
2. forward at the perturbed weights; ``R2 = R1 & (E2 < E0)`` (SAR's code
   keeps the first pass's samples, then filters again); backward
   ``loss2 = mean(E2[R2])``; SAM second step (restore, base step);
3. recovery: ``ema = 0.9 ema + 0.1 loss2`` (SAR's code: the second loss;
   buffers ``loss_ema``, ``ema_count``); below ``reset_constant`` the
   adapter resets to the source and the ``recoveries`` counter (a
   diagnostic that survives resets, like ``skipped_updates``; the test loop
   stores it per record) counts it.

The prediction is the first forward of the last step, as in SAR's code.
Choices and deviations:

* Pixels replace samples (sets and means over all pixels of the batch).
* ``excluded_prefixes``: SAR freezes the top layers (ResNet layer4, ViT
  blocks 9-11 and final norm); mmseg defaults: ``backbone.layer4``
  (ResNet), ``backbone.layers.3`` (MiT's last stage and its norm),
  ``decode_head`` (the classifier).
* ``norm_stats='batch'`` (default, SAR's code: BN normalises with the test
  batch's statistics, :class:`MixStatBN` prior 0 as TENT 'original'; at
  batch size 1, one image's over all its pixels). ``'source'`` keeps the
  source statistics, an option (it collapsed on real ACDC images with a
  Cityscapes model; ``configs/sar/README.md``). Eval mode otherwise, so
  both SAM passes see the same network
  (SAR's ``model.train()`` has no dropout to switch on in its models).
* Learning rate (configs; SGD momentum 0.9). SAR's rule (``main.py``):
  ResNet-50 (BN or GN) ``lr = 0.00025 * 2 * bs / 64`` for bs < 32, else
  0.00025; ViT-B/16 (LN) ``lr = 0.001 * bs / 64``; its batch-size-1
  experiments double that, so at batch 1: ResNet ``0.00025 / 16 =
  1.5625e-5``, ViT ``0.001 / 32 = 3.125e-5``. Used: the batch-64 values,
  2.5e-4 (BN models) and 1e-3 (LayerNorm models), 16x and 32x the batch-1
  rule: one image's loss averages every reliable pixel (~30k at the
  embedded 256x128), far less noisy than one sample. Not tuned.
* ``reset_constant=0.2`` nats: SAR's value (its code compares with a
  literal 0.2), calibrated on ImageNet models. A segmentation model more
  confident than those (a healthy loss EMA below 0.2) is reset every few
  steps, which leaves SAR at BN-adapt's numbers: watch the ``recoveries``
  counter and lower the constant for your model (``reset_constant=0``
  switches recovery off). The measurements behind this are in
  ``configs/sar/README.md``.
* The EMA restarts after a recovery (SAR's code keeps the low EMA, which
  re-triggers a reset at each step until it rises again).
* No step when no pixel is reliable (SAR's code would still take a
  momentum step); if the second pass keeps none, the weights are restored.
"""
import math
from typing import Sequence

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch.nn.modules.batchnorm import _BatchNorm

from tta_seg.optim import SAM
from tta_seg.models.losses import reliable_entropy
from tta_seg.models.norm import (NORM_TYPES, MixStatBN, freeze_all_but,
                                 norm_affine_params, replace_norm_layers)
from tta_seg.registry import MODELS
from .base import BaseAdapter, Metas

#: Top layers left frozen: mmseg ResNet / MiT last stage, and the head.
DEFAULT_EXCLUDED = ('backbone.layer4', 'backbone.layers.3', 'decode_head')
NORM_STATS = ('source', 'batch')


def is_excluded(name: str, prefixes: Sequence[str]) -> bool:
    """Whether dotted ``name`` lies under one of the module ``prefixes``."""
    return any(name == p or name.startswith(p + '.') for p in prefixes)


@MODELS.register_module()
class SAR(BaseAdapter):
    """Sharpness-aware reliable entropy minimisation with model recovery.

    Args:
        margin_factor (float): Reliable pixels have entropy < this * ln C.
        reset_constant (float): Reset when the loss EMA falls below (nats).
        ema_decay (float): Weight of the old value in the loss EMA.
        excluded_prefixes (sequence of str): Module-name prefixes (relative
            to the segmentor) whose norm parameters stay frozen.
        norm_stats (str): ``'batch'`` (SAR's code) or ``'source'`` BN
            statistics.
        **kwargs: :class:`BaseAdapter` arguments; ``optim_wrapper`` must
            build a :class:`SAM` optimizer.
    """

    def __init__(self, margin_factor: float = 0.4,
                 reset_constant: float = 0.2, ema_decay: float = 0.9,
                 excluded_prefixes: Sequence[str] = DEFAULT_EXCLUDED,
                 norm_stats: str = 'batch', **kwargs) -> None:
        if norm_stats not in NORM_STATS:
            raise ValueError(f'norm_stats must be one of {NORM_STATS}, '
                             f'got {norm_stats!r}')
        super().__init__(**kwargs)
        self.margin_factor = margin_factor
        self.reset_constant = reset_constant
        self.ema_decay = ema_decay
        self.excluded_prefixes = tuple(excluded_prefixes)
        self.norm_stats = norm_stats
        self.counters['recoveries'] = 0
        self.register_buffer('loss_ema', torch.zeros(()))
        self.register_buffer('ema_count', torch.zeros((), dtype=torch.long))

    @property
    def num_recoveries(self) -> int:
        """Resets to the source triggered by a low loss EMA."""
        return self.counters['recoveries']

    def configure_model(self) -> None:
        layer_types = NORM_TYPES
        if self.norm_stats == 'batch':
            replace_norm_layers(self.segmentor,
                                lambda bn: MixStatBN.from_bn(bn, 0.0),
                                _BatchNorm)
            layer_types = NORM_TYPES + (MixStatBN, )
        params = [p for name, p in norm_affine_params(self.segmentor,
                                                      layer_types)
                  if not is_excluded(name, self.excluded_prefixes)]
        if not params:
            raise RuntimeError('SAR found no norm affine parameter outside '
                               f'{self.excluded_prefixes}')
        freeze_all_but(self, params)

    def build_optim_wrapper(self) -> OptimWrapper:
        wrapper = super().build_optim_wrapper()
        if wrapper is None or not isinstance(wrapper.optimizer, SAM):
            raise TypeError("SAR needs optim_wrapper=dict(optimizer=dict("
                            "type='SAM', base_optimizer=dict(type='SGD', "
                            "...)))")
        return wrapper

    def forward_and_adapt(self, inputs: torch.Tensor,
                          metas: Metas) -> torch.Tensor:
        with torch.enable_grad():
            for _ in range(self.steps):
                logits = self.segmentor.inference(inputs, metas)
                self.sam_update(inputs, metas, logits)
        return logits

    def sam_update(self, inputs: torch.Tensor, metas: Metas,
                   logits: torch.Tensor) -> bool:
        """Filtered two-pass SAM update; returns whether a step was taken."""
        margin = self.margin_factor * math.log(logits.shape[1])
        loss, reliable = reliable_entropy(logits, margin)
        if not reliable.any():
            return False
        if not torch.isfinite(loss):
            self.count('skipped_updates')
            return False
        sam = self.optim_wrapper.optimizer
        self.optim_wrapper.backward(loss)
        sam.first_step(zero_grad=True)
        logits_perturbed = self.segmentor.inference(inputs, metas)
        loss2, still = reliable_entropy(logits_perturbed, margin, reliable)
        if not (still.any() and self.update(dict(loss_entropy=loss2))):
            sam.unperturb()
            self.optim_wrapper.zero_grad()
            return False
        self.track_recovery(loss2.detach())
        return True

    @torch.no_grad()
    def track_recovery(self, loss: torch.Tensor) -> None:
        """Update the loss EMA; reset to the source if it fell too low."""
        if self.ema_count == 0:
            self.loss_ema.copy_(loss)
        else:
            self.loss_ema.mul_(self.ema_decay).add_(
                loss.to(self.loss_ema), alpha=1 - self.ema_decay)
        self.ema_count.add_(1)
        if self.loss_ema < self.reset_constant:
            recoveries = self.count('recoveries')
            print_log(f'SAR: loss EMA {self.loss_ema.item():.4f} < '
                      f'{self.reset_constant}: reset to the source '
                      f'({recoveries} so far)', logger='current')
            self.reset()
