"""Alpaca's crypto fees (``CFEE``) as Alpaca posts them: in the coin bought (an ``asset_fee``
that shrinks the ledger's lots, so its holding agrees with Alpaca's) or in dollars (a fee)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.events import AssetFee, parse_event
from snapshots.alpaca.activities import events_from_activities
from snapshots.alpaca.models import AccountActivityV16
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import FakeAlpaca, running_fake_alpaca
from snapshots.fake_alpaca.shapes import replayed_activity
from snapshots.integrity import check_positions
from snapshots.ledger.lots import run_lots
from snapshots.ledger.summary import summarize_account
from tests.builders import (
    PERIOD_START,
    ROOT,
    alpaca_data,
    alpaca_position,
    alpaca_uuid,
    at,
    attributions_of,
    strategy_fill,
)
from tests.snapshots.alpaca.test_history_and_benchmark import source

ACCOUNT = "acct-1"
PAYLOADS = ROOT / "tests/contract/alpaca/payloads/activities"


def _body(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))["body"]


def _fee(event_id: str, qty: str, *, seconds: int, symbol: str = "ETHUSD") -> AssetFee:
    data = {
        "kind": "asset_fee",
        "event_id": event_id,
        "account_id": ACCOUNT,
        "effective_at": at(seconds=seconds),
        "symbol": symbol,
        "qty": qty,
        "price": "1884.5",
        "source": "CFEE",
    }
    event = parse_event(data)
    assert isinstance(event, AssetFee)
    return event


# Mapping Alpaca's rows -------------------------------------------------------------------------


def test_alpacas_documented_coin_fee_is_an_asset_fee_event() -> None:
    """Alpaca's docs: ``CFEE`` "Coin Pair Transaction Fee (Non USD)", qty -0.000195 ETHUSD."""
    row = AccountActivityV16.from_api(_body("docs_crypto_cfee_non_usd_ethusd.json"))
    mapped = events_from_activities(ACCOUNT, [row])
    (event,) = mapped.events
    assert isinstance(event, AssetFee)
    assert (event.symbol, event.qty, event.price) == ("ETHUSD", Decimal("0.000195"), 1884.5)
    assert event.event_id == row.id
    assert mapped.unmapped == ()


def test_a_paper_accounts_crypto_fees_split_into_coin_fees_and_dollar_fees() -> None:
    """31 real paper rows: the coin fees become events, the dollar fees none (they are fees,
    read with the FEE rows), and nothing is left unmapped."""
    rows = [AccountActivityV16.from_api(r) for r in _body("live_paper_cfee_usd_and_coin_rows.json")]
    coin = [r for r in rows if r.qty is not None]
    mapped = events_from_activities(ACCOUNT, coin)
    assert len(mapped.events) == len(coin) == 16
    assert all(isinstance(e, AssetFee) and e.qty > 0 for e in mapped.events)
    assert mapped.unmapped == ()
    grt = sorted(e.qty for e in mapped.events if isinstance(e, AssetFee) and e.symbol == "GRTUSD")
    assert grt == [Decimal("0.695352298"), Decimal("12.743895"), Decimal("21.4465525")]


PAPER_ROWS = _body("live_paper_cfee_usd_and_coin_rows.json")


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    account = FakeAccount(
        account_id=alpaca_uuid(1),
        account_number="PA1",
        cash=Decimal(0),
        other_activities=tuple(replayed_activity(r) for r in PAPER_ROWS),
    )
    with running_fake_alpaca(account) as server:
        yield server
        assert server.handler_errors == []


def test_the_adapter_reads_coin_fees_as_activities_and_dollar_fees_as_fees(
    fake: FakeAlpaca,
) -> None:
    """Alpaca's paper rows served verbatim: the period's dollar fees are among the fees, its
    coin fees among the activities, each once."""
    rows = PAPER_ROWS
    start = PERIOD_START.replace(year=2026, month=9, day=28)
    with source(fake) as alpaca:
        data = alpaca.fetch(start, start + timedelta(days=2))
    dollars = [r for r in rows if "qty" not in r]
    coins = [r for r in rows if "qty" in r]
    assert sorted(f.id for f in data.fees) == sorted(r["id"] for r in dollars)
    assert sum(f.net_amount for f in data.fees) == sum(Decimal(r["net_amount"]) for r in dollars)
    assert sorted(a.id for a in data.activities) == sorted(r["id"] for r in coins)
    asked = {r.query.get("activity_types", "") for r in fake.requests("/v2/account/activities")}
    assert any("CFEE" in a and "FEE" in a.split(",") for a in asked)


# The ledger --------------------------------------------------------------------------------


def test_a_coin_fee_shrinks_the_lot_at_its_cost_and_the_positions_agree() -> None:
    """0.1 ETH bought at 1,884.50; Alpaca takes 0.000195 ETH: the position is 0.099805, at the
    same cost (188.45), and the positions check passes against Alpaca's holding."""
    buy = strategy_fill(alpaca_uuid(80), "BUY", "0.1", "1884.5", symbol="ETH/USD", seconds=40)
    fee = _fee("20240302000000000::fee", "0.000195", seconds=40)
    view = summarize_account(
        attributions_of([buy]),
        [fee],
        account_id=ACCOUNT,
        period_start=PERIOD_START - timedelta(days=1),  # the day of ``at()``
        period_end=PERIOD_START,
        ledger_id="ledger-test",
        prices={"ETHUSD": Decimal("1900")},
        revisions={},
        event_count=1,
    )
    (lot,) = view.internal_ledger.strategy_performance["alpha"].open_lots
    assert lot.qty == Decimal("0.099805")
    assert lot.qty * lot.price == pytest.approx(Decimal("188.45"), abs=Decimal("1e-12"))
    assert view.internal_ledger.asset_fees == (fee,)
    assert view.internal_ledger.unattributed_asset_fees == ()
    crypto = {"asset_class": "crypto", "exchange": "CRYPTO"}
    alpaca = alpaca_data(positions=(alpaca_position("ETHUSD", qty="0.099805", **crypto),))
    check = check_positions(alpaca, view)
    assert check.status == "pass", check.message


def test_a_coin_fee_comes_from_the_newest_lots_after_the_fills_of_its_instant() -> None:
    """Stamped with its buy's own time, the fee still applies to that buy; it takes from the
    newest lot first, then older ones; a lot it empties realises its cost as a loss; what no
    lot covers is unattributed."""
    old = strategy_fill(alpaca_uuid(1), "BUY", "1", "100", symbol="BTC/USD", seconds=0)
    new = strategy_fill(
        alpaca_uuid(2), "BUY", "0.5", "120", symbol="BTC/USD", seconds=60, allocation={"beta": "1"}
    )
    same_instant = _fee("fee-1", "0.1", seconds=60, symbol="BTCUSD")
    ledger = run_lots(attributions_of([old, new]), [same_instant])
    by_strategy = {lot.strategy: lot for lot in ledger.lots}
    assert by_strategy["beta"].qty == Decimal("0.4")  # the newest lot paid it
    assert by_strategy["alpha"].qty == Decimal(1)
    assert by_strategy["beta"].qty * by_strategy["beta"].price == Decimal(60)

    emptying = _fee("fee-2", "0.7", seconds=120, symbol="BTCUSD")
    ledger = run_lots(attributions_of([old, new]), [emptying])
    (alpha,) = ledger.lots
    assert (alpha.strategy, alpha.qty) == ("alpha", Decimal("0.8"))
    (loss,) = ledger.capital_realizations
    assert (loss.strategy, loss.realized_pnl) == ("beta", Decimal(-60))
    # Each strategy's part of the fee is its own (what the report values at Alpaca's price).
    assert [(s.strategy, s.symbol, s.qty) for s in ledger.asset_fee_shares] == [
        ("alpha", "BTC/USD", Decimal("0.2")),
        ("beta", "BTC/USD", Decimal("0.5")),
    ]

    too_much = _fee("fee-3", "2", seconds=120, symbol="BTCUSD")
    ledger = run_lots(attributions_of([old, new]), [too_much])
    assert ledger.lots == ()
    assert ledger.unattributed_asset_fees == (too_much,)


def test_a_coin_fee_before_any_holding_is_unattributed() -> None:
    fee = _fee("fee-early", "0.001", seconds=0)
    later = strategy_fill(alpaca_uuid(3), "BUY", "1", "1800", symbol="ETH/USD", seconds=1)
    ledger = run_lots(attributions_of([later]), [fee])
    assert ledger.unattributed_asset_fees == (fee,)
    assert [lot.qty for lot in ledger.lots] == [Decimal(1)]
