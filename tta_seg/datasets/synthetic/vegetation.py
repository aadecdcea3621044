"""Trees and hedges (Cityscapes 'vegetation'; trunks included)."""
import numpy as np

from . import classes as C
from .shapes import Billboard, Painter, box_corners, jitter, pick, solid

LEAVES = ((0.18, 0.32, 0.1), (0.25, 0.4, 0.14), (0.12, 0.25, 0.1),
          (0.32, 0.42, 0.16), (0.45, 0.4, 0.12))
BARK = (0.3, 0.24, 0.18)
BARK_JITTER, LEAF_JITTER = 0.04, 0.03
#: Leaves are very textured: strong fine noise.
LEAF_TEXTURE = (0.22, 0.12)
#: Tree dimensions (metres): trunk height and width, crown radius; the
#: trunk reaches this fraction of the radius into the crown.
TRUNK_HEIGHT, TRUNK_WIDTH, CROWN_RADIUS = (1.8, 3.5), (0.2, 0.4), (1.4, 3.2)
TRUNK_INTO_CROWN = 0.6
#: Crown outline: vertices, lobe harmonics, relative lobe depth, and
#: vertical squash (crowns are wider than tall).
CROWN_VERTICES, CROWN_HARMONICS, CROWN_LOBE_DEPTH = 22, 4, 0.18
CROWN_SQUASH = 0.85
#: The crown's shadowed base colour, relative to the clumps.
CROWN_SHADE = 0.85
#: Lit leaf clumps over a crown: count range, spread and size relative to
#: the crown radius, top lighting gain, depth in front of the crown, and
#: the crown radius (pixels) below which they are not drawn.
CLUMPS, CLUMP_SPREAD, CLUMP_SIZE = (1, 4), 0.35, (0.3, 0.5)
CLUMP_TOP_LIGHT, CLUMP_FRONT_M, MIN_CLUMP_CROWN_PX = 0.3, 0.1, 6.0
#: Hedges: bump radius (fraction of the thickness), spacing (in bump
#: radii), height/width ratio and brightness of the bumps.
HEDGE_THICKNESS, HEDGE_BUMP, HEDGE_BUMP_STEP = 0.8, 0.6, 1.5
HEDGE_BUMP_RATIO, HEDGE_BUMP_LIGHT = 0.6, 1.05
#: Nothing is drawn nearer than this (metres).
MIN_DEPTH_M = 1.0


def _crown_outline(rng: np.random.Generator, radius: float) -> np.ndarray:
    """Cloud-like closed outline (N, 2): a circle with random lobes."""
    angles = np.linspace(0.0, 2.0 * np.pi, CROWN_VERTICES, endpoint=False)
    harmonics = np.arange(2, CROWN_HARMONICS + 2)[:, None]
    amplitude = rng.uniform(0.0, CROWN_LOBE_DEPTH, (CROWN_HARMONICS, 1))
    phase = rng.uniform(0.0, 2.0 * np.pi, (CROWN_HARMONICS, 1))
    wobble = (amplitude / np.sqrt(harmonics) *
              np.cos(harmonics * angles + phase)).sum(axis=0)
    r = radius * (1.0 + wobble)
    return np.stack([r * np.cos(angles), r * np.sin(angles) * CROWN_SQUASH],
                    axis=1)


def _clumps(p: Painter, x: float, centre_y: float, z: float,
            crown_r: float, leaves: np.ndarray) -> None:
    """Lit leaf clumps in front of a crown (skipped when it is tiny)."""
    rng = p.rng
    count = int(rng.integers(*CLUMPS))
    if crown_r * p.canvas.pixel_scale(max(z, MIN_DEPTH_M)) < \
            MIN_CLUMP_CROWN_PX:
        count = 0
    for _ in range(count):
        dx, dy = rng.normal(0.0, CLUMP_SPREAD * crown_r, 2)
        clump_r = rng.uniform(*CLUMP_SIZE) * crown_r
        # Upper clumps catch more sky light.
        light = 1.0 + CLUMP_TOP_LIGHT * np.clip(dy / crown_r, -1.0, 1.0)
        colour = np.clip(jitter(rng, leaves, LEAF_JITTER) * light, 0, 1)
        Billboard(p, x + dx, centre_y + dy, z - CLUMP_FRONT_M).poly(
            _crown_outline(rng, clump_r), colour, C.VEGETATION,
            texture=LEAF_TEXTURE)


def tree(p: Painter, x: float, y: float, z: float) -> None:
    """A street tree: trunk box, a lobed crown and a few lit leaf clumps."""
    rng = p.rng
    trunk_h, trunk_w = rng.uniform(*TRUNK_HEIGHT), rng.uniform(*TRUNK_WIDTH)
    crown_r = rng.uniform(*CROWN_RADIUS)
    top = y + trunk_h + 2 * crown_r
    extent = np.array([(x - crown_r, y, z), (x + crown_r, top, z)])
    if z <= crown_r or p.canvas.occluded(p.canvas.camera.project(extent),
                                         z - crown_r):
        return  # behind the camera or hidden behind what is drawn
    solid(p, box_corners(x - trunk_w / 2, x + trunk_w / 2, y,
                         y + trunk_h + crown_r * TRUNK_INTO_CROWN,
                         z - trunk_w / 2, z + trunk_w / 2),
          jitter(rng, BARK, BARK_JITTER), C.VEGETATION, LEAF_TEXTURE)
    leaves = np.asarray(pick(rng, LEAVES))
    centre_y = y + trunk_h + crown_r
    Billboard(p, x, centre_y, z - trunk_w).poly(
        _crown_outline(rng, crown_r),
        jitter(rng, leaves, LEAF_JITTER) * CROWN_SHADE, C.VEGETATION,
        texture=LEAF_TEXTURE)
    _clumps(p, x, centre_y, z - trunk_w, crown_r, leaves)


def hedge(p: Painter, x: float, z0: float, z1: float, y: float,
          height: float, thickness: float = HEDGE_THICKNESS) -> None:
    """A trimmed hedge along the street with a bumpy top."""
    rng = p.rng
    colour = jitter(rng, pick(rng, LEAVES), LEAF_JITTER)
    solid(p, box_corners(x - thickness / 2, x + thickness / 2, y,
                         y + height, z0, z1), colour, C.VEGETATION,
          LEAF_TEXTURE)
    bump = thickness * HEDGE_BUMP
    for z in np.arange(max(z0, MIN_DEPTH_M), z1, bump * HEDGE_BUMP_STEP):
        Billboard(p, x, y + height, z).ellipse(
            (0.0, 0.0), (bump, bump * HEDGE_BUMP_RATIO),
            colour * HEDGE_BUMP_LIGHT, C.VEGETATION, texture=LEAF_TEXTURE)
