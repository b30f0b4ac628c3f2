"""Time in tests: a bound on elapsed time only ever catches a hang, never measures speed.

A test that asserts a small wall-clock bound is a benchmark in disguise and fails on a busy
machine; speed is shown by the benchmarks (``scripts/bench_*.py``). Where a test must not hang,
it bounds the elapsed time by ``hang_limit(expected)``: ``HANG_FACTOR`` times what the operation
is expected to take by its own timeouts. ``tests/test_timing.py`` keeps every other wall-clock
assertion out of the suite.
"""

from __future__ import annotations

from typing import Final

#: How many times its expected duration an operation may take before a test calls it hung.
HANG_FACTOR: Final = 10


def hang_limit(expected_seconds: float) -> float:
    """The elapsed time beyond which an operation expected to take ``expected_seconds`` hangs."""
    return HANG_FACTOR * expected_seconds
