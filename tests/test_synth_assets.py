"""``twin synth``: the generated asset register (telecom, amenities, traffic lights, brownfields,
sensors) on a thin slice (scale 0.1) of the real Maribor.

The module fixture synthesises its own city and snapshots what the tests look at straight
away, so other test modules writing the same database do not matter. Real rows that other
tests put into the register (ARSO stations as sensors, surveyed lamps) are told apart from the
generated ones by carrying neither the synthetic flag nor a generator.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.rows import dict_row

from twin import db
from twin.register.catalog import LIST_SEPARATOR
from twin.synth._common import OSM_LICENCE, OSM_SOURCE
from twin.synth._context import LICENCE, SOURCE
from twin.synth.city import synthesize

SCALE = 0.1
#: Plausible row counts at scale 0.1 (real OSM seeds are kept whole), per register class and,
#: for class ``sensor``, per ``kind`` ("sensor/<kind>").
COUNTS = {
    "mobile_site": (55, 120), "fiber_segment": (1_000, 20_000), "fiber_node": (50, 1_500),
    "waste_container": (120, 280), "parking_lot": (60, 300), "ev_charger": (20, 150),
    "traffic_light": (2, 20), "brownfield": (1, 6), "sensor/air_quality": (2, 6),
    "sensor/noise": (1, 4), "sensor/traffic_count": (1, 6), "sensor/parking_occupancy": (5, 200),
    "sensor/fill_level": (5, 80),
}  # fmt: skip
GROUPS = tuple(COUNTS)
#: Register classes the groups belong to.
CLASSES = tuple(dict.fromkeys(g.partition("/")[0] for g in GROUPS))
#: Attribute -> Python type(s) of its column value, per group (None allowed where listed).
#: ``list`` attributes are text columns, read back split at the list separator.
TYPES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "mobile_site": {"operator": str, "technologies": list, "bands": list, "sectors": int,
                    "azimuths_deg": list, "antenna_height_m": float, "mounting": str,
                    "commissioned_year": int, "upgraded_5g_year": (int, type(None)),
                    "osm_id": (int, type(None))},
    "fiber_segment": {"kind": str, "fibre_count": int, "year": int, "operator": str,
                      "laying": str},
    "fiber_node": {"kind": str, "ports": int, "premises_connected": int,
                   "splitter_ratio": str, "year": int, "operator": str},
    "waste_container": {"fraction": str, "volume_l": int, "emptying_days": int,
                        "recycling_point": str},
    "parking_lot": {"capacity": int, "type": str, "levels": int, "paid": bool,
                    "accessible_spaces": int, "osm_id": (int, type(None))},
    "ev_charger": {"connectors": list, "charging_points": int, "power_kw": float,
                   "current": str, "operator": str, "year": int, "public": bool,
                   "osm_id": (int, type(None))},
    "traffic_light": {"smart": bool, "install_year": int, "pedestrian_buttons": bool,
                      "acoustic_signals": bool, "signal_heads": int, "controller": str},
    "brownfield": {"area_ha": float, "status": str, "contamination": str, "ownership": str,
                   "planned_reuse": str, "former_use": str, "vacant_since": int},
    "sensor/air_quality": {"model": str, "observed_properties": list, "owner": str,
                           "install_year": int},
    "sensor/noise": {"model": str, "iec_61672_class": int, "install_year": int,
                     "observed_properties": list},
    "sensor/traffic_count": {"lanes": int, "direction": str, "technology": str,
                             "install_year": int, "observed_properties": list},
    "sensor/parking_occupancy": {"parent_id": str, "spaces_monitored": int, "technology": str,
                                 "observed_properties": list},
    "sensor/fill_level": {"parent_id": str, "install_year": int, "observed_properties": list},
}  # fmt: skip
#: SQL type of the column behind each Python type above.
SQL_TYPES = {int: "bigint", float: "double precision", bool: "boolean", str: "text", list: "text"}
#: Allowed values of the categorical attributes.
VALUES = {
    ("mobile_site", "operator"): {"Telekom Slovenije", "A1 Slovenija", "Telemach"},
    ("mobile_site", "mounting"): {"rooftop", "mast", "tower"},
    ("fiber_segment", "kind"): {"trunk", "distribution"},
    ("fiber_node", "kind"): {"street_cabinet"},
    ("waste_container", "fraction"): {"mixed", "paper", "packaging", "glass", "bio"},
    ("parking_lot", "type"): {"surface", "underground", "multi-storey"},
    ("brownfield", "status"): {"abandoned", "partly used", "in remediation"},
    ("brownfield", "contamination"): {"none", "suspected", "confirmed"},
    ("brownfield", "ownership"): {"municipal", "state", "private"},
    ("sensor/traffic_count", "direction"): {"both", "inbound", "outbound"},
}
#: The OSM features each class is seeded from; how far (m) a parking lot may move off its node.
OSM_VALUES = {"mobile_site": {"mast", "tower", "communications_tower"},
              "parking_lot": {"parking"}, "ev_charger": {"charging_station"}}  # fmt: skip
LOT_SHIFT_M = 45.0
MAIN = "('primary', 'primary_link', 'secondary', 'secondary_link', 'tertiary', 'tertiary_link')"
#: Rows ``twin synth`` wrote (or should have labelled as such): real rows have neither.
GENERATED = "(t.synthetic OR t.generator IS NOT NULL)"
#: Every generated asset of the classes above: class, id, parent, source, geometry.
ASSETS = "(" + " UNION ALL ".join(
    f"SELECT '{c}'::text AS class, t.id, t.parent_id, t.source, t.geom::geometry AS geom "
    f"FROM register.{c} t WHERE {GENERATED}" for c in CLASSES
) + ")"  # fmt: skip


def query(url: str, text: str) -> list[tuple]:
    with db.connect(url) as conn:
        return conn.execute(text).fetchall()


def group_of(asset_class: str) -> str:
    """SQL expression naming the group of a row ``t`` of ``asset_class``."""
    return "'sensor/' || t.kind" if asset_class == "sensor" else f"'{asset_class}'"


def group_hashes(url: str) -> dict[str, str]:
    """Content hash of every group's synthetic rows (ids, attributes, geometry, provenance).

    The bookkeeping columns and the seed are left out, so two seeds differ only if their
    content does.
    """
    left_out = "ARRAY['version', 'changed_by', 'changed_at', 'change_reason', 'seed', 'geom']"
    rows = [
        row
        for c in CLASSES
        for row in query(
            url,
            f"SELECT {group_of(c)}, md5(string_agg((to_jsonb(t) - {left_out})::text "
            f"|| ST_AsEWKT(t.geom), '|' ORDER BY t.id)) FROM register.{c} t "
            "WHERE t.synthetic GROUP BY 1",
        )
    ]
    return dict(rows)


def generated_rows(url: str) -> list[dict]:
    """Every generated row of the classes, as a dict of its columns (without geom) and group.

    List attributes are split into Python lists; ``geometry_type`` is the geometry's type.
    """
    lists = {(g, a) for g, types in TYPES.items() for a, kind in types.items() if kind is list}
    rows = []
    with db.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        for c in CLASSES:
            cur.execute(
                f'SELECT t.*, {group_of(c)} AS "group", GeometryType(t.geom) AS geometry_type '
                f"FROM register.{c} t WHERE {GENERATED}"
            )
            for row in cur.fetchall():
                del row["geom"]
                row["class"] = c
                for group, name in lists:
                    if group == row["group"] and row[name] is not None:
                        row[name] = row[name].split(LIST_SEPARATOR) if row[name] else []
                rows.append(row)
    return rows


def snapshot(url: str) -> dict:
    """Everything the tests check, read right after synthesising."""
    return {
        "rows": generated_rows(url),
        "columns": {
            (table, column): data_type
            for table, column, data_type in query(
                url,
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'register'",
            )
        },
        "outside": query(
            url,
            f"SELECT count(*) FROM {ASSETS} a, twin.municipality m "
            "WHERE NOT ST_CoveredBy(a.geom, m.geom)",
        )[0][0],
        "polygon_clashes": query(
            url,
            f"WITH a AS (SELECT * FROM {ASSETS} x WHERE GeometryType(x.geom) = 'POLYGON') "
            "SELECT a.id, 'building' FROM a JOIN register.building b "
            "ON ST_Intersects(a.geom, b.geom) "
            "UNION ALL SELECT a.id, 'road' FROM a JOIN twin.roads r "
            "ON ST_Intersects(a.geom, r.geom) "
            "UNION ALL SELECT a.id, 'street' FROM a JOIN twin.local_streets s "
            "ON ST_Intersects(a.geom, s.geom) "
            "UNION ALL SELECT a.id, b.id FROM a JOIN a b ON a.id < b.id "
            "AND ST_Intersects(a.geom, b.geom)",
        ),
        # Every OSM-positioned row of any class, with the OSM id of the classes that have one.
        "osm": query(
            url,
            "SELECT a.class, o.osm_id, p.key, p.value, ST_Distance(a.geom, p.geom) "
            "FROM register.assets a LEFT JOIN ("
            "SELECT 'mobile_site' AS class, id, osm_id FROM register.mobile_site UNION ALL "
            "SELECT 'parking_lot', id, osm_id FROM register.parking_lot UNION ALL "
            "SELECT 'ev_charger', id, osm_id FROM register.ev_charger) o USING (class, id) "
            "LEFT JOIN twin.pois p ON p.osm_id = o.osm_id "
            "WHERE a.source LIKE 'OpenStreetMap%'",
        ),
        "fiber": query(
            url,
            "SELECT d.name, b.fiber, count(*) FROM register.building b "
            "JOIN twin.districts d ON d.id = b.district_id GROUP BY 1, 2",
        ),
        "ftth_far": query(
            url,
            "SELECT count(*) FROM register.building b WHERE b.fiber = 'ftth' AND NOT EXISTS ("
            "SELECT 1 FROM register.fiber_segment f WHERE f.kind = 'distribution' "
            "AND ST_DWithin(f.geom, b.geom, 60))",
        )[0][0],
        # Sensors on parking lots and containers, and chargers on lots: what they are mounted on.
        "links": query(
            url,
            "SELECT s.what, p.class, ST_DWithin(s.geom, p.geom, 0.01) FROM ("
            "SELECT t.kind AS what, t.parent_id, t.geom FROM register.sensor t "
            f"WHERE {GENERATED} AND t.kind IN ('fill_level', 'parking_occupancy') UNION ALL "
            "SELECT 'ev_charger', t.parent_id, t.geom FROM register.ev_charger t "
            f"WHERE {GENERATED} AND t.parent_id IS NOT NULL"
            ") s LEFT JOIN register.assets p ON p.id = s.parent_id",
        ),
        "near_station": query(
            url,
            "SELECT count(*) FROM register.sensor t JOIN twin.monitoring_stations s "
            f"ON ST_DWithin(t.geom, s.geom, 300) WHERE t.kind = 'air_quality' AND {GENERATED}",
        )[0][0],
        "lights_off_junction": query(
            url,
            f"SELECT count(*) FROM register.traffic_light t WHERE {GENERATED} AND ("
            "SELECT count(*) FROM twin.roads r WHERE ST_DWithin(r.geom, t.geom, 0.5) "
            f"AND r.highway IN {MAIN}) < 2",
        )[0][0],
        "real_osm": dict(
            query(
                url,
                "SELECT p.value, count(*) FROM twin.pois p, twin.municipality m "
                "WHERE p.value IN ('mast', 'tower', 'communications_tower', 'charging_station') "
                "AND p.key IN ('man_made', 'amenity') AND ST_Contains(m.geom, p.geom) GROUP BY 1",
            )
        ),
        "hashes": group_hashes(url),
    }


@pytest.fixture(scope="module")
def assets(loaded: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A thin synthetic city (seed 1) and a snapshot of its assets."""
    synthesize(seed=1, scale=SCALE, url=loaded, raster_dir=tmp_path_factory.mktemp("r"))
    return {"url": loaded, **snapshot(loaded)}


def is_a(value: object, kind: type | tuple[type, ...]) -> bool:
    """isinstance, except that a boolean is not an int."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return bool in kinds if isinstance(value, bool) else isinstance(value, kinds)


def by_group(assets: dict, group: str) -> list[dict]:
    return [r for r in assets["rows"] if r["group"] == group]


@pytest.mark.parametrize("group", GROUPS)
def test_each_class_has_a_plausible_count(assets: dict, group: str) -> None:
    low, high = COUNTS[group]
    assert low <= len(by_group(assets, group)) <= high


def test_no_other_kinds_of_sensor(assets: dict) -> None:
    assert {r["group"] for r in assets["rows"]} == set(GROUPS)


@pytest.mark.parametrize("group", GROUPS)
def test_attributes_are_typed_and_valid(assets: dict, group: str) -> None:
    asset_class = group.partition("/")[0]
    for key, kind in TYPES[group].items():
        kinds = kind if isinstance(kind, tuple) else (kind,)
        sql_type = next(SQL_TYPES[k] for k in kinds if k is not type(None))
        assert assets["columns"][(asset_class, key)] == sql_type, (group, key)
    for row in by_group(assets, group):
        for key, kind in TYPES[group].items():
            assert is_a(row[key], kind), (group, key, row)
            if kind is list:
                assert all(row[key]), (group, key, row)  # no empty items
        for (grp, key), allowed in VALUES.items():
            if grp == group:
                assert row[key] in allowed, (group, key, row)


def test_attribute_values_are_realistic(assets: dict) -> None:
    sites = by_group(assets, "mobile_site")
    assert all("4G" in s["technologies"] and set(s["technologies"]) <= {"4G", "5G"} for s in sites)
    assert all(len(s["azimuths_deg"]) == s["sectors"] for s in sites)
    assert all(5 <= s["antenna_height_m"] <= 60 for s in sites)
    assert any("5G" in s["technologies"] for s in sites)
    assert all(0.5 <= a["area_ha"] <= 8 for a in by_group(assets, "brownfield"))
    assert all(a["capacity"] >= 1 for a in by_group(assets, "parking_lot"))
    sensors = by_group(assets, "sensor/air_quality")
    assert all({"pm10", "pm2.5"} <= set(a["observed_properties"]) for a in sensors)
    counted = {
        "sensor/noise": {"LAeq", "LAmax", "LAmin"},
        "sensor/traffic_count": {"vehicle_count"},
        "sensor/parking_occupancy": {"occupancy"},
        "sensor/fill_level": {"fill_level"},
    }
    for group, observed in counted.items():
        assert all(set(a["observed_properties"]) == observed for a in by_group(assets, group))
    lights = by_group(assets, "traffic_light")
    assert all(1970 < a["install_year"] <= 2025 for a in lights)


def test_rows_are_labelled_synthetic_with_generator_and_seed(assets: dict) -> None:
    for row in assets["rows"]:
        assert row["synthetic"], row["id"]
        assert row["generator"], row["id"]
        assert row["seed"] == 1, row["id"]
        assert row["state"] == "active", row["id"]
        assert (row["source"], row["licence"]) in {(SOURCE, LICENCE), (OSM_SOURCE, OSM_LICENCE)}
        assert row["id"].startswith(row["class"] + ":"), row["id"]


def test_geometry_types(assets: dict) -> None:
    expected = {"fiber_segment": "LINESTRING", "parking_lot": "POLYGON", "brownfield": "POLYGON"}
    for row in assets["rows"]:
        assert row["geometry_type"] == expected.get(row["class"], "POINT"), row["id"]


def test_every_asset_lies_inside_the_municipality(assets: dict) -> None:
    assert assets["outside"] == 0


def test_polygon_assets_overlap_no_building_road_or_each_other(assets: dict) -> None:
    assert assets["polygon_clashes"] == []


def test_osm_seeded_rows_keep_their_real_ids_and_positions(assets: dict) -> None:
    osm = assets["osm"]
    assert {r[0] for r in osm} == {"mobile_site", "parking_lot", "ev_charger"}
    for cls, osm_id, key, value, distance in osm:
        assert osm_id is not None, cls
        assert key is not None, (cls, osm_id)  # the id is a real OSM feature
        assert value in OSM_VALUES[cls], (cls, osm_id)
        # Masts and chargers stay at the real node; a lot is moved clear of buildings.
        assert distance < (LOT_SHIFT_M if cls == "parking_lot" else 0.01), (cls, osm_id)
    real = assets["real_osm"]
    masts = real.get("mast", 0) + real.get("tower", 0) + real.get("communications_tower", 0)
    assert sum(r[0] == "mobile_site" for r in osm) == masts
    assert sum(r[0] == "ev_charger" for r in osm) == real["charging_station"]
    generated = [r for r in by_group(assets, "mobile_site") if r["source"] == SOURCE]
    assert generated
    assert all(r["osm_id"] is None for r in generated)


def test_buildings_get_fiber_mostly_ftth_in_the_core(assets: dict) -> None:
    counts: dict[str, dict[str, int]] = {}
    for district, fiber, count in assets["fiber"]:
        counts.setdefault(district, {})[fiber] = count
    total = {v: sum(c.get(v, 0) for c in counts.values()) for v in ("ftth", "other", "none")}
    assert all(total.values())
    assert total["ftth"] > total["other"] + total["none"]
    centre = counts["Center"]
    assert centre.get("ftth", 0) / sum(centre.values()) > 0.7
    assert assets["ftth_far"] == 0  # FTTH only within reach of a distribution cable


def test_sensors_sit_on_the_assets_they_monitor(assets: dict) -> None:
    links = assets["links"]
    assert {what for what, *_ in links} == {"fill_level", "parking_occupancy", "ev_charger"}
    parent = {"fill_level": "waste_container", "parking_occupancy": "parking_lot",
              "ev_charger": "parking_lot"}  # fmt: skip
    for what, parent_class, touching in links:
        assert parent_class == parent[what], what  # the parent exists and is of the right class
        assert touching, what


def test_real_arso_stations_are_not_duplicated(assets: dict) -> None:
    assert assets["near_station"] == 0


def test_traffic_lights_stand_at_main_road_junctions(assets: dict) -> None:
    assert assets["lights_off_junction"] == 0


def test_same_seed_same_assets_other_seed_different(
    assets: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url, rasters = assets["url"], tmp_path_factory.mktemp("again")
    synthesize(seed=2, scale=SCALE, url=url, raster_dir=rasters)
    other = group_hashes(url)
    synthesize(seed=1, scale=SCALE, url=url, raster_dir=Path(rasters))
    again = group_hashes(url)
    assert again == assets["hashes"]
    assert set(again) == set(GROUPS)
    assert all(other[g] != again[g] for g in GROUPS)
