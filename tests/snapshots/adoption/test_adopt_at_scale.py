"""The issue's acceptance at its size: an account with 5,000 fills (orders filled in pieces,
strategies named by client_order_id prefix, a split and a dividend in the range) is adopted in
one call and passes every check; a re-run records nothing; a copy that lost 20 fills, holds 5
wrong quantities and 2 fills Alpaca never made is reconciled to the same figures."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import Side, TradeFill
from ledger_store.events import AccountEventRepository, Dividend, Split
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.adoption.adopt import Adoption, adopt_account, fill_of
from snapshots.adoption.reconcile import reconcile_account
from snapshots.alpaca.fills import done_orders
from snapshots.demo.history import DEMO_ACCOUNT_ID, WIDE_UNIVERSE, all_fills, synthetic_history
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import (
    FakeAlpaca,
    running_fake_alpaca,
)
from snapshots.ledger.rules import parse_rules
from tests.snapshots.adoption.test_adopt import source
from tests.snapshots.adoption.test_reconcile import without_corrections

TRADES = 5_000
CYCLES = synthetic_history(
    TRADES, fills_per_day=20, last_day=date(2026, 10, 30), account_id=DEMO_ACCOUNT_ID
)
FILLS = all_fills(CYCLES)
START = datetime.combine(CYCLES[0].start.date(), datetime.min.time(), UTC)
END = datetime.combine(CYCLES[-1].end.date() + timedelta(days=1), datetime.min.time(), UTC)


def tag(allocation: dict[str, Decimal]) -> str:
    return "+".join(sorted(allocation)) + "-"


#: One rule per allocation the bots used, by the prefix they gave their orders.
ALLOCATIONS = {
    tag(a): a
    for _, _, raw in WIDE_UNIVERSE.values()
    for a in [{name: Decimal(weight) for name, weight in raw.items()}]
}
RULES = parse_rules(
    "\n".join(
        f'[[rule]]\nclient_order_id_prefix = "{prefix}"\nallocation = {{ '
        + ", ".join(f'{name} = "{weight}"' for name, weight in allocation.items())
        + " }\n"
        for prefix, allocation in sorted(ALLOCATIONS.items())
    )
)


def held_before(symbol: str, moment: datetime) -> Decimal:
    return sum(
        (
            f.qty if f.side is Side.BUY else -f.qty
            for f in FILLS
            if f.symbol == symbol and f.filled_at < moment
        ),
        Decimal(0),
    )


def corporate_actions() -> list[Split | Dividend]:
    """A 2-for-1 split of AAPL and a dividend on MSFT, before the open of two days."""
    split_at = datetime.combine(CYCLES[100].start.date(), datetime.min.time(), UTC) + timedelta(
        hours=8
    )
    dividend_at = datetime.combine(CYCLES[180].start.date(), datetime.min.time(), UTC) + timedelta(
        hours=12
    )
    held = held_before("MSFT", dividend_at)
    assert held_before("AAPL", split_at) > 0
    assert held > 0
    return [
        Split(
            event_id=f"{split_at:%Y%m%d}080000000::scale-split",
            account_id=DEMO_ACCOUNT_ID,
            effective_at=split_at,
            symbol="AAPL",
            ratio_new=Decimal(2),
            ratio_old=Decimal(1),
            description="AAPL 2-for-1 split",
        ),
        Dividend(
            event_id=f"{dividend_at:%Y%m%d}120000000::scale-dividend",
            account_id=DEMO_ACCOUNT_ID,
            effective_at=dividend_at,
            symbol="MSFT",
            amount=held * Decimal("0.83"),
            per_share_amount=Decimal("0.83"),
            qty=held,
            source="DIV",
            description="Cash dividend MSFT",
        ),
    ]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAlpaca]:
    account = FakeAccount.from_history(
        CYCLES,
        events=corporate_actions(),
        client_order_id=lambda fill: f"{tag(fill.strategy_allocation)}{fill.order_id[:8]}",
    )
    with running_fake_alpaca(account) as server:
        yield server


def adopt(settings: TableSettings, fake: FakeAlpaca, **options: Any) -> Adoption:
    with source(fake) as alpaca:
        return adopt_account(
            account_id=DEMO_ACCOUNT_ID,
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            events=AccountEventRepository(settings),
            store=AccountSnapshotRepository(settings),
            rules=RULES,
            period_start=START,
            **options,
        )


def test_5000_fills_adopted_checked_re_run_and_a_broken_copy_reconciled(
    settings: TableSettings, other: TableSettings, fake: FakeAlpaca
) -> None:
    began = time.perf_counter()
    adoption = adopt(settings, fake)
    seconds = time.perf_counter() - began
    print(f"\nadopted {adoption.fills} fills ({adoption.executions} executions) in {seconds:.1f} s")
    assert adoption.fills == TRADES
    assert len(adoption.recorded) == TRADES
    assert adoption.executions > TRADES  # orders filled in pieces
    assert sum(adoption.by_rule.values()) == TRADES
    assert adoption.by_rule["default (unattributed)"] == 0
    ledger = TradeLedgerRepository(settings)
    for fill in FILLS[::250]:
        assert ledger.get_trade(fill.order_id).fill.strategy_allocation == fill.strategy_allocation
    assert len(adoption.events.recorded) >= 2  # the split's rows and the dividend
    assert adoption.snapshot is not None
    checks = {c.name: c.status.value for c in adoption.snapshot.snapshot.integrity_checks}
    assert set(checks.values()) == {"pass"}, checks

    again = adopt(settings, fake, period_end=adoption.period_end)
    assert again.recorded == ()
    assert not again.changed

    # A ledger of the same account that went wrong, reconciled.
    with source(fake) as alpaca:
        history = alpaca.fetch_trading_history(START, adoption.period_end)
    fills = [fill_of(order, DEMO_ACCOUNT_ID, RULES)[1] for order in done_orders(history).done]
    lost = set(range(7, 7 + 20 * 97, 97))
    wrong = set(range(11, 11 + 5 * 401, 401))
    broken = [
        f.model_copy(update={"qty": f.qty + 1}) if i in wrong else f
        for i, f in enumerate(fills)
        if i not in lost
    ]
    never = [
        TradeFill.model_validate(
            {
                **fills[1].model_dump(),
                "order_id": str(uuid.UUID(int=n)),
                "filled_at": fills[1].filled_at + timedelta(seconds=n),
            }
        )
        for n in (1, 2)
    ]
    TradeLedgerRepository(other).record_many(
        [TradeFill.model_validate(f.model_dump()) for f in broken] + never
    )
    with source(fake) as alpaca:
        found = reconcile_account(
            account_id=DEMO_ACCOUNT_ID,
            alpaca=alpaca,
            ledger=TradeLedgerRepository(other),
            events=AccountEventRepository(other),
            period_start=START,
            period_end=adoption.period_end,
            rules=RULES,
            apply=True,
        )
    repairs = sorted(d.repair for d in found.differences if d.kind != "event_missing")
    assert repairs == ["amend"] * 5 + ["record"] * 20 + ["void"] * 2
    assert {d.status for d in found.differences} == {"repaired"}

    def section(table: TableSettings) -> dict[str, Any]:
        from snapshots.builder import take_snapshot

        with source(fake) as alpaca:
            outcome = take_snapshot(
                account_id=DEMO_ACCOUNT_ID,
                period_start=START,
                period_end=adoption.period_end,
                correlation_id="compare",
                alpaca=alpaca,
                ledger=TradeLedgerRepository(table),
                store=AccountSnapshotRepository(table),
                hmac_key=None,
                full_rebuild=True,
                replace_checksum=None,
            )
        return outcome.snapshot.internal_ledger.model_dump(mode="json")

    assert without_corrections(section(other)) == without_corrections(
        adoption.snapshot.snapshot.internal_ledger.model_dump(mode="json")
    )
