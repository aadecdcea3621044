"""Sparse visual domain prompts (SVDP): placement, MC-dropout uncertainty
and prompted multi-view teacher predictions.

Yang et al., "Exploring Sparse Visual Prompt for Domain Adaptive Dense
Prediction", AAAI 2024 (github.com/Anonymous-012/SVDP,
``mmseg/models/backbones/prompt.py``, ``mmseg/apis/test.py``). Used by
:class:`tta_seg.adapters.svdp.SVDP`.

A :class:`SparsePrompt` holds ``k`` learnable pixel values (k, 3). Given an
uncertainty map U (N, H, W) and images x (N, 3, h, w) it resizes U to
(h, w), ranks each image's pixels by U (descending; ties: lower flat index
first) and adds value ``j`` to the pixel of rank ``j``::

    prompt[n, :, pixel_of_rank(j, U_n)] = values[j]     j < min(k, h*w)
    x + prompt                                            (zero elsewhere)

The official code ranks ascending and gives ``patch[i]`` the i-th of the k
largest, i.e. its ``patch[0]`` is our ``values[k-1]``: a relabelling of
i.i.d.-initialised parameters.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .augment_views import (Predictor, logits_to_probs, predict_chunked,
                            resize_to, scaled_size, view_metas)


def top_uncertain_pixels(uncertainty: Tensor, k: int) -> Tensor:
    """Flat indices (N, k) of each map's k largest values (N, h, w),
    largest first; ties keep the lower flat index first."""
    order = uncertainty.flatten(1).sort(dim=1, descending=True, stable=True)
    return order.indices[:, :k]


class SparsePrompt(nn.Module):
    """``num_prompts`` pixel prompts placed at the most uncertain pixels.

    Args:
        num_prompts (int): k, the number of prompted pixels per image.
        channels (int): Image channels.
        init_std (float): Values start at ``init_std * randn`` (0: zeros,
            the prompted image equals the image; 1: the official init).
    """

    def __init__(self, num_prompts: int, channels: int = 3,
                 init_std: float = 0.0) -> None:
        super().__init__()
        if num_prompts < 1:
            raise ValueError(f'num_prompts must be >= 1, got {num_prompts}')
        self.values = nn.Parameter(
            torch.randn(num_prompts, channels) * init_std)

    def forward(self, images: Tensor, uncertainty: Tensor) -> Tensor:
        """``images`` (N, C, h, w) plus the prompt placed by
        ``uncertainty`` (N, H, W), resized bilinearly to (h, w)."""
        num, channels, height, width = images.shape
        uncertainty = resize_to(uncertainty[:, None], (height, width))[:, 0]
        k = min(self.values.shape[0], height * width)
        index = top_uncertain_pixels(uncertainty, k)[:, None]
        index = index.expand(num, channels, k)
        values = self.values[:k].t().to(images.dtype)
        prompt = images.new_zeros(num, channels, height * width).scatter(
            2, index, values.expand(num, channels, k))
        return images + prompt.view_as(images)


def find_classifier(segmentor: nn.Module, name: str) -> nn.Module:
    """Submodule ``name`` (features -> logits), or a ValueError naming
    ``classifier_name``."""
    try:
        return segmentor.get_submodule(name)
    except AttributeError:
        raise ValueError(
            f'SVDP draws MC-dropout samples at the input of the final '
            f'classifier (features (N, D, h, w) -> logits (N, C, h, w)); '
            f'{type(segmentor).__name__} has no submodule {name!r}: pass '
            'classifier_name=<its dotted name>') from None


def mc_dropout_probs(predict: Predictor, classifier: nn.Module,
                     inputs: Tensor, metas: List[dict], samples: int,
                     p: float, align_corners: bool = False) -> Tensor:
    """Softmax (S, N, C, H, W) of ``samples`` forwards with dropout ``p``
    (element-wise, train mode) on the classifier's input.

    One forward captures that input; the classifier alone is re-run per
    sample (the official code also shares the backbone). If the classifier
    runs more than once per forward (slide crops), every sample is a full
    forward with the dropout in a pre-hook (same law, more cost).
    """
    size, feats = inputs.shape[-2:], []
    hook = classifier.register_forward_hook(
        lambda module, args, out: feats.append(args[0]))
    try:
        predict(inputs, metas)
    finally:
        hook.remove()
    if len(feats) == 1:
        return torch.stack([
            logits_to_probs(classifier(F.dropout(feats[0], p, True)), size,
                            align_corners) for _ in range(samples)])
    hook = classifier.register_forward_pre_hook(
        lambda module, args: (F.dropout(args[0], p, True), ) + args[1:])
    try:
        return torch.stack([
            logits_to_probs(predict(inputs, metas), size, align_corners)
            for _ in range(samples)])
    finally:
        hook.remove()


def pixel_uncertainty(probs: Tensor) -> Tensor:
    """Sum over classes of the variance over samples (population, as
    ``np.var``): (S, N, C, H, W) -> (N, H, W)."""
    return probs.var(dim=0, unbiased=False).sum(dim=1)


def prompted_multi_view_probs(
        predict: Predictor, inputs: Tensor, metas: List[dict],
        prompt: Callable[[Tensor], Tensor], scales: Sequence[float],
        flip: bool = True, keep_scale: Optional[float] = None,
        fast: bool = True, view_batch: Optional[int] = None,
        align_corners: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
    """:func:`~tta_seg.models.augment_views.multi_view_probs` with
    ``prompt`` applied to each resized view BEFORE it is flipped: a flipped
    view carries the flipped prompt, as the official ``update_mask``."""
    num, size = inputs.shape[0], inputs.shape[-2:]
    total, kept, count = 0.0, None, 0
    for scale in scales:
        view = prompt(resize_to(inputs, scaled_size(size, scale),
                                align_corners))
        views = [view, view.flip(-1)] if flip else [view]
        batches = [torch.cat(views)] if fast else views
        logits = torch.cat([
            predict_chunked(predict, batch, view_metas(
                list(metas) * (batch.shape[0] // num), view.shape[-2:]),
                view_batch) for batch in batches])
        probs = logits_to_probs(logits, size, align_corners).split(num)
        probs = [prob.flip(-1) if i else prob for i, prob in enumerate(probs)]
        if scale == keep_scale and kept is None:
            kept = probs[0]
        total = total + sum(probs)
        count += len(probs)
    return total / count, kept
