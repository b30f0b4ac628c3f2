"""The account snapshot schema, version ``1.0``: what a snapshot holds and what each field means.

A snapshot is the state of one account for one period ``[period_start, period_end)``: what
Alpaca reported (account, positions, orders, fee activities, equity samples), what the internal
trade ledger says (``InternalLedger``), the integrity checks that compared the two, and a
checksum over all of it.

* Every DTO is frozen, rejects unknown fields and validates its invariants (sums, orderings,
  period containment), so a snapshot that parses is internally consistent.
* The checksummed *body* is every field except ``checksum`` and ``checksum_algorithm``;
  ``body_bytes`` gives its canonical bytes (``snapshots.canonical``). ``created_at`` and
  ``ttl`` are storage attributes of the DynamoDB item, deliberately not part of this schema:
  rebuilding the same snapshot later gives the same body, id and checksum.
* The stored/transported form is ``snapshot_bytes(snapshot)`` (canonical JSON of the whole
  snapshot); ``parse_snapshot`` reads it back for every released ``snapshot_version``.
* Money is ``Decimal`` (JSON: plain strings), timestamps are UTC.

Versioning: any change to a field, a meaning or a canonical rule is a new ``snapshot_version``
with its own model; ``parse_snapshot`` keeps reading the old ones. The FIFO records ``OpenLot``
and ``Oversell`` (defined in ``snapshots.fifo``) are part of this schema.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, NoReturn, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ledger_store import keys
from ledger_store.checksums import mismatch_reason
from ledger_store.dto import (
    AccountId,
    CorrelationId,
    HexDigest,
    Money,
    NonNegativeDecimal,
    StrategyName,
    Symbol,
    UTCDateTime,
    WholeSecondUTC,
    describe_validation_error,
)
from ledger_store.errors import IntegrityError, LedgerError, LedgerValidationError

from . import canonical
from .alpaca_models import (
    AlpacaAccount,
    AlpacaData,
    EquitySeries,
    Fees,
    Orders,
    Positions,
    ordered_unique,
)
from .fifo import OpenLot, Oversell, exact_arithmetic

SNAPSHOT_VERSION: Final = "1.0"
#: Every version ``parse_snapshot`` reads (all released versions, oldest first).
SUPPORTED_VERSIONS: Final = ("1.0",)

#: Namespace of the deterministic snapshot ids: ``uuid5(NAMESPACE_URL,
#: "urn:trade-ledger:account-snapshot")``. Never change it: ids are keys downstream.
SNAPSHOT_NAMESPACE: Final = uuid.UUID("d37eed43-70a5-5d64-9a4e-85d1d07f7238")


def snapshot_id_for(account_id: str, period_end: datetime) -> str:
    """``uuid5(SNAPSHOT_NAMESPACE, f"{account_id}|{period_end:%Y-%m-%dT%H:%M:%SZ}")`` (UTC)."""
    name = f"{keys.validate_key_part(account_id, 'account_id')}|{keys.format_seconds(period_end)}"
    return str(uuid.uuid5(SNAPSHOT_NAMESPACE, name))


def _sorted_unique(what: str) -> AfterValidator:
    def check(value: tuple[str, ...]) -> tuple[str, ...]:
        if list(value) != sorted(set(value)):
            raise ValueError(f"{what} must be sorted and unique")
        return value

    return AfterValidator(check)


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


PeriodBoundary = WholeSecondUTC
SortedSymbols = Annotated[tuple[Symbol, ...], _sorted_unique("symbols")]
SortedStrategies = Annotated[tuple[StrategyName, ...], _sorted_unique("strategies")]
NonEmptyText = Annotated[str, AfterValidator(_non_empty)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _oversell_key(o: Oversell) -> tuple[datetime, str, str]:
    return (o.filled_at, o.order_id, o.symbol)


def _lot_key(lot: OpenLot) -> tuple[str, datetime, str]:
    return (lot.symbol, lot.opened_at, lot.order_id)


class TradeMetrics(_Frozen):
    """Trading metrics of one strategy over a set of its fills (attributions).

    * ``total_trades``: fills attributed to the strategy (one per order; a fill shared by
      several strategies counts once for each of them), ``= buy_trades + sell_trades``.
    * ``total_buy_value`` / ``total_sell_value``: sum of ``attributed qty * price`` of the buys /
      sells, before fees.
    * ``gross_pnl = total_sell_value - total_buy_value``: the trading cash flow before fees (it
      is not a profit while positions are open; see ``realized_pnl``).
    * ``realized_pnl``: FIFO realised P&L of the sells among these fills, fees excluded
      (``snapshots.fifo``; lots opened earlier count as cost basis).
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


class InternalLedger(_Frozen):
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


class CheckStatus(StrEnum):
    """Outcome of an integrity check: ``fail`` blocks trust in the snapshot, ``warn`` flags."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class IntegrityCheck(_Frozen):
    """One comparison of Alpaca against the ledger (or of the data with itself).

    ``details`` holds the compared figures as text (decimals in plain form), so the check reads
    the same in the PDF as in the snapshot.
    """

    name: NonEmptyText
    status: CheckStatus
    message: str
    details: dict[str, str] = Field(default_factory=dict)


IntegrityChecks = Annotated[
    tuple[IntegrityCheck, ...],
    ordered_unique(lambda c: c.name, lambda c: c.name, "integrity check name"),
]


class SnapshotBody(_Frozen):
    """Everything a snapshot's checksum covers.

    * ``snapshot_id``: ``snapshot_id_for(account_id, period_end)`` (deterministic UUID text).
    * ``period_start`` < ``period_end``: whole seconds, UTC; the period is half-open.
    * ``correlation_id``: the trading cycle that produced the snapshot.
    * ``alpaca_account``/``alpaca_positions``: Alpaca's view when the snapshot was built;
      positions ordered by ``(symbol, asset_class)``.
    * ``alpaca_orders``: orders submitted in the period or filled in it, ordered by
      ``(submitted_at, id)``.
    * ``fee_window_start`` < ``fee_window_end``: the creation-time window of ``alpaca_fees``
      (the period itself unless a posting lag was configured, see
      ``snapshots.alpaca_source.fee_window``).
    * ``alpaca_fees``: the FEE activities created in the fee window (``activity_sub_type``:
      REG = SEC fee, TAF = FINRA fee, ...), ordered by ``(created_at, id)``.
    * ``equity_series``: portfolio-history samples of the period, ordered by time.
    * ``internal_ledger``: see ``InternalLedger``.
    * ``integrity_checks``: ordered by name, names unique.

    Lists given in another order are put in this order (so equal data gives equal snapshots).
    """

    snapshot_id: str
    snapshot_version: Literal["1.0"] = SNAPSHOT_VERSION
    account_id: AccountId
    period_start: PeriodBoundary
    period_end: PeriodBoundary
    correlation_id: CorrelationId
    alpaca_account: AlpacaAccount
    alpaca_positions: Positions = ()
    alpaca_orders: Orders = ()
    fee_window_start: UTCDateTime
    fee_window_end: UTCDateTime
    alpaca_fees: Fees = ()
    equity_series: EquitySeries = ()
    internal_ledger: InternalLedger
    integrity_checks: IntegrityChecks = ()

    @model_validator(mode="after")
    def _consistent(self) -> SnapshotBody:
        if self.period_start >= self.period_end:
            raise ValueError("period_start must be before period_end")
        if self.fee_window_start >= self.fee_window_end:
            raise ValueError("fee_window_start must be before fee_window_end")
        outside = [
            f.id
            for f in self.alpaca_fees
            if not self.fee_window_start <= f.created_at < self.fee_window_end
        ]
        if outside:
            raise ValueError(f"fee activities created outside the fee window: {', '.join(outside)}")
        expected_id = snapshot_id_for(self.account_id, self.period_end)
        if self.snapshot_id != expected_id:
            raise ValueError(
                f"snapshot_id must be {expected_id} for account {self.account_id} and period_end "
                f"{keys.format_seconds(self.period_end)}, got {self.snapshot_id!r}"
            )
        for name, p in self.internal_ledger.strategy_performance.items():
            if p.last_trade_at is not None and p.last_trade_at >= self.period_end:
                raise ValueError(f"strategy {name} has trades at or after period_end")
            first = p.period.first_trade_at
            if first is not None and first < self.period_start:
                raise ValueError(f"strategy {name} has period trades before period_start")
        return self


class AccountSnapshot(SnapshotBody):
    """A sealed snapshot: the body plus its checksum.

    ``checksum`` is the hex digest of ``body_bytes(snapshot)``: HMAC-SHA-256 with the key from
    ``SNAPSHOT_HMAC_KEY`` when one is configured (``checksum_algorithm = "hmac-sha256"``), else
    plain SHA-256 (``"sha256"``, which detects corruption but not deliberate tampering).
    """

    checksum: HexDigest
    checksum_algorithm: canonical.ChecksumAlgorithm

    def describe(self) -> str:
        """``snapshot <id> (account <a>, period_end <t>)``: how errors name the snapshot."""
        return describe_snapshot(self.snapshot_id, self.account_id, self.period_end)


_BODY_FIELDS: Final = tuple(SnapshotBody.model_fields)


def describe_snapshot(snapshot_id: object, account_id: object, period_end: object) -> str:
    end = keys.format_seconds(period_end) if isinstance(period_end, datetime) else period_end
    return f"snapshot {snapshot_id} (account {account_id}, period_end {end})"


def compose_snapshot(
    *,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    correlation_id: str,
    alpaca: AlpacaData,
    internal_ledger: InternalLedger,
    integrity_checks: Iterable[IntegrityCheck] = (),
) -> SnapshotBody:
    """The unsealed snapshot of one period, with its deterministic id and the current version.

    ``alpaca`` must cover the same period (its fee window may differ, see ``AlpacaData``).
    Raises ``LedgerValidationError`` when the parts do not make a valid snapshot.
    """
    if (alpaca.period_start, alpaca.period_end) != (period_start, period_end):
        raise LedgerValidationError(
            f"the Alpaca data covers [{canonical.format_datetime(alpaca.period_start)}, "
            f"{canonical.format_datetime(alpaca.period_end)}), not the snapshot's period"
        )
    return _validated(
        SnapshotBody,
        {
            "snapshot_id": snapshot_id_for(account_id, period_end),
            "snapshot_version": SNAPSHOT_VERSION,
            "account_id": account_id,
            "period_start": period_start,
            "period_end": period_end,
            "correlation_id": correlation_id,
            "alpaca_account": alpaca.account,
            "alpaca_positions": alpaca.positions,
            "alpaca_orders": alpaca.orders,
            "fee_window_start": alpaca.fee_window_start,
            "fee_window_end": alpaca.fee_window_end,
            "alpaca_fees": alpaca.fees,
            "equity_series": alpaca.equity,
            "internal_ledger": internal_ledger,
            "integrity_checks": tuple(integrity_checks),
        },
        lambda: describe_snapshot("(new)", account_id, period_end),
    )


def body_bytes(snapshot: SnapshotBody) -> bytes:
    """Canonical bytes of every field except ``checksum`` and ``checksum_algorithm``."""
    return canonical.canonical_bytes({name: getattr(snapshot, name) for name in _BODY_FIELDS})


def snapshot_bytes(snapshot: AccountSnapshot) -> bytes:
    """The stored form: canonical bytes of the whole sealed snapshot."""
    return canonical.canonical_bytes(snapshot)


def seal(unsealed: SnapshotBody, key: bytes | None) -> AccountSnapshot:
    """The snapshot with its checksum (HMAC-SHA-256 with ``key``, SHA-256 without).

    Resealing a sealed snapshot replaces its checksum. The caller reads the key (e.g. from
    ``SNAPSHOT_HMAC_KEY``); this function never looks at the environment.
    """
    digest, algorithm = canonical.checksum(body_bytes(unsealed), key)
    fields = {name: getattr(unsealed, name) for name in _BODY_FIELDS}
    return _validated(
        AccountSnapshot,
        {**fields, "checksum": digest, "checksum_algorithm": algorithm},
        lambda: describe_snapshot(unsealed.snapshot_id, unsealed.account_id, unsealed.period_end),
    )


def verify(snapshot: AccountSnapshot, key: bytes | None) -> None:
    """Raise ``IntegrityError`` unless the checksum matches the body (constant-time compare).

    With a key only an ``hmac-sha256`` checksum can pass; without one only ``sha256``. The
    message names the snapshot but never includes the expected digest.
    """
    payload = body_bytes(snapshot)
    if canonical.checksum_matches(payload, snapshot.checksum, snapshot.checksum_algorithm, key):
        return
    reason = mismatch_reason(snapshot.checksum_algorithm, key)
    raise IntegrityError(f"{snapshot.describe()} failed verification: {reason}")


def parse_snapshot(data: bytes | str) -> AccountSnapshot:
    """Read a stored snapshot (``snapshot_bytes``) of any supported ``snapshot_version``.

    Raises ``IntegrityError`` for malformed JSON, floats, duplicate keys, an unknown version or
    any schema violation. It does not verify the checksum: call ``verify`` (or use
    ``load_snapshot``).
    """
    return parse_snapshot_object(read_json_object(data))


def read_json_object(data: bytes | str) -> dict[str, Any]:
    """Strict JSON reading for snapshots: an object, no floats, no duplicate keys."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        raw = json.loads(
            text,
            parse_float=_reject_float,
            parse_constant=_reject_float,
            object_pairs_hook=_no_duplicates,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise IntegrityError(f"snapshot is not valid canonical JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise IntegrityError(f"snapshot must be a JSON object, got {type(raw).__name__}")
    return raw


def parse_snapshot_object(raw: Mapping[str, Any]) -> AccountSnapshot:
    """``parse_snapshot`` for already decoded JSON (version dispatch and validation)."""
    version = raw.get("snapshot_version")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(SUPPORTED_VERSIONS)
        raise IntegrityError(
            f"{_describe_raw(raw)} has unsupported snapshot_version {version!r} "
            f"(this code reads {supported})"
        )
    # Only 1.0 exists; later versions dispatch to their own models here.
    return _validated(AccountSnapshot, raw, lambda: _describe_raw(raw), IntegrityError)


def load_snapshot(data: bytes | str, key: bytes | None) -> AccountSnapshot:
    """``parse_snapshot`` then ``verify``: what a reader of stored snapshots should call."""
    snapshot = parse_snapshot(data)
    verify(snapshot, key)
    return snapshot


_M = TypeVar("_M", bound=BaseModel)


def _validated(
    model: type[_M],
    data: Mapping[str, Any],
    describe: Callable[[], str],
    error: type[LedgerError] = LedgerValidationError,
) -> _M:
    """Validate; pydantic's error becomes ``error`` (validation building, integrity reading)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(
            f"{describe()} violates the snapshot schema {SNAPSHOT_VERSION}: "
            + describe_validation_error(exc)
        ) from exc


def _describe_raw(raw: Mapping[str, Any]) -> str:
    return describe_snapshot(
        raw.get("snapshot_id", "(no id)"),
        raw.get("account_id", "(no account)"),
        raw.get("period_end", "(no period_end)"),
    )


def _reject_float(text: str) -> NoReturn:
    raise ValueError(f"floats are not allowed in a snapshot: {text}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice")
        result[key] = value
    return result


__all__ = [
    "SNAPSHOT_NAMESPACE",
    "SNAPSHOT_VERSION",
    "SUPPORTED_VERSIONS",
    "AccountSnapshot",
    "CheckStatus",
    "IntegrityCheck",
    "InternalLedger",
    "OpenLot",
    "Oversell",
    "SnapshotBody",
    "StrategyPerformance",
    "TradeMetrics",
    "body_bytes",
    "compose_snapshot",
    "load_snapshot",
    "parse_snapshot",
    "parse_snapshot_object",
    "read_json_object",
    "seal",
    "snapshot_bytes",
    "snapshot_id_for",
    "verify",
]
