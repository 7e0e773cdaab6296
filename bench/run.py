"""Run every benchmark workload and write ``BENCHMARKS.md`` (``make bench``).

Usage: ``python -m bench.run [WORKLOAD ...] [--repeat N] [--output PATH]``.

Environment: ``TWIN_BENCH_REPEAT`` (timed repetitions per side, default 5),
``TWIN_BENCH_WARMUP`` (untimed runs first, default 1), ``TWIN_BENCH_DATABASE`` (name of
the throwaway database, default ``twin_bench``), and the twin's own ``TWIN_*`` settings
for where the PostgreSQL server is.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import bench
from bench._database import DEFAULT_NAME, throwaway_database
from bench._harness import Context, Result, Workload, discover, log
from bench._report import collect, markdown, table
from twin._errors import TwinError
from twin.config import get_settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPEAT = 5
DEFAULT_WARMUP = 1


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise SystemExit(f"{name}={raw!r}: expected a whole number ≥ {minimum}")
    return value


def _arguments(argv: Sequence[str] | None, names: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="Benchmark the twin against plain tools."
    )
    parser.add_argument(
        "workloads", nargs="*", metavar="WORKLOAD", help=f"modules to run ({', '.join(names)})"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=_env_int("TWIN_BENCH_REPEAT", DEFAULT_REPEAT, 1),
        help="timed repetitions per side (env TWIN_BENCH_REPEAT, default %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "BENCHMARKS.md",
        help="markdown report to (over)write (default %(default)s)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.workloads) - set(names))
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected workloads, print the table and write the report.

    Returns
    -------
    int
        Process exit status.
    """
    workloads = discover(bench)
    names = [w.module.rsplit(".", 1)[-1] for w in workloads]
    args = _arguments(argv, names)
    chosen = [
        w
        for w, n in zip(workloads, names, strict=True)
        if not args.workloads or n in args.workloads
    ]
    warmup = _env_int("TWIN_BENCH_WARMUP", DEFAULT_WARMUP, 0)
    settings = get_settings()
    name = os.environ.get("TWIN_BENCH_DATABASE", "").strip() or DEFAULT_NAME
    done: list[tuple[Workload, list[Result]]] = []
    try:
        with throwaway_database(settings, name, log=log) as database:
            ctx = Context(database, settings.data_dir, args.repeat, warmup)
            ctx.log(f"database {database.described}, {args.repeat} runs + {warmup} warm-up")
            env = collect(database)
            for workload in chosen:
                ctx.log(f"workload {workload.name}")
                done.append((workload, workload.run(ctx)))
    except TwinError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    results = [r for _, rs in done for r in rs]
    print(table(results))
    args.output.write_text(markdown(env, done, args.repeat, warmup), encoding="utf-8")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
