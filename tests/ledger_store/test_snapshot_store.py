"""AccountSnapshotRepository on both engines: keys, idempotency, verification, queries, TTL."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ledger_store.config import TableSettings
from ledger_store.errors import (
    ConfigurationError,
    ConflictError,
    IntegrityError,
    LedgerValidationError,
    NotFoundError,
)
from ledger_store.snapshot_store import (
    MAX_COMPRESSED_BYTES,
    AccountSnapshotRepository,
    SnapshotRecord,
)

ACCOUNT = "acct-1"
END = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 21, 5, 30, tzinfo=UTC)
KEY = b"secret-hmac-key"


def record(
    period_end: datetime = END,
    body: bytes = b'{"cash":"100"}',
    *,
    correlation_id: str = "cycle-1",
    key: bytes | None = None,
) -> SnapshotRecord:
    digest = (
        hmac.new(key, body, hashlib.sha256).hexdigest() if key else hashlib.sha256(body).hexdigest()
    )
    return SnapshotRecord(
        account_id=ACCOUNT,
        period_start=period_end - timedelta(days=1),
        period_end=period_end,
        snapshot_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ACCOUNT}|{period_end.isoformat()}")),
        snapshot_version="1.0",
        correlation_id=correlation_id,
        checksum=digest,
        checksum_algorithm="hmac-sha256" if key else "sha256",
        body=body,
    )


def store(
    settings: TableSettings, now: datetime = NOW, **kwargs: object
) -> AccountSnapshotRepository:
    return AccountSnapshotRepository(settings, clock=lambda: now, **kwargs)  # type: ignore[arg-type]


def raw_client(settings: TableSettings) -> object:
    return boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.endpoint_url)


def raw_item(settings: TableSettings, pk: str, sk: str) -> dict[str, dict[str, str]]:
    response = raw_client(settings).get_item(  # type: ignore[attr-defined]
        TableName=settings.table_name, Key={"PK": {"S": pk}, "SK": {"S": sk}}
    )
    item: dict[str, dict[str, str]] = response["Item"]
    return item


def test_item_has_the_deterministic_key_and_ttl(settings: TableSettings) -> None:
    result = store(settings).put(record())
    assert result.status == "created"
    item = raw_item(settings, "SNAPSHOT#acct-1", "SNAP#2026-03-02T21:00:00Z")
    assert item["EntityType"] == {"S": "SNAPSHOT"}
    assert item["GSI4PK"] == {"S": "CORR#cycle-1"}
    assert item["GSI4SK"] == {"S": "SNAP#2026-03-02T21:00:00Z"}
    created = int(NOW.timestamp())
    assert int(item["ttl"]["N"]) == created + 90 * 86400
    assert result.snapshot.expires_at - result.snapshot.created_at == timedelta(days=90)


def test_put_is_idempotent_and_conflicts_on_other_content(settings: TableSettings) -> None:
    snapshots = store(settings)
    first = snapshots.put(record())
    again = snapshots.put(record())
    assert again.status == "unchanged"
    assert again.snapshot.record == first.snapshot.record
    with pytest.raises(ConflictError, match="already exists with checksum"):
        snapshots.put(record(body=b'{"cash":"101"}'))
    assert snapshots.get(ACCOUNT, END).record.body == b'{"cash":"100"}'


def test_replace_is_conditioned_on_the_stored_checksum(settings: TableSettings) -> None:
    snapshots = store(settings)
    original = snapshots.put(record()).snapshot.record
    with pytest.raises(ConflictError):
        snapshots.put(record(body=b'{"cash":"102"}'), replace_checksum="0" * 64)
    assert snapshots.get(ACCOUNT, END).record == original
    replaced = snapshots.put(record(body=b'{"cash":"102"}'), replace_checksum=original.checksum)
    assert replaced.status == "replaced"
    assert snapshots.get(ACCOUNT, END).record.body == b'{"cash":"102"}'


def test_replace_of_a_missing_snapshot_is_not_found(settings: TableSettings) -> None:
    with pytest.raises(NotFoundError):
        store(settings).put(record(), replace_checksum="0" * 64)


def test_checksum_mismatch_is_refused_before_writing(settings: TableSettings) -> None:
    bad = record().model_copy(update={"checksum": "f" * 64})
    with pytest.raises(IntegrityError, match="fails its sha256 checksum"):
        store(settings).put(bad)
    with pytest.raises(NotFoundError):
        store(settings).get(ACCOUNT, END)


def test_tampered_body_is_detected_on_read(settings: TableSettings) -> None:
    import zlib

    store(settings).put(record())
    raw_client(settings).update_item(  # type: ignore[attr-defined]
        TableName=settings.table_name,
        Key={"PK": {"S": "SNAPSHOT#acct-1"}, "SK": {"S": "SNAP#2026-03-02T21:00:00Z"}},
        UpdateExpression="SET body = :b",
        ExpressionAttributeValues={":b": {"B": zlib.compress(b'{"cash":"999"}')}},
    )
    with pytest.raises(IntegrityError, match=r"acct-1.*fails its sha256 checksum"):
        store(settings).get(ACCOUNT, END)
    with pytest.raises(IntegrityError):
        store(settings).latest(ACCOUNT)


def test_hmac_needs_the_key_to_verify(settings: TableSettings) -> None:
    store(settings, hmac_key=KEY).put(record(key=KEY))
    assert store(settings, hmac_key=KEY).get(ACCOUNT, END).record.checksum_algorithm == (
        "hmac-sha256"
    )
    with pytest.raises(IntegrityError, match="SNAPSHOT_HMAC_KEY"):
        store(settings).get(ACCOUNT, END)
    with pytest.raises(IntegrityError, match="fails its hmac-sha256 checksum"):
        store(settings, hmac_key=b"another key").get(ACCOUNT, END)


def test_latest_range_and_correlation(settings: TableSettings) -> None:
    snapshots = store(settings)
    ends = [END + timedelta(days=n) for n in range(5)]
    for n, end in enumerate(ends):
        snapshots.put(record(end, json.dumps({"n": n}).encode(), correlation_id=f"cycle-{n % 2}"))
    assert snapshots.latest(ACCOUNT).record.period_end == ends[-1]
    newest_first = [s.record.period_end for s in snapshots.range(ACCOUNT, ends[1], ends[4])]
    assert newest_first == [ends[3], ends[2], ends[1]]  # [start, end): ends[4] excluded
    oldest_first = [
        s.record.period_end for s in snapshots.range(ACCOUNT, ends[1], ends[4], newest_first=False)
    ]
    assert oldest_first == [ends[1], ends[2], ends[3]]
    assert list(snapshots.range(ACCOUNT, ends[2], ends[2])) == []
    with pytest.raises(LedgerValidationError):
        list(snapshots.range(ACCOUNT, ends[3], ends[2]))
    by_cycle = {s.record.period_end for s in snapshots.by_correlation("cycle-0")}
    assert by_cycle == {ends[0], ends[2], ends[4]}
    with pytest.raises(NotFoundError):
        snapshots.latest("other-account")


def test_expired_snapshots_are_hidden(settings: TableSettings) -> None:
    old = store(settings, now=NOW - timedelta(days=100))
    old.put(record(END - timedelta(days=100)))
    store(settings).put(record())
    current = store(settings)
    assert [s.record.period_end for s in current.range(ACCOUNT)] == [END]
    with pytest.raises(NotFoundError):
        current.get(ACCOUNT, END - timedelta(days=100))
    assert len(current.by_correlation("cycle-1")) == 1
    # Still readable by a reader whose clock is before the expiry: the item was not deleted.
    assert old.get(ACCOUNT, END - timedelta(days=100)).record.period_end < END
    later = store(settings, now=NOW + timedelta(days=91))
    with pytest.raises(NotFoundError):
        later.latest(ACCOUNT)


def test_large_snapshot_is_chunked_and_reads_back_identical(settings: TableSettings) -> None:
    body = json.dumps({"noise": os.urandom(700_000).hex()}).encode()  # ~1.4 MB, ~0.75 MB zlib
    result = store(settings).put(record(body=body))
    assert result.snapshot.chunk_count >= 2
    assert store(settings).get(ACCOUNT, END).record.body == body
    assert store(settings).put(record(body=body)).status == "unchanged"


def test_too_large_snapshot_is_refused(settings: TableSettings) -> None:
    body = os.urandom(MAX_COMPRESSED_BYTES + 1000).hex().encode()
    with pytest.raises(LedgerValidationError, match="bytes compressed"):
        store(settings).put(record(body=body))


def count_pages(monkeypatch: pytest.MonkeyPatch, operation: str) -> list[int]:
    """Record the page numbers ``stream`` requests for ``operation`` (one per DynamoDB call)."""
    import contextlib

    import ledger_store.storage

    pages: list[int] = []

    @contextlib.contextmanager
    def spy(name: str, **annotations: object) -> Iterator[None]:
        if annotations.get("operation") == operation:
            pages.append(int(annotations["page"]))  # type: ignore[call-overload]
        yield

    monkeypatch.setattr(ledger_store.storage, "subsegment", spy)
    return pages


def test_range_follows_pages_beyond_one_megabyte(
    settings: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots = store(settings)
    ends = [END + timedelta(hours=n) for n in range(10)]
    bodies = {end: json.dumps({"noise": os.urandom(150_000).hex()}).encode() for end in ends}
    for end in ends:
        snapshots.put(record(end, bodies[end]))  # ~150 KB compressed each: 1.5 MB in all
    pages = count_pages(monkeypatch, "query snapshots")
    found = list(snapshots.range(ACCOUNT))
    assert [s.record.period_end for s in found] == list(reversed(ends))
    assert all(s.record.body == bodies[s.record.period_end] for s in found)
    assert len(pages) >= 3  # at least two data pages (1 MB limit) and the final request


def test_range_follows_more_pages_than_the_page_size(settings: TableSettings) -> None:
    snapshots = store(settings)
    ends = [END + timedelta(minutes=n) for n in range(30)]  # page size is 25
    for n, end in enumerate(ends):
        snapshots.put(record(end, json.dumps({"n": n}).encode()))
    assert [s.record.period_end for s in snapshots.range(ACCOUNT)] == list(reversed(ends))


def test_period_end_must_be_whole_seconds() -> None:
    with pytest.raises(ValueError, match="whole seconds"):
        record(END + timedelta(microseconds=5))


def test_latest_is_one_request_of_one_item(
    settings: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots = store(settings)
    ends = [END + timedelta(days=n) for n in range(3)]
    for n, end in enumerate(ends):
        snapshots.put(record(end, json.dumps({"n": n}).encode()))
    from pynamodb.connection.base import Connection

    limits: list[object] = []
    original = Connection.query

    def spy(self: Connection, *args: Any, **kwargs: Any) -> Any:
        limits.append(kwargs.get("limit"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "query", spy)
    pages = count_pages(monkeypatch, "query snapshots")
    assert snapshots.latest(ACCOUNT).record.period_end == ends[-1]
    assert pages == [0]
    assert limits == [1]  # the newest item only: no read-ahead of older bodies


def test_with_a_key_a_plain_sha256_snapshot_is_not_trusted(settings: TableSettings) -> None:
    # someone with write access but without the key reseals a body with plain SHA-256
    store(settings).put(record(body=b'{"cash":"999999"}'))
    with pytest.raises(IntegrityError, match="only hmac-sha256 snapshots are trusted"):
        store(settings, hmac_key=KEY).get(ACCOUNT, END)
    with pytest.raises(IntegrityError, match="only hmac-sha256"):
        store(settings, hmac_key=KEY).put(record(period_end=END + timedelta(days=1)))


def test_a_refused_write_is_judged_on_a_consistent_read(
    settings: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On real DynamoDB an eventually consistent read right after another writer's put may not
    # see it yet; put() must then not report NotFoundError instead of unchanged/conflict.
    from ledger_store.models import SnapshotItem

    store(settings).put(record())
    reads: list[bool] = []
    original = SnapshotItem.get.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(bool(kwargs.get("consistent_read")))
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(SnapshotItem, "get", classmethod(spy))
    assert store(settings).put(record()).status == "unchanged"
    with pytest.raises(ConflictError):
        store(settings).put(record(body=b'{"cash":"101"}'))
    assert reads == [True, True]


def test_a_failed_verification_never_reveals_the_digest_of_the_body(
    settings: TableSettings,
) -> None:
    # Revealing the HMAC of a forged body under the reader's key would complete the forgery.
    body = b'{"cash":"100"}'
    store(settings, hmac_key=KEY).put(record(body=body, key=KEY))
    with pytest.raises(IntegrityError) as caught:
        store(settings, hmac_key=b"reader key").get(ACCOUNT, END)
    assert hmac.new(b"reader key", body, hashlib.sha256).hexdigest() not in str(caught.value)
    assert hashlib.sha256(body).hexdigest() not in str(caught.value)


# Attributes outside the checksum ----------------------------------------------------------

HEADER_KEY = ("SNAPSHOT#acct-1", "SNAP#2026-03-02T21:00:00Z")


def _put_raw(settings: TableSettings, item: dict[str, Any]) -> None:
    raw_client(settings).put_item(TableName=settings.table_name, Item=item)  # type: ignore[attr-defined]


def _zlib_body(item: dict[str, Any]) -> bytes:
    body = item["body"]["B"]
    return body if isinstance(body, bytes) else bytes(body)


ATTRIBUTE_EDITS: list[Any] = [
    pytest.param(lambda i: {"ttl": {"N": str(int(i["ttl"]["N"]) + 86400)}}, "ttl is", id="ttl"),
    pytest.param(lambda i: {"retention_days": {"N": "30"}}, "ttl is", id="retention-days"),
    pytest.param(lambda i: {"retention_days": {"N": "0"}}, "retention_days 0", id="bad-retention"),
    pytest.param(
        lambda i: {"body_size": {"N": str(int(i["body_size"]["N"]) + 1)}},
        "body_size is",
        id="body-size-larger",
    ),
    pytest.param(
        lambda i: {"body_size": {"N": str(int(i["body_size"]["N"]) - 1)}},
        "inflates to more than",
        id="body-size-smaller",
    ),
    pytest.param(
        lambda i: {"body": {"B": _zlib_body(i) + b"trailing"}},
        "8 bytes after the end of the zlib stream",
        id="bytes-after-zlib-stream",
    ),
    pytest.param(
        lambda i: {"body": {"B": _zlib_body(i)[:-3]}},
        "body_size is",
        id="truncated-zlib-stream",
    ),
    pytest.param(lambda i: {"GSI4PK": {"S": "CORR#other"}}, "GSI4PK is", id="gsi4pk"),
    pytest.param(
        lambda i: {"GSI4SK": {"S": "SNAP#2026-03-01T21:00:00Z"}}, "GSI4SK is", id="gsi4sk"
    ),
    pytest.param(lambda i: {"body_encoding": {"S": "gzip"}}, "body_encoding is", id="encoding"),
    pytest.param(lambda i: {"chunk_count": {"N": "1"}}, "chunk_count 1 beside", id="chunk-count"),
]


@pytest.mark.parametrize(("edit", "named"), ATTRIBUTE_EDITS)
def test_an_attribute_outside_the_checksum_that_disagrees_is_rejected_on_read(
    settings: TableSettings, edit: Any, named: str
) -> None:
    store(settings).put(record())
    item = raw_item(settings, *HEADER_KEY)
    _put_raw(settings, {**item, **edit(item)})
    with pytest.raises(IntegrityError, match=named):
        store(settings).get(ACCOUNT, END)
    with pytest.raises(IntegrityError, match=named):
        list(store(settings).range(ACCOUNT))


def _chunked(settings: TableSettings) -> None:
    body = json.dumps({"noise": os.urandom(450_000).hex()}).encode()  # ~2 chunks
    assert store(settings).put(record(body=body)).snapshot.chunk_count == 2


def test_a_chunk_whose_ttl_differs_from_its_header_is_rejected(settings: TableSettings) -> None:
    _chunked(settings)
    chunk_key = ("SNAPCHUNK#acct-1#2026-03-02T21:00:00Z", "CHUNK#0001")
    chunk = raw_item(settings, *chunk_key)
    _put_raw(settings, {**chunk, "ttl": {"N": str(int(chunk["ttl"]["N"]) + 1)}})
    with pytest.raises(IntegrityError, match="ttl of CHUNK#0001"):
        store(settings).get(ACCOUNT, END)


def test_a_missing_or_extra_chunk_is_rejected(settings: TableSettings) -> None:
    _chunked(settings)
    item = raw_item(settings, *HEADER_KEY)
    _put_raw(settings, {**item, "chunk_count": {"N": "3"}})
    with pytest.raises(IntegrityError, match="chunk_count is 3, the chunks stored are"):
        store(settings).get(ACCOUNT, END)


def test_retention_is_configurable_and_recorded_on_the_item(
    settings: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAPSHOT_RETENTION_DAYS", "30")
    result = store(settings).put(record())
    item = raw_item(settings, *HEADER_KEY)
    assert item["retention_days"] == {"N": "30"}
    assert int(item["ttl"]["N"]) == int(NOW.timestamp()) + 30 * 86400
    assert result.snapshot.expires_at - result.snapshot.created_at == timedelta(days=30)
    # Read back with another configured retention: the item's own retention decides.
    monkeypatch.setenv("SNAPSHOT_RETENTION_DAYS", "400")
    assert store(settings).get(ACCOUNT, END).expires_at == result.snapshot.expires_at
    assert store(settings, retention_days=7).get(ACCOUNT, END) == store(settings).get(ACCOUNT, END)


@pytest.mark.parametrize("value", ["0", "3651", "-5", "thirty", "1.5"])
def test_a_bad_retention_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SNAPSHOT_RETENTION_DAYS", value)
    with pytest.raises(ConfigurationError, match="SNAPSHOT_RETENTION_DAYS"):
        AccountSnapshotRepository(TableSettings(table_name="abc", region="us-east-1"))


# Listing (GSI5: metadata only) ----------------------------------------------------------------


def test_summaries_list_the_metadata_in_range_and_order(settings: TableSettings) -> None:
    snapshots = store(settings)
    ends = [END + timedelta(days=n) for n in range(5)]
    for n, end in enumerate(ends):
        snapshots.put(record(end, json.dumps({"n": n}).encode(), correlation_id=f"cycle-{n % 2}"))
    stored = {s.record.period_end: s for s in snapshots.range(ACCOUNT)}
    listed = list(snapshots.summaries(ACCOUNT, ends[1], ends[4]))
    assert [s.period_end for s in listed] == [ends[3], ends[2], ends[1]]
    for summary in listed:
        full = stored[summary.period_end]
        assert (summary.snapshot_id, summary.checksum, summary.correlation_id) == (
            full.record.snapshot_id,
            full.record.checksum,
            full.record.correlation_id,
        )
        assert (summary.period_start, summary.created_at) == (
            full.record.period_start,
            full.created_at,
        )
        assert summary.body_size == len(full.record.body)
    oldest = [s.period_end for s in snapshots.summaries(ACCOUNT, newest_first=False)]
    assert oldest == ends
    assert list(snapshots.summaries(ACCOUNT, ends[2], ends[2])) == []
    assert list(snapshots.summaries("other-account")) == []
    # Expired ones are left out, as by range(): stored at NOW, they expire 90 days later.
    assert list(store(settings, now=NOW + timedelta(days=91)).summaries(ACCOUNT)) == []


def test_summaries_cost_the_metadata_not_the_bodies(settings: TableSettings) -> None:
    """Ten snapshots of ~150 KB compressed each: listing them reads a few hundred bytes each."""
    from ledger_store.metering import DynamoMeter

    snapshots = store(settings)
    for n in range(10):
        body = json.dumps({"noise": os.urandom(75_000).hex(), "n": n}).encode()
        snapshots.put(record(END + timedelta(days=n), body))
    meter = DynamoMeter.for_settings(settings)
    with meter.measure() as listing:
        assert len(list(snapshots.summaries(ACCOUNT))) == 10
    with meter.measure() as reading:
        assert len(list(snapshots.range(ACCOUNT))) == 10
    assert listing.requests == {"Query": 1}
    if settings.endpoint_url:  # DynamoDB Local reports capacity by DynamoDB's rules
        assert listing.read_units <= 1.0
        assert reading.read_units >= 100 * listing.read_units
