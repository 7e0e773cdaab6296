"""The 3D twin (Map page): the scene built from the catalog, its files, and the page in chromium."""

from __future__ import annotations

import html
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from PIL import Image

# the browser fixtures and the app server of the app tests (one way to drive chromium)
from test_app import DECK, Visit, _serve, browser, visit  # noqa: F401

from twin.coverage import measure
from twin.coverage.gaps import gaps
from twin.districts import district_frame, municipality_frame
from twin.kpi import Result, load_catalog
from twin.register import store
from twin.scene.catalog import Colouring, catalog
from twin.scene.city import (
    build_scene,
    camera,
    deck_layer,
    presets,
    scene_deck,
    scene_layers,
    with_live,
)
from twin.scene.explore import describe, export_geojson, search
from twin.scene.kpi import CHOROPLETH
from twin.scene.layerdata import codes, colour_expression, tile_xy
from twin.scene.overlays import Overlay, coverage_overlay, district_values, kpi_overlay
from twin.scene.static import STATIC_URL
from twin.synth.city import synthesize

XSS = "<img src=x onerror=alert(1)>"
SCALE = 0.05
CENTRE = "Centre (street level)"


def _square(lon: float, lat: float, half_m: float = 9.0) -> shapely.Polygon:
    dlat = half_m / 111_320
    dlon = dlat / np.cos(np.radians(lat))
    return shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


@pytest.fixture(scope="module")
def city(loaded: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A thin synthetic city and a tall building named with markup, before and after."""
    synthesize(seed=1, scale=SCALE, url=loaded, raster_dir=tmp_path_factory.mktemp("rasters"))
    before = store.list_assets("building", url=loaded)["changed_at"].max()
    # the tower stands in the middle of the centre's street-level view
    west, south, east, north = presets(district_frame(loaded), municipality_frame(loaded))[CENTRE]
    tower_at = ((west + east) / 2, (south + north) / 2)
    tower = store.create(
        "building",
        {"name": XSS, "use": "public", "floors": 20, "height_m": 64.0, "ownership": "municipal",
         "address": "Testna ulica 1, 2000 Maribor"},
        _square(*tower_at, half_m=14),
        actor=store.Actor("scene-test", "editor"),
        reason="scene test",
        url=loaded,
    )  # fmt: skip
    return {"url": loaded, "tower": tower, "before": before, "at": tower_at}


@pytest.fixture(scope="module")
def scene(city: dict, tmp_path_factory: pytest.TempPathFactory):
    static = tmp_path_factory.mktemp("static")
    return build_scene(city["url"], directory=static), static


def _file(static: Path, url: str) -> Path:
    assert url.startswith(f"{STATIC_URL}/")
    return static / url.removeprefix(f"{STATIC_URL}/")


# --- the scene, built from the catalog --------------------------------------------------------


def test_every_scene_layer_of_the_catalog_is_drawn(scene) -> None:
    built, _ = scene
    on_scene = [spec.id for spec in catalog().values() if spec.group]
    assert set(built.layers) == set(on_scene)
    assert [spec.id for spec in scene_layers()] == list(built.layers)  # catalog order
    required = ["buildings", "street_lights", "sensors", "mobile_sites", "fiber_segments",
                "brownfields", "bus_routes", "bus_stops", "district_labels", "roads"]  # fmt: skip
    for layer_id in required:
        assert layer_id in built.layers
        deck = deck_layer(built.layers[layer_id])
        assert deck is not None
        assert deck.id == layer_id


def test_buildings_travel_as_tiles_with_compact_coordinates(scene, city: dict) -> None:
    built, static = scene
    buildings = built.layers["buildings"]
    assert isinstance(buildings.data, str)
    assert buildings.data.endswith("/{z}/{x}/{y}.json")
    root = _file(static, buildings.data.split("/{z}")[0])
    frame = buildings.frame
    assert city["tower"] in set(frame["id"])
    west, south, east, north = buildings.extent
    levels = {}
    for zoom in (13, 14):
        x0, y1 = tile_xy(west, south, zoom)
        x1, y0 = tile_xy(east, north, zoom)
        features = []
        for x in range(int(x0), int(x1) + 1):
            for y in range(int(y0), int(y1) + 1):
                # every tile of the extent exists (a missing one would fail in the browser)
                features += json.loads((root / str(zoom) / str(x) / f"{y}.json").read_text())
        levels[zoom] = features
    # the detail level holds every building once; the overview leaves the outbuildings out
    assert sorted(f["properties"]["id"] for f in levels[14]) == sorted(frame["id"])
    outbuildings = int((frame["use"] == "outbuilding").sum())
    assert outbuildings > 0
    assert len(levels[13]) == len(frame) - outbuildings
    tower = next(f for f in levels[14] if f["properties"]["id"] == city["tower"])
    assert tower["properties"]["h"] == 64
    assert tower["properties"]["tt_title"] == XSS
    ring = tower["geometry"]["coordinates"][0]
    assert len(ring) == 4  # open ring: deck.gl closes it
    assert all(round(v, 5) == v for xy in ring for v in xy)


def test_big_layers_never_travel_inside_the_page(scene) -> None:
    built, static = scene
    municipality = built.layers["municipality"].frame
    bounds = presets(built.layers["districts"].frame, municipality)["Whole city"]
    view = camera(bounds, three_d=True)
    deck = scene_deck(built, municipality, view, visible=set(built.layers))
    spec = deck.to_json()
    assert len(spec) < 1_000_000
    assert "http" not in spec
    assert deck.map_provider is None
    layers = {layer["id"]: layer for layer in json.loads(spec)["layers"]}
    for layer_id in ["buildings", "street_lights", "roads", "local_streets", "fiber_segments"]:
        url = layers[layer_id]["data"]
        assert url.startswith(f"{STATIC_URL}/scene/")
        if "{z}" not in url:
            records = json.loads(_file(static, url).read_text())
            assert len(records) >= len(built.layers[layer_id].frame)
            flat = records[0]["p"]
            assert all(isinstance(v, float | int) for v in flat)  # flat [x, y, …]
    assert layers["buildings"]["@@type"] == "TileLayer"
    assert layers["buildings"]["extruded"] is True
    flat = scene_deck(built, municipality, camera(bounds, three_d=False), visible={"buildings"},
                      three_d=False)  # fmt: skip
    (drawn,) = [la for la in json.loads(flat.to_json())["layers"] if la["id"] == "buildings"]
    assert drawn["extruded"] is False


def test_files_are_written_once_per_content(scene, city: dict) -> None:
    built, static = scene
    again = build_scene(city["url"], directory=static)
    assert again.layers["buildings"].data == built.layers["buildings"].data
    assert again.layers["street_lights"].data == built.layers["street_lights"].data
    assert not list((static / "scene").glob(".tmp-*"))


def test_live_layers_are_read_anew_the_rest_kept(scene, city: dict) -> None:
    built, static = scene
    fresh = with_live(built, city["url"], directory=static)
    assert list(fresh.layers) == list(built.layers)
    for layer_id, prepared in fresh.layers.items():
        if prepared.spec.source == "live":
            assert prepared is not built.layers[layer_id]
        else:
            assert prepared is built.layers[layer_id]
    assert any(p.spec.source == "live" for p in fresh.layers.values())


def test_colourings_code_every_value() -> None:
    by_use = catalog()["buildings"].colour_by["use"]
    frame = pd.DataFrame({"use": ["residential", "public", "castle", None]})
    assert codes(frame, by_use).tolist() == [0, 4, len(by_use.values), len(by_use.values)]
    years = catalog()["buildings"].colour_by["year_built"]
    frame = pd.DataFrame({"year_built": [1900, 1918, 1919, 2024, None]})
    assert codes(frame, years).tolist() == [0, 0, 1, 5, 6]
    expression = colour_expression(by_use, "properties.k_use")
    assert expression.startswith("properties.k_use == 0 ? [235, 200, 150, 255] : ")
    assert expression.endswith(str(list(by_use.other)))
    with pytest.raises(ValueError, match="one colour more"):
        Colouring(field="x", title="x", bins=(1, 2), ramp=((0, 0, 0, 0),))


def test_search_finds_assets_addresses_and_streets(city: dict) -> None:
    url = city["url"]
    hits = search("testna ulica", url)
    assert (hits["kind"] == "address").any()
    assert city["tower"] in set(hits["id"])
    by_name = search(XSS, url)
    assert by_name.iloc[0]["id"] == city["tower"]
    assert abs(by_name.iloc[0]["lon"] - city["at"][0]) < 1e-4
    assert abs(by_name.iloc[0]["lat"] - city["at"][1]) < 1e-4
    streets = search("Partizanska", url)
    assert (streets["kind"] == "street").any()
    assert search("%", url).empty  # a literal percent sign, not "anything"
    assert search("   ", url).empty


def test_panel_shows_attributes_and_history(scene, city: dict) -> None:
    built, _ = scene
    picked = describe(built, "buildings", city["tower"], url=city["url"])
    values = dict(zip(picked.attributes["field"], picked.attributes["value"], strict=True))
    assert values["name"] == XSS
    assert values["height_m"] == "64.0"
    assert [v.operation for v in picked.history] == ["insert"]
    assert picked.history[0].changed_by == "scene-test"


def test_as_of_shows_the_register_as_it_was(city: dict, tmp_path: Path) -> None:
    then = build_scene(city["url"], as_of=city["before"], directory=tmp_path)
    assert city["tower"] not in set(then.layers["buildings"].frame["id"])
    now_ids = set(store.list_assets("building", url=city["url"])["id"])
    assert set(then.layers["buildings"].frame["id"]) == now_ids - {city["tower"]}


def test_export_has_the_visible_features_of_the_view(scene, city: dict) -> None:
    built, _ = scene
    lon, lat = city["at"]
    box = (lon - 0.002, lat - 0.002, lon + 0.002, lat + 0.002)
    visible = {"buildings", "street_lights", "roads", "bus_stops"}  # roads and stops: "name"
    payload, count = export_geojson(built, visible, box)
    collection = json.loads(payload)
    assert len(collection["features"]) == count > 0
    layers = {f["properties"]["layer"] for f in collection["features"]}
    assert "buildings" in layers
    assert layers <= visible
    (tower,) = [f for f in collection["features"] if f["properties"].get("id") == city["tower"]]
    assert tower["properties"]["name"] == XSS
    assert tower["geometry"]["type"] == "Polygon"
    nothing, none = export_geojson(built, set(), box)
    assert none == 0
    assert json.loads(nothing)["features"] == []


# --- overlays: a KPI per district, coverage gaps ------------------------------------------------


def _result(kpi_id: str, district_id: int | None, value: float | None) -> Result:
    return Result(id=kpi_id, scope=str(district_id or "city"), scope_kind="MC",
                  district_id=district_id, value=value, unit="%", numerator=None,
                  denominator=None, target_2030=None, synthetic_share=None,
                  computed_at=datetime.now(UTC))  # fmt: skip


def _features(static: Path, overlay: Overlay) -> list[dict]:
    """Return the features of an overlay from the file deck.gl fetches."""
    assert isinstance(overlay.layer.data, str)
    return json.loads(_file(static, overlay.layer.data).read_text())["features"]


def test_kpi_overlay_fills_the_districts_by_value_and_direction(scene, city: dict) -> None:
    built, static = scene
    districts = district_frame(city["url"])
    ids = districts["id"].astype(int).tolist()
    spec = catalog()[CHOROPLETH]
    worse, better, none = (list(spec.style_of(s).fill) for s in ("worse", "better", "none"))
    higher = next(k for k in load_catalog().kpi if k.spatial and k.direction == "higher")
    kpi = higher.model_copy(update={"name_en": XSS, "unit": "<b>%</b>"})
    values = {d: 10.0 * i for i, d in enumerate(ids[:-1])} | {ids[-1]: None}
    results = [_result(kpi.id, d, v) for d, v in values.items()]
    results += [_result(kpi.id, None, 99.0), _result("other", ids[0], 1e6)]
    assert district_values(results, kpi.id).to_dict() == pytest.approx(
        {d: (np.nan if v is None else v) for d, v in values.items()}, nan_ok=True
    )

    overlay = kpi_overlay(districts, results, kpi, directory=static)
    features = _features(static, overlay)
    by_id = dict(zip(districts["id"].astype(int), features, strict=True))
    fills = [by_id[d]["properties"]["fill"] for d in ids]
    assert fills[0] == worse  # the lowest value, higher is better
    assert fills[-2] == better
    assert fills[-1] == none  # no value
    greens = [f[1] for f in fills[:-1]]
    assert greens == sorted(greens)
    assert len(set(map(tuple, fills[:-1]))) == len(ids) - 1  # every value its own shade
    # the tooltip: the district's name, the value and the unit, as text
    props = by_id[ids[1]]["properties"]
    assert props["tt_title"] == districts.set_index("id").loc[ids[1], "name"]
    assert props["tt_text"] == "10.00 <b>%</b>"
    assert by_id[ids[-1]]["properties"]["tt_text"].startswith("no value")
    # a click on a district flies there: a point inside it and its size
    for district_id, geom in zip(districts["id"].astype(int), districts.geometry, strict=True):
        p = by_id[district_id]["properties"]
        assert geom.buffer(1e-4).contains(shapely.Point(p["fly_lon"], p["fly_lat"]))
        assert 100 < p["fly_m"] < 30_000
    assert XSS not in overlay.legend
    assert html.escape(XSS) in overlay.legend
    assert "&lt;b&gt;%&lt;/b&gt;" in overlay.legend

    lower = kpi.model_copy(update={"direction": "lower"})
    flipped = _features(static, kpi_overlay(districts, results, lower, directory=static))
    assert (
        dict(zip(districts["id"].astype(int), flipped, strict=True))[ids[0]]["properties"]["fill"]
        == better
    )

    # on the scene: flat on the ground, over the district tint and under the roads
    municipality = built.layers["municipality"].frame
    view = camera(presets(districts, municipality)["Whole city"], three_d=True)
    deck = scene_deck(built, municipality, view, visible=set(built.layers),
                      overlays=[overlay.placed])  # fmt: skip
    sent = deck.to_json()
    drawn = json.loads(sent)["layers"]
    order = [layer["id"] for layer in drawn]
    assert order.index("districts") < order.index(CHOROPLETH) < order.index("roads")
    assert drawn[order.index(CHOROPLETH)]["parameters"]["depthCompare"] == "always"
    plain = scene_deck(built, municipality, view, visible=set(built.layers)).to_json()
    assert CHOROPLETH not in plain  # off unless chosen
    assert len(sent) < len(plain) + 2_000  # the features travel by URL


def test_coverage_overlay_has_the_cells_of_uncovered_people(scene, city: dict) -> None:
    _, static = scene
    cells = gaps("5g", city["url"])
    people = measure("5g", city["url"]).people
    people = people[people["in_city"]]
    uncovered = int(people.loc[~people["covered"].astype(bool), "population"].sum())
    assert uncovered > 0
    overlay = coverage_overlay(cells, "5g", "5G", directory=static)
    assert overlay.id == "coverage_gaps-5g"
    features = _features(static, overlay)
    assert len(features) == len(cells) > 0
    counts = [int(f["properties"]["tt_text"].split(" of ")[0].replace(",", "")) for f in features]
    assert sum(counts) == uncovered
    assert all(c > 0 for c in counts)
    assert all("5G" in f["properties"]["tt_title"] for f in features)
    assert not any("what-if" in f["properties"]["tt_text"] for f in features)
    assert f"{uncovered:,} people" in overlay.legend


# --- the Map page in a real browser -----------------------------------------------------------


@pytest.fixture(scope="module")
def scene_app(city: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _serve(city["url"], tmp_path_factory.mktemp("scene-app") / "streamlit.log") as app:
        yield app


def _saturated(png: bytes) -> float:
    """Return the share of clearly coloured pixels (buildings, not the grey or paper ground)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    h, w, _ = rgb.shape
    centre = rgb[h // 6 : h * 5 // 6, w // 6 : w * 5 // 6].reshape(-1, 3)
    return float(((centre.max(axis=1) - centre.min(axis=1)) > 45).mean())


def _settled(canvas, at_least: float = 0.0, timeout: float = 60) -> tuple[bytes, float]:
    """Take screenshots until the picture stops changing (and is coloured enough)."""
    deadline = time.monotonic() + timeout
    last, share = canvas.screenshot(), -1.0
    while time.monotonic() < deadline:
        time.sleep(1.5)
        shot = canvas.screenshot()
        share = _saturated(shot)
        if shot == last and share >= at_least:
            return shot, share
        last = shot
    return last, share


def _choose(page, label: str, option: str) -> None:
    page.locator("[data-testid='stSelectbox']").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def _switch(page, title: str) -> None:
    """Click a layer's switch (Streamlit hides the input; the label takes the click)."""
    checkbox = page.locator("[data-testid='stCheckbox']").filter(
        has=page.get_by_text(title, exact=True)
    )
    checkbox.locator("label").click()


def _draws_buildings_and_switches_them(page, canvas) -> None:
    # street level in the centre: buildings fill the middle of the map
    _choose(page, "Camera", CENTRE)
    with_buildings, share = _settled(canvas, at_least=0.05)
    assert share > 0.05, "no buildings drawn in the middle of the map"
    # switching the buildings off changes the picture
    _switch(page, "Buildings")
    without, share_off = _settled(canvas)
    assert without != with_buildings
    assert share_off < share / 2
    _switch(page, "Buildings")


@pytest.mark.browser
def test_map_page_draws_picks_and_escapes(scene_app: str, visit: Visit) -> None:  # noqa: F811
    page = visit.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(scene_app)
    canvas = page.locator(f"{DECK} canvas").first
    canvas.wait_for(timeout=60_000)

    _draws_buildings_and_switches_them(page, canvas)

    # hover and click the middle of the map, where the tower stands (the whole map in sight
    # first: a click on a map the browser scrolls into view would be a drag)
    canvas.scroll_into_view_if_needed()
    _settled(canvas, at_least=0.05)
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 - 20
    page.mouse.move(x, y)
    tooltip = page.locator(".deck-tooltip").first
    tooltip.wait_for(timeout=10_000)
    assert XSS in tooltip.inner_text()
    assert tooltip.locator("img").count() == 0
    # deck.gl takes a click only when the button goes up within 250 ms of going down; with
    # software rendering (SwiftShader, no GPU) a frame drawn between the two may take longer
    # on a busy machine: click on the flat (2D) map, which draws fast, and try again if needed
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.get_by_text("3D", exact=True).click()
    _settled(canvas)
    history_tab = page.get_by_role("tab", name="History")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for _ in range(5):
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        try:
            history_tab.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    history_tab.wait_for(timeout=30_000)
    side = page.locator("[data-testid='stMain']")
    assert XSS in side.inner_text()  # the name, shown as text
    page.get_by_role("tab", name="History").click()
    page.get_by_text("scene test").wait_for(timeout=10_000)

    # the search finds it by its address
    page.get_by_label("Search a street, address, asset id or name").fill("Testna ulica")
    page.keyboard.press("Enter")
    results = page.locator("[data-testid='stSelectbox']").filter(has_text="Results")
    results.wait_for(timeout=30_000)
    shown = results.inner_text() + " ".join(
        field.input_value() for field in results.locator("input").all()
    )
    assert "address: Testna ulica 1, 2000 Maribor" in shown
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []
    assert page.locator("[data-testid='stException']").count() == 0

    hosts = {urlsplit(u).hostname for u in visit.outside}
    assert visit.outside == [], hosts
    assert visit.errors == []


SENSOR_SQL = """
INSERT INTO register.sensor (name, kind, observed_properties, station_code, synthetic,
                             reporting_interval_s, geom)
VALUES ('scene live test', 'air_quality', 'no2', 'SCN1', false, 3600,
        ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), 3794))
"""


def _limit_red(png: bytes) -> int:
    """Count the pixels in the colour of a limit exceedance (the sensors' column), any shade."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((r > 140) & (g < 55) & (b < 55)).sum())


def _sensor_count(page) -> int:
    """Return the number of sensors the legend counts (none listed: 0)."""
    text = "\n".join(page.locator("[data-testid='stHtml']").all_inner_texts())
    found = re.search(r"Sensors \(latest reading\)(?:\s*\((\d[\d,]*)\))?", text)
    assert found, f"the legend does not list the sensors: {text[-1500:]}"
    return int((found.group(1) or "0").replace(",", ""))


def _downloads_the_view_as_png(page, tmp_path: Path) -> None:
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="PNG of the current view").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "maribor-view.png"
    png = saved.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = Image.open(io.BytesIO(png)).size
    assert min(width, height) >= 600  # the canvas, not a thumbnail
    assert _saturated(png) > 0.05, "the PNG has no buildings"


def _drag(page, canvas) -> None:
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.3
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x - 8 * step, y + 3 * step)
    page.mouse.up()


def _shows_a_new_reading_without_reload(page, canvas, city: dict, shown: bytes) -> None:
    import psycopg

    from twin.sensors.observations import ingest

    _drag(page, canvas)  # move the camera a little: a refresh must not put it back
    moved, _ = _settled(canvas)
    assert moved != shown
    sensors_before, red_before = _sensor_count(page), _limit_red(moved)
    page.evaluate("window.__sceneMarker = 'kept'")
    tiles: list[str] = []
    page.on("request", lambda r: "/scene/buildings" in r.url and tiles.append(r.url))

    # a new sensor south of the tower reads above the limit value after the page loaded
    lon, lat = city["at"]
    with psycopg.connect(city["url"]) as conn:
        conn.execute(SENSOR_SQL, {"lon": lon, "lat": lat - 45 / 111_320})
        now = pd.Timestamp.now(tz="UTC").floor("s")
        reading = pd.DataFrame({"sensor": ["SCN1"], "property": ["no2"], "phenomenon_time": [now],
                                "value": [250.0], "quality": ["ok"]})  # fmt: skip
        ingest(conn, reading, "test")
    deadline = time.monotonic() + 60
    while _sensor_count(page) == sensors_before:
        assert time.monotonic() < deadline, "the new sensor did not show without a reload"
        time.sleep(1)
    assert _sensor_count(page) == sensors_before + 1
    after, _ = _settled(canvas)
    assert _limit_red(after) >= red_before + 25, "no red column where the sensor reads"
    assert page.evaluate("window.__sceneMarker") == "kept", "the page was reloaded"
    assert tiles == [], "the buildings' tiles were fetched again"
    # the camera stayed where it was moved: apart from the new column the picture is the same
    a = np.asarray(Image.open(io.BytesIO(moved)).convert("RGB")).astype(int)
    b = np.asarray(Image.open(io.BytesIO(after)).convert("RGB")).astype(int)
    assert float((np.abs(a - b).max(axis=2) > 40).mean()) < 0.02, "the camera moved back"


def _draws_a_kpi_and_coverage_gaps(page, canvas, tmp_path: Path) -> None:
    _choose(page, "Camera", "Whole city")
    page.get_by_text("3D", exact=True).click()
    kpi = next(k for k in load_catalog().kpi if k.spatial)
    box = page.locator("[data-testid='stSelectbox']").filter(has_text="KPI per district")
    box.click()
    page.keyboard.type(kpi.name_en)
    page.get_by_role("option", name=kpi.name_en, exact=True).wait_for(timeout=10_000)
    page.keyboard.press("Enter")
    _switch(page, "Uncovered: 5G")
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("5G: uncovered people").wait_for(timeout=60_000)
    main.get_by_text(f"{kpi.direction} is better").wait_for(timeout=60_000)
    page.set_viewport_size({"width": 1400, "height": 2000})
    drawn, _ = _settled(canvas, timeout=90)
    rgb = np.asarray(Image.open(io.BytesIO(drawn)).convert("RGB")).astype(int)
    green = (rgb[..., 1] - rgb[..., 0] > 60) & (rgb[..., 1] - rgb[..., 2] > 30)
    assert green.mean() > 0.01, "no district filled by the KPI"
    page.screenshot(path=str(tmp_path / "map-overlays.png"), full_page=True)
    canvas.screenshot(path=str(tmp_path / "map-overlays-canvas.png"))
    assert main.locator("[data-testid='stException']").count() == 0


@pytest.mark.browser
def test_map_page_refreshes_live_exports_png_and_draws_overlays(
    scene_app: str,
    city: dict,
    visit: Visit,  # noqa: F811
    tmp_path: Path,
) -> None:
    page = visit.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(scene_app)
    canvas = page.locator(f"{DECK} canvas").first
    canvas.wait_for(timeout=60_000)
    _choose(page, "Camera", CENTRE)
    # the sensors are off at first (one click away, so the first buildings draw sooner)
    assert page.get_by_text("Sensors (latest reading)", exact=True).count() == 1
    _switch(page, "Sensors (latest reading)")
    canvas.scroll_into_view_if_needed()
    _, share = _settled(canvas, at_least=0.05)
    assert share > 0.05
    _downloads_the_view_as_png(page, tmp_path)

    page.get_by_text("3D", exact=True).click()  # a flat plan: the sensor is a disc from above
    shown, _ = _settled(canvas, at_least=0.02)
    _shows_a_new_reading_without_reload(page, canvas, city, shown)
    _draws_a_kpi_and_coverage_gaps(page, canvas, tmp_path)
    page.goto("about:blank")  # the page reruns every few seconds
    assert dialogs == []
    assert visit.outside == []
    assert visit.errors == []


def test_the_first_sight_keeps_to_buildings_and_the_ground(scene) -> None:
    # what deck.gl must prepare before the first frame: buildings, the ground and the
    # brownfields; labels (a font atlas), columns and the 40k street lights are one click away
    built, static = scene
    municipality = built.layers["municipality"].frame
    bounds = presets(built.layers["districts"].frame, municipality)[CENTRE]
    first = {layer_id for layer_id, p in built.layers.items() if p.spec.visible}
    assert {"buildings", "districts", "roads", "local_streets", "municipality"} <= first
    assert not first & {"district_labels", "sensors", "mobile_sites", "street_lights"}
    deck = json.loads(
        scene_deck(built, municipality, camera(bounds, three_d=True), visible=first).to_json()
    )
    kinds = {layer["@@type"] for layer in deck["layers"]}
    assert kinds == {"PolygonLayer", "GeoJsonLayer", "TileLayer"}  # roads and streets: tiles
    # no path before the first buildings at street level: polygons are not stroked, their
    # outlines, the roads and the streets are tiles whose detail level holds only polygons
    assert not [layer["id"] for layer in deck["layers"] if layer.get("stroked")]
    tiled = [layer for layer in deck["layers"] if layer["@@type"] == "TileLayer"]
    assert {"municipality-outline", "districts-outline", "brownfields-outline", "roads",
            "local_streets", "buildings"} == {layer["id"] for layer in tiled}  # fmt: skip
    for layer in tiled:
        close = _level(static, layer["data"], layer["extent"], 14)
        assert close, layer["id"]
        assert {f["geometry"]["type"] for f in close} == {"Polygon"}, layer["id"]
    # the Municipality switch hides its boundary; its land stays under everything
    without = json.loads(
        scene_deck(
            built, municipality, camera(bounds, three_d=True), visible=first - {"municipality"}
        ).to_json()
    )
    ids = [layer["id"] for layer in without["layers"]]
    assert "municipality-outline" not in ids
    assert ids[:2] == ["surroundings", "municipality"]
    # the rest stays on the scene, switchable in the Layers panel
    everything = json.loads(
        scene_deck(
            built, municipality, camera(bounds, three_d=True), visible=set(built.layers)
        ).to_json()
    )
    assert {"TextLayer", "ColumnLayer", "ScatterplotLayer"} <= {
        layer["@@type"] for layer in everything["layers"]
    }


def _level(static: Path, url: str, extent, zoom: int) -> list[dict]:
    """Every feature of the tiles of one level of a tiled layer."""
    root = _file(static, url.split("/{z}", maxsplit=1)[0])
    x0, y1 = tile_xy(extent[0], extent[1], zoom)
    x1, y0 = tile_xy(extent[2], extent[3], zoom)
    features = []
    for x in range(int(x0), int(x1) + 1):
        for y in range(int(y0), int(y1) + 1):
            features += json.loads((root / str(zoom) / str(x) / f"{y}.json").read_text())
    return features


def _uncovered_share(lines, bands: list[dict]) -> float:
    """Share of the lines' length (EPSG:3794) outside the band polygons."""
    union = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in bands])
    metric = gpd.GeoSeries([union, *lines], crs=4326).to_crs(3794)
    total = metric.iloc[1:].length.sum()
    return float(metric.iloc[1:].difference(metric.iloc[0]).length.sum() / total)


def test_ground_lines_are_paths_far_out_and_bands_close_in(scene) -> None:
    # a street view draws the streets of the tiles in view, not the whole city's, and draws
    # them as bands of their width (the fill shader): no path shader before the first frame
    built, static = scene
    streets, roads = built.layers["local_streets"], built.layers["roads"]
    assert isinstance(streets.data, str)
    assert streets.data.endswith("/{z}/{x}/{y}.json")
    assert len(streets.frame) > 0
    # the overview leaves local streets out; close in every street is covered by its bands
    assert _level(static, streets.data, streets.extent, 13) == []
    close = _level(static, streets.data, streets.extent, 14)
    assert {f["geometry"]["type"] for f in close} == {"Polygon"}
    assert _uncovered_share(streets.frame.geometry, close) < 0.001
    # roads: paths (pixel widths) far out, bands close in; opaque colours (drawn twice where
    # two tiles hold a piece, a translucent band would show darker there)
    far = _level(static, roads.data, roads.extent, 13)
    assert {f["geometry"]["type"] for f in far} == {"LineString"}
    assert {f["properties"]["w"] for f in far} == {0.8, 1.6}
    far_vertices = {tuple(v) for f in far for v in f["geometry"]["coordinates"]}
    drawn = np.round(shapely.get_coordinates(roads.frame.geometry.values), 5)
    assert {tuple(v) for v in drawn.tolist()} <= far_vertices  # no vertex left out
    close = _level(static, roads.data, roads.extent, 14)
    assert {f["geometry"]["type"] for f in close} == {"Polygon"}
    assert _uncovered_share(roads.frame.geometry, close) < 0.001
    assert {f["properties"]["c"][3] for f in far + close} == {255}
    for prepared in (streets, roads):
        deck = json.loads(deck_layer(prepared).to_json())
        assert deck["@@type"] == "TileLayer"
        assert (deck["filled"], deck["stroked"]) == (True, False)
        assert deck["getFillColor"] == deck["getLineColor"] == "@@=properties.c"
