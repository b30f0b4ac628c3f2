"""A large, fully populated snapshot survives the store unchanged, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger_store.config import TableSettings
from ledger_store.errors import IntegrityError
from ledger_store.snapshot_store import AccountSnapshotRepository
from snapshots.records import snapshot_from_record, snapshot_record
from snapshots.schema import AccountSnapshot, body_bytes, seal
from tests.builders import (
    PERIOD_START,
    alpaca_account,
    alpaca_data,
    alpaca_order,
    alpaca_position,
    alpaca_uuid,
    equity_point,
    fee_activity,
)

ORDER_COUNT = 2_500
NOW = datetime(2024, 3, 3, 0, 5, tzinfo=UTC)


def big_snapshot() -> AccountSnapshot:
    from tests.builders import snapshot_body

    orders = tuple(
        alpaca_order(
            n,
            symbol=("AAPL", "MSFT", "NVDA", "SPY")[n % 4],
            side="buy" if n % 3 else "sell",
            qty=str(1 + n % 50),
            filled_qty=str(1 + n % 50),
            filled_avg_price=f"{100 + n % 97}.{n % 100:02d}",
            submitted_at=PERIOD_START + timedelta(seconds=3 * n, microseconds=n),
            created_at=PERIOD_START + timedelta(seconds=3 * n, microseconds=n),
            updated_at=PERIOD_START + timedelta(seconds=3 * n + 1),
            filled_at=PERIOD_START + timedelta(seconds=3 * n + 1),
        )
        for n in range(1, ORDER_COUNT + 1)
    )
    positions = (
        alpaca_position("AAPL"),
        alpaca_position("MSFT", qty="-12.5", side="short", market_value="-5000.5"),
        alpaca_position("ZERO", qty="0", qty_available="0", market_value="0", unrealized_pl="0"),
    )
    data = alpaca_data(
        account=alpaca_account(cash="-2500.75", equity="1500.2", short_market_value="-5000.5"),
        positions=positions,
        orders=orders,
        fees=tuple(fee_activity(n) for n in range(1, 40)),
        filled_order_ids=tuple(alpaca_uuid(n) for n in range(1, 30)),
        equity=tuple(equity_point(h, profit_loss="0") for h in range(0, 24, 2)),
    )
    body = snapshot_body(
        alpaca_account=data.account,
        alpaca_positions=data.positions,
        alpaca_orders=data.orders,
        alpaca_fees=data.fees,
        equity_series=data.equity,
    )
    return seal(body, b"round-trip-key")


@pytest.fixture(scope="module")
def snapshot() -> AccountSnapshot:
    return big_snapshot()


def test_thousands_of_orders_round_trip_unchanged(
    settings: TableSettings, snapshot: AccountSnapshot
) -> None:
    store = AccountSnapshotRepository(settings, hmac_key=b"round-trip-key", clock=lambda: NOW)
    assert len(snapshot.alpaca_orders) == ORDER_COUNT
    assert snapshot.alpaca_account.cash < 0

    result = store.put(snapshot_record(snapshot))
    assert result.status == "created"
    canonical = body_bytes(snapshot)
    assert len(canonical) > 2_000_000  # far above one item's 400 KB before compression
    assert result.snapshot.compressed_size < len(canonical) // 5

    for stored in (
        store.get(snapshot.account_id, snapshot.period_end),
        store.latest(snapshot.account_id),
    ):
        read = snapshot_from_record(stored.record, b"round-trip-key")
        assert read == snapshot
        assert body_bytes(read) == canonical
    assert store.put(snapshot_record(snapshot)).status == "unchanged"


def test_a_record_whose_metadata_disagrees_with_its_body_is_rejected(
    snapshot: AccountSnapshot,
) -> None:
    record = snapshot_record(snapshot)
    moved = record.model_copy(update={"period_start": record.period_start - timedelta(days=1)})
    with pytest.raises(IntegrityError, match="period_start disagree"):
        snapshot_from_record(moved, b"round-trip-key")
    with pytest.raises(IntegrityError, match="failed verification"):
        snapshot_from_record(record, b"another-key")
