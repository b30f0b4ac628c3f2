"""The snapshot schema reference of the documentation, written from the models of every
``snapshot_version``: each member with its JSON type and encoding and each object with what
its model says it is, enough to read and verify a snapshot without this code
(``scripts/gen_docs.py``)."""

from __future__ import annotations

import enum
import types
import typing
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from pydantic import BaseModel

from snapshots import schema

#: Each version's body model (the checksummed members; ``checksum`` and ``checksum_algorithm``
#: come beside them in the stored item).
BODIES: Final[dict[str, type[BaseModel]]] = {
    "1.0": schema.SnapshotBody,
    "1.1": schema.SnapshotBody,
    "1.2": schema.SnapshotBodyV12,
    "1.3": schema.SnapshotBodyV13,
    "1.4": schema.SnapshotBodyV14,
    "1.5": schema.SnapshotBodyV15,
    "1.6": schema.SnapshotBodyV16,
    "1.7": schema.SnapshotBodyV17,
    "1.8": schema.SnapshotBodyV18,
}

HEADER: Final = """# Snapshot schema

Every member of a snapshot's body, by `snapshot_version`, generated from the models by
`scripts/gen_docs.py` (a test fails when it is out of date). With the
[canonical form](canonical.md) it is what a third party needs to read and verify a stored
snapshot without this code ([how](verify.md)).

How values are written, whatever the member:

- **decimal**: a JSON string in normalised plain form (`"1.5"`, `"100"`, `"0"`; never an
  exponent, never trailing zeros) — money, prices, quantities, rates and ratios;
- **integer**: a JSON number without a fraction — counts, sizes, days;
- **timestamp**: a JSON string, UTC, `YYYY-MM-DDTHH:MM:SSZ`, with `.ffffff` (six digits) when
  the instant has microseconds; *whole-second timestamp*: never a fraction (period bounds);
- **date**: a JSON string `YYYY-MM-DD`;
- **null**: JSON `null`, present (a member is never left out);
- arrays keep the order the [canonical form](canonical.md) fixes; the one sort member that may
  be null, a position's `asset_class`, sorts as the empty string (first among its symbol's);
  the benchmark's `closes` run by `day`, oldest first; objects keyed by name (`… by name`) are
  JSON objects whose members sort like every object's.
"""


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _validators(metadata: list[Any]) -> set[str]:
    """The names of the validator functions in a field's metadata (to tell encodings apart)."""
    names = set()
    for item in metadata:
        func = getattr(item, "func", None)
        if func is not None:
            names.add(getattr(func, "__name__", ""))
    return names


def _describe(annotation: Any, metadata: list[Any], found: dict[str, type[BaseModel]]) -> str:
    """The JSON type and encoding of a value of ``annotation``; nested models are recorded in
    ``found`` to be described once."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _describe(args[0], [*metadata, *args[1:]], found)
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        text = " or ".join(_describe(a, metadata, found) for a in present)
        return f"{text} or null" if len(present) < len(args) else text
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (tuple, list):
        item = args[0] if args else Any
        return f"array of {_describe(item, [], found)}"
    if origin is dict:
        return f"object of {_describe(args[1], [], found)} by name"
    if _is_model(annotation):
        found.setdefault(annotation.__name__, annotation)
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in annotation)
    if annotation is Decimal:
        return "decimal"
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation is datetime:
        whole = "_whole_second" in _validators(metadata)
        return "whole-second timestamp" if whole else "timestamp"
    if annotation is date:
        return "date"
    if annotation is str:
        return "string"
    if annotation is Any:
        return "any JSON value"
    return getattr(annotation, "__name__", str(annotation))


def _first_line(model: type[BaseModel]) -> str:
    doc = " ".join((model.__doc__ or "").split())
    return doc.replace("``", "`").replace("|", "\\|")


def _members(model: type[BaseModel], found: dict[str, type[BaseModel]]) -> list[str]:
    rows = ["| member | JSON |", "|---|---|"]
    for name, info in sorted(model.model_fields.items()):
        described = _describe(info.annotation, list(info.metadata), found).replace("|", r"\|")
        rows.append(f"| `{name}` | {described} |")
    return rows


def schema_reference() -> str:
    """The schema page: the members of each version's body, then every object type once."""
    found: dict[str, type[BaseModel]] = {}
    lines = [HEADER]
    previous: set[str] = set()
    for version, body in BODIES.items():
        fields = set(body.model_fields)
        added = sorted(fields - previous)
        lines += [f"## Version {version}", ""]
        if version == "1.0":
            lines += ["The first release: the members below.", ""]
        elif added:
            lines += ["Adds " + ", ".join(f"`{a}`" for a in added) + ".", ""]
        else:
            lines += [
                "The same members as the version before; see the version table of the "
                "[canonical form](canonical.md) for what changed in their meaning.",
                "",
            ]
        lines += _members(body, found)
        lines.append("")
        previous = fields
    lines += _stored_item()
    lines += ["## Objects", "", "Every object a member holds, in alphabetical order.", ""]
    described: set[str] = set()
    while len(described) < len(found):
        for name in sorted(set(found) - described):
            described.add(name)
            model = found[name]
            lines += [f"### {name}", ""]
            doc = _first_line(model)
            if doc:
                lines += [doc, ""]
            lines += _members(model, found)
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


ITEM_TEXT: Final = """## The stored item

A snapshot is stored as one DynamoDB item (and, when its compressed body is over
{inline:,} bytes, chunk items of {chunk:,} bytes of data each, written in the same transaction).
These are the attributes of a sample: a snapshot of account `acct-1` for the period ending
2026-08-08, taken by cycle `cycle-1`, written at 2026-08-08T00:05:00Z with a retention of
{retention} days. The key attributes write `period_end` to the second (`SNAP#…`), the item's
`period_start`, `period_end` and `created_at` attributes to the microsecond (fixed width, as
GSI5 sorts them); `ttl` is `created_at` plus `retention_days` days, in epoch seconds
(`retention_days` absent: items written before it was recorded, 90). GSI5 (the listing) keys
on `account_id` and `period_end` and projects {projected}.
"""


def _stored_item() -> list[str]:
    """The attributes of a sample snapshot item and chunk, as ``put`` writes them."""
    import zlib

    from ledger_store import snapshot_store
    from ledger_store.models import SNAPSHOT_LISTING_ATTRIBUTES
    from ledger_store.snapshot_store import SnapshotRecord, snapshot_items

    body = b'{"example":"body"}'
    record = SnapshotRecord(
        account_id="acct-1",
        period_start=datetime(2026, 8, 7, tzinfo=UTC),
        period_end=datetime(2026, 8, 8, tzinfo=UTC),
        snapshot_id="9b1b741b-bee1-52e6-9a36-d092c83b5a26",
        snapshot_version=schema.SNAPSHOT_VERSION,
        correlation_id="cycle-1",
        checksum="0" * 64,
        checksum_algorithm="sha256",
        body=body,
    )
    compressed = zlib.compress(body)
    created = datetime(2026, 8, 8, 0, 5, tzinfo=UTC)
    header, _ = snapshot_items(record, compressed, created, snapshot_store.DEFAULT_RETENTION_DAYS)
    big = compressed + bytes(snapshot_store.INLINE_LIMIT)
    chunked, chunks = snapshot_items(record, big, created, snapshot_store.DEFAULT_RETENTION_DAYS)
    text = ITEM_TEXT.format(
        inline=snapshot_store.INLINE_LIMIT,
        chunk=snapshot_store.CHUNK_SIZE,
        retention=snapshot_store.DEFAULT_RETENTION_DAYS,
        projected=", ".join(f"`{name}`" for name in SNAPSHOT_LISTING_ATTRIBUTES),
    )
    lines = [text, "| attribute | DynamoDB type | sample |", "|---|---|---|"]
    for name, value in sorted(header.serialize().items()):
        ((kind, raw),) = value.items()
        shown = f"{len(raw)} bytes of zlib" if kind == "B" else f"`{raw}`"
        lines.append(f"| `{name}` | {kind} | {shown} |")
    lines += [
        "",
        f"A chunked body: the header has no `body` and `chunk_count` "
        f"{chunked.chunk_count}; each chunk item:",
        "",
    ]
    lines += ["| attribute | DynamoDB type | sample |", "|---|---|---|"]
    for name, value in sorted(chunks[0].serialize().items()):
        ((kind, raw),) = value.items()
        shown = f"{len(raw):,} bytes of the zlib stream" if kind == "B" else f"`{raw}`"
        lines.append(f"| `{name}` | {kind} | {shown} |")
    return [*lines, ""]


__all__ = ["BODIES", "schema_reference"]
