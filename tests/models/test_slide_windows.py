"""Slide windows of all views batched: equal to mmseg's ``slide_inference``
view by view, for views larger than, smaller than and across the crop."""
import pytest
import torch
from mmengine.config import ConfigDict

from tests.tiny import make_batch, tiny_segmentor_cfg
from tta_seg.models.augment_views import (make_view, multi_view_probs,
                                          slide_view_logits, slide_windows,
                                          view_metas,
                                          windowed_multi_view_probs)
from tta_seg.registry import MODELS

CROP, STRIDE = (40, 48), (24, 32)
#: view sizes (>= 32 px for MiT): windows on the stride grid, the last ones
#: shifted back, the crop itself, smaller than the crop in both sides and
#: in one side only
SIZES = [(88, 112), (67, 101), (40, 48), (32, 44), (36, 90), (70, 40)]
SCALES = (0.75, 1.0, 1.5)


def slide_segmentor(kind):
    torch.manual_seed(0)
    cfg = tiny_segmentor_cfg(kind)
    cfg['test_cfg'] = dict(mode='slide', crop_size=CROP, stride=STRIDE)
    return MODELS.build(ConfigDict(cfg)).eval()


def normalised(segmentor, n=2, size=(48, 64)):
    data = segmentor.data_preprocessor(make_batch(n, *size), False)
    return data['inputs'], [s.metainfo for s in data['data_samples']]


def counting(forward, calls):
    def encode(images, metas):
        calls.append(images.shape[0])
        return forward(images, metas)
    return encode


def test_windows_are_mmsegs_grid():
    # 67 rows: windows at 0 and 24, the last shifted back to 27..67
    assert slide_windows((67, 48), CROP, STRIDE) == [(0, 40, 0, 48),
                                                     (24, 64, 0, 48),
                                                     (27, 67, 0, 48)]
    assert slide_windows((32, 44), CROP, STRIDE) == [(0, 32, 0, 44)]
    assert slide_windows((36, 90), CROP, STRIDE) == [(0, 36, 0, 48),
                                                     (0, 36, 32, 80),
                                                     (0, 36, 42, 90)]
    recorded = []
    segmentor = slide_segmentor('bn')
    inputs, metas = normalised(segmentor, n=1, size=(67, 101))
    forward = segmentor.encode_decode

    def spy(crop, crop_metas):
        recorded.append(tuple(crop.shape[-2:]))
        return forward(crop, crop_metas)

    segmentor.encode_decode = spy
    with torch.no_grad():
        segmentor.slide_inference(inputs, metas)
    assert recorded == [(y2 - y1, x2 - x1) for y1, y2, x1, x2 in
                        slide_windows((67, 101), CROP, STRIDE)]


@pytest.mark.parametrize('kind', ['bn', 'ln'])
@pytest.mark.parametrize('window_batch', [None, 1, 5])
def test_batched_windows_equal_slide_inference_per_view(kind, window_batch):
    segmentor = slide_segmentor(kind)
    views, metas = [], None
    for i, size in enumerate(SIZES):
        view, metas = normalised(segmentor, size=size)
        views.append(view * (1 + i / 10))
    calls = []
    with torch.no_grad():
        got = list(slide_view_logits(
            counting(segmentor.encode_decode, calls), views, metas, CROP,
            STRIDE, window_batch))
        expected = [segmentor.slide_inference(v, view_metas(
            metas, v.shape[-2:])) for v in views]
    assert len(got) == len(expected)
    for logits, reference in zip(got, expected):
        torch.testing.assert_close(logits, reference, rtol=1e-5, atol=1e-5)
    windows = [len(slide_windows(v.shape[-2:], CROP, STRIDE)) for v in views]
    assert sum(calls) == 2 * sum(windows)
    if window_batch is None:  # the first three views have crop-size windows
        assert calls[0] == 2 * sum(windows[:3])
    else:
        assert max(calls) == max(window_batch // 2 * 2, 2)


@pytest.mark.parametrize('kind', ['bn', 'ln'])
@pytest.mark.parametrize('window_batch', [None, 3])
def test_windowed_views_equal_view_by_view(kind, window_batch):
    segmentor = slide_segmentor(kind)
    inputs, metas = normalised(segmentor, size=(45, 70))
    with torch.no_grad():
        got = windowed_multi_view_probs(
            segmentor.encode_decode, inputs, metas, SCALES, CROP, STRIDE,
            keep_scale=1.0, window_batch=window_batch)
        for fast in (True, False):
            expected = multi_view_probs(segmentor.inference, inputs, metas,
                                        SCALES, keep_scale=1.0, fast=fast)
            for a, b in zip(got, expected):
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        gate = torch.softmax(segmentor.inference(
            inputs, view_metas(metas, inputs.shape[-2:])), dim=1)
    torch.testing.assert_close(got[1], gate, rtol=1e-5, atol=1e-6)


def test_views_are_read_lazily_and_returned_in_order():
    segmentor = slide_segmentor('bn')
    inputs, metas = normalised(segmentor, n=1, size=(45, 70))
    made = []

    def views():
        for scale in SCALES:
            made.append(scale)
            yield make_view(inputs, scale)

    with torch.no_grad():
        logits = slide_view_logits(segmentor.encode_decode, views(), metas,
                                   CROP, STRIDE, window_batch=1)
        first = next(logits)
    assert made == [SCALES[0]]  # a full batch runs at once: no view ahead
    assert first.shape[-2:] == make_view(inputs, SCALES[0]).shape[-2:]
