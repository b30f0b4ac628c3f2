"""The registry and the event counter hold the digest of what is there now, after any write.

``ledger_store.digests``: every record, void and amend adds and subtracts entry digests in the
same transaction as the entries, so a strategy's registry row always equals the digest sum of
the attributions the strategy index serves, and the account's event counter that of its active
events. The incremental snapshot relies on it to detect late and corrected entries.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ledger_store.config import TableSettings
from ledger_store.digests import DIGEST_MODULUS, digest_sum, digest_text, entry_digest
from ledger_store.events import AccountEventRepository, CashFlow, Dividend
from ledger_store.trades import TradeLedgerRepository
from snapshots.demo.history import seed_ledger, synthetic_account_id, synthetic_history
from tests.builders import ACCOUNT, make_fill


def assert_registry_holds_the_digests(ledger: TradeLedgerRepository, account_id: str) -> None:
    rows = ledger.strategies(account_id)
    assert rows
    for row in rows:
        served = list(ledger.attributions_by_strategy(account_id, row.strategy))
        assert row.entries_digest == digest_sum(served), row.strategy
        assert row.trade_count == len(served)


def test_records_voids_and_amends_keep_the_registry_digest_exact(settings: TableSettings) -> None:
    ledger = TradeLedgerRepository(settings)
    both = {"alpha": "0.6", "beta": "0.4"}
    for n in range(4):
        ledger.record(make_fill(order_id=f"o-{n}", qty=str(10 + n), strategy_allocation=both))
    assert_registry_holds_the_digests(ledger, ACCOUNT)
    ledger.void("o-1", reason="bust", actor="ops")
    assert_registry_holds_the_digests(ledger, ACCOUNT)
    # An amend that keeps alpha, drops beta and adds gamma, with a new price and time.
    ledger.amend(
        make_fill(
            order_id="o-2",
            price="190.5",
            filled_at=datetime(2024, 3, 1, 9, tzinfo=UTC),
            strategy_allocation={"alpha": "0.5", "gamma": "0.5"},
        ),
        reason="wrong split",
        actor="ops",
    )
    assert_registry_holds_the_digests(ledger, ACCOUNT)
    # A re-record of what is there changes nothing.
    assert ledger.record(make_fill(order_id="o-0", qty="10", strategy_allocation=both)).status == (
        "already_recorded"
    )
    assert_registry_holds_the_digests(ledger, ACCOUNT)


def test_the_event_counter_holds_the_digest_of_the_active_events(settings: TableSettings) -> None:
    events = AccountEventRepository(settings)
    t0 = datetime(2026, 8, 3, 13, tzinfo=UTC)
    recorded = [
        CashFlow(event_id="dep", account_id=ACCOUNT, effective_at=t0, amount=Decimal(1000)),
        Dividend(
            event_id="div",
            account_id=ACCOUNT,
            effective_at=t0 + timedelta(days=1),
            symbol="T",
            amount=Decimal("1.02"),
        ),
    ]
    for event in recorded:
        events.record(event)
    assert events.event_totals(ACCOUNT).events_digest == digest_sum(recorded)
    events.void(ACCOUNT, "div", reason="reversed", actor="ops")
    totals = events.event_totals(ACCOUNT)
    assert (totals.event_count, totals.events_digest) == (3, entry_digest(recorded[0]))
    assert AccountEventRepository(settings).event_totals("nobody").events_digest == 0


def test_seeded_ledgers_carry_the_same_digests(settings: TableSettings) -> None:
    account_id = synthetic_account_id("digests")
    cycles = synthetic_history(
        60, fills_per_day=20, last_day=date(2026, 8, 7), account_id=account_id
    )
    seed_ledger(settings, [f for c in cycles for f in c.fills])
    assert_registry_holds_the_digests(TradeLedgerRepository(settings), account_id)


def test_digest_text_is_the_sum_modulo_two_to_the_128() -> None:
    assert digest_text(0) == "0" * 32
    assert digest_text(-1) == "f" * 32
    assert digest_text(DIGEST_MODULUS + 5) == digest_text(5) == "0" * 31 + "5"
    a = make_fill(order_id="x").attributions()[0]
    assert 0 < entry_digest(a) < 2**96
    assert entry_digest(a) == entry_digest(a.model_copy())
    assert entry_digest(a) != entry_digest(a.model_copy(update={"qty": a.qty + 1}))
