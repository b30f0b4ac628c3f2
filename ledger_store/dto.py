"""Pydantic v2 DTOs: what callers give the repositories and what they get back.

Callers never see a PynamoDB model or a raw DynamoDB item. Every DTO is frozen and rejects
unknown fields; decimals are normalised on the way in (``1.50`` == ``1.5``), timestamps are
converted to UTC and naive ones are rejected.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any, Final, Literal, NamedTuple, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from . import keys
from .decimals import (
    MAX_SIGNIFICANT_DIGITS,
    canonical_decimal,
    decimal_context,
    decimal_places,
    normalize,
    normalized,
    plain,
    quantize_down,
)
from .errors import LedgerValidationError

#: Alpaca trades fractional shares to 9 decimal places; attributed shares keep that precision.
QTY_PLACES = 9
#: Precision of per-strategy fee shares (the split is exact: shares sum to the fill's fee).
FEE_PLACES = 9
#: A fill writes 1 TRADE + 2 items per strategy in one transaction (limit: 100 actions).
MAX_STRATEGIES_PER_FILL = 40
#: Prices (and bid/ask) carry at most this many decimal places.
PRICE_PLACES = 9

# Bounds of a fill, chosen so that no ledger the library accepts can make a later aggregate
# leave 38 significant digits (see the README's "Limits"): a notional has at most 18 decimal
# places (9 + 9) and at most 10 integer digits, a strategy at most MAX_FILLS_PER_STRATEGY
# fills, so every cumulative per-strategy sum stays below 10^19 with 18 places: 37 digits.
MAX_QTY = Decimal(10) ** 10
MAX_PRICE = Decimal(10) ** 7
MAX_NOTIONAL = Decimal(10) ** 9
MAX_FEE = Decimal(10) ** 7
MAX_FILLS_PER_STRATEGY = 10**9
#: How far in the future a fill may be dated: clocks of the bot and this host may disagree.
MAX_CLOCK_SKEW = timedelta(minutes=5)

#: Working precision for sums and products of DynamoDB numbers (the default context has 28).
_EXACT_DIGITS = MAX_SIGNIFICANT_DIGITS * 2
#: A fill's notional, exact (two numbers of 38 digits multiply into at most 76).
_NOTIONAL = decimal_context(_EXACT_DIGITS)

_SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{0,11}(?:[./][A-Z0-9]{1,11})?$")
#: An OCC option symbol: root (1-6 letters), expiry YYMMDD, C or P, strike x 1000 in 8 digits
#: (``AAPL250620C00100000``).
_OPTION_SYMBOL = re.compile(r"^([A-Z]{1,6})(\d{6})([CP])(\d{8})$")
#: Shares per contract of a standard US equity option (the OCC's; Alpaca's ``multiplier``).
OPTION_MULTIPLIER = Decimal(100)

AssetClass = Literal["us_equity", "crypto", "us_option"]


def asset_class_of(symbol: str) -> AssetClass:
    """Alpaca's asset class of a symbol: ``crypto`` for a pair (``BTC/USD``), ``us_option`` for
    an OCC option symbol, else ``us_equity``."""
    if "/" in symbol:
        return "crypto"
    return "us_option" if _OPTION_SYMBOL.fullmatch(symbol) else "us_equity"


#: The currency of every figure of the ledger.
LEDGER_CURRENCY: Final = "USD"


def quote_currency(symbol: str) -> str:
    """The currency a symbol's price is in: a crypto pair's second half (``BTC/USDT``:
    ``USDT``), USD for shares and options."""
    return symbol.split("/", 1)[1] if "/" in symbol else LEDGER_CURRENCY


def is_crossed(symbol: str) -> bool:
    """Whether ``symbol`` is a pair quoted in another currency than USD (``ETH/BTC``)."""
    return quote_currency(symbol) != LEDGER_CURRENCY


def usd_pair(coin: str) -> str:
    """A coin's pair in USD, its book in the ledger and its market-data symbol: ``BTC/USD``."""
    return f"{coin}/{LEDGER_CURRENCY}"


def quote_rate_problem(symbol: str, rate: Decimal | None) -> str | None:
    """Why a fill of ``symbol`` with ``quote_usd_rate`` ``rate`` cannot be valued in USD, or
    ``None``: a pair quoted in another currency than USD (``ETH/BTC``, ``BTC/USDT``) has its
    price and fees in that currency, and the ledger needs the USD value of one unit of it at the
    fill's time; summing them as dollars would be silently wrong."""
    base, slash, quote = symbol.partition("/")
    if slash and base == quote:
        return f"{symbol} is a pair of {quote} with itself: no such market"
    if not is_crossed(symbol) or rate is not None:
        return None
    return (
        f"{symbol} is quoted in {quote}, not USD: its price and fees are {quote}, and the ledger "
        f"keeps every figure in USD, so the fill needs quote_usd_rate, the USD value of one "
        f"{quote} at the fill's time (a {quote}/USD price: in the file, or read from Alpaca's "
        f"crypto bars by 'account adopt' and 'account reconcile'); without it nothing is "
        f"recorded"
    )


#: Decimal places of the quote coin a fill moves (Alpaca's coin quantities have 9).
QUOTE_PLACES: Final = QTY_PLACES


def quote_amount(qty: Decimal, price: Decimal) -> Decimal:
    """The quote coin a fill of ``qty`` at ``price`` moves (``ETH/BTC``: the BTC spent or
    received), ``qty * price`` rounded half-even to ``QUOTE_PLACES``, the precision of a coin
    position. The ledger's rule: Alpaca's rounding of it is not documented."""
    exact = _NOTIONAL.multiply(qty, price)
    return normalize(exact.quantize(Decimal(1).scaleb(-QUOTE_PLACES), context=_NOTIONAL))


def usd_price(price: Decimal, rate: Decimal) -> Decimal:
    """A price in a quote currency in USD: ``price * rate``, exact (at most 18 places)."""
    return normalize(_NOTIONAL.multiply(price, rate))


def require_quote_rate(fill: TradeFill) -> TradeFill:
    """``fill`` if it can be valued in USD; ``LedgerValidationError`` (``quote_rate_problem``)
    otherwise. Every write of a fill calls it; reads do not, so what was stored before stays
    readable (a snapshot refuses to sum it instead)."""
    problem = quote_rate_problem(fill.symbol, fill.quote_usd_rate)
    if problem is not None:
        raise LedgerValidationError(f"order {fill.order_id}: symbol {problem}")
    return fill


def symbol_key(symbol: str) -> str:
    """One spelling of a symbol for comparing: Alpaca writes a crypto pair ``BTC/USD`` in
    orders and the ledger, ``BTCUSD`` in positions and some activities."""
    return symbol.replace("/", "")


def contract_multiplier(symbol: str) -> Decimal:
    """What one unit of ``symbol`` is worth per unit of its price: 100 shares for a standard
    US equity option, 1 otherwise. (Adjusted contracts, whose deliverable differs after a
    corporate action, are not supported: record their fills in shares of the deliverable.)"""
    return OPTION_MULTIPLIER if asset_class_of(symbol) == "us_option" else _ONE_UNIT


_ONE_UNIT = Decimal(1)


class OptionTerms(NamedTuple):
    """What an OCC symbol says of its contract: ``AAPL250620C00100000`` is a call on ``AAPL``
    expiring 2025-06-20 at a strike of 100."""

    root: str
    expiry: date
    right: Literal["call", "put"]
    strike: Decimal


def option_terms(symbol: str) -> OptionTerms | None:
    """The terms an OCC option symbol encodes, or ``None`` for any other symbol."""
    found = _OPTION_SYMBOL.fullmatch(symbol)
    if found is None:
        return None
    root, expiry, right, strike = found.groups()
    try:
        expires = date(2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:]))
    except ValueError:
        return None
    return OptionTerms(
        root,
        expires,
        "call" if right == "C" else "put",
        normalized(Decimal(strike).scaleb(-3, context=_NOTIONAL)),
    )


def value_of(symbol: str, qty: Decimal, price: Decimal) -> Decimal:
    """``qty * price * multiplier``: what ``qty`` of ``symbol`` at ``price`` is worth, exact."""
    return _NOTIONAL.multiply(_NOTIONAL.multiply(qty, price), contract_multiplier(symbol))


_V = TypeVar("_V")
#: How many accepted texts each ``_once`` validator remembers (it forgets all when full).
_ACCEPTED_LIMIT = 1 << 16


def _once(validate: Callable[[Any], _V]) -> Callable[[Any], _V]:
    """``validate``, run once per distinct text: a read of the ledger meets the same accounts,
    strategies, symbols, correlation ids and prices over and over. Only what it accepted is
    remembered, under the exact ``str`` it was given (a refusal raises again every time)."""
    accepted: dict[str, _V] = {}

    def once(value: Any) -> _V:
        if type(value) is str:
            known = accepted.get(value)
            if known is not None:
                return known
        result = validate(value)
        if type(value) is str:
            if len(accepted) >= _ACCEPTED_LIMIT:
                accepted.clear()
            accepted[value] = result
        return result

    return once


@_once
def _decimal(value: Any) -> Decimal:
    try:
        return canonical_decimal(value)
    except LedgerValidationError as exc:
        raise ValueError(str(exc)) from exc


def key_part(what: str) -> AfterValidator:
    """Validator of a key part (``keys.validate_key_part``): NFC, no ``#``, no invisibles."""

    @_once
    def check(value: str) -> str:
        try:
            return keys.validate_key_part(value, what)
        except LedgerValidationError as exc:
            raise ValueError(str(exc)) from exc

    return AfterValidator(check)


def _utc(value: datetime) -> datetime:
    try:
        return keys.require_utc(value, "timestamp")
    except LedgerValidationError as exc:
        raise ValueError(str(exc)) from exc


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"must be > 0, got {plain(value)}")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(f"must be >= 0, got {plain(value)}")
    return value


def _at_most(limit: Decimal) -> AfterValidator:
    def check(value: Decimal) -> Decimal:
        if value > limit:
            raise ValueError(f"must be at most {plain(limit)}, got {plain(value)}")
        return value

    return AfterValidator(check)


def max_places(places: int) -> AfterValidator:
    """Validator: at most ``places`` decimal places."""

    def check(value: Decimal) -> Decimal:
        if decimal_places(value) > places:
            raise ValueError(f"at most {places} decimal places, got {plain(value)}")
        return value

    return AfterValidator(check)


#: An exact decimal, normalised; serialised to JSON as its plain string form.
Money = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    PlainSerializer(plain, return_type=str, when_used="json"),
]
PositiveDecimal = Annotated[Money, AfterValidator(_positive)]
NonNegativeDecimal = Annotated[Money, AfterValidator(_non_negative)]
Quantity = Annotated[PositiveDecimal, max_places(QTY_PLACES), _at_most(MAX_QTY)]
Price = Annotated[PositiveDecimal, max_places(PRICE_PLACES), _at_most(MAX_PRICE)]
#: USD per unit of a quote currency (``BTC``: 97,123.45; ``USDT``: 0.9998): bounded as a price.
QuoteRate = Price
#: Fees split into FEE_PLACES shares; finer fees could not be split exactly.
Fee = Annotated[NonNegativeDecimal, max_places(FEE_PLACES), _at_most(MAX_FEE)]
UTCDateTime = Annotated[
    datetime,
    AfterValidator(_utc),
    PlainSerializer(keys.format_micros, return_type=str, when_used="json"),
]
#: A lower-case SHA-256 / HMAC-SHA-256 hex digest (snapshot checksums).
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _hex_digest(value: str) -> str:
    if not HEX_DIGEST.fullmatch(value):
        raise ValueError("must be 64 lower-case hex digits")
    return value


def _uuid_text(value: str) -> str:
    if not _UUID_TEXT.fullmatch(value):
        raise ValueError(f"must be a lower-case UUID, got {value!r}")
    return value


def _whole_second(value: datetime) -> datetime:
    if value.microsecond:
        raise ValueError(
            f"must be whole seconds (it is part of a key), got {keys.format_micros(value)}"
        )
    return value


HexDigest = Annotated[str, AfterValidator(_hex_digest)]
UuidText = Annotated[str, AfterValidator(_uuid_text)]
#: A UTC timestamp without fraction: snapshot period boundaries (``SNAP#{period_end}``).
WholeSecondUTC = Annotated[UTCDateTime, AfterValidator(_whole_second)]
OrderId = Annotated[str, key_part("order_id")]
AccountId = Annotated[str, key_part("account_id")]
CorrelationId = Annotated[str, key_part("correlation_id")]
StrategyName = Annotated[str, key_part("strategy")]


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    """Alpaca's order types."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class Frozen(BaseModel):
    """Base of every DTO: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonEmptyText = Annotated[str, AfterValidator(_non_empty)]

#: Characters a line of text may hold besides the printable ones.
_TEXT_CONTROLS = frozenset("\t\n\r")


def text_problem(value: str) -> str | None:
    """Why ``value`` is no free text the ledger takes, or ``None``: the one rule for every
    description, source, reason and actor written. Refused: control characters but tab, line
    feed and carriage return (a NUL ends a C string and garbles a log line), the byte-order
    mark U+FEFF (a file's, never text's: every reader drops it at a file's start) and unpaired
    surrogates (UTF-8 cannot encode them: DynamoDB and a snapshot's JSON would fail later).
    Checked where text comes in (a record, a correction, a void), not where it is read back,
    so what was stored before stays readable."""
    for char in value:
        code = ord(char)
        if (
            (unicodedata.category(char) == "Cc" and char not in _TEXT_CONTROLS)
            or code == 0xFEFF
            or 0xD800 <= code <= 0xDFFF
        ):
            kind = "a surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
            return f"must not contain U+{code:04X} ({unicodedata.name(char, kind)})"
    return None


def clean_text(value: str) -> str:
    """``value`` with what ``text_problem`` refuses replaced by spaces: for text the ledger
    keeps from elsewhere (Alpaca's descriptions), which it cannot send back."""
    if text_problem(value) is None:
        return value
    return "".join(" " if text_problem(char) else char for char in value)


def free_text(value: object, what: str, limit: int) -> str:
    """``value`` as free text of 1 to ``limit`` characters, stripped; ``LedgerValidationError``
    naming ``what`` otherwise."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > limit:
        raise LedgerValidationError(f"{what} must be 1 to {limit} characters of text")
    problem = text_problem(text)
    if problem is not None:
        raise LedgerValidationError(f"{what} {problem}")
    return text


#: An adjusted contract's OCC symbol: a root with a digit (``AAPL1``) after a corporate action.
_ADJUSTED_OPTION_SYMBOL = re.compile(r"^[A-Z]{1,5}[0-9]\d{6}[CP]\d{8}$")


@_once
def _check_symbol(value: str) -> str:
    if _ADJUSTED_OPTION_SYMBOL.fullmatch(value):
        raise ValueError(
            f"symbol {value!r} is an adjusted option contract (its root ends in a digit after a "
            "corporate action), whose deliverable and multiplier may differ from 100 shares: "
            "not supported; record the position in shares of its deliverable"
        )
    if not (_SYMBOL.fullmatch(value) or _OPTION_SYMBOL.fullmatch(value)):
        raise ValueError(
            f"symbol {value!r} is malformed: upper-case letters and digits, optionally one "
            "'.' or '/' class/pair separator (AAPL, BRK.B, BTC/USD), or an OCC option symbol "
            "(AAPL250620C00100000)"
        )
    return value


Symbol = Annotated[str, AfterValidator(_check_symbol)]


class TradeFill(Frozen):
    """One filled order as the trading bot records it, with its strategy allocation.

    ``strategy_allocation`` maps strategy -> weight; weights are > 0 and sum exactly to 1.
    """

    order_id: OrderId
    account_id: AccountId
    correlation_id: CorrelationId
    symbol: Symbol
    side: Side
    qty: Quantity
    price: Price
    filled_at: UTCDateTime
    order_type: OrderType = OrderType.MARKET
    fees: Fee = Decimal(0)
    strategy_allocation: dict[StrategyName, PositiveDecimal] = Field(min_length=1)
    bid_at_fill: Price | None = None
    ask_at_fill: Price | None = None
    #: The USD value of one unit of the pair's quote currency at the fill's time (``BTC`` for
    #: ``ETH/BTC``): required to record a pair not quoted in USD, absent for every other fill.
    quote_usd_rate: QuoteRate | None = None

    @model_serializer(mode="wrap")
    def _without_absent_rate(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A fill's JSON (its content_sha256, a correction's ``previous``) names the rate only
        # when it has one: every fill recorded before rates existed keeps its bytes and hash.
        return _drop_absent_rate(handler(self))

    @field_validator("strategy_allocation")
    @classmethod
    def _weights_sum_to_one(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if len(value) > MAX_STRATEGIES_PER_FILL:
            raise ValueError(
                f"at most {MAX_STRATEGIES_PER_FILL} strategies per fill, got {len(value)}"
            )
        if sum(map(Fraction, value.values()), Fraction(0)) != 1:  # exact at any precision
            with localcontext(decimal_context(_EXACT_DIGITS)):
                total = sum(value.values(), Decimal(0))
            raise ValueError(f"weights must sum exactly to 1, got {format(total, 'f')}")
        return dict(sorted(value.items()))

    @field_validator("filled_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime) -> datetime:
        latest = datetime.now(UTC) + MAX_CLOCK_SKEW
        if value > latest:
            raise ValueError(
                f"{keys.format_micros(value)} is in the future (more than "
                f"{int(MAX_CLOCK_SKEW.total_seconds() // 60)} minutes after now)"
            )
        return value

    @model_validator(mode="after")
    def _quote_is_ordered(self) -> TradeFill:
        bid, ask = self.bid_at_fill, self.ask_at_fill
        if bid is not None and ask is not None and bid > ask:
            raise ValueError(f"bid_at_fill {plain(bid)} is above ask_at_fill {plain(ask)}")
        if asset_class_of(self.symbol) == "us_option" and self.qty != self.qty.to_integral_value():
            raise ValueError(f"an option fill is in whole contracts, got qty {plain(self.qty)}")
        notional = value_of(self.symbol, self.qty, self.price)
        if notional > MAX_NOTIONAL:
            raise ValueError(
                f"notional qty x price {plain(notional)} is above the limit {plain(MAX_NOTIONAL)}"
            )
        rate = self.quote_usd_rate
        if rate is not None:
            quote = quote_currency(self.symbol)
            if not is_crossed(self.symbol):
                raise ValueError(
                    f"quote_usd_rate is only for pairs quoted in another currency than USD; "
                    f"{self.symbol} is quoted in USD"
                )
            if quote_amount(self.qty, self.price) == 0:
                raise ValueError(
                    f"qty x price {plain(notional)} {quote} is below the 1E-{QUOTE_PLACES} {quote} "
                    "a coin position holds: too small to move the quote coin"
                )
            # The fill in USD is bounded as a USD fill is, so no later sum can overflow.
            usd = _NOTIONAL.multiply(notional, rate)
            if usd > MAX_NOTIONAL:
                raise ValueError(
                    f"notional in USD qty x price x quote_usd_rate {plain(usd)} is above the "
                    f"limit {plain(MAX_NOTIONAL)}"
                )
            if _NOTIONAL.multiply(self.fees, rate) > MAX_FEE:
                raise ValueError(f"fees in USD (fees x quote_usd_rate) are above {plain(MAX_FEE)}")
        return self

    @property
    def notional(self) -> Decimal:
        """``qty * price`` (times 100 for an option contract): the fill's value before fees,
        exact whatever the caller's context."""
        return normalize(value_of(self.symbol, self.qty, self.price))

    def content_sha256(self) -> str:
        """SHA-256 of the fill's canonical JSON: equal for equal values (``1.50`` == ``1.5``)."""
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def attributions(self) -> tuple[StrategyAttribution, ...]:
        """Split the fill by weight into per-strategy shares that sum exactly to qty and fees."""
        names = list(self.strategy_allocation)
        weights = [self.strategy_allocation[n] for n in names]
        qty_shares = split_exact(self.qty, weights, QTY_PLACES)
        fee_shares = split_exact(self.fees, weights, FEE_PLACES)
        return tuple(
            StrategyAttribution(
                order_id=self.order_id,
                account_id=self.account_id,
                strategy=name,
                correlation_id=self.correlation_id,
                symbol=self.symbol,
                side=self.side,
                qty=qty,
                price=self.price,
                weight=weight,
                fees=fee,
                filled_at=self.filled_at,
                quote_usd_rate=self.quote_usd_rate,
            )
            for name, weight, qty, fee in zip(names, weights, qty_shares, fee_shares, strict=True)
        )


def split_exact(total: Decimal, weights: list[Decimal], places: int) -> list[Decimal]:
    """Largest-remainder split of ``total`` by ``weights`` at ``places`` decimals.

    Each share is truncated, then the leftover units go to the largest remainders (ties by
    position), so the shares always add up to ``total`` exactly and deterministically.
    """
    with localcontext(decimal_context(_EXACT_DIGITS)):  # 38 x 38 digits: products exact
        unit = Decimal(1).scaleb(-places)
        exact = [total * w for w in weights]
        shares = [quantize_down(e, places) for e in exact]
        leftover_units = int((total - sum(shares, Decimal(0))) / unit)
        order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
        for i in order[:leftover_units]:
            shares[i] += unit
    return [normalize(s) for s in shares]


class StrategyAttribution(Frozen):
    """The share of one fill attributed to one strategy (what GSI3 serves)."""

    order_id: OrderId
    account_id: AccountId
    strategy: StrategyName
    correlation_id: CorrelationId
    symbol: Symbol
    side: Side
    qty: NonNegativeDecimal
    price: PositiveDecimal
    weight: PositiveDecimal
    fees: NonNegativeDecimal
    filled_at: UTCDateTime
    #: The fill's ``quote_usd_rate`` (price and fees are in the pair's quote currency).
    quote_usd_rate: PositiveDecimal | None = None

    @model_serializer(mode="wrap")
    def _without_absent_rate(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_absent_rate(handler(self))

    @property
    def notional(self) -> Decimal:
        return normalize(value_of(self.symbol, self.qty, self.price))


def _drop_absent_rate(dumped: dict[str, Any]) -> dict[str, Any]:
    """A dump without ``quote_usd_rate`` when it is absent (see ``TradeFill``)."""
    if dumped.get("quote_usd_rate", 0) is None:
        del dumped["quote_usd_rate"]
    return dumped


class Correction(Frozen):
    """One correction of a recorded fill: who changed it, when, why, and what it was before.

    ``revision`` counts the fill's corrections from 1. ``previous`` is the fill as it was
    before this correction (so the original stays readable); ``kind`` ``void`` takes the fill
    out of every aggregate, ``amend`` replaces its content (same order id).
    """

    order_id: OrderId
    revision: int = Field(ge=1)
    kind: Literal["void", "amend"]
    reason: Annotated[NonEmptyText, Field(max_length=500)]
    actor: Annotated[NonEmptyText, Field(max_length=128)]
    corrected_at: UTCDateTime
    previous: TradeFill


class RecordedTrade(Frozen):
    """A stored fill together with its per-strategy attributions and its corrections.

    ``status`` ``voided``: the fill no longer counts anywhere (no attributions, out of the
    correlation and symbol listings); ``fill`` is then its last content. ``corrections`` are in
    revision order.
    """

    fill: TradeFill
    attributions: tuple[StrategyAttribution, ...]
    status: Literal["active", "voided"] = "active"
    corrections: tuple[Correction, ...] = ()


class CorrectionResult(Frozen):
    """Outcome of ``void``/``amend``: applied now, or the fill was already so (a retry)."""

    order_id: OrderId
    status: Literal["voided", "amended", "unchanged"]
    revision: int = Field(ge=0)


class RecordResult(Frozen):
    """Outcome of ``TradeLedgerRepository.record``: written now, or already there unchanged."""

    order_id: OrderId
    status: Literal["recorded", "already_recorded"]

    @property
    def created(self) -> bool:
        return self.status == "recorded"


class StrategyRegistration(Frozen):
    """A strategy the account has traded, with the number of fills attributed to it.

    ``revision`` counts every write that changed the strategy's entries (a fill recorded,
    voided or amended); it only grows, so a reader that saw it once can tell whether anything
    changed since, even a correction of an old fill. ``entries_digest`` tells which: a reader
    that knows the digest of the entries it read can tell whether the others changed.
    """

    account_id: AccountId
    strategy: StrategyName
    trade_count: int = Field(ge=0)
    revision: int = Field(ge=0, default=0)
    #: The digest sum of the strategy's current attributions (``ledger_store.digests``);
    #: ``None`` on a row written before digests were kept.
    entries_digest: int | None = None


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` ``object_pairs_hook`` refusing a key that appears twice (never last-wins)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice")
        result[key] = value
    return result


def parse_fill(data: Any) -> TradeFill:
    """Validate a mapping (e.g. a JSON line) into a ``TradeFill``; raise the library's error."""
    try:
        fill = TradeFill.model_validate(data)
    except ValidationError as exc:
        raise LedgerValidationError(describe_validation_error(exc)) from exc
    return require_quote_rate(fill)


def describe_validation_error(exc: ValidationError, whole: str | None = None) -> str:
    """One line per problem, ``field: reason``, without pydantic's URLs.

    Problems of the whole object (no field) are labelled ``whole``, by default the model's
    name in parentheses.
    """
    label = whole or f"({exc.title})"
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or label
        parts.append(f"{where}: {_error_text(error)}")
    return "; ".join(parts)


def _error_text(error: Any) -> str:
    """Pydantic's message for one problem, with values written as text, never as Python
    reprs (an enum member as its value, a ``Decimal`` as its digits)."""
    kind, ctx = error.get("type"), error.get("ctx") or {}
    field = str(ctx.get("discriminator", "kind")).strip("'")
    if kind == "union_tag_invalid":
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        tags = ", ".join(re.findall(r"<\w+\.\w+: (\w+)>", expected)) or expected
        return f"{field} must be one of {tags}, got {ctx.get('tag')}"
    if kind == "union_tag_not_found":
        return f"{field} is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    # Enum members as pydantic lists them: <EventKind.SPLIT: 'split'> -> split; a bound
    # written as Decimal('1000000') -> 1000000.
    message = re.sub(r"<\w+\.\w+: '?([^'>]*)'?>", r"\1", message)
    return re.sub(r"Decimal\('([^']*)'\)", r"\1", message)
