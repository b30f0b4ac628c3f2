"""The embedded default backend: moto serves DynamoDB in this process (no AWS account, no Java).

Used by the demo and by ``--embedded``; its data lives only as long as the process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import ConfigurationError

_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "embedded",
    "AWS_SECRET_ACCESS_KEY": "embedded",
    "AWS_SESSION_TOKEN": "embedded",
}


@contextmanager
def embedded_aws(region: str = "us-east-1") -> Iterator[str]:
    """Run the block against moto's in-process AWS (region ``region`` unless one is set).

    Real credentials and endpoint overrides in the environment are masked for the block so
    nothing can leak to a real account.
    """
    try:
        from moto import mock_aws
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            "the embedded backend needs moto: pip install 'trade-ledger[embedded]'"
        ) from exc
    masked = {
        name: os.environ.pop(name)
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE")
        if name in os.environ
    }
    overrides = dict(_FAKE_CREDENTIALS)
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        overrides["AWS_REGION"] = region
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    install_fast_transactions()
    try:
        with mock_aws():
            yield region
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        os.environ.update(masked)


def install_fast_transactions() -> None:
    """Make moto's TransactWriteItems roll back only the items it touches.

    moto deep-copies every table a transaction names, once per action, so each write costs
    O(table size) and importing a few hundred fills takes minutes. This wrapper snapshots just
    the keys the transaction addresses, lets moto run with its table copy turned into a no-op,
    and on failure puts those items back: the same all-or-nothing outcome, in O(items).
    It also serialises moto's DynamoDB requests (``_serialize_requests``), so concurrent
    writers see DynamoDB's per-request isolation. Idempotent; the whole moto test suite
    (atomicity tests included) runs through it.
    """
    import moto.dynamodb.models

    moto_models: Any = moto.dynamodb.models
    backend_class: Any = moto_models.DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = backend_class.transact_write_items
    if getattr(original, "_trade_ledger_fast", False):
        return

    real_copy = moto_models.copy

    class _KeepTables:
        """Stand-in for the ``copy`` module inside moto's backend: tables are not copied."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table):
                return value
            return real_copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, Any, Any, Any]] = []
        for entry in transact_items:
            _, operation = next(iter(entry.items()))
            table = self.tables.get(operation.get("TableName"))
            attributes = operation.get("Item") or operation.get("Key") or {}
            if table is None or table.hash_key_attr not in attributes:
                continue
            hash_key = DynamoType(attributes[table.hash_key_attr])
            range_key = None
            if table.range_key_attr and table.range_key_attr in attributes:
                range_key = DynamoType(attributes[table.range_key_attr])
            bucket = table.items.get(hash_key)
            if table.has_range_key:
                # An empty partition is falsy but still a partition: its item is absent.
                current = bucket.get(range_key) if bucket is not None else None
            else:
                current = bucket
            saved.append((table, hash_key, range_key, real_copy.deepcopy(current)))
        moto_models.copy = _KeepTables
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                _restore(table, hash_key, range_key, item)
            raise
        finally:
            moto_models.copy = real_copy

    transact_write_items._trade_ledger_fast = True  # type: ignore[attr-defined]
    backend_class.transact_write_items = transact_write_items
    _serialize_requests()


#: moto's DynamoDB backend is plain dicts mutated in place: not safe for concurrent requests.
_MOTO_LOCK = threading.RLock()


def _serialize_requests() -> None:
    """Let one DynamoDB request at a time into moto's backend (the library's bulk writers use
    threads; DynamoDB isolates each request, moto's in-memory tables do not)."""
    from moto.dynamodb.responses import DynamoHandler

    handler: Any = DynamoHandler
    original = handler.call_action
    if getattr(original, "_trade_ledger_serial", False):
        return

    def call_action(self: Any) -> Any:
        with _MOTO_LOCK:
            return original(self)

    call_action._trade_ledger_serial = True  # type: ignore[attr-defined]
    handler.call_action = call_action


def _restore(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    if not table.has_range_key:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    bucket = table.items.get(hash_key)
    if item is not None:
        table.items[hash_key][range_key] = item
    elif bucket is not None:
        bucket.pop(range_key, None)
        if not bucket:
            del table.items[hash_key]
