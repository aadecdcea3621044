"""TENT: fully test-time adaptation by entropy minimisation.

Wang et al., "Tent: Fully Test-time Adaptation by Entropy Minimization",
ICLR 2021 (github.com/DequanWang/tent), and the variant used in CoTTA's
segmentation code (github.com/qinenergy/cotta, ``tent.py`` of the ACDC
experiments), which produced the published TENT-continual row.

Two variants, chosen by ``variant``:

* ``'cotta'`` (default, the code behind the published Cityscapes -> ACDC
  numbers): loss = cross-entropy against the model's own argmax; trainable =
  affine parameters of *every* norm layer (LayerNorm, BN, GroupNorm); the
  model stays in eval mode, so BN keeps its source running statistics.
  Adam, lr 6e-5 / 8 = 7.5e-6.
* ``'original'`` (the paper): loss = mean per-pixel entropy; trainable = BN
  affine parameters only; BN normalises with test-batch statistics
  (:class:`MixStatBN` with ``prior=0``; the source running statistics are
  kept, not discarded, so ``reset`` is exact). Deviation: on a 1x1 map at
  batch size 1 (ASPP image pool) the source statistics are used.

The reported prediction is the forward pass computed before the update of
that batch, as in both official codes.
"""
from typing import Tuple

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from tta_seg.models.losses import self_cross_entropy, softmax_entropy
from tta_seg.models.norm import (NORM_TYPES, MixStatBN, freeze_all_but,
                                 norm_affine_params, replace_norm_layers)
from tta_seg.registry import MODELS
from .base import BaseAdapter, Losses, Metas

VARIANTS = ('cotta', 'original')


@MODELS.register_module()
class TENT(BaseAdapter):
    """Norm-affine adaptation by entropy or self-cross-entropy.

    Args:
        variant (str): ``'cotta'`` or ``'original'`` (see module docstring).
        **kwargs: :class:`BaseAdapter` arguments (``optim_wrapper`` needed).
    """

    def __init__(self, variant: str = 'cotta', **kwargs) -> None:
        if variant not in VARIANTS:
            raise ValueError(f'TENT variant must be one of {VARIANTS}, '
                             f'got {variant!r}')
        super().__init__(**kwargs)
        self.variant = variant

    def configure_model(self) -> None:
        if self.variant == 'original':
            replace_norm_layers(self.segmentor,
                                lambda bn: MixStatBN.from_bn(bn, 0.0),
                                _BatchNorm)
            layer_types = (_BatchNorm, MixStatBN)
        else:
            layer_types = NORM_TYPES
        params = [p for _, p in norm_affine_params(self.segmentor,
                                                   layer_types)]
        if not params:
            raise RuntimeError('TENT found no norm-layer affine parameter '
                               'to adapt in this segmentor')
        freeze_all_but(self, params)

    def adapt_loss(self, inputs: torch.Tensor,
                   metas: Metas) -> Tuple[torch.Tensor, Losses]:
        logits = self.segmentor.inference(inputs, metas)
        if self.variant == 'original':
            return logits, dict(loss_entropy=softmax_entropy(logits))
        return logits, dict(loss_self_ce=self_cross_entropy(logits))
