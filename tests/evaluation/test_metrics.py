"""StreamIoUMetric against hand-built areas: the numbers users read."""
import math

import pytest
import torch

from tta_seg.evaluation.metrics import StreamIoUMetric

CLASSES = ('road', 'wall', 'sky', 'car')


def areas(inter, union, pred, label):
    return tuple(torch.tensor(v, dtype=torch.float64)
                 for v in (inter, union, pred, label))


def test_metrics_against_hand_computed_values():
    """Two images, four classes:

    * road: intersections 2 + 4, unions 4 + 4, labels 3 + 5 -> IoU 6/8,
      acc 6/8;
    * wall: absent from predictions and labels -> ignored by mIoU and mAcc;
    * sky: predicted (2 px) but never labelled -> IoU 0, acc undefined;
    * car: labelled 2 px, predicted 1 px correctly -> IoU 1/2, acc 1/2.
    """
    metric = StreamIoUMetric()
    metric.dataset_meta = dict(classes=CLASSES)
    results = [areas([2, 0, 0, 1], [4, 0, 2, 2], [3, 0, 2, 1], [3, 0, 0, 2]),
               areas([4, 0, 0, 0], [4, 0, 0, 0], [4, 0, 0, 0], [5, 0, 0, 0])]
    out = metric.compute_metrics(results)
    assert out['mIoU'] == pytest.approx(100 * (6 / 8 + 0 + 1 / 2) / 3)
    assert out['mAcc'] == pytest.approx(100 * (6 / 8 + 1 / 2) / 2)
    assert out['aAcc'] == pytest.approx(100 * 7 / 10)
    iou = out['per_class_iou']
    assert iou['road'] == pytest.approx(75.0) and iou['car'] == 50.0
    assert iou['sky'] == 0.0 and math.isnan(iou['wall'])


def test_running_miou_equals_the_final_one():
    metric = StreamIoUMetric()
    metric.dataset_meta = dict(classes=CLASSES)
    results = [areas([2, 0, 0, 1], [4, 0, 2, 2], [3, 0, 2, 1], [3, 0, 0, 2])]
    metric._running = torch.stack(list(results[0]))
    assert metric.running_miou() == pytest.approx(
        metric.compute_metrics(results)['mIoU'])
