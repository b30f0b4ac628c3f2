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
and ``Oversell`` (defined in ``snapshots.ledger.fifo``) are part of this schema.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, NoReturn, TypeVar, overload

from pydantic import (
    BaseModel,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from ledger_store import keys
from ledger_store.checksums import mismatch_reason
from ledger_store.decimals import explicit_context
from ledger_store.dto import (
    AccountId,
    CorrelationId,
    Frozen,
    HexDigest,
    NonEmptyText,
    UTCDateTime,
    WholeSecondUTC,
    describe_validation_error,
    unique_keys,
)
from ledger_store.errors import IntegrityError, LedgerError, LedgerValidationError
from ledger_store.events import CashFlow
from snapshots import canonical
from snapshots.alpaca.models import (
    MAX_LOOKBACK_DAYS,
    Activities,
    ActivitiesV16,
    AlpacaAccount,
    AlpacaData,
    Benchmark,
    EquitySeries,
    Fees,
    Orders,
    Positions,
    ordered_unique,
)
from snapshots.ledger.fifo import OpenLot, Oversell
from snapshots.ledger.models import (
    AccountLedger,
    AccountLedgerV13,
    AccountLedgerV16,
    AccountLedgerV17,
    AccountLedgerV18,
    InternalLedger,
    StrategyPerformance,
    TradeMetrics,
)

SNAPSHOT_VERSION: Final = "1.8"
#: Every version ``parse_snapshot`` reads (all released versions, oldest first).
SUPPORTED_VERSIONS: Final = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8")

#: Namespace of the deterministic snapshot ids: ``uuid5(NAMESPACE_URL,
#: "urn:trade-ledger:account-snapshot")``. Never change it: ids are keys downstream.
SNAPSHOT_NAMESPACE: Final = uuid.UUID("d37eed43-70a5-5d64-9a4e-85d1d07f7238")


@explicit_context
def snapshot_id_for(account_id: str, period_end: datetime) -> str:
    """``uuid5(SNAPSHOT_NAMESPACE, f"{account_id}|{period_end:%Y-%m-%dT%H:%M:%SZ}")`` (UTC)."""
    name = f"{keys.validate_key_part(account_id, 'account_id')}|{keys.format_seconds(period_end)}"
    return str(uuid.uuid5(SNAPSHOT_NAMESPACE, name))


PeriodBoundary = WholeSecondUTC


class CheckStatus(StrEnum):
    """Outcome of an integrity check: ``fail`` blocks trust in the snapshot, ``warn`` flags."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


#: A value in an integrity check's ``details``: a count (JSON integer, >= 0) or text (decimals
#: in plain form, ids, notes). Version 1.0 wrote counts as text too.
Detail = Annotated[StrictInt, Field(ge=0)] | StrictStr


class IntegrityCheck(Frozen):
    """One comparison of Alpaca against the ledger (or of the data with itself).

    ``details`` holds the compared figures: counts as integers, decimals as text in plain form
    (so the check reads the same in the PDF as in the snapshot), ids and notes as text.
    """

    name: NonEmptyText
    status: CheckStatus
    message: str
    details: dict[str, Detail] = Field(default_factory=dict)


IntegrityChecks = Annotated[
    tuple[IntegrityCheck, ...],
    ordered_unique(lambda c: c.name, lambda c: c.name, "integrity check name"),
]


class _Body(Frozen):
    """The fields every ``snapshot_version`` has, and the invariants they share."""

    snapshot_id: str
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
    integrity_checks: IntegrityChecks = ()

    @model_validator(mode="after")
    def _common(self) -> _Body:
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
        return self

    def _events_of_the_period(self, events: Iterable[Any]) -> None:
        """Every ledger event listed is the account's and dated in the period."""
        listed = list(events)
        outside = [
            e.event_id for e in listed if not self.period_start <= e.effective_at < self.period_end
        ]
        if outside:
            raise ValueError(f"ledger events outside the period: {', '.join(outside)}")
        foreign = [e.event_id for e in listed if e.account_id != self.account_id]
        if foreign:
            raise ValueError(f"ledger events of another account: {', '.join(foreign)}")

    def _strategies_within_period(self, performance: Mapping[str, Any]) -> None:
        for name, p in performance.items():
            if p.last_trade_at is not None and p.last_trade_at >= self.period_end:
                raise ValueError(f"strategy {name} has trades at or after period_end")
            first = p.period.first_trade_at
            if first is not None and first < self.period_start:
                raise ValueError(f"strategy {name} has period trades before period_start")


class SnapshotBody(_Body):
    """Everything a snapshot's checksum covers (``snapshot_version`` 1.0 and 1.1).

    * ``snapshot_id``: ``snapshot_id_for(account_id, period_end)`` (deterministic UUID text).
    * ``period_start`` < ``period_end``: whole seconds, UTC; the period is half-open.
    * ``correlation_id``: the trading cycle that produced the snapshot.
    * ``alpaca_account``/``alpaca_positions``: Alpaca's view when the snapshot was built;
      positions ordered by ``(symbol, asset_class)``.
    * ``alpaca_orders``: orders submitted in the period or filled in it, ordered by
      ``(submitted_at, id)``.
    * ``fee_window_start`` < ``fee_window_end``: the creation-time window of ``alpaca_fees``
      (the period itself unless a posting lag was configured, see
      ``snapshots.alpaca.source.fee_window``).
    * ``alpaca_fees``: the FEE activities created in the fee window (``activity_sub_type``:
      REG = SEC fee, TAF = FINRA fee, ...), ordered by ``(created_at, id)``.
    * ``equity_series``: portfolio-history samples of the period, ordered by time.
    * ``internal_ledger``: see ``InternalLedger`` (long-only FIFO with oversells).
    * ``integrity_checks``: ordered by name, names unique.

    Lists given in another order are put in this order (so equal data gives equal snapshots).
    """

    snapshot_version: Literal["1.0", "1.1"] = "1.1"
    internal_ledger: InternalLedger

    @model_validator(mode="after")
    def _consistent(self) -> SnapshotBody:
        if self.snapshot_version == "1.0":
            _require_version_1_0_fields(self)
        self._strategies_within_period(self.internal_ledger.strategy_performance)
        return self


class SnapshotBodyV12(_Body):
    """Everything a ``snapshot_version`` 1.2 snapshot's checksum covers.

    The fields of 1.1, with the ledger of ``snapshots.ledger.summary``:

    * ``internal_ledger``: an ``AccountLedger`` (signed FIFO lots, corporate actions,
      dividends, cash flows; per strategy realised, unrealised and total P&L);
    * ``alpaca_activities``: Alpaca's non-trade activities created in the period (deposits,
      withdrawals, dividends, corporate actions), ordered by ``(created_at, id)``.
    """

    snapshot_version: Literal["1.2"] = "1.2"
    internal_ledger: AccountLedger
    alpaca_activities: Activities = ()

    @model_validator(mode="after")
    def _consistent(self) -> SnapshotBodyV12:
        self._strategies_within_period(self.internal_ledger.strategy_performance)
        ledger = self.internal_ledger
        self._events_of_the_period(
            [*ledger.cash_flows, *ledger.corporate_actions, *ledger.dividends]
        )
        late = [
            a.id
            for a in self.alpaca_activities
            if not self.period_start <= a.created_at < self.period_end
        ]
        if late:
            raise ValueError(f"activities created outside the period: {', '.join(late)}")
        return self


#: Fields that version 1.0 required and 1.1 made optional (Alpaca may drop them).
_REQUIRED_IN_1_0: Final = {
    "alpaca_account": (
        "account_number",
        "status",
        "last_equity",
        "buying_power",
        "initial_margin",
        "maintenance_margin",
    ),
    "alpaca_positions": ("side", "avg_entry_price", "cost_basis"),
    "alpaca_orders": ("client_order_id", "time_in_force", "filled_qty", "created_at", "updated_at"),
    "equity_series": ("equity", "profit_loss"),
}


def _require_version_1_0_fields(body: SnapshotBody) -> None:
    """What 1.0 promised: the fields 1.1 relaxed are present, and details are all text."""
    missing: list[str] = []

    def visit(where: str, item: Any, names: tuple[str, ...]) -> None:
        missing.extend(f"{where}.{name}" for name in names if getattr(item, name) is None)

    visit("alpaca_account", body.alpaca_account, _REQUIRED_IN_1_0["alpaca_account"])
    for position in body.alpaca_positions:
        visit(
            f"alpaca_positions[{position.symbol}]", position, _REQUIRED_IN_1_0["alpaca_positions"]
        )
    orders = list(body.alpaca_orders)
    while orders:
        order = orders.pop()
        visit(f"alpaca_orders[{order.id}]", order, _REQUIRED_IN_1_0["alpaca_orders"])
        orders.extend(order.legs)
    for point in body.equity_series:
        visit(
            f"equity_series[{keys.format_seconds(point.timestamp)}]",
            point,
            _REQUIRED_IN_1_0["equity_series"],
        )
    counts = [
        f"integrity_checks[{check.name}].details.{name}"
        for check in body.integrity_checks
        for name, value in check.details.items()
        if not isinstance(value, str)
    ]
    if missing:
        raise ValueError(f"snapshot_version 1.0 requires {', '.join(sorted(missing)[:5])}")
    if counts:
        raise ValueError(f"snapshot_version 1.0 writes details as text: {', '.join(counts[:5])}")


class AccountSnapshot(SnapshotBody):
    """A sealed snapshot of ``snapshot_version`` 1.0 or 1.1: the body plus its checksum.

    ``checksum`` is the hex digest of ``body_bytes(snapshot)``: HMAC-SHA-256 with the key from
    ``SNAPSHOT_HMAC_KEY`` when one is configured (``checksum_algorithm = "hmac-sha256"``), else
    plain SHA-256 (``"sha256"``, which detects corruption but not deliberate tampering).
    """

    checksum: HexDigest
    checksum_algorithm: canonical.ChecksumAlgorithm

    def describe(self) -> str:
        """``snapshot <id> (account <a>, period_end <t>)``: how errors name the snapshot."""
        return describe_snapshot(self.snapshot_id, self.account_id, self.period_end)


class AccountSnapshotV12(SnapshotBodyV12):
    """A sealed snapshot of ``snapshot_version`` 1.2 (checksum as in ``AccountSnapshot``)."""

    checksum: HexDigest
    checksum_algorithm: canonical.ChecksumAlgorithm

    def describe(self) -> str:
        """``snapshot <id> (account <a>, period_end <t>)``: how errors name the snapshot."""
        return describe_snapshot(self.snapshot_id, self.account_id, self.period_end)


class SnapshotBodyV13(SnapshotBodyV12):
    """Everything a ``snapshot_version`` 1.3 snapshot's checksum covers.

    1.2 with what carrying the ledger forward needs: ``internal_ledger`` is an
    ``AccountLedgerV13``, whose strategies carry the digest of their entries dated before
    ``period_end`` and which carries the digest of the account's events; a later snapshot
    starts from it instead of reading the whole history (``snapshots.ledger.summary``).
    """

    # A subclass so that every reader of 1.2 reads 1.3; only the version and the ledger differ.
    snapshot_version: Literal["1.3"] = "1.3"  # type: ignore[assignment]
    internal_ledger: AccountLedgerV13


class AccountSnapshotV13(SnapshotBodyV13, AccountSnapshotV12):
    """A sealed snapshot of ``snapshot_version`` 1.3 (checksum as in ``AccountSnapshot``)."""


class SnapshotBodyV14(SnapshotBodyV13):
    """Everything a ``snapshot_version`` 1.4 snapshot's checksum covers.

    1.3 with what the report's longer windows and its benchmark need:

    * ``equity_lookback_days`` (0 to ``MAX_LOOKBACK_DAYS``) and ``history_start =
      period_start - equity_lookback_days``: the window of the history before the period;
    * ``equity_history``: Alpaca's daily portfolio history of ``[history_start,
      period_start)`` (the period's own samples stay in ``equity_series``);
    * ``history_cash_flows``: the ledger's deposits and withdrawals of ``[history_start,
      period_start)`` (the period's are in ``internal_ledger.cash_flows``), by
      ``(effective_at, event_id)``, so returns over the whole window are flow-adjusted;
    * ``benchmark``: a configured symbol's daily closes over ``[history_start, period_end)``
      from Alpaca's market data, or ``None`` when no benchmark was configured.
    """

    snapshot_version: Literal["1.4"] = "1.4"  # type: ignore[assignment]
    equity_lookback_days: int = Field(ge=0, le=MAX_LOOKBACK_DAYS)
    history_start: PeriodBoundary
    equity_history: EquitySeries = ()
    history_cash_flows: tuple[CashFlow, ...] = ()
    benchmark: Benchmark | None = None

    @model_validator(mode="after")
    def _history(self) -> SnapshotBodyV14:
        expected = self.period_start - timedelta(days=self.equity_lookback_days)
        if self.history_start != expected:
            raise ValueError(
                f"history_start must be period_start - {self.equity_lookback_days} days "
                f"({keys.format_seconds(expected)})"
            )
        start, end = self.history_start, self.period_start
        early = [p.timestamp for p in self.equity_history if not start <= p.timestamp < end]
        if early:
            raise ValueError(
                f"equity_history samples outside [history_start, period_start): "
                f"{keys.format_seconds(early[0])}"
            )
        flows = self.history_cash_flows
        if [(c.effective_at, c.event_id) for c in flows] != sorted(
            {(c.effective_at, c.event_id) for c in flows}
        ):
            raise ValueError("history_cash_flows must be ordered by (effective_at, event_id)")
        outside = [c.event_id for c in flows if not start <= c.effective_at < end]
        if outside:
            raise ValueError(f"history_cash_flows outside the history: {', '.join(outside)}")
        foreign = [c.event_id for c in flows if c.account_id != self.account_id]
        if foreign:
            raise ValueError(f"history_cash_flows of another account: {', '.join(foreign)}")
        if self.benchmark is not None:
            self.benchmark.check_within(start, self.period_end)
        return self


class AccountSnapshotV14(SnapshotBodyV14, AccountSnapshotV13):
    """A sealed snapshot of ``snapshot_version`` 1.4 (checksum as in ``AccountSnapshot``)."""


class SnapshotBodyV15(SnapshotBodyV14):
    """Everything a ``snapshot_version`` 1.5 snapshot's checksum covers.

    The members of 1.4; what changed is what some of them mean, read from Alpaca as it really
    is (``snapshots.alpaca``; the README's *What the adapter accepts from Alpaca*):

    * an activity's ``created_at`` is its ``transaction_time`` or ``created_at``, else the
      time in its id read as New York local time (1.2-1.4 read the id as UTC), else the start
      of its ``date`` in New York; the period's activities are those whose time lies in it;
    * the ledger books only ``executed`` and ``correct`` activities; a ``canceled`` one voids
      its event, a corrected one supersedes it (revision ids ``<id>~<n>``), and the events
      check counts both as accounted for;
    * a split rounds each position once, half-up to 9 places, as Alpaca does (1.2-1.4
      truncated each lot); a split ratio derived from ``SSP`` rows is exact;
    * a dividend's ``qty`` has up to 18 places;
    * the fills check counts a multi-leg order by its legs, never its parent.

    A 1.3 or 1.4 snapshot is therefore no base to carry a 1.5 ledger forward from.
    """

    snapshot_version: Literal["1.5"] = "1.5"  # type: ignore[assignment]


class AccountSnapshotV15(SnapshotBodyV15, AccountSnapshotV14):
    """A sealed snapshot of ``snapshot_version`` 1.5 (checksum as in ``AccountSnapshot``)."""


class SnapshotBodyV16(SnapshotBodyV15):
    """Everything a ``snapshot_version`` 1.6 snapshot's checksum covers.

    1.5 with Alpaca's crypto fees (``CFEE``) read:

    * a fee taken in the coin (``Coin Pair Transaction Fee (Non USD)``: a ``symbol``, a negative
      ``qty``, ``net_amount`` 0) is an ``asset_fee`` event that shrinks the ledger's newest long
      lots of the coin at the same cost; ``internal_ledger`` is an ``AccountLedgerV16``, whose
      ``asset_fees`` list the period's (1.5 left them out: the ledger held more coin than
      Alpaca, and the positions check failed with nothing in the snapshot to explain it);
    * a fee in dollars (``net_amount`` < 0, no ``qty``) is one of ``alpaca_fees``, beside the
      ``FEE`` rows;
    * ``SSP`` rows that pay cash for a fraction of a share (cash in lieu) are a
      ``cash_in_lieu`` event that sells the fraction (``internal_ledger.cash_in_lieu``);
    * ``alpaca_activities`` keep each row's ``price`` (``AccountActivityV16``);
    * a dividend is shared by signed holdings (a short strategy pays its part), a merger pays
      the cash of a lot it leaves without shares and realises the rest of its basis (a
      cash-only takeover: ``ratio_new`` 0), and the ledger computes in 76 digits;
    * option fills (OCC symbols) are valued at their contract multiplier, 100, and an
      ``OPEXP`` row closes the contract's lots at 0 (``internal_ledger.option_expiries``).

    A 1.5 snapshot is therefore no base to carry a 1.6 ledger forward from.
    """

    snapshot_version: Literal["1.6"] = "1.6"  # type: ignore[assignment]
    internal_ledger: AccountLedgerV16
    alpaca_activities: ActivitiesV16 = ()

    @model_validator(mode="after")
    def _new_events_of_the_period(self) -> SnapshotBodyV16:
        self._events_of_the_period(
            [
                *self.internal_ledger.asset_fees,
                *self.internal_ledger.cash_in_lieu,
                *self.internal_ledger.option_expiries,
            ]
        )
        return self


class AccountSnapshotV16(SnapshotBodyV16, AccountSnapshotV15):
    """A sealed snapshot of ``snapshot_version`` 1.6 (checksum as in ``AccountSnapshot``)."""


class SnapshotBodyV17(SnapshotBodyV16):
    """Everything a ``snapshot_version`` 1.7 snapshot's checksum covers.

    1.6 with options exercised and assigned: Alpaca's ``OPEXC`` and ``OPASN`` rows, each with
    the ``OPTRD`` row of the shares it delivered, are one ``option_exercise`` event that closes
    the contract's lots and trades the shares at the strike with the premium folded into their
    cost or proceeds; ``internal_ledger`` is an ``AccountLedgerV17`` (``option_exercises``,
    ``unattributed_option_exercises``), and the events check counts the ``OPTRD`` row as the
    exercise's. Nothing else changed: a 1.6 snapshot carries forward into 1.7 (it could hold
    no exercise; its rows were unmapped, and its positions check failed).
    """

    snapshot_version: Literal["1.7"] = "1.7"  # type: ignore[assignment]
    internal_ledger: AccountLedgerV17

    @model_validator(mode="after")
    def _exercises_of_the_period(self) -> SnapshotBodyV17:
        self._events_of_the_period(list(self.internal_ledger.option_exercises))
        return self


class AccountSnapshotV17(SnapshotBodyV17, AccountSnapshotV16):
    """A sealed snapshot of ``snapshot_version`` 1.7 (checksum as in ``AccountSnapshot``)."""


class SnapshotBodyV18(SnapshotBodyV17):
    """Everything a ``snapshot_version`` 1.8 snapshot's checksum covers.

    1.7 with pairs quoted in other currencies than USD (``ETH/BTC``, ``BTC/USDT``): each such
    fill is valued at the ``quote_usd_rate`` recorded with it and held as a trade of each coin
    on the coin's own USD book; ``internal_ledger`` is an ``AccountLedgerV18``
    (``quoted_fills``). A 1.7 snapshot is no base for a 1.8 ledger: a crossed fill recorded
    before rates were required was summed as dollars in it.
    """

    snapshot_version: Literal["1.8"] = "1.8"  # type: ignore[assignment]
    internal_ledger: AccountLedgerV18

    @model_validator(mode="after")
    def _quoted_fills_of_the_period(self) -> SnapshotBodyV18:
        outside = [
            f.order_id
            for f in self.internal_ledger.quoted_fills
            if not self.period_start <= f.filled_at < self.period_end
        ]
        if outside:
            raise ValueError(f"quoted fills outside the period: {', '.join(outside)}")
        return self


class AccountSnapshotV18(SnapshotBodyV18, AccountSnapshotV17):
    """A sealed snapshot of ``snapshot_version`` 1.8 (checksum as in ``AccountSnapshot``)."""


#: Any version's body, and any version's sealed snapshot (what readers get).
AnyBody = (
    SnapshotBody
    | SnapshotBodyV12
    | SnapshotBodyV13
    | SnapshotBodyV14
    | SnapshotBodyV15
    | SnapshotBodyV16
    | SnapshotBodyV17
    | SnapshotBodyV18
)
AnySnapshot = (
    AccountSnapshot
    | AccountSnapshotV12
    | AccountSnapshotV13
    | AccountSnapshotV14
    | AccountSnapshotV15
    | AccountSnapshotV16
    | AccountSnapshotV17
    | AccountSnapshotV18
)
_SEALED: Final[dict[type[BaseModel], type[BaseModel]]] = {
    SnapshotBody: AccountSnapshot,
    SnapshotBodyV12: AccountSnapshotV12,
    SnapshotBodyV13: AccountSnapshotV13,
    SnapshotBodyV14: AccountSnapshotV14,
    SnapshotBodyV15: AccountSnapshotV15,
    SnapshotBodyV16: AccountSnapshotV16,
    SnapshotBodyV17: AccountSnapshotV17,
    SnapshotBodyV18: AccountSnapshotV18,
    AccountSnapshot: AccountSnapshot,
    AccountSnapshotV12: AccountSnapshotV12,
    AccountSnapshotV13: AccountSnapshotV13,
    AccountSnapshotV14: AccountSnapshotV14,
    AccountSnapshotV15: AccountSnapshotV15,
    AccountSnapshotV16: AccountSnapshotV16,
    AccountSnapshotV17: AccountSnapshotV17,
    AccountSnapshotV18: AccountSnapshotV18,
}
_CHECKSUM_FIELDS: Final = frozenset({"checksum", "checksum_algorithm"})


@explicit_context
def body_fields(snapshot: BaseModel) -> tuple[str, ...]:
    """The checksummed members of ``snapshot``'s version: every field but the checksum's."""
    return tuple(name for name in type(snapshot).model_fields if name not in _CHECKSUM_FIELDS)


@explicit_context
def describe_snapshot(snapshot_id: object, account_id: object, period_end: object) -> str:
    end = keys.format_seconds(period_end) if isinstance(period_end, datetime) else period_end
    return f"snapshot {snapshot_id} (account {account_id}, period_end {end})"


@explicit_context
def compose_snapshot(
    *,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    correlation_id: str,
    alpaca: AlpacaData,
    internal_ledger: InternalLedger | AccountLedger | AccountLedgerV13,
    integrity_checks: Iterable[IntegrityCheck] = (),
    history_cash_flows: Iterable[CashFlow] = (),
) -> AnyBody:
    """The unsealed snapshot of one period, with its deterministic id.

    The ledger decides the version: an ``AccountLedgerV18`` makes the current version (1.8,
    with Alpaca's non-trade activities, the history before the period and the benchmark of
    ``alpaca``, and ``history_cash_flows``), an ``AccountLedgerV17`` a 1.7 snapshot, an
    ``AccountLedgerV16`` a 1.6 snapshot, another
    ``AccountLedgerV13`` a 1.5 snapshot, an
    ``AccountLedger`` a 1.2 snapshot and an ``InternalLedger`` a 1.1 snapshot (what readers of
    old snapshots and their tests build).
    ``alpaca`` must cover the same period (its fee window may differ, see ``AlpacaData``);
    without a history it makes a lookback of 0 days.
    Raises ``LedgerValidationError`` when the parts do not make a valid snapshot.
    """
    if (alpaca.period_start, alpaca.period_end) != (period_start, period_end):
        raise LedgerValidationError(
            f"the Alpaca data covers [{canonical.format_datetime(alpaca.period_start)}, "
            f"{canonical.format_datetime(alpaca.period_end)}), not the snapshot's period"
        )
    fields: dict[str, Any] = {}
    model: type[SnapshotBody] | type[SnapshotBodyV12] = SnapshotBody
    if isinstance(internal_ledger, AccountLedgerV13):
        model = SnapshotBodyV15
        if isinstance(internal_ledger, AccountLedgerV18):
            model = SnapshotBodyV18
        elif isinstance(internal_ledger, AccountLedgerV17):
            model = SnapshotBodyV17
        elif isinstance(internal_ledger, AccountLedgerV16):
            model = SnapshotBodyV16
        history_start = alpaca.history_start or period_start
        fields.update(
            alpaca_activities=alpaca.activities,
            equity_lookback_days=(period_start - history_start).days,
            history_start=history_start,
            equity_history=alpaca.history,
            history_cash_flows=tuple(
                sorted(history_cash_flows, key=lambda c: (c.effective_at, c.event_id))
            ),
            benchmark=alpaca.benchmark,
        )
    elif isinstance(internal_ledger, AccountLedger):
        model = SnapshotBodyV12
        fields["alpaca_activities"] = alpaca.activities
    return _validated(
        model,
        {
            **fields,
            "snapshot_id": snapshot_id_for(account_id, period_end),
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


@explicit_context
def body_bytes(snapshot: AnyBody) -> bytes:
    """Canonical bytes of every field except ``checksum`` and ``checksum_algorithm``."""
    return canonical.canonical_bytes(
        {name: getattr(snapshot, name) for name in body_fields(snapshot)}
    )


@explicit_context
def snapshot_bytes(snapshot: AnySnapshot) -> bytes:
    """The stored form: canonical bytes of the whole sealed snapshot."""
    return canonical.canonical_bytes(snapshot)


@overload
def seal(unsealed: SnapshotBody, key: bytes | None) -> AccountSnapshot: ...


@overload
def seal(unsealed: SnapshotBodyV18, key: bytes | None) -> AccountSnapshotV18: ...


@overload
def seal(unsealed: SnapshotBodyV17, key: bytes | None) -> AccountSnapshotV17: ...


@overload
def seal(unsealed: SnapshotBodyV16, key: bytes | None) -> AccountSnapshotV16: ...


@overload
def seal(unsealed: SnapshotBodyV15, key: bytes | None) -> AccountSnapshotV15: ...


@overload
def seal(unsealed: SnapshotBodyV14, key: bytes | None) -> AccountSnapshotV14: ...


@overload
def seal(unsealed: SnapshotBodyV13, key: bytes | None) -> AccountSnapshotV13: ...


@overload
def seal(unsealed: SnapshotBodyV12, key: bytes | None) -> AccountSnapshotV12: ...


@explicit_context
def seal(unsealed: AnyBody, key: bytes | None) -> AnySnapshot:
    """The snapshot with its checksum (HMAC-SHA-256 with ``key``, SHA-256 without).

    Resealing a sealed snapshot replaces its checksum. The caller reads the key (e.g. from
    ``SNAPSHOT_HMAC_KEY``); this function never looks at the environment.
    """
    digest, algorithm = canonical.checksum(body_bytes(unsealed), key)
    fields = {name: getattr(unsealed, name) for name in body_fields(unsealed)}
    sealed: Any = _SEALED[type(unsealed)]
    return _validated(  # type: ignore[no-any-return]
        sealed,
        {**fields, "checksum": digest, "checksum_algorithm": algorithm},
        lambda: describe_snapshot(unsealed.snapshot_id, unsealed.account_id, unsealed.period_end),
    )


@explicit_context
def verify(snapshot: AnySnapshot, key: bytes | None) -> None:
    """Raise ``IntegrityError`` unless the checksum matches the body (constant-time compare).

    With a key only an ``hmac-sha256`` checksum can pass; without one only ``sha256``. The
    message names the snapshot but never includes the expected digest.
    """
    payload = body_bytes(snapshot)
    if canonical.checksum_matches(payload, snapshot.checksum, snapshot.checksum_algorithm, key):
        return
    reason = mismatch_reason(snapshot.checksum_algorithm, key)
    raise IntegrityError(f"{snapshot.describe()} failed verification: {reason}")


@explicit_context
def parse_snapshot(data: bytes | str) -> AnySnapshot:
    """Read a stored snapshot (``snapshot_bytes``) of any supported ``snapshot_version``.

    Raises ``IntegrityError`` for malformed JSON, floats, duplicate keys, an unknown version or
    any schema violation. It does not verify the checksum: call ``verify`` (or use
    ``load_snapshot``).
    """
    return parse_snapshot_object(read_json_object(data))


@explicit_context
def read_json_object(data: bytes | str) -> dict[str, Any]:
    """Strict JSON reading for snapshots: an object, no floats, no duplicate keys."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        raw = json.loads(
            text,
            parse_float=_reject_float,
            parse_constant=_reject_float,
            object_pairs_hook=unique_keys,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise IntegrityError(f"snapshot is not valid canonical JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise IntegrityError(f"snapshot must be a JSON object, got {type(raw).__name__}")
    return raw


@explicit_context
def parse_snapshot_object(raw: Mapping[str, Any]) -> AnySnapshot:
    """``parse_snapshot`` for already decoded JSON (version dispatch and validation)."""
    version = raw.get("snapshot_version")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(SUPPORTED_VERSIONS)
        raise IntegrityError(
            f"{_describe_raw(raw)} has unsupported snapshot_version {version!r} "
            f"(this code reads {supported})"
        )
    # 1.1 relaxed types of 1.0 (its own fields, same names): one model reads both, and
    # SnapshotBody holds a 1.0 body to what 1.0 required. 1.2 has its own ledger.
    model: Any = {
        "1.2": AccountSnapshotV12,
        "1.3": AccountSnapshotV13,
        "1.4": AccountSnapshotV14,
        "1.5": AccountSnapshotV15,
        "1.6": AccountSnapshotV16,
        "1.7": AccountSnapshotV17,
        "1.8": AccountSnapshotV18,
    }.get(str(version), AccountSnapshot)
    parsed: AnySnapshot = _validated(model, raw, lambda: _describe_raw(raw), IntegrityError)
    return parsed


@explicit_context
def load_snapshot(data: bytes | str, key: bytes | None) -> AnySnapshot:
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
        version = getattr(model.model_fields.get("snapshot_version"), "default", SNAPSHOT_VERSION)
        raise error(
            f"{describe()} violates the snapshot schema {version}: "
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
