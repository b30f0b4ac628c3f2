"""AlpacaSource: the real alpaca-py TradingClient against the fake server.

Paging, the period's orders and fees, retries with backoff (an injected sleep records the
delays, nothing waits), timeouts, typed errors, exact decimals and deterministic output.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from ledger_store.errors import ConfigurationError, LedgerError, LedgerValidationError
from snapshots.alpaca import source as alpaca_source
from snapshots.alpaca.models import (
    AlpacaAccount,
    AlpacaData,
    AlpacaOrder,
    EquityPoint,
    FeeActivity,
    decimal_from_number,
    equity_points_from_api,
)
from snapshots.alpaca.source import AlpacaSource, RetryPolicy, fee_window
from snapshots.demo.history import generate_history
from snapshots.errors import (
    AlpacaAuthError,
    AlpacaRequestError,
    AlpacaResponseError,
    AlpacaUnavailableError,
)
from snapshots.fake_alpaca.broker import FakeAccount, bulk_fee_activities, bulk_orders
from snapshots.fake_alpaca.server import (
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    FakeAlpaca,
    running_fake_alpaca,
)
from snapshots.fake_alpaca.shapes import EquitySample, FakeOrder, FakePosition, fill_activity

pytestmark = pytest.mark.filterwarnings("ignore:websockets.legacy is deprecated:DeprecationWarning")

ACCOUNT_ID = "6f1c3b1e-6d3a-4c59-9f0e-3f6a2b8d9c10"
PERIOD_START = datetime(2026, 8, 10, tzinfo=UTC)
PERIOD_END = datetime(2026, 9, 1, tzinfo=UTC)
#: Small, fast timeouts; no test depends on wall time.
FAST = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=4.0, request_timeout=2.0, deadline=60)


@pytest.fixture(scope="module")
def history_account() -> FakeAccount:
    return FakeAccount.from_history(generate_history())


@pytest.fixture
def server(history_account: FakeAccount) -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(history_account) as fake:
        yield fake
        assert fake.handler_errors == []


class Sleeps(list[float]):
    """An injected ``sleep`` that records the delays and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def source_for(
    server: FakeAlpaca,
    *,
    retry: RetryPolicy = FAST,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    secret_key: str = DEFAULT_SECRET_KEY,
    fee_posting_lag: timedelta | None = None,
) -> AlpacaSource:
    options: dict[str, Any] = {}
    if fee_posting_lag is not None:
        options["fee_posting_lag"] = fee_posting_lag
    if clock is not None:
        options["clock"] = clock
    return AlpacaSource(
        api_key=DEFAULT_KEY_ID,
        secret_key=secret_key,
        base_url=server.base_url,
        retry=retry,
        sleep=sleep if sleep is not None else Sleeps(),
        rng=random.Random(7),
        environ={},
        **options,
    )


def small_account(**fields: Any) -> FakeAccount:
    base: dict[str, Any] = {
        "account_id": ACCOUNT_ID,
        "account_number": "PA0SMALL",
        "cash": Decimal("-1250.5"),
        "positions": (
            FakePosition(
                symbol="SPY",
                qty=Decimal(10),
                avg_entry_price=Decimal("500.1"),
                cost_basis=Decimal("5001"),
                current_price=Decimal("510.2"),
                lastday_price=Decimal("505"),
            ),
        ),
    }
    base.update(fields)
    return FakeAccount(**base)


# What a fetch returns ------------------------------------------------------------------------


def test_fetch_returns_the_period_as_typed_exact_data(
    history_account: FakeAccount, server: FakeAlpaca
) -> None:
    data = source_for(server).fetch(PERIOD_START, PERIOD_END)

    assert data.account.id == ACCOUNT_ID
    assert data.account.cash == history_account.cash
    assert data.account.equity == history_account.equity
    assert isinstance(data.account.buying_power, Decimal)
    assert [p.symbol for p in data.positions] == sorted(p.symbol for p in history_account.positions)
    for position, fake in zip(data.positions, history_account.positions, strict=True):
        assert position.qty == fake.qty
        assert position.market_value == fake.market_value
        assert position.cost_basis == fake.cost_basis

    in_period = {
        o.id for o in history_account.orders if PERIOD_START <= o.submitted_at < PERIOD_END
    }
    assert {o.id for o in data.orders} == in_period
    assert [(o.submitted_at, o.id) for o in data.orders] == sorted(
        (o.submitted_at, o.id) for o in data.orders
    )
    first = data.orders[0]
    assert first.status == "filled"
    assert isinstance(first.filled_qty, Decimal)
    assert first.submitted_at.tzinfo is UTC

    filled = {
        row.fields["order_id"]
        for row in history_account.fill_activities
        if PERIOD_START <= row.created_at < PERIOD_END
    }
    assert set(data.filled_order_ids) == filled
    assert list(data.filled_order_ids) == sorted(filled)

    fees_start, fees_end = fee_window(PERIOD_START, PERIOD_END)
    assert (data.fee_window_start, data.fee_window_end) == (fees_start, fees_end)
    expected_fees = {
        a.id for a in history_account.fee_activities if fees_start <= a.created_at < fees_end
    }
    assert {f.id for f in data.fees} == expected_fees
    assert all(f.net_amount < 0 and f.activity_type == "FEE" for f in data.fees)
    assert {f.activity_sub_type for f in data.fees} == {"CAT", "REG", "TAF"}

    days = [p.timestamp.date() for p in data.equity]
    assert days == sorted(
        s.timestamp.date()
        for s in history_account.equity_series
        if PERIOD_START <= s.timestamp < PERIOD_END
    )


def test_fee_window_is_the_period_unless_shifted_by_a_posting_lag() -> None:
    start, end = datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)
    assert fee_window(start, end) == (start, end)
    day = timedelta(days=1)
    assert fee_window(start, end, day) == (start + day, end + day)
    next_window = fee_window(end, datetime(2026, 10, 1, tzinfo=UTC), day)
    assert next_window[0] == fee_window(start, end, day)[1]  # consecutive periods never overlap


def test_a_posting_lag_moves_the_fees_of_the_periods_last_day_into_it(
    history_account: FakeAccount,
) -> None:
    # trades on Monday 2026-08-31 post their fees on Tuesday 2026-09-01, after the period
    last_day_sells = [
        o
        for o in history_account.orders
        if o.filled_at and o.filled_at.date().isoformat() == "2026-08-31" and o.side == "sell"
    ]
    assert last_day_sells
    with running_fake_alpaca(history_account) as fake:
        default = source_for(fake).fetch(PERIOD_START, PERIOD_END)
        lagged = source_for(fake, fee_posting_lag=timedelta(days=1)).fetch(PERIOD_START, PERIOD_END)
    assert (lagged.fee_window_start, lagged.fee_window_end) == (
        PERIOD_START + timedelta(days=1),
        PERIOD_END + timedelta(days=1),
    )
    fee_keys = {f.id for f in lagged.fees}
    default_keys = {f.id for f in default.fees}
    # Alpaca posts a day's fees as daily totals just after the next UTC midnight: Monday
    # 31 August's fall in the lagged window only, and the periods' windows never overlap.
    last_day = {a.id for a in history_account.fee_activities if a.fields["date"] == "2026-08-31"}
    assert last_day
    assert last_day <= fee_keys
    assert not last_day & default_keys
    posted_first = {f.id for f in default.fees if f.created_at < PERIOD_START + timedelta(days=1)}
    assert not posted_first & fee_keys


def test_an_order_submitted_before_the_period_but_filled_in_it_is_included(
    history_account: FakeAccount, server: FakeAlpaca
) -> None:
    straddling = next(
        o
        for o in history_account.orders
        if o.status == "filled" and o.filled_at and o.filled_at > PERIOD_START
    )
    assert straddling.filled_at is not None
    start = straddling.filled_at - timedelta(milliseconds=100)
    assert straddling.submitted_at < start

    data = source_for(server).fetch(start, start + timedelta(days=1))

    assert straddling.id in {o.id for o in data.orders}
    assert straddling.id in data.filled_order_ids
    assert all(o.submitted_at >= start for o in data.orders if o.id != straddling.id)
    fetched_by_id = server.requests(f"/v2/orders/{straddling.id}")
    assert len(fetched_by_id) == 1
    assert fetched_by_id[0].query == {"nested": "True"}


def test_orders_are_paged_past_500_without_loss_or_duplicates() -> None:
    # 1,203 orders in the period, three per submission instant (whole microseconds), so page
    # boundaries fall inside groups; plus orders just outside the period on both sides.
    inside = bulk_orders(
        1203, PERIOD_START, per_instant=3, spacing=timedelta(seconds=2), submitted_nanos=0
    )
    before = bulk_orders(4, PERIOD_START - timedelta(hours=1), key="before")
    after = bulk_orders(4, PERIOD_END, key="after")
    at_start = replace(inside[0], id=str(uuid.uuid4()), client_order_id="exactly-at-start")
    account = small_account(orders=(*before, *inside, *after, at_start))
    with running_fake_alpaca(account) as fake:
        data = source_for(fake).fetch(PERIOD_START, PERIOD_END)
        pages = fake.requests("/v2/orders")

    ids = [o.id for o in data.orders]
    assert len(ids) == len(set(ids)) == 1204
    assert set(ids) == {o.id for o in inside} | {at_start.id}
    assert len(pages) >= 3
    assert all(page.query["limit"] == "500" and page.query["status"] == "all" for page in pages)
    assert all(page.query["direction"] == "asc" for page in pages)
    afters = [page.query["after"] for page in pages]
    assert afters == sorted(afters)
    assert len(set(afters)) == len(afters)


def test_orders_that_cannot_be_paged_by_time_raise_instead_of_looping() -> None:
    crowd = bulk_orders(501, PERIOD_START + timedelta(hours=1), per_instant=501)
    with running_fake_alpaca(small_account(orders=crowd)) as fake:
        with pytest.raises(AlpacaResponseError, match="share one submission time"):
            source_for(fake).fetch(PERIOD_START, PERIOD_END)
        # page 1 moves ``after`` up to the crowd; page 2 (the same 500) cannot move it further
        assert len(fake.requests("/v2/orders")) == 2


def test_fee_activities_are_paged_by_page_token_past_100_rows() -> None:
    fees_start, fees_end = fee_window(PERIOD_START, PERIOD_END)
    rows = bulk_fee_activities(250, fees_start + timedelta(hours=8), spacing=timedelta(minutes=7))
    outside = bulk_fee_activities(3, fees_end + timedelta(minutes=1), key="outside")
    with running_fake_alpaca(small_account(fee_activities=(*rows, *outside))) as fake:
        data = source_for(fake).fetch(PERIOD_START, PERIOD_END)
        # FEE and CFEE (crypto fees in dollars) in one query.
        pages = [
            r
            for r in fake.requests("/v2/account/activities")
            if r.query.get("activity_types") == "FEE,CFEE"
        ]

    assert sorted(f.id for f in data.fees) == sorted(r.id for r in rows)
    assert len(pages) == 3
    ordered = sorted(r.id for r in rows)
    assert "page_token" not in pages[0].query
    assert pages[1].query["page_token"] == ordered[99]
    assert pages[2].query["page_token"] == ordered[199]
    assert all(page.query["page_size"] == "100" for page in pages)
    assert sum(f.net_amount for f in data.fees) == Decimal("-2.5")


def test_portfolio_history_floats_become_exact_decimals() -> None:
    day = PERIOD_START + timedelta(days=1)
    series = (
        EquitySample(day, 100234.57, 234.57, 0.1 + 0.2),  # 0.30000000000000004
        EquitySample(day + timedelta(days=1), 99999.99, -0.01, -1e-7),
        EquitySample(day + timedelta(days=2), Decimal("100000.1"), Decimal("0.1"), None),
    )
    with running_fake_alpaca(small_account(equity_series=series)) as fake:
        data = source_for(fake).fetch(PERIOD_START, PERIOD_END)
    assert [p.equity for p in data.equity] == [
        Decimal("100234.57"),
        Decimal("99999.99"),
        Decimal("100000.1"),
    ]
    assert [p.profit_loss for p in data.equity] == [
        Decimal("234.57"),
        Decimal("-0.01"),
        Decimal("0.1"),
    ]
    assert [p.profit_loss_pct for p in data.equity] == [Decimal("0.3"), Decimal("-1E-7"), None]
    assert '"equity":"100234.57"' in data.model_dump_json()
    assert '"profit_loss_pct":"-0.0000001"' in data.model_dump_json()


def test_two_fetches_are_equal_and_byte_identical(
    history_account: FakeAccount, server: FakeAlpaca
) -> None:
    first = source_for(server).fetch(PERIOD_START, PERIOD_END)
    second = source_for(server).fetch(PERIOD_START, PERIOD_END)
    assert first == second
    assert first.model_dump_json() == second.model_dump_json()

    shuffled = replace(
        history_account,
        orders=tuple(reversed(history_account.orders)),
        positions=tuple(reversed(history_account.positions)),
    )
    with running_fake_alpaca(shuffled) as other:
        third = source_for(other).fetch(PERIOD_START, PERIOD_END)
    assert third.model_dump_json() == first.model_dump_json()


def test_every_call_is_a_subsegment(server: FakeAlpaca, monkeypatch: pytest.MonkeyPatch) -> None:
    names: list[str] = []

    @contextmanager
    def record(name: str, **annotations: Any) -> Iterator[None]:
        names.append(name)
        yield

    monkeypatch.setattr(alpaca_source, "subsegment", record)
    source_for(server).fetch(PERIOD_START, PERIOD_END)
    assert set(names) == {
        "alpaca.get_account",
        "alpaca.get_all_positions",
        "alpaca.get_orders",
        "alpaca.get_activities",
        "alpaca.get_portfolio_history",
    }
    assert len(names) == len(server.requests("/v2/"))


# Retries, timeouts and typed errors ----------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried_with_growing_backoff(server: FakeAlpaca, status: int) -> None:
    server.inject("/v2/orders", status=status, times=2)
    sleeps = Sleeps()
    data = source_for(server, sleep=sleeps).fetch(PERIOD_START, PERIOD_END)

    assert data.orders
    assert len(server.requests("/v2/orders")) == 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5  # base 0.5 s, jittered to half..all
    assert 0.5 <= sleeps[1] <= 1.0  # doubled


def test_alpaca_py_does_not_retry_on_its_own(server: FakeAlpaca) -> None:
    # alpaca-py alone would retry a 429 three times with a 3 s sleep
    server.inject("/v2/account", status=429)
    sleeps = Sleeps()
    with pytest.raises(AlpacaUnavailableError) as caught:
        source_for(server, retry=replace(FAST, max_attempts=1), sleep=sleeps).fetch(
            PERIOD_START, PERIOD_END
        )
    assert caught.value.attempts == 1
    assert len(server.requests("/v2/account")) == 1
    assert sleeps == []


def test_retries_give_up_after_max_attempts_naming_call_and_error(server: FakeAlpaca) -> None:
    server.inject("/v2/positions", status=503, times=10)
    sleeps = Sleeps()
    with pytest.raises(AlpacaUnavailableError) as caught:
        source_for(server, sleep=sleeps).fetch(PERIOD_START, PERIOD_END)
    error = caught.value
    assert isinstance(error, LedgerError)
    assert error.call == "get_all_positions"
    assert error.attempts == FAST.max_attempts == 4
    assert "503" in str(error)
    assert "get_all_positions" in str(error)
    assert "4 attempt" in str(error)
    assert len(server.requests("/v2/positions")) == 4
    assert len(sleeps) == 3


def test_a_hanging_endpoint_times_out_and_fails_within_the_attempts(
    server: FakeAlpaca,
) -> None:
    server.inject("/v2/account", delay=30, times=10)
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, request_timeout=0.2, deadline=20)
    with pytest.raises(AlpacaUnavailableError) as caught:
        source_for(server, retry=policy).fetch(PERIOD_START, PERIOD_END)
    assert caught.value.call == "get_account"
    assert caught.value.attempts == 3
    assert isinstance(caught.value.last_error, requests.exceptions.Timeout)
    assert len(server.requests("/v2/account")) == 3


def test_the_overall_deadline_stops_retrying(server: FakeAlpaca) -> None:
    now = [1000.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds  # a fake clock: backoffs "pass" without waiting

    server.inject("/v2/account", status=503, times=100)
    policy = RetryPolicy(max_attempts=100, base_delay=1.0, max_delay=1.0, deadline=5.0)
    with pytest.raises(AlpacaUnavailableError, match="deadline of 5s") as caught:
        source_for(server, retry=policy, sleep=sleep, clock=lambda: now[0]).fetch(
            PERIOD_START, PERIOD_END
        )
    attempts = caught.value.attempts
    assert 5 <= attempts <= 10  # each backoff is 0.5-1.0 s of a 5 s budget
    assert len(server.requests("/v2/account")) == attempts
    assert now[0] - 1000.0 < 5.0


def watchdog_windows(monkeypatch: pytest.MonkeyPatch, source: AlpacaSource) -> list[float]:
    """The seconds each request of ``source`` is given before its watchdog abandons it: what
    bounds its wall time, read from the source rather than timed."""
    windows: list[float] = []
    within = source._within

    def watched(operation: Callable[[], Any], seconds: float) -> Any:
        windows.append(seconds)
        return within(operation, seconds)

    monkeypatch.setattr(source, "_within", watched)
    return windows


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"trickle": 0.2}, id="trickling-body"),
        pytest.param({"trickle": 0.2, "trickle_headers": True}, id="trickling-headers"),
        pytest.param({"endless": True}, id="endless-body"),
    ],
)
def test_the_deadline_bounds_wall_time_whatever_the_server_does(
    server: FakeAlpaca, fault: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each gap (0.2 s) is shorter than the request timeout (1 s): only the deadline stops it.
    Every request runs under a watchdog given no more than what is left of the deadline, and
    the fetch fails on the deadline."""
    server.inject("/v2/account", times=10, **fault)
    policy = RetryPolicy(max_attempts=5, base_delay=0.01, request_timeout=1.0, deadline=2.0)
    source = source_for(server, retry=policy, sleep=time.sleep)
    windows = watchdog_windows(monkeypatch, source)
    with pytest.raises(AlpacaUnavailableError, match="deadline of 2s") as caught:
        source.fetch(PERIOD_START, PERIOD_END)
    assert caught.value.call == "get_account"
    # The first request is given what is left of the deadline (more than a request's own
    # timeout), each later one less: never renewed, never past the deadline.
    assert policy.request_timeout < windows[0] <= policy.deadline, windows
    assert all(later < earlier for earlier, later in itertools.pairwise(windows)), windows
    assert windows[-1] > 0


def test_an_oversized_answer_is_refused(
    server: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snapshots.alpaca import transport

    monkeypatch.setattr(transport, "MAX_RESPONSE_BYTES", 64 * 1024)
    server.inject("/v2/account", endless=True)
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, request_timeout=5.0, deadline=30.0)
    with pytest.raises(AlpacaResponseError, match="larger than 65,536 bytes"):
        source_for(server, retry=policy).fetch(PERIOD_START, PERIOD_END)


def test_connection_errors_are_retried_then_reported(history_account: FakeAccount) -> None:
    with running_fake_alpaca(history_account) as fake:
        source = source_for(fake)
    sleeps = Sleeps()
    source._sleep = sleeps
    with pytest.raises(AlpacaUnavailableError) as caught:
        source.fetch(PERIOD_START, PERIOD_END)
    assert caught.value.attempts == FAST.max_attempts
    assert isinstance(caught.value.last_error, requests.exceptions.ConnectionError)
    assert len(sleeps) == FAST.max_attempts - 1


def test_wrong_keys_fail_at_once_with_an_auth_error(server: FakeAlpaca) -> None:
    sleeps = Sleeps()
    with pytest.raises(AlpacaAuthError) as caught:
        source_for(server, secret_key="wrong", sleep=sleeps).fetch(PERIOD_START, PERIOD_END)
    assert caught.value.status == 401
    assert caught.value.code == 40110000
    assert caught.value.call == "get_account"
    assert "request is not authorized" in str(caught.value)
    assert len(server.requests()) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(403, AlpacaAuthError), (404, AlpacaRequestError), (422, AlpacaRequestError)],
)
def test_other_client_errors_fail_at_once(
    server: FakeAlpaca, status: int, error_type: type[AlpacaRequestError]
) -> None:
    server.inject("/v2/orders", status=status, times=5)
    with pytest.raises(error_type) as caught:
        source_for(server).fetch(PERIOD_START, PERIOD_END)
    assert caught.value.status == status
    assert caught.value.call == "get_orders"
    assert len(server.requests("/v2/orders")) == 1


def test_a_body_that_is_not_json_is_a_response_error(server: FakeAlpaca) -> None:
    server.inject("/v2/account", status=200, body="<html>maintenance</html>")
    with pytest.raises(AlpacaResponseError, match="not JSON"):
        source_for(server).fetch(PERIOD_START, PERIOD_END)
    assert len(server.requests("/v2/account")) == 1


def test_an_answer_missing_required_fields_is_a_response_error(server: FakeAlpaca) -> None:
    server.inject("/v2/account", status=200, body='{"id": "not-a-uuid", "status": "ACTIVE"}')
    with pytest.raises(AlpacaResponseError) as caught:
        source_for(server).fetch(PERIOD_START, PERIOD_END)
    assert caught.value.call == "get_account"
    assert "not a UUID" in str(caught.value)
    assert "cash" in str(caught.value)


def test_a_5xx_html_body_is_retried_and_described(server: FakeAlpaca) -> None:
    server.inject("/v2/account", status=502, body="<html>bad gateway</html>", times=10)
    with pytest.raises(AlpacaUnavailableError, match="bad gateway"):
        source_for(server).fetch(PERIOD_START, PERIOD_END)


# Configuration and the period ----------------------------------------------------------------


def test_credentials_and_endpoint_come_from_the_environment(
    server: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", DEFAULT_KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", DEFAULT_SECRET_KEY)
    monkeypatch.setenv("APCA_API_BASE_URL", server.base_url + "/v2/")
    source = AlpacaSource(sleep=Sleeps())
    assert source.base_url == server.base_url
    assert source.fetch(PERIOD_START, PERIOD_END).account.id == ACCOUNT_ID


def test_paper_is_the_default_endpoint() -> None:
    keys = {"APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s"}
    assert AlpacaSource(environ=keys).base_url == "https://paper-api.alpaca.markets"
    assert AlpacaSource(environ=keys, paper=False).base_url == "https://api.alpaca.markets"


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"APCA_API_KEY_ID": "k"},
        {"APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s", "APCA_API_BASE_URL": "localhost:1"},
    ],
)
def test_missing_credentials_or_a_bad_url_are_configuration_errors(
    environ: dict[str, str],
) -> None:
    with pytest.raises(ConfigurationError, match="APCA_API"):
        AlpacaSource(environ=environ)


def test_the_period_must_be_aware_and_ordered(server: FakeAlpaca) -> None:
    source = source_for(server)
    with pytest.raises(LedgerValidationError, match="timezone-aware"):
        source.fetch(datetime(2026, 8, 1), PERIOD_END)  # noqa: DTZ001 - naive on purpose
    with pytest.raises(LedgerValidationError, match="after period_start"):
        source.fetch(PERIOD_END, PERIOD_START)
    assert server.requests() == []


@pytest.mark.parametrize(
    "changes",
    [{"max_attempts": 0}, {"request_timeout": 0}, {"deadline": -1}, {"base_delay": -0.1}],
)
def test_retry_policy_rejects_unusable_bounds(changes: dict[str, float]) -> None:
    with pytest.raises(LedgerValidationError):
        RetryPolicy(**changes)  # type: ignore[arg-type]


def test_importing_the_models_and_the_source_does_not_import_alpaca() -> None:
    script = textwrap.dedent(
        """
        import sys
        import snapshots.alpaca.models, snapshots.alpaca.source, snapshots.errors
        loaded = sorted(m for m in ("alpaca", "pandas") if m in sys.modules)
        print(",".join(loaded) or "clean")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


# The DTOs ------------------------------------------------------------------------------------


def _order(order_id: str, submitted: datetime) -> AlpacaOrder:
    fake = FakeOrder(
        id=order_id,
        client_order_id=f"c-{order_id[:8]}",
        symbol="SPY",
        side="buy",
        qty=Decimal("1.50"),
        submitted_at=submitted,
        filled_qty=Decimal("1.5"),
        filled_avg_price=Decimal("500.10"),
        filled_at=submitted + timedelta(seconds=1),
        submitted_nanos=999,
    )
    return AlpacaOrder.from_api(fake.to_json())


def test_alpaca_data_sorts_its_lists_and_rejects_duplicates(history_account: FakeAccount) -> None:
    account = AlpacaAccount.from_api(history_account.account_json())
    t0 = PERIOD_START + timedelta(hours=15)
    late = _order("00000000-0000-4000-8000-000000000002", t0 + timedelta(minutes=1))
    tie_b = _order("00000000-0000-4000-8000-00000000000b", t0)
    tie_a = _order("00000000-0000-4000-8000-00000000000a", t0)
    fees = [
        FeeActivity.from_api(row.to_json())
        for row in bulk_fee_activities(3, PERIOD_START + timedelta(days=2))
    ]
    points = [
        EquityPoint(timestamp=t0 + timedelta(days=d), equity=Decimal(1), profit_loss=Decimal(0))
        for d in (2, 0, 1)
    ]
    data = AlpacaData(
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        fee_window_start=PERIOD_START,
        fee_window_end=PERIOD_END,
        account=account,
        positions=(),
        orders=(late, tie_b, tie_a),
        fees=tuple(reversed(fees)),
        filled_order_ids=(late.id, tie_a.id, late.id),
        equity=tuple(points),
    )
    assert [o.id for o in data.orders] == [tie_a.id, tie_b.id, late.id]
    assert [f.id for f in data.fees] == sorted(f.id for f in fees)
    assert data.filled_order_ids == (late.id, tie_a.id)
    assert [p.timestamp for p in data.equity] == sorted(p.timestamp for p in points)
    assert tie_a.qty == Decimal("1.5")
    assert tie_a.submitted_at == t0  # 9 digits truncated to the microsecond
    assert '"qty":"1.5"' in tie_a.model_dump_json()
    with pytest.raises(ValueError, match="duplicate order id"):
        AlpacaData.model_validate({**data.model_dump(), "orders": (late, late)})


def test_dtos_are_frozen_and_reject_unknown_fields(history_account: FakeAccount) -> None:
    account = AlpacaAccount.from_api({**history_account.account_json(), "new_field": "x"})
    with pytest.raises(ValueError, match="frozen"):
        account.cash = Decimal(0)  # type: ignore[misc]
    with pytest.raises(ValueError, match="Extra inputs"):
        AlpacaAccount.model_validate({**account.model_dump(), "new_field": "x"})


def test_negative_cash_and_short_positions_parse(history_account: FakeAccount) -> None:
    short = FakePosition(
        symbol="TSLA",
        qty=Decimal(-3),
        avg_entry_price=Decimal("250"),
        cost_basis=Decimal("-750"),
        current_price=Decimal("240"),
        lastday_price=Decimal("245"),
    )
    account = small_account(positions=(short,))
    parsed = AlpacaAccount.from_api(account.account_json())
    assert parsed.cash == Decimal("-1250.5")
    assert parsed.short_market_value == Decimal(-720)
    with running_fake_alpaca(account) as fake:
        data = source_for(fake).fetch(PERIOD_START, PERIOD_END)
    (position,) = data.positions
    assert (position.qty, position.side, position.market_value) == (
        Decimal(-3),
        "short",
        Decimal(-720),
    )


def test_number_conversion_and_history_shape_errors() -> None:
    assert decimal_from_number(0.1 + 0.2, 10) == Decimal("0.3")
    assert decimal_from_number(1e16, 4) == Decimal("1E+16")
    assert decimal_from_number(7, 4) == Decimal(7)
    with pytest.raises(ValueError, match="finite"):
        decimal_from_number(float("nan"), 4)
    with pytest.raises(ValueError, match="differ in length"):
        equity_points_from_api(
            {"timestamp": [1], "equity": [], "profit_loss": [], "profit_loss_pct": []}
        )


def test_fill_activities_of_orders_outside_the_fake_still_name_the_order() -> None:
    order = bulk_orders(1, PERIOD_START + timedelta(hours=1))[0]
    row = fill_activity(order).to_json()
    assert row["order_id"] == order.id
    assert row["activity_type"] == "FILL"


# The bot's own client ------------------------------------------------------------------------


def test_a_source_wraps_the_bots_trading_client_and_leaves_it_as_it_was(
    server: FakeAlpaca,
) -> None:
    from alpaca.trading.client import TradingClient
    from requests.adapters import HTTPAdapter

    class CountingAdapter(HTTPAdapter):
        sent = 0

        def send(self, request: Any, **kwargs: Any) -> Any:
            CountingAdapter.sent += 1
            return super().send(request, **kwargs)

    bot = TradingClient(DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, url_override=server.base_url)
    bot._session.mount("http://", CountingAdapter())  # e.g. the bot's proxy or retry adapter
    before = (bot._retry, bot._retry_codes, bot._use_raw_data, bot._session.request)

    with AlpacaSource(client=bot, retry=FAST, sleep=Sleeps(), rng=random.Random(7)) as source:
        data = source.fetch(PERIOD_START, PERIOD_END)
        assert source.base_url == server.base_url

    assert data.account.id == server.account.account_id
    assert CountingAdapter.sent == len(server.requests())  # every read went through its session
    # The bot's client is untouched: its retries, its models, its session (still open).
    assert (bot._retry, bot._retry_codes, bot._use_raw_data, bot._session.request) == before
    assert bot.get_account().id is not None


def test_the_deadline_applies_to_reads_through_the_bots_client(
    server: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alpaca.trading.client import TradingClient

    bot = TradingClient(DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, url_override=server.base_url)
    server.inject("/v2/account", times=10, trickle=0.2)
    policy = RetryPolicy(max_attempts=5, base_delay=0.01, request_timeout=1.0, deadline=1.5)
    source = AlpacaSource(client=bot, retry=policy)
    windows = watchdog_windows(monkeypatch, source)
    with pytest.raises(AlpacaUnavailableError, match=r"deadline of 1\.5s"):
        source.fetch(PERIOD_START, PERIOD_END)
    assert policy.request_timeout < windows[0] <= policy.deadline, windows
    assert all(later < earlier for earlier, later in itertools.pairwise(windows)), windows


def test_only_a_trading_client_can_be_wrapped() -> None:
    with pytest.raises(ConfigurationError, match="TradingClient"):
        AlpacaSource(client=object())


# Fields Alpaca may drop ----------------------------------------------------------------------


def test_a_snapshot_is_fetched_when_alpaca_drops_fields_no_check_needs(server: FakeAlpaca) -> None:
    """Alpaca removed account fields without notice; orders may lack ``filled_qty`` and a day
    of the portfolio history may be null: recorded as missing, never fatal."""
    source = source_for(server)
    requests_ = alpaca_source_requests()
    orders = source._client.get_orders(
        requests_.GetOrdersRequest(status="all", limit=500, after=PERIOD_START)
    )
    stripped = [{k: v for k, v in o.items() if k != "filled_qty"} for o in orders]
    history = source._client.get_portfolio_history(
        requests_.GetPortfolioHistoryRequest(timeframe="1D", start=PERIOD_START, end=PERIOD_END)
    )
    for column in ("equity", "profit_loss", "profit_loss_pct"):
        history[column][0] = None
    account = server.account.account_json()
    for name in ("initial_margin", "maintenance_margin", "last_equity", "buying_power"):
        del account[name]
    account["account_number"] = None
    # Faults are taken in order by path prefix: the account is read first.
    server.inject("/v2/account", body=json.dumps(account))
    server.inject("/v2/orders", body=json.dumps(stripped))
    server.inject("/v2/account/portfolio/history", body=json.dumps(history))

    data = source.fetch(PERIOD_START, PERIOD_END)

    assert (data.account.initial_margin, data.account.maintenance_margin) == (None, None)
    assert (data.account.account_number, data.account.buying_power) == (None, None)
    assert data.orders
    assert all(
        order.filled_qty is None for order in data.orders if order.id in {o["id"] for o in stripped}
    )
    assert data.equity[0].equity is None
    assert data.equity[1].equity is not None


def alpaca_source_requests() -> Any:
    from alpaca.trading import requests as trading_requests

    return trading_requests


def test_a_required_field_missing_is_a_typed_response_error(server: FakeAlpaca) -> None:
    account = server.account.account_json()
    del account["equity"]  # the equity check compares it
    server.inject("/v2/account", body=json.dumps(account))
    with pytest.raises(AlpacaResponseError, match="equity"):
        source_for(server).fetch(PERIOD_START, PERIOD_END)
