"""Multi-scale / horizontal-flip test-time views of a segmentor.

Used by CoTTA's teacher (augmentation-averaged pseudo labels). A *view* is a
pair ``(scale, flipped)``. For an input batch ``inputs`` of shape
(N, 3, H, W) (already normalised by the data preprocessor) a view is::

    x = bilinear_resize(inputs, (int(H*s + .5), int(W*s + .5)))   # s != 1
    x = x.flip(-1)                                          # if flipped
    logits = predict(x, metas_of_x)                         # (N, C, h, w)
    probs = softmax(bilinear_resize(logits, (H, W)), dim=1) # (N, C, H, W)
    probs = probs.flip(-1)                                  # if flipped

i.e. logits are brought back to the input size *before* the softmax and
flipped views are un-flipped, as mmseg 0.x's ``inference`` did in CoTTA's
code. :func:`multi_view_probs` averages ``probs`` over all views.

Two equivalent evaluation orders:

* straightforward (``fast=False``): one forward per view (batch N);
* fast (``fast=True``): per scale, the view and its flip are stacked into
  one forward of batch 2N (optionally chunked by ``view_batch`` images).
  This is exact up to float rounding whenever the model's output for an
  image does not depend on the other images of the batch (eval-mode BN,
  LayerNorm). Different scales are *not* stacked: padding them to a common
  size would change convolution borders and attention, so results would
  differ.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

#: ``predict(images, metas) -> logits`` at the images' size (mmseg 1.x
#: ``segmentor.inference``).
Predictor = Callable[[Tensor, List[dict]], Tensor]
Size = Tuple[int, int]


def scaled_size(size: Sequence[int], scale: float) -> Size:
    """Size ``(h, w)`` scaled and rounded half up (as mmcv's rescale)."""
    return tuple(max(1, int(d * scale + 0.5)) for d in size)


def resize_to(x: Tensor, size: Sequence[int],
              align_corners: bool = False) -> Tensor:
    """Bilinear resize of (N, C, h, w) to ``size``; identity if equal."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode='bilinear',
                         align_corners=align_corners)


def view_metas(metas: List[dict], size: Sequence[int]) -> List[dict]:
    """Fresh metainfo dicts for images of ``size`` (slide inference mutates
    them; ``predict_by_feat`` resizes logits to ``pad_shape``)."""
    size = tuple(int(d) for d in size)
    return [dict(meta, img_shape=size, pad_shape=size) for meta in metas]


def logits_to_probs(logits: Tensor, size: Sequence[int],
                    align_corners: bool = False) -> Tensor:
    """Resize logits (N, C, h, w) to ``size`` in float32, then softmax."""
    return resize_to(logits.float(), size, align_corners).softmax(dim=1)


def predict_chunked(predict: Predictor, images: Tensor, metas: List[dict],
                    max_batch: Optional[int] = None) -> Tensor:
    """``predict`` on at most ``max_batch`` images at a time (None: all)."""
    if max_batch is None or images.shape[0] <= max_batch:
        return predict(images, metas)
    return torch.cat([
        predict(images[i:i + max_batch], metas[i:i + max_batch])
        for i in range(0, images.shape[0], max_batch)
    ])


def view_probs(predict: Predictor, inputs: Tensor, metas: List[dict],
               scale: float, flipped: bool = False,
               align_corners: bool = False) -> Tensor:
    """Probabilities (N, C, H, W) of one view, in the input frame."""
    size = inputs.shape[-2:]
    view = resize_to(inputs, scaled_size(size, scale), align_corners)
    if flipped:
        view = view.flip(-1)
    logits = predict(view, view_metas(metas, view.shape[-2:]))
    probs = logits_to_probs(logits, size, align_corners)
    return probs.flip(-1) if flipped else probs


def scale_probs(predict: Predictor, inputs: Tensor, metas: List[dict],
                scale: float, flip: bool = True, align_corners: bool = False,
                view_batch: Optional[int] = None) -> List[Tensor]:
    """Probabilities of one scale's views ``[unflipped, flipped]`` from one
    stacked forward of batch 2N (fast path of :func:`multi_view_probs`)."""
    num, size = inputs.shape[0], inputs.shape[-2:]
    view = resize_to(inputs, scaled_size(size, scale), align_corners)
    batch = torch.cat([view, view.flip(-1)]) if flip else view
    metas = view_metas(list(metas) * (2 if flip else 1), view.shape[-2:])
    probs = logits_to_probs(
        predict_chunked(predict, batch, metas, view_batch), size,
        align_corners)
    return [probs[:num], probs[num:].flip(-1)] if flip else [probs]


def multi_view_probs(predict: Predictor, inputs: Tensor, metas: List[dict],
                     scales: Sequence[float], flip: bool = True,
                     keep_scale: Optional[float] = None, fast: bool = True,
                     view_batch: Optional[int] = None,
                     align_corners: bool = False
                     ) -> Tuple[Tensor, Optional[Tensor]]:
    """Softmax averaged over ``scales`` x (unflipped[, flipped]) views.

    Args:
        predict (callable): ``predict(images, metas) -> logits``.
        inputs (Tensor): (N, 3, H, W) normalised images.
        metas (list[dict]): Metainfo of the N images.
        scales (sequence of float): Resize factors (1.0 = input size).
        flip (bool): Also use the horizontally flipped view of each scale.
        keep_scale (float, optional): Also return the probabilities of the
            unflipped view at this scale (reused, not recomputed).
        fast (bool): Stack each scale's view and flip in one forward.
        view_batch (int, optional): Max images per forward (fast path).
        align_corners (bool): Of the bilinear resizes (the model's).

    Returns:
        tuple: mean probabilities (N, C, H, W) and the kept view's
        probabilities (N, C, H, W) or None.
    """
    flips = (False, True) if flip else (False, )
    total, kept, count = None, None, 0
    for scale in scales:
        if fast:
            probs = scale_probs(predict, inputs, metas, scale, flip,
                                align_corners, view_batch)
        else:
            probs = [view_probs(predict, inputs, metas, scale, flipped,
                                align_corners) for flipped in flips]
        if keep_scale is not None and scale == keep_scale and kept is None:
            kept = probs[0]
        for prob in probs:
            total = prob if total is None else total + prob
        count += len(probs)
    return total / count, kept
