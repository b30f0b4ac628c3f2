"""The library's typed exceptions: every failure a caller can act on has its own class."""

from __future__ import annotations

from collections.abc import Sequence


class LedgerError(Exception):
    """Base class of every error raised by ``ledger_store`` and ``snapshots``."""


class LedgerValidationError(LedgerError, ValueError):
    """Input was rejected before anything was written."""


class ConfigurationError(LedgerError):
    """The table, region or endpoint could not be resolved from flags and environment."""


class NotFoundError(LedgerError, LookupError):
    """The requested item does not exist (or has expired)."""


class ConflictError(LedgerError):
    """An item with the same key exists with different content; nothing was changed."""

    def __init__(self, message: str, *, key: str, differences: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.key = key
        self.differences = tuple(differences)


class AccountMismatchError(LedgerError):
    """The Alpaca account read is not the one the ledger account is bound to (or belongs to
    another ledger account): its keys are another account's. Nothing was written."""

    def __init__(self, message: str, *, account_id: str, alpaca_account_id: str) -> None:
        super().__init__(message)
        self.account_id = account_id
        self.alpaca_account_id = alpaca_account_id


class IntegrityError(LedgerError):
    """A stored item failed its schema or checksum verification."""


class SchemaMismatchError(LedgerError):
    """An existing table differs from the layout the models declare."""

    def __init__(self, table_name: str, differences: Sequence[str]) -> None:
        self.table_name = table_name
        self.differences = tuple(differences)
        listed = "\n".join(f"  - {d}" for d in self.differences)
        super().__init__(f"table {table_name!r} differs from the ledger layout:\n{listed}")


class StorageUnavailableError(LedgerError):
    """DynamoDB (or the client talking to it) failed; wraps the botocore/PynamoDB error."""

    def __init__(self, operation: str, key: str | None, cause: BaseException) -> None:
        self.operation = operation
        self.key = key
        self.cause = cause
        where = f" (key {key})" if key else ""
        super().__init__(f"{operation}{where} failed: {type(cause).__name__}: {cause}")
