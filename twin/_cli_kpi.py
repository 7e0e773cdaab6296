"""``twin kpi …``: the strategy's indicators from the command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

kpi_app = typer.Typer(
    help="Smart-city KPIs (ISO 37120/37122) of the Maribor strategy.", no_args_is_help=True
)

out = Console()
err = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON only.")]
WindowOption = Annotated[
    float | None,
    typer.Option(
        "--window-hours",
        help="A sensor reports when its latest value is at most this old (default 24).",
    ),
]


def _print_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str, indent=2) + "\n")


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


@kpi_app.command("catalog")
def catalog_cmd(as_json: JsonOption = False) -> None:
    """List the strategy's areas and every KPI with its unit, target and calculator."""
    from twin.kpi import load_catalog  # noqa: PLC0415 - keep `twin --help` fast

    catalog = load_catalog()
    if as_json:
        _print_json(
            {"areas": [a.model_dump() for a in catalog.area],
             "kpis": [k.model_dump(by_alias=True) for k in catalog.kpi]}
        )  # fmt: skip
        return
    areas = Table("area", "maturity now", "2030 target", "goal", title="strategy areas")
    for a in catalog.area:
        areas.add_row(Text(a.name_en), f"{a.maturity:g} %", f"{a.maturity_target_2030:g} %",
                      Text(a.goal_sl))  # fmt: skip
    out.print(areas)
    table = Table("id", "area", "unit", "target 2030", "calculator", "ISO", title="KPIs")
    for k in catalog.kpi:
        table.add_row(k.id, k.area, Text(k.unit), _number(k.target_2030, 0), k.calculator,
                      Text(k.iso or ""))  # fmt: skip
    out.print(table)


@kpi_app.command("compute")
def compute_cmd(
    district: Annotated[
        str | None,
        typer.Option("--district", metavar="ID", help="Only this district (id or name)."),
    ] = None,
    window_hours: WindowOption = None,
    at: Annotated[
        str | None, typer.Option(help="Count reporting sensors at this ISO time (default now).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compute every KPI for the city and each district (or one district)."""
    from twin.kpi import compute  # noqa: PLC0415
    from twin.register.store import parse_time  # noqa: PLC0415

    results = compute(
        district=district, at=parse_time(at) if at else None, window_hours=window_hours
    )
    if as_json:
        _print_json([r.as_dict() for r in results])
        return
    _print_results([r.as_dict() for r in results])


def _print_results(rows: list[dict[str, Any]]) -> None:
    table = Table("KPI", "scope", "value", "numerator / denominator", "target 2030", "synthetic",
                  "reporting")  # fmt: skip
    for r in rows:
        synthetic = r["synthetic_share"]
        table.add_row(
            Text(r["id"], no_wrap=True, overflow="ellipsis"), Text(r["scope"]),
            Text(f"{_number(r['value'])} {r['unit']}"),
            f"{_number(r['numerator'])} / {_number(r['denominator'])}",
            _number(r["target_2030"], 0),
            "—" if synthetic is None else f"{100 * synthetic:.0f} %",
            _number(r["reporting"], 0),
        )  # fmt: skip
    out.print(table)


@kpi_app.command("snapshot")
def snapshot_cmd(
    window_hours: WindowOption = None,
    note: Annotated[str | None, typer.Option(help="Kept with the snapshot.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Compute every KPI and store the results with a timestamp (the dashboard's trends)."""
    from twin.kpi import snapshot  # noqa: PLC0415

    snapshot_id, results = snapshot(window_hours=window_hours, note=note)
    if as_json:
        _print_json({"snapshot": snapshot_id, "results": len(results),
                     "taken_at": results[0].computed_at if results else None})  # fmt: skip
        return
    err.print(Text(f"snapshot {snapshot_id}: {len(results)} results stored"))


@kpi_app.command("set")
def set_cmd(
    kpi_id: Annotated[
        str, typer.Argument(metavar="ID", help="A manual KPI (see `twin kpi catalog`).")
    ],
    value: Annotated[float, typer.Argument(help="The value in the KPI's unit (yes/no: 1 or 0).")],
    date: Annotated[str, typer.Option("--date", help="ISO date the value refers to.")],
    source: Annotated[str, typer.Option("--source", help="Where the value comes from.")],
    note: Annotated[str | None, typer.Option(help="Optional remark.")] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Name recorded (default: your login).")
    ] = None,
) -> None:
    """Enter a value of a manual KPI with its date and source."""
    from twin._cli_register import cli_actor  # noqa: PLC0415
    from twin.kpi import set_value  # noqa: PLC0415
    from twin.register.store import parse_time  # noqa: PLC0415

    stored = set_value(kpi_id, value, observed_on=parse_time(date).date(), source=source,
                       note=note, actor=cli_actor(user))  # fmt: skip
    err.print(Text(f"{kpi_id} = {value:g} on {date} saved (entry {stored.get('id')})"))


@kpi_app.command("trend")
def trend_cmd(
    kpi_id: Annotated[str, typer.Argument(metavar="ID", help="KPI id.")],
    scope: Annotated[str, typer.Option(help="'city' or a district name.")] = "city",
    as_json: JsonOption = False,
) -> None:
    """Show a KPI's values over the stored snapshots."""
    from twin.kpi import load_catalog, trend  # noqa: PLC0415

    load_catalog().get(kpi_id)
    frame = trend(kpi_id=kpi_id, scope=scope)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    if as_json:
        _print_json(rows)
        return
    table = Table("snapshot", "taken at", "value", "numerator", "denominator")
    for r in rows:
        table.add_row(str(r["snapshot_id"]), str(r["taken_at"])[:16], _number(r["value"]),
                      _number(r["numerator"]), _number(r["denominator"]))  # fmt: skip
    out.print(table)
