"""Z-buffered rasteriser for the synthetic street scenes.

World frame: ``X`` to the right, ``Y`` up (ground plane ``Y = 0``), ``Z``
forward along the street, in metres. The pinhole camera sits at
``(0, height_m, 0)`` looking along ``+Z`` with no roll or pitch, so the
horizon is the image row ``cy`` and the vanishing point of the street is
``(cx, cy)``. A small yaw is modelled by moving ``cx``.

Everything is drawn as flat polygons (cv2 fills) into three buffers: RGB,
Cityscapes trainId label and forward depth ``Z``. Each pixel keeps the
nearest surface (z-buffer), so labels are exact and the draw order of
objects does not matter. Faces of 3D solids get a per-pixel depth from
their plane; billboards (people, signs, tree crowns) get one depth each.
"""
import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import cv2
import numpy as np

#: trainId for pixels that belong to no class (as Cityscapes' void).
IGNORE_INDEX = 255
#: Faces are clipped at this forward distance (metres) before projection.
NEAR_CLIP_M = 0.3
#: cv2 fixed-point bits: polygon vertices keep 1/8 pixel precision.
SUBPIXEL_BITS = 3
#: Default (fine, coarse) amplitudes of the multiplicative texture noise.
DEFAULT_TEXTURE = (0.06, 0.08)
#: Standard deviation (pixels) of the blur that makes the fine noise grainy
#: rather than salt-and-pepper.
FINE_NOISE_SIGMA = 0.8
#: Standard deviation (pixels, at 512 px width) of the coarse (stain) noise.
COARSE_NOISE_SIGMA = 12.0
#: Blurs wider than this (pixels) are computed on a downsampled grid.
LOWRES_SIGMA = 2.0
#: Width the noise scales refer to.
REFERENCE_WIDTH = 512

#: ``pattern(points) -> (rgb (N, 3), keep (N,) bool or None)``: procedural
#: surface detail computed from the world coordinates of covered pixels.
Pattern = Callable[[np.ndarray], Tuple[np.ndarray, Optional[np.ndarray]]]


@dataclass(frozen=True)
class Camera:
    """Pinhole camera at ``(0, height_m, 0)`` looking along ``+Z``.

    Attributes:
        width (int): Image width in pixels.
        height (int): Image height in pixels.
        focal (float): Focal length in pixels.
        cx (float): Column of the vanishing point.
        cy (float): Row of the horizon.
        height_m (float): Height of the camera above the road, metres.
    """
    width: int
    height: int
    focal: float
    cx: float
    cy: float
    height_m: float

    def project(self, points: np.ndarray) -> np.ndarray:
        """Project world points (N, 3) with ``Z > 0`` to pixels (N, 2)."""
        points = np.asarray(points, dtype=np.float64)
        z = points[:, 2]
        u = self.cx + self.focal * points[:, 0] / z
        v = self.cy - self.focal * (points[:, 1] - self.height_m) / z
        return np.stack([u, v], axis=1)

    def ray_slopes(self, x0: int, y0: int, x1: int,
                   y1: int) -> Tuple[np.ndarray, np.ndarray]:
        """Ray directions ``(dx, dy, 1)`` of the pixels of a crop.

        Returns:
            tuple: ``dx`` of shape (1, w) and ``dy`` of shape (h, 1).
        """
        dx = (np.arange(x0, x1, dtype=np.float32) - self.cx) / self.focal
        dy = (self.cy - np.arange(y0, y1, dtype=np.float32)) / self.focal
        return dx[None, :], dy[:, None]

    def ray_length(self) -> np.ndarray:
        """Length of the ray ``(dx, dy, 1)`` per pixel, shape (H, W).

        Multiplying forward depth ``Z`` by it gives the distance along the
        viewing ray, which is what light travels through (fog, haze).
        """
        dx, dy = self.ray_slopes(0, 0, self.width, self.height)
        return np.sqrt(1.0 + dx**2 + dy**2).astype(np.float32)


def clip_near(points: np.ndarray, near: float = NEAR_CLIP_M) -> np.ndarray:
    """Clip a planar polygon (N, 3) against the plane ``Z = near``.

    One Sutherland-Hodgman pass: faces that start behind the camera (road,
    facades next to the car) keep their visible part instead of projecting
    to infinity.
    """
    if points[:, 2].min() >= near:
        return points
    out = []
    count = len(points)
    for i in range(count):
        cur, nxt = points[i], points[(i + 1) % count]
        cur_in, nxt_in = cur[2] >= near, nxt[2] >= near
        if cur_in:
            out.append(cur)
        if cur_in != nxt_in:
            t = (near - cur[2]) / (nxt[2] - cur[2])
            out.append(cur + t * (nxt - cur))
    return np.asarray(out, dtype=np.float64).reshape(-1, 3)


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (3); ``np.cross`` is slow on tiny
    arrays and this is called thousands of times per scene."""
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                     a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def plane_of(points: np.ndarray) -> Tuple[np.ndarray, float]:
    """Unit normal ``n`` and offset ``c`` (``n . P = c``) of a polygon.

    Cross product of the two diagonals (exact for planar quads, cheap);
    polygons with other vertex counts use Newell's method, which is robust
    to the nearly collinear vertices that near-plane clipping creates.
    """
    if len(points) == 4:
        normal = cross(points[2] - points[0], points[3] - points[1])
    else:
        nxt = points[np.r_[1:len(points), 0]]
        normal = cross(points, nxt).sum(axis=0)
    normal = normal / max(float(np.sqrt(normal @ normal)), 1e-12)
    return normal, float(normal @ points[0])


def _fixed(point, scale: int) -> Tuple[int, int]:
    """Round a 2-vector to cv2 fixed-point integers."""
    return int(round(point[0] * scale)), int(round(point[1] * scale))


def make_noise(rng: np.random.Generator, height: int, width: int,
               sigma: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-blurred noise field (H, W) float32.

    Wide blurs are done on a downsampled grid and resized up: the result
    is equally smooth and a large-kernel blur at full size would dominate
    the cost of a scene.
    """
    factor = max(int(sigma / LOWRES_SIGMA), 1)
    small = (max(height // factor, 1) + 1, max(width // factor, 1) + 1)
    field = rng.standard_normal(small, dtype=np.float32)
    field = cv2.GaussianBlur(field, (0, 0), sigma / factor)
    if factor > 1:
        field = cv2.resize(field, (width, height),
                           interpolation=cv2.INTER_LINEAR)
    field = field[:height, :width]
    return (field - field.mean()) / max(float(field.std()), 1e-6)


class Canvas:
    """RGB, label and depth buffers with z-buffered polygon drawing.

    Args:
        camera (Camera): Projection used by the 3D drawing calls.
        rng (np.random.Generator): Source of the texture noise fields.
        background (np.ndarray): Initial RGB (H, W, 3) float in [0, 1],
            usually the sky; its pixels keep label 255 and depth ``inf``
            until something is drawn over them.
    """

    def __init__(self, camera: Camera, rng: np.random.Generator,
                 background: np.ndarray) -> None:
        shape = (camera.height, camera.width)
        scale = camera.width / REFERENCE_WIDTH
        self.camera = camera
        # Channel-first planes: masked writes to a 2D plane are several
        # times faster than to interleaved RGB, and painting dominates.
        self.planes = np.ascontiguousarray(
            background.transpose(2, 0, 1), dtype=np.float32)
        self.label = np.full(shape, IGNORE_INDEX, dtype=np.uint8)
        self.zbuf = np.full(shape, np.inf, dtype=np.float32)
        self.noise_fine = make_noise(rng, *shape, FINE_NOISE_SIGMA)
        self.noise_coarse = make_noise(rng, *shape,
                                       COARSE_NOISE_SIGMA * scale)
        self._grains = {}
        # Ray slopes of every column/row, sliced per crop (hot path).
        dx, dy = camera.ray_slopes(0, 0, camera.width, camera.height)
        self._dx, self._dy = dx[0], dy[:, 0]

    # -- low level -----------------------------------------------------
    def bbox(self, pixels: np.ndarray, pad: float = 1.0):
        """Integer crop ``(x0, y0, x1, y1)`` covering ``pixels``, or None."""
        (u0, v0), (u1, v1) = pixels.min(axis=0), pixels.max(axis=0)
        x0, y0 = max(math.floor(u0 - pad), 0), max(math.floor(v0 - pad), 0)
        x1 = min(math.ceil(u1 + pad) + 1, self.camera.width)
        y1 = min(math.ceil(v1 + pad) + 1, self.camera.height)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def occluded(self, pixels: np.ndarray, depth: float) -> bool:
        """Whether everything in the bounding box of ``pixels`` is already
        nearer than ``depth`` (or off-screen): then drawing is pointless.

        Scenes are drawn roughly near-to-far so this culls much of the
        hidden clutter behind buildings and cars.
        """
        box = self.bbox(pixels)
        if box is None:
            return True
        x0, y0, x1, y1 = box
        return bool((self.zbuf[y0:y1, x0:x1] < depth).all())

    def paint(self, box, mask: np.ndarray, depth, colour, label: int,
              texture: Sequence[float] = DEFAULT_TEXTURE,
              pattern: Optional[Pattern] = None, shade: float = 1.0) -> None:
        """Write the pixels of ``mask`` that are nearer than the z-buffer.

        Args:
            box (tuple): Crop ``(x0, y0, x1, y1)`` that ``mask`` covers.
            mask (np.ndarray): Bool (h, w) coverage.
            depth (float or np.ndarray): Forward depth, scalar or (h, w).
            colour (array-like): RGB in [0, 1], already shaded.
            label (int): trainId written to the label buffer.
            texture (tuple): Amplitudes of the fine and coarse noise.
            pattern (callable, optional): Procedural detail, see ``Pattern``;
                its colours replace ``colour``.
            shade (float): Light factor applied to the pattern's colours.
        """
        x0, y0, x1, y1 = box
        crop = np.s_[y0:y1, x0:x1]
        zbuf = self.zbuf[crop]
        scalar = np.ndim(depth) == 0
        sel = mask & (depth < zbuf)
        if not sel.any():
            return
        rgb = np.asarray(colour, np.float32).reshape(-1, 3)
        if pattern is not None:
            full = np.broadcast_to(np.float32(depth), mask.shape)
            rgb, keep = pattern(self._world_points(box, sel, full))
            rgb = rgb * shade
            if keep is not None:
                sel[sel] = keep
                rgb = rgb[keep]
        grain = self._grain(texture)[crop][sel]
        zbuf[sel] = depth if scalar else depth[sel]
        self.label[crop][sel] = label
        self.planes[:, y0:y1, x0:x1][:, sel] = rgb.T * grain

    def _grain(self, texture: Sequence[float]) -> np.ndarray:
        """Multiplicative texture (H, W) for amplitudes ``texture``, cached
        because a scene uses a handful of presets thousands of times."""
        key = texture if isinstance(texture, tuple) else tuple(texture)
        if key not in self._grains:
            self._grains[key] = (1.0 + key[0] * self.noise_fine +
                                 key[1] * self.noise_coarse)
        return self._grains[key]

    @property
    def image(self) -> np.ndarray:
        """RGB buffer (H, W, 3) float32 (a copy)."""
        return self.planes.transpose(1, 2, 0).copy()

    def _slopes(self, box) -> Tuple[np.ndarray, np.ndarray]:
        """Ray slopes of a crop: ``dx`` (1, w) and ``dy`` (h, 1)."""
        x0, y0, x1, y1 = box
        return self._dx[None, x0:x1], self._dy[y0:y1, None]

    def _world_points(self, box, sel: np.ndarray,
                      depth: np.ndarray) -> np.ndarray:
        """World coordinates (N, 3) of the selected pixels of a crop."""
        dx, dy = self._slopes(box)
        ys, xs = np.nonzero(sel)
        z = depth[sel]
        return np.stack([
            dx[0, xs] * z, self.camera.height_m + dy[ys, 0] * z, z
        ], axis=1)

    def mask_from(self, box, draw: Callable[[np.ndarray, np.ndarray], None],
                  pixels: np.ndarray) -> np.ndarray:
        """Rasterise with a cv2 call into a crop-sized mask.

        ``draw(mask, fixed_point_pixels)`` receives pixel coordinates already
        shifted to the crop and scaled by ``2**SUBPIXEL_BITS``.
        """
        x0, y0, x1, y1 = box
        mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        shifted = (pixels - (x0, y0)) * (1 << SUBPIXEL_BITS)
        draw(mask, np.round(shifted).astype(np.int32))
        return mask.astype(bool)

    # -- 2D primitives at one depth (billboards) -------------------------
    def polygon(self, pixels: np.ndarray, depth: float, colour, label: int,
                texture: Sequence[float] = DEFAULT_TEXTURE) -> None:
        """Fill a pixel-space polygon (N, 2) at constant depth."""
        box = self.bbox(pixels)
        if box is None:
            return
        mask = self.mask_from(box, lambda m, p: cv2.fillPoly(
            m, [p], 1, cv2.LINE_8, SUBPIXEL_BITS), pixels)
        self.paint(box, mask, depth, colour, label, texture)

    def ellipse(self, centre, axes, depth: float, colour, label: int,
                texture: Sequence[float] = DEFAULT_TEXTURE) -> None:
        """Fill an axis-aligned ellipse (pixel centre, pixel half-axes)."""
        centre = np.asarray(centre, dtype=np.float64)
        axes = np.maximum(np.asarray(axes, dtype=np.float64), 0.5)
        box = self.bbox(np.stack([centre - axes, centre + axes]))
        if box is None:
            return
        scale = 1 << SUBPIXEL_BITS
        mask = np.zeros((box[3] - box[1], box[2] - box[0]), dtype=np.uint8)
        cv2.ellipse(mask, _fixed(centre - (box[0], box[1]), scale),
                    _fixed(axes, scale), 0, 0, 360, 1, -1, cv2.LINE_8,
                    SUBPIXEL_BITS)
        self.paint(box, mask.astype(bool), depth, colour, label, texture)

    def polyline(self, pixels: np.ndarray, thickness: float, depth: float,
                 colour, label: int, closed: bool = False,
                 texture: Sequence[float] = DEFAULT_TEXTURE) -> None:
        """Draw a thick pixel-space polyline (N, 2) at constant depth."""
        box = self.bbox(pixels, pad=thickness)
        if box is None:
            return
        width = max(int(round(thickness)), 1)
        mask = self.mask_from(box, lambda m, p: cv2.polylines(
            m, [p], closed, 1, width, cv2.LINE_8, SUBPIXEL_BITS), pixels)
        self.paint(box, mask, depth, colour, label, texture)

    def line(self, start, end, thickness: float, depth: float, colour,
             label: int, texture: Sequence[float] = DEFAULT_TEXTURE) -> None:
        """Draw a thick pixel-space segment at constant depth."""
        self.polyline(np.asarray([start, end], dtype=np.float64), thickness,
                      depth, colour, label, texture=texture)

    # -- 3D primitives -----------------------------------------------------
    def face(self, points: np.ndarray, colour, label: int,
             texture: Sequence[float] = DEFAULT_TEXTURE,
             pattern: Optional[Pattern] = None, shade: float = 1.0) -> None:
        """Fill a planar 3D polygon (N, 3) with per-pixel plane depth.

        ``colour`` is used as given (shade it first); ``shade`` only scales
        the colours of ``pattern``.
        """
        points = clip_near(np.asarray(points, dtype=np.float64))
        if len(points) < 3:
            return
        pixels = self.camera.project(points)
        box = self.bbox(pixels)
        if box is None:
            return
        mask = self.mask_from(box, lambda m, p: cv2.fillPoly(
            m, [p], 1, cv2.LINE_8, SUBPIXEL_BITS), pixels)
        normal, offset = plane_of(points)
        dx, dy = self._slopes(box)
        denom = normal[0] * dx + normal[1] * dy + normal[2]
        numer = offset - normal[1] * self.camera.height_m
        with np.errstate(divide='ignore', invalid='ignore'):
            depth = numer / denom
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.inf)
        self.paint(box, mask, depth.astype(np.float32), colour, label,
                   texture, pattern, shade)

    def pixel_scale(self, depth: float) -> float:
        """Pixels per metre for a billboard at forward depth ``depth``."""
        return self.camera.focal / depth
