"""Snapshot 1.4: the lookback's history, its deposits and the benchmark are bound at the door."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from ledger_store.errors import IntegrityError
from snapshots.alpaca.models import AlpacaData
from snapshots.schema import AccountSnapshotV14, parse_snapshot_object, snapshot_bytes
from tests.snapshots.test_snapshot_fixture import VERSIONS, record_of


def fixture_raw() -> dict[str, Any]:
    from snapshots.records import snapshot_from_record

    snapshot = snapshot_from_record(record_of(VERSIONS[-1].sha256_item), None)
    assert isinstance(snapshot, AccountSnapshotV14)
    raw: dict[str, Any] = json.loads(snapshot_bytes(snapshot))
    return raw


def test_the_fixture_reads() -> None:
    snapshot = parse_snapshot_object(fixture_raw())
    assert isinstance(snapshot, AccountSnapshotV14)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.update(equity_lookback_days=15), "history_start must be period_start - 15"),
        (lambda r: r.update(equity_lookback_days=-1), "equity_lookback_days"),
        (lambda r: r.update(equity_lookback_days=4000), "equity_lookback_days"),
        (
            lambda r: r["equity_history"].append(
                {**r["equity_history"][-1], "timestamp": "2026-08-03T00:00:00Z"}
            ),
            "equity_history samples outside",
        ),
        (
            lambda r: r["history_cash_flows"][0].update(effective_at="2026-08-03T10:00:00Z"),
            "history_cash_flows outside the history",
        ),
        (
            lambda r: r["history_cash_flows"][0].update(
                account_id="00000000-0000-4000-8000-000000000001"
            ),
            "history_cash_flows of another account",
        ),
        (
            lambda r: r["benchmark"]["closes"].append({"day": "2026-09-01", "close": "1"}),
            "benchmark closes outside",
        ),
        (
            lambda r: r["benchmark"]["closes"][0].update(close="0"),
            "a close must be positive",
        ),
        (
            lambda r: r["benchmark"]["closes"].append(
                {**r["benchmark"]["closes"][0], "close": "2"}
            ),
            "benchmark day",
        ),
    ],
)
def test_a_history_that_breaks_its_bounds_is_refused(edit: Any, message: str) -> None:
    raw = fixture_raw()
    edit(raw)
    with pytest.raises(IntegrityError, match=message):
        parse_snapshot_object(raw)


def test_alpaca_data_needs_history_start_for_a_history() -> None:
    from snapshots.records import snapshot_from_record

    snapshot = snapshot_from_record(record_of(VERSIONS[-1].sha256_item), None)
    assert isinstance(snapshot, AccountSnapshotV14)
    fields = {
        "period_start": snapshot.period_start,
        "period_end": snapshot.period_end,
        "fee_window_start": snapshot.fee_window_start,
        "fee_window_end": snapshot.fee_window_end,
        "account": snapshot.alpaca_account,
        "positions": snapshot.alpaca_positions,
        "orders": snapshot.alpaca_orders,
        "fees": snapshot.alpaca_fees,
        "filled_order_ids": (),
        "equity": snapshot.equity_series,
    }
    with pytest.raises(ValueError, match="needs history_start"):
        AlpacaData(**fields, history=snapshot.equity_history)
    with pytest.raises(ValueError, match="outside \\[history_start, period_start\\)"):
        AlpacaData(
            **fields,
            history_start=snapshot.period_start - timedelta(days=3),
            history=snapshot.equity_history,
        )
