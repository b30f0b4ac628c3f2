"""How Alpaca writes what the fake serves: orders, positions, activities and equity samples
as JSON bodies of the shapes Alpaca's real responses show (``tests/contract/alpaca/payloads``).

Money and quantities are strings (an order can be told to write them as JSON numbers, as
alpaca-py's own fixtures show Alpaca doing), timestamps carry 9 fractional digits, activity ids
carry New York time.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cached_property, partial
from typing import Any
from zoneinfo import ZoneInfo

from ledger_store.decimals import normalize, plain
from ledger_store.dto import asset_class_of, contract_multiplier

CENT = Decimal("0.01")
NS_PER_SECOND = 1_000_000_000
_ID_NAMESPACE = uuid.UUID("6b0f3e0a-2f7d-4a53-8d8e-1c4b5a6f7e80")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Alpaca writes an activity id's time, and dates its rows, in New York local time.
NEW_YORK = ZoneInfo("America/New_York")
RATIO_PLACES = Decimal("1E-10")


# Time and number helpers ---------------------------------------------------------------------


def epoch_ns(moment: datetime, nanos: int = 0) -> int:
    """Nanoseconds since the epoch of an aware datetime plus ``nanos`` (0-999)."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"naive datetime {moment.isoformat()}")
    if not 0 <= nanos < 1000:
        raise ValueError(f"nanos must be 0-999, got {nanos}")
    delta = moment - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return seconds * NS_PER_SECOND + delta.microseconds * 1000 + nanos


def format_micros(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.f…]Z`` with 0 to 6 fractional digits, trailing zeros dropped:
    how Alpaca writes an activity's ``created_at`` (``2026-09-28T19:17:03.98294Z``)."""
    utc = moment.astimezone(UTC)
    fraction = f"{utc.microsecond:06d}".rstrip("0")
    return f"{utc:%Y-%m-%dT%H:%M:%S}" + (f".{fraction}" if fraction else "") + "Z"


def format_ns(stamp: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.fffffffffZ``: Alpaca's 9-fractional-digit UTC form."""
    seconds, fraction = divmod(stamp, NS_PER_SECOND)
    moment = _EPOCH + timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


def json_text(value: Decimal) -> str:
    return plain(value)


def ratio_of(numerator: Decimal, denominator: Decimal) -> Decimal:
    if denominator == 0:
        return Decimal(0)
    return normalize((numerator / denominator).quantize(RATIO_PLACES, ROUND_HALF_EVEN))


def fake_uuid(*parts: object) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, ":".join(str(p) for p in parts)))


def asset_id(symbol: str) -> str:
    """A stable fake asset id for ``symbol``."""
    return fake_uuid("asset", symbol)


# Alpaca's bodies -----------------------------------------------------------------------------


def _number_or_text(value: Decimal | None, as_number: bool) -> Any:
    """A decimal as Alpaca writes it: a string, or (``as_number``) a JSON number when the
    number's shortest form is the same value (alpaca-py's fixtures show both)."""
    if value is None:
        return None
    if as_number and Decimal(repr(float(value))) == value:
        return int(value) if value == value.to_integral_value() else float(value)
    return plain(value)


@dataclass(frozen=True)
class FakeOrder:
    """One order, as Alpaca writes it.

    ``submitted_nanos`` adds sub-microsecond digits to ``submitted_at``. ``order_class`` is
    ``""`` (how Alpaca writes most simple orders), ``simple``, ``oco``, ``oto``, ``bracket`` or
    ``mleg``; ``legs`` are the child orders (served nested, or beside the parent without
    ``nested``). An ``mleg`` parent has no symbol, side or asset (Alpaca sends ``""``): its
    quantity counts combinations, each leg's ``ratio_qty`` the contracts per combination.
    ``qty`` is ``None`` for a notional order. ``numbers`` writes quantities and prices as JSON
    numbers (alpaca-py's fixtures show them; its model takes them, but ``notional`` only as
    text).
    """

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal | None
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
    order_class: str = ""
    legs: tuple[FakeOrder, ...] = ()
    notional: Decimal | None = None
    stop_price: Decimal | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    replaced_at: datetime | None = None
    ratio_qty: Decimal | None = None
    numbers: bool = False

    @property
    def submitted_ns(self) -> int:
        return epoch_ns(self.submitted_at, self.submitted_nanos)

    @property
    def is_combination(self) -> bool:
        return self.order_class == "mleg" and bool(self.legs)

    def to_json(self, *, nested: bool = True) -> dict[str, Any]:
        submitted = format_ns(self.submitted_ns)
        filled = None if self.filled_at is None else format_ns(epoch_ns(self.filled_at))
        canceled = None if self.canceled_at is None else format_ns(epoch_ns(self.canceled_at))
        replaced = None if self.replaced_at is None else format_ns(epoch_ns(self.replaced_at))
        updated = filled or canceled or replaced or submitted
        number = partial(_number_or_text, as_number=self.numbers)
        combination = self.is_combination
        asset_class = "" if combination else asset_class_of(self.symbol)
        body: dict[str, Any] = {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": submitted,
            "updated_at": updated,
            "submitted_at": submitted,
            "filled_at": filled,
            "expired_at": None,
            "canceled_at": canceled,
            "failed_at": None,
            "replaced_at": replaced,
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": "" if combination else asset_id(self.symbol),
            "symbol": "" if combination else self.symbol,
            "asset_class": asset_class,
            "notional": None if self.notional is None else plain(self.notional),  # always text
            "qty": number(self.qty),
            "filled_qty": number(self.filled_qty),
            "filled_avg_price": number(self.filled_avg_price),
            "order_class": self.order_class,
            "order_type": self.type,
            "type": self.type,
            "side": "" if combination else self.side,
            "position_intent": _position_intent(self.side, asset_class),
            "time_in_force": self.time_in_force,
            "limit_price": number(self.limit_price),
            "stop_price": number(self.stop_price),
            "status": self.status,
            "extended_hours": False,
            "legs": [leg.to_json() for leg in self.legs] if nested and self.legs else None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "subtag": None,
            "source": None,
        }
        if self.ratio_qty is not None:
            body["ratio_qty"] = number(self.ratio_qty)
        if asset_class == "us_option":
            # An option order expires with its session (Alpaca's legs carry it).
            day = self.submitted_at.astimezone(NEW_YORK).date()
            body["expires_at"] = f"{day.isoformat()}T21:00:00Z"
        if combination:
            del body["position_intent"]  # Alpaca's multi-leg parent has none
        return body


def _position_intent(side: str, asset_class: str) -> str | None:
    if asset_class == "crypto":
        return None  # Alpaca's crypto orders carry none
    return "buy_to_open" if side == "buy" else "sell_to_close"


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
        """``qty * current_price``, times 100 for an option contract (Alpaca's value)."""
        return normalize(self.qty * self.current_price * contract_multiplier(self.symbol))

    def to_json(self) -> dict[str, Any]:
        unrealized = self.market_value - self.cost_basis
        intraday = (
            self.qty * (self.current_price - self.lastday_price) * contract_multiplier(self.symbol)
        )
        change = ratio_of(self.current_price - self.lastday_price, self.lastday_price)
        crypto = asset_class_of(self.symbol) == "crypto"
        body: dict[str, Any] = {
            "asset_id": asset_id(self.symbol),
            # Alpaca names a crypto position by its pair without the slash (BTC/USD: BTCUSD).
            "symbol": self.symbol.replace("/", ""),
            "exchange": "CRYPTO" if crypto else self.exchange,
            "asset_class": asset_class_of(self.symbol),
            "asset_marginable": not crypto,
            "qty": json_text(self.qty),
            "qty_available": json_text(self.qty),
            "avg_entry_price": json_text(self.avg_entry_price),
            "side": "long" if self.qty >= 0 else "short",
            "market_value": json_text(self.market_value),
            "cost_basis": json_text(self.cost_basis),
            "unrealized_pl": json_text(unrealized),
            "unrealized_plpc": json_text(ratio_of(unrealized, abs(self.cost_basis))),
            "unrealized_intraday_pl": json_text(intraday),
            "unrealized_intraday_plpc": json_text(change if self.qty >= 0 else -change),
            "current_price": json_text(self.current_price),
            "lastday_price": json_text(self.lastday_price),
            "change_today": json_text(change),
        }
        if crypto:
            # Alpaca adds the figures in dollars (``usd``), as alpaca-py's fixtures show them:
            # for a dollar account, the same values.
            body["usd"] = {name: body[name] for name in _USD_FIGURES}
        return body


#: The figures of a position's ``usd`` block (alpaca-py's ``USDPositionValues``).
_USD_FIGURES = (
    "avg_entry_price",
    "market_value",
    "cost_basis",
    "unrealized_pl",
    "unrealized_plpc",
    "unrealized_intraday_pl",
    "unrealized_intraday_plpc",
    "current_price",
    "lastday_price",
    "change_today",
)


@dataclass(frozen=True)
class FakeActivity:
    """One account activity. ``fields`` are the type-specific JSON fields (strings)."""

    activity_type: str
    created_at: datetime
    key: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    created_nanos: int = 0
    #: The id of a row replayed from a real body (``replayed_activity``), kept verbatim.
    given_id: str | None = None

    # Cached: a long history's every page sorts and filters every row by them.
    @cached_property
    def created_ns(self) -> int:
        return epoch_ns(self.created_at, self.created_nanos)

    @cached_property
    def id(self) -> str:
        """``<yyyymmddhhmmssmmm>::<uuid>``: the time in New York local time, as Alpaca writes it."""
        if self.given_id is not None:
            return self.given_id
        local = self.created_at.astimezone(NEW_YORK)
        stamp = local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"
        return f"{stamp}::{fake_uuid('activity', self.key)}"

    @cached_property
    def dated_ns(self) -> int:
        """The time Alpaca's ``after``/``until`` filters compare: a fill's transaction time, a
        non-trade row's New York wall time (its id and ``date``) as if it were UTC."""
        if self.activity_type == "FILL":
            return self.created_ns
        wall = self.created_at.astimezone(NEW_YORK).replace(tzinfo=UTC)
        return epoch_ns(wall, self.created_nanos)

    def to_json(self) -> dict[str, Any]:
        """The Trading API's row (the Broker API adds ``account_id``; Alpaca's trading rows
        carry none)."""
        return {"id": self.id, "activity_type": self.activity_type, **self.fields}


def replayed_activity(raw: Mapping[str, Any]) -> FakeActivity:
    """A real activity row (a contract fixture's) served as it is: its id and fields verbatim,
    dated by its own timestamp, else by its ``date`` (the start of that day in New York)."""
    stamp = raw.get("transaction_time") or raw.get("created_at")
    if stamp:
        whole, _, rest = str(stamp).rstrip("Z").partition(".")
        micros = (rest + "000000")[:6] if rest else "0"
        at = datetime.fromisoformat(whole).replace(tzinfo=UTC) + timedelta(microseconds=int(micros))
    else:
        day = date.fromisoformat(str(raw["date"]))
        at = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).astimezone(UTC)
    fields = {k: v for k, v in raw.items() if k not in ("id", "activity_type", "account_id")}
    return FakeActivity(
        str(raw["activity_type"]), at, str(raw["id"]), fields, given_id=str(raw["id"])
    )


def fee_activity(
    *,
    sub_type: str,
    created_at: datetime,
    amount: Decimal,
    symbol: str | None = None,
    qty: Decimal | None = None,
    description: str | None = None,
    key: str | None = None,
    trade_day: date | None = None,
) -> FakeActivity:
    """A FEE activity of ``amount`` (> 0; written as a negative ``net_amount``).

    With ``trade_day`` it is one of Alpaca's daily totals: dated, and identified by a
    date-only id (``<yyyymmdd>000000000::<uuid>``), by the day of the trades it charges;
    Alpaca's daily rows carry no ``symbol`` or ``qty`` (a row given them writes them).
    """
    if amount <= 0:
        raise ValueError(f"fee amount must be > 0, got {amount}")
    key = key or f"fee:{sub_type}:{symbol}:{created_at.isoformat()}:{amount}"
    day = trade_day or created_at.astimezone(NEW_YORK).date()
    fields: dict[str, Any] = {
        "activity_sub_type": sub_type,
        "date": day.isoformat(),
        "created_at": format_micros(created_at),
        "net_amount": json_text(-amount),
        "description": description or f"{sub_type} fee",
        "status": "executed",
        "currency": "USD",
    }
    if symbol is not None:
        fields["symbol"] = symbol
    if qty is not None:
        fields["qty"] = json_text(qty)
    given = None if trade_day is None else f"{day:%Y%m%d}000000000::{fake_uuid('activity', key)}"
    return FakeActivity("FEE", created_at, key, fields, given_id=given)


def fill_activity(order: FakeOrder) -> FakeActivity:
    """The FILL activity of an order filled in one execution."""
    (row,) = fill_activities(order, pieces=1)
    return row


#: How far apart the executions of one order are (well inside its submit-to-fill time).
EXECUTION_SPACING = timedelta(milliseconds=50)


def fill_activities(order: FakeOrder, *, pieces: int) -> list[FakeActivity]:
    """The FILL activities of a filled order in ``pieces`` executions, as Alpaca writes them:
    ``partial_fill`` rows (``order_status`` ``partially_filled``) then one ``fill``, each with
    its own ``qty`` and the order's ``cum_qty``/``leaves_qty`` after it, ``EXECUTION_SPACING``
    apart and ending at ``filled_at``. Every piece is at the average price, so the rows add up
    to the order's ``filled_qty`` and ``filled_avg_price`` exactly. Fewer pieces when the
    quantity does not split at its own number of places."""
    if order.filled_at is None or order.filled_avg_price is None:
        raise ValueError(f"order {order.id} is not filled")
    quantities = _pieces(order.filled_qty, pieces)
    ordered = order.qty if order.qty is not None else order.filled_qty
    rows = []
    cumulative = Decimal(0)
    for index, qty in enumerate(quantities):
        cumulative += qty
        last = index == len(quantities) - 1
        at = order.filled_at - EXECUTION_SPACING * (len(quantities) - 1 - index)
        rows.append(
            FakeActivity(
                activity_type="FILL",
                created_at=at,
                # The last (often only) execution keeps the key of a single-fill order.
                key=f"fill:{order.id}" if last else f"fill:{order.id}:{index}",
                fields={
                    "transaction_time": format_ns(epoch_ns(at)),
                    "type": "fill" if last else "partial_fill",
                    "price": json_text(order.filled_avg_price),
                    "qty": json_text(qty),
                    "side": order.side,
                    "symbol": order.symbol,
                    "leaves_qty": json_text(ordered - cumulative),
                    "order_id": order.id,
                    "cum_qty": json_text(cumulative),
                    "order_status": order.status if last else "partially_filled",
                },
            )
        )
    return rows


def _pieces(qty: Decimal, pieces: int) -> list[Decimal]:
    """``qty`` in up to ``pieces`` positive parts at its own places, the first ones equal."""
    unit = Decimal(1).scaleb(min(qty.normalize().as_tuple().exponent, 0))  # type: ignore[arg-type]
    units = int(qty / unit)
    pieces = max(1, min(pieces, units))
    share = units // pieces
    parts = [share * unit] * (pieces - 1)
    return [*parts, qty - sum(parts, Decimal(0))]


@dataclass(frozen=True)
class EquitySample:
    """One portfolio-history point; floats are allowed (the wire carries JSON numbers)."""

    timestamp: datetime
    equity: Decimal | float
    profit_loss: Decimal | float
    profit_loss_pct: Decimal | float | None
