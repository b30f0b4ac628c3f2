"""The fake Alpaca server: the account it derives from a history, and the REST contract it serves.

Raw HTTP goes through ``urllib`` (not the code under test); the SDK-level checks use the real
alpaca-py ``TradingClient`` with its own models, so the fake is held to what alpaca-py parses.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.dto import Side
from snapshots.demo.history import generate_history
from snapshots.fake_alpaca.broker import (
    FakeAccount,
    TradingCycle,
    bulk_fee_activities,
    bulk_orders,
)
from snapshots.fake_alpaca.server import (
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    FakeAlpaca,
    parse_query_time,
    running_fake_alpaca,
)
from snapshots.fake_alpaca.shapes import NEW_YORK, FakeActivity, epoch_ns, format_ns

pytestmark = pytest.mark.filterwarnings("ignore:websockets.legacy is deprecated:DeprecationWarning")

ACCOUNT_ID = "6f1c3b1e-6d3a-4c59-9f0e-3f6a2b8d9c10"
AUTH = {"APCA-API-KEY-ID": DEFAULT_KEY_ID, "APCA-API-SECRET-KEY": DEFAULT_SECRET_KEY}
NINE_DIGITS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$")


@pytest.fixture(scope="module")
def cycles() -> list[TradingCycle]:
    return generate_history()


@pytest.fixture(scope="module")
def history_account(cycles: list[TradingCycle]) -> FakeAccount:
    return FakeAccount.from_history(cycles)


@pytest.fixture
def server(history_account: FakeAccount) -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(history_account) as fake:
        yield fake
        assert fake.handler_errors == []


class Answer:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.text = body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.text)


def get(
    server: FakeAlpaca,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    headers: Mapping[str, str] = AUTH,
    method: str = "GET",
) -> Answer:
    url = server.base_url + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers=dict(headers), method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, dict(error.headers), error.read())


def account_with(**fields: Any) -> FakeAccount:
    return FakeAccount(
        account_id=ACCOUNT_ID, account_number="PA0TEST", cash=Decimal(1000), **fields
    )


# The account derived from a history ----------------------------------------------------------


def test_one_filled_order_per_fill_and_fill_activities_that_add_up_to_it(
    cycles: list[TradingCycle], history_account: FakeAccount
) -> None:
    fills = {f.order_id: f for c in cycles for f in c.fills}
    filled = {o.id: o for o in history_account.orders if o.status == "filled"}
    assert filled.keys() == fills.keys()
    for order_id, fill in fills.items():
        order = filled[order_id]
        assert order.symbol == fill.symbol
        assert order.side == fill.side.value.lower()
        assert order.type == fill.order_type.value
        assert order.qty == order.filled_qty == fill.qty
        assert order.filled_avg_price == fill.price
        assert order.filled_at == fill.filled_at
        assert fill.filled_at - timedelta(seconds=1) < order.submitted_at < fill.filled_at
        assert (order.limit_price is not None) == (fill.order_type.value == "limit")
    fill_rows = history_account.fill_activities
    assert {row.fields["order_id"] for row in fill_rows} == set(fills)
    assert len({row.id for row in fill_rows}) == len(fill_rows)
    by_order: dict[str, list[FakeActivity]] = {}
    for row in sorted(fill_rows, key=lambda r: r.created_ns):
        by_order.setdefault(str(row.fields["order_id"]), []).append(row)
    # Partial fills: some orders in two or three executions, each its own row.
    assert Counter(len(rows) for rows in by_order.values()).keys() >= {1, 2, 3}
    for order_id, rows in by_order.items():
        fill = fills[order_id]
        quantities = [Decimal(r.fields["qty"]) for r in rows]
        assert sum(quantities) == fill.qty
        assert all(q > 0 for q in quantities)
        assert [Decimal(r.fields["cum_qty"]) for r in rows] == list(
            itertools.accumulate(quantities)
        )
        assert Decimal(rows[-1].fields["leaves_qty"]) == 0
        assert [r.fields["type"] for r in rows] == ["partial_fill"] * (len(rows) - 1) + ["fill"]
        assert [r.fields["order_status"] for r in rows][:-1] == ["partially_filled"] * (
            len(rows) - 1
        )
        assert rows[-1].created_at == fill.filled_at
        assert sum(
            q * Decimal(r.fields["price"]) for q, r in zip(quantities, rows, strict=True)
        ) == (fill.qty * fill.price)


def test_unfilled_orders_are_included(history_account: FakeAccount) -> None:
    statuses = Counter(order.status for order in history_account.orders)
    # A canceled limit buy and a canceled option combination; an open limit sell and a
    # bracket; a replaced order, its accepted replacement; a notional buy not yet routed.
    assert statuses["canceled"] == 2
    assert statuses["new"] == 2
    assert (statuses["replaced"], statuses["accepted"], statuses["pending_new"]) == (1, 1, 1)
    legs = Counter(leg.status for order in history_account.orders for leg in order.legs)
    assert legs == {"held": 2, "canceled": 2}
    canceled = next(o for o in history_account.orders if o.status == "canceled")
    assert canceled.filled_qty == 0
    assert canceled.canceled_at is not None
    assert canceled.canceled_at > canceled.submitted_at


def test_fee_rows_are_alpacas_daily_totals_of_the_fills_fees(
    cycles: list[TradingCycle], history_account: FakeAccount
) -> None:
    """As Alpaca's paper rows show: a CAT, a REG and a TAF row per trade day (New York), no
    symbol or quantity, posted just after the next UTC midnight, dated and identified by the
    trade day; together they are the day's fills' fees."""
    fills = [f for c in cycles for f in c.fills if f.fees > 0]
    assert fills
    by_day: dict[Any, Decimal] = defaultdict(Decimal)
    for fill in fills:
        by_day[fill.filled_at.astimezone(NEW_YORK).date()] += fill.fees
    rows = history_account.fee_activities
    for row in rows:
        assert Decimal(row.fields["net_amount"]) < 0
        assert row.fields["activity_sub_type"] in ("CAT", "REG", "TAF")
        assert not {"symbol", "qty"} & set(row.fields)
        day = date.fromisoformat(row.fields["date"])
        assert row.id.startswith(f"{day:%Y%m%d}000000000::")
        assert row.created_at.date() == day + timedelta(days=1)
        assert row.created_at.time() < time(0, 30)
    posted: dict[Any, Decimal] = defaultdict(Decimal)
    for row in rows:
        posted[date.fromisoformat(row.fields["date"])] -= Decimal(row.fields["net_amount"])
    assert posted == by_day
    assert len({(r.fields["date"], r.fields["activity_sub_type"]) for r in rows}) == len(rows)


def test_cash_positions_and_equity_are_consistent(
    cycles: list[TradingCycle], history_account: FakeAccount
) -> None:
    fills = [f for c in cycles for f in c.fills]
    buys = sum((f.notional for f in fills if f.side is Side.BUY), Decimal(0))
    sells = sum((f.notional for f in fills if f.side is Side.SELL), Decimal(0))
    fees = sum((f.fees for f in fills), Decimal(0))
    assert history_account.cash == Decimal(100_000) - buys + sells - fees

    net: dict[str, Decimal] = defaultdict(Decimal)
    last_price: dict[str, Decimal] = {}
    for fill in sorted(fills, key=lambda f: f.filled_at):
        net[fill.symbol] += fill.qty if fill.side is Side.BUY else -fill.qty
        last_price[fill.symbol] = fill.price
    held = {symbol: qty for symbol, qty in net.items() if qty != 0}
    positions = {p.symbol: p for p in history_account.positions}
    assert {s: p.qty for s, p in positions.items()} == held
    for symbol, position in positions.items():
        assert position.current_price == last_price[symbol]
        assert position.market_value == position.qty * last_price[symbol]
        assert abs(position.avg_entry_price * position.qty - position.cost_basis) < Decimal("0.01")
    market = sum((p.market_value for p in positions.values()), Decimal(0))
    assert history_account.equity == history_account.cash + market

    series = history_account.equity_series
    assert len(series) == len(cycles)
    assert [s.timestamp.date() for s in series] == [c.start.date() for c in cycles]
    for sample in series:
        assert sample.profit_loss == Decimal(str(sample.equity)) - Decimal(100_000)


def test_from_history_is_deterministic(cycles: list[TradingCycle]) -> None:
    first = FakeAccount.from_history(cycles)
    second = FakeAccount.from_history(list(reversed(cycles)))
    assert first == second


# The REST contract ---------------------------------------------------------------------------


def test_the_real_sdk_parses_every_endpoint(server: FakeAlpaca) -> None:
    from alpaca.common.enums import Sort
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderStatus, QueryOrderStatus
    from alpaca.trading.requests import (
        GetOrderByIdRequest,
        GetOrdersRequest,
        GetPortfolioHistoryRequest,
    )

    client = TradingClient(DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, url_override=server.base_url)
    account = client.get_account()
    assert str(account.id) == ACCOUNT_ID
    assert Decimal(account.cash) == server.account.cash
    assert Decimal(account.equity) == server.account.equity

    positions = client.get_all_positions()
    assert [p.symbol for p in positions] == sorted(p.symbol for p in server.account.positions)
    assert all(isinstance(p.qty, str) for p in positions)

    orders = client.get_orders(
        GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500, direction=Sort.ASC, nested=True)
    )
    assert len(orders) == len(server.account.orders)
    assert {o.status for o in orders} == {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.NEW,
        OrderStatus.REPLACED,
        OrderStatus.ACCEPTED,
        OrderStatus.PENDING_NEW,
    }
    assert {leg.status for o in orders for leg in o.legs or ()} == {
        OrderStatus.HELD,
        OrderStatus.CANCELED,
    }
    by_id = client.get_order_by_id(orders[0].id, GetOrderByIdRequest(nested=True))
    assert by_id.id == orders[0].id

    history = client.get_portfolio_history(GetPortfolioHistoryRequest(period="1A", timeframe="1D"))
    assert len(history.timestamp) == len(server.account.equity_series)
    assert all(isinstance(value, float) for value in history.equity)


def test_money_is_strings_and_timestamps_have_nine_digits(server: FakeAlpaca) -> None:
    account = get(server, "/v2/account").json()
    for name in ("cash", "equity", "buying_power", "long_market_value", "initial_margin"):
        assert isinstance(account[name], str), name
    position = get(server, "/v2/positions").json()[0]
    for name in ("qty", "avg_entry_price", "market_value", "cost_basis", "unrealized_pl"):
        assert isinstance(position[name], str), name
    closed = get(server, "/v2/orders", {"status": "closed", "limit": 500}).json()
    order = next(o for o in closed if o["status"] == "filled")
    for name in ("qty", "filled_qty", "filled_avg_price"):
        assert isinstance(order[name], str), name
    for name in ("submitted_at", "created_at", "updated_at", "filled_at"):
        assert NINE_DIGITS.fullmatch(order[name]), order[name]
    fee = get(server, "/v2/account/activities/FEE", {"page_size": 1}).json()[0]
    assert isinstance(fee["net_amount"], str)
    assert Decimal(fee["net_amount"]) < 0
    assert re.fullmatch(r"\d{17}::[0-9a-f-]{36}", fee["id"])


def test_missing_or_wrong_keys_get_401_with_an_alpaca_error_body(server: FakeAlpaca) -> None:
    for headers in (
        {},
        {"APCA-API-KEY-ID": DEFAULT_KEY_ID},
        {"APCA-API-KEY-ID": DEFAULT_KEY_ID, "APCA-API-SECRET-KEY": "wrong"},
        {"APCA-API-KEY-ID": "other", "APCA-API-SECRET-KEY": DEFAULT_SECRET_KEY},
    ):
        answer = get(server, "/v2/account", headers=headers)
        assert answer.status == 401
        assert answer.json() == {"code": 40110000, "message": "request is not authorized"}


def test_unknown_paths_and_methods_get_json_errors(server: FakeAlpaca) -> None:
    missing = get(server, "/v2/nothing-here")
    assert missing.status == 404
    assert set(missing.json()) == {"code", "message"}
    assert get(server, "/account").status == 404  # no /v2 prefix
    assert get(server, "/v2/orders", method="DELETE").status == 405
    unknown_order = get(server, "/v2/orders/00000000-0000-0000-0000-000000000000")
    assert unknown_order.status == 404


def test_every_answer_carries_rate_limit_headers(server: FakeAlpaca) -> None:
    first = get(server, "/v2/account")
    second = get(server, "/v2/account", headers={})
    for answer in (first, second):
        assert answer.headers["X-Ratelimit-Limit"] == "200"
        assert int(answer.headers["X-Ratelimit-Reset"]) > 0
    assert int(second.headers["X-Ratelimit-Remaining"]) < 200


@pytest.fixture
def bulk_server() -> Iterator[FakeAlpaca]:
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    orders = bulk_orders(620, start, per_instant=2, spacing=timedelta(seconds=1))
    with running_fake_alpaca(account_with(orders=orders)) as fake:
        yield fake


def test_orders_limit_defaults_to_50_and_is_capped_at_500(bulk_server: FakeAlpaca) -> None:
    assert len(get(bulk_server, "/v2/orders", {"status": "all"}).json()) == 50
    assert len(get(bulk_server, "/v2/orders", {"status": "all", "limit": 9999}).json()) == 500
    assert get(bulk_server, "/v2/orders", {"limit": 0}).status == 422
    assert get(bulk_server, "/v2/orders", {"limit": "x"}).status == 422


def test_orders_status_filter_and_default(history_account: FakeAccount, server: FakeAlpaca) -> None:
    open_orders = get(server, "/v2/orders").json()  # default: open; legs beside their parent
    assert sorted(o["status"] for o in open_orders) == [
        "accepted", "held", "held", "new", "new", "pending_new"
    ]  # fmt: skip
    closed = get(server, "/v2/orders", {"status": "closed", "limit": 500}).json()
    assert {o["status"] for o in closed} == {"filled", "canceled", "replaced"}
    every = [o for parent in history_account.orders for o in (parent, *parent.legs)]
    assert len(closed) + len(open_orders) == len(every)
    assert get(server, "/v2/orders", {"status": "bogus"}).status == 422


def test_orders_after_and_until_are_exclusive_on_submission_time(bulk_server: FakeAlpaca) -> None:
    everything = get(bulk_server, "/v2/orders", {"status": "all", "limit": 500, "direction": "asc"})
    rows = everything.json()
    pivot = rows[10]["submitted_at"]  # shared by rows 10 and 11 (two per instant)
    assert rows[11]["submitted_at"] == pivot
    after = get(
        bulk_server, "/v2/orders", {"status": "all", "after": pivot, "direction": "asc"}
    ).json()
    assert after[0]["submitted_at"] > pivot
    until = get(
        bulk_server, "/v2/orders", {"status": "all", "until": pivot, "direction": "desc"}
    ).json()
    assert until[0]["submitted_at"] < pivot
    one_ns_earlier = format_ns(parse_query_time(pivot) - 1)
    just_after = get(
        bulk_server, "/v2/orders", {"status": "all", "after": one_ns_earlier, "direction": "asc"}
    ).json()
    assert [o["id"] for o in just_after[:2]] == [rows[10]["id"], rows[11]["id"]]


def test_orders_direction_symbols_and_side(
    history_account: FakeAccount, server: FakeAlpaca
) -> None:
    asc = get(server, "/v2/orders", {"status": "all", "limit": 500, "direction": "asc"}).json()
    desc = get(server, "/v2/orders", {"status": "all", "limit": 500}).json()
    assert [o["id"] for o in desc] == [o["id"] for o in reversed(asc)]
    assert [o["submitted_at"] for o in asc] == sorted(o["submitted_at"] for o in asc)
    only = get(
        server,
        "/v2/orders",
        {"status": "all", "limit": 500, "symbols": "AAPL,MSFT", "side": "sell"},
    ).json()
    expected = [
        o
        for parent in history_account.orders
        for o in (parent, *parent.legs)
        if o.symbol in ("AAPL", "MSFT") and o.side == "sell"
    ]
    assert only
    assert len(only) == len(expected)
    assert {(o["symbol"], o["side"]) for o in only} <= {("AAPL", "sell"), ("MSFT", "sell")}


def test_activities_page_by_token_in_id_order(
    history_account: FakeAccount, server: FakeAlpaca
) -> None:
    expected = sorted(a.id for a in history_account.fee_activities)
    assert len(expected) > 100
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"direction": "asc", "page_size": 7}
        if token:
            params["page_token"] = token
        page = get(server, "/v2/account/activities/FEE", params).json()
        seen.extend(row["id"] for row in page)
        if len(page) < 7:
            break
        token = page[-1]["id"]
    assert seen == expected

    capped = get(server, "/v2/account/activities/FEE", {"page_size": 1000}).json()
    assert len(capped) == 100
    assert [row["id"] for row in capped] == expected[::-1][:100]  # default: descending


def test_activities_filter_by_type_and_time(
    history_account: FakeAccount, server: FakeAlpaca
) -> None:
    both = get(
        server, "/v2/account/activities", {"activity_types": "FILL,FEE", "direction": "asc"}
    ).json()
    assert {row["activity_type"] for row in both} == {"FILL", "FEE"}
    fills = get(server, "/v2/account/activities/FILL", {"page_size": 100}).json()
    assert {row["activity_type"] for row in fills} == {"FILL"}
    assert all(isinstance(row["qty"], str) and isinstance(row["price"], str) for row in fills)

    day = "2026-08-05"
    rows = get(server, "/v2/account/activities/FEE", {"date": day}).json()
    assert rows
    assert {row["date"] for row in rows} == {day}
    created = sorted(a.created_ns for a in history_account.fee_activities)
    after = format_ns(created[0])
    rest = get(server, "/v2/account/activities/FEE", {"after": after, "page_size": 100}).json()
    assert all(parse_query_time(row["created_at"]) > created[0] for row in rest)
    assert get(server, "/v2/account/activities/FEE", {"page_token": "nope"}).status == 422


def test_portfolio_history_is_json_numbers_filtered_by_start_and_end(
    history_account: FakeAccount, server: FakeAlpaca
) -> None:
    start, end = "2026-08-10T00:00:00Z", "2026-08-14T00:00:00Z"
    body = get(
        server, "/v2/account/portfolio/history", {"timeframe": "1D", "start": start, "end": end}
    ).json()
    days = [datetime.fromtimestamp(t, UTC).date() for t in body["timestamp"]]
    assert days == [date(2026, 8, d) for d in (10, 11, 12, 13, 14)]
    assert all(isinstance(v, float) for v in body["equity"] + body["profit_loss"])
    assert len(body["equity"]) == len(body["profit_loss"]) == len(body["profit_loss_pct"]) == 5
    by_day = {s.timestamp.date(): s for s in history_account.equity_series}
    assert Decimal(str(body["equity"][0])) == by_day[date(2026, 8, 10)].equity
    bad = get(server, "/v2/account/portfolio/history", {"timeframe": "2Q"})
    assert bad.status == 422


# Fault injection and the request log ---------------------------------------------------------


def test_injected_errors_are_served_then_the_real_answer(server: FakeAlpaca) -> None:
    server.inject("/v2/account", status=503, times=2)
    server.inject("/v2/positions", status=429)
    answers = [get(server, "/v2/account") for _ in range(3)]
    assert [a.status for a in answers] == [503, 503, 200]
    assert answers[0].json() == {"code": 50310000, "message": "service unavailable"}
    limited = get(server, "/v2/positions")
    assert limited.status == 429
    assert limited.headers["X-Ratelimit-Remaining"] == "0"
    assert get(server, "/v2/positions").status == 200
    log = server.requests("/v2/")
    assert [(r.method, r.path) for r in log] == [("GET", "/v2/account")] * 3 + [
        ("GET", "/v2/positions")
    ] * 2


def test_injected_body_is_sent_verbatim(server: FakeAlpaca) -> None:
    server.inject("/v2/account", body="<html>gateway</html>", status=502)
    answer = get(server, "/v2/account")
    assert answer.status == 502
    assert answer.text == "<html>gateway</html>"


def test_request_log_records_query_parameters(server: FakeAlpaca) -> None:
    get(server, "/v2/orders", {"status": "all", "limit": 5, "after": "2026-08-04T00:00:00Z"})
    (logged,) = server.requests("/v2/orders")
    assert logged.query == {"status": "all", "limit": "5", "after": "2026-08-04T00:00:00Z"}
    server.clear_requests()
    assert server.requests() == []


def test_a_hanging_request_times_out_and_stop_releases_it(history_account: FakeAccount) -> None:
    with running_fake_alpaca(history_account) as fake:
        fake.inject("/v2/account", delay=60)
        request = urllib.request.Request(fake.base_url + "/v2/account", headers=AUTH)
        with pytest.raises((TimeoutError, urllib.error.URLError, socket.timeout)):
            urllib.request.urlopen(request, timeout=0.2)
        assert len(fake.requests("/v2/account")) == 1
        address = fake.base_url.removeprefix("http://").split(":")
    # stopped (the delayed handler was released, or this would still be waiting): port closed
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((address[0], int(address[1])), 1),
    ):
        pass


def test_inject_rejects_meaningless_faults(server: FakeAlpaca) -> None:
    with pytest.raises(ValueError, match="times"):
        server.inject("/v2/account", status=500, times=0)
    with pytest.raises(ValueError, match="a status, a delay, a body, a trickle or endless"):
        server.inject("/v2/account")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-08-03T14:30:00.000137500Z", "2026-08-03T14:30:00.000137500Z"),
        ("2026-08-03T14:30:00Z", "2026-08-03T14:30:00.000000000Z"),
        ("2026-08-03T10:30:00.5-04:00", "2026-08-03T14:30:00.500000000Z"),
        ("2026-08-03T16:30:00+02:00", "2026-08-03T14:30:00.000000000Z"),
        ("2026-08-03T16:30:00 02:00", "2026-08-03T14:30:00.000000000Z"),  # unescaped '+'
        ("2026-08-03", "2026-08-03T00:00:00.000000000Z"),
    ],
)
def test_query_timestamps_parse_to_nanoseconds(text: str, expected: str) -> None:
    assert format_ns(parse_query_time(text)) == expected


def test_epoch_ns_keeps_sub_microsecond_digits() -> None:
    moment = datetime(2026, 8, 3, 14, 30, 0, 137, tzinfo=UTC)
    assert format_ns(epoch_ns(moment, 500)) == "2026-08-03T14:30:00.000137500Z"
    with pytest.raises(ValueError, match="naive"):
        epoch_ns(datetime(2026, 8, 3))  # noqa: DTZ001 - naive on purpose


def test_bulk_fee_activities_have_distinct_ids() -> None:
    rows = bulk_fee_activities(250, datetime(2026, 3, 3, 8, tzinfo=UTC))
    assert len({row.id for row in rows}) == 250
