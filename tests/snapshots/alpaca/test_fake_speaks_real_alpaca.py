"""The fake Alpaca answers in Alpaca's real shapes (``tests/contract/alpaca/payloads``).

For each kind of object (account, position, order, activity of a type, portfolio history, bar)
every field the fake writes is one Alpaca's published bodies show for that kind, and every
field all of them carry the fake writes too; and the fake's account holds the shapes that broke
the adapter when only the fake was its truth: order classes and statuses, legs, notional orders,
numbers as JSON numbers, crypto positions and fees, daily fee totals, activity statuses, New
York ids, intraday and millisecond history.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.events import CashFlow
from snapshots.alpaca.models import AccountActivity, AlpacaOrder, equity_points_from_api
from snapshots.demo.history import generate_history
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import FakeAlpaca, running_fake_alpaca
from tests.builders import ROOT, make_fill
from tests.snapshots.alpaca.test_fake_alpaca import get as fetch

PAYLOADS = ROOT / "tests/contract/alpaca/payloads"
FIRST_DAY = datetime(2026, 8, 3, tzinfo=UTC)


def real(endpoint: str) -> list[dict[str, Any]]:
    """Every object of ``endpoint``'s committed real bodies (legs and nested lists opened)."""
    found: list[dict[str, Any]] = []

    def visit(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            if endpoint == "positions" and "positions" in value:
                visit(value["positions"])
                return
            found.append(value)
            if endpoint == "orders":
                visit(value.get("legs") or [])

    for path in sorted((PAYLOADS / endpoint).glob("*.json")):
        if not path.name.startswith("nta_event"):  # the Broker events API: another schema
            visit(json.loads(path.read_text(encoding="utf-8"))["body"])
    return found


#: What only the Broker API writes (some real examples are Broker rows; the fake is the
#: Trading API, which writes no account id on an activity).
BROKER_ONLY = frozenset({"account_id"})


def assert_speaks_like(fake: list[dict[str, Any]], alpaca: list[dict[str, Any]], what: str) -> None:
    """No field Alpaca never sends; every field Alpaca always sends."""
    assert fake, f"the fake served no {what}"
    assert alpaca, f"no real {what} to compare with"
    union = set().union(*(set(o) for o in alpaca))
    always = set.intersection(*(set(o) for o in alpaca)) - BROKER_ONLY
    for body in fake:
        assert set(body) <= union, f"{what}: fields Alpaca never sends: {set(body) - union}"
        assert always <= set(body), f"{what}: fields Alpaca always sends: {always - set(body)}"


def _cycles() -> list[TradingCycle]:
    """The demo's equity trading, a crypto round trip and a canceled deposit."""
    cycles = generate_history(first_day=FIRST_DAY.date(), days=4)
    at = FIRST_DAY + timedelta(days=1, hours=15)
    crypto = tuple(
        make_fill(
            order_id=f"7e0c4a1b-3d5f-4c2a-9b8e-00000000010{n}",
            account_id=cycles[0].fills[0].account_id,
            symbol="ETH/USD",
            side=side,
            qty=qty,
            price=price,
            filled_at=at + timedelta(minutes=n),
            strategy_allocation={"momentum": "1"},
        )
        for n, side, qty, price in ((1, "BUY", "0.1", "1884.5"), (2, "SELL", "0.05", "1902.25"))
    )
    window = TradingCycle("cycle-crypto", at, at + timedelta(minutes=5), crypto)
    return sorted([*cycles, window], key=lambda c: c.start)


@pytest.fixture(scope="module")
def account() -> FakeAccount:
    cycles = _cycles()
    deposit = CashFlow(
        event_id="deposit-1",
        account_id=cycles[0].fills[0].account_id,
        effective_at=FIRST_DAY - timedelta(hours=3),
        amount=Decimal(5000),
        source="CSD",
    )
    canceled = deposit.model_copy(update={"event_id": "deposit-2", "amount": Decimal(700)})
    return FakeAccount.from_history(
        cycles,
        events=(deposit, canceled),
        activity_status={"deposit-2": "canceled"},
        history_days=10,
        benchmark="SPY",
    )


@pytest.fixture(scope="module")
def server(account: FakeAccount) -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(account) as fake:
        yield fake
        assert fake.handler_errors == []


def get(server: FakeAlpaca, path: str, **params: Any) -> Any:
    answer = fetch(server, path, params)
    assert answer.status == 200, answer.body
    return answer.json()


# Field sets ------------------------------------------------------------------------------------


def test_the_account_has_alpacas_fields(server: FakeAlpaca) -> None:
    assert_speaks_like([get(server, "/v2/account")], real("account"), "account")


def test_positions_have_alpacas_fields(server: FakeAlpaca) -> None:
    assert_speaks_like(get(server, "/v2/positions"), real("positions"), "positions")


def test_orders_and_their_legs_have_alpacas_fields(server: FakeAlpaca) -> None:
    orders = get(server, "/v2/orders", status="all", nested="true", limit=500)
    served = [*orders, *(leg for o in orders for leg in o["legs"] or [])]
    # Alpaca's bodies of every shape: full orders only (a few examples quote a handful of fields)
    full = [o for o in real("orders") if {"id", "client_order_id", "submitted_at"} <= set(o)]
    assert_speaks_like(served, full, "orders")


def test_activities_of_each_type_have_alpacas_fields(server: FakeAlpaca) -> None:
    rows = get(server, "/v2/account/activities", direction="asc", page_size=100)
    token = rows[-1]["id"]
    while True:
        page = get(
            server, "/v2/account/activities", direction="asc", page_size=100, page_token=token
        )
        if not page:
            break
        rows += page
        token = page[-1]["id"]
    served: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        served[row["activity_type"]].append(row)
    alpaca: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in real("activities"):
        alpaca[row["activity_type"]].append(row)
    assert {"FILL", "FEE", "CFEE", "CSD"} <= set(served)
    for kind, bodies in served.items():
        # A crypto fee in the coin and one in dollars are two shapes of one type.
        if kind == "CFEE":
            for coin in (True, False):
                assert_speaks_like(
                    [b for b in bodies if ("qty" in b) is coin],
                    [b for b in alpaca[kind] if ("qty" in b) is coin],
                    f"CFEE rows ({'coin' if coin else 'dollars'})",
                )
            continue
        assert_speaks_like(bodies, alpaca[kind], f"{kind} rows")


def test_history_and_bars_have_alpacas_fields(server: FakeAlpaca, account: FakeAccount) -> None:
    history = get(server, "/v2/account/portfolio/history", period="1M", timeframe="1D")
    assert_speaks_like([history], real("portfolio_history"), "portfolio history")
    intraday = get(server, "/v2/account/portfolio/history", period="1W", timeframe="15Min")
    assert_speaks_like([intraday], real("portfolio_history"), "intraday portfolio history")
    bars = get(server, "/v2/stocks/bars", symbols="SPY", timeframe="1Day")
    answers = real("stock_bars")
    assert_speaks_like([bars], answers, "bars answers")
    real_bars = [
        bar
        for answer in answers
        for bar in (
            answer["bars"]
            if isinstance(answer["bars"], list)
            else [b for rows in answer["bars"].values() for b in rows]
        )
    ]
    assert_speaks_like(bars["bars"]["SPY"], real_bars, "bars")


# Shapes --------------------------------------------------------------------------------------


def date_only_id(row: dict[str, Any]) -> bool:
    """Alpaca's id of a daily row: its ``date``, a time of zeros, a UUID."""
    day = row["date"].replace("-", "")
    return re.fullmatch(rf"{day}000000000::[0-9a-f-]{{36}}", row["id"]) is not None


def test_orders_come_in_alpacas_classes_statuses_and_number_forms(server: FakeAlpaca) -> None:
    orders = get(server, "/v2/orders", status="all", nested="true", limit=500)
    every = [*orders, *(leg for o in orders for leg in o["legs"] or [])]
    assert {o["order_class"] for o in every} >= {"", "simple", "bracket", "mleg"}
    assert {o["status"] for o in every} >= {
        "filled", "canceled", "new", "held", "replaced", "accepted", "pending_new"
    }  # fmt: skip
    combo = next(o for o in orders if o["order_class"] == "mleg")
    assert (combo["symbol"], combo["side"], combo["asset_id"]) == ("", "", "")
    assert all(leg["asset_class"] == "us_option" and leg["ratio_qty"] for leg in combo["legs"])
    notional = next(o for o in orders if o["notional"] is not None)
    assert notional["qty"] is None
    assert isinstance(notional["notional"], str)
    replaced = next(o for o in orders if o["status"] == "replaced")
    (replacement,) = (o for o in orders if o["replaces"] == replaced["id"])
    # Quantities and prices as JSON numbers, as alpaca-py's own fixtures show them.
    assert isinstance(replacement["qty"], int)
    assert isinstance(replacement["limit_price"], float)
    crypto = [o for o in orders if o["asset_class"] == "crypto"]
    assert {o["symbol"] for o in crypto} == {"ETH/USD"}
    # Without ``nested`` the legs are orders of their own, as Alpaca serves them.
    flat = get(server, "/v2/orders", status="all", limit=500)
    assert len(flat) == len(every)
    assert all(o["legs"] is None for o in flat)
    # And every one of them is an order the adapter reads.
    for body in every:
        AlpacaOrder.from_api(body)


def test_crypto_positions_and_fees_are_as_alpaca_posts_them(
    server: FakeAlpaca, account: FakeAccount
) -> None:
    (eth,) = (p for p in get(server, "/v2/positions") if p["asset_class"] == "crypto")
    assert eth["symbol"] == "ETHUSD"  # the pair without its slash
    (real_usd,) = {frozenset(p["usd"]) for p in real("positions") if "usd" in p}
    assert set(eth["usd"]) == real_usd  # the dollar figures, as alpaca-py's fixtures show them
    assert eth["usd"]["market_value"] == eth["market_value"]
    # 0.1 bought, 0.00025 taken as the fee (0.25 %), 0.05 sold.
    assert Decimal(eth["qty"]) == Decimal("0.04975")
    fees = get(server, "/v2/account/activities/CFEE", direction="asc")
    coin, dollars = (
        [r for r in fees if "qty" in r],
        [r for r in fees if "qty" not in r],
    )
    assert [(r["symbol"], r["qty"], r["net_amount"]) for r in coin] == [("ETHUSD", "-0.00025", "0")]
    assert [r["net_amount"] for r in dollars] == ["-0.24"]  # 0.25 % of 95.1125
    assert all(date_only_id(r) for r in fees)
    for row in fees:
        AccountActivity.from_api(row)


def test_fee_rows_are_daily_totals_and_activity_statuses_are_alpacas(server: FakeAlpaca) -> None:
    fees = get(server, "/v2/account/activities/FEE", direction="asc")
    assert {r["activity_sub_type"] for r in fees} == {"CAT", "REG", "TAF"}
    # Alpaca writes an activity's time with up to 6 digits, trailing zeros dropped.
    assert all(re.fullmatch(r".*:\d\d(\.\d{1,6})?Z", r["created_at"]) for r in fees)
    assert all("symbol" not in r and date_only_id(r) for r in fees)
    assert len({(r["date"], r["activity_sub_type"]) for r in fees}) == len(fees)
    deposits = get(server, "/v2/account/activities/CSD", direction="asc")
    assert sorted(r["status"] for r in deposits) == ["canceled", "executed"]


def test_history_is_served_in_intraday_timeframes_and_in_milliseconds(
    account: FakeAccount,
) -> None:
    in_ms = account.__class__(**{**account.__dict__, "history_in_milliseconds": True})
    with running_fake_alpaca(in_ms) as fake:
        daily = get(fake, "/v2/account/portfolio/history", period="1M", timeframe="1D")
        intraday = get(fake, "/v2/account/portfolio/history", period="1W", timeframe="1H")
    assert all(t > 10**12 for t in daily["timestamp"])  # milliseconds, as Alpaca's example
    points = equity_points_from_api(daily)
    assert [p.timestamp for p in points] == [s.timestamp for s in in_ms.equity_series][
        -len(points) :
    ]
    hours = equity_points_from_api(intraday)
    assert len(hours) > len(points) / 4
    assert len({p.timestamp.date() for p in hours}) < len(hours)  # several samples a day
