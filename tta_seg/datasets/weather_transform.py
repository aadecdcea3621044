"""Synthetic weather rendered in the data pipeline, at any severity.

:class:`SyntheticWeather` turns a clear-weather twin of the embedded
benchmark (``ACDCDataset(use_ref=True)`` on ``<root>/acdc``) into its
adverse image with the benchmark's own renderer
(:func:`tta_seg.datasets.synthetic.apply_weather`), from the twin, its
stored depth map and its label, with the image's own weather generator
(:func:`tta_seg.datasets.synthetic.generate.task_rngs`: seeded from the
benchmark seed, the scene's condition folder, split and frame number, as
at generation). At the generation severity the output is therefore the
generated adverse image, bit for bit; at other severities the same
weather (same droplets, flakes, fog patches, lamps) is stronger or
weaker.

Severity levels and gradual shift. :func:`severity_schedule` gives one
level per image of a domain (``constant``, ``triangle``, ``ramp``) on the
ImageNet-C scale 1..5; level ``L`` is rendered at the generator severity
``severity * L / 5`` (:func:`level_to_severity`): level 5 is the generation
severity (``severity``: the benchmark's own, recorded in its
``.complete.json``, one number or one per condition), as ImageNet-C's level
5 is the standard CoTTA benchmark, and level 0 leaves the twin (nearly:
night keeps its sensor noise) unchanged. A ``triangle`` from 1 to 5 within
each condition is CoTTA's gradual setting (Wang et al., CVPR 2022;
qinenergy/cotta, ``cifar/cifar10c_gradual.py``: levels 1 2 3 4 5 4 3 2 1
per corruption type, so the type changes at the lowest level). Deviations:
CoTTA holds each level for a whole pass over the data set, here the level
moves with every image (and levels between integers are rendered: the
renderer is continuous); CoTTA runs its first type 5 -> 1 to open with a
large gap, a ``ramp`` from 5 to 1 in a config does the same.

This module does not import the generator (several thousand lines) at
import time, so ``import tta_seg.datasets`` stays light: the generator is
imported when a transform is built.
"""
import importlib
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from tta_seg.registry import TRANSFORMS
from .acdc import CONDITIONS
from .depth_codec import read_depth

#: Number of severity levels (ImageNet-C's 1..5); the top level renders
#: at the reference (generation) severity.
SEVERITY_LEVELS = 5
SCHEDULES = ('constant', 'triangle', 'ramp')
GENERATOR = 'tta_seg.datasets.synthetic.generate'
WEATHER = 'tta_seg.datasets.synthetic.weather'


def severity_schedule(kind: str, num_images: int, low: float = 1.0,
                      high: float = SEVERITY_LEVELS) -> np.ndarray:
    """Severity level of every image of a domain, in stream order.

    Image ``i`` of ``n`` sits at ``t = i / (n - 1)`` (``t = 0`` if
    ``n == 1``) and gets:

    * ``constant``: ``high`` for every image;
    * ``ramp``: ``low + (high - low) t`` (``low > high`` ramps down);
    * ``triangle``: ``low + (high - low) (1 - |2 t - 1|)``, i.e. up from
      ``low`` to ``high`` and back, symmetric (``s[i] == s[n - 1 - i]``).
      For 9 images from 1 to 5: 1 2 3 4 5 4 3 2 1. With an even count no
      image sits at the middle, so the peak is not reached: the two middle
      images share ``low + (high - low) (n - 2) / (n - 1)`` (4 images from
      1 to 5: 1, 11/3, 11/3, 1).

    Args:
        kind (str): One of :data:`SCHEDULES`.
        num_images (int): Images in the domain (>= 1).
        low (float): Start (and end, for ``triangle``) level, >= 0.
        high (float): Peak (``triangle``), end (``ramp``) or every
            (``constant``) level, >= 0.

    Returns:
        np.ndarray: (num_images,) float64 levels.

    Raises:
        ValueError: Unknown kind, no images, or a negative level.
    """
    if kind not in SCHEDULES:
        raise ValueError(f'unknown severity schedule {kind!r}; expected one '
                         f'of {SCHEDULES}')
    if int(num_images) < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    if min(low, high) < 0:
        raise ValueError(f'severity levels must be >= 0, got {low}, {high}')
    num_images = int(num_images)
    t = np.arange(num_images) / max(num_images - 1, 1)
    if kind == 'constant':
        t = np.ones(num_images)
    elif kind == 'triangle':
        t = 1.0 - np.abs(2.0 * t - 1.0)
    return low + (high - low) * t


def level_to_severity(level: float, reference: float = 1.0) -> float:
    """Generator severity of a level: ``reference * level / 5``."""
    return float(reference) * float(level) / SEVERITY_LEVELS


def describe_weather(pipeline: Sequence[dict]) -> Optional[dict]:
    """What a SyntheticWeather step of a pipeline config renders, for
    stream records: ``dict(condition, severity, schedule, seed)`` with the
    constructor's defaults filled in (severity None: the benchmark's own
    generation severity), or None if the pipeline has none.

    Args:
        pipeline (list[dict]): Transform configs (``type`` keys).
    """
    for step in pipeline:
        if step.get('type') == SyntheticWeather.__name__:
            severity = step.get('severity')
            return dict(condition=step['condition'],
                        severity=None if severity is None else
                        float(severity),
                        schedule=step.get('schedule'),
                        seed=int(step.get('seed', 0)))
    return None


@TRANSFORMS.register_module()
class SyntheticWeather(BaseTransform):
    """Render a synthetic adverse condition on a clear twin.

    Place it right after ``LoadCheckedImage`` (before any resize: the
    depth and label are read at full size) on ``ACDCDataset(use_ref=True)``
    of the embedded benchmark. Required keys: ``img`` (H, W, 3) uint8 BGR,
    ``img_path`` (a ``..._rgb_ref_anon.png`` twin) and, with a schedule,
    ``sample_idx`` (set by mmengine datasets: the image's position in the
    domain). Modified: ``img``. Added: ``weather_severity`` (the generator
    severity used).

    Args:
        condition (str): ``fog``, ``night``, ``rain`` or ``snow``; any
            condition may be rendered on any twin (the randomness belongs
            to the scene: the weather of the twin's own condition is the
            generated one).
        severity (float, optional): Generator severity (0 = clean) of
            every image, or, with a schedule, of level 5. None (default):
            the condition's severity in the benchmark the twin belongs to
            (its ``.complete.json``), so that the output is the generated
            image; a benchmark without that record (not made by
            :func:`~tta_seg.datasets.synthetic.generate_benchmark`) is
            taken at ``DEFAULT_SEVERITY``.
        schedule (dict, optional): ``dict(type='triangle'|'ramp'|
            'constant', num_images=N, low=1, high=5)``, see
            :func:`severity_schedule`; ``num_images`` must equal the
            domain's length (``max_images``).
        seed (int): The benchmark's seed (``synthetic_benchmark.seed``,
            default 0); another seed gives other weather.
    """

    def __init__(self, condition: str, severity: Optional[float] = None,
                 schedule: Optional[dict] = None, seed: int = 0) -> None:
        if condition not in CONDITIONS:
            raise ValueError(f'condition must be one of {CONDITIONS}, got '
                             f'{condition!r}')
        if severity is not None and not severity >= 0:
            raise ValueError(f'severity must be >= 0, got {severity}')
        self.condition, self.severity, self.seed = condition, severity, seed
        self.schedule = None if schedule is None else dict(schedule)
        self.levels = self._levels(self.schedule)
        self._generated = {}  # benchmark root -> its generation severity
        importlib.import_module(GENERATOR)  # fail at build, not mid-stream

    @staticmethod
    def _levels(schedule: Optional[dict]) -> Optional[Tuple[float, ...]]:
        if schedule is None:
            return None
        spec = dict(schedule)
        kind = spec.pop('type', None)
        if 'num_images' not in spec:
            raise ValueError('a severity schedule needs num_images (the '
                             'length of its domain)')
        return tuple(severity_schedule(kind, **spec).tolist())

    def reference_severity(self, root) -> float:
        """The severity of every image (without a schedule) or of level 5:
        ``severity`` if given, else the generation severity of this
        condition in the benchmark at ``root``."""
        if self.severity is not None:
            return float(self.severity)
        key = str(root)
        if key not in self._generated:
            generator = importlib.import_module(GENERATOR)
            record = generator.read_complete(root)
            params = record['params'] if record else dict(
                severity=generator.DEFAULT_SEVERITY)
            self._generated[key] = generator.condition_severity(
                params, self.condition)
        return self._generated[key]

    def image_severity(self, sample_idx: Optional[int],
                       reference: Optional[float] = None) -> float:
        """Generator severity of the image at ``sample_idx`` of the domain,
        given the level-5 severity ``reference`` (default: ``severity``).
        """
        if reference is None:
            if self.severity is None:
                raise ValueError('no severity given: pass the reference '
                                 '(see reference_severity)')
            reference = self.severity
        if self.levels is None:
            return float(reference)
        if sample_idx is None or not 0 <= sample_idx < len(self.levels):
            raise ValueError(
                f'sample_idx {sample_idx} is outside the severity schedule '
                f'of {len(self.levels)} images: set schedule.num_images to '
                "the domain's length")
        return level_to_severity(self.levels[sample_idx], reference)

    def transform(self, results: dict) -> dict:
        image = results['img']
        if image.dtype != np.uint8 or image.ndim != 3:
            raise TypeError('SyntheticWeather needs the uint8 (H, W, 3) '
                            f'image of LoadCheckedImage, got {image.dtype} '
                            f'{image.shape}')
        depth, label, rng, root = self._scene(results['img_path'])
        if depth.shape != image.shape[:2]:
            raise ValueError(
                f'image {image.shape[:2]} and depth {depth.shape} of '
                f'{results["img_path"]} differ in size: put SyntheticWeather '
                'before any resize or crop')
        severity = self.image_severity(results.get('sample_idx'),
                                       self.reference_severity(root))
        apply_weather = importlib.import_module(WEATHER).apply_weather
        rgb = np.ascontiguousarray(image[..., ::-1])  # the renderer is RGB
        adverse = apply_weather(self.condition, rgb, depth, label, rng,
                                severity)
        results['img'] = np.ascontiguousarray(adverse[..., ::-1])
        results['weather_severity'] = severity
        return results

    def _scene(self, img_path: str) -> Tuple[np.ndarray, np.ndarray,
                                             np.random.Generator, object]:
        """Depth, label and a fresh weather generator of a twin's scene,
        and the benchmark's root."""
        generator = importlib.import_module(GENERATOR)
        root, task = generator.acdc_task_of(img_path)
        depth = read_depth(generator.acdc_depth_path(
            root, task.condition, task.split, task.index))
        label_path = generator.acdc_paths(root, task.condition, task.split,
                                          task.index)[2]
        label = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
        if label is None:
            raise FileNotFoundError(f'label {label_path} of {img_path} is '
                                    'missing or unreadable')
        _, rng = generator.task_rngs(self.seed, task)
        return depth, label, rng, root

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(condition={self.condition!r}, '
                f'severity={self.severity}, schedule={self.schedule}, '
                f'seed={self.seed})')
