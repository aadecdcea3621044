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

A segmentor with slide inference (mmseg ``test_cfg.mode='slide'``) predicts a
view window by window. :func:`windowed_multi_view_probs` runs the windows of
*all* views through the segmentor's window forward (``encode_decode``)
instead, windows of equal shape stacked in batches of ``window_batch``
crops, and stitches each view back as mmseg's ``slide_inference`` does
(windows of ``crop_size`` every ``stride``, the last one of a row/column
shifted back inside the view, a view side shorter than the crop taken whole,
never padded; summed logits divided by the window count). Windows keep their
exact shape, so this is exact up to float rounding under the same
batch-independence condition as the fast order.
"""
from collections import deque
from typing import (Callable, Deque, Iterable, Iterator, List, Optional,
                    Sequence, Tuple)

import torch
import torch.nn.functional as F
from torch import Tensor

#: ``predict(images, metas) -> logits`` at the images' size (mmseg 1.x
#: ``segmentor.inference``).
Predictor = Callable[[Tensor, List[dict]], Tensor]
Size = Tuple[int, int]
#: ``(y1, y2, x1, x2)`` of a slide window in its view.
Window = Tuple[int, int, int, int]


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


def make_view(inputs: Tensor, scale: float, flipped: bool = False,
              align_corners: bool = False) -> Tensor:
    """The view (N, 3, h, w) of ``inputs`` (N, 3, H, W) at ``scale``."""
    view = resize_to(inputs, scaled_size(inputs.shape[-2:], scale),
                     align_corners)
    return view.flip(-1) if flipped else view


def view_probs(predict: Predictor, inputs: Tensor, metas: List[dict],
               scale: float, flipped: bool = False,
               align_corners: bool = False) -> Tensor:
    """Probabilities (N, C, H, W) of one view, in the input frame."""
    size = inputs.shape[-2:]
    view = make_view(inputs, scale, flipped, align_corners)
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


def average_views(views: Iterable[Tuple[float, bool, Tensor]],
                  keep_scale: Optional[float] = None
                  ) -> Tuple[Tensor, Optional[Tensor]]:
    """Mean of ``(scale, flipped, probs)`` views, in their order, and the
    first unflipped view at ``keep_scale`` (None if absent)."""
    total, kept, count = None, None, 0
    for scale, flipped, probs in views:
        if not flipped and scale == keep_scale and kept is None:
            kept = probs
        total = probs if total is None else total + probs
        count += 1
    return total / count, kept


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

    def views():
        for scale in scales:
            if fast:
                probs = scale_probs(predict, inputs, metas, scale, flip,
                                    align_corners, view_batch)
            else:
                probs = [view_probs(predict, inputs, metas, scale, flipped,
                                    align_corners) for flipped in flips]
            yield from ((scale, flipped, prob)
                        for flipped, prob in zip(flips, probs))

    return average_views(views(), keep_scale)


# ------------------------------------------- slide windows of all views --
def slide_windows(size: Sequence[int], crop_size: Sequence[int],
                  stride: Sequence[int]) -> List[Window]:
    """Windows of mmseg's ``slide_inference`` on an image of ``size``, in
    its order (rows outer): the last window of a row/column is shifted back
    inside the image; a side shorter than the crop is one whole window."""
    (height, width), (h_crop, w_crop) = size, crop_size
    h_stride, w_stride = stride
    h_grids = max(height - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(width - w_crop + w_stride - 1, 0) // w_stride + 1
    windows = []
    for i in range(h_grids):
        for j in range(w_grids):
            y2 = min(i * h_stride + h_crop, height)
            x2 = min(j * w_stride + w_crop, width)
            windows.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
    return windows


class _Stitch:
    """Window logits summed into one view, and the window count per pixel
    (mmseg's ``preds`` and ``count_mat``, same additions in the same order).
    """

    def __init__(self, view: Tensor, num_windows: int) -> None:
        num, _, height, width = view.shape
        self.count = view.new_zeros(num, 1, height, width)
        self.sum: Optional[Tensor] = None
        self.left = num_windows

    def add(self, window: Window, logits: Tensor) -> None:
        y1, y2, x1, x2 = window
        if self.sum is None:
            self.sum = self.count.new_zeros(
                self.count.shape[0], logits.shape[1], *self.count.shape[2:])
        self.sum[:, :, y1:y2, x1:x2] += logits
        self.count[:, :, y1:y2, x1:x2] += 1
        self.left -= 1

    def logits(self) -> Tensor:
        return self.sum / self.count


def _encode_windows(encode: Predictor, jobs: List[tuple],
                    metas: List[dict]) -> None:
    """One forward of the equal-shape crops of ``jobs`` (stitch, window,
    crop); logits go to their stitches."""
    crops = torch.cat([crop for _, _, crop in jobs])
    shape = crops.shape[-2:]  # a torch.Size: mmseg's mark of a crop
    crop_metas = [dict(meta, img_shape=shape, pad_shape=tuple(shape))
                  for _ in jobs for meta in metas]
    logits = encode(crops, crop_metas)
    for (stitch, window, _), part in zip(jobs, logits.split(len(metas))):
        stitch.add(window, part)


def _finished(stitches: Deque[_Stitch]) -> Iterator[Tensor]:
    while stitches and stitches[0].left == 0:
        yield stitches.popleft().logits()


def slide_view_logits(encode: Predictor, views: Iterable[Tensor],
                      metas: List[dict], crop_size: Sequence[int],
                      stride: Sequence[int],
                      window_batch: Optional[int] = None
                      ) -> Iterator[Tensor]:
    """Slide-inference logits (N, C, h, w) of each view (N, 3, h, w), in
    order, with consecutive windows of equal shape (across views) stacked.

    Args:
        encode (callable): ``encode(crops, metas) -> logits`` at the crop
            size (``segmentor.encode_decode``).
        views (iterable of Tensor): Views of the N images (read lazily).
        metas (list[dict]): Metainfo of the N images.
        crop_size, stride (sequence of int): ``(h, w)`` of the windows.
        window_batch (int, optional): Max crops per forward (at least one
            window of N crops); None: all consecutive equal-shape windows.
    """
    stitches: Deque[_Stitch] = deque()
    jobs, per_forward = [], max(1, (window_batch or 0) // len(metas))

    def flush() -> Iterator[Tensor]:
        if jobs:
            _encode_windows(encode, jobs, metas)
            jobs.clear()
        yield from _finished(stitches)

    for view in views:
        windows = slide_windows(view.shape[-2:], crop_size, stride)
        stitches.append(_Stitch(view, len(windows)))
        for y1, y2, x1, x2 in windows:
            crop = view[:, :, y1:y2, x1:x2]
            if jobs and crop.shape != jobs[0][2].shape:
                yield from flush()
            jobs.append((stitches[-1], (y1, y2, x1, x2), crop))
            if window_batch and len(jobs) == per_forward:
                yield from flush()
    yield from flush()


def windowed_multi_view_probs(
        encode: Predictor, inputs: Tensor, metas: List[dict],
        scales: Sequence[float], crop_size: Sequence[int],
        stride: Sequence[int], flip: bool = True,
        keep_scale: Optional[float] = None,
        window_batch: Optional[int] = None, align_corners: bool = False
) -> Tuple[Tensor, Optional[Tensor]]:
    """:func:`multi_view_probs` of a slide-inference segmentor, with the
    windows of all views batched (:func:`slide_view_logits`); ``encode`` is
    its window forward (``encode_decode``), ``crop_size`` and ``stride`` its
    ``test_cfg``'s."""
    size = inputs.shape[-2:]
    specs = [(scale, flipped) for scale in scales
             for flipped in ((False, True) if flip else (False, ))]
    views = (make_view(inputs, scale, flipped, align_corners)
             for scale, flipped in specs)
    logits = slide_view_logits(encode, views, metas, crop_size, stride,
                               window_batch)

    def probs():
        for (scale, flipped), view_logits in zip(specs, logits):
            prob = logits_to_probs(view_logits, size, align_corners)
            yield scale, flipped, prob.flip(-1) if flipped else prob

    return average_views(probs(), keep_scale)
