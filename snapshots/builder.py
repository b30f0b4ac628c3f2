"""Take a snapshot: Alpaca + ledger -> integrity checks -> sealed snapshot -> stored once.

``build_snapshot`` is the pure-ish part (reads, no writes); ``take_snapshot`` adds the strict
gate and the idempotent write and returns the Step Functions payload. The trading Lambda calls
``take_snapshot`` after its cycle (``snapshots.handlers.trading`` is the ready-made handler).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from ledger_store import keys
from ledger_store.accounts import AccountBindingRepository
from ledger_store.checksums import HMAC_KEY_VARIABLE, hmac_key_from_env
from ledger_store.decimals import explicit_context
from ledger_store.dto import HEX_DIGEST
from ledger_store.errors import (
    AccountMismatchError,
    ConflictError,
    IntegrityError,
    LedgerValidationError,
    NotFoundError,
)
from ledger_store.events import AccountEventRepository, CashFlow, Split, revised_id
from ledger_store.snapshot_store import AccountSnapshotRepository, StoredSnapshot
from ledger_store.tracing import subsegment
from ledger_store.trades import TradeLedgerRepository
from snapshots.alpaca.activities import events_from_activities
from snapshots.alpaca.models import AccountActivity, AlpacaData
from snapshots.integrity import IntegrityTolerances, enforce_strict, run_integrity_checks
from snapshots.ledger.summary import NO_BASE, LedgerBase, LedgerRead, read_account
from snapshots.payload import SnapshotPayload
from snapshots.records import snapshot_from_record, snapshot_record
from snapshots.schema import (
    SNAPSHOT_VERSION,
    AccountSnapshotV13,
    AccountSnapshotV18,
    AnySnapshot,
    compose_snapshot,
    seal,
)


class AlpacaFetcher(Protocol):
    """What the builder needs from Alpaca (``AlpacaSource`` in production)."""

    def fetch(self, period_start: datetime, period_end: datetime) -> AlpacaData: ...


class SnapshotOutcome(BaseModel):
    """The result of ``take_snapshot``: what was stored, how, and the payload to hand on.

    ``ledger_read`` says how the ledger was read (``None`` for ``existing``: nothing was):
    carried forward from an earlier snapshot or rebuilt from the whole history, and why. It
    is about the run, not the snapshot, so the snapshot's body does not hold it.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True
    )

    status: Literal["created", "unchanged", "replaced", "existing"]
    snapshot: AnySnapshot
    stored: StoredSnapshot
    payload: SnapshotPayload
    ledger_read: LedgerRead | None = None


class BuiltSnapshot(BaseModel):
    """A sealed snapshot and how its ledger was read (``build_snapshot_from``)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True
    )

    snapshot: AnySnapshot
    ledger_read: LedgerRead


class EventSync(BaseModel):
    """What recording the events of Alpaca's activities did (``record_activity_events``).

    * ``recorded`` / ``already_recorded``: event ids written now / found written before;
    * ``revised``: events Alpaca re-sent under the same id with other content (a correction):
      the recorded revision was voided and the new content recorded as the next revision
      (``id~1``, ``id~2``, ...), append-only; listed by the new revision's id;
    * ``voided``: events of activities Alpaca has since canceled, voided now;
    * ``superseded``: splits derived from ``SSP`` rows that the ledger already holds another
      corporate action of that symbol and day for (an explicit event wins, none applies twice);
    * ``unmapped``: the activities no event can be derived from (``SC``, ``MA``, ``REORG``,
      split rows that do not pair): they need an explicit event.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    recorded: tuple[str, ...] = ()
    already_recorded: tuple[str, ...] = ()
    revised: tuple[str, ...] = ()
    voided: tuple[str, ...] = ()
    superseded: tuple[str, ...] = ()
    unmapped: tuple[AccountActivity, ...] = ()


#: Who the ledger names for the voids and revisions Alpaca's activities cause.
ACTIVITY_ACTOR = "alpaca-activities"


@explicit_context
def record_activity_events(
    events: AccountEventRepository, account_id: str, activities: Iterable[AccountActivity]
) -> EventSync:
    """Record, idempotently by activity id, the events Alpaca's activities describe.

    A row re-sent with other content (Alpaca corrected it) replaces the recorded event,
    append-only (``AccountEventRepository.supersede``); a canceled row voids the event of its
    id, if one was recorded. Both say why, naming the activity.
    """
    mapped = events_from_activities(account_id, activities)
    recorded: list[str] = []
    already: list[str] = []
    revised: list[str] = []
    voided: list[str] = []
    superseded: list[str] = []
    for event in mapped.events:
        if isinstance(event, Split):
            explicit = events.corporate_action(account_id, event.symbol, event.effective_at.date())
            if explicit is not None and revised_id(explicit.event_id) != event.event_id:
                superseded.append(event.event_id)
                continue
        try:
            result = events.record(event)
        except ConflictError:
            result = events.supersede(
                event,
                reason=f"Alpaca re-sent activity {event.event_id} with other content "
                "(a correction); superseded by its new content",
                actor=ACTIVITY_ACTOR,
            )
            if result.status == "recorded":
                revised.append(result.event_id)
                continue
        (recorded if result.status == "recorded" else already).append(result.event_id)
    for row in mapped.canceled:
        for revision in events.revisions(account_id, row.id):
            if revision.status != "active":
                continue
            events.void(
                account_id,
                revision.event.event_id,
                reason=f"Alpaca canceled activity {row.id} ({row.activity_type})",
                actor=ACTIVITY_ACTOR,
            )
            voided.append(revision.event.event_id)
    return EventSync(
        recorded=tuple(recorded),
        already_recorded=tuple(already),
        revised=tuple(revised),
        voided=tuple(voided),
        superseded=tuple(superseded),
        unmapped=mapped.unmapped,
    )


_SECOND = timedelta(seconds=1)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@explicit_context
def check_period(
    period_start: datetime,
    period_end: datetime,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """Validate a snapshot period: UTC, whole seconds, ordered, and ended by ``now``.

    A period that has not ended yet could still gain fills, so its snapshot would not be
    reproducible: it is refused before anything is read.
    """
    start = keys.require_utc(period_start, "period_start")
    end = keys.require_utc(period_end, "period_end")
    for name, value in (("period_start", start), ("period_end", end)):
        if value.microsecond:
            raise LedgerValidationError(
                f"{name} must be a whole second (it is part of the key), "
                f"got {keys.format_micros(value)}"
            )
    if start >= end:
        raise LedgerValidationError(
            f"period_start {keys.format_seconds(start)} must be before period_end "
            f"{keys.format_seconds(end)}"
        )
    if now is not None and end > now:
        raise LedgerValidationError(
            f"period_end {keys.format_seconds(end)} is in the future (now "
            f"{keys.format_micros(now)}): snapshot a period only once it has ended"
        )
    return start, end


@explicit_context
def build_snapshot(
    *,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    correlation_id: str,
    alpaca: AlpacaFetcher,
    ledger: TradeLedgerRepository,
    hmac_key: bytes | None,
    tolerances: IntegrityTolerances | None = None,
    ledger_id: str | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> AnySnapshot:
    """``build_snapshot_from`` the whole history: the sealed snapshot alone."""
    return build_snapshot_from(
        account_id=account_id,
        period_start=period_start,
        period_end=period_end,
        correlation_id=correlation_id,
        alpaca=alpaca,
        ledger=ledger,
        hmac_key=hmac_key,
        tolerances=tolerances,
        ledger_id=ledger_id,
        clock=clock,
    ).snapshot


@explicit_context
def ledger_base(
    store: AccountSnapshotRepository,
    account_id: str,
    period_start: datetime,
    hmac_key: bytes | None,
) -> tuple[LedgerBase | None, str]:
    """The newest stored snapshot ending by ``period_start``, verified, as a ``LedgerBase``.

    One Query (plus one if its body is chunked). ``None`` with the reason when there is none
    or it cannot serve (an older ``snapshot_version``, a body that fails verification): the
    ledger is then read in full, so a damaged snapshot costs time, never a wrong ledger.
    """
    try:
        newest = store.range(account_id, None, period_start + _SECOND, page_size=1)
        stored = next(iter(newest), None)
        if stored is None:
            return None, NO_BASE
        snapshot = snapshot_from_record(stored.record, hmac_key)
    except IntegrityError as exc:
        return None, f"the newest earlier snapshot cannot be carried forward: {exc}"
    if not isinstance(snapshot, AccountSnapshotV13):
        return None, (
            f"snapshot {snapshot.snapshot_id} is snapshot_version {snapshot.snapshot_version}, "
            "which does not carry its ledger's digests"
        )
    if not isinstance(snapshot, AccountSnapshotV18):
        # Its ledger was kept by other rules (activity times, split rounding, coin fees, a
        # crossed pair summed as dollars): continuing it could differ from a full read of the
        # same history.
        return None, (
            f"snapshot {snapshot.snapshot_id} is snapshot_version {snapshot.snapshot_version}, "
            f"whose ledger follows other rules than {SNAPSHOT_VERSION}'s"
        )
    base = LedgerBase(
        snapshot_id=snapshot.snapshot_id,
        period_end=snapshot.period_end,
        ledger=snapshot.internal_ledger,
    )
    return base, ""


@explicit_context
def build_snapshot_from(
    *,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    correlation_id: str,
    alpaca: AlpacaFetcher,
    ledger: TradeLedgerRepository,
    hmac_key: bytes | None,
    tolerances: IntegrityTolerances | None = None,
    ledger_id: str | None = None,
    clock: Callable[[], datetime] = _utc_now,
    base: LedgerBase | None = None,
    why_no_base: str = NO_BASE,
    expected_alpaca_account_id: str | None = None,
) -> BuiltSnapshot:
    """Read Alpaca and the ledger for the period, run the integrity checks and seal.

    With ``base`` (the ledger of an earlier snapshot, ``ledger_base``) the ledger is read from
    its ``period_end`` on when its digests prove nothing older changed, else in full; the
    snapshot is the same either way, byte for byte. ``why_no_base`` is the reason reported
    for a full read without a base.

    First the ledger account is bound to the Alpaca account read (``ledger_store.accounts``):
    another account's keys raise ``AccountMismatchError`` before any write, as do keys that
    read another Alpaca account than ``expected_alpaca_account_id`` (when the caller knows it,
    e.g. from the account's secret: then not even a first use can bind the wrong account).
    The only other writes are the period's account events: Alpaca's non-trade activities that
    map to events (deposits, withdrawals, dividends, splits; ``record_activity_events``) are
    recorded in the ledger before it is read, idempotently by activity id, so a re-run sees the
    same ledger. Raises ``LedgerValidationError`` for bad input (before any read), the Alpaca
    errors of ``snapshots.errors``, ``StorageUnavailableError`` or ``IntegrityError`` from the
    ledger.
    """
    keys.validate_key_part(account_id, "account_id")
    keys.validate_key_part(correlation_id, "correlation_id")
    start, end = check_period(period_start, period_end, clock())
    with subsegment("snapshot.alpaca_fetch", account_id=account_id):
        data = alpaca.fetch(start, end)
    if expected_alpaca_account_id is not None:
        check_expected_account(account_id, data.account.id, expected_alpaca_account_id)
    # The keys must be this ledger account's before anything is written into it.
    AccountBindingRepository(ledger.settings).bind(
        account_id, data.account.id, data.account.account_number
    )
    events = AccountEventRepository(ledger.settings)
    with subsegment("snapshot.record_events", account_id=account_id):
        record_activity_events(events, account_id, data.activities)
    prices = {p.symbol: p.current_price for p in data.positions if p.current_price is not None}
    with subsegment("snapshot.ledger_aggregation", account_id=account_id):
        read = read_account(
            ledger,
            events,
            account_id,
            start,
            end,
            prices=prices,
            ledger_id=ledger_id,
            base=base,
            why_no_base=why_no_base,
        )
    view = read.view
    checks = run_integrity_checks(data, view, tolerances)
    history_flows: list[CashFlow] = []
    if data.history_start is not None and data.history_start < start:
        # The deposits and withdrawals of the lookback: one Query of the account's events.
        with subsegment("snapshot.history_cash_flows", account_id=account_id):
            history_flows = [
                e
                for e in events.events(account_id, data.history_start, start)
                if isinstance(e, CashFlow)
            ]
    body = compose_snapshot(
        account_id=account_id,
        period_start=start,
        period_end=end,
        correlation_id=correlation_id,
        alpaca=data,
        internal_ledger=view.internal_ledger,
        integrity_checks=checks,
        history_cash_flows=history_flows,
    )
    return BuiltSnapshot(snapshot=seal(body, hmac_key), ledger_read=read.read)


def check_expected_account(account_id: str, read: str, expected: str) -> None:
    """Refuse keys that read another Alpaca account than the one the caller expects."""
    if read.lower() != expected.strip().lower():
        raise AccountMismatchError(
            f"the keys used for {account_id} read Alpaca account {read}, not {expected.strip()} "
            "(the account's expected Alpaca account): nothing was written",
            account_id=account_id,
            alpaca_account_id=read,
        )


@explicit_context
def payload_for(snapshot: AnySnapshot) -> SnapshotPayload:
    """The Step Functions payload naming ``snapshot``."""
    return SnapshotPayload.naming(
        account_id=snapshot.account_id,
        period_start=snapshot.period_start,
        period_end=snapshot.period_end,
        snapshot_id=snapshot.snapshot_id,
        checksum=snapshot.checksum,
        checksum_algorithm=snapshot.checksum_algorithm,
    )


@explicit_context
def take_snapshot(
    *,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    correlation_id: str,
    alpaca: AlpacaFetcher,
    ledger: TradeLedgerRepository,
    store: AccountSnapshotRepository,
    hmac_key: bytes | None,
    strict: bool = False,
    replace_checksum: str | None = None,
    tolerances: IntegrityTolerances | None = None,
    ledger_id: str | None = None,
    clock: Callable[[], datetime] = _utc_now,
    full_rebuild: bool = False,
    expected_alpaca_account_id: str | None = None,
) -> SnapshotOutcome:
    """Build, check and store the period's snapshot; return it with its payload.

    The snapshot of ``(account_id, period_end)`` is written once, by whoever asks first. A
    later request for the same period (a retry of the cycle, or another caller: a schedule and
    a bot's own run of the same day) finds it stored and returns it as ``existing`` without
    reading Alpaca or the ledger again: live data has moved since, and a rebuild would
    conflict. Its payload is the stored snapshot's (with the first caller's correlation id).
    A stored snapshot of the same ``period_end`` from another ``period_start`` is another
    request: ``ConflictError``, unless ``replace_checksum`` names its checksum (then the
    snapshot is rebuilt and replaced). Two concurrent first takes resolve in the store: one
    writes, the other gets the stored snapshot.
    With ``strict`` a failed integrity check raises ``IntegrityCheckFailed`` and nothing is
    written. The write is one transaction (header and chunks), so a failure leaves nothing.

    The ledger is carried forward from the newest stored snapshot ending by ``period_start``
    (``ledger_base``) when it verifies and nothing dated before its end changed since; else,
    or with ``full_rebuild``, it is read from the whole history. The snapshot is the same
    either way; ``SnapshotOutcome.ledger_read`` says which path was taken and why.
    """
    if replace_checksum is not None and not HEX_DIGEST.fullmatch(replace_checksum):
        raise LedgerValidationError(
            f"replace_checksum must be 64 lower-case hex digits, got {replace_checksum!r}"
        )
    keys.validate_key_part(correlation_id, "correlation_id")
    start, end = check_period(period_start, period_end, clock())
    if replace_checksum is None:
        existing = _stored_for_cycle(store, account_id, start, end, correlation_id, hmac_key)
        if existing is not None:
            snapshot, stored = existing
            if strict:
                enforce_strict(snapshot.integrity_checks, describe=snapshot.describe())
            return SnapshotOutcome(
                status="existing", snapshot=snapshot, stored=stored, payload=payload_for(snapshot)
            )
    if full_rebuild:
        base, why_not = None, "a full rebuild was asked for"
    else:
        with subsegment("snapshot.ledger_base", account_id=account_id):
            base, why_not = ledger_base(store, account_id, start, hmac_key)
    built = build_snapshot_from(
        account_id=account_id,
        period_start=period_start,
        period_end=period_end,
        correlation_id=correlation_id,
        alpaca=alpaca,
        ledger=ledger,
        hmac_key=hmac_key,
        tolerances=tolerances,
        ledger_id=ledger_id,
        clock=clock,
        base=base,
        why_no_base=why_not,
        expected_alpaca_account_id=expected_alpaca_account_id,
    )
    snapshot = built.snapshot
    if strict:
        enforce_strict(snapshot.integrity_checks, describe=snapshot.describe())
    try:
        result = store.put(snapshot_record(snapshot), replace_checksum=replace_checksum)
    except ConflictError:
        if replace_checksum is not None:
            raise
        # Another caller stored this period first (a concurrent take): theirs stands.
        existing = _stored_for_cycle(store, account_id, start, end, correlation_id, hmac_key)
        if existing is None:
            raise
        stored_snapshot, stored = existing
        return SnapshotOutcome(
            status="existing",
            snapshot=stored_snapshot,
            stored=stored,
            payload=payload_for(stored_snapshot),
        )
    return SnapshotOutcome(
        status=result.status,
        snapshot=snapshot,
        stored=result.snapshot,
        payload=payload_for(snapshot),
        ledger_read=built.ledger_read,
    )


def _stored_for_cycle(
    store: AccountSnapshotRepository,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    correlation_id: str,
    hmac_key: bytes | None,
) -> tuple[AnySnapshot, StoredSnapshot] | None:
    """The stored snapshot of this period (verified), ``None`` if there is none yet.

    One GetItem. A snapshot stored from another period start is a ``ConflictError``; one of
    another cycle (``correlation_id``) is the period's snapshot all the same.
    """
    try:
        stored = store.get(account_id, period_end, consistent_read=True)
    except NotFoundError:
        return None
    snapshot = snapshot_from_record(stored.record, hmac_key)
    if snapshot.period_start != period_start:
        raise ConflictError(
            f"{snapshot.describe()} is already stored for cycle "
            f"{snapshot.correlation_id!r} from {keys.format_seconds(snapshot.period_start)}; "
            f"this request is cycle {correlation_id!r} from {keys.format_seconds(period_start)}. "
            "A snapshot is written once: replace it explicitly with its checksum",
            key=stored.record.key,
        )
    return snapshot, stored


__all__ = [
    "HMAC_KEY_VARIABLE",
    "AlpacaFetcher",
    "BuiltSnapshot",
    "SnapshotOutcome",
    "build_snapshot",
    "build_snapshot_from",
    "check_period",
    "hmac_key_from_env",
    "ledger_base",
    "payload_for",
    "take_snapshot",
]
