"""Source: the unadapted source model (the reference row of every table)."""
import torch

from tta_seg.registry import MODELS
from .base import BaseAdapter, Metas


@MODELS.register_module()
class Source(BaseAdapter):
    """No adaptation: plain inference of the source segmentor."""

    def forward_and_adapt(self, inputs: torch.Tensor,
                          metas: Metas) -> torch.Tensor:
        return self.predict_logits(inputs, metas)
