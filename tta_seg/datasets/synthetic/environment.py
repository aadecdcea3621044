"""Camera, sun, sky and the photographic finish of a scene.

Sampling of the car-mounted camera (Cityscapes-like focal length and
horizon), the sun and ambient light, the sky (gradient and clouds), cast
shadows of the buildings, the ego car's bonnet, and the final aerial
haze, white balance, optics blur and sensor noise.
"""
from typing import Tuple

import cv2
import numpy as np

from . import classes as C
from .layout import Layout
from .render import Camera, Canvas, make_noise
from .shapes import Lighting, Painter, jitter, pick, vary

#: Focal length as a fraction of the width (Cityscapes: 2262 / 2048).
FOCAL_RANGE = (1.0, 1.2)
#: Horizon row as a fraction of the height.
HORIZON_RANGE = (0.38, 0.5)
#: Vanishing point column offset, fraction of the width (camera yaw).
YAW_RANGE = 0.06
#: Camera height (metres), as a car-mounted camera.
CAMERA_HEIGHT = (1.2, 1.6)
#: Chance of an overcast sky; sun elevation range (degrees); ambient light
#: share under overcast and sunny skies.
P_OVERCAST, SUN_ELEVATION = 0.35, (15.0, 60.0)
AMBIENT_OVERCAST, AMBIENT_SUNNY = (0.75, 0.9), (0.4, 0.65)
#: Sky colours ``(zenith, horizon)`` and their brightness spread.
SKY_OVERCAST = ((0.68, 0.7, 0.74), (0.86, 0.87, 0.88))
SKY_CLEAR = ((0.32, 0.52, 0.85), (0.78, 0.84, 0.92))
ZENITH_SPREAD, HORIZON_SPREAD, SKY_CHROMA = 0.13, 0.08, 0.012
#: Shape of the sky gradient (exponent on the height above the horizon).
SKY_GRADIENT = 0.6
#: Clouds: noise scale (fraction of the width), coverage threshold range
#: (in noise std; high = clear sky), edge sharpness, colour and darkening
#: of thick clouds.
CLOUD_SCALE, CLOUD_THRESHOLD, CLOUD_SHARPNESS = 1 / 40, (-0.5, 1.2), 1.5
CLOUD_RGB, CLOUD_DARKENING = (0.93, 0.93, 0.94), 0.15
#: Cast shadows: fraction of the direct light left in them, the blur of
#: their edges (pixels), the smallest sideways sun component that casts
#: any, and the distance (metres) from a facade below which a point is
#: the facade itself (not shadowed by it).
SHADOW_DIRECT, SHADOW_SOFTNESS, MIN_SUN_X, SELF_SHADOW_M = 0.2, 1.0, 1e-3, \
    0.3
#: Ego car bonnet: height range (fraction of the image height), outline
#: vertices, how much the sides drop (fraction of its height), colours,
#: depth (metres).
HOOD_HEIGHT, HOOD_VERTICES, HOOD_DROP = (0.04, 0.09), 9, 0.5
HOOD_COLOURS = ((0.1, 0.1, 0.1), (0.3, 0.3, 0.32), (0.6, 0.6, 0.62))
HOOD_JITTER, HOOD_DEPTH_M = 0.03, 1.0
#: Depth written for sky pixels (metres): large but finite.
SKY_DEPTH_M = 1000.0
#: Extinction (1/m) of the clear-weather aerial haze.
HAZE_BETA = (0.0008, 0.004)
#: Exposure range and the warm/cool white-balance shift range.
EXPOSURE, WHITE_BALANCE = (0.85, 1.15), 0.05
#: Optics blur (pixels at REFERENCE_WIDTH) and sensor noise std.
OPTICS_SIGMA, SENSOR_NOISE, REFERENCE_WIDTH = 0.55, 0.008, 512.0
MAX_LEVEL = 255.0


def sample_camera(rng: np.random.Generator, width: int,
                  height: int) -> Camera:
    """A car-mounted camera with random focal length, horizon and yaw."""
    return Camera(
        width=width, height=height,
        focal=width * rng.uniform(*FOCAL_RANGE),
        cx=width * (0.5 + rng.uniform(-YAW_RANGE, YAW_RANGE)),
        cy=height * rng.uniform(*HORIZON_RANGE),
        height_m=rng.uniform(*CAMERA_HEIGHT))


def sample_lighting(rng: np.random.Generator) -> Tuple[Lighting, bool]:
    """Sun direction and ambient share; overcast scenes are flat-lit."""
    overcast = rng.random() < P_OVERCAST
    elevation = np.radians(rng.uniform(*SUN_ELEVATION))
    azimuth = rng.uniform(0.0, 2.0 * np.pi)
    sun = np.array([np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                    np.cos(elevation) * np.cos(azimuth)])
    ambient = rng.uniform(*(AMBIENT_OVERCAST if overcast else AMBIENT_SUNNY))
    return Lighting(sun=sun, ambient=ambient), overcast


def sky_image(rng: np.random.Generator, camera: Camera,
              overcast: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Vertical gradient with clouds; returns the image and horizon RGB."""
    zenith, horizon = SKY_OVERCAST if overcast else SKY_CLEAR
    zenith = vary(rng, zenith, ZENITH_SPREAD, SKY_CHROMA)
    horizon = vary(rng, horizon, HORIZON_SPREAD, SKY_CHROMA)
    rows = np.arange(camera.height, dtype=np.float32)
    t = np.clip((camera.cy - rows) / max(camera.cy, 1.0), 0.0, 1.0)
    t = (t ** SKY_GRADIENT)[:, None]
    sky = horizon[None] * (1 - t) + zenith[None] * t
    sky = np.repeat(sky[:, None], camera.width, axis=1)
    clouds = make_noise(rng, camera.height, camera.width,
                        camera.width * CLOUD_SCALE)
    cover = np.clip((clouds - rng.uniform(*CLOUD_THRESHOLD)) *
                    CLOUD_SHARPNESS, 0.0, 1.0)[..., None]
    cloud_rgb = np.float32(CLOUD_RGB) - CLOUD_DARKENING * cover
    sky = sky * (1 - cover) + cloud_rgb * cover
    return sky.astype(np.float32), horizon


def _shadow_mask(canvas: Canvas, layout: Layout,
                 light: Lighting) -> np.ndarray:
    """Pixels whose way to the sun is blocked by the sun-side buildings.

    Traces each visible point towards the sun up to the building line of
    the side the sun shines from and compares the ray height there with
    the height of the lot it meets (a height field along the street).
    """
    side = layout.right if light.sun[0] > 0 else layout.left
    if abs(light.sun[0]) < MIN_SUN_X or not side.lots:
        return np.zeros_like(canvas.zbuf, dtype=bool)
    dx, dy = canvas.camera.ray_slopes(0, 0, canvas.camera.width,
                                      canvas.camera.height)
    z = np.where(np.isfinite(canvas.zbuf), canvas.zbuf, 0.0)
    x, y = dx * z, canvas.camera.height_m + dy * z
    t = (side.sign * side.line - x) / light.sun[0]
    z_hit, y_hit = z + t * light.sun[2], y + t * light.sun[1]
    starts = np.array([lot.z0 for lot in side.lots])
    heights = np.array([lot.height if lot.kind != 'open' else 0.0
                        for lot in side.lots])
    index = np.clip(np.searchsorted(starts, z_hit) - 1, 0, len(starts) - 1)
    blocked = (t * abs(light.sun[0]) > SELF_SHADOW_M) & (
        y_hit < heights[index])
    blocked &= (z_hit > starts[0]) & (z_hit < side.lots[-1].z1)
    return blocked & np.isfinite(canvas.zbuf)


def apply_shadows(canvas: Canvas, layout: Layout, light: Lighting) -> None:
    """Darken what the buildings on the sun's side shade."""
    mask = _shadow_mask(canvas, layout, light).astype(np.float32)
    mask = cv2.GaussianBlur(mask, (0, 0), SHADOW_SOFTNESS)
    lit = light.ambient + (1 - light.ambient) * SHADOW_DIRECT
    canvas.planes *= (1.0 - mask * (1.0 - lit))[None]


def ego_hood(p: Painter) -> None:
    """Bonnet of the recording car at the bottom (void, as in Cityscapes)."""
    rng, cam = p.rng, p.canvas.camera
    top = cam.height * (1.0 - rng.uniform(*HOOD_HEIGHT))
    xs = np.linspace(0, cam.width, HOOD_VERTICES)
    bulge = (cam.height - top) * HOOD_DROP * (2 * xs / cam.width - 1) ** 2
    outline = np.concatenate([np.stack([xs, top + bulge], 1),
                              [(cam.width, cam.height), (0, cam.height)]])
    colour = jitter(rng, pick(rng, HOOD_COLOURS), HOOD_JITTER)
    p.canvas.polygon(outline, HOOD_DEPTH_M, colour, C.VOID)


def finish(canvas: Canvas, rng: np.random.Generator, horizon: np.ndarray):
    """Haze, white balance, blur, noise; returns image, label, depth."""
    sky = ~np.isfinite(canvas.zbuf)
    canvas.label[sky] = C.SKY
    depth = canvas.zbuf * canvas.camera.ray_length()
    depth[sky] = 0.0  # the sky is drawn already hazy: no extra haze
    haze = np.exp(np.float32(-rng.uniform(*HAZE_BETA)) * depth)
    depth[sky] = SKY_DEPTH_M
    # White balance moves along the warm-cool axis, as colour temperature
    # does; a free per-channel tint would give green or magenta casts.
    warmth = rng.uniform(-WHITE_BALANCE, WHITE_BALANCE)
    gains = rng.uniform(*EXPOSURE) * np.array([1 + warmth, 1, 1 - warmth])
    for channel, plane in enumerate(canvas.planes):
        plane *= haze
        plane += np.float32(horizon[channel]) * (1.0 - haze)
        plane *= np.float32(gains[channel])
    sigma = OPTICS_SIGMA * canvas.camera.width / REFERENCE_WIDTH
    image = cv2.GaussianBlur(canvas.image, (0, 0), sigma)
    image += SENSOR_NOISE * rng.standard_normal(image.shape, np.float32)
    image = np.clip(image * MAX_LEVEL + 0.5, 0, MAX_LEVEL).astype(np.uint8)
    return image, canvas.label.copy(), depth
