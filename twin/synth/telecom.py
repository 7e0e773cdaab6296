"""Mobile sites, the fiber network with its access nodes, and each building's fixed broadband.

*Mobile sites.* The real OSM masts and towers are kept as sites (their position and OSM id are
real, everything else is generated). Generated sites fill a jittered hexagonal lattice whose
spacing is the typical inter-site distance of the zone (about 420 m in the core, 600 m in the
other mestne četrti, 2.2 km in the villages), minus lattice points too close to a site placed
before and rural points with no building within reach. Each site gets one of the three
Slovenian operators, 4G always and 5G more often in the city, its bands, 2-4 sectors with
their azimuths, and an antenna height. Where the zone has rooftop sites (mostly the city) a
generated site moves onto the nearest roof, and its antenna stands a few metres above it.

*Fiber.* Trunks run along every real main road. The municipality is cut into 500 m cells, a
share of which (most in the core, fewer in the villages) has an FTTH distribution network along
all its streets, real and generated. Street cabinets (access nodes) sit on the distribution
network, one per few hundred metres, and count the premises they serve.

*Buildings.* A building within 60 m of a distribution cable is mostly connected (``ftth``); the
rest have ``other`` fixed broadband (copper or cable) or ``none``. Everything here is synthetic.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.synth._common import (
    assets_of,
    by_zone,
    clear_of,
    hex_lattice,
    inside,
    lists_from_flags,
    mark_osm,
    osm_points,
    road_lines,
    suppress_close,
    thin,
    zones,
)
from twin.synth._context import STORAGE_CRS, SynthContext, asset_frame

GENERATOR = "telecom"
OSM_MASTS = ("mast", "tower", "communications_tower")
OSM_TOWERS = ("tower", "communications_tower")
#: Inter-site distance (m) of the generated sites by zone, and the lattice jitter (share).
SPACING_M = {"core": 420.0, "urban": 600.0, "rural": 2_200.0}
JITTER = 0.2
#: A generated site keeps this share of its spacing from every site placed before it.
MIN_GAP_SHARE = 0.6
#: A rural site needs a building within this distance (m).
RURAL_REACH_M = 1_200.0
OPERATORS = ("Telekom Slovenije", "A1 Slovenija", "Telemach")
OPERATOR_SHARE = (0.40, 0.33, 0.27)
BANDS = ("LTE 800 MHz (B20)", "LTE 1800 MHz (B3)", "LTE 2100 MHz (B1)",
         "NR 700 MHz (n28)", "NR 3.5 GHz (n78)")  # fmt: skip
#: Probability of each band by zone (5G bands only on 5G sites); share of 5G sites by zone.
BAND_SHARE = {"core": (0.9, 0.95, 0.8, 0.4, 0.95), "urban": (0.95, 0.9, 0.6, 0.5, 0.85),
              "rural": (1.0, 0.6, 0.3, 0.9, 0.3)}  # fmt: skip
SHARE_5G = {"core": 0.85, "urban": 0.65, "rural": 0.35}
SECTORS, SECTOR_SHARE = (2, 3, 4), (0.07, 0.8, 0.13)
#: Years a site went on air (GSM onwards) and got 5G (from the 2020 launch).
COMMISSIONED, UPGRADED_5G = (1996, 2021), (2020, 2026)
#: Antenna height range (m) of free-standing sites, and of a rooftop mast above its roof.
HEIGHT_M = {"mast": (25.0, 40.0), "tower": (30.0, 50.0)}
ROOF_MAST_M = (3.0, 8.0)
#: A rooftop site moves onto the nearest building within this distance (m).
ROOFTOP_REACH_M = 120.0
ROOFTOP_SHARE = {"core": 0.8, "urban": 0.6, "rural": 0.05}
#: Fiber: served-cell size (m), share of served cells by zone, FTTH reach (m), take-up.
SERVED_CELL_M = 500.0
SERVED_SHARE = {"core": 0.97, "urban": 0.85, "rural": 0.4}
FTTH_REACH_M = 60.0
CONNECTED_SHARE = 0.92
#: Share of the buildings without FTTH that have other fixed broadband, by zone.
OTHER_SHARE = {"core": 0.8, "urban": 0.65, "rural": 0.35}
TRUNK_FIBRES = {"primary": (144, 288), "secondary": (96, 144)}
TRUNK_FIBRES_DEFAULT = (48, 96)
DISTRIBUTION_FIBRES = (12, 24, 48)
#: Share of the urban distribution network by operator (``FIBER_OPERATORS["urban"]``).
URBAN_FIBER_SHARE = (0.6, 0.25, 0.15)
#: Share of rural distribution cables strung on poles rather than laid in ducts.
AERIAL_SHARE = 0.4
#: Years the trunks, urban and rural distribution networks were laid.
LAID = {"trunk": (2004, 2019), "urban": (2009, 2024), "rural": (2015, 2026)}
FIBER_OPERATORS = {"urban": ("Telekom Slovenije", "Telemach", "A1 Slovenija"),
                   "rural": ("Telekom Slovenije", "RUNE Enia")}  # fmt: skip
#: Street-cabinet catchment (cell side, m) by zone, and its splitter sizes.
NODE_CELL_M = {"core": 250.0, "urban": 350.0, "rural": 800.0}
SPLITTERS, PORTS_STEP = ("1:32", "1:64"), 32
#: Spare capacity of a cabinet beyond the premises connected today.
PORT_HEADROOM = 1.3


def _mobile_sites(ctx: SynthContext) -> pd.DataFrame:
    """Return the real masts and towers first, then the generated sites (lattice by zone)."""
    rng = ctx.rng(GENERATOR + ":sites")
    real = osm_points(ctx, "man_made", OSM_MASTS)
    bounds = ctx.base.municipality.bounds
    lattice = []
    for zone_name, spacing in SPACING_M.items():
        lx, ly = hex_lattice(bounds, spacing, rng, JITTER)
        own = zones(ctx, lx, ly) == zone_name
        lattice.append(pd.DataFrame({"x": lx[own], "y": ly[own], "spacing": spacing}))
    osm = pd.DataFrame(
        {"x": real.geometry.x, "y": real.geometry.y, "spacing": SPACING_M["urban"],
         "osm_id": real["osm_id"], "name": real["name"], "kind": real["value"]}
    )  # fmt: skip
    cands = pd.concat([osm, *lattice], ignore_index=True).astype({"osm_id": "Int64"})
    x, y = cands["x"].to_numpy(), cands["y"].to_numpy()
    points = shapely.points(x, y)
    cands["zone"] = zones(ctx, x, y)
    keep = shapely.contains_xy(ctx.base.municipality, x, y)
    lonely = clear_of(points, ctx.layers["buildings"].geometry.to_numpy(), RURAL_REACH_M)
    keep &= (cands["zone"] != "rural").to_numpy() | ~lonely
    keep &= thin(ctx, rng, len(x))
    keep[keep] &= suppress_close(points[keep], MIN_GAP_SHARE * cands["spacing"].to_numpy()[keep])
    keep[: len(real)] = True  # real masts stay, however close together
    sites: pd.DataFrame = cands[keep].reset_index(drop=True)
    return _onto_roofs(ctx, sites, rng)


def _onto_roofs(ctx: SynthContext, sites: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Move a share of the generated sites onto the nearest roof (always when on a building).

    Adds ``roof_m``, the roof height under a rooftop site (0 for free-standing ones).
    """
    buildings = ctx.layers["buildings"]
    points = shapely.points(sites["x"], sites["y"])
    (site_idx, b_idx), dist = shapely.STRtree(buildings.geometry.to_numpy()).query_nearest(
        points, return_distance=True, all_matches=False
    )
    nearest, gap = np.zeros(len(sites), dtype=int), np.full(len(sites), np.inf)
    nearest[site_idx], gap[site_idx] = b_idx, dist
    wanted = rng.random(len(sites)) < by_zone(ROOFTOP_SHARE, sites["zone"].to_numpy())
    roof = sites["kind"].isna().to_numpy() & ((wanted & (gap <= ROOFTOP_REACH_M)) | (gap == 0))
    centre = shapely.centroid(buildings.geometry.to_numpy()[nearest[roof]])
    sites.loc[roof, "x"], sites.loc[roof, "y"] = shapely.get_x(centre), shapely.get_y(centre)
    sites["roof_m"] = np.where(roof, buildings["height_m"].to_numpy()[nearest], 0.0)
    return sites


def _site_attrs(ctx: SynthContext, sites: pd.DataFrame) -> pd.DataFrame:
    rng = ctx.rng(GENERATOR + ":site_attrs")
    n, zone = len(sites), sites["zone"].to_numpy()
    has_5g = rng.random(n) < by_zone(SHARE_5G, zone)
    bands = rng.random((n, len(BANDS))) < by_zone(BAND_SHARE, zone)
    bands[:, 3:] &= has_5g[:, None]
    bands[:, 0] |= ~bands[:, :3].any(axis=1)  # every site has a 4G layer
    bands[:, 4] |= has_5g & ~bands[:, 3:].any(axis=1)
    kind = sites["kind"].fillna("").to_numpy()
    roof = sites["roof_m"].to_numpy()
    mount = np.where(roof > 0, "rooftop", "mast")
    mount = np.where(np.isin(kind, OSM_TOWERS), "tower", mount)
    lo = np.where(mount == "tower", HEIGHT_M["tower"][0], HEIGHT_M["mast"][0])
    hi = np.where(mount == "tower", HEIGHT_M["tower"][1], HEIGHT_M["mast"][1])
    height = np.where(roof > 0, roof + rng.uniform(*ROOF_MAST_M, n), rng.uniform(lo, hi))
    sectors = rng.choice(SECTORS, n, p=SECTOR_SHARE)
    start = rng.integers(0, 120, n)
    azimuths = np.empty(n, dtype=object)
    for count in SECTORS:  # three groups, each vectorised
        rows = sectors == count
        angles = (start[rows, None] + np.arange(count) * 360 // count) % 360
        azimuths[rows] = pd.Series(angles.tolist(), dtype=object).to_numpy()
    upgraded = pd.Series(rng.integers(*UPGRADED_5G, n)).astype("Int64").where(has_5g)
    return pd.DataFrame(
        {"operator": rng.choice(OPERATORS, n, p=OPERATOR_SHARE),
         "technologies": lists_from_flags(np.c_[np.ones(n, dtype=bool), has_5g], ("4G", "5G")),
         "bands": lists_from_flags(bands, BANDS), "sectors": sectors, "azimuths_deg": azimuths,
         "antenna_height_m": height.round(1), "mounting": mount,
         "commissioned_year": rng.integers(*COMMISSIONED, n), "upgraded_5g_year": upgraded,
         "osm_id": sites["osm_id"], "zone": zone, "state": "active"}
    )  # fmt: skip


def _served_cells(ctx: SynthContext, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether each coordinate lies in a 500 m cell that has an FTTH distribution network."""
    rng = ctx.rng(GENERATOR + ":served")
    west, south, east, north = ctx.base.municipality.bounds
    cols = int((east - west) // SERVED_CELL_M) + 1
    rows = int((north - south) // SERVED_CELL_M) + 1
    cx, cy = np.meshgrid(np.arange(cols), np.arange(rows), indexing="ij")
    centre_x = west + (cx.ravel() + 0.5) * SERVED_CELL_M
    centre_y = south + (cy.ravel() + 0.5) * SERVED_CELL_M
    share = by_zone(SERVED_SHARE, zones(ctx, centre_x, centre_y))
    served = (rng.random(len(share)) < share).reshape(cols, rows)
    i = np.clip(((x - west) // SERVED_CELL_M).astype(int), 0, cols - 1)
    j = np.clip(((y - south) // SERVED_CELL_M).astype(int), 0, rows - 1)
    result: np.ndarray = served[i, j]
    return result


def _fiber(ctx: SynthContext) -> gpd.GeoDataFrame:
    rng = ctx.rng(GENERATOR + ":fiber")
    trunk = road_lines(ctx, main=True)
    streets = ctx.layers["local_streets"]
    candidates = np.concatenate(
        [road_lines(ctx, main=None).geometry.to_numpy(), streets.geometry.to_numpy()]
    )
    mid = shapely.line_interpolate_point(candidates, 0.5, normalized=True)
    served = _served_cells(ctx, shapely.get_x(mid), shapely.get_y(mid))
    lines = np.concatenate(
        [trunk.geometry.to_numpy(), candidates[served & inside(ctx, candidates)]]
    )
    n_trunk, n = len(trunk), len(lines)
    kind = np.where(np.arange(n) < n_trunk, "trunk", "distribution")
    mid = shapely.line_interpolate_point(lines, 0.5, normalized=True)
    zone = zones(ctx, shapely.get_x(mid), shapely.get_y(mid))
    road_class = trunk["highway"].str.replace("_link", "").to_numpy()
    trunk_fibres = np.select(
        [road_class == cls for cls in TRUNK_FIBRES],
        [rng.choice(sizes, n_trunk) for sizes in TRUNK_FIBRES.values()],
        rng.choice(TRUNK_FIBRES_DEFAULT, n_trunk),
    )
    rural = zone == "rural"
    operator = np.where(
        rural,
        rng.choice(FIBER_OPERATORS["rural"], n),
        rng.choice(FIBER_OPERATORS["urban"], n, p=URBAN_FIBER_SHARE),
    )
    year = np.where(kind == "trunk", rng.integers(*LAID["trunk"], n),
                    np.where(rural, rng.integers(*LAID["rural"], n),
                             rng.integers(*LAID["urban"], n)))  # fmt: skip
    return gpd.GeoDataFrame(
        {"kind": kind,
         "fibre_count": np.r_[trunk_fibres, rng.choice(DISTRIBUTION_FIBRES, n - n_trunk)],
         "year": year, "operator": np.where(kind == "trunk", OPERATORS[0], operator),
         "laying": np.where(rural & (rng.random(n) < AERIAL_SHARE), "aerial", "duct"),
         "length_m": shapely.length(lines).round(1), "zone": zone},
        geometry=lines, crs=STORAGE_CRS,
    )  # fmt: skip


def _access_nodes(fiber: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One street cabinet per catchment cell of the distribution network, on the network."""
    dist = fiber[fiber["kind"] == "distribution"].reset_index(drop=True)
    mid = shapely.line_interpolate_point(dist.geometry.to_numpy(), 0.5, normalized=True)
    x, y = shapely.get_x(mid), shapely.get_y(mid)
    cell = dist["zone"].map(NODE_CELL_M).to_numpy()
    groups = (
        pd.DataFrame(
            {"zone": dist["zone"], "i": np.floor(x / cell), "j": np.floor(y / cell), "x": x,
             "y": y, "operator": dist["operator"], "year": dist["year"]}
        )
        .groupby(["zone", "i", "j"], sort=True)
        .agg(x=("x", "mean"), y=("y", "mean"), operator=("operator", "first"), year=("year", "min"))
        .reset_index()
    )  # fmt: skip
    centre = shapely.points(groups["x"].to_numpy(), groups["y"].to_numpy())
    (_, line_idx) = shapely.STRtree(dist.geometry.to_numpy()).query_nearest(
        centre, all_matches=False
    )
    lines = dist.geometry.to_numpy()[line_idx]
    points = shapely.line_interpolate_point(lines, shapely.line_locate_point(lines, centre))
    return gpd.GeoDataFrame(
        {"zone": groups["zone"], "operator": groups["operator"], "year": groups["year"]},
        geometry=points,
        crs=STORAGE_CRS,
    )


def _building_fiber(
    ctx: SynthContext, fiber: gpd.GeoDataFrame, nodes: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``fiber`` value of each building and the premises connected per node."""
    rng = ctx.rng(GENERATOR + ":buildings")
    buildings = ctx.layers["buildings"]
    footprints = buildings.geometry.to_numpy()
    dist = fiber.geometry.to_numpy()[(fiber["kind"] == "distribution").to_numpy()]
    near = ~clear_of(footprints, dist, FTTH_REACH_M)
    centres = shapely.centroid(footprints)
    zone = zones(ctx, shapely.get_x(centres), shapely.get_y(centres))
    ftth = near & (rng.random(len(buildings)) < CONNECTED_SHARE)
    other = ~ftth & (rng.random(len(buildings)) < by_zone(OTHER_SHARE, zone))
    value = np.select([ftth, other], ["ftth", "other"], "none")
    connected = np.zeros(len(nodes), dtype=int)
    if ftth.any() and len(nodes):
        (_, node_idx) = shapely.STRtree(nodes.geometry.to_numpy()).query_nearest(
            centres[ftth], all_matches=False
        )
        connected = np.bincount(node_idx, minlength=len(nodes))
    return value, connected


def generate(ctx: SynthContext) -> dict[str, pd.DataFrame]:
    """Generate the mobile sites, fiber network and access nodes; set each building's fiber."""
    sites = _mobile_sites(ctx)
    points = shapely.points(sites["x"], sites["y"])
    site_frame = asset_frame(
        ctx, GENERATOR, "mobile_site", points, _site_attrs(ctx, sites), names=sites["name"]
    )
    site_frame = mark_osm(site_frame, int(sites["osm_id"].notna().sum()))
    fiber = _fiber(ctx)
    nodes = _access_nodes(fiber)
    value, connected = _building_fiber(ctx, fiber, nodes)
    ctx.layers["buildings"]["fiber"] = value
    table = ctx.layers.get("buildings_table")
    if table is not None:
        table["fiber"] = value
    rng = ctx.rng(GENERATOR + ":nodes")
    ports = np.maximum(PORTS_STEP, np.ceil(connected * PORT_HEADROOM / PORTS_STEP) * PORTS_STEP)
    nodes = nodes.assign(
        kind="street_cabinet", splitter_ratio=rng.choice(SPLITTERS, len(nodes)),
        ports=ports.astype(int), premises_connected=connected,
    )[["kind", "operator", "year", "splitter_ratio", "ports", "premises_connected", "zone",
       "geometry"]]  # fmt: skip
    ctx.layers["mobile_sites"] = gpd.GeoDataFrame(
        sites.assign(id=site_frame["id"].to_numpy()), geometry=points, crs=STORAGE_CRS
    )
    ctx.layers["fiber"] = fiber
    frames = [
        site_frame,
        assets_of(ctx, GENERATOR, "fiber_segment", fiber),
        assets_of(ctx, GENERATOR, "fiber_node", nodes),
    ]
    return {"assets": pd.concat(frames, ignore_index=True)}
