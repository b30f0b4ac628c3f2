"""The canonical JSON form and its checksums (pure: no table)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ConfigDict

from ledger_store.dto import Side
from ledger_store.errors import LedgerError, LedgerValidationError
from snapshots.canonical import (
    CanonicalFormError,
    canonical_bytes,
    checksum,
    checksum_matches,
    format_datetime,
)
from tests.builders import ROOT, make_fill

NEW_YORK = ZoneInfo("America/New_York")

GOLDEN_OBJECT = {
    "symbol": "BRK.B",
    "qty": Decimal("1.50"),
    "price": Decimal("4.1E+2"),
    "filled_at": datetime(2024, 3, 1, 9, 30, 0, 250000, tzinfo=NEW_YORK),
    "side": Side.SELL,
    "note": "Zürich € ✓",
    "count": 3,
    "flags": [True, False, None],
    "nested": {"b": Decimal("-0.000"), "a": Decimal("1E-10")},
}
GOLDEN_BYTES = (
    b'{"count":3,"filled_at":"2024-03-01T14:30:00.250000Z","flags":[true,false,null],'
    b'"nested":{"a":"0.0000000001","b":"0"},"note":"Z\xc3\xbcrich \xe2\x82\xac \xe2\x9c\x93",'
    b'"price":"410","qty":"1.5","side":"SELL","symbol":"BRK.B"}'
)
GOLDEN_SHA256 = "1bc854ce796ab2824b602f5bec6577eab09445af152554c74b97474a79c9449a"
GOLDEN_HMAC_KEY = b"test-key"
GOLDEN_HMAC = "eeb8341c0115f44bd1e5a16947be3f6e747888f75c0c6da528e4d07dd8d289d6"


def test_golden_bytes_of_a_small_fixed_object() -> None:
    assert canonical_bytes(GOLDEN_OBJECT) == GOLDEN_BYTES
    # and it is valid JSON that reads back to the same plain values
    assert json.loads(GOLDEN_BYTES)["qty"] == "1.5"


def test_keys_are_sorted_at_every_level_and_there_is_no_whitespace() -> None:
    value = {"b": 1, "a": [3, {"z": None, "y": True}], "c": {"d": "x y", "B": 2}}
    assert canonical_bytes(value) == b'{"a":[3,{"y":true,"z":null}],"b":1,"c":{"B":2,"d":"x y"}}'


def test_key_order_is_by_code_point() -> None:
    value = {"é": 1, "z": 2, "Z": 3, "_": 4, "a": 5}
    assert canonical_bytes(value).decode() == '{"Z":3,"_":4,"a":5,"z":2,"é":1}'


def test_insertion_order_does_not_matter() -> None:
    forward = {str(i): i for i in range(50)}
    backward = {str(i): i for i in reversed(range(50))}
    assert canonical_bytes(forward) == canonical_bytes(backward)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1.10"), "1.1"),
        (Decimal("1.1"), "1.1"),
        (Decimal("1E+2"), "100"),
        (Decimal("100"), "100"),
        (Decimal("1E-10"), "0.0000000001"),
        (Decimal("-0.0"), "0"),
        (Decimal("0E-9"), "0"),
        (Decimal("-12.3400"), "-12.34"),
        (
            Decimal("123456789012345678901234567890.12345678"),
            "123456789012345678901234567890.12345678",
        ),
    ],
)
def test_decimals_are_normalised_plain_strings(value: Decimal, text: str) -> None:
    assert canonical_bytes({"v": value}) == f'{{"v":"{text}"}}'.encode()


def test_equal_decimals_give_the_same_bytes() -> None:
    assert canonical_bytes([Decimal("1.10")]) == canonical_bytes([Decimal("1.1")])
    assert canonical_bytes([Decimal("1E+2")]) == canonical_bytes([Decimal("100.000")])


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("1" * 39)]
)
def test_decimals_without_a_canonical_form_are_rejected(value: Decimal) -> None:
    with pytest.raises(CanonicalFormError, match=r"\$\.v"):
        canonical_bytes({"v": value})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 3, 1, 14, 30, tzinfo=UTC), "2024-03-01T14:30:00Z"),
        (datetime(2024, 3, 1, 14, 30, 0, 500000, tzinfo=UTC), "2024-03-01T14:30:00.500000Z"),
        (datetime(2024, 3, 1, 14, 30, 0, 1, tzinfo=UTC), "2024-03-01T14:30:00.000001Z"),
        # non-UTC instants are converted, including across a date line and DST
        (datetime(2024, 3, 1, 9, 30, tzinfo=NEW_YORK), "2024-03-01T14:30:00Z"),
        (datetime(2024, 7, 1, 9, 30, tzinfo=NEW_YORK), "2024-07-01T13:30:00Z"),
        (
            datetime(2024, 3, 2, 1, 0, 0, 120000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2024-03-01T19:30:00.120000Z",
        ),
        (datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC), "0005-01-02T03:04:05Z"),
    ],
)
def test_datetimes_are_utc_with_one_documented_shape(value: datetime, text: str) -> None:
    assert format_datetime(value) == text
    assert canonical_bytes([value]) == f'["{text}"]'.encode()


def test_the_same_instant_in_two_zones_gives_the_same_bytes() -> None:
    utc = datetime(2024, 3, 1, 14, 30, 15, 123456, tzinfo=UTC)
    assert canonical_bytes({"t": utc}) == canonical_bytes({"t": utc.astimezone(NEW_YORK)})


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(CanonicalFormError, match="naive"):
        canonical_bytes({"t": datetime(2024, 3, 1, 14, 30)})  # noqa: DTZ001


def test_other_scalars() -> None:
    class Colour(IntEnum):
        RED = 1

    class Kind(Enum):
        SNAP = "snap"

    value = {
        "bool": True,
        "int": 1,
        "big": 10**40,
        "neg": -7,
        "none": None,
        "uuid": UUID("12345678-1234-5678-1234-567812345678"),
        "date": date(2024, 3, 1),
        "str_enum": Side.BUY,
        "int_enum": Colour.RED,
        "enum": Kind.SNAP,
        "tuple": (1, "a"),
    }
    assert canonical_bytes(value) == (
        b'{"big":10000000000000000000000000000000000000000,"bool":true,"date":"2024-03-01",'
        b'"enum":"snap","int":1,"int_enum":1,"neg":-7,"none":null,"str_enum":"BUY",'
        b'"tuple":[1,"a"],"uuid":"12345678-1234-5678-1234-567812345678"}'
    )


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (1.5, r"\$"),
        ({"a": {"b": [Decimal(1), 0.1]}}, r"\$\.a\.b\[1\]"),
        ([float("nan")], r"\$\[0\]"),
        ({"x": 1.0}, r"\$\.x"),
    ],
)
def test_floats_are_rejected_anywhere(value: object, path: str) -> None:
    with pytest.raises(CanonicalFormError, match=path + ".*float"):
        canonical_bytes(value)


def test_floats_inside_a_model_are_rejected() -> None:
    class Sloppy(BaseModel):
        model_config = ConfigDict(frozen=True)
        price: float

    with pytest.raises(CanonicalFormError, match=r"\$\.price"):
        canonical_bytes(Sloppy(price=1.0))


def test_canonical_form_error_is_a_ledger_error() -> None:
    assert issubclass(CanonicalFormError, LedgerValidationError)
    assert issubclass(CanonicalFormError, LedgerError)


@pytest.mark.parametrize(
    "value",
    [
        {"s": {1, 2}},
        {"s": frozenset()},
        {"b": b"bytes"},
        {"d": timedelta(seconds=1)},
        {1: "int key"},
        {"o": object()},
    ],
)
def test_values_without_a_canonical_form_are_rejected(value: object) -> None:
    with pytest.raises(CanonicalFormError):
        canonical_bytes(value)


def test_a_key_given_twice_through_an_enum_is_rejected() -> None:
    class Key(Enum):  # not a str subclass: the dict really holds two keys
        BUY = "BUY"

    assert canonical_bytes({Key.BUY: 1}) == b'{"BUY":1}'
    with pytest.raises(CanonicalFormError, match="twice"):
        canonical_bytes({Key.BUY: 1, "BUY": 2})


def test_unicode_is_written_as_utf8_not_escaped() -> None:
    data = canonical_bytes({"name": "Zürich €😀"})
    assert data == '{"name":"Zürich €😀"}'.encode()
    assert b"\\u" not in data


def test_only_quotes_backslash_and_control_characters_are_escaped() -> None:
    data = canonical_bytes(['a"b\\c\nd\te\x01f\x7f\u2028'])
    assert data == b'["a\\"b\\\\c\\nd\\te\\u0001f\x7f\xe2\x80\xa8"]'


def test_lone_surrogates_are_rejected() -> None:
    with pytest.raises(CanonicalFormError, match="Unicode"):
        canonical_bytes(["\ud800"])


def test_pydantic_models_use_field_values_not_json_serializers() -> None:
    fill = make_fill(
        qty="10.50", price="187.250", filled_at=datetime(2024, 3, 1, 9, 30, tzinfo=NEW_YORK)
    )
    data = json.loads(canonical_bytes(fill))
    assert data["qty"] == "10.5"
    assert data["price"] == "187.25"
    # the canonical rule (whole seconds), not the DTO's fixed-width JSON serializer
    assert data["filled_at"] == "2024-03-01T14:30:00Z"
    assert data["side"] == "BUY"
    assert data["bid_at_fill"] is None
    assert data["strategy_allocation"] == {"alpha": "0.6", "beta": "0.4"}
    assert list(data) == sorted(data)


# Checksums ---------------------------------------------------------------------------------------


def test_sha256_without_a_key() -> None:
    assert checksum(GOLDEN_BYTES, None) == (GOLDEN_SHA256, "sha256")
    assert hashlib.sha256(GOLDEN_BYTES).hexdigest() == GOLDEN_SHA256


def test_hmac_sha256_with_a_key() -> None:
    digest, algorithm = checksum(GOLDEN_BYTES, GOLDEN_HMAC_KEY)
    assert (digest, algorithm) == (GOLDEN_HMAC, "hmac-sha256")
    assert digest == hmac.new(GOLDEN_HMAC_KEY, GOLDEN_BYTES, hashlib.sha256).hexdigest()
    assert digest != GOLDEN_SHA256
    assert checksum(GOLDEN_BYTES, b"other-key")[0] != digest


def test_an_empty_key_is_rejected() -> None:
    with pytest.raises(LedgerValidationError, match="empty"):
        checksum(GOLDEN_BYTES, b"")


def test_checksum_matches() -> None:
    assert checksum_matches(GOLDEN_BYTES, GOLDEN_SHA256, "sha256", None)
    assert checksum_matches(GOLDEN_BYTES, GOLDEN_HMAC, "hmac-sha256", GOLDEN_HMAC_KEY)
    # one changed payload byte, one changed digest character, a wrong key
    assert not checksum_matches(GOLDEN_BYTES + b" ", GOLDEN_SHA256, "sha256", None)
    assert not checksum_matches(GOLDEN_BYTES, GOLDEN_SHA256[:-1] + "0", "sha256", None)
    assert not checksum_matches(GOLDEN_BYTES, GOLDEN_HMAC, "hmac-sha256", b"other-key")
    # the algorithm must match the key: no downgrade to plain SHA-256 when a key is configured
    assert not checksum_matches(GOLDEN_BYTES, GOLDEN_SHA256, "sha256", GOLDEN_HMAC_KEY)
    assert not checksum_matches(GOLDEN_BYTES, GOLDEN_HMAC, "hmac-sha256", None)
    assert not checksum_matches(GOLDEN_BYTES, GOLDEN_SHA256, "md5", None)
    # garbage digests are a mismatch, not a crash
    assert not checksum_matches(GOLDEN_BYTES, "ünïcode", "sha256", None)
    assert not checksum_matches(GOLDEN_BYTES, "", "sha256", None)


# Determinism across processes --------------------------------------------------------------------

_CHILD = """
import sys
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from snapshots.canonical import canonical_bytes, checksum

names = {"momentum", "trend_following", "mean_reversion", "pairs", "carry", "value"}
value = {
    "by_strategy": {name: {"pnl": Decimal("1.50") * len(name), "n": len(name)} for name in names},
    "names": sorted(names),
    "local": datetime(2024, 3, 1, 9, 30, tzinfo=ZoneInfo("America/New_York")),
    "offset": datetime(2024, 3, 1, 23, 30, 0, 5, tzinfo=UTC).astimezone(ZoneInfo("Asia/Kolkata")),
    "text": "Zürich",
}
data = canonical_bytes(value)
sys.stdout.write(data.hex() + " " + " ".join(checksum(data, b"k")) + "\\n")
"""


def _run_child(tz: str, hash_seed: str) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"TZ", "PYTHONHASHSEED", "LC_ALL", "LANG"}
    }
    env.update(TZ=tz, PYTHONHASHSEED=hash_seed, LC_ALL="C", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_same_bytes_and_checksum_in_separate_processes() -> None:
    first = _run_child("America/New_York", "1")
    second = _run_child("Asia/Tokyo", "4242")
    assert first == second
    assert first.split()[2] == "hmac-sha256"
