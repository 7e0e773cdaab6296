"""Machine, versions and the results table, for stdout and ``BENCHMARKS.md``."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pyogrio

from bench._harness import BenchDatabase, Result, Workload
from twin.db.manage import server_versions

_PACKAGES = ("geopandas", "pandas", "shapely", "pyogrio", "pyproj", "psycopg", "sqlalchemy",
             "paho-mqtt")  # fmt: skip


@dataclass(frozen=True)
class Environment:
    """Where and with what the benchmark ran."""

    date: str
    machine: dict[str, str]
    versions: dict[str, str]


def _cpuinfo_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"model name", "Model", "cpu model"}:
            return value.strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        text = Path("/proc/meminfo").read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return f"{kib / 1024**2:.1f} GiB"
    return "unknown"


def _os_name() -> str:
    try:
        info = platform.freedesktop_os_release()
    except OSError:
        name = platform.system()
    else:
        name = info.get("PRETTY_NAME", platform.system())
    return f"{name}, kernel {platform.release()}"


def _ogr2ogr_version() -> str:
    tool = shutil.which("ogr2ogr")
    if tool is None:
        return "not installed"
    done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or done.stderr.strip() or "unknown"


def _mosquitto_version() -> str:
    from twin.mqtt.broker import Broker  # noqa: PLC0415 - only the report needs it

    tool = Broker.binary()
    if tool is None:
        return "not installed"
    done = subprocess.run([tool, "-h"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].removeprefix("mosquitto version ").strip() if first else "unknown"


def collect(database: BenchDatabase) -> Environment:
    """Describe the machine and the software versions (server side from ``database``)."""
    machine = {
        "CPU": _cpuinfo_model(),
        "logical cores": str(os.cpu_count() or "unknown"),
        "RAM": _memory(),
        "OS": _os_name(),
    }
    with database.connect() as conn:
        server = server_versions(conn)
    versions = {"Python": platform.python_version(), **server}
    versions["GDAL (pyogrio)"] = pyogrio.__gdal_version_string__
    versions["GDAL (ogr2ogr)"] = _ogr2ogr_version()
    versions["mosquitto"] = _mosquitto_version()
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return Environment(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), machine=machine, versions=versions
    )


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(results: Sequence[Result]) -> str:
    """Return the results as a markdown table (median, with the fastest run in brackets)."""
    lines = [
        "| workload | ours median (s) | baseline | baseline median (s) | ratio ours/baseline "
        "| ours peak RSS (MiB) | notes |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        ours = f"{_seconds(r.ours.median)} (min {_seconds(r.ours.min)})"
        if r.baseline_timing is None:
            base = "—"
        else:
            base = f"{_seconds(r.baseline_timing.median)} (min {_seconds(r.baseline_timing.min)})"
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
        peak = "—" if r.peak_rss_mib is None else f"{r.peak_rss_mib:.0f}"
        cells = [r.workload, ours, r.baseline, base, ratio, peak, r.notes]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _runs(results: Sequence[Result]) -> str:
    lines = ["| workload | side | runs (s) |", "|---|---|---|"]
    for r in results:
        sides = [("ours", r.ours), ("baseline", r.baseline_timing)]
        for side, timing in sides:
            if timing is not None:
                runs = ", ".join(_seconds(s) for s in timing.seconds)
                lines.append(f"| {_cell(r.workload)} | {side} | {runs} |")
    return "\n".join(lines)


def markdown(
    env: Environment,
    workloads: Sequence[tuple[Workload, Sequence[Result]]],
    repeat: int,
    warmup: int,
) -> str:
    """Return the whole ``BENCHMARKS.md`` document."""
    results = [r for _, rs in workloads for r in rs]
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.run`); overwritten on every run. "
        "Each side runs in a throwaway database created for the run and dropped afterwards; "
        "the user's database is not touched.",
        "",
        f"- date: {env.date}",
        f"- repetitions: {repeat} timed per side (`TWIN_BENCH_REPEAT`), after {warmup} untimed "
        "warm-up run(s); figures are wall-clock seconds, median with the fastest run in brackets",
        "- ratio: ours median / baseline median (below 1 means ours is faster)",
        "- ours peak RSS: the largest peak resident set size of ours over the timed runs, where "
        "ours runs as a process of its own (`ru_maxrss` of that child); the database server's "
        "memory is not included",
        "",
        "## Machine",
        "",
        *(f"- {k}: {v}" for k, v in env.machine.items()),
        "",
        "## Versions",
        "",
        *(f"- {k}: {v}" for k, v in env.versions.items()),
        "",
        "## Results",
        "",
        table(results),
        "",
        "## What is measured",
        "",
    ]
    for workload, _ in workloads:
        parts += [f"**{workload.name}** (`{workload.module}`): {workload.measures}", ""]
    parts += ["## Every run", "", _runs(results), ""]
    return "\n".join(parts)
