"""Smart-city KPIs of the Maribor strategy: catalog, calculators, snapshots, manual values.

The catalog (``twin/kpi/catalog.toml``) is data: the strategy's seven areas with their maturity
and 2030 targets, and every indicator with its ISO 37120/37122 reference, names, unit,
direction, 2030 target and calculator. Computed indicators run in PostGIS (EPSG:3794) for the
city and each district; manual ones take values entered with a date and a source.

Public API (every function takes ``url``, the twin's database by default):

``load_catalog() -> Catalog``
    Areas and indicators, validated against the asset-class catalog.
``compute(url, *, district=None, kpis=None, at=None, window_hours=None) -> list[Result]``
    Results with ``id``, ``scope``, ``value``, ``unit``, ``numerator``, ``denominator``,
    ``target_2030``, ``synthetic_share``, ``computed_at`` and, for real-time KPIs,
    ``reporting`` (what ``twin kpi compute --json`` prints).
``snapshot(url) -> (id, results)`` and ``trend(url, kpi_id=None, scope=None)``
    Store every result with a timestamp; read the values over the snapshots.
``set_value(kpi_id, value, observed_on=, source=, actor=)`` and ``manual_values(kpi_id)``
    Enter (editors only) and read the values of the manual indicators.
``behind(kpi_id, district_id=None, url=None)``
    The assets (or inhabited buildings) behind a number, for the drill-down.
"""

from twin.kpi.calculators import Result, Scope
from twin.kpi.catalog import Area, Catalog, Kpi, load_catalog
from twin.kpi.engine import (
    compute,
    manual_values,
    results_frame,
    set_value,
    snapshot,
    trend,
)

__all__ = [
    "Area",
    "Catalog",
    "Kpi",
    "Result",
    "Scope",
    "compute",
    "load_catalog",
    "manual_values",
    "results_frame",
    "set_value",
    "snapshot",
    "trend",
]
