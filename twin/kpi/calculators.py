"""KPI calculators: one base class, one subclass per calculator kind of the catalog.

Every spatial calculator returns one :class:`Result` for the city and one for each district.
The figures come from PostGIS (SQL in ``twin/db/sql/kpi_*.sql``, EPSG:3794); the identifiers
of a KPI's register class and attributes are composed from the validated catalog with
:mod:`psycopg.sql`, its values are bound parameters.

Placement rule (``kpi_place.sql``): a point asset (a polygon by its point on surface) counts in
the city when it touches the municipality and in exactly one district, the lowest id among
those it touches, so that an asset on a border is never counted twice. Area kinds split
polygons by the scopes instead (``kpi_areas.sql``).

``synthetic_share`` is the share of the rows read for a scope (assets, stations, population
cells, inhabited buildings) that are synthetic; ``None`` when no row was read.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

import psycopg
from psycopg import sql

from twin._errors import DatabaseError
from twin.db._sql import sql_text
from twin.kpi.catalog import Kpi, Scalar, Settings

CITY = "city"


@dataclass(frozen=True)
class Scope:
    """The city or one district, with the area of its stored polygon (EPSG:3794)."""

    scope: str
    scope_kind: str
    district_id: int | None
    approximate: bool
    area_km2: float


@dataclass
class Result:
    """One KPI in one scope.

    ``value`` is ``numerator / denominator`` (times 100 for shares, times ``per`` for
    per-inhabitant KPIs), the numerator itself for counts and area sums, or the entered value
    of a manual KPI; ``None`` when the denominator is zero or nothing was entered.
    ``reporting`` (real-time KPIs only) is the numerator counting only sensors that delivered
    a value within the reporting window, ``reporting_value`` the value computed with it.
    """

    id: str
    scope: str
    scope_kind: str
    district_id: int | None
    value: float | None
    unit: str
    numerator: float | None
    denominator: float | None
    target_2030: float | None
    synthetic_share: float | None
    computed_at: datetime
    reporting: float | None = None
    reporting_value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict (``computed_at`` as ISO text)."""
        data = asdict(self)
        data["computed_at"] = self.computed_at.isoformat()
        return data

    def details_json(self) -> str:
        """Return ``details`` as JSON text (for the snapshot table)."""
        return json.dumps(self.details, ensure_ascii=False, default=str)


class Figures(NamedTuple):
    """The figures of one KPI in one scope (see :class:`Result`)."""

    value: float | None
    numerator: float | None
    denominator: float | None
    synthetic_share: float | None
    reporting: float | None = None
    reporting_value: float | None = None


@dataclass(frozen=True)
class Totals:
    """What a calculator adds up in one scope (see ``kpi_points.sql``)."""

    rows: int = 0
    synthetic_rows: int = 0
    total: float = 0.0
    flagged: float = 0.0
    reporting: float = 0.0

    @property
    def synthetic_share(self) -> float | None:
        """Share of the rows that are synthetic; None without rows."""
        return self.synthetic_rows / self.rows if self.rows else None


@dataclass
class Context:
    """What every calculator of one computation shares."""

    conn: psycopg.Connection
    url: str | None
    scopes: list[Scope]
    at: datetime
    since: datetime
    computed_at: datetime
    settings: Settings
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        """Parameters every KPI query may bind: the reporting window."""
        return {"at": self.at, "since": self.since}


def ratio(numerator: float, denominator: float, factor: float = 1.0) -> float | None:
    """Return ``factor * numerator / denominator``, or None when the denominator is zero."""
    return factor * numerator / denominator if denominator else None


def read_scopes(conn: psycopg.Connection) -> list[Scope]:
    """Return the city and every district (``kpi_scopes.sql``).

    Raises
    ------
    DatabaseError
        When the municipality is not loaded.
    """
    rows = conn.execute(sql_text("kpi_scopes")).fetchall()
    if not rows or rows[0][4] is None:
        raise DatabaseError(
            "the municipality is not loaded, so no KPI can be computed: run `twin load maribor`"
        )
    return [Scope(str(r[0]), str(r[1]), r[2], bool(r[3]), float(r[4])) for r in rows]


def _equalities(values: dict[str, Scalar], prefix: str) -> tuple[sql.Composable, dict[str, Any]]:
    """``t.a = %(p0)s AND …`` for the attribute equalities of a catalog entry."""
    parts: list[sql.Composable] = []
    params: dict[str, Any] = {}
    for i, (name, value) in enumerate(values.items()):
        key = f"{prefix}{i}"
        parts.append(sql.SQL("t.{} = {}").format(sql.Identifier(name), sql.Placeholder(key)))
        params[key] = value
    return (sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")), params


def register_source(kpi: Kpi) -> tuple[sql.Composable, dict[str, Any]]:
    """Return the SQL of the rows a register KPI reads, and its parameters.

    Columns: ``id``, ``name``, ``geom``, ``synthetic``, ``weight``, ``flagged``,
    ``flagged_reporting`` (see ``kpi_register_source.sql``).
    """
    if kpi.asset_class is None:  # pragma: no cover - the catalog validator requires it
        raise ValueError(f"KPI {kpi.id} reads no register class")
    where, params = _equalities(kpi.where, "w")
    flags: list[sql.Composable] = []
    if kpi.flag:
        attr_flag, flag_params = _equalities(kpi.flag, "f")
        flags.append(sql.SQL("({})").format(attr_flag))
        params |= flag_params
    if kpi.flag_sensor:
        flags.append(sql.SQL(sql_text("kpi_child_sensor")))
        params["flag_sensor"] = kpi.flag_sensor
    flag = sql.SQL(" OR ").join(flags) if flags else sql.SQL("true")
    if kpi.realtime and kpi.flag_sensor:
        flag_reporting: sql.Composable = sql.SQL(sql_text("kpi_child_sensor_reporting"))
    elif kpi.realtime and kpi.asset_class == "sensor":
        flag_reporting = sql.SQL(sql_text("kpi_self_reporting"))
    else:
        flag_reporting = sql.SQL("false")
    weight = (
        sql.SQL("coalesce(t.{}, 0)").format(sql.Identifier(kpi.weight))
        if kpi.weight
        else sql.SQL("1")
    )
    source = sql.SQL(sql_text("kpi_register_source")).format(
        table=sql.Identifier("register", kpi.asset_class),
        where=where,
        weight=weight,
        flag=flag,
        flag_reporting=flag_reporting,
        extent=sql.SQL(sql_text("kpi_extent")),
    )
    if kpi.stations:
        source = sql.SQL("{} UNION ALL {}").format(source, sql.SQL(sql_text("kpi_stations_source")))
    return source, params


def scoped_source(name: str) -> sql.Composed:
    """Return a source query whose ``{extent}`` is the bounding box of the scopes."""
    return sql.SQL(sql_text(name)).format(extent=sql.SQL(sql_text("kpi_extent")))


def load_rows(conn: psycopg.Connection, source: sql.Composable, params: dict[str, Any]) -> None:
    """Put the rows of ``source`` in the temporary table ``kpi_rows``, indexed by their point.

    Placing the rows in the scopes is then an indexed join (``kpi_place.sql``).
    """
    conn.execute(sql_text("kpi_rows_create"))
    conn.execute(sql.SQL(sql_text("kpi_rows_insert")).format(source=source), params)
    conn.execute(sql_text("kpi_rows_index"))


def placed() -> sql.SQL:
    """Return the query placing ``kpi_rows`` in the scopes (``kpi_place.sql``)."""
    return sql.SQL(sql_text("kpi_place"))


def _totals(conn: psycopg.Connection, query: sql.Composed | sql.SQL) -> dict[int | None, Totals]:
    rows = conn.execute(query).fetchall()
    return {r[0]: Totals(int(r[1]), int(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in rows}


def point_totals(
    conn: psycopg.Connection, source: sql.Composable, params: dict[str, Any]
) -> dict[int | None, Totals]:
    """Add up the rows of ``source`` per scope (``None`` is the city), placed by their point."""
    load_rows(conn, source, params)
    return _totals(conn, sql.SQL(sql_text("kpi_points")).format(placed=placed()))


def area_totals(
    conn: psycopg.Connection, source: sql.Composable, params: dict[str, Any]
) -> dict[int | None, Totals]:
    """Add up the areas (ha) of the polygons of ``source`` split by the scopes."""
    load_rows(conn, source, params)
    return _totals(conn, sql.SQL(sql_text("kpi_areas")))


def population_totals(ctx: Context) -> dict[int | None, Totals]:
    """Inhabitants per scope from the population grid (cells by centroid), computed once."""
    if "population" not in ctx.cache:
        ctx.cache["population"] = point_totals(ctx.conn, scoped_source("kpi_population_source"), {})
    found: dict[int | None, Totals] = ctx.cache["population"]
    return found


def freshness(ctx: Context, kpi: Kpi) -> dict[str, str | None]:
    """When the KPI's register class last changed and its sensors last reported (ISO text)."""
    table = kpi.asset_class or "building"
    sensor_kind = kpi.flag_sensor or (
        str(kpi.where.get("kind")) if kpi.asset_class == "sensor" and kpi.realtime else None
    )
    query = sql.SQL(sql_text("kpi_freshness")).format(table=sql.Identifier("register", table))
    row = ctx.conn.execute(query, {"sensor_kind": sensor_kind}).fetchone()
    changed, reading = row if row else (None, None)
    return {
        "data_changed_at": changed.isoformat() if changed else None,
        "latest_reading": reading.isoformat() if reading else None,
    }


class Calculator(ABC):
    """Computes one KPI for every scope.

    Parameters
    ----------
    kpi
        The catalog entry.
    """

    #: The catalog's calculator kind this class implements.
    kind: ClassVar[str]

    def __init__(self, kpi: Kpi) -> None:
        self.kpi = kpi

    @abstractmethod
    def compute(self, ctx: Context) -> list[Result]:
        """Return one result per scope (the city only for manual KPIs)."""

    def result(
        self,
        ctx: Context,
        scope: Scope,
        figures: Figures,
        details: dict[str, Any] | None = None,
    ) -> Result:
        """Make a result of this KPI in ``scope`` (unit, target, time filled in)."""
        return Result(
            id=self.kpi.id,
            scope=scope.scope,
            scope_kind=scope.scope_kind,
            district_id=scope.district_id,
            value=figures.value,
            unit=self.kpi.unit,
            numerator=figures.numerator,
            denominator=figures.denominator,
            target_2030=self.kpi.target_2030,
            synthetic_share=figures.synthetic_share,
            computed_at=ctx.computed_at,
            reporting=figures.reporting if self.kpi.realtime else None,
            reporting_value=figures.reporting_value if self.kpi.realtime else None,
            details=details or {},
        )


class RegisterCalculator(Calculator):
    """A KPI over the assets of one register class (``class``, ``where``, ``flag``)."""

    kind = "register"

    def totals(self, ctx: Context) -> dict[int | None, Totals]:
        """Add up the KPI's assets per scope, placed by their point."""
        source, params = register_source(self.kpi)
        return point_totals(ctx.conn, source, {**ctx.params, **params})

    def compute(self, ctx: Context) -> list[Result]:
        """Return one result per scope from :meth:`totals` and :meth:`figures`."""
        totals = self.totals(ctx)
        fresh = freshness(ctx, self.kpi)
        results = []
        for scope in ctx.scopes:
            t = totals.get(scope.district_id, Totals())
            details = {"rows": t.rows, "synthetic_rows": t.synthetic_rows, **fresh}
            results.append(self.result(ctx, scope, self.figures(ctx, scope, t), details))
        return results

    @abstractmethod
    def figures(self, ctx: Context, scope: Scope, totals: Totals) -> Figures:
        """Return the figures of one scope from its totals."""


class ShareCalculator(RegisterCalculator):
    """Share (%) of the assets (or of their ``weight``) that carry the flag."""

    kind = "share"

    def figures(self, ctx: Context, scope: Scope, totals: Totals) -> Figures:  # noqa: ARG002
        """Return the flagged weight over all weight, in percent."""
        return Figures(
            ratio(totals.flagged, totals.total, 100.0),
            totals.flagged,
            totals.total,
            totals.synthetic_share,
            totals.reporting,
            ratio(totals.reporting, totals.total, 100.0),
        )


class AreaShareCalculator(ShareCalculator):
    """Share (%) of the polygons' area that carries the flag; polygons split by the scopes."""

    kind = "area_share"

    def totals(self, ctx: Context) -> dict[int | None, Totals]:
        """Add up the areas (ha) inside each scope."""
        source, params = register_source(self.kpi)
        return area_totals(ctx.conn, source, {**ctx.params, **params})


class DensityCalculator(RegisterCalculator):
    """Number of assets per km² of the scope (the stored polygon's area in EPSG:3794)."""

    kind = "density"

    def figures(self, ctx: Context, scope: Scope, totals: Totals) -> Figures:  # noqa: ARG002
        """Return the count over the area."""
        return Figures(
            ratio(totals.flagged, scope.area_km2),
            totals.flagged,
            scope.area_km2,
            totals.synthetic_share,
            totals.reporting,
            ratio(totals.reporting, scope.area_km2),
        )


class CountCalculator(RegisterCalculator):
    """Number of assets in the scope (the denominator gives the scope's area in km²)."""

    kind = "count"

    def figures(self, ctx: Context, scope: Scope, totals: Totals) -> Figures:  # noqa: ARG002
        """Return the count itself."""
        return Figures(totals.flagged, totals.flagged, scope.area_km2, totals.synthetic_share,
                       totals.reporting, totals.reporting)  # fmt: skip


class PerPopulationCalculator(RegisterCalculator):
    """Number of assets per ``per`` inhabitants (population grid, cells by centroid)."""

    kind = "per_population"

    def figures(self, ctx: Context, scope: Scope, totals: Totals) -> Figures:
        """Return the count over inhabitants, times ``per`` (synthetic: assets and cells)."""
        people = population_totals(ctx).get(scope.district_id, Totals())
        rows = totals.rows + people.rows
        synthetic = (totals.synthetic_rows + people.synthetic_rows) / rows if rows else None
        return Figures(
            ratio(totals.flagged, people.total, self.kpi.per),
            totals.flagged,
            people.total,
            synthetic,
            totals.reporting,
            ratio(totals.reporting, people.total, self.kpi.per),
        )


class AreaSumCalculator(AreaShareCalculator):
    """Area (ha) of the polygons inside the scope; the denominator is the scope's area (ha)."""

    kind = "area_sum"

    def figures(self, ctx: Context, scope: Scope, totals: Totals) -> Figures:  # noqa: ARG002
        """Return the area itself."""
        return Figures(totals.flagged, totals.flagged, scope.area_km2 * 100.0,
                       totals.synthetic_share, totals.reporting, totals.reporting)  # fmt: skip


class WalkShareCalculator(Calculator):
    """Share (%) of inhabitants within ``distance_m`` walk of a bus stop (see :mod:`._walk`).

    The straight-line figure is given beside it in ``details`` (``straight_line_value``,
    ``straight_line_numerator``).
    """

    kind = "walk_share"

    def compute(self, ctx: Context) -> list[Result]:
        """Inhabitants served along the street network and in a straight line, per scope."""
        from twin.kpi._walk import walk_access  # noqa: PLC0415 - only this kind needs it

        access = walk_access(ctx.conn, self.kpi.distance_m, ctx.settings.walk_connect_m)
        fresh = freshness(ctx, self.kpi)
        results = []
        for scope in ctx.scopes:
            t = access.totals.get(scope.district_id, Totals())
            served = access.served.get(scope.district_id, 0.0)
            figures = Figures(ratio(served, t.total, 100.0), served, t.total, t.synthetic_share)
            details = {
                "straight_line_value": ratio(t.flagged, t.total, 100.0),
                "straight_line_numerator": t.flagged,
                "rows": t.rows, "synthetic_rows": t.synthetic_rows,
                "graph_edges": access.edges, "stops_on_graph": access.stops, **fresh,
            }  # fmt: skip
            results.append(self.result(ctx, scope, figures, details))
        return results


class CoverageCalculator(Calculator):
    """Population share (%) covered by a technology, from :func:`twin.coverage.report`."""

    kind = "coverage"

    def compute(self, ctx: Context) -> list[Result]:
        """One result per scope from the coverage engine; empty figures without population."""
        from twin.coverage import report  # noqa: PLC0415 - heavy, only this kind needs it

        note = None
        try:
            found = {r.district_id: r for r in report(self.kpi.tech, ctx.url)}
        except DatabaseError as exc:
            found, note = {}, str(exc)
        results = []
        for scope in ctx.scopes:
            r = found.get(scope.district_id)
            details: dict[str, Any] = {"note": note} if note else {}
            if r is not None:
                details |= {"method": r.method, "covered_by_operator": r.covered_by_operator}
            figures = Figures(
                None if r is None or r.share is None else 100.0 * r.share,
                float(r.covered_population) if r else 0.0,
                float(r.population) if r else 0.0,
                r.synthetic_share if r else None,
            )
            results.append(self.result(ctx, scope, figures, details))
        return results


class ManualCalculator(Calculator):
    """The newest value entered for the KPI (``twin kpi set``, the dashboard form); city only."""

    kind = "manual"

    def compute(self, ctx: Context) -> list[Result]:
        """Return the city's newest value observed on or before the computation's day."""
        if "manual" not in ctx.cache:
            rows = ctx.conn.execute(sql_text("kpi_manual_latest"), {"day": ctx.at.date()})
            ctx.cache["manual"] = {r[0]: r for r in rows.fetchall()}
        row = ctx.cache["manual"].get(self.kpi.id)
        city = next(s for s in ctx.scopes if s.district_id is None)
        if row is None:
            return [self.result(ctx, city, Figures(None, None, None, None), {"entered": False})]
        _, value, observed_on, source, note, entered_by, entered_at = row
        details = {
            "entered": True, "observed_on": observed_on.isoformat(), "source": source,
            "note": note, "entered_by": entered_by, "entered_at": entered_at.isoformat(),
        }  # fmt: skip
        return [self.result(ctx, city, Figures(float(value), float(value), None, 0.0), details)]


#: Calculator class of each kind of the catalog.
CALCULATORS: dict[str, type[Calculator]] = {
    c.kind: c
    for c in (ShareCalculator, AreaShareCalculator, DensityCalculator, CountCalculator,
              PerPopulationCalculator, AreaSumCalculator, WalkShareCalculator,
              CoverageCalculator, ManualCalculator)
}  # fmt: skip


def calculator(kpi: Kpi) -> Calculator:
    """Return the calculator of a catalog entry."""
    return CALCULATORS[kpi.calculator](kpi)


def by_scope(results: Iterable[Result]) -> dict[tuple[str, str], Result]:
    """Index results by ``(id, scope)``."""
    return {(r.id, r.scope): r for r in results}
