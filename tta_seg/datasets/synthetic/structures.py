"""Buildings, walls and fences: the structures that line a street.

Positions are world metres; ``y`` is the ground height a structure stands
on (sidewalks are raised by the kerb). Buildings along the street have
their facade at a fixed ``|X|`` and run along ``Z``; facing buildings close
the end of the street.
"""
import numpy as np

from . import classes as C
from .shapes import Painter, box_corners, jitter, pick, solid
from .surfaces import FacadeStyle, FenceStyle, facade_pattern, \
    fence_pattern, paving_pattern

BUILDING_WALLS = (
    (0.85, 0.8, 0.7), (0.92, 0.9, 0.85), (0.6, 0.6, 0.62),
    (0.62, 0.35, 0.27), (0.85, 0.75, 0.5), (0.8, 0.62, 0.6),
    (0.55, 0.62, 0.7), (0.4, 0.4, 0.42), (0.75, 0.7, 0.6),
    (0.7, 0.8, 0.72), (0.5, 0.42, 0.35),
)
GLASSES = ((0.15, 0.18, 0.22), (0.3, 0.35, 0.42), (0.1, 0.1, 0.12),
           (0.4, 0.45, 0.5))
FRAME = (0.9, 0.9, 0.88)
CORNICE = (0.5, 0.48, 0.45)
WALL_COLOURS = ((0.6, 0.6, 0.58), (0.72, 0.68, 0.6), (0.55, 0.35, 0.28),
                (0.45, 0.45, 0.47), (0.8, 0.8, 0.78))
FENCE_COLOURS = ((0.15, 0.15, 0.15), (0.2, 0.3, 0.22), (0.5, 0.52, 0.55),
                 (0.45, 0.32, 0.2), (0.6, 0.45, 0.3))
#: Colour jitter of walls / glass / frames / cornices.
WALL_JITTER, GLASS_JITTER, FRAME_JITTER, CORNICE_JITTER = 0.05, 0.03, 0.05, \
    0.08
WALL_TEXTURE = (0.05, 0.12)
#: Facade grid ranges (metres, or fractions where noted).
FLOOR_HEIGHT = (2.8, 3.6)
COLUMN_WIDTH = (2.2, 3.6)
WINDOW_HEIGHT_FRACTION = (0.4, 0.62)   # of the storey
WINDOW_WIDTH_FRACTION = (0.3, 0.6)     # of the column
SILL_FRACTION = (0.4, 0.7)             # of the wall left below/above glass
FRAME_WIDTH = (0.05, 0.15)
P_SHOP = 0.5
#: Extent of a building block away from the street (metres).
BLOCK_DEPTH = 15.0
#: Wall block size range, chance of visible blocks, brighter cap.
WALL_BLOCK = (0.25, 0.6)
P_WALL_BLOCKS, WALL_CAP_BRIGHTNESS, WALL_THICKNESS = 0.5, 1.1, 0.3
#: Fences: chance of a metal railing (else wooden planks); bar spacing
#: ranges; bar width as a fraction of the spacing; rails.
P_RAILING = 0.6
RAILING_SPACING, PLANK_SPACING = (0.12, 0.25), (0.12, 0.2)
RAILING_BAR_FRACTION, PLANK_FRACTION = (0.2, 0.4), 0.85
RAIL_LOW, RAIL_TOP_GAP, RAIL_HEIGHT = 0.1, 0.05, 0.06
FENCE_JITTER = 0.04


def facade_style(rng: np.random.Generator, height: float) -> FacadeStyle:
    """Random window grid, colours and ground floor of one building."""
    floor_h = rng.uniform(*FLOOR_HEIGHT)
    column_w = rng.uniform(*COLUMN_WIDTH)
    window_h = floor_h * rng.uniform(*WINDOW_HEIGHT_FRACTION)
    return FacadeStyle(
        wall=jitter(rng, pick(rng, BUILDING_WALLS), WALL_JITTER),
        glass=jitter(rng, pick(rng, GLASSES), GLASS_JITTER),
        frame=jitter(rng, FRAME, FRAME_JITTER),
        floor_h=floor_h, column_w=column_w,
        window_w=column_w * rng.uniform(*WINDOW_WIDTH_FRACTION),
        window_h=window_h,
        sill=(floor_h - window_h) * rng.uniform(*SILL_FRACTION),
        frame_w=rng.uniform(*FRAME_WIDTH), shop=rng.random() < P_SHOP,
        roof_y=height, cornice=jitter(rng, CORNICE, CORNICE_JITTER))


def building(p: Painter, x_face: float, side: int, z0: float, z1: float,
             height: float, depth: float = BLOCK_DEPTH) -> None:
    """A block whose facade runs along the street at ``|X| = x_face``.

    Args:
        p (Painter): Where and how to draw.
        x_face (float): Distance of the facade from the camera axis.
        side (int): -1 left of the street, +1 right.
        z0 (float): Near end along the street.
        z1 (float): Far end.
        height (float): Height (metres).
        depth (float): Extent away from the street.
    """
    style = facade_style(p.rng, height)
    focal = p.canvas.camera.focal
    xa, xb = sorted((side * x_face, side * (x_face + depth)))
    street_face = 'left' if side > 0 else 'right'
    solid(p, box_corners(xa, xb, 0.0, height, z0, z1), style.wall,
          C.BUILDING, WALL_TEXTURE,
          patterns={street_face: facade_pattern(style, 2, focal),
                    'near': facade_pattern(style, 0, focal)})


def facing_building(p: Painter, x0: float, x1: float, z: float,
                    height: float, depth: float = BLOCK_DEPTH) -> None:
    """A block across the end of the street, its facade facing us."""
    style = facade_style(p.rng, height)
    pattern = facade_pattern(style, 0, p.canvas.camera.focal)
    solid(p, box_corners(x0, x1, 0.0, height, z, z + depth), style.wall,
          C.BUILDING, WALL_TEXTURE, patterns={'near': pattern,
                                              'left': pattern,
                                              'right': pattern})


def wall(p: Painter, x: float, z0: float, z1: float, y: float,
         height: float, thickness: float = WALL_THICKNESS) -> None:
    """A free-standing wall along the street, of blocks or concrete."""
    rng = p.rng
    colour = jitter(rng, pick(rng, WALL_COLOURS), WALL_JITTER)
    blocks = paving_pattern(colour, rng.uniform(*WALL_BLOCK),
                            p.canvas.camera.focal, along=2, across=1)
    pattern = blocks if rng.random() < P_WALL_BLOCKS else None
    solid(p, box_corners(x - thickness / 2, x + thickness / 2, y,
                         y + height, z0, z1), colour, C.WALL, WALL_TEXTURE,
          patterns={'left': pattern, 'right': pattern},
          colours={'top': colour * WALL_CAP_BRIGHTNESS})


def _fence_style(rng: np.random.Generator, y: float,
                 height: float) -> FenceStyle:
    if rng.random() < P_RAILING:
        spacing = rng.uniform(*RAILING_SPACING)
        kind, bar_w = 'bars', spacing * rng.uniform(*RAILING_BAR_FRACTION)
    else:
        spacing = rng.uniform(*PLANK_SPACING)
        kind, bar_w = 'planks', spacing * PLANK_FRACTION
    rails = (y + RAIL_LOW, y + height - RAIL_TOP_GAP)
    return FenceStyle(kind, spacing, bar_w, rails=rails, rail_h=RAIL_HEIGHT)


def fence(p: Painter, x: float, z0: float, z1: float, y: float,
          height: float) -> None:
    """A see-through fence (railing or planks) along the street."""
    rng = p.rng
    style = _fence_style(rng, y, height)
    colour = jitter(rng, pick(rng, FENCE_COLOURS), FENCE_JITTER)
    corners = np.array([(x, y, z0), (x, y, z1), (x, y + height, z1),
                        (x, y + height, z0)])
    shade = p.light.billboard_shade
    p.canvas.face(corners, colour * shade, C.FENCE,
                  pattern=fence_pattern(style, colour, 2,
                                        p.canvas.camera.focal), shade=shade)
