"""``twin mqtt up|down|status``, ``twin ingest mqtt`` and ``twin simulate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from twin._cli_sensors import _report, ingest_app

mqtt_app = typer.Typer(help="The twin's MQTT broker (its own mosquitto).", no_args_is_help=True)

out = Console()
err = Console(stderr=True)


@mqtt_app.command("up")
def mqtt_up() -> None:
    """Start the own mosquitto on 127.0.0.1 (idempotent); with TWIN_MQTT_URL, check that one."""
    from twin.mqtt.broker import up  # noqa: PLC0415 - keep `twin --help` fast

    url = up()
    err.print(Text.assemble(("broker ready", "green"), f": {url}"))


@mqtt_app.command("down")
def mqtt_down() -> None:
    """Stop the own mosquitto (its sessions and queued messages are saved)."""
    from twin.config import get_settings  # noqa: PLC0415
    from twin.mqtt.broker import down  # noqa: PLC0415

    if get_settings().mqtt_url:
        err.print("TWIN_MQTT_URL is set: that broker is not the twin's to stop")
        return
    err.print("broker stopped" if down() else "broker was not running")


@mqtt_app.command("status")
def mqtt_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show where the broker is and whether it runs (exit 3 when it does not)."""
    from twin.mqtt.broker import Broker  # noqa: PLC0415

    st = Broker().status()
    if as_json:
        sys.stdout.write(json.dumps(st.__dict__) + "\n")
    else:
        table = Table(show_header=False)
        for key, value in st.__dict__.items():
            table.add_row(key, str(value))
        out.print(table)
    if not st.running:
        raise typer.Exit(3)


@ingest_app.command("mqtt")
def ingest_mqtt(
    batch: Annotated[int, typer.Option(min=1, help="Most messages per transaction.")] = 5000,
    max_wait: Annotated[
        float, typer.Option(min=0.0, help="Seconds a message may wait for its batch to fill.")
    ] = 0.1,
    until_idle: Annotated[
        float | None,
        typer.Option(min=0.0, help="Exit when nothing arrived for S seconds and all is stored."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Store what is queued and buffered, then exit.")
    ] = False,
    client_id: Annotated[
        str | None,
        typer.Option(help="MQTT client id (its persistent session); default TWIN_MQTT_CLIENT_ID."),
    ] = None,
    buffer: Annotated[
        Path | None, typer.Option(help="The durable buffer (SQLite); default under .twin/ingest/.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the final report as JSON.")
    ] = False,
) -> None:
    """Long-running worker: readings from MQTT (twin/sensors/<sensor>/<property>) into PostGIS.

    Buffers every message durably before acknowledging it; keeps receiving while the database
    is down and catches up; malformed messages go to the dead letters. SIGTERM/SIGINT store
    what is buffered and exit.
    """
    from twin.mqtt.worker import Worker  # noqa: PLC0415

    worker = Worker(
        client_id=client_id,
        buffer_path=buffer,
        batch=batch,
        max_wait=max_wait,
        until_idle=1.0 if once and until_idle is None else until_idle,
    )
    _report(worker.run(), as_json)


def simulate(
    sensors: Annotated[
        int | None, typer.Option(min=1, help="How many sensors (drawn by the seed); default all.")
    ] = None,
    rate: Annotated[
        float, typer.Option(min=0.001, help="Messages per second, all together.")
    ] = 50.0,
    duration: Annotated[
        float, typer.Option(min=0.0, help="Seconds to run; 0 runs until interrupted.")
    ] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same readings.")] = 1,
    start: Annotated[
        str | None, typer.Option(help="Simulated time of the first reading (ISO, with zone).")
    ] = None,
    speedup: Annotated[
        float, typer.Option(min=0.001, help="Simulated seconds per real second.")
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Publish realistic readings of the register's synthetic sensors over MQTT (QoS 1)."""
    from twin.register.store import parse_time  # noqa: PLC0415
    from twin.sensors.simulator import simulate as run  # noqa: PLC0415

    report = run(
        sensors=sensors,
        rate=rate,
        duration=duration,
        seed=seed,
        start=parse_time(start) if start else None,
        speedup=speedup,
    )
    if as_json:
        sys.stdout.write(json.dumps(report.__dict__, ensure_ascii=False) + "\n")
        return
    table = Table(show_header=False, title="twin simulate (synthetic readings)")
    for key, value in report.__dict__.items():
        table.add_row(key.replace("_", " "), str(value))
    out.print(table)
