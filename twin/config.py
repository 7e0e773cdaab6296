"""Settings of twin, read from ``TWIN_*`` environment variables."""

from __future__ import annotations

import hashlib
import os
import stat
from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from twin._errors import ConfigError


def _project_root() -> Path:
    """Return the source checkout holding this package, else the working directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file() and (here / "gis_data").is_dir():
        return here
    return Path.cwd()


def _default_cluster_dir() -> Path:
    """Return where the own cluster lives by default.

    That is ``<project>/.twin``, or a directory under /var/lib/twin when root runs twin from
    a private directory (e.g. /root/twin) that the ``postgres`` user cannot enter.
    """
    root = _project_root()
    if os.geteuid() == 0 and any(
        not (p.stat().st_mode & stat.S_IXOTH) for p in (root, *root.parents) if p.exists()
    ):
        digest = hashlib.sha1(str(root).encode(), usedforsecurity=False).hexdigest()[:12]
        return Path("/var/lib/twin") / digest
    return root / ".twin"


class Settings(BaseSettings):
    """Where the database lives and where the shipped data is.

    Every field can be set by an environment variable with the prefix ``TWIN_``,
    e.g. ``TWIN_DATABASE_URL=postgresql://user:pw@host:5432/db``.
    """

    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="An existing PostGIS to use instead of the project's own cluster.",
    )
    cluster_dir: Path = Field(
        default_factory=_default_cluster_dir,
        description="Directory of the project's own PostgreSQL cluster.",
    )
    port: int = Field(default=54329, ge=1024, le=65535, description="Port of the own cluster.")
    database: str = Field(default="twin", description="Database name in the own cluster.")
    data_dir: Path = Field(
        default_factory=lambda: _project_root() / "gis_data",
        description="Directory with the shipped Maribor data.",
    )
    layers_dir: Path = Field(
        default_factory=lambda: _project_root() / "layers",
        description="Directory of the map-layer catalog (one TOML per layer).",
    )
    assets_dir: Path = Field(
        default_factory=lambda: _project_root() / "assets",
        description="Directory of the asset-class catalog (one TOML per class).",
    )
    pg_version: int = Field(default=15, description="PostgreSQL major version of the own cluster.")
    mqtt_url: str | None = Field(
        default=None,
        description="An existing MQTT broker (mqtt://[user:password@]host:port) to use instead "
        "of the project's own mosquitto.",
    )
    mqtt_port: int = Field(
        default=18830, ge=1024, le=65535, description="Port of the own mosquitto on 127.0.0.1."
    )
    mqtt_client_id: str = Field(
        default="twin-ingest",
        min_length=1,
        description="Client id of the MQTT ingest worker (its persistent session at the broker).",
    )
    mqtt_topic_prefix: str = Field(
        default="twin/sensors",
        pattern=r"^[^#+]+[^/#+]$",
        description="Topics of the readings: <prefix>/<sensor>/<property>.",
    )


@cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once from the environment).

    Raises
    ------
    ConfigError
        When a ``TWIN_*`` variable has a value of the wrong kind, naming the variable.
    """
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = "TWIN_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"{variable}: {first['msg']} (got {first['input']!r})") from exc
