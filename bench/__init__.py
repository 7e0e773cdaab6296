"""Benchmarks of the twin against a plain-tool baseline (``make bench``).

Every public module of this package (a name without a leading underscore, other than
``run``) is one **workload**. A workload module provides:

``NAME``
    Short name shown in the table, e.g. ``"load maribor"``.
``MEASURES``
    One or two sentences on what is timed, for ours and for the baseline.
``run(ctx: bench.Context) -> list[bench.Result]``
    Time the twin's way and the baseline ``ctx.repeat`` times each in the throwaway
    database ``ctx.database`` and return one :class:`Result` per row of the table.

Adding a workload is adding such a module; :mod:`bench.run` discovers it, runs it and
writes every result to ``BENCHMARKS.md``.
"""

from bench._harness import BenchDatabase, Context, Result, Timing, measure

__all__ = ["BenchDatabase", "Context", "Result", "Timing", "measure"]
