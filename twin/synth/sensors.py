"""Generated IoT sensors: low-cost air quality, noise, traffic counters, parking and fill level.

The real ARSO monitoring stations stay real (``twin.monitoring_stations``); the generated
low-cost air-quality sensors keep clear of them. Air-quality sensors are mounted on building
façades, drawn with a strong preference for the city core and kept a few hundred metres apart.
Noise sensors stand beside the main roads of the mestne četrti, traffic counters on the main
roads everywhere. Parking occupancy sensors count the spaces of a share of the parking lots
(most paid lots and garages), and fill-level sensors sit on about 15 % of the waste containers,
mostly the recycling fractions. Models, owners and years are drawn with plausible shares.
Everything here is synthetic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from twin.synth._common import by_zone, density, road_lines, suppress_close, zones
from twin.synth._context import SynthContext, asset_frame
from twin.synth.buildings import ROAD_HALF_WIDTH, ROAD_HALF_WIDTH_DEFAULT

GENERATOR = "sensors"
#: Sensors of each kind in the full city, and their minimum spacing (m).
AIR_SENSORS, AIR_SPACING_M = 40, 300.0
NOISE_SENSORS, NOISE_SPACING_M = 20, 500.0
TRAFFIC_COUNTERS, COUNTER_SPACING_M = 30, 400.0
#: Candidates drawn per sensor wanted (spacing rejects some).
OVERDRAW = 4
#: Relative weight of a building as an air-quality site by zone.
AIR_WEIGHT = {"core": 1.0, "urban": 0.1, "rural": 0.03}
#: Model, pollutants measured and owner of the low-cost air-quality sensors; their shares.
AIR_MODELS = (
    ("Clarity Node-S", ("pm10", "pm2.5", "no2"), "Mestna občina Maribor"),
    ("Libelium Smart Environment PRO", ("pm10", "pm2.5", "no2"), "Mestna občina Maribor"),
    ("Airly", ("pm10", "pm2.5"), "Univerza v Mariboru"),
    ("sensor.community SDS011", ("pm10", "pm2.5"), "citizen science (sensor.community)"),
)
AIR_SHARE = (0.35, 0.2, 0.2, 0.25)
#: Sensors stand this far beyond the carriageway edge (m).
ROADSIDE_M = 2.0
NOISE_MODELS = ("Cesva TA120", "Svantek SV 307A", "Bruel & Kjaer 3639-A")
#: Share of IEC 61672 class 1 and class 2 noise sensors.
IEC_SHARE = (0.3, 0.7)
AIR_INTERVALS_S = (60, 300, 600)
DIRECTIONS, DIRECTION_SHARE = ("both", "inbound", "outbound"), (0.6, 0.2, 0.2)
COUNTER_TECH, COUNTER_TECH_SHARE = ("inductive loop", "radar", "video"), (0.5, 0.3, 0.2)
#: Counted lanes: 4 on a share of the primary and secondary roads, 2 elsewhere, 1 on links.
FOUR_LANE_CLASSES, FOUR_LANE_SHARE = ("primary", "secondary", "trunk"), 0.4
STATE_ROADS = ("primary", "primary_link", "trunk", "trunk_link")
#: Share of parking lots with occupancy sensors: garages, paid surface lots, the rest.
PARKING_SHARE = {"garage": 0.9, "paid": 0.6, "free": 0.15}
#: Share of magnetometers and cameras among the surface-lot sensors (garages count at barriers).
PARKING_TECH_SHARE = (0.7, 0.3)
#: Share of containers with a fill-level sensor, by fraction.
FILL_SHARE = {"glass": 0.3, "paper": 0.2, "packaging": 0.2, "mixed": 0.05, "bio": 0.0}


def _wanted(ctx: SynthContext, full: int) -> int:
    return max(1, round(full * density(ctx)))


def _air(ctx: SynthContext, rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame]:
    buildings = ctx.layers["buildings"]
    centres = shapely.centroid(buildings.geometry.to_numpy())
    zone = zones(ctx, shapely.get_x(centres), shapely.get_y(centres))
    weight = by_zone(AIR_WEIGHT, zone)
    wanted = _wanted(ctx, AIR_SENSORS)
    pick = rng.choice(
        len(buildings),
        min(len(buildings), wanted * OVERDRAW),
        replace=False,
        p=weight / weight.sum(),
    )
    ring = shapely.get_exterior_ring(buildings.geometry.to_numpy()[pick])
    points = shapely.line_interpolate_point(ring, rng.random(len(pick)), normalized=True)
    stations = ctx.base.stations.geometry.to_numpy()
    keep = suppress_close(np.r_[stations, points], AIR_SPACING_M)[len(stations) :]
    keep &= np.cumsum(keep) <= wanted
    points, zone = points[keep], zone[pick][keep]
    n = len(points)
    model = rng.choice(len(AIR_MODELS), n, p=AIR_SHARE)
    attrs = pd.DataFrame(
        {
            "model": np.array([m[0] for m in AIR_MODELS])[model],
            "observed_properties": pd.Series(model).map(
                {i: list(m[1]) for i, m in enumerate(AIR_MODELS)}
            ),
            "owner": np.array([m[2] for m in AIR_MODELS])[model],
            "install_year": rng.integers(2018, 2026, n),
            "mounting_height_m": rng.uniform(2.5, 4.5, n).round(1),
            "reporting_interval_s": rng.choice(AIR_INTERVALS_S, n),
            "zone": zone,
        }
    )
    return points, attrs


def _roadside(
    ctx: SynthContext,
    rng: np.random.Generator,
    full: int,
    spacing: float,
    *,
    urban_only: bool,
    offset: bool,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Place points along the main roads by length, ``spacing`` apart, beside them if ``offset``."""
    roads = road_lines(ctx, main=True)
    lines = roads.geometry.to_numpy()
    mid = shapely.line_interpolate_point(lines, 0.5, normalized=True)
    zone = zones(ctx, shapely.get_x(mid), shapely.get_y(mid))
    length = shapely.length(lines) * ((zone != "rural") | (not urban_only))
    wanted = _wanted(ctx, full)
    line = rng.choice(len(lines), wanted * OVERDRAW, p=length / length.sum())
    at = rng.uniform(0.2, 0.8, len(line)) * shapely.length(lines[line])
    base = shapely.line_interpolate_point(lines[line], at)
    ahead = shapely.line_interpolate_point(lines[line], at + 1.0)
    dx, dy = shapely.get_x(ahead) - shapely.get_x(base), shapely.get_y(ahead) - shapely.get_y(base)
    norm = np.hypot(dx, dy)
    norm[norm == 0] = 1.0
    half = roads["highway"].map(ROAD_HALF_WIDTH).fillna(ROAD_HALF_WIDTH_DEFAULT).to_numpy()[line]
    side = (half + ROADSIDE_M) * rng.choice([-1.0, 1.0], len(line)) * offset
    x = shapely.get_x(base) - dy / norm * side
    y = shapely.get_y(base) + dx / norm * side
    points = shapely.points(x, y)
    keep = suppress_close(points, spacing) & shapely.contains_xy(ctx.base.municipality, x, y)
    keep &= np.cumsum(keep) <= wanted
    where = pd.DataFrame(
        {
            "road": roads["name"].to_numpy()[line],
            "road_class": roads["highway"].to_numpy()[line],
            "zone": zones(ctx, x, y),
        }
    )
    return points[keep], where[keep].reset_index(drop=True)


def _noise(ctx: SynthContext, rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame]:
    points, where = _roadside(
        ctx, rng, NOISE_SENSORS, NOISE_SPACING_M, urban_only=True, offset=True
    )
    n = len(points)
    return points, where.assign(
        model=rng.choice(NOISE_MODELS, n),
        iec_61672_class=rng.choice((1, 2), n, p=IEC_SHARE),
        observed_properties=pd.Series([["LAeq", "LAmax", "LAmin"]] * n, dtype=object),
        install_year=rng.integers(2019, 2026, n),
        owner="Mestna občina Maribor",
        mounting_height_m=rng.uniform(3.5, 5.0, n).round(1),
    )


def _counters(ctx: SynthContext, rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame]:
    points, where = _roadside(
        ctx, rng, TRAFFIC_COUNTERS, COUNTER_SPACING_M, urban_only=False, offset=False
    )
    n = len(points)
    cls = where["road_class"].to_numpy()
    four = np.isin(cls, FOUR_LANE_CLASSES) & (rng.random(n) < FOUR_LANE_SHARE)
    lanes = np.where(four, 4, np.where(pd.Series(cls).str.endswith("_link"), 1, 2))
    return points, where.assign(
        lanes=lanes,
        direction=rng.choice(DIRECTIONS, n, p=DIRECTION_SHARE),
        technology=rng.choice(COUNTER_TECH, n, p=COUNTER_TECH_SHARE),
        install_year=rng.integers(2005, 2026, n),
        owner=np.where(where["road_class"].isin(STATE_ROADS), "DRSI", "Mestna občina Maribor"),
    )


def _parking(ctx: SynthContext, rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame]:
    lots = ctx.layers["parking_lots"]
    garage = (lots["type"] != "surface").to_numpy()
    paid = lots["paid"].to_numpy(bool)
    share = np.where(
        garage,
        PARKING_SHARE["garage"],
        np.where(paid, PARKING_SHARE["paid"], PARKING_SHARE["free"]),
    )
    chosen = lots[rng.random(len(lots)) < share]
    n = len(chosen)
    garage = (chosen["type"] != "surface").to_numpy()
    tech = np.where(
        garage,
        "barrier counter",
        rng.choice(["in-ground magnetometer", "camera"], n, p=PARKING_TECH_SHARE),
    )
    attrs = pd.DataFrame(
        {
            "parent_id": chosen["id"].to_numpy(),
            "observed_properties": "occupancy",
            "technology": tech,
            "spaces_monitored": chosen["capacity"].to_numpy(int),
            "install_year": rng.integers(2016, 2026, n),
            "operator": "Mestna občina Maribor",
            "zone": chosen["zone"].to_numpy(),
        }
    )
    return shapely.point_on_surface(chosen.geometry.to_numpy()), attrs


def _fill_level(ctx: SynthContext, rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame]:
    containers = ctx.layers["waste_containers"]
    share = containers["fraction"].map(FILL_SHARE).fillna(0.0).to_numpy()
    chosen = containers[rng.random(len(containers)) < share]
    n = len(chosen)
    attrs = pd.DataFrame(
        {
            "parent_id": chosen["id"].to_numpy(),
            "observed_properties": "fill_level",
            "technology": "ultrasonic",
            "battery_life_years": rng.choice((5, 7, 10), n),
            "reporting_interval_s": rng.choice((60, 240, 720), n) * 60,
            "install_year": rng.integers(2019, 2026, n),
            "operator": "Snaga d.o.o.",
            "zone": chosen["zone"].to_numpy(),
        }
    )
    return chosen.geometry.to_numpy(), attrs


#: Sensor kinds (register ``kind``), their makers and the random stream each draws from.
KINDS = (
    ("air_quality", _air, "air_quality_sensor"),
    ("noise", _noise, "noise_sensor"),
    ("traffic_count", _counters, "traffic_counter"),
    ("parking_occupancy", _parking, "parking_sensor"),
    ("fill_level", _fill_level, "fill_level_sensor"),
)


def generate(ctx: SynthContext) -> dict[str, pd.DataFrame]:
    """Generate the sensors (see the module docstring); needs the amenities generator first.

    Every sensor is one register asset of class ``sensor``; ``kind`` says what it is and
    ``parent_id`` names the parking lot or container it is mounted on.
    """
    points, attrs = [], []
    for kind, make, stream in KINDS:
        where, values = make(ctx, ctx.rng(f"{GENERATOR}:{stream}"))
        points.append(np.asarray(where))
        attrs.append(values.assign(kind=kind))
    frame = pd.concat(attrs, ignore_index=True)
    counters = frame["kind"] == "traffic_count"
    frame.loc[counters, "observed_properties"] = "vehicle_count"
    return {"assets": asset_frame(ctx, GENERATOR, "sensor", np.concatenate(points), frame)}
