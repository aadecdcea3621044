"""Lossless depth maps in 8-bit PNGs (the synthetic benchmark's depth).

The weather renderers read float32 depth (metres along the ray), and an
adverse image re-rendered in the data pipeline must equal the generated
one bit for bit, so the depth is stored without any rounding. Neither
16-bit millimetres (overflow beyond 65.5 m; the sky sits at 1 km) nor
float16 (about 0.5 % of the pixels then differ by one grey level) is
exact.

Format: the little-endian bytes of the float32 map, split into four byte
planes stacked vertically into one grey 8-bit PNG of shape (4 H, W) --
plane ``k`` holds byte ``k`` of every pixel. Planes compress better than
interleaved RGBA (the exponent bytes are smooth): about 200 kB per
512x256 map against 290 kB as RGBA and 512 kB as ``.npy``. Decode with
:func:`depth_from_planes` or :func:`read_depth`.

This module imports neither mmcv nor the synthetic generator, so the
generator (writing) and the pipeline transform (reading) share it.
"""
import cv2
import numpy as np

#: Bytes of a float32, one PNG plane each.
NUM_PLANES = 4
DEPTH_DTYPE = np.dtype('<f4')


def depth_to_planes(depth: np.ndarray) -> np.ndarray:
    """float32 depth (H, W) -> uint8 byte planes (4 H, W), losslessly."""
    if depth.ndim != 2:
        raise ValueError(f'depth must be (H, W), got shape {depth.shape}')
    raw = np.ascontiguousarray(depth, dtype=DEPTH_DTYPE).view(np.uint8)
    planes = raw.reshape(depth.shape + (NUM_PLANES, )).transpose(2, 0, 1)
    return np.ascontiguousarray(planes).reshape(-1, depth.shape[1])


def depth_from_planes(planes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`depth_to_planes`: (4 H, W) uint8 -> (H, W) float32.
    """
    if planes.dtype != np.uint8 or planes.ndim != 2 or \
            planes.shape[0] % NUM_PLANES:
        raise ValueError('expected a (4 H, W) uint8 array of depth byte '
                         f'planes, got {planes.dtype} {planes.shape}')
    height = planes.shape[0] // NUM_PLANES
    raw = planes.reshape(NUM_PLANES, height, -1).transpose(1, 2, 0)
    return np.ascontiguousarray(raw).view(DEPTH_DTYPE)[..., 0].astype(
        np.float32, copy=False)


def read_depth(path) -> np.ndarray:
    """Read a depth PNG written from :func:`depth_to_planes`.

    Raises:
        FileNotFoundError: ``path`` is missing or not a decodable PNG.
    """
    planes = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if planes is None:
        raise FileNotFoundError(
            f'Depth map {path} is missing or unreadable. The synthetic '
            'benchmark stores depth since its version 3; regenerate it with '
            '`python tools/make_synthetic.py`.')
    return depth_from_planes(planes)

