"""The fake broker's state: a simulated Alpaca account (its JSON shapes: ``shapes``).

``FakeAccount`` holds what ``snapshots.fake_alpaca.server`` serves: balances, positions, orders,
fee and fill activities and a daily equity series. ``FakeAccount.from_history`` replays
``TradingCycle``s (the fills of each run of a trading bot) into the account a broker would show
afterwards: FIFO positions, cash after fees, one order per fill plus unfilled ones of Alpaca's
other classes and statuses, the day's REG/TAF fee totals, crypto fees (``CFEE``) in the coin or
in dollars, and equity samples.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from itertools import pairwise
from typing import Any

from ledger_store.decimals import normalize, plain
from ledger_store.dto import (
    OrderType,
    Side,
    TradeFill,
    contract_multiplier,
    quote_amount,
    usd_pair,
    usd_price,
)
from ledger_store.events import (
    AssetFee,
    CashFlow,
    CashInLieu,
    Dividend,
    Event,
    Merger,
    OptionExercise,
    OptionExpiry,
    Split,
    SymbolChange,
)
from snapshots.fake_alpaca.shapes import (
    CENT,
    NEW_YORK,
    RATIO_PLACES,
    EquitySample,
    FakeActivity,
    FakeOrder,
    FakePosition,
    epoch_ns,
    fake_uuid,
    fee_activity,
    fill_activities,
    format_micros,
    format_ns,
    json_text,
    ratio_of,
)

#: Regulatory fees on sells, as US brokers pass them on: the SEC fee on notional and FINRA's
#: trading activity fee per share (capped), each rounded up to the cent.
SEC_FEE_RATE = Decimal("0.0000278")
TAF_PER_SHARE = Decimal("0.000166")
TAF_MAX = Decimal("8.30")
_DEFAULT_CREATED_AT = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
_NINE_PLACES = Decimal("1E-9")
_EXCHANGES = {"SPY": "ARCA", "XLE": "ARCA", "GLD": "ARCA", "TLT": "NASDAQ", "QQQ": "NASDAQ"}

OPEN_STATUSES = frozenset(
    {
        "new",
        "partially_filled",
        "accepted",
        "pending_new",
        "accepted_for_bidding",
        "held",
        "pending_cancel",
        "pending_replace",
        "pending_review",
        "calculated",
        "stopped",
        "suspended",
    }
)


@dataclass(frozen=True)
class TradingCycle:
    """One run of the trading Lambda: its correlation id, time window and fills."""

    correlation_id: str
    start: datetime
    end: datetime
    fills: tuple[TradeFill, ...]


def regulatory_fees(side: Side, qty: Decimal, price: Decimal) -> Decimal:
    """SEC + TAF on sells (rounded up to the cent, as brokers charge them); buys pay none."""
    if side is Side.BUY:
        return Decimal(0)
    sec = (qty * price * SEC_FEE_RATE).quantize(CENT, rounding=ROUND_UP)
    taf = min(qty * TAF_PER_SHARE, TAF_MAX).quantize(CENT, rounding=ROUND_UP)
    return sec + taf


@dataclass(frozen=True)
class FakeAccount:
    """The state one fake server serves."""

    account_id: str
    account_number: str
    cash: Decimal
    positions: tuple[FakePosition, ...] = ()
    orders: tuple[FakeOrder, ...] = ()
    fee_activities: tuple[FakeActivity, ...] = ()
    fill_activities: tuple[FakeActivity, ...] = ()
    #: Non-trade activities: cash movements, dividends, corporate actions.
    other_activities: tuple[FakeActivity, ...] = ()
    equity_series: tuple[EquitySample, ...] = ()
    #: Daily closes the market-data route serves, by symbol: ``((symbol, ((day, close), ...)),)``.
    benchmark_bars: tuple[tuple[str, tuple[tuple[date, Decimal], ...]], ...] = ()
    #: 1-minute crypto closes the crypto market-data route serves, by pair (``BTC/USD``):
    #: ``((pair, ((minute, close), ...)),)``; from the rates of the fills quoted in a coin.
    crypto_bars: tuple[tuple[str, tuple[tuple[datetime, Decimal], ...]], ...] = ()
    base_value: Decimal = Decimal(0)
    last_equity: Decimal | None = None
    status: str = "ACTIVE"
    currency: str = "USD"
    multiplier: Decimal = Decimal(2)
    created_at: datetime = _DEFAULT_CREATED_AT
    #: Portfolio history timestamps in milliseconds (Alpaca's documented example) for seconds.
    history_in_milliseconds: bool = False

    @property
    def long_market_value(self) -> Decimal:
        return normalize(sum((p.market_value for p in self.positions if p.qty > 0), Decimal(0)))

    @property
    def short_market_value(self) -> Decimal:
        return normalize(sum((p.market_value for p in self.positions if p.qty < 0), Decimal(0)))

    @property
    def equity(self) -> Decimal:
        return normalize(self.cash + self.long_market_value + self.short_market_value)

    def account_json(self) -> dict[str, Any]:
        long_value, short_value = self.long_market_value, self.short_market_value
        equity = self.equity
        initial = ((long_value - short_value) / 2).quantize(CENT, ROUND_UP)
        maintenance = (long_value * Decimal("0.25") - short_value * Decimal("0.3")).quantize(
            CENT, ROUND_UP
        )
        buying_power = max(equity - initial, Decimal(0)) * self.multiplier
        return {
            "id": self.account_id,
            "admin_configurations": {},
            "user_configurations": None,
            "account_number": self.account_number,
            "status": self.status,
            "crypto_status": "INACTIVE",
            "currency": self.currency,
            "buying_power": json_text(buying_power),
            "regt_buying_power": json_text(buying_power),
            "non_marginable_buying_power": json_text(max(self.cash, Decimal(0))),
            "options_buying_power": json_text(max(self.cash, Decimal(0))),
            "cash": json_text(self.cash),
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "pending_transfer_out": "0",
            "portfolio_value": json_text(equity),
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": format_ns(epoch_ns(self.created_at)),
            "trade_suspended_by_user": False,
            "multiplier": json_text(self.multiplier),
            "shorting_enabled": True,
            "equity": json_text(equity),
            "last_equity": json_text(self.last_equity if self.last_equity is not None else equity),
            "long_market_value": json_text(long_value),
            "short_market_value": json_text(short_value),
            "position_market_value": json_text(long_value - short_value),
            "initial_margin": json_text(initial),
            "maintenance_margin": json_text(maintenance),
            "last_maintenance_margin": json_text(maintenance),
            "sma": "0",
            "daytrade_count": 0,
            "balance_asof": (self.created_at.date()).isoformat(),
            "options_approved_level": 0,
            "options_trading_level": 0,
        }

    @classmethod
    def from_history(
        cls,
        cycles: Sequence[TradingCycle],
        *,
        account_id: str | None = None,
        account_number: str = "PA3FAKE00001",
        starting_cash: Decimal = Decimal(100_000),
        include_unfilled: bool = True,
        events: Sequence[Event] = (),
        history_days: int = 0,
        benchmark: str | None = None,
        activity_status: Mapping[str, str] | None = None,
        client_order_id: Callable[[TradeFill], str] | None = None,
    ) -> FakeAccount:
        """The account that ``cycles`` (``generate_history()`` output) leave behind.

        One filled order per fill, filled in one to three executions (``executions_of``: a
        FILL activity each, ``partial_fill`` then ``fill``); positions are the net quantity per
        symbol with FIFO cost basis, marked at the symbol's last fill price; each fill's fees
        are FEE activities (REG = SEC fee, TAF = FINRA fee) created the next business day;
        cash is ``starting_cash - buys + sells - fees``; one equity sample per trading day
        (00:00 UTC, left-labelled), profit/loss against ``starting_cash``. With
        ``include_unfilled`` a canceled and an open (``new``) order are added. ``events``
        (account events: deposits, dividends, splits, symbol changes, mergers) apply before
        the first cycle that starts after them, as Alpaca books them: cash moves, positions
        are reshaped, and each leaves the non-trade activity rows Alpaca would show (a split
        as two ``SSP`` rows, the old shares out and the new ones in).

        ``history_days``: a synthetic, reproducible daily history of the account before the
        first cycle (weekdays of that many calendar days, a random walk that ends at
        ``starting_cash``), as an account that traded before its ledger began would have.
        ``benchmark``: that symbol's daily closes over the history and the cycles, moving
        partly with the account (so beta and correlation mean something), for the market-data
        route. ``activity_status``: the ``status`` of an event's row by ``event_id`` (default
        ``executed``): a ``canceled`` row moves neither cash nor shares, as at Alpaca.
        ``client_order_id``: the id the bot gave each fill's order (default
        ``<correlation id>:<symbol>:<side>``).
        """
        ordered = sorted(cycles, key=lambda c: (c.start, c.correlation_id))
        fills = [
            f for c in ordered for f in sorted(c.fills, key=lambda f: (f.filled_at, f.order_id))
        ]
        if account_id is None:
            account_id = _account_uuid(fills)
        orders: list[FakeOrder] = []
        fill_rows: list[FakeActivity] = []
        fee_rows: list[FakeActivity] = []
        for index, fill in enumerate(fills):
            order = _order_of(fill, index, client_order_id)
            orders.append(order)
            fill_rows.extend(fill_activities(order, pieces=executions_of(index)))
        fee_rows.extend(daily_fee_rows([f for f in fills if not is_crypto(f.symbol)]))
        coin_fees: dict[str, FakeActivity] = {}
        for fill in fills:
            if is_crypto(fill.symbol):
                row = crypto_fee_row(fill)
                if "qty" in row.fields:
                    coin_fees[fill.order_id] = row  # taken from the coins it credited
                else:
                    fee_rows.append(row)

        cash = starting_cash
        lots: dict[str, deque[list[Decimal]]] = {}
        marks: dict[str, Decimal] = {}
        previous_marks: dict[str, Decimal] = {}
        pending_fees = deque(sorted(fee_rows, key=lambda a: (a.created_ns, a.id)))
        statuses = dict(activity_status or {})
        # As the ledger orders an instant: cash in lieu after the split it pays for.
        pending_events = deque(
            sorted(
                events,
                key=lambda e: (e.effective_at, isinstance(e, CashInLieu), e.event_id),
            )
        )
        other_rows: list[FakeActivity] = []
        series: list[EquitySample] = []

        def apply_events(until: datetime | None) -> Decimal:
            moved = Decimal(0)
            while pending_events and (until is None or pending_events[0].effective_at < until):
                event = pending_events.popleft()
                status = statuses.get(event.event_id, "executed")
                if status == "canceled":
                    other_rows.extend(_canceled_rows(event))
                    continue
                moved += _book_event(event, lots, marks, other_rows, status)
            return moved

        for cycle in ordered:
            cash += apply_events(cycle.start)
            day = cycle.start.astimezone(UTC).date()
            day_end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
            while pending_fees and pending_fees[0].created_at < day_end:
                cash += Decimal(str(pending_fees.popleft().fields["net_amount"]))
            previous_marks = dict(marks)
            for fill in sorted(cycle.fills, key=lambda f: (f.filled_at, f.order_id)):
                if fill.quote_usd_rate is None:  # a pair of two coins moves no dollars
                    cash += -fill.notional if fill.side is Side.BUY else fill.notional
                for book, qty, price in position_moves(fill):
                    _apply_signed(lots.setdefault(book, deque()), qty, price)
                    marks[book] = price
                coin_fee = coin_fees.get(fill.order_id)
                if coin_fee is not None:
                    _take_newest(
                        lots[_book_of(str(coin_fee.fields["symbol"]))],
                        -Decimal(str(coin_fee.fields["qty"])),
                        keep_cost=True,
                    )
                    other_rows.append(coin_fee)
            equity = cash + sum(
                (
                    sum((lot[0] for lot in held), Decimal(0)) * marks[s] * contract_multiplier(s)
                    for s, held in lots.items()
                ),
                Decimal(0),
            )
            profit_loss = equity - starting_cash
            series.append(
                EquitySample(
                    timestamp=datetime(day.year, day.month, day.day, tzinfo=UTC),
                    equity=normalize(equity),
                    profit_loss=normalize(profit_loss),
                    profit_loss_pct=ratio_of(profit_loss, starting_cash),
                )
            )
        while pending_fees:
            cash += Decimal(str(pending_fees.popleft().fields["net_amount"]))
        cash += apply_events(None)

        positions = []
        for symbol in sorted(lots):
            qty = sum((lot[0] for lot in lots[symbol]), Decimal(0))
            if qty == 0:
                continue
            # An option's cost counts its 100 shares a contract; its price stays per share.
            cost = sum((lot[0] * lot[1] for lot in lots[symbol]), Decimal(0))
            positions.append(
                FakePosition(
                    symbol=symbol,
                    qty=normalize(qty),
                    avg_entry_price=normalize((cost / qty).quantize(RATIO_PLACES)),
                    cost_basis=normalize(cost * contract_multiplier(symbol)),
                    current_price=marks[symbol],
                    lastday_price=previous_marks.get(symbol, marks[symbol]),
                    exchange=_EXCHANGES.get(symbol, "NASDAQ"),
                )
            )
        if include_unfilled and fills:
            orders.extend(_unfilled_orders(account_id, ordered, fills))
        last_equity = Decimal(str(series[-1].equity)) if series else None
        if history_days and series:
            series[:0] = _prior_history(
                account_id, series[0].timestamp, history_days, starting_cash
            )
        bars: tuple[tuple[str, tuple[tuple[date, Decimal], ...]], ...] = ()
        if benchmark is not None:
            flows: dict[date, Decimal] = {}
            for event in events:
                if isinstance(event, CashFlow):
                    day = event.effective_at.date()
                    flows[day] = flows.get(day, Decimal(0)) + event.amount
            bars = ((benchmark, _benchmark_closes(benchmark, series, flows)),)
        created = ordered[0].start - timedelta(days=30) if ordered else _DEFAULT_CREATED_AT
        if history_days and series:
            created = min(created, series[0].timestamp - timedelta(days=1))
        return cls(
            account_id=account_id,
            account_number=account_number,
            cash=normalize(cash),
            positions=tuple(positions),
            orders=tuple(orders),
            fee_activities=tuple(fee_rows),
            fill_activities=tuple(fill_rows),
            other_activities=tuple(other_rows),
            equity_series=tuple(series),
            base_value=starting_cash,
            last_equity=last_equity,
            created_at=created,
            benchmark_bars=bars,
            crypto_bars=_quote_bars(fills),
        )


def _quote_bars(
    fills: Sequence[TradeFill],
) -> tuple[tuple[str, tuple[tuple[datetime, Decimal], ...]], ...]:
    """A 1-minute bar of each quote coin at the minute of each fill quoted in it, closing at
    the fill's ``quote_usd_rate``: what Alpaca's crypto bars priced it at (the last fill of a
    minute decides its close)."""
    closes: dict[str, dict[datetime, Decimal]] = {}
    for fill in fills:
        if fill.quote_usd_rate is not None:
            pair = usd_pair(fill.symbol.split("/", 1)[1])
            at = fill.filled_at.replace(second=0, microsecond=0)
            closes.setdefault(pair, {})[at] = fill.quote_usd_rate
    return tuple((pair, tuple(sorted(bars.items()))) for pair, bars in sorted(closes.items()))


def _prior_history(
    account_id: str, first: datetime, days: int, starting_cash: Decimal
) -> list[EquitySample]:
    """Weekday samples of the ``days`` calendar days before ``first``: a seeded random walk
    (about 9 % a year, 14 % volatility) that arrives at ``starting_cash`` the day before."""
    rng = random.Random(f"history:{account_id}")
    stamps = [first - timedelta(days=k) for k in range(days, 0, -1)]
    stamps = [t for t in stamps if t.weekday() < 5]
    equity = starting_cash
    values: list[Decimal] = []
    for _ in stamps:  # walk backwards from the starting cash
        values.append(equity)
        move = Decimal(str(round(rng.gauss(0.00035, 0.0088), 6)))
        equity = (equity / (1 + move)).quantize(CENT)
    values.reverse()
    return [
        EquitySample(
            timestamp=t,
            equity=v,
            profit_loss=normalize(v - starting_cash),
            profit_loss_pct=ratio_of(v - starting_cash, starting_cash),
        )
        for t, v in zip(stamps, values, strict=True)
    ]


def _benchmark_closes(
    symbol: str, series: Sequence[EquitySample], flows: Mapping[date, Decimal]
) -> tuple[tuple[date, Decimal], ...]:
    """Daily closes that move with the account's daily returns (0.6 of them, deposits and
    withdrawals taken out) plus noise."""
    rng = random.Random(f"benchmark:{symbol}")
    close = Decimal(500)
    closes = [(series[0].timestamp.date(), close)] if series else []
    for before, after in pairwise(series):
        previous = Decimal(str(before.equity))
        day = after.timestamp.date()
        flow = sum((a for d, a in flows.items() if before.timestamp.date() < d <= day), Decimal(0))
        start = previous + flow
        account = Decimal(str(after.equity)) / start - 1 if start > 0 else Decimal(0)
        noise = Decimal(str(round(rng.gauss(0.0001, 0.006), 6)))
        close = (close * (1 + account * Decimal("0.6") + noise)).quantize(CENT)
        closes.append((after.timestamp.date(), close))
    return tuple(closes)


def _canceled_rows(event: Event) -> list[FakeActivity]:
    """The rows of a cash flow or dividend Alpaca posted and canceled, ``canceled`` (a corporate
    action writes its rows from the shares held, and a canceled one moved none: no rows)."""
    rows: list[FakeActivity] = []
    _book_event(event, {}, {}, rows, "canceled")
    return rows


def _book_event(
    event: Event,
    lots: dict[str, deque[list[Decimal]]],
    marks: dict[str, Decimal],
    rows: list[FakeActivity],
    status: str = "executed",
) -> Decimal:
    """Apply one account event to the fake account; return the cash it moved."""
    at = event.effective_at
    base = {
        "date": at.astimezone(NEW_YORK).date().isoformat(),
        "description": event.description or event.kind.value,
        "status": status,
    }
    if isinstance(event, CashFlow):
        kind = event.source or ("CSD" if event.amount > 0 else "CSW")
        rows.append(
            FakeActivity(
                kind, at, f"{event.event_id}", {**base, "net_amount": json_text(event.amount)}
            )
        )
        return event.amount
    if isinstance(event, Dividend):
        fields = {**base, "symbol": event.symbol, "net_amount": json_text(event.amount)}
        if event.qty is not None:
            fields["qty"] = json_text(event.qty)
        if event.per_share_amount is not None:
            fields["per_share_amount"] = json_text(event.per_share_amount)
        rows.append(FakeActivity(event.source or "DIV", at, event.event_id, fields))
        return event.amount
    if isinstance(event, AssetFee):
        return _book_asset_fee(event, lots, base, rows)
    if isinstance(event, OptionExpiry):
        # The contracts go, worthless (an OPEXP row: the position's change, no cash).
        gone = sum((lot[0] for lot in lots.pop(event.symbol, deque())), Decimal(0))
        fields = {**base, "symbol": event.symbol, "qty": json_text(-gone), "net_amount": "0"}
        rows.append(FakeActivity("OPEXP", at, event.event_id, fields))
        return Decimal(0)
    if isinstance(event, OptionExercise):
        return _book_exercise(event, lots, marks, base, rows)
    if isinstance(event, CashInLieu):
        # The fraction of a share a split left, sold for the cash (an SSP cash row).
        held = lots.get(event.symbol, deque())
        _take_newest(held, sum((lot[0] for lot in held), Decimal(0)) % 1, keep_cost=False)
        fields = {**base, "symbol": event.symbol, "net_amount": json_text(event.amount)}
        rows.append(FakeActivity("SSP", at, event.event_id, fields))
        return event.amount
    held = lots.pop(event.symbol, deque())
    old_qty = sum((lot[0] for lot in held), Decimal(0))
    new, old = (event.ratio_new, event.ratio_old) if isinstance(event, Split | Merger) else (1, 1)
    ratio = Decimal(new) / Decimal(old)
    target = event.symbol if isinstance(event, Split) else event.new_symbol
    # Alpaca rounds the position's new quantity once, half-up to 9 places; the lots here
    # (the fake's own average price) carry the exact shares, the last one the rounding.
    total = normalize((old_qty * new / old).quantize(_NINE_PLACES, ROUND_HALF_UP))
    for lot in held:
        lot[0] = normalize((lot[0] * new / old).quantize(_NINE_PLACES, ROUND_DOWN))
        # A cash-only takeover (no new shares) leaves nothing to price.
        lot[1] = normalize((lot[1] * old / new).quantize(RATIO_PLACES)) if new else lot[1]
    if not new:
        held = deque()
    if held:
        held[-1][0] += total - sum((lot[0] for lot in held), Decimal(0))
    lots.setdefault(target, deque()).extend(held)
    if event.symbol in marks:
        mark = marks.pop(event.symbol)
        if ratio:
            marks[target] = normalize((mark / ratio).quantize(CENT))
    if not old_qty:
        return Decimal(0)
    new_qty = normalize(sum((lot[0] for lot in held), Decimal(0)))
    if isinstance(event, Split):
        for key, qty in (("out", -old_qty), ("in", new_qty)):
            fields = {**base, "symbol": event.symbol, "qty": json_text(qty)}
            rows.append(FakeActivity("SSP", at, f"{event.event_id}:{key}", fields))
        return Decimal(0)
    cash = normalize(old_qty * event.cash_per_share) if isinstance(event, Merger) else Decimal(0)
    kind = "SC" if isinstance(event, SymbolChange) else "MA"
    fields = {**base, "symbol": event.symbol, "qty": json_text(-old_qty)}
    if cash:
        fields["net_amount"] = json_text(cash)
    rows.append(FakeActivity(kind, at, event.event_id, fields))
    return cash


def _book_exercise(
    event: OptionExercise,
    lots: dict[str, deque[list[Decimal]]],
    marks: dict[str, Decimal],
    base: Mapping[str, str],
    rows: list[FakeActivity],
) -> Decimal:
    """Contracts exercised or assigned, as Alpaca posts them: the contract row (``OPEXC`` or
    ``OPASN``: the position's change, no cash) and an ``OPTRD`` row of the shares delivered at
    the strike (the cash). The shares join the position at the strike; the premium stays out
    of Alpaca's cost (the ledger folds it in)."""
    at = event.effective_at
    contracts = lots.setdefault(event.symbol, deque())
    _apply_signed(contracts, event.qty, Decimal(0))
    if not contracts:
        lots.pop(event.symbol)
        marks.pop(event.symbol, None)
    _apply_signed(lots.setdefault(event.underlying, deque()), event.shares, event.price)
    marks.setdefault(event.underlying, event.price)
    kind = event.source or ("OPEXC" if event.exercised else "OPASN")
    fields = {**base, "symbol": event.symbol, "qty": json_text(event.qty), "net_amount": "0"}
    fields["description"] = "Option Exercise" if event.exercised else "Option Assignment"
    rows.append(FakeActivity(kind, at, event.event_id, fields))
    cash = normalize(-event.shares * event.price)
    trade = {
        **base,
        "description": "Option Trade",
        "symbol": event.underlying,
        "qty": json_text(event.shares),
        "price": json_text(event.price),
        "net_amount": json_text(cash),
    }
    rows.append(FakeActivity("OPTRD", at, f"{event.event_id}:shares", trade))
    return cash


def _book_asset_fee(
    event: AssetFee,
    lots: dict[str, deque[list[Decimal]]],
    base: Mapping[str, str],
    rows: list[FakeActivity],
) -> Decimal:
    """A coin fee as Alpaca posts it (``CFEE``, Non USD): the pair without its slash, the coin
    taken as a negative ``qty``, no cash; the coin leaves the newest lots first."""
    pair = event.symbol.replace("/", "")
    held = next((book for symbol, book in lots.items() if symbol.replace("/", "") == pair), None)
    if held is not None:
        _take_newest(held, event.qty, keep_cost=True)
    fields = {
        **base,
        "description": "Coin Pair Transaction Fee (Non USD)",
        "symbol": pair,
        "qty": json_text(-event.qty),
        "net_amount": "0",
        "currency": "USD",
    }
    if event.price is not None:
        fields["price"] = json_text(event.price)
    rows.append(FakeActivity("CFEE", event.effective_at, event.event_id, fields))
    return Decimal(0)


def executions_of(index: int) -> int:
    """How many executions fill the ``index``-th order of a history: every third in two,
    every seventh in three (as its quantity allows), the rest in one."""
    return 3 if index % 7 == 3 else 2 if index % 3 == 1 else 1


def _account_uuid(fills: Sequence[TradeFill]) -> str:
    for fill in fills:
        try:
            return str(uuid.UUID(fill.account_id))
        except ValueError:
            return fake_uuid("account", fill.account_id)
    return fake_uuid("account", "empty")


def _order_of(
    fill: TradeFill, index: int, client_order_id: Callable[[TradeFill], str] | None = None
) -> FakeOrder:
    side = "buy" if fill.side is Side.BUY else "sell"
    limit_price = None
    if fill.order_type is OrderType.LIMIT:
        quote = fill.ask_at_fill if fill.side is Side.BUY else fill.bid_at_fill
        limit_price = quote if quote is not None else fill.price
    return FakeOrder(
        id=fill.order_id,
        client_order_id=(
            client_order_id(fill)
            if client_order_id is not None
            else f"{fill.correlation_id}:{fill.symbol}:{side}"
        ),
        symbol=fill.symbol,
        side=side,
        qty=fill.qty,
        submitted_at=fill.filled_at - timedelta(milliseconds=180 + (index * 37) % 400),
        submitted_nanos=(index * 389) % 1000,
        status="filled",
        type=fill.order_type.value,
        filled_qty=fill.qty,
        filled_avg_price=fill.price,
        filled_at=fill.filled_at,
        limit_price=limit_price,
    )


#: When Alpaca posts a day's FEE rows: just after the next UTC midnight (CAT at 00:06, REG
#: and TAF at 00:17 in Alpaca's paper rows), each a daily total, dated and identified by the
#: trade day.
_FEE_POSTED_AFTER = {
    "CAT": timedelta(minutes=6, seconds=1, microseconds=682153),
    "REG": timedelta(minutes=17, seconds=5, microseconds=448916),
    "TAF": timedelta(minutes=17, seconds=5, microseconds=448916),
}


def daily_fee_rows(fills: Sequence[TradeFill]) -> list[FakeActivity]:
    """Alpaca's FEE rows for equity fills: a CAT (consolidated audit trail), a REG (SEC, on the
    sells' proceeds) and a TAF (FINRA, per share sold) row per trade day (New York), without
    symbol or quantity, each the day's total. A fill's own ``fees`` are authoritative: its SEC
    part is the SEC fee on its notional (rounded up to the cent, at most its fees), the rest
    is TAF, of which a cent goes to CAT on a day whose TAF is at least two."""
    days: dict[date, dict[str, list[Decimal]]] = {}
    for fill in fills:
        if fill.fees <= 0:
            continue
        sec = Decimal(0)
        if fill.side is Side.SELL:
            sec = min((fill.notional * SEC_FEE_RATE).quantize(CENT, ROUND_UP), fill.fees)
        day = fill.filled_at.astimezone(NEW_YORK).date()
        parts = days.setdefault(day, {"REG": [], "TAF": [], "proceeds": [], "shares": []})
        parts["REG"].append(sec)
        parts["TAF"].append(fill.fees - sec)
        if fill.side is Side.SELL:
            parts["proceeds"].append(fill.notional)
            parts["shares"].append(fill.qty)
    rows = []
    for day, parts in sorted(days.items()):
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        proceeds, shares = sum(parts["proceeds"], Decimal(0)), sum(parts["shares"], Decimal(0))
        trades = len(parts["REG"])
        parts["CAT"] = [CENT] if sum(parts["TAF"], Decimal(0)) >= 2 * CENT else []
        parts["TAF"] += [-c for c in parts["CAT"]]
        for sub_type, text in (
            ("CAT", f"CAT fee for proceed of {trades} trades on {day}"),
            ("REG", f"REG fee for proceed of ${plain(proceeds.quantize(CENT))} on {day}"),
            (
                "TAF",
                f"TAF fee for proceed of {plain(shares)} shares ({len(parts['shares'])} "
                f"trades) on {day}",
            ),
        ):
            amount = sum(parts[sub_type], Decimal(0))
            if amount <= 0:
                continue
            row = fee_activity(
                sub_type=sub_type,
                created_at=midnight + _FEE_POSTED_AFTER[sub_type],
                amount=amount,
                description=text,
                key=f"fee:{sub_type}:{day}",
                trade_day=day,
            )
            rows.append(row)
    return rows


#: Alpaca's crypto fee (its lowest volume tier, the taker rate): taken in the coin bought, or
#: in dollars from a sale's proceeds.
CRYPTO_FEE_RATE = Decimal("0.0025")


def is_crypto(symbol: str) -> bool:
    return "/" in symbol


def position_moves(fill: TradeFill) -> list[tuple[str, Decimal, Decimal]]:
    """What ``fill`` does to Alpaca's positions: ``(book, signed qty, USD price)`` each. A pair
    of two coins (``ETH/BTC``, with its ``quote_usd_rate``) moves both: the base coin's
    position by qty at ``price * rate`` and the quote coin's the other way by ``qty * price``
    at the rate (Alpaca holds crypto per coin, valued in USD: ``BTCUSD``)."""
    signed = fill.qty if fill.side is Side.BUY else -fill.qty
    rate = fill.quote_usd_rate
    if rate is None:
        return [(fill.symbol, signed, fill.price)]
    base, quote = fill.symbol.split("/", 1)
    moved = quote_amount(fill.qty, fill.price)  # to a coin position's 9 places
    return [
        (usd_pair(base), signed, usd_price(fill.price, rate)),
        (usd_pair(quote), -moved if fill.side is Side.BUY else moved, rate),
    ]


def _book_of(position_symbol: str) -> str:
    """The book of a coin fee's symbol, Alpaca's position form: ``BTCUSD`` -> ``BTC/USD``."""
    return usd_pair(position_symbol.removesuffix("USD"))


def crypto_fee_row(fill: TradeFill) -> FakeActivity:
    """The ``CFEE`` row Alpaca posts for a crypto fill, charged on what the fill credits: a
    buy pays in the coin bought (``qty`` < 0, ``net_amount`` 0, the coin's position symbol
    ``ETHUSD``, its USD price), a sale for dollars in dollars, and a sale of a pair of two
    coins (``ETH/BTC``) in the quote coin it received (``BTCUSD``)."""
    day = fill.filled_at.astimezone(NEW_YORK).date()
    fields: dict[str, Any] = {
        "date": day.isoformat(),
        "created_at": format_micros(fill.filled_at),
        "status": "executed",
        "currency": "USD",
    }
    base, quote = fill.symbol.split("/", 1)
    credited = None
    if fill.side is Side.BUY:
        rate = fill.quote_usd_rate
        credited = (base, fill.qty, fill.price if rate is None else usd_price(fill.price, rate))
    elif fill.quote_usd_rate is not None:
        credited = (quote, quote_amount(fill.qty, fill.price), fill.quote_usd_rate)
    if credited is not None:
        coin, received, price_in_usd = credited
        coins = normalize((received * CRYPTO_FEE_RATE).quantize(_NINE_PLACES, ROUND_HALF_UP))
        fields |= {
            "net_amount": "0",
            "description": "Coin Pair Transaction Fee (Non USD)",
            "symbol": f"{coin}USD",
            "qty": json_text(-coins),
            "price": json_text(normalize(price_in_usd)),
        }
    else:
        dollars = (fill.notional * CRYPTO_FEE_RATE).quantize(CENT, ROUND_HALF_UP)
        fields |= {
            "net_amount": json_text(-dollars),
            "description": "Coin Pair Transaction Fee (USD)",
        }
    return FakeActivity(
        "CFEE",
        fill.filled_at,
        f"cfee:{fill.order_id}",
        fields,
        given_id=f"{day:%Y%m%d}000000000::{fake_uuid('cfee', fill.order_id)}",
    )


def _take_newest(held: deque[list[Decimal]], qty: Decimal, *, keep_cost: bool) -> None:
    """``qty`` leaves the newest lots first: a coin fee (``keep_cost``: the cost stays with
    what is left) or a fraction sold for cash in lieu (the price stays)."""
    for lot in reversed(held):
        taken = min(qty, lot[0])
        if taken <= 0:
            break
        cost = lot[0] * lot[1]
        lot[0] -= taken
        qty -= taken
        if keep_cost and lot[0] > 0:
            lot[1] = normalize((cost / lot[0]).quantize(RATIO_PLACES))
    kept = [lot for lot in held if lot[0] > 0]
    held.clear()
    held.extend(kept)


def _apply_signed(held: deque[list[Decimal]], qty: Decimal, price: Decimal) -> None:
    """``qty`` (bought > 0, sold < 0) first closes lots of the other side (oldest first), and
    what is left opens a lot on its own side at ``price`` (negative: a short)."""
    sign = 1 if qty > 0 else -1
    remaining = abs(qty)
    while remaining > 0 and held and held[0][0] * sign < 0:
        lot = held[0]
        taken = min(abs(lot[0]), remaining)
        lot[0] += taken * sign
        remaining -= taken
        if lot[0] == 0:
            held.popleft()
    if remaining > 0:
        held.append([remaining * sign, price])


def _unfilled_orders(
    account_id: str, cycles: Sequence[TradingCycle], fills: Sequence[TradeFill]
) -> list[FakeOrder]:
    """Orders that filled nothing, of the classes and statuses Alpaca's real bodies show: a
    canceled limit buy, an open limit sell, a bracket waiting with its two held exits, a
    limit order replaced by another (``replaced_by``/``replaces``; the replacement written with
    JSON numbers), a notional buy Alpaca has not routed yet (``pending_new``) and a canceled two-leg
    option combination (``mleg``: the parent without symbol, side or asset)."""
    first, last = cycles[min(1, len(cycles) - 1)], cycles[-1]
    symbol = fills[0].symbol
    price = fills[-1].price
    canceled_submitted = first.start + timedelta(minutes=35, microseconds=123)
    late = last.end - timedelta(minutes=5, microseconds=77)

    def order(key: str, **fields: Any) -> FakeOrder:
        return FakeOrder(
            id=fake_uuid(account_id, key),
            client_order_id=f"{last.correlation_id}:{key}",
            **fields,
        )

    take_profit, stop_loss = (
        (price * Decimal("1.1")).quantize(CENT),
        (price * Decimal("0.9")).quantize(CENT),
    )
    exits = tuple(
        order(
            f"bracket-{kind}",
            symbol=symbol,
            side="sell",
            qty=Decimal(2),
            submitted_at=late,
            status="held",
            type=kind,
            time_in_force="gtc",
            order_class="bracket",
            limit_price=take_profit if kind == "limit" else None,
            stop_price=stop_loss if kind == "stop" else None,
        )
        for kind in ("limit", "stop")
    )
    replacement = fake_uuid(account_id, "replacement")
    option = fills[0].symbol.split("/")[0][:6]
    expiry = (last.end + timedelta(days=30)).strftime("%y%m%d")
    strike = f"{min(int(price * 1000), 99_999_999):08d}"
    legs = tuple(
        order(
            f"combo-{right}",
            symbol=f"{option}{expiry}{right}{strike}",
            side=side,
            qty=Decimal(1),
            submitted_at=late,
            status="canceled",
            type="limit",
            order_class="mleg",
            ratio_qty=Decimal(1),
            canceled_at=late + timedelta(seconds=40),
        )
        for right, side in (("C", "buy"), ("P", "buy"))
    )
    return [
        FakeOrder(
            id=fake_uuid(account_id, "canceled"),
            client_order_id=f"{first.correlation_id}:{symbol}:buy:canceled",
            symbol=symbol,
            side="buy",
            qty=Decimal(10),
            submitted_at=canceled_submitted,
            submitted_nanos=250,
            status="canceled",
            type="limit",
            limit_price=(fills[0].price * Decimal("0.95")).quantize(CENT),
            canceled_at=canceled_submitted + timedelta(minutes=30),
        ),
        FakeOrder(
            id=fake_uuid(account_id, "open"),
            client_order_id=f"{last.correlation_id}:{fills[-1].symbol}:sell:open",
            symbol=fills[-1].symbol,
            side="sell",
            qty=Decimal(5),
            submitted_at=late,
            submitted_nanos=500,
            status="new",
            type="limit",
            time_in_force="gtc",
            limit_price=(price * Decimal("1.05")).quantize(CENT),
        ),
        order(
            "bracket",
            symbol=symbol,
            side="buy",
            qty=Decimal(2),
            submitted_at=late + timedelta(seconds=1),
            status="new",
            type="limit",
            time_in_force="gtc",
            order_class="bracket",
            limit_price=(price * Decimal("0.97")).quantize(CENT),
            legs=exits,
        ),
        order(
            "replaced",
            symbol=symbol,
            side="buy",
            qty=Decimal(3),
            submitted_at=late + timedelta(seconds=2),
            status="replaced",
            type="limit",
            limit_price=(price * Decimal("0.96")).quantize(CENT),
            replaced_by=replacement,
            replaced_at=late + timedelta(seconds=9),
        ),
        FakeOrder(
            id=replacement,
            client_order_id=f"{last.correlation_id}:replacement",
            symbol=symbol,
            side="buy",
            qty=Decimal(3),
            submitted_at=late + timedelta(seconds=9),
            status="accepted",
            type="limit",
            limit_price=(price * Decimal("0.965")).quantize(CENT),
            replaces=fake_uuid(account_id, "replaced"),
            order_class="simple",
            numbers=True,
        ),
        order(
            "notional",
            symbol=symbol,
            side="buy",
            qty=None,
            notional=Decimal(250),
            submitted_at=late + timedelta(seconds=12),
            status="pending_new",
        ),
        order(
            "combo",
            symbol="",
            side="",
            qty=Decimal(1),
            submitted_at=late + timedelta(seconds=15),
            status="canceled",
            type="limit",
            order_class="mleg",
            limit_price=Decimal("1.25"),
            canceled_at=late + timedelta(seconds=40),
            legs=legs,
        ),
    ]


def bulk_orders(
    count: int,
    first_submitted: datetime,
    *,
    per_instant: int = 1,
    spacing: timedelta = timedelta(seconds=7),
    symbol: str = "SPY",
    price: Decimal = Decimal("500.25"),
    key: str = "bulk",
    submitted_nanos: int | None = None,
) -> tuple[FakeOrder, ...]:
    """``count`` filled orders, ``per_instant`` of them sharing each submission instant.

    Sub-microsecond digits vary per instant unless ``submitted_nanos`` fixes them.
    """
    orders = []
    for index in range(count):
        submitted = first_submitted + spacing * (index // per_instant)
        side = "buy" if index % 2 == 0 else "sell"
        orders.append(
            FakeOrder(
                id=fake_uuid("order", key, index),
                client_order_id=f"{key}-{index:06d}",
                symbol=symbol,
                side=side,
                qty=Decimal(1 + index % 5),
                submitted_at=submitted,
                submitted_nanos=(
                    (index // per_instant * 7) % 1000
                    if submitted_nanos is None
                    else submitted_nanos
                ),
                filled_qty=Decimal(1 + index % 5),
                filled_avg_price=price,
                filled_at=submitted + timedelta(milliseconds=150),
            )
        )
    return tuple(orders)


def bulk_fee_activities(
    count: int,
    first_created: datetime,
    *,
    spacing: timedelta = timedelta(seconds=30),
    amount: Decimal = Decimal("0.01"),
    key: str = "bulk",
) -> tuple[FakeActivity, ...]:
    """``count`` FEE activities (alternately REG and TAF), one every ``spacing``."""
    return tuple(
        fee_activity(
            sub_type="REG" if index % 2 == 0 else "TAF",
            created_at=first_created + spacing * index,
            amount=amount,
            symbol="SPY",
            qty=Decimal(1),
            key=f"{key}:{index}",
        )
        for index in range(count)
    )
