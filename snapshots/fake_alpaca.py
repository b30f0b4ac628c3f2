"""A fake Alpaca Trading API server for tests and local runs (stdlib only).

The real alpaca-py ``TradingClient`` is pointed at it (``url_override=server.base_url`` or
``APCA_API_BASE_URL``). It serves, under ``/v2``, what the snapshot job reads, following the
contract in ``shared/reference/alpaca-rest-contract.md``:

* ``GET /v2/account``, ``GET /v2/positions``;
* ``GET /v2/orders`` with ``status`` (open/closed/all, default open), ``limit`` (default 50,
  capped at 500), ``after``/``until`` (exclusive bounds on ``submitted_at``), ``direction``
  (default desc), ``nested``, ``symbols``, ``side``; ``GET /v2/orders/{id}``;
* ``GET /v2/account/activities/{TYPE}`` and ``GET /v2/account/activities?activity_types=A,B``
  with ``after``/``until`` (exclusive, on creation time), ``date``, ``direction`` (default
  desc), ``page_size`` (default and maximum 100) and ``page_token`` (the id of the last row
  seen; ids look like ``<yyyymmddhhmmssmmm>::<uuid>`` and rows are ordered by id);
* ``GET /v2/account/portfolio/history`` with ``period``, ``timeframe`` (``1D`` only),
  ``start``, ``end``: parallel arrays of JSON numbers, as Alpaca sends them.

Money and quantities are JSON strings (numbers only in portfolio history), timestamps carry 9
fractional digits, errors are ``{"code": int, "message": str}``, every response carries
``X-Ratelimit-Limit/Remaining/Reset``. Requests need ``APCA-API-KEY-ID`` and
``APCA-API-SECRET-KEY``: missing or wrong keys get 401.

Tests steer it with ``inject`` (the next N requests under a path prefix answer with a status,
a body, and/or only after a delay) and read the request log (``requests``). A delayed request
is released at once when the server stops, so stopping never waits for a "hanging" request.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ledger_store.decimals import normalize, plain
from ledger_store.dto import OrderType, Side, TradeFill

from .demo_history import CENT, SEC_FEE_RATE, TradingCycle

DEFAULT_KEY_ID = "FAKEALPACAKEYID"
DEFAULT_SECRET_KEY = "fake-alpaca-secret-key"
#: Alpaca's documented rate limit (requests per minute per account).
RATE_LIMIT_PER_MINUTE = 200
ORDERS_DEFAULT_LIMIT = 50
ORDERS_MAX_LIMIT = 500
ACTIVITIES_MAX_PAGE_SIZE = 100

_DEFAULT_CREATED_AT = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
_ID_NAMESPACE = uuid.UUID("6b0f3e0a-2f7d-4a53-8d8e-1c4b5a6f7e80")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_PER_SECOND = 1_000_000_000
_RATIO_PLACES = Decimal("1E-10")
_EXCHANGES = {"SPY": "ARCA", "XLE": "ARCA", "GLD": "ARCA", "TLT": "NASDAQ", "QQQ": "NASDAQ"}

_OPEN_STATUSES = frozenset(
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
_ERROR_CODES = {
    400: (40010000, "bad request"),
    401: (40110000, "request is not authorized"),
    403: (40310000, "forbidden"),
    404: (40410000, "resource not found"),
    405: (40510000, "method not allowed"),
    422: (42210000, "unprocessable entity"),
    429: (42910000, "rate limit exceeded"),
    500: (50010000, "internal server error"),
    502: (50210000, "bad gateway"),
    503: (50310000, "service unavailable"),
    504: (50410000, "gateway timeout"),
}


# Time and number helpers ---------------------------------------------------------------------


def epoch_ns(moment: datetime, nanos: int = 0) -> int:
    """Nanoseconds since the epoch of an aware datetime plus ``nanos`` (0-999)."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"naive datetime {moment.isoformat()}")
    if not 0 <= nanos < 1000:
        raise ValueError(f"nanos must be 0-999, got {nanos}")
    delta = moment - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return seconds * _NS_PER_SECOND + delta.microseconds * 1000 + nanos


def format_ns(stamp: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.fffffffffZ``: Alpaca's 9-fractional-digit UTC form."""
    seconds, fraction = divmod(stamp, _NS_PER_SECOND)
    moment = _EPOCH + timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


_QUERY_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<tz>Z|z|[+\- ]\d{2}:?\d{2})?)?$"
)


def parse_query_time(text: str) -> int:
    """An RFC 3339 timestamp or a date from a query string, as epoch nanoseconds (UTC).

    Dates mean midnight UTC; a time without an offset is read as UTC; a ``+`` that arrived
    unescaped (decoded to a space) is read as ``+``.
    """
    match = _QUERY_TIME.fullmatch(text.strip())
    if match is None:
        raise _Failure(422, f"invalid timestamp {text!r}")
    day = date.fromisoformat(match["date"])
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if match["h"] is not None:
        moment += timedelta(
            hours=int(match["h"]), minutes=int(match["m"]), seconds=int(match["s"] or 0)
        )
    tz = match["tz"]
    if tz and tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    fraction = int((match["f"] or "").ljust(9, "0"))
    return epoch_ns(moment) + fraction


def _text(value: Decimal) -> str:
    return plain(value)


def _optional_text(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    if denominator == 0:
        return Decimal(0)
    return normalize((numerator / denominator).quantize(_RATIO_PLACES, ROUND_HALF_EVEN))


def _fake_uuid(*parts: object) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, ":".join(str(p) for p in parts)))


def asset_id(symbol: str) -> str:
    """A stable fake asset id for ``symbol``."""
    return _fake_uuid("asset", symbol)


def next_business_day(day: date) -> date:
    current = day + timedelta(days=1)
    while current.weekday() >= 5:
        current += timedelta(days=1)
    return current


# Account state -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeOrder:
    """One order. ``submitted_nanos`` adds sub-microsecond digits to ``submitted_at``."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    submitted_at: datetime
    status: str = "filled"
    type: str = "market"
    time_in_force: str = "day"
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    limit_price: Decimal | None = None
    submitted_nanos: int = 0

    @property
    def submitted_ns(self) -> int:
        return epoch_ns(self.submitted_at, self.submitted_nanos)

    def to_json(self) -> dict[str, Any]:
        submitted = format_ns(self.submitted_ns)
        filled = None if self.filled_at is None else format_ns(epoch_ns(self.filled_at))
        canceled = None if self.canceled_at is None else format_ns(epoch_ns(self.canceled_at))
        updated = filled or canceled or submitted
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": submitted,
            "updated_at": updated,
            "submitted_at": submitted,
            "filled_at": filled,
            "expired_at": None,
            "canceled_at": canceled,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": asset_id(self.symbol),
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": _text(self.qty),
            "filled_qty": _text(self.filled_qty),
            "filled_avg_price": _optional_text(self.filled_avg_price),
            "order_class": "",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": "buy_to_open" if self.side == "buy" else "sell_to_close",
            "time_in_force": self.time_in_force,
            "limit_price": _optional_text(self.limit_price),
            "stop_price": None,
            "status": self.status,
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "subtag": None,
            "source": None,
            "expires_at": None,
        }


@dataclass(frozen=True)
class FakePosition:
    """One open position; the derived figures (market value, P/L) are computed from these."""

    symbol: str
    qty: Decimal
    avg_entry_price: Decimal
    cost_basis: Decimal
    current_price: Decimal
    lastday_price: Decimal
    exchange: str = "NASDAQ"

    @property
    def market_value(self) -> Decimal:
        return normalize(self.qty * self.current_price)

    def to_json(self) -> dict[str, Any]:
        unrealized = self.market_value - self.cost_basis
        intraday = self.qty * (self.current_price - self.lastday_price)
        change = _ratio(self.current_price - self.lastday_price, self.lastday_price)
        return {
            "asset_id": asset_id(self.symbol),
            "symbol": self.symbol,
            "exchange": self.exchange,
            "asset_class": "us_equity",
            "asset_marginable": True,
            "qty": _text(self.qty),
            "qty_available": _text(self.qty),
            "avg_entry_price": _text(self.avg_entry_price),
            "side": "long" if self.qty >= 0 else "short",
            "market_value": _text(self.market_value),
            "cost_basis": _text(self.cost_basis),
            "unrealized_pl": _text(unrealized),
            "unrealized_plpc": _text(_ratio(unrealized, abs(self.cost_basis))),
            "unrealized_intraday_pl": _text(intraday),
            "unrealized_intraday_plpc": _text(change if self.qty >= 0 else -change),
            "current_price": _text(self.current_price),
            "lastday_price": _text(self.lastday_price),
            "change_today": _text(change),
        }


@dataclass(frozen=True)
class FakeActivity:
    """One account activity. ``fields`` are the type-specific JSON fields (strings)."""

    activity_type: str
    created_at: datetime
    key: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    created_nanos: int = 0

    @property
    def created_ns(self) -> int:
        return epoch_ns(self.created_at, self.created_nanos)

    @property
    def id(self) -> str:
        utc = self.created_at.astimezone(UTC)
        stamp = utc.strftime("%Y%m%d%H%M%S") + f"{utc.microsecond // 1000:03d}"
        return f"{stamp}::{_fake_uuid('activity', self.key)}"

    def to_json(self, account_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": account_id,
            "activity_type": self.activity_type,
            **self.fields,
        }


def fee_activity(
    *,
    sub_type: str,
    created_at: datetime,
    amount: Decimal,
    symbol: str | None = None,
    qty: Decimal | None = None,
    description: str | None = None,
    key: str | None = None,
) -> FakeActivity:
    """A FEE activity of ``amount`` (> 0; written as a negative ``net_amount``)."""
    if amount <= 0:
        raise ValueError(f"fee amount must be > 0, got {amount}")
    return FakeActivity(
        activity_type="FEE",
        created_at=created_at,
        key=key or f"fee:{sub_type}:{symbol}:{created_at.isoformat()}:{amount}",
        fields={
            "activity_sub_type": sub_type,
            "date": created_at.astimezone(UTC).date().isoformat(),
            "created_at": format_ns(epoch_ns(created_at)),
            "net_amount": _text(-amount),
            "symbol": symbol,
            "qty": _optional_text(qty),
            "per_share_amount": None,
            "description": description or f"{sub_type} fee",
            "status": "executed",
        },
    )


def fill_activity(order: FakeOrder) -> FakeActivity:
    """The FILL activity of a (fully) filled order."""
    if order.filled_at is None or order.filled_avg_price is None:
        raise ValueError(f"order {order.id} is not filled")
    return FakeActivity(
        activity_type="FILL",
        created_at=order.filled_at,
        key=f"fill:{order.id}",
        fields={
            "transaction_time": format_ns(epoch_ns(order.filled_at)),
            "type": "fill",
            "price": _text(order.filled_avg_price),
            "qty": _text(order.filled_qty),
            "side": order.side,
            "symbol": order.symbol,
            "leaves_qty": _text(order.qty - order.filled_qty),
            "order_id": order.id,
            "cum_qty": _text(order.filled_qty),
            "order_status": order.status,
        },
    )


@dataclass(frozen=True)
class EquitySample:
    """One portfolio-history point; floats are allowed (the wire carries JSON numbers)."""

    timestamp: datetime
    equity: Decimal | float
    profit_loss: Decimal | float
    profit_loss_pct: Decimal | float | None


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
    equity_series: tuple[EquitySample, ...] = ()
    base_value: Decimal = Decimal(0)
    last_equity: Decimal | None = None
    status: str = "ACTIVE"
    currency: str = "USD"
    multiplier: Decimal = Decimal(2)
    created_at: datetime = _DEFAULT_CREATED_AT

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
            "buying_power": _text(buying_power),
            "regt_buying_power": _text(buying_power),
            "non_marginable_buying_power": _text(max(self.cash, Decimal(0))),
            "options_buying_power": _text(max(self.cash, Decimal(0))),
            "cash": _text(self.cash),
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "pending_transfer_out": "0",
            "portfolio_value": _text(equity),
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": format_ns(epoch_ns(self.created_at)),
            "trade_suspended_by_user": False,
            "multiplier": _text(self.multiplier),
            "shorting_enabled": True,
            "equity": _text(equity),
            "last_equity": _text(self.last_equity if self.last_equity is not None else equity),
            "long_market_value": _text(long_value),
            "short_market_value": _text(short_value),
            "position_market_value": _text(long_value - short_value),
            "initial_margin": _text(initial),
            "maintenance_margin": _text(maintenance),
            "last_maintenance_margin": _text(maintenance),
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
    ) -> FakeAccount:
        """The account that ``cycles`` (``generate_history()`` output) leave behind.

        One filled order and one FILL activity per fill; positions are the net quantity per
        symbol with FIFO cost basis, marked at the symbol's last fill price; each fill's fees
        are FEE activities (REG = SEC fee, TAF = FINRA fee) created the next business day;
        cash is ``starting_cash - buys + sells - fees``; one equity sample per trading day
        (00:00 UTC, left-labelled), profit/loss against ``starting_cash``. With
        ``include_unfilled`` a canceled and an open (``new``) order are added.
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
            order = _order_of(fill, index)
            orders.append(order)
            fill_rows.append(fill_activity(order))
            fee_rows.extend(_fee_rows_of(fill, index))

        cash = starting_cash
        lots: dict[str, deque[list[Decimal]]] = {}
        marks: dict[str, Decimal] = {}
        previous_marks: dict[str, Decimal] = {}
        pending_fees = deque(sorted(fee_rows, key=lambda a: (a.created_ns, a.id)))
        series: list[EquitySample] = []
        for cycle in ordered:
            day = cycle.start.astimezone(UTC).date()
            day_end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
            while pending_fees and pending_fees[0].created_at < day_end:
                cash += Decimal(str(pending_fees.popleft().fields["net_amount"]))
            previous_marks = dict(marks)
            for fill in sorted(cycle.fills, key=lambda f: (f.filled_at, f.order_id)):
                cash += -fill.notional if fill.side is Side.BUY else fill.notional
                _apply_fifo(lots.setdefault(fill.symbol, deque()), fill)
                marks[fill.symbol] = fill.price
            equity = cash + sum(
                (sum((lot[0] for lot in held), Decimal(0)) * marks[s] for s, held in lots.items()),
                Decimal(0),
            )
            profit_loss = equity - starting_cash
            series.append(
                EquitySample(
                    timestamp=datetime(day.year, day.month, day.day, tzinfo=UTC),
                    equity=normalize(equity),
                    profit_loss=normalize(profit_loss),
                    profit_loss_pct=_ratio(profit_loss, starting_cash),
                )
            )
        while pending_fees:
            cash += Decimal(str(pending_fees.popleft().fields["net_amount"]))

        positions = []
        for symbol in sorted(lots):
            qty = sum((lot[0] for lot in lots[symbol]), Decimal(0))
            if qty == 0:
                continue
            cost = sum((lot[0] * lot[1] for lot in lots[symbol]), Decimal(0))
            positions.append(
                FakePosition(
                    symbol=symbol,
                    qty=normalize(qty),
                    avg_entry_price=normalize((cost / qty).quantize(_RATIO_PLACES)),
                    cost_basis=normalize(cost),
                    current_price=marks[symbol],
                    lastday_price=previous_marks.get(symbol, marks[symbol]),
                    exchange=_EXCHANGES.get(symbol, "NASDAQ"),
                )
            )
        if include_unfilled and fills:
            orders.extend(_unfilled_orders(account_id, ordered, fills))
        last_equity = Decimal(str(series[-1].equity)) if series else None
        created = ordered[0].start - timedelta(days=30) if ordered else _DEFAULT_CREATED_AT
        return cls(
            account_id=account_id,
            account_number=account_number,
            cash=normalize(cash),
            positions=tuple(positions),
            orders=tuple(orders),
            fee_activities=tuple(fee_rows),
            fill_activities=tuple(fill_rows),
            equity_series=tuple(series),
            base_value=starting_cash,
            last_equity=last_equity,
            created_at=created,
        )


def _account_uuid(fills: Sequence[TradeFill]) -> str:
    for fill in fills:
        try:
            return str(uuid.UUID(fill.account_id))
        except ValueError:
            return _fake_uuid("account", fill.account_id)
    return _fake_uuid("account", "empty")


def _order_of(fill: TradeFill, index: int) -> FakeOrder:
    side = "buy" if fill.side is Side.BUY else "sell"
    limit_price = None
    if fill.order_type is OrderType.LIMIT:
        quote = fill.ask_at_fill if fill.side is Side.BUY else fill.bid_at_fill
        limit_price = quote if quote is not None else fill.price
    return FakeOrder(
        id=fill.order_id,
        client_order_id=f"{fill.correlation_id}:{fill.symbol}:{side}",
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


def _fee_rows_of(fill: TradeFill, index: int) -> list[FakeActivity]:
    """REG (SEC) and TAF rows that add up exactly to ``fill.fees``."""
    if fill.fees <= 0:
        return []
    sec = Decimal(0)
    if fill.side is Side.SELL:
        sec = min((fill.notional * SEC_FEE_RATE).quantize(CENT, ROUND_UP), fill.fees)
    taf = fill.fees - sec  # the fill's own fee is authoritative: the rows add up to it
    posted = next_business_day(fill.filled_at.astimezone(UTC).date())
    created = datetime(posted.year, posted.month, posted.day, 8, tzinfo=UTC) + timedelta(
        milliseconds=index * 2
    )
    trade_day = fill.filled_at.astimezone(UTC).date().isoformat()
    rows = []
    for sub_type, amount, offset in (("REG", sec, 0), ("TAF", taf, 1)):
        if amount <= 0:
            continue
        rows.append(
            fee_activity(
                sub_type=sub_type,
                created_at=created + timedelta(milliseconds=offset),
                amount=amount,
                symbol=fill.symbol,
                qty=fill.qty,
                description=f"{sub_type} fee for {plain(fill.qty)} {fill.symbol} sold {trade_day}",
                key=f"fee:{sub_type}:{fill.order_id}",
            )
        )
    return rows


def _apply_fifo(held: deque[list[Decimal]], fill: TradeFill) -> None:
    if fill.side is Side.BUY:
        held.append([fill.qty, fill.price])
        return
    remaining = fill.qty
    while remaining > 0 and held:
        lot = held[0]
        taken = min(lot[0], remaining)
        lot[0] -= taken
        remaining -= taken
        if lot[0] == 0:
            held.popleft()
    if remaining > 0:  # a short: the lot carries a negative quantity
        held.append([-remaining, fill.price])


def _unfilled_orders(
    account_id: str, cycles: Sequence[TradingCycle], fills: Sequence[TradeFill]
) -> list[FakeOrder]:
    first, last = cycles[min(1, len(cycles) - 1)], cycles[-1]
    symbol = fills[0].symbol
    price = fills[-1].price
    canceled_submitted = first.start + timedelta(minutes=35, microseconds=123)
    return [
        FakeOrder(
            id=_fake_uuid(account_id, "canceled"),
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
            id=_fake_uuid(account_id, "open"),
            client_order_id=f"{last.correlation_id}:{fills[-1].symbol}:sell:open",
            symbol=fills[-1].symbol,
            side="sell",
            qty=Decimal(5),
            submitted_at=last.end - timedelta(minutes=5, microseconds=77),
            submitted_nanos=500,
            status="new",
            type="limit",
            time_in_force="gtc",
            limit_price=(price * Decimal("1.05")).quantize(CENT),
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
                id=_fake_uuid("order", key, index),
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


# The server ----------------------------------------------------------------------------------


class _Failure(Exception):
    """An HTTP error answer (status, Alpaca error code, message)."""

    def __init__(self, status: int, message: str | None = None) -> None:
        code, default = _ERROR_CODES.get(status, (status * 100_000, "error"))
        self.status = status
        self.code = code
        self.message = message or default
        super().__init__(self.message)


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server received it (query values: the last one of each name)."""

    method: str
    path: str
    query: Mapping[str, str]


@dataclass
class _Fault:
    path_prefix: str
    remaining: int
    status: int | None
    delay: float
    body: str | None


class _Server(ThreadingHTTPServer):
    block_on_close = True  # stop() joins every handler thread (delays are released first)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAlpaca
    server_version = "FakeAlpaca/1.0"
    timeout = 10  # a client that connects and never sends cannot pin a thread forever

    def do_GET(self) -> None:
        self.fake._handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is ``FakeAlpaca.requests``."""


class FakeAlpaca:
    """The fake Trading API server; use ``running_fake_alpaca`` or ``start``/``stop``."""

    def __init__(
        self,
        account: FakeAccount,
        *,
        key_id: str = DEFAULT_KEY_ID,
        secret_key: str = DEFAULT_SECRET_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int = RATE_LIMIT_PER_MINUTE,
    ) -> None:
        self.key_id = key_id
        self.secret_key = secret_key
        self._account = account
        self._host = host
        self._port = port
        self._rate_limit = rate_limit
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._log: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._window = -1
        self._window_count = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeAlpaca:
        if self._server is not None:
            raise RuntimeError("the fake Alpaca server is already running")
        handler = type("FakeAlpacaHandler", (_Handler,), {"fake": self})
        self._stopping.clear()
        self._server = _Server((self._host, self._port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-alpaca-{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release delayed requests, stop serving, close the socket, join every thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeAlpaca:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash, no ``/v2``)."""
        if self._server is None:
            raise RuntimeError("the fake Alpaca server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # State and steering -----------------------------------------------------------------

    @property
    def account(self) -> FakeAccount:
        return self._account

    @account.setter
    def account(self, account: FakeAccount) -> None:
        with self._lock:
            self._account = account

    def inject(
        self,
        path_prefix: str,
        *,
        status: int | None = None,
        times: int = 1,
        delay: float = 0.0,
        body: str | None = None,
    ) -> None:
        """The next ``times`` requests whose path starts with ``path_prefix`` misbehave.

        ``delay`` seconds pass before anything is sent (a "hang" when it exceeds the client's
        timeout); then ``status`` (with an Alpaca error body, or ``body`` verbatim) is sent
        instead of the real answer, or the real answer when ``status`` is None. Faults queue
        in order; each request consumes at most one.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if status is None and delay <= 0 and body is None:
            raise ValueError("give a status, a delay or a body")
        with self._lock:
            self._faults.append(_Fault(path_prefix, times, status, delay, body))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests(self, path_prefix: str = "") -> list[RecordedRequest]:
        """Requests received so far (in arrival order), optionally under ``path_prefix``."""
        with self._lock:
            return [r for r in self._log if r.path.startswith(path_prefix)]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def handler_errors(self) -> list[BaseException]:
        """Exceptions raised while answering (a bug in the fake; answered with 500)."""
        with self._lock:
            return list(self._errors)

    # Request handling -------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        path = split.path
        with self._lock:
            self._log.append(RecordedRequest(handler.command, path, query))
            fault = self._take_fault(path)
            account = self._account
        if fault is not None and fault.delay > 0 and self._stopping.wait(fault.delay):
            return  # stopping: drop the connection without an answer
        if fault is not None and fault.body is not None:
            self._send(handler, fault.status or 200, fault.body.encode("utf-8"))
            return
        try:
            if fault is not None and fault.status is not None:
                raise _Failure(fault.status)
            payload = self._route(handler, path, query, account)
        except _Failure as failure:
            error = {"code": failure.code, "message": failure.message}
            self._send(handler, failure.status, json.dumps(error).encode("utf-8"))
            return
        except Exception as exc:  # a bug in the fake: answer 500, keep it for the tests
            with self._lock:
                self._errors.append(exc)
            error = {"code": 50010000, "message": f"fake server error: {exc!r}"}
            self._send(handler, 500, json.dumps(error).encode("utf-8"))
            return
        self._send(handler, 200, json.dumps(payload).encode("utf-8"))

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        now = time.time()
        window = int(now // 60)
        with self._lock:
            if window != self._window:
                self._window, self._window_count = window, 0
            self._window_count += 1
            remaining = max(self._rate_limit - self._window_count, 0)
        if status == 429:
            remaining = 0
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("X-Ratelimit-Limit", str(self._rate_limit))
            handler.send_header("X-Ratelimit-Remaining", str(remaining))
            handler.send_header("X-Ratelimit-Reset", str((window + 1) * 60))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. timed out) before the answer: nothing to tell

    def _route(
        self,
        handler: BaseHTTPRequestHandler,
        path: str,
        query: Mapping[str, str],
        account: FakeAccount,
    ) -> Any:
        if handler.command != "GET":
            raise _Failure(405)
        if not path.startswith("/v2/"):
            raise _Failure(404, f"endpoint not found: {path}")
        key_id = handler.headers.get("APCA-API-KEY-ID")
        secret = handler.headers.get("APCA-API-SECRET-KEY")
        if key_id != self.key_id or secret != self.secret_key:
            raise _Failure(401)
        route = path[len("/v2") :].rstrip("/")
        if route == "/account":
            return account.account_json()
        if route == "/positions":
            return [p.to_json() for p in sorted(account.positions, key=lambda p: p.symbol)]
        if route == "/orders":
            return _orders(account, query)
        if route.startswith("/orders/"):
            _flag(query, "nested")
            order_id = route[len("/orders/") :]
            for order in account.orders:
                if order.id == order_id:
                    return order.to_json()
            raise _Failure(404, f"order not found for {order_id}")
        if route == "/account/activities":
            names = query.get("activity_types") or query.get("activity_type")
            types = {t.strip().upper() for t in names.split(",") if t.strip()} if names else None
            return _activities(account, types, query)
        if route.startswith("/account/activities/"):
            name = route[len("/account/activities/") :]
            if not re.fullmatch(r"[A-Z]+", name):
                raise _Failure(422, f"invalid activity type {name!r}")
            return _activities(account, {name}, query)
        if route == "/account/portfolio/history":
            return _portfolio_history(account, query)
        raise _Failure(404, f"endpoint not found: {path}")


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise _Failure(422, f"{name} must be an integer, got {text!r}") from exc
    if value < 1:
        raise _Failure(422, f"{name} must be >= 1, got {value}")
    return value


def _choice(query: Mapping[str, str], name: str, allowed: Sequence[str], default: str) -> str:
    value = query.get(name) or default
    if value.lower() not in allowed:
        raise _Failure(422, f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value.lower()


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return False
    if value.lower() not in ("true", "false"):
        raise _Failure(422, f"{name} must be true or false, got {value!r}")
    return value.lower() == "true"


def _bound(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    return parse_query_time(value) if value else None


def _orders(account: FakeAccount, query: Mapping[str, str]) -> list[dict[str, Any]]:
    status = _choice(query, "status", ("open", "closed", "all"), "open")
    limit = min(_int(query, "limit", ORDERS_DEFAULT_LIMIT), ORDERS_MAX_LIMIT)
    after, until = _bound(query, "after"), _bound(query, "until")
    direction = _choice(query, "direction", ("asc", "desc"), "desc")
    _flag(query, "nested")  # no multi-leg orders here: nothing to roll up
    side = query.get("side")
    if side is not None and side.lower() not in ("buy", "sell"):
        raise _Failure(422, f"side must be buy or sell, got {side!r}")
    symbols = None
    if query.get("symbols"):
        symbols = {s.strip().upper() for s in query["symbols"].split(",") if s.strip()}
    selected = [
        order
        for order in account.orders
        if (status == "all" or (status == "open") == (order.status in _OPEN_STATUSES))
        and (after is None or order.submitted_ns > after)
        and (until is None or order.submitted_ns < until)
        and (symbols is None or order.symbol in symbols)
        and (side is None or order.side == side.lower())
    ]
    selected.sort(key=lambda o: (o.submitted_ns, o.id), reverse=direction == "desc")
    return [order.to_json() for order in selected[:limit]]


_ACTIVITY_ID = re.compile(r"^\d{17}::[0-9a-fA-F-]{36}$")


def _activities(
    account: FakeAccount, types: set[str] | None, query: Mapping[str, str]
) -> list[dict[str, Any]]:
    after, until = _bound(query, "after"), _bound(query, "until")
    day = query.get("date")
    direction = _choice(query, "direction", ("asc", "desc"), "desc")
    page_size = min(_int(query, "page_size", ACTIVITIES_MAX_PAGE_SIZE), ACTIVITIES_MAX_PAGE_SIZE)
    token = query.get("page_token") or None
    if token is not None and not _ACTIVITY_ID.fullmatch(token):
        raise _Failure(422, f"invalid page_token {token!r}")
    day_bounds = None
    if day:
        start = parse_query_time(day[:10])
        day_bounds = (start, start + 86_400 * _NS_PER_SECOND)
    rows = [
        activity
        for activity in (*account.fill_activities, *account.fee_activities)
        if (types is None or activity.activity_type in types)
        and (after is None or activity.created_ns > after)
        and (until is None or activity.created_ns < until)
        and (day_bounds is None or day_bounds[0] <= activity.created_ns < day_bounds[1])
    ]
    descending = direction == "desc"
    rows.sort(key=lambda a: a.id, reverse=descending)
    if token is not None:
        rows = [a for a in rows if (a.id < token if descending else a.id > token)]
    return [a.to_json(account.account_id) for a in rows[:page_size]]


_PERIOD = re.compile(r"^(\d+)([DWMA])$")
_PERIOD_DAYS = {"D": 1, "W": 7, "M": 30, "A": 365}


def _period(text: str) -> int:
    match = _PERIOD.fullmatch(text.strip().upper())
    if match is None:
        raise _Failure(422, f"invalid period {text!r}")
    return int(match[1]) * _PERIOD_DAYS[match[2]] * 86_400 * _NS_PER_SECOND


def _portfolio_history(account: FakeAccount, query: Mapping[str, str]) -> dict[str, Any]:
    timeframe = query.get("timeframe") or "1D"
    if timeframe != "1D":
        raise _Failure(422, f"the fake serves timeframe 1D only, got {timeframe!r}")
    series = sorted(account.equity_series, key=lambda s: s.timestamp)
    start, end = _bound(query, "start"), _bound(query, "end")
    span = _period(query["period"]) if query.get("period") else None
    if start is not None and end is not None and span is not None:
        raise _Failure(422, "give at most two of period, start and end")
    last = epoch_ns(series[-1].timestamp) if series else 0
    if start is not None and end is None:
        end = start + span if span is not None else last
    elif start is None:
        end = end if end is not None else last
        start = end - (span if span is not None else _period("1M"))
    assert end is not None
    points = [s for s in series if start <= epoch_ns(s.timestamp) <= end]
    return {
        "timestamp": [epoch_ns(p.timestamp) // _NS_PER_SECOND for p in points],
        "equity": [float(p.equity) for p in points],
        "profit_loss": [float(p.profit_loss) for p in points],
        "profit_loss_pct": [
            None if p.profit_loss_pct is None else float(p.profit_loss_pct) for p in points
        ],
        "base_value": float(account.base_value),
        "base_value_asof": points[0].timestamp.date().isoformat() if points else None,
        "timeframe": timeframe,
    }


@contextmanager
def running_fake_alpaca(account: FakeAccount, **options: Any) -> Iterator[FakeAlpaca]:
    """A started ``FakeAlpaca`` serving ``account`` on a free loopback port; stopped on exit."""
    server = FakeAlpaca(account, **options).start()
    try:
        yield server
    finally:
        server.stop()
