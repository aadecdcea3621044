"""Cars, trucks, buses, trams, bicycles and motorcycles.

Vehicles are boxes aligned with the street (length along ``Z``), anchored
at the centre of their near end ``(x, z)`` on the road. ``oncoming``
vehicles show their front (headlights, windscreen) to the camera, the
others their rear (tail lights, plate). Wheels, lamps and window bands
are procedural patterns on the body's own faces (see-through under the
body between the tyres), which keeps a car to a handful of polygon fills.
All dimensions are metres, from typical European vehicles, and live in
the spec tables below.
"""
from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence, Tuple

import numpy as np

from . import classes as C
from .shapes import Painter, box_corners, disc, jitter, pick, ring, rod, \
    solid

CAR_COLOURS = (
    (0.92, 0.92, 0.92), (0.08, 0.08, 0.09), (0.62, 0.63, 0.65),
    (0.35, 0.36, 0.38), (0.1, 0.16, 0.35), (0.6, 0.08, 0.07),
    (0.35, 0.05, 0.08), (0.2, 0.35, 0.65), (0.1, 0.25, 0.15),
    (0.75, 0.68, 0.52), (0.85, 0.7, 0.1), (0.8, 0.38, 0.08),
)
CARGO_COLOURS = ((0.9, 0.9, 0.88), (0.7, 0.7, 0.7))
BUS_COLOURS = ((0.9, 0.75, 0.1), (0.75, 0.1, 0.08), (0.92, 0.92, 0.9),
               (0.15, 0.3, 0.6), (0.2, 0.5, 0.3), (0.85, 0.8, 0.65))
TRAM_COLOURS = ((0.9, 0.9, 0.88), (0.75, 0.12, 0.1), (0.95, 0.8, 0.15),
                (0.2, 0.35, 0.7))
GLASS = (0.13, 0.15, 0.18)
TYRE = (0.05, 0.05, 0.05)
RIM = (0.55, 0.55, 0.56)
DARK_METAL = (0.2, 0.2, 0.2)
TAIL_LIGHT = (0.75, 0.05, 0.04)
HEAD_LIGHT = (0.92, 0.92, 0.85)
PLATE = (0.9, 0.9, 0.88)
#: Std of the per-vehicle paint colour jitter.
PAINT_JITTER = 0.04
#: Vehicle paint is smoother than walls: less noise.
PAINT_TEXTURE = (0.02, 0.05)
#: Offset (metres) that puts decals (windscreens, lamps) in front of a face.
DECAL_M = 0.02
#: Fraction of the wheel radius taken by the rim.
RIM_FRACTION = 0.55
#: Rear view: tyre width, and inset of the tyre from the body side.
TYRE_WIDTH_M, TYRE_INSET_M = 0.22, 0.05
#: Lamps span this range of distances from the body side; half-height.
LAMP_SPAN_M, LAMP_HALF_H_M = (0.06, 0.36), 0.07
#: Number plate half-size and its drop below the lamps.
PLATE_HALF_W_M, PLATE_HALF_H_M, PLATE_DROP_M = 0.26, 0.06, 0.25


@dataclass(frozen=True)
class BodySpec:
    """Sampling ranges and fixed geometry of one vehicle body box.

    Attributes:
        length (tuple): Range of the length.
        width (tuple): Range of the width.
        height (tuple): Range of the height of the box top.
        clearance (float): Height of the body bottom above the road.
        wheel_radius (float): Wheel radius.
        axle_inset (tuple): Axle distance from the near and far ends.
        light_y (float): Height of the lamps.
        band (tuple, optional): Side windows ``(y0, y1, pane, pillar)``.
    """
    length: Tuple[float, float]
    width: Tuple[float, float]
    height: Tuple[float, float]
    clearance: float
    wheel_radius: float
    axle_inset: Tuple[float, float]
    light_y: float
    band: Optional[Tuple[float, float, float, float]] = None


@dataclass(frozen=True)
class Windscreen:
    """A glass decal on the face towards the camera (metres).

    Attributes:
        side_inset (float): Inset from the body sides.
        bottom_front (float): Bottom height seen from the front.
        bottom_rear (float): Bottom height seen from the rear.
        below_top (float): Gap between the glass top and the body top.
    """
    side_inset: float
    bottom_front: float
    bottom_rear: float
    below_top: float


#: Car: the body box ends at the belt line; the cabin sits on it.
CAR = BodySpec((3.9, 4.9), (1.7, 1.9), (0.82, 0.98), 0.28, 0.32, (0.8, 0.8),
               light_y=0.0)
CAR_ROOF = (1.38, 1.6)
#: Lamps sit this far below the belt line.
CAR_LAMP_BELOW_BELT = 0.15
#: Cabin: rear overhang and bonnet as fractions of the length; side inset
#: at the belt; extra inset of the roof across and along (sloped glass).
CABIN_REAR, CABIN_BONNET = 0.18, 0.32
CABIN_SIDE_INSET, ROOF_INSET_X, ROOF_INSET_Z = 0.05, 0.12, 0.3
TRUCK_CAB = BodySpec((2.2, 2.2), (2.45, 2.45), (2.7, 3.1), 0.6, 0.5,
                     (1.1, 1.2), light_y=0.9)
TRUCK_CARGO = BodySpec((5.5, 8.0), (2.45, 2.45), (3.3, 3.9), 0.9, 0.5,
                       (1.1, 1.2), light_y=1.1)
TRUCK_GAP = 0.2
TRUCK_GLASS = Windscreen(0.1, 1.6, 1.6, 0.2)
BUS = BodySpec((10.5, 12.5), (2.55, 2.55), (2.95, 3.2), 0.3, 0.5,
               (2.6, 3.2), light_y=0.75, band=(1.05, 2.6, 1.5, 0.18))
BUS_GLASS = Windscreen(0.12, 0.9, 1.5, 0.35)
P_ARTICULATED, ARTICULATED_LENGTH = 0.25, 18.0
TRAM = BodySpec((24.0, 32.0), (2.4, 2.4), (3.4, 3.4), 0.35, 0.38,
                (0.0, 0.0), light_y=0.8, band=(1.0, 2.6, 1.8, 0.25))
TRAM_GLASS = Windscreen(0.15, 1.1, 1.1, 0.3)
#: Bogies of a tram, as fractions of its length.
TRAM_BOGIES = (0.1, 0.5, 0.9)
#: Pantograph: position (fraction of length), height, reach along the
#: roof, half-width of the contact bar, rod width.
PANTOGRAPH = dict(at=0.4, height=0.9, reach=0.8, half_width=0.6,
                  rod=0.06)


class Mount(NamedTuple):
    """Where a rider sits on a two-wheeler (heights and depths, metres)."""
    length: float
    seat_y: float
    seat_z: float
    grip_y: float
    grip_z: float
    pedal_y: float
    pedal_z: float


#: Bicycle: wheel radius, wheelbase range, tyre and tube widths. Frame key
#: points are ``(height, distance from the rear hub)``; ``head`` and the
#: handlebar are measured back from the front hub.
BIKE_WHEEL, BIKE_BASE, BIKE_TYRE, BIKE_TUBE = 0.34, (1.0, 1.1), 0.05, 0.04
BIKE_CRANK, BIKE_SEAT, BIKE_HEAD = (0.3, 0.45), (0.92, 0.3), (0.95, 0.1)
BIKE_BAR = dict(height=1.05, back=0.12, half_width=0.28, width=0.035)
BIKE_SADDLE = dict(height=0.97, z0=0.26, z1=0.42, width=0.08)
#: Motorcycle: wheel radius, wheelbase range, half-width of the tyre
#: blocks seen from behind, body and seat boxes ``(half-width, y0, y1,
#: z0, z1 from the rear hub)`` (a negative z1 is measured from the front).
MOTO_WHEEL, MOTO_BASE, MOTO_TYRE_HALF = 0.31, (1.35, 1.5), 0.08
MOTO_BODY = (0.2, 0.35, 0.8, 0.2, -0.2)
MOTO_SEAT = (0.16, 0.8, 0.95, 0.05, 0.9)
MOTO_BAR = dict(height=1.08, back=0.2, half_width=0.35, width=0.04)
MOTO_TAIL = dict(half_width=0.08, y0=0.82, y1=0.9)
#: Foot pegs ``(height, distance from the rear hub)``.
MOTO_PEG = (0.35, 0.55)


def _sample(rng: np.random.Generator, spec: BodySpec):
    """Random ``(length, width, height)`` within a spec's ranges."""
    return (rng.uniform(*spec.length), rng.uniform(*spec.width),
            rng.uniform(*spec.height))


def _paint(rng: np.random.Generator, palette: Sequence) -> np.ndarray:
    return jitter(rng, pick(rng, palette), PAINT_JITTER)


def _windscreen(p: Painter, x: float, z: float, width: float, top: float,
                glass: Windscreen, oncoming: bool, label: int) -> None:
    """Glass on the face nearest to us (windscreen or rear window)."""
    x0, x1 = x - width / 2 + glass.side_inset, x + width / 2 - glass.side_inset
    y0 = glass.bottom_front if oncoming else glass.bottom_rear
    y1, z = top - glass.below_top, z - DECAL_M
    corners = np.array([(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z)])
    p.canvas.face(corners, np.asarray(GLASS) * p.light.billboard_shade,
                  label, PAINT_TEXTURE)


def end_pattern(paint, x_centre: float, half_w: float, clearance: float,
                light_y: float, oncoming: bool):
    """Rear (or front) face from the road up: tyres below the body, lamps
    and plate on it; the gap between the tyres is see-through."""
    paint = np.asarray(paint, dtype=np.float32)
    lamp = np.asarray(HEAD_LIGHT if oncoming else TAIL_LIGHT, np.float32)
    tyre_out = half_w - TYRE_INSET_M

    def pattern(points: np.ndarray):
        lx, y = np.abs(points[:, 0] - x_centre), points[:, 1]
        rgb = np.repeat(paint[None], len(points), axis=0)
        below = y < clearance
        tyre = below & (lx > tyre_out - TYRE_WIDTH_M) & (lx < tyre_out)
        rgb[tyre] = TYRE
        lamps = ((lx > half_w - LAMP_SPAN_M[1]) &
                 (lx < half_w - LAMP_SPAN_M[0]) &
                 (np.abs(y - light_y) < LAMP_HALF_H_M))
        rgb[lamps] = lamp
        plate = (lx < PLATE_HALF_W_M) & (
            np.abs(y - light_y + PLATE_DROP_M) < PLATE_HALF_H_M)
        rgb[plate] = PLATE
        return rgb, ~below | tyre

    return pattern


def side_pattern(paint, clearance: float, axles, radius: float,
                 band=None):
    """Side face from the road up: wheels (tyre and rim) and an optional
    window band ``(y0, y1, pane_m, pillar_m)``; see-through under the body
    between the wheels."""
    paint = np.asarray(paint, dtype=np.float32)

    def pattern(points: np.ndarray):
        y, z = points[:, 1], points[:, 2]
        rgb = np.repeat(paint[None], len(points), axis=0)
        if band is not None:
            y0, y1, pane_m, pillar_m = band
            rgb[(y > y0) & (y < y1) & (np.mod(z, pane_m) > pillar_m)] = GLASS
        keep = y >= clearance
        for z_axle in axles:
            r2 = (z - z_axle) ** 2 + (y - radius) ** 2
            tyre = r2 < radius ** 2
            rgb[tyre] = TYRE
            rgb[r2 < (radius * RIM_FRACTION) ** 2] = RIM
            keep |= tyre
        return rgb, keep

    return pattern


def _body(p: Painter, x: float, z: float, size, paint, label: int,
          spec: BodySpec, axles, oncoming: bool,
          light_y: Optional[float] = None) -> None:
    """A vehicle box from the road up, with wheel/lamp/window patterns."""
    length, width, height = size
    half = width / 2
    sides = side_pattern(paint, spec.clearance, axles, spec.wheel_radius,
                         spec.band)
    end = end_pattern(paint, x, half, spec.clearance,
                      spec.light_y if light_y is None else light_y, oncoming)
    solid(p, box_corners(x - half, x + half, 0.0, height, z, z + length),
          paint, label, PAINT_TEXTURE,
          patterns={'near': end, 'left': sides, 'right': sides})


def car(p: Painter, x: float, z: float, oncoming: bool = False) -> float:
    """Draw a car whose near end is centred at ``(x, z)``; return length."""
    rng = p.rng
    length, width, belt = _sample(rng, CAR)
    roof = rng.uniform(*CAR_ROOF)
    paint = _paint(rng, CAR_COLOURS)
    axles = (z + CAR.axle_inset[0], z + length - CAR.axle_inset[1])
    _body(p, x, z, (length, width, belt), paint, C.CAR, CAR, axles,
          oncoming, light_y=belt - CAR_LAMP_BELOW_BELT)
    # The cabin sits towards the rear; the bonnet is at the front end.
    rear, bonnet = CABIN_REAR * length, CABIN_BONNET * length
    cz0, cz1 = (z + bonnet, z + length - rear) if oncoming else (
        z + rear, z + length - bonnet)
    half = width / 2 - CABIN_SIDE_INSET
    solid(p, box_corners(x - half, x + half, belt, roof, cz0, cz1,
                         inset_x=ROOF_INSET_X, inset_z=ROOF_INSET_Z),
          GLASS, C.CAR, PAINT_TEXTURE, colours={'top': paint})
    return length


def truck(p: Painter, x: float, z: float, oncoming: bool = False) -> float:
    """Draw a box truck (cab plus cargo box); return its length."""
    rng = p.rng
    cab, cargo = _sample(rng, TRUCK_CAB), _sample(rng, TRUCK_CARGO)
    cab_paint = _paint(rng, CAR_COLOURS)
    cargo_paint = _paint(rng, CARGO_COLOURS + (cab_paint,))
    total = cab[0] + cargo[0] + TRUCK_GAP
    axles = (z + TRUCK_CAB.axle_inset[0], z + total - TRUCK_CAB.axle_inset[1])
    cab_z, cargo_z = (z, z + cab[0] + TRUCK_GAP) if oncoming else (
        z + cargo[0] + TRUCK_GAP, z)
    _body(p, x, cab_z, cab, cab_paint, C.TRUCK, TRUCK_CAB, axles, oncoming)
    _body(p, x, cargo_z, cargo, cargo_paint, C.TRUCK, TRUCK_CARGO, axles,
          oncoming)
    if oncoming:
        _windscreen(p, x, z, cab[1], cab[2], TRUCK_GLASS, True, C.TRUCK)
    return total


def bus(p: Painter, x: float, z: float, oncoming: bool = False) -> float:
    """Draw a city bus with a band of side windows; return its length."""
    rng = p.rng
    length, width, height = _sample(rng, BUS)
    if rng.random() < P_ARTICULATED:
        length = ARTICULATED_LENGTH
    paint = _paint(rng, BUS_COLOURS)
    axles = (z + BUS.axle_inset[0], z + length - BUS.axle_inset[1])
    _body(p, x, z, (length, width, height), paint, C.BUS, BUS, axles,
          oncoming)
    _windscreen(p, x, z, width, height, BUS_GLASS, oncoming, C.BUS)
    return length


def tram(p: Painter, x: float, z: float) -> float:
    """Draw a tram (Cityscapes 'train') with pantograph; return length."""
    rng = p.rng
    length, width, height = _sample(rng, TRAM)
    paint = _paint(rng, TRAM_COLOURS)
    axles = tuple(z + length * f for f in TRAM_BOGIES)
    _body(p, x, z, (length, width, height), paint, C.TRAIN, TRAM, axles,
          True)
    _windscreen(p, x, z, width, height, TRAM_GLASS, True, C.TRAIN)
    pan = PANTOGRAPH
    base = (x, height, z + length * pan['at'])
    top_y, top_z = height + pan['height'], base[2] + pan['reach']
    rod(p, base, (x, top_y, top_z), pan['rod'], DARK_METAL, C.TRAIN)
    rod(p, (x - pan['half_width'], top_y, top_z),
        (x + pan['half_width'], top_y, top_z), pan['rod'], DARK_METAL,
        C.TRAIN)
    return length


def _handlebar(p: Painter, x: float, front_z: float, bar: dict,
               label: int) -> Tuple[float, float]:
    """Draw a handlebar across the vehicle; return its ``(y, z)``."""
    y, z = bar['height'], front_z - bar['back']
    rod(p, (x - bar['half_width'], y, z), (x + bar['half_width'], y, z),
        bar['width'], TYRE, label)
    return y, z


def bicycle(p: Painter, x: float, z: float, y: float = 0.0) -> Mount:
    """Draw a bicycle along the street, rear hub at ``z`` on ground ``y``.
    """
    rng = p.rng
    base = rng.uniform(*BIKE_BASE)
    frame = jitter(rng, pick(rng, CAR_COLOURS), PAINT_JITTER)
    rear = (x, y + BIKE_WHEEL, z)
    front = (x, y + BIKE_WHEEL, z + base)
    for hub in (rear, front):
        ring(p, hub, BIKE_WHEEL, BIKE_TYRE, TYRE, C.BICYCLE)
    crank = (x, y + BIKE_CRANK[0], z + BIKE_CRANK[1])
    seat = (x, y + BIKE_SEAT[0], z + BIKE_SEAT[1])
    head = (x, y + BIKE_HEAD[0], z + base - BIKE_HEAD[1])
    for start, end in ((rear, crank), (rear, seat), (seat, crank),
                       (crank, head), (seat, head), (head, front)):
        rod(p, start, end, BIKE_TUBE, frame, C.BICYCLE)
    grip_y, grip_z = _handlebar(p, x, z + base, BIKE_BAR, C.BICYCLE)
    saddle = BIKE_SADDLE
    rod(p, (x, y + saddle['height'], z + saddle['z0']),
        (x, y + saddle['height'], z + saddle['z1']), saddle['width'], TYRE,
        C.BICYCLE)
    return Mount(base, y + saddle['height'], z + saddle['z0'], y + grip_y,
                 grip_z, crank[1], crank[2])


def _moto_box(p: Painter, x: float, z: float, base: float, box, colour):
    half, y0, y1, z0, z1 = box
    z1 = z + base + z1 if z1 < 0 else z + z1
    solid(p, box_corners(x - half, x + half, y0, y1, z + z0, z1), colour,
          C.MOTORCYCLE, PAINT_TEXTURE)


def motorcycle(p: Painter, x: float, z: float) -> Mount:
    """Draw a motorcycle along the street, rear hub at ``z``."""
    rng = p.rng
    base = rng.uniform(*MOTO_BASE)
    paint = _paint(rng, CAR_COLOURS)
    for z_axle in (z, z + base):
        solid(p, box_corners(x - MOTO_TYRE_HALF, x + MOTO_TYRE_HALF, 0.0,
                             2 * MOTO_WHEEL, z_axle - MOTO_WHEEL,
                             z_axle + MOTO_WHEEL), TYRE, C.MOTORCYCLE,
              PAINT_TEXTURE)
        # The wheel disc sits on the side facing the camera.
        offset = MOTO_TYRE_HALF + DECAL_M
        x_side = x - offset if x > 0 else x + offset
        disc(p, (x_side, MOTO_WHEEL, z_axle), MOTO_WHEEL, TYRE, C.MOTORCYCLE)
    _moto_box(p, x, z, base, MOTO_BODY, paint)
    _moto_box(p, x, z, base, MOTO_SEAT, TYRE)
    grip_y, grip_z = _handlebar(p, x, z + base, MOTO_BAR, C.MOTORCYCLE)
    tail, seat_z = MOTO_TAIL, z + MOTO_SEAT[3] - DECAL_M
    corners = np.array([(x - tail['half_width'], tail['y0'], seat_z),
                        (x + tail['half_width'], tail['y0'], seat_z),
                        (x + tail['half_width'], tail['y1'], seat_z),
                        (x - tail['half_width'], tail['y1'], seat_z)])
    p.canvas.face(corners, np.asarray(TAIL_LIGHT), C.MOTORCYCLE)
    seat_middle = z + (MOTO_SEAT[3] + MOTO_SEAT[4]) / 2
    return Mount(base, MOTO_SEAT[2], seat_middle, grip_y, grip_z,
                 MOTO_PEG[0], z + MOTO_PEG[1])
