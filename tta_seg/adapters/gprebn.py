"""GpreBN: test-time BN with training-form gradients, by entropy.

Yang et al., "Test-time Batch Normalization", arXiv 2205.10210, 2022 (no
official code). Every BatchNorm (found by base class) is replaced by
:class:`~tta_seg.models.gprebn.GpreBNLayer`: its forward value normalises
with the dataset-level (source running) statistics, its gradient has the
form of training-mode BN. Trainable: the BN affine parameters (gamma,
beta); loss: mean per-pixel entropy of ``softmax(logits)`` (N, C, H, W);
Adam. Other norm layers (LayerNorm of SegFormer's MiT) stay frozen, as in
the paper, so on SegFormer only the head's single BN adapts.

The prediction is the forward pass before the update of that batch (as in
TENT). Layer-level choices (which dataset statistics, the 1x1-map case)
are documented in :mod:`tta_seg.models.gprebn`.
"""
from typing import Tuple

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from tta_seg.models.gprebn import GpreBNLayer
from tta_seg.models.losses import softmax_entropy
from tta_seg.models.norm import (freeze_all_but, norm_affine_params,
                                 replace_norm_layers)
from tta_seg.registry import MODELS
from .base import BaseAdapter, Losses, Metas


@MODELS.register_module()
class GpreBN(BaseAdapter):
    """Entropy minimisation on the affine parameters of GpreBN layers.

    Args:
        **kwargs: :class:`BaseAdapter` arguments (``optim_wrapper`` needed).
    """

    def configure_model(self) -> None:
        replace_norm_layers(self.segmentor, GpreBNLayer.from_bn, _BatchNorm)
        params = [p for _, p in norm_affine_params(self.segmentor,
                                                   GpreBNLayer)]
        if not params:
            raise RuntimeError('GpreBN found no affine BatchNorm to adapt '
                               'in this segmentor')
        freeze_all_but(self, params)

    def adapt_loss(self, inputs: torch.Tensor,
                   metas: Metas) -> Tuple[torch.Tensor, Losses]:
        logits = self.segmentor.inference(inputs, metas)
        return logits, dict(loss_entropy=softmax_entropy(logits))
