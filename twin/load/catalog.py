"""The shipped Maribor datasets: where each file came from and how it maps onto a table.

Each builder reads and validates its file(s) and returns a frame whose columns are
exactly the target table's columns (geometry in EPSG:3794 in column ``geom``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from twin._errors import DataFileError
from twin.load import arso
from twin.load._read import (
    SLOVENIA_FRAME_D96,
    points_d96,
    read_features,
    read_table,
    whole_numbers,
)

GURS = "CC BY 4.0"
GURS_ATTR = "Vir: GURS, Register prostorskih enot, CC BY 4.0"
OSM = "ODbL 1.0"
OSM_ATTR = "© OpenStreetMap contributors, ODbL"


@dataclass(frozen=True)
class Dataset:
    """One shipped file and its provenance."""

    name: str
    file: str
    title: str
    table: str
    source: str
    licence: str
    attribution: str


DATASETS: tuple[Dataset, ...] = (
    Dataset("municipality", "municipality_boundary_coarse.geojson",
            "Municipality boundary (coarse)", "municipality",
            "GURS RPE via sledilnik/website@3b99220", "CC BY 2.5 (as stated in the file)",
            "Vir: GURS"),
    Dataset("local_units", "local_units.csv", "Local units: mestne četrti and krajevne skupnosti",
            "districts", "GURS RPE ODO_CM/ODO_CK via stefanb/gurs-rpe@a6bdeb1", GURS, GURS_ATTR),
    Dataset("mestne_cetrti", "districts_mestne_cetrti.geojson", "Mestne četrti polygons",
            "districts", "GURS RPE ODO_CM via stefanb/gurs-rpe@a6bdeb1", GURS, GURS_ATTR),
    Dataset("statistical_units", "statistical_units.csv", "Statistical units (prostorski okoliši)",
            "statistical_units", "GURS RPE PO via stefanb/gurs-rpe@a6bdeb1", GURS, GURS_ATTR),
    Dataset("settlements", "settlements.csv", "Settlements with population", "settlements",
            "GURS RPE NA via stefanb/gurs-rpe@a6bdeb1; population: Wikipedia (sl) via "
            "SamoFMF/Slovenia---Settlements-Post-Offices@7c3cd17",
            "CC BY 4.0 (GURS); CC BY-SA (population)",
            "Vir: GURS, CC BY 4.0; Wikipedia (sl), Seznam naselij v Sloveniji, CC BY-SA"),
    Dataset("streets", "streets.csv", "Street names", "streets",
            "GURS RPE UL via stefanb/gurs-rpe@a6bdeb1", GURS, GURS_ATTR),
    Dataset("roads", "roads_osm2025.geojson", "Roads used by bus routes (OSM 2025-05-06)", "roads",
            "OpenStreetMap via projectBlockchainRIT/projectMariborBusi@e03aa2d", OSM, OSM_ATTR),
    Dataset("bus_routes", "bus_routes_osm2025.geojson", "Marprom bus routes (OSM 2025-05-06)",
            "bus_routes", "OpenStreetMap via projectBlockchainRIT/projectMariborBusi@e03aa2d",
            OSM, OSM_ATTR),
    Dataset("bus_stops", "bus_stops_osm2025.geojson", "Bus stops (OSM 2025-05-17)", "bus_stops",
            "OpenStreetMap via projectBlockchainRIT/projectMariborBusi@96624f5", OSM, OSM_ATTR),
    Dataset("pois", "poi_osm2019.geojson", "Points of interest (OSM 2019)", "pois",
            "OpenStreetMap via ObiWanLansi/GeoData@3f600c7", OSM, OSM_ATTR),
    Dataset("schools", "schools_kindergartens.geojson", "Schools and kindergartens", "facilities",
            "Sledilnik.org via sledilnik/data@20e42c4",
            "AGPL-3.0 (repository; no separate data licence)", "Sledilnik.org"),
    Dataset("care_homes", "care_homes.geojson", "Care homes", "facilities",
            "Sledilnik.org via sledilnik/data@20e42c4",
            "AGPL-3.0 (repository; no separate data licence)", "Sledilnik.org"),
    Dataset("polling_stations", "polling_stations.geojson", "Polling stations", "facilities",
            "DVK RPE API via stefanb/dvk-volisca@fde6e1b", "not stated by the source", "Vir: DVK"),
    Dataset("arso_stations", "air_quality_arso_sample.xml", "ARSO air-quality monitoring stations",
            "monitoring_stations", "ARSO ones_zrak_urni_podatki via DavidBalazic/IIS_Vaje@fa9097d",
            "ARSO open data, attribution required", "Vir: ARSO"),
)  # fmt: skip

BY_NAME = {d.name: d for d in DATASETS}
#: Frame column naming the dataset(s) a row came from, comma-separated (counted, not stored).
DATASET_COLUMN = "_dataset"

#: Target table -> primary-key column.
TABLE_KEYS: dict[str, str] = {
    "municipality": "ob_id",
    "statistical_units": "po_mid",
    "districts": "id",
    "settlements": "na_mid",
    "streets": "ul_mid",
    "roads": "osm_id",
    "bus_routes": "osm_id",
    "bus_stops": "osm_id",
    "pois": "osm_id",
    "facilities": "id",
    "monitoring_stations": "code",
}
#: Columns holding JSON documents (stored as jsonb with null members dropped).
JSON_COLUMNS: dict[str, tuple[str, ...]] = {"bus_stops": ("tags",), "facilities": ("attrs",)}


def _path(data_dir: Path, name: str) -> Path:
    return data_dir / BY_NAME[name].file


def _provenance(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    ds = BY_NAME[name]
    return frame.assign(source=ds.source, licence=ds.licence, **{DATASET_COLUMN: name})


def _as_multi(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Promote single polygons/lines to their multi type (a no-op for multi geometries)."""
    parts, index = shapely.get_parts(geoms.values, return_index=True)
    multi_type = (
        "MultiPolygon" if geoms.geom_type.str.contains("Polygon").all() else "MultiLineString"
    )
    make = shapely.multipolygons if multi_type == "MultiPolygon" else shapely.multilinestrings
    return gpd.GeoSeries(make(parts, indices=index), index=geoms.index, crs=geoms.crs)


def _json(frame: pd.DataFrame) -> pd.Series:
    """Serialise each row of ``frame`` to a JSON object (vectorised by pandas)."""
    text = frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    return pd.Series(text.splitlines(), index=frame.index, dtype="string")


def _features(
    data_dir: Path,
    name: str,
    id_column: str,
    geom_types: set[str],
    columns: list[str],
    integers: tuple[str, ...] = (),
) -> gpd.GeoDataFrame:
    """Read a dataset's vector file requiring ``columns``; ``integers`` must be whole numbers."""
    path = _path(data_dir, name)
    gdf = read_features(path, id_column, geom_types, columns)
    for column in integers:
        gdf[column] = whole_numbers(gdf[column], path, column, gdf[id_column])
    return gdf


def municipality(data_dir: Path) -> pd.DataFrame:
    """Build the municipality boundary (coarse GURS polygon)."""
    cols = ["ob_id", "ob_mid", "name", "full_name", "isoid", "official_area_km2", "quality"]
    gdf = _features(data_dir, "municipality", "ob_id", {"Polygon", "MultiPolygon"}, cols,
                    ("ob_id", "ob_mid"))  # fmt: skip
    frame = gdf[cols]
    return _provenance(frame.assign(geom=_as_multi(gdf.geometry)), "municipality")


def statistical_units(data_dir: Path) -> pd.DataFrame:
    """Build the statistical units as GURS representative points."""
    path = _path(data_dir, "statistical_units")
    ids = ["po_mid", "po_id", "na_mid", "local_unit_id", "ve_mid", "vo_mid", "vd_mid", "le_mid",
           "lv_mid", "pt_mid", "sl_mid"]  # fmt: skip
    cols = dict.fromkeys(ids, "Int64") | {
        "settlement": "string", "valid_from": "string", "cen_e": "float64", "cen_n": "float64",
    }  # fmt: skip
    rows = read_table(path, cols, "po_mid")
    frame = rows[[*ids, "settlement"]].rename(columns={"local_unit_id": "district_id"})
    frame = frame.assign(valid_from=_dates(rows["valid_from"], path), geom=points_d96(rows, path))
    return _provenance(frame, "statistical_units")


def _dates(values: pd.Series, path: Path) -> pd.Series:
    parsed = pd.to_datetime(values, format="%Y/%m/%d", errors="coerce")
    bad = parsed.isna() & values.notna()
    if bad.any():
        row = values.index[bad][0]
        raise DataFileError(f"{path}: row {row}: {values[row]!r} is not a date (YYYY/MM/DD)")
    return parsed.dt.strftime("%Y-%m-%d").astype("string")


def districts(data_dir: Path) -> pd.DataFrame:
    """Build the local units: MČ with GURS polygons, KS whose polygons are derived in SQL."""
    units_path = _path(data_dir, "local_units")
    units = read_table(
        units_path,
        {"id": "Int64", "mid": "Int64", "name": "string", "type": "string", "area_km2": "float64",
         "cen_e": "float64", "cen_n": "float64", "n_statistical_units": "Int64"},
        "id",
    )  # fmt: skip
    bad_type = ~units["type"].isin(["MC", "KS"])
    if bad_type.any():
        raise DataFileError(f"{units_path}: row {units.index[bad_type][0]}: type must be MC or KS")
    mc_path = _path(data_dir, "mestne_cetrti")
    mc = _features(data_dir, "mestne_cetrti", "ODO_ID", {"Polygon", "MultiPolygon"}, [],
                   ("ODO_ID",))  # fmt: skip
    geoms = pd.Series(_as_multi(mc.geometry).values, index=mc["ODO_ID"].astype("int64"))
    unknown = set(geoms.index) - set(units.loc[units["type"] == "MC", "id"])
    if unknown:
        raise DataFileError(f"{mc_path}: ODO_ID {sorted(unknown)} is not an MC in {units_path}")
    frame = units[["id", "mid", "name", "n_statistical_units"]].assign(
        kind=units["type"],
        official_area_km2=units["area_km2"],
        approximate=units["type"] == "KS",
        synthetic=units["type"] == "KS",
        geometry_note=units["type"].map(
            {"MC": "official GURS polygon",
             "KS": "approximate: Voronoi cells of the unit's GURS statistical-unit points, "
                   "clipped to the municipality outside the mestne četrti"}
        ),
        centroid=points_d96(units, units_path).values,
        geom=units["id"].map(geoms),
    )  # fmt: skip
    missing = frame[(frame["kind"] == "MC") & frame["geom"].isna()]
    if len(missing):
        raise DataFileError(f"{mc_path}: no polygon for MČ {', '.join(missing['name'])}")
    frame = _provenance(frame, "mestne_cetrti")
    ks = frame["kind"] == "KS"
    frame[DATASET_COLUMN] = frame[DATASET_COLUMN].where(ks, "local_units,mestne_cetrti")
    frame.loc[ks, DATASET_COLUMN] = "local_units"
    frame.loc[ks, "source"] = (
        "derived by twin from GURS RPE PO points and ODO_CK (stefanb/gurs-rpe@a6bdeb1)"
    )
    return frame


def settlements(data_dir: Path) -> pd.DataFrame:
    """Build the settlements with their Wikipedia population."""
    path = _path(data_dir, "settlements")
    rows = read_table(
        path,
        {"na_mid": "Int64", "na_id": "Int64", "name": "string", "area_km2": "float64",
         "cen_e": "float64", "cen_n": "float64", "population_wikipedia": "Int64",
         "population_join": "string"},
        "na_mid",
    )  # fmt: skip
    if rows["population_wikipedia"].isna().any() or (rows["population_wikipedia"] < 0).any():
        row = rows.index[rows["population_wikipedia"].isna() | (rows["population_wikipedia"] < 0)]
        raise DataFileError(f"{path}: row {row[0]}: population must be a whole number ≥ 0")
    frame = rows[["na_mid", "na_id", "name", "population_join"]].assign(
        official_area_km2=rows["area_km2"],
        population=rows["population_wikipedia"],
        population_source="Wikipedia (sl), Seznam naselij v Sloveniji (2021-08-20 scrape)",
        geom=points_d96(rows, path),
    )
    return _provenance(frame, "settlements")


def streets(data_dir: Path) -> pd.DataFrame:
    """Build the street names (no geometry)."""
    path = _path(data_dir, "streets")
    rows = read_table(
        path,
        {"ul_mid": "Int64", "ul_id": "Int64", "name": "string", "na_mid": "Int64",
         "settlement": "string", "valid_from": "string"},
        "ul_mid",
    )  # fmt: skip
    return _provenance(rows.assign(valid_from=_dates(rows["valid_from"], path)), "streets")


def _osm(
    data_dir: Path,
    name: str,
    geom_types: set[str],
    columns: list[str],
    integers: tuple[str, ...] = (),
) -> pd.DataFrame:
    gdf = _features(data_dir, name, "osm_id", geom_types, columns, ("osm_id", *integers))
    frame = pd.DataFrame(gdf[columns]).assign(geom=gdf.geometry.values)
    return _provenance(frame, name)


def roads(data_dir: Path) -> pd.DataFrame:
    """Build the OSM ways used by the bus routes."""
    cols = ["osm_id", "highway", "name", "ref", "maxspeed", "lanes", "surface", "lit", "oneway"]
    return _osm(data_dir, "roads", {"LineString"}, cols)


def bus_routes(data_dir: Path) -> pd.DataFrame:
    """Build the Marprom bus route relations."""
    cols = ["osm_id", "ref", "name", "from", "to", "operator", "network", "n_stops", "n_ways",
            "stop_osm_ids"]  # fmt: skip
    frame = _osm(data_dir, "bus_routes", {"MultiLineString", "LineString"}, cols,
                 ("n_stops", "n_ways"))  # fmt: skip
    frame["geom"] = _as_multi(gpd.GeoSeries(frame["geom"])).values
    return frame.rename(columns={"from": "from_stop", "to": "to_stop"})


def bus_stops(data_dir: Path) -> pd.DataFrame:
    """Build the bus stops with every OSM tag kept in ``tags``."""
    gdf = _features(data_dir, "bus_stops", "osm_id", {"Point"},
                    ["n_routes_osm2025", "route_refs_osm2025"],
                    ("osm_id", "n_routes_osm2025"))  # fmt: skip
    tag_cols = [c for c in gdf.columns if c not in {"osm_id", "geometry", "n_routes_osm2025",
                                                    "route_refs_osm2025"}]  # fmt: skip
    frame = pd.DataFrame(
        {
            "osm_id": gdf["osm_id"],
            "name": gdf.get("name"),
            "n_routes": gdf["n_routes_osm2025"].fillna(0),
            "route_refs": gdf["route_refs_osm2025"],
            "tags": _json(pd.DataFrame(gdf[tag_cols])),
            "geom": gdf.geometry.values,
        }
    )
    return _provenance(frame, "bus_stops")


def pois(data_dir: Path) -> pd.DataFrame:
    """Build the OSM points of interest (2019)."""
    cols = ["osm_id", "name", "name_en", "name_de", "key", "value", "population",
            "in_coarse_polygon"]  # fmt: skip
    return _osm(data_dir, "pois", {"Point"}, cols, ("population",))


_SCHOOL_KIND = {"PV": "kindergarten"}


def facilities(data_dir: Path) -> pd.DataFrame:
    """Build schools, kindergartens, care homes and polling stations as one table."""
    parts = []
    gdf = _features(data_dir, "schools", "zavid", {"Point"},
                    ["type", "name", "address", "post", "post_office", "municipality"])  # fmt: skip
    attrs = pd.DataFrame(gdf.drop(columns=["geometry", "type", "name", "address", "municipality"]))
    parts.append(
        _provenance(
            pd.DataFrame({
                "id": "school:" + gdf["zavid"].astype(str),
                "kind": gdf["type"].map(_SCHOOL_KIND).fillna("school"),
                "subtype": gdf["type"], "name": gdf["name"],
                "address": gdf["address"] + ", " + gdf["post"].astype(str) + " "
                           + gdf["post_office"],
                "attrs": _json(attrs), "geom": gdf.geometry.values,
            }),
            "schools",
        )
    )  # fmt: skip
    gdf = _features(data_dir, "care_homes", "id", {"Point"}, ["name", "type"])
    attrs = pd.DataFrame(gdf.drop(columns=["geometry", "id", "name"]))
    parts.append(
        _provenance(
            pd.DataFrame({
                "id": "care_home:" + gdf["id"].astype(str), "kind": "care_home",
                "subtype": gdf["type"], "name": gdf["name"], "address": None,
                "attrs": _json(attrs), "geom": gdf.geometry.values,
            }),
            "care_homes",
        )
    )  # fmt: skip
    gdf = _features(data_dir, "polling_stations", "d34_mid", {"Point"},
                    ["d34_uime", "address", "n8", "description", "n_statistical_units"],
                    ("d34_mid",))  # fmt: skip
    attrs = pd.DataFrame(gdf[["d34_mid", "n8", "description", "n_statistical_units"]])
    parts.append(
        _provenance(
            pd.DataFrame({
                "id": "polling_station:" + gdf["d34_mid"].astype(str), "kind": "polling_station",
                "subtype": None, "name": gdf["d34_uime"], "address": gdf["address"],
                "attrs": _json(attrs), "geom": gdf.geometry.values,
            }),
            "polling_stations",
        )
    )  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def monitoring_stations(data_dir: Path) -> pd.DataFrame:
    """Build the ARSO stations listed in the sample hourly XML."""
    path = _path(data_dir, "arso_stations")
    stations = arso.read_stations(path)
    frame = stations[["code", "name", "altitude_m", "pollutants"]].assign(
        network="ARSO", geom=points_d96(stations, path, "e", "n", SLOVENIA_FRAME_D96).values
    )
    return _provenance(frame, "arso_stations")


def check_references(data_dir: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Refuse rows that point at a district or settlement that is not loaded.

    Raises
    ------
    DataFileError
        Naming the file, the row's key and the unknown reference.
    """
    checks = (
        ("statistical_units", "po_mid", "district_id", "districts", "id"),
        ("statistical_units", "po_mid", "na_mid", "settlements", "na_mid"),
        ("streets", "ul_mid", "na_mid", "settlements", "na_mid"),
    )
    for table, key, column, target, target_key in checks:
        frame = frames[table]
        orphan = ~frame[column].isin(frames[target][target_key])
        if orphan.any():
            row = frame[orphan].iloc[0]
            dataset = str(row[DATASET_COLUMN]).split(",", 1)[0]
            raise DataFileError(
                f"{data_dir / BY_NAME[dataset].file}: {key} {row[key]}: {column} {row[column]} "
                f"is not in {target}"
            )


#: Target table -> builder, in load order.
BUILDERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "municipality": municipality,
    "statistical_units": statistical_units,
    "districts": districts,
    "settlements": settlements,
    "streets": streets,
    "roads": roads,
    "bus_routes": bus_routes,
    "bus_stops": bus_stops,
    "pois": pois,
    "facilities": facilities,
    "monitoring_stations": monitoring_stations,
}
