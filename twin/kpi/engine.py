"""Compute the KPIs, keep snapshots of them, and record the values of the manual ones."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
import psycopg

from twin._errors import ConfigError, InvalidValue
from twin.db._sql import sql_text
from twin.db.engine import connect
from twin.kpi.calculators import Context, Result, Scope, calculator, read_scopes
from twin.kpi.catalog import Catalog, load_catalog

if TYPE_CHECKING:
    from twin.register.store import Actor


def _scope_filter(scopes: list[Scope], district: int | str | None) -> Scope | None:
    """Return the district asked for (by id or name), or None for every scope.

    Raises
    ------
    ConfigError
        When no district has this id or name.
    """
    if district is None:
        return None
    text = str(district).strip()
    for scope in scopes:
        if scope.district_id is not None and text in (str(scope.district_id), scope.scope):
            return scope
    known = ", ".join(f"{s.district_id} ({s.scope})" for s in scopes if s.district_id is not None)
    raise ConfigError(f"no district {text!r}; districts are: {known}")


def compute(
    url: str | None = None,
    *,
    district: int | str | None = None,
    kpis: Iterable[str] | None = None,
    at: datetime | None = None,
    window_hours: float | None = None,
    catalog: Catalog | None = None,
) -> list[Result]:
    """Compute KPIs for the city and every district.

    Parameters
    ----------
    url
        libpq URL; the twin's database by default.
    district
        Keep only this district's results (its id or name); manual KPIs, which are
        city-wide, are then left out.
    kpis
        Ids to compute; every KPI of the catalog by default.
    at
        Moment the real-time KPIs count reporting sensors at (now by default); manual KPIs
        give the newest value observed on or before its day.
    window_hours
        A sensor reports when its latest observation is at most this old (the catalog's
        ``reporting_window_hours`` by default).
    catalog
        The catalog; the shipped one by default.

    Returns
    -------
    list of Result
        In catalog order, per KPI the city first, then the mestne četrti and krajevne
        skupnosti by name.

    Raises
    ------
    ConfigError
        When a KPI id or the district is unknown, or the window is not positive.
    DatabaseError
        When the database is unreachable or the municipality is not loaded.
    """
    catalog = catalog or load_catalog()
    chosen = [catalog.get(k) for k in kpis] if kpis is not None else list(catalog.kpi)
    window = catalog.settings.reporting_window_hours if window_hours is None else window_hours
    if not window > 0:
        raise ConfigError(f"the reporting window must be positive, got {window} hours")
    now = datetime.now(UTC)
    moment = at or now
    with connect(url) as conn:
        conn.execute(sql_text("kpi_session"))
        scopes = read_scopes(conn)
        only = _scope_filter(scopes, district)
        ctx = Context(conn=conn, url=url, scopes=scopes, at=moment,
                      since=moment - timedelta(hours=window), computed_at=now,
                      settings=catalog.settings)  # fmt: skip
        results: list[Result] = []
        for kpi in chosen:
            if only is not None and kpi.manual:
                continue
            results += calculator(kpi).compute(ctx)
    if only is not None:
        results = [r for r in results if r.district_id == only.district_id]
    return results


def snapshot(
    url: str | None = None,
    *,
    window_hours: float | None = None,
    note: str | None = None,
    taken_by: str | None = None,
) -> tuple[int, list[Result]]:
    """Compute every KPI and store the results as one snapshot.

    Parameters
    ----------
    url
        libpq URL; the twin's database by default.
    window_hours
        Reporting window (the catalog's by default).
    note
        Kept with the snapshot.
    taken_by
        Name recorded (the database login by default).

    Returns
    -------
    tuple of (int, list of Result)
        The snapshot's id and the results stored.
    """
    catalog = load_catalog()
    window = catalog.settings.reporting_window_hours if window_hours is None else window_hours
    results = compute(url, window_hours=window)
    with connect(url) as conn, conn.transaction():
        row = conn.execute(
            sql_text("kpi_snapshot_insert"),
            {"taken_at": results[0].computed_at if results else datetime.now(UTC),
             "taken_by": taken_by or _login(conn), "window": window, "note": note},
        ).fetchone()  # fmt: skip
        snapshot_id = int(row[0]) if row else 0
        with conn.cursor() as cur:
            cur.executemany(
                sql_text("kpi_result_insert"),
                [{**r.as_dict(), "computed_at": r.computed_at, "details": r.details_json(),
                  "snapshot_id": snapshot_id} for r in results],
            )  # fmt: skip
    return snapshot_id, results


def _login(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT session_user").fetchone()
    return str(row[0]) if row else "unknown"


def trend(
    url: str | None = None, *, kpi_id: str | None = None, scope: str | None = None
) -> pd.DataFrame:
    """Return the snapshotted values, oldest first.

    Returns
    -------
    pandas.DataFrame
        ``snapshot_id``, ``taken_at``, ``kpi_id``, ``scope``, ``value``, ``numerator``,
        ``denominator``.
    """
    with connect(url) as conn:
        rows = conn.execute(sql_text("kpi_trend"), {"kpi_id": kpi_id, "scope": scope}).fetchall()
    columns = ["snapshot_id", "taken_at", "kpi_id", "scope", "value", "numerator", "denominator"]
    return pd.DataFrame(rows, columns=columns)


def set_value(
    kpi_id: str,
    value: float,
    *,
    observed_on: date,
    source: str,
    actor: Actor | None,
    note: str | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """Record a value of a manual KPI (editors and admins only).

    Parameters
    ----------
    kpi_id
        A KPI whose calculator is ``manual``.
    value
        The value, in the KPI's unit (``yes/no`` KPIs take 1 or 0).
    observed_on
        The day the value refers to.
    source
        Where it comes from (a report, a register, an office); required.
    actor
        The signed-in user entering it.
    note
        Optional remark.
    url
        libpq URL; the twin's database by default.

    Returns
    -------
    dict
        ``id`` and ``entered_at`` of the stored value.

    Raises
    ------
    ConfigError
        When the KPI is unknown or computed rather than entered.
    InvalidValue
        When the value, date or source is not acceptable.
    AccessDenied
        When nobody is signed in or the user may not edit.
    """
    from twin.register.store import acting  # noqa: PLC0415 - the register is heavy to import

    kpi = load_catalog().get(kpi_id)
    if not kpi.manual:
        raise ConfigError(
            f"KPI {kpi_id} is computed by the twin ({kpi.calculator}); only manual KPIs take "
            "entered values"
        )
    _check_value(kpi.unit, value)
    if not source or not source.strip():
        raise InvalidValue("give the source of the value (a report, register or office)")
    if observed_on > datetime.now(UTC).date() + timedelta(days=1):
        raise InvalidValue(f"the date {observed_on.isoformat()} lies in the future")
    with connect(url) as conn, acting(conn, actor, f"KPI value {kpi_id}"):
        row = conn.execute(
            sql_text("kpi_manual_insert"),
            {"kpi_id": kpi_id, "value": value, "observed_on": observed_on,
             "source": source.strip(), "note": note, "entered_by": actor.name if actor else ""},
        ).fetchone()  # fmt: skip
    return {"id": int(row[0]), "entered_at": row[1]} if row else {}


def _check_value(unit: str, value: float) -> None:
    if value != value or value in (float("inf"), float("-inf")):  # noqa: PLR0124 - NaN check
        raise InvalidValue(f"{value} is not a number")
    if unit == "yes/no" and value not in (0, 1):
        raise InvalidValue(f"a yes/no KPI takes 1 (yes) or 0 (no), got {value:g}")
    if unit.startswith("%") and not 0 <= value <= 100:  # noqa: PLR2004 - a percentage
        raise InvalidValue(f"a percentage lies between 0 and 100, got {value:g}")
    if value < 0:
        raise InvalidValue(f"the value cannot be negative, got {value:g}")


def manual_values(kpi_id: str, url: str | None = None) -> pd.DataFrame:
    """Return every entered value of a manual KPI, newest first."""
    load_catalog().get(kpi_id)
    with connect(url) as conn:
        rows = conn.execute(sql_text("kpi_manual_list"), {"kpi_id": kpi_id}).fetchall()
    columns = ["value", "observed_on", "source", "note", "entered_by", "entered_at"]
    return pd.DataFrame(rows, columns=columns)


def results_frame(results: Iterable[Result]) -> pd.DataFrame:
    """Return results as a table (one row per KPI and scope), with the catalog's names."""
    catalog = load_catalog()
    rows = []
    for r in results:
        kpi = catalog.kpis.get(r.id)
        row = r.as_dict()
        details = row.pop("details")
        row |= {
            "name_en": kpi.name_en if kpi else "", "name_sl": kpi.name_sl if kpi else "",
            "area": kpi.area if kpi else "", "calculator": kpi.calculator if kpi else "",
            "straight_line_value": details.get("straight_line_value"),
            "source": details.get("source"), "observed_on": details.get("observed_on"),
        }  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)
