"""Unsupervised losses on segmentation logits of shape (N, C, H, W)."""
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
