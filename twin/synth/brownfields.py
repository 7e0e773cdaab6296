"""Brownfield sites (degradirana območja) in Maribor's former industrial areas.

Maribor's brownfields lie where its heavy industry was: the TAM and Metalna works in Tezno,
the railway workshops in Studenci and the plants along the Drava in the east (Pobrežje,
Brezje-Dogoše-Zrkovci). The generator looks around the industrial buildings of those
districts (and, less often, around their other buildings) for empty land: a rotated rectangle
of 0.5-8 ha, as large as fits, clear of every building and carriageway. Sites do not overlap
each other. Status, contamination class, ownership, former and planned use are drawn with
plausible shares; the area is measured from the polygon. Everything here is synthetic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from twin.synth._common import carriageways, clear_of, density, first_valid, inside
from twin.synth._context import SynthContext, asset_frame

GENERATOR = "brownfields"
ASSET_CLASS = "brownfield"
#: Districts with former industry (Tezno, Studenci, and the Drava's east bank).
DISTRICTS = ("Tezno", "Studenci", "Pobrežje", "Brezje-Dogoše-Zrkovci")
#: Sites in the full city; candidate seeds drawn per site.
SITES, SEEDS_PER_SITE = 24, 80
#: Weight of an industrial building as a seed, relative to any other building.
INDUSTRIAL_WEIGHT = 8.0
#: Site areas tried (ha), largest first; the sides' ratio; distance of a site from its seed (m).
AREAS_HA = (8.0, 5.5, 4.0, 2.8, 2.0, 1.4, 1.0, 0.7, 0.5)
ASPECT = (1.0, 2.2)
SEED_DISTANCE_M = (40.0, 600.0)
#: Clearance of a site from buildings and carriageways (m) and from other sites (m).
CLEARANCE_M, SITE_GAP_M = 5.0, 20.0
M2_PER_HA = 10_000.0
STATUS = ("abandoned", "partly used", "in remediation")
STATUS_SHARE = (0.45, 0.4, 0.15)
CONTAMINATION = ("none", "suspected", "confirmed")
CONTAMINATION_SHARE = (0.3, 0.5, 0.2)
OWNERSHIP = ("municipal", "state", "private")
OWNERSHIP_SHARE = (0.25, 0.15, 0.6)
REUSE = (
    "housing",
    "mixed use",
    "business zone",
    "logistics",
    "green space",
    "solar park",
    "public facilities",
    "not decided",
)
FORMER_USE = {
    "Tezno": ("automotive industry (TAM)", "metal industry", "warehouses"),
    "Studenci": ("railway workshops", "metal industry", "warehouses"),
    "Pobrežje": ("textile industry", "food industry", "warehouses"),
    "Brezje-Dogoše-Zrkovci": ("metal industry", "gravel pit", "warehouses"),
}


def _candidates(ctx: SynthContext, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw seeds in the former industrial districts and rectangles around them.

    Returns each seed's district and an ``(n, sizes)`` array of rotated rectangles, largest
    first.
    """
    buildings = ctx.layers["buildings"]
    districts = ctx.base.districts.set_index("id")["name"]
    name = buildings["district_id"].map(districts).to_numpy()
    pool = np.flatnonzero(np.isin(name, DISTRICTS))
    weight = np.where(buildings["use"].to_numpy()[pool] == "industrial", INDUSTRIAL_WEIGHT, 1.0)
    count = min(len(pool), max(1, round(SITES * density(ctx))) * SEEDS_PER_SITE)
    seeds = np.sort(rng.choice(pool, count, replace=False, p=weight / weight.sum()))
    centre = shapely.centroid(buildings.geometry.to_numpy()[seeds])
    angle = rng.uniform(0, 2 * np.pi, count)
    reach = rng.uniform(*SEED_DISTANCE_M, count)
    cx = shapely.get_x(centre) + reach * np.cos(angle)
    cy = shapely.get_y(centre) + reach * np.sin(angle)
    turn = rng.uniform(0, np.pi / 2, count)
    aspect = rng.uniform(*ASPECT, count)
    area = np.array(AREAS_HA) * M2_PER_HA
    half_w = np.sqrt(area[None, :] * aspect[:, None]) / 2
    half_d = area[None, :] / (4 * half_w)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=float)
    dx = corners[:, 0] * half_w[..., None]
    dy = corners[:, 1] * half_d[..., None]
    cos, sin = np.cos(turn)[:, None, None], np.sin(turn)[:, None, None]
    x = cx[:, None, None] + dx * cos - dy * sin
    y = cy[:, None, None] + dx * sin + dy * cos
    polygons: np.ndarray = shapely.polygons(np.stack([x, y], axis=-1))
    return name[seeds], polygons


def generate(ctx: SynthContext) -> dict[str, pd.DataFrame]:
    """Generate the brownfield sites (see the module docstring)."""
    rng = ctx.rng(GENERATOR)
    seed_district, options = _candidates(ctx, rng)
    flat = options.ravel()
    footprints = ctx.layers["buildings"].geometry.to_numpy()
    valid = clear_of(flat, footprints, CLEARANCE_M) & clear_of(flat, carriageways(ctx))
    lots = ctx.layers.get("parking_lots")
    if lots is not None:
        valid &= clear_of(flat, lots.geometry.to_numpy(), CLEARANCE_M)
    valid = (valid & inside(ctx, flat)).reshape(options.shape)
    rows, col = first_valid(valid)
    sites = options[rows, col]
    keep = np.ones(len(sites), dtype=bool)
    if len(sites):
        probe, near = shapely.STRtree(sites).query(sites, predicate="dwithin", distance=SITE_GAP_M)
        # The largest site wins a clash; ties go to the earlier seed.
        rank = np.lexsort((rows, col))
        order = np.empty(len(sites), dtype=int)
        order[rank] = np.arange(len(sites))
        keep[probe[order[near] < order[probe]]] = False
    keep &= np.cumsum(keep) <= max(1, round(SITES * density(ctx)))
    sites, district = sites[keep], seed_district[rows[keep]]
    n = len(sites)
    former = np.array([FORMER_USE[d] for d in DISTRICTS])[
        pd.Series(district).map({d: i for i, d in enumerate(DISTRICTS)}).to_numpy(int),
        rng.integers(0, len(FORMER_USE[DISTRICTS[0]]), n),
    ]
    attrs = pd.DataFrame(
        {
            "area_ha": (shapely.area(sites) / M2_PER_HA).round(2),
            "status": rng.choice(STATUS, n, p=STATUS_SHARE),
            "contamination": rng.choice(CONTAMINATION, n, p=CONTAMINATION_SHARE),
            "ownership": rng.choice(OWNERSHIP, n, p=OWNERSHIP_SHARE),
            "planned_reuse": rng.choice(REUSE, n),
            "district": district,
            "former_use": former,
            "vacant_since": rng.integers(1990, 2021, n),
        }
    )
    names = pd.Series(district) + " brownfield " + pd.Series(np.arange(1, n + 1)).astype(str)
    return {"assets": asset_frame(ctx, GENERATOR, ASSET_CLASS, sites, attrs, names=names)}
