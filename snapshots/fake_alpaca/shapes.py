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
from typing import Any
from zoneinfo import ZoneInfo

from ledger_store.decimals import normalize, plain

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


def format_ns(stamp: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.fffffffffZ``: Alpaca's 9-fractional-digit UTC form."""
    seconds, fraction = divmod(stamp, NS_PER_SECOND)
    moment = _EPOCH + timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


def json_text(value: Decimal) -> str:
    return plain(value)


def optional_json_text(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


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
            "qty": json_text(self.qty),
            "filled_qty": json_text(self.filled_qty),
            "filled_avg_price": optional_json_text(self.filled_avg_price),
            "order_class": "",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": "buy_to_open" if self.side == "buy" else "sell_to_close",
            "time_in_force": self.time_in_force,
            "limit_price": optional_json_text(self.limit_price),
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
        change = ratio_of(self.current_price - self.lastday_price, self.lastday_price)
        return {
            "asset_id": asset_id(self.symbol),
            "symbol": self.symbol,
            "exchange": self.exchange,
            "asset_class": "us_equity",
            "asset_marginable": True,
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

    @property
    def created_ns(self) -> int:
        return epoch_ns(self.created_at, self.created_nanos)

    @property
    def id(self) -> str:
        """``<yyyymmddhhmmssmmm>::<uuid>``: the time in New York local time, as Alpaca writes it."""
        if self.given_id is not None:
            return self.given_id
        local = self.created_at.astimezone(NEW_YORK)
        stamp = local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"
        return f"{stamp}::{fake_uuid('activity', self.key)}"

    @property
    def dated_ns(self) -> int:
        """The time Alpaca's ``after``/``until`` filters compare: a fill's transaction time, a
        non-trade row's New York wall time (its id and ``date``) as if it were UTC."""
        if self.activity_type == "FILL":
            return self.created_ns
        wall = self.created_at.astimezone(NEW_YORK).replace(tzinfo=UTC)
        return epoch_ns(wall, self.created_nanos)

    def to_json(self, account_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": account_id,
            "activity_type": self.activity_type,
            **self.fields,
        }


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
            # Alpaca dates a day's fee row by the trade date (New York) its id carries.
            "date": created_at.astimezone(NEW_YORK).date().isoformat(),
            "created_at": format_ns(epoch_ns(created_at)),
            "net_amount": json_text(-amount),
            "symbol": symbol,
            "qty": optional_json_text(qty),
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
            "price": json_text(order.filled_avg_price),
            "qty": json_text(order.filled_qty),
            "side": order.side,
            "symbol": order.symbol,
            "leaves_qty": json_text(order.qty - order.filled_qty),
            "order_id": order.id,
            "cum_qty": json_text(order.filled_qty),
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
