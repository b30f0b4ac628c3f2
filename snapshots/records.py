"""The bridge between the snapshot schema and the schema-agnostic snapshot store.

The store keeps ``body_bytes(snapshot)`` (the checksummed canonical body) beside the checksum
and the key metadata; these two functions convert in both directions. Reading verifies the
checksum again after parsing and checks that the stored metadata agrees with the body, so a
snapshot whose item attributes were edited apart from its body is rejected, not reported.
"""

from __future__ import annotations

from ledger_store.errors import IntegrityError
from ledger_store.snapshot_store import SnapshotRecord
from snapshots.schema import (
    AnySnapshot,
    body_bytes,
    describe_snapshot,
    parse_snapshot_object,
    read_json_object,
    verify,
)


def snapshot_record(snapshot: AnySnapshot) -> SnapshotRecord:
    """What ``AccountSnapshotRepository.put`` stores for ``snapshot``."""
    return SnapshotRecord(
        account_id=snapshot.account_id,
        period_start=snapshot.period_start,
        period_end=snapshot.period_end,
        snapshot_id=snapshot.snapshot_id,
        snapshot_version=snapshot.snapshot_version,
        correlation_id=snapshot.correlation_id,
        checksum=snapshot.checksum,
        checksum_algorithm=snapshot.checksum_algorithm,
        body=body_bytes(snapshot),
    )


def snapshot_from_record(record: SnapshotRecord, key: bytes | None) -> AnySnapshot:
    """Parse and verify a stored record; raises ``IntegrityError`` naming the snapshot.

    ``key`` is the HMAC key (``SNAPSHOT_HMAC_KEY``) or ``None`` for plain SHA-256.
    """
    raw = read_json_object(record.body)
    described = describe_snapshot(record.snapshot_id, record.account_id, record.period_end)
    for name in ("checksum", "checksum_algorithm"):
        if name in raw:
            raise IntegrityError(f"{described}: the stored body must not contain {name}")
    raw["checksum"] = record.checksum
    raw["checksum_algorithm"] = record.checksum_algorithm
    snapshot = parse_snapshot_object(raw)
    verify(snapshot, key)
    stored = {
        "account_id": record.account_id,
        "period_start": record.period_start,
        "period_end": record.period_end,
        "snapshot_id": record.snapshot_id,
        "snapshot_version": record.snapshot_version,
        "correlation_id": record.correlation_id,
    }
    differing = sorted(name for name, value in stored.items() if getattr(snapshot, name) != value)
    if differing:
        raise IntegrityError(
            f"{described}: the item's {', '.join(differing)} disagree with its verified body"
        )
    return snapshot


__all__ = ["snapshot_from_record", "snapshot_record"]
