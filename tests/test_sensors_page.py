"""The Sensors page: what it reads (states, series, thresholds), the page run in-process, and
the page live in a real chromium while a reading arrives over MQTT."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pytest
import streamlit as st
from conftest import REPO
from PIL import Image
from psycopg import sql
from streamlit.testing.v1 import AppTest
from test_app import (
    DECK,
    Visit,
    _canvas_point,
    _serve,
    _tooltip_at,
    browser,  # noqa: F401 - the module's browser fixture
    open_visit,
)

from twin import db
from twin.config import get_settings
from twin.sensors import live, series
from twin.sensors.adapters import ArsoAdapter, CsvAdapter
from twin.sensors.latest import COLUMNS
from twin.sensors.observations import ingest

PAGE = "views/sensors.py"
ARSO = REPO / "gis_data" / "air_quality_arso_sample.xml"
XSS = "<img src=x onerror=alert(1)>"
#: The page's own test sensors: one with a hostile name, one synthetic.
HOSTILE, SYNTHETIC = "PGX1", "PGS1"
#: Where they stand (lon, lat), apart from the ARSO stations.
HOSTILE_POINT, SYNTHETIC_POINT = (15.6102, 46.5361), (15.6802, 46.5421)
SENSORS_SQL = """
INSERT INTO register.sensor (name, kind, observed_properties, station_code, synthetic,
                             reporting_interval_s, geom)
VALUES (%(xss)s, 'air_quality', 'no2;pm10', 'PGX1', false, 3600,
        ST_Transform(ST_SetSRID(ST_MakePoint(%(x1)s, %(y1)s), 4326), 3794)),
       (NULL, 'noise', 'noise', 'PGS1', true, 3600,
        ST_Transform(ST_SetSRID(ST_MakePoint(%(x2)s, %(y2)s), 4326), 3794))
"""


def _readings(sensor: str, prop: str, times: pd.DatetimeIndex, values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"sensor": sensor, "property": prop, "phenomenon_time": times,
                         "value": values, "quality": "ok"})  # fmt: skip


# --- what the page computes --------------------------------------------------------------------


def _latest_row(sensor: str, prop: str, value: float | None, *, stale: bool, state: str | None,
                **more: object) -> dict:  # fmt: skip
    row = dict.fromkeys(COLUMNS)
    row.update(
        datastream_id=hash((sensor, prop)) % 10_000, sensor_id=f"sensor:{sensor}", name=sensor,
        kind="air_quality", external_id=sensor, synthetic=False, source="test", e=0.0, n=0.0,
        lon=15.6, lat=46.5, property=prop, unit="µg/m³",
        phenomenon_time=pd.Timestamp("2026-01-01T11:00Z"), value=value, quality="ok",
        stale=stale, threshold_state=state,
    )  # fmt: skip
    row.update(more)
    return row


def test_a_sensor_takes_the_most_severe_state_of_its_fresh_streams() -> None:
    frame = pd.DataFrame(
        [
            _latest_row("A", "no2", 250.0, stale=True, state="limit"),
            _latest_row("A", "pm10", 20.0, stale=False, state="ok"),
            _latest_row("B", "no2", 450.0, stale=True, state="alert"),
            _latest_row("C", "no2", 250.0, stale=False, state="limit"),
            _latest_row("C", "o3", 190.0, stale=False, state="information"),
            _latest_row("C", "pm2.5", None, stale=False, state="below_detection",
                        quality="below_detection", detection_limit=2.0),
            _latest_row("D", "noise", 61.0, stale=False, state=None),
        ]
    )  # fmt: skip
    now = pd.Timestamp("2026-01-01T12:00:30Z")
    streams = live.streams(frame, now)
    by_key = streams.set_index(["external_id", "property"])
    assert by_key.loc[("A", "no2"), "state"] == "stale"
    assert by_key.loc[("A", "no2"), "value_state"] == "above the limit value"
    assert by_key.loc[("A", "no2"), "freshness"] == "stale, 60 min ago"
    assert by_key.loc[("C", "pm2.5"), "value_text"] == "<2"
    assert by_key.loc[("D", "noise"), "state"] == "none"
    assert by_key.loc[("C", "o3"), "freshness"] == "60 min ago"
    # the most severe state first: C's limit before the rest
    assert streams["state"].iloc[0] == "limit"
    assert streams["external_id"].iloc[0] == "C"
    sensors = live.sensors(streams).set_index("external_id")
    assert sensors["state"].to_dict() == {"A": "ok", "B": "stale", "C": "limit", "D": "none"}
    assert sensors.loc["A", "stale_streams"] == 1
    assert sensors.loc["C", "streams"] == 3
    assert sensors.loc["C", "tt_text"].splitlines() == [
        "no2: 250 µg/m³ · above the limit value · 2026-01-01 12:00:00",
        "o3: 190 µg/m³ · above the information threshold · 2026-01-01 12:00:00",
        "pm2.5: <2 µg/m³ · below detection · 2026-01-01 12:00:00",
    ]
    assert sensors.loc["A", "tt_text"].splitlines() == [
        "pm10: 20 µg/m³ · under the thresholds · 2026-01-01 12:00:00",
        "no2: 250 µg/m³ · above the limit value · stale since 2026-01-01 12:00:00",
    ]
    assert live.state_counts(sensors.reset_index()) == {
        "alert": 0, "limit": 1, "information": 0, "target": 0, "ok": 1,
        "below_detection": 0, "none": 1, "stale": 1,
    }  # fmt: skip


def test_ages_are_written_in_a_fitting_unit() -> None:
    ages = live.ages(pd.Series([0, 59.9, 119, 120, 7199, 7200, 172_799, 172_800, -5]))
    assert ages.tolist() == ["0 s", "59 s", "119 s", "2 min", "119 min", "2 h", "47 h", "2 d",
                             "0 s"]  # fmt: skip
    assert live.numbers(pd.Series([17.0, 0.456, np.nan, 1234.5])).tolist() == [
        "17", "0.46", "", "1234.5"
    ]  # fmt: skip


def test_the_window_ends_at_the_newest_reading_and_buckets_keep_few_points() -> None:
    now = pd.Timestamp("2026-11-26T12:00Z").to_pydatetime()
    old = pd.Timestamp("2025-04-07T15:00Z").to_pydatetime()
    since, until = series.window(series.RANGES["24 h"], old, now)
    assert (until - since) == series.RANGES["24 h"]
    assert since < old < until
    since, until = series.window(series.RANGES["7 d"], None, now)
    assert until > now > since
    assert series.bucket(since, until).total_seconds() == np.ceil(7 * 86_400 / series.MAX_POINTS)
    assert series.bucket(since, since + pd.Timedelta(minutes=5)).total_seconds() == 1


def test_far_thresholds_are_left_off_the_chart_but_the_lowest_stays() -> None:
    lines = pd.DataFrame({"value": [200.0, 400.0]})
    assert series.drawn(lines, 40.0).tolist() == [True, False]
    assert series.drawn(lines, 300.0).tolist() == [True, True]
    assert series.drawn(lines, float("nan")).tolist() == [True, False]


# --- the database side ------------------------------------------------------------------------


def _other_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def _loaded_database(url: str, name: str) -> str:
    """Create the database ``name`` next to ``url``, migrated and with the Maribor data.

    The page's tests keep to databases of their own: they add sensors and readings that
    other modules' counts must not see, and they must not see those modules' readings.
    """
    from twin.load.maribor import load

    with db.connect(_other_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    own = _other_database(url, name)
    with db.connect(own, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    db.migrate(own)
    load(url=own)
    return own


@pytest.fixture(scope="module")
def sensor_db(db_url: str) -> dict:
    """A loaded database of its own with the ARSO sample and the page's two test sensors."""
    loaded = _loaded_database(db_url, "twin_sensors_page")
    ArsoAdapter(ARSO).run(loaded)
    now = pd.Timestamp.now(tz="UTC").floor("s")
    hours = pd.date_range(end=now - pd.Timedelta(minutes=1), periods=48, freq="h")
    no2 = [20.0 + (k % 12) for k in range(48)]
    with psycopg.connect(loaded) as conn:
        conn.execute(SENSORS_SQL, {"xss": XSS, "x1": HOSTILE_POINT[0], "y1": HOSTILE_POINT[1],
                                   "x2": SYNTHETIC_POINT[0], "y2": SYNTHETIC_POINT[1]})  # fmt: skip
        ingest(conn, _readings(HOSTILE, "no2", hours, no2), "test")
        ingest(conn, _readings(SYNTHETIC, "noise", hours[-3:], [55.0, 56.0, 57.5]), "test")
    with psycopg.connect(loaded) as conn:
        ids = dict(
            conn.execute(
                "SELECT station_code, id FROM register.sensor "
                "WHERE station_code IN ('PGX1', 'PGS1', 'E407', 'E408')"
            ).fetchall()
        )
    return {"url": loaded, "ids": ids, "hours": hours, "no2": no2, "now": now}


def test_the_series_of_a_sensor_is_its_readings_and_long_ranges_are_bucketed(
    sensor_db: dict,
) -> None:
    url, sensor_id = sensor_db["url"], sensor_db["ids"][HOSTILE]
    hours, no2 = sensor_db["hours"], sensor_db["no2"]
    newest = series.newest_reading(sensor_id, url)
    assert newest == hours[-1]
    since, until = series.window(series.RANGES["24 h"], newest, sensor_db["now"])
    day = series.series(sensor_id, since, until, url)
    expected = [v for t, v in zip(hours, no2, strict=True) if t >= since]
    assert day["value"].tolist() == expected
    assert day["phenomenon_time"].tolist() == [t for t in hours if t >= since]
    assert set(day["count"]) == {1}
    # 48 readings an hour apart over a 7-day range in buckets of 2 hours (at most 500 points)
    week = series.series(sensor_id, hours[0] - pd.Timedelta(days=5), hours[-1] + pd.Timedelta(
        seconds=1), url, )  # fmt: skip
    assert week["count"].sum() == 48
    assert week["value"].mul(week["count"]).sum() == pytest.approx(sum(no2))
    assert week["min"].min() == min(no2)
    assert week["max"].max() == max(no2)
    assert len(week) <= series.MAX_POINTS
    lines = series.thresholds(["no2", "noise"], url)
    assert lines["property"].tolist() == ["no2", "no2"]
    assert lines["label"].tolist() == ["limit 200 µg/m³, hourly", "alert 400 µg/m³, hourly"]


def test_the_readme_csv_example_ingests_as_documented(sensor_db: dict, tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = readme.split("```csv\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "readings.csv"
    path.write_text(example, encoding="utf-8")
    first = CsvAdapter(path).run(sensor_db["url"])
    assert (first.received, first.stored, first.dead_letters) == (3, 3, 0)
    assert CsvAdapter(path).run(sensor_db["url"]).stored == 0
    with psycopg.connect(sensor_db["url"]) as conn:
        rows = conn.execute(
            "SELECT d.property, o.value, o.quality, o.detection_limit, o.phenomenon_end "
            "FROM twin.observations o JOIN twin.datastreams d ON d.id = o.datastream_id "
            "WHERE o.source = 'csv:readings.csv' ORDER BY d.property"
        ).fetchall()
    assert [r[:4] for r in rows] == [("no2", 21.5, "ok", None), ("o3", 87.0, "ok", None),
                                     ("pm2.5", None, "below_detection", 2.0)]  # fmt: skip
    assert rows[1][4] == pd.Timestamp("2025-11-26T14:00Z")


# --- the page, in-process -----------------------------------------------------------------------


@pytest.fixture
def fresh_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Let the page import ``views`` and start with empty caches and settings read anew."""

    def clear() -> None:
        get_settings.cache_clear()
        st.cache_data.clear()
        st.cache_resource.clear()

    monkeypatch.syspath_prepend(str(REPO))
    clear()
    yield monkeypatch
    clear()


def _run(url: str, fresh_app: pytest.MonkeyPatch) -> AppTest:
    fresh_app.setenv("TWIN_DATABASE_URL", url)
    app = AppTest.from_file(str(REPO / PAGE), default_timeout=60).run()
    assert not app.exception, app.exception
    return app


@pytest.fixture(scope="module")
def empty_db(db_url: str) -> str:
    """A database of its own with the Maribor data but no sensor reading."""
    return _loaded_database(db_url, "twin_sensors_empty")


def test_the_page_says_what_to_run_without_twin_tables(db_url: str, fresh_app) -> None:
    app = _run(_other_database(db_url, "postgres"), fresh_app)
    assert len(app.error) == 1
    assert "twin tables" in app.error[0].value
    assert "`twin db up` and then `twin load maribor`" in app.info[0].value


def test_the_page_says_how_to_get_readings_when_there_are_none(empty_db: str, fresh_app) -> None:
    app = _run(empty_db, fresh_app)
    assert not app.error
    assert len(app.info) == 1
    assert app.info[0].value.startswith("No sensor has reported yet.")
    assert "`twin ingest arso gis_data/air_quality_arso_sample.xml`" in app.info[0].value
    assert not app.dataframe
    assert not [e for e in app.main if getattr(e, "type", "") == "deck_gl_json_chart"]


def _deck(app: AppTest) -> dict:
    (deck,) = [e for e in app.main if getattr(e, "type", "") == "deck_gl_json_chart"]
    return json.loads(deck.proto.json)


def _charts(app: AppTest) -> dict[str, list[pd.DataFrame]]:
    """Each Vega-Lite chart by title: its datasets (Arrow), in the order of its layers."""
    charts = {}
    for element in app.main:
        if getattr(element, "type", "") != "vega_lite_chart":
            continue
        spec = json.loads(element.proto.spec)
        tables = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas()
                  for d in element.proto.datasets}  # fmt: skip
        names = [layer.get("data", spec.get("data", {})).get("name") for layer in spec["layer"]]
        charts[spec["title"]] = [tables[n] for n in dict.fromkeys(names)]
    return charts


def test_the_page_maps_and_lists_the_sensors_after_the_arso_ingest(
    sensor_db: dict, fresh_app
) -> None:
    app = _run(sensor_db["url"], fresh_app)
    assert not app.error
    with psycopg.connect(sensor_db["url"]) as conn:
        n_streams = conn.execute("SELECT count(*) FROM twin.latest_observations").fetchone()[0]
        n_arso = conn.execute("SELECT count(*) FROM register.sensor WHERE source = 'ARSO'"
                              ).fetchone()[0]  # fmt: skip
    # the map: offline, one dot per sensor, tooltips as plain text
    spec = _deck(app)
    assert "http" not in json.dumps(spec)  # no tiles, no fonts, no data from elsewhere
    assert "mapProvider" not in spec
    (layer,) = [layer for layer in spec["layers"] if layer["id"] == "sensors"]
    dots = {d["tt_title"].split(" · ")[0]: d for d in layer["data"]}
    assert n_arso >= 3
    assert {"E403", "E407", "E408", HOSTILE, SYNTHETIC} <= set(dots)
    assert dots["E407"]["tt_title"] == "E407 · MB Titova"
    assert dots[HOSTILE]["tt_title"] == f"{HOSTILE} · {XSS}"
    assert dots[HOSTILE]["tt_text"].startswith("no2: 31 µg/m³ · under the thresholds · ")
    # a sensor without a name (as twin synth makes them) is named by its kind
    assert (
        dots[SYNTHETIC]["tt_title"] == f"{SYNTHETIC} · noise (synthetic sensor, simulated readings)"
    )
    assert rows_named(app)[SYNTHETIC] == ""
    assert (
        app.selectbox(key="sensors-chosen").format_func(dots[SYNTHETIC]["sensor_id"])
        == dots[SYNTHETIC]["tt_title"]
    )
    assert dots[SYNTHETIC]["line"] != dots[HOSTILE]["line"]  # the synthetic ring
    ok, none = (list(live_style(s)) for s in ("ok", "none"))
    assert dots[HOSTILE]["fill"] == ok
    assert dots[SYNTHETIC]["fill"] == none  # noise has no threshold
    assert "<img" not in json.dumps([layer["id"] for layer in spec["layers"]])
    # the table: every stream, with freshness, state and the synthetic flag
    table = app.dataframe[0].value
    assert len(table) == n_streams
    rows = table.set_index(["external_id", "property"])
    assert rows.loc[(HOSTILE, "no2"), "value_text"] == "31"
    assert rows.loc[(HOSTILE, "no2"), "name"] == XSS
    assert rows.loc[(HOSTILE, "no2"), "freshness"].endswith(" ago")
    assert not rows.loc[(HOSTILE, "no2"), "freshness"].startswith("stale")
    assert rows.loc[(HOSTILE, "no2"), "state"] == "ok"
    assert rows.loc[(SYNTHETIC, "noise"), "synthetic"] == "synthetic"
    assert rows.loc[("E407", "pm2.5"), "value_text"] == "<2"  # below detection, not 2
    assert rows.loc[("E403", "co"), "unit"] == "mg/m³"
    # ARSO's sample is from April 2025: its streams are stale
    assert rows.loc[("E408", "o3"), "freshness"].startswith("stale, ")
    assert any("synthetic" in c.value for c in app.caption)
    # the legend counts the sensors per state, and escapes what it shows
    (legend,) = [h.value for h in app.html]
    assert "under every threshold" in legend
    assert "<img" not in legend
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Datastreams"] == f"{n_streams:,}"


def rows_named(app: AppTest) -> dict[str, str]:
    """The streams table's name per sensor external id."""
    table = app.dataframe[0].value
    return dict(zip(table["external_id"], table["name"], strict=True))


def live_style(state: str) -> tuple[int, ...]:
    from twin.scene.catalog import layer

    return layer("sensors_live").style_of(state).fill or ()


def test_the_sensor_panel_charts_the_readings_with_the_threshold_lines(
    sensor_db: dict, fresh_app
) -> None:
    app = _run(sensor_db["url"], fresh_app)
    sensor_id = sensor_db["ids"][HOSTILE]
    app.selectbox(key="sensors-chosen").set_value(sensor_id).run()
    assert not app.exception
    from views._data import md_escape

    assert f"#### {md_escape(f'{HOSTILE} · {XSS}')}" in [m.value for m in app.markdown]
    (points, lines) = _charts(app)["no2"]
    day = [(t, v) for t, v in zip(sensor_db["hours"], sensor_db["no2"], strict=True)
           if t > sensor_db["hours"][-1] - pd.Timedelta(hours=24)]  # fmt: skip
    assert points["value"].tolist() == [v for _, v in day]
    local = [t.tz_convert("Europe/Ljubljana").tz_localize(None) for t, _ in day]
    assert points["time"].tolist() == local
    # the limit is drawn as a line; the alert level, far above the readings, is named below
    assert lines.to_dict("records") == [
        {"value": 200.0, "kind": "limit", "label": "limit 200 µg/m³, hourly"}
    ]
    assert any("Above the chart: alert 400 µg/m³, hourly" in c.value.replace("\\", "")
               for c in app.caption)  # fmt: skip
    metric = {m.label: m.value for m in app.metric}
    assert metric["no2"] == "31 µg/m³"

    # seven days: all 48 readings, still one point each (buckets of 20 minutes)
    app.segmented_control(key="sensors-range").set_value("7 d").run()
    (points, lines) = _charts(app)["no2"]
    assert points["value"].tolist() == sensor_db["no2"]

    # a stale ARSO station (E408, which no other test feeds): the 24 hours up to its newest
    # reading, below detection marked
    app.selectbox(key="sensors-chosen").set_value(sensor_db["ids"]["E408"]).run()
    app.segmented_control(key="sensors-range").set_value("24 h").run()
    charts = _charts(app)
    assert set(charts) == {"no2", "o3", "pm10", "pm2.5"}
    (pm25,) = charts["pm2.5"]  # no threshold: no line
    assert pm25["below"].any()
    assert set(pm25.loc[pm25["below"], "text"]) == {"<2"}
    assert set(pm25.loc[pm25["below"], "shown"]) == {2.0}
    assert charts["pm10"][1]["label"].tolist() == ["limit 50 µg/m³, daily mean"]


# --- the page in a real browser ---------------------------------------------------------------


@pytest.fixture
def visit(browser) -> Iterator[Visit]:  # noqa: F811 - the imported fixture, as an argument
    yield from open_visit(browser, width=1400, height=1000)


class Worker:
    """``twin ingest mqtt`` as a process of its own, its stderr collected."""

    def __init__(self, env: dict[str, str], buffer: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "twin.cli", "ingest", "mqtt", "--buffer", str(buffer),
             "--max-wait", "0.05"],
            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        self.lines.extend(line.rstrip() for line in self.proc.stderr)

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, f"worker exited: {self.lines[-10:]}"
            assert time.monotonic() < deadline, f"worker did not say {text!r}: {self.lines[-10:]}"
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def worker(sensor_db: dict, mqtt_url: str, tmp_path: Path) -> Iterator[Worker]:
    env = {**os.environ, "TWIN_DATABASE_URL": sensor_db["url"], "TWIN_MQTT_URL": mqtt_url,
           "TWIN_MQTT_CLIENT_ID": f"sensors-page-{os.getpid()}"}  # fmt: skip
    running = Worker(env, tmp_path / "buffer.sqlite")
    try:
        running.wait_for("subscribed")
        yield running
    finally:
        running.stop()


def _cells(page, until: str, timeout: float = 5.0) -> list[str]:
    """The texts of the cells the tables show (their accessible copies of the grids), once
    one of them is ``until`` (or ``timeout`` seconds have passed)."""
    cells = page.locator("[data-testid='stDataFrame'] table td")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and until not in cells.all_inner_texts():
        time.sleep(0.2)
    return cells.all_inner_texts()


def _click_row(page, code: str) -> None:
    """Click the row selector of the streams table's first row of sensor ``code``."""
    grid = page.locator("[data-testid='stDataFrame']").first
    rows = grid.locator("table tr").all_inner_texts()  # the header, then the shown rows
    (index,) = [n for n, text in enumerate(rows) if code in text][:1]
    grid.evaluate("e => e.scrollIntoView({block: 'center'})")  # clear of the top bar
    box = grid.bounding_box()
    row_px = box["height"] / len(rows) if len(rows) < 10 else 35  # Streamlit's row height
    page.mouse.click(box["x"] + 15, box["y"] + row_px * index + row_px / 2)


def _view(url: str) -> dict:
    """The map's initial view (the municipality's bounds), as ``_pixel`` takes it."""
    from twin.districts import municipality_frame
    from twin.scene.districts import view_state

    state = view_state(tuple(float(v) for v in municipality_frame(url).total_bounds))
    return {"longitude": state.longitude, "latitude": state.latitude, "zoom": state.zoom}


def _map_shows_text_and_opens_on_click(page, url: str) -> None:
    """Hover the hostile sensor (its name is text), click the synthetic one (it opens)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    main = page.locator("[data-testid='stMain']")
    canvas = page.locator(f"{DECK} canvas").first
    canvas.scroll_into_view_if_needed()
    view = _view(url)
    tooltip = _tooltip_at(page, canvas, view, HOSTILE_POINT, XSS)
    assert XSS in tooltip.inner_text()
    assert tooltip.locator("img").count() == 0
    _tooltip_at(page, canvas, view, SYNTHETIC_POINT, SYNTHETIC)
    heading = main.get_by_role("heading", name=f"{SYNTHETIC} · noise")
    for _ in range(3):  # deck.gl's pick on the CPU renderer may miss the first click
        page.mouse.click(*_canvas_point(canvas, view, *SYNTHETIC_POINT))
        try:
            heading.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    assert heading.is_visible()


def _draws(page, colour: tuple[int, ...]) -> bool:
    """Say whether the map's canvas has pixels of ``colour`` (RGB, give or take 30)."""
    canvas = page.locator(f"{DECK} canvas").first
    rgb = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(int)
    return bool((np.abs(rgb - np.array(colour[:3])).max(axis=2) < 30).any())


def _choose(page, code: str) -> None:
    """Choose the sensor ``code`` in the panel's chooser: type to filter, take the first.

    The chooser filters fuzzily (``PGS1`` also matches ``PGX1 · <img src…(1)>``) but puts
    the best match first, and the first option is highlighted once the current one is
    filtered out.
    """
    page.locator("[data-testid='stSelectbox']").first.click()
    page.keyboard.type(code)
    options = page.get_by_role("option")
    deadline = time.monotonic() + 10
    while not (options.count() and code in options.first.inner_text()):
        assert time.monotonic() < deadline, f"the chooser did not offer {code} first"
        time.sleep(0.1)
    page.keyboard.press("Enter")


@pytest.mark.browser
def test_the_page_shows_a_reading_published_over_mqtt_within_5_s_without_reloading(
    sensor_db: dict, worker: Worker, mqtt_url: str, visit: Visit, tmp_path: Path
) -> None:
    from twin.mqtt.client import Publisher, parse_url

    page = visit.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with _serve(sensor_db["url"], tmp_path / "streamlit.log") as app:
        page.goto(app)
        page.get_by_role("link", name="Sensors").click()
        main = page.locator("[data-testid='stMain']")
        page.locator(f"{DECK} canvas").first.wait_for(timeout=60_000)
        _choose(page, HOSTILE)
        heading = main.get_by_role("heading", name=XSS)
        heading.wait_for(timeout=30_000)
        metric = main.locator("[data-testid='stMetric']").filter(has_text="no2")
        metric.filter(has_text="31 µg/m³").wait_for(timeout=30_000)
        # the name is text everywhere it shows: the heading, the chooser, the table
        assert XSS in heading.inner_text()
        assert page.locator("img[src='x']").count() == 0
        time.sleep(1.0)  # the page settles; mark it so that a reload would show
        page.evaluate("window.__sensorsMarker = 'kept'")

        when = pd.Timestamp.now(tz="UTC").floor("s").isoformat()
        body = json.dumps({"time": when, "value": 250, "unit": "µg/m³"})
        with Publisher(parse_url(mqtt_url)) as pub:
            pub.publish([(f"twin/sensors/{HOSTILE}/no2", body)])
            assert pub.wait(10)
            published = time.monotonic()
        metric.filter(has_text="250 µg/m³").wait_for(timeout=5_000)
        shown_after = time.monotonic() - published
        assert shown_after < 5.0
        main.get_by_text("above the limit value").first.wait_for(timeout=5_000)
        # the table lists the exceeded stream first, with the new value
        cells = _cells(page, until="250")
        assert "250" in cells
        assert XSS in cells
        assert page.evaluate("window.__sensorsMarker") == "kept", "the page was reloaded"

        # a click on a row of the table opens its sensor in the panel
        _click_row(page, SYNTHETIC)
        main.get_by_role("heading", name=f"{SYNTHETIC} · noise").wait_for(timeout=30_000)
        _click_row(page, HOSTILE)
        heading.wait_for(timeout=30_000)

        # the dot on the map turned red: the limit colour is drawn (before a click on the
        # map selects a dot and fades the others)
        assert _draws(page, live_style("limit")), "no dot in the limit colour"
        _map_shows_text_and_opens_on_click(page, sensor_db["url"])

        page.set_viewport_size({"width": 1400, "height": 2600})
        time.sleep(2.5)
        page.screenshot(path=str(tmp_path / "sensors-page.png"), full_page=True)
        assert main.locator("[data-testid='stException']").count() == 0
        page.goto("about:blank")  # before the server stops: the page reruns every few seconds
    assert dialogs == []
    assert page.locator("img[src='x']").count() == 0
    assert visit.outside == []
    assert visit.errors == []
    assert worker.proc.poll() is None, "the worker keeps running"
