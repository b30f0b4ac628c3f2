"""The lookback and the benchmark: alpaca-py's TradingClient and StockHistoricalDataClient
against the fake server (portfolio history before the period, ``GET /v2/stocks/bars``)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ledger_store.errors import ConfigurationError
from snapshots.alpaca.models import closes_from_api
from snapshots.alpaca.source import AlpacaSource, RetryPolicy
from snapshots.demo.history import generate_history
from snapshots.errors import AlpacaRequestError
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import (
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    FakeAlpaca,
    running_fake_alpaca,
)
from tests.snapshots.alpaca.test_alpaca_source import FAST, Sleeps

pytestmark = pytest.mark.filterwarnings("ignore:websockets.legacy is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def account() -> FakeAccount:
    return FakeAccount.from_history(generate_history(), history_days=120, benchmark="SPY")


@pytest.fixture
def fake(account: FakeAccount) -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(account) as server:
        yield server
        assert server.handler_errors == []


def source(fake: FakeAlpaca, retry: RetryPolicy = FAST, **options: object) -> AlpacaSource:
    """A source reading ``fake`` for trading and market data, without real sleeps."""
    return AlpacaSource(
        api_key=DEFAULT_KEY_ID,
        secret_key=DEFAULT_SECRET_KEY,
        base_url=fake.base_url,
        retry=retry,
        sleep=Sleeps(),
        environ={"APCA_API_DATA_URL": fake.base_url},
        **options,  # type: ignore[arg-type]
    )


def first_cycle_day(account: FakeAccount) -> datetime:
    """The first day with fills: the synthetic history ends the day before."""
    return min(o.submitted_at for o in account.orders).replace(hour=0, minute=0, microsecond=0)


def test_the_fetch_holds_the_lookback_and_the_benchmark(
    fake: FakeAlpaca, account: FakeAccount
) -> None:
    start = first_cycle_day(account) + timedelta(days=7)
    end = start + timedelta(days=14)
    with source(fake, equity_lookback_days=60, benchmark_symbol="SPY") as alpaca:
        data = alpaca.fetch(start, end)
    assert data.history_start == start - timedelta(days=60)
    assert data.history
    assert all(data.history_start <= p.timestamp < start for p in data.history)
    assert all(start <= p.timestamp < end for p in data.equity)
    served = {s.timestamp for s in account.equity_series}
    assert {p.timestamp for p in (*data.history, *data.equity)} == {
        t for t in served if data.history_start <= t < end
    }
    # One portfolio-history request covers lookback and period; one bars request the benchmark.
    paths = [r.path for r in fake.requests()]
    assert paths.count("/v2/account/portfolio/history") == 1
    assert paths.count("/v2/stocks/bars") == 1
    assert data.benchmark is not None
    assert data.benchmark.symbol == "SPY"
    expected = dict(account.benchmark_bars)["SPY"]
    assert [(c.day, c.close) for c in data.benchmark.closes] == [
        (day, close) for day, close in expected if data.history_start.date() <= day < end.date()
    ]
    bars = next(r for r in fake.requests() if r.path == "/v2/stocks/bars")
    assert bars.query["symbols"] == "SPY"
    assert bars.query["timeframe"] == "1Day"
    assert bars.query["adjustment"] == "all"


def test_without_a_benchmark_no_market_data_is_read_and_lookback_zero_is_the_period(
    fake: FakeAlpaca, account: FakeAccount
) -> None:
    start = first_cycle_day(account) + timedelta(days=7)
    end = start + timedelta(days=7)
    with source(fake, equity_lookback_days=0) as alpaca:
        data = alpaca.fetch(start, end)
    assert (data.history_start, data.history, data.benchmark) == (start, (), None)
    assert "/v2/stocks/bars" not in [r.path for r in fake.requests()]


def test_the_defaults_and_the_environment(fake: FakeAlpaca) -> None:
    base = {"APCA_API_KEY_ID": DEFAULT_KEY_ID, "APCA_API_SECRET_KEY": DEFAULT_SECRET_KEY}
    with AlpacaSource(base_url=fake.base_url, environ=base) as alpaca:
        assert (alpaca.equity_lookback_days, alpaca.benchmark_symbol) == (365, None)
    configured = {
        **base,
        "SNAPSHOT_EQUITY_LOOKBACK_DAYS": "30",
        "SNAPSHOT_BENCHMARK_SYMBOL": "QQQ",
    }
    with AlpacaSource(base_url=fake.base_url, environ=configured) as alpaca:
        assert (alpaca.equity_lookback_days, alpaca.benchmark_symbol) == (30, "QQQ")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SNAPSHOT_EQUITY_LOOKBACK_DAYS", "a year", "whole number of days"),
        ("SNAPSHOT_EQUITY_LOOKBACK_DAYS", "-5", "whole number of days"),
        ("SNAPSHOT_EQUITY_LOOKBACK_DAYS", "99999", "from 0 to 3660"),
        ("SNAPSHOT_BENCHMARK_SYMBOL", "spy; drop", "stock symbol"),
    ],
)
def test_bad_configuration_is_a_configuration_error(name: str, value: str, message: str) -> None:
    env = {"APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s", name: value}
    with pytest.raises(ConfigurationError, match=message):
        AlpacaSource(base_url="http://127.0.0.1:1", environ=env)


def test_an_unknown_benchmark_symbol_gives_no_closes(
    fake: FakeAlpaca, account: FakeAccount
) -> None:
    start = first_cycle_day(account) + timedelta(days=7)
    with source(fake, equity_lookback_days=10, benchmark_symbol="NOPE") as alpaca:
        data = alpaca.fetch(start, start + timedelta(days=7))
    assert data.benchmark is not None
    assert data.benchmark.closes == ()


def test_a_rejected_bars_request_is_a_typed_error(fake: FakeAlpaca, account: FakeAccount) -> None:
    start = first_cycle_day(account) + timedelta(days=7)
    fake.inject("/v2/stocks/bars", status=403, times=1)
    with (
        source(fake, equity_lookback_days=10, benchmark_symbol="SPY") as alpaca,
        pytest.raises(Exception, match="get_stock_bars") as failure,
    ):
        alpaca.fetch(start, start + timedelta(days=7))
    assert type(failure.value).__name__ in {"AlpacaAuthError", AlpacaRequestError.__name__}


def test_the_bars_route_pages_like_alpaca(fake: FakeAlpaca, account: FakeAccount) -> None:
    closes = dict(account.benchmark_bars)["SPY"]

    def get(query: str) -> dict[str, object]:
        request = urllib.request.Request(
            f"{fake.base_url}/v2/stocks/bars?{query}",
            headers={"APCA-API-KEY-ID": DEFAULT_KEY_ID, "APCA-API-SECRET-KEY": DEFAULT_SECRET_KEY},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            result: dict[str, object] = json.loads(response.read())
            return result

    seen: list[object] = []
    token = ""
    while True:
        page = get(f"symbols=SPY&timeframe=1Day&limit=25{'&page_token=' + token if token else ''}")
        seen.extend(page["bars"]["SPY"])  # type: ignore[index]
        if page["next_page_token"] is None:
            break
        token = str(page["next_page_token"])
    raw = {"SPY": seen}
    assert [(c.day, c.close) for c in closes_from_api(raw, "SPY")] == list(closes)


def test_closes_are_exact_decimals_by_utc_day() -> None:
    raw = {"SPY": [{"t": "2026-03-02T05:00:00Z", "c": 512.3400000000001}]}
    (close,) = closes_from_api(raw, "SPY")
    assert (close.day, close.close) == (date(2026, 3, 2), Decimal("512.34"))
    with pytest.raises(ValueError, match="lacks its time or close"):
        closes_from_api({"SPY": [{"c": 1}]}, "SPY")


def test_the_synthetic_history_ends_at_the_starting_cash_and_is_reproducible(
    account: FakeAccount,
) -> None:
    first = first_cycle_day(account)
    before = [s for s in account.equity_series if s.timestamp < first]
    assert len(before) > 60
    assert all(s.timestamp.weekday() < 5 for s in before)
    assert before[-1].equity == Decimal(100_000)
    again = FakeAccount.from_history(generate_history(), history_days=120, benchmark="SPY")
    assert again.equity_series == account.equity_series
    assert again.benchmark_bars == account.benchmark_bars
    assert first.tzinfo is UTC
