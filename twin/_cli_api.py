"""``twin api token …`` and ``twin serve api``: the HTTP API from the command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

api_app = typer.Typer(help="The HTTP API (twin serve api): its tokens.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens of the ingest endpoints.", no_args_is_help=True)
api_app.add_typer(token_app, name="token")

out = Console()
err = Console(stderr=True)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Who uses it, e.g. the gateway's name.")],
) -> None:
    """Create a token and print it on stdout (once: only its hash is stored)."""
    from twin import api_tokens  # noqa: PLC0415 - keep `twin --help` fast

    token = api_tokens.create(name)
    sys.stdout.write(token + "\n")
    shown = "it is shown only now: send it as 'Authorization: Bearer <token>'"
    err.print(Text(f"token {name!r} created; {shown}"))


@token_app.command("list")
def token_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """List the tokens: name, created, last used, revoked (never the tokens)."""
    from twin import api_tokens  # noqa: PLC0415

    tokens = api_tokens.list_tokens()
    if as_json:
        rows = [
            {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in t.__dict__.items()}
            for t in tokens
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("name", "created", "by", "last used", "state")
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        table.add_row(Text(t.name), f"{t.created_at:%Y-%m-%d %H:%M}", t.created_by, used, state)
    out.print(table)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: requests with it are refused from now on."""
    from twin import api_tokens  # noqa: PLC0415

    was_live = api_tokens.revoke(name)
    err.print(Text(f"token {name!r} " + ("revoked" if was_live else "was already revoked")))


def serve_api(
    port: Annotated[
        int | None, typer.Option(help="Port on 127.0.0.1 (default TWIN_API_PORT or 8502).")
    ] = None,
) -> None:
    """Serve the HTTP API (ingest, sensor layers) on 127.0.0.1."""
    from twin.api import HOST, ApiSettings, serve  # noqa: PLC0415
    from twin.db.engine import connect  # noqa: PLC0415

    with connect():  # a database that is down or missing is one line here, not a 503 later
        pass
    port = port or ApiSettings().port
    err.print(f"serving the twin API on http://{HOST}:{port} (OpenAPI at /openapi.json)")
    serve(port)
