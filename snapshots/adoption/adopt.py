"""Adopt an Alpaca account: bring the trading history its bot never recorded into the ledger.

``adopt_account`` reads the account's ``FILL`` activities and their orders from Alpaca, records
one fill per order Alpaca is done with (``snapshots.alpaca.fills``), each attributed to a
strategy by the rule file (``snapshots.ledger.rules``), records the events of the same range's
non-trade activities, and takes the account's first snapshot over the whole range, reading the
ledger's whole history. Everything is idempotent: a re-run records nothing and takes no second
snapshot, an interrupted run resumes where it stopped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from ledger_store import keys
from ledger_store.accounts import AccountBindingRepository
from ledger_store.dto import (
    OrderType,
    Side,
    TradeFill,
    describe_validation_error,
    is_crossed,
    quote_currency,
)
from ledger_store.errors import LedgerError, LedgerValidationError
from ledger_store.events import AccountEventRepository
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import DEFAULT_WORKERS, TradeLedgerRepository
from snapshots.alpaca.fills import DoneOrder, HistoryProblem, OpenOrder, TradingHistory, done_orders
from snapshots.alpaca.models import AccountActivity, AlpacaAccount, AlpacaData, AlpacaOrder
from snapshots.alpaca.rates import RATE_LOOKBACK
from snapshots.builder import EventSync, SnapshotOutcome, record_activity_events, take_snapshot
from snapshots.ledger.rules import AttributionRules

#: The correlation id of a fill the ledger learnt from Alpaca: its UTC trade date.
CORRELATION_PREFIX = "alpaca-"
#: Progress stages: rows read from Alpaca (no total known), fills recorded (of a total).
READING, RECORDING = "reading", "recording"

Progress = Callable[[str, int, int | None], object]


class AdoptionSource(Protocol):
    """What adoption needs from Alpaca (``AlpacaSource``)."""

    def fetch_account(self) -> AlpacaAccount: ...

    def fetch_trading_history(
        self,
        period_start: datetime,
        period_end: datetime,
        *,
        progress: Callable[[str, int], object] | None = None,
    ) -> TradingHistory: ...

    def fetch_activities(
        self, period_start: datetime, period_end: datetime
    ) -> tuple[AccountActivity, ...]: ...

    def fetch(self, period_start: datetime, period_end: datetime) -> AlpacaData: ...

    def fetch_orders(self, order_ids: Sequence[str]) -> dict[str, AlpacaOrder]: ...

    def fetch_quote_rates(
        self, wanted: Sequence[tuple[str, datetime]]
    ) -> dict[tuple[str, datetime], Decimal]: ...


class NotRecorded(BaseModel):
    """A fill adoption could not record, and why (the others are recorded regardless)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str
    reason: str


class Adoption(BaseModel):
    """What ``adopt_account`` found and did.

    ``by_rule``: how many of the range's fills each rule took (every rule listed, in file order,
    the default last), whether recorded now or before. ``snapshot`` is ``None`` when the account
    already had one (``first_snapshot_skipped`` says which) or none was asked for.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    alpaca_account_id: str
    period_start: datetime
    period_end: datetime
    executions: int
    fills: int
    recorded: tuple[str, ...]
    already_recorded: tuple[str, ...]
    not_recorded: tuple[NotRecorded, ...]
    open_orders: tuple[OpenOrder, ...]
    problems: tuple[HistoryProblem, ...]
    rounded_prices: tuple[str, ...]
    by_rule: dict[str, int]
    events: EventSync
    snapshot: SnapshotOutcome | None = None
    first_snapshot_skipped: str | None = None

    @property
    def changed(self) -> bool:
        """Whether this run wrote anything (a re-run of a finished adoption writes nothing)."""
        return bool(
            self.recorded
            or self.events.recorded
            or self.events.revised
            or self.events.voided
            or (self.snapshot is not None and self.snapshot.status != "existing")
        )


def correlation_of(filled_at: datetime) -> str:
    """The correlation id of a fill learnt from Alpaca: ``alpaca-YYYY-MM-DD`` (UTC)."""
    return f"{CORRELATION_PREFIX}{filled_at.astimezone(UTC):%Y-%m-%d}"


def fill_of(order: DoneOrder, account_id: str, rules: AttributionRules) -> tuple[str, TradeFill]:
    """The ledger fill of an order Alpaca is done with, and the label of the rule that took it.

    Alpaca keeps no fee on the order: its fees are activities of their own (``FEE``,
    ``CFEE``), which every snapshot holds, so the fill's ``fees`` are 0.
    """
    label, allocation = rules.attribute(order.client_order_id, order.symbol)
    fill = TradeFill(
        order_id=order.order_id,
        account_id=account_id,
        correlation_id=correlation_of(order.filled_at),
        symbol=order.symbol,
        side=Side.BUY if order.side == "buy" else Side.SELL,
        qty=order.qty,
        price=order.price,
        filled_at=order.filled_at,
        order_type=OrderType(order.order_type),
        fees=Decimal(0),
        strategy_allocation=allocation,
    )
    return label, fill


def ledger_fills(
    orders: Sequence[DoneOrder], account_id: str, rules: AttributionRules
) -> tuple[list[tuple[str, TradeFill]], list[NotRecorded]]:
    """The ledger fills of done orders with their rules; the orders the ledger refuses."""
    fills: list[tuple[str, TradeFill]] = []
    refused: list[NotRecorded] = []
    for order in orders:
        try:
            fills.append(fill_of(order, account_id, rules))
        except ValidationError as exc:
            refused.append(
                NotRecorded(order_id=order.order_id, reason=describe_validation_error(exc))
            )
    return fills, refused


def with_quote_rates(
    fills: Sequence[TradeFill], alpaca: AdoptionSource
) -> tuple[list[TradeFill], list[NotRecorded]]:
    """``fills``, each of a pair quoted in another currency than USD given its
    ``quote_usd_rate`` from Alpaca's crypto bars (``snapshots.alpaca.rates``); those Alpaca
    cannot price are refused with the reason (they are never recorded without a rate)."""
    crossed = [f for f in fills if f.quote_usd_rate is None and is_crossed(f.symbol)]
    if not crossed:
        return list(fills), []
    rates = alpaca.fetch_quote_rates([(quote_currency(f.symbol), f.filled_at) for f in crossed])
    rated: list[TradeFill] = []
    refused: list[NotRecorded] = []
    for fill in fills:
        if fill.quote_usd_rate is not None or not is_crossed(fill.symbol):
            rated.append(fill)
            continue
        quote = quote_currency(fill.symbol)
        rate = rates.get((quote, fill.filled_at))
        if rate is None:
            refused.append(
                NotRecorded(
                    order_id=fill.order_id,
                    reason=(
                        f"{fill.symbol} is quoted in {quote} and Alpaca's crypto bars have no "
                        f"{quote}/USD price within {_minutes(RATE_LOOKBACK)} minutes before "
                        f"{keys.format_micros(fill.filled_at)}: record the fill with its "
                        "quote_usd_rate ('trades import')"
                    ),
                )
            )
            continue
        try:
            rated.append(TradeFill.model_validate({**fill.model_dump(), "quote_usd_rate": rate}))
        except ValidationError as exc:
            refused.append(
                NotRecorded(order_id=fill.order_id, reason=describe_validation_error(exc))
            )
    return rated, refused


def with_recorded_rates(
    fills: Sequence[TradeFill], ledger: TradeLedgerRepository
) -> list[TradeFill]:
    """``fills``, each of a crossed pair already recorded (same pair and time) given the rate it
    was recorded with: a re-run keeps it, whatever Alpaca's bars say now (a bar of the fill's
    own minute may have come after the first run), so it finds the fill recorded unchanged.
    One batch read of the crossed ones' trades."""
    unpriced = [f.order_id for f in fills if f.quote_usd_rate is None and is_crossed(f.symbol)]
    recorded = ledger.recorded_fills(unpriced) if unpriced else {}
    priced = []
    for fill in fills:
        known = recorded.get(fill.order_id)
        if (
            fill.quote_usd_rate is None
            and known is not None
            and known.quote_usd_rate is not None
            and (known.symbol, known.filled_at) == (fill.symbol, fill.filled_at)
        ):
            fill = fill.model_copy(update={"quote_usd_rate": known.quote_usd_rate})
        priced.append(fill)
    return priced


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def adopt_account(
    *,
    account_id: str,
    alpaca: AdoptionSource,
    ledger: TradeLedgerRepository,
    events: AccountEventRepository,
    store: AccountSnapshotRepository,
    rules: AttributionRules | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    hmac_key: bytes | None = None,
    first_snapshot: bool = True,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Adoption:
    """Adopt ``account_id``: the fills and events of ``[period_start, period_end)``, then the
    account's first snapshot of that range (unless it has one).

    ``period_start`` defaults to the Alpaca account's creation, ``period_end`` to now (whole
    seconds). The Alpaca account is bound to the ledger account before anything is written:
    another account's keys raise ``AccountMismatchError`` and write nothing.
    """
    keys.validate_key_part(account_id, "account_id")
    rules = rules or AttributionRules()
    now = (clock or (lambda: datetime.now(UTC)))()
    account = alpaca.fetch_account()
    start = period_start if period_start is not None else account.created_at
    if start is None:
        raise LedgerValidationError(
            "Alpaca did not say when the account was created: give the start of the history"
        )
    start = keys.require_utc(start, "period_start").replace(microsecond=0)
    end = keys.require_utc(period_end, "period_end") if period_end else now
    end = end.replace(microsecond=0)
    if end > now:
        raise LedgerValidationError(f"period_end {keys.format_seconds(end)} is in the future")
    if start >= end:
        raise LedgerValidationError(
            f"the history starts at {keys.format_seconds(start)}, not before its end "
            f"{keys.format_seconds(end)}"
        )
    # The keys must be this ledger account's before anything is written into it.
    AccountBindingRepository(ledger.settings).bind(account_id, account.id, account.account_number)

    read = 0

    def rows_read(_kind: str, rows: int) -> None:
        nonlocal read
        read += rows
        if progress is not None:
            progress(READING, read, None)

    history = alpaca.fetch_trading_history(start, end, progress=rows_read)
    outcome = done_orders(history)
    labelled, refused = ledger_fills(outcome.done, account_id, rules)
    by_rule = Counter(label for label, _ in labelled)
    fills = with_recorded_rates([fill for _, fill in labelled], ledger)
    fills, unpriced = with_quote_rates(fills, alpaca)
    refused += unpriced

    finished = 0

    def recorded_one(_index: int, _result: object) -> None:
        nonlocal finished
        finished += 1
        if progress is not None:
            progress(RECORDING, finished, len(fills))

    if progress is not None:
        progress(RECORDING, 0, len(fills))
    results = ledger.record_many(fills, workers=workers, done=recorded_one)
    recorded, already = [], []
    not_recorded = list(refused)
    for fill, result in zip(fills, results, strict=True):
        if isinstance(result, LedgerError):
            not_recorded.append(NotRecorded(order_id=fill.order_id, reason=str(result)))
        elif result.created:
            recorded.append(fill.order_id)
        else:
            already.append(fill.order_id)

    sync = record_activity_events(events, account_id, alpaca.fetch_activities(start, end))

    snapshot = None
    skipped = None
    if first_snapshot:
        skipped = _has_snapshot(store, account_id)
        if skipped is None:
            snapshot = take_snapshot(
                account_id=account_id,
                period_start=start,
                period_end=end,
                correlation_id=f"adopt-{keys.format_seconds(end)}",
                alpaca=alpaca,
                ledger=ledger,
                store=store,
                hmac_key=hmac_key,
                full_rebuild=True,
                clock=lambda: now,
            )
    return Adoption(
        account_id=account_id,
        alpaca_account_id=account.id,
        period_start=start,
        period_end=end,
        executions=len(history.executions),
        fills=len(fills),
        recorded=tuple(recorded),
        already_recorded=tuple(already),
        not_recorded=tuple(not_recorded),
        open_orders=outcome.open,
        problems=outcome.problems,
        rounded_prices=tuple(o.order_id for o in outcome.done if o.price_rounded),
        by_rule={label: by_rule.get(label, 0) for label in rules.labels()},
        events=sync,
        snapshot=snapshot,
        first_snapshot_skipped=skipped,
    )


def _has_snapshot(store: AccountSnapshotRepository, account_id: str) -> str | None:
    """Why no first snapshot is taken (the account has one), or ``None``."""
    for summary in store.summaries(account_id, newest_first=True):
        return (
            f"the account has snapshots already (the newest ends "
            f"{keys.format_seconds(summary.period_end)})"
        )
    return None
