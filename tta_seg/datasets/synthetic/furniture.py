"""Street furniture: lamp posts, bollards, traffic signs, traffic lights.

Posts are Cityscapes 'pole'; sign plates 'traffic sign'; signal housings
and their lamps 'traffic light'. Positions are world metres; ``y`` is the
ground height (the sidewalk's kerb height).
"""
from typing import Sequence

import numpy as np

from . import classes as C
from .shapes import Billboard, Painter, box_corners, disc, jitter, pick, \
    rod, solid

POLE_COLOURS = ((0.45, 0.47, 0.5), (0.6, 0.62, 0.63), (0.15, 0.17, 0.16),
                (0.2, 0.28, 0.22))
POLE_JITTER = 0.03
LAMP_HEAD = (0.3, 0.3, 0.32)
SIGN_POST = (0.55, 0.56, 0.58)
RED, WHITE, BLUE, YELLOW = ((0.8, 0.08, 0.08), (0.92, 0.92, 0.9),
                            (0.1, 0.3, 0.7), (0.95, 0.75, 0.1))
HOUSINGS = ((0.1, 0.1, 0.1), (0.1, 0.1, 0.1), (0.85, 0.7, 0.1))
#: Lamps of a traffic light, top to bottom; unlit ones keep this much.
SIGNAL_LAMPS = ((0.9, 0.1, 0.05), (0.95, 0.65, 0.05), (0.1, 0.85, 0.35))
SIGNAL_OFF = 0.18
#: Offset (metres) of decals in front of the face they sit on.
DECAL_M = 0.02
#: Street lamp (metres): height range, post half-width, arm reach and
#: width, lamp head length / height / half-depth.
LAMP_HEIGHT, LAMP_POST_HALF, LAMP_ARM, LAMP_ARM_W = (6.0, 9.0), 0.08, \
    (1.0, 2.2), 0.08
LAMP_HEAD_LENGTH, LAMP_HEAD_HEIGHT, LAMP_HEAD_HALF_DEPTH = 0.6, 0.2, 0.15
#: The arm starts this far below the post top.
LAMP_ARM_DROP = 0.1
BOLLARD_HALF, BOLLARD_HEIGHT = 0.07, 0.9
#: Traffic signs (metres): post height range and half-width, plate size
#: range, chance of a second plate and the gap factor between plates,
#: plate offset in front of the post.
SIGN_HEIGHT, SIGN_POST_HALF, SIGN_SIZE = (2.2, 2.9), 0.04, (0.55, 0.8)
P_TWO_PLATES, PLATE_STEP, PLATE_FRONT = 0.3, 1.05, 0.06
SIGN_KINDS = ('prohibition', 'mandatory', 'warning', 'priority', 'info',
              'plate')
#: Sign artwork, relative to the plate radius: inner disc / triangle /
#: diamond scale, arrow half-length and width, triangle base and apex,
#: rectangle aspect.
INNER_RING, INNER_SHAPE, ARROW_HALF, ARROW_W = 0.75, 0.7, 0.5, 0.2
TRIANGLE_BASE, TRIANGLE_APEX, PLATE_ASPECT = -0.8, 0.95, 0.7
#: Traffic lights (metres): post heights on the kerb / with an arm over
#: the road, post half-width, arm width and drop below the post top,
#: housing half-width, height, depth range in front of the post, lamp
#: radius and spacing, chance of being seen from behind (no lamps).
SIGNAL_POST, SIGNAL_MAST, SIGNAL_POST_HALF = (2.8, 3.6), (5.0, 6.0), 0.07
SIGNAL_ARM_W, SIGNAL_ARM_DROP, SIGNAL_HANG = 0.1, 0.1, 0.25
HOUSING_HALF, HOUSING_HEIGHT, HOUSING_DEPTH = 0.17, 0.95, (0.1, 0.35)
SIGNAL_LAMP_R, SIGNAL_LAMP_STEP, P_SIGNAL_BACK = 0.1, 0.3, 0.2


def _post(p: Painter, x: float, y: float, z: float, half: float,
          height: float, colour: Sequence[float]) -> None:
    """A square post (pole) from the ground up."""
    solid(p, box_corners(x - half, x + half, y, y + height, z - half,
                         z + half), colour, C.POLE)


def street_lamp(p: Painter, x: float, y: float, z: float,
                towards_road: int) -> None:
    """A tall lamp post with an arm over the road (all pole)."""
    rng = p.rng
    colour = jitter(rng, pick(rng, POLE_COLOURS), POLE_JITTER)
    height = rng.uniform(*LAMP_HEIGHT)
    _post(p, x, y, z, LAMP_POST_HALF, height, colour)
    tip = x + towards_road * rng.uniform(*LAMP_ARM)
    top = y + height
    rod(p, (x, top - LAMP_ARM_DROP, z), (tip, top, z), LAMP_ARM_W, colour,
        C.POLE)
    back = tip - towards_road * LAMP_HEAD_LENGTH
    solid(p, box_corners(min(tip, back), max(tip, back),
                         top - LAMP_HEAD_HEIGHT, top,
                         z - LAMP_HEAD_HALF_DEPTH, z + LAMP_HEAD_HALF_DEPTH),
          LAMP_HEAD, C.POLE)


def bollard(p: Painter, x: float, y: float, z: float) -> None:
    """A short post on the sidewalk edge."""
    colour = jitter(p.rng, pick(p.rng, POLE_COLOURS), POLE_JITTER)
    _post(p, x, y, z, BOLLARD_HALF, BOLLARD_HEIGHT, colour)


def _sign_face(bb: Billboard, kind: str, size: float) -> None:
    """Plate of a traffic sign in local metres around (0, 0)."""
    r, label = size / 2, C.TRAFFIC_SIGN
    if kind in ('prohibition', 'mandatory'):
        bb.ellipse((0, 0), (r, r), RED if kind == 'prohibition' else BLUE,
                   label, layer=1)
        if kind == 'prohibition':
            bb.ellipse((0, 0), (r * INNER_RING, r * INNER_RING), WHITE,
                       label, layer=2)
        else:
            bb.line((0, -r * ARROW_HALF), (0, r * ARROW_HALF), r * ARROW_W,
                    WHITE, label, layer=2)
        return
    if kind in ('warning', 'priority'):
        outline = np.array([(-r, r * TRIANGLE_BASE), (r, r * TRIANGLE_BASE),
                            (0, r * TRIANGLE_APEX)]) if kind == 'warning' \
            else np.array([(0, -r), (r, 0), (0, r), (-r, 0)])
        outer, inner = (RED, WHITE) if kind == 'warning' else (WHITE, YELLOW)
        bb.poly(outline, outer, label, layer=1)
        bb.poly(outline * INNER_SHAPE, inner, label, layer=2)
        return
    h = r * PLATE_ASPECT
    bb.poly([(-r, -h), (r, -h), (r, h), (-r, h)],
            BLUE if kind == 'info' else WHITE, label, layer=1)


def traffic_sign(p: Painter, x: float, y: float, z: float) -> None:
    """A sign post (pole) with one or two plates (traffic sign)."""
    rng = p.rng
    height = rng.uniform(*SIGN_HEIGHT)
    _post(p, x, y, z, SIGN_POST_HALF, height, SIGN_POST)
    size = rng.uniform(*SIGN_SIZE)
    plates = 2 if rng.random() < P_TWO_PLATES else 1
    for i in range(plates):
        centre_y = y + height - size / 2 - i * size * PLATE_STEP
        bb = Billboard(p, x, centre_y, z - PLATE_FRONT)
        _sign_face(bb, pick(rng, SIGN_KINDS), size)


def _signal_lamps(p: Painter, x: float, top: float, z: float) -> None:
    """Red/amber/green discs on the housing's front, one of them lit."""
    lit = int(p.rng.integers(len(SIGNAL_LAMPS)))
    for i, lamp in enumerate(SIGNAL_LAMPS):
        factor = 1.0 if i == lit else SIGNAL_OFF
        centre = (x, top - HOUSING_HALF - SIGNAL_LAMP_STEP * i, z - DECAL_M)
        disc(p, centre, SIGNAL_LAMP_R, np.asarray(lamp) * factor,
             C.TRAFFIC_LIGHT, axis=2)


def traffic_light(p: Painter, x: float, y: float, z: float,
                  over_road: float = 0.0) -> None:
    """A signal head on a post, or hanging from an arm over the road.

    Args:
        p (Painter): Where and how to draw.
        x (float): Post position.
        y (float): Ground height.
        z (float): Depth.
        over_road (float): Signed arm length towards the road; 0 puts the
            head on top of the post.
    """
    rng = p.rng
    colour = jitter(rng, pick(rng, POLE_COLOURS), POLE_JITTER)
    post_h = rng.uniform(*(SIGNAL_MAST if over_road else SIGNAL_POST))
    _post(p, x, y, z, SIGNAL_POST_HALF, post_h, colour)
    head_x = x + over_road
    if over_road:
        arm_y = y + post_h - SIGNAL_ARM_DROP
        rod(p, (x, arm_y, z), (head_x, arm_y, z), SIGNAL_ARM_W, colour,
            C.POLE)
        top = y + post_h - SIGNAL_HANG
    else:
        top = y + post_h + HOUSING_HEIGHT
    front = z - HOUSING_DEPTH[1]
    solid(p, box_corners(head_x - HOUSING_HALF, head_x + HOUSING_HALF,
                         top - HOUSING_HEIGHT, top, front,
                         z - HOUSING_DEPTH[0]), pick(rng, HOUSINGS),
          C.TRAFFIC_LIGHT)
    if rng.random() >= P_SIGNAL_BACK:  # else seen from behind: no lamps
        _signal_lamps(p, head_x, top, front)
