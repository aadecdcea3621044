"""Per-domain segmentation metric with per-class IoU and a running mIoU."""
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmseg.evaluation import IoUMetric

from tta_seg.registry import METRICS

PERCENT = 100.0


@METRICS.register_module()
class StreamIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` (dataset-level intersections and unions) that
    also reports per-class IoU and keeps a running total for progress bars.

    Returned keys: ``aAcc``, ``mIoU``, ``mAcc`` (percent, floats) and
    ``per_class_iou`` (class name -> percent, NaN for classes absent from
    both predictions and labels, which mIoU ignores as mmseg does).
    """

    default_prefix = ''  # metric names stay mIoU, aAcc... (no 'prefix/')

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault('iou_metrics', ['mIoU'])
        super().__init__(**kwargs)
        self._running: Optional[torch.Tensor] = None

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        for areas in self.results[start:]:
            stacked = torch.stack([a.double().cpu() for a in areas])
            self._running = stacked if self._running is None \
                else self._running + stacked

    def running_miou(self) -> float:
        """mIoU (percent) over what was processed since the last evaluate."""
        if self._running is None:
            return float('nan')
        inter, union = self._running[0], self._running[1]
        valid = union > 0
        if not valid.any():
            return float('nan')
        return float((inter[valid] / union[valid]).mean() * PERCENT)

    def compute_metrics(self, results: list) -> Dict[str, object]:
        totals = [sum(r[i] for r in results).cpu().numpy() for i in range(4)]
        inter, union, _, label = totals
        with np.errstate(invalid='ignore', divide='ignore'):
            iou = inter / union
            acc = inter / label
        names = self.dataset_meta['classes']
        return dict(
            aAcc=float(inter.sum() / max(label.sum(), 1) * PERCENT),
            mIoU=float(np.nanmean(iou) * PERCENT),
            mAcc=float(np.nanmean(acc) * PERCENT),
            per_class_iou={n: float(v * PERCENT) for n, v in zip(names, iou)})

    def evaluate(self, size: int) -> dict:
        self._running = None
        return super().evaluate(size)
