"""Shared plumbing of the repositories: error translation, streaming reads, expiry filter."""

from __future__ import annotations

import contextlib
import itertools
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final, Literal, TypeVar, overload

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConfigNotFound,
    ConfigParseError,
    InvalidConfigError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.pagination import ResultIterator
from pynamodb.transactions import TransactWrite

from . import paging
from .binding import bound
from .config import TableSettings
from .errors import (
    IntegrityError,
    LedgerError,
    LedgerValidationError,
    StorageAccessError,
    StorageConfigurationError,
    StorageUnavailableError,
)
from .models import LedgerItem
from .tracing import subsegment

T = TypeVar("T")
M = TypeVar("M", bound=LedgerItem)


def _client_error(exc: BaseException) -> ClientError | None:
    """The botocore ``ClientError`` behind an exception (a DynamoDB answer), if there is one.

    Connection resets, timeouts and closed connections carry no DynamoDB answer at all: PynamoDB
    then wraps a ``BotoCoreError`` whose ``response`` is missing or ``None``.
    """
    cause = exc.cause if isinstance(exc, PynamoDBException) else exc
    return cause if isinstance(cause, ClientError) else None


def error_code(exc: BaseException) -> str | None:
    """The DynamoDB error code behind a PynamoDB/botocore exception, if DynamoDB answered."""
    error = _client_error(exc)
    if error is None:
        return None
    code = (error.response or {}).get("Error", {}).get("Code")
    return str(code) if code else None


#: Attempts of a transaction that DynamoDB cancels because a concurrent one held one of its
#: items (``TransactionConflict``), and the longest pause between two.
CONFLICT_ATTEMPTS: Final = 12
CONFLICT_MAX_DELAY: Final = 0.2


def collided(exc: TransactWriteError) -> bool:
    """Whether DynamoDB cancelled the transaction only because another one held an item."""
    codes = {r.code for r in exc.cancellation_reasons or [] if r is not None and r.code}
    return bool(codes) and codes <= {"TransactionConflict", "None"}


def transact(
    connection: Connection,
    build: Callable[[TransactWrite], object],
    *,
    sleep: Callable[[float], object] = time.sleep,
) -> None:
    """Commit the transaction ``build`` writes into, retrying a collision with a concurrent one.

    A cancelled transaction wrote nothing, so it is built and sent again (its conditions are
    evaluated afresh) after a jittered, growing pause; any other failure is raised as is.
    """
    for attempt in itertools.count(1):
        try:
            with TransactWrite(connection=connection) as tx:
                build(tx)
            return
        except TransactWriteError as exc:
            if not collided(exc) or attempt >= CONFLICT_ATTEMPTS:
                raise
        sleep(random.uniform(0, min(CONFLICT_MAX_DELAY, 0.005 * 2**attempt)))


#: DynamoDB's answers that no retry cures, and what to do about each.
PERMANENT_CODES: Final = {
    "AccessDeniedException": "access denied: the role's policy lacks this action on the table",
    "UnrecognizedClientException": "the credentials are not valid in this region",
    "InvalidSignatureException": "the request's signature is wrong (the secret access key)",
    "MissingAuthenticationTokenException": "no credentials were sent",
    "IncompleteSignatureException": "the request's signature is incomplete",
}

#: The answer for a table that does not exist: a configuration error, named with the table.
MISSING_TABLE: Final = "ResourceNotFoundException"


#: The SDK's own set-up failures: no answer was asked for, and no retry cures them.
SETUP_FAILURES: Final = {
    NoCredentialsError: "no AWS credentials were found (the SDK's chain: environment, "
    "profile, SSO, container or instance role)",
    PartialCredentialsError: "the AWS credentials are incomplete",
    NoRegionError: "no AWS region: set AWS_REGION (or the profile's region)",
    ProfileNotFound: "the AWS profile does not exist: check AWS_PROFILE and ~/.aws/config",
    ConfigNotFound: "the AWS config file does not exist: check AWS_CONFIG_FILE",
    ConfigParseError: "the AWS config file cannot be parsed",
    InvalidConfigError: "the AWS configuration is invalid",
    InvalidRegionError: "the AWS region is not a valid region name",
    SSOTokenLoadError: "the SSO session has expired or was never started: run `aws sso login`",
    UnauthorizedSSOTokenError: "the SSO session has expired: run `aws sso login`",
    TokenRetrievalError: "the SSO token could not be refreshed: run `aws sso login`",
}


def missing_table_hint(settings: TableSettings | None) -> str:
    """What to do about a table that does not exist: its name, where it was looked for, and
    the two ways out."""
    if settings is None:
        return "the table does not exist: check its name (TRADE_LEDGER_TABLE) and the region"
    where = settings.endpoint_url or f"region {settings.region or 'of the SDK chain'}"
    return (
        f"table {settings.table_name!r} does not exist at {where}: check the name "
        "(--table / TRADE_LEDGER_TABLE, --stage), the region and the endpoint, or create it "
        "with `trade-ledger table create`"
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (PynamoDB's ``cause``, Python's ``__cause__``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        wrapped = getattr(current, "cause", None)
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__


def translate(
    operation: str, key: str | None, exc: BaseException, settings: TableSettings | None = None
) -> Exception:
    """Map a storage exception to the library's own: bad input, a configuration that cannot
    work (``StorageConfigurationError``: credentials, region, a missing table), a refusal no
    retry cures (``StorageAccessError``), or storage that may come back
    (``StorageUnavailableError``)."""
    where = f" (key {key})" if key else ""
    for cause in _chain(exc):
        for kind, hint in SETUP_FAILURES.items():
            if isinstance(cause, kind):
                return StorageConfigurationError(operation, key, exc, hint)
        if isinstance(cause, ParamValidationError):
            return LedgerValidationError(f"{operation}{where} refused by the SDK: {cause}")
    if isinstance(exc, TransactWriteError):
        codes = {r.code for r in exc.cancellation_reasons or [] if r is not None and r.code}
        if "ValidationError" in codes:
            return LedgerValidationError(
                f"{operation}{where} rejected by DynamoDB: an item of the transaction is "
                "invalid (ValidationError)"
            )
    code = error_code(exc)
    if code == "ValidationException":
        error = _client_error(exc)
        message = (error.response or {}).get("Error", {}).get("Message") if error else None
        return LedgerValidationError(f"{operation}{where} rejected by DynamoDB: {message or exc}")
    if code == MISSING_TABLE:
        return StorageConfigurationError(operation, key, exc, missing_table_hint(settings))
    if code in PERMANENT_CODES:
        return StorageAccessError(operation, key, exc, PERMANENT_CODES[code])
    return StorageUnavailableError(operation, key, exc)


#: Everything the AWS SDK stack raises for a failed call: DynamoDB's answers (``ClientError``),
#: the SDK's own failures (``BotoCoreError``: timeouts, resets, closed connections, endpoint
#: errors), PynamoDB's wrappers of both, and socket errors that escape them.
STORAGE_FAILURES = (PynamoDBException, BotoCoreError, ClientError, OSError)


@contextmanager
def storage_call(settings: TableSettings, operation: str, key: str | None) -> Iterator[None]:
    """Bind the models to ``settings`` and translate any storage failure inside the block."""
    with bound(settings):
        try:
            yield
        except STORAGE_FAILURES as exc:
            raise translate(operation, key, exc, settings) from exc


@overload
def stream(
    settings: TableSettings,
    operation: str,
    key: str,
    start_query: Callable[[], ResultIterator[M]],
    *,
    corrupt_items: Literal["raise"] = "raise",
) -> Iterator[LedgerItem]: ...


@overload
def stream(
    settings: TableSettings,
    operation: str,
    key: str,
    start_query: Callable[[], ResultIterator[M]],
    *,
    corrupt_items: Literal["yield"],
) -> Iterator[LedgerItem | IntegrityError]: ...


def stream(
    settings: TableSettings,
    operation: str,
    key: str,
    start_query: Callable[[], ResultIterator[M]],
    *,
    corrupt_items: Literal["raise", "yield"] = "raise",
) -> Iterator[LedgerItem] | Iterator[LedgerItem | IntegrityError]:
    """Iterate a PynamoDB query page by page, following ``LastEvaluatedKey`` to the end.

    Each page is one DynamoDB request, traced as its own subsegment; failures while paging are
    translated like any other storage call. Items are yielded as they arrive, so callers can
    stream results that do not fit in memory. An item that does not fit its model raises
    ``IntegrityError``, or with ``corrupt_items="yield"`` comes as that error and the
    iteration goes on.
    """
    return _stream(settings, operation, key, start_query, corrupt_items == "yield")


def _stream(
    settings: TableSettings,
    operation: str,
    key: str,
    start_query: Callable[[], ResultIterator[M]],
    tolerate: bool,
) -> Iterator[Any]:
    for raw in _raw_items(settings, operation, key, start_query, raw_json=False):
        try:
            yield deserialize(raw, operation)
        except IntegrityError as exc:
            if not tolerate:
                raise
            yield exc


def _raw_items(
    settings: TableSettings,
    operation: str,
    key: str,
    start_query: Callable[[], ResultIterator[M]],
    *,
    raw_json: bool,
) -> Iterator[dict[str, Any]]:
    """The raw items of a PynamoDB query, page by page, each request bound and translated;
    with ``raw_json`` as DynamoDB sent them (``paging.raw_items``: binary values base64 text)."""
    with storage_call(settings, operation, key):
        paging.install(LedgerItem._get_connection().connection.client)
        pages = start_query().page_iter  # created while bound: it captures the connection
    for number in itertools.count():
        with (
            storage_call(settings, operation, key),
            subsegment("ledger.query", operation=operation, key=key, page=number),
            paging.raw_items() if raw_json else contextlib.nullcontext(),
        ):
            try:
                page = next(pages)
            except StopIteration:
                return
        yield from page.get("Items", ())


def stream_converted(
    settings: TableSettings,
    operation: str,
    key: str,
    start_query: Callable[[], ResultIterator[M]],
    convert: Callable[[dict[str, Any]], T | None],
    describe: Callable[[dict[str, Any]], str] | None = None,
) -> Iterator[T]:
    """Like ``stream``, but each raw item goes straight to ``convert`` (``None``: skip it),
    without a PynamoDB model in between: for the hot read paths, where building one model per
    item costs more than the request. Items come as DynamoDB's JSON (``paging.raw_items``), so
    ``convert`` must read only string and number values. What ``convert`` raises for an item
    that does not fit (``ValueError``, ``TypeError``, ``KeyError``, ``LedgerError``) is an
    ``IntegrityError`` naming the item (by its keys, or by ``describe`` when the read projects
    them away)."""
    for raw in _raw_items(settings, operation, key, start_query, raw_json=True):
        try:
            converted = convert(raw)
        except (ValueError, TypeError, KeyError, AttributeError, LedgerError) as exc:
            raise _corrupt(raw, operation, exc, describe) from exc
        if converted is not None:
            yield converted


def deserialize(raw: dict[str, Any], operation: str) -> LedgerItem:
    """The model of a raw item; an item that does not fit its model is an ``IntegrityError``."""
    try:
        return LedgerItem.from_raw_data(raw)
    except (PynamoDBException, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _corrupt(raw, operation, exc) from exc


def _corrupt(
    raw: dict[str, Any],
    operation: str,
    exc: BaseException,
    describe: Callable[[dict[str, Any]], str] | None = None,
) -> IntegrityError:
    if describe is not None:
        try:
            where = describe(raw)
        except (LookupError, TypeError, AttributeError):
            where = "?"
    else:
        where = f"{raw.get('PK', {}).get('S', '?')} / {raw.get('SK', {}).get('S', '?')}"
    return IntegrityError(
        f"{operation}: stored item {where} does not match its model: {type(exc).__name__}: {exc}"
    )


def not_expired(now: datetime) -> Condition:
    """Filter that hides items whose ``ttl`` has passed: DynamoDB deletes them only lazily."""
    condition: Condition = LedgerItem.ttl.does_not_exist() | (LedgerItem.ttl > now)
    return condition


def is_expired(item: LedgerItem, now: datetime) -> bool:
    """The in-code twin of ``not_expired`` for single-item reads."""
    return item.ttl is not None and item.ttl <= now
