"""The HTTP API: tokens, SensorThings and NGSI-LD ingest, reads, CORS, gzip, size limit, serving.

The module works in its own database (``twin_api``: migrated, the ARSO sample ingested, so the
register has the stations E403, E407, E408 …), so its readings do not move other tests' counts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from fastapi.testclient import TestClient

from twin import api_tokens
from twin.api import ApiSettings, create_app
from twin.sensors.adapters import ArsoAdapter

#: The ``twin`` command of this interpreter (the venv's bin need not be on PATH).
TWIN_CLI = (sys.executable, "-m", "twin.cli")

REPO = Path(__file__).resolve().parent.parent
ARSO = REPO / "gis_data" / "air_quality_arso_sample.xml"
HINT = 'expected a number, a "<limit" text (below the detection limit) or null'


def _query(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params or None).fetchall()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def api_db(db_url: str) -> str:
    from twin import db

    admin = db_url.rsplit("/", 1)[0] + "/postgres"
    with db.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS twin_api")
        conn.execute("CREATE DATABASE twin_api")
    url = db_url.rsplit("/", 1)[0] + "/twin_api"
    with db.connect(url) as conn:
        conn.execute("CREATE EXTENSION postgis")
    db.migrate(url)
    ArsoAdapter(ARSO).run(url)
    return url


@pytest.fixture(scope="module")
def client(api_db: str) -> Iterator[TestClient]:
    with TestClient(create_app(api_db)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def auth(api_db: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_tokens.create('gateway', api_db)}"}


def _obs(sensor: str, prop: str, when: str, result: object, **more: object) -> dict:
    return {"sensor": sensor, "property": prop, "phenomenonTime": when, "result": result, **more}


def _stored(url: str, code: str, prop: str, since: str) -> list[tuple]:
    return _query(
        url,
        "SELECT o.phenomenon_time, o.value, o.quality, o.detection_limit, o.source "
        "FROM twin.observations o JOIN twin.datastreams d ON d.id = o.datastream_id "
        "JOIN register.sensor s ON s.id = d.sensor_id "
        "WHERE s.station_code = %s AND d.property = %s AND o.phenomenon_time >= %s "
        "ORDER BY 1",
        code, prop, since,
    )  # fmt: skip


# --- tokens -----------------------------------------------------------------------------


def test_ingest_without_a_token_is_refused_with_401(client: TestClient) -> None:
    sent = client.post("/v1.1/Observations", json=_obs("E407", "no2", "2031-01-01T00:00Z", 1))
    assert sent.status_code == 401
    assert sent.headers["www-authenticate"] == "Bearer"
    assert sent.json()["code"] == "Unauthenticated"
    assert "missing token" in sent.json()["description"]


@pytest.mark.parametrize("header", ["Bearer twin_not-a-real-token", "Basic dXNlcjpwdw==", "Bearer"])
def test_a_wrong_token_is_refused_with_401(client: TestClient, header: str) -> None:
    sent = client.post("/ngsi-ld/v1/entities", json={}, headers={"Authorization": header})
    assert sent.status_code == 401
    assert sent.json()["code"] == "Unauthenticated"


def test_a_revoked_token_is_refused_and_a_new_one_works(client: TestClient, api_db: str) -> None:
    old = api_tokens.create("retired-gateway", api_db)
    assert api_tokens.revoke("retired-gateway", api_db) is True
    assert api_tokens.revoke("retired-gateway", api_db) is False
    body = _obs("E407", "no2", "2031-01-02T00:00:00Z", 3)
    sent = client.post("/v1.1/Observations", json=body, headers={"Authorization": f"Bearer {old}"})
    assert sent.status_code == 401
    assert "revoked" in sent.json()["description"]
    new = api_tokens.create("retired-gateway", api_db)  # a revoked name may be used again
    sent = client.post("/v1.1/Observations", json=body, headers={"Authorization": f"Bearer {new}"})
    assert sent.status_code == 200, sent.text
    assert _query(api_db, "SELECT token_sha256 FROM twin.api_tokens")
    assert not _query(
        api_db, "SELECT 1 FROM twin.api_tokens WHERE token_sha256 IN (%s, %s)", old, new
    )


def test_token_cli_creates_lists_and_revokes(client: TestClient, api_db: str) -> None:
    env = {**os.environ, "TWIN_DATABASE_URL": api_db}

    def twin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*TWIN_CLI, "api", "token", *args], capture_output=True, text=True,
                              env=env, check=False)  # fmt: skip

    made = twin("create", "cli-gw")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("twin_")
    assert len(made.stdout.splitlines()) == 1
    assert twin("create", "cli-gw").returncode == 1  # a live name is not reused
    assert "cli-gw" in twin("list").stdout
    body = _obs("E407", "no2", "2031-01-03T00:00:00Z", 3)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/v1.1/Observations", json=body, headers=headers).status_code == 200
    assert twin("revoke", "cli-gw").returncode == 0
    assert client.post("/v1.1/Observations", json=body, headers=headers).status_code == 401
    listed = {t["name"]: t for t in json.loads(twin("list", "--json").stdout)}
    assert listed["cli-gw"]["revoked"] is True
    assert listed["cli-gw"]["last_used_at"] is not None
    missing = twin("revoke", "no-such-token")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no token named 'no-such-token'")


# --- malformed bodies -------------------------------------------------------------------


def test_malformed_json_is_a_400_naming_the_position(client: TestClient, auth: dict) -> None:
    sent = client.post("/v1.1/Observations", content=b'[{"sensor": "E407",]', headers=auth)
    assert sent.status_code == 400
    assert sent.json()["description"].startswith("body: malformed JSON at line 1, column")
    sent = client.post("/v1.1/Observations", content=b'{"result": NaN}', headers=auth)
    assert sent.status_code == 400


def test_wrong_field_types_are_a_422_naming_each_field(client: TestClient, auth: dict) -> None:
    body = [
        _obs("E407", "no2", "2031-01-04T00:00:00Z", 1),
        {"sensor": "E407", "property": "no2", "phenomenonTime": 5, "result": True, "x": 1},
        {"sensor": "E407", "phenomenonTime": "2031-01-04T01:00:00Z", "result": 1},
    ]
    sent = client.post("/v1.1/Observations", json=body, headers=auth)
    assert sent.status_code == 422
    problems = {e["field"]: e["problem"] for e in sent.json()["errors"]}
    assert problems["body[1].phenomenonTime"] == "Input should be a valid string"
    assert "body[1].result" in problems
    assert problems["body[1].x"] == "unknown field"
    assert "sensor" in problems["body[2]"]
    assert "property" in problems["body[2]"]
    assert sent.json()["description"].startswith("invalid body: body[1].")


def test_a_time_without_zone_refuses_the_request(client: TestClient, auth: dict,
                                                 api_db: str) -> None:  # fmt: skip
    body = [
        _obs("E407", "no2", "2031-01-05T00:00:00+01:00", 1),
        _obs("E407", "no2", "2031-01-05T01:00:00", 2),
        _obs("E407", "no2", "yesterday", 2),
        _obs("E407", "no2", "2031-01-05T02:00:00Z", "abc"),
    ]
    sent = client.post("/v1.1/Observations", json=body, headers=auth)
    assert sent.status_code == 422
    problems = {e["field"]: e["problem"] for e in sent.json()["errors"]}
    assert problems == {
        "body[1].phenomenonTime": "timestamp without time zone",
        "body[2].phenomenonTime": "not an ISO 8601 time",
        "body[3].result": HINT,
    }
    assert "body[1].phenomenonTime: timestamp without time zone" in sent.json()["description"]
    assert _stored(api_db, "E407", "no2", "2031-01-04T23:00:00Z") == []  # nothing stored


# --- SensorThings -----------------------------------------------------------------------


def test_a_sensorthings_batch_is_stored_once(client: TestClient, auth: dict, api_db: str) -> None:
    e408 = _query(api_db, "SELECT id FROM register.sensor WHERE station_code = 'E408'")[0][0]
    body = [
        _obs("E407", "no2", "2031-02-01T14:00:00+01:00", 17.0, unit="µg/m³"),
        _obs("E407", "pm2.5", "2031-02-01T14:00:00+01:00", "<2"),
        _obs(e408, "no2", "2031-02-01T13:00:00Z", "21.5", resultQuality="suspect"),
        {
            "Datastream": {"sensor": "E407", "property": "pm10"},
            "components": ["phenomenonTime", "result"],
            "dataArray": [
                ["2031-02-01T13:00:00Z", 31],
                ["2031-02-01T14:00:00Z", 29.5],
                ["2031-02-01T15:00:00Z/2031-02-01T16:00:00Z", 28],
            ],
        },
    ]
    sent = client.post("/v1.1/Observations", json=body, headers=auth)
    assert sent.status_code == 200, sent.text
    report = sent.json()
    assert (report["received"], report["stored"], report["duplicates"]) == (6, 6, 0)
    assert report["dead_letters"] == 0
    assert report["rejected"] == []
    no2 = _stored(api_db, "E407", "no2", "2031-02-01T00:00:00Z")
    assert [(r[0].isoformat(), r[1], r[2], r[4]) for r in no2] == [
        ("2031-02-01T13:00:00+00:00", 17.0, "ok", "http:gateway")
    ]
    pm25 = _stored(api_db, "E407", "pm2.5", "2031-02-01T00:00:00Z")
    assert [(r[1], r[2], r[3]) for r in pm25] == [(None, "below_detection", 2.0)]
    assert [(r[1], r[2]) for r in _stored(api_db, "E408", "no2", "2031-02-01T00:00:00Z")] == [
        (21.5, "suspect")
    ]
    assert [r[1] for r in _stored(api_db, "E407", "pm10", "2031-02-01T00:00:00Z")] == [
        31.0, 29.5, 28.0,
    ]  # fmt: skip
    end = _query(api_db, "SELECT phenomenon_end FROM twin.observations WHERE value = 28 "
                         "AND phenomenon_time = '2031-02-01T15:00:00Z'")  # fmt: skip
    assert end[0][0].isoformat() == "2031-02-01T16:00:00+00:00"

    again = client.post("/v1.1/CreateObservations", json=body, headers=auth).json()
    assert (again["received"], again["stored"], again["duplicates"]) == (6, 0, 6)
    assert len(_stored(api_db, "E407", "pm10", "2031-02-01T00:00:00Z")) == 3


def test_unknown_sensors_units_and_datastreams_are_dead_letters(
    client: TestClient, auth: dict, api_db: str
) -> None:
    body = [
        _obs("E407", "no2", "2031-03-01T00:00:00Z", 11),
        _obs("X999", "no2", "2031-03-01T00:00:00Z", 12),
        _obs("E407", "pm10", "2031-03-01T00:00:00Z", 13, unit="ppb"),
        {"Datastream": {"@iot.id": 999999}, "phenomenonTime": "2031-03-01T00:00:00Z",
         "result": 14},
        _obs("E407", "radon", "2031-03-01T00:00:00Z", 15),
        _obs("E407", "o3", "2031-03-01T00:00:00Z", None),
    ]  # fmt: skip
    sent = client.post("/v1.1/Observations", json=body, headers=auth)
    assert sent.status_code == 200, sent.text
    report = sent.json()
    assert (report["received"], report["stored"], report["dead_letters"]) == (6, 1, 5)
    rejected = {r["item"]: r["reason"] for r in report["rejected"]}
    assert rejected == {
        "body[1]": "unknown sensor 'X999'",
        "body[2]": "wrong unit 'ppb' for pm10 (expected 'µg/m³')",
        "body[3]": "unknown datastream 999999",
        "body[4]": "unknown observed property 'radon'",
        "body[5]": "no numeric value",
    }
    letters = _query(
        api_db,
        "SELECT payload, reason FROM twin.dead_letters WHERE source = 'http:gateway' "
        "AND reason = 'unknown sensor ''X999'''",
    )
    assert len(letters) == 1
    assert f"{report['request']} body[1] " in letters[0][0]
    assert '"X999"' in letters[0][0]


def test_a_datastream_is_named_by_its_iot_id(client: TestClient, auth: dict, api_db: str) -> None:
    streams = client.get("/v1.1/Datastreams", params={"sensor": "E407", "property": "no2"})
    [stream] = streams.json()["value"]
    assert stream["unitOfMeasurement"]["symbol"] == "µg/m³"
    assert stream["ObservedProperty"]["@iot.id"] == "no2"
    body = {"Datastream": {"@iot.id": stream["@iot.id"]},
            "phenomenonTime": "2031-04-01T00:00:00Z", "result": 44}  # fmt: skip
    report = client.post("/v1.1/Observations", json=body, headers=auth).json()
    assert report["stored"] == 1
    assert _stored(api_db, "E407", "no2", "2031-04-01T00:00:00Z")[0][1] == 44.0


def test_a_body_above_the_limit_is_a_413(api_db: str, auth: dict) -> None:
    app = create_app(api_db, ApiSettings(max_body_bytes=2048))
    body = [_obs("E407", "no2", f"2031-05-01T00:{m:02d}:00Z", m) for m in range(60)]
    with TestClient(app) as small:
        sent = small.post("/v1.1/Observations", json=body, headers=auth)
        assert sent.status_code == 413
        assert sent.json()["code"] == "PayloadTooLarge"
        streamed = small.post(  # no Content-Length: counted while it streams in
            "/v1.1/Observations", content=iter([b"[" + b" " * 1500, b" " * 1500 + b"]"]),
            headers=auth,
        )  # fmt: skip
        assert streamed.status_code == 413
    assert _stored(api_db, "E407", "no2", "2031-05-01T00:00:00Z") == []


# --- NGSI-LD ----------------------------------------------------------------------------


def _entity(**members: object) -> dict:
    return {
        "id": "urn:ngsi-ld:AirQualityObserved:Maribor-Titova",
        "type": "AirQualityObserved",
        "dateObserved": {"type": "Property",
                         "value": {"@type": "DateTime", "@value": "2031-06-01T10:00:00+02:00"}},
        "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:E407"},
        "no2": {"type": "Property", "value": 22, "unitCode": "GQ"},
        "pm10": {"type": "Property", "value": 35.5, "unitCode": "GQ"},
        "pm25": {"type": "Property", "value": "<2", "unitCode": "GQ"},
        "co": {"type": "Property", "value": 0.4, "unitCode": "GP"},
        "address": {"type": "Property", "value": {"streetAddress": "Titova cesta"}},
        "@context": ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"],
        **members,
    }  # fmt: skip


def test_an_ngsi_ld_air_quality_entity_is_stored(client: TestClient, auth: dict,
                                                 api_db: str) -> None:  # fmt: skip
    headers = {**auth, "Content-Type": "application/ld+json"}
    sent = client.post("/ngsi-ld/v1/entities", json=_entity(), headers=headers)
    assert sent.status_code == 200, sent.text
    report = sent.json()
    assert (report["received"], report["stored"], report["dead_letters"]) == (4, 4, 0)
    assert report["ignored"] == ["body.address"]
    [no2] = _stored(api_db, "E407", "no2", "2031-06-01T00:00:00Z")
    assert (no2[0].isoformat(), no2[1], no2[2]) == ("2031-06-01T08:00:00+00:00", 22.0, "ok")
    assert [r[1:4] for r in _stored(api_db, "E407", "pm2.5", "2031-06-01T00:00:00Z")] == [
        (None, "below_detection", 2.0)
    ]
    assert _stored(api_db, "E407", "co", "2031-06-01T00:00:00Z")[0][1] == 0.4
    again = client.post("/ngsi-ld/v1/entities", json=_entity(), headers=headers).json()
    assert (again["stored"], again["duplicates"]) == (0, 4)


def test_ngsi_ld_upsert_by_location_and_units(client: TestClient, auth: dict,
                                              api_db: str) -> None:  # fmt: skip
    [(lon, lat)] = _query(
        api_db,
        "SELECT ST_X(g), ST_Y(g) FROM register.sensor, ST_Transform(geom, 4326) g "
        "WHERE station_code = 'E408'",
    )
    when = {"type": "Property", "value": "2031-06-02T10:00:00Z"}
    near = {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [lon + 0.0001, lat]},
    }  # ~8 m east
    far = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [15.0, 46.0]}}
    body = [
        _entity(refDevice=None, dateObserved=when, location=near),
        _entity(refDevice=None, dateObserved=when, location=far),
        _entity(dateObserved=when, co={"type": "Property", "value": 400, "unitCode": "GQ"},
                no2={"value": 30, "unitCode": "XYZ", "observedAt": "2031-06-02T09:00:00Z"}),
        _entity(refDevice=None, dateObserved=when,
                refPointOfInterest={"type": "Relationship",
                                    "object": "urn:ngsi-ld:PointOfInterest:E403"}),
    ]  # fmt: skip
    sent = client.post("/ngsi-ld/v1/entityOperations/upsert", json=body, headers=auth)
    assert sent.status_code == 200, sent.text
    report = sent.json()
    rejected = {r["item"]: r["reason"] for r in report["rejected"]}
    assert rejected == {
        **{f"body[1].{p}": "no register sensor within 50 m of location 15.00000,46.00000"
           for p in ("no2", "pm10", "pm25", "co")},
        "body[2].co": "wrong unit 'µg/m³' for co (expected 'mg/m³')",
        "body[2].no2": "wrong unit 'unitCode XYZ' for no2 (expected 'µg/m³')",
    }  # fmt: skip
    assert report["stored"] == 4 + 2 + 4
    assert [r[1] for r in _stored(api_db, "E408", "pm10", "2031-06-02T00:00:00Z")] == [35.5]
    assert [r[1] for r in _stored(api_db, "E403", "pm10", "2031-06-02T00:00:00Z")] == [35.5]


def test_malformed_ngsi_ld_entities_name_the_field(client: TestClient, auth: dict) -> None:
    def problems(body: object) -> dict[str, str]:
        sent = client.post("/ngsi-ld/v1/entities", json=body, headers=auth)
        assert sent.status_code == 422, sent.text
        return {e["field"]: e["problem"] for e in sent.json()["errors"]}

    assert "body.type" in problems(_entity(type="WeatherObserved"))
    naive = {"type": "Property", "value": "2031-06-03T10:00:00"}
    assert problems(_entity(dateObserved=naive)) == {
        "body.dateObserved.value": "timestamp without time zone"
    }
    nameless = _entity()
    del nameless["refDevice"]
    assert problems(nameless) == {
        "body": "name the sensor by refDevice, refPointOfInterest or location"
    }
    assert "body.no2.value" in problems(_entity(no2={"type": "Property", "value": [1]}))
    only_address = {k: v for k, v in _entity().items()
                    if k not in ("no2", "pm10", "pm25", "co")}  # fmt: skip
    assert problems(only_address)["body"].startswith("no reading: give at least one of")
    assert "body[0].refDevice.object" in problems(
        [_entity(refDevice={"type": "Relationship", "object": "E407"})]
    )


# --- reads ------------------------------------------------------------------------------


def test_latest_returns_the_new_value_with_its_threshold_level(
    client: TestClient, auth: dict
) -> None:
    body = [_obs("E408", "no2", "2032-01-01T10:00:00Z", 250),
            _obs("E408", "so2", "2032-01-01T10:00:00Z", 12)]  # fmt: skip
    assert client.post("/v1.1/Observations", json=body, headers=auth).json()["exceedances"] >= 1
    sent = client.get("/sensors/latest", headers={"Accept-Encoding": "gzip"})
    assert sent.status_code == 200
    assert sent.headers["content-encoding"] == "gzip"
    rows = {(r["code"], r["property"]): r for r in sent.json()}
    no2 = rows[("E408", "no2")]
    assert (no2["value"], no2["time"], no2["unit"]) == (250, "2032-01-01T10:00:00+00:00", "µg/m³")
    assert (no2["threshold_state"], no2["threshold_id"]) == ("limit", "no2_limit_1h")
    assert no2["stale"] is False
    assert 15.5 < no2["lon"] < 15.8
    assert 46.5 < no2["lat"] < 46.6
    assert rows[("E408", "so2")]["threshold_state"] == "ok"
    assert rows[("E407", "pm2.5")]["threshold_state"] is None  # no threshold for PM2.5
    only = client.get("/sensors/latest", params={"property": "no2"}).json()
    assert {r["property"] for r in only} == {"no2"}


def test_things_datastreams_and_observations(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["revision"]
    things = client.get("/v1.1/Things").json()["value"]
    e407 = next(t for t in things if t["properties"].get("station_code") == "E407")
    assert e407["Locations"][0]["location"]["type"] == "Point"
    assert e407["properties"]["kind"] == "air_quality"
    page = client.get("/v1.1/Things", params={"$top": 1}).json()
    assert len(page["value"]) == 1
    assert "%24skip=1" in page["@iot.nextLink"]
    stream = client.get("/v1.1/Datastreams", params={"sensor": "E407", "property": "pm10"})
    link = stream.json()["value"][0]["Observations@iot.navigationLink"]
    newest = client.get(link, params={"$top": 2}).json()
    times = [o["phenomenonTime"] for o in newest["value"]]
    assert times == sorted(times, reverse=True)
    assert "@iot.nextLink" in newest
    oldest = client.get(link, params={"$top": 2, "$orderby": "phenomenonTime asc"}).json()
    assert [o["phenomenonTime"] for o in oldest["value"]] == sorted(
        o["phenomenonTime"] for o in oldest["value"]
    )
    interval = [o for o in client.get(link, params={"$top": 1000}).json()["value"]
                if "/" in o["phenomenonTime"]]  # fmt: skip
    assert interval[0]["phenomenonTime"] == "2031-02-01T15:00:00+00:00/2031-02-01T16:00:00+00:00"
    bad = client.get(link, params={"$orderby": "result"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.$orderby"
    missing = client.get("/v1.1/Datastreams(999999)/Observations")
    assert missing.status_code == 404
    assert missing.json() == {"code": "NotFound", "description": "no datastream 999999"}
    assert client.get("/v1.1/Things", params={"$top": 0}).status_code == 422


def test_cors_allows_only_local_pages(client: TestClient) -> None:
    for origin in ("http://127.0.0.1:8501", "http://localhost:3000", "http://localhost"):
        sent = client.get("/sensors/latest", headers={"Origin": origin})
        assert sent.headers["access-control-allow-origin"] == origin
    for origin in ("http://example.org", "http://localhost.example.org", "https://localhost"):
        sent = client.get("/sensors/latest", headers={"Origin": origin})
        assert "access-control-allow-origin" not in sent.headers
    preflight = client.options(
        "/v1.1/Observations",
        headers={"Origin": "http://localhost:8501", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()


def test_no_cdn_docs_but_an_openapi_document(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    spec = client.get("/openapi.json").json()
    assert {"/v1.1/Observations", "/ngsi-ld/v1/entities", "/sensors/latest"} <= set(spec["paths"])
    assert {"ObservationIn", "DataArrayIn", "AirQualityObserved"} <= set(
        spec["components"]["schemas"]
    )
    assert "phenomenonTime" in spec["components"]["schemas"]["ObservationIn"]["properties"]


# --- serving ----------------------------------------------------------------------------


@pytest.fixture
def served(api_db: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = _free_port()
    env = {**os.environ, "TWIN_DATABASE_URL": api_db}
    proc = subprocess.Popen([*TWIN_CLI, "serve", "api", "--port", str(port)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("twin serve api did not answer within 30 s")
        yield port, proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_twin_serve_api_answers_on_loopback_only(served: tuple, auth: dict, api_db: str) -> None:
    port, proc = served
    sent = httpx.post(
        f"http://127.0.0.1:{port}/v1.1/Observations",
        json=_obs("E403", "no2", "2032-02-01T00:00:00Z", 9), headers=auth, timeout=10,
    )  # fmt: skip
    assert sent.status_code == 200
    assert sent.json()["stored"] == 1
    assert _stored(api_db, "E403", "no2", "2032-02-01T00:00:00Z")[0][1] == 9.0
    listening = {c.laddr.ip for c in psutil.Process(proc.pid).net_connections("inet")
                 if c.status == psutil.CONN_LISTEN}  # fmt: skip
    assert listening == {"127.0.0.1"}
    with pytest.raises(httpx.ConnectError):  # another loopback address is not served
        httpx.get(f"http://127.0.0.2:{port}/health", timeout=2)


def test_serve_api_on_a_taken_port_is_one_line(api_db: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*TWIN_CLI, "serve", "api", "--port", str(port)], capture_output=True, text=True,
            env={**os.environ, "TWIN_DATABASE_URL": api_db}, check=False, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: port {port} on 127.0.0.1")
    assert "Traceback" not in done.stderr


def test_a_database_that_is_down_or_not_migrated_is_a_503(db_url: str) -> None:
    with TestClient(create_app("postgresql://twin@127.0.0.1:1/none")) as down:
        sent = down.get("/health")
        assert sent.status_code == 503
        assert sent.json()["code"] == "DatabaseError"
    bare = db_url.rsplit("/", 1)[0] + "/postgres"  # no twin schema there
    with TestClient(create_app(bare)) as unmigrated:
        sent = unmigrated.post("/v1.1/Observations", json={}, headers={"Authorization": "Bearer x"})
        assert sent.status_code == 503
        assert "twin db migrate" in sent.json()["description"]
