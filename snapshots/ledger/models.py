"""The ledger's part of the snapshot: per-strategy trade metrics and the ``InternalLedger``.

These models are fields of the snapshot schema (``snapshots.schema``), versioned with it: a
change to a field or a meaning here is a new ``snapshot_version``. ``snapshots.ledger.metrics``
computes them from the ledger; the FIFO records they hold live in ``snapshots.ledger.fifo``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from ledger_store.dto import (
    LEDGER_CURRENCY,
    Frozen,
    Money,
    NonEmptyText,
    NonNegativeDecimal,
    OrderId,
    PositiveDecimal,
    Side,
    StrategyName,
    Symbol,
    UTCDateTime,
    quote_amount,
)
from ledger_store.events import (
    AssetFee,
    CashFlow,
    CashInLieu,
    Dividend,
    Merger,
    OptionExercise,
    OptionExpiry,
    Split,
    SymbolChange,
)
from snapshots.ledger.fifo import OpenLot, Oversell, exact_arithmetic
from snapshots.ledger.lots import AssetFeeShare, Lot, Match

_ZERO_DECIMAL = Decimal(0)


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


def _active_problems(
    active: tuple[str, ...], performance: Mapping[str, StrategyPerformance | StrategyLedger]
) -> list[str]:
    """``strategies_active`` must be the strategies with trades in the period."""
    traded = sorted(n for n, p in performance.items() if p.period.total_trades)
    if list(active) != traded:
        return ["strategies_active must be exactly the strategies with trades in the period"]
    return []


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
        problems = _active_problems(self.strategies_active, self.strategy_performance)
        performance = self.strategy_performance
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


# snapshot_version 1.2: the signed-lot ledger (snapshots.ledger.lots) ---------------------------


class LedgerFigures(Frozen):
    """Figures of one strategy over a set of its fills and of the events that reached it.

    * ``total_trades = buy_trades + sell_trades``: fills attributed to the strategy.
    * ``total_buy_value`` / ``total_sell_value``: sums of ``attributed qty * price``, before
      fees; ``net_cash_flow = total_sell_value - total_buy_value`` is the trading cash that
      came in (a cash flow, not a profit: see ``realized_pnl``).
    * ``realized_pnl``: closed round trips (signed FIFO: longs sold, shorts covered) plus
      merger cash beyond a lot's basis, fees excluded (``snapshots.ledger.lots``).
    * ``dividends``: the strategy's shares of dividends and withholdings.
    * ``fees``: the attributed fees of the fills; ``net_realized_pnl = realized_pnl +
      dividends - fees``.
    * ``round_trips``: how many lot slices were closed.
    * ``symbols_traded``, ``first_trade_at``, ``last_trade_at`` as in 1.0.
    """

    total_trades: int = Field(ge=0)
    buy_trades: int = Field(ge=0)
    sell_trades: int = Field(ge=0)
    total_buy_value: NonNegativeDecimal
    total_sell_value: NonNegativeDecimal
    net_cash_flow: Money
    realized_pnl: Money
    dividends: Money
    fees: NonNegativeDecimal
    net_realized_pnl: Money
    round_trips: int = Field(ge=0)
    symbols_traded: SortedSymbols
    first_trade_at: UTCDateTime | None
    last_trade_at: UTCDateTime | None

    @model_validator(mode="after")
    def _consistent(self) -> LedgerFigures:
        problems: list[str] = []
        with exact_arithmetic():
            if self.total_trades != self.buy_trades + self.sell_trades:
                problems.append("total_trades must equal buy_trades + sell_trades")
            if self.net_cash_flow != self.total_sell_value - self.total_buy_value:
                problems.append("net_cash_flow must equal total_sell_value - total_buy_value")
            if self.net_realized_pnl != self.realized_pnl + self.dividends - self.fees:
                problems.append("net_realized_pnl must equal realized_pnl + dividends - fees")
        first, last = self.first_trade_at, self.last_trade_at
        if self.total_trades == 0:
            if first is not None or last is not None or self.symbols_traded:
                problems.append("without trades there are no symbols or trade times")
            if self.total_buy_value or self.total_sell_value or self.fees:
                problems.append("without trades no value is traded and no fee paid")
        elif first is None or last is None or not self.symbols_traded:
            problems.append("trades need first_trade_at, last_trade_at and symbols_traded")
        elif first > last:
            problems.append("first_trade_at is after last_trade_at")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _open_lot_key(lot: Lot) -> tuple[str, datetime, str]:
    return (lot.symbol, lot.opened_at, lot.order_id)


def _match_key(m: Match) -> tuple[datetime, str, datetime, str]:
    return (m.closed_at, m.close_order_id, m.opened_at, m.open_order_id)


class StrategyLedger(LedgerFigures):
    """One strategy: cumulative figures through ``period_end``, its open lots, what they are
    worth at Alpaca's prices, and the same figures for the period alone.

    * ``open_lots``: signed lots still open at ``period_end`` (long or short), by
      ``(symbol, opened_at, order_id)``, quantities and prices after corporate actions.
    * ``unrealized_pnl``: the open lots marked at the current price of Alpaca's position in
      the symbol, ``qty * (price - lot price)`` for a long, ``qty * (lot price - price)`` for a
      short; ``None`` when a symbol with open lots has no Alpaca price.
    * ``total_pnl = net_realized_pnl + unrealized_pnl`` (``None`` with it).
    * ``period``: the figures of the period's fills, of the round trips closed and the
      dividends credited in it; ``period_round_trips``: those round trips, by close time.
    * ``revision``: the strategy's registry revision when the snapshot was taken (every write
      to its entries raises it), so a later snapshot can tell whether its history changed.
    """

    open_lots: tuple[Lot, ...] = ()
    unrealized_pnl: Money | None
    total_pnl: Money | None
    period: LedgerFigures
    period_round_trips: tuple[Match, ...] = ()
    revision: int = Field(ge=0)

    @model_validator(mode="after")
    def _period_within(self) -> StrategyLedger:
        problems: list[str] = []
        if list(self.open_lots) != sorted(self.open_lots, key=_open_lot_key):
            problems.append("open_lots must be ordered by (symbol, opened_at, order_id)")
        sides: dict[str, set[str]] = {}
        for lot in self.open_lots:
            sides.setdefault(lot.symbol, set()).add(lot.side)
        if any(len(s) > 1 for s in sides.values()):
            problems.append("a symbol's open lots are all long or all short")
        with exact_arithmetic():
            if (self.unrealized_pnl is None) != (self.total_pnl is None):
                problems.append("total_pnl is known exactly when unrealized_pnl is")
            elif self.unrealized_pnl is not None and self.total_pnl != (
                self.net_realized_pnl + self.unrealized_pnl
            ):
                problems.append("total_pnl must equal net_realized_pnl + unrealized_pnl")
        p = self.period
        if p.buy_trades > self.buy_trades or p.sell_trades > self.sell_trades:
            problems.append("the period cannot have more trades than the cumulative figures")
        if p.round_trips != len(self.period_round_trips):
            problems.append("period round_trips must count period_round_trips")
        if list(self.period_round_trips) != sorted(self.period_round_trips, key=_match_key):
            problems.append(
                "period_round_trips must be ordered by "
                "(closed_at, close_order_id, opened_at, open_order_id)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class AccountLedger(Frozen):
    """What the internal ledger says about the account (``snapshot_version`` 1.2).

    * ``ledger_id``, ``total_trades``, ``total_buy_value``, ``total_sell_value``,
      ``total_fees``, ``strategies_active``: as in 1.0 (the period's distinct fills).
    * ``strategy_performance``: every strategy with a fill before ``period_end``, by name.
    * ``cash_flows``: the period's deposits (> 0) and withdrawals (< 0); ``net_deposits`` their
      sum and ``net_deposits_cumulative`` the sum of every cash flow before ``period_end``:
      capital, never profit.
    * ``corporate_actions``: the period's splits, symbol changes and mergers, as applied.
    * ``dividends``: the period's dividends (and withholdings), as recorded;
      ``unattributed_dividends`` those of them no strategy held shares for (account income
      that no strategy's figures include).
    * ``event_count``: the writes that had changed the account's events (records and voids)
      when the snapshot was taken; it only grows.
    """

    ledger_id: NonEmptyText
    total_trades: int = Field(ge=0)
    total_buy_value: NonNegativeDecimal
    total_sell_value: NonNegativeDecimal
    total_fees: NonNegativeDecimal
    strategies_active: SortedStrategies
    strategy_performance: dict[StrategyName, StrategyLedger]
    cash_flows: tuple[CashFlow, ...] = ()
    net_deposits: Money
    net_deposits_cumulative: Money
    corporate_actions: tuple[Split | SymbolChange | Merger, ...] = ()
    dividends: tuple[Dividend, ...] = ()
    unattributed_dividends: tuple[Dividend, ...] = ()
    event_count: int = Field(ge=0)

    @field_validator("strategy_performance")
    @classmethod
    def _by_name(cls, value: dict[str, StrategyLedger]) -> dict[str, StrategyLedger]:
        return dict(sorted(value.items()))

    @model_validator(mode="after")
    def _consistent(self) -> AccountLedger:
        problems = _active_problems(self.strategies_active, self.strategy_performance)
        performance = self.strategy_performance
        for name, p in performance.items():
            owners = {lot.strategy for lot in p.open_lots} | {
                m.strategy for m in p.period_round_trips
            }
            if owners - {name}:
                problems.append(f"{name}: open lots and round trips must be the strategy's own")
        with exact_arithmetic():
            if self.net_deposits != sum((c.amount for c in self.cash_flows), _ZERO_DECIMAL):
                problems.append("net_deposits must be the sum of the period's cash_flows")
        for events, what in (
            (self.cash_flows, "cash_flows"),
            (self.corporate_actions, "corporate_actions"),
            (self.dividends, "dividends"),
            (self.unattributed_dividends, "unattributed_dividends"),
        ):
            keys_ = [(e.effective_at, e.event_id) for e in events]
            if keys_ != sorted(set(keys_)):
                problems.append(f"{what} must be ordered by (effective_at, event_id), once each")
        if not set(self.unattributed_dividends) <= set(self.dividends):
            problems.append("unattributed_dividends must be among the period's dividends")
        if problems:
            raise ValueError("; ".join(problems))
        return self


#: A digest sum (``ledger_store.digests``) as a snapshot keeps it: 32 lower-case hex digits.
DigestHex = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class StrategyLedgerV13(StrategyLedger):
    """``StrategyLedger`` of ``snapshot_version`` 1.3: what carrying it forward needs.

    * ``entries_digest``: the digest sum of the strategy's attributions dated before
      ``period_end``. A later snapshot that starts from this one compares it with the
      registry's digest minus what it read after ``period_end``: equal, nothing dated before
      changed; different, it rebuilds from the whole history.
    """

    entries_digest: DigestHex


class AccountLedgerV13(AccountLedger):
    """``AccountLedger`` of ``snapshot_version`` 1.3: a snapshot that can be carried forward.

    The strategies are ``StrategyLedgerV13`` (with the digest of their entries);
    ``events_digest`` is the digest sum of the account's active events dated before
    ``period_end``. The open lots, the cumulative figures and ``net_deposits_cumulative`` are
    the state a later snapshot starts from (``snapshots.ledger.summary``).
    """

    strategy_performance: dict[StrategyName, StrategyLedgerV13]  # type: ignore[assignment]
    events_digest: DigestHex


class AccountLedgerV16(AccountLedgerV13):
    """``AccountLedgerV13`` of ``snapshot_version`` 1.6, with the fees taken in an asset.

    * ``asset_fees``: the period's ``asset_fee`` events (Alpaca's crypto fees taken in the coin),
      as applied to the lots;
    * ``unattributed_asset_fees``: those of them that no long lot of the asset covered, wholly
      or in part (the ledger's holding then differs from Alpaca's by what is left);
    * ``cash_in_lieu``: the period's cash paid for a fraction of a share a split left, as
      applied (the fraction sold); ``unattributed_cash_in_lieu`` those of them for which no
      strategy held a fraction (the cash is in no strategy's figures);
    * ``option_expiries``: the period's option contracts that expired (their lots closed at 0).
    """

    asset_fees: tuple[AssetFee, ...] = ()
    unattributed_asset_fees: tuple[AssetFee, ...] = ()
    cash_in_lieu: tuple[CashInLieu, ...] = ()
    unattributed_cash_in_lieu: tuple[CashInLieu, ...] = ()
    option_expiries: tuple[OptionExpiry, ...] = ()

    @model_validator(mode="after")
    def _events_in_order(self) -> AccountLedgerV16:
        for events, what in (
            (self.asset_fees, "asset_fees"),
            (self.unattributed_asset_fees, "unattributed_asset_fees"),
            (self.cash_in_lieu, "cash_in_lieu"),
            (self.unattributed_cash_in_lieu, "unattributed_cash_in_lieu"),
            (self.option_expiries, "option_expiries"),
        ):
            keys_ = [(e.effective_at, e.event_id) for e in events]
            if keys_ != sorted(set(keys_)):
                raise ValueError(f"{what} must be ordered by (effective_at, event_id), once each")
        if not set(self.unattributed_asset_fees) <= set(self.asset_fees):
            raise ValueError("unattributed_asset_fees must be among the period's asset_fees")
        if not set(self.unattributed_cash_in_lieu) <= set(self.cash_in_lieu):
            raise ValueError("unattributed_cash_in_lieu must be among the period's cash_in_lieu")
        return self


class AccountLedgerV17(AccountLedgerV16):
    """``AccountLedgerV16`` of ``snapshot_version`` 1.7, with options exercised and assigned.

    * ``option_exercises``: the period's ``option_exercise`` events (Alpaca's ``OPEXC`` and
      ``OPASN`` with the ``OPTRD`` row of the shares), as applied: the contracts' lots closed
      and the shares traded at the strike with the premium folded in;
    * ``unattributed_option_exercises``: those of them whose contracts no lot covered, wholly
      or in part (those contracts' shares are in no strategy);
    * ``asset_fee_shares``: the period's coin fees (``asset_fees``) by the strategies whose
      lots paid them, by (strategy, effective_at, event_id, symbol).
    """

    option_exercises: tuple[OptionExercise, ...] = ()
    unattributed_option_exercises: tuple[OptionExercise, ...] = ()
    asset_fee_shares: tuple[AssetFeeShare, ...] = ()

    @model_validator(mode="after")
    def _exercises_in_order(self) -> AccountLedgerV17:
        for events, what in (
            (self.option_exercises, "option_exercises"),
            (self.unattributed_option_exercises, "unattributed_option_exercises"),
        ):
            keys_ = [(e.effective_at, e.event_id) for e in events]
            if keys_ != sorted(set(keys_)):
                raise ValueError(f"{what} must be ordered by (effective_at, event_id), once each")
        if not set(self.unattributed_option_exercises) <= set(self.option_exercises):
            raise ValueError(
                "unattributed_option_exercises must be among the period's option_exercises"
            )
        shares = self.asset_fee_shares
        order = [(s.strategy, s.effective_at, s.event_id, s.symbol) for s in shares]
        if order != sorted(set(order)):
            raise ValueError(
                "asset_fee_shares must be ordered by (strategy, effective_at, event_id, "
                "symbol), once each"
            )
        fees = {fee.event_id for fee in self.asset_fees}
        if any(share.event_id not in fees for share in shares):
            raise ValueError("asset_fee_shares must be shares of the period's asset_fees")
        return self


class QuotedFill(Frozen):
    """A fill of the period of a pair quoted in another currency than USD, and its USD value.

    ``price`` and ``fees`` are in ``quote_currency`` (the pair's second half, ``BTC`` for
    ``ETH/BTC``); ``quote_usd_rate`` is the USD value of one unit of it recorded with the fill.
    ``quote_qty`` is the quote coin the fill moves, ``qty * price`` rounded half-even to 9
    places (a coin position's precision); ``usd_value`` the sum of its strategies' shares
    ``share qty * price * quote_usd_rate``, each rounded half-even to 18 places (so within
    ``1E-17`` of the exact product); ``usd_fees = fees * quote_usd_rate``. The ledger holds it
    as two USD trades of the same order (``snapshots.ledger.quotes``): the base coin on its
    own USD book at ``price * quote_usd_rate``, and ``quote_qty`` of the quote coin the other
    way at the rate.
    """

    order_id: OrderId
    symbol: Symbol
    side: Side
    qty: PositiveDecimal
    price: PositiveDecimal
    fees: NonNegativeDecimal
    filled_at: UTCDateTime
    quote_currency: NonEmptyText
    quote_usd_rate: PositiveDecimal
    quote_qty: PositiveDecimal
    usd_value: NonNegativeDecimal
    usd_fees: NonNegativeDecimal

    @model_validator(mode="after")
    def _valued(self) -> QuotedFill:
        base, _, quote = self.symbol.partition("/")
        if not base or quote != self.quote_currency or quote == LEDGER_CURRENCY:
            raise ValueError(
                f"{self.symbol} is no pair quoted in {self.quote_currency} (nor in another "
                "currency than USD)"
            )
        with exact_arithmetic():
            exact = self.qty * self.price
            if self.quote_qty != quote_amount(self.qty, self.price):
                raise ValueError("quote_qty must be qty x price to 9 places (half-even)")
            if abs(self.usd_value - exact * self.quote_usd_rate) > _SHARES_ROUNDING:
                raise ValueError("usd_value must be qty x price x quote_usd_rate")
            if self.usd_fees != self.fees * self.quote_usd_rate:
                raise ValueError("usd_fees must be fees x quote_usd_rate")
        return self


#: How far a crossed fill's USD value may be from the exact product: half a unit of the 18th
#: place for each of at most 40 strategy shares.
_SHARES_ROUNDING = Decimal("2E-17")


class AccountLedgerV18(AccountLedgerV17):
    """``AccountLedgerV17`` of ``snapshot_version`` 1.8: pairs quoted in other currencies.

    Every figure is in USD. A fill of a pair quoted in another currency (``ETH/BTC``,
    ``BTC/USDT``) is valued at the ``quote_usd_rate`` recorded with it and held as a trade of
    each coin on the coin's own USD book (``ETH/USD`` and ``BTC/USD``): lots, round trips,
    symbols and positions are per coin, and its USD value counts in both the buy and the sell
    value (one coin acquired, the other disposed of).

    * ``quoted_fills``: the period's fills of such pairs with their rates and USD values, by
      (filled_at, order_id).
    """

    quoted_fills: tuple[QuotedFill, ...] = ()

    @model_validator(mode="after")
    def _quoted_in_order(self) -> AccountLedgerV18:
        order = [(f.filled_at, f.order_id) for f in self.quoted_fills]
        if order != sorted(set(order)):
            raise ValueError("quoted_fills must be ordered by (filled_at, order_id), once each")
        return self
