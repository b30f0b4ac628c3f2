"""The ledger's part of the snapshot: per-strategy trade metrics and the ``InternalLedger``.

These models are fields of the snapshot schema (``snapshots.schema``), versioned with it: a
change to a field or a meaning here is a new ``snapshot_version``. ``snapshots.ledger.metrics``
computes them from the ledger; the FIFO records they hold live in ``snapshots.ledger.fifo``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from ledger_store.dto import (
    Frozen,
    Money,
    NonEmptyText,
    NonNegativeDecimal,
    StrategyName,
    Symbol,
    UTCDateTime,
)
from snapshots.ledger.fifo import OpenLot, Oversell, exact_arithmetic


def _sorted_unique(what: str) -> AfterValidator:
    def check(value: tuple[str, ...]) -> tuple[str, ...]:
        if list(value) != sorted(set(value)):
            raise ValueError(f"{what} must be sorted and unique")
        return value

    return AfterValidator(check)


SortedSymbols = Annotated[tuple[Symbol, ...], _sorted_unique("symbols")]
SortedStrategies = Annotated[tuple[StrategyName, ...], _sorted_unique("strategies")]


def _oversell_key(o: Oversell) -> tuple[datetime, str, str]:
    return (o.filled_at, o.order_id, o.symbol)


def _lot_key(lot: OpenLot) -> tuple[str, datetime, str]:
    return (lot.symbol, lot.opened_at, lot.order_id)


class TradeMetrics(Frozen):
    """Trading metrics of one strategy over a set of its fills (attributions).

    * ``total_trades``: fills attributed to the strategy (one per order; a fill shared by
      several strategies counts once for each of them), ``= buy_trades + sell_trades``.
    * ``total_buy_value`` / ``total_sell_value``: sum of ``attributed qty * price`` of the buys /
      sells, before fees.
    * ``gross_pnl = total_sell_value - total_buy_value``: the trading cash flow before fees (it
      is not a profit while positions are open; see ``realized_pnl``).
    * ``realized_pnl``: FIFO realised P&L of the sells among these fills, fees excluded
      (``snapshots.ledger.fifo``; lots opened earlier count as cost basis).
    * ``fees``: sum of the attributed fees of these fills (buys and sells);
      ``net_realized_pnl = realized_pnl - fees``.
    * ``symbols_traded``: sorted distinct symbols. ``first_trade_at``/``last_trade_at``: the
      earliest/latest ``filled_at``; both ``None`` exactly when there are no trades.
    * ``oversells``: sells among these fills that exceeded the strategy's open lots, ordered
      by ``(filled_at, order_id, symbol)``.

    Money is rounded half-even to 18 decimal places (exact for prices and quantities of at most
    9 decimal places).
    """

    total_trades: int = Field(ge=0)
    buy_trades: int = Field(ge=0)
    sell_trades: int = Field(ge=0)
    total_buy_value: NonNegativeDecimal
    total_sell_value: NonNegativeDecimal
    gross_pnl: Money
    realized_pnl: Money
    fees: NonNegativeDecimal
    net_realized_pnl: Money
    symbols_traded: SortedSymbols
    first_trade_at: UTCDateTime | None
    last_trade_at: UTCDateTime | None
    oversells: tuple[Oversell, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> TradeMetrics:
        problems: list[str] = []
        with exact_arithmetic():
            if self.total_trades != self.buy_trades + self.sell_trades:
                problems.append("total_trades must equal buy_trades + sell_trades")
            if self.gross_pnl != self.total_sell_value - self.total_buy_value:
                problems.append("gross_pnl must equal total_sell_value - total_buy_value")
            if self.net_realized_pnl != self.realized_pnl - self.fees:
                problems.append("net_realized_pnl must equal realized_pnl - fees")
        first, last = self.first_trade_at, self.last_trade_at
        if self.total_trades == 0:
            if first is not None or last is not None or self.symbols_traded:
                problems.append("without trades there are no symbols or trade times")
            if self.total_buy_value or self.total_sell_value or self.fees:
                problems.append("without trades every value is 0")
        elif first is None or last is None or not self.symbols_traded:
            problems.append("trades need first_trade_at, last_trade_at and symbols_traded")
        elif first > last:
            problems.append("first_trade_at is after last_trade_at")
        if self.sell_trades == 0 and (self.realized_pnl or self.oversells):
            problems.append("without sells nothing is realised or oversold")
        if list(self.oversells) != sorted(self.oversells, key=_oversell_key):
            problems.append("oversells must be ordered by (filled_at, order_id, symbol)")
        if not {o.symbol for o in self.oversells} <= set(self.symbols_traded):
            problems.append("oversells must be of traded symbols")
        if (
            first is not None
            and last is not None
            and any(not first <= o.filled_at <= last for o in self.oversells)
        ):
            problems.append("oversells must lie between first_trade_at and last_trade_at")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class StrategyPerformance(TradeMetrics):
    """One strategy's performance: cumulative metrics plus the ``period`` block.

    The inherited metrics cover every fill attributed to the strategy with
    ``filled_at < period_end`` (cumulative since the first fill); ``open_lots`` are its FIFO
    lots still open at ``period_end``, ordered by ``(symbol, opened_at, order_id)``. ``period``
    holds the same metrics for the fills with ``period_start <= filled_at < period_end`` (its
    realised P&L matches the period's sells against lots opened at any earlier time).
    """

    open_lots: tuple[OpenLot, ...] = ()
    period: TradeMetrics

    @model_validator(mode="after")
    def _period_within_cumulative(self) -> StrategyPerformance:
        problems: list[str] = []
        p = self.period
        if list(self.open_lots) != sorted(self.open_lots, key=_lot_key):
            problems.append("open_lots must be ordered by (symbol, opened_at, order_id)")
        if not {lot.symbol for lot in self.open_lots} <= set(self.symbols_traded):
            problems.append("open lots must be of traded symbols")
        if p.buy_trades > self.buy_trades or p.sell_trades > self.sell_trades:
            problems.append("the period cannot have more trades than the cumulative metrics")
        if not set(p.symbols_traded) <= set(self.symbols_traded):
            problems.append("period symbols must be among the cumulative symbols")
        if not set(p.oversells) <= set(self.oversells):
            problems.append("period oversells must be among the cumulative oversells")
        if p.total_trades and (
            p.last_trade_at != self.last_trade_at
            or self.first_trade_at is None
            or p.first_trade_at is None
            or p.first_trade_at < self.first_trade_at
        ):
            problems.append("the period must be the latest part of the cumulative history")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class InternalLedger(Frozen):
    """What the internal trade ledger says about the account.

    * ``ledger_id``: which ledger the numbers come from (the DynamoDB table name).
    * ``total_trades``, ``total_buy_value``, ``total_sell_value``, ``total_fees``: the account's
      fills **of the period** (``period_start <= filled_at < period_end``): distinct orders (an
      order shared by several strategies counts once), and the sums of ``qty * price`` (before
      fees) and of fees over those orders.
    * ``strategies_active``: sorted names of the strategies with at least one fill in the period.
    * ``strategy_performance``: every strategy with at least one fill before ``period_end``,
      by name (see ``StrategyPerformance``: cumulative metrics plus the period block).
    """

    ledger_id: NonEmptyText
    total_trades: int = Field(ge=0)
    total_buy_value: NonNegativeDecimal
    total_sell_value: NonNegativeDecimal
    total_fees: NonNegativeDecimal
    strategies_active: SortedStrategies
    strategy_performance: dict[StrategyName, StrategyPerformance]

    @field_validator("strategy_performance")
    @classmethod
    def _by_name(cls, value: dict[str, StrategyPerformance]) -> dict[str, StrategyPerformance]:
        return dict(sorted(value.items()))

    @model_validator(mode="after")
    def _consistent(self) -> InternalLedger:
        problems: list[str] = []
        performance = self.strategy_performance
        active = sorted(n for n, p in performance.items() if p.period.total_trades)
        if list(self.strategies_active) != active:
            problems.append(
                "strategies_active must be exactly the strategies with trades in the period"
            )
        empty = sorted(n for n, p in performance.items() if not p.total_trades)
        if empty:
            problems.append(f"strategies without any trade: {', '.join(empty)}")
        for name, p in performance.items():
            owners = {lot.strategy for lot in p.open_lots} | {o.strategy for o in p.oversells}
            if owners - {name}:
                problems.append(f"{name}: open lots and oversells must be the strategy's own")
        period_trades = [p.period.total_trades for p in performance.values()]
        if self.total_trades > sum(period_trades) or self.total_trades < max(
            period_trades, default=0
        ):
            problems.append(
                "total_trades must lie between the busiest strategy's period trades and their sum"
            )
        if self.total_trades == 0 and (
            self.total_buy_value or self.total_sell_value or self.total_fees
        ):
            problems.append("without trades in the period every total is 0")
        if problems:
            raise ValueError("; ".join(problems))
        return self
