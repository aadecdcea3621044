"""Unsupervised losses on segmentation logits of shape (N, C, H, W)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F


def entropy_map(logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel Shannon entropy (nats) of ``softmax(logits)`` over dim 1.

    Args:
        logits (Tensor): (N, C, H, W) logits.

    Returns:
        Tensor: (N, H, W) entropies.
    """
    log_p = F.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1)


def softmax_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean per-pixel entropy: TENT's loss."""
    return entropy_map(logits).mean()


def self_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the model's own (detached) argmax.

    The loss of TENT in CoTTA's segmentation code.
    """
    return F.cross_entropy(logits, logits.detach().argmax(dim=1))


def reliable_entropy(logits: torch.Tensor, margin: float,
                     keep: Optional[torch.Tensor] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mean entropy of the pixels below ``margin`` (and inside ``keep``).

    The reliable-entropy filter of EATA, SAR (before and after the SAM
    perturbation) and EcoTTA (margin 0.4 ln C).

    Args:
        logits (Tensor): (N, C, H, W) logits.
        margin (float): Entropy margin E0 (nats).
        keep (Tensor, optional): (N, H, W) bool, pixels still eligible.

    Returns:
        tuple: the loss (0 if no pixel is selected) and the (N, H, W) mask.
    """
    ent = entropy_map(logits)
    mask = ent < margin
    if keep is not None:
        mask = mask & keep
    loss = (ent * mask).sum() / mask.sum().clamp(min=1)
    return loss, mask
