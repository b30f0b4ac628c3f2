"""Key builders: the only place that turns ids and timestamps into PK/SK/GSI key strings.

Every key part is validated here (no ``#``, no control characters, not empty, bounded length)
so a malformed id can never alias another item's key.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from .errors import LedgerValidationError

SEP = "#"
MAX_KEY_PART_LENGTH = 128

#: Control, format (zero-width, bidi overrides), surrogate and line/paragraph separator
#: characters: invisible or line-breaking, so two different ids could print the same.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: The only invisible ASCII characters (the fast path: ids are almost always ASCII).
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: A key part that needs no further check: 1 to 128 printable ASCII characters without '#',
#: not starting or ending with a space (ASCII text is its own NFC form).
_SAFE_ASCII = re.compile(r"[\x21\x22\x24-\x7e](?:[\x20-\x22\x24-\x7e]{0,126}[\x21\x22\x24-\x7e])?")


def validate_key_part(value: str, what: str) -> str:
    """Return ``value`` in Unicode NFC if it is safe inside a ``#``-separated key, else raise.

    Key parts are normalised to NFC (composed characters), on writes and lookups alike, so a
    strategy typed as "e + combining acute" and one typed as "é" are the same strategy.
    """
    if type(value) is str and _SAFE_ASCII.fullmatch(value):
        return value  # the usual id: printable ASCII, no '#', no edge spaces, short enough
    if not isinstance(value, str):
        raise LedgerValidationError(f"{what} must be a string, got {type(value).__name__}")
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    if not value or not value.strip():
        raise LedgerValidationError(f"{what} must not be empty")
    if value != value.strip():
        raise LedgerValidationError(f"{what} must not start or end with whitespace: {value!r}")
    if SEP in value:
        raise LedgerValidationError(f"{what} must not contain '#': {value!r}")
    if (
        _ASCII_CONTROL.search(value)
        if value.isascii()
        else any(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in value)
    ):
        raise LedgerValidationError(
            f"{what} must not contain control or invisible characters: {value!r}"
        )
    if len(value) > MAX_KEY_PART_LENGTH:
        raise LedgerValidationError(
            f"{what} is {len(value)} characters long; the limit is {MAX_KEY_PART_LENGTH}"
        )
    return value


#: The instants the library accepts: from the Unix epoch to the end of year 9999 (UTC). Every
#: timestamp in a key or a snapshot then has a four-digit year, so string order is time order.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def require_utc(value: datetime, what: str) -> datetime:
    """Reject naive datetimes and instants outside ``[EARLIEST, LATEST]``; convert to UTC."""
    if not isinstance(value, datetime):
        raise LedgerValidationError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise LedgerValidationError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:  # e.g. 0001-01-01T00:00:00+01:00
        raise LedgerValidationError(
            f"{what} {value.isoformat()} is out of range: from {EARLIEST:%Y-%m-%d} to "
            f"{LATEST:%Y-%m-%d} (UTC)"
        ) from exc
    if not EARLIEST <= utc <= LATEST:
        raise LedgerValidationError(
            f"{what} {value.isoformat()} is out of range: from {EARLIEST:%Y-%m-%d} to "
            f"{LATEST:%Y-%m-%d} (UTC)"
        )
    return utc


def _utc(value: datetime) -> datetime:
    """``require_utc`` of a timestamp, without converting one that is UTC already (the usual
    case, and the hot path of every key and digest)."""
    if type(value) is datetime and value.tzinfo is UTC and value.year >= EARLIEST.year:
        return value  # LATEST is the last instant a datetime can hold
    return require_utc(value, "timestamp")


def format_seconds(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds): the key form of period boundaries."""
    # isoformat of a UTC instant ends in "+00:00"; the year has four digits in the range
    return _utc(value).isoformat(timespec="seconds")[:-6] + "Z"


def format_micros(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``: fixed width, so string order equals time order."""
    return _utc(value).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO-8601 timestamp that carries an offset (``Z`` or ``+hh:mm``) into UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise LedgerValidationError(f"not an ISO-8601 timestamp: {text!r}") from exc
    return require_utc(parsed, f"timestamp {text!r}")


# Entity keys -------------------------------------------------------------------------------

TRADE_METADATA_SK = "METADATA"


def trade_pk(order_id: str) -> str:
    return f"TRADE#{validate_key_part(order_id, 'order_id')}"


def trade_event_sk(filled_at: datetime, order_id: str) -> str:
    """Sort key shared by GSI1-3: fills ordered by time, order id breaking ties."""
    return f"TRADE#{format_micros(filled_at)}#{validate_key_part(order_id, 'order_id')}"


def trade_event_prefix(at: datetime) -> str:
    """Lower/upper bound for a half-open ``[start, end)`` range over ``trade_event_sk`` keys.

    ``TRADE#{t}`` sorts before every ``TRADE#{t}#{order_id}``, so BETWEEN(start, end) includes
    fills at ``start`` and excludes fills at ``end``.
    """
    return f"TRADE#{format_micros(at)}"


def correction_sk(revision: int) -> str:
    """``CORRECTION#{revision:04d}``: a fill's corrections in order, beside its attributions."""
    return f"CORRECTION#{revision:04d}"


def strategy_sk(strategy: str) -> str:
    return f"STRATEGY#{validate_key_part(strategy, 'strategy')}"


def correlation_pk(correlation_id: str) -> str:
    return f"CORR#{validate_key_part(correlation_id, 'correlation_id')}"


def symbol_pk(symbol: str) -> str:
    return f"SYMBOL#{validate_key_part(symbol, 'symbol')}"


def account_pk(account_id: str) -> str:
    return f"ACCOUNT#{validate_key_part(account_id, 'account_id')}"


def account_strategy_pk(account_id: str, strategy: str) -> str:
    return f"{account_pk(account_id)}#{strategy_sk(strategy)}"


def snapshot_pk(account_id: str) -> str:
    return f"SNAPSHOT#{validate_key_part(account_id, 'account_id')}"


def snapshot_sk(period_end: datetime) -> str:
    return f"SNAP#{format_seconds(period_end)}"


def snapshot_chunk_pk(account_id: str, period_end: datetime) -> str:
    return f"SNAPCHUNK#{validate_key_part(account_id, 'account_id')}#{format_seconds(period_end)}"


def snapshot_chunk_sk(index: int) -> str:
    return f"CHUNK#{index:04d}"


# Account events (corporate actions, dividends, cash flows) ---------------------------------

#: The account's counter of recorded events (``event_count``): one per event, ever.
EVENT_COUNTER_SK = "EVENTS"


def event_sk(effective_at: datetime, event_id: str) -> str:
    """``EVENT#{effective_at}#{event_id}``: an account's events in time order."""
    return f"EVENT#{format_micros(effective_at)}#{validate_key_part(event_id, 'event_id')}"


def event_prefix(at: datetime) -> str:
    """Bound of a half-open ``[start, end)`` range over ``event_sk`` keys."""
    return f"EVENT#{format_micros(at)}"


#: The sort key of a ledger account's binding to its Alpaca account (``accounts``).
ALPACA_BINDING_SK = "ALPACA"
#: The sort key of the guard that gives an Alpaca account to one ledger account only.
LEDGER_GUARD_SK = "LEDGER"


def alpaca_pk(alpaca_account_id: str) -> str:
    """``ALPACA#{alpaca_account_id}``: the partition of an Alpaca account's guard."""
    return f"ALPACA#{validate_key_part(alpaca_account_id, 'alpaca_account_id')}"


def event_id_sk(event_id: str) -> str:
    """``EVENTID#{event_id}``: the guard that makes recording an event idempotent by id."""
    return f"EVENTID#{validate_key_part(event_id, 'event_id')}"
