"""The USD rate of a quote coin at a fill's minute, read from Alpaca's crypto bars as they are
(the committed contract bodies of ``GET /v1beta3/crypto/us/bars``), and through alpaca-py's
``CryptoHistoricalDataClient`` against the fake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from snapshots.alpaca.rates import RATE_LOOKBACK, bar_closes_from_api, rate_at
from snapshots.alpaca.source import AlpacaSource
from snapshots.errors import AlpacaResponseError
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca
from tests.builders import ROOT
from tests.snapshots.adoption.test_adopt import FAST

BARS = ROOT / "tests/contract/alpaca/payloads/crypto_bars"


def _body(name: str) -> Any:
    return json.loads((BARS / f"{name}.json").read_text(encoding="utf-8"))["body"]["bars"]


def test_a_recorded_live_minute_bar_gives_its_close_to_a_fill_in_its_minute() -> None:
    """ccxt's recorded BTC/USD bar of 05:02 (a trade at 05:02:23 falls in it)."""
    closes = bar_closes_from_api(_body("ccxt_recorded_btc_usd_1min_null_token"), "BTC/USD")
    assert closes == ((datetime(2024, 7, 18, 5, 2, tzinfo=UTC), Decimal("64616.2175")),)
    assert rate_at(closes, datetime(2024, 7, 18, 5, 2, 23, 898_000, tzinfo=UTC)) == Decimal(
        "64616.2175"
    )


def test_a_quiet_minute_takes_the_latest_bar_within_the_lookback_and_no_older() -> None:
    """BCH/USD's eleven bars of 11:11 to 11:21 (alpaca-trade-api-go's test body)."""
    closes = bar_closes_from_api(_body("go_sdk_bch_usd_1min_null_token"), "BCH/USD")
    assert len(closes) == 11
    at = datetime(2021, 11, 11, 11, 13, 59, tzinfo=UTC)
    assert rate_at(closes, at) == Decimal("679.49")  # the bar of 11:13, not 11:14's
    last = datetime(2021, 11, 11, 11, 21, tzinfo=UTC)
    assert rate_at(closes, last + RATE_LOOKBACK) == Decimal("679.71")
    assert rate_at(closes, last + RATE_LOOKBACK + timedelta(minutes=1)) is None
    assert rate_at(closes, datetime(2021, 11, 11, 11, 10, 59, tzinfo=UTC)) is None  # before


def test_bars_of_one_minute_that_disagree_give_no_price_for_it() -> None:
    """Alpaca's old multi-exchange answer: three BTC/USD bars stamped 20:00 with three closes."""
    bars = _body("go_sdk_multi_2hour_duplicate_timestamps")
    for symbol in ("BTC/USD", "ETH/USD", "BCH/USD", "LTC/USD"):
        assert bar_closes_from_api(bars, symbol) == ()
    assert bar_closes_from_api(bars, "SOL/USD") == ()  # no bars: no closes


def test_an_integer_close_and_a_paged_answer_read_as_any_other() -> None:
    closes = bar_closes_from_api(_body("docs_crypto_bars_example_page_token"), "BTC/USD")
    assert closes == ((datetime(2022, 5, 27, 10, 18, tzinfo=UTC), Decimal(29003)),)


@pytest.mark.parametrize(
    ("bars", "message"),
    [
        ([{"t": "2024-07-18T05:02:00Z"}], "lacks its time or close"),
        ([{"t": "2024-07-18T05:02:00Z", "c": 0}], "not above 0"),
        ([{"t": "2024-07-18T05:02:00", "c": 1.5}], "without zone"),
        ({"t": "x"}, "must be a list"),
    ],
)
def test_a_bar_that_tells_no_price_is_refused(bars: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bar_closes_from_api({"BTC/USD": bars}, "BTC/USD")


def _fake_with_bars(bars: dict[str, list[tuple[datetime, str]]]) -> FakeAccount:
    return FakeAccount(
        account_id="3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
        account_number="PA3FAKE00001",
        cash=Decimal(0),
        crypto_bars=tuple(
            (pair, tuple((at, Decimal(close)) for at, close in rows))
            for pair, rows in sorted(bars.items())
        ),
    )


def _source(base_url: str) -> AlpacaSource:
    return AlpacaSource(
        api_key=DEFAULT_KEY_ID,
        secret_key=DEFAULT_SECRET_KEY,
        base_url=base_url,
        data_url=base_url,
        retry=FAST,
        sleep=lambda _: None,
        environ={},
    )


def test_the_source_reads_each_coins_rate_through_alpaca_py_one_request_a_coin_and_day() -> None:
    day = datetime(2026, 11, 2, tzinfo=UTC)
    fake = _fake_with_bars(
        {
            "BTC/USD": [
                (day + timedelta(hours=9), "61800.5"),
                (day + timedelta(hours=15), "62000"),
            ],
            "USDT/USD": [(day - timedelta(minutes=30), "0.9991")],  # the evening before
        }
    )
    wanted = [
        ("BTC", day + timedelta(hours=9, seconds=42)),
        ("BTC", day + timedelta(hours=15, minutes=59)),
        ("BTC", day + timedelta(hours=16, minutes=1)),  # an hour and a minute after 15:00
        ("USDT", day + timedelta(minutes=10)),
    ]
    with running_fake_alpaca(fake) as server, _source(server.base_url) as source:
        rates = source.fetch_quote_rates(wanted)
        requests = server.requests("/v1beta3/crypto/us/bars")
    assert rates == {
        wanted[0]: Decimal("61800.5"),
        wanted[1]: Decimal(62000),
        wanted[3]: Decimal("0.9991"),
    }
    assert len(requests) == 2  # BTC's day, USDT's day


def test_an_answer_alpaca_py_cannot_hand_over_is_a_typed_error() -> None:
    day = datetime(2026, 11, 2, tzinfo=UTC)
    fake = _fake_with_bars({"BTC/USD": [(day, "61800")]})
    with running_fake_alpaca(fake) as server, _source(server.base_url) as source:
        server.inject("/v1beta3/crypto/us/bars", status=200, body='{"bars": {"BTC/USD": "x"}}')
        with pytest.raises(AlpacaResponseError, match="get_crypto_bars"):
            source.fetch_quote_rates([("BTC", day)])
