"""The ingest worker's durable buffer: an append-only SQLite file in WAL mode.

Every message the worker receives is written here, and the commit synced to disk, **before**
the broker gets its acknowledgement; rows leave the buffer only after the database committed
them. So a message is always at the broker (unacknowledged, redelivered to the persistent
session), in this file, or in PostGIS; a crash between two steps repeats a step, and the
observations' key (datastream, phenomenon time) absorbs the repetition.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from twin._errors import SetupError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: ids only grow
    received  REAL NOT NULL,                      -- Unix time the worker received it
    topic     TEXT NOT NULL,
    payload   BLOB NOT NULL
)
"""


class Buffered(NamedTuple):
    """One buffered message."""

    id: int
    received: float
    topic: str
    payload: bytes


class Buffer:
    """One connection to the buffer file (open one per thread).

    Parameters
    ----------
    path
        The SQLite file (created with its directory when missing).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # WAL + FULL: every commit is fsync'd
        self._db.execute(_SCHEMA)

    def append(self, rows: Sequence[tuple[float, str, bytes]]) -> None:
        """Append (received, topic, payload) rows in one synced transaction."""
        if not rows:
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO message (received, topic, payload) VALUES (?, ?, ?)", rows
            )

    def head(self, limit: int) -> list[Buffered]:
        """Return the oldest ``limit`` messages, oldest first."""
        cursor = self._db.execute(
            "SELECT id, received, topic, payload FROM message ORDER BY id LIMIT ?", (limit,)
        )
        return [Buffered(*row) for row in cursor.fetchall()]

    def oldest(self) -> float | None:
        """Return when the oldest buffered message was received (None when empty)."""
        row = self._db.execute("SELECT received FROM message ORDER BY id LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def remove(self, last_id: int) -> None:
        """Remove the messages up to and including ``last_id`` (stored in the database)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM message WHERE id <= ?", (last_id,))

    def count(self) -> int:
        """Return how many messages are buffered."""
        row = self._db.execute("SELECT count(*) FROM message").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close this connection."""
        self._db.close()


class BufferLock:
    """An exclusive lock on a buffer: one worker per buffer (per client id).

    Raises
    ------
    SetupError
        When another worker holds the lock.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path.with_name(path.name + ".lock")
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            raise SetupError(
                f"another MQTT ingest worker (pid {holder}) uses the buffer {path}; stop it, or "
                "give this one its own --client-id"
            ) from exc
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        """Release the lock."""
        os.close(self._fd)
