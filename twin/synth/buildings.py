"""Buildings and local streets of the synthetic city.

The municipality is cut into a lattice of 30 m plots. Plots near the real roads' carriageway,
in the Drava, outside the municipality, or under a real facility are excluded; each settlement
then gets about one building per two inhabitants (the Slovenian cadastre's ratio), drawn among its
plots with a preference for plots near the GURS statistical-unit points, where people actually live.
A footprint stays at least 4 m inside its plot, so no two buildings overlap and none touches
a street drawn on the plot edges. Where no real road is within ~50 m, the nearest 90 m stretch
of the plot lattice becomes a local street, named from the settlement's GURS street names.
The real schools, kindergartens, care homes and polling stations become municipal buildings at
their real location. Residential floor space is then scaled per settlement so that the people
allocated to buildings add up exactly to the real settlement figures.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.synth import terrain
from twin.synth._context import STORAGE_CRS, SynthContext

GENERATOR = "buildings"
PLOT_M = 30.0
#: Plots between local-street lines (a street every 90 m).
BLOCK_PLOTS = 3
#: A footprint keeps this distance from its plot's edges (m).
MARGIN_M = 4.0
#: Inhabitants per building in the Slovenian cadastre (about one building per two people).
PEOPLE_PER_BUILDING = 2.0
#: Half-width of the real roads' carriageway by OSM class (m); others get the default.
ROAD_HALF_WIDTH = {"primary": 9.0, "trunk": 9.0, "secondary": 8.0, "tertiary": 7.0}
ROAD_HALF_WIDTH_DEFAULT = 5.5
#: Buildings still farther than this from any street get a driveway (m), of this half-width.
DRIVEWAY_FROM_M = 50.0
DRIVEWAY_HALF_WIDTH_M = 2.5
#: Half-width of the Drava's bed, kept free of buildings (m).
RIVER_HALF_WIDTH_M = 70.0
#: Plots whose centre is farther than this from a real road get a local street (m).
NEEDS_STREET_M = 50.0
#: Distance (m) over which the preference for plots near statistical-unit points decays.
SETTLED_DECAY_M = 110.0
#: Radius of the city core around MČ Center (m): taller, mixed-use blocks.
CORE_RADIUS_M = 1_300.0
#: A facility without a footprint of its own is housed by a facility building this close (m).
CO_LOCATED_M = 40.0
#: Footprint side (m) of the municipal buildings by facility kind.
FACILITY_SIDE_M = {"school": 24.0, "kindergarten": 16.0, "care_home": 22.0, "polling_station": 12.0}
ENERGY_CLASSES = np.array(["A", "B", "C", "D", "E", "F", "G"])
#: Cumulative shares of non-residential use: (zone or area, use, cumulative probability).
USE_SHARES = (
    ("core", "mixed", 0.45), ("core", "commercial", 0.60), ("industrial", "industrial", 0.30),
    ("urban", "commercial", 0.08), ("rural", "commercial", 0.04),
)  # fmt: skip
#: Districts with the city's industrial zones (Tezno, the former TAM and Metalna sites).
INDUSTRIAL_DISTRICTS = ("Tezno", "Brezje-Dogoše-Zrkovci")
#: Share of apartment blocks among buildings in the core and in the other urban districts.
BLOCK_SHARE = {"core": 0.35, "urban": 0.06}
#: Share of the other residential plots that hold an outbuilding (garage, shed; nobody lives
#: there): the cadastre's one building per two inhabitants counts them too.
OUTBUILDING_SHARE = {"core": 0.05, "urban": 0.40, "rural": 0.50}


def road_carriageways(roads: gpd.GeoDataFrame) -> np.ndarray:
    """Return the real roads' carriageway polygons (half-width by OSM class)."""
    widths = roads["highway"].map(ROAD_HALF_WIDTH).fillna(ROAD_HALF_WIDTH_DEFAULT).to_numpy()
    return np.asarray(shapely.buffer(roads.geometry.to_numpy(), widths))


def river_bed() -> shapely.Geometry:
    """Return the Drava's bed (its approximate course, buffered), kept free of buildings."""
    return shapely.buffer(shapely.linestrings(terrain.DRAVA), RIVER_HALF_WIDTH_M)


def _plots(ctx: SynthContext) -> gpd.GeoDataFrame:
    """Return every 30 m plot inside the municipality, clear of the real roads."""
    west, south, east, north = ctx.base.municipality.bounds
    x0, y0 = np.floor(west / PLOT_M) * PLOT_M, np.floor(south / PLOT_M) * PLOT_M
    cols, rows = int((east - x0) // PLOT_M) + 1, int((north - y0) // PLOT_M) + 1
    grid_i, grid_j = np.meshgrid(np.arange(cols), np.arange(rows))
    ii, jj = grid_i.ravel(), grid_j.ravel()
    boxes = shapely.box(x0 + ii * PLOT_M, y0 + jj * PLOT_M,
                        x0 + (ii + 1) * PLOT_M, y0 + (jj + 1) * PLOT_M)  # fmt: skip
    shapely.prepare(ctx.base.municipality)
    inside = shapely.contains(ctx.base.municipality, boxes)
    plots = gpd.GeoDataFrame({"i": ii[inside], "j": jj[inside]}, geometry=boxes[inside],
                             crs=STORAGE_CRS)  # fmt: skip
    carriageway = road_carriageways(ctx.base.roads)
    hit = shapely.STRtree(carriageway).query(plots.geometry.to_numpy(), predicate="intersects")
    clear = np.ones(len(plots), dtype=bool)
    clear[hit[0]] = False
    # Nothing is built in the Drava: its approximate course (as the terrain models it).
    clear &= ~shapely.intersects(river_bed(), plots.geometry.to_numpy())
    plots = plots[clear].reset_index(drop=True)
    plots.attrs["origin"] = (x0, y0)
    return plots


def _label_plots(ctx: SynthContext, plots: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give each plot its settlement, district, distances and zone."""
    centres = plots.geometry.centroid.to_numpy()
    units = ctx.base.statistical_units
    nearest = shapely.STRtree(units.geometry.to_numpy()).query_nearest(
        centres, return_distance=True, all_matches=False
    )
    (plot_idx, unit_idx), dist = nearest
    plots.loc[plot_idx, "na_mid"] = units["na_mid"].to_numpy()[unit_idx]
    plots.loc[plot_idx, "district_id"] = units["district_id"].to_numpy()[unit_idx]
    plots.loc[plot_idx, "settled_m"] = dist
    plots = plots.astype({"na_mid": "int64", "district_id": "int64"})
    roads = ctx.base.roads.geometry.to_numpy()
    (plot_idx, _), road_dist = shapely.STRtree(roads).query_nearest(
        centres, return_distance=True, all_matches=False
    )
    plots.loc[plot_idx, "road_m"] = road_dist
    districts = ctx.base.districts
    centre = districts.loc[districts["name"] == "Center", "geometry"]
    core = centre.iloc[0].representative_point() if len(centre) else ctx.base.municipality.centroid
    plots["core_m"] = shapely.distance(centres, core)
    kinds = districts.set_index("id")["kind"]
    names = districts.set_index("id")["name"]
    plots["kind"] = plots["district_id"].map(kinds)
    plots["district"] = plots["district_id"].map(names)
    plots["zone"] = np.select(
        [plots["core_m"] < CORE_RADIUS_M, plots["kind"] == "MC"], ["core", "urban"], "rural"
    )
    return plots


def _facility_buildings(ctx: SynthContext) -> gpd.GeoDataFrame:
    """Footprints at the real facilities: the largest square clear of roads and each other."""
    facilities = ctx.base.facilities
    road_tree = shapely.STRtree(road_carriageways(ctx.base.roads))
    sides = facilities["kind"].map(FACILITY_SIDE_M).fillna(12.0).to_numpy()
    x, y = facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy()
    shifts = np.array([[0, 0], [12, 0], [-12, 0], [0, 12], [0, -12],
                       [12, 12], [-12, 12], [12, -12], [-12, -12]], dtype=float)  # fmt: skip
    chosen: list[shapely.Geometry] = []
    keep: list[int] = []
    placed = shapely.STRtree([])
    # A bounded loop over the ~200 facilities: each must avoid the ones placed before it.
    for k in np.argsort(-sides, kind="stable"):
        for scale in (1.0, 0.75, 0.5):
            half = sides[k] * scale / 2
            cands = shapely.box(x[k] + shifts[:, 0] - half, y[k] + shifts[:, 1] - half,
                                x[k] + shifts[:, 0] + half, y[k] + shifts[:, 1] + half)  # fmt: skip
            bad = np.zeros(len(cands), dtype=bool)
            bad[road_tree.query(cands, predicate="intersects")[0]] = True
            if chosen:
                bad[placed.query(shapely.buffer(cands, 2.0), predicate="intersects")[0]] = True
            bad |= ~shapely.contains(ctx.base.municipality, cands)
            if not bad.all():
                chosen.append(cands[np.flatnonzero(~bad)[0]])
                keep.append(int(k))
                placed = shapely.STRtree(chosen)
                break
    result = facilities.iloc[keep].copy()
    result["geometry"] = gpd.GeoSeries(chosen, index=result.index, crs=STORAGE_CRS)
    return result.reset_index(drop=True)


def _co_located(every: gpd.GeoDataFrame, placed: gpd.GeoDataFrame) -> np.ndarray:
    """Return, per placed facility building, the ids of the facilities it also houses.

    Facilities that could not get a footprint of their own (a polling station in a school, a
    kindergarten unit in the same building) belong to the nearest placed building within
    ``CO_LOCATED_M``; their ids are joined with ``;``.
    """
    others = every[~every["id"].isin(placed["id"])]
    hosted = np.full(len(placed), None, dtype=object)
    if others.empty:
        return hosted
    (o_idx, p_idx) = shapely.STRtree(placed.geometry.to_numpy()).query_nearest(
        others.geometry.to_numpy(), max_distance=CO_LOCATED_M, all_matches=False
    )
    pairs = pd.DataFrame({"host": p_idx, "id": others["id"].to_numpy()[o_idx]})
    joined = pairs.groupby("host")["id"].agg(lambda ids: ";".join(sorted(ids)))
    hosted[joined.index.to_numpy(dtype=int)] = joined.to_numpy()
    return hosted


def _choose(ctx: SynthContext, plots: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Draw the building plots, settlement by settlement."""
    rng = ctx.rng(GENERATOR)
    density = min(ctx.scale, 1.0)
    weight = np.exp(-plots["settled_m"].to_numpy() / SETTLED_DECAY_M)
    chosen = []
    for na_mid, people in ctx.base.settlements.set_index("na_mid")["population"].items():
        idx = np.flatnonzero(plots["na_mid"].to_numpy() == na_mid)
        wanted = max(2, round(people * density / PEOPLE_PER_BUILDING))
        if len(idx) == 0:
            continue
        take = min(wanted, len(idx))
        p = weight[idx] / weight[idx].sum()
        chosen.append(np.sort(rng.choice(idx, size=take, replace=False, p=p)))
    return plots.iloc[np.concatenate(chosen)].reset_index(drop=True)


def _attributes(ctx: SynthContext, chosen: gpd.GeoDataFrame) -> pd.DataFrame:
    """Use, floors, footprint size, year and energy class by zone (vectorised draws)."""
    rng = ctx.rng(GENERATOR + ":attributes")
    n = len(chosen)
    zone = chosen["zone"].to_numpy()
    area = np.where(chosen["district"].isin(INDUSTRIAL_DISTRICTS).to_numpy(), "industrial", "")
    u = rng.random(n)
    use = np.select(
        [((zone == where) | (area == where)) & (u < share) for where, _, share in USE_SHARES],
        [kind for _, kind, _ in USE_SHARES],
        "residential",
    )
    block_share = pd.Series(zone).map(BLOCK_SHARE).fillna(0.0).to_numpy()
    block = rng.random(n) < block_share
    shed_share = pd.Series(zone).map(OUTBUILDING_SHARE).fillna(0.0).to_numpy()
    use = np.where((use == "residential") & ~block & (rng.random(n) < shed_share),
                   "outbuilding", use)  # fmt: skip
    floors = np.where(
        block, rng.integers(3, 9, n),
        np.where(zone == "core", rng.integers(2, 5, n), rng.integers(1, 3, n)),
    )  # fmt: skip
    floors = np.where(use == "industrial", rng.integers(1, 3, n), floors)
    floors = np.where(use == "outbuilding", 1, floors)
    small = use == "residential"
    side_lo = np.where(block | ~small, 15.0, 9.0)
    side_hi = np.where(block | ~small, PLOT_M - 2 * MARGIN_M, 14.0)
    side_lo = np.where(use == "outbuilding", 4.0, side_lo)
    side_hi = np.where(use == "outbuilding", 8.0, side_hi)
    width = rng.uniform(side_lo, side_hi)
    depth = rng.uniform(side_lo, side_hi)
    year = np.where(
        zone == "core", rng.integers(1850, 2024, n), rng.integers(1920, 2025, n)
    ).astype(int)
    # Newer buildings are more efficient: class A for the newest, G for the oldest, with noise.
    age_rank = np.clip((2025 - year) / 25 + rng.normal(0, 0.8, n), 0, 6).round().astype(int)
    return pd.DataFrame(
        {"use": use, "floors": floors, "width": width, "depth": depth, "year_built": year,
         "energy_class": ENERGY_CLASSES[age_rank]}
    )  # fmt: skip


def _footprints(ctx: SynthContext, chosen: gpd.GeoDataFrame, attrs: pd.DataFrame) -> np.ndarray:
    """Return rectangles at a random position inside each plot, ``MARGIN_M`` from its edges."""
    rng = ctx.rng(GENERATOR + ":footprints")
    x0, y0, _, _ = chosen.geometry.bounds.to_numpy().T
    free_x = PLOT_M - 2 * MARGIN_M - attrs["width"].to_numpy()
    free_y = PLOT_M - 2 * MARGIN_M - attrs["depth"].to_numpy()
    left = x0 + MARGIN_M + rng.random(len(chosen)) * free_x
    bottom = y0 + MARGIN_M + rng.random(len(chosen)) * free_y
    right, top = left + attrs["width"].to_numpy(), bottom + attrs["depth"].to_numpy()
    return np.asarray(shapely.box(left, bottom, right, top))


def _lattice_lines(seg: pd.DataFrame, origin: tuple[float, float]) -> np.ndarray:
    """Return the 90 m lattice stretches ``(vertical, line, block)`` as LineStrings."""
    x0, y0 = origin
    span = BLOCK_PLOTS * PLOT_M
    vertical = seg["vertical"].to_numpy(bool)
    fixed = np.where(vertical, x0, y0) + seg["line"].to_numpy() * PLOT_M
    start = np.where(vertical, y0, x0) + seg["block"].to_numpy() * span
    end = start + span
    xs, ys = np.where(vertical, fixed, start), np.where(vertical, start, fixed)
    xe, ye = np.where(vertical, fixed, end), np.where(vertical, end, fixed)
    return np.asarray(
        shapely.linestrings(np.stack([np.column_stack([xs, ys]), np.column_stack([xe, ye])], 1))
    )


def _local_streets(
    ctx: SynthContext,
    points: np.ndarray,
    origin: tuple[float, float],
    obstacles: np.ndarray,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return a lattice stretch next to each of ``points`` (buildings far from real roads).

    Each point lies in a 90 m lattice block; of the block's four edges it gets the nearest
    one that stays inside the municipality and clear of the facilities' footprints
    (``obstacles``), so it is at most ~45 m from a street.
    """
    x0, y0 = origin
    fx = (shapely.get_x(points) - x0) / PLOT_M
    fy = (shapely.get_y(points) - y0) / PLOT_M
    bi, bj = np.floor(fx / BLOCK_PLOTS), np.floor(fy / BLOCK_PLOTS)
    candidates = [
        (True, bi * BLOCK_PLOTS, bj, fx - bi * BLOCK_PLOTS),
        (True, (bi + 1) * BLOCK_PLOTS, bj, (bi + 1) * BLOCK_PLOTS - fx),
        (False, bj * BLOCK_PLOTS, bi, fy - bj * BLOCK_PLOTS),
        (False, (bj + 1) * BLOCK_PLOTS, bi, (bj + 1) * BLOCK_PLOTS - fy),
    ]
    tree = shapely.STRtree([*shapely.buffer(obstacles, 3.5), river_bed()])
    frames, distances = [], []
    for vertical, line, block, distance in candidates:  # the four edges of a block
        seg = pd.DataFrame({"vertical": vertical, "line": line.astype(int),
                            "block": block.astype(int)})  # fmt: skip
        lines = _lattice_lines(seg, origin)
        usable = shapely.covered_by(lines, ctx.base.municipality)
        usable[tree.query(lines, predicate="intersects")[0]] = False
        frames.append(seg)
        distances.append(np.where(usable, distance, np.inf))
    best = np.argmin(np.column_stack(distances), axis=1)
    found = np.isfinite(np.column_stack(distances).min(axis=1))
    rows = np.arange(len(points))
    seg = pd.concat([frames[k].iloc[rows[(best == k) & found]] for k in range(len(candidates))])
    seg = seg.drop_duplicates().reset_index(drop=True)
    return seg, _lattice_lines(seg, origin)


def _name_streets(
    ctx: SynthContext, seg: pd.DataFrame, lines: np.ndarray, plots: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Name each lattice line within a settlement after one of the settlement's GURS streets."""
    rng = ctx.rng(GENERATOR + ":streets")
    mids = shapely.line_interpolate_point(lines, 0.5, normalized=True)
    (idx, plot_idx) = shapely.STRtree(plots.geometry.centroid.to_numpy()).query_nearest(
        mids, all_matches=False
    )
    na_mid = np.empty(len(lines), dtype="int64")
    na_mid[idx] = plots["na_mid"].to_numpy()[plot_idx]
    streets = gpd.GeoDataFrame(
        {"vertical": seg["vertical"].to_numpy(), "line": seg["line"].to_numpy(), "na_mid": na_mid},
        geometry=lines, crs=STORAGE_CRS,
    )  # fmt: skip
    streets["street_no"] = streets.groupby(["na_mid", "vertical", "line"]).ngroup()
    names = ctx.base.street_names
    settlement_names = ctx.base.settlements.set_index("na_mid")["name"]
    pools = {k: g["name"].to_numpy() for k, g in names.groupby("na_mid")}
    groups = streets.drop_duplicates("street_no")[["street_no", "na_mid"]]
    group_names = {}
    for na, part in groups.groupby("na_mid"):  # one draw per settlement (32 at most)
        pool = pools.get(na)
        if pool is None or len(pool) == 0:
            group_names.update(dict.fromkeys(part["street_no"], settlement_names.get(na, "")))
            continue
        order = rng.permutation(len(pool))
        picks = pool[order[np.arange(len(part)) % len(pool)]]
        group_names.update(zip(part["street_no"], picks, strict=True))
    streets["name"] = streets["street_no"].map(group_names)
    return streets


def _driveways(
    ctx: SynthContext, buildings: gpd.GeoDataFrame, streets: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Connect buildings still far from any street by a short driveway to the nearest one.

    A driveway takes the name of the street it joins. Generated buildings in its way are
    dropped (their people go to the settlement's other buildings).
    """
    named = pd.concat(
        [
            pd.DataFrame({"name": streets["name"], "geometry": streets.geometry.to_numpy()}),
            pd.DataFrame({"name": ctx.base.roads["name"],
                          "geometry": ctx.base.roads.geometry.to_numpy()}),
        ],
        ignore_index=True,
    )  # fmt: skip
    shapes = buildings.geometry.to_numpy()
    (b_idx, s_idx), dist = shapely.STRtree(named["geometry"].to_numpy()).query_nearest(
        shapes, return_distance=True, all_matches=False
    )
    far = dist > DRIVEWAY_FROM_M
    if not far.any():
        return buildings, streets
    owner, street = b_idx[far], s_idx[far]
    ends = shapely.get_coordinates(
        shapely.shortest_line(shapes[owner], named["geometry"].to_numpy()[street])
    ).reshape(-1, 2, 2)
    # Start a metre off the facade, so that the driveway reaches the building without crossing it.
    step = (ends[:, 1] - ends[:, 0]) / np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1)[:, None]
    ends[:, 0] += step
    ways = shapely.linestrings(ends)
    settlement_names = ctx.base.settlements.set_index("na_mid")["name"]
    way_names = named["name"].to_numpy()[street]
    na_mid = buildings["na_mid"].to_numpy()[owner]
    fallback = pd.Series(na_mid).map(settlement_names).to_numpy()
    driveways = gpd.GeoDataFrame(
        {"vertical": False, "line": -1, "na_mid": na_mid,
         "name": np.where(pd.isna(way_names), fallback, way_names)},
        geometry=ways, crs=STORAGE_CRS,
    )  # fmt: skip
    hit_way, hit_building = shapely.STRtree(shapes).query(
        shapely.buffer(ways, DRIVEWAY_HALF_WIDTH_M), predicate="intersects"
    )
    generated = buildings["facility_id"].isna().to_numpy()
    in_way = hit_building[(hit_building != owner[hit_way]) & generated[hit_building]]
    keep = np.ones(len(buildings), dtype=bool)
    keep[in_way] = False
    buildings = buildings[keep].reset_index(drop=True)
    return buildings, pd.concat([streets, driveways], ignore_index=True)


def _addresses(
    ctx: SynthContext, buildings: gpd.GeoDataFrame, streets: gpd.GeoDataFrame
) -> pd.DataFrame:
    """Nearest named street and a house number counted along it."""
    real = ctx.base.roads[ctx.base.roads["name"].notna()]
    named = pd.concat(
        [
            pd.DataFrame({"name": streets["name"], "geometry": streets.geometry.to_numpy()}),
            pd.DataFrame({"name": real["name"], "geometry": real.geometry.to_numpy()}),
        ],
        ignore_index=True,
    )
    centres = buildings.geometry.centroid.to_numpy()
    (b_idx, s_idx) = shapely.STRtree(named["geometry"].to_numpy()).query_nearest(
        centres, all_matches=False
    )
    street = np.empty(len(buildings), dtype=object)
    street[b_idx] = named["name"].to_numpy()[s_idx]
    along = np.zeros(len(buildings))
    along[b_idx] = shapely.line_locate_point(named["geometry"].to_numpy()[s_idx], centres[b_idx])
    settlement = buildings["na_mid"].map(ctx.base.settlements.set_index("na_mid")["name"])
    # Villages without street names are addressed by settlement and house number.
    has_streets = buildings["na_mid"].isin(ctx.base.street_names["na_mid"])
    key = np.where(has_streets, street, settlement)
    order = pd.DataFrame({"key": key, "along": along})
    number = order.groupby("key")["along"].rank(method="first").astype(int)
    return pd.DataFrame(
        {"street": pd.Series(street).where(has_streets.to_numpy()), "house_number": number,
         "address": pd.Series(key).astype(str) + " " + number.astype(str) + ", "
         + settlement.astype(str).to_numpy()},
    )  # fmt: skip


def _allocate(ctx: SynthContext, buildings: pd.DataFrame) -> np.ndarray:
    """People per building: settlement totals split by residential floor area, exactly."""
    share = buildings["use"].map({"residential": 1.0, "mixed": 0.5}).fillna(0.0).to_numpy()
    living = buildings["floor_area_m2"].to_numpy() * share
    targets = _integer_split(
        ctx.base.settlements["population"].to_numpy(float) * min(ctx.scale, 1.0),
        total=round(ctx.base.settlements["population"].sum() * min(ctx.scale, 1.0)),
    )
    target = dict(zip(ctx.base.settlements["na_mid"], targets, strict=True))
    people = np.zeros(len(buildings), dtype=int)
    for na_mid, idx in buildings.groupby("na_mid").indices.items():  # one step per settlement
        weights = living[idx]
        if weights.sum() == 0:  # no dwelling drawn: the largest building houses the people
            weights = buildings["floor_area_m2"].to_numpy()[idx]
        people[idx] = _integer_split(weights, total=target.get(na_mid, 0))
    return people


def _integer_split(weights: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` into whole numbers proportional to ``weights`` (largest remainder)."""
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=int)
    exact = weights / weights.sum() * total
    base = np.floor(exact).astype(int)
    rest = total - base.sum()
    base[np.argsort(-(exact - base), kind="stable")[:rest]] += 1
    result: np.ndarray = base
    return result


def generate(ctx: SynthContext) -> dict[str, pd.DataFrame]:
    """Generate the buildings and local streets (see the module docstring)."""
    plots = _label_plots(ctx, _plots(ctx))
    origin = plots.attrs["origin"]
    facilities = _facility_buildings(ctx)
    blocked = shapely.STRtree(shapely.buffer(facilities.geometry.to_numpy(), MARGIN_M))
    hit = blocked.query(plots.geometry.to_numpy(), predicate="intersects")[0]
    plots = plots.drop(index=np.unique(hit)).reset_index(drop=True)
    chosen = _choose(ctx, plots)
    attrs = _attributes(ctx, chosen)
    far_plots = chosen.loc[chosen["road_m"] > NEEDS_STREET_M].geometry.centroid.to_numpy()
    fac_points = facilities.geometry.centroid.to_numpy()
    (fac_idx, _), fac_road = shapely.STRtree(ctx.base.roads.geometry.to_numpy()).query_nearest(
        fac_points, return_distance=True, all_matches=False
    )
    far_fac = fac_points[fac_idx[fac_road > NEEDS_STREET_M]]
    seg, lines = _local_streets(
        ctx, np.concatenate([far_plots, far_fac]), origin, facilities.geometry.to_numpy()
    )
    streets = _name_streets(ctx, seg, lines, plots)

    # Facility buildings: their plot's settlement and district by the nearest plot.
    fac_centres = facilities.geometry.centroid.to_numpy()
    (f_idx, p_idx) = shapely.STRtree(plots.geometry.centroid.to_numpy()).query_nearest(
        fac_centres, all_matches=False
    )
    fac_na_mid = np.empty(len(facilities), dtype="int64")
    fac_na_mid[f_idx] = plots["na_mid"].to_numpy()[p_idx]
    fac_district = np.empty(len(facilities), dtype="int64")
    fac_district[f_idx] = plots["district_id"].to_numpy()[p_idx]
    fac = pd.DataFrame(
        {
            "name": facilities["name"].to_numpy(),
            "real_address": facilities["address"].to_numpy(),
            "other_facility_ids": _co_located(ctx.base.facilities, facilities),
            "use": "public",
            "floors": np.where(facilities["kind"].to_numpy() == "school", 3, 2),
            "year_built": 1975,
            "energy_class": "D",
            "ownership": "municipal",
            "facility_id": facilities["id"].to_numpy(),
            "na_mid": fac_na_mid,
            "district_id": fac_district,
            "source": facilities["source"].to_numpy(),
            "licence": facilities["licence"].to_numpy(),
            "geometry": facilities.geometry.to_numpy(),
        }
    )
    gen = pd.DataFrame(
        {
            "name": None,
            "use": attrs["use"],
            "floors": attrs["floors"],
            "year_built": attrs["year_built"],
            "energy_class": attrs["energy_class"],
            "ownership": np.where(attrs["use"].isin(["industrial", "commercial"]), "company",
                                  "private"),
            "facility_id": None,
            "na_mid": chosen["na_mid"].to_numpy(),
            "district_id": chosen["district_id"].to_numpy(),
            "source": None,
            "licence": None,
            "geometry": _footprints(ctx, chosen, attrs),
        }
    )  # fmt: skip
    buildings = gpd.GeoDataFrame(pd.concat([fac, gen], ignore_index=True), geometry="geometry",
                                 crs=STORAGE_CRS)  # fmt: skip
    buildings, streets = _driveways(ctx, buildings, streets)
    footprint = shapely.area(buildings.geometry.to_numpy())
    buildings["floor_area_m2"] = (footprint * buildings["floors"]).round(1)
    buildings["height_m"] = (buildings["floors"] * 3.0 + 1.0).astype(float)
    centres = buildings.geometry.centroid
    xy = np.column_stack([centres.x, centres.y])
    buildings["base_m"] = ctx.elevation(xy).round(1) if ctx.elevation else 0.0
    buildings = pd.concat([buildings, _addresses(ctx, buildings, streets)], axis=1)
    # The real facilities keep their real address where the source gives one.
    real = buildings.pop("real_address")
    buildings["address"] = real.where(real.notna(), buildings["address"])
    buildings["population"] = _allocate(ctx, buildings)
    buildings["fiber"] = "none"
    buildings["id"] = np.arange(1, len(buildings) + 1)
    buildings = gpd.GeoDataFrame(buildings, geometry="geometry", crs=STORAGE_CRS)
    ctx.layers["buildings"] = buildings
    ctx.layers["local_streets"] = streets

    table = ctx.provenance(
        pd.DataFrame(buildings.drop(columns="geometry")).assign(geom=buildings.geometry.to_numpy()),
        GENERATOR,
    )
    table["source"] = buildings["source"].fillna(table["source"]).to_numpy()
    table["licence"] = buildings["licence"].fillna(table["licence"]).to_numpy()
    # Later generators (telecom: each building's fiber) update these rows in place.
    ctx.layers["buildings_table"] = table
    street_rows = ctx.provenance(
        pd.DataFrame({"id": np.arange(1, len(streets) + 1), "name": streets["name"],
                      "na_mid": streets["na_mid"], "geom": streets.geometry.to_numpy()}),
        GENERATOR,
    ).drop(columns=["source", "licence"])  # fmt: skip
    return {"buildings": table, "local_streets": street_rows}
