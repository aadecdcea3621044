"""Pedestrians (billboards) and riders on bicycles or motorcycles.

A pedestrian is a camera-facing figure built from body proportions in
units of its height ``h`` (head 1/8, hips at 1/2), walking or standing,
seen from the front, back or side. Carried bags and coats are labelled
person like in Cityscapes. A rider sits on a vehicle from
:mod:`vehicles`; its torso is a 3D box so it reads from behind and from
the side, its limbs are 3D rods.
"""
import numpy as np

from . import classes as C
from .shapes import Billboard, Painter, box_corners, jitter, pick, rod, \
    solid
from .vehicles import Mount, bicycle, motorcycle

TOPS = ((0.1, 0.1, 0.12), (0.85, 0.85, 0.85), (0.6, 0.1, 0.1),
        (0.15, 0.25, 0.5), (0.3, 0.45, 0.25), (0.75, 0.6, 0.3),
        (0.45, 0.45, 0.48), (0.8, 0.45, 0.55), (0.9, 0.75, 0.2))
BOTTOMS = ((0.08, 0.08, 0.1), (0.15, 0.2, 0.35), (0.35, 0.35, 0.38),
           (0.55, 0.48, 0.35), (0.25, 0.2, 0.15))
SKINS = ((0.93, 0.76, 0.64), (0.8, 0.6, 0.45), (0.6, 0.42, 0.3),
         (0.38, 0.25, 0.17))
HAIRS = ((0.08, 0.06, 0.05), (0.3, 0.2, 0.1), (0.7, 0.55, 0.3),
         (0.5, 0.5, 0.5))
HELMETS = ((0.1, 0.1, 0.1), (0.9, 0.9, 0.9), (0.8, 0.1, 0.1),
           (0.2, 0.3, 0.7))
SHOES = (0.05, 0.05, 0.05)
BAG = (0.25, 0.15, 0.1)
#: Std of the colour jitter of clothes and skin.
CLOTH_JITTER = 0.04
#: Chances of wearing a coat (longer torso) and of carrying a bag.
P_COAT, P_BAG = 0.3, 0.25
#: Body proportions, as fractions of the person's height.
HIP, SHOULDER, NECK, HAND = 0.5, 0.81, 0.86, 0.44
HEAD_R, SHOULDER_W, HIP_W, LIMB_W = 0.065, 0.13, 0.095, 0.075
ARM_W, SHOE_HEIGHT = 0.056, 0.02
#: Face width and hair size relative to the head radius; the hair sits
#: this much (of the radius) above the face centre.
FACE_WIDTH, HAIR_SIZE, HAIR_RISE = 0.85, (0.92, 0.85), 0.25
#: Coat / jacket hem below the hips (fraction of height).
COAT_HEM, JACKET_HEM = 0.18, 0.02
#: Seen from the side, torso and hips look this much narrower.
SIDE_NARROWING = 0.55
#: Arm swing and stride of a walking person (fraction of height).
ARM_SWING, STRIDE = 0.08, 0.14
#: Bag: top, bottom (fraction of height) and width (metres).
BAG_TOP, BAG_BOTTOM, BAG_WIDTH = 0.62, 0.42, 0.18
#: Typical adult heights (metres).
HEIGHT_RANGE = (1.5, 1.95)
#: Rider geometry (metres): torso height and half-width, hip spacing,
#: limb widths, knee position relative to the seat, head radius.
RIDER_TORSO_H, RIDER_HALF_W, RIDER_HIP_HALF = 0.58, 0.19, 0.1
RIDER_ARM_W, RIDER_THIGH_W, RIDER_SHIN_W = 0.08, 0.13, 0.11
RIDER_KNEE = (0.14, -0.05, 0.3)   # (half spacing, drop, forward)
RIDER_FOOT_HALF, RIDER_GRIP_HALF = 0.12, 0.25
RIDER_HEAD_R = 0.12
#: Torso box depth behind/in front of the seat point; the shoulders lean
#: forward to this distance before the grips.
RIDER_BACK, RIDER_FRONT, RIDER_REACH = 0.12, 0.14, 0.25
#: Billboard layers (back to front) of a pedestrian's parts.
LAYER_LEGS, LAYER_SHOES, LAYER_TORSO, LAYER_HEAD, LAYER_FRONT = 1, 2, 3, 4, 5


def _outfit(rng: np.random.Generator) -> dict:
    """Random clothing, skin and hair colours."""
    return dict(top=jitter(rng, pick(rng, TOPS), CLOTH_JITTER),
                bottom=jitter(rng, pick(rng, BOTTOMS), CLOTH_JITTER),
                skin=jitter(rng, pick(rng, SKINS), CLOTH_JITTER),
                hair=jitter(rng, pick(rng, HAIRS), CLOTH_JITTER),
                coat=rng.random() < P_COAT, bag=rng.random() < P_BAG)


def _legs(bb: Billboard, h: float, pose: str, walk: float, colour,
          label: int) -> None:
    """Two legs from the hips; a side view scissors them by ``walk``."""
    if pose == 'side':
        feet = ((walk * STRIDE * h, 0.0), (-walk * STRIDE * h, 0.0))
        hips = ((0.0, HIP * h), (0.0, HIP * h))
    else:
        spread = HIP_W * SIDE_NARROWING * h
        feet = ((-spread, 0.0), (spread, 0.0))
        hips = ((-spread, HIP * h), (spread, HIP * h))
    for hip, foot in zip(hips, feet):
        bb.line(hip, foot, LIMB_W * h, colour, label, layer=LAYER_LEGS)
        bb.line(foot, (foot[0], SHOE_HEIGHT * h), LIMB_W * h, SHOES, label,
                layer=LAYER_SHOES)


def _torso(bb: Billboard, h: float, pose: str, outfit: dict,
           label: int) -> None:
    """Torso (longer when wearing a coat), arms and an optional bag."""
    narrow = SIDE_NARROWING if pose == 'side' else 1.0
    half_s, half_h = SHOULDER_W * h * narrow, HIP_W * h * narrow
    bottom = (HIP - (COAT_HEM if outfit['coat'] else JACKET_HEM)) * h
    bb.poly([(-half_s, SHOULDER * h), (half_s, SHOULDER * h),
             (half_h, bottom), (-half_h, bottom)], outfit['top'], label,
            layer=LAYER_TORSO)
    for side in (-1, 1):
        swing = ARM_SWING * h * side if pose == 'side' else 0.0
        # The far arm goes behind the torso, the near one in front.
        layer = LAYER_HEAD if side > 0 else LAYER_SHOES
        bb.line((side * half_s, SHOULDER * h), (side * half_s + swing,
                                                HAND * h),
                ARM_W * h, outfit['top'], label, layer=layer)
    if outfit['bag']:
        bb.poly([(half_s, BAG_TOP * h), (half_s + BAG_WIDTH, BAG_TOP * h),
                 (half_s + BAG_WIDTH, BAG_BOTTOM * h),
                 (half_s, BAG_BOTTOM * h)], BAG, label, layer=LAYER_FRONT)


def _head(bb: Billboard, h: float, pose: str, outfit: dict,
          label: int) -> None:
    """Neck, face and hair; from behind the hair covers the face."""
    r, centre_y = HEAD_R * h, (1.0 - HEAD_R) * h
    bb.line((0.0, NECK * h), (0.0, centre_y), r, outfit['skin'], label,
            layer=LAYER_TORSO)
    bb.ellipse((0.0, centre_y), (r * FACE_WIDTH, r), outfit['skin'], label,
               layer=LAYER_HEAD)
    hair_layer = LAYER_FRONT if pose == 'back' else LAYER_TORSO
    bb.ellipse((0.0, centre_y + r * HAIR_RISE), (r * HAIR_SIZE[0],
                                                r * HAIR_SIZE[1]),
               outfit['hair'], label, layer=hair_layer)


def person(p: Painter, x: float, y: float, z: float,
           pose: str = 'front', label: int = C.PERSON) -> None:
    """Draw a pedestrian standing on ``(x, y, z)``.

    Args:
        p (Painter): Where and how to draw.
        x (float): Lateral position (metres).
        y (float): Ground height under the feet (sidewalk kerb height).
        z (float): Depth (metres).
        pose (str): ``'front'``, ``'back'`` or ``'side'`` (walking).
        label (int): trainId (person).
    """
    rng = p.rng
    h = rng.uniform(*HEIGHT_RANGE)
    outfit = _outfit(rng)
    bb = Billboard(p, x, y, z)
    _legs(bb, h, pose, rng.uniform(-1.0, 1.0), outfit['bottom'], label)
    _torso(bb, h, pose, outfit, label)
    _head(bb, h, pose, outfit, label)


def _seated_body(p: Painter, x: float, mount: Mount,
                 outfit: dict) -> tuple:
    """Leaning torso box and arms to the handlebar; returns the neck."""
    lean = mount.grip_z - mount.seat_z - RIDER_REACH
    top = mount.seat_y + RIDER_TORSO_H
    solid(p, box_corners(x - RIDER_HALF_W, x + RIDER_HALF_W, mount.seat_y,
                         top, mount.seat_z - RIDER_BACK,
                         mount.seat_z + RIDER_FRONT, shift_z=lean),
          outfit['top'], C.RIDER)
    shoulder_z = mount.seat_z + lean
    for side in (-1, 1):
        rod(p, (x + side * RIDER_HALF_W, top, shoulder_z),
            (x + side * RIDER_GRIP_HALF, mount.grip_y, mount.grip_z),
            RIDER_ARM_W, outfit['top'], C.RIDER)
    return top, shoulder_z


def _seated_legs(p: Painter, x: float, mount: Mount,
                 outfit: dict) -> None:
    """Thighs to the knees, shins down to the pedals / foot pegs."""
    half, drop, forward = RIDER_KNEE
    for side in (-1, 1):
        knee = (x + side * half, mount.seat_y + drop, mount.seat_z + forward)
        foot = (x + side * RIDER_FOOT_HALF, mount.pedal_y, mount.pedal_z)
        rod(p, (x + side * RIDER_HIP_HALF, mount.seat_y, mount.seat_z), knee,
            RIDER_THIGH_W, outfit['bottom'], C.RIDER)
        rod(p, knee, foot, RIDER_SHIN_W, outfit['bottom'], C.RIDER)


def rider(p: Painter, x: float, z: float, vehicle: str = 'bicycle') -> float:
    """Draw a rider on a bicycle or motorcycle whose rear hub is at ``z``.

    The vehicle gets its own label; the person on it is ``rider``.

    Returns:
        float: Length of the vehicle (metres).
    """
    rng = p.rng
    outfit = _outfit(rng)
    if vehicle == 'motorcycle':
        mount = motorcycle(p, x, z)
        head_colour = jitter(rng, pick(rng, HELMETS), CLOTH_JITTER)
    else:
        mount = bicycle(p, x, z)
        head_colour = outfit['hair']
    _seated_legs(p, x, mount, outfit)
    neck_y, neck_z = _seated_body(p, x, mount, outfit)
    Billboard(p, x, neck_y, neck_z).ellipse(
        (0.0, RIDER_HEAD_R), (RIDER_HEAD_R * FACE_WIDTH, RIDER_HEAD_R),
        head_colour,
        C.RIDER, layer=LAYER_HEAD)
    return mount.length
