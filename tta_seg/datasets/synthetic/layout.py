"""Random street layouts: lanes, sidewalks, lots along the street.

A layout is pure geometry (metres, world frame of :mod:`render`); drawing
it is :mod:`scene`'s job. The street runs along ``+Z``; the camera drives
in lane ``ego`` at ``X = 0``. Each side of the street is a sequence of
strips (optional grass strip, sidewalk, optional front lawn) up to a
building line, and a sequence of lots along ``Z`` behind it (buildings,
gaps with walls, fences, hedges or open green).
"""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

#: Lane width range (metres).
LANE_WIDTH = (3.0, 3.6)
#: Parking lane width (metres).
PARKING_WIDTH = 2.2
#: Kerb height range (metres).
KERB_HEIGHT = (0.1, 0.16)
#: Lots start behind the camera so facades reach the image border.
LOTS_START_Z = -20.0
#: Range of the street length before a cross street / open end (metres).
STREET_LENGTH = (45.0, 170.0)
#: Width range of a cross street closing the view (metres).
CROSS_WIDTH = (10.0, 18.0)
#: Where an open street's side lots end (metres).
OPEN_LOTS_END_Z = 220.0
#: Probability that the street ends at a row of facing buildings.
P_CLOSED_END = 0.6
#: Probability that one side of the street is green (lawns, trees) rather
#: than urban.
P_GREEN_SIDE = 0.25
#: Lane counts (repeats weight the choice), chance of a one-way street,
#: lateral offset range of the camera within its lane.
LANE_COUNTS, P_ONE_WAY, EGO_OFFSET = (2, 2, 3, 4), 0.3, 0.4
#: Chances of a parking lane on the left / right.
P_PARKING_LEFT, P_PARKING_RIGHT = 0.45, 0.55
#: Strips outside the kerb: chances (urban / green side) and widths.
P_GRASS_STRIP, P_GRASS_STRIP_GREEN, GRASS_STRIP_WIDTH = 0.3, 0.6, (0.8, 3.0)
SIDEWALK_WIDTH = (1.8, 5.0)
P_LAWN, P_LAWN_GREEN, LAWN_WIDTH = 0.2, 0.8, (1.0, 8.0)
#: Lots: chance of a building (urban / green), its length, height and
#: setbacks (urban ones are rare and small, green ones are gardens).
P_BUILDING, P_BUILDING_GREEN = 0.82, 0.25
BUILDING_LENGTH, BUILDING_HEIGHT = (8.0, 30.0), (7.0, 28.0)
P_URBAN_SETBACK, URBAN_SETBACK, GREEN_SETBACK = 0.3, (0.0, 2.0), (3.0, 12.0)
#: Gap lots between buildings: kinds, height ranges and length range.
GAP_KINDS = ('wall', 'fence', 'hedge', 'open')
GAP_HEIGHTS = {'wall': (0.6, 2.6), 'fence': (1.0, 2.2), 'hedge': (0.8, 2.2)}
GAP_LENGTH = (4.0, 20.0)
#: Zebra crossing: chance, near edge depth range, width range.
P_CROSSING, CROSSING_DEPTH, CROSSING_WIDTH = 0.4, (10.0, 45.0), (3.0, 5.0)
#: Tram rails: chance, half of the standard gauge (1.435 m) plus rail head.
P_TRAM_RAILS, TRACK_HALF_GAUGE = 0.1, 0.72


@dataclass
class Lot:
    """One stretch along the street behind the building line.

    Attributes:
        kind (str): ``building``, ``wall``, ``fence``, ``hedge`` or ``open``.
        z0 (float): Start along the street.
        z1 (float): End along the street.
        height (float): Height of the building/wall/fence/hedge.
        setback (float): Extra distance behind the building line.
    """
    kind: str
    z0: float
    z1: float
    height: float
    setback: float = 0.0


@dataclass
class Side:
    """One side of the street; distances are ``|X|`` from the camera axis.

    Attributes:
        sign (int): -1 left, +1 right.
        kerb (float): Road edge.
        strips (list): ``(kind, inner, outer)`` with kind ``terrain`` or
            ``sidewalk``, from the kerb outwards.
        line (float): Building line.
        green (bool): Lawns and trees instead of a built-up street.
        lots (list): :class:`Lot` sequence along the street.
        parking (bool): Whether the outer lane is a parking lane.
    """
    sign: int
    kerb: float
    strips: List[Tuple[str, float, float]]
    line: float
    green: bool
    lots: List[Lot] = field(default_factory=list)
    parking: bool = False

    def sidewalk(self) -> Tuple[float, float]:
        """``(inner, outer)`` of the sidewalk strip."""
        return next((a, b) for kind, a, b in self.strips
                    if kind == 'sidewalk')


@dataclass
class Layout:
    """Geometry of one street scene.

    Attributes:
        lane_w (float): Lane width.
        lanes (list): ``(x_centre, oncoming)`` of each driving lane.
        left (Side): Left side of the street.
        right (Side): Right side.
        kerb_h (float): Kerb height (sidewalks are raised by it).
        end_z (float): Where the side lots and sidewalks end.
        closed (bool): A cross street and facing buildings close the view.
        cross_w (float): Width of that cross street.
        crossing (tuple, optional): ``(z0, z1)`` of a zebra crossing.
        rails (list): X of tram rails (empty without tram).
    """
    lane_w: float
    lanes: List[Tuple[float, bool]]
    left: Side
    right: Side
    kerb_h: float
    end_z: float
    closed: bool
    cross_w: float
    crossing: Optional[Tuple[float, float]] = None
    rails: List[float] = field(default_factory=list)

    @property
    def sides(self) -> Tuple[Side, Side]:
        """Both sides, left first."""
        return self.left, self.right


def _strips(rng: np.random.Generator, kerb: float, green: bool):
    """Grass strip, sidewalk and front lawn widths outward from the kerb."""
    strips, x = [], kerb
    if rng.random() < (P_GRASS_STRIP_GREEN if green else P_GRASS_STRIP):
        width = rng.uniform(*GRASS_STRIP_WIDTH)
        strips.append(('terrain', x, x + width))
        x += width
    width = rng.uniform(*SIDEWALK_WIDTH)
    strips.append(('sidewalk', x, x + width))
    x += width
    if rng.random() < (P_LAWN_GREEN if green else P_LAWN):
        width = rng.uniform(*LAWN_WIDTH)
        strips.append(('terrain', x, x + width))
        x += width
    return strips, x


def _building_lot(rng: np.random.Generator, z: float, green: bool) -> Lot:
    """A building; in green streets set back behind a front garden."""
    if green:
        setback = rng.uniform(*GREEN_SETBACK)
    elif rng.random() < P_URBAN_SETBACK:
        setback = rng.uniform(*URBAN_SETBACK)
    else:
        setback = 0.0
    return Lot('building', z, z + rng.uniform(*BUILDING_LENGTH),
               rng.uniform(*BUILDING_HEIGHT), setback)


def _lot(rng: np.random.Generator, z: float, green: bool) -> Lot:
    """One random lot starting at ``z``."""
    if rng.random() < (P_BUILDING_GREEN if green else P_BUILDING):
        return _building_lot(rng, z, green)
    kind = str(rng.choice(GAP_KINDS))
    height = rng.uniform(*GAP_HEIGHTS[kind]) if kind in GAP_HEIGHTS else 0.0
    return Lot(kind, z, z + rng.uniform(*GAP_LENGTH), height)


def _lots(rng: np.random.Generator, end_z: float, green: bool) -> List[Lot]:
    """Lots from behind the camera to ``end_z``."""
    lots, z = [], LOTS_START_Z
    while z < end_z:
        lot = _lot(rng, z, green)
        lot.z1 = min(lot.z1, end_z)
        lots.append(lot)
        z = lot.z1
    return lots


def _side(rng: np.random.Generator, sign: int, kerb: float, end_z: float,
          parking: bool) -> Side:
    green = rng.random() < P_GREEN_SIDE
    strips, line = _strips(rng, kerb, green)
    return Side(sign, kerb, strips, line, green, _lots(rng, end_z, green),
                parking)


def _lanes(rng: np.random.Generator, lane_w: float):
    """Driving lanes around the ego lane; returns lanes and road edges.

    On two-way streets the left half of the lanes is oncoming traffic
    (right-hand traffic, as in Cityscapes) and the camera drives in the
    right half.
    """
    count = int(rng.choice(LANE_COUNTS))
    two_way = rng.random() >= P_ONE_WAY
    first_own = count // 2 if two_way else 0
    ego = int(rng.integers(first_own, count))
    offset = rng.uniform(-EGO_OFFSET, EGO_OFFSET)
    lanes = [((i - ego) * lane_w + offset, i < first_own)
             for i in range(count)]
    left = -(lanes[0][0] - lane_w / 2)
    right = lanes[-1][0] + lane_w / 2
    return lanes, left, right


def sample_layout(rng: np.random.Generator) -> Layout:
    """Draw a random street layout."""
    lane_w = rng.uniform(*LANE_WIDTH)
    lanes, left, right = _lanes(rng, lane_w)
    park_l, park_r = rng.random() < P_PARKING_LEFT, rng.random() < \
        P_PARKING_RIGHT
    left += PARKING_WIDTH * park_l
    right += PARKING_WIDTH * park_r
    closed = rng.random() < P_CLOSED_END
    end_z = rng.uniform(*STREET_LENGTH) if closed else OPEN_LOTS_END_Z
    layout = Layout(
        lane_w=lane_w, lanes=lanes,
        left=_side(rng, -1, left, end_z, park_l),
        right=_side(rng, 1, right, end_z, park_r),
        kerb_h=rng.uniform(*KERB_HEIGHT), end_z=end_z, closed=closed,
        cross_w=rng.uniform(*CROSS_WIDTH))
    if rng.random() < P_CROSSING:
        z0 = rng.uniform(*CROSSING_DEPTH)
        layout.crossing = (z0, z0 + rng.uniform(*CROSSING_WIDTH))
    if rng.random() < P_TRAM_RAILS:
        x_tram = lanes[int(rng.integers(len(lanes)))][0]
        layout.rails = [x_tram - TRACK_HALF_GAUGE, x_tram + TRACK_HALF_GAUGE]
    return layout
