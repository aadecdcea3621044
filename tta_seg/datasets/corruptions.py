"""ImageNet-C / Cityscapes-C corruptions as a data-pipeline transform.

The 15 corruptions of Hendrycks & Dietterich, "Benchmarking Neural Network
Robustness to Common Corruptions and Perturbations" (ICLR 2019; code:
github.com/hendrycks/robustness, ``ImageNet-C/create_c``), at their five
severities, computed by the library ``imagecorruptions-imaug`` (1.1.5,
github.com/imaug/imagecorruptions, imported as ``imagecorruptions``): the
maintained fork of bethgelab's ``imagecorruptions`` (Michaelis et al.,
"Benchmarking Robustness in Object Detection", 2019), which adapted the
ImageNet-C code to images of any size (at least 32 px a side) and is the
usual way COCO-C and Cityscapes-C images are made. Nothing is downloaded:
frost's six overlay images ship inside the library's package.

Why the fork and not bethgelab's 1.1.2 (tried here, NumPy 2.4, scikit-image
0.26): 1.1.2 fails on ``fog`` (``np.float_``, removed in NumPy 2) and on
``glass_blur`` (``multichannel``, removed in scikit-image 0.19), and its
pure-Python glass blur takes 1.4 s on a 512x256 image (about 20 s on a
2048x1024 Cityscapes image). The fork runs all 15 and compiles the glass
blur with numba (0.65 s at 2048x1024). ``albumentations`` (2.x) and
``kornia`` have look-alike transforms with parameter ranges, not the
ImageNet-C definitions at five severities (albumentations' fog, e.g.,
overlays circles where ImageNet-C uses a plasma fractal).

Deviations of the fork from ImageNet-C / bethgelab 1.1.2:

* frost overlays are drawn from all six shipped frost images (the original
  code draws from the first five);
* glass blur shuffles pixels with numba's generator and impulse noise draws
  from scikit-image's ``default_rng``, both seeded through the library's
  ``seed`` argument: the same distributions, other samples than NumPy's
  global generator would give;
* fog's plasma fractal is computed in float32 (float64 originally).

bethgelab's own redefinition, kept by the fork: ``elastic_transform`` is a
size-relative elastic warp without ImageNet-C's affine part (per-axis
displacement about 0.7 px std, 3 px max at severity 1; 1.8 px std, 7 px max
at severity 5, at 512x256 and at 2048x1024 alike).

Blur radii stay ImageNet-C's, in pixels for 224x224 images, applied at the
original resolution as bethgelab's package does (which re-implemented
motion blur and snow without ImageMagick and sized fog, frost and the
elastic warp to the image): on a 2048x1024 Cityscapes image a blur of the
same severity covers a smaller part of each object. Published "Cityscapes-C" sets choose their
corruptions differently (e.g. Kamann & Rother, CVPR 2020); here
Cityscapes-C means these 15 on Cityscapes val.

Choice of ours: every image's random draws (noise, snowflakes, frost crop,
fog fractal, elastic field, glass shuffles) are fixed by ``seed``, the
corruption and the image's file name, not by the severity, so a severity
sweep over one image keeps one noise pattern. NumPy's global generator is
seeded for the call (the library draws from it) and restored afterwards;
numba's generator, reseeded by the library's glass blur, is not restored.
"""
import hashlib
import inspect
import os.path as osp
from functools import lru_cache
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from tta_seg.registry import TRANSFORMS

#: The 15 benchmark corruptions by group, in Hendrycks & Dietterich's order.
CORRUPTION_GROUPS = {
    'noise': ('gaussian_noise', 'shot_noise', 'impulse_noise'),
    'blur': ('defocus_blur', 'glass_blur', 'motion_blur', 'zoom_blur'),
    'weather': ('snow', 'frost', 'fog', 'brightness'),
    'digital': ('contrast', 'elastic_transform', 'pixelate',
                'jpeg_compression'),
}
CORRUPTIONS = tuple(name for group in CORRUPTION_GROUPS.values()
                    for name in group)
SEVERITIES = (1, 2, 3, 4, 5)
#: The pip distribution that provides the ``imagecorruptions`` module.
LIBRARY = 'imagecorruptions-imaug'
#: Library functions that draw from their own generator, seeded through
#: their ``seed`` argument instead of NumPy's global state.
OWN_GENERATOR = ('impulse_noise', 'glass_blur')
#: ``np.random.seed`` takes seeds below 2**32.
SEED_BYTES = 4
#: The library refuses images with a smaller side.
MIN_SIDE = 32


def check_corruption(corruption: str, severity: int) -> None:
    """Raise ``ValueError`` naming the valid values if either is invalid."""
    if corruption not in CORRUPTIONS:
        raise ValueError(f'Unknown corruption {corruption!r}; valid '
                         f'corruptions: {", ".join(CORRUPTIONS)}.')
    # bool is an int, and 1.0 == 1: only true integers are severities
    is_int = isinstance(severity, (int, np.integer)) and \
        not isinstance(severity, bool)
    if not is_int or severity not in SEVERITIES:
        raise ValueError(f'Corruption severity must be one of '
                         f'{list(SEVERITIES)}, got {severity!r}.')


def image_seed(seed: int, corruption: str, key: str) -> int:
    """A 32-bit seed for one image, stable across runs and machines.

    A cryptographic digest rather than ``hash()``: Python salts string
    hashes per process, so dataloader workers would disagree.
    """
    digest = hashlib.sha256(f'{seed}/{corruption}/{key}'.encode()).digest()
    return int.from_bytes(digest[:SEED_BYTES], 'little')


@lru_cache(maxsize=None)
def load_library():
    """The ``imagecorruptions`` module of :data:`LIBRARY`, checked.

    Raises:
        ImportError: It is missing, or bethgelab's ``imagecorruptions``
            (same module name; broken under NumPy 2, ignores seeds) is
            installed in its place.
    """
    try:
        import imagecorruptions
    except ImportError as err:
        raise ImportError(f'The Corruption transform needs {LIBRARY}: '
                          f'pip install {LIBRARY}') from err
    glass_blur = imagecorruptions.corruption_dict['glass_blur']
    if 'seed' not in inspect.signature(glass_blur).parameters:
        where = getattr(imagecorruptions, '__file__', None)
        raise ImportError(
            f'The installed imagecorruptions module ({where}) is '
            'bethgelab\'s, which fails under NumPy 2 and cannot be seeded; '
            f'replace it: pip uninstall -y imagecorruptions && pip install '
            f'{LIBRARY}')
    return imagecorruptions


def corrupt_rgb(img: np.ndarray, corruption: str, severity: int,
                rng_seed: int) -> np.ndarray:
    """Corrupt an RGB image reproducibly, leaving NumPy's global RNG as is.

    Args:
        img (np.ndarray): H x W x 3 uint8 RGB image, H, W >= 32.
        corruption (str): One of :data:`CORRUPTIONS`.
        severity (int): One of :data:`SEVERITIES`.
        rng_seed (int): Seed of every random draw, in ``[0, 2**32)``.

    Returns:
        np.ndarray: H x W x 3 uint8 RGB image (the library truncates its
        float result to uint8, as ImageNet-C saved its images).
    """
    check_corruption(corruption, severity)
    library = load_library()
    kwargs = dict(seed=rng_seed) if corruption in OWN_GENERATOR else {}
    state = np.random.get_state()
    try:
        np.random.seed(rng_seed)
        return library.corrupt(img, corruption_name=corruption,
                               severity=severity, **kwargs)
    finally:
        np.random.set_state(state)


@TRANSFORMS.register_module()
class Corruption(BaseTransform):
    """One ImageNet-C corruption at one severity (see the module docstring
    for provenance and deviations).

    Place it after ``LoadCheckedImage`` and before ``Resize``: corruptions
    are defined at the original resolution. Labels are untouched: every
    corruption keeps the geometry except ``elastic_transform``, whose warp
    of a few pixels the labels do not follow (as in other Cityscapes-C
    uses of the library), costing some boundary IoU by construction.

    Required keys: ``img`` (H x W x 3 uint8, BGR as ``LoadImageFromFile``
    loads it by default) and ``img_path`` (else ``sample_idx``), which
    fixes the image's random draws. Modified key: ``img``.

    Args:
        corruption (str): One of :data:`CORRUPTIONS`.
        severity (int): 1 (mildest) to 5.
        seed (int): With the corruption and the image's file name, fixes
            every random draw: the same image always gets the same
            corruption. Default: 0.
    """

    def __init__(self, corruption: str, severity: int, seed: int = 0) -> None:
        check_corruption(corruption, severity)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ValueError(f'Corruption seed must be an integer, got '
                             f'{seed!r}.')
        load_library()  # fail when the pipeline is built, not in a worker
        self.corruption = corruption
        self.severity = int(severity)
        self.seed = int(seed)

    def transform(self, results: dict) -> dict:
        """Corrupt ``results['img']`` in BGR, via RGB for the library."""
        img = results['img']
        _check_image(img, results.get('img_path'))
        rng_seed = image_seed(self.seed, self.corruption, _image_key(results))
        out = corrupt_rgb(np.ascontiguousarray(img[..., ::-1]),
                          self.corruption, self.severity, rng_seed)
        results['img'] = np.ascontiguousarray(out[..., ::-1])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(corruption={self.corruption!r}, '
                f'severity={self.severity}, seed={self.seed})')


def _image_key(results: dict) -> str:
    """The file name (not the path: moving the data keeps the noise), or
    the dataset index for images that come without a file."""
    if results.get('img_path'):
        return osp.basename(results['img_path'])
    if results.get('sample_idx') is not None:
        return f'index {results["sample_idx"]}'
    raise KeyError('Corruption needs results["img_path"] or '
                   'results["sample_idx"] to seed each image\'s noise.')


def _check_image(img, path: Optional[str]) -> None:
    """What the library accepts, with the file named on failure."""
    where = f' ({path})' if path else ''
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or \
            img.ndim != 3 or img.shape[2] != 3:
        desc = (f'{img.dtype} array of shape {img.shape}'
                if isinstance(img, np.ndarray) else type(img).__name__)
        raise ValueError(
            f'Corruption expects an H x W x 3 uint8 BGR image{where}, got '
            f'a {desc}: load it with color_type="color" and '
            'to_float32=False.')
    if min(img.shape[:2]) < MIN_SIDE:
        raise ValueError(f'Corruption needs images of at least {MIN_SIDE} '
                         f'px a side{where}, got {img.shape[:2]}.')
