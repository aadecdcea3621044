"""Supervised losses for training the source models.

mmseg 1.2's ``CrossEntropyLoss(class_weight=...)`` fails on any label map
that holds the ignore index (it looks every label up in the weight vector,
255 included, to compute its average factor; open-mmlab/mmsegmentation
issues #3492 and #3734), so a class-weighted training on Cityscapes-style
labels needs its own loss.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from tta_seg.registry import MODELS


@MODELS.register_module()
class WeightedCrossEntropyLoss(nn.Module):
    """Class-weighted cross-entropy over the labelled pixels.

    ``loss = sum_i w[y_i] * CE_i / sum_i w[y_i]`` over the pixels ``i``
    whose label is not ``ignore_index`` (PyTorch's weighted mean; with all
    weights 1 it is mmseg's ``CrossEntropyLoss(avg_non_ignore=True)``).

    Args:
        class_weight (sequence of float): One weight per class.
        loss_weight (float): Factor on the loss.
        loss_name (str): Key of the loss in the loss dict (mmseg uses the
            ``loss_`` prefix to sum it into the total).
    """

    def __init__(self, class_weight: Sequence[float],
                 loss_weight: float = 1.0, loss_name: str = 'loss_ce'):
        super().__init__()
        weights = torch.as_tensor(class_weight, dtype=torch.float32)
        if weights.ndim != 1 or not len(weights) or (weights < 0).any() \
                or not weights.sum() > 0:
            raise ValueError('class_weight: expected one non-negative weight '
                             f'per class, some positive; got {class_weight}')
        self.register_buffer('class_weight', weights, persistent=False)
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                ignore_index: int = 255, **kwargs) -> torch.Tensor:
        if cls_score.shape[1] != len(self.class_weight):
            raise ValueError(
                f'class_weight has {len(self.class_weight)} weights, the '
                f'logits {cls_score.shape[1]} classes')
        if weight is not None:
            raise NotImplementedError(
                'per-pixel weights (a sampler) are not supported')
        return self.loss_weight * F.cross_entropy(
            cls_score, label, weight=self.class_weight.to(cls_score),
            ignore_index=ignore_index)

    @property
    def loss_name(self) -> str:
        return self._loss_name
