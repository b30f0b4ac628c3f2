"""Bulk recording: many fills at once, each its own idempotent transaction; cheap re-imports.

On moto and DynamoDB Local. The request counts come from ``DynamoMeter`` (what the client
sent and DynamoDB answered), not from the code's own bookkeeping.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import TransactWriteError, VerboseClientError

from ledger_store.config import TableSettings
from ledger_store.digests import digest_sum
from ledger_store.dto import RecordResult, TradeFill
from ledger_store.errors import ConflictError, LedgerValidationError
from ledger_store.metering import DynamoMeter
from ledger_store.storage import CONFLICT_ATTEMPTS, collided, transact
from ledger_store.trades import TradeLedgerRepository
from tests.builders import ACCOUNT, T0, make_fill

ALLOCATIONS = ({"alpha": "1"}, {"alpha": "0.5", "beta": "0.5"}, {"beta": "0.3", "gamma": "0.7"})


def fills(n: int, prefix: str = "bulk") -> list[TradeFill]:
    return [
        make_fill(
            order_id=f"{prefix}-{i:04d}",
            filled_at=T0 + timedelta(seconds=i),
            side="BUY" if i % 3 else "SELL",
            strategy_allocation=ALLOCATIONS[i % len(ALLOCATIONS)],
        )
        for i in range(n)
    ]


def test_record_many_records_every_fill_once(ledger: TradeLedgerRepository) -> None:
    batch = fills(230)
    seen: list[int] = []
    results = ledger.record_many(batch, workers=8, done=lambda i, _r: seen.append(i))
    assert results == [RecordResult(order_id=f.order_id, status="recorded") for f in batch]
    assert sorted(seen) == list(range(len(batch)))
    # The registry counts every attribution once, whatever order the workers took.
    registry = {r.strategy: r for r in ledger.strategies(ACCOUNT)}
    for name in ("alpha", "beta", "gamma"):
        mine = list(ledger.attributions_by_strategy(ACCOUNT, name))
        assert registry[name].trade_count == len(mine)
        assert registry[name].revision == len(mine)
        assert registry[name].entries_digest == digest_sum(mine)
    assert sum(r.trade_count for r in registry.values()) == sum(
        len(f.strategy_allocation) for f in batch
    )


def test_a_re_import_costs_one_batched_read_per_100_fills(
    settings: TableSettings, ledger: TradeLedgerRepository
) -> None:
    batch = fills(250)
    ledger.record_many(batch)
    meter = DynamoMeter.for_settings(settings)
    with meter.measure() as usage:
        results = ledger.record_many(batch)
    assert {r.status for r in results if isinstance(r, RecordResult)} == {"already_recorded"}
    assert len(results) == 250
    # 250 keys: three BatchGetItem requests, nothing written, no other read.
    assert usage.requests == {"BatchGetItem": 3}


def test_changed_and_corrected_fills_in_a_re_import(ledger: TradeLedgerRepository) -> None:
    batch = fills(5)
    ledger.record_many(batch)
    # The file's original content of a fill amended since: already recorded, as by record().
    amended = batch[1].model_copy(update={"fees": batch[1].fees + 1})
    ledger.amend(amended, reason="fee", actor="ops")
    changed = batch[2].model_copy(update={"qty": batch[2].qty + 1})
    new = fills(1, "new")[0]
    results = ledger.record_many([batch[0], batch[1], changed, new, batch[3]])
    assert [r.status if isinstance(r, RecordResult) else type(r) for r in results] == [
        "already_recorded",
        "already_recorded",
        ConflictError,
        "recorded",
        "already_recorded",
    ]
    assert "qty: stored" in str(results[2])


def test_the_same_order_twice_in_one_batch(ledger: TradeLedgerRepository) -> None:
    (fill,) = fills(1)
    results = ledger.record_many([fill, fill, fill], workers=3)
    assert sorted(r.status for r in results if isinstance(r, RecordResult)) == [
        "already_recorded",
        "already_recorded",
        "recorded",
    ]
    assert ledger.strategies(ACCOUNT)[0].trade_count == 1


def test_workers_are_bounded(ledger: TradeLedgerRepository) -> None:
    for workers in (0, 11):
        with pytest.raises(LedgerValidationError, match="workers must be 1 to 10"):
            ledger.record_many(fills(1), workers=workers)


# Collisions with concurrent transactions --------------------------------------------------------


def cancelled(*codes: str) -> TransactWriteError:
    reasons = [{"Code": code} for code in codes]
    response: Any = {
        "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
        "CancellationReasons": reasons,
    }
    cause = VerboseClientError(
        response,
        "TransactWriteItems",
        cancellation_reasons=[None if c == "None" else _reason(c) for c in codes],
    )
    return TransactWriteError("Failed to write transaction items", cause=cause)


def _reason(code: str) -> Any:
    from pynamodb.exceptions import CancellationReason

    return CancellationReason(code=code)


class FlakyConnection:
    """A connection whose first ``failures`` commits collide with another transaction."""

    def __init__(self, failures: int, error: TransactWriteError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {}


def test_a_transaction_that_collided_is_sent_again() -> None:
    connection = FlakyConnection(3, cancelled("None", "TransactionConflict", "None"))
    built = []
    pauses: list[float] = []
    transact(connection, built.append, sleep=pauses.append)  # type: ignore[arg-type]
    assert connection.calls == 4
    assert len(built) == 4  # built afresh each time
    assert len(pauses) == 3
    assert all(0 <= p <= 0.2 for p in pauses)


def test_collisions_are_retried_a_bounded_number_of_times() -> None:
    connection = FlakyConnection(99, cancelled("TransactionConflict"))
    with pytest.raises(TransactWriteError):
        transact(connection, lambda _tx: None, sleep=lambda _s: None)  # type: ignore[arg-type]
    assert connection.calls == CONFLICT_ATTEMPTS


def test_a_failed_condition_is_not_a_collision() -> None:
    assert collided(cancelled("None", "TransactionConflict"))
    assert not collided(cancelled("ConditionalCheckFailed", "TransactionConflict"))
    assert not collided(cancelled("None", "None"))
    connection = FlakyConnection(1, cancelled("ConditionalCheckFailed", "None"))
    with pytest.raises(TransactWriteError):
        transact(connection, lambda _tx: None, sleep=lambda _s: None)  # type: ignore[arg-type]
    assert connection.calls == 1


def test_cancellation_without_reasons_is_not_a_collision() -> None:
    error = TransactWriteError(
        "Failed",
        cause=ClientError({"Error": {"Code": "InternalServerError"}}, "TransactWriteItems"),
    )
    assert not collided(error)


# Grouped transactions --------------------------------------------------------------------------


def test_new_fills_are_written_in_grouped_transactions(
    settings: TableSettings, ledger: TradeLedgerRepository
) -> None:
    """Fewer transactions than fills; each registry row updated once per group."""
    batch = fills(120)
    meter = DynamoMeter.for_settings(settings)
    with meter.measure() as usage:
        results = ledger.record_many(batch, workers=1)
    assert {r.status for r in results if isinstance(r, RecordResult)} == {"recorded"}
    assert usage.requests["BatchGetItem"] == 2
    # 120 fills of 1 or 2 strategies: at most 100 actions a transaction.
    actions = sum(1 + len(f.strategy_allocation) for f in batch) + 3
    assert actions / 100 <= usage.requests["TransactWriteItems"] < 120 / 10


def test_a_group_refused_by_a_trade_recorded_meanwhile_is_recorded_fill_by_fill(
    ledger: TradeLedgerRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = fills(6)
    ledger.record(batch[3])
    # The lookup misses it (recorded after the BatchGetItem, by another writer).
    monkeypatch.setattr(TradeLedgerRepository, "_stored_digests", lambda self, ids: {})
    results = ledger.record_many(batch)
    assert [r.status for r in results if isinstance(r, RecordResult)] == [
        "recorded",
        "recorded",
        "recorded",
        "already_recorded",
        "recorded",
        "recorded",
    ]
    registry = {r.strategy: r for r in ledger.strategies(ACCOUNT)}
    for name, row in registry.items():
        mine = list(ledger.attributions_by_strategy(ACCOUNT, name))
        assert (row.trade_count, row.entries_digest) == (len(mine), digest_sum(mine))


def test_a_group_that_would_overfill_a_strategy_writes_up_to_the_limit(
    settings: TableSettings, ledger: TradeLedgerRepository
) -> None:
    from ledger_store.dto import MAX_FILLS_PER_STRATEGY
    from tests.builders import put_raw

    put_raw(
        settings,
        {
            "PK": {"S": f"ACCOUNT#{ACCOUNT}"},
            "SK": {"S": "STRATEGY#alpha"},
            "EntityType": {"S": "STRATEGY"},
            "account_id": {"S": ACCOUNT},
            "strategy": {"S": "alpha"},
            "trade_count": {"N": str(MAX_FILLS_PER_STRATEGY - 2)},
        },
    )
    batch = [f for f in fills(12) if f.strategy_allocation == {"alpha": 1}]
    assert len(batch) == 4
    results = ledger.record_many(batch)
    assert [type(r).__name__ for r in results] == [
        "RecordResult",
        "RecordResult",
        "LedgerValidationError",
        "LedgerValidationError",
    ]
    assert "already holds 1,000,000,000" in str(results[2])


def test_the_first_line_of_an_order_wins_as_in_a_one_by_one_import(
    ledger: TradeLedgerRepository,
) -> None:
    """A repeated order id waits for its earlier lines: the first is recorded, a later one
    with other content is the conflict — never the other way round, however the pool runs."""
    originals = fills(40, "dup")
    changed = [f.model_copy(update={"qty": f.qty + 1}) for f in originals[0:20:2]]
    batch = [*originals[:20], *changed, *originals[20:], *changed]
    results = ledger.record_many(batch, workers=8)
    statuses = [r.status if isinstance(r, RecordResult) else type(r) for r in results]
    assert statuses[:20] == ["recorded"] * 20
    assert statuses[20:30] == [ConflictError] * 10
    assert statuses[30:50] == ["recorded"] * 20
    assert statuses[50:] == [ConflictError] * 10
    for fill in originals:
        assert ledger.get_trade(fill.order_id).fill == fill
