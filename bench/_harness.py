"""The common interface of workloads: context in, timed results out."""

from __future__ import annotations

import importlib
import os
import pkgutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg

from twin.db.engine import connect, describe_url
from twin.db.manage import migrate

T = TypeVar("T")

#: Module names inside ``bench`` that are not workloads.
_NOT_WORKLOADS = {"run"}


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs of one side of a workload.

    Parameters
    ----------
    seconds
        One entry per timed repetition (warm-up runs excluded).
    """

    seconds: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.seconds:
            raise ValueError("a Timing needs at least one measured run")

    @property
    def median(self) -> float:
        """Median of the runs."""
        return statistics.median(self.seconds)

    @property
    def min(self) -> float:
        """Fastest run."""
        return min(self.seconds)

    @property
    def max(self) -> float:
        """Slowest run."""
        return max(self.seconds)


@dataclass(frozen=True)
class Result:
    """One row of the benchmark table.

    Parameters
    ----------
    workload
        Row label, e.g. ``"load maribor: fresh"``.
    ours
        Timings of the twin's way.
    baseline
        What the baseline is (a command line or a short description); ``"—"`` when none.
    baseline_timing
        Timings of the baseline; None when the row has no baseline.
    notes
        What each side really does, sanity figures (row counts), caveats.
    peak_rss_mib
        Largest peak resident set size of ours over the timed runs, in MiB, when ours ran
        in a process of its own; None when not measured.
    """

    workload: str
    ours: Timing
    baseline: str = "—"
    baseline_timing: Timing | None = None
    notes: str = ""
    peak_rss_mib: float | None = None

    @property
    def ratio(self) -> float | None:
        """Median of ours divided by the median of the baseline (None without a baseline)."""
        if self.baseline_timing is None:
            return None
        return self.ours.median / self.baseline_timing.median


@dataclass(frozen=True)
class BenchDatabase:
    """The throwaway database a benchmark run owns (created and dropped by :mod:`bench.run`).

    Parameters
    ----------
    url
        libpq URL including the password; never print it, use :attr:`described`.
    name
        Database name.
    """

    url: str = field(repr=False)
    name: str

    @property
    def described(self) -> str:
        """The URL with its password masked, for messages and reports."""
        return describe_url(self.url)

    @property
    def conninfo(self) -> str:
        """libpq keyword/value connection string **without** the password (see :attr:`env`)."""
        parts = urlsplit(self.url)
        pairs: dict[str, str] = {"dbname": self.name}
        if parts.hostname:
            pairs["host"] = parts.hostname
        if parts.port:
            pairs["port"] = str(parts.port)
        if parts.username:
            pairs["user"] = unquote(parts.username)
        pairs.update((k, v) for k, v in parse_qsl(parts.query) if k != "password")
        return " ".join(f"{key}={_conninfo_value(value)}" for key, value in pairs.items())

    @property
    def env(self) -> dict[str, str]:
        """Environment for client tools: the current one plus ``PGPASSWORD``."""
        env = dict(os.environ)
        password = urlsplit(self.url).password
        if password:
            env["PGPASSWORD"] = unquote(password)
        return env

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """Open an autocommit connection to the throwaway database."""
        with connect(self.url, autocommit=True) as conn:
            yield conn

    def reset_twin(self) -> None:
        """Drop the ``twin`` and ``register`` schemas and migrate again, as after ``twin db up``.

        Both go: Alembic keeps its version table in ``twin``, so the migrations run from the
        first revision again, and revision 0003 creates the ``register`` schema.
        """
        with self.connect() as conn:
            conn.execute("DROP SCHEMA IF EXISTS twin, register CASCADE")
        migrate(self.url)


def _conninfo_value(value: str) -> str:
    """Quote a conninfo value the way libpq reads it."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


@dataclass(frozen=True)
class Context:
    """What a workload gets: the throwaway database, the data, the repetition counts.

    Parameters
    ----------
    database
        The throwaway database (never the user's).
    data_dir
        Directory with the shipped files.
    repeat
        Timed repetitions per measured side.
    warmup
        Untimed runs before the timed ones (imports, caches, first connection).
    """

    database: BenchDatabase
    data_dir: Path
    repeat: int
    warmup: int = 1

    def log(self, message: str) -> None:
        """Print a progress line on stderr (stdout is kept for the table)."""
        log(message)


def log(message: str) -> None:
    """Print a progress line on stderr (stdout is kept for the table)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def measure(action: Callable[[], T]) -> tuple[float, T]:
    """Run ``action()`` once; return its wall-clock seconds and its result."""
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


@dataclass(frozen=True)
class Workload:
    """A workload module seen through its common interface.

    Parameters
    ----------
    name
        The module's ``NAME``.
    measures
        The module's ``MEASURES``.
    run
        The module's ``run(ctx)``.
    module
        Dotted module name.
    """

    name: str
    measures: str
    run: Callable[[Context], list[Result]]
    module: str

    @classmethod
    def from_module(cls, module: ModuleType) -> Workload:
        """Wrap a workload module, checking it has ``NAME``, ``MEASURES`` and ``run``."""
        missing = [a for a in ("NAME", "MEASURES", "run") if not hasattr(module, a)]
        if missing:
            raise TypeError(f"{module.__name__} is not a workload: missing {', '.join(missing)}")
        return cls(str(module.NAME), str(module.MEASURES), module.run, module.__name__)


def discover(package: ModuleType) -> list[Workload]:
    """Return every workload module of ``package``, sorted by module name."""
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_") and info.name not in _NOT_WORKLOADS
    )
    return [
        Workload.from_module(importlib.import_module(f"{package.__name__}.{name}"))
        for name in names
    ]
