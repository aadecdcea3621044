"""Save colour predictions of the first images of every (round, domain)."""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.hooks import Hook

from tta_seg.registry import HOOKS

BLEND = 0.5


def colorize(label: np.ndarray, palette: Sequence) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) RGB; ignored/unknown ids are black."""
    lut = np.zeros((256, 3), np.uint8)
    lut[:len(palette)] = np.asarray(palette, np.uint8)
    return lut[label.astype(np.uint8)]


@HOOKS.register_module()
class ShowPredictionsHook(Hook):
    """Write ``image | prediction | label`` panels (an observer only).

    Files: ``{out_dir}/round{r}_{domain}/{index:04d}.png``.

    Args:
        out_dir (str): Output folder.
        num_per_domain (int): Images saved per (round, domain).
    """

    def __init__(self, out_dir: str, num_per_domain: int = 3) -> None:
        self.out_dir = out_dir
        self.num_per_domain = num_per_domain

    def after_test_iter(self, runner, batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        loop = runner.test_loop
        if batch_idx >= self.num_per_domain or not outputs or \
                getattr(loop, 'current', None) is None:
            return
        rnd, domain = loop.current
        folder = osp.join(self.out_dir, f'round{rnd}_{domain}')
        os.makedirs(folder, exist_ok=True)
        palette = loop.dataloader.dataset.metainfo['palette']
        for i, sample in enumerate(outputs):
            panel = self._panel(sample, palette)
            name = f'{batch_idx * len(outputs) + i:04d}.png'
            cv2.imwrite(osp.join(folder, name), panel[..., ::-1])

    @staticmethod
    def _panel(sample, palette) -> np.ndarray:
        pred = sample.pred_sem_seg.data[0].cpu().numpy()
        image = cv2.imread(sample.img_path)[..., ::-1]
        image = cv2.resize(image, pred.shape[::-1])
        tiles = [image, (BLEND * image + BLEND * colorize(pred, palette))
                 .astype(np.uint8)]
        if 'gt_sem_seg' in sample:
            tiles.append(colorize(sample.gt_sem_seg.data[0].cpu().numpy(),
                                  palette))
        return np.concatenate(tiles, axis=1)
