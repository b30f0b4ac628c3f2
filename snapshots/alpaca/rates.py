"""The USD value of a coin at a moment, from Alpaca's crypto bars: the ``quote_usd_rate`` of a
fill of a pair quoted in another currency than USD (``ETH/BTC``: one BTC in USD).

The rate of ``COIN`` at a fill's time is the close of ``COIN/USD``'s 1-minute bar of the fill's
minute (Alpaca labels a bar with the start of its minute), or, when no bar was made in that
minute, of the latest bar before it within ``RATE_LOOKBACK``; none: no rate, and the fill is
not recorded (give it ``quote_usd_rate`` by hand). Bars are read through alpaca-py's
``CryptoHistoricalDataClient`` (``GET /v1beta3/crypto/us/bars``), one request per coin and UTC
day of fills. A stablecoin (USDT, USDC) has its own bars and rate: never taken to be 1.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from pydantic import TypeAdapter

from ledger_store.dto import PRICE_PLACES
from snapshots.alpaca.models import decimal_from_number

#: How far before a fill's minute the last bar may be (a quiet coin trades every few minutes).
RATE_LOOKBACK: Final = timedelta(hours=1)

_UTC_DATETIME: Final = TypeAdapter(datetime)


def minute(moment: datetime) -> datetime:
    """The start of ``moment``'s minute, in UTC."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def bar_closes_from_api(raw: Any, symbol: str) -> tuple[tuple[datetime, Decimal], ...]:
    """``(bar start, close)`` of ``symbol``'s bars in alpaca-py's raw ``get_crypto_bars``
    answer (``{symbol: [{"t", "c", ...}]}``, every page joined), by time; the close to 9
    places (a JSON number goes through ``str``). A symbol without bars gives none; a minute
    with bars that disagree gives none either."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    rows = raw.get(symbol) or []
    if not isinstance(rows, list):
        raise ValueError(f"bars of {symbol} must be a list")
    closes: dict[datetime, Decimal | None] = {}
    for row in rows:
        if not isinstance(row, Mapping) or "t" not in row or "c" not in row:
            raise ValueError(f"a bar of {symbol} lacks its time or close: {row!r}")
        at = _UTC_DATETIME.validate_python(row["t"])
        if at.tzinfo is None:
            raise ValueError(f"a bar of {symbol} has a time without zone: {row['t']!r}")
        close = decimal_from_number(row["c"], PRICE_PLACES)
        if close <= 0:
            raise ValueError(f"a bar of {symbol} closes at {close}, not above 0")
        at = at.astimezone(UTC)
        # Several bars of one minute (Alpaca's old multi-exchange data) that disagree tell no
        # price: the minute is left out.
        closes[at] = close if closes.get(at, close) == close else None
    return tuple((at, close) for at, close in sorted(closes.items()) if close is not None)


def rate_at(closes: Sequence[tuple[datetime, Decimal]], moment: datetime) -> Decimal | None:
    """The close of the bar of ``moment``'s minute, or of the latest bar before it within
    ``RATE_LOOKBACK``; ``None`` without one. ``closes`` by time (``bar_closes_from_api``)."""
    at = minute(moment)
    index = bisect.bisect_right([t for t, _ in closes], at) - 1
    if index < 0:
        return None
    started, close = closes[index]
    return close if at - started <= RATE_LOOKBACK else None


def rate_requests(wanted: Iterable[tuple[str, datetime]]) -> dict[tuple[str, date], list[datetime]]:
    """The bars to read for ``(coin, moment)`` pairs: one window per coin and UTC day, the
    moments it serves (by time)."""
    windows: dict[tuple[str, date], list[datetime]] = {}
    for coin, moment in wanted:
        windows.setdefault((coin, moment.astimezone(UTC).date()), []).append(moment)
    return {key: sorted(set(moments)) for key, moments in sorted(windows.items())}


def window_of(day: date) -> tuple[datetime, datetime]:
    """The bars a day's fills may need: from ``RATE_LOOKBACK`` before the day to its end."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start - RATE_LOOKBACK, start + timedelta(days=1)


__all__ = [
    "RATE_LOOKBACK",
    "bar_closes_from_api",
    "minute",
    "rate_at",
    "rate_requests",
    "window_of",
]
