"""Traffic lights at the junctions of Maribor's real main roads.

A junction is a node of the OSM main-road network (primary, secondary, tertiary and their
links) where at least three arms meet (a way ending there counts one arm, a way passing through
two) on at least two different ways; nodes within 30 m of each other are one junction. Nearly
all junctions in the mestne četrti are signalised, a few in the villages. Installation year,
"smart" (adaptive, connected) controllers, pedestrian push buttons and acoustic signals are
drawn with plausible shares; newer installations are more often smart. The positions are
derived from real OSM data, the signals themselves are synthetic.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.synth._common import MAIN_ROADS, assets_of, by_zone, suppress_close, thin, zones
from twin.synth._context import STORAGE_CRS, SynthContext

GENERATOR = "traffic_lights"
ASSET_CLASS = "traffic_light"
#: A junction has at least this many arms; junction nodes closer than this (m) are merged.
JUNCTION_ARMS, JUNCTION_MERGE_M = 3, 30.0
#: Share of the junctions that are signalised, by zone.
SIGNALISED = {"core": 0.95, "urban": 0.85, "rural": 0.2}
#: Installed from this year on, a controller is smart with the first share, before with the second.
SMART_FROM, SMART_SHARE, LEGACY_SMART_SHARE = 2015, 0.6, 0.1
INSTALLED = (1978, 2026)
#: Share with pedestrian push buttons by zone; share of those with acoustic signals.
BUTTON_SHARE, ACOUSTIC_SHARE = {"core": 0.9, "urban": 0.85, "rural": 0.4}, 0.45
SIGNAL_HEADS = (6, 25)
CONTROLLERS = ("Siemens", "Swarco", "Iskra")


def _junctions(ctx: SynthContext) -> gpd.GeoDataFrame:
    """Nodes where at least three arms of main roads meet, merged within 30 m."""
    roads = ctx.base.roads[ctx.base.roads["highway"].isin(MAIN_ROADS)]
    coords, line = shapely.get_coordinates(roads.geometry.to_numpy(), return_index=True)
    count = np.bincount(line, minlength=len(roads))
    pos = np.arange(len(line)) - (np.cumsum(count) - count)[line]
    arms = np.where((pos == 0) | (pos == count[line] - 1), 1, 2)
    nodes = pd.DataFrame(
        {
            "x": coords[:, 0].round(1),
            "y": coords[:, 1].round(1),
            "arms": arms,
            "line": line,
            "road": roads["name"].to_numpy()[line],
        }
    )
    junctions = nodes.groupby(["x", "y"], sort=True).agg(
        arms=("arms", "sum"), lines=("line", "nunique")
    )
    junctions = junctions[
        (junctions["arms"] >= JUNCTION_ARMS) & (junctions["lines"] > 1)
    ].reset_index()
    names = (
        nodes.dropna(subset="road")
        .drop_duplicates(["x", "y", "road"])
        .sort_values("road")
        .groupby(["x", "y"])["road"]
        .agg(" / ".join)
    )
    junctions = junctions.join(names, on=["x", "y"])
    points = shapely.points(junctions["x"], junctions["y"])
    keep = suppress_close(points, JUNCTION_MERGE_M)
    keep &= shapely.contains_xy(ctx.base.municipality, junctions["x"], junctions["y"])
    return gpd.GeoDataFrame(junctions[["road"]], geometry=points, crs=STORAGE_CRS)[keep]


def _traffic_lights(ctx: SynthContext) -> gpd.GeoDataFrame:
    rng = ctx.rng(GENERATOR)
    junctions = _junctions(ctx)
    zone = zones(ctx, junctions.geometry.x.to_numpy(), junctions.geometry.y.to_numpy())
    keep = rng.random(len(junctions)) < by_zone(SIGNALISED, zone)
    keep &= thin(ctx, rng, len(junctions))
    lights, zone = junctions[keep].reset_index(drop=True), zone[keep]
    n = len(lights)
    year = rng.integers(*INSTALLED, n)
    smart = rng.random(n) < np.where(year >= SMART_FROM, SMART_SHARE, LEGACY_SMART_SHARE)
    buttons = rng.random(n) < by_zone(BUTTON_SHARE, zone)
    return lights.assign(
        smart=smart,
        install_year=year,
        pedestrian_buttons=buttons,
        acoustic_signals=buttons & (rng.random(n) < ACOUSTIC_SHARE),
        signal_heads=rng.integers(*SIGNAL_HEADS, n),
        controller=rng.choice(CONTROLLERS, n),
        zone=zone,
    )


def generate(ctx: SynthContext) -> dict[str, pd.DataFrame]:
    """Generate the traffic lights (see the module docstring)."""
    lights = _traffic_lights(ctx)
    names = lights.pop("road")
    frame = assets_of(ctx, GENERATOR, ASSET_CLASS, lights, names=names.astype(object))
    return {"assets": frame}
