"""A ledger carried forward from an earlier snapshot is the ledger rebuilt from the whole history.

Property: for random histories (several strategies, shared orders, shorts, splits with
uneven ratios, symbol changes, mergers with cash, dividends, cash flows) cut into random
periods, some skipped, ``summarize_account`` from the previous period's ledger (chained: each
base is itself carried forward) gives the same ``AccountView`` and the same canonical bytes as
folding everything from the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger_store.dto import StrategyAttribution, TradeFill, parse_fill
from ledger_store.errors import IntegrityError, LedgerValidationError
from ledger_store.events import CashFlow, Dividend, Event, Merger, Split, SymbolChange
from snapshots.canonical import canonical_bytes
from snapshots.ledger.summary import AccountView, LedgerBase, summarize_account

ACCOUNT = "acct-incremental"
T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
SYMBOLS = ("AAA", "BBB", "CCC")
ALLOCATIONS: tuple[dict[str, str], ...] = (
    {"alpha": "1"},
    {"beta": "1"},
    {"gamma": "1"},
    {"alpha": "0.5", "beta": "0.5"},
    {"beta": "0.25", "gamma": "0.75"},
)
PRICES = {"AAA": Decimal("101.37"), "BBB": Decimal("48.5"), "CCC": Decimal("7.125")}


@dataclass(frozen=True)
class History:
    fills: tuple[TradeFill, ...]
    events: tuple[Event, ...]
    cuts: tuple[int, ...]  # period boundaries, minutes after T0
    taken: tuple[bool, ...]  # whether the period ending at cuts[i + 1] is snapshotted

    @property
    def attributions(self) -> list[StrategyAttribution]:
        return [a for f in self.fills for a in f.attributions()]


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


@st.composite
def histories(draw: st.DrawFn) -> History:
    span = draw(st.integers(min_value=60, max_value=6 * 1440))
    fills = []
    for i in range(draw(st.integers(min_value=0, max_value=30))):
        side = draw(st.sampled_from(("BUY", "SELL")))
        fills.append(
            parse_fill(
                {
                    "order_id": f"order-{i:03d}",
                    "account_id": ACCOUNT,
                    "correlation_id": f"cycle-{i}",
                    "symbol": draw(st.sampled_from(SYMBOLS)),
                    "side": side,
                    "qty": str(draw(st.integers(min_value=1, max_value=400)) / Decimal(4)),
                    "price": str(draw(st.integers(min_value=100, max_value=50_000)) / Decimal(100)),
                    "filled_at": minute(draw(st.integers(min_value=0, max_value=span))),
                    "order_type": "market",
                    "fees": draw(st.sampled_from(("0", "0.01", "0.35"))),
                    "strategy_allocation": draw(st.sampled_from(ALLOCATIONS)),
                }
            )
        )
    events: list[Event] = []
    for i in range(draw(st.integers(min_value=0, max_value=8))):
        at = minute(draw(st.integers(min_value=0, max_value=span)))
        common: dict[str, Any] = {"event_id": f"event-{i:02d}", "account_id": ACCOUNT}
        kind = draw(st.sampled_from(("split", "dividend", "cash", "change", "merger")))
        symbol = draw(st.sampled_from(SYMBOLS))
        if kind == "split":
            new, old = draw(st.sampled_from(((2, 1), (3, 2), (1, 4), (10, 1))))
            events.append(
                Split(
                    **common,
                    effective_at=at,
                    symbol=symbol,
                    ratio_new=Decimal(new),
                    ratio_old=Decimal(old),
                )
            )
        elif kind == "dividend":
            amount = Decimal(draw(st.integers(min_value=-500, max_value=5000)) or 1) / 100
            events.append(Dividend(**common, effective_at=at, symbol=symbol, amount=amount))
        elif kind == "cash":
            amount = Decimal(draw(st.integers(min_value=-10_000, max_value=50_000)) or 1)
            events.append(CashFlow(**common, effective_at=at, amount=amount))
        else:
            target = draw(st.sampled_from([s for s in SYMBOLS if s != symbol]))
            if kind == "change":
                events.append(
                    SymbolChange(**common, effective_at=at, symbol=symbol, new_symbol=target)
                )
            else:
                events.append(
                    Merger(
                        **common,
                        effective_at=at,
                        symbol=symbol,
                        new_symbol=target,
                        ratio_new=Decimal(3),
                        ratio_old=Decimal(2),
                        cash_per_share=Decimal(draw(st.sampled_from(("0", "1.5", "250")))),
                    )
                )
    inner = draw(st.lists(st.integers(min_value=1, max_value=span), max_size=6, unique=True))
    cuts = tuple(sorted({0, span + 1, *inner}))
    taken = tuple(draw(st.booleans()) for _ in cuts[1:])
    return History(tuple(fills), tuple(events), cuts, taken)


def summarize(
    history: History,
    start: datetime,
    end: datetime,
    base: LedgerBase | None = None,
    *,
    attributions: Sequence[StrategyAttribution] | None = None,
    events: Sequence[Event] | None = None,
) -> AccountView:
    return summarize_account(
        history.attributions if attributions is None else attributions,
        history.events if events is None else events,
        account_id=ACCOUNT,
        period_start=start,
        period_end=end,
        ledger_id="ledger-test",
        prices=PRICES,
        revisions={"alpha": 3, "beta": 1},
        event_count=len(history.events),
        base=base,
    )


def base_of(view: AccountView, name: str) -> LedgerBase:
    return LedgerBase(snapshot_id=name, period_end=view.period_end, ledger=view.internal_ledger)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(histories())
def test_carried_forward_equals_rebuilt_from_the_start(history: History) -> None:
    base: LedgerBase | None = None
    compared = 0
    for i, taken in enumerate(history.taken):
        if not taken:
            continue
        start, end = minute(history.cuts[i]), minute(history.cuts[i + 1])
        try:
            full = summarize(history, start, end)
        except IntegrityError:
            event("refused by the lots engine")
            # A history the lots engine refuses (a corporate action into a symbol held on
            # the other side): carried forward it is refused too.
            if base is not None:
                with pytest.raises(IntegrityError):
                    summarize(history, start, end, base)
            return
        if base is not None:
            # Only what is dated from the base's end on is handed over, as read_account does.
            since = base.period_end
            carried = summarize(
                history,
                start,
                end,
                base,
                attributions=[a for a in history.attributions if a.filled_at >= since],
                events=[e for e in history.events if e.effective_at >= since],
            )
            assert canonical_bytes(carried) == canonical_bytes(full)
            assert carried == full
            compared += 1
            base = base_of(carried, f"snap-{i}")
            lots = [
                lot
                for p in full.internal_ledger.strategy_performance.values()
                for lot in p.open_lots
            ]
            if any(lot.side == "short" for lot in lots):
                event("carried a short lot")
            if full.internal_ledger.corporate_actions:
                event("a corporate action in a carried period")
        else:
            base = base_of(full, f"snap-{i}")
    event(f"periods compared: {min(compared, 3)}{'+' if compared > 3 else ''}")


def test_entries_before_the_base_are_left_to_it() -> None:
    """What is dated before the base's end is the base's: handed over again it is not
    counted twice."""
    fills = (
        parse_fill(
            {
                "order_id": "o-1",
                "account_id": ACCOUNT,
                "correlation_id": "c",
                "symbol": "AAA",
                "side": "BUY",
                "qty": "3",
                "price": "10",
                "filled_at": minute(5),
                "order_type": "market",
                "fees": "0.1",
                "strategy_allocation": {"alpha": "1"},
            }
        ),
    )
    history = History(fills, (), (0, 10, 20), (True, True))
    first = summarize(history, minute(0), minute(10))
    second = summarize(history, minute(10), minute(20), base_of(first, "s1"))
    assert second == summarize(history, minute(10), minute(20))
    assert second.internal_ledger.strategy_performance["alpha"].total_trades == 1


def test_a_base_that_ends_after_the_period_starts_is_refused() -> None:
    history = History((), (), (0, 10), (True,))
    first = summarize(history, minute(0), minute(10))
    with pytest.raises(LedgerValidationError, match="after period_start"):
        summarize(history, minute(5), minute(20), base_of(first, "s1"))
