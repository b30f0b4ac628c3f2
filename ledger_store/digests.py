"""Order-independent digests of a strategy's entries and of an account's events.

Each entry (a strategy attribution, an account event) has a 96-bit digest: the first 96 bits
of the SHA-256 of its canonical JSON. A set of entries has the sum of its members' digests,
kept exactly (1e9 entries of < 2^96 stay below DynamoDB's 38 digits) and compared modulo
``DIGEST_MODULUS``. Every write adds and subtracts them in the same transaction as the
entries, so the registry row of a strategy (and the event counter of an account) always holds
the digest of what is there now. A reader that carries the digest of the entries dated before
some time, and reads those dated after it, can tell whether anything dated before it changed
since (a late fill, a void, an amend, a back-dated event) without reading it: the sums differ
(up to a chance of about 2^-96).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring
from typing import Final

from pydantic import BaseModel

from .dto import StrategyAttribution
from .keys import format_micros

DIGEST_BITS: Final = 96
DIGEST_MODULUS: Final = 2**128


def entry_digest(entry: BaseModel) -> int:
    """The digest of one entry (a ``StrategyAttribution`` or an account event)."""
    canonical = _CANONICAL_TEXT.get(type(entry), canonical_text)
    digest = hashlib.sha256(canonical(entry).encode("utf-8")).digest()
    return int.from_bytes(digest[: DIGEST_BITS // 8], "big")


def canonical_text(entry: BaseModel) -> str:
    """The text an entry's digest hashes: its JSON form with sorted keys, compact, UTF-8."""
    return json.dumps(
        entry.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def _attribution_text(a: StrategyAttribution) -> str:
    """``canonical_text`` of an attribution, written out: a full ledger read digests every
    attribution, and ``model_dump`` is most of that cost. Its numbers are normalised by the
    DTO (so ``format(v, "f")`` is their JSON form, ``plain``) and its timestamp and numbers
    need no escaping; tests hold it equal to ``canonical_text``."""
    return (
        f'{{"account_id":{encode_basestring(a.account_id)},'
        f'"correlation_id":{encode_basestring(a.correlation_id)},'
        f'"fees":"{a.fees:f}","filled_at":"{format_micros(a.filled_at)}",'
        f'"order_id":{encode_basestring(a.order_id)},"price":"{a.price:f}","qty":"{a.qty:f}",'
        + ("" if a.quote_usd_rate is None else f'"quote_usd_rate":"{a.quote_usd_rate:f}",')
        + f'"side":{encode_basestring(a.side.value)},"strategy":{encode_basestring(a.strategy)},'
        f'"symbol":{encode_basestring(a.symbol)},"weight":"{a.weight:f}"}}'
    )


#: Entries whose canonical text has a faster spelling than ``canonical_text`` (same text).
_CANONICAL_TEXT: Final[dict[type[BaseModel], Callable[[BaseModel], str]]] = {
    StrategyAttribution: _attribution_text,  # type: ignore[dict-item]
}


def digest_sum(entries: Iterable[BaseModel]) -> int:
    """The digest of a set of entries: the sum of theirs."""
    return sum((entry_digest(e) for e in entries), 0)


class DigestMemo:
    """Each entry's digest computed once however often a read sums it (a full read sums every
    attribution twice: to check the registry, and into the snapshot's strategy digests).
    Entries are frozen, so an entry's digest cannot change while it is remembered. Threads
    may digest different entries into one memo at once (one dict store per entry)."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[BaseModel, int]] = {}

    def digest(self, entry: BaseModel) -> int:
        known = self._known.get(id(entry))
        if known is not None and known[0] is entry:
            return known[1]
        value = entry_digest(entry)
        self._known[id(entry)] = (entry, value)  # the entry is kept: its id stays its own
        return value

    def sum(self, entries: Iterable[BaseModel]) -> int:
        return sum((self.digest(e) for e in entries), 0)


def digest_text(total: int) -> str:
    """A digest sum as the snapshot keeps it: 32 lower-case hex digits, modulo 2^128."""
    return format(total % DIGEST_MODULUS, "032x")


__all__ = [
    "DIGEST_BITS",
    "DIGEST_MODULUS",
    "DigestMemo",
    "canonical_text",
    "digest_sum",
    "digest_text",
    "entry_digest",
]
