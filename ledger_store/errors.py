"""The library's typed exceptions: every failure a caller can act on has its own class."""

from __future__ import annotations

from collections.abc import Sequence


class LedgerError(Exception):
    """Base class of every error raised by ``ledger_store`` and ``snapshots``."""


class TransientError(LedgerError):
    """A failure that may pass: the same request later can succeed (throttling, an outage, a
    timeout). Step Functions retries exactly these (every task's ``Retry`` names each
    subclass, ``transient_error_names``); every other error is permanent and fails at once."""


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


class StorageUnavailableError(TransientError):
    """DynamoDB (or the client talking to it) failed in a way that may pass (throttling, a
    5xx, a timeout, a lost connection); wraps the botocore/PynamoDB error."""

    def __init__(self, operation: str, key: str | None, cause: BaseException) -> None:
        self.operation = operation
        self.key = key
        self.cause = cause
        where = f" (key {key})" if key else ""
        super().__init__(f"{operation}{where} failed: {type(cause).__name__}: {cause}")


class StorageAccessError(LedgerError):
    """DynamoDB refused for good: access denied, or credentials it does not accept. Retrying
    cannot help; the message says what to fix. Wraps the botocore/PynamoDB error."""

    def __init__(self, operation: str, key: str | None, cause: BaseException, hint: str) -> None:
        self.operation = operation
        self.key = key
        self.cause = cause
        where = f" (key {key})" if key else ""
        super().__init__(f"{operation}{where} failed: {self._reason(cause, hint)}")

    @staticmethod
    def _reason(cause: BaseException, hint: str) -> str:
        return f"{type(cause).__name__}: {cause}; {hint}"


class StorageConfigurationError(StorageAccessError, ConfigurationError):
    """The call could not be made as configured: no credentials or region, an unknown profile,
    an expired SSO session, or a table that does not exist under the configured name. Nothing
    was written; the message says what to set (the CLI exits with 2, as for any configuration
    error)."""

    @staticmethod
    def _reason(cause: BaseException, hint: str) -> str:
        # What to fix first; the SDK's own words (long, and about its request) only by name.
        return f"{hint} ({type(cause).__name__})"


class SecretUnavailableError(TransientError):
    """Secrets Manager could not answer now (throttling, a 5xx, the network)."""


def transient_error_names(*modules: object) -> set[str]:
    """The class names of every ``TransientError`` defined in ``modules`` (Step Functions
    matches an error by its exact name, not by its base classes)."""
    names = set()
    for module in modules:
        for value in vars(module).values():
            transient = isinstance(value, type) and issubclass(value, TransientError)
            if transient and value is not TransientError:
                names.add(value.__name__)
    return names
