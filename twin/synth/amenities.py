"""Waste containers, parking lots and EV chargers.

*Waste containers* stand in recycling points (ekološki otoki) of 2-5 containers at the kerb of
the street nearest to a residential building, about one container per 60 inhabitants; the
buildings are drawn by population, so the points follow the people.

*Parking lots* are rectangles (about 25 m² per space) at the real OSM ``amenity=parking``
nodes, shrunk or shifted until they are clear of every building and carriageway, plus
generated lots beside a share of the commercial and industrial buildings.

*EV chargers* are the real OSM charging stations, plus generated ones at the edge of a share
of the parking lots (and at every multi-storey garage).

Positions from OSM are real (the rows say so in ``source``); every attribute is generated.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.synth._common import (
    assets_of,
    by_zone,
    carriageways,
    clear_of,
    first_valid,
    inside,
    lists_from_flags,
    mark_osm,
    osm_points,
    road_lines,
    suppress_close,
    zones,
)
from twin.synth._context import STORAGE_CRS, SynthContext
from twin.synth.buildings import ROAD_HALF_WIDTH, ROAD_HALF_WIDTH_DEFAULT

GENERATOR = "amenities"
PEOPLE_PER_CONTAINER = 60
FRACTIONS = ("packaging", "paper", "glass", "mixed", "bio")
ISLAND_SIZES, ISLAND_SHARE = np.array([2, 3, 4, 5]), (0.15, 0.35, 0.3, 0.2)
VOLUME_L = {"packaging": 1100, "paper": 1100, "glass": 770, "mixed": 1100, "bio": 240}
EMPTYING_DAYS = {"packaging": 14, "paper": 14, "glass": 28, "mixed": 7, "bio": 7}
#: Containers stand this far apart (m) and this far beyond the kerb (m); points stay 50 m apart.
CONTAINER_GAP_M, KERB_M, ISLAND_GAP_M = 1.6, 1.0, 50.0
#: Buildings drawn per recycling point needed (some points fall too close to another).
ISLAND_OVERDRAW = 1.5
#: Distance of the kerb from a generated local street's axis (buildings keep 4 m).
LOCAL_KERB_M = 2.5
#: Parking: m² per space, capacity of the OSM lots, share of commercial/industrial buildings
#: with a generated lot, clearance from buildings and roads (m).
SPACE_M2, OSM_CAPACITY, LOT_SHARE, LOT_CLEARANCE_M = 25.0, (15, 120), 0.12, 1.5
LOT_TYPES = ("surface", "underground", "multi-storey")
LOT_TYPE_SHARE = {"core": (0.5, 0.25, 0.25), "urban": (0.85, 0.05, 0.1), "rural": (1.0, 0.0, 0.0)}
MUNICIPAL_LOT_SHARE = 0.5
PAID_SHARE = {"core": 0.9, "urban": 0.35, "rural": 0.05}
#: Shrink factors and shifts (m) tried for each lot, in order of preference.
LOT_SCALES = (1.0, 0.75, 0.55, 0.4, 0.3)
LOT_SHIFTS = ((0, 0), (15, 0), (-15, 0), (0, 15), (0, -15), (15, 15), (-15, -15), (15, -15),
              (-15, 15), (30, 0), (-30, 0), (0, 30), (0, -30))  # fmt: skip
#: EV chargers: share of lots with one; operators; AC/DC power levels (kW).
CHARGER_SHARE = 0.3
CHARGER_OPERATORS = ("Petrol", "GEN-I", "Elektro Energija", "Energetika Maribor")
POWER_KW, POWER_SHARE, DC_FROM_KW = (11.0, 22.0, 50.0, 150.0), (0.4, 0.35, 0.17, 0.08), 50.0
#: Share of DC chargers with an AC Type 2 outlet too, and with a CHAdeMO plug.
DC_WITH_AC_SHARE, CHADEMO_SHARE = 0.5, 0.4
#: Range of the generated lots' sides (m), and how many shrink steps a generated lot tries.
LOT_WIDTH_M, LOT_DEPTH_M, GENERATED_SCALES = (14.0, 40.0), (12.0, 28.0), 3
#: Parking levels of garages (range), spaces per accessible space.
GARAGE_LEVELS, SPACES_PER_ACCESSIBLE = (2, 6), 25


def _kerb_lines(ctx: SynthContext) -> pd.DataFrame:
    real = road_lines(ctx, main=None)
    streets = ctx.layers["local_streets"]
    half = real["highway"].map(ROAD_HALF_WIDTH).fillna(ROAD_HALF_WIDTH_DEFAULT).to_numpy()
    return pd.DataFrame(
        {
            "geometry": np.r_[real.geometry.to_numpy(), streets.geometry.to_numpy()],
            "half": np.r_[half, np.full(len(streets), LOCAL_KERB_M)],
        }
    )


def _containers(ctx: SynthContext) -> gpd.GeoDataFrame:
    rng = ctx.rng(GENERATOR + ":containers")
    buildings = ctx.layers["buildings"]
    people = buildings["population"].to_numpy(float)
    islands = round(people.sum() / PEOPLE_PER_CONTAINER / np.dot(ISLAND_SIZES, ISLAND_SHARE))
    draws = min(round(islands * ISLAND_OVERDRAW), int((people > 0).sum()))
    pick = rng.choice(len(buildings), draws, replace=False, p=people / people.sum())
    centre = shapely.centroid(buildings.geometry.to_numpy()[pick])
    lines = _kerb_lines(ctx)
    (_, near) = shapely.STRtree(lines["geometry"].to_numpy()).query_nearest(
        centre, all_matches=False
    )
    line = lines["geometry"].to_numpy()[near]
    at = shapely.line_locate_point(line, centre)
    base = shapely.line_interpolate_point(line, at)
    ahead = shapely.line_interpolate_point(line, at + 1.0)
    behind = shapely.line_interpolate_point(line, np.maximum(at - 1.0, 0))
    tx, ty = (
        shapely.get_x(ahead) - shapely.get_x(behind),
        shapely.get_y(ahead) - shapely.get_y(behind),
    )
    norm = np.hypot(tx, ty)
    norm[norm == 0] = 1.0
    tx, ty = tx / norm, ty / norm
    # The kerb on the building's side of the street.
    side = np.sign(
        tx * (shapely.get_y(centre) - shapely.get_y(base))
        - ty * (shapely.get_x(centre) - shapely.get_x(base))
    )
    side[side == 0] = 1.0
    offset = side * (lines["half"].to_numpy()[near] + KERB_M)
    ox, oy = shapely.get_x(base) - ty * offset, shapely.get_y(base) + tx * offset
    keep = suppress_close(shapely.points(ox, oy), ISLAND_GAP_M)
    keep &= np.cumsum(keep) <= islands
    size = rng.choice(ISLAND_SIZES, len(pick), p=ISLAND_SHARE)[keep]
    island = np.repeat(np.arange(keep.sum()), size)
    k = np.arange(len(island)) - np.repeat(np.cumsum(size) - size, size)
    along = (k - (size[island] - 1) / 2) * CONTAINER_GAP_M
    x = ox[keep][island] + tx[keep][island] * along
    y = oy[keep][island] + ty[keep][island] * along
    points = shapely.points(x, y)
    ok = shapely.contains_xy(ctx.base.municipality, x, y)
    ok &= clear_of(points, buildings.geometry.to_numpy())
    fraction = np.array(FRACTIONS)[k]
    return gpd.GeoDataFrame(
        {
            "fraction": fraction,
            "volume_l": pd.Series(fraction).map(VOLUME_L).to_numpy(),
            "emptying_days": pd.Series(fraction).map(EMPTYING_DAYS).to_numpy(),
            "recycling_point": ("EO-" + pd.Series(island + 1).astype(str).str.zfill(5)).to_numpy(),
            "operator": "Snaga d.o.o.",
            "zone": zones(ctx, x, y),
        },
        geometry=points,
        crs=STORAGE_CRS,
    )[ok].reset_index(drop=True)


def _boxes(x: np.ndarray, y: np.ndarray, width: np.ndarray, depth: np.ndarray) -> np.ndarray:
    boxes: np.ndarray = shapely.box(x - width / 2, y - depth / 2, x + width / 2, y + depth / 2)
    return boxes


def _parking_lots(ctx: SynthContext) -> gpd.GeoDataFrame:
    rng = ctx.rng(GENERATOR + ":parking")
    buildings = ctx.layers["buildings"]
    footprints, roads = buildings.geometry.to_numpy(), carriageways(ctx)
    real = osm_points(ctx, "amenity", ("parking",))
    capacity = rng.integers(*OSM_CAPACITY, len(real))
    width = np.sqrt(capacity * SPACE_M2 * rng.uniform(1.0, 2.0, len(real)))
    opts = np.array([(s, dx, dy) for s in LOT_SCALES for dx, dy in LOT_SHIFTS])
    cx = real.geometry.x.to_numpy()[:, None] + opts[:, 1]
    cy = real.geometry.y.to_numpy()[:, None] + opts[:, 2]
    w, d = width[:, None] * opts[:, 0], (capacity * SPACE_M2 / width)[:, None] * opts[:, 0]
    osm_cands = _boxes(cx, cy, w, d)
    # Generated lots: beside a share of the commercial and industrial buildings.
    business = buildings[buildings["use"].isin(["commercial", "industrial"])]
    business = business[rng.random(len(business)) < LOT_SHARE]
    x0, y0, x1, y1 = business.geometry.bounds.to_numpy().T
    side_w = rng.uniform(*LOT_WIDTH_M, len(business))[:, None] * LOT_SCALES[:GENERATED_SCALES]
    side_d = rng.uniform(*LOT_DEPTH_M, len(business))[:, None] * LOT_SCALES[:GENERATED_SCALES]
    gap = 2 * LOT_CLEARANCE_M
    x0, y0, x1, y1 = (v[:, None] for v in (x0, y0, x1, y1))
    gen_cands = np.concatenate(
        [
            shapely.box(x1 + gap, y0, x1 + gap + side_w, y0 + side_d),  # east of the building
            shapely.box(x0 - gap - side_w, y0, x0 - gap, y0 + side_d),  # west of it
            shapely.box(x0, y1 + gap, x0 + side_w, y1 + gap + side_d),  # north of it
        ],
        axis=1,
    )
    chosen, osm_id = [], []
    for cands, ids in ((osm_cands, real["osm_id"].to_numpy()), (gen_cands, None)):
        flat = cands.ravel()
        valid = clear_of(flat, footprints, LOT_CLEARANCE_M) & clear_of(flat, roads)
        valid = (valid & inside(ctx, flat)).reshape(cands.shape)
        rows, col = first_valid(valid)
        chosen.append(cands[rows, col])
        osm_id.append(ids[rows] if ids is not None else np.zeros(len(rows), dtype="int64"))
    lots = np.concatenate(chosen)
    keep = suppress_close(lots, LOT_CLEARANCE_M)
    n_osm = int(keep[: len(chosen[0])].sum())
    lots = lots[keep]
    ids = pd.Series(np.concatenate(osm_id)[keep]).astype("Int64")
    return _lot_attrs(ctx, lots, ids.where(np.arange(len(lots)) < n_osm))


def _lot_attrs(ctx: SynthContext, lots: np.ndarray, osm_id: pd.Series) -> gpd.GeoDataFrame:
    rng = ctx.rng(GENERATOR + ":parking_attrs")
    n = len(lots)
    centre = shapely.centroid(lots)
    zone = zones(ctx, shapely.get_x(centre), shapely.get_y(centre))
    cumulative = np.cumsum(by_zone(LOT_TYPE_SHARE, zone), axis=1)
    kind = np.array(LOT_TYPES)[(rng.random(n)[:, None] > cumulative).sum(axis=1).clip(0, 2)]
    levels = np.where(kind == "surface", 1, rng.integers(*GARAGE_LEVELS, n))
    capacity = np.maximum(1, (shapely.area(lots) / SPACE_M2).astype(int)) * levels
    return gpd.GeoDataFrame(
        {
            "capacity": capacity,
            "type": kind,
            "levels": levels,
            "paid": rng.random(n) < by_zone(PAID_SHARE, zone),
            "accessible_spaces": np.maximum(1, capacity // SPACES_PER_ACCESSIBLE),
            "ownership": np.where(rng.random(n) < MUNICIPAL_LOT_SHARE, "municipal", "private"),
            "area_m2": shapely.area(lots).round(1),
            "osm_id": osm_id,
            "zone": zone,
        },
        geometry=lots,
        crs=STORAGE_CRS,
    )


def _chargers(ctx: SynthContext, lots: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Place the real charging stations, then one at the edge of a share of the lots."""
    rng = ctx.rng(GENERATOR + ":chargers")
    real = osm_points(ctx, "amenity", ("charging_station",))
    with_charger = (rng.random(len(lots)) < CHARGER_SHARE) | (lots["type"] == "multi-storey")
    chosen = lots[with_charger.to_numpy()]
    ring = shapely.get_exterior_ring(chosen.geometry.to_numpy())
    edge = shapely.line_interpolate_point(ring, rng.random(len(chosen)), normalized=True)
    points = np.r_[real.geometry.to_numpy(), edge]
    n, n_real = len(points), len(real)
    # OSM names the city's fast chargers "Quick charge": those are DC.
    quick = real["name"].fillna("").str.contains("Quick").to_numpy()
    quick = np.r_[quick, np.zeros(len(chosen), dtype=bool)]
    power = np.where(quick, DC_FROM_KW, rng.choice(POWER_KW, n, p=POWER_SHARE))
    dc = power >= DC_FROM_KW
    flags = np.c_[
        ~dc | (rng.random(n) < DC_WITH_AC_SHARE), dc, dc & (rng.random(n) < CHADEMO_SHARE)
    ]
    ids = pd.Series(np.r_[real["osm_id"].to_numpy(), np.zeros(len(chosen), "int64")])
    osm_id = ids.astype("Int64").where(np.arange(n) < n_real)
    attrs = {
        "connectors": lists_from_flags(flags, ("Type 2", "CCS", "CHAdeMO")),
        "charging_points": rng.integers(1, 5, n),
        "power_kw": power,
        "current": np.where(dc, "DC", "AC"),
        "operator": rng.choice(CHARGER_OPERATORS, n),
        "year": rng.integers(2014, 2026, n),
        "public": True,
        "parent_id": np.r_[np.full(n_real, None), chosen["id"].to_numpy()],
        "osm_id": osm_id,
    }
    return gpd.GeoDataFrame(attrs, geometry=points, crs=STORAGE_CRS), n_real


def generate(ctx: SynthContext) -> dict[str, pd.DataFrame]:
    """Generate the waste containers, parking lots and EV chargers."""
    containers = _containers(ctx)
    container_frame = assets_of(ctx, GENERATOR, "waste_container", containers)
    containers["id"] = container_frame["id"].to_numpy()
    lots = _parking_lots(ctx)
    lot_frame = mark_osm(
        assets_of(ctx, GENERATOR, "parking_lot", lots), int(lots["osm_id"].notna().sum())
    )
    lots["id"] = lot_frame["id"].to_numpy()
    chargers, n_osm_chargers = _chargers(ctx, lots)
    charger_frame = mark_osm(assets_of(ctx, GENERATOR, "ev_charger", chargers), n_osm_chargers)
    ctx.layers["parking_lots"] = lots
    ctx.layers["waste_containers"] = containers
    return {"assets": pd.concat([container_frame, lot_frame, charger_frame], ignore_index=True)}
