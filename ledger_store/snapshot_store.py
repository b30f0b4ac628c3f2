"""``AccountSnapshotRepository``: write-once snapshots at deterministic keys, verified on read.

The store is schema-agnostic: it keeps the snapshot's canonical JSON body (zlib-compressed,
split into chunk items when one item would exceed DynamoDB's 400 KB) with the metadata the
access patterns need, and checks the body against its checksum on every read. Parsing the
body into the snapshot schema is the ``snapshots`` package's job.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from . import keys
from .checksums import ChecksumAlgorithm, checksum_matches, mismatch_reason
from .config import TableSettings
from .dto import (
    AccountId,
    CorrelationId,
    Frozen,
    HexDigest,
    UTCDateTime,
    UuidText,
    WholeSecondUTC,
    describe_validation_error,
)
from .errors import (
    ConfigurationError,
    ConflictError,
    IntegrityError,
    LedgerValidationError,
    NotFoundError,
)
from .models import LedgerItem, SnapshotChunkItem, SnapshotItem, SnapshotListingIndex
from .storage import (
    is_expired,
    not_expired,
    storage_call,
    stream,
    stream_converted,
    transact,
)
from .tracing import subsegment

#: Snapshots expire this many days after they were written unless configured otherwise
#: (``SNAPSHOT_RETENTION_DAYS``); items written before retention was recorded used it.
DEFAULT_RETENTION_DAYS = 90
RETENTION_VARIABLE = "SNAPSHOT_RETENTION_DAYS"
#: Bounds of a configured retention (DynamoDB deletes expired items lazily, within days).
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 3650
#: Compressed bytes kept inline in the snapshot item (the item limit is 400 KB in all).
INLINE_LIMIT = 380_000
#: Size of one chunk item's data.
CHUNK_SIZE = 380_000
#: TransactWriteItems carries at most 4 MB: the header plus at most this many chunks.
MAX_CHUNKS = 10
#: The largest compressed body a snapshot may have.
MAX_COMPRESSED_BYTES = CHUNK_SIZE * MAX_CHUNKS


class SnapshotRecord(Frozen):
    """What the snapshot job hands the store: identity, period, checksum and canonical body."""

    account_id: AccountId
    period_start: UTCDateTime
    period_end: WholeSecondUTC
    snapshot_id: UuidText
    snapshot_version: str = Field(min_length=1, max_length=16)
    correlation_id: CorrelationId
    checksum: HexDigest
    checksum_algorithm: ChecksumAlgorithm
    body: bytes = Field(min_length=2)

    @model_validator(mode="after")
    def _period_is_ordered(self) -> SnapshotRecord:
        if self.period_start >= self.period_end:
            raise ValueError("period_start must be before period_end")
        return self

    @property
    def key(self) -> str:
        return f"{keys.snapshot_pk(self.account_id)} / {keys.snapshot_sk(self.period_end)}"


class StoredSnapshot(Frozen):
    """A snapshot as read back (and verified): the record plus storage-only attributes."""

    record: SnapshotRecord
    created_at: UTCDateTime
    expires_at: UTCDateTime
    compressed_size: int
    chunk_count: int


class SnapshotSummary(Frozen):
    """A snapshot as a listing shows it: identity, period, checksum and size, from GSI5.

    Read without the body, so nothing here is verified against the checksum: a listing says
    what is stored, ``get`` (or ``snapshot verify``) proves it.
    """

    account_id: AccountId
    period_start: UTCDateTime
    period_end: UTCDateTime
    snapshot_id: UuidText
    snapshot_version: str = Field(min_length=1, max_length=16)
    correlation_id: CorrelationId
    checksum: HexDigest
    checksum_algorithm: ChecksumAlgorithm
    created_at: UTCDateTime
    body_size: int = Field(ge=0)
    chunk_count: int = Field(ge=0)


class SnapshotCheck(Frozen):
    """One snapshot of ``verify_range``: verified (``snapshot``) or not (``error``)."""

    key: str
    snapshot: StoredSnapshot | None
    error: str | None


class SnapshotWriteResult(Frozen):
    """``created`` now, ``unchanged`` (identical snapshot already stored) or ``replaced``."""

    status: Literal["created", "unchanged", "replaced"]
    snapshot: StoredSnapshot


def _utc_now() -> datetime:
    return datetime.now(UTC)


def retention_days_from_env(environ: Mapping[str, str] | None = None) -> int:
    """``SNAPSHOT_RETENTION_DAYS`` (whole days, 1 to 3650), else 90."""
    text = (os.environ if environ is None else environ).get(RETENTION_VARIABLE, "").strip()
    if not text:
        return DEFAULT_RETENTION_DAYS
    if not text.isdigit() or not MIN_RETENTION_DAYS <= int(text) <= MAX_RETENTION_DAYS:
        raise ConfigurationError(
            f"{RETENTION_VARIABLE} must be a whole number of days from {MIN_RETENTION_DAYS} to "
            f"{MAX_RETENTION_DAYS}, got {text!r}"
        )
    return int(text)


class AccountSnapshotRepository:
    """Snapshots of one table: put once, get, latest, range and by correlation id.

    New snapshots expire ``retention_days`` after they are written (default: from
    ``SNAPSHOT_RETENTION_DAYS``, else 90); the retention is recorded on the item.
    """

    def __init__(
        self,
        settings: TableSettings,
        *,
        hmac_key: bytes | None = None,
        clock: Callable[[], datetime] = _utc_now,
        retention_days: int | None = None,
    ) -> None:
        self._settings = settings
        self._hmac_key = hmac_key
        self._clock = clock
        if retention_days is None:
            retention_days = retention_days_from_env()
        if not MIN_RETENTION_DAYS <= retention_days <= MAX_RETENTION_DAYS:
            raise ConfigurationError(
                f"retention_days must be {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}, "
                f"got {retention_days}"
            )
        self._retention_days = retention_days

    # Writes -------------------------------------------------------------------------------

    def put(
        self, record: SnapshotRecord, *, replace_checksum: str | None = None
    ) -> SnapshotWriteResult:
        """Write the snapshot at ``SNAPSHOT#{account}`` / ``SNAP#{period_end}``.

        Idempotent: the identical snapshot already stored is returned as ``unchanged``. A
        different one raises ``ConflictError`` unless ``replace_checksum`` names the checksum
        of the stored snapshot, which is then replaced atomically (conditioned on it).
        """
        self._verify(record)
        compressed = zlib.compress(record.body, 9)
        if len(compressed) > MAX_COMPRESSED_BYTES:
            raise LedgerValidationError(
                f"snapshot {record.key} is {len(compressed):,} bytes compressed; "
                f"the limit is {MAX_COMPRESSED_BYTES:,}"
            )
        created_at = self._clock().astimezone(UTC).replace(microsecond=0)
        header, chunks = snapshot_items(record, compressed, created_at, self._retention_days)
        try:
            previous = None if replace_checksum is None else self._header(record)
            if previous is not None and previous.checksum == record.checksum:
                return SnapshotWriteResult(status="unchanged", snapshot=self._load(previous))
            self._write(record, header, chunks, previous, replace_checksum)
        except ConflictError:
            stored = self.get(record.account_id, record.period_end, consistent_read=True)
            if stored.record.checksum == record.checksum and stored.record == record:
                return SnapshotWriteResult(status="unchanged", snapshot=stored)
            raise ConflictError(
                f"snapshot {record.key} already exists with checksum "
                f"{stored.record.checksum}; pass replace_checksum to replace it",
                key=record.key,
                differences=[f"checksum: stored {stored.record.checksum}, given {record.checksum}"],
            ) from None
        stored = _stored(record, created_at, len(compressed), len(chunks), self._retention_days)
        status: Literal["created", "replaced"] = "created" if previous is None else "replaced"
        return SnapshotWriteResult(status=status, snapshot=stored)

    def _header(self, record: SnapshotRecord) -> SnapshotItem:
        with storage_call(self._settings, "get snapshot", record.key):
            try:
                item = SnapshotItem.get(
                    keys.snapshot_pk(record.account_id),
                    keys.snapshot_sk(record.period_end),
                    consistent_read=True,
                )
            except SnapshotItem.DoesNotExist:
                raise NotFoundError(f"no snapshot {record.key} to replace") from None
        return item

    def _write(
        self,
        record: SnapshotRecord,
        header: SnapshotItem,
        chunks: list[SnapshotChunkItem],
        previous: SnapshotItem | None,
        replace_checksum: str | None,
    ) -> None:
        with (
            storage_call(self._settings, "write snapshot", record.key),
            subsegment("ledger.snapshot_write", account_id=record.account_id, chunks=len(chunks)),
        ):
            connection = LedgerItem._get_connection().connection
            condition: Condition = (
                LedgerItem.pk.does_not_exist()
                if previous is None
                else SnapshotItem.checksum == replace_checksum
            )
            try:

                def build(tx: TransactWrite) -> None:
                    tx.save(header, condition=condition)
                    for chunk in chunks:
                        tx.save(chunk)
                    old_count = int(previous.chunk_count) if previous is not None else 0
                    for index in range(len(chunks), old_count):
                        tx.delete(
                            SnapshotChunkItem(
                                keys.snapshot_chunk_pk(record.account_id, record.period_end),
                                keys.snapshot_chunk_sk(index),
                            )
                        )

                transact(connection, build)
            except TransactWriteError as exc:
                reasons = exc.cancellation_reasons or []
                if any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons):
                    raise ConflictError(
                        f"snapshot {record.key} changed concurrently", key=record.key
                    ) from None
                raise

    # Reads --------------------------------------------------------------------------------

    def get(
        self, account_id: str, period_end: datetime, *, consistent_read: bool = False
    ) -> StoredSnapshot:
        """The snapshot at ``period_end`` (one GetItem, plus one Query if chunked), verified.

        ``consistent_read`` sees a write that just happened (at twice the read cost); ``put``
        uses it to tell a concurrent identical write from a conflicting one.
        """
        pk, sk = keys.snapshot_pk(account_id), keys.snapshot_sk(period_end)
        with storage_call(self._settings, "get snapshot", f"{pk} / {sk}"):
            try:
                item = SnapshotItem.get(pk, sk, consistent_read=consistent_read)
            except SnapshotItem.DoesNotExist:
                item = None
        if item is None or is_expired(item, self._clock()):
            raise NotFoundError(
                f"no snapshot for account {account_id!r} at {keys.format_seconds(period_end)}"
            )
        return self._load(item)

    def latest(self, account_id: str) -> StoredSnapshot:
        """The newest unexpired snapshot of the account (one Query in the usual case)."""
        for snapshot in self.range(account_id, page_size=1):
            return snapshot
        raise NotFoundError(f"no snapshot for account {account_id!r}")

    def range(
        self,
        account_id: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        newest_first: bool = True,
        page_size: int = 25,
    ) -> Iterator[StoredSnapshot]:
        """Snapshots with ``start <= period_end < end``, newest first, fully paginated.

        ``page_size`` bounds how many bodies one request reads ahead of the caller.
        """
        pk = keys.snapshot_pk(account_id)
        lower, upper = _sort_key_bounds(start, end)
        if lower is None or upper is None:
            return
        for item in self._range_items(pk, lower, upper, newest_first, page_size):
            if isinstance(item, IntegrityError):
                raise item
            yield self._load(item)

    def verify_range(
        self,
        account_id: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        page_size: int = 25,
    ) -> Iterator[SnapshotCheck]:
        """Every snapshot of ``range`` (oldest first), each verified on its own.

        Unlike ``range``, a snapshot that fails verification does not end the iteration: it
        is reported (``SnapshotCheck.error``) and the next one is read.
        """
        pk = keys.snapshot_pk(account_id)
        lower, upper = _sort_key_bounds(start, end)
        if lower is None or upper is None:
            return
        for item in self._range_items(pk, lower, upper, False, page_size):
            if isinstance(item, IntegrityError):
                yield SnapshotCheck(key=pk, snapshot=None, error=str(item))
                continue
            key = f"{item.pk} / {item.sk}"
            try:
                yield SnapshotCheck(key=key, snapshot=self._load(item), error=None)
            except IntegrityError as exc:
                yield SnapshotCheck(key=key, snapshot=None, error=str(exc))

    def _range_items(
        self, pk: str, lower: str, upper: str, newest_first: bool, page_size: int
    ) -> Iterator[SnapshotItem | IntegrityError]:
        """The unexpired snapshot items between two sort keys; an item that does not fit its
        model comes as its ``IntegrityError`` (so callers decide whether it ends the read)."""
        now = self._clock()
        items = stream(
            self._settings,
            "query snapshots",
            pk,
            lambda: SnapshotItem.query(
                pk,
                range_key_condition=LedgerItem.sk.between(lower, upper),
                filter_condition=not_expired(now),
                scan_index_forward=not newest_first,
                page_size=page_size,
            ),
            corrupt_items="yield",
        )
        for item in items:
            if isinstance(item, SnapshotItem | IntegrityError):
                yield item

    def summaries(
        self,
        account_id: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        newest_first: bool = True,
    ) -> Iterator[SnapshotSummary]:
        """The account's snapshots with ``start <= period_end < end``, metadata only (GSI5).

        Costs read capacity in proportion to the metadata (about 400 bytes a snapshot), not
        to the bodies: 30 snapshots are one request and a few units. Paginated; expired
        snapshots left out. A table created before GSI5 existed needs
        ``trade-ledger table migrate`` (``bootstrap.add_missing_indexes``) first.
        """
        lower, upper = _sort_key_bounds(start, end)
        if lower is None or upper is None:
            return iter(())
        keys.validate_key_part(account_id, "account_id")
        index = LedgerItem.snapshot_listing_index
        period = SnapshotListingIndex.period_end
        condition = period.between(
            _time_bound(start, keys.EARLIEST), _time_bound(end, keys.LATEST, exclusive=True)
        )
        now = self._clock()
        return stream_converted(
            self._settings,
            "list snapshots",
            keys.snapshot_pk(account_id),
            lambda: index.query(
                account_id,
                range_key_condition=condition,
                filter_condition=not_expired(now),
                scan_index_forward=not newest_first,
            ),
            _summary_from_raw,
        )

    def by_correlation(self, correlation_id: str) -> list[StoredSnapshot]:
        """Snapshots taken by one trading cycle (GSI4, keys only, then each item read)."""
        hash_key = keys.correlation_pk(correlation_id)
        found = [
            (item.pk, item.sk)
            for item in stream(
                self._settings,
                "query snapshots by correlation",
                hash_key,
                lambda: LedgerItem.snapshot_correlation_index.query(hash_key),
            )
        ]
        snapshots: list[StoredSnapshot] = []
        for pk, sk in found:
            with storage_call(self._settings, "get snapshot", f"{pk} / {sk}"):
                try:
                    item = SnapshotItem.get(pk, sk)
                except SnapshotItem.DoesNotExist:
                    continue  # deleted (TTL) between the index read and this one
            if not is_expired(item, self._clock()):
                snapshots.append(self._load(item))
        return snapshots

    # Mapping ------------------------------------------------------------------------------

    def _load(self, item: SnapshotItem) -> StoredSnapshot:
        """Read the body (inline or chunks), check every attribute, verify the checksum.

        The checksum covers the body only, so the item's own attributes are checked against
        each other and the body: keys and GSI4 keys against the ids, ``ttl`` against
        ``created_at`` plus the retention, ``body_size`` against the inflated body, the zlib
        stream ends exactly at the end of the data, and chunks carry the header's ``ttl``.
        Any disagreement is an ``IntegrityError`` naming the attribute.
        """
        key = f"{item.pk} / {item.sk}"
        retention = _retention_of(item, key)
        _check_attributes(item, key, retention)
        compressed = item.body or b""
        chunk_count = int(item.chunk_count)
        if chunk_count:
            if item.body is not None:
                raise IntegrityError(f"snapshot {key}: chunk_count {chunk_count} beside a body")
            compressed = self._chunks(item, key, chunk_count)
        elif item.body is None:
            raise IntegrityError(f"snapshot {key}: no body and chunk_count 0")
        body = _inflate(compressed, int(item.body_size), key)
        try:
            record = SnapshotRecord(
                account_id=item.account_id,
                period_start=item.period_start,
                period_end=item.period_end,
                snapshot_id=item.snapshot_id,
                snapshot_version=item.snapshot_version,
                correlation_id=item.correlation_id,
                checksum=item.checksum,
                checksum_algorithm=item.checksum_algorithm,
                body=body,
            )
        except ValueError as exc:
            raise IntegrityError(f"snapshot {key}: metadata fails validation: {exc}") from exc
        self._verify(record)
        return _stored(record, item.created_at, len(compressed), chunk_count, retention)

    def _chunks(self, item: SnapshotItem, key: str, count: int) -> bytes:
        chunk_pk = keys.snapshot_chunk_pk(item.account_id, item.period_end)
        chunks = [
            chunk
            for chunk in stream(
                self._settings,
                "read snapshot chunks",
                chunk_pk,
                lambda: LedgerItem.query(chunk_pk, consistent_read=True),
            )
            if isinstance(chunk, SnapshotChunkItem)
        ]
        if [c.sk for c in chunks] != [keys.snapshot_chunk_sk(i) for i in range(count)]:
            raise IntegrityError(
                f"snapshot {key}: chunk_count is {count}, the chunks stored are "
                f"{', '.join(c.sk for c in chunks) or 'none'}"
            )
        for chunk in chunks:
            if chunk.ttl != item.ttl:
                raise IntegrityError(
                    f"snapshot {key}: ttl of {chunk.sk} ({_epoch(chunk.ttl)}) differs from "
                    f"the snapshot's ({_epoch(item.ttl)})"
                )
            if chunk is not chunks[-1] and len(chunk.data) != CHUNK_SIZE:
                raise IntegrityError(
                    f"snapshot {key}: data of {chunk.sk} is {len(chunk.data):,} bytes, not "
                    f"{CHUNK_SIZE:,}"
                )
        return b"".join(chunk.data for chunk in chunks)

    def _verify(self, record: SnapshotRecord) -> None:
        """Check the body against its checksum; with a key only HMAC checksums are trusted.

        Accepting plain SHA-256 while a key is configured would let anyone with write access
        to the table replace a body and reseal it without the key.
        """
        if not checksum_matches(
            record.body, record.checksum, record.checksum_algorithm, self._hmac_key
        ):
            reason = mismatch_reason(record.checksum_algorithm, self._hmac_key)
            raise IntegrityError(
                f"snapshot {record.snapshot_id} ({record.key}): {reason}; "
                f"stored checksum {record.checksum}"
            )


def _sort_key_bounds(start: datetime | None, end: datetime | None) -> tuple[str | None, str | None]:
    """``SK`` bounds of ``start <= period_end < end``; ``(None, None)`` for an empty range."""
    lower = keys.snapshot_sk(start) if start is not None else "SNAP#"
    if end is not None:
        upper_at = keys.require_utc(end, "end").replace(microsecond=0)
        if upper_at == end:
            upper_at -= timedelta(seconds=1)
        upper = keys.snapshot_sk(upper_at)
    else:
        upper = "SNAP#~"
    if start is not None and end is not None and start >= end:
        if start > end:
            raise LedgerValidationError(
                f"range start {keys.format_micros(start)} is after its end "
                f"{keys.format_micros(end)}"
            )
        return None, None
    return lower, upper


def _time_bound(at: datetime | None, default: datetime, *, exclusive: bool = False) -> datetime:
    """A GSI5 sort key bound (``period_end`` is stored to the microsecond): an exclusive end
    is the last microsecond before it."""
    moment = default if at is None else keys.require_utc(at, "bound")
    if exclusive and at is not None:
        moment -= timedelta(microseconds=1)
    return moment


_SNAPSHOT_KIND = LedgerItem.entity_type.get_discriminator(SnapshotItem)


def _summary_from_raw(raw: dict[str, Any]) -> SnapshotSummary | None:
    if raw.get(LedgerItem.entity_type.attr_name, {}).get("S") != _SNAPSHOT_KIND:
        return None
    try:
        return SnapshotSummary(
            account_id=raw["account_id"]["S"],
            period_start=keys.parse_timestamp(raw["period_start"]["S"]),
            period_end=keys.parse_timestamp(raw["period_end"]["S"]),
            snapshot_id=raw["snapshot_id"]["S"],
            snapshot_version=raw["snapshot_version"]["S"],
            correlation_id=raw["correlation_id"]["S"],
            checksum=raw["checksum"]["S"],
            checksum_algorithm=raw["checksum_algorithm"]["S"],
            created_at=keys.parse_timestamp(raw["created_at"]["S"]),
            body_size=int(raw["body_size"]["N"]),
            chunk_count=int(raw.get("chunk_count", {"N": "0"})["N"]),
        )
    except ValidationError as exc:
        raise LedgerValidationError(describe_validation_error(exc, "(snapshot)")) from exc


def _retention_of(item: SnapshotItem, key: str) -> int:
    if item.retention_days is None:
        return DEFAULT_RETENTION_DAYS
    days = item.retention_days
    if days != int(days) or not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise IntegrityError(f"snapshot {key}: retention_days {days} is not a valid retention")
    return int(days)


def _epoch(moment: datetime | None) -> str:
    return "none" if moment is None else str(int(moment.timestamp()))


def _check_attributes(item: SnapshotItem, key: str, retention_days: int) -> None:
    """The attributes outside the checksum agree with each other (see ``_load``)."""
    expected = {
        "PK": (item.pk, keys.snapshot_pk(item.account_id)),
        "SK": (item.sk, keys.snapshot_sk(item.period_end)),
        "GSI4PK": (item.gsi4pk, keys.correlation_pk(item.correlation_id)),
        "GSI4SK": (item.gsi4sk, keys.snapshot_sk(item.period_end)),
        "body_encoding": (item.body_encoding, "zlib"),
        "ttl": (
            _epoch(item.ttl),
            _epoch(item.created_at + timedelta(days=retention_days)),
        ),
    }
    for name, (stored, wanted) in expected.items():
        if stored != wanted:
            raise IntegrityError(
                f"snapshot {key}: {name} is {stored!r}, expected {wanted!r} from the item's "
                "other attributes"
            )


def _inflate(compressed: bytes, size: int, key: str) -> bytes:
    """Exactly one zlib stream inflating to ``size`` bytes (never more is inflated)."""
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(compressed, size + 1)
    except zlib.error as exc:
        raise IntegrityError(f"snapshot {key}: body does not decompress ({exc})") from exc
    if len(body) != size or not inflater.eof:
        shown = f"more than {size:,}" if len(body) > size else f"{len(body):,}"
        raise IntegrityError(f"snapshot {key}: body_size is {size:,}, the body inflates to {shown}")
    if inflater.unused_data or inflater.unconsumed_tail:
        extra = len(inflater.unused_data) + len(inflater.unconsumed_tail)
        raise IntegrityError(f"snapshot {key}: {extra:,} bytes after the end of the zlib stream")
    return body


def snapshot_items(
    record: SnapshotRecord, compressed: bytes, created_at: datetime, retention_days: int
) -> tuple[SnapshotItem, list[SnapshotChunkItem]]:
    """The items ``put`` writes for ``record``: its header and, when the compressed body is
    over ``INLINE_LIMIT``, its chunks of ``CHUNK_SIZE`` bytes, all expiring ``retention_days``
    after ``created_at``."""
    expires = created_at + timedelta(days=retention_days)
    inline = len(compressed) <= INLINE_LIMIT
    chunks = (
        []
        if inline
        else [
            SnapshotChunkItem(
                keys.snapshot_chunk_pk(record.account_id, record.period_end),
                keys.snapshot_chunk_sk(index),
                data=compressed[offset : offset + CHUNK_SIZE],
                ttl=expires,
            )
            for index, offset in enumerate(range(0, len(compressed), CHUNK_SIZE))
        ]
    )
    sk = keys.snapshot_sk(record.period_end)
    header = SnapshotItem(
        keys.snapshot_pk(record.account_id),
        sk,
        gsi4pk=keys.correlation_pk(record.correlation_id),
        gsi4sk=sk,
        snapshot_id=record.snapshot_id,
        snapshot_version=record.snapshot_version,
        account_id=record.account_id,
        correlation_id=record.correlation_id,
        period_start=record.period_start,
        period_end=record.period_end,
        created_at=created_at,
        checksum=record.checksum,
        checksum_algorithm=record.checksum_algorithm,
        body_encoding="zlib",
        body_size=len(record.body),
        body=compressed if inline else None,
        chunk_count=len(chunks),
        retention_days=retention_days,
        ttl=expires,
    )
    return header, chunks


def _stored(
    record: SnapshotRecord,
    created_at: datetime,
    compressed_size: int,
    chunk_count: int,
    retention_days: int,
) -> StoredSnapshot:
    return StoredSnapshot(
        record=record,
        created_at=created_at,
        expires_at=created_at + timedelta(days=retention_days),
        compressed_size=compressed_size,
        chunk_count=chunk_count,
    )
