"""``twin ingest …`` and ``twin sensors …``: live readings from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

ingest_app = typer.Typer(help="Ingest sensor readings (ARSO XML, CSV, MQTT).", no_args_is_help=True)
sensors_app = typer.Typer(help="Sensors and their observations.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


def _report(report: object, as_json: bool) -> None:
    data = dict(report.__dict__)
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("received", "stored", "already stored", "dead letters", "new streams",
                  "exceedances")  # fmt: skip
    table.add_row(*(str(data[k]) for k in ("received", "stored", "duplicates", "dead_letters",
                                            "new_datastreams", "exceedances")))  # fmt: skip
    out.print(table)
    for reason, count in data["reasons"].items():
        err.print(Text(f"dead letters ({count}): {reason}"))


@ingest_app.command("arso")
def ingest_arso(
    source: Annotated[str, typer.Argument(metavar="FILE|URL", help="ones_zrak_urni_podatki XML.")],
    as_json: JsonOption = False,
) -> None:
    """Ingest ARSO's hourly air-quality XML; stations not in the register become sensors."""
    from twin.sensors.adapters import ArsoAdapter  # noqa: PLC0415 - keep `twin --help` fast

    _report(ArsoAdapter(source).run(), as_json)


@ingest_app.command("csv")
def ingest_csv(
    file: Annotated[
        Path, typer.Argument(help="CSV: sensor,property,time,value[,unit,end,quality]")
    ],
    as_json: JsonOption = False,
) -> None:
    """Ingest readings from a CSV file (header: sensor,property,time,value[,unit,end,quality])."""
    from twin.sensors.adapters import CsvAdapter  # noqa: PLC0415

    _report(CsvAdapter(file).run(), as_json)


@sensors_app.command("summary")
def sensors_summary(
    since: Annotated[str | None, typer.Option(help="ISO time: from (inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time: to (exclusive).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Per sensor and property: count, mean, min, max, first, last, below detection."""
    from twin.register.store import parse_time  # noqa: PLC0415
    from twin.sensors.summary import summary  # noqa: PLC0415

    rows = summary(parse_time(since) if since else None, parse_time(until) if until else None)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("sensor", "property", "unit", "count", "mean", "min", "max", "first", "last",
                  "< limit")  # fmt: skip
    for r in rows:
        table.add_row(Text(str(r["sensor"])), r["property"], r["unit"], str(r["count"]),
                      *(f"{r[k]:.2f}" if r[k] is not None else ""
                        for k in ("mean", "min", "max")),
                      str(r["first"] or ""), str(r["last"] or ""),
                      str(r["below_detection"]))  # fmt: skip
    out.print(table)
