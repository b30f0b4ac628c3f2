"""Per-strategy P&L and round-trip statistics of a snapshot's ledger: pure ``Decimal``.

* **Strategy P&L** (``StrategyPnL``): of the period, the FIFO realised P&L of the round trips
  closed in it, the dividends credited in it and the fees of its fills, and their sum
  ``net = realised + dividends - fees``; at ``period_end``, the unrealised P&L of the open lots at
  Alpaca's prices; since the strategy's first fill, ``total = net realised + unrealised`` (the
  ledger's ``total_pnl``). Snapshots before 1.2 record no dividends or unrealised P&L.
* **Round trips** (``RoundTripStats``): the period's FIFO matches (one per lot slice closed; a
  partial close is a round trip of its own), fees excluded. ``win_rate = wins / round trips``;
  ``profit_factor = gross profit / |gross loss|``; ``payoff = average win / |average loss|``;
  ``expectancy = realised P&L / round trips``; the average holding time runs from the lot's
  opening fill to the closing fill. Ratios without a denominator (no loss, no win) are ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from ledger_store.decimals import explicit_context
from ledger_store.dto import Frozen
from snapshots.ledger.lots import Match
from snapshots.ledger.models import (
    AccountLedgerV17,
    InternalLedger,
    LedgerFigures,
    StrategyLedger,
    StrategyPerformance,
    TradeMetrics,
)
from snapshots.report.asset_classes import coin_fees_by_strategy
from snapshots.report.figures import EXACT, exact_sum
from snapshots.report.performance import ratio
from snapshots.schema import AnySnapshot

_ZERO: Final = Decimal(0)


class RoundTripStats(Frozen):
    """Statistics of a set of round trips (see the module docstring)."""

    round_trips: int
    wins: int
    losses: int
    win_rate: Decimal | None
    gross_profit: Decimal
    gross_loss: Decimal
    realized_pnl: Decimal
    profit_factor: Decimal | None
    payoff_ratio: Decimal | None
    expectancy: Decimal | None
    largest_win: Decimal | None
    largest_loss: Decimal | None
    average_holding_seconds: Decimal | None


class StrategyPnL(Frozen):
    """One strategy's P&L in the report (see the module docstring)."""

    strategy: str
    trades: int
    realized_pnl: Decimal
    dividends: Decimal | None
    fees: Decimal
    net_pnl: Decimal
    unrealized_pnl: Decimal | None
    total_pnl: Decimal | None
    round_trips: RoundTripStats | None
    #: The period's coin fees the strategy's lots paid, at Alpaca's price: part of the lots'
    #: cost, so already in the P&L when the coin is sold (``None`` before snapshot 1.7, or when
    #: a fee it paid has no price).
    coin_fees: Decimal | None = None


@explicit_context
def round_trip_stats(matches: Sequence[Match]) -> RoundTripStats:
    """``RoundTripStats`` of ``matches``."""
    pnls = [m.realized_pnl for m in matches]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_profit, gross_loss, total = exact_sum(wins), exact_sum(losses), exact_sum(pnls)
    n = len(pnls)
    payoff: Decimal | None = None
    if wins and losses:
        average_win = EXACT.divide(gross_profit, Decimal(len(wins)))
        average_loss = EXACT.divide(gross_loss, Decimal(len(losses)))
        payoff = ratio(EXACT.divide(average_win, abs(average_loss)))
    held = exact_sum(Decimal((m.closed_at - m.opened_at).total_seconds()) for m in matches)
    return RoundTripStats(
        round_trips=n,
        wins=len(wins),
        losses=len(losses),
        win_rate=ratio(EXACT.divide(Decimal(len(wins)), Decimal(n))) if n else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        realized_pnl=total,
        profit_factor=ratio(EXACT.divide(gross_profit, abs(gross_loss))) if losses else None,
        payoff_ratio=payoff,
        expectancy=ratio(EXACT.divide(total, Decimal(n))) if n else None,
        largest_win=max(wins) if wins else None,
        largest_loss=min(losses) if losses else None,
        average_holding_seconds=ratio(EXACT.divide(held, Decimal(n))) if n else None,
    )


def _strategy(
    name: str, p: StrategyLedger | StrategyPerformance, coin_fees: Decimal | None
) -> StrategyPnL:
    if isinstance(p, StrategyLedger):
        period: LedgerFigures | TradeMetrics = p.period
        dividends: Decimal | None = p.period.dividends
        unrealized, total = p.unrealized_pnl, p.total_pnl
        stats: RoundTripStats | None = round_trip_stats(p.period_round_trips)
    else:
        period = p.period
        dividends, unrealized, total, stats = None, None, None, None
    return StrategyPnL(
        strategy=name,
        trades=period.total_trades,
        realized_pnl=period.realized_pnl,
        dividends=dividends,
        fees=period.fees,
        net_pnl=period.net_realized_pnl,
        unrealized_pnl=unrealized,
        total_pnl=total,
        round_trips=stats,
        coin_fees=coin_fees,
    )


@explicit_context
def strategy_pnl(snapshot: AnySnapshot) -> tuple[StrategyPnL, ...]:
    """Every strategy of the snapshot's ledger, by name."""
    performance: dict[str, StrategyLedger | StrategyPerformance] = dict(
        snapshot.internal_ledger.strategy_performance
    )
    coin = coin_fees_by_strategy(snapshot)
    since_1_7 = isinstance(snapshot.internal_ledger, AccountLedgerV17)
    return tuple(
        _strategy(name, p, coin.get(name, _ZERO) if since_1_7 else None)
        for name, p in sorted(performance.items())
    )


def period_round_trips(snapshot: AnySnapshot) -> list[Match] | None:
    """The round trips every strategy closed in the period, strategy by strategy (``None``
    before snapshot 1.2, whose ledgers keep no round trips)."""
    if isinstance(snapshot.internal_ledger, InternalLedger):
        return None
    matches: list[Match] = []
    for p in snapshot.internal_ledger.strategy_performance.values():
        if not isinstance(p, StrategyLedger):
            return None
        matches.extend(p.period_round_trips)
    return matches


@explicit_context
def all_round_trips(snapshot: AnySnapshot) -> RoundTripStats | None:
    """The round trips of every strategy together (``None`` before snapshot 1.2)."""
    matches = period_round_trips(snapshot)
    return None if matches is None else round_trip_stats(matches)


__all__ = [
    "RoundTripStats",
    "StrategyPnL",
    "all_round_trips",
    "period_round_trips",
    "round_trip_stats",
    "strategy_pnl",
]
