"""Where things stand: furniture, traffic and people on a layout.

Counts are Poisson draws around Cityscapes-like densities; positions follow
the layout's lanes, kerbs and sidewalks so context (cars on the road,
people on sidewalks, poles at the kerb) carries information a model can
learn. Distances are metres.
"""
import numpy as np

from .furniture import bollard, street_lamp, traffic_light, traffic_sign
from .layout import PARKING_WIDTH, Layout, Side
from .people import person, rider
from .shapes import Painter
from .vegetation import tree
from .vehicles import bicycle, bus, car, motorcycle, tram, truck

#: Nearest depth at which objects are placed.
NEAR_Z = 4.0
#: Furthest depth for small objects (people, signs) and traffic.
FAR_OBJECT_Z = 80.0
#: Rows of lamps and street trees stop here: beyond, they are a few
#: pixels and cost more than they show.
FAR_ROW_Z, FAR_TREE_Z = 150.0, 110.0
#: Street lamps: chance per side, first position and spacing ranges,
#: distance outside the kerb.
P_LAMPS, LAMP_START, LAMP_STEP, LAMP_OFFSET = 0.75, (3.0, 25.0), \
    (25.0, 40.0), 0.4
#: Street trees: chance per side, first position and spacing ranges,
#: distance outside the kerb when there is no grass strip.
P_STREET_TREES, TREE_START, TREE_STEP, TREE_OFFSET = 0.5, (2.0, 10.0), \
    (7.0, 14.0), 0.9
#: Signs and bollards: distance outside the kerb; bollard rows.
SIGN_OFFSET, BOLLARD_OFFSET = 0.35, 0.3
P_BOLLARDS, BOLLARD_COUNT, BOLLARD_STEP, BOLLARD_FAR = 0.25, (3, 8), 1.5, \
    30.0
#: Traffic lights: distance before the crossing, distance outside the
#: kerb, chance of a mast arm over the road on the right and its reach.
SIGNAL_BEFORE, SIGNAL_OFFSET, P_MAST_ARM, MAST_ARM = 1.0, 0.5, 0.5, \
    (3.0, 6.0)
#: Mean counts per scene.
MEAN_SIGNS_PER_SIDE = 1.2
MEAN_PEOPLE_PER_SIDE = 2.5
MEAN_CROSSING_PEOPLE = 1.5
MEAN_RIDERS = 0.8
MEAN_PARKED_BIKES_PER_SIDE = 0.5
MEAN_VEHICLES_PER_LANE = 1.3
#: Probability of vehicle types in moving traffic (rest: cars).
P_TRUCK, P_BUS, P_MOTORBIKE = 0.08, 0.08, 0.06
#: Traffic: first vehicle depth range, ego-lane minimum (the car ahead
#: keeps its distance), lateral wander within the lane, gap range.
TRAFFIC_START, EGO_LANE_MIN, LANE_WANDER = (NEAR_Z, 30.0), 8.0, 0.3
TRAFFIC_GAP = (3.0, 25.0)
#: Parking: first car depth range, chance of a motorcycle, of a car (else
#: an empty slot), gap range; cars stand this far inside the kerb.
PARKING_START, P_PARKED_MOTO, P_PARKED_CAR = (0.0, 8.0), 0.08, 0.85
PARKING_GAP, PARKED_INSET = (0.6, 6.0), 1.1
#: Tram: chance when there are rails, depth range.
P_TRAM, TRAM_DEPTH = 0.6, (12.0, 50.0)
#: Pedestrians keep this far from sidewalk edges; companions walk within
#: this distance; chance of walking in pairs.
WALK_MARGIN, PAIR_SPREAD, P_PAIR = 0.3, 0.7, 0.3
PAIR_DEPTH_SPREAD = 0.5
#: Parked bicycles: distance inside the sidewalk's outer edge, depth.
PARKED_BIKE_INSET, PARKED_BIKE_FAR = 0.4, 40.0
#: Cyclists ride this far from the right kerb (or the parking lane).
CYCLIST_OFFSET, CYCLIST_DEPTH = (0.6, 1.2), (NEAR_Z + 2.0, 50.0)
POSES = ('front', 'back', 'side', 'side')


def _kerb_x(side: Side, offset: float) -> float:
    """X at ``offset`` metres outside the kerb."""
    return side.sign * (side.kerb + offset)


def _row(rng: np.random.Generator, start, stop: float, step) -> np.ndarray:
    """Positions of a regularly spaced row with random phase and step."""
    return np.arange(rng.uniform(*start), stop, rng.uniform(*step))


def _street_trees(p: Painter, layout: Layout, side: Side) -> None:
    """A row of trees, in the grass strip when there is one."""
    strip = next(((a, b) for kind, a, b in side.strips
                  if kind == 'terrain'), None)
    offset = (sum(strip) / 2 - side.kerb) if strip else TREE_OFFSET
    for z in _row(p.rng, TREE_START, min(layout.end_z, FAR_TREE_Z),
                  TREE_STEP):
        tree(p, _kerb_x(side, offset), layout.kerb_h, z)


def _furniture_side(p: Painter, layout: Layout, side: Side) -> None:
    """Lamps, street trees, signs and bollards along one kerb."""
    rng, y = p.rng, layout.kerb_h
    if rng.random() < P_LAMPS:
        for z in _row(rng, LAMP_START, min(layout.end_z, FAR_ROW_Z),
                      LAMP_STEP):
            street_lamp(p, _kerb_x(side, LAMP_OFFSET), y, z, -side.sign)
    if rng.random() < P_STREET_TREES:
        _street_trees(p, layout, side)
    for _ in range(rng.poisson(MEAN_SIGNS_PER_SIDE)):
        traffic_sign(p, _kerb_x(side, SIGN_OFFSET), y,
                     rng.uniform(NEAR_Z, FAR_OBJECT_Z))
    if rng.random() < P_BOLLARDS:
        z0 = rng.uniform(NEAR_Z, BOLLARD_FAR)
        for k in range(int(rng.integers(*BOLLARD_COUNT))):
            bollard(p, _kerb_x(side, BOLLARD_OFFSET), y,
                    z0 + BOLLARD_STEP * k)


def _signals(p: Painter, layout: Layout) -> None:
    """Traffic lights at the zebra crossing, on posts or over the road."""
    if layout.crossing is None:
        return
    z = layout.crossing[0] - SIGNAL_BEFORE
    for side in layout.sides:
        over = 0.0
        if side.sign > 0 and p.rng.random() < P_MAST_ARM:
            over = -p.rng.uniform(*MAST_ARM)
        traffic_light(p, _kerb_x(side, SIGNAL_OFFSET), layout.kerb_h, z,
                      over_road=over)


def place_furniture(p: Painter, layout: Layout) -> None:
    """Street furniture along both kerbs and at the crossing."""
    for side in layout.sides:
        _furniture_side(p, layout, side)
    _signals(p, layout)


def _moving(p: Painter, x: float, z: float, oncoming: bool) -> float:
    """One vehicle of random type in a lane; returns its length."""
    draw = p.rng.random()
    if draw < P_TRUCK:
        return truck(p, x, z, oncoming)
    if draw < P_TRUCK + P_BUS:
        return bus(p, x, z, oncoming)
    if draw < P_TRUCK + P_BUS + P_MOTORBIKE and not oncoming:
        return rider(p, x, z, 'motorcycle')
    return car(p, x, z, oncoming)


def _lane_traffic(p: Painter, x: float, oncoming: bool,
                  is_ego: bool) -> None:
    rng = p.rng
    z = max(rng.uniform(*TRAFFIC_START), EGO_LANE_MIN if is_ego else 0.0)
    for _ in range(rng.poisson(MEAN_VEHICLES_PER_LANE)):
        if z > FAR_OBJECT_Z:
            break
        z += _moving(p, x + rng.uniform(-LANE_WANDER, LANE_WANDER), z,
                     oncoming)
        z += rng.uniform(*TRAFFIC_GAP)


def _parked(p: Painter, layout: Layout, side: Side) -> None:
    """A row of parked cars (and the odd motorcycle) in a parking lane."""
    rng = p.rng
    x = side.sign * (side.kerb - PARKED_INSET)
    z = rng.uniform(*PARKING_START)
    while z < min(layout.end_z, FAR_OBJECT_Z):
        if rng.random() < P_PARKED_MOTO:
            z += motorcycle(p, x, z).length
        elif rng.random() < P_PARKED_CAR:
            z += car(p, x, z)
        z += rng.uniform(*PARKING_GAP)


def place_vehicles(p: Painter, layout: Layout) -> None:
    """Moving traffic per lane, parked cars, and a tram on its rails."""
    for x, oncoming in layout.lanes:
        _lane_traffic(p, x, oncoming, abs(x) < layout.lane_w / 2)
    for side in layout.sides:
        if side.parking:
            _parked(p, layout, side)
    if layout.rails and p.rng.random() < P_TRAM:
        tram(p, sum(layout.rails) / 2, p.rng.uniform(*TRAM_DEPTH))


def _sidewalk_people(p: Painter, layout: Layout, side: Side) -> None:
    """Pedestrians (alone or in pairs) and parked bicycles."""
    rng = p.rng
    inner, outer = side.sidewalk()
    far = min(FAR_OBJECT_Z, layout.end_z)
    for _ in range(rng.poisson(MEAN_PEOPLE_PER_SIDE)):
        x = side.sign * rng.uniform(inner + WALK_MARGIN,
                                    max(outer - WALK_MARGIN, inner + 2 *
                                        WALK_MARGIN))
        z = rng.uniform(NEAR_Z, far)
        person(p, x, layout.kerb_h, z, str(rng.choice(POSES)))
        if rng.random() < P_PAIR:
            person(p, x + rng.uniform(-PAIR_SPREAD, PAIR_SPREAD),
                   layout.kerb_h,
                   z + rng.uniform(-PAIR_DEPTH_SPREAD, PAIR_DEPTH_SPREAD),
                   str(rng.choice(POSES)))
    for _ in range(rng.poisson(MEAN_PARKED_BIKES_PER_SIDE)):
        bicycle(p, side.sign * (outer - PARKED_BIKE_INSET),
                rng.uniform(NEAR_Z, PARKED_BIKE_FAR), y=layout.kerb_h)


def place_people(p: Painter, layout: Layout) -> None:
    """Pedestrians, parked bicycles, people crossing, cyclists."""
    rng = p.rng
    for side in layout.sides:
        _sidewalk_people(p, layout, side)
    if layout.crossing is not None:
        z0, z1 = layout.crossing
        for _ in range(rng.poisson(MEAN_CROSSING_PEOPLE)):
            x = rng.uniform(-layout.left.kerb, layout.right.kerb)
            person(p, x, 0.0, rng.uniform(z0, z1), 'side')
    for _ in range(rng.poisson(MEAN_RIDERS)):
        x = layout.right.kerb - rng.uniform(*CYCLIST_OFFSET)
        if layout.right.parking:
            x -= PARKING_WIDTH
        rider(p, x, rng.uniform(*CYCLIST_DEPTH), 'bicycle')
