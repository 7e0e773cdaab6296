"""The ``twin`` command line: database, loading, serving.

Every :class:`~twin.TwinError` ends as one line on stderr and exit code 1; ``--json``
output is a JSON document on stdout and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from twin._cli_api import api_app, serve_api
from twin._cli_coverage import coverage_app
from twin._cli_kpi import kpi_app
from twin._cli_mqtt import mqtt_app, simulate
from twin._cli_register import assets_app, users_app
from twin._cli_sensors import ingest_app, sensors_app
from twin._errors import TwinError

app = typer.Typer(
    help="Maribor digital twin: PostGIS asset register, sensors, KPIs and 3D map.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The twin's PostGIS database.", no_args_is_help=True)
load_app = typer.Typer(help="Load real data from gis_data/.", no_args_is_help=True)
serve_app = typer.Typer(help="Serve the app.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(load_app, name="load")
app.add_typer(serve_app, name="serve")
app.add_typer(assets_app, name="assets")
app.add_typer(users_app, name="users")
app.add_typer(ingest_app, name="ingest")
app.add_typer(sensors_app, name="sensors")
app.add_typer(kpi_app, name="kpi")
app.add_typer(coverage_app, name="coverage")
app.add_typer(api_app, name="api")
serve_app.command("api")(serve_api)
app.add_typer(mqtt_app, name="mqtt")
app.command("simulate")(simulate)

out = Console()
err = Console(stderr=True)


@db_app.command("up")
def db_up() -> None:
    """Create (first time) and start the database, and apply migrations."""
    from twin import db  # noqa: PLC0415 - keep `twin --help` fast
    from twin.db.engine import describe_url  # noqa: PLC0415

    with err.status("bringing the database up…"):
        url = db.up()
    err.print(Text.assemble(("database ready", "green"), f": {describe_url(url)}"))


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations and create or extend register tables from assets/*.toml."""
    from twin.db.manage import migrate  # noqa: PLC0415

    done = migrate()
    for line in done:
        err.print(line)
    err.print(Text.assemble(("register up to date", "green"), f" ({len(done)} change(s))"))


@db_app.command("down")
def db_down() -> None:
    """Stop the project's own PostgreSQL cluster."""
    from twin import db  # noqa: PLC0415

    db.down()
    err.print("database stopped")


@db_app.command("status")
def db_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show where the database is, whether it runs, and its versions."""
    from twin import db  # noqa: PLC0415

    st = db.status()
    if as_json:
        sys.stdout.write(json.dumps(st.__dict__) + "\n")
        raise typer.Exit(0 if st.running else 3)
    table = Table(show_header=False)
    for key, value in st.__dict__.items():
        table.add_row(key, str(value))
    out.print(table)
    if not st.running:
        raise typer.Exit(3)


@db_app.command("url")
def db_url() -> None:
    """Print the database URL (for psql, SQLAlchemy, QGIS, ogr2ogr)."""
    from twin import db  # noqa: PLC0415

    sys.stdout.write(db.database_url() + "\n")


@db_app.command("backup")
def db_backup(file: Annotated[Path, typer.Argument(help="Backup file to write.")]) -> None:
    """Write the twin schema to FILE (pg_dump custom format)."""
    from twin import db  # noqa: PLC0415

    db.backup(file)
    err.print(Text(f"backup written to {file}"))


@db_app.command("restore")
def db_restore(file: Annotated[Path, typer.Argument(help="Backup file to read.")]) -> None:
    """Replace the twin schema by the backup in FILE (all or nothing)."""
    from twin import db  # noqa: PLC0415

    db.restore(file)
    err.print(Text(f"restored from {file}"))


@load_app.command("maribor")
def load_maribor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Load the real Maribor base layers from gis_data/ (one transaction, idempotent)."""
    from twin.load.maribor import load  # noqa: PLC0415

    report = load(progress=None if as_json else err)
    if as_json:
        sys.stdout.write(json.dumps([r.__dict__ for r in report], ensure_ascii=False) + "\n")
        return
    table = Table(title="twin load maribor")
    for col in ("table", "rows", "inserted", "updated", "deleted"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for r in report:
        table.add_row(r.table, str(r.rows), str(r.inserted), str(r.updated), str(r.deleted))
    out.print(table)


@app.command("synth")
def synth(
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same city.")] = 1,
    scale: Annotated[
        float, typer.Option(help="1 = Maribor; below 1 a thinner city; above 1 tiled copies.")
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    unless_present: Annotated[
        bool,
        typer.Option(
            "--unless-present",
            help="Do nothing when this seed's city is already in the database, unedited.",
        ),
    ] = False,
) -> None:
    """Generate the labelled synthetic city (buildings, streets, lights, population grid, …)."""
    from twin.synth.city import present, synthesize  # noqa: PLC0415

    report = present(seed, scale) if unless_present else None
    if report is not None and not as_json:
        err.print(Text(f"synthetic city of seed {seed} already present, unchanged"))
    report = report or synthesize(seed=seed, scale=scale, progress=None if as_json else err)
    if as_json:
        sys.stdout.write(json.dumps(report.__dict__, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"twin synth --seed {seed} --scale {scale:g} (synthetic)")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in report.counts.items():
        table.add_row(name, str(count))
    out.print(table)
    out.print(Text(f"content hash {report.content_hash}"))
    for name, path in report.rasters.items():
        out.print(Text(f"{name} raster: {path}"))


@serve_app.command("app")
def serve_app_cmd(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8501,
) -> None:
    """Serve the Streamlit app on 127.0.0.1, its files gzip-encoded by the twin's front."""
    # serve.py is app.py behind twin.web.front (compressed, cached page shell and layer files)
    serve_py = Path(__file__).resolve().parent.parent / "serve.py"
    if not serve_py.is_file():
        raise TwinError(f"{serve_py} not found: `twin serve app` runs from a source checkout")
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(serve_py),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        "--server.enableStaticServing", "true",  # the Map page's layer files (static/)
    ]  # fmt: skip
    err.print(f"serving the twin on http://127.0.0.1:{port}")
    raise typer.Exit(subprocess.call(cmd, env=os.environ.copy()))


def main() -> None:
    """Run the CLI; a user mistake ends in one line on stderr, never a traceback."""
    try:
        app()
    except TwinError as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
