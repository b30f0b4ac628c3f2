"""The Step Functions payload that hands a stored snapshot to the report step.

``{"account_id", "period": {"start", "end"}, "snapshot_id"}`` is the contract; ``key``,
``checksum`` and ``checksum_algorithm`` ride along so the report step (and a human reading the
execution history) can name the item and check it without another lookup. Timestamps are
``YYYY-MM-DDTHH:MM:SSZ``. The report Lambda imports this module, so it stays dependency-light.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import field_serializer

from ledger_store import keys
from ledger_store.dto import AccountId, Frozen, UTCDateTime


class Period(Frozen):
    """The half-open period ``[start, end)`` of a snapshot."""

    start: UTCDateTime
    end: UTCDateTime

    @field_serializer("start", "end")
    def _seconds(self, value: datetime) -> str:
        return keys.format_seconds(value)


class SnapshotKey(Frozen):
    """The DynamoDB key of the snapshot item."""

    pk: str
    sk: str


class SnapshotPayload(Frozen):
    """What the trading Lambda returns and passes to the report state machine."""

    account_id: AccountId
    period: Period
    snapshot_id: str
    key: SnapshotKey
    checksum: str
    checksum_algorithm: str

    @classmethod
    def naming(
        cls,
        *,
        account_id: str,
        period_start: datetime,
        period_end: datetime,
        snapshot_id: str,
        checksum: str,
        checksum_algorithm: str,
    ) -> SnapshotPayload:
        """The payload naming a stored snapshot (its key follows from account and period end)."""
        return cls(
            account_id=account_id,
            period=Period(start=period_start, end=period_end),
            snapshot_id=snapshot_id,
            key=SnapshotKey(pk=keys.snapshot_pk(account_id), sk=keys.snapshot_sk(period_end)),
            checksum=checksum,
            checksum_algorithm=checksum_algorithm,
        )

    def to_json(self) -> dict[str, Any]:
        """The payload as JSON-ready data (what Step Functions receives)."""
        data: dict[str, Any] = self.model_dump(mode="json")
        return data

    def to_text(self) -> str:
        """Compact JSON with sorted keys: the execution input."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))


__all__ = ["Period", "SnapshotKey", "SnapshotPayload"]
