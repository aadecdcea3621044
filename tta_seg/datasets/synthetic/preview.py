"""One-picture overview of a generated benchmark (for the README)."""
from pathlib import Path

import cv2
import numpy as np

from .generate import (Task, condition_severity, read_complete, render_task,
                       task_rngs)
from .photometry import REFERENCE_WIDTH
from .render import IGNORE_INDEX
from .weather import CONDITIONS, apply_weather

#: Caption placement and size (pixels at 512 px tile width).
CAPTION_ORIGIN = (8, 22)
CAPTION_SCALE = 0.6
CAPTION_THICKNESS = 2
#: Extra outline thickness and caption colours (RGB).
CAPTION_OUTLINE, BLACK, WHITE = 2, (0, 0, 0), (255, 255, 255)
#: Tiles per row of the preview.
TILES_PER_ROW = 3


def colourise(label: np.ndarray) -> np.ndarray:
    """trainId map (H, W) -> RGB (H, W, 3) with the Cityscapes palette;
    ignored pixels (255) are black."""
    from mmseg.datasets import CityscapesDataset
    palette = np.zeros((IGNORE_INDEX + 1, 3), dtype=np.uint8)
    classes = np.asarray(CityscapesDataset.METAINFO['palette'], np.uint8)
    palette[:len(classes)] = classes
    return palette[label]


def _caption(tile: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` with a dark outline so it reads on any background."""
    tile = tile.copy()
    scale = CAPTION_SCALE * tile.shape[1] / REFERENCE_WIDTH
    for colour, extra in ((BLACK, CAPTION_OUTLINE), (WHITE, 0)):
        cv2.putText(tile, text, CAPTION_ORIGIN, cv2.FONT_HERSHEY_SIMPLEX,
                    scale, colour, CAPTION_THICKNESS + extra, cv2.LINE_AA)
    return tile


def preview_tiles(params: dict, index: int = 0) -> list:
    """Captioned tiles: clean scene, each condition, colourised label.

    The scene is the ``index``-th fog/train target scene, so the clean and
    fog tiles equal the stored ``_ref`` and adverse images.
    """
    task = Task('train', CONDITIONS[0], index)
    image, label, depth, _ = render_task(task, params)
    tiles = [_caption(image, 'clean')]
    for condition in CONDITIONS:
        _, weather_rng = task_rngs(params['seed'], task)
        tiles.append(_caption(apply_weather(condition, image, depth, label,
                                            weather_rng,
                                            condition_severity(params,
                                                               condition)),
                              condition))
    tiles.append(_caption(colourise(label), 'labels'))
    return tiles


def save_preview(root, out_png, index: int = 0) -> Path:
    """Tile one scene (clean, fog, night, rain, snow, labels) into a PNG.

    Args:
        root (str | Path): A benchmark written by ``generate_benchmark``
            (its ``.complete.json`` gives seed, size and severity).
        out_png (str | Path): Output file.
        index (int): Which fog/train scene to show.

    Returns:
        Path: ``out_png``.
    """
    record = read_complete(root)
    if record is None:
        raise FileNotFoundError(
            f'{root} is not a complete synthetic benchmark (no '
            '.complete.json); run `python tools/make_synthetic.py` first.')
    tiles = preview_tiles(record['params'], index)
    rows = [np.concatenate(tiles[i:i + TILES_PER_ROW], axis=1)
            for i in range(0, len(tiles), TILES_PER_ROW)]
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_png), np.concatenate(rows, axis=0)[..., ::-1])
    return out_png
