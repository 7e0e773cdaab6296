"""``twin assets …`` and ``twin users …``: the register from the command line.

The CLI holds the database owner's credentials, so its changes run as an admin; they are
recorded under ``--user`` (default: the operating-system login) in the history.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from twin.register.importer import ImportReport
    from twin.register.store import Actor

assets_app = typer.Typer(
    help="The asset register: classes, assets, history, import and export.", no_args_is_help=True
)
users_app = typer.Typer(help="Users who may sign in to edit.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)

UserOption = Annotated[
    str | None,
    typer.Option("--user", help="Name recorded in the history (default: your login)."),
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why (kept in the history).")]


def cli_actor(user: str | None) -> Actor:
    """Return the actor of a CLI change: ``--user`` or the login, with admin rights."""
    from twin.register.store import Actor  # noqa: PLC0415 - keep `twin --help` fast

    return Actor(name=user or f"cli:{getpass.getuser()}", role="admin")


def _print_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str, indent=2) + "\n")


@assets_app.command("classes")
def classes_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the asset classes (assets/*.toml) with their geometry and number of assets."""
    from twin.register.catalog import classes  # noqa: PLC0415
    from twin.register.store import count_by_class  # noqa: PLC0415

    found = classes()
    counts = count_by_class()
    rows: list[dict[str, Any]] = [
        {"class": c.name, "title": c.title, "geometry": c.geometry,
         "attributes": len(c.attributes), "assets": counts.get(c.name, 0),
         "identifiers": [f"{a.name} ({a.codespace})" for a in c.identifiers]}
        for c in found.values()
    ]  # fmt: skip
    if as_json:
        _print_json(rows)
        return
    table = Table("class", "title", "geometry", "attributes", "assets", "external ids")
    for r in rows:
        table.add_row(r["class"], r["title"], r["geometry"], str(r["attributes"]),
                      str(r["assets"]), ", ".join(r["identifiers"]))  # fmt: skip
    out.print(table)


@assets_app.command("list")
def list_cmd(
    class_name: Annotated[str, typer.Argument(metavar="CLASS", help="Asset class.")],
    search: Annotated[str | None, typer.Option(help="Text in id, name or search fields.")] = None,
    state: Annotated[str | None, typer.Option(help="Lifecycle state.")] = None,
    district: Annotated[int | None, typer.Option(help="District id (twin.districts).")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO time: the past register.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List assets of one class (optionally as they were at a past moment)."""
    from twin.register.store import list_assets, parse_time  # noqa: PLC0415

    frame = list_assets(class_name, search=search, state=state, district_id=district,
                        as_of=parse_time(as_of) if as_of else None, limit=limit)  # fmt: skip
    if as_json:
        records = frame.drop(columns="geometry").assign(
            wkt=frame.geometry.to_wkt(rounding_precision=7)
        )
        _print_json(json.loads(records.to_json(orient="records", date_format="iso")))
        return
    table = Table("id", "name", "state", "version", "changed by", "changed at")
    for row in frame.itertuples():
        table.add_row(str(row.id), str(row.name or ""), str(row.state), str(row.version),
                      str(row.changed_by), f"{row.changed_at:%Y-%m-%d %H:%M}")  # fmt: skip
    out.print(table)
    err.print(f"{len(frame)} {class_name} asset(s) shown")


@assets_app.command("show")
def show_cmd(
    asset_id: Annotated[str, typer.Argument(metavar="ID", help="Asset id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one asset: its values, geometry, parent and the assets linked to it."""
    from twin.register.store import get_asset  # noqa: PLC0415

    asset = get_asset(asset_id)
    if as_json:
        _print_json(asset)
        return
    table = Table("field", "value", title=f"{asset['class']} {asset_id}")
    for key, value in asset.items():
        if key != "children":
            table.add_row(key, Text(str(value)))
    out.print(table)
    for child in asset["children"]:
        out.print(Text(f"linked: {child['class']} {child['id']} {child['name'] or ''}"))


@assets_app.command("history")
def history_cmd(
    asset_id: Annotated[str, typer.Argument(metavar="ID", help="Asset id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every version of an asset: when, who, why and what changed."""
    from twin.register.store import history  # noqa: PLC0415

    versions = history(asset_id)
    if as_json:
        _print_json([v.__dict__ for v in versions])
        return
    table = Table("version", "operation", "valid from", "valid to", "by", "reason", "changes")
    for v in versions:
        table.add_row(str(v.version), v.operation, f"{v.valid_from:%Y-%m-%d %H:%M:%S}",
                      f"{v.valid_to:%Y-%m-%d %H:%M:%S}" if v.valid_to else "current",
                      Text(v.changed_by), Text(v.reason or ""),
                      Text("\n".join(v.changes)))  # fmt: skip
    out.print(table)


@assets_app.command("restore")
def restore_cmd(
    asset_id: Annotated[str, typer.Argument(metavar="ID", help="Asset id.")],
    version: Annotated[int, typer.Option("--version", help="Version to make current again.")],
    user: UserOption = None,
    reason: ReasonOption = None,
) -> None:
    """Make an old version of an asset current again (recorded as a new change)."""
    from twin.register.store import restore  # noqa: PLC0415

    new = restore(asset_id, version, actor=cli_actor(user), reason=reason)
    err.print(f"{asset_id}: version {version} restored as version {new}")


#: Rows of a report listed in the terminal (``--json`` lists all).
SHOWN = 30


@assets_app.command("import")
def import_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="GeoPackage, GeoJSON, Shapefile (.shp/.zip), CSV, GeoParquet or FlatGeobuf.",
        ),
    ],
    class_name: Annotated[str, typer.Option("--class", metavar="CLASS", help="Asset class.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and compare only; write nothing.")
    ] = False,
    crs: Annotated[
        str | None,
        typer.Option(
            "--crs",
            help="CRS of the coordinates (EPSG:3794, EPSG:4326 …) for a file "
            "without one (CSV with WKT, Shapefile without .prj), or to override it.",
        ),
    ] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Repair invalid geometries with make_valid (reported).")
    ] = False,
    user: UserOption = None,
    reason: ReasonOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import FILE into a class: all rows or none, with a row-level report.

    Rows with an id update that asset; rows without one match on the class's external
    identifiers (e.g. pole_code, osm_id), so importing a file again updates instead of
    duplicating. Any rejected row and nothing is imported (try --dry-run first).
    """
    from twin.register.importer import ImportRejected, import_file  # noqa: PLC0415

    try:
        report = import_file(file, class_name, dry_run=dry_run, crs=crs, fix=fix,
                             actor=cli_actor(user), reason=reason)  # fmt: skip
    except ImportRejected as exc:
        if as_json:
            _print_json(exc.report.as_dict())
        raise
    if as_json:
        _print_json(report.as_dict())
    else:
        _print_report(report)
    if report.rejected:
        err.print(Text(f"error: {file}: {report.rejected} of {report.rows} rows would be "
                       "rejected; correct them and import again"), soft_wrap=True)  # fmt: skip
        raise typer.Exit(1)
    if not dry_run:
        err.print(Text(f"{file}: imported into register.{class_name} "
                       f"({report.new} new, {report.changed} changed)"))  # fmt: skip


def _print_report(report: ImportReport) -> None:
    """Print an import report as tables: counts, problems, repairs, changes, notes."""
    numbered = "feature number" if report.label == "row" else "CSV line (header = line 1)"
    title = f"{report.file} → {report.class_name}" + (" (dry run)" if report.dry_run else "")
    counts = Table("rows", "new", "changed", "unchanged", "rejected", title=Text(title),
                   caption=f"CRS {report.crs}; rows are numbered by {numbered}")  # fmt: skip
    counts.add_row(*(str(n) for n in (report.rows, report.new, report.changed,
                                      report.unchanged, report.rejected)))  # fmt: skip
    out.print(counts)
    for title, items in (("rejected", report.problems), ("repaired", report.repairs)):
        if items:
            table = Table(report.label, "field", "reason", title=f"{title} ({len(items)})")
            for p in items[:SHOWN]:
                table.add_row(str(p.row), Text(p.field), Text(p.reason))
            out.print(table)
            _more(len(items))
    if report.changes:
        table = Table(report.label, "id", "change", title=f"changes ({len(report.changes)})")
        for c in report.changes[:SHOWN]:
            table.add_row(str(c.row), Text(c.id or "(new id)"), c.status)
        out.print(table)
        _more(len(report.changes))
    for note in report.notes:
        err.print(Text(f"note: {note}"), soft_wrap=True)


def _more(count: int) -> None:
    if count > SHOWN:
        err.print(f"… and {count - SHOWN} more (--json lists all)")


@assets_app.command("export")
def export_cmd(
    class_name: Annotated[str, typer.Argument(metavar="CLASS", help="Asset class.")],
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help=".gpkg .geojson .shp .zip .csv .parquet or .fgb (replaced if it exists).",
        ),
    ],
    crs: Annotated[
        str | None,
        typer.Option(
            "--crs",
            help="CRS of the coordinates (default EPSG:4326 for GeoJSON and "
            "CSV, EPSG:3794 otherwise).",
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO time: the register as it was then.")
    ] = None,
) -> None:
    """Export every asset of a class to FILE (format from the extension)."""
    from twin.register.exporter import export_file  # noqa: PLC0415
    from twin.register.store import parse_time  # noqa: PLC0415

    count = export_file(class_name, file, crs=crs, as_of=parse_time(as_of) if as_of else None)
    err.print(Text(f"{count} {class_name} asset(s) written to {file}"))


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (lower case).")],
    role: Annotated[str, typer.Option(help="viewer, editor or admin.")] = "editor",
    full_name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user (or reset their password and role). Asks for the password."""
    from twin.register.users import add_user  # noqa: PLC0415

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif os.environ.get("TWIN_PASSWORD"):
        password = os.environ["TWIN_PASSWORD"]
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    add_user(name, password, role, full_name)
    err.print(f"user {name} ({role}) saved")


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List users and their roles."""
    from twin.register.users import list_users  # noqa: PLC0415

    users = list_users()
    if as_json:
        _print_json(users)
        return
    table = Table("name", "full name", "role", "created", "disabled")
    for u in users:
        table.add_row(str(u["name"]), Text(str(u["full_name"] or "")), str(u["role"]),
                      f"{u['created_at']:%Y-%m-%d}", "yes" if u["disabled"] else "")  # fmt: skip
    out.print(table)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Stop a user from signing in (their history stays)."""
    from twin.register.users import disable_user  # noqa: PLC0415

    disable_user(name)
    err.print(f"user {name} disabled")
