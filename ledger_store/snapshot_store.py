"""``AccountSnapshotRepository``: write-once snapshots at deterministic keys, verified on read.

The store is schema-agnostic: it keeps the snapshot's canonical JSON body (zlib-compressed,
split into chunk items when one item would exceed DynamoDB's 400 KB) with the metadata the
access patterns need, and checks the body against its checksum on every read. Parsing the
body into the snapshot schema is the ``snapshots`` package's job.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field, model_validator
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
)
from .errors import ConflictError, IntegrityError, LedgerValidationError, NotFoundError
from .models import LedgerItem, SnapshotChunkItem, SnapshotItem
from .storage import is_expired, not_expired, storage_call, stream
from .tracing import subsegment

#: Snapshots expire 90 days after they were written.
RETENTION = timedelta(days=90)
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


class SnapshotWriteResult(Frozen):
    """``created`` now, ``unchanged`` (identical snapshot already stored) or ``replaced``."""

    status: Literal["created", "unchanged", "replaced"]
    snapshot: StoredSnapshot


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AccountSnapshotRepository:
    """Snapshots of one table: put once, get, latest, range and by correlation id."""

    def __init__(
        self,
        settings: TableSettings,
        *,
        hmac_key: bytes | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._settings = settings
        self._hmac_key = hmac_key
        self._clock = clock

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
        header, chunks = _items(record, compressed, created_at)
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
        stored = _stored(record, created_at, len(compressed), len(chunks))
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
                with TransactWrite(connection=connection) as tx:
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
                    f"range start {start.isoformat()} is after its end {end.isoformat()}"
                )
            return
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
        )
        for item in items:
            if isinstance(item, SnapshotItem):
                yield self._load(item)

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
        key = f"{item.pk} / {item.sk}"
        compressed = item.body or b""
        if item.chunk_count:
            chunk_pk = keys.snapshot_chunk_pk(item.account_id, item.period_end)
            parts = [
                chunk.data
                for chunk in stream(
                    self._settings,
                    "read snapshot chunks",
                    chunk_pk,
                    lambda: LedgerItem.query(chunk_pk, consistent_read=True),
                )
                if isinstance(chunk, SnapshotChunkItem)
            ]
            if len(parts) != int(item.chunk_count):
                raise IntegrityError(
                    f"snapshot {key} has {len(parts)} of its {int(item.chunk_count)} chunks"
                )
            compressed = b"".join(parts)
        try:
            body = zlib.decompress(compressed)
        except zlib.error as exc:
            raise IntegrityError(f"snapshot {key}: body does not decompress ({exc})") from exc
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
        return _stored(record, item.created_at, len(compressed), int(item.chunk_count))

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


def _items(
    record: SnapshotRecord, compressed: bytes, created_at: datetime
) -> tuple[SnapshotItem, list[SnapshotChunkItem]]:
    expires = created_at + RETENTION
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
        ttl=expires,
    )
    return header, chunks


def _stored(
    record: SnapshotRecord, created_at: datetime, compressed_size: int, chunk_count: int
) -> StoredSnapshot:
    return StoredSnapshot(
        record=record,
        created_at=created_at,
        expires_at=created_at + RETENTION,
        compressed_size=compressed_size,
        chunk_count=chunk_count,
    )
