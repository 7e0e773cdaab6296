"""``twin coverage …``: population coverage, what-if sites, suggestions and the gap map."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from twin._cli_register import ReasonOption, UserOption, cli_actor

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
    for r in results:
        if r.scope_kind == "city" and r.population == 0:
            unit = "inhabited buildings" if r.tech == "gigabit" else "population grid"
            err.print(Text(f"{r.tech}: the twin has no {unit} yet; run `twin synth` (or load "
                           "them) to measure coverage"))  # fmt: skip
    if any((r.synthetic_share or 0) > 0 for r in results):
        err.print(Text("population and networks are synthetic (twin synth): figures illustrate "
                       "the method, not Maribor's real coverage"))  # fmt: skip


@coverage_app.command("whatif")
def coverage_whatif(
    site: Annotated[str, typer.Option("--site", help="LON,LAT of the site (WGS84 degrees).")],
    tech: Annotated[str, typer.Option("--tech", help="5g or 4g.")] = "5g",
    band: Annotated[
        list[str] | None,
        typer.Option("--band", help="Band code, e.g. n78 or n28; repeat for several."),
    ] = None,
    height: Annotated[
        float | None, typer.Option("--height", help="Antenna height above ground (m).", min=1)
    ] = None,
    azimuth: Annotated[
        list[float] | None,
        typer.Option("--azimuth", help="Sector azimuth (degrees from north); omni if none."),
    ] = None,
    save_as_planned: Annotated[
        bool, typer.Option("--save-as-planned", help="Add the site to the register as planned.")
    ] = False,
    operator: Annotated[
        str, typer.Option("--operator", help="Operator recorded for a saved site.")
    ] = "unassigned",
    name: Annotated[str | None, typer.Option("--name", help="Name of a saved site.")] = None,
    user: UserOption = None,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Covered population and share with a hypothetical site, city and per district."""
    from twin.coverage.model import Site  # noqa: PLC0415
    from twin.coverage.whatif import parse_site, save_planned, whatif  # noqa: PLC0415

    lon, lat = parse_site(site)
    spec = Site(lon, lat, tech, tuple(band or ()), height, tuple(azimuth or ()), operator)
    result = whatif(spec)
    document = result.as_dict()
    if save_as_planned:
        document["saved_as"] = save_planned(spec, actor=cli_actor(user), reason=reason, name=name)
    if as_json:
        _json(document)
        return
    title = f"twin coverage whatif {site} ({result.tech})"
    table = Table("scope", "population", "covered before", "after", "new", "share before",
                  "after", "Δ share", title=title)  # fmt: skip
    for r in result.results:
        if r.scope_kind == "city" or r.new_covered:
            table.add_row(Text(r.scope), f"{r.population:,}", f"{r.covered_before:,}",
                          f"{r.covered_after:,}", f"{r.new_covered:,}", _pct(r.share_before),
                          _pct(r.share_after), _pct(r.delta_share))  # fmt: skip
    out.print(table)
    ranges = ", ".join(f"{e['band']} {e['range_m']:.0f} m" for e in result.emitters)
    err.print(Text(f"site covers {result.covered_population:,} people ({ranges}); "
                   "districts without change are not listed"))  # fmt: skip
    if save_as_planned:
        err.print(Text(f"saved as planned: {document['saved_as']}"))


@coverage_app.command("suggest")
def coverage_suggest(
    n: Annotated[int, typer.Option("--n", help="How many sites to suggest.", min=1)] = 5,
    tech: Annotated[str, typer.Option("--tech", help="5g or 4g.")] = "5g",
    band: Annotated[str | None, typer.Option("--band", help="Band code of the new sites.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Also write the suggestions (.gpkg, .geojson or .csv)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Rank candidate sites (masts, municipal roofs, poles) by the population they add."""
    from twin.coverage.suggest import export_suggestions, suggest  # noqa: PLC0415

    ranked = suggest(n, tech, band=band)
    if output is not None:
        export_suggestions(ranked, output)
    if as_json:
        _json([s.as_dict() for s in ranked])
        return
    title = f"twin coverage suggest --n {n} --tech {tech}"
    table = Table("rank", "candidate", "kind", "lon", "lat", "height", "range", "gain",
                  "covered", "share", title=title)  # fmt: skip
    for s in ranked:
        table.add_row(str(s.rank), s.candidate_id, s.kind, f"{s.lon:.5f}", f"{s.lat:.5f}",
                      f"{s.height_m:.1f} m", f"{s.range_m:.0f} m", f"{s.marginal_gain:,}",
                      f"{s.cumulative_covered:,}", _pct(s.cumulative_share))  # fmt: skip
    out.print(table)
    if len(ranked) < n:
        err.print(Text(f"only {len(ranked)} candidate(s) add covered population"))


@coverage_app.command("gaps")
def coverage_gaps(
    file: Annotated[Path, typer.Argument(help="Output file: .gpkg, .geojson or .json.")],
    tech: Annotated[str, typer.Option("--tech", help="5g, 4g or gigabit.")] = "5g",
    resolution: Annotated[
        int | None, typer.Option("--resolution", help="H3 resolution (default from the model).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the uncovered population on H3 cells (the gap map) to FILE."""
    from twin.coverage.gaps import export_gaps  # noqa: PLC0415

    count = export_gaps(file, tech, resolution=resolution)
    if as_json:
        _json({"file": str(file), "tech": tech, "cells": count})
        return
    err.print(Text(f"{count} H3 cells with uncovered people written to {file}"))
