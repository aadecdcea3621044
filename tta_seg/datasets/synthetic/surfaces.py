"""Procedural surface patterns: road markings, paving, facades, fences.

Each factory returns a :data:`render.Pattern`: a function of the world
coordinates of the pixels a face covers. Patterns are evaluated in world
space, so windows, tiles and dashes shrink with distance and converge to
the vanishing point like real ones. Detail finer than a few pixels fades
to its mean colour, because at 512 px a checkerboard of sub-pixel windows
would be aliasing noise rather than texture.
"""
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

import numpy as np

from .shapes import hash01

#: Pattern periods below this many pixels are drawn as their mean colour.
MIN_DETAIL_PX = 2.0
#: Periods above MIN_DETAIL_PX + this many pixels are drawn fully.
DETAIL_RAMP_PX = 4.0
#: Width (metres) of the joints between paving tiles and wall blocks.
JOINT_M = 0.02
#: Brightness of joints relative to the tiles.
JOINT_DARKENING = 0.75
#: Relative brightness spread of individual tiles / blocks.
TILE_SPREAD = 0.16
#: Half-width (metres) of a tram rail's visible head.
RAIL_HALF_WIDTH_M = 0.04
#: Colour of polished rail heads.
RAIL_RGB = (0.55, 0.55, 0.57)


def detail_weight(period_m: float, z: np.ndarray, focal: float) -> np.ndarray:
    """1 where a pattern period spans enough pixels, fading to 0 when not."""
    pixels = period_m * focal / np.maximum(z, 1e-3)
    return np.clip((pixels - MIN_DETAIL_PX) / DETAIL_RAMP_PX, 0.0, 1.0)


def _blend(detail: np.ndarray, sharp: np.ndarray,
           mean: np.ndarray) -> np.ndarray:
    return detail[:, None] * sharp + (1.0 - detail[:, None]) * mean


@dataclass
class RoadMarkings:
    """Painted lines and rails of a road surface (all lengths in metres).

    Attributes:
        dashed (list): X of dashed lane separators.
        solid (list): X of continuous edge lines.
        crossings (list): ``(z0, z1)`` of zebra crossings.
        rails (list): X of tram rails.
        half_width (float): Half-width of a painted line.
        dash (float): Dash length; ``period`` is dash plus gap.
        period (float): Dash repetition length.
        stripe (float): Zebra stripe width (gaps are equal).
        paint (tuple): RGB of the paint.
    """
    dashed: List[float] = field(default_factory=list)
    solid: List[float] = field(default_factory=list)
    crossings: List[Tuple[float, float]] = field(default_factory=list)
    rails: List[float] = field(default_factory=list)
    half_width: float = 0.075
    dash: float = 3.0
    period: float = 9.0
    stripe: float = 0.5
    paint: Sequence[float] = (0.85, 0.85, 0.82)


def road_pattern(base: Sequence[float], marks: RoadMarkings):
    """Asphalt with lane dashes, edge lines, zebra crossings and rails."""
    base = np.asarray(base, dtype=np.float32)
    paint = np.asarray(marks.paint, dtype=np.float32)

    def pattern(points: np.ndarray):
        x, z = points[:, 0], points[:, 2]
        painted = np.zeros(len(points), dtype=bool)
        for x_line in marks.dashed:
            painted |= ((np.abs(x - x_line) < marks.half_width) &
                        (np.mod(z, marks.period) < marks.dash))
        for x_line in marks.solid:
            painted |= np.abs(x - x_line) < marks.half_width
        for z0, z1 in marks.crossings:
            painted |= ((z > z0) & (z < z1) &
                        (np.mod(x, 2 * marks.stripe) < marks.stripe))
        rgb = np.repeat(base[None], len(points), axis=0)
        rgb[painted] = paint
        for x_rail in marks.rails:
            rgb[np.abs(x - x_rail) < RAIL_HALF_WIDTH_M] = RAIL_RGB
        return rgb, None

    return pattern


def paving_pattern(base: Sequence[float], tile_m: float, focal: float,
                   along: int = 2, across: int = 0):
    """Tiles with dark joints on a horizontal or vertical surface.

    Args:
        base (sequence): Mean tile RGB.
        tile_m (float): Tile size in metres.
        focal (float): Camera focal length, to fade sub-pixel tiles.
        along (int): World axis of one tile direction.
        across (int): World axis of the other.
    """
    base = np.asarray(base, dtype=np.float32)

    def pattern(points: np.ndarray):
        a = points[:, along] / tile_m
        b = points[:, across] / tile_m
        ia, ib = np.floor(a), np.floor(b)
        joint = np.minimum(a - ia, b - ib) < JOINT_M / tile_m
        bright = 1.0 + TILE_SPREAD * (hash01(ia, ib) - 0.5)
        bright = np.where(joint, JOINT_DARKENING, bright)
        detail = detail_weight(tile_m, points[:, 2], focal)
        rgb = base[None] * bright[:, None]
        return _blend(detail, rgb, base[None]), None

    return pattern


@dataclass
class FacadeStyle:
    """Window grid and ornaments of one building facade (metres).

    Attributes:
        wall (tuple): Wall RGB.
        glass (tuple): Window glass RGB (varied per window).
        frame (tuple): Window frame RGB.
        floor_h (float): Storey height.
        column_w (float): Horizontal window spacing.
        window_w (float): Window width.
        window_h (float): Window height.
        sill (float): Height of the window bottom above the floor.
        frame_w (float): Frame width around the glass.
        shop (bool): Ground floor is a shop front (large glass panels).
        roof_y (float): Height of the facade top (cornice band below it).
        cornice (tuple): RGB of the cornice band.
    """
    wall: Sequence[float]
    glass: Sequence[float]
    frame: Sequence[float]
    floor_h: float
    column_w: float
    window_w: float
    window_h: float
    sill: float
    frame_w: float
    shop: bool
    roof_y: float
    cornice: Sequence[float]


#: Height of the cornice band at the top of facades (metres).
CORNICE_M = 0.5
#: Shop fronts: glass from this height up to SHOP_TOP_M (metres).
SHOP_BOTTOM_M = 0.4
SHOP_TOP_M = 2.7
#: Fraction of a shop bay taken by its glass.
SHOP_GLASS_FRACTION = 0.8
#: Brightness spread between windows (reflections, curtains).
GLASS_SPREAD = 0.9


def _window_masks(style: FacadeStyle, a: np.ndarray, y: np.ndarray):
    """Glass and frame masks and per-window ids on a facade."""
    col = np.floor(a / style.column_w)
    floor = np.floor(y / style.floor_h)
    da = np.abs(a - (col + 0.5) * style.column_w)
    dy = y - floor * style.floor_h - style.sill
    upper = floor >= 1
    glass = upper & (da < style.window_w / 2) & (dy > 0) & (
        dy < style.window_h)
    frame = upper & (da < style.window_w / 2 + style.frame_w) & (
        dy > -style.frame_w) & (dy < style.window_h + style.frame_w) & ~glass
    return glass, frame, col, floor


def _shop_mask(style: FacadeStyle, a: np.ndarray, y: np.ndarray):
    """Large ground-floor glass panels of a shop front."""
    bay = np.mod(a, style.column_w) / style.column_w
    in_bay = np.abs(bay - 0.5) < SHOP_GLASS_FRACTION / 2
    return in_bay & (y > SHOP_BOTTOM_M) & (y < SHOP_TOP_M)


def facade_pattern(style: FacadeStyle, along: int, focal: float):
    """Facade with a grid of framed windows, shop front and cornice.

    Args:
        style (FacadeStyle): Geometry and colours.
        along (int): World axis running along the facade (2 for facades
            parallel to the street, 0 for those facing the camera).
        focal (float): Camera focal length, to fade sub-pixel windows.
    """
    wall = np.asarray(style.wall, dtype=np.float32)
    glass = np.asarray(style.glass, dtype=np.float32)
    coverage = (style.window_w * style.window_h /
                (style.column_w * style.floor_h))
    mean = wall * (1 - coverage) + glass * coverage

    def pattern(points: np.ndarray):
        a, y = points[:, along], points[:, 1]
        is_glass, is_frame, col, floor = _window_masks(style, a, y)
        rgb = np.repeat(wall[None], len(points), axis=0)
        rgb[is_frame] = style.frame
        spread = 1.0 + GLASS_SPREAD * (hash01(col, floor) - 0.5)
        rgb[is_glass] = glass[None] * spread[is_glass, None]
        if style.shop:
            shop = _shop_mask(style, a, y)
            rgb[shop] = glass * (1.0 - GLASS_SPREAD / 2)
        rgb[y > style.roof_y - CORNICE_M] = style.cornice
        detail = detail_weight(style.column_w, points[:, 2], focal)
        return _blend(detail, rgb, mean[None]), None

    return pattern


@dataclass
class FenceStyle:
    """A fence drawn as bars/planks with see-through gaps (metres).

    Attributes:
        kind (str): ``'bars'`` (metal railing) or ``'planks'`` (wood).
        spacing (float): Distance between bars or planks.
        bar_w (float): Width of one bar or plank.
        rails (tuple): Heights of the horizontal rails.
        rail_h (float): Rail thickness.
    """
    kind: str
    spacing: float
    bar_w: float
    rails: Tuple[float, ...]
    rail_h: float


def fence_pattern(style: FenceStyle, colour: Sequence[float], along: int,
                  focal: float):
    """Bars/planks plus rails; gaps are dropped so the background shows.

    Far away, where gaps would be sub-pixel, the fence turns solid (a real
    fence at 80 m is a fuzzy band in a 512 px image, labelled fence).
    """
    colour = np.asarray(colour, dtype=np.float32)

    def pattern(points: np.ndarray):
        a, y = points[:, along], points[:, 1]
        phase = np.mod(a, style.spacing)
        keep = phase < style.bar_w
        for rail_y in style.rails:
            keep |= np.abs(y - rail_y) < style.rail_h / 2
        far = detail_weight(style.spacing, points[:, 2], focal) < 1.0
        keep |= far
        board = hash01(np.floor(a / style.spacing), 0.0)
        rgb = colour[None] * (1.0 + TILE_SPREAD * (board[:, None] - 0.5))
        return rgb.astype(np.float32), keep

    return pattern

