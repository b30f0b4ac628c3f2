"""The canonical byte form of snapshot data, and its checksum.

Two values that are equal as data have byte-identical canonical forms, whatever the process,
``TZ``, ``PYTHONHASHSEED``, locale or platform. The form is JSON (RFC 8259), encoded as UTF-8,
written by these rules:

Structure
    * Objects: keys sorted by Unicode code point (Python ``str`` ordering), each key once.
      Keys must be strings (a ``str``-valued enum member counts as its value).
    * No insignificant whitespace: separators are exactly ``,`` and ``:``.
    * Arrays: ``list`` and ``tuple`` keep their order (order is data). Sets are rejected
      because they have no defined order.

Scalars
    * ``str``: written as-is, not Unicode-normalised; non-ASCII characters are written as UTF-8,
      never ``\\u`` escaped. Only ``"``, ``\\`` and U+0000-U+001F are escaped (``\\b \\f \\n \\r
      \\t``, otherwise ``\\u00xx`` with lower-case hex), exactly as ``json.dumps(...,
      ensure_ascii=False)`` does. Lone surrogates are rejected (they are not UTF-8).
    * ``Decimal``: a JSON *string* holding the normalised plain form of
      ``ledger_store.decimals.plain``: no exponent, no trailing fractional zeros, no ``-0``
      (``Decimal("1.10")`` -> ``"1.1"``, ``Decimal("1E+2")`` -> ``"100"``, ``Decimal("1E-10")``
      -> ``"0.0000000001"``, ``Decimal("-0.0")`` -> ``"0"``). NaN, infinities and values of more
      than 38 significant digits are rejected.
    * ``int``: a JSON integer (any size). ``bool``: ``true`` / ``false``. ``None``: ``null``.
    * ``float``: rejected, always, anywhere (money is ``Decimal``).
    * ``datetime``: a JSON string in UTC. Naive datetimes are rejected; aware ones are converted
      to UTC first. ONE rule picks the shape from the UTC instant: when its microsecond is 0 the
      text is ``YYYY-MM-DDTHH:MM:SSZ``; otherwise ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` with exactly
      six fraction digits (trailing zeros kept: ``.500000``). The year has four digits.
    * ``date`` (not a datetime): ``YYYY-MM-DD``.
    * ``UUID``: its lower-case hyphenated form.
    * ``Enum`` members: their value, written by these same rules.
    * Pydantic models: ``model_dump(mode="python")`` (field names, not aliases; ``None`` fields
      kept as ``null``), then these rules; field serializers that only apply to JSON mode are
      therefore ignored, so the form depends on the data, not on a model's display choices.

Anything else (bytes, sets, times, timedeltas, arbitrary objects) raises
``CanonicalFormError``, with the path of the offending value (``$.orders[3].qty``).

Checksums are SHA-256 of the canonical bytes, or HMAC-SHA-256 when a key is given; the
functions live in ``ledger_store.checksums`` (the store verifies with them too) and are
re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import TypeAlias
from uuid import UUID

from pydantic import BaseModel

from ledger_store.checksums import (
    CHECKSUM_ALGORITHMS,
    HMAC_SHA256,
    SHA256,
    ChecksumAlgorithm,
    checksum,
    checksum_matches,
)
from ledger_store.decimals import explicit_context, plain
from ledger_store.errors import LedgerError, LedgerValidationError

#: What the canonical tree is made of before ``json.dumps`` writes it.
JsonValue: TypeAlias = "dict[str, JsonValue] | list[JsonValue] | str | int | bool | None"


class CanonicalFormError(LedgerValidationError):
    """A value has no canonical form (a float, a naive datetime, a set, a non-string key...)."""


@explicit_context
def canonical_bytes(obj: object) -> bytes:
    """The canonical UTF-8 JSON bytes of a Pydantic model, mapping, sequence or scalar."""
    tree = to_canonical(obj)
    text = json.dumps(
        tree,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate inside a string
        raise CanonicalFormError(f"string is not valid Unicode text: {exc.reason}") from exc


@explicit_context
def to_canonical(obj: object, path: str = "$") -> JsonValue:
    """Convert ``obj`` to plain JSON values (dict/list/str/int/bool/None) by the module's rules."""
    return _canonical(obj, path)


def _canonical(obj: object, path: str) -> JsonValue:
    """``to_canonical`` without entering its context again at every level."""
    # Order matters: bool before int, Enum before str/int, datetime before date.
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, Enum):
        return _canonical(obj.value, path)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        raise CanonicalFormError(f"{path}: floats are not allowed (got {obj!r}); use Decimal")
    if isinstance(obj, Decimal):
        try:
            return plain(obj)
        except LedgerError as exc:
            raise CanonicalFormError(f"{path}: {exc}") from exc
    if isinstance(obj, datetime):
        return format_datetime(obj, path)
    if isinstance(obj, date):
        return f"{obj.year:04d}-{obj.month:02d}-{obj.day:02d}"
    if isinstance(obj, UUID):
        return str(obj)
    if isinstance(obj, BaseModel):
        return _canonical(obj.model_dump(mode="python", by_alias=False), path)
    if isinstance(obj, Mapping):
        result: dict[str, JsonValue] = {}
        for key, value in obj.items():
            name = _key(key, path)
            if name in result:
                raise CanonicalFormError(f"{path}: key {name!r} appears twice")
            result[name] = _canonical(value, f"{path}.{name}")
        return result
    if isinstance(obj, list | tuple):
        return [_canonical(item, f"{path}[{i}]") for i, item in enumerate(obj)]
    raise CanonicalFormError(f"{path}: {type(obj).__name__} has no canonical form")


def format_datetime(value: datetime, path: str = "$") -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` for whole seconds, else ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC)."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise CanonicalFormError(f"{path}: naive datetime {value.isoformat()} has no UTC instant")
    utc = value.astimezone(UTC)
    text = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    )
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def _key(key: object, path: str) -> str:
    if isinstance(key, Enum):
        key = key.value
    if not isinstance(key, str):
        raise CanonicalFormError(
            f"{path}: object keys must be strings, got {type(key).__name__} {key!r}"
        )
    return str(key)


__all__ = [
    "CHECKSUM_ALGORITHMS",
    "HMAC_SHA256",
    "SHA256",
    "CanonicalFormError",
    "ChecksumAlgorithm",
    "canonical_bytes",
    "checksum",
    "checksum_matches",
    "format_datetime",
    "to_canonical",
]
