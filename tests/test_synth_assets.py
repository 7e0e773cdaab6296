"""``twin synth``: the generated asset register (telecom, amenities, traffic lights, brownfields,
sensors) on a thin slice (scale 0.1) of the real Maribor.

The module fixture synthesises its own city and snapshots what the tests look at straight
away, so other test modules writing the same database do not matter.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twin import db
from twin.synth._common import OSM_LICENCE, OSM_SOURCE
from twin.synth._context import LICENCE, SOURCE
from twin.synth.city import synthesize

SCALE = 0.1
#: Plausible row counts per class at scale 0.1 (real OSM seeds are kept whole).
COUNTS = {
    "mobile_site": (55, 120), "fiber_segment": (1_000, 20_000), "fiber_access_node": (50, 1_500),
    "waste_container": (120, 280), "parking_lot": (60, 300), "ev_charger": (20, 150),
    "traffic_light": (2, 20), "brownfield": (1, 6), "air_quality_sensor": (2, 6),
    "noise_sensor": (1, 4), "traffic_counter": (1, 6), "parking_sensor": (5, 200),
    "fill_level_sensor": (5, 80),
}  # fmt: skip
CLASSES = tuple(COUNTS)
#: Attribute -> Python type(s) its JSON value must have, per class (None allowed where listed).
TYPES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "mobile_site": {"operator": str, "technologies": list, "bands": list, "sectors": int,
                    "azimuths_deg": list, "antenna_height_m": float, "mounting": str,
                    "commissioned_year": int, "upgraded_5g_year": (int, type(None)),
                    "osm_id": (int, type(None))},
    "fiber_segment": {"kind": str, "fibre_count": int, "year": int, "operator": str,
                      "laying": str, "length_m": float},
    "fiber_access_node": {"kind": str, "ports": int, "premises_connected": int,
                          "splitter_ratio": str, "year": int},
    "waste_container": {"fraction": str, "volume_l": int, "emptying_days": int,
                        "recycling_point": str},
    "parking_lot": {"capacity": int, "type": str, "levels": int, "paid": bool,
                    "accessible_spaces": int, "area_m2": float, "osm_id": (int, type(None))},
    "ev_charger": {"connectors": list, "charging_points": int, "power_kw": float,
                   "current": str, "operator": str, "year": int, "public": bool,
                   "osm_id": (int, type(None))},
    "traffic_light": {"smart": bool, "install_year": int, "pedestrian_buttons": bool,
                      "acoustic_signals": bool, "signal_heads": int, "controller": str},
    "brownfield": {"area_ha": float, "status": str, "contamination": str, "ownership": str,
                   "planned_reuse": str, "former_use": str, "vacant_since": int},
    "air_quality_sensor": {"model": str, "pollutants": list, "owner": str, "install_year": int},
    "noise_sensor": {"model": str, "iec_61672_class": int, "install_year": int},
    "traffic_counter": {"lanes": int, "direction": str, "technology": str, "install_year": int},
    "parking_sensor": {"parking_lot_id": str, "spaces_monitored": int, "technology": str},
    "fill_level_sensor": {"container_id": str, "fraction": str, "install_year": int},
}  # fmt: skip
#: Allowed values of the categorical attributes.
VALUES = {
    ("mobile_site", "operator"): {"Telekom Slovenije", "A1 Slovenija", "Telemach"},
    ("mobile_site", "mounting"): {"rooftop", "mast", "tower"},
    ("fiber_segment", "kind"): {"trunk", "distribution"},
    ("waste_container", "fraction"): {"mixed", "paper", "packaging", "glass", "bio"},
    ("parking_lot", "type"): {"surface", "underground", "multi-storey"},
    ("brownfield", "status"): {"abandoned", "partly used", "in remediation"},
    ("brownfield", "contamination"): {"none", "suspected", "confirmed"},
    ("brownfield", "ownership"): {"municipal", "state", "private"},
    ("traffic_counter", "direction"): {"both", "inbound", "outbound"},
}
#: The OSM features each class is seeded from; how far (m) a parking lot may move off its node.
OSM_VALUES = {"mobile_site": {"mast", "tower", "communications_tower"},
              "parking_lot": {"parking"}, "ev_charger": {"charging_station"}}  # fmt: skip
LOT_SHIFT_M = 45.0
MAIN = "('primary', 'primary_link', 'secondary', 'secondary_link', 'tertiary', 'tertiary_link')"


def query(url: str, text: str) -> list[tuple]:
    with db.connect(url) as conn:
        return conn.execute(text).fetchall()


def class_hashes(url: str) -> dict[str, str]:
    """Content hash of every class's rows (ids, attributes, geometry, provenance)."""
    rows = query(
        url,
        "SELECT class, md5(string_agg(id || attrs::text || ST_AsEWKT(geom) || source, '|' "
        "ORDER BY id)) FROM twin.assets WHERE synthetic GROUP BY class",
    )
    return {c: h for c, h in rows if c in CLASSES}


def snapshot(url: str) -> dict:
    """Everything the tests check, read right after synthesising."""
    classes = "(" + ", ".join(f"'{c}'" for c in CLASSES) + ")"
    return {
        "rows": query(
            url,
            "SELECT id, class, attrs, source, licence, synthetic, generator, seed, "
            f"GeometryType(geom) FROM twin.assets WHERE class IN {classes}",
        ),
        "outside": query(
            url,
            "SELECT count(*) FROM twin.assets a, twin.municipality m "
            f"WHERE a.class IN {classes} AND NOT ST_CoveredBy(a.geom, m.geom)",
        )[0][0],
        "polygon_clashes": query(
            url,
            "SELECT a.id, 'building' FROM twin.assets a JOIN twin.buildings b "
            "ON ST_Intersects(a.geom, b.geom) WHERE GeometryType(a.geom) = 'POLYGON' "
            "UNION ALL SELECT a.id, 'road' FROM twin.assets a JOIN twin.roads r "
            "ON ST_Intersects(a.geom, r.geom) WHERE GeometryType(a.geom) = 'POLYGON' "
            "UNION ALL SELECT a.id, 'street' FROM twin.assets a JOIN twin.local_streets s "
            "ON ST_Intersects(a.geom, s.geom) WHERE GeometryType(a.geom) = 'POLYGON' "
            "UNION ALL SELECT a.id, b.id FROM twin.assets a JOIN twin.assets b ON a.id < b.id "
            "AND ST_Intersects(a.geom, b.geom) WHERE GeometryType(a.geom) = 'POLYGON' "
            "AND GeometryType(b.geom) = 'POLYGON'",
        ),
        "osm": query(
            url,
            "SELECT a.class, (a.attrs->>'osm_id')::bigint, p.key, p.value, "
            "ST_Distance(a.geom, p.geom) FROM twin.assets a "
            "LEFT JOIN twin.pois p ON p.osm_id = (a.attrs->>'osm_id')::bigint "
            "WHERE a.source LIKE 'OpenStreetMap%'",
        ),
        "fiber": query(
            url,
            "SELECT d.name, b.fiber, count(*) FROM twin.buildings b "
            "JOIN twin.districts d ON d.id = b.district_id GROUP BY 1, 2",
        ),
        "ftth_far": query(
            url,
            "SELECT count(*) FROM twin.buildings b WHERE b.fiber = 'ftth' AND NOT EXISTS ("
            "SELECT 1 FROM twin.assets f WHERE f.class = 'fiber_segment' "
            "AND f.attrs->>'kind' = 'distribution' AND ST_DWithin(f.geom, b.geom, 60))",
        )[0][0],
        "links": query(
            url,
            "SELECT s.class, t.id IS NOT NULL, ST_DWithin(s.geom, t.geom, 0.01) "
            "FROM twin.assets s LEFT JOIN twin.assets t "
            "ON t.id = coalesce(s.attrs->>'container_id', s.attrs->>'parking_lot_id') "
            "WHERE s.class IN ('fill_level_sensor', 'parking_sensor', 'ev_charger') "
            "AND (s.attrs ? 'container_id' OR s.attrs->>'parking_lot_id' IS NOT NULL)",
        ),
        "near_station": query(
            url,
            "SELECT count(*) FROM twin.assets a JOIN twin.monitoring_stations s "
            "ON ST_DWithin(a.geom, s.geom, 300) WHERE a.class = 'air_quality_sensor'",
        )[0][0],
        "lights_off_junction": query(
            url,
            "SELECT count(*) FROM twin.assets a WHERE a.class = 'traffic_light' AND ("
            "SELECT count(*) FROM twin.roads r WHERE ST_DWithin(r.geom, a.geom, 0.5) "
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
        "hashes": class_hashes(url),
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


def by_class(assets: dict, asset_class: str) -> list[tuple]:
    return [r for r in assets["rows"] if r[1] == asset_class]


@pytest.mark.parametrize("asset_class", CLASSES)
def test_each_class_has_a_plausible_count(assets: dict, asset_class: str) -> None:
    low, high = COUNTS[asset_class]
    assert low <= len(by_class(assets, asset_class)) <= high


@pytest.mark.parametrize("asset_class", CLASSES)
def test_attributes_are_typed_and_valid(assets: dict, asset_class: str) -> None:
    for _, _, attrs, *_ in by_class(assets, asset_class):
        for key, kind in TYPES[asset_class].items():
            assert is_a(attrs.get(key), kind), (asset_class, key, attrs)
        for (cls, key), allowed in VALUES.items():
            if cls == asset_class:
                assert attrs[key] in allowed


def test_attribute_values_are_realistic(assets: dict) -> None:
    sites = [a for _, _, a, *_ in by_class(assets, "mobile_site")]
    assert all("4G" in s["technologies"] and set(s["technologies"]) <= {"4G", "5G"} for s in sites)
    assert all(len(s["azimuths_deg"]) == s["sectors"] for s in sites)
    assert all(5 <= s["antenna_height_m"] <= 60 for s in sites)
    assert any("5G" in s["technologies"] for s in sites)
    assert all(0.5 <= a["area_ha"] <= 8 for _, _, a, *_ in by_class(assets, "brownfield"))
    assert all(a["capacity"] >= 1 for _, _, a, *_ in by_class(assets, "parking_lot"))
    sensors = by_class(assets, "air_quality_sensor")
    assert all({"pm10", "pm2.5"} <= set(a["pollutants"]) for _, _, a, *_ in sensors)
    lights = [a for _, _, a, *_ in by_class(assets, "traffic_light")]
    assert all(1970 < a["install_year"] <= 2025 for a in lights)


def test_rows_are_labelled_synthetic_with_generator_and_seed(assets: dict) -> None:
    for _, cls, _, source, licence, synthetic, generator, seed, _ in assets["rows"]:
        assert synthetic, cls
        assert generator, cls
        assert seed == 1, cls
        assert (source, licence) in {(SOURCE, LICENCE), (OSM_SOURCE, OSM_LICENCE)}


def test_geometry_types(assets: dict) -> None:
    expected = {"fiber_segment": "LINESTRING", "parking_lot": "POLYGON", "brownfield": "POLYGON"}
    for _, cls, *_, geometry_type in assets["rows"]:
        assert geometry_type == expected.get(cls, "POINT"), cls


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
    generated = [a for _, c, a, s, *_ in assets["rows"] if c == "mobile_site" and s == SOURCE]
    assert generated
    assert all(a["osm_id"] is None for a in generated)


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
    assert {cls for cls, *_ in links} == {"fill_level_sensor", "parking_sensor", "ev_charger"}
    assert all(exists and touching for _, exists, touching in links)


def test_real_arso_stations_are_not_duplicated(assets: dict) -> None:
    assert assets["near_station"] == 0


def test_traffic_lights_stand_at_main_road_junctions(assets: dict) -> None:
    assert assets["lights_off_junction"] == 0


def test_same_seed_same_assets_other_seed_different(
    assets: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url, rasters = assets["url"], tmp_path_factory.mktemp("again")
    synthesize(seed=2, scale=SCALE, url=url, raster_dir=rasters)
    other = class_hashes(url)
    synthesize(seed=1, scale=SCALE, url=url, raster_dir=Path(rasters))
    again = class_hashes(url)
    assert again == assets["hashes"]
    assert set(again) == set(CLASSES)
    assert all(other[c] != again[c] for c in CLASSES)
