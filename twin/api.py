"""The twin's HTTP API (``twin serve api``): readings in, sensor layers out, on 127.0.0.1.

Ingest (a bearer token of ``twin api token create NAME`` is needed; the bodies are described
in :mod:`twin._api_ingest` and :mod:`twin._api_ngsi`):

- ``POST /v1.1/Observations`` and ``POST /v1.1/CreateObservations``: SensorThings
  observations, one, a list, or ``dataArray`` objects;
- ``POST /ngsi-ld/v1/entities`` and ``POST /ngsi-ld/v1/entityOperations/upsert``: NGSI-LD
  ``AirQualityObserved`` entities.

Every request goes through :func:`twin.sensors.observations.ingest` in one transaction and
answers with what it stored, what was already stored and what went to the dead letters (per
item, with the reason). Reads (no token): ``GET /health``, ``GET /v1.1/Things``,
``GET /v1.1/Datastreams``, ``GET /v1.1/Datastreams({id})/Observations`` and
``GET /sensors/latest`` (compact JSON for the map layers). Errors are JSON
``{"code": …, "description": …}`` with the status of :data:`STATUS_CODES`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Annotated, Any

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import sql
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twin import _api_ingest, _api_ngsi, api_tokens
from twin._errors import (
    AccessDenied,
    ConfigError,
    DatabaseError,
    DataFileError,
    InvalidValue,
    StaleEdit,
    TwinError,
    Unauthenticated,
)
from twin.db._sql import sql_text
from twin.db.engine import connect

HOST = "127.0.0.1"
#: Browsers may call the API from pages served on this machine only.
CORS_ORIGINS = r"http://(?:127\.0\.0\.1|localhost)(?::\d{1,5})?"
#: Twin errors (and database failures) → HTTP status; the most specific class wins.
STATUS_CODES: dict[type[Exception], int] = {
    TwinError: 400,
    DataFileError: 400,
    Unauthenticated: 401,
    AccessDenied: 403,
    StaleEdit: 409,
    InvalidValue: 422,
    ConfigError: 500,
    DatabaseError: 503,
    psycopg.OperationalError: 503,
    psycopg.errors.UndefinedTable: 503,
}
#: ``$orderby`` values of observations and their SQL order.
ORDERS = {"phenomenonTime desc": "DESC", "phenomenonTime asc": "ASC", "phenomenonTime": "ASC"}


class ApiSettings(BaseSettings):
    """Settings of ``twin serve api`` (environment variables ``TWIN_API_*``)."""

    model_config = SettingsConfigDict(env_prefix="TWIN_API_", extra="ignore")

    port: int = Field(default=8502, ge=1024, le=65535, description="Port on 127.0.0.1.")
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest request body (413 above)."
    )


class _BodyLimit:
    """Refuse request bodies above a size with 413, by header or while they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = _error(413, "PayloadTooLarge", self._message())
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return (
            f"the body is larger than {self.max_bytes:,} bytes: send the readings in smaller "
            "batches"
        )


def _error(
    status: int, code: str, description: str, extra: dict[str, Any] | None = None
) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == HTTPStatus.UNAUTHORIZED else None
    return JSONResponse(
        {"code": code, "description": description, **(extra or {})},
        status_code=status,
        headers=headers,
    )


def _handler(status: int) -> Callable[[Request, Exception], Response]:
    def handle(_request: Request, exc: Exception) -> Response:
        extra: dict[str, Any] = {}
        description = str(exc)
        if isinstance(exc, InvalidValue) and exc.errors:
            extra["errors"] = [{"field": k, "problem": v} for k, v in exc.errors.items()]
        if isinstance(exc, psycopg.errors.UndefinedTable):
            description = "the database is not migrated: run `twin db migrate`"
        elif isinstance(exc, psycopg.Error):
            description = "the database cannot be reached; check `twin db status`"
        return _error(status, type(exc).__name__, description, extra)

    return handle


def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it only
    code = HTTPStatus(exc.status_code).phrase.title().replace(" ", "").replace("-", "")
    return _error(exc.status_code, code, str(exc.detail))


def _query_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    errors = {_api_ingest.where(tuple(e["loc"][1:]), str(e["loc"][0])): str(e["msg"])
              for e in exc.errors()}  # fmt: skip
    return _handler(422)(_request, InvalidValue(_api_ingest.refuse(errors).args[0], errors))


@contextmanager
def _reading(request: Request) -> Iterator[psycopg.Connection]:
    """Open a connection for reads, its times in UTC."""
    with connect(request.app.state.url) as conn:
        conn.execute(sql_text("api_session"))
        yield conn


_bearer = HTTPBearer(
    auto_error=False, description="A token of `twin api token create NAME` (shown once)."
)


def _token(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Check the request's bearer token in its own short transaction; return its name."""
    with connect(request.app.state.url) as conn:
        return api_tokens.check(conn, request.headers.get("authorization"))


TokenName = Annotated[str, Depends(_token)]


def _ingest(request: Request, body: bytes, token: str, kind: str) -> dict[str, Any]:
    """Parse, check and store one ingest request (runs in a worker thread)."""
    try:
        data = _api_ingest.parse_json(body)
    except ValueError as exc:
        raise HTTPException(400, f"body: {exc}") from exc
    request_id = secrets.token_hex(6)
    if kind == "ngsi-ld":
        batch = _api_ngsi.ngsi_ld(data, request_id)
    else:
        batch = _api_ingest.sensorthings(data, request_id)
    with connect(request.app.state.url) as conn, conn.transaction():
        return _api_ingest.store(conn, batch, f"http:{token}")


def _page(request: Request, rows: list[Any], top: int, skip: int) -> dict[str, Any]:
    """Return a SensorThings collection: ``value``, and ``@iot.nextLink`` when more follow."""
    page: dict[str, Any] = {"value": rows[:top]}
    if len(rows) > top:
        page["@iot.nextLink"] = str(request.url.include_query_params(**{"$skip": skip + top}))
    return page


Top = Annotated[int, Query(alias="$top", ge=1, le=10_000, description="Page size.")]
Skip = Annotated[int, Query(alias="$skip", ge=0, description="Rows to skip.")]


def create_app(url: str | None = None, settings: ApiSettings | None = None) -> FastAPI:
    """Build the API.

    Parameters
    ----------
    url
        Database URL; the twin's database by default.
    settings
        API settings; read from ``TWIN_API_*`` by default.

    Returns
    -------
    FastAPI
        The application (serve it with uvicorn on 127.0.0.1, as ``twin serve api`` does).
    """
    settings = settings or ApiSettings()
    app = FastAPI(
        title="twin API",
        summary="Maribor digital twin: sensor readings in (SensorThings, NGSI-LD), layers out.",
        version="1",
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; the twin stays offline
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.url = url
    for exc_class, status in STATUS_CODES.items():
        app.add_exception_handler(exc_class, _handler(status))
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _query_error)
    app.add_middleware(_BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(
        CORSMiddleware,
        allow_origin_regex=CORS_ORIGINS,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )
    _routes(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _routes(app: FastAPI) -> None:
    @app.get("/health", tags=["reads"])
    def health(request: Request) -> dict[str, str]:
        """Say that the API runs and its database answers (503 when not)."""
        with _reading(request) as conn:
            row = conn.execute(sql_text("api_health")).fetchone()
        return {"status": "ok", "database": "ok", "revision": str(row[0]) if row else ""}

    @app.post("/v1.1/Observations", tags=["ingest"])
    @app.post("/v1.1/CreateObservations", tags=["ingest"], include_in_schema=False)
    async def post_observations(request: Request, token: TokenName) -> dict[str, Any]:
        """Store SensorThings observations: one, a list, or ``dataArray`` objects."""
        body = await request.body()
        return await run_in_threadpool(_ingest, request, body, token, "sensorthings")

    @app.post("/ngsi-ld/v1/entities", tags=["ingest"])
    @app.post("/ngsi-ld/v1/entityOperations/upsert", tags=["ingest"])
    async def post_entities(request: Request, token: TokenName) -> dict[str, Any]:
        """Store the readings of NGSI-LD ``AirQualityObserved`` entities (one or a list)."""
        body = await request.body()
        return await run_in_threadpool(_ingest, request, body, token, "ngsi-ld")

    @app.get("/v1.1", tags=["reads"])
    def service_root(request: Request) -> dict[str, Any]:
        """List the SensorThings entity sets this API serves."""
        base = str(request.base_url) + "v1.1/"
        return {"value": [{"name": n, "url": base + n} for n in ("Things", "Datastreams")]}

    @app.get("/v1.1/Things", tags=["reads"])
    def things(request: Request, top: Top = 1000, skip: Skip = 0) -> dict[str, Any]:
        """Register sensors with their WGS84 position (SensorThings Things with Locations)."""
        with _reading(request) as conn:
            rows = conn.execute(sql_text("api_things"), {"top": top + 1, "skip": skip}).fetchall()
        return _page(request, [r[0] for r in rows], top, skip)

    @app.get("/v1.1/Datastreams", tags=["reads"])
    def datastreams(
        request: Request,
        top: Top = 1000,
        skip: Skip = 0,
        sensor: Annotated[str | None, Query(description="Register id or station code.")] = None,
        prop: Annotated[str | None, Query(alias="property", description="Property id.")] = None,
    ) -> dict[str, Any]:
        """Datastreams (one per sensor and observed property) with unit and latest reading."""
        with _reading(request) as conn:
            rows = conn.execute(
                sql_text("api_datastreams"),
                {"top": top + 1, "skip": skip, "sensor": sensor, "property": prop},
            ).fetchall()
        base = str(request.base_url)
        page = [
            {**r[0], "Observations@iot.navigationLink":
             f"{base}v1.1/Datastreams({r[0]['@iot.id']})/Observations"}
            for r in rows
        ]  # fmt: skip
        return _page(request, page, top, skip)

    @app.get("/v1.1/Datastreams({datastream_id})/Observations", tags=["reads"])
    def observations(
        request: Request,
        datastream_id: int,
        top: Top = 100,
        skip: Skip = 0,
        orderby: Annotated[
            str, Query(alias="$orderby", description="phenomenonTime desc | asc")
        ] = "phenomenonTime desc",
    ) -> dict[str, Any]:
        """Observations of one datastream, newest first by default."""
        order = ORDERS.get(" ".join(orderby.split()))
        if order is None:
            raise InvalidValue(
                f"$orderby: {orderby!r} is not one of {', '.join(ORDERS)}",
                {"query.$orderby": "use phenomenonTime desc or phenomenonTime asc"},
            )
        query = sql.SQL(sql_text("api_observations")).format(order=sql.SQL(order))
        with _reading(request) as conn:
            known = conn.execute(sql_text("api_datastream_refs"), {"ids": [datastream_id]})
            if known.fetchone() is None:
                raise HTTPException(404, f"no datastream {datastream_id}")
            rows = conn.execute(
                query, {"id": datastream_id, "top": top + 1, "skip": skip}
            ).fetchall()
        return _page(request, [r[0] for r in rows], top, skip)

    @app.get("/sensors/latest", tags=["reads"])
    def latest(
        request: Request,
        prop: Annotated[str | None, Query(alias="property", description="Property id.")] = None,
    ) -> Response:
        """Return every datastream's latest reading with its sensor's position and state.

        A JSON list (retired sensors left out) of ``{sensor, code, name, kind, synthetic, lon,
        lat, datastream, property, unit, time, value, quality, detection_limit, stale,
        threshold_state, threshold_id, threshold_value}``. ``threshold_state`` is the kind of
        the highest threshold the value is above (``alert``, ``limit``, ``information``,
        ``target``), ``ok`` under all, ``below_detection`` without a value, null when no
        threshold applies to the property (as on the app's sensor map); ``stale``: older than
        three reporting intervals (one hour when the register gives none).
        """
        with _reading(request) as conn:
            row = conn.execute(sql_text("api_latest"), {"property": prop}).fetchone()
        return Response(row[0] if row else "[]", media_type="application/json")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """Return the OpenAPI document, with the ingest bodies' schemas from their models."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                         description=__doc__, routes=app.routes)  # fmt: skip
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    template = "#/components/schemas/{model}"
    sta = _api_ingest.STA_BODY.json_schema(by_alias=True, ref_template=template)
    ngsi = _api_ngsi.NGSI_BODY.json_schema(by_alias=True, ref_template=template)
    bodies = {
        "/v1.1/Observations": {"application/json": {"schema": sta}},
        "/ngsi-ld/v1/entities": {"application/json": {"schema": ngsi},
                                 "application/ld+json": {"schema": ngsi}},
    }  # fmt: skip
    bodies["/ngsi-ld/v1/entityOperations/upsert"] = bodies["/ngsi-ld/v1/entities"]
    for body in (sta, ngsi):
        components.update(body.pop("$defs", {}))
    for path, content in bodies.items():
        schema["paths"][path]["post"]["requestBody"] = {"required": True, "content": content}
    app.openapi_schema = schema
    return schema


def serve(port: int | None = None, url: str | None = None) -> None:
    """Serve the API with uvicorn on 127.0.0.1 until interrupted.

    Raises
    ------
    TwinError
        When the port is taken.
    """
    import socket  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415 - only the server needs it

    settings = ApiSettings()
    port = port or settings.port
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise TwinError(
                f"port {port} on {HOST} is in use ({exc.strerror}): stop the other server or "
                "choose another with --port"
            ) from exc
    uvicorn.run(create_app(url, settings), host=HOST, port=port, log_level="info",
                server_header=False, proxy_headers=False)  # fmt: skip
