"""A snapshot with another account's Alpaca keys writes nothing (issue 20): the job binds the
ledger account to the Alpaca account its keys read before it records a single event, and
``events sync`` does the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger_store.accounts import AccountBindingRepository
from ledger_store.config import TableSettings
from ledger_store.errors import AccountMismatchError
from ledger_store.events import CashFlow
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.builder import take_snapshot
from snapshots.demo.history import generate_history
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import running_fake_alpaca
from tests.builders import raw_table, record_all
from tests.snapshots.alpaca.test_history_and_benchmark import source

ACCOUNT_A = "a7d5c3b1-0e2f-4a6b-8c9d-1e2f3a4b5c6d"
ACCOUNT_B = "b8e6d4c2-1f3a-4b7c-9d0e-2f3a4b5c6d7e"
START = datetime(2026, 8, 3, tzinfo=UTC)


def _cycles(account_id: str) -> list[TradingCycle]:
    """Three days of fills of their own (their order ids differ from the other account's)."""
    return generate_history(days=3, account_id=account_id, seed=1 if account_id == ACCOUNT_A else 2)


def _account(account_id: str) -> FakeAccount:
    """An Alpaca account with three days of fills and a deposit (an event to record)."""
    cycles = _cycles(account_id)
    deposit = CashFlow(
        event_id=f"deposit-{account_id[:8]}",
        account_id=account_id,
        effective_at=START + timedelta(hours=13),
        amount=5000,
        source="CSD",
    )
    return FakeAccount.from_history(cycles, events=[deposit], include_unfilled=False)


def _snapshot(
    settings: TableSettings, account_id: str, alpaca_account: FakeAccount, *, days: int = 4
) -> object:
    with running_fake_alpaca(alpaca_account) as fake, source(fake) as alpaca:
        return take_snapshot(
            account_id=account_id,
            period_start=START,
            period_end=START + timedelta(days=days),
            correlation_id="cycle",
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            store=AccountSnapshotRepository(settings),
            hmac_key=None,
        )


@pytest.mark.parametrize("b_bound", [False, True], ids=["b-never-bound", "b-bound-to-its-own"])
def test_a_snapshot_with_another_accounts_keys_writes_nothing(
    settings: TableSettings, b_bound: bool
) -> None:
    """B's snapshot taken with A's keys is refused before any write, whether B was bound
    before (to its own Alpaca account) or never: A's Alpaca account belongs to A."""
    alpaca_a, alpaca_b = _account(ACCOUNT_A), _account(ACCOUNT_B)
    for account_id in (ACCOUNT_A, ACCOUNT_B):
        cycles = _cycles(account_id)
        record_all(TradeLedgerRepository(settings), (f for c in cycles for f in c.fills))
    _snapshot(settings, ACCOUNT_A, alpaca_a)
    if b_bound:
        _snapshot(settings, ACCOUNT_B, alpaca_b)
    before = raw_table(settings)
    with pytest.raises(AccountMismatchError, match=ACCOUNT_A) as caught:
        _snapshot(settings, ACCOUNT_B, alpaca_a, days=5)  # a period not yet stored for B
    assert caught.value.account_id == ACCOUNT_B
    assert raw_table(settings) == before  # no event, no snapshot, no binding: nothing
    assert AccountBindingRepository(settings).get(ACCOUNT_A).alpaca_account_id == ACCOUNT_A
