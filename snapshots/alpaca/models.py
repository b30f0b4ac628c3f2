"""Frozen DTOs of what an account snapshot keeps from Alpaca, and their parsers.

Importing this module never imports alpaca-py (which pulls in pandas): the report Lambda reads
snapshots through these classes only. ``snapshots.alpaca.source`` fetches the data.

* Money, prices and quantities are exact ``Decimal`` (normalised; JSON: plain strings). Alpaca
  sends them as strings; the few it sends as JSON numbers (portfolio history) are converted
  through ``str`` and quantized, never through binary floats.
* Timestamps are timezone-aware UTC. Alpaca writes 9 fractional digits; they are truncated to
  microseconds (Python's resolution).
* Lists are sorted by the models themselves (positions by symbol, orders by
  ``(submitted_at, id)``, fees by ``(created_at, id)``, equity by time), so the same data always
  gives the same object and the same JSON.
* The ``from_api`` constructors take Alpaca's raw JSON objects and keep only the fields modelled
  here, so a field Alpaca adds later cannot break parsing; a missing or malformed required
  field raises ``pydantic.ValidationError`` (``ValueError``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from functools import cache
from typing import Annotated, Any, Final, TypeVar
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BeforeValidator,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ledger_store.decimals import MAX_SIGNIFICANT_DIGITS, decimal_context, normalize, to_decimal
from ledger_store.dto import Frozen, Money, UTCDateTime
from ledger_store.errors import LedgerValidationError

#: Portfolio-history money (equity, profit/loss) arrives as floats; kept to this many places.
HISTORY_MONEY_PLACES = 4
#: Portfolio-history ``profit_loss_pct`` (a fraction, 0.01 = 1 %) is kept to this many places.
HISTORY_PCT_PLACES = 10


def _blank_to_none(value: Any) -> Any:
    """Alpaca writes some absent values as ``""``; treat them as absent."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _uuid_text(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ValueError(f"not a UUID: {value!r}") from exc


def _not_empty(value: str) -> str:
    if not value or value != value.strip():
        raise ValueError(f"must be a non-empty string without surrounding spaces: {value!r}")
    return value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


OptionalMoney = Annotated[Money | None, BeforeValidator(_blank_to_none)]
OptionalDateTime = Annotated[UTCDateTime | None, BeforeValidator(_blank_to_none)]
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]
AlpacaUuid = Annotated[str, AfterValidator(_uuid_text)]
Text = Annotated[str, AfterValidator(_not_empty)]
LowerText = Annotated[str, BeforeValidator(_lower), AfterValidator(_not_empty)]
OptionalLowerText = Annotated[str | None, BeforeValidator(_blank_to_none), BeforeValidator(_lower)]


_Model = TypeVar("_Model", bound=Frozen)
_Item = TypeVar("_Item")


def _known_fields(model: type[_Model], raw: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise LedgerValidationError(f"expected a JSON object, got {type(raw).__name__}")
    return {name: raw[name] for name in model.model_fields if name in raw}


OptionalUuid = Annotated[AlpacaUuid | None, BeforeValidator(_blank_to_none)]
OptionalNonEmpty = Annotated[Text | None, BeforeValidator(_blank_to_none)]


class AlpacaAccount(Frozen):
    """``GET /v2/account``: balances and flags at fetch time. ``cash`` may be negative.

    Required are the fields the integrity checks compare (``cash``, ``equity``,
    ``long_market_value``, ``short_market_value``) and the account's ``id``: alpaca-py marks
    every account field optional and Alpaca has dropped fields without notice, so everything
    else is recorded when sent and ``None`` otherwise (snapshot_version 1.0 required
    ``account_number``, ``status``, ``last_equity``, ``buying_power`` and both margins too).
    """

    id: AlpacaUuid
    account_number: OptionalNonEmpty = None
    status: OptionalNonEmpty = None
    currency: Text = "USD"
    cash: Money
    equity: Money
    last_equity: OptionalMoney = None
    buying_power: OptionalMoney = None
    regt_buying_power: OptionalMoney = None
    non_marginable_buying_power: OptionalMoney = None
    long_market_value: Money
    short_market_value: Money
    #: Deprecated by Alpaca (equals ``equity``); kept when sent.
    portfolio_value: OptionalMoney = None
    initial_margin: OptionalMoney = None
    maintenance_margin: OptionalMoney = None
    last_maintenance_margin: OptionalMoney = None
    sma: OptionalMoney = None
    multiplier: OptionalMoney = None
    accrued_fees: OptionalMoney = None
    pending_transfer_in: OptionalMoney = None
    pending_transfer_out: OptionalMoney = None
    #: Alpaca stopped sending these on 2026-07-06 (FINRA intraday-margin migration).
    daytrade_count: int | None = None
    pattern_day_trader: bool | None = None
    trading_blocked: bool | None = None
    transfers_blocked: bool | None = None
    account_blocked: bool | None = None
    shorting_enabled: bool | None = None
    created_at: OptionalDateTime = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> AlpacaAccount:
        return cls.model_validate(_known_fields(cls, raw))


class AlpacaPosition(Frozen):
    """``GET /v2/positions``: one open position. ``qty`` is negative for shorts.

    Required: ``symbol`` and ``qty`` (the positions check compares them); 1.0 also required
    ``side``, ``avg_entry_price`` and ``cost_basis``.
    """

    symbol: Text
    asset_id: OptionalUuid = None
    asset_class: OptionalLowerText = None
    exchange: OptionalText = None
    side: OptionalLowerText = None
    qty: Money
    qty_available: OptionalMoney = None
    avg_entry_price: OptionalMoney = None
    cost_basis: OptionalMoney = None
    market_value: OptionalMoney = None
    current_price: OptionalMoney = None
    lastday_price: OptionalMoney = None
    change_today: OptionalMoney = None
    unrealized_pl: OptionalMoney = None
    unrealized_plpc: OptionalMoney = None
    unrealized_intraday_pl: OptionalMoney = None
    unrealized_intraday_plpc: OptionalMoney = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> AlpacaPosition:
        return cls.model_validate(_known_fields(cls, raw))


class AlpacaOrder(Frozen):
    """``GET /v2/orders``: one order, whatever its status (``legs`` of multi-leg orders nested).

    Required: ``id``, ``status`` and ``submitted_at`` (orders are identified, classified and
    paged by them); 1.0 also required ``client_order_id``, ``time_in_force``, ``filled_qty``,
    ``created_at`` and ``updated_at``. The fills check says when a filled order lacks a figure
    it compares (``filled_qty``, ``filled_avg_price``, ``side``, ``symbol``).
    """

    id: AlpacaUuid
    client_order_id: OptionalNonEmpty = None
    symbol: OptionalText = None
    #: ``""`` on the parent of a multi-leg (``mleg``) order: read as absent.
    asset_id: OptionalUuid = None
    asset_class: OptionalLowerText = None
    side: OptionalLowerText = None
    type: OptionalLowerText = None
    order_class: LowerText = "simple"
    time_in_force: OptionalLowerText = None
    status: LowerText
    qty: OptionalMoney = None
    notional: OptionalMoney = None
    filled_qty: OptionalMoney = None
    filled_avg_price: OptionalMoney = None
    limit_price: OptionalMoney = None
    stop_price: OptionalMoney = None
    extended_hours: bool = False
    submitted_at: UTCDateTime
    created_at: OptionalDateTime = None
    updated_at: OptionalDateTime = None
    filled_at: OptionalDateTime = None
    canceled_at: OptionalDateTime = None
    expired_at: OptionalDateTime = None
    failed_at: OptionalDateTime = None
    replaced_at: OptionalDateTime = None
    replaced_by: OptionalUuid = None
    replaces: OptionalUuid = None
    legs: tuple[AlpacaOrder, ...] = ()

    @field_validator("legs", mode="before")
    @classmethod
    def _no_legs(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("legs")
    @classmethod
    def _sorted_legs(cls, value: tuple[AlpacaOrder, ...]) -> tuple[AlpacaOrder, ...]:
        return tuple(sorted(value, key=order_sort_key))

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> AlpacaOrder:
        fields = _known_fields(cls, raw)
        if not fields.get("order_class"):
            fields["order_class"] = "simple"  # as alpaca-py does for "" / missing
        legs = raw.get("legs")
        if isinstance(legs, list):
            fields["legs"] = tuple(cls.from_api(leg) for leg in legs)
        return cls.model_validate(fields)


#: ``order_class`` of a multi-leg options order: the parent is the combination (``asset_id``,
#: ``symbol`` and ``side`` empty, its quantity in combos); the legs carry the fills.
MULTI_LEG: Final = "mleg"


#: Alpaca order statuses in which an order may still fill further (not final yet).
OPEN_ORDER_STATUSES: Final = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "accepted_for_bidding",
        "partially_filled",
        "pending_cancel",
        "pending_replace",
        "done_for_day",
        "held",
        "stopped",
        "suspended",
    }
)


def is_combination(order: AlpacaOrder) -> bool:
    """Whether ``order`` is the parent of a multi-leg order: ``mleg`` with legs (or without a
    symbol of its own). Its legs, also ``mleg``, each carry one contract's fills."""
    return order.order_class == MULTI_LEG and (bool(order.legs) or order.symbol is None)


def order_sort_key(order: AlpacaOrder) -> tuple[datetime, str]:
    return (order.submitted_at, order.id)


#: The time zone of the timestamp in an activity id: Alpaca writes New York local time there
#: (``20220304095318500::…`` is ``2022-03-04T14:53:18.5Z``, EST; ``20230608113858838::…`` is
#: ``15:38:58.838Z``, EDT), as every public row carrying both an id and a timestamp shows.
ACTIVITY_ID_ZONE: Final = "America/New_York"


@cache
def _activity_id_zone() -> ZoneInfo:
    return ZoneInfo(ACTIVITY_ID_ZONE)


def activity_created_at(activity_id: str) -> datetime:
    """The UTC time encoded in an activity id ``<yyyymmddhhmmssmmm>::<uuid>``.

    The digits are New York local time (``ACTIVITY_ID_ZONE``), converted with the daylight
    saving rules of their date; a wall time that occurs twice (the November hour) is read as
    its first occurrence (EDT).
    """
    stamp, sep, _ = activity_id.partition("::")
    if not sep or len(stamp) != 17 or not stamp.isdigit():
        raise ValueError(f"activity id {activity_id!r} is not '<yyyymmddhhmmssmmm>::<uuid>'")
    try:
        local = datetime.strptime(stamp[:14], "%Y%m%d%H%M%S")  # noqa: DTZ007 (zone set below)
    except ValueError as exc:
        raise ValueError(f"activity id {activity_id!r} has no valid timestamp") from exc
    moment = local.replace(microsecond=int(stamp[14:]) * 1000, tzinfo=_activity_id_zone())
    return moment.astimezone(UTC)


_UTC_DATETIME: TypeAdapter[datetime] = TypeAdapter(UTCDateTime)


class FeeActivity(Frozen):
    """A ``FEE`` account activity (REG = SEC fee, TAF = FINRA fee, ...); ``net_amount`` < 0."""

    id: Text
    activity_type: Text
    activity_sub_type: OptionalText = None
    date: date
    created_at: UTCDateTime
    net_amount: Money
    symbol: OptionalText = None
    qty: OptionalMoney = None
    per_share_amount: OptionalMoney = None
    description: OptionalText = None
    status: OptionalText = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> FeeActivity:
        """Parse a raw row; without ``created_at`` the time comes from the id prefix."""
        return cls.model_validate(_activity_fields(cls, raw))


#: Non-trade activity types that move cash in or out of the account (deposits, withdrawals,
#: cash journals), and those that credit or withhold dividends.
CASH_TYPES: Final = frozenset({"CSD", "CSW", "JNLC"})
DIVIDEND_TYPES: Final = frozenset(
    {"DIV", "DIVCGL", "DIVCGS", "DIVFEE", "DIVFT", "DIVNRA", "DIVROC", "DIVTW", "DIVTXEX"}
)


class AccountActivity(Frozen):
    """A non-trade activity (NTA): a deposit or withdrawal, a dividend or withholding, a
    corporate action (``SSP`` split, ``SC`` symbol change, ``MA``/``REORG`` merger), ...

    ``net_amount`` is its cash effect (missing for pure share movements); ``qty`` the shares it
    moved or that earned a dividend. The time comes from ``created_at`` or the id prefix.
    """

    id: Text
    activity_type: Text
    date: date
    created_at: UTCDateTime
    net_amount: OptionalMoney = None
    symbol: OptionalText = None
    qty: OptionalMoney = None
    per_share_amount: OptionalMoney = None
    description: OptionalText = None
    status: OptionalText = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> AccountActivity:
        return cls.model_validate(_activity_fields(cls, raw))


class AccountActivityV16(AccountActivity):
    """A non-trade activity as ``snapshot_version`` 1.6 keeps it: with its ``price`` (a crypto
    fee's coin price in dollars, an option event's strike), which 1.5 did not read."""

    price: OptionalMoney = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> AccountActivityV16:
        return cls.model_validate(_activity_fields(cls, raw))


#: The crypto fee type: a fee in dollars (``net_amount`` < 0, no ``qty``) or in the coin
#: received (``symbol`` without the pair's slash, a negative ``qty``, ``net_amount`` 0).
CRYPTO_FEE_TYPE: Final = "CFEE"


def is_coin_fee(row: AccountActivity | FeeActivity) -> bool:
    """A ``CFEE`` row that takes the fee in the coin (``qty`` < 0) rather than in dollars."""
    return (
        row.activity_type == CRYPTO_FEE_TYPE
        and row.symbol is not None
        and row.qty is not None
        and row.qty < 0
    )


def activity_time(raw: Mapping[str, Any]) -> datetime:
    """When an activity happened, in UTC: its ``transaction_time`` (trade and some non-trade
    rows) or ``created_at`` when Alpaca sent one, else the New York time in its id when that
    agrees with the row's ``date``, else the start of its ``date`` in New York (an id whose
    time is unreadable or anonymised, ``11111111111111111::…``)."""
    for name in ("transaction_time", "created_at"):
        value = _blank_to_none(raw.get(name))
        if value is not None:
            return _UTC_DATETIME.validate_python(value)
    day_text = _blank_to_none(raw.get("date"))
    try:
        from_id = activity_created_at(str(raw.get("id", "")))
    except ValueError:
        if day_text is None:
            raise
        from_id = None
    if day_text is None:
        assert from_id is not None
        return from_id
    day = date.fromisoformat(str(day_text)[:10])
    if from_id is not None and from_id.astimezone(_activity_id_zone()).date() == day:
        return from_id
    start = datetime.combine(day, datetime.min.time(), tzinfo=_activity_id_zone())
    return start.astimezone(UTC)


#: Statuses of a row Alpaca carried out (its ``ActivityStatus``); ``canceled`` is the third.
BOOKED_STATUSES: Final = frozenset({"executed", "correct"})
CANCELED: Final = "canceled"


def is_booked(row: AccountActivity) -> bool:
    """Whether Alpaca carried the row out: ``executed``, ``correct`` or no status at all (as
    older rows have). Only such rows move cash or shares."""
    return row.status is None or row.status.lower() in BOOKED_STATUSES


def is_canceled(row: AccountActivity) -> bool:
    """Whether Alpaca took the row back (``canceled``)."""
    return row.status is not None and row.status.lower() == CANCELED


def _activity_fields(model: type[_Model], raw: Mapping[str, Any]) -> dict[str, Any]:
    """An activity row's known fields, ``created_at`` (``activity_time``) and ``date`` set."""
    fields = _known_fields(model, raw)
    created = activity_time(raw)
    fields["created_at"] = created
    if not fields.get("date"):
        fields["date"] = created.astimezone(_activity_id_zone()).date()
    return fields


class EquityPoint(Frozen):
    """One portfolio-history sample: equity and profit/loss against the history's base value.

    Alpaca may send ``null`` in any of the arrays (a day without a value): it is recorded as
    ``None`` (missing), not fatal; 1.0 required ``equity`` and ``profit_loss``.
    """

    timestamp: UTCDateTime
    equity: OptionalMoney = None
    profit_loss: OptionalMoney = None
    #: A fraction (0.0123 = 1.23 %); Alpaca may send null.
    profit_loss_pct: OptionalMoney = None


def decimal_from_number(value: object, places: int) -> Decimal:
    """A JSON number (float/int) or numeric string as an exact ``Decimal``, quantized.

    Floats go through ``str`` (their shortest round-tripping text), so ``0.1`` is ``0.1``,
    not ``0.1000000000000000055...``; quantizing to ``places`` (half-even) removes binary
    noise such as ``0.30000000000000004``.
    """
    if isinstance(value, float):
        value = str(value)
    try:
        exact = to_decimal(value)
    except LedgerValidationError as exc:
        raise ValueError(str(exc)) from exc
    with localcontext(decimal_context(MAX_SIGNIFICANT_DIGITS * 2)):
        quantized = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    try:
        return normalize(quantized)
    except LedgerValidationError as exc:
        raise ValueError(str(exc)) from exc


def _optional_number(value: object, places: int) -> Decimal | None:
    return None if value is None else decimal_from_number(value, places)


#: Epoch values from this on are milliseconds: in seconds they would lie after the year 5138.
_MILLISECONDS_FROM: Final = 10**11
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _history_in_milliseconds(stamps: Sequence[int]) -> bool:
    """Whether a history's epoch timestamps are milliseconds (Alpaca's documented example) or
    seconds (what the API sends); one unit for the whole answer, never mixed."""
    units = {abs(stamp) >= _MILLISECONDS_FROM for stamp in stamps}
    if len(units) > 1:
        raise ValueError("portfolio history timestamps mix seconds and milliseconds")
    return units == {True}


def _history_time(stamp: int, in_millis: bool, index: int) -> datetime:
    try:
        return _EPOCH + (timedelta(milliseconds=stamp) if in_millis else timedelta(seconds=stamp))
    except OverflowError as exc:
        raise ValueError(f"timestamp[{index}] {stamp} is out of range") from exc


def equity_points_from_api(raw: Mapping[str, Any]) -> tuple[EquityPoint, ...]:
    """``GET /v2/account/portfolio/history`` (parallel arrays) as sorted ``EquityPoint``s."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    columns: dict[str, Sequence[Any]] = {}
    stamps = raw.get("timestamp")
    count = len(stamps) if isinstance(stamps, list) else 0
    for name in ("timestamp", "equity", "profit_loss", "profit_loss_pct"):
        column = raw.get(name)
        if column is None:  # a figure Alpaca left out: missing on every sample
            column = [] if name == "timestamp" else [None] * count
        if not isinstance(column, list):
            raise ValueError(f"{name} must be an array, got {type(column).__name__}")
        columns[name] = column
    lengths = {name: len(column) for name, column in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"portfolio history arrays differ in length: {lengths}")
    points = []
    stamps = columns["timestamp"]
    for index, stamp in enumerate(stamps):
        if isinstance(stamp, bool) or not isinstance(stamp, int):
            raise ValueError(f"timestamp[{index}] must be an integer, got {stamp!r}")
    in_millis = _history_in_milliseconds(stamps)
    for index, stamp in enumerate(stamps):
        equity = columns["equity"][index]
        profit_loss = columns["profit_loss"][index]
        pct = columns["profit_loss_pct"][index]
        points.append(
            EquityPoint(
                timestamp=_history_time(stamp, in_millis, index),
                equity=_optional_number(equity, HISTORY_MONEY_PLACES),
                profit_loss=_optional_number(profit_loss, HISTORY_MONEY_PLACES),
                profit_loss_pct=_optional_number(pct, HISTORY_PCT_PLACES),
            )
        )
    return tuple(sorted(points, key=lambda p: p.timestamp))


def ordered_unique(
    sort_key: Callable[[Any], Any], identity: Callable[[Any], object], what: str
) -> AfterValidator:
    """Validator putting a tuple in its canonical order and rejecting duplicate identities.

    Snapshot lists are sorted on the way in, so equal data always gives equal bytes.
    """

    def check(value: tuple[_Item, ...]) -> tuple[_Item, ...]:
        ordered = tuple(sorted(value, key=sort_key))
        seen: set[object] = set()
        for item in ordered:
            ident = identity(item)
            if ident in seen:
                raise ValueError(f"duplicate {what}: {ident}")
            seen.add(ident)
        return ordered

    return AfterValidator(check)


Positions = Annotated[
    tuple[AlpacaPosition, ...],
    ordered_unique(
        lambda p: (p.symbol, p.asset_class or ""), lambda p: (p.symbol, p.asset_class), "position"
    ),
]
Orders = Annotated[
    tuple[AlpacaOrder, ...], ordered_unique(order_sort_key, lambda o: o.id, "order id")
]
Fees = Annotated[
    tuple[FeeActivity, ...],
    ordered_unique(lambda f: (f.created_at, f.id), lambda f: f.id, "fee activity id"),
]
Activities = Annotated[
    tuple[AccountActivity, ...],
    ordered_unique(lambda a: (a.created_at, a.id), lambda a: a.id, "account activity id"),
]
ActivitiesV16 = Annotated[
    tuple[AccountActivityV16, ...],
    ordered_unique(lambda a: (a.created_at, a.id), lambda a: a.id, "account activity id"),
]
EquitySeries = Annotated[
    tuple[EquityPoint, ...],
    ordered_unique(lambda p: p.timestamp, lambda p: p.timestamp, "equity timestamp"),
]


#: The longest equity lookback a snapshot keeps (ten years of calendar days).
MAX_LOOKBACK_DAYS: Final = 3660


class DailyClose(Frozen):
    """A benchmark's close of one trading day (split- and dividend-adjusted, ``adjustment=all``)."""

    day: date
    close: Money

    @field_validator("close")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError(f"a close must be positive, got {value}")
        return value


DailyCloses = Annotated[
    tuple[DailyClose, ...],
    ordered_unique(lambda c: c.day, lambda c: c.day, "benchmark day"),
]


class Benchmark(Frozen):
    """A benchmark symbol's daily closes from Alpaca's market data (``GET /v2/stocks/bars``)."""

    symbol: Text
    closes: DailyCloses = ()

    def check_within(self, start: datetime, end: datetime) -> None:
        """Raise ``ValueError`` for a close dated outside ``[start's day, end's day]``."""
        late = [c.day for c in self.closes if not start.date() <= c.day <= end.date()]
        if late:
            raise ValueError(f"benchmark closes outside the history and the period: {late[0]}")


def closes_from_api(raw: Mapping[str, Any], symbol: str) -> tuple[DailyClose, ...]:
    """Daily bars as alpaca-py's raw ``get_stock_bars`` gives them (``{symbol: [{"t", "c",
    ...}]}``, every page of ``GET /v2/stocks/bars`` joined) as daily closes.

    A bar's day is the UTC date of its time ``t`` (Alpaca labels a daily bar with the start of
    its day, 04:00 or 05:00 UTC); ``c`` is a JSON number and goes through ``str`` to ``Decimal``.
    A symbol without bars gives no closes.
    """
    if not isinstance(raw, Mapping):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    rows = raw.get(symbol) or []
    if not isinstance(rows, list):
        raise ValueError(f"bars of {symbol} must be a list")
    closes: dict[date, DailyClose] = {}
    for row in rows:
        if not isinstance(row, Mapping) or "t" not in row or "c" not in row:
            raise ValueError(f"a bar of {symbol} lacks its time or close: {row!r}")
        moment = _UTC_DATETIME.validate_python(row["t"])
        close = DailyClose(
            day=moment.date(), close=decimal_from_number(row["c"], HISTORY_MONEY_PLACES)
        )
        closes[close.day] = close
    return tuple(closes[day] for day in sorted(closes))


class AlpacaData(Frozen):
    """Everything a snapshot keeps from Alpaca for the period ``[period_start, period_end)``.

    * ``account`` and ``positions``: as of the fetch.
    * ``orders``: orders submitted in the period, plus orders submitted earlier that filled in
      it (found through the period's FILL activities).
    * ``fees``: FEE activities created in ``[fee_window_start, fee_window_end)``: the period
      itself unless the source was given a posting lag (see
      ``snapshots.alpaca.source.fee_window``).
    * ``filled_order_ids``: ids of the orders with a FILL activity in the period, sorted.
    * ``equity``: daily portfolio-history samples inside the period.
    * ``activities``: non-trade activities created in the period (cash, dividends, corporate
      actions), by ``(created_at, id)``.
    * ``history_start``, ``history``: the daily portfolio history of ``[history_start,
      period_start)``, the lookback before the period (``None``/empty: not fetched);
      ``benchmark``: a benchmark's daily closes over ``[history_start, period_end)``.
    """

    period_start: UTCDateTime
    period_end: UTCDateTime
    fee_window_start: UTCDateTime
    fee_window_end: UTCDateTime
    account: AlpacaAccount
    positions: Positions
    orders: Orders
    fees: Fees
    filled_order_ids: tuple[AlpacaUuid, ...]
    equity: EquitySeries
    activities: Activities = ()
    history_start: UTCDateTime | None = None
    history: EquitySeries = ()
    benchmark: Benchmark | None = None

    @field_validator("filled_order_ids")
    @classmethod
    def _sort_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(value)))

    @field_validator("period_end")
    @classmethod
    def _period_is_ordered(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("period_start")
        if start is not None and value <= start:
            raise ValueError("period_end must be after period_start")
        return value

    @model_validator(mode="after")
    def _history_before_the_period(self) -> AlpacaData:
        start = self.history_start
        if start is None:
            if self.history or self.benchmark is not None:
                raise ValueError("a history or a benchmark needs history_start")
            return self
        if start > self.period_start:
            raise ValueError("history_start must not be after period_start")
        outside = [
            p.timestamp for p in self.history if not start <= p.timestamp < self.period_start
        ]
        if outside:
            raise ValueError(f"history samples outside [history_start, period_start): {outside[0]}")
        if self.benchmark is not None:
            self.benchmark.check_within(start, self.period_end)
        return self
