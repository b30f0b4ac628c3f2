"""No test asserts how fast something ran: a wall-clock bound is a flaky test on a busy machine.

No ``assert`` in the suite may read a clock (``time.monotonic``, ``time.perf_counter``,
``time.time``), directly or through a name assigned from one: what bounds a call's time is
asserted where it is set (timeouts, a watchdog's window, attempts), not measured.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.timing import HANG_FACTOR, hang_limit

TESTS = Path(__file__).resolve().parent
CLOCKS = {"monotonic", "perf_counter", "time", "monotonic_ns", "perf_counter_ns", "time_ns"}


def _reads_a_clock(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in CLOCKS
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == "time"
        for n in ast.walk(node)
    )


def wall_clock_assertions(source: str) -> list[int]:
    """Lines of the asserts in ``source`` that read a clock."""
    tree = ast.parse(source)
    timed: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if _reads_a_clock(node.value):
                timed |= {t.id for t in targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
        if _reads_a_clock(node.test) or names & timed:
            found.append(node.lineno)
    return found


def test_no_test_asserts_a_wall_clock_bound() -> None:
    offenders = {
        str(path.relative_to(TESTS)): lines
        for path in sorted(TESTS.rglob("*.py"))
        if (lines := wall_clock_assertions(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, (
        "assert what bounds the time (timeouts, a watchdog's window, attempts), not the "
        "elapsed time; show speed in a benchmark"
    )


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("import time\nt = time.monotonic()\nassert time.monotonic() - t < 2.0\n", [3]),
        ("import time\nt = time.perf_counter()\ne = time.perf_counter() - t\nassert e < 1\n", [4]),
        ("import time\nassert time.time() > 0\n", [2]),
        ("import time\ne = time.monotonic()\nassert e < hang_limit(2.0)\n", [3]),
        ("x = 1\nassert x < 2\n", []),
    ],
)
def test_the_scan_finds_clock_assertions(source: str, lines: list[int]) -> None:
    assert wall_clock_assertions(source) == lines


def test_a_hang_limit_is_ten_times_what_is_expected() -> None:
    assert HANG_FACTOR == 10
    assert hang_limit(2.5) == 25
