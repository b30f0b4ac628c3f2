"""The 1.2 ledger summary: every per-strategy and account figure of one period, by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.errors import IntegrityError
from ledger_store.events import Event, parse_event
from snapshots.ledger.summary import summarize_account
from tests.builders import ACCOUNT, attributions_of, strategy_fill

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)  # strategy_fill's seconds count from here
START = datetime(2024, 3, 2, tzinfo=UTC)
END = datetime(2024, 3, 9, tzinfo=UTC)
DAY = 86_400


def event(kind: str, n: int, when: datetime, **fields: Any) -> Event:
    return parse_event(
        {"kind": kind, "event_id": f"e{n}", "account_id": ACCOUNT, "effective_at": when, **fields}
    )


FILLS = [
    # alpha shorts TSLA in the period and covers in parts: +40, +30, then long 4 at 95.
    strategy_fill("a1", "SELL", "10", "100", symbol="TSLA", seconds=DAY + 100, fees="0.05"),
    strategy_fill("a2", "BUY", "4", "90", symbol="TSLA", seconds=DAY + 200),
    strategy_fill("a3", "BUY", "10", "95", symbol="TSLA", seconds=DAY + 300),
    # momentum and trend hold AAPL before the period: 60 / 40 of 100 at 200.
    strategy_fill(
        "m1", "BUY", "100", "200", allocation={"momentum": "0.6", "trend": "0.4"}, fees="1"
    ),
    # gamma holds NVDA through a 10:1 split and sells half after it.
    strategy_fill("g1", "BUY", "10", "500", symbol="NVDA", allocation={"gamma": "1"}),
    strategy_fill(
        "g2", "SELL", "50", "52", symbol="NVDA", seconds=3 * DAY, allocation={"gamma": "1"}
    ),
    # after the period: ignored
    strategy_fill("late", "SELL", "4", "99", symbol="TSLA", seconds=9 * DAY),
]
EVENTS = [
    event("cash_flow", 1, T0 - timedelta(days=10), amount="100000"),
    event("split", 2, START + timedelta(days=1), symbol="NVDA", ratio_new="10", ratio_old="1"),
    event("dividend", 3, START + timedelta(days=2), symbol="AAPL", amount="24"),
    event("cash_flow", 4, START + timedelta(days=3), amount="49000"),
    event("cash_flow", 5, END, amount="-1"),  # at period_end: outside
]
PRICES = {"AAPL": Decimal(210), "NVDA": Decimal(55), "TSLA": Decimal(96)}


def summary(**changes: Any) -> Any:
    options: dict[str, Any] = {
        "account_id": ACCOUNT,
        "period_start": START,
        "period_end": END,
        "ledger_id": "alchemiser-trade-ledger-test",
        "prices": PRICES,
        "revisions": {"alpha": 3, "momentum": 1, "trend": 1, "gamma": 2},
        "event_count": 5,
        **changes,
    }
    return summarize_account(attributions_of(FILLS), EVENTS, **options)


def test_every_figure_of_the_period_by_hand() -> None:
    view = summary()
    ledger = view.internal_ledger
    alpha = ledger.strategy_performance["alpha"]
    momentum = ledger.strategy_performance["momentum"]
    trend = ledger.strategy_performance["trend"]
    gamma = ledger.strategy_performance["gamma"]

    # alpha: a short covered in parts.
    assert (alpha.realized_pnl, alpha.fees, alpha.net_realized_pnl) == (
        Decimal(70),
        Decimal("0.05"),
        Decimal("69.95"),
    )
    assert alpha.net_cash_flow == Decimal(1000 - 360 - 950)  # a cash flow, not a profit
    assert [(lot.side, lot.qty, lot.price) for lot in alpha.open_lots] == [
        ("long", Decimal(4), Decimal(95))
    ]
    assert alpha.unrealized_pnl == Decimal(4)  # 4 x (96 - 95)
    assert alpha.total_pnl == Decimal("73.95")
    assert alpha.period.round_trips == len(alpha.period_round_trips) == 2
    assert [m.side for m in alpha.period_round_trips] == ["short", "short"]
    assert alpha.revision == 3

    # momentum and trend: the dividend, shared by their shares; bought before the period.
    assert (momentum.dividends, trend.dividends) == (Decimal("14.4"), Decimal("9.6"))
    assert (momentum.period.dividends, momentum.period.total_trades) == (Decimal("14.4"), 0)
    assert momentum.fees == Decimal("0.6")
    assert momentum.unrealized_pnl == Decimal(600)  # 60 x (210 - 200)
    assert momentum.total_pnl == Decimal("14.4") - Decimal("0.6") + Decimal(600)

    # gamma: held through the split, half sold after it.
    assert gamma.realized_pnl == Decimal(100)  # 50 x (52 - 50)
    assert [(lot.qty, lot.price) for lot in gamma.open_lots] == [(Decimal(50), Decimal(50))]
    assert gamma.unrealized_pnl == Decimal(250)  # 50 x (55 - 50)

    # The account: deposits are capital, the split is listed, nothing is unattributed.
    assert [c.event_id for c in ledger.cash_flows] == ["e4"]
    assert (ledger.net_deposits, ledger.net_deposits_cumulative) == (
        Decimal(49000),
        Decimal(149000),
    )
    assert [a.event_id for a in ledger.corporate_actions] == ["e2"]
    assert ledger.unattributed_dividends == ()
    assert ledger.event_count == 5
    assert ledger.strategies_active == ("alpha", "gamma")
    assert ledger.total_trades == 4  # a1, a2, a3, g2
    assert view.net_positions == {"AAPL": Decimal(100), "NVDA": Decimal(50), "TSLA": Decimal(4)}
    assert [e.event_id for e in view.period_events] == ["e2", "e3", "e4"]


def test_a_symbol_without_an_alpaca_price_has_no_unrealized_pnl() -> None:
    ledger = summary(prices={"AAPL": Decimal(210)}).internal_ledger
    gamma = ledger.strategy_performance["gamma"]
    assert (gamma.unrealized_pnl, gamma.total_pnl) == (None, None)
    assert ledger.strategy_performance["momentum"].unrealized_pnl == Decimal(600)


def test_entries_of_another_account_are_an_integrity_error() -> None:
    stranger = parse_event(
        {
            "kind": "cash_flow",
            "event_id": "x",
            "account_id": "acct-2",
            "effective_at": START,
            "amount": "1",
        }
    )
    with pytest.raises(IntegrityError, match="entries of other accounts"):
        summarize_account(
            attributions_of(FILLS),
            [*EVENTS, stranger],
            account_id=ACCOUNT,
            period_start=START,
            period_end=END,
            ledger_id="t",
            prices=PRICES,
            revisions={},
            event_count=6,
        )
