"""Lit 3D solids, discs, rods and camera-facing billboards.

The building blocks of :mod:`objects`: everything is drawn through a
:class:`Painter`, which bundles the canvas, the scene's sun and the random
generator so drawing functions take few arguments.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np

from .render import DEFAULT_TEXTURE, NEAR_CLIP_M, Canvas, Pattern, cross

#: Depth step (metres) between stacked billboard layers (an arm in front of
#: a torso): the z-buffer keeps the first of two equal depths, so layers
#: need a real offset.
LAYER_STEP_M = 0.01
#: Vertices of a circle approximated by a polygon.
CIRCLE_VERTICES = 20
#: Normal used to light billboards: facing the camera, tilted up a little
#: so they catch some of the sky light like rounded bodies do.
BILLBOARD_NORMAL = np.array([0.0, 0.5, -0.866])
#: Corner indices of the five drawable faces of a box (no bottom face).
#: Corners 0-3: bottom ``(x0,z0) (x1,z0) (x1,z1) (x0,z1)``; 4-7: top, same.
BOX_FACES = {
    'near': (0, 1, 5, 4),
    'far': (3, 2, 6, 7),
    'left': (0, 3, 7, 4),
    'right': (1, 2, 6, 5),
    'top': (4, 5, 6, 7),
}
_FACE_INDEX = np.array(list(BOX_FACES.values()))
#: Constants of the sine hash used for per-cell variation in patterns.
HASH_A, HASH_B, HASH_SALT, HASH_SCALE = 12.9898, 78.233, 37.719, 43758.5453


@dataclass(frozen=True)
class Lighting:
    """Directional sun plus ambient sky light.

    Attributes:
        sun (np.ndarray): Unit vector pointing towards the sun.
        ambient (float): Fraction of light that reaches every face.
    """
    sun: np.ndarray
    ambient: float

    def shade(self, normal: np.ndarray) -> float:
        """Lambertian factor in [ambient, 1] of a face with this normal."""
        direct = max(0.0, float(np.asarray(normal) @ self.sun))
        return self.ambient + (1.0 - self.ambient) * direct

    @property
    def billboard_shade(self) -> float:
        """Light factor of camera-facing figures."""
        normal = BILLBOARD_NORMAL / np.linalg.norm(BILLBOARD_NORMAL)
        return self.shade(normal)


@dataclass
class Painter:
    """Canvas, light and randomness shared by every drawing function."""
    canvas: Canvas
    light: Lighting
    rng: np.random.Generator


def jitter(rng: np.random.Generator, colour: Sequence[float],
           amount: float) -> np.ndarray:
    """Colour with Gaussian noise of std ``amount`` per channel, in [0, 1]."""
    return np.clip(np.asarray(colour) + rng.normal(0.0, amount, 3), 0.0, 1.0)


def vary(rng: np.random.Generator, colour: Sequence[float],
         brightness: float, chroma: float) -> np.ndarray:
    """Colour scaled by a random brightness with a small hue shift.

    Natural variation (sky, paint fading) is mostly in brightness; large
    independent per-channel noise drifts into implausible hues.
    """
    scale = 1.0 + rng.uniform(-brightness, brightness)
    return np.clip(np.asarray(colour) * scale + rng.normal(0.0, chroma, 3),
                   0.0, 1.0)


def pick(rng: np.random.Generator, options: Sequence):
    """One element of ``options``, chosen uniformly."""
    return options[int(rng.integers(len(options)))]


def hash01(a: np.ndarray, b: np.ndarray, salt: float = 0.0) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) per integer cell (a, b)."""
    value = np.sin(a * HASH_A + b * HASH_B + salt * HASH_SALT) * HASH_SCALE
    return value - np.floor(value)


def box_corners(x0: float, x1: float, y0: float, y1: float, z0: float,
                z1: float, inset_x: float = 0.0, inset_z: float = 0.0,
                shift_z: float = 0.0) -> np.ndarray:
    """Eight corners (8, 3) of a box whose top may be inset and shifted.

    ``inset_x``/``inset_z`` shrink the top rectangle (a car's cabin, a
    sloped roof edge); ``shift_z`` moves it along the street (a leaning
    torso).
    """
    bottom = [(x0, y0, z0), (x1, y0, z0), (x1, y0, z1), (x0, y0, z1)]
    tx0, tx1 = x0 + inset_x, x1 - inset_x
    tz0, tz1 = z0 + inset_z + shift_z, z1 - inset_z + shift_z
    top = [(tx0, y1, tz0), (tx1, y1, tz0), (tx1, y1, tz1), (tx0, y1, tz1)]
    return np.asarray(bottom + top, dtype=np.float64)


def _visible_faces(p: Painter, corners: np.ndarray):
    """Names, corner arrays and outward normals of camera-facing faces."""
    faces = corners[_FACE_INDEX]                      # (5, 4, 3)
    normals = cross(faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True),
                          1e-12)
    centres = faces.mean(axis=1)
    # Orient every normal away from the solid's centre.
    flip = np.einsum('ij,ij->i', normals, centres - corners.mean(axis=0))
    normals *= np.where(flip < 0, -1.0, 1.0)[:, None]
    eye = np.array([0.0, p.canvas.camera.height_m, 0.0])
    facing = np.einsum('ij,ij->i', normals, centres - eye) < 0
    return [(name, faces[i], normals[i])
            for i, name in enumerate(BOX_FACES) if facing[i]]


def solid(p: Painter, corners: np.ndarray, colour: Sequence[float],
          label: int, texture: Sequence[float] = DEFAULT_TEXTURE,
          patterns: Optional[Dict[str, Pattern]] = None,
          colours: Optional[Dict[str, Sequence[float]]] = None) -> None:
    """Draw the camera-facing faces of a (possibly tapered) box.

    Args:
        p (Painter): Where and how to draw.
        corners (np.ndarray): (8, 3) from :func:`box_corners`.
        colour (sequence): Base RGB of every face.
        label (int): trainId of the whole solid.
        texture (tuple): Fine/coarse noise amplitudes.
        patterns (dict, optional): Face name -> procedural pattern.
        colours (dict, optional): Face name -> RGB overriding ``colour``.
    """
    near = corners[:, 2].min()
    if corners[:, 2].max() <= NEAR_CLIP_M:
        return
    if near > NEAR_CLIP_M and p.canvas.occluded(
            p.canvas.camera.project(corners), near):
        return
    patterns, colours = patterns or {}, colours or {}
    for name, face, normal in _visible_faces(p, corners):
        shade = p.light.shade(normal)
        base = np.asarray(colours.get(name, colour)) * shade
        p.canvas.face(face, base, label, texture, patterns.get(name), shade)


def circle_points(centre: Sequence[float], radius: float,
                  axis: int) -> np.ndarray:
    """Polygon (CIRCLE_VERTICES, 3) of a circle in the plane normal to
    world ``axis`` (0: a wheel seen from the side, 2: facing the camera)."""
    angles = np.linspace(0.0, 2.0 * np.pi, CIRCLE_VERTICES, endpoint=False)
    ring = np.zeros((CIRCLE_VERTICES, 3))
    in_plane = [i for i in range(3) if i != axis]
    ring[:, in_plane[0]] = radius * np.cos(angles)
    ring[:, in_plane[1]] = radius * np.sin(angles)
    return ring + np.asarray(centre, dtype=np.float64)


def disc(p: Painter, centre: Sequence[float], radius: float, colour,
         label: int, axis: int = 0,
         texture: Sequence[float] = DEFAULT_TEXTURE) -> None:
    """Filled 3D circle (wheel, lamp), lit as if facing the camera."""
    shade = p.light.billboard_shade
    p.canvas.face(circle_points(centre, radius, axis),
                  np.asarray(colour) * shade, label, texture)


def ring(p: Painter, centre: Sequence[float], radius: float,
         thickness_m: float, colour, label: int, axis: int = 0) -> None:
    """Circle outline in 3D (bicycle tyre), drawn at its centre's depth."""
    points = circle_points(centre, radius, axis)
    if points[:, 2].min() <= 0:
        return
    depth = float(centre[2])
    thickness = thickness_m * p.canvas.pixel_scale(depth)
    p.canvas.polyline(p.canvas.camera.project(points), thickness, depth,
                      np.asarray(colour) * p.light.billboard_shade, label,
                      closed=True)


def rod(p: Painter, start: Sequence[float], end: Sequence[float],
        width_m: float, colour, label: int) -> None:
    """Thin 3D segment (frame tube, arm, wire) at its mean depth."""
    points = np.asarray([start, end], dtype=np.float64)
    if points[:, 2].min() <= 0:
        return
    depth = float(points[:, 2].mean())
    thickness = width_m * p.canvas.pixel_scale(depth)
    pixels = p.canvas.camera.project(points)
    p.canvas.line(pixels[0], pixels[1], thickness, depth,
                  np.asarray(colour) * p.light.billboard_shade, label)


class Billboard:
    """A flat figure facing the camera, drawn in local metres.

    Local ``(lx, ly)`` is metres right of and above the anchor world point
    ``(x, y, z)``; every part lies at depth ``z - layer * LAYER_STEP_M``.

    Args:
        p (Painter): Where and how to draw.
        x (float): Anchor X (metres).
        y (float): Anchor Y (ground height under the figure).
        z (float): Anchor depth (metres, > 0).
    """

    def __init__(self, p: Painter, x: float, y: float, z: float) -> None:
        self.p = p
        self.z = z
        self.scale = p.canvas.pixel_scale(z)
        self.origin = p.canvas.camera.project(np.array([[x, y, z]]))[0]
        self.shade = p.light.billboard_shade

    def to_pixels(self, local: np.ndarray) -> np.ndarray:
        """Local metres (N, 2) -> pixel coordinates (N, 2)."""
        local = np.asarray(local, dtype=np.float64).reshape(-1, 2)
        return self.origin + local * (self.scale, -self.scale)

    def _depth(self, layer: int) -> float:
        return self.z - layer * LAYER_STEP_M

    def poly(self, local, colour, label: int, layer: int = 0,
             texture: Sequence[float] = DEFAULT_TEXTURE) -> None:
        """Filled polygon given by local vertices (N, 2)."""
        self.p.canvas.polygon(self.to_pixels(local), self._depth(layer),
                              np.asarray(colour) * self.shade, label,
                              texture)

    def ellipse(self, centre, half_axes, colour, label: int, layer: int = 0,
                texture: Sequence[float] = DEFAULT_TEXTURE) -> None:
        """Filled ellipse, centre and half-axes in local metres."""
        self.p.canvas.ellipse(self.to_pixels(centre)[0],
                              np.asarray(half_axes) * self.scale,
                              self._depth(layer),
                              np.asarray(colour) * self.shade, label, texture)

    def line(self, start, end, width_m: float, colour, label: int,
             layer: int = 0) -> None:
        """Thick segment between two local points."""
        pixels = self.to_pixels(np.asarray([start, end]))
        self.p.canvas.line(pixels[0], pixels[1], width_m * self.scale,
                           self._depth(layer),
                           np.asarray(colour) * self.shade, label)
