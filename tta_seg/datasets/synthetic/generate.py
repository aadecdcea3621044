"""Write the embedded synthetic benchmark in Cityscapes and ACDC layouts.

Source domain (clean, Cityscapes layout)::

    root/cityscapes/leftImg8bit/{train,val}/{city}/{stem}_leftImg8bit.png
    root/cityscapes/gtFine/{train,val}/{city}/{stem}_gtFine_labelTrainIds.png

Target domains (ACDC layout, one folder per condition)::

    root/acdc/rgb_anon/{cond}/{split}/{seq}/{seq}_frame_{n:06d}_rgb_anon.png
    root/acdc/rgb_anon/{cond}/{split}_ref/{seq}/..._rgb_ref_anon.png
    root/acdc/gt/{cond}/{split}/{seq}/..._gt_labelTrainIds.png
    root/acdc/depth/{cond}/{split}/{seq}/..._depth.png

The ``_ref`` images are the clear-weather twins: the same scene rendered
without weather (pixel-aligned, unlike real ACDC's references, so the
adverse image's labels are valid for them too). The depth maps (float32
metres, stored losslessly, see :mod:`tta_seg.datasets.depth_codec`) are
those the weather was rendered with: twin + depth + label + the task's
weather generator (:func:`task_rngs`) re-render the adverse image exactly,
at any severity (the ``SyntheticWeather`` transform).

Every image is seeded from ``(seed, part, index)`` alone, so the output is
byte-identical whatever the number of workers or their scheduling. Files
are written to a temporary sibling folder ``.{name}.tmp-{pid}``;
``.complete.json`` (parameters and version) is written last and the folder
is then renamed into place, so an interrupted run never leaves a folder
that looks complete. The folder is removed when generation fails; one left
by a killed run is removed by the next run (see :func:`remove_stale_tmp`).
"""
import errno
import fcntl
import glob
import json
import multiprocessing
import os
import shutil
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import (Dict, Iterator, List, Mapping, NamedTuple, Optional,
                    Tuple, Union)

import cv2
import numpy as np
from tqdm import tqdm

from tta_seg.utils.io import pid_alive
from ..depth_codec import depth_to_planes
from .scene import render_scene
from .weather import CONDITIONS, apply_weather

#: Bump when the renderer or the layout changes so cached benchmarks are
#: regenerated. 3: depth maps of the target images (images unchanged).
BENCHMARK_VERSION = 3
COMPLETE_FILE = '.complete.json'
#: Weather strength of the generated benchmark (the generator's
#: ``severity`` default; ``apply_weather``'s 1.0 is the raw renderer's
#: strength): one float, or one per condition (:func:`normalize_severity`).
#: Calibrated with ``tools/calibrate_weather.py`` and the shipped R18 model
#: (``docs/results/weather_calibration_r18.md``) so that Source loses about
#: what ACDC costs real models: 19.4 mIoU from clean val on average,
#: night hardest (31.6), then fog (20.8), snow (14.0), rain (11.0). Up to
#: the calibration the default was 1.0, the renderer's full strength (the
#: R18 shipped then lost 33 points; the current one would lose 46).
DEFAULT_SEVERITY = dict(fog=0.48, night=0.86, rain=0.28, snow=0.33)
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
#: Temporary folder of a run: ``.{root name}{TMP_MARK}{pid}``, beside root.
TMP_MARK = '.tmp-'
#: Held (``flock``) by the generating process while it writes its
#: temporary folder: the kernel drops the lock when the process dies, so a
#: lockable folder is abandoned, even if its pid has been reused.
LOCK_FILE = '.generating.lock'
#: errnos of a full disk or an exhausted quota.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
#: PNG bytes per pixel measured at 512x256 (noisy images barely compress;
#: labels shrink ~50x), for the space estimate of a full-disk error.
IMAGE_BYTES_PER_PIXEL, LABEL_BYTES_PER_PIXEL = 1.6, 0.02
#: The same for depth maps (4 byte planes, mantissas barely compress).
DEPTH_BYTES_PER_PIXEL = 1.6
MB = 2 ** 20


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


Severity = Union[float, Mapping[str, float]]


def normalize_severity(severity: Severity) -> Union[float, Dict[str, float]]:
    """The weather strength as recorded: one float for every condition, or
    ``{condition: float}`` with every condition of :data:`CONDITIONS`
    when they differ (a mapping whose values are all equal becomes the
    float, so both spellings name the same benchmark).

    Raises:
        ValueError: A mapping without exactly the conditions, or a
            negative or non-numeric severity.
    """
    if isinstance(severity, Mapping):
        keys = set(severity)
        if keys != set(CONDITIONS):
            raise ValueError(
                f'a severity per condition needs exactly {CONDITIONS}; '
                f'missing {sorted(set(CONDITIONS) - keys)}, unknown '
                f'{sorted(keys - set(CONDITIONS))}')
        values = {c: float(severity[c]) for c in CONDITIONS}
    else:
        values = {c: float(severity) for c in CONDITIONS}
    bad = {c: v for c, v in values.items() if not v >= 0}
    if bad:
        raise ValueError(f'severities must be >= 0, got {bad}')
    if len(set(values.values())) == 1:
        return values[CONDITIONS[0]]
    return values


def condition_severity(params: dict, condition: str) -> float:
    """Generator severity of ``condition`` in a benchmark's parameters."""
    severity = params['severity']
    if isinstance(severity, Mapping):
        return float(severity[condition])
    return float(severity)


def benchmark_params(num_train: int = 800, num_val: int = 100,
                     num_target_train: int = 100, num_target_val: int = 20,
                     width: int = 512, height: int = 256, seed: int = 0,
                     severity: Optional[Severity] = None) -> dict:
    """The parameters that determine the files (recorded for caching);
    severity None is :data:`DEFAULT_SEVERITY`."""
    if severity is None:
        severity = DEFAULT_SEVERITY
    return dict(num_train=int(num_train), num_val=int(num_val),
                num_target_train=int(num_target_train),
                num_target_val=int(num_target_val), width=int(width),
                height=int(height), seed=int(seed),
                severity=normalize_severity(severity),
                conditions=list(CONDITIONS))


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


def acdc_depth_path(root: Path, condition: str, split: str,
                    index: int) -> Path:
    """Depth map path of target image ``index`` (beside ``gt/``)."""
    label_path = acdc_paths(root, condition, split, index)[2]
    name = label_path.name.replace('_gt_labelTrainIds.png', '_depth.png')
    return (Path(root) / 'acdc' / 'depth' / condition / split /
            label_path.parent.name / name)


def acdc_task_of(ref_path) -> Tuple[Path, Task]:
    """Benchmark root and task of a clear twin written by this module.

    The inverse of :func:`acdc_paths` (its second path), checked by
    rebuilding the path, so a file from elsewhere is refused rather than
    given another image's weather.

    Raises:
        ValueError: ``ref_path`` is not a clear twin of this layout.
    """
    ref_path = Path(ref_path)
    parts = ref_path.parts
    if len(parts) >= 6 and parts[-3].endswith('_ref'):
        condition, split = parts[-4], parts[-3][:-len('_ref')]
        frame = ref_path.name.split('_frame_')[-1].split('_')[0]
        root = ref_path.parents[5]
        if condition in CONDITIONS and split in SPLITS and frame.isdigit():
            task = Task(split, condition, int(frame))
            if acdc_paths(root, condition, split, task.index)[1] == ref_path:
                return root, task
    raise ValueError(
        f'{ref_path} is not a clear-weather twin of the synthetic '
        'benchmark (root/acdc/rgb_anon/{cond}/{split}_ref/GOPRxxxx/'
        'GOPRxxxx_frame_nnnnnn_rgb_ref_anon.png); load the twins with '
        'ACDCDataset(use_ref=True).')


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3:
        array = array[..., ::-1]  # cv2 encodes BGR
    # Encode in memory and write with Python: cv2.imwrite only returns
    # False, hiding the errno of a full disk.
    ok, encoded = cv2.imencode('.png', array, PNG_PARAMS)
    if not ok:
        raise IOError(f'could not encode {path}')
    path.write_bytes(encoded.tobytes())


def render_task(task: Task, params: dict):
    """Render one task; returns (clean image, label, depth, adverse|None).
    """
    scene_rng, weather_rng = task_rngs(params['seed'], task)
    image, label, depth = render_scene(scene_rng, params['width'],
                                       params['height'])
    adverse = None
    if task.condition is not None:
        adverse = apply_weather(task.condition, image, depth, label,
                                weather_rng,
                                condition_severity(params, task.condition))
    return image, label, depth, adverse


def write_task(job: Tuple[str, Task, dict]) -> None:
    """Worker entry point: render one task and write its files."""
    root, task, params = job
    image, label, depth, adverse = render_task(task, params)
    if task.condition is None:
        img_path, label_path = cityscapes_paths(root, task.split,
                                                task.index)
        _write(img_path, image)
    else:
        img_path, ref_path, label_path = acdc_paths(
            root, task.condition, task.split, task.index)
        _write(img_path, adverse)
        _write(ref_path, image)
        _write(acdc_depth_path(root, task.condition, task.split,
                               task.index), depth_to_planes(depth))
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
                       severity: Optional[Severity] = None,
                       workers: int = 2,
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
        severity (float | dict, optional): Weather strength (1 = the
            renderer's default), one for every condition or
            ``{condition: float}`` for each (see
            :func:`normalize_severity`); None: :data:`DEFAULT_SEVERITY`.
        workers (int): Processes; <= 1 renders in this process. Workers
            are started by a fork server, so a script calling this with
            ``workers > 1`` needs the usual ``if __name__ == '__main__':``
            guard.
        progress (bool): Show a tqdm progress bar.

    Returns:
        Path: ``root``.

    Raises:
        FileExistsError: ``root`` holds files that are not a benchmark.
        OSError: With errno ``ENOSPC`` when the disk fills up, naming the
            folder and the space needed. The temporary folder is removed
            whenever generation fails.
    """
    root = Path(root)
    params = benchmark_params(num_train, num_val, num_target_train,
                              num_target_val, width, height, seed, severity)
    _check_replaceable(root)  # fail before rendering, not after
    root.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(root)
    tmp = _tmp_path(root, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write_benchmark(tmp, params, workers, progress)
        _replace(tmp, root)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)  # before measuring free space
        if err.errno in DISK_FULL:
            raise _disk_full_error(root, params) from err
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _write_benchmark(tmp: Path, params: dict, workers: int,
                     progress: bool) -> None:
    """Render every task into the new folder ``tmp``, ``.complete.json``
    last, holding the folder's lock throughout."""
    tmp.mkdir()
    with _locked(tmp):
        jobs = [(str(tmp), task, params) for task in _tasks(params)]
        _run(jobs, workers, progress)
        record = dict(version=BENCHMARK_VERSION, params=params)
        (tmp / COMPLETE_FILE).write_text(json.dumps(record, indent=2,
                                                    sort_keys=True))


@contextmanager
def _locked(tmp: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``tmp``'s lock file; remove the file after.
    """
    with open(tmp / LOCK_FILE, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            # not part of a benchmark; from here to the rename the folder
            # is protected by the pid rule of ``_remove_if_abandoned``
            (tmp / LOCK_FILE).unlink(missing_ok=True)


def _tmp_path(root: Path, pid: int) -> Path:
    return root.parent / f'.{root.name}{TMP_MARK}{pid}'


def remove_stale_tmp(root) -> List[Path]:
    """Remove temporary folders that interrupted runs left beside ``root``.

    A folder is removed only when no process is writing it: its lock file
    can be locked (its writer died), or it has no lock file (written by an
    older version, or killed before locking) and the pid in its name is
    not running. Folders of live runs are kept.

    Args:
        root (str | Path): Benchmark folder.

    Returns:
        list[Path]: The folders removed.
    """
    root = Path(root)
    pattern = f'.{glob.escape(root.name)}{TMP_MARK}*'
    return [tmp for tmp in sorted(root.parent.glob(pattern))
            if tmp.is_dir() and _remove_if_abandoned(tmp)]


def _remove_if_abandoned(tmp: Path) -> bool:
    """Remove ``tmp`` if no process is writing it; whether it was removed.
    """
    pid = tmp.name.rpartition(TMP_MARK)[2]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False  # not named by us, or ours (handled by the caller)
    try:
        # read-write (NFS emulates flock with write locks), never create
        lock = open(tmp / LOCK_FILE, 'r+b')
    except FileNotFoundError:
        if pid_alive(int(pid)):
            return False
        shutil.rmtree(tmp, ignore_errors=True)
        return True
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its writer is running
            return False
        shutil.rmtree(tmp, ignore_errors=True)  # still holding the lock
    return True


def estimate_mb(params: dict) -> float:
    """Approximate size in MB of a benchmark made with ``params``."""
    pixels = params['width'] * params['height']
    sources = params['num_train'] + params['num_val']
    targets = len(params['conditions']) * (params['num_target_train'] +
                                           params['num_target_val'])
    images, labels = sources + 2 * targets, sources + targets  # + twins
    return pixels * (images * IMAGE_BYTES_PER_PIXEL +
                     labels * LABEL_BYTES_PER_PIXEL +
                     targets * DEPTH_BYTES_PER_PIXEL) / MB


def _disk_full_error(root: Path, params: dict) -> OSError:
    free = shutil.disk_usage(root.parent).free / MB
    return OSError(
        errno.ENOSPC,
        f'no space left on device under {root.parent} while generating the '
        f'synthetic benchmark {root}: it needs about '
        f'{estimate_mb(params):.0f} MB and {free:.0f} MB are free. Free some '
        'space, or generate it elsewhere (python tools/make_synthetic.py '
        '--out DIR).', str(root.parent))


def benchmark_record(**params) -> dict:
    """The ``.complete.json`` contents of a benchmark made with ``params``
    (defaults filled in): what a finished folder must hold to be reused."""
    return dict(version=BENCHMARK_VERSION, params=benchmark_params(**params))


def is_complete(root, **params) -> bool:
    """Whether ``root`` holds a finished benchmark made with ``params``."""
    return read_complete(root) == benchmark_record(**params)


def ensure_benchmark(root, workers: int = 2, progress: bool = True,
                     **params) -> Path:
    """Return ``root`` at once if it is complete with the same parameters,
    otherwise (re)generate it. ``params`` are those of
    :func:`generate_benchmark` (counts, size, seed, severity). Temporary
    folders of interrupted runs are removed either way. Replacing a
    complete benchmark made with other parameters (another severity, an
    older version) is announced with a warning that names them."""
    remove_stale_tmp(root)
    record, wanted = read_complete(root), benchmark_record(**params)
    if record == wanted:
        return Path(root)
    if record is not None:
        changed = record_changes(record, wanted)
        warnings.warn(f'{root} holds an embedded benchmark made with '
                      f'other parameters ({changed}); generating it anew '
                      'with those asked for (another --data-root keeps '
                      'both)')
    return generate_benchmark(root, workers=workers, progress=progress,
                              **params)


def record_changes(record: dict, wanted: dict) -> str:
    """``key: old -> new`` for each version or parameter that differs."""
    old = dict(record.get('params') or {}, version=record.get('version'))
    new = dict(wanted['params'], version=wanted['version'])
    return ', '.join(f'{key}: {old.get(key)!r} -> {new.get(key)!r}'
                     for key in sorted(set(old) | set(new))
                     if old.get(key) != new.get(key))
