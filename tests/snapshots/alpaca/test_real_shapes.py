"""What Alpaca really sends, and what the fake did not: activity times in New York, statuses,
corrections, fractional dividends and splits, multi-leg parents, millisecond histories, bars
answers of every shape and a paging loop that must not outlive its deadline."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.events import AccountEventRepository, CashFlow, Dividend, Split
from snapshots.alpaca.activities import events_from_activities
from snapshots.alpaca.models import (
    AccountActivity,
    AlpacaData,
    AlpacaOrder,
    activity_created_at,
    equity_points_from_api,
)
from snapshots.alpaca.source import RetryPolicy
from snapshots.builder import record_activity_events
from snapshots.errors import AlpacaResponseError, AlpacaUnavailableError
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import (
    FakeAlpaca,
    running_fake_alpaca,
)
from snapshots.fake_alpaca.shapes import FakeActivity
from snapshots.integrity import check_events, filled_in_period
from snapshots.ledger.summary import read_account
from tests.builders import ROOT, alpaca_data
from tests.snapshots.alpaca.test_history_and_benchmark import source

pytestmark = pytest.mark.filterwarnings("ignore:websockets.legacy is deprecated:DeprecationWarning")

ACCOUNT = "7a1c5e2f-3b4d-4e6f-8a9b-0c1d2e3f4a5b"
MULTI_LEG_FIXTURE = (
    ROOT / "tests/contract/alpaca/payloads/orders/docs_get_all_orders_mleg_filled_empty_parent.json"
)
UUID = "5f596936-6f23-4cef-bdf1-3806aae57dbf"


def row(**fields: Any) -> AccountActivity:
    return AccountActivity.from_api({"id": f"20260803120000000::{UUID}", **fields})


# Times -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activity_id", "utc"),
    [
        # Public rows that carry both: the id is New York time, EST and EDT.
        ("20220304095318500", datetime(2022, 3, 4, 14, 53, 18, 500000, tzinfo=UTC)),
        ("20230608113858838", datetime(2023, 6, 8, 15, 38, 58, 838000, tzinfo=UTC)),
        # The November hour that happens twice: its first occurrence (EDT).
        ("20231105013000000", datetime(2023, 11, 5, 5, 30, tzinfo=UTC)),
        # A deposit posted in the New York evening is the next UTC day.
        ("20260803213000000", datetime(2026, 8, 4, 1, 30, tzinfo=UTC)),
    ],
)
def test_an_activity_id_carries_new_york_time(activity_id: str, utc: datetime) -> None:
    assert activity_created_at(f"{activity_id}::{UUID}") == utc


def test_an_activity_s_own_timestamp_wins_over_its_id() -> None:
    stamped = row(activity_type="DIV", transaction_time="2026-08-03T20:00:01.123456789Z")
    created = row(activity_type="CSD", created_at="2026-08-03T18:00:00Z")
    bare = row(activity_type="CSD")
    assert stamped.created_at == datetime(2026, 8, 3, 20, 0, 1, 123456, tzinfo=UTC)
    assert created.created_at == datetime(2026, 8, 3, 18, tzinfo=UTC)
    assert bare.created_at == datetime(2026, 8, 3, 16, tzinfo=UTC)  # 12:00 EDT
    assert bare.date == date(2026, 8, 3)


def _late_deposit_account() -> FakeAccount:
    """A deposit posted at 21:30 New York on Monday 3 August: Tuesday 01:30 UTC."""
    late = FakeActivity(
        "CSD",
        datetime(2026, 8, 4, 1, 30, tzinfo=UTC),
        "late-deposit",
        {"date": "2026-08-03", "net_amount": "2500", "status": "executed"},
    )
    return FakeAccount(
        account_id=ACCOUNT, account_number="PA1", cash=Decimal(0), other_activities=(late,)
    )


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(_late_deposit_account()) as server:
        yield server
        assert server.handler_errors == []


def test_a_row_posted_in_the_new_york_evening_belongs_to_the_next_utc_day(
    fake: FakeAlpaca,
) -> None:
    """Alpaca dates the row Monday; its instant is Tuesday UTC. Monday's daily period must not
    hold it and Tuesday's must: the query reaches beyond the period, the row's time decides."""
    monday = datetime(2026, 8, 3, tzinfo=UTC)
    tuesday = monday + timedelta(days=1)
    with source(fake) as alpaca:
        on_monday = alpaca.fetch_activities(monday, tuesday)
        on_tuesday = alpaca.fetch_activities(tuesday, tuesday + timedelta(days=1))
    assert on_monday == ()
    (deposit,) = on_tuesday
    assert deposit.created_at == datetime(2026, 8, 4, 1, 30, tzinfo=UTC)
    assert deposit.date.isoformat() == "2026-08-03"  # Alpaca's (New York) date, kept
    asked = fake.requests("/v2/account/activities")[-1].query
    assert asked["after"] < "2026-08-04T00:00:00"  # the query reached back beyond the period


# Statuses and corrections ---------------------------------------------------------------------


def test_only_executed_or_corrected_rows_are_booked() -> None:
    rows = [
        row(activity_type="CSD", net_amount="100", status="executed"),
        row(
            activity_type="CSD", net_amount="200", status="correct", id=f"20260803120100000::{UUID}"
        ),
        row(
            activity_type="CSD",
            net_amount="300",
            status="canceled",
            id=f"20260803120200000::{UUID}",
        ),
        row(activity_type="CSD", net_amount="400", id=f"20260803120300000::{UUID}"),
    ]
    mapped = events_from_activities(ACCOUNT, rows)
    assert sorted(e.amount for e in mapped.events if isinstance(e, CashFlow)) == [100, 200, 400]
    assert [r.net_amount for r in mapped.canceled] == [300]


def _sync(settings: TableSettings, *rows: AccountActivity) -> Any:
    return record_activity_events(AccountEventRepository(settings), ACCOUNT, rows)


def _active(settings: TableSettings) -> list[tuple[str, Decimal]]:
    return [
        (e.event_id, e.amount)
        for e in AccountEventRepository(settings).events(ACCOUNT)
        if isinstance(e, CashFlow)
    ]


def test_a_corrected_activity_supersedes_its_event_append_only(settings: TableSettings) -> None:
    first = row(activity_type="CSD", net_amount="1000", status="executed")
    corrected = row(activity_type="CSD", net_amount="1250", status="correct")
    assert _sync(settings, first).recorded == (first.id,)

    sync = _sync(settings, corrected)
    assert sync.revised == (f"{first.id}~1",)
    assert _active(settings) == [(f"{first.id}~1", Decimal(1250))]
    old = AccountEventRepository(settings).recorded(ACCOUNT, first.id)
    assert old.status == "voided"
    assert old.void_reason is not None
    assert first.id in old.void_reason
    assert "correction" in old.void_reason

    again = _sync(settings, corrected)  # a re-run: nothing new
    assert (again.recorded, again.revised, again.already_recorded) == ((), (), (f"{first.id}~1",))
    twice = _sync(settings, row(activity_type="CSD", net_amount="1300", status="correct"))
    assert twice.revised == (f"{first.id}~2",)
    assert _active(settings) == [(f"{first.id}~2", Decimal(1300))]


def test_a_canceled_activity_voids_the_event_it_had_recorded(settings: TableSettings) -> None:
    deposit = row(activity_type="CSD", net_amount="5000", status="executed")
    _sync(settings, deposit)
    canceled = row(activity_type="CSD", net_amount="5000", status="canceled")
    sync = _sync(settings, canceled)
    assert sync.voided == (deposit.id,)
    assert _active(settings) == []
    assert _sync(settings, canceled).voided == ()  # idempotent


def test_the_events_check_accepts_a_revision_and_a_canceled_row(settings: TableSettings) -> None:
    start = datetime(2026, 8, 3, tzinfo=UTC)
    end = start + timedelta(days=1)
    kept = row(activity_type="CSD", net_amount="1000", status="executed")
    _sync(settings, kept)
    corrected = row(activity_type="CSD", net_amount="1250", status="correct")
    other = f"20260803150000000::{UUID}"
    canceled = row(activity_type="CSW", net_amount="-70", status="canceled", id=other)
    _sync(settings, corrected, canceled)
    from ledger_store.trades import TradeLedgerRepository

    view = read_account(
        TradeLedgerRepository(settings),
        AccountEventRepository(settings),
        ACCOUNT,
        start,
        end,
        prices={},
        ledger_id="l",
    ).view
    data = _data(start, end, activities=(corrected, canceled))
    check = check_events(data, view)
    assert check.status == "pass", check.message
    assert "1 canceled by Alpaca and not booked" in check.message


def _data(start: datetime, end: datetime, **fields: Any) -> AlpacaData:
    """The period's Alpaca data with nothing but ``fields`` (orders, activities)."""
    empty = {"positions": (), "orders": (), "fees": (), "filled_order_ids": (), "equity": ()}
    window = {"period_start": start, "period_end": end}
    bounds = {"fee_window_start": start, "fee_window_end": end}
    data: AlpacaData = alpaca_data(**window, **bounds, **{**empty, **fields})
    return data


# Quantities ----------------------------------------------------------------------------------


def test_a_dividend_on_a_fractional_holding_keeps_alpacas_quantity() -> None:
    dividend = row(
        activity_type="DIV",
        symbol="AAPL",
        net_amount="48.47",
        qty="201.9617035750071243",
        per_share_amount="0.24",
        status="executed",
    )
    (event,) = events_from_activities(ACCOUNT, [dividend]).events
    assert isinstance(event, Dividend)
    assert event.qty == Decimal("201.9617035750071243")
    assert event.amount == Decimal("48.47")


def test_a_fractional_reverse_split_is_recovered_exactly() -> None:
    """Alpaca's 1:6 reverse split of 7 shares: 7 out, 1.166666667 in."""
    rows = [
        row(activity_type="SSP", symbol="XYZ", qty="-7", id=f"20260803120000000::{UUID}"),
        row(
            activity_type="SSP",
            symbol="XYZ",
            qty="1.166666667",
            id="20260803120000001::6a596936-6f23-4cef-bdf1-3806aae57dbf",
        ),
    ]
    (split,) = events_from_activities(ACCOUNT, rows).events
    assert isinstance(split, Split)
    assert (split.ratio_new, split.ratio_old) == (1, 6)


# Orders and history ----------------------------------------------------------------------------


def test_a_multi_leg_parent_is_counted_by_its_legs_only() -> None:
    """Alpaca's documented filled multi-leg order (a contract fixture, verbatim): the parent's
    ``""`` asset id reads as absent, and the fills check counts its two legs, not the parent
    (whose quantity is one combination)."""
    raw = json.loads(MULTI_LEG_FIXTURE.read_text(encoding="utf-8"))["body"]
    assert (raw["asset_id"], raw["order_class"], len(raw["legs"])) == ("", "mleg", 2)
    parent = AlpacaOrder.from_api(raw)
    assert (parent.asset_id, parent.symbol, parent.side) == (None, None, None)
    assert all(leg.order_class == "mleg" for leg in parent.legs)
    start = parent.submitted_at.replace(hour=0, minute=0, second=0, microsecond=0)
    filled = filled_in_period(_data(start, start + timedelta(days=1), orders=(parent,)))
    assert sorted(filled) == sorted(leg.id for leg in parent.legs)
    assert parent.id not in filled


def test_a_portfolio_history_in_milliseconds_reads_as_in_seconds() -> None:
    seconds = {"timestamp": [1580826600, 1580827500], "equity": [27423.73, 27408.19]}
    millis = {**seconds, "timestamp": [1580826600000, 1580827500000]}
    for raw in (seconds, millis):
        points = equity_points_from_api({**raw, "profit_loss": [0, -15.54]})
        assert [p.timestamp for p in points] == [
            datetime(2020, 2, 4, 14, 30, tzinfo=UTC),
            datetime(2020, 2, 4, 14, 45, tzinfo=UTC),
        ]
    with pytest.raises(ValueError, match="mix seconds and milliseconds"):
        equity_points_from_api({**seconds, "timestamp": [1580826600, 1580827500000]})


# Market data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["{}", "[]", "null", '{"bars": null}', '{"bars": 5}'])
def test_every_shape_of_a_bars_answer_is_a_typed_error(fake: FakeAlpaca, body: str) -> None:
    start = datetime(2026, 8, 3, tzinfo=UTC)
    fake.inject("/v2/stocks/bars", body=body, times=1)
    with (
        source(fake, equity_lookback_days=0, benchmark_symbol="SPY") as alpaca,
        pytest.raises(AlpacaResponseError, match="get_stock_bars"),
    ):
        alpaca.fetch(start, start + timedelta(days=1))


def test_an_endless_page_token_stops_at_the_deadline_with_its_worker(fake: FakeAlpaca) -> None:
    """A bars answer that always names a next page: the fetch fails typed at its deadline, and
    no request leaves after it (the worker used to go on, ~500 requests a second)."""
    start = datetime(2026, 8, 3, tzinfo=UTC)
    endless = '{"bars": {"SPY": []}, "next_page_token": "again"}'
    fake.inject("/v2/stocks/bars", body=endless, times=1_000_000)
    retry = RetryPolicy(max_attempts=1, request_timeout=2.0, deadline=1.5)
    alpaca = source(fake, retry=retry, equity_lookback_days=0, benchmark_symbol="SPY")
    with pytest.raises(AlpacaUnavailableError, match="get_stock_bars"):
        alpaca.fetch(start, start + timedelta(days=1))
    during = len(fake.requests("/v2/stocks/bars"))
    time.sleep(0.5)  # any request already on the wire lands meanwhile
    settled = len(fake.requests("/v2/stocks/bars"))
    time.sleep(1.0)
    alpaca.close()
    time.sleep(0.5)
    assert during > 1  # it did page
    assert settled - during <= 1  # at most the request in flight at the deadline
    assert len(fake.requests("/v2/stocks/bars")) == settled  # none after it
    fake.clear_faults()
