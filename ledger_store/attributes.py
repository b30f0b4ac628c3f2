"""PynamoDB attributes for exact money and UTC timestamps.

PynamoDB's ``NumberAttribute`` rejects ``Decimal`` and reads numbers back as ``float``; these
attributes store exact, normalised decimal text (DynamoDB Local normalises ``1.50`` to ``1.5``
and caps numbers at 38 significant digits, so we normalise first and both engines agree).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.constants import MAP, NUMBER, STRING

from .decimals import plain, to_decimal
from .keys import format_micros, parse_timestamp


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB number holding an exact ``Decimal`` (normalised, at most 38 digits)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return plain(to_decimal(value))

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class DecimalMapAttribute(Attribute[dict[str, Decimal]]):
    """A map of names to exact decimals, e.g. a strategy allocation ``{strategy: weight}``."""

    attr_type = MAP

    def serialize(self, value: dict[str, Decimal]) -> dict[str, dict[str, str]]:
        return {name: {NUMBER: plain(to_decimal(v))} for name, v in sorted(value.items())}

    def deserialize(self, value: dict[str, Any]) -> dict[str, Decimal]:
        return {name: Decimal(v[NUMBER]) for name, v in sorted(value.items())}


class UTCTimestampAttribute(Attribute[datetime]):
    """A UTC instant stored as fixed-width ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` text."""

    attr_type = STRING

    def serialize(self, value: datetime) -> str:
        return format_micros(value)

    def deserialize(self, value: str) -> datetime:
        return parse_timestamp(value)
