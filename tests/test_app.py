"""The app skeleton: the frames it reads, the offline deck it draws, the app in a real chromium."""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
import shapely
import streamlit as st
from conftest import REPO, _free_port
from markdown_it import MarkdownIt
from PIL import Image
from streamlit.testing.v1 import AppTest

from twin import DatabaseError
from twin.config import get_settings
from twin.db import connect
from twin.districts import district_frame, municipality_frame
from twin.scene import district_deck, legend_html, road_frame
from twin.scene.city import camera, presets
from twin.sources import attributions, dataset_frame

EVIL = "<script>alert('x')</script>"
MARKUP = "![x](http://example.com/a.png) *bold* _it_"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", None}  # None: data: and blob: URLs
DECK = "[data-testid='stDeckGlJsonChart']"


def _other_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


# --- what the pages read -------------------------------------------------------------------


def test_district_frame_has_the_17_local_units(loaded: str) -> None:
    districts = district_frame(loaded)
    assert len(districts) == 17
    assert districts.crs.to_epsg() == 4326
    mc = districts[districts["kind"] == "MC"]
    ks = districts[districts["kind"] == "KS"]
    assert len(mc) == 11
    assert len(ks) == 6
    assert mc["area_km2"].sum() == pytest.approx(56.1, rel=0.01)
    assert mc["area_km2"].to_numpy() == pytest.approx(mc["official_area_km2"].to_numpy(), abs=0.01)
    assert ks["approximate"].all()
    assert ks["synthetic"].all()
    assert not mc["approximate"].any()
    assert "Center" in set(mc["name"])
    assert set(districts["kind_label"]) == {"mestna četrt", "krajevna skupnost"}
    # shapes arrive in degrees around Maribor, labels lie inside their polygon
    west, south, east, north = districts.total_bounds
    assert 15.4 < west < east < 15.9
    assert 46.4 < south < north < 46.7
    inside = shapely.contains_xy(
        districts.geometry.values, districts["label_lon"], districts["label_lat"]
    )
    assert inside.all()


def test_areas_are_measured_in_d96tm_not_in_degrees(loaded: str) -> None:
    districts = district_frame(loaded)
    measured = districts.to_crs(3794).area / 1e6
    assert districts["area_km2"].to_numpy() == pytest.approx(measured.to_numpy(), rel=1e-3)


def test_municipality_frame_has_the_boundary(loaded: str) -> None:
    municipality = municipality_frame(loaded)
    assert len(municipality) == 1
    row = municipality.iloc[0]
    assert row["name"] == "Maribor"
    assert row["official_area_km2"] == pytest.approx(147.49)
    assert row["area_km2"] == pytest.approx(row["official_area_km2"], rel=0.02)
    assert municipality.crs.to_epsg() == 4326


def test_dataset_frame_counts_every_table_live(loaded: str) -> None:
    datasets = dataset_frame(loaded)
    with connect(loaded) as conn:
        n = conn.execute("SELECT count(*) FROM twin.datasets").fetchone()
        roads = conn.execute("SELECT count(*) FROM twin.roads").fetchone()
    assert n is not None
    assert roads is not None
    assert len(datasets) == n[0]
    expected = {"title", "table_name", "file", "row_count", "source", "licence", "attribution",
                "synthetic", "loaded_at", "table_rows"}  # fmt: skip
    assert expected <= set(datasets.columns)
    assert datasets.loc[datasets["table_name"] == "roads", "table_rows"].tolist() == [roads[0]]
    files_per_table = datasets.groupby("table_name")["file"].transform("size")
    single = datasets[files_per_table == 1]
    assert len(single) >= 8
    assert (single["row_count"] == single["table_rows"]).all(), single
    # facilities holds the rows of three files; every district row comes from local_units.csv,
    # and the 11 mestne četrti among them also from the polygon file
    facilities = datasets[datasets["table_name"] == "facilities"]
    assert facilities["row_count"].sum() == facilities["table_rows"].iloc[0] == 210
    districts = datasets[datasets["table_name"] == "districts"].set_index("file")
    assert districts.loc["local_units.csv", "row_count"] == districts["table_rows"].iloc[0] == 17
    assert districts.loc["districts_mestne_cetrti.geojson", "row_count"] == 11
    assert datasets["loaded_at"].notna().all()
    assert attributions(datasets, ["roads"]) == ["© OpenStreetMap contributors, ODbL"]


def test_dataset_frame_counts_only_tables_that_exist(loaded: str) -> None:
    evil_table = 'roads"; DROP TABLE twin.roads; --'
    insert = (
        "INSERT INTO twin.datasets (name, title, table_name, file, sha256, row_count, source,"
        " licence, attribution) VALUES ('evil', 'Evil', %s, 'evil.csv', repeat('0', 64), 1,"
        " 'test', 'test', 'test')"
    )
    with connect(loaded) as conn:
        conn.execute(insert, [evil_table])
    try:
        datasets = dataset_frame(loaded).set_index("name")
    finally:
        with connect(loaded) as conn:
            conn.execute("DELETE FROM twin.datasets WHERE name = 'evil'")
    assert datasets.loc["evil", "table_rows"] is pd.NA
    assert datasets.loc["roads", "table_rows"] == datasets.loc["roads", "row_count"]
    with connect(loaded) as conn:
        row = conn.execute("SELECT to_regclass('twin.roads') IS NOT NULL").fetchone()
    assert row == (True,), "twin.roads must still exist"


@pytest.mark.parametrize("read", [district_frame, municipality_frame, road_frame, dataset_frame])
def test_a_database_without_twin_tables_says_what_to_run(loaded: str, read) -> None:
    with pytest.raises(DatabaseError, match=r"twin db up.*twin load maribor"):
        read(_other_database(loaded, "postgres"))


def test_an_unreachable_database_is_a_twin_error(loaded: str) -> None:
    url = urlsplit(loaded)._replace(netloc=f"twin:x@127.0.0.1:{_free_port()}").geturl()
    with pytest.raises(DatabaseError, match="cannot connect"):
        district_frame(url)


# --- the deck ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frames(loaded: str):
    return district_frame(loaded), municipality_frame(loaded), road_frame(loaded)


def test_deck_is_offline_and_centred_on_maribor(frames) -> None:
    districts, municipality, roads = frames
    deck = district_deck(districts, municipality, roads)
    text = deck.to_json()
    spec = json.loads(text)
    assert "http" not in text  # no tiles, no fonts, no data from elsewhere
    assert deck.map_provider is None
    assert "mapProvider" not in spec
    west, south, east, north = municipality.total_bounds
    view = spec["initialViewState"]
    assert west < view["longitude"] < east
    assert south < view["latitude"] < north
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert {"municipality", "districts", "roads", "district-labels"} <= set(layers)
    assert len(layers["districts"]["data"]["features"]) == len(districts)
    assert len(layers["roads"]["data"]) == len(roads)
    assert sorted(d["name"] for d in layers["district-labels"]["data"]) == sorted(districts["name"])
    assert [lid for lid, layer in layers.items() if layer.get("pickable")] == ["districts"]


def test_tooltip_says_kind_areas_and_approximate(frames) -> None:
    districts, municipality, roads = frames
    spec = json.loads(district_deck(districts, municipality, roads).to_json())
    features = {
        f["properties"]["tt_title"]: f["properties"]
        for layer in spec["layers"]
        if layer["id"] == "districts"
        for f in layer["data"]["features"]
    }
    kamnica = districts.set_index("name").loc["Kamnica"]
    props = features["Kamnica (approximate polygon)"]
    assert props["tt_official_km2"] == f"{kamnica['official_area_km2']:.2f}"
    assert props["tt_area_km2"] == f"{kamnica['area_km2']:.2f}"
    assert props["tt_kind"] == "krajevna skupnost (KS)"
    assert features["Center"]["tt_kind"] == "mestna četrt (MC)"


def test_names_from_data_never_become_html(frames) -> None:
    districts, municipality, roads = frames
    districts = districts.copy()
    first = districts.index[0]
    districts.loc[first, "name"] = EVIL
    districts.loc[first, "geometry_note"] = 'Tom & "Jerry" <b>'
    deck = district_deck(districts, municipality, roads)
    # deck.gl writes a text tooltip with innerText, so markup in a value stays text
    assert set(deck._tooltip) == {"text", "style"}
    assert "<" not in deck._tooltip["text"]
    spec = json.loads(deck.to_json())
    (layer,) = [layer for layer in spec["layers"] if layer["id"] == "districts"]
    assert layer["data"]["features"][0]["properties"]["tt_title"] == EVIL
    # the legend is HTML: there every string from the data is escaped
    datasets = pd.DataFrame({"table_name": ["roads"], "title": [EVIL]})
    legend = legend_html(districts, municipality, roads, datasets)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in legend
    assert "<script>" not in legend


# --- the pages, run in-process ---------------------------------------------------------------


@pytest.fixture
def fresh_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Let pages import ``views`` and start with empty caches and settings read anew."""

    def clear() -> None:
        get_settings.cache_clear()
        st.cache_data.clear()
        st.cache_resource.clear()

    monkeypatch.syspath_prepend(str(REPO))
    clear()
    yield monkeypatch
    clear()


def _run(page: str) -> AppTest:
    return AppTest.from_file(str(REPO / page), default_timeout=30).run()


@pytest.mark.usefixtures("loaded", "fresh_app")
def test_app_runs_its_pages_without_exceptions() -> None:
    app = _run("app.py")
    assert not app.exception
    assert not app.error
    assert "Maribor" in app.subheader[0].value
    sources = _run("views/sources.py")
    assert not sources.exception
    assert not sources.error


@pytest.mark.parametrize("page", ["app.py", "views/sources.py"])
def test_pages_say_what_to_run_when_the_database_is_empty(loaded: str, fresh_app, page) -> None:
    fresh_app.setenv("TWIN_DATABASE_URL", _other_database(loaded, "postgres"))
    app = _run(page)
    assert not app.exception
    assert len(app.error) == 1
    assert "twin tables" in app.error[0].value
    assert "`twin db up` and then `twin load maribor`" in app.info[0].value


@pytest.fixture
def markup_in_data(loaded: str) -> Iterator[str]:
    """Put Markdown into names, notes and provenance read by the pages; restore them after."""
    with connect(loaded) as conn:
        municipality = conn.execute("SELECT ob_id, name FROM twin.municipality").fetchall()
        derived = conn.execute(
            "SELECT id, name, geometry_note FROM twin.districts WHERE approximate ORDER BY name"
        ).fetchall()
        conn.execute("UPDATE twin.municipality SET name = name || ' ' || %s", [MARKUP])
        conn.execute(
            "UPDATE twin.districts SET geometry_note = %s WHERE approximate", [f"note {MARKUP}"]
        )
        conn.execute("UPDATE twin.districts SET name = %s WHERE id = %s", [MARKUP, derived[0][0]])
        conn.execute(
            "INSERT INTO twin.datasets (name, title, table_name, file, sha256, row_count, source,"
            " licence, attribution) VALUES ('markup', %(m)s, 'roads', 'markup.csv',"
            " repeat('0', 64), 1, %(m)s, %(m)s, %(m)s)",
            {"m": MARKUP},
        )
    try:
        yield loaded
    finally:
        with connect(loaded) as conn:
            conn.execute("DELETE FROM twin.datasets WHERE name = 'markup'")
            conn.cursor().executemany(
                "UPDATE twin.municipality SET name = %s WHERE ob_id = %s",
                [(name, ob_id) for ob_id, name in municipality],
            )
            conn.cursor().executemany(
                "UPDATE twin.districts SET name = %s, geometry_note = %s WHERE id = %s",
                [(name, note, district_id) for district_id, name, note in derived],
            )


def _shows_markup_as_text(markdown: str) -> bool:
    """Render Markdown as a CommonMark/GFM renderer would: is MARKUP there as plain text?"""
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    for markup in ["<img", "<a ", "<strong>bold", "<em>bold", "<em>it"]:
        assert markup not in html, html
    return MARKUP in html  # MARKUP has no character that HTML would escape


@pytest.mark.usefixtures("markup_in_data", "fresh_app")
def test_markdown_in_the_data_is_shown_as_written() -> None:
    overview = _run("app.py")
    assert not overview.exception
    assert not overview.error
    # the municipality's name, the derived shapes' note, the roads' attribution
    assert _shows_markup_as_text(overview.subheader[0].value)
    assert _shows_markup_as_text(overview.warning[0].value)
    assert _shows_markup_as_text(overview.caption[-1].value)
    for element in [*overview.markdown, *overview.caption, *overview.warning]:
        _shows_markup_as_text(element.value)

    sources = _run("views/sources.py")
    assert not sources.exception
    assert not sources.error
    # a district's name and the note in the text, the dataset's strings in the table's cells
    (derived,) = [md.value for md in sources.markdown if "approximate" in md.value]
    assert _shows_markup_as_text(derived)
    assert derived.count("!") == derived.count("\\!") == 2
    table = sources.table[0].value
    (row,) = table[table["File"] == "markup\\.csv"].to_dict("records")
    for column in ["Layer", "Source", "Licence", "Attribution"]:
        assert _shows_markup_as_text(row[column]), column
    for column in ["Layer", "Table", "File", "Source", "Licence", "Attribution"]:
        for cell in table[column]:
            _shows_markup_as_text(cell)


# --- the app in a real browser ----------------------------------------------------------------


@contextmanager
def _serve(url: str, log_path: Path) -> Iterator[str]:
    """Serve app.py as `twin serve app` does (behind the front, ``serve.py``) on 127.0.0.1."""
    port = _free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(REPO / "serve.py"),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    app = f"http://127.0.0.1:{port}/"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env={**os.environ, "TWIN_DATABASE_URL": url}, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited: {log_path.read_text(errors='replace')}")
                try:
                    health = app + "_stcore/health"
                    with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310 - http on 127.0.0.1
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not start: {log_path.read_text(errors='replace')}")
                time.sleep(0.2)
            yield app
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def app_url(loaded: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the app (serve.py: app.py behind its front) against the loaded test database."""
    with _serve(loaded, tmp_path_factory.mktemp("streamlit") / "streamlit.log") as app:
        yield app


def _no_browser(reason: str) -> NoReturn:
    """Skip a browser test, or fail it where CI sets TWIN_REQUIRE_BROWSER=1."""
    if os.environ.get("TWIN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; TWIN_REQUIRE_BROWSER=1 requires the browser tests", pytrace=False)
    pytest.skip(f"{reason} (set TWIN_REQUIRE_BROWSER=1 to fail instead of skipping)")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright import sync_api
    except ImportError:
        _no_browser("playwright is not installed: run `scripts/setup.sh test`")
    if not CHROMIUM.exists():
        _no_browser(f"{CHROMIUM} is not installed: run `scripts/setup.sh test`")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Visit:
    """A browser tab on the app, with what it asked of the network and logged as errors."""

    page: object
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def visit(browser) -> Iterator[Visit]:
    yield from open_visit(browser, width=1280, height=800)


def open_visit(browser, *, width: int, height: int) -> Iterator[Visit]:
    """Open a tab that keeps the page on 127.0.0.1 and records outside requests and errors."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    seen = Visit(page)

    def route(route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            seen.outside.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and seen.errors.append(m.text))
    page.on("pageerror", lambda exc: seen.errors.append(str(exc)))
    yield seen
    context.close()


def _blue_share(png: bytes, bluish: int = 40) -> tuple[float, float]:
    """Return the share of pixels unlike the commonest colour, and of MČ-blue pixels.

    A pixel is blue when its blue channel exceeds its red one by more than ``bluish``.
    """
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    flat = rgb.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    differs = np.abs(flat - background).max(axis=1) > 12
    blue = (flat[:, 2] - flat[:, 0]) > bluish
    return float(differs.mean()), float(blue.mean())


def _pixel(view: dict, lon: float, lat: float, width: float, height: float) -> tuple[float, float]:
    """Project lon/lat to canvas pixels of a deck.gl MapView in ``view`` (Web Mercator)."""
    scale = 512 * 2 ** view["zoom"] / (2 * math.pi)

    def y(phi: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(phi) / 2))

    x_px = width / 2 + math.radians(lon - view["longitude"]) * scale
    y_px = height / 2 - (y(lat) - y(view["latitude"])) * scale
    return x_px, y_px


@pytest.mark.browser
def test_map_page_draws_the_districts_offline(app_url: str, visit: Visit, frames) -> None:
    districts, municipality, _ = frames
    page = visit.page
    page.goto(app_url)
    canvas = page.locator(f"{DECK} canvas").first
    canvas.wait_for(timeout=60_000)
    # the flat (2D) plan of the whole city: the scene tints the districts at half their
    # catalog alpha (the buildings keep the strongest colours), so "blue" is a bluish tint
    page.get_by_text("3D", exact=True).click()
    differs = blue = 0.0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        differs, blue = _blue_share(canvas.screenshot(), bluish=15)
        if blue > 0.05:
            break
        time.sleep(0.5)
    assert differs > 0.3, "the land and districts were not drawn"
    assert blue > 0.05, "the mestne četrti were not drawn"

    text = page.locator("[data-testid='stMain']").inner_text()
    for name in districts["name"]:
        assert name in text  # in the legend
    # Streamlit's loading placeholders are still (a shimmer is a frame composited in software)
    still = page.evaluate(
        """() => ['stSkeleton', 'stSkeletonElement', 'stAppSkeleton'].map(id => {
                   const e = document.createElement('div'), inner = document.createElement('div');
                   e.setAttribute('data-testid', id); e.append(inner); document.body.append(e);
                   const shown = id === 'stAppSkeleton' ? inner : e;
                   shown.style.animation = 'shimmer 1s infinite';
                   const name = getComputedStyle(shown).animationName;
                   e.remove(); return name; })"""
    )
    assert still == ["none", "none", "none"]
    assert "approximate" in text
    assert page.locator("[data-testid='stException']").count() == 0

    # the tooltip of a derived polygon says so, as plain text
    view = camera(presets(districts, municipality)["Whole city"], three_d=False)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    kamnica = districts.set_index("name").loc["Kamnica"]
    spec = {"zoom": view.zoom, "longitude": view.longitude, "latitude": view.latitude}
    x, y = _pixel(spec, kamnica["label_lon"], kamnica["label_lat"], box["width"], box["height"])
    page.mouse.move(box["x"] + x, box["y"] + y + 12)
    tooltip = page.locator(".deck-tooltip").first
    tooltip.wait_for(timeout=10_000)
    tip = tooltip.inner_text()
    assert "Kamnica (approximate polygon)" in tip
    assert f"computed area: {kamnica['area_km2']:.2f} km²" in tip
    assert "unit's" in tip  # shown once-escaped, i.e. as written

    assert visit.outside == []
    assert visit.errors == []


@pytest.mark.browser
def test_sources_page_lists_every_layer_with_its_licence(
    app_url: str, visit: Visit, loaded: str
) -> None:
    datasets = dataset_frame(loaded)
    page = visit.page
    # follow the navigation: loading /sources directly makes Streamlit probe
    # /sources/_stcore/health first, a 404 that is Streamlit's, not the app's
    page.goto(app_url)
    page.get_by_role("link", name="Data & sources").click()
    table = page.locator("[data-testid='stTable']")
    table.wait_for(timeout=30_000)
    text = table.inner_text()
    for licence in datasets["licence"].unique():
        assert licence in text
    for title in datasets["title"]:
        assert title in text
    assert page.locator("[data-testid='stException']").count() == 0
    assert visit.outside == []
    assert visit.errors == []


def _no_markup_from_data(main) -> bool:
    """Say whether the page drew no image or emphasis out of MARKUP.

    A bare URL in the text still becomes a link (Streamlit's GFM autolinks it after the
    escapes are read), but only to itself: it shows the URL as written and fetches nothing.
    """
    emphasis = set(main.locator("strong, em").all_inner_texts())
    links = main.locator("a[href*='example.com']").all_inner_texts()
    return (
        main.locator("img").count() == 0
        and not {"bold", "it"} & emphasis
        and set(links) <= {"http://example.com/a.png"}
    )


@pytest.mark.browser
def test_markdown_in_the_data_stays_text_in_the_browser(
    visit: Visit, markup_in_data: str, tmp_path: Path
) -> None:
    page = visit.page
    with _serve(markup_in_data, tmp_path / "streamlit.log") as app:
        page.goto(app)
        main = page.locator("[data-testid='stMain']")
        page.locator(f"{DECK} canvas").first.wait_for(timeout=30_000)
        page.get_by_text(f"derives one (note {MARKUP})").wait_for(timeout=30_000)
        text = main.inner_text()
        assert f"Mestna občina Maribor {MARKUP}:" in text
        assert MARKUP in page.locator("[data-testid='stCaptionContainer']").last.inner_text()
        assert _no_markup_from_data(main)
        page.get_by_role("link", name="Data & sources").click()
        table = page.locator("[data-testid='stTable']")
        table.wait_for(timeout=30_000)
        assert table.inner_text().count(MARKUP) == 4  # title, source, licence, attribution
        derived = main.get_by_text("district polygons are approximate").inner_text()
        assert derived.count(MARKUP) == 2  # a name and the note
        assert _no_markup_from_data(main)
        assert page.locator("[data-testid='stException']").count() == 0
    assert visit.outside == []
    assert visit.errors == []


# --- the Register page ------------------------------------------------------------------------

REGISTER_PAGE = "views/register.py"
EDITOR, VIEWER, PASSWORD = "reg-editor", "reg-viewer", "register-test-pw"
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def register_users(loaded: str) -> str:
    """An editor and a viewer of the register (same password)."""
    from twin.register.users import add_user

    add_user(EDITOR, PASSWORD, "editor", url=loaded)
    add_user(VIEWER, PASSWORD, "viewer", url=loaded)
    return loaded


def _new_light(url: str, name: str | None = None, point: tuple[float, float] = (15.6467, 46.5576),
               **values: object) -> str:  # fmt: skip
    """Add a street light (by a test user other than the page's); return its id."""
    from twin.register import store

    values = {"lamp_type": "sodium", "power_w": 100, **values}
    values["name"] = name or f"lamp {uuid.uuid4().hex[:10]}"
    other = store.Actor("reg-other", "editor")
    return store.create("street_light", values, shapely.Point(*point), actor=other,
                        reason="test fixture", url=url)  # fmt: skip


def _register_page(name: str, asset_id: str) -> AppTest:
    """Run the Register page with the street light ``asset_id`` (named ``name``) selected."""
    app = _run(REGISTER_PAGE)
    assert not app.exception
    app.selectbox(key="register-class").set_value("street_light").run()
    app.text_input(key="register-search-street_light").input(name).run()
    app.selectbox(key="register-asset").set_value(asset_id).run()
    assert not app.exception
    return app


def _sign_in(app: AppTest, user: str = EDITOR, password: str = PASSWORD) -> AppTest:
    app.sidebar.text_input(key="register-user").input(user)
    app.sidebar.text_input(key="register-password").input(password)
    app.sidebar.button(key="register-sign-in-submit").click().run()
    assert not app.exception
    return app


def _edit_key(asset_id: str, version: int, field: str) -> str:
    return f"register-edit-{asset_id}-{version}-{field}"


def _text(markdown: str) -> str:
    """Return Markdown with its backslash escapes resolved (the text a reader sees)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _frame(app: AppTest, columns: list[str]) -> pd.DataFrame:
    """Return the first table of the page with exactly these columns."""
    return next(df.value for df in app.dataframe if list(df.value.columns) == columns)


def _table(app: AppTest) -> pd.DataFrame:
    """Return the page's table of the listed assets."""
    return next(df.value for df in app.dataframe if {"id", "version"} <= set(df.value.columns))


def _buttons(app: AppTest) -> list[str]:
    return [b.label for b in app.button]


@pytest.mark.usefixtures("fresh_app")
def test_register_page_runs_and_lists_the_class(register_users: str) -> None:
    name = f"lamp {uuid.uuid4().hex[:10]}"
    asset_id = _new_light(register_users, name, road="Partizanska cesta")
    app = _register_page(name, asset_id)
    assert not app.error
    table = _table(app)
    assert table["id"].tolist() == [asset_id]  # the search found it and only it
    assert table["name"].tolist() == [name]
    assert any(name in md.value for md in app.markdown)  # the panel's title
    details = _frame(app, ["field", "value"]).set_index("field")["value"]
    assert details["lamp type"] == "sodium"
    assert details["power (W)"] == "100"
    assert details["road"] == "Partizanska cesta"
    # the history tab lists the version with who and why
    (entry,) = [_text(md.value) for md in app.markdown if md.value.startswith("**version ")]
    assert entry.startswith("**version 1** · insert · ")
    assert entry.endswith(" · reg-other  \n*test fixture*")


@pytest.mark.usefixtures("fresh_app")
def test_register_shows_linked_assets_and_goes_to_the_parent(register_users: str) -> None:
    from twin.register import store

    name = f"lamp {uuid.uuid4().hex[:10]}"
    lamp = _new_light(register_users, name)
    sensor = store.create(
        "sensor", {"name": f"noise on {name}", "kind": "noise", "parent_id": lamp},
        shapely.Point(15.6467, 46.5576), actor=store.Actor("reg-other", "editor"),
        url=register_users,
    )  # fmt: skip
    app = _register_page(name, lamp)
    assert any("Linked assets" in md.value for md in app.markdown)
    linked = _frame(app, ["class", "id", "name", "state"])
    assert linked.values.tolist() == [["sensor", sensor, f"noise on {name}", "active"]]
    app.selectbox(key=f"register-child-{lamp}").set_value(sensor).run()
    app.button(key=f"register-open-child-{lamp}").click().run()
    assert app.selectbox(key="register-class").value == "sensor"
    assert app.selectbox(key="register-asset").value == sensor
    assert _frame(app, ["field", "value"]).set_index("field")["value"]["kind"] == "noise"
    # and back to the lamp it hangs on
    app.button(key=f"register-parent-{sensor}").click().run()
    assert (app.selectbox(key="register-class").value, app.session_state["register-asset"]) == (
        "street_light",
        lamp,
    )


@pytest.mark.usefixtures("fresh_app")
def test_register_without_sign_in_offers_no_edit(register_users: str) -> None:
    name = f"lamp {uuid.uuid4().hex[:10]}"
    asset_id = _new_light(register_users, name)
    app = _register_page(name, asset_id)
    assert "Save changes" not in _buttons(app)
    assert not any(
        b.label.startswith(("Retire", "Save the position", "Add the")) for b in app.button
    )
    assert not [w for w in app.text_input if str(w.key).startswith("register-edit-")]
    assert any("Editing needs sign-in" in info.value for info in app.info)

    # a viewer signs in: still nothing to save
    _sign_in(app, VIEWER)
    assert "Save changes" not in _buttons(app)
    assert any("only editors and admins may edit" in info.value for info in app.info)

    # a wrong password signs nobody in
    app.sidebar.button(key="register-sign-out").click().run()
    _sign_in(app, EDITOR, "wrong password")
    assert "Save changes" not in _buttons(app)
    assert any("wrong user name or password" in e.value for e in app.sidebar.error)


@pytest.mark.usefixtures("fresh_app")
def test_register_editor_saves_an_edit_as_a_new_version(register_users: str) -> None:
    from twin.register import store

    name = f"lamp {uuid.uuid4().hex[:10]}"
    asset_id = _new_light(register_users, name)
    app = _sign_in(_register_page(name, asset_id))
    app.text_input(key=_edit_key(asset_id, 1, "road")).input("Gosposvetska cesta")
    app.selectbox(key=_edit_key(asset_id, 1, "lamp_type")).set_value("LED")
    app.text_input(key=_edit_key(asset_id, 1, "reason")).input("survey 2026")
    app.button(key=_edit_key(asset_id, 1, "save")).click().run()
    assert not app.exception
    assert any("Saved version 2" in s.value for s in app.success)

    stored = store.get_asset(asset_id, register_users)
    assert stored["version"] == 2
    assert stored["road"] == "Gosposvetska cesta"
    assert stored["lamp_type"] == "LED"
    assert stored["power_w"] == 100
    last = store.history(asset_id, register_users)[-1]
    assert (last.version, last.changed_by, last.reason) == (2, EDITOR, "survey 2026")
    # only the two changed fields were sent
    assert sorted(last.changes) == [
        "lamp_type: 'sodium' → 'LED'",
        "road: None → 'Gosposvetska cesta'",
    ]
    # the form is now open on the new version
    assert app.text_input(key=_edit_key(asset_id, 2, "road")).value == "Gosposvetska cesta"


@pytest.mark.usefixtures("fresh_app")
def test_register_invalid_values_are_shown_at_their_fields_and_nothing_is_saved(
    register_users: str,
) -> None:
    from twin.register import store

    name = f"lamp {uuid.uuid4().hex[:10]}"
    asset_id = _new_light(register_users, name)
    app = _sign_in(_register_page(name, asset_id))
    app.text_input(key=_edit_key(asset_id, 1, "parent_id")).input("building:999999999")
    app.text_input(key=_edit_key(asset_id, 1, "road")).input("Ulica, ki se ne shrani")
    app.button(key=_edit_key(asset_id, 1, "save")).click().run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert any(e.startswith("**Not saved:**") and "is not in the register" in e for e in errors)
    assert "no such asset" in errors  # the parent field's own message, under it
    assert not app.main.success
    stored = store.get_asset(asset_id, register_users)
    assert stored["version"] == 1
    assert stored["parent_id"] is None
    assert stored["road"] is None
    assert len(store.history(asset_id, register_users)) == 1
    # the entries are kept for correcting them
    assert app.text_input(key=_edit_key(asset_id, 1, "road")).value == "Ulica, ki se ne shrani"

    # a number input holds its class's range: an out-of-range entry is not taken
    app.number_input(key=_edit_key(asset_id, 1, "power_w")).set_value(5000).run()
    assert app.number_input(key=_edit_key(asset_id, 1, "power_w")).value == 100


@pytest.mark.usefixtures("fresh_app")
def test_register_stale_edit_is_refused_and_the_entries_are_kept(register_users: str) -> None:
    from twin.register import store

    name = f"lamp {uuid.uuid4().hex[:10]}"
    asset_id = _new_light(register_users, name)
    app = _sign_in(_register_page(name, asset_id))
    # someone else changes the lamp while the form is open on version 1
    other = store.Actor("reg-other", "editor")
    store.update(asset_id, 1, {"power_w": 150}, actor=other, reason="meanwhile", url=register_users)

    app.text_input(key=_edit_key(asset_id, 1, "road")).input("Koroška cesta")
    app.button(key=_edit_key(asset_id, 1, "save")).click().run()
    assert not app.exception
    refusal = " ".join(e.value for e in app.error)
    assert "someone changed this asset since you opened version 1" in refusal
    (changes,) = [_text(md.value) for md in app.markdown if "What changed" in md.value]
    assert "- version 2 by reg-other at " in changes
    assert ": power_w: 100 → 150" in changes
    stored = store.get_asset(asset_id, register_users)
    assert (stored["version"], stored["power_w"], stored["road"]) == (2, 150, None)
    # nothing is lost: the entry is still in the form, and can be put onto the new version
    assert app.text_input(key=_edit_key(asset_id, 1, "road")).value == "Koroška cesta"
    app.button(key=f"register-rebase-{asset_id}").click().run()
    assert app.text_input(key=_edit_key(asset_id, 2, "road")).value == "Koroška cesta"
    assert app.number_input(key=_edit_key(asset_id, 2, "power_w")).value == 150
    app.button(key=_edit_key(asset_id, 2, "save")).click().run()
    stored = store.get_asset(asset_id, register_users)
    assert (stored["version"], stored["power_w"], stored["road"]) == (3, 150, "Koroška cesta")


@pytest.mark.usefixtures("fresh_app")
def test_register_moves_a_point_adds_retires_and_restores(register_users: str) -> None:
    from twin.register import store

    name = f"lamp {uuid.uuid4().hex[:10]}"
    asset_id = _new_light(register_users, name)
    app = _sign_in(_register_page(name, asset_id))
    app.number_input(key=_edit_key(asset_id, 1, "lon")).set_value(15.6501)
    app.number_input(key=_edit_key(asset_id, 1, "lat")).set_value(46.5588)
    app.button(key=_edit_key(asset_id, 1, "save-point")).click().run()
    assert not app.exception
    moved = shapely.from_wkt(store.get_asset(asset_id, register_users)["wkt"])
    assert (moved.x, moved.y) == pytest.approx((15.6501, 46.5588), abs=1e-7)

    # replace it from GeoJSON text
    app.text_area(key=_edit_key(asset_id, 2, "geometry-text")).input(
        '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [15.651, 46.559]}}'
    )
    app.button(key=_edit_key(asset_id, 2, "save-geometry")).click().run()
    moved = shapely.from_wkt(store.get_asset(asset_id, register_users)["wkt"])
    assert (moved.x, moved.y) == pytest.approx((15.651, 46.559), abs=1e-7)

    # replace it from an uploaded GeoJSON file
    upload = _lamp_file([({}, (15.6505, 46.5591))])
    app.file_uploader(key=_edit_key(asset_id, 3, "geometry-file")).set_value(
        ("position.geojson", upload, "application/geo+json")
    )
    app.run()
    app.button(key=_edit_key(asset_id, 3, "save-geometry")).click().run()
    moved = shapely.from_wkt(store.get_asset(asset_id, register_users)["wkt"])
    assert (moved.x, moved.y) == pytest.approx((15.6505, 46.5591), abs=1e-7)

    # a line is not a street light's geometry: refused, with the reason
    app.text_area(key=_edit_key(asset_id, 4, "geometry-text")).input(
        "LINESTRING (15.6 46.5, 15.7 46.6)"
    )
    app.button(key=_edit_key(asset_id, 4, "save-geometry")).click().run()
    assert any("needs a Point" in e.value and "got a LineString" in e.value for e in app.error)
    assert store.get_asset(asset_id, register_users)["version"] == 4

    # retire, then restore version 1 from the history
    app.text_input(key=_edit_key(asset_id, 4, "retire-reason")).input("pole removed")
    app.button(key=_edit_key(asset_id, 4, "retire")).click().run()
    assert store.get_asset(asset_id, register_users)["state"] == "retired"
    app.selectbox(key=f"register-restore-{asset_id}").set_value(1)
    app.button(key=f"register-restore-button-{asset_id}").click().run()
    restored = store.get_asset(asset_id, register_users)
    assert (restored["state"], restored["version"]) == ("active", 6)
    assert shapely.from_wkt(restored["wkt"]).equals_exact(shapely.Point(15.6467, 46.5576), 1e-6)

    # add a new street light: it is created and selected
    new_name = f"new lamp {uuid.uuid4().hex[:8]}"
    app.text_input(key="register-new-street_light-name").input(new_name)
    app.number_input(key="register-new-street_light-power_w").set_value(40)
    app.text_input(key="register-new-street_light-reason").input("new pole")
    app.button(key="register-new-street_light-add").click().run()
    assert not app.exception
    new_id = app.session_state["register-asset"]
    created = store.get_asset(new_id, register_users)
    assert (created["name"], created["power_w"], created["lamp_type"]) == (new_name, 40, "LED")
    assert store.history(new_id, register_users)[0].changed_by == EDITOR


#: Where the browser test's street light stands (away from the other tests' lamps).
XSS_POINT = (15.6302, 46.5489)


def _open_in_register(page, asset_id: str) -> None:
    """Go to the Register page, choose the street lights and search for ``asset_id``."""
    page.get_by_role("link", name="Register").click()
    page.locator(f"{DECK} canvas").first.wait_for(timeout=30_000)
    page.locator("[data-testid='stSelectbox']").first.click()
    page.keyboard.type("Street light")
    page.keyboard.press("Enter")
    # the search box is the street lights' own once the page shows their chooser
    page.get_by_text("Selected street light").wait_for(timeout=30_000)
    search = page.get_by_role("textbox", name="Search")
    search.fill(asset_id)
    search.press("Enter")
    page.get_by_text("Street light: 1 asset.").wait_for(timeout=30_000)


def _canvas_point(canvas, view: dict, lon: float, lat: float) -> tuple[float, float]:
    """Return the page coordinates of ``lon``/``lat`` on a deck canvas showing ``view``."""
    box = canvas.bounding_box()
    x, y = _pixel(view, lon, lat, box["width"], box["height"])
    return box["x"] + x, box["y"] + y


def _tooltip_at(page, canvas, view: dict, point: tuple[float, float], text: str):
    """Hover ``point`` until the deck's tooltip shows ``text``; return the tooltip."""
    tooltip = page.locator(".deck-tooltip").first
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        x, y = _canvas_point(canvas, view, *point)
        page.mouse.move(x + 1, y + 1)
        time.sleep(0.5)
        if tooltip.is_visible() and text in tooltip.inner_text():
            break
    return tooltip


def _sign_in_browser(page, user: str, password: str) -> None:
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {user}").wait_for(timeout=30_000)


def _click_grid_cell(page, canvas, point: tuple[float, float], cells_east: int) -> float:
    """Turn on the move grid (2 m cells) and click the cell ``cells_east`` east of ``point``.

    Return the longitude of that cell's centre, once the longitude input shows it.
    """
    from twin.scene.register import grid_view, move_grid

    page.get_by_role("tab", name="Geometry").click()
    page.get_by_text("Pick the position on the map").click()
    page.get_by_text("Click a cell of the blue grid").wait_for(timeout=30_000)
    time.sleep(2)  # the grid is drawn, and the map shows all of it
    grid = grid_view(move_grid(*point, 2))
    view = {"longitude": grid.longitude, "latitude": grid.latitude, "zoom": grid.zoom}
    cell_lon = point[0] + cells_east * 2 / (111_320 * math.cos(math.radians(point[1])))
    # hover until deck.gl picks the cell, then click it. On the CPU renderer deck.gl's
    # asynchronous pick on pointer-down sometimes finds nothing the first time a layer is
    # clicked (the click then selects nothing and the page does not change): click again.
    tooltip = _tooltip_at(page, canvas, view, (cell_lon, point[1]), f"{cell_lon:.6f}")
    assert f"{cell_lon:.6f}, {point[1]:.6f}" in tooltip.inner_text()
    longitude = page.get_by_role("tabpanel").get_by_label("Longitude (°E)")
    for _ in range(3):
        page.mouse.click(*_canvas_point(canvas, view, cell_lon, point[1]))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and float(longitude.input_value()) < point[0] + 5e-5:
            time.sleep(0.3)
        if float(longitude.input_value()) > point[0] + 5e-5:
            break
    assert float(longitude.input_value()) == pytest.approx(cell_lon, abs=2e-6)
    return cell_lon


@pytest.mark.browser
def test_register_page_in_the_browser_shows_markup_as_text_and_moves_a_point_by_click(
    app_url: str, visit: Visit, register_users: str, tmp_path: Path, frames
) -> None:
    from twin.register import store
    from twin.register.catalog import asset_class
    from twin.scene.register import register_deck

    asset_id = _new_light(register_users, XSS, XSS_POINT, road=XSS)
    page = visit.page
    dialogs: list[str] = []

    def dismiss(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(app_url)
    _open_in_register(page, asset_id)

    # the map's tooltip shows the name as text; a click on the lamp selects it
    lamps = store.list_assets("street_light", search=asset_id, url=register_users)
    deck = register_deck(lamps, asset_class("street_light"), (frames[1], frames[0], frames[2]))
    spec = deck.initial_view_state
    view = {"longitude": spec.longitude, "latitude": spec.latitude, "zoom": spec.zoom}
    canvas = page.locator(f"{DECK} canvas").first
    tooltip = _tooltip_at(page, canvas, view, XSS_POINT, XSS)
    assert XSS in tooltip.inner_text()
    assert tooltip.locator("img").count() == 0
    page.mouse.click(*_canvas_point(canvas, view, *XSS_POINT))
    main = page.locator("[data-testid='stMain']")
    heading = main.get_by_role("heading", name=XSS)
    heading.wait_for(timeout=30_000)

    # the name is text everywhere: the heading, the chooser, the details and the table
    assert XSS in heading.inner_text()
    chooser = page.locator("[data-testid='stSelectbox']").filter(has_text="Selected street light")
    assert chooser.locator("input").input_value() == f"{asset_id} · {XSS}"
    assert main.get_by_text(XSS, exact=True).count() >= 1
    assert page.locator("img[src='x']").count() == 0

    # an editor moves the lamp by clicking the grid cell 5 cells (of 2 m) east of it
    _sign_in_browser(page, EDITOR, PASSWORD)
    cell_lon = _click_grid_cell(page, canvas, XSS_POINT, cells_east=5)
    page.screenshot(path=str(tmp_path / "register-move.png"))
    page.get_by_role("button", name="Save the position").click()
    page.get_by_text("Saved the geometry as version 2").wait_for(timeout=30_000)
    moved = shapely.from_wkt(store.get_asset(asset_id, register_users)["wkt"])
    metres = (moved.x - XSS_POINT[0]) * 111_320 * math.cos(math.radians(XSS_POINT[1]))
    assert metres == pytest.approx(10, abs=0.5)
    assert moved.x == pytest.approx(cell_lon, abs=2e-6)
    assert moved.y == pytest.approx(XSS_POINT[1], abs=2e-6)
    last = store.history(asset_id, register_users)[-1]
    assert (last.changed_by, last.changes) == (EDITOR, ["geometry changed"])

    page.set_viewport_size({"width": 1440, "height": 2000})
    page.screenshot(path=str(tmp_path / "register.png"))
    assert main.locator("[data-testid='stException']").count() == 0
    assert (page.locator("img[src='x']").count(), dialogs) == (0, [])
    assert visit.outside == []
    assert visit.errors == []


def _lamp_file(features: list[tuple[dict, tuple[float, float]]]) -> bytes:
    """Return a GeoJSON FeatureCollection of street lights (properties, lon/lat)."""
    return json.dumps(
        {"type": "FeatureCollection",
         "features": [{"type": "Feature", "properties": props,
                       "geometry": {"type": "Point", "coordinates": list(point)}}
                      for props, point in features]}
    ).encode()  # fmt: skip


@pytest.mark.usefixtures("fresh_app")
def test_register_imports_a_file_after_a_dry_run_and_exports_the_class(
    register_users: str,
) -> None:
    from twin.register import store

    name = f"lamp {uuid.uuid4().hex[:10]}"
    asset_id = _new_light(register_users, name)
    new_name = f"imported {uuid.uuid4().hex[:8]}"
    good = _lamp_file(
        [({"id": asset_id, "name": name, "lamp_type": "LED", "power_w": 100}, (15.6467, 46.5576)),
         ({"name": new_name, "lamp_type": "sodium", "power_w": 70}, (15.6402, 46.5589))]
    )  # fmt: skip
    app = _sign_in(_register_page(name, asset_id))

    # a file with a bad row: the check lists it and offers no import
    bad = _lamp_file([({"name": new_name, "lamp_type": "LED", "power_w": 99999}, (15.64, 46.55))])
    app.file_uploader(key="register-import-file").set_value(
        ("bad.geojson", bad, "application/json")
    )
    app.run()
    app.button(key="register-import-check").click().run()
    assert not app.exception
    assert [m.value for m in app.metric] == ["1", "0", "0", "0", "1"]
    problems = _frame(app, ["row", "field", "reason"])
    assert problems.to_dict("records") == [
        {"row": 1, "field": "power_w", "reason": "must be at least 1 and at most 2000 (got 99999)"}
    ]
    assert "register-import-confirm" not in [b.key for b in app.button]

    # a good file: the dry run writes nothing, the confirmed import writes both rows
    app.file_uploader(key="register-import-file").set_value(
        ("lamps.geojson", good, "application/json")
    )
    app.run()
    app.button(key="register-import-check").click().run()
    assert [m.value for m in app.metric] == ["2", "1", "1", "0", "0"]
    assert store.get_asset(asset_id, register_users)["lamp_type"] == "sodium"
    assert store.list_assets("street_light", search=new_name, url=register_users).empty
    app.text_input(key="register-import-reason").input("contractor delivery")
    app.button(key="register-import-confirm").click().run()
    assert not app.exception
    assert any("Imported: 1 new, 1 changed" in s.value for s in app.main.success)
    assert store.get_asset(asset_id, register_users)["lamp_type"] == "LED"
    (added,) = store.list_assets("street_light", search=new_name, url=register_users)["id"]
    last = store.history(added, register_users)[-1]
    assert last.changed_by == EDITOR
    assert last.reason == "import lamps.geojson: contractor delivery"

    # the export of the class holds the assets as they are now
    from views import _register_transfer as transfer

    exported = json.loads(transfer._exporter("street_light", ".geojson", None, register_users)())
    rows = {f["properties"]["id"]: f["properties"] for f in exported["features"]}
    assert rows[asset_id]["lamp_type"] == "LED"
    assert rows[added]["name"] == new_name
    download = app.get("download_button")[0]
    assert download.label == "Download GeoPackage"


@pytest.mark.usefixtures("fresh_app")
def test_register_as_of_shows_the_past_read_only(register_users: str) -> None:
    from datetime import date, timedelta

    name = f"lamp {uuid.uuid4().hex[:10]}"
    asset_id = _new_light(register_users, name)
    app = _sign_in(_register_page(name, asset_id))
    assert "Save changes" in _buttons(app)
    # the end of today: the lamp is there, read-only
    app.date_input(key="register-as-of-date").set_value(date.today()).run()
    assert not app.exception
    assert _table(app)["id"].tolist() == [asset_id]
    assert "Save changes" not in _buttons(app)
    assert any("read-only" in info.value for info in app.info)
    assert not any(str(b.key).startswith("register-new-") for b in app.button)
    # yesterday it did not exist yet
    app.date_input(key="register-as-of-date").set_value(date.today() - timedelta(days=1)).run()
    assert _table(app).empty
    assert any("did not exist at the chosen moment" in w.value for w in app.warning)
