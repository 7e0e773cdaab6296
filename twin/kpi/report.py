"""Exports of KPI results: a CSV of every result and a printable, self-contained HTML report.

Every text that reaches the HTML (names, scopes, units, sources) is escaped; the report
loads nothing from elsewhere (no fonts, scripts or images), so it prints offline.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape

from twin.kpi.calculators import Result
from twin.kpi.catalog import Catalog, Kpi, load_catalog
from twin.kpi.engine import results_frame

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #555; font-size: 0.85em; }
@media print { body { margin: 0.5cm; } h2 { page-break-after: avoid; } }
"""


def results_csv(results: Iterable[Result]) -> bytes:
    """Return every result as CSV (UTF-8, one row per KPI and scope, with the KPI's names)."""
    return results_frame(results).to_csv(index=False).encode("utf-8")


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def _cell(text: str, *, numeric: bool = False) -> str:
    return f'<td class="n">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _kpi_row(kpi: Kpi, result: Result | None) -> str:
    value = result.value if result else None
    details = result.details if result else {}
    fresh = details.get("observed_on") or (
        result.computed_at.strftime("%Y-%m-%d %H:%M") if result else ""
    )
    cells = [
        _cell(kpi.name_sl), _cell(kpi.name_en), _cell(kpi.iso or ""),
        _cell(_number(value), numeric=True), _cell(kpi.unit),
        _cell(_number(kpi.target_2030, 0), numeric=True),
        _cell(_number(result.numerator if result else None), numeric=True),
        _cell(_number(result.denominator if result else None), numeric=True),
        _cell(_share(result.synthetic_share if result else None), numeric=True),
        _cell(str(fresh)), _cell(str(details.get("source") or "")),
    ]  # fmt: skip
    return "<tr>" + "".join(cells) + "</tr>"


def html_report(
    results: Iterable[Result],
    *,
    generated_at: datetime,
    catalog: Catalog | None = None,
    title: str = "Strategija Pametno mesto Maribor 2030: kazalniki",
) -> str:
    """Return a printable HTML report: the areas, every KPI for the city, districts per KPI.

    Parameters
    ----------
    results
        Results of :func:`twin.kpi.compute` (all scopes).
    generated_at
        When the results were computed (shown in the heading).
    catalog
        The catalog; the shipped one by default.
    title
        Heading of the report.

    Returns
    -------
    str
        A complete HTML document, every text escaped, nothing loaded from elsewhere.
    """
    catalog = catalog or load_catalog()
    results = list(results)
    city = {r.id: r for r in results if r.district_id is None}
    parts = [
        "<!DOCTYPE html><html lang='sl'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='note'>Computed {escape(generated_at.strftime('%Y-%m-%d %H:%M %Z'))} by "
        "the Maribor digital twin. Synthetic share: the part of the inputs that is generated "
        "(synthetic city), not measured.</p>",
        "<h2>Področja / areas</h2><table><tr><th>Področje</th><th>Area</th><th>Zrelost "
        "(ocena 2022)</th><th>Cilj 2030</th><th>Cilj</th></tr>",
    ]
    parts += [
        "<tr>" + _cell(a.name_sl) + _cell(a.name_en)
        + _cell(f"{a.maturity:g} %", numeric=True)
        + _cell(f"{a.maturity_target_2030:g} %", numeric=True) + _cell(a.goal_sl) + "</tr>"
        for a in catalog.area
    ]  # fmt: skip
    parts.append("</table>")
    header = ("<tr><th>Kazalnik</th><th>Indicator</th><th>ISO</th><th>Value</th><th>Unit</th>"
              "<th>Target 2030</th><th>Numerator</th><th>Denominator</th><th>Synthetic</th>"
              "<th>As of</th><th>Source</th></tr>")  # fmt: skip
    for a in catalog.area:
        kpis = [k for k in catalog.kpi if k.area == a.id]
        parts.append(f"<h2>{escape(a.name_sl)} / {escape(a.name_en)}: city</h2><table>{header}")
        parts += [_kpi_row(k, city.get(k.id)) for k in kpis]
        parts.append("</table>")
    parts.append(_district_table(catalog, results))
    parts.append("</body></html>")
    return "\n".join(parts)


def _district_table(catalog: Catalog, results: list[Result]) -> str:
    spatial = [k for k in catalog.kpi if k.spatial]
    scopes = list(dict.fromkeys(r.scope for r in results if r.district_id is not None))
    if not scopes:
        return ""
    values = {(r.id, r.scope): r.value for r in results}
    head = "".join(f"<th>{escape(k.name_en)} ({escape(k.unit)})</th>" for k in spatial)
    rows = [
        "<tr>" + _cell(scope)
        + "".join(_cell(_number(values.get((k.id, scope))), numeric=True) for k in spatial)
        + "</tr>"
        for scope in scopes
    ]  # fmt: skip
    return (
        "<h2>Mestne četrti in krajevne skupnosti / districts</h2>"
        f"<table><tr><th>District</th>{head}</tr>{''.join(rows)}</table>"
    )
