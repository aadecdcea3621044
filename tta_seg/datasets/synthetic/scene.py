"""Procedural street scenes with exact Cityscapes labels and metric depth.

:func:`render_scene` samples a camera, sun and sky (:mod:`environment`)
and a street layout (:mod:`layout`), draws vehicles, people, street
furniture, buildings, vegetation and the ground with a z-buffer
(:mod:`render`), then adds cast shadows, aerial haze, white balance,
optics blur and sensor noise.

Everything is deterministic given the ``rng``. Labels are exact: every
pixel carries the trainId of the nearest surface; only the ego vehicle's
bonnet at the bottom (void in Cityscapes too) is 255.
"""
from typing import Tuple

import numpy as np

from . import classes as C
from .environment import (SKY_DEPTH_M, apply_shadows, ego_hood, finish,
                          sample_camera, sample_lighting, sky_image)
from .layout import Layout, Side, sample_layout
from .render import Canvas
from .scene_objects import place_furniture, place_people, place_vehicles
from .shapes import Painter, jitter, pick
from .structures import building, facing_building, fence, wall
from .surfaces import RoadMarkings, paving_pattern, road_pattern
from .vegetation import hedge, tree

__all__ = ['render_scene', 'SKY_DEPTH_M']

#: Far end of the open ground and road (metres).
FAR_Z = 3000.0
#: Depth of the distant skyline of open streets (metres).
SKYLINE_Z = 700.0
ASPHALT = ((0.33, 0.33, 0.34), (0.25, 0.25, 0.26), (0.42, 0.41, 0.4),
           (0.3, 0.29, 0.31))
PAVING = ((0.62, 0.6, 0.58), (0.55, 0.55, 0.56), (0.6, 0.45, 0.4),
          (0.7, 0.66, 0.58))
GRASS = ((0.35, 0.48, 0.2), (0.45, 0.52, 0.25), (0.5, 0.47, 0.3),
         (0.3, 0.4, 0.18))
KERB_STONE = (0.68, 0.68, 0.66)
GROUND_JITTER = 0.03
#: Noise amplitudes of grass strips and of the yards behind sidewalks.
GRASS_TEXTURE, YARD_TEXTURE = (0.18, 0.15), (0.15, 0.15)
#: Paving tile size range (metres).
TILE_SIZE = (0.25, 0.6)
#: Chance of solid edge lines, and their distance inside the lane edge.
P_EDGE_LINES, EDGE_LINE_INSET = 0.5, 0.2
#: Fallback ground just below the road plane (fills whatever is left).
FALLBACK_Y = -0.02
UP = np.array([0.0, 1.0, 0.0])
#: Gap lots: walls/fences stand this far behind the building line, hedges
#: this far; setbacks above GARDEN_SETBACK leave room for garden trees.
BOUNDARY_OFFSET, HEDGE_OFFSET, GARDEN_SETBACK = 0.2, 0.5, 2.0
#: Garden trees: first offset range, spacing range, distance behind the
#: building line (min, and range of the max), last depth (metres).
GARDEN_START, GARDEN_STEP, GARDEN_DEPTH = (1.0, 5.0), (5.0, 12.0), 1.5
GARDEN_DEPTH_MAX, FAR_TREES_Z, MIN_TREE_Z = (3.0, 12.0), 120.0, 1.0
#: Lots ending nearer than this are behind the camera.
MIN_LOT_Z = 0.5
#: Row of facing buildings closing a street: extent across (random start
#: within ``CLOSING_START``), widths, heights, setback jitter (metres).
CLOSING_START, CLOSING_END = (60.0, 120.0), 120.0
CLOSING_WIDTH, CLOSING_HEIGHT, CLOSING_JITTER = (8.0, 25.0), (8.0, 30.0), 2.0
#: Skyline: chance of forest, block width range, top heights for a city
#: and a forest, colours (darkened by ambient light only: it is far).
P_FOREST, SKYLINE_STEP = 0.4, (15.0, 40.0)
CITY_TOPS, FOREST_TOPS = (8.0, 60.0), (8.0, 25.0)
CITY_RGB, FOREST_RGB = (0.55, 0.55, 0.58), (0.3, 0.38, 0.3)
#: Probability that the ego car's bonnet is visible.
P_EGO_HOOD = 0.6


def _ground_face(x0: float, x1: float, y: float, z0: float,
                 z1: float) -> np.ndarray:
    return np.array([(x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1)])


def _markings(rng: np.random.Generator, layout: Layout) -> RoadMarkings:
    """Lane separators, optional edge lines, crossing and rails."""
    lanes = [x for x, _ in layout.lanes]
    dashed = [(a + b) / 2 for a, b in zip(lanes[:-1], lanes[1:])]
    edges = []
    if rng.random() < P_EDGE_LINES:
        half = layout.lane_w / 2 - EDGE_LINE_INSET
        edges = [lanes[0] - half, lanes[-1] + half]
    return RoadMarkings(dashed=dashed, solid=edges, rails=layout.rails,
                        crossings=[layout.crossing] if layout.crossing
                        else [])


def _draw_road(p: Painter, layout: Layout) -> None:
    """Road surface with markings, and the cross street if any."""
    asphalt = jitter(p.rng, pick(p.rng, ASPHALT), GROUND_JITTER)
    marks = _markings(p.rng, layout)
    shade = p.light.shade(UP)
    far = layout.end_z + layout.cross_w if layout.closed else FAR_Z
    p.canvas.face(_ground_face(-layout.left.kerb, layout.right.kerb, 0.0,
                               0.0, far), asphalt * shade, C.ROAD,
                  pattern=road_pattern(asphalt, marks), shade=shade)
    if layout.closed:
        p.canvas.face(_ground_face(-FAR_Z, FAR_Z, 0.0, layout.end_z, far),
                      asphalt * shade, C.ROAD)


def _draw_side_ground(p: Painter, layout: Layout, side: Side) -> None:
    """Kerb, grass strips, sidewalk and the yard up to the lots."""
    rng, s, y, end = p.rng, side.sign, layout.kerb_h, layout.end_z
    up = p.light.shade(UP)
    paving = jitter(rng, pick(rng, PAVING), GROUND_JITTER)
    grass = jitter(rng, pick(rng, GRASS), GROUND_JITTER)
    tiles = paving_pattern(paving, rng.uniform(*TILE_SIZE),
                           p.canvas.camera.focal)
    x = s * side.kerb
    kerb = np.array([(x, 0.0, 0.0), (x, y, 0.0), (x, y, end), (x, 0.0, end)])
    p.canvas.face(kerb, np.asarray(KERB_STONE) * up, C.SIDEWALK)
    for kind, inner, outer in side.strips:
        face = _ground_face(*sorted((s * inner, s * outer)), y, 0.0, end)
        if kind == 'sidewalk':
            p.canvas.face(face, paving * up, C.SIDEWALK, pattern=tiles,
                          shade=up)
        else:
            p.canvas.face(face, grass * up, C.TERRAIN, texture=GRASS_TEXTURE)
    yard = grass if side.green else paving
    face = _ground_face(*sorted((s * side.line, s * FAR_Z)), y, 0.0, end)
    p.canvas.face(face, yard * up, C.TERRAIN if side.green else C.SIDEWALK,
                  texture=YARD_TEXTURE)


def _trees_along(p: Painter, side: Side, y: float, z0: float,
                 z1: float) -> None:
    """A few trees behind a gap lot (gardens, parks)."""
    rng = p.rng
    depth = rng.uniform(*GARDEN_DEPTH_MAX)
    for z in np.arange(z0 + rng.uniform(*GARDEN_START),
                       min(z1, FAR_TREES_Z), rng.uniform(*GARDEN_STEP)):
        x = side.sign * (side.line + rng.uniform(GARDEN_DEPTH, depth))
        if z > MIN_TREE_Z:
            tree(p, x, y, z)


def _draw_lots(p: Painter, layout: Layout, side: Side) -> None:
    """Buildings and gap contents along one side of the street."""
    s, y = side.sign, layout.kerb_h
    for lot in side.lots:
        if lot.z1 <= MIN_LOT_Z:
            continue
        x = s * (side.line + BOUNDARY_OFFSET)
        if lot.kind == 'building':
            building(p, side.line + lot.setback, s, lot.z0, lot.z1,
                     lot.height)
        elif lot.kind == 'wall':
            wall(p, x, lot.z0, lot.z1, y, lot.height)
        elif lot.kind == 'fence':
            fence(p, x, lot.z0, lot.z1, y, lot.height)
        elif lot.kind == 'hedge':
            hedge(p, s * (side.line + HEDGE_OFFSET), lot.z0, lot.z1, y,
                  lot.height)
        if lot.kind != 'building' or lot.setback > GARDEN_SETBACK:
            _trees_along(p, side, y, lot.z0, lot.z1)


def _draw_far_end(p: Painter, layout: Layout) -> None:
    """Facing buildings across a cross street, or a distant skyline."""
    rng = p.rng
    if not layout.closed:
        _draw_skyline(p)
        return
    z = layout.end_z + layout.cross_w
    x = -rng.uniform(*CLOSING_START)
    while x < CLOSING_END:
        width = rng.uniform(*CLOSING_WIDTH)
        facing_building(p, x, x + width, z + rng.uniform(0, CLOSING_JITTER),
                        rng.uniform(*CLOSING_HEIGHT))
        x += width


def _draw_skyline(p: Painter) -> None:
    """Silhouette of a far city or forest just above the horizon."""
    rng = p.rng
    forest = rng.random() < P_FOREST
    label = C.VEGETATION if forest else C.BUILDING
    colour = np.array(FOREST_RGB if forest else CITY_RGB)
    xs = np.arange(-2 * SKYLINE_Z, 2 * SKYLINE_Z, rng.uniform(*SKYLINE_STEP))
    tops = rng.uniform(*(FOREST_TOPS if forest else CITY_TOPS), len(xs))
    outline = [(xs[0], 0.0, SKYLINE_Z)]
    for x0, x1, top in zip(xs[:-1], xs[1:], tops):
        outline += [(x0, top, SKYLINE_Z), (x1, top, SKYLINE_Z)]
    outline.append((xs[-1], 0.0, SKYLINE_Z))
    p.canvas.face(np.asarray(outline), colour * p.light.ambient, label)


def _draw_ground(p: Painter, layout: Layout) -> None:
    """Road, sidewalks, kerbs and the fallback ground plane."""
    _draw_road(p, layout)
    for side in layout.sides:
        _draw_side_ground(p, layout, side)
    grass = jitter(p.rng, pick(p.rng, GRASS), GROUND_JITTER)
    p.canvas.face(_ground_face(-FAR_Z, FAR_Z, FALLBACK_Y, 0.0, FAR_Z),
                  grass * p.light.ambient, C.TERRAIN)


def render_scene(rng: np.random.Generator, width: int = 512,
                 height: int = 256) -> Tuple[np.ndarray, np.ndarray,
                                             np.ndarray]:
    """Render one random street scene.

    Args:
        rng (np.random.Generator): All randomness comes from it.
        width (int): Image width in pixels.
        height (int): Image height in pixels.

    Returns:
        tuple: ``image`` (H, W, 3) uint8 RGB, ``label`` (H, W) uint8
        Cityscapes trainIds (255 = void) and ``depth`` (H, W) float32,
        distance along the viewing ray in metres (sky: ``SKY_DEPTH_M``).
    """
    camera = sample_camera(rng, width, height)
    light, overcast = sample_lighting(rng)
    background, horizon = sky_image(rng, camera, overcast)
    p = Painter(Canvas(camera, rng, background), light, rng)
    layout = sample_layout(rng)
    # Roughly near-to-far: the z-buffer makes any order correct, but
    # drawing occluders first lets hidden work be culled early.
    place_vehicles(p, layout)
    place_people(p, layout)
    place_furniture(p, layout)
    for side in layout.sides:
        _draw_lots(p, layout, side)
    _draw_far_end(p, layout)
    _draw_ground(p, layout)
    apply_shadows(p.canvas, layout, light)
    if rng.random() < P_EGO_HOOD:
        ego_hood(p)
    return finish(p.canvas, rng, horizon)
