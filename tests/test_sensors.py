"""The ingest path: ARSO and CSV adapters, replays, dead letters, latest values, exceedances."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from defusedxml import ElementTree

from twin.db._sql import sql_text
from twin.sensors import observations
from twin.sensors.adapters import ArsoAdapter, CsvAdapter
from twin.sensors.catalog import thresholds
from twin.sensors.latest import COLUMNS as LATEST_COLUMNS
from twin.sensors.latest import latest
from twin.sensors.observations import ingest

#: The ``twin`` command of this interpreter (the venv's bin need not be on PATH).
TWIN_CLI = (sys.executable, "-m", "twin.cli")

REPO = Path(__file__).resolve().parent.parent
ARSO = REPO / "gis_data" / "air_quality_arso_sample.xml"
_META = {"merilno_mesto", "datum_od", "datum_do"}


def _query(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params or None).fetchall()


def _file_counts() -> tuple[Counter, Counter, int]:
    """Independent reading of the sample: numeric and '<' values per station and tag, empties."""
    numeric, below, empty = Counter(), Counter(), 0
    seen = set()
    for station in ElementTree.parse(ARSO).getroot().iter("postaja"):
        for child in station:
            if child.tag in _META:
                continue
            key = (station.get("sifra"), child.tag, station.findtext("datum_od"))
            text = (child.text or "").strip()
            if not text:
                empty += 1
            elif key not in seen:
                seen.add(key)
                (below if text.startswith("<") else numeric)[key[:2]] += 1
    return numeric, below, empty


@pytest.fixture(scope="module")
def arso(loaded: str) -> dict:
    first = ArsoAdapter(ARSO).run(loaded)
    second = ArsoAdapter(ARSO).run(loaded)
    return {"url": loaded, "first": first, "second": second}


def test_the_arso_sample_ingests_with_counts_matching_the_file(arso: dict) -> None:
    numeric, below, empty = _file_counts()
    rows = _query(
        arso["url"],
        "SELECT s.station_code, d.property, count(o.value), "
        "count(*) FILTER (WHERE o.quality = 'below_detection') FROM twin.observations o "
        "JOIN twin.datastreams d ON d.id = o.datastream_id "
        "JOIN register.sensor s ON s.id = d.sensor_id WHERE o.source = 'ARSO' GROUP BY 1, 2",
    )
    rename = {"benzene": "benzen"}
    stored = {(code, rename.get(prop, prop)): (n, b) for code, prop, n, b in rows}
    assert {k: v[0] for k, v in stored.items() if v[0]} == dict(numeric)
    assert {k: v[1] for k, v in stored.items() if v[1]} == dict(below)
    assert arso["first"].stored == sum(numeric.values()) + sum(below.values())
    assert arso["first"].received == arso["first"].stored + empty
    assert arso["first"].dead_letters == 0


def test_a_second_arso_ingest_adds_nothing(arso: dict) -> None:
    assert arso["second"].stored == 0
    assert arso["second"].duplicates == arso["first"].stored
    assert arso["second"].new_datastreams == 0


def test_below_detection_is_kept_as_such_not_as_the_limit(arso: dict) -> None:
    rows = _query(
        arso["url"],
        "SELECT o.value, o.detection_limit FROM twin.observations o "
        "JOIN twin.datastreams d ON d.id = o.datastream_id "
        "JOIN register.sensor s ON s.id = d.sensor_id "
        "WHERE s.station_code = 'E407' AND d.property = 'pm2.5' AND o.quality = 'below_detection'",
    )
    assert rows
    assert all(value is None and limit == 2 for value, limit in rows)


def test_unknown_arso_stations_become_register_sensors(arso: dict) -> None:
    rows = _query(
        arso["url"],
        "SELECT station_code, kind, source, name FROM register.sensor WHERE source = 'ARSO' "
        "ORDER BY station_code",
    )
    codes = sorted({s.get("sifra") for s in ElementTree.parse(ARSO).getroot().iter("postaja")})
    assert [r[0] for r in rows] == codes
    assert {(r[1], r[2]) for r in rows} == {("air_quality", "ARSO")}
    assert ("E407", "MB Titova") in {(r[0], r[3]) for r in rows}


def test_latest_value_per_datastream_is_the_newest_observation(arso: dict) -> None:
    rows = _query(
        arso["url"],
        "SELECT l.phenomenon_time = m.newest FROM twin.latest_observations l "
        "JOIN (SELECT datastream_id, max(phenomenon_time) AS newest FROM twin.observations "
        "GROUP BY 1) m USING (datastream_id)",
    )
    assert rows
    assert all(r[0] for r in rows)


@pytest.mark.usefixtures("arso")
def test_the_summary_counts_numeric_and_below_detection_apart(cli_env: dict[str, str]) -> None:
    done = subprocess.run(
        [*TWIN_CLI, "sensors", "summary", "--json"], capture_output=True, text=True, env=cli_env,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {(r["sensor"], r["property"]): r for r in json.loads(done.stdout)}
    numeric, below, _ = _file_counts()
    pm = rows[("E407", "pm2.5")]
    assert pm["count"] == numeric[("E407", "pm2.5")]
    assert pm["below_detection"] == below[("E407", "pm2.5")]
    assert pm["unit"] == "µg/m³"
    assert pm["min"] <= pm["mean"] <= pm["max"]
    assert pm["first"] < pm["last"]
    narrow = subprocess.run(
        [*TWIN_CLI, "sensors", "summary", "--json", "--since", pm["last"]], capture_output=True,
        text=True, env=cli_env, check=False,
    )  # fmt: skip
    late = {(r["sensor"], r["property"]): r for r in json.loads(narrow.stdout)}
    assert late[("E407", "pm2.5")]["count"] + late[("E407", "pm2.5")]["below_detection"] == 1


def _csv(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "readings.csv"
    path.write_text("\n".join(["sensor,property,time,value,unit", *lines]) + "\n")
    return path


def test_bad_csv_rows_go_to_the_dead_letters_with_their_reason(arso: dict, tmp_path: Path) -> None:
    path = _csv(tmp_path, [
        "E407,no2,2030-01-01T10:00:00+01:00,21.5,µg/m³",
        "E407,no2,2030-01-01T11:00:00,22.5,µg/m³",
        "E407,no2,2030-01-01T12:00:00+01:00,23.5,ppm",
        "X999,no2,2030-01-01T12:00:00+01:00,23.5,µg/m³",
        "E407,radon,2030-01-01T12:00:00+01:00,1,Bq",
        "E407,no2,2030-01-01T13:00:00+01:00,lots,µg/m³",
        "E407,no2,2030-01-01T14:00:00+01:00,<1,µg/m³",
    ])  # fmt: skip
    report = CsvAdapter(path).run(arso["url"])
    assert (report.received, report.stored, report.dead_letters) == (7, 2, 5)
    reasons = dict(
        _query(
            arso["url"],
            "SELECT payload, reason FROM twin.dead_letters WHERE source = %s",
            f"csv:{path.name}",
        )
    )
    by_line = {p.split(":")[0]: r for p, r in reasons.items()}
    assert by_line["line 3"] == "timestamp without time zone"
    assert by_line["line 4"].startswith("wrong unit 'ppm' for no2")
    assert by_line["line 5"] == "unknown sensor 'X999'"
    assert by_line["line 6"].startswith("unknown observed property 'radon'")
    assert by_line["line 7"] == "no numeric value"
    again = CsvAdapter(path).run(arso["url"])
    assert (again.stored, again.duplicates) == (0, 2)


def test_a_malformed_arso_file_is_refused_and_stores_nothing(arso: dict, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text(ARSO.read_text(encoding="utf-8")[:5000], encoding="utf-8")
    before = _query(arso["url"], "SELECT count(*) FROM twin.observations")
    from twin._errors import DataFileError

    with pytest.raises(DataFileError, match="malformed XML at line"):
        ArsoAdapter(broken).run(arso["url"])
    assert _query(arso["url"], "SELECT count(*) FROM twin.observations") == before


def test_exceedances_hourly_and_daily_mean(arso: dict, tmp_path: Path) -> None:
    hours = [
        f"E407,no2,2030-02-01T{h:02d}:00:00+01:00,{250 if h == 5 else 40},µg/m³" for h in range(24)
    ]
    pm = [
        f"E407,pm10,2030-02-01T{h:02d}:00:00+01:00,{80 if h < 12 else 30},µg/m³" for h in range(24)
    ]
    report = CsvAdapter(_csv(tmp_path, hours + pm)).run(arso["url"])
    assert report.stored == 48
    rows = _query(
        arso["url"],
        "SELECT e.threshold_id, e.period_start, round(e.value) FROM twin.exceedances e "
        "WHERE e.period_start >= '2030-01-31' ORDER BY 1",
    )
    assert [(r[0], r[2]) for r in rows] == [("no2_limit_1h", 250), ("pm10_limit_24h", 55)]
    assert rows[1][1].isoformat().startswith("2030-01-31T23:00:00")  # local midnight in UTC


def _readings(sensor: str, prop: str, start: str, values: list[float]) -> pd.DataFrame:
    times = pd.date_range(start, periods=len(values), freq="h", tz="UTC")
    return pd.DataFrame({"sensor": sensor, "property": prop, "phenomenon_time": times,
                         "value": values, "quality": "ok"})  # fmt: skip


@pytest.mark.usefixtures("arso")
def test_within_a_batch_the_first_reading_of_a_key_wins(loaded: str) -> None:
    frame = _readings("E407", "o3", "2031-03-01T00:00Z", [10.0, 20.0])
    frame = pd.concat([frame, frame.assign(value=99.0)], ignore_index=True)
    with psycopg.connect(loaded) as conn:
        report = ingest(conn, frame, "test")
    assert (report.stored, report.duplicates) == (2, 2)
    values = _query(
        loaded,
        "SELECT o.value FROM twin.observations o JOIN twin.datastreams d "
        "ON d.id = o.datastream_id JOIN register.sensor s ON s.id = d.sensor_id "
        "WHERE s.station_code = 'E407' AND d.property = 'o3' "
        "AND o.phenomenon_time >= '2031-03-01' ORDER BY o.phenomenon_time",
    )
    assert [v for (v,) in values] == [10.0, 20.0]


@pytest.mark.usefixtures("arso")
def test_a_key_stored_meanwhile_by_another_session_is_not_stored_twice(
    loaded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _readings("E407", "so2", "2031-04-01T00:00Z", [5.0, 6.0, 7.0])
    with psycopg.connect(loaded) as other:  # the same sensor's first reading, committed
        ingest(other, frame.iloc[:1], "other")
    real = observations._stored_keys
    calls = []

    def blind(conn: psycopg.Connection, batch: object) -> np.ndarray:
        calls.append(1)  # the first check misses what the other session stored
        return np.empty(0, dtype=np.int64) if len(calls) == 1 else real(conn, batch)

    monkeypatch.setattr(observations, "_stored_keys", blind)
    with psycopg.connect(loaded) as conn:
        report = ingest(conn, frame, "test")
    assert len(calls) == 2
    assert (report.stored, report.duplicates) == (2, 1)
    sources = _query(
        loaded,
        "SELECT o.source, count(*) FROM twin.observations o JOIN twin.datastreams d "
        "ON d.id = o.datastream_id JOIN register.sensor s ON s.id = d.sensor_id "
        "WHERE s.station_code = 'E407' AND d.property = 'so2' "
        "AND o.phenomenon_time >= '2031-04-01' GROUP BY 1 ORDER BY 1",
    )
    assert sources == [("other", 1), ("test", 2)]


@pytest.mark.usefixtures("arso")
def test_the_map_gets_every_latest_value_with_position_and_threshold_state(loaded: str) -> None:
    frame = _readings("E407", "no2", "2032-05-01T00:00Z", [30.0, 450.0])  # newest above alert
    with psycopg.connect(loaded) as conn:
        ingest(conn, frame, "test")
    with psycopg.connect(loaded) as conn:
        shown = latest(conn)
    assert tuple(shown.columns) == LATEST_COLUMNS
    assert len(shown) == _query(loaded, "SELECT count(*) FROM twin.latest_observations")[0][0]
    stations = {
        s.get("sifra"): (float(s.get("wgs84_dolzina")), float(s.get("wgs84_sirina")))
        for s in ElementTree.parse(ARSO).getroot().iter("postaja")
    }
    codes = dict(_query(loaded, "SELECT id, station_code FROM register.sensor"))
    arso_rows = [r for r in shown.itertuples() if codes[r.sensor_id] in stations]
    assert {codes[r.sensor_id] for r in arso_rows} == set(stations)  # other tests add sensors
    for row in arso_rows:  # the file's WGS84 positions, from the stored D96/TM
        assert row.lon == pytest.approx(stations[codes[row.sensor_id]][0], abs=1e-5)
        assert row.lat == pytest.approx(stations[codes[row.sensor_id]][1], abs=1e-5)
    limits: dict[str, list[tuple[float, str]]] = {}
    for t in thresholds().values():
        limits.setdefault(t.property, []).append((t.value, t.kind))
    for row in shown.itertuples():
        if row.property not in limits:
            expected = None
        elif pd.isna(row.value):
            expected = "below_detection"
        else:
            above = [(v, k) for v, k in limits[row.property] if row.value > v]
            expected = max(above)[1] if above else "ok"
        state = None if pd.isna(row.threshold_state) else row.threshold_state
        assert state == expected, row
    e407 = shown[(shown["name"] == "MB Titova") & (shown["property"] == "no2")].iloc[0]
    assert (e407["value"], e407["threshold_state"]) == (450.0, "alert")


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.sort_values("datastream_id").reset_index(drop=True)
    return out.assign(
        phenomenon_time=pd.to_datetime(out["phenomenon_time"], utc=True).astype("int64"),
        detection_limit=out["detection_limit"].astype(float),
        value=out["value"].astype(float),
        threshold_state=out["threshold_state"].astype("string").fillna(""),
        datastream_id=out["datastream_id"].astype("int64"),
    )


@pytest.mark.usefixtures("arso")
def test_the_cached_map_frame_equals_the_plain_query_and_follows_the_register(
    loaded: str,
) -> None:
    def shown(conn: psycopg.Connection) -> pd.DataFrame:
        frame = latest(conn)
        plain = latest(conn, sql_text("sensors_latest"))
        pd.testing.assert_frame_equal(_comparable(frame), _comparable(plain), check_dtype=False)
        return frame

    with psycopg.connect(loaded, autocommit=True) as conn:
        before = shown(conn)
        sensor = before.loc[before["external_id"] == "E407", "sensor_id"].iloc[0]
        name, state = conn.execute(
            "SELECT name, state FROM register.sensor WHERE id = %s", [sensor]
        ).fetchone()
        try:  # an edit in the register (as psql or QGIS would make it) shows on the next read
            conn.execute("UPDATE register.sensor SET name = 'Moved <b>' WHERE id = %s", [sensor])
            assert set(shown(conn).loc[lambda f: f["sensor_id"] == sensor, "name"]) == {"Moved <b>"}
            conn.execute("UPDATE register.sensor SET state = 'retired' WHERE id = %s", [sensor])
            assert sensor not in set(shown(conn)["sensor_id"])
        finally:
            conn.execute(
                "UPDATE register.sensor SET name = %s, state = %s WHERE id = %s",
                [name, state, sensor],
            )
        streams = len(shown(conn))
        ingest(conn, _readings("E407", "temperature", "2032-06-01T00:00Z", [21.5]), "test")
        after = shown(conn)  # a new datastream appears without a register change
    assert len(after) == streams + 1
    row = after[(after["sensor_id"] == sensor) & (after["property"] == "temperature")].iloc[0]
    assert row["value"] == 21.5


def test_replay_keys_stay_exact_over_centuries_and_many_datastreams() -> None:
    times = np.array([0, 5_000_000_000_000_000, 1], dtype=np.int64)  # µs: ~158 years apart
    codes = np.array([0, 99_999, 0], dtype=np.int64)
    none = np.zeros(3, dtype=bool)
    batch = observations._Batch(
        rows=np.arange(3), stream=codes + 1, stream_code=codes,
        streams=np.arange(1, 100_001), prop=np.zeros(3, dtype=np.int64), time=times,
        end=np.zeros(3, dtype=np.int64), end_null=~none, value=np.ones(3),
        quality=np.zeros(3, dtype=np.int64), limit=np.full(3, np.nan),
    )  # fmt: skip
    keys = batch.packed(codes, times)
    assert len(set(keys.tolist())) == 3
    assert min(keys) >= 0
    stored = batch.packed(np.array([99_999, 0, 0]), np.array([5_000_000_000_000_000, 1, 2]))
    assert stored[0] == keys[1]
    assert stored[1] == keys[2]
    assert stored[2] not in keys  # a time the batch does not have matches nothing


def test_a_column_coded_with_every_value_missing_is_all_missing() -> None:
    coded = observations._Coded.of(pd.Series([None, np.nan, pd.NA], dtype=object), strip=True)
    assert coded.codes.tolist() == [-1, -1, -1]
    assert len(coded.labels) == 0
    assert coded.per_row(np.array([], dtype=object), "none").tolist() == ["none"] * 3
    assert coded.where([], missing=True).tolist() == [True] * 3


@pytest.mark.usefixtures("arso")
def test_readings_whose_unit_column_is_all_empty_are_stored(loaded: str) -> None:
    frame = _readings("E407", "co", "2031-05-01T00:00Z", [0.4, 0.5]).assign(unit=None)
    with psycopg.connect(loaded) as conn:
        report = ingest(conn, frame, "test")
    assert (report.stored, report.dead_letters) == (2, 0)
    no_sensor = frame.assign(sensor=None)
    with psycopg.connect(loaded) as conn:
        report = ingest(conn, no_sensor, "test")
    assert (report.stored, report.dead_letters, report.reasons) == (0, 2, {"no sensor id": 2})
