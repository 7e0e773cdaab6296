"""Street lights along every lit road, at a spacing by road class.

Real OSM roads tagged ``lit=yes`` are lit; untagged roads are lit inside the mestne četrti and
when they are main roads; ``lit=no`` stays dark. Generated streets are lit in the mestne
četrti and partly in the villages; driveways are not. Lamps
stand beside the carriageway, alternating sides, with a type (sodium, metal halide, LED), power,
pole height, install year and a telemanagement flag drawn by class and age.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from twin.synth._context import SynthContext, asset_frame

GENERATOR = "lights"
ASSET_CLASS = "street_light"
#: Spacing (m), pole height range (m) and lateral offset from the road axis (m) by class.
CLASSES = {
    "primary": (30.0, (10.0, 12.0), 9.0), "trunk": (30.0, (10.0, 12.0), 9.0),
    "secondary": (33.0, (9.0, 10.0), 8.0), "tertiary": (36.0, (8.0, 9.0), 7.0),
    "local": (40.0, (6.0, 7.0), 2.5),
}  # fmt: skip
OTHER = (40.0, (6.0, 8.0), 5.0)
MAIN = {"primary", "trunk", "secondary", "tertiary"}
#: Share of the generated village streets (outside the mestne četrti) that are lit.
RURAL_STREETS_LIT = 0.4
#: Lamps installed from this year on are mostly LED (Maribor's retrofit); share of LED then.
LED_FROM, LED_SHARE = 2012, 0.85
#: Share of sodium among the older lamps (the rest metal halide).
SODIUM_SHARE = 0.8
#: LED lamps installed from this year on may be telemanaged; share that is.
TELEMANAGED_FROM, TELEMANAGED_SHARE = 2017, 0.7


def _lit_lines(ctx: SynthContext) -> pd.DataFrame:
    roads = ctx.base.roads
    mc = ctx.base.districts[ctx.base.districts["kind"] == "MC"].union_all()
    urban = shapely.intersects(roads.geometry.to_numpy(), mc)
    lit = (roads["lit"] == "yes") | (roads["lit"].isna() & (urban | roads["highway"].isin(MAIN)))
    real = pd.DataFrame(
        {"cls": roads.loc[lit, "highway"].to_numpy(), "road": roads.loc[lit, "name"].to_numpy(),
         "geometry": roads.loc[lit].geometry.to_numpy()}
    )  # fmt: skip
    streets = ctx.layers.get("local_streets")
    if streets is None or streets.empty:
        return real
    # Generated streets are lit in the mestne četrti and, in the villages, only partly;
    # driveways (line -1) never.
    shapes = streets.geometry.to_numpy()
    in_city = shapely.intersects(shapes, mc)
    rural_lit = ctx.rng(GENERATOR + ":streets").random(len(streets)) < RURAL_STREETS_LIT
    lit_local = (streets["line"].to_numpy() != -1) & (in_city | rural_lit)
    local = pd.DataFrame(
        {
            "cls": "local",
            "road": streets["name"].to_numpy()[lit_local],
            "geometry": shapes[lit_local],
        }
    )
    return pd.concat([real, local], ignore_index=True)


def generate(ctx: SynthContext) -> dict[str, pd.DataFrame]:
    """Place the street lights (see the module docstring)."""
    rng = ctx.rng(GENERATOR)
    lines = _lit_lines(ctx)
    params = [CLASSES.get(c, OTHER) for c in lines["cls"].unique()]
    by_class = dict(zip(lines["cls"].unique(), params, strict=True))
    spacing = lines["cls"].map({c: p[0] for c, p in by_class.items()}).to_numpy()
    offset = lines["cls"].map({c: p[2] for c, p in by_class.items()}).to_numpy()
    geoms = lines["geometry"].to_numpy()
    length = shapely.length(geoms)
    count = np.where(length >= spacing / 2, np.floor((length - spacing / 2) / spacing) + 1, 0)
    count = count.astype(int)
    line = np.repeat(np.arange(len(lines)), count)
    k = np.arange(len(line)) - np.repeat(np.cumsum(count) - count, count)
    at = spacing[line] / 2 + k * spacing[line]
    ahead = shapely.line_interpolate_point(geoms[line], np.minimum(at + 0.5, length[line]))
    behind = shapely.line_interpolate_point(geoms[line], np.maximum(at - 0.5, 0))
    dx = shapely.get_x(ahead) - shapely.get_x(behind)
    dy = shapely.get_y(ahead) - shapely.get_y(behind)
    norm = np.hypot(dx, dy)
    norm[norm == 0] = 1.0
    side = np.where(k % 2 == 0, 1.0, -1.0) * offset[line]
    centre = shapely.line_interpolate_point(geoms[line], at)
    x = shapely.get_x(centre) - dy / norm * side
    y = shapely.get_y(centre) + dx / norm * side
    points = shapely.points(x, y)
    keep = shapely.contains_xy(ctx.base.municipality, x, y)
    keep &= rng.random(len(points)) < min(ctx.scale, 1.0)
    points, line = points[keep], line[keep]

    n = len(points)
    cls = lines["cls"].to_numpy()[line]
    year = rng.integers(1985, 2026, n)
    led = (year >= LED_FROM) & (rng.random(n) < LED_SHARE)
    lamp = np.where(led, "LED", np.where(rng.random(n) < SODIUM_SHARE, "sodium", "metal_halide"))
    main = np.isin(cls, list(MAIN))
    led_power = np.where(main, rng.integers(60, 121, n), rng.integers(25, 61, n))
    old_power = np.where(main, rng.choice([150, 250], n), rng.choice([70, 100], n))
    power = np.where(led, led_power, old_power)
    lo = pd.Series(cls).map({c: p[1][0] for c, p in by_class.items()}).to_numpy()
    hi = pd.Series(cls).map({c: p[1][1] for c, p in by_class.items()}).to_numpy()
    attrs = pd.DataFrame(
        {
            "lamp_type": lamp, "power_w": power, "pole_height_m": rng.uniform(lo, hi).round(1),
            "install_year": year,
            "telemanaged": led & (year >= TELEMANAGED_FROM) & (rng.random(n) < TELEMANAGED_SHARE),
            "road": lines["road"].to_numpy()[line], "road_class": cls, "state": "active",
        }
    )  # fmt: skip
    frame = asset_frame(ctx, GENERATOR, ASSET_CLASS, points, attrs)
    return {"assets": frame}
