"""Smoke test of ``scripts/bench_adopt.py`` at a toy size (structure only, nothing timed)."""

from __future__ import annotations

from typing import Any

from ledger_store.config import TableSettings
from tests.builders import load_script, raw_table

bench: Any = load_script("bench_adopt")


def test_the_floor_writes_what_adoption_writes(settings: TableSettings) -> None:
    """The floor is only a floor if it does the same work: the same items land in its table
    (every trade, attribution and registry row, by key), in the groups record_many forms."""
    figures, adopted, floor = bench.measure(120, settings.endpoint_url, workers=2)
    assert figures["fills"] == figures["recorded"] == 120
    assert figures["adopt"]["rate"] > 0
    assert figures["floor"]["rate"] > 0
    assert figures["floor"]["requests"] >= 120 // 50

    def keys(table: TableSettings) -> set[tuple[str, str]]:
        return {
            (item["PK"]["S"], item["SK"]["S"])
            for item in raw_table(table)
            if not item["PK"]["S"].startswith(("ALPACA#",))
            and item["SK"]["S"] not in {"ALPACA", "EVENTS"}
        }

    assert keys(adopted) == keys(floor)
    assert len(keys(floor)) > 120
