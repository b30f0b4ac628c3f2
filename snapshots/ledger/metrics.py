"""The internal-ledger part of a snapshot, computed from the trade ledger's strategy index.

``read_ledger`` lists the account's strategies from the registry (one Query), then streams each
strategy's attributions with ``filled_at < period_end`` from GSI3 (one paginated Query per
strategy) and hands them to ``summarize_ledger``, which is pure:

* per strategy: cumulative metrics and FIFO (every fill before ``period_end``) plus the period
  block (``period_start <= filled_at < period_end``), see ``snapshots.schema``;
* ledger totals of the period: attributions are grouped by ``order_id`` back into fills, so an
  order shared by several strategies counts once. A fill's value is ``price * sum of its
  attributed quantities``: attributions split the fill's quantity exactly, so that sum *is* the
  fill's quantity and the value is the fill's own ``qty * price``, exactly;
* what the integrity checks need: the period's fills by order id (qty, price, side, fees) and
  the signed net quantity per symbol through ``period_end``.

``ledger_id`` is the table name unless the caller gives another id: it says which ledger (stage)
the numbers come from and does not change between runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from operator import attrgetter, mul
from typing import Any

from pydantic import ValidationError, model_validator

from ledger_store import keys
from ledger_store.decimals import ledger_arithmetic, normalize
from ledger_store.dto import (
    Frozen,
    Money,
    NonNegativeDecimal,
    OrderId,
    PositiveDecimal,
    Side,
    StrategyAttribution,
    Symbol,
    UTCDateTime,
    describe_validation_error,
    is_crossed,
    quote_amount,
    value_of,
)
from ledger_store.errors import IntegrityError, LedgerValidationError
from ledger_store.trades import TradeLedgerRepository
from snapshots.ledger.fifo import (
    BookRecords,
    Oversell,
    exact_arithmetic,
    fifo_order,
    fifo_records,
    fits,
    money,
)
from snapshots.ledger.models import InternalLedger, SortedStrategies
from snapshots.ledger.quotes import base_value

_ZERO = Decimal(0)
# Field getters for the loops over many attributions (C-level, unlike lambdas and generators).
_qty = attrgetter("qty")
_price = attrgetter("price")
_fees = attrgetter("fees")
_symbol = attrgetter("symbol")
_strategy = attrgetter("strategy")
#: What the attributions of one order must agree on.
_shape = attrgetter("symbol", "side", "price", "filled_at", "quote_usd_rate")


class LedgerFill(Frozen):
    """One fill of the period, rebuilt from its attributions.

    ``qty`` and ``fees`` are the sums of the attributed shares (equal to the recorded fill's);
    ``strategies`` are the strategies it was attributed to, sorted.
    """

    order_id: OrderId
    symbol: Symbol
    side: Side
    qty: NonNegativeDecimal
    price: PositiveDecimal
    fees: NonNegativeDecimal
    filled_at: UTCDateTime
    strategies: SortedStrategies
    #: USD per unit of the quote currency of a pair not quoted in USD (``None``: priced in USD).
    quote_usd_rate: PositiveDecimal | None = None
    #: With a rate: the fill's USD value, the sum of its shares' (``quotes.base_value``).
    usd_value: NonNegativeDecimal | None = None

    @model_validator(mode="after")
    def _valued_in_usd(self) -> LedgerFill:
        if (self.quote_usd_rate is None) != (self.usd_value is None):
            raise ValueError("a fill has a USD value exactly when it has a quote_usd_rate")
        return self

    @property
    def notional(self) -> Decimal:
        """``qty * price`` (times 100 for an option contract; money precision, see
        ``snapshots.ledger.fifo.money``), in the pair's quote currency."""
        with exact_arithmetic():
            return money(value_of(self.symbol, self.qty, self.price))

    @property
    def usd_notional(self) -> Decimal:
        """``notional`` in USD: the ``usd_value`` of a pair not quoted in USD."""
        return self.notional if self.usd_value is None else self.usd_value

    @property
    def quote_qty(self) -> Decimal | None:
        """The quote coin a pair not quoted in USD moves (``quote_amount``), else ``None``."""
        return None if self.quote_usd_rate is None else quote_amount(self.qty, self.price)

    @property
    def quote_value(self) -> Decimal:
        """The USD value of the quote coin it moves (0 for a fill priced in USD)."""
        moved, rate = self.quote_qty, self.quote_usd_rate
        if moved is None or rate is None:
            return _ZERO
        with exact_arithmetic():
            return normalize(moved * rate)

    @property
    def usd_fees(self) -> Decimal:
        """``fees`` in USD (they are in the pair's quote currency)."""
        rate = self.quote_usd_rate
        if rate is None:
            return self.fees
        with exact_arithmetic():
            return normalize(self.fees * rate)


class LedgerView(Frozen):
    """The internal ledger of a period and the raw figures the integrity checks compare.

    * ``period_fills``: the period's fills by order id (sorted by order id).
    * ``net_positions``: for every symbol the account traded before ``period_end``, bought minus
      sold quantity over all strategies (0 when flat; negative after an oversell).
    """

    account_id: str
    period_start: UTCDateTime
    period_end: UTCDateTime
    internal_ledger: InternalLedger
    period_fills: dict[OrderId, LedgerFill]
    net_positions: dict[Symbol, Money]

    @model_validator(mode="after")
    def _matches_totals(self) -> LedgerView:
        if len(self.period_fills) != self.internal_ledger.total_trades:
            raise ValueError("period_fills must be the internal ledger's trades")
        return self


@ledger_arithmetic
def build_internal_ledger(
    repository: TradeLedgerRepository,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    *,
    ledger_id: str | None = None,
) -> InternalLedger:
    """The ``InternalLedger`` of ``[period_start, period_end)`` (see ``read_ledger``)."""
    return read_ledger(
        repository, account_id, period_start, period_end, ledger_id=ledger_id
    ).internal_ledger


@ledger_arithmetic
def read_ledger(
    repository: TradeLedgerRepository,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    *,
    ledger_id: str | None = None,
) -> LedgerView:
    """Read the account's attributions through ``period_end`` (GSI3) and summarise them.

    Raises ``LedgerValidationError`` for a bad period, ``IntegrityError`` when the stored
    attributions contradict each other, ``StorageUnavailableError`` when DynamoDB fails.
    """
    start, end = _period(period_start, period_end)
    keys.validate_key_part(account_id, "account_id")
    attributions: list[StrategyAttribution] = []
    for registration in repository.strategies(account_id):
        name = registration.strategy
        for attribution in repository.attributions_by_strategy(account_id, name, None, end):
            if (attribution.account_id, attribution.strategy) != (account_id, name):
                raise IntegrityError(
                    f"GSI3 of account {account_id}, strategy {name} returned order "
                    f"{attribution.order_id} of account {attribution.account_id}, "
                    f"strategy {attribution.strategy}"
                )
            attributions.append(attribution)
    return summarize_ledger(
        attributions,
        account_id=account_id,
        period_start=start,
        period_end=end,
        ledger_id=ledger_id or repository.settings.table_name,
    )


@ledger_arithmetic
def summarize_ledger(
    attributions: Iterable[StrategyAttribution],
    *,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    ledger_id: str,
) -> LedgerView:
    """Pure core of ``read_ledger``: attributions (any order) -> ``LedgerView``.

    Attributions with ``filled_at >= period_end`` are ignored; one of another account, the
    same (order, strategy) twice, or attributions of one order that disagree on symbol, side,
    price or time raise ``IntegrityError``.

    The attributions must be validated ``StrategyAttribution`` s (the repository's reads
    are). Intermediate records are not built as models where their invariants hold by
    construction (see ``group_by_order`` and ``snapshots.ledger.fifo.fifo_records``); every record
    that is part of the result is validated, and so is the ``LedgerView`` itself.
    """
    start, end = _period(period_start, period_end)
    cumulative = sorted((a for a in attributions if a.filled_at < end), key=fifo_order)
    foreign = [a.order_id for a in cumulative if a.account_id != account_id]
    if foreign:
        raise IntegrityError(
            f"attributions of other accounts in the ledger of {account_id}: {', '.join(foreign)}"
        )
    crossed = sorted({a.order_id for a in cumulative if is_crossed(a.symbol)})
    if crossed:
        # This (1.1) ledger sums every fill's qty x price as dollars: it cannot hold them.
        raise IntegrityError(
            f"the ledger of {account_id} holds fills of pairs quoted in another currency than "
            f"USD ({', '.join(crossed)}), which only the account ledger (read_account, snapshot "
            "1.8) values in USD"
        )
    symbols, quantities, in_period_fills = group_by_order(cumulative, start, end)
    try:
        books = fifo_records(cumulative)
    except LedgerValidationError as exc:
        raise IntegrityError(f"ledger of account {account_id}: {exc}") from exc

    by_strategy: dict[str, list[StrategyAttribution]] = defaultdict(list)
    for a in cumulative:
        by_strategy[a.strategy].append(a)
    books_of: dict[str, list[BookRecords]] = defaultdict(list)
    for book in books:  # sorted by (strategy, symbol)
        books_of[book.strategy].append(book)

    def in_period(at: datetime) -> bool:
        return start <= at < end

    performance: dict[str, Any] = {}
    for name, strategy_attributions in sorted(by_strategy.items()):
        strategy_books = books_of[name]
        realized = [r for b in strategy_books for r in b.realized]
        oversells = [o for b in strategy_books for o in b.oversells]
        period_metrics = _metrics(
            [a for a in strategy_attributions if in_period(a.filled_at)],
            [pnl for at, pnl in realized if in_period(at)],
            [o for o in oversells if in_period(o.filled_at)],
        )
        performance[name] = {
            **_metrics(strategy_attributions, [pnl for _, pnl in realized], oversells),
            "open_lots": sorted(
                (lot for b in strategy_books for lot in b.open_lots),
                key=lambda lot: (lot.symbol, lot.opened_at, lot.order_id),
            ),
            "period": period_metrics,
        }

    period_fills = dict(sorted(in_period_fills.items()))
    totals = period_totals(period_fills.values())
    with exact_arithmetic():
        net: dict[str, Decimal] = defaultdict(Decimal)
        for symbol, quantity in zip(symbols, quantities, strict=True):
            net[symbol] += quantity

    data = {
        "account_id": account_id,
        "period_start": start,
        "period_end": end,
        "internal_ledger": {
            "ledger_id": ledger_id,
            "total_trades": len(period_fills),
            **totals,
            "strategies_active": sorted(
                name for name, p in performance.items() if p["period"]["total_trades"]
            ),
            "strategy_performance": performance,
        },
        "period_fills": period_fills,
        "net_positions": dict(sorted(net.items())),
    }
    try:
        return LedgerView.model_validate(data)
    except ValidationError as exc:
        raise IntegrityError(
            f"ledger of account {account_id} is inconsistent: {describe_validation_error(exc)}"
        ) from exc


def _period(period_start: datetime, period_end: datetime) -> tuple[datetime, datetime]:
    start = keys.require_utc(period_start, "period_start")
    end = keys.require_utc(period_end, "period_end")
    if start >= end:
        raise LedgerValidationError(
            f"period_start {start.isoformat()} must be before period_end {end.isoformat()}"
        )
    return start, end


@ledger_arithmetic
def period_totals(fills: Iterable[LedgerFill]) -> dict[str, Decimal]:
    """The ledger's totals over distinct fills, in USD: buy and sell value (before fees) and
    fees. A fill of a pair not quoted in USD buys one coin and sells the other, so its USD value
    is on both sides (``snapshots.ledger.quotes``)."""
    listed = list(fills)
    with exact_arithmetic():
        bought = sum((f.usd_notional for f in listed if f.side is Side.BUY), _ZERO)
        sold = sum((f.usd_notional for f in listed if f.side is Side.SELL), _ZERO)
        # the quote coin of a crossed pair: sold by a buy, bought by a sell
        spent = sum((f.quote_value for f in listed if f.side is Side.BUY), _ZERO)
        received = sum((f.quote_value for f in listed if f.side is Side.SELL), _ZERO)
        return {
            "total_buy_value": money(bought + received),
            "total_sell_value": money(sold + spent),
            "total_fees": sum((f.usd_fees for f in listed), _ZERO),
        }


def _usd_value(shares: Sequence[StrategyAttribution]) -> Decimal | None:
    """A crossed fill's USD value, the sum of its shares' (``None`` for a fill in USD)."""
    rate = shares[0].quote_usd_rate
    if rate is None:
        return None
    return normalize(sum((base_value(a.qty, a.price, rate) for a in shares), _ZERO))


def group_by_order(
    attributions: Sequence[StrategyAttribution], start: datetime, end: datetime
) -> tuple[list[str], list[Decimal], dict[str, LedgerFill]]:
    """Rebuild fills from attributions; attributions of one order must agree on the fill.

    Returns the symbol and the signed quantity (bought > 0, sold < 0; not normalised) of every
    fill, in order of first appearance, and the ``LedgerFill`` s of the period (validated).
    For a fill outside the period the ``LedgerFill`` is not built: with validated attributions
    its only invariant that can fail is that the summed ``qty`` and ``fees`` fit in 38
    significant digits, which is checked, building (and failing) the ``LedgerFill`` as before
    when they do not.
    """
    # An order's first share, and its other shares if it has any: no container per fill (fewer
    # allocations, so fewer garbage collections of a heap that holds every attribution).
    firsts: dict[str, StrategyAttribution] = {}
    others: dict[str, list[StrategyAttribution]] = {}
    for a in attributions:
        if firsts.setdefault(a.order_id, a) is not a:
            more = others.get(a.order_id)
            if more is None:
                others[a.order_id] = [a]
            else:
                more.append(a)
    symbols: list[str] = []
    quantities: list[Decimal] = []
    period_fills: dict[str, LedgerFill] = {}
    with exact_arithmetic():
        for order_id, first in firsts.items():
            more = others.get(order_id)
            if more is None:
                strategies: tuple[str, ...] = (first.strategy,)
                qty = _ZERO + first.qty
                fees = _ZERO + first.fees
            else:
                shares = [first, *more]
                shape = _shape(first)
                if any(_shape(a) != shape for a in more):
                    raise IntegrityError(
                        f"attributions of order {order_id} disagree on symbol, side, price, "
                        "filled_at or quote_usd_rate"
                    )
                strategies = tuple(sorted(map(_strategy, shares)))
                if len(set(strategies)) != len(strategies):
                    raise IntegrityError(
                        f"order {order_id} is attributed to the same strategy twice"
                    )
                qty = sum(map(_qty, shares), _ZERO)
                fees = sum(map(_fees, shares), _ZERO)
            in_period = start <= first.filled_at < end
            if in_period or not (fits(qty) and fits(fees)):
                fill = LedgerFill(  # outside the period: raises, as building it always did
                    order_id=order_id,
                    symbol=first.symbol,
                    side=first.side,
                    qty=qty,
                    price=first.price,
                    fees=fees,
                    filled_at=first.filled_at,
                    strategies=strategies,
                    quote_usd_rate=first.quote_usd_rate,
                    usd_value=_usd_value([first, *(more or ())]),
                )
                if in_period:
                    period_fills[order_id] = fill
            symbols.append(first.symbol)
            quantities.append(qty if first.side is Side.BUY else -qty)
    return symbols, quantities, period_fills


def _metrics(
    attributions: Sequence[StrategyAttribution],
    realized: Sequence[Decimal],
    oversells: Sequence[Oversell],
) -> dict[str, Any]:
    """``TradeMetrics`` fields of a strategy's attributions (see the schema for meanings).

    ``attributions`` are in ``fifo_order`` (so the first and the last are the earliest and the
    latest); ``realized``: the realised P&L of each of their sells.
    """
    buys = [a for a in attributions if a.side is Side.BUY]
    sells = [a for a in attributions if a.side is Side.SELL]
    with exact_arithmetic():
        buy_value = money(sum(map(mul, map(_qty, buys), map(_price, buys)), _ZERO))
        sell_value = money(sum(map(mul, map(_qty, sells), map(_price, sells)), _ZERO))
        realized_pnl = sum(realized, _ZERO)
        fees = sum(map(_fees, attributions), _ZERO)
        metrics: dict[str, Any] = {
            "total_trades": len(attributions),
            "buy_trades": len(buys),
            "sell_trades": len(sells),
            "total_buy_value": buy_value,
            "total_sell_value": sell_value,
            "gross_pnl": sell_value - buy_value,
            "realized_pnl": realized_pnl,
            "fees": fees,
            "net_realized_pnl": realized_pnl - fees,
            "symbols_traded": sorted(set(map(_symbol, attributions))),
            "first_trade_at": attributions[0].filled_at if attributions else None,
            "last_trade_at": attributions[-1].filled_at if attributions else None,
            "oversells": sorted(oversells, key=lambda o: (o.filled_at, o.order_id, o.symbol)),
        }
    return metrics


__all__ = [
    "LedgerFill",
    "LedgerView",
    "build_internal_ledger",
    "read_ledger",
    "summarize_ledger",
]
