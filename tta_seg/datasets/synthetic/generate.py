"""Write the embedded synthetic benchmark in Cityscapes and ACDC layouts.

Source domain (clean, Cityscapes layout)::

    root/cityscapes/leftImg8bit/{train,val}/{city}/{stem}_leftImg8bit.png
    root/cityscapes/gtFine/{train,val}/{city}/{stem}_gtFine_labelTrainIds.png

Target domains (ACDC layout, one folder per condition)::

    root/acdc/rgb_anon/{cond}/{split}/{seq}/{seq}_frame_{n:06d}_rgb_anon.png
    root/acdc/rgb_anon/{cond}/{split}_ref/{seq}/..._rgb_ref_anon.png
    root/acdc/gt/{cond}/{split}/{seq}/..._gt_labelTrainIds.png

The ``_ref`` images are the clear-weather twins: the same scene rendered
without weather (pixel-aligned, unlike real ACDC's references, so the
adverse image's labels are valid for them too).

Every image is seeded from ``(seed, part, index)`` alone, so the output is
byte-identical whatever the number of workers or their scheduling. Files
are written to a temporary sibling folder; ``.complete.json`` (parameters
and version) is written last and the folder is then renamed into place,
so an interrupted run never leaves a folder that looks complete.
"""
import json
import multiprocessing
import os
import shutil
import zlib
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from .scene import render_scene
from .weather import CONDITIONS, apply_weather

#: Bump when the renderer changes so cached benchmarks are regenerated.
BENCHMARK_VERSION = 2
COMPLETE_FILE = '.complete.json'
#: Fake Cityscapes cities (source domain).
CITIES = ('synthberg', 'pixelstadt', 'rendorf', 'voxelheim')
#: Cityscapes' annotated frames are frame 19 of each snippet.
CITYSCAPES_FRAME = 19
#: ACDC-like recording sequences: frames per ``GOPRxxxx`` folder and the
#: numbering of the folders per condition and split.
FRAMES_PER_SEQUENCE = 50
SEQUENCE_BASE, CONDITION_STRIDE, SPLIT_STRIDE = 1000, 1000, 500
#: zlib level 1 with run-length matching: the fastest setting that still
#: compresses (noisy images barely deflate; labels shrink ~50x).
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY,
              cv2.IMWRITE_PNG_STRATEGY_RLE]
#: Top-level entries a benchmark folder may contain; anything else means
#: the folder is not ours and is never deleted.
OWN_ENTRIES = {'cityscapes', 'acdc', COMPLETE_FILE}
#: Foreign file names listed in the refusal message.
MAX_LISTED = 5
#: How worker processes are started (see ``_run``).
START_METHOD = 'forkserver'
#: Tasks handed to a worker at once.
CHUNK_SIZE = 4
SPLITS = ('train', 'val')


class Task(NamedTuple):
    """One image to render: a source image (``condition`` None) or an
    adverse target image with its clear twin."""
    split: str
    condition: Optional[str]
    index: int

    @property
    def part(self) -> str:
        """Name of the seed stream; target scenes differ per condition."""
        if self.condition is None:
            return f'source/{self.split}'
        return f'target/{self.condition}/{self.split}'


def benchmark_params(num_train: int = 800, num_val: int = 100,
                     num_target_train: int = 100, num_target_val: int = 20,
                     width: int = 512, height: int = 256, seed: int = 0,
                     severity: float = 1.0) -> dict:
    """The parameters that determine the files (recorded for caching)."""
    return dict(num_train=int(num_train), num_val=int(num_val),
                num_target_train=int(num_target_train),
                num_target_val=int(num_target_val), width=int(width),
                height=int(height), seed=int(seed),
                severity=float(severity), conditions=list(CONDITIONS))


def task_rngs(seed: int, task: Task) -> Tuple[np.random.Generator,
                                              np.random.Generator]:
    """Independent scene and weather generators of one task."""
    key = (zlib.crc32(task.part.encode()), task.index)
    scene, weather = np.random.SeedSequence(seed, spawn_key=key).spawn(2)
    return np.random.default_rng(scene), np.random.default_rng(weather)


def cityscapes_paths(root: Path, split: str, index: int) -> Tuple[Path,
                                                                  Path]:
    """Image and label paths of source image ``index``."""
    city = CITIES[index % len(CITIES)]
    stem = f'{city}_{index // len(CITIES):06d}_{CITYSCAPES_FRAME:06d}'
    base = Path(root) / 'cityscapes'
    return (base / 'leftImg8bit' / split / city / f'{stem}_leftImg8bit.png',
            base / 'gtFine' / split / city /
            f'{stem}_gtFine_labelTrainIds.png')


def acdc_paths(root: Path, condition: str, split: str,
               index: int) -> Tuple[Path, Path, Path]:
    """Adverse image, clear twin and label paths of target image ``index``.
    """
    number = (SEQUENCE_BASE + CONDITION_STRIDE * CONDITIONS.index(condition)
              + SPLIT_STRIDE * SPLITS.index(split) +
              index // FRAMES_PER_SEQUENCE)
    seq = f'GOPR{number:04d}'
    stem = f'{seq}_frame_{index:06d}'
    base = Path(root) / 'acdc'
    return (base / 'rgb_anon' / condition / split / seq /
            f'{stem}_rgb_anon.png',
            base / 'rgb_anon' / condition / f'{split}_ref' / seq /
            f'{stem}_rgb_ref_anon.png',
            base / 'gt' / condition / split / seq /
            f'{stem}_gt_labelTrainIds.png')


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3:
        array = array[..., ::-1]  # cv2 writes BGR
    if not cv2.imwrite(str(path), array, PNG_PARAMS):
        raise IOError(f'could not write {path}')


def render_task(task: Task, params: dict):
    """Render one task; returns (clean image, label, depth, adverse|None).
    """
    scene_rng, weather_rng = task_rngs(params['seed'], task)
    image, label, depth = render_scene(scene_rng, params['width'],
                                       params['height'])
    adverse = None
    if task.condition is not None:
        adverse = apply_weather(task.condition, image, depth, label,
                                weather_rng, params['severity'])
    return image, label, depth, adverse


def write_task(job: Tuple[str, Task, dict]) -> None:
    """Worker entry point: render one task and write its files."""
    root, task, params = job
    image, label, _, adverse = render_task(task, params)
    if task.condition is None:
        img_path, label_path = cityscapes_paths(root, task.split,
                                                task.index)
        _write(img_path, image)
    else:
        img_path, ref_path, label_path = acdc_paths(
            root, task.condition, task.split, task.index)
        _write(img_path, adverse)
        _write(ref_path, image)
    _write(label_path, label)


def _tasks(params: dict) -> List[Task]:
    tasks = [Task(split, None, i)
             for split, count in zip(SPLITS, (params['num_train'],
                                              params['num_val']))
             for i in range(count)]
    for condition in CONDITIONS:
        for split, count in zip(SPLITS, (params['num_target_train'],
                                         params['num_target_val'])):
            tasks += [Task(split, condition, i) for i in range(count)]
    return tasks


def _worker_init() -> None:
    # One OpenCV thread per process: the pool already uses every core.
    cv2.setNumThreads(1)


def _run(jobs: list, workers: int, progress: bool) -> None:
    """Run jobs serially (workers <= 1) or on a process pool."""
    bar = tqdm(total=len(jobs), disable=not progress, unit='img',
               desc='synthetic benchmark')
    with bar:
        if workers <= 1:
            for job in jobs:
                write_task(job)
                bar.update()
            return
        # Forking this process is unsafe: OpenCV/OpenMP thread pools it has
        # used do not survive fork() and the workers can deadlock. A fork
        # server is a fresh process that imports this module once and
        # forks clean workers from it.
        ctx = multiprocessing.get_context(START_METHOD)
        ctx.set_forkserver_preload([__name__])
        with ctx.Pool(workers, initializer=_worker_init) as pool:
            for _ in pool.imap_unordered(write_task, jobs, CHUNK_SIZE):
                bar.update()


def read_complete(root) -> Optional[dict]:
    """Contents of ``root/.complete.json``, or None if absent/unreadable."""
    path = Path(root) / COMPLETE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _check_replaceable(root: Path) -> None:
    """Refuse to replace a folder holding anything but a benchmark."""
    if not root.exists():
        return
    foreign = sorted(p.name for p in root.iterdir()
                     if p.name not in OWN_ENTRIES)
    if foreign:
        raise FileExistsError(
            f'{root} exists and holds files that are not part of a '
            f'synthetic benchmark ({", ".join(foreign[:MAX_LISTED])}); '
            'refusing to overwrite it. Choose another output folder or '
            'remove it.')


def _replace(tmp: Path, root: Path) -> None:
    """Move the finished ``tmp`` folder to ``root`` (old one removed)."""
    _check_replaceable(root)
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)


def generate_benchmark(root, num_train: int = 800, num_val: int = 100,
                       num_target_train: int = 100,
                       num_target_val: int = 20, width: int = 512,
                       height: int = 256, seed: int = 0,
                       severity: float = 1.0, workers: int = 2,
                       progress: bool = True) -> Path:
    """Generate the benchmark into ``root`` (replacing an old one).

    Args:
        root (str | Path): Output folder; ``cityscapes/`` and ``acdc/`` are
            created inside it.
        num_train (int): Source training images.
        num_val (int): Source validation images.
        num_target_train (int): Target images per condition, train split.
        num_target_val (int): Target images per condition, val split.
        width (int): Image width.
        height (int): Image height.
        seed (int): Master seed.
        severity (float): Weather strength (1 = default).
        workers (int): Processes; <= 1 renders in this process. Workers
            are started by a fork server, so a script calling this with
            ``workers > 1`` needs the usual ``if __name__ == '__main__':``
            guard.
        progress (bool): Show a tqdm progress bar.

    Returns:
        Path: ``root``.

    Raises:
        FileExistsError: ``root`` holds files that are not a benchmark.
    """
    root = Path(root)
    params = benchmark_params(num_train, num_val, num_target_train,
                              num_target_val, width, height, seed, severity)
    _check_replaceable(root)  # fail before rendering, not after
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f'.{root.name}.tmp-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        jobs = [(str(tmp), task, params) for task in _tasks(params)]
        _run(jobs, workers, progress)
        record = dict(version=BENCHMARK_VERSION, params=params)
        (tmp / COMPLETE_FILE).write_text(json.dumps(record, indent=2,
                                                    sort_keys=True))
        _replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def is_complete(root, **params) -> bool:
    """Whether ``root`` holds a finished benchmark made with ``params``."""
    record = read_complete(root)
    wanted = dict(version=BENCHMARK_VERSION,
                  params=benchmark_params(**params))
    return record == wanted


def ensure_benchmark(root, workers: int = 2, progress: bool = True,
                     **params) -> Path:
    """Return ``root`` at once if it is complete with the same parameters,
    otherwise (re)generate it. ``params`` are those of
    :func:`generate_benchmark` (counts, size, seed, severity)."""
    if is_complete(root, **params):
        return Path(root)
    return generate_benchmark(root, workers=workers, progress=progress,
                              **params)

