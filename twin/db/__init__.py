"""The twin's database: its own cluster or an external PostGIS, migrations, backups."""

from twin.db.engine import connect, database_url, engine
from twin.db.manage import backup, down, migrate, restore, status, up

__all__ = [
    "backup",
    "connect",
    "database_url",
    "down",
    "engine",
    "migrate",
    "restore",
    "status",
    "up",
]
