"""``twin coverage …``: population coverage, what-if sites, suggestions and the gap map."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

coverage_app = typer.Typer(
    help="Gigabit and 5G coverage of the population: report, what-if, suggestions, gaps.",
    no_args_is_help=True,
)

out = Console()
err = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


def _json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f} %"


@coverage_app.command("report")
def coverage_report(
    tech: Annotated[
        list[str] | None,
        typer.Option("--tech", help="gigabit, 5g or 4g; repeat for several (default gigabit, 5g)."),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="'city', a district name or id; repeat for several."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Covered and total population per technology, for the city and each district."""
    from twin.coverage.report import report  # noqa: PLC0415 - keep `twin --help` fast

    results = report(tech or None, scopes=scope or None)
    if as_json:
        _json([r.as_dict() for r in results])
        return
    table = Table("tech", "scope", "kind", "population", "covered", "share", "method",
                  "synthetic", title="twin coverage report")  # fmt: skip
    for r in results:
        table.add_row(r.tech, Text(r.scope), r.scope_kind, f"{r.population:,}",
                      f"{r.covered_population:,}", _pct(r.share), r.method,
                      _pct(r.synthetic_share))  # fmt: skip
    out.print(table)
    if any((r.synthetic_share or 0) > 0 for r in results):
        err.print(Text("population and networks are synthetic (twin synth): figures illustrate "
                       "the method, not Maribor's real coverage"))  # fmt: skip
