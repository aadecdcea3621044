"""Adverse-weather renderers: fog, night, rain and snow (ACDC's conditions).

Every function maps a clean RGB image (H, W, 3) uint8 plus the scene's
depth (metres along the viewing ray) and, where needed, its Cityscapes
trainId label map to a degraded uint8 image. Randomness comes only from
the ``rng`` argument, so a seeded generator gives identical output.
``severity`` scales every effect: 0 leaves the image (nearly) unchanged,
1 is the default ACDC-like strength, values above 1 are harsher.

The models are physically motivated but cheap:

* fog: Koschmieder's atmospheric scattering ``I = J t + A (1 - t)``,
  ``t = exp(-beta d)``, with a slightly heterogeneous extinction and
  distance-dependent blur;
* night (:mod:`night`): exposure drop in linear light, street lamps on
  poles, vehicle head/tail lights, lit windows, the ego car's headlights,
  dark sky, sensor noise;
* rain: overcast sky, wet darkened ground with mirror reflections and
  puddles, veiling haze, motion-blurred streaks, drops on the windscreen;
* snow: snow cover on ground and upward-facing edges (from the label
  map), patchy snow on vegetation, low contrast, cold tint, flakes.

The labels of a degraded image are those of the clean scene.
"""
from typing import Callable, Dict, Tuple

import cv2
import numpy as np

from . import classes as C
from .night import night
from .photometry import scaled, scatter, to_float, to_uint8
from .render import make_noise

__all__ = ['CONDITIONS', 'apply_weather', 'fog', 'night', 'rain', 'snow']

CONDITIONS = ('fog', 'night', 'rain', 'snow')

#: Ground classes that get wet or snowed on.
GROUND = (C.ROAD, C.SIDEWALK, C.TERRAIN)
#: Classes whose upper edges collect snow.
SNOW_TOPS = (C.BUILDING, C.WALL, C.FENCE, C.CAR, C.TRUCK, C.BUS, C.TRAIN,
             C.TRAFFIC_SIGN, C.TRAFFIC_LIGHT)

# -- fog ----------------------------------------------------------------
#: Extinction coefficient range (1/m) at severity 1: meteorological
#: visibility 3/beta of roughly 45-110 m, typical of ACDC fog.
FOG_BETA = (0.027, 0.065)
#: Grey level range of the airlight and its slightly bluish tint.
FOG_AIRLIGHT, FOG_TINT = (0.68, 0.88), (0.98, 1.0, 1.03)
#: Relative spatial variation of the extinction (patchy fog), the patch
#: size (fraction of the width) and the least extinction factor.
FOG_PATCHINESS, FOG_PATCH_SCALE, FOG_MIN_FACTOR = 0.3, 1 / 8, 0.2
#: Blur (pixels at 512 px) of fully fogged content; scattering also blurs.
FOG_BLUR = 1.5

# -- rain ---------------------------------------------------------------
#: Overall darkening and extra darkening of wet ground (factors kept).
RAIN_DARKEN, WET_GROUND = (0.65, 0.85), (0.55, 0.75)
#: Grey of the overcast sky; the veiling airlight is a bit darker.
RAIN_SKY, RAIN_AIRLIGHT = (0.55, 0.7), 0.95
RAIN_BETA = (0.006, 0.015)
#: Road reflections: reflectance range, puddle size (fraction of the
#: width), vertical/horizontal blur of the mirrored image (pixels).
ROAD_REFLECTANCE, PUDDLE_SCALE, MIRROR_BLUR = (0.2, 0.4), 1 / 25, (1.0, 3.0)
#: Streaks: count range (at 512 px), length range (pixels at 512 px),
#: opacity range, wind angle std and per-streak angle std (radians),
#: motion blur (pixels).
RAIN_STREAKS, RAIN_STREAK_LEN = (900, 1800), (6.0, 22.0)
RAIN_STREAK_ALPHA, RAIN_WIND, RAIN_JITTER = (0.12, 0.3), 0.2, 0.04
STREAK_BLUR = 0.7
#: Windscreen drops: count range, radius range and defocus blur (pixels at
#: 512 px), brightening, edge softness.
WINDSCREEN_DROPS, DROP_RADIUS, DROP_BLUR = (4, 16), (3.0, 12.0), 4.0
DROP_GAIN, DROP_SOFTNESS = 1.15, 1.0
#: Below this many road pixels the horizon is not fitted but assumed at
#: DEFAULT_HORIZON of the height; depth floor of the fit (metres).
MIN_ROAD_PIXELS, DEFAULT_HORIZON, MIN_FIT_DEPTH = 50, 0.45, 0.1

# -- snow ---------------------------------------------------------------
SNOW_RGB = (0.93, 0.94, 0.97)
#: Daylight level under snow clouds; the sky is a bit darker than snow.
SNOW_LIGHT, SNOW_SKY = (0.75, 0.92), 0.92
SNOW_GROUND_COVER = {C.TERRAIN: 0.9, C.SIDEWALK: 0.75, C.ROAD: 0.45}
SNOW_VEGETATION_COVER, SNOW_TOP_COVER = 0.4, 0.9
#: Cover variation: patch size (fraction of the width) and weights of the
#: patch and grain noise on the ground and on vegetation.
SNOW_PATCH_SCALE, PATCH_WEIGHT, GRAIN_WEIGHT, LEAF_GRAIN = 1 / 30, 0.35, \
    0.1, 0.5
#: Thickness (pixels at 512 px) of the snow on upper edges.
SNOW_TOP_PX = 2.0
#: Contrast kept, the grey it fades to (relative to the light), veiling
#: extinction and cold tint.
SNOW_CONTRAST, SNOW_FADE, SNOW_BETA = 0.78, 0.8, (0.008, 0.02)
SNOW_TINT = (0.96, 0.99, 1.05)
#: Flakes: count range (at 512 px), share of near (big, blurry) flakes,
#: their radius range and blur (pixels at 512 px), share of 1 px (not
#: point) small flakes, opacity range, blur of small flakes, brightness.
SNOW_FLAKES, P_NEAR_FLAKE, NEAR_FLAKE_RADIUS = (1200, 2600), 0.1, (2.0, 5.0)
NEAR_FLAKE_BLUR, P_BIG_SMALL_FLAKE, FLAKE_ALPHA = 1.5, 0.4, (0.4, 0.95)
SMALL_FLAKE_BLUR, FLAKE_GAIN = 0.5, 1.05


def fog(image: np.ndarray, depth: np.ndarray, rng: np.random.Generator,
        severity: float = 1.0) -> np.ndarray:
    """Fog by the atmospheric scattering model.

    Args:
        image (np.ndarray): Clean RGB (H, W, 3) uint8.
        depth (np.ndarray): Distance along the ray (H, W), metres.
        rng (np.random.Generator): Source of randomness.
        severity (float): Scales the extinction coefficient ``beta``.

    Returns:
        np.ndarray: Foggy RGB (H, W, 3) uint8.
    """
    height, width = depth.shape
    beta = severity * rng.uniform(*FOG_BETA)
    patches = make_noise(rng, height, width, width * FOG_PATCH_SCALE)
    beta_map = beta * np.clip(1.0 + FOG_PATCHINESS * patches,
                              FOG_MIN_FACTOR, None)
    airlight = np.float32(rng.uniform(*FOG_AIRLIGHT)) * np.float32(FOG_TINT)
    clean = to_float(image)
    # Scattering also blurs: far content is a mix of sharp and blurred.
    t = np.exp(-beta_map * depth)[..., None]
    blurred = cv2.GaussianBlur(clean, (0, 0), scaled(width, FOG_BLUR))
    clean = clean * t + blurred * (1.0 - t)
    return to_uint8(clean * t + airlight * (1.0 - t))


# -- rain -----------------------------------------------------------------
def horizon_row(depth: np.ndarray, label: np.ndarray) -> float:
    """Horizon row estimated from the road: ``v = v0 + c / d`` on a plane.

    Falls back to DEFAULT_HORIZON of the height when little road shows.
    """
    road = label == C.ROAD
    rows, _ = np.nonzero(road)
    height = label.shape[0]
    if len(rows) < MIN_ROAD_PIXELS:
        return DEFAULT_HORIZON * height
    inv = 1.0 / np.maximum(depth[road], MIN_FIT_DEPTH)
    design = np.stack([np.ones_like(inv), inv], axis=1)
    coef, *_ = np.linalg.lstsq(design, rows.astype(np.float64), rcond=None)
    return float(np.clip(coef[0], 0.0, height - 1))


def _reflections(image: np.ndarray, depth: np.ndarray, label: np.ndarray,
                 rng: np.random.Generator, severity: float) -> np.ndarray:
    """Mirror the scene in wet road and puddles about the horizon."""
    height, width = label.shape
    horizon = horizon_row(depth, label)
    rows = np.arange(height, dtype=np.float32)
    source = np.clip(2 * horizon - rows, 0, height - 1).astype(np.int32)
    mirrored = cv2.GaussianBlur(image[source], (0, 0),
                                sigmaX=MIRROR_BLUR[0], sigmaY=MIRROR_BLUR[1])
    puddles = make_noise(rng, height, width, width * PUDDLE_SCALE)
    wet = np.clip(0.5 + puddles, 0.0, 1.0)
    strength = severity * rng.uniform(*ROAD_REFLECTANCE) * wet
    strength *= np.isin(label, (C.ROAD, C.SIDEWALK)) & (
        rows[:, None] > horizon)
    strength = strength[..., None]
    return image * (1 - strength) + mirrored * strength


def _streaks(shape: Tuple[int, int], rng: np.random.Generator,
             severity: float) -> np.ndarray:
    """Motion-blurred rain streaks as an additive alpha layer (H, W)."""
    height, width = shape
    layer = np.zeros(shape, dtype=np.float32)
    count = int(severity * scaled(width, rng.uniform(*RAIN_STREAKS)))
    wind = rng.normal(0.0, RAIN_WIND)
    xs, ys = rng.uniform(0, width, count), rng.uniform(0, height, count)
    lengths = scaled(width, 1.0) * rng.uniform(*RAIN_STREAK_LEN, count)
    alphas = rng.uniform(*RAIN_STREAK_ALPHA, count)
    angles = wind + rng.normal(0.0, RAIN_JITTER, count)
    for x, y, length, alpha, angle in zip(xs, ys, lengths, alphas, angles):
        dx, dy = length * np.sin(angle), length * np.cos(angle)
        cv2.line(layer, (int(x), int(y)), (int(x + dx), int(y + dy)),
                 float(alpha), 1, cv2.LINE_AA)
    return cv2.GaussianBlur(layer, (0, 0), STREAK_BLUR)


def _windscreen_drops(image: np.ndarray, rng: np.random.Generator,
                      severity: float) -> np.ndarray:
    """Out-of-focus drops on the windscreen: blurred, brighter discs."""
    height, width = image.shape[:2]
    blurred = cv2.GaussianBlur(image, (0, 0), scaled(width, DROP_BLUR))
    mask = np.zeros((height, width), dtype=np.float32)
    for _ in range(int(severity * rng.integers(*WINDSCREEN_DROPS))):
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        radius = max(int(scaled(width, rng.uniform(*DROP_RADIUS))), 1)
        cv2.circle(mask, centre, radius, 1.0, -1, cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), DROP_SOFTNESS)[..., None]
    return image * (1 - mask) + np.clip(blurred * DROP_GAIN, 0, 1) * mask


def rain(image: np.ndarray, depth: np.ndarray, label: np.ndarray,
         rng: np.random.Generator, severity: float = 1.0) -> np.ndarray:
    """Rain: overcast light, wet ground, reflections, streaks, haze.

    Args:
        image (np.ndarray): Clean RGB (H, W, 3) uint8.
        depth (np.ndarray): Distance along the ray (H, W), metres.
        label (np.ndarray): trainIds (H, W), to find the wet ground.
        rng (np.random.Generator): Source of randomness.
        severity (float): Scales darkening, wetness, haze and rain.

    Returns:
        np.ndarray: Rainy RGB (H, W, 3) uint8.
    """
    out = to_float(image)
    grey = np.float32(rng.uniform(*RAIN_SKY))
    sky = (label == C.SKY)[..., None]
    out = np.where(sky, out * (1 - severity) + grey * severity, out)
    out *= 1.0 - severity * (1.0 - rng.uniform(*RAIN_DARKEN))
    wet = 1.0 - severity * (1.0 - rng.uniform(*WET_GROUND))
    out = np.where(np.isin(label, GROUND)[..., None], out * wet, out)
    out = _reflections(out, depth, label, rng, severity)
    beta = np.float32(severity * rng.uniform(*RAIN_BETA))
    out = scatter(out, depth, beta, grey * RAIN_AIRLIGHT)
    streaks = _streaks(label.shape, rng, severity)[..., None]
    out = 1.0 - (1.0 - out) * (1.0 - streaks)  # screen blend: light adds
    return to_uint8(_windscreen_drops(out, rng, severity))


# -- snow -----------------------------------------------------------------
def _top_edges(mask: np.ndarray, thickness: int) -> np.ndarray:
    """Pixels of ``mask`` within ``thickness`` rows below its upper edge."""
    covered = np.zeros_like(mask)
    covered[thickness:] = mask[:-thickness]
    return mask & ~covered


def _snow_cover(label: np.ndarray, rng: np.random.Generator,
                severity: float) -> np.ndarray:
    """Per-pixel snow coverage in [0, 1] from the label map."""
    height, width = label.shape
    patches = make_noise(rng, height, width, width * SNOW_PATCH_SCALE)
    grain = make_noise(rng, height, width, 1.0)
    cover = np.zeros(label.shape, dtype=np.float32)
    for cls, amount in SNOW_GROUND_COVER.items():
        local = amount + PATCH_WEIGHT * patches + GRAIN_WEIGHT * grain
        cover = np.where(label == cls, np.clip(local, 0.0, 1.0), cover)
    leaves = np.clip(SNOW_VEGETATION_COVER + LEAF_GRAIN * grain, 0.0, 1.0)
    cover = np.where(label == C.VEGETATION, leaves, cover)
    thickness = max(int(scaled(width, SNOW_TOP_PX)), 1)
    tops = _top_edges(np.isin(label, SNOW_TOPS), thickness)
    cover = np.where(tops, SNOW_TOP_COVER, cover)
    return np.clip(cover * severity, 0.0, 1.0)


def _flakes(shape: Tuple[int, int], rng: np.random.Generator,
            severity: float) -> np.ndarray:
    """Falling snow as an alpha layer (H, W): small sharp and big blurry."""
    height, width = shape
    count = int(severity * scaled(width, rng.uniform(*SNOW_FLAKES)))
    small = np.zeros(shape, dtype=np.float32)
    large = np.zeros(shape, dtype=np.float32)
    near = rng.random(count) < P_NEAR_FLAKE
    xs = rng.uniform(0, width, count).astype(int)
    ys = rng.uniform(0, height, count).astype(int)
    alphas = rng.uniform(*FLAKE_ALPHA, count)
    for x, y, alpha, is_near in zip(xs, ys, alphas, near):
        if is_near:
            radius = int(scaled(width, rng.uniform(*NEAR_FLAKE_RADIUS)))
            cv2.circle(large, (x, y), max(radius, 1), float(alpha), -1)
        else:
            radius = int(rng.random() < P_BIG_SMALL_FLAKE)
            cv2.circle(small, (x, y), radius, float(alpha), -1)
    large = cv2.GaussianBlur(large, (0, 0), scaled(width, NEAR_FLAKE_BLUR))
    small = cv2.GaussianBlur(small, (0, 0), SMALL_FLAKE_BLUR)
    return np.clip(small + large, 0.0, 1.0)


def snow(image: np.ndarray, depth: np.ndarray, label: np.ndarray,
         rng: np.random.Generator, severity: float = 1.0) -> np.ndarray:
    """Snow: snow cover on ground and edges, low contrast, falling flakes.

    Args:
        image (np.ndarray): Clean RGB (H, W, 3) uint8.
        depth (np.ndarray): Distance along the ray (H, W), metres.
        label (np.ndarray): trainIds (H, W), to place snow cover.
        rng (np.random.Generator): Source of randomness.
        severity (float): Scales cover, haze and snowfall.

    Returns:
        np.ndarray: Snowy RGB (H, W, 3) uint8.
    """
    out = to_float(image)
    light = np.float32(rng.uniform(*SNOW_LIGHT))
    snow_rgb = np.float32(SNOW_RGB) * light
    sky = (label == C.SKY)[..., None]
    out = np.where(sky, out * (1 - severity) + snow_rgb * SNOW_SKY *
                   severity, out)
    cover = _snow_cover(label, rng, severity)[..., None]
    out = out * (1 - cover) + snow_rgb * cover
    contrast = 1.0 - severity * (1.0 - SNOW_CONTRAST)
    out = out * contrast + (1.0 - contrast) * light * SNOW_FADE
    beta = np.float32(severity * rng.uniform(*SNOW_BETA))
    out = scatter(out, depth, beta, snow_rgb)
    out = out * (1.0 + severity * (np.float32(SNOW_TINT) - 1.0))
    flakes = _flakes(label.shape, rng, severity)[..., None]
    out = out * (1 - flakes) + snow_rgb * FLAKE_GAIN * flakes
    return to_uint8(out)


_RENDERERS: Dict[str, Callable] = {
    'fog': lambda image, depth, label, rng, s: fog(image, depth, rng, s),
    'night': night,
    'rain': rain,
    'snow': snow,
}


def apply_weather(name: str, image: np.ndarray, depth: np.ndarray,
                  label: np.ndarray, rng: np.random.Generator,
                  severity: float = 1.0) -> np.ndarray:
    """Apply the named condition (one of :data:`CONDITIONS`).

    Raises:
        ValueError: If ``name`` is not a known condition.
    """
    if name not in _RENDERERS:
        raise ValueError(f'unknown weather condition {name!r}; expected one '
                         f'of {CONDITIONS}')
    return _RENDERERS[name](image, depth, label, rng, severity)
