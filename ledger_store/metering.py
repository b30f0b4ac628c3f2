"""DynamoDB usage as DynamoDB reports it: requests and consumed capacity, per operation.

``DynamoMeter`` hooks the botocore client PynamoDB uses for a table: while ``measure()`` is
open, every request asks for ``ReturnConsumedCapacity=INDEXES`` and its response is counted,
so a benchmark or a test states what an operation cost from DynamoDB's own figures (DynamoDB
Local follows DynamoDB's capacity rules; moto's figures are not meaningful), not from an
estimate. Counting is thread-safe and off outside ``measure()``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .binding import bound
from .config import TableSettings
from .models import LedgerItem

#: The operations whose capacity is read capacity.
READ_OPERATIONS: Final = frozenset(
    {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems", "DescribeTable"}
)
_READ_OPERATIONS = READ_OPERATIONS


@dataclass
class DynamoUsage:
    """Requests and consumed capacity by operation."""

    requests: dict[str, int] = field(default_factory=dict)
    capacity: dict[str, float] = field(default_factory=dict)
    table_capacity: float = 0.0
    gsi_capacity: dict[str, float] = field(default_factory=dict)
    write_gsi_units: float = 0.0
    retries: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def read_units(self) -> float:
        return sum(v for op, v in self.capacity.items() if op in _READ_OPERATIONS)

    @property
    def write_units(self) -> float:
        return sum(v for op, v in self.capacity.items() if op not in _READ_OPERATIONS)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "total_requests": self.total_requests,
            "capacity_by_operation": {k: round(v, 2) for k, v in sorted(self.capacity.items())},
            "read_units": round(self.read_units, 2),
            "write_units": round(self.write_units, 2),
            "table_units": round(self.table_capacity, 2),
            "gsi_units": {k: round(v, 2) for k, v in sorted(self.gsi_capacity.items())},
            "retries": self.retries,
        }


class DynamoMeter:
    """Counts the requests and consumed capacity of one botocore client (PynamoDB's).

    ``before-parameter-build`` asks for ``ReturnConsumedCapacity=INDEXES`` (PynamoDB asks for
    ``TOTAL``; the breakdown adds the GSI share), ``after-call`` adds up each response.
    Counting happens only inside ``measure()``.
    """

    _CAPACITY_OPERATIONS = frozenset(
        {
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "Query",
            "Scan",
            "BatchGetItem",
            "BatchWriteItem",
            "TransactGetItems",
            "TransactWriteItems",
        }
    )

    def __init__(self, client: Any) -> None:
        """Meter ``client`` (a botocore DynamoDB client): PynamoDB's (``for_settings``) or one
        of your own, such as the raw client a baseline measurement uses."""
        self._lock = threading.Lock()
        self._usage: DynamoUsage | None = None
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    @classmethod
    def for_settings(cls, settings: TableSettings) -> DynamoMeter:
        """Meter the client the repositories use for ``settings`` (one per table settings)."""
        with bound(settings):
            client = LedgerItem._get_connection().connection.client
        return cls(client)

    @contextlib.contextmanager
    def measure(self) -> Iterator[DynamoUsage]:
        usage = DynamoUsage()
        with self._lock:
            self._usage = usage
        try:
            yield usage
        finally:
            with self._lock:
                self._usage = None

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self._usage is not None and model.name in self._CAPACITY_OPERATIONS:
            params["ReturnConsumedCapacity"] = "INDEXES"

    def _after(self, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        with self._lock:
            usage = self._usage
            if usage is None:
                return
            name = model.name
            usage.requests[name] = usage.requests.get(name, 0) + 1
            usage.retries += int(parsed.get("ResponseMetadata", {}).get("RetryAttempts", 0))
            consumed = parsed.get("ConsumedCapacity")
            entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
            for entry in entries:
                units = float(entry.get("CapacityUnits", 0.0))
                usage.capacity[name] = usage.capacity.get(name, 0.0) + units
                usage.table_capacity += float(entry.get("Table", {}).get("CapacityUnits", 0.0))
                for index, figures in entry.get("GlobalSecondaryIndexes", {}).items():
                    index_units = float(figures.get("CapacityUnits", 0.0))
                    usage.gsi_capacity[index] = usage.gsi_capacity.get(index, 0.0) + index_units
                    if name not in _READ_OPERATIONS:
                        usage.write_gsi_units += index_units
            if not entries:
                usage.capacity.setdefault(name, 0.0)


__all__ = ["READ_OPERATIONS", "DynamoMeter", "DynamoUsage"]
