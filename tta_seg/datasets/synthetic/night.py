"""Night-time rendering of a daylight street scene.

In linear light the daylight exposure drops to a few percent; artificial
light sources are placed from the label map: street lamps at the tops of
tall poles (glow plus a light pool on the ground), head/tail lights on
vehicles (headlights on the left half of the image, where oncoming
traffic drives), a random share of the windows, and the ego car's
headlights lighting the road ahead with inverse-square fall-off. The
sky turns dark blue with an orange city glow. A night camera then applies
auto-exposure gain, shot and read noise, gamma and a slight blur.
"""
import cv2
import numpy as np

from . import classes as C
from .photometry import GAMMA, to_float, to_uint8

VEHICLES = (C.CAR, C.TRUCK, C.BUS, C.TRAIN)
#: Fraction of daylight exposure left at night (severity 1), linear light.
NIGHT_AMBIENT = (0.006, 0.02)
#: Auto-exposure gain range of the night camera.
NIGHT_GAIN = (1.8, 3.0)
#: Shot-noise and read-noise scales (linear light, after gain), and the
#: blur (pixels) of the night camera (longer exposure, softer optics).
SHOT_NOISE, READ_NOISE, NIGHT_BLUR = 0.03, 0.012, 0.6
SODIUM = (1.0, 0.62, 0.28)
LED = (0.92, 0.95, 1.0)
#: Chance that a street's lamps are sodium (else LED).
P_SODIUM = 0.6
HEAD_LIGHT = (1.0, 0.95, 0.85)
TAIL_LIGHT = (1.0, 0.08, 0.04)
WINDOW_LIGHT = (1.0, 0.78, 0.45)
#: Share of dark window candidates that are lit, their brightness range
#: (linear light) and their glow emission.
LIT_WINDOWS, WINDOW_BRIGHTNESS, WINDOW_EMISSION = (0.15, 0.4), (0.2, 0.6), \
    0.5
#: Window pixels are darker than this fraction of the facade median, and
#: a window blob is at most this fraction of the width on a side.
WINDOW_DARKNESS, MAX_WINDOW_FRACTION = 0.75, 0.04
#: Poles count as street lamps from this height (pixels and metres).
MIN_LAMP_PX, MIN_LAMP_HEIGHT_M = 12, 3.5
#: Focal length guess (fraction of the width) to turn pixels into metres.
FOCAL_GUESS = 1.1
#: Lamp glow radius and light pool half-axes as fractions of the pole's
#: pixel height, and the pool's brightness (linear light).
LAMP_RADIUS, POOL_AXES, POOL_LIGHT = 0.03, (0.9, 0.15), 0.6
MIN_LAMP_RADIUS, MIN_POOL_AXIS = 2, 2
#: Vehicle lights: minimal vehicle height (pixels); vehicles left of this
#: fraction of the width are oncoming; lamps at this fraction of the
#: height from the top, this fraction of the width from the sides, with
#: this radius (fraction of the width).
MIN_VEHICLE_PX, ONCOMING_X, LIGHT_Y, LIGHT_X, LIGHT_RADIUS = 4, 0.45, 0.6, \
    0.15, 0.03
#: Ego headlights: illumination at 1 m, horizontal spread (fraction of
#: the width), cap, the distance below which nothing is lit (the bonnet is
#: behind the lamps) and the image row fraction above which the beam
#: does not reach.
EGO_BEAM, EGO_SPREAD, EGO_MAX, EGO_MIN_DEPTH, EGO_TOP = 10.0, 0.3, 0.35, \
    3.0, 0.4
#: Emission strength of lamps and vehicle lights (before glow blur).
LAMP_EMISSION, VEHICLE_EMISSION = 4.0, 2.0
#: Glow blur widths relative to the image width (core, halo) and the halo
#: weight.
GLOW_CORE, GLOW_HALO, HALO_WEIGHT = 0.004, 0.03, 0.5
#: Night sky (linear light): base colour, city glow at the horizon and
#: its random strength range.
NIGHT_SKY, CITY_GLOW, CITY_GLOW_GAIN = (0.004, 0.005, 0.012), \
    (0.03, 0.018, 0.008), (0.5, 1.5)


def _lamps(label: np.ndarray, depth: np.ndarray, rng: np.random.Generator,
           emission: np.ndarray, pools: np.ndarray) -> None:
    """Street lamps at the tops of tall poles, with light pools below.

    A pole's metric height is estimated from its pixel height and depth
    (focal length guessed as Cityscapes'), so near bollards get no lamp.
    """
    width = label.shape[1]
    colour = np.float32(SODIUM if rng.random() < P_SODIUM else LED)
    count, regions, stats, _ = cv2.connectedComponentsWithStats(
        (label == C.POLE).astype(np.uint8))
    for i in range(1, count):
        x, y, w, h = (int(v) for v in stats[i, :4])
        if h < MIN_LAMP_PX:
            continue
        metres = h * np.median(depth[regions == i]) / (FOCAL_GUESS * width)
        if metres < MIN_LAMP_HEIGHT_M:
            continue
        cx = int(x + w / 2)
        radius = max(MIN_LAMP_RADIUS, int(h * LAMP_RADIUS))
        cv2.circle(emission, (cx, y + radius), radius,
                   (colour * LAMP_EMISSION).tolist(), -1)
        axes = tuple(max(int(h * a), MIN_POOL_AXIS) for a in POOL_AXES)
        cv2.ellipse(pools, (cx, y + h), axes, 0, 0, 360,
                    (colour * POOL_LIGHT).tolist(), -1)


def _vehicle_lights(label: np.ndarray, emission: np.ndarray) -> None:
    """Headlights (left part: oncoming) or tail lights on every vehicle."""
    width = label.shape[1]
    count, _, stats, _ = cv2.connectedComponentsWithStats(
        np.isin(label, VEHICLES).astype(np.uint8))
    for i in range(1, count):
        x, y, w, h = (int(v) for v in stats[i, :4])
        if h < MIN_VEHICLE_PX:
            continue
        oncoming = x + w / 2 < width * ONCOMING_X
        colour = np.float32(HEAD_LIGHT if oncoming else TAIL_LIGHT)
        light_y, radius = y + int(h * LIGHT_Y), max(1, int(w * LIGHT_RADIUS))
        for lx in (x + int(w * LIGHT_X), x + w - int(w * LIGHT_X)):
            cv2.circle(emission, (lx, light_y), radius,
                       (colour * VEHICLE_EMISSION).tolist(), -1)


def _windows(image: np.ndarray, label: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """Mask of lit windows: a random share of dark blobs on facades.

    Windows are the facade pixels clearly darker than the facade's median;
    blobs larger than a window (shop fronts, shadows) stay dark.
    """
    facade = label == C.BUILDING
    if not facade.any():
        return facade
    luminance = image.mean(axis=2)
    dark = facade & (luminance < WINDOW_DARKNESS * np.median(
        luminance[facade]))
    count, regions, stats, _ = cv2.connectedComponentsWithStats(
        dark.astype(np.uint8), connectivity=4)
    max_area = (label.shape[1] * MAX_WINDOW_FRACTION) ** 2
    lit = rng.random(count) < rng.uniform(*LIT_WINDOWS)
    lit &= stats[:, cv2.CC_STAT_AREA] <= max_area
    lit[0] = False
    return lit[regions]


def _ego_beam(depth: np.ndarray) -> np.ndarray:
    """Illumination by the recording car's headlights (H, W)."""
    height, width = depth.shape
    columns = (np.arange(width, dtype=np.float32) - width / 2) / width
    cone = np.exp(-(columns / EGO_SPREAD) ** 2)[None, :]
    below = (np.arange(height) > height * EGO_TOP)[:, None]
    beam = np.minimum(EGO_BEAM / np.maximum(depth, 1.0) ** 2, EGO_MAX)
    return beam * cone * below * (depth > EGO_MIN_DEPTH)


def _night_sky(shape, rng: np.random.Generator) -> np.ndarray:
    """Linear-light sky at night: dark blue with an orange city glow."""
    height, width = shape
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    glow = np.float32(CITY_GLOW) * rng.uniform(*CITY_GLOW_GAIN)
    return np.broadcast_to(np.float32(NIGHT_SKY) + glow * rows ** 2,
                           (height, width, 3))


def _sensor(linear: np.ndarray, rng: np.random.Generator,
            severity: float) -> np.ndarray:
    """Auto-exposure gain, shot/read noise, gamma and slight blur."""
    gain = 1.0 + severity * (rng.uniform(*NIGHT_GAIN) - 1.0)
    signal = np.clip(linear * gain, 0.0, 1.0)
    noise = rng.standard_normal(signal.shape, np.float32)
    sigma = severity * (SHOT_NOISE * np.sqrt(signal) + READ_NOISE)
    signal = np.clip(signal + noise * sigma, 0.0, 1.0)
    signal = cv2.GaussianBlur(signal, (0, 0), NIGHT_BLUR)
    return to_uint8(signal ** (1.0 / GAMMA))


def night(image: np.ndarray, depth: np.ndarray, label: np.ndarray,
          rng: np.random.Generator, severity: float = 1.0) -> np.ndarray:
    """Night: low exposure, artificial lights with glow, sensor noise.

    Args:
        image (np.ndarray): Clean RGB (H, W, 3) uint8.
        depth (np.ndarray): Distance along the ray (H, W), metres.
        label (np.ndarray): trainIds (H, W), used to place lights.
        rng (np.random.Generator): Source of randomness.
        severity (float): 0 keeps daylight, 1 is a dark night.

    Returns:
        np.ndarray: Night RGB (H, W, 3) uint8.
    """
    width = label.shape[1]
    linear = to_float(image) ** GAMMA
    ambient = 1.0 + severity * (rng.uniform(*NIGHT_AMBIENT) - 1.0)
    emission, pools = np.zeros_like(linear), np.zeros_like(linear)
    _lamps(label, depth, rng, emission, pools)
    _vehicle_lights(label, emission)
    pools = cv2.GaussianBlur(pools, (0, 0), width * GLOW_HALO)
    light = ambient + severity * (pools + _ego_beam(depth)[..., None])
    sky = (label == C.SKY)[..., None]
    dark_sky = _night_sky(label.shape, rng)
    out = np.where(sky, (1 - severity) * linear + severity * dark_sky,
                   linear * light)
    windows = _windows(image, label, rng)
    out[windows] += severity * np.float32(WINDOW_LIGHT) * rng.uniform(
        *WINDOW_BRIGHTNESS)
    emission[windows] += np.float32(WINDOW_LIGHT) * WINDOW_EMISSION
    glow = (cv2.GaussianBlur(emission, (0, 0), width * GLOW_CORE) +
            HALO_WEIGHT * cv2.GaussianBlur(emission, (0, 0),
                                           width * GLOW_HALO))
    return _sensor(out + severity * glow, rng, severity)
