"""The fast spellings of canonical forms give exactly what the general ones give.

A full ledger read converts, digests and keys every attribution, so three conversions have a
written-out fast path: an attribution's canonical text (its digest's input), number text that
is already canonical, and the key form of a UTC timestamp. Each must equal its general form
for every value, or stored digests and keys would stop matching what a reader recomputes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ledger_store import keys
from ledger_store.decimals import canonical_decimal, normalized, to_decimal
from ledger_store.digests import canonical_text, entry_digest
from ledger_store.dto import StrategyAttribution
from ledger_store.errors import LedgerValidationError

# Key parts the DTOs accept: printable ASCII with quotes and backslashes (which JSON escapes),
# and non-ASCII letters.
_KEY_TEXT = st.text(
    alphabet=st.sampled_from('abcXYZ019-_."\\/ éßΩ漢'), min_size=1, max_size=40
).filter(lambda s: s == s.strip())
_DECIMALS = st.decimals(
    min_value=Decimal("0.000000001"), max_value=Decimal(10) ** 6, places=9, allow_nan=False
)
_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(9999, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def _old_digest(entry: BaseModel) -> int:
    """The digest as first defined (the registry rows in every existing table hold it)."""
    text = json.dumps(
        entry.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:24], 16)


@settings(max_examples=300, deadline=None)
@given(
    order_id=_KEY_TEXT,
    strategy=_KEY_TEXT,
    correlation_id=_KEY_TEXT,
    symbol=st.sampled_from(["AAPL", "BRK.B", "BTC/USD", "AAPL250620C00100000"]),
    side=st.sampled_from(["BUY", "SELL"]),
    qty=_DECIMALS,
    price=_DECIMALS,
    weight=st.sampled_from(["1", "0.5", "0.25", "0.333333333"]),
    fees=st.one_of(st.just(Decimal(0)), _DECIMALS),
    filled_at=_TIMES,
)
def test_an_attributions_fast_canonical_text_is_its_json_form(**fields: Any) -> None:
    attribution = StrategyAttribution.model_validate({"account_id": "acct-1", **fields})
    assert canonical_text(attribution) == json.dumps(
        attribution.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert entry_digest(attribution) == _old_digest(attribution)


def test_every_attribution_field_is_in_the_fast_text() -> None:
    """A field added to the DTO must be added to its written-out text too (the rate, which
    only a crossed pair has, is left out of a USD fill's, so no earlier digest changes)."""
    attribution = StrategyAttribution.model_validate(
        {
            "order_id": "o-1",
            "account_id": "a-1",
            "strategy": "s",
            "correlation_id": "c",
            "symbol": "ETH/BTC",
            "quote_usd_rate": "60000.5",
            "side": "BUY",
            "qty": "1.5",
            "price": "100",
            "weight": "1",
            "fees": "0.01",
            "filled_at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        }
    )
    assert set(json.loads(canonical_text(attribution))) == set(StrategyAttribution.model_fields)
    assert canonical_text(attribution) == json.dumps(
        attribution.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
    )
    usd = attribution.model_copy(update={"symbol": "AAPL", "quote_usd_rate": None})
    assert "quote_usd_rate" not in json.loads(canonical_text(usd))


_NUMBER_TEXT = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(lambda d: format(d, "f")),
    st.from_regex(r"-?[0-9]{1,22}(\.[0-9]{0,22})?", fullmatch=True),
    st.sampled_from(
        [
            *("0", "-0", "00", "0.0", "1.50", "100", "1E+2", "-0.5", " 1", "1 ", "+1", ".5"),
            *("5.", "0.000000000000000001", "9999999999999999999", "-9999999999999999999"),
            *("0.0000000000000000000000000000000000000001", "1" * 39, "NaN", "Infinity", "x"),
        ]
    ),
)


@settings(max_examples=500, deadline=None)
@given(text=_NUMBER_TEXT)
def test_canonical_number_text_converts_as_the_general_path_does(text: str) -> None:
    try:
        expected = normalized(to_decimal(text))
    except LedgerValidationError as general:
        message = str(general)
    else:
        got = canonical_decimal(text)
        assert (str(got), got.as_tuple()) == (str(expected), expected.as_tuple())
        return
    with pytest.raises(LedgerValidationError) as fast:
        canonical_decimal(text)
    assert str(fast.value) == message


_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@settings(max_examples=300, deadline=None)
@given(moment=_TIMES, zone=st.one_of(st.just(UTC), _OFFSETS))
def test_key_timestamps_are_the_utc_wall_clock_in_fixed_width(
    moment: datetime, zone: timezone
) -> None:
    local = moment.astimezone(zone)
    text = f"{moment:%Y-%m-%dT%H:%M:%S}"
    assert keys.format_micros(local) == f"{text}.{moment.microsecond:06d}Z"
    whole = local.replace(microsecond=0)
    assert keys.format_seconds(whole) == f"{text}Z"
    assert keys.parse_timestamp(keys.format_micros(local)) == moment


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 1),  # noqa: DTZ001 - naive, refused
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # 1969 in UTC
    ],
)
def test_key_timestamps_refuse_what_keys_cannot_hold(value: datetime) -> None:
    for form in (keys.format_micros, keys.format_seconds):
        with pytest.raises(LedgerValidationError):
            form(value)
