"""Time in tests: no test asserts elapsed time; speed is shown by the benchmarks.

A wall-clock bound is a benchmark in disguise and fails on a busy machine. What bounds a call's
time is asserted where it is set (a client's timeouts, a watchdog's window, attempts counted),
never by timing the call (``tests/test_timing.py`` scans the suite for it). ``hang_limit`` only
gives a subprocess its ``timeout=``, so that a hung child fails the test instead of the run.
"""

from __future__ import annotations

from typing import Final

#: How many times its expected duration an operation may take before a test calls it hung.
HANG_FACTOR: Final = 10


def hang_limit(expected_seconds: float) -> float:
    """The elapsed time beyond which an operation expected to take ``expected_seconds`` hangs."""
    return HANG_FACTOR * expected_seconds
