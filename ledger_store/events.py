"""Account events: what happens to an account besides its fills, recorded once by id.

An event changes positions or cash without a trade, on a date (``effective_at``):

* ``split`` — ``symbol``'s shares become ``ratio_new`` for every ``ratio_old`` (10:1 forward,
  1:6 reverse, 3:2); quantities scale by ``ratio_new / ratio_old``, cost basis is unchanged;
* ``symbol_change`` — ``symbol`` trades as ``new_symbol`` from then on (same shares, same cost);
* ``merger`` — each share of ``symbol`` becomes ``ratio_new / ratio_old`` shares of
  ``new_symbol`` plus ``cash_per_share`` in cash (stock-for-stock, cash-and-stock);
* ``dividend`` — ``amount`` of cash for the holders of ``symbol`` at ``effective_at`` (the
  record date); negative for withholdings (``DIVNRA``, ``DIVTW``, ``DIVFEE``);
* ``cash_flow`` — ``amount`` deposited (> 0) or withdrawn (< 0): not profit, not loss;
* ``cash_in_lieu`` — ``amount`` paid for the fraction of a share of ``symbol`` a split left
  (Alpaca's ``SSP`` cash rows, before it kept fractional shares): the fraction is sold;
* ``option_expiry`` — the option contract ``symbol`` expired (Alpaca's ``OPEXP``): its lots close
  at 0, a long one losing its premium, a written one keeping it; ``qty`` is Alpaca's change of
  the position (-2: two long contracts gone);
* ``option_exercise`` — contracts of the option ``symbol`` exercised (Alpaca's ``OPEXC``: ``qty``
  < 0, the account's long contracts) or assigned (``OPASN``: ``qty`` > 0, its written ones),
  delivering ``shares`` of ``underlying`` (bought > 0, sold < 0) at ``price``, the strike
  (Alpaca's ``OPTRD`` row, whose id is ``trade_activity_id``): the option lots close and the
  premium joins the shares' cost or proceeds;
* ``asset_fee`` — ``qty`` of ``symbol`` taken as a fee (Alpaca's ``CFEE``: a crypto trading fee
  taken in the coin received): the holding shrinks, its cost stays; ``price`` is Alpaca's
  dollar price of the coin when it was taken (the fee's value, for the report).

``event_id`` is Alpaca's activity id for events fetched from Alpaca, any key part for events
imported from a file. Recording is idempotent by id: the same event again changes nothing; the
same id with other content is a ``ConflictError``. ``source`` keeps Alpaca's activity type
(``SSP``, ``SC``, ``MA``, ``DIV``, ``CSD``, ...). A wrong event is never edited or deleted:
``void`` marks it (who, when, why), every reader leaves it out from then on, and its id stays
taken, so the Alpaca activity it came from can never bring it back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError, model_validator
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from . import keys
from .config import TableSettings
from .decimals import plain
from .digests import entry_digest
from .dto import (
    FEE_PLACES,
    MAX_CLOCK_SKEW,
    MAX_NOTIONAL,
    MAX_PRICE,
    MAX_QTY,
    OPTION_MULTIPLIER,
    QTY_PLACES,
    AccountId,
    Frozen,
    Money,
    NonEmptyText,
    NonNegativeDecimal,
    PositiveDecimal,
    Quantity,
    Symbol,
    UTCDateTime,
    asset_class_of,
    describe_validation_error,
    free_text,
    key_part,
    max_places,
    option_terms,
    text_problem,
)
from .errors import ConflictError, IntegrityError, LedgerValidationError, NotFoundError
from .models import AccountEventItem, EventCounterItem, EventIdItem, LedgerItem
from .storage import storage_call, stream, transact
from .tracing import subsegment

#: A split or merger ratio: at most a million to one, with at most 9 decimal places.
MAX_RATIO = Decimal(10) ** 6
#: Longest description kept with an event.
MAX_DESCRIPTION = 500

EventId = Annotated[str, key_part("event_id")]
Ratio = Annotated[PositiveDecimal, max_places(QTY_PLACES), Field(le=MAX_RATIO)]
Amount = Annotated[Money, max_places(FEE_PLACES), Field(ge=-MAX_NOTIONAL, le=MAX_NOTIONAL)]
PerShare = Annotated[Money, max_places(FEE_PLACES), Field(ge=-MAX_PRICE, le=MAX_PRICE)]
#: The shares that earned a dividend, as Alpaca states them: informational (the ledger shares a
#: dividend by its own holdings), kept to 18 places since Alpaca writes fractional holdings
#: with more than the 9 places of a trade (``"201.9617035750071243"``).
DIVIDEND_QTY_PLACES = 18
EventQty = Annotated[Money, max_places(DIVIDEND_QTY_PLACES), Field(ge=-MAX_QTY, le=MAX_QTY)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION)]
Source = Annotated[NonEmptyText, Field(max_length=16)]


class EventKind(StrEnum):
    SPLIT = "split"
    SYMBOL_CHANGE = "symbol_change"
    MERGER = "merger"
    DIVIDEND = "dividend"
    CASH_FLOW = "cash_flow"
    ASSET_FEE = "asset_fee"
    CASH_IN_LIEU = "cash_in_lieu"
    OPTION_EXPIRY = "option_expiry"
    OPTION_EXERCISE = "option_exercise"


def _not_in_the_future(value: datetime) -> datetime:
    if value > datetime.now(UTC) + MAX_CLOCK_SKEW:
        raise ValueError(f"{keys.format_micros(value)} is in the future")
    return value


EffectiveAt = Annotated[UTCDateTime, AfterValidator(_not_in_the_future)]


class _Event(Frozen):
    event_id: EventId
    account_id: AccountId
    effective_at: EffectiveAt
    source: Source | None = None
    description: Description | None = None

    def content_sha256(self) -> str:
        """SHA-256 of the event's canonical JSON: equal for equal values (``1.50`` == ``1.5``)."""
        text = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Split(_Event):
    """``symbol``'s shares become ``ratio_new`` for every ``ratio_old`` at ``effective_at``."""

    kind: Literal[EventKind.SPLIT] = EventKind.SPLIT
    symbol: Symbol
    ratio_new: Ratio
    ratio_old: Ratio

    @model_validator(mode="after")
    def _a_real_split(self) -> Split:
        if self.ratio_new == self.ratio_old:
            raise ValueError("a split's ratio_new and ratio_old must differ")
        return self


class SymbolChange(_Event):
    """``symbol`` is ``new_symbol`` from ``effective_at`` on: same shares, same cost."""

    kind: Literal[EventKind.SYMBOL_CHANGE] = EventKind.SYMBOL_CHANGE
    symbol: Symbol
    new_symbol: Symbol

    @model_validator(mode="after")
    def _a_real_change(self) -> SymbolChange:
        if self.symbol == self.new_symbol:
            raise ValueError("symbol and new_symbol must differ")
        return self


class Merger(_Event):
    """Each share of ``symbol`` becomes ``ratio_new / ratio_old`` shares of ``new_symbol`` and
    ``cash_per_share`` in cash (a reorganisation, Alpaca ``MA``/``REORG``). ``ratio_new`` 0
    with cash is a cash-only takeover: the shares go, the cash comes."""

    kind: Literal[EventKind.MERGER] = EventKind.MERGER
    symbol: Symbol
    new_symbol: Symbol
    ratio_new: Annotated[NonNegativeDecimal, max_places(QTY_PLACES), Field(le=MAX_RATIO)]
    ratio_old: Ratio
    cash_per_share: Annotated[PerShare, Field(ge=0)] = Decimal(0)

    @model_validator(mode="after")
    def _shares_or_cash(self) -> Merger:
        if self.ratio_new == 0 and self.cash_per_share == 0:
            raise ValueError("a merger into no shares (ratio_new 0) needs a cash_per_share")
        return self


class Dividend(_Event):
    """Cash for the holders of ``symbol`` at ``effective_at``; negative for withholdings."""

    kind: Literal[EventKind.DIVIDEND] = EventKind.DIVIDEND
    symbol: Symbol
    amount: Amount
    per_share_amount: PerShare | None = None
    qty: EventQty | None = None

    @model_validator(mode="after")
    def _not_nothing(self) -> Dividend:
        if self.amount == 0:
            raise ValueError("a dividend's amount must not be 0")
        return self


class CashFlow(_Event):
    """Cash deposited (``amount`` > 0) or withdrawn (< 0): capital, never profit or loss."""

    kind: Literal[EventKind.CASH_FLOW] = EventKind.CASH_FLOW
    amount: Amount

    @model_validator(mode="after")
    def _not_nothing(self) -> CashFlow:
        if self.amount == 0:
            raise ValueError("a cash flow's amount must not be 0")
        return self


class AssetFee(_Event):
    """``qty`` of ``symbol`` taken as a fee in the asset itself (Alpaca ``CFEE``, Non USD): the
    ledger's holding of it shrinks by ``qty`` at the same cost; ``price`` (Alpaca's dollar price
    of the asset then) values the fee."""

    kind: Literal[EventKind.ASSET_FEE] = EventKind.ASSET_FEE
    symbol: Symbol
    qty: Quantity
    price: Annotated[PerShare, Field(ge=0)] | None = None


class CashInLieu(_Event):
    """``amount`` of cash for the fraction of a share of ``symbol`` that a split left (the
    account's holding less its whole shares): the fraction leaves the newest lots, sold for
    the cash. Recorded after the split it follows, at the same time or later."""

    kind: Literal[EventKind.CASH_IN_LIEU] = EventKind.CASH_IN_LIEU
    symbol: Symbol
    amount: Annotated[Amount, Field(gt=0)]


class OptionExpiry(_Event):
    """The option contract ``symbol`` expired: every lot of it closes at 0 (``qty``: Alpaca's
    signed change of the position, whole contracts, kept as it says)."""

    kind: Literal[EventKind.OPTION_EXPIRY] = EventKind.OPTION_EXPIRY
    symbol: Symbol
    qty: Annotated[Money, max_places(0), Field(ge=-MAX_QTY, le=MAX_QTY)]

    @model_validator(mode="after")
    def _an_option(self) -> OptionExpiry:
        if asset_class_of(self.symbol) != "us_option":
            raise ValueError(f"{self.symbol} is no option contract (an OCC symbol)")
        if self.qty == 0:
            raise ValueError("an expiry's qty must not be 0")
        return self


Contracts = Annotated[Money, max_places(0), Field(ge=-MAX_QTY, le=MAX_QTY)]


class OptionExercise(_Event):
    """Contracts of the option ``symbol`` exercised or assigned, and the shares they delivered.

    ``qty`` is Alpaca's signed change of the contract position, whole contracts: < 0 the
    account exercised long contracts (``OPEXC``), > 0 its written contracts were assigned
    (``OPASN``). ``shares`` of ``underlying`` (the contract's root: 100 a contract) changed
    hands at ``price`` (Alpaca's, the strike), bought (> 0) or sold (< 0) as the contract's
    right says: a call exercised or a put assigned buys, a put exercised or a call assigned
    sells. ``trade_activity_id`` is the id of Alpaca's
    ``OPTRD`` row of those shares, which this event accounts for.
    """

    kind: Literal[EventKind.OPTION_EXERCISE] = EventKind.OPTION_EXERCISE
    symbol: Symbol
    qty: Contracts
    underlying: Symbol
    shares: Annotated[Money, max_places(QTY_PLACES), Field(ge=-MAX_QTY, le=MAX_QTY)]
    price: Annotated[PerShare, Field(ge=0)]
    trade_activity_id: EventId | None = None

    @property
    def exercised(self) -> bool:
        """``True`` for the account's own exercise, ``False`` for an assignment."""
        return self.qty < 0

    @model_validator(mode="after")
    def _a_delivery(self) -> OptionExercise:
        terms = option_terms(self.symbol)
        if terms is None:
            raise ValueError(f"{self.symbol} is no option contract (an OCC symbol)")
        if self.underlying.replace(".", "") != terms.root:
            # A standard contract's root is its underlying (BRKB for BRK.B).
            raise ValueError(f"{self.symbol} delivers {terms.root}, not {self.underlying}")
        if self.qty == 0:
            raise ValueError("an exercise's qty must not be 0")
        if abs(self.shares) != abs(self.qty) * OPTION_MULTIPLIER:
            raise ValueError(
                f"{plain(abs(self.qty))} contract(s) deliver "
                f"{plain(abs(self.qty) * OPTION_MULTIPLIER)} shares, not {plain(abs(self.shares))}"
            )
        buys = (terms.right == "call") == (self.qty < 0)
        if buys != (self.shares > 0):
            what = "exercised" if self.qty < 0 else "assigned"
            raise ValueError(
                f"a {terms.right} {what} {'buys' if buys else 'sells'} its shares: "
                f"shares must be {'> 0' if buys else '< 0'}, got {plain(self.shares)}"
            )
        return self


#: Any event (a union of the kinds, told apart by ``kind``).
Event = (
    Split
    | SymbolChange
    | Merger
    | Dividend
    | CashFlow
    | AssetFee
    | CashInLieu
    | OptionExpiry
    | OptionExercise
)
AccountEvent = Annotated[Event, Field(discriminator="kind")]
_EVENT: TypeAdapter[Event] = TypeAdapter(AccountEvent)


def event_detail(event: Event) -> str:
    """What the event does, in a few characters: ``10:1``, ``-> XYZ``, ``+2.17``."""
    if isinstance(event, Split):
        return f"{plain(event.ratio_new)}:{plain(event.ratio_old)}"
    if isinstance(event, SymbolChange):
        return f"-> {event.new_symbol}"
    if isinstance(event, Merger):
        cash = f" + {plain(event.cash_per_share)} cash" if event.cash_per_share else ""
        return f"-> {plain(event.ratio_new)}:{plain(event.ratio_old)} {event.new_symbol}{cash}"
    if isinstance(event, AssetFee):
        return f"-{plain(event.qty)} {event.symbol}"
    if isinstance(event, OptionExpiry):
        return f"{plain(event.qty)} expired"
    if isinstance(event, OptionExercise):
        what = "exercised" if event.exercised else "assigned"
        delivered = f"{plain(event.shares)} {event.underlying} @ {plain(event.price)}"
        return f"{plain(event.qty)} {what}: {delivered}"
    return plain(event.amount)


def parse_event(data: Any) -> Event:
    """Validate a mapping (e.g. a JSON line) into an event; raise the library's error."""
    try:
        return _EVENT.validate_python(data)
    except ValidationError as exc:
        raise LedgerValidationError(describe_validation_error(exc, "(event)")) from exc


class EventRecordResult(Frozen):
    """``recorded`` now, or ``already_recorded`` (the same event, unchanged)."""

    event_id: EventId
    status: Literal["recorded", "already_recorded"]


class EventTotals(Frozen):
    """The account's event counter: writes so far, and the digest sum of its active events
    (``ledger_store.digests``; ``None`` on a counter written before digests were kept)."""

    event_count: int = Field(ge=0)
    events_digest: int | None


class EventVoidResult(Frozen):
    """``voided`` now, or ``unchanged`` (it was voided already)."""

    event_id: EventId
    status: Literal["voided", "unchanged"]


class RecordedEvent(Frozen):
    """An event as the ledger holds it: ``active``, or ``voided`` with who, when and why."""

    event: AccountEvent
    status: Literal["active", "voided"]
    voided_at: UTCDateTime | None = None
    void_reason: str | None = None
    void_actor: str | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AccountEventRepository:
    """An account's events: recorded once by id, read in time order."""

    def __init__(
        self, settings: TableSettings, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._settings = settings
        self._clock = clock

    def record(self, event: Event) -> EventRecordResult:
        """Write the event, its id guard and the account's event count in one transaction.

        Conditioned on the id being new: an identical event again is ``already_recorded``; the
        same id with other content raises ``ConflictError``. Either way nothing is changed.
        """
        guard_key = f"{keys.account_pk(event.account_id)} / {keys.event_id_sk(event.event_id)}"
        digest = _writable(event).content_sha256()
        item = _event_item(event, digest)
        with (
            storage_call(self._settings, "record event", guard_key),
            subsegment("ledger.record_event", event_id=event.event_id, kind=event.kind.value),
        ):
            connection = LedgerItem._get_connection().connection
            try:

                def build(tx: TransactWrite) -> None:
                    _save_event(tx, event, item, LedgerItem.pk.does_not_exist())
                    _count_writes(tx, event.account_id, 1, entry_digest(event))

                transact(connection, build)
            except TransactWriteError as exc:
                reasons = exc.cancellation_reasons or []
                failed = [r is not None and r.code == "ConditionalCheckFailed" for r in reasons]
                if failed and failed[0]:
                    return self._compare_with_stored(event, digest, guard_key)
                if len(failed) > 2 and failed[2]:
                    raise ConflictError(
                        f"event {event.event_id}: another {event.kind.value} of "
                        f"{getattr(event, 'symbol', '')} on {event.effective_at.date()} is "
                        "already recorded (one corporate action per symbol and day, so none is "
                        "applied twice); nothing was written",
                        key=f"{keys.account_pk(event.account_id)} / {_action_sk(event)}",
                    ) from None
                raise
        return EventRecordResult(event_id=event.event_id, status="recorded")

    def _compare_with_stored(self, event: Event, digest: str, key: str) -> EventRecordResult:
        stored = self.get(event.account_id, event.event_id)
        if stored.content_sha256() == digest:
            return EventRecordResult(event_id=event.event_id, status="already_recorded")
        old, new = stored.model_dump(mode="json"), event.model_dump(mode="json")
        differences = [
            f"{name}: stored {old.get(name)!r}, given {new.get(name)!r}"
            for name in sorted(set(old) | set(new))
            if old.get(name) != new.get(name)
        ]
        raise ConflictError(
            f"event {event.event_id} is already recorded with different content: "
            + "; ".join(differences),
            key=key,
            differences=differences,
        )

    def void(self, account_id: str, event_id: str, *, reason: str, actor: str) -> EventVoidResult:
        """Take an event out of every reader's view, keeping it readable (``recorded``).

        One transaction: the event item marked voided (who, when, why), conditioned on it being
        the active event that was read; for a corporate action its day's guard released (the
        right event for that symbol and day can then be recorded); one more write on the
        account's event counter. The id stays taken: recording the same event again (a re-run
        reading the same Alpaca activity) is ``already_recorded`` and does not revive it.
        Voiding a voided event again is ``unchanged``.
        """
        reason_text = _void_text(reason, "reason", 500)
        actor_text = _void_text(actor, "actor", 128)
        recorded = self.recorded(account_id, event_id)
        if recorded.status == "voided":
            return EventVoidResult(event_id=event_id, status="unchanged")
        event = recorded.event
        pk = keys.account_pk(account_id)
        sk = keys.event_sk(event.effective_at, event.event_id)
        with (
            storage_call(self._settings, "void event", f"{pk} / {sk}"),
            subsegment("ledger.void_event", event_id=event_id, kind=event.kind.value),
        ):
            connection = LedgerItem._get_connection().connection
            try:

                def build(tx: TransactWrite) -> None:
                    self._mark_voided(tx, pk, event, reason_text, actor_text)
                    action_sk = _action_sk(event)
                    if action_sk is not None:
                        tx.delete(
                            EventIdItem(pk, action_sk),
                            condition=EventIdItem.event_sk == sk,
                        )
                    tx.update(
                        EventCounterItem(pk, keys.EVENT_COUNTER_SK),
                        actions=[
                            EventCounterItem.event_count.add(1),
                            EventCounterItem.events_digest.add(-entry_digest(event)),
                        ],
                        condition=EventCounterItem.pk.exists(),
                    )

                transact(connection, build)
            except TransactWriteError as exc:
                if self.recorded(account_id, event_id).status == "voided":
                    return EventVoidResult(event_id=event_id, status="unchanged")
                raise ConflictError(
                    f"event {event_id} changed while it was being voided; nothing was written",
                    key=f"{pk} / {sk}",
                ) from exc
        return EventVoidResult(event_id=event_id, status="voided")

    def _mark_voided(
        self, tx: TransactWrite, pk: str, event: Event, reason: str, actor: str
    ) -> str:
        """Add to ``tx`` the void of ``event`` (who, when, why), conditioned on it being the
        active event that was read; return its sort key."""
        sk = keys.event_sk(event.effective_at, event.event_id)
        tx.update(
            AccountEventItem(pk, sk),
            actions=[
                AccountEventItem.voided_at.set(self._clock()),
                AccountEventItem.void_reason.set(reason),
                AccountEventItem.void_actor.set(actor),
            ],
            condition=AccountEventItem.voided_at.does_not_exist()
            & (AccountEventItem.content_sha256 == event.content_sha256()),
        )
        return sk

    def revisions(self, account_id: str, event_id: str) -> tuple[RecordedEvent, ...]:
        """The event recorded under ``event_id`` and every revision of it (``revision_id``),
        active or voided, in the order they were recorded (one Query of the id guards, then a
        GetItem each). Empty when nothing was recorded under that id."""
        pk = keys.account_pk(account_id)
        prefix = keys.event_id_sk(event_id)
        found: list[tuple[int, RecordedEvent]] = []
        guards = list(
            stream(
                self._settings,
                "query event revisions",
                f"{pk} / {prefix}",
                lambda: LedgerItem.query(pk, range_key_condition=LedgerItem.sk.startswith(prefix)),
            )
        )
        for guard in guards:
            if not isinstance(guard, EventIdItem):
                continue
            number = revision_number(event_id, guard.sk.removeprefix("EVENTID#"))
            if number is None:
                continue  # another id that merely starts with this one
            with storage_call(self._settings, "get event", f"{pk} / {guard.event_sk}"):
                try:
                    item = AccountEventItem.get(pk, guard.event_sk, consistent_read=True)
                except AccountEventItem.DoesNotExist:
                    raise IntegrityError(
                        f"event guard {guard.sk} names {guard.event_sk}, which does not exist"
                    ) from None
            found.append((number, _recorded(item)))
        return tuple(recorded for _, recorded in sorted(found, key=lambda pair: pair[0]))

    def supersede(self, event: Event, *, reason: str, actor: str) -> EventRecordResult:
        """Record ``event`` in place of the active revisions of its id, append-only.

        For a source that re-sends an event under the same id with other content (Alpaca's
        corrected activity): every active revision of ``event.event_id`` whose content differs
        is voided with ``reason`` and ``event`` is recorded under the next revision id
        (``revision_id``), in one transaction with one update of the event counter. When an
        active revision already holds the same content (a re-run), nothing is written and the
        result is ``already_recorded`` with that revision's id. Raises ``ConflictError`` when
        another writer changed the revisions meanwhile.
        """
        reason_text = _void_text(reason, "reason", 500)
        actor_text = _void_text(actor, "actor", 128)
        base = _writable(event).event_id
        revisions = self.revisions(event.account_id, base)
        for recorded in revisions:
            if recorded.status == "active" and _same_content(recorded.event, event):
                return EventRecordResult(
                    event_id=recorded.event.event_id, status="already_recorded"
                )
        if not revisions:
            return self.record(event)
        active = [r.event for r in revisions if r.status == "active"]
        replacement = event.model_copy(update={"event_id": revision_id(base, len(revisions))})
        replacement = _EVENT.validate_python(replacement.model_dump())
        digest = replacement.content_sha256()
        item = _event_item(replacement, digest)
        pk = keys.account_pk(event.account_id)
        with (
            storage_call(self._settings, "supersede event", f"{pk} / {item.sk}"),
            subsegment("ledger.supersede_event", event_id=replacement.event_id),
        ):
            connection = LedgerItem._get_connection().connection

            def build(tx: TransactWrite) -> None:
                freed: dict[str, str] = {}
                for old in active:
                    old_sk = self._mark_voided(tx, pk, old, reason_text, actor_text)
                    action = _action_sk(old)
                    if action is not None:
                        freed[action] = old_sk
                action = _action_sk(replacement)
                # The day's guard moves to the replacement (one action per item).
                _save_event(
                    tx,
                    replacement,
                    item,
                    (EventIdItem.event_sk == freed[action])
                    if action is not None and action in freed
                    else LedgerItem.pk.does_not_exist(),
                )
                for freed_action, old_sk in freed.items():
                    if freed_action != action:
                        tx.delete(
                            EventIdItem(pk, freed_action), condition=EventIdItem.event_sk == old_sk
                        )
                _count_writes(
                    tx,
                    event.account_id,
                    1 + len(active),
                    entry_digest(replacement) - sum(entry_digest(old) for old in active),
                )

            try:
                transact(connection, build)
            except TransactWriteError as exc:
                for recorded in self.revisions(event.account_id, base):
                    if recorded.status == "active" and _same_content(recorded.event, event):
                        return EventRecordResult(
                            event_id=recorded.event.event_id, status="already_recorded"
                        )
                raise ConflictError(
                    f"event {base}: its revisions changed while it was being superseded, or "
                    "another corporate action of its symbol and day is recorded; nothing was "
                    "written",
                    key=f"{pk} / {keys.event_id_sk(base)}",
                ) from exc
        return EventRecordResult(event_id=replacement.event_id, status="recorded")

    def get(self, account_id: str, event_id: str) -> Event:
        """One event by id, active or voided (see ``recorded`` for which)."""
        return self.recorded(account_id, event_id).event

    def recorded(self, account_id: str, event_id: str) -> RecordedEvent:
        """One event by id with its status (two GetItems: the guard names its sort key)."""
        pk = keys.account_pk(account_id)
        guard_sk = keys.event_id_sk(event_id)
        with storage_call(self._settings, "get event", f"{pk} / {guard_sk}"):
            try:
                guard = EventIdItem.get(pk, guard_sk, consistent_read=True)
            except EventIdItem.DoesNotExist:
                raise NotFoundError(f"no event {event_id!r} for account {account_id!r}") from None
            try:
                item = AccountEventItem.get(pk, guard.event_sk, consistent_read=True)
            except AccountEventItem.DoesNotExist:
                raise IntegrityError(
                    f"event {event_id!r}: its guard names {guard.event_sk}, which does not exist"
                ) from None
        return _recorded(item)

    def corporate_action(self, account_id: str, symbol: str, day: date) -> Event | None:
        """The active split, symbol change or merger of ``symbol`` on ``day``, if any."""
        pk = keys.account_pk(account_id)
        action_sk = f"ACTION#{keys.validate_key_part(symbol, 'symbol')}#{day.isoformat()}"
        with storage_call(self._settings, "get corporate action", f"{pk} / {action_sk}"):
            try:
                guard = EventIdItem.get(pk, action_sk, consistent_read=True)
            except EventIdItem.DoesNotExist:
                return None
            try:
                item = AccountEventItem.get(pk, guard.event_sk, consistent_read=True)
            except AccountEventItem.DoesNotExist:
                raise IntegrityError(
                    f"corporate action guard {action_sk} names {guard.event_sk}, which does "
                    "not exist"
                ) from None
        return _recorded(item).event

    def events(
        self, account_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[Event]:
        """The account's active events with ``start <= effective_at < end``, oldest first."""
        for recorded in self.history(account_id, start, end):
            if recorded.status == "active":
                yield recorded.event

    def history(
        self, account_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[RecordedEvent]:
        """Every event of the range, voided ones too, with its status; oldest first, paginated."""
        pk = keys.account_pk(account_id)
        if start is not None and end is not None and start > end:
            raise LedgerValidationError(
                f"range start {keys.format_micros(start)} is after its end "
                f"{keys.format_micros(end)}"
            )
        lower = keys.event_prefix(start) if start is not None else "EVENT#"
        upper = keys.event_prefix(end) if end is not None else "EVENT#~"
        for item in stream(
            self._settings,
            "query events",
            pk,
            lambda: LedgerItem.query(pk, range_key_condition=LedgerItem.sk.between(lower, upper)),
        ):
            if isinstance(item, AccountEventItem):
                yield _recorded(item)

    def event_count(self, account_id: str) -> int:
        """How many writes changed the account's events: records and voids (one GetItem).

        It only grows, so a reader can tell that the events changed since it last looked."""
        return self.event_totals(account_id).event_count

    def event_totals(self, account_id: str) -> EventTotals:
        """The account's event counter and the digest sum of its active events (one GetItem)."""
        pk = keys.account_pk(account_id)
        with storage_call(self._settings, "get event count", f"{pk} / {keys.EVENT_COUNTER_SK}"):
            try:
                counter = EventCounterItem.get(pk, keys.EVENT_COUNTER_SK, consistent_read=True)
            except EventCounterItem.DoesNotExist:
                return EventTotals(event_count=0, events_digest=0)
        digest = counter.events_digest
        return EventTotals(
            event_count=int(counter.event_count),
            events_digest=None if digest is None else int(digest),
        )


#: Separates an event id from its revision number (``revision_id``).
REVISION_SEPARATOR = "~"


def revision_id(event_id: str, number: int) -> str:
    """The id of revision ``number`` of ``event_id``: the id itself for 0, else ``id~number``."""
    return event_id if number == 0 else f"{event_id}{REVISION_SEPARATOR}{number}"


def revision_number(event_id: str, candidate: str) -> int | None:
    """Which revision of ``event_id`` the id ``candidate`` is, or ``None`` for another id."""
    if candidate == event_id:
        return 0
    rest = candidate.removeprefix(event_id + REVISION_SEPARATOR)
    if rest == candidate or not rest.isdigit() or rest.startswith("0"):
        return None
    return int(rest)


def revised_id(event_id: str) -> str:
    """The id an event was revised from (``id~2`` -> ``id``); an unrevised id is its own."""
    base, separator, number = event_id.rpartition(REVISION_SEPARATOR)
    if separator and number.isdigit() and not number.startswith("0"):
        return base
    return event_id


def _same_content(stored: Event, given: Event) -> bool:
    """Equal apart from the id (a revision holds its source's content under its own id)."""
    return stored.model_dump(exclude={"event_id"}) == given.model_dump(exclude={"event_id"})


# Mapping between DTOs and models -------------------------------------------------------------


def _action_sk(event: Event) -> str | None:
    """``ACTION#{symbol}#{date}``: at most one split, symbol change or merger of a symbol per
    day, so a split derived from Alpaca's rows and the same split imported from a file can
    never both apply."""
    if isinstance(event, Split | SymbolChange | Merger):
        day = event.effective_at.date().isoformat()
        return f"ACTION#{keys.validate_key_part(event.symbol, 'symbol')}#{day}"
    return None


_OPTIONAL = (
    "symbol",
    "new_symbol",
    "ratio_new",
    "ratio_old",
    "cash_per_share",
    "amount",
    "per_share_amount",
    "qty",
    "price",
    "underlying",
    "shares",
    "trade_activity_id",
)


def _writable(event: Event) -> Event:
    """``event`` if the ledger may write it: its text by the one rule (``dto.text_problem``),
    no merger into its own symbol; ``LedgerValidationError`` otherwise (checked first, so a
    refused event costs nothing and writes nothing)."""
    for name, text in (("description", event.description), ("source", event.source)):
        problem = None if text is None else text_problem(text)
        if problem is not None:
            raise LedgerValidationError(f"event {event.event_id}: its {name} {problem}")
    if isinstance(event, Merger) and event.symbol == event.new_symbol:
        # Shares that stay in their symbol are a split (and cash a dividend): two events.
        raise LedgerValidationError(
            f"event {event.event_id}: a merger of {event.symbol} into itself; record a split "
            "(and the cash as a dividend) instead"
        )
    return event


def _event_item(event: Event, digest: str) -> AccountEventItem:
    item = AccountEventItem(
        keys.account_pk(event.account_id),
        keys.event_sk(event.effective_at, event.event_id),
        account_id=event.account_id,
        event_id=event.event_id,
        kind=event.kind.value,
        effective_at=event.effective_at,
        source=event.source,
        description=event.description,
        content_sha256=digest,
    )
    for name in _OPTIONAL:
        setattr(item, name, getattr(event, name, None))
    return item


def _save_event(
    tx: TransactWrite, event: Event, item: AccountEventItem, action_condition: Any
) -> None:
    """Add to ``tx`` the event's id guard (conditioned on the id being new), its item and, for a
    corporate action, its symbol-and-day guard under ``action_condition``, in that order (a
    refusal is told apart by its position)."""
    pk = keys.account_pk(event.account_id)
    digest = item.content_sha256
    tx.save(
        EventIdItem(pk, keys.event_id_sk(event.event_id), event_sk=item.sk, content_sha256=digest),
        condition=LedgerItem.pk.does_not_exist(),
    )
    tx.save(item)
    action_sk = _action_sk(event)
    if action_sk is not None:
        tx.save(
            EventIdItem(pk, action_sk, event_sk=item.sk, content_sha256=digest),
            condition=action_condition,
        )


def _count_writes(tx: TransactWrite, account_id: str, writes: int, digest_change: int) -> None:
    """Add to ``tx`` the account's event counter: ``writes`` more, its digest sum changed."""
    tx.update(
        EventCounterItem(keys.account_pk(account_id), keys.EVENT_COUNTER_SK),
        actions=[
            LedgerItem.entity_type.set(EventCounterItem),
            EventCounterItem.account_id.set(account_id),
            EventCounterItem.event_count.add(writes),
            EventCounterItem.events_digest.add(digest_change),
        ],
    )


def _void_text(value: str, what: str, limit: int) -> str:
    return free_text(value, f"a void's {what}", limit)


def _recorded(item: AccountEventItem) -> RecordedEvent:
    event = _event_dto(item)
    if item.voided_at is None:
        return RecordedEvent(event=event, status="active")
    try:
        return RecordedEvent(
            event=event,
            status="voided",
            voided_at=item.voided_at,
            void_reason=item.void_reason,
            void_actor=item.void_actor,
        )
    except ValidationError as exc:
        raise IntegrityError(
            f"event item {item.pk} / {item.sk}: its void does not match its model: {exc}"
        ) from exc


def _event_dto(item: AccountEventItem) -> Event:
    data: dict[str, Any] = {
        "kind": item.kind,
        "event_id": item.event_id,
        "account_id": item.account_id,
        "effective_at": item.effective_at,
        "source": item.source,
        "description": item.description,
    }
    data.update(
        {name: getattr(item, name) for name in _OPTIONAL if getattr(item, name) is not None}
    )
    try:
        event = _EVENT.validate_python(data)
    except (ValidationError, ValueError) as exc:
        raise IntegrityError(
            f"event item {item.pk} / {item.sk} does not match its model: {exc}"
        ) from exc
    if event.content_sha256() != item.content_sha256:
        raise IntegrityError(f"event item {item.pk} / {item.sk}: content_sha256 differs")
    return event
