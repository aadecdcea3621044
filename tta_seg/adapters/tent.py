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

Module modes: official TENT calls ``model.train()`` (BN with batch
statistics, and any dropout active). Its released code adapts robustbench's
WRN-28-10 on CIFAR-10-C, whose dropout rate is 0 (as torchvision's ResNet-50
of the ImageNet results has no dropout), so there ``train()`` only switches
BN to batch statistics, which :class:`MixStatBN` does here in any mode.
mmseg models do have dropout (decode heads: ``Dropout2d(0.1)``; MiT: drop
path and attention dropout), so the default keeps every module in eval
mode: the reported prediction is deterministic and both variants see the
same network as Source. ``train_mode=True`` (variant ``'original'``
only) runs the segmentor in train mode, the literal ``model.train()``.
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
        train_mode (bool): Segmentor in train mode (dropout active), as the
            official ``model.train()``; only with ``variant='original'``.
        **kwargs: :class:`BaseAdapter` arguments (``optim_wrapper`` needed).
    """

    def __init__(self, variant: str = 'cotta', train_mode: bool = False,
                 **kwargs) -> None:
        if variant not in VARIANTS:
            raise ValueError(f'TENT variant must be one of {VARIANTS}, '
                             f'got {variant!r}')
        if train_mode and variant != 'original':
            raise ValueError("train_mode=True is the original TENT's "
                             "model.train(); variant 'cotta' keeps the "
                             'model (and its BN statistics) in eval mode')
        super().__init__(**kwargs)
        self.variant = variant
        self.train_mode = train_mode

    def set_modes(self) -> None:
        # every BN is a mode-independent MixStatBN by now (configure_model)
        self.segmentor.train(self.train_mode)

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
