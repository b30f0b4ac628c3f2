"""The adapter against Alpaca's real response bodies, not the fake's.

``tests/contract/alpaca/payloads/<endpoint>/*.json`` holds bodies published by Alpaca (its
OpenAPI specifications and documentation examples), by alpaca-py's and other clients' test
suites and by issues quoting raw JSON, each verbatim under ``body`` with its ``source``
(repository, path, commit or URL, and where in it). Every body of a route the adapter reads
goes through its own parsers (the Broker API's ``/v1/events/nta`` stream, another schema, is
kept for what its rows show); real account state is served verbatim to alpaca-py by a local
server and taken through a whole snapshot on both engines, integrity checks included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import Side, TradeFill
from ledger_store.trades import TradeLedgerRepository
from snapshots.alpaca.activities import events_from_activities
from snapshots.alpaca.models import (
    CASH_TYPES,
    DIVIDEND_TYPES,
    AccountActivityV16,
    AlpacaAccount,
    AlpacaOrder,
    AlpacaPosition,
    FeeActivity,
    closes_from_api,
    equity_points_from_api,
    is_booked,
    is_coin_fee,
)
from snapshots.alpaca.source import AlpacaSource
from snapshots.builder import build_snapshot
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import (
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    FakeAlpaca,
    running_fake_alpaca,
)
from snapshots.integrity import FILLS_CHECK, POSITIONS_CHECK
from snapshots.schema import CheckStatus, verify
from tests.builders import ROOT
from tests.snapshots.alpaca.test_alpaca_source import FAST, Sleeps

pytestmark = pytest.mark.filterwarnings("ignore:websockets.legacy is deprecated:DeprecationWarning")

PAYLOADS = ROOT / "tests" / "contract" / "alpaca" / "payloads"
SOURCE_KINDS = {
    "alpaca-py test",
    "openapi spec",
    "alpaca docs",
    "github issue",
    "forum",
    "other public repo",
}


def payloads(endpoint: str | None = None) -> list[Path]:
    folder = PAYLOADS if endpoint is None else PAYLOADS / endpoint
    return sorted(folder.rglob("*.json"))


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.stem}" for p in paths]


def test_at_least_forty_distinct_real_payloads_cover_every_endpoint_called() -> None:
    found = payloads()
    bodies = {json.dumps(load(p)["body"], sort_keys=True) for p in found}
    assert len(found) >= 40
    assert len(bodies) == len(found)  # distinct, not the same body twice
    folders = {p.parent.name for p in found}
    assert folders >= {"account", "positions", "orders", "portfolio_history", "stock_bars"}


@pytest.mark.parametrize("path", payloads(), ids=ids(payloads()))
def test_every_payload_names_its_source(path: Path) -> None:
    document = load(path)
    assert set(document) == {"source", "endpoint", "body"}
    source = document["source"]
    assert source["kind"] in SOURCE_KINDS
    # A page or a file's address; a body found in the public code index without its
    # repository says so in its locator and note.
    assert source["url"] is None or str(source["url"]).startswith("https://")
    assert source["locator"]
    assert source["url"] or source["repository"] or "code index" in source["locator"]
    assert str(document["endpoint"]).split(" ")[0] in {"GET", "POST", "DELETE", "PATCH"}


# Every body through the adapter's parsers ----------------------------------------------------


def _objects(body: Any) -> list[Mapping[str, Any]]:
    """The objects of an answer: an array's items, or the one object."""
    items = body if isinstance(body, list) else [body]
    assert all(isinstance(item, Mapping) for item in items)
    return items


def _orders_in(body: Any) -> list[Mapping[str, Any]]:
    """Order objects, also inside ``DELETE /v2/positions``'s ``{symbol, status, body}`` entries
    (the orders of the entries whose status is 200; the others carry an error)."""
    orders = []
    for item in _objects(body):
        if "body" in item and "status" in item:
            if item["status"] == 200:
                orders.append(item["body"])
        else:
            orders.append(item)
    return orders


def _positions_in(body: Any) -> list[Mapping[str, Any]]:
    if isinstance(body, Mapping) and "positions" in body:  # the broker's all-accounts route
        return [p for per_account in body["positions"].values() for p in per_account]
    return list(_objects(body))


@pytest.mark.parametrize("path", payloads("account"), ids=ids(payloads("account")))
def test_an_account_body_parses(path: Path) -> None:
    body = load(path)["body"]
    account = AlpacaAccount.from_api(body)
    assert account.id == body["id"]
    for name in ("cash", "equity", "long_market_value", "short_market_value"):
        assert getattr(account, name) == Decimal(str(body[name])), name


@pytest.mark.parametrize("path", payloads("positions"), ids=ids(payloads("positions")))
def test_a_positions_body_parses(path: Path) -> None:
    for raw in _positions_in(load(path)["body"]):
        position = AlpacaPosition.from_api(raw)
        assert position.symbol == raw["symbol"]
        assert position.qty == Decimal(str(raw["qty"]))
        if raw.get("side") == "short":
            assert position.qty < 0


@pytest.mark.parametrize("path", payloads("orders"), ids=ids(payloads("orders")))
def test_an_orders_body_parses(path: Path) -> None:
    for raw in _orders_in(load(path)["body"]):
        order = AlpacaOrder.from_api(raw)
        assert order.id == raw["id"]
        for name in ("qty", "filled_qty", "filled_avg_price"):  # strings or JSON numbers
            if raw.get(name) is not None:
                assert getattr(order, name) == Decimal(str(raw[name])), name
        assert len(order.legs) == len(raw.get("legs") or [])
        if raw.get("order_class") == "mleg" and raw.get("legs"):
            assert order.asset_id is None  # Alpaca's "" on the combination


@pytest.mark.parametrize(
    "path", payloads("portfolio_history"), ids=ids(payloads("portfolio_history"))
)
def test_a_portfolio_history_body_parses(path: Path) -> None:
    body = load(path)["body"]
    points = equity_points_from_api(body)
    assert len(points) == len(body["timestamp"])
    # Seconds or milliseconds, every sample lands in this century.
    assert all(2000 <= p.timestamp.year <= 2100 for p in points)


@pytest.mark.parametrize(
    "path",
    payloads("stock_bars") + payloads("crypto_bars"),
    ids=ids(payloads("stock_bars") + payloads("crypto_bars")),
)
def test_a_bars_body_parses(path: Path) -> None:
    body = load(path)["body"]
    bars = body["bars"]
    by_symbol = {body["symbol"]: bars} if isinstance(bars, list) else bars
    for symbol, rows in by_symbol.items():
        closes = closes_from_api(by_symbol, symbol)
        assert len(closes) == len({datetime.fromisoformat(r["t"]).date() for r in rows})


def rest_activities() -> list[Path]:
    """Activity rows of the REST routes (the Broker API's ``/v1/events/nta`` stream, a
    different schema, is kept for what its rows show, not parsed as rows)."""
    return [p for p in payloads("activities") if "/activities" in load(p)["endpoint"]]


@pytest.mark.parametrize("path", rest_activities(), ids=ids(rest_activities()))
def test_an_activities_body_parses(path: Path) -> None:
    for raw in _objects(load(path)["body"]):
        kind = raw["activity_type"]
        if kind == "FILL":
            assert raw.get("transaction_time")
            continue
        parser = FeeActivity.from_api if kind == "FEE" else AccountActivityV16.from_api
        activity = parser(raw)
        assert activity.created_at.tzinfo is not None
        if isinstance(activity, AccountActivityV16) and _maps_to_an_event(activity):
            # A row of a type the adapter maps becomes its event, under the row's id.
            mapped = events_from_activities("contract", [activity])
            assert [e.event_id for e in mapped.events] == [activity.id], (path.name, raw)


def _maps_to_an_event(row: AccountActivityV16) -> bool:
    """Booked, of a mapped type, with what its event needs (an amount; a dividend's symbol)."""
    if not is_booked(row):
        return False
    if row.activity_type in CASH_TYPES:
        return bool(row.net_amount)
    if row.activity_type in DIVIDEND_TYPES:
        return bool(row.net_amount and row.symbol)
    if row.activity_type == "OPEXP":
        return bool(row.symbol and row.qty)
    return is_coin_fee(row)


# Real account state through a whole snapshot ---------------------------------------------------


def _replayed_snapshot(
    replay: FakeAlpaca,
    ledger: TradeLedgerRepository,
    start: datetime,
    end: datetime,
    routes: Mapping[str, Any],
) -> Any:
    """Serve each route's real body verbatim (longest route first) and take the period's
    snapshot through alpaca-py and the builder."""
    for route in sorted(routes, key=len, reverse=True):
        replay.inject(route, body=json.dumps(routes[route]), times=1_000)
    with AlpacaSource(
        api_key=DEFAULT_KEY_ID,
        secret_key=DEFAULT_SECRET_KEY,
        base_url=replay.base_url,
        retry=FAST,
        sleep=Sleeps(),
        environ={},
        equity_lookback_days=0,
    ) as alpaca:
        return build_snapshot(
            account_id=routes["/v2/account"]["id"],
            period_start=start,
            period_end=end,
            correlation_id="contract",
            alpaca=alpaca,
            ledger=ledger,
            hmac_key=None,
            clock=lambda: datetime(2030, 1, 1, tzinfo=UTC),
        )


@pytest.fixture
def replay() -> Iterator[FakeAlpaca]:
    """A server that answers each route with a real body (set per test)."""
    empty = FakeAccount(account_id="0" * 8, account_number="", cash=0)  # type: ignore[arg-type]
    with running_fake_alpaca(empty) as server:
        yield server


ACCOUNT_FIXTURE = PAYLOADS / "account" / "docs_get_account_response_example.json"
POSITIONS_FIXTURE = PAYLOADS / "positions" / "alpaca_py_get_all_positions_usd_block.json"
ORDERS_FIXTURE = PAYLOADS / "orders" / "docs_get_all_orders_crypto_eth_usd_pending_new.json"
HISTORY_FIXTURE = PAYLOADS / "portfolio_history" / "docs_daily_1d_seconds_no_base_value_asof.json"


def test_real_account_state_makes_a_sealed_snapshot_whose_checks_say_why(
    replay: FakeAlpaca, settings: TableSettings
) -> None:
    """Alpaca's documented account, positions, an order and a daily history, verbatim: the
    snapshot seals and verifies; each check's outcome is the one the README names for data
    of unrelated examples (an account the ledger never traded: positions untracked)."""
    account = load(ACCOUNT_FIXTURE)["body"]
    history = load(HISTORY_FIXTURE)["body"]
    first = datetime.fromtimestamp(history["timestamp"][0], UTC)
    last = datetime.fromtimestamp(history["timestamp"][-1], UTC)
    routes = {
        "/v2/account/portfolio/history": history,
        "/v2/account/activities": [],
        "/v2/orders": [load(ORDERS_FIXTURE)["body"]],
        "/v2/positions": load(POSITIONS_FIXTURE)["body"],
        "/v2/account": account,
    }
    end = last.replace(hour=23, minute=59, second=59)
    snapshot = _replayed_snapshot(replay, TradeLedgerRepository(settings), first, end, routes)
    verify(snapshot, None)
    checks = {check.name: check for check in snapshot.integrity_checks}
    assert snapshot.alpaca_account.id == account["id"]
    assert len(snapshot.equity_series) == len(history["timestamp"])
    assert checks[POSITIONS_CHECK].status is CheckStatus.WARN  # held, never traded in the ledger
    assert "never traded" in checks[POSITIONS_CHECK].message
    assert checks[FILLS_CHECK].status is CheckStatus.PASS  # the order is pending_new: no fill
    assert replay.handler_errors == []


def test_a_real_filled_order_recorded_by_the_bot_passes_the_fills_check(
    replay: FakeAlpaca, settings: TableSettings
) -> None:
    """Alpaca's published filled fractional order, recorded by the bot as its fill."""
    order = load(
        PAYLOADS / "orders" / "alpaca_docs_broker_order_estimation_filled_fractional.json"
    )["body"]
    account = load(ACCOUNT_FIXTURE)["body"]
    filled_at = datetime.fromisoformat(order["filled_at"])
    ledger = TradeLedgerRepository(settings)
    ledger.record(
        TradeFill(
            order_id=order["id"],
            account_id=account["id"],
            correlation_id="bot",
            symbol=order["symbol"],
            side=Side(order["side"].upper()),
            qty=order["filled_qty"],
            price=order["filled_avg_price"],
            filled_at=filled_at,
            strategy_allocation={"core": "1"},
        )
    )
    start = filled_at.replace(hour=0, minute=0, second=0, microsecond=0)
    routes = {
        "/v2/account/portfolio/history": {"timestamp": [], "equity": []},
        "/v2/account/activities": [],
        "/v2/orders": [order],
        "/v2/positions": [],
        "/v2/account": account,
    }
    end = start.replace(hour=23, minute=59, second=59)
    snapshot = _replayed_snapshot(replay, ledger, start, end, routes)
    checks = {check.name: check for check in snapshot.integrity_checks}
    assert checks[FILLS_CHECK].status is CheckStatus.PASS, checks[FILLS_CHECK].message
    # The ledger holds the bought shares; Alpaca's answer (served here) holds none.
    assert checks[POSITIONS_CHECK].status is CheckStatus.FAIL
