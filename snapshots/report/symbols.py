"""P&L by symbol of a snapshot's ledger: pure ``Decimal``, from the snapshot alone.

For each symbol (``SymbolPnL``): the FIFO realised P&L of the period's round trips on it (before
fees), the period's dividends the strategies held it for, and at ``period_end`` the unrealised
P&L of its open lots at the price of Alpaca's position (``None`` when the position has no price).

Fees are paid per fill and the ledger keeps them by strategy, not by symbol; P&L an event
realised outside a round trip (a merger's cash, an asset fee taking a whole lot) is kept by
strategy too. ``SymbolBreakdown`` carries both as account-wide amounts, so that its rows, the
other amounts and the fees add up to the strategies' period net plus their unrealised P&L.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Final

from ledger_store.decimals import explicit_context
from ledger_store.dto import Frozen
from snapshots.ledger.lots import marked_pnl, market_price
from snapshots.ledger.models import StrategyLedger
from snapshots.report.figures import EXACT, exact_sum
from snapshots.schema import AccountSnapshotV12, AnySnapshot

_ZERO: Final = Decimal(0)


class SymbolPnL(Frozen):
    """One symbol's P&L (see the module docstring); ``total`` is ``realized_pnl + dividends +
    unrealized_pnl`` (``None`` with ``unrealized_pnl``)."""

    symbol: str
    round_trips: int
    realized_pnl: Decimal
    dividends: Decimal
    open_lots: int
    unrealized_pnl: Decimal | None
    total: Decimal | None


class SymbolBreakdown(Frozen):
    """Every symbol's P&L, by symbol, and what the ledger keeps only by strategy.

    ``other_realized`` and ``other_dividends``: the strategies' period realised P&L and
    dividends not in any symbol's row (events outside round trips; 0 when every amount has a
    symbol). ``fees``: the period fees of the strategies' fills. ``net`` = the rows' totals +
    the other amounts - fees: the strategies' period net plus their unrealised P&L (``None``
    when a symbol's unrealised P&L is).
    """

    symbols: tuple[SymbolPnL, ...]
    other_realized: Decimal
    other_dividends: Decimal
    fees: Decimal
    net: Decimal | None


@explicit_context
def symbol_pnl(snapshot: AnySnapshot) -> SymbolBreakdown | None:
    """The snapshot's P&L by symbol; ``None`` before snapshot 1.2 (no round trips or signed
    lots to attribute)."""
    if not isinstance(snapshot, AccountSnapshotV12):
        return None
    ledger = snapshot.internal_ledger
    strategies: list[StrategyLedger] = list(ledger.strategy_performance.values())
    prices = {
        p.symbol: p.current_price for p in snapshot.alpaca_positions if p.current_price is not None
    }
    realized: dict[str, list[Decimal]] = defaultdict(list)
    dividends: dict[str, list[Decimal]] = defaultdict(list)
    marks: dict[str, list[Decimal | None]] = defaultdict(list)
    for s in strategies:
        for match in s.period_round_trips:
            realized[match.symbol].append(match.realized_pnl)
        for lot in s.open_lots:
            price = market_price(prices, lot.symbol)
            marks[lot.symbol].append(None if price is None else marked_pnl(lot, price))
    unattributed = {d.event_id for d in ledger.unattributed_dividends}
    for dividend in ledger.dividends:
        if dividend.event_id not in unattributed:
            dividends[dividend.symbol].append(dividend.amount)
    rows = tuple(
        _row(symbol, realized.get(symbol, []), dividends.get(symbol, []), marks.get(symbol, []))
        for symbol in sorted({*realized, *dividends, *marks})
    )
    other_realized = EXACT.subtract(
        exact_sum(s.period.realized_pnl for s in strategies),
        exact_sum(r.realized_pnl for r in rows),
    )
    other_dividends = EXACT.subtract(
        exact_sum(s.period.dividends for s in strategies), exact_sum(r.dividends for r in rows)
    )
    fees = exact_sum(s.period.fees for s in strategies)
    totals = [r.total for r in rows]
    net = None
    if all(t is not None for t in totals):
        net = EXACT.subtract(
            exact_sum([*(t for t in totals if t is not None), other_realized, other_dividends]),
            fees,
        )
    return SymbolBreakdown(
        symbols=rows,
        other_realized=other_realized,
        other_dividends=other_dividends,
        fees=fees,
        net=net,
    )


def _row(
    symbol: str,
    realized: list[Decimal],
    dividends: list[Decimal],
    marks: list[Decimal | None],
) -> SymbolPnL:
    realized_pnl, income = exact_sum(realized), exact_sum(dividends)
    unrealized = (
        None if any(m is None for m in marks) else exact_sum(m for m in marks if m is not None)
    )
    return SymbolPnL(
        symbol=symbol,
        round_trips=len(realized),
        realized_pnl=realized_pnl,
        dividends=income,
        open_lots=len(marks),
        unrealized_pnl=unrealized,
        total=None if unrealized is None else exact_sum([realized_pnl, income, unrealized]),
    )


__all__ = ["SymbolBreakdown", "SymbolPnL", "symbol_pnl"]
