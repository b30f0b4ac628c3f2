"""An account that trades pairs quoted in BTC and USDT, adopted from the fake Alpaca (issue 24):
each such fill gets its rate from Alpaca's crypto bars at its minute, the ledger holds BTC,
USDT and ETH per coin, and the first snapshot's checks pass against Alpaca's per-coin
positions (coin fees taken in what each fill credited, as Alpaca charges them).

The positions, by hand (0.25 % coin fee on what a fill credits):

* buy 1 BTC/USD: BTC 1 - 0.0025 = 0.9975;
* buy 2 ETH/BTC at 0.05: BTC 0.9975 - 0.1 = 0.8975; ETH 2 - 0.005 = 1.995;
* sell 1.995 ETH/BTC at 0.06: ETH 0; BTC + 0.1197 - 0.00029925 = 1.01690075;
* buy 40,000 USDT/USD: USDT 40,000 - 100 = 39,900;
* buy 0.5 BTC/USDT at 62,000: USDT 39,900 - 31,000 = 8,900; BTC + 0.5 - 0.00125 = 1.51565075;
* sell 0.5 BTC/USDT at 64,000: BTC 1.01565075; USDT 8,900 + 32,000 - 80 = 40,820.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill
from ledger_store.events import AccountEventRepository
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.adoption.adopt import Adoption, adopt_account
from snapshots.adoption.reconcile import reconcile_account
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import (
    FakeAlpaca,
    running_fake_alpaca,
)
from snapshots.ledger.models import AccountLedgerV18
from snapshots.ledger.rules import parse_rules
from tests.builders import make_fill
from tests.snapshots.adoption.test_adopt import source

ACCOUNT = "coin-account"
START = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
RULES = parse_rules('default = "coins"\n')
#: (order id, symbol, side, qty, price, minutes after START, quote_usd_rate)
TRADES = (
    ("btc-1", "BTC/USD", "BUY", "1", "50000", 1, None),
    ("ethbtc-1", "ETH/BTC", "BUY", "2", "0.05", 2, "60000"),
    ("ethbtc-2", "ETH/BTC", "SELL", "1.995", "0.06", 3, "55000"),
    ("usdt-1", "USDT/USD", "BUY", "40000", "1.0002", 4, None),
    ("btcusdt-1", "BTC/USDT", "BUY", "0.5", "62000", 5, "0.999"),
    ("btcusdt-2", "BTC/USDT", "SELL", "0.5", "64000", 6, "1.0001"),
)


def order_id(name: str) -> str:
    """Alpaca's order ids are UUIDs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"trade-ledger-test:{name}"))


NAMES = {order_id(t[0]): t[0] for t in TRADES}


def fills() -> list[TradeFill]:
    return [
        make_fill(
            order_id=order_id(name),
            account_id=ACCOUNT,
            correlation_id="cycle-1",
            symbol=symbol,
            side=side,
            qty=qty,
            price=price,
            fees="0",
            filled_at=START + timedelta(minutes=minutes, seconds=17),
            strategy_allocation={"coins": "1"},
            **({"quote_usd_rate": rate} if rate else {}),
        )
        for name, symbol, side, qty, price, minutes, rate in TRADES
    ]


def account() -> FakeAccount:
    cycle = TradingCycle("cycle-1", START, START + timedelta(hours=1), tuple(fills()))
    return FakeAccount.from_history([cycle], include_unfilled=False)


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(account()) as server:
        yield server
        assert server.handler_errors == []


def adopt(settings: TableSettings, fake: FakeAlpaca) -> Adoption:
    with source(fake) as alpaca:
        return adopt_account(
            account_id=ACCOUNT,
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            events=AccountEventRepository(settings),
            store=AccountSnapshotRepository(settings),
            rules=RULES,
            period_start=START - timedelta(days=1),
            period_end=START + timedelta(days=1),
        )


def test_the_fake_holds_each_coin_as_alpaca_does() -> None:
    positions = {p.symbol: p.qty for p in account().positions}
    assert positions == {
        "BTC/USD": Decimal("1.01565075"),
        "USDT/USD": Decimal(40820),
    }


def test_adoption_prices_each_crossed_fill_from_the_bars_and_the_positions_agree(
    settings: TableSettings, fake: FakeAlpaca
) -> None:
    adoption = adopt(settings, fake)
    assert adoption.not_recorded == ()
    assert sorted(NAMES[o] for o in adoption.recorded) == sorted(t[0] for t in TRADES)
    ledger = TradeLedgerRepository(settings)
    rates = {t[0]: ledger.get_trade(order_id(t[0])).fill.quote_usd_rate for t in TRADES}
    assert rates == {t[0]: Decimal(t[6]) if t[6] else None for t in TRADES}
    # One bars request per quote coin and day (BTC, USDT), none for the USD pairs.
    assert len(fake.requests("/v1beta3/crypto/us/bars")) == 2

    assert adoption.snapshot is not None
    snapshot = adoption.snapshot.snapshot
    checks = {c.name: c for c in snapshot.integrity_checks}
    assert {name: c.status for name, c in checks.items()} == dict.fromkeys(checks, "pass")
    positions = checks["ledger_positions_match_alpaca_positions"]
    assert (positions.details["matched"], positions.details["differing"]) == (2, 0)
    ledger_view = snapshot.internal_ledger
    assert isinstance(ledger_view, AccountLedgerV18)
    assert [(NAMES[f.order_id], f.quote_currency) for f in ledger_view.quoted_fills] == [
        ("ethbtc-1", "BTC"),
        ("ethbtc-2", "BTC"),
        ("btcusdt-1", "USDT"),
        ("btcusdt-2", "USDT"),
    ]
    coins = ledger_view.strategy_performance["coins"]
    held: dict[str, Decimal] = {}
    for lot in coins.open_lots:
        held[lot.symbol] = held.get(lot.symbol, Decimal(0)) + lot.qty
    assert held == {"BTC/USD": Decimal("1.01565075"), "USDT/USD": Decimal(40820)}


def test_a_crossed_fill_alpaca_cannot_price_is_not_recorded_and_says_what_to_do(
    settings: TableSettings,
) -> None:
    """Without a BTC/USD bar within the hour before it, the ETH/BTC fills are refused (never
    recorded as dollars); the rest is recorded. Reconciling names the same repair undone."""
    unpriced = dataclasses.replace(
        account(), crypto_bars=tuple(b for b in account().crypto_bars if b[0] != "BTC/USD")
    )
    with running_fake_alpaca(unpriced) as server:
        adoption = adopt(settings, server)
        refused = {NAMES[n.order_id]: n.reason for n in adoption.not_recorded}
        assert sorted(refused) == ["ethbtc-1", "ethbtc-2"]
        assert refused["ethbtc-1"] == (
            "ETH/BTC is quoted in BTC and Alpaca's crypto bars have no BTC/USD price within 60 "
            "minutes before 2026-11-02T14:02:17.000000Z: record the fill with its "
            "quote_usd_rate ('trades import')"
        )
        assert order_id("btcusdt-1") in adoption.recorded
        with source(server) as alpaca:
            reconciled = reconcile_account(
                account_id=ACCOUNT,
                alpaca=alpaca,
                ledger=TradeLedgerRepository(settings),
                events=AccountEventRepository(settings),
                period_start=START - timedelta(days=1),
                period_end=START + timedelta(days=1),
                rules=RULES,
                apply=True,
            )
    missing = {
        NAMES[d.order_id]: d for d in reconciled.differences if d.kind == "missing_from_ledger"
    }
    assert sorted(missing) == ["ethbtc-1", "ethbtc-2"]
    assert all(d.repair == "none" and "quote_usd_rate" in d.detail for d in missing.values())
    assert not reconciled.clean


def test_a_re_run_keeps_the_recorded_rates_whatever_the_bars_say_now(
    settings: TableSettings,
) -> None:
    """The first run priced the fills; Alpaca's bars of those minutes are different by the
    second (a bar that came late): the re-run finds every fill recorded unchanged."""
    first = account()
    with running_fake_alpaca(first) as server:
        assert adopt(settings, server).not_recorded == ()
    moved = tuple(
        (pair, tuple((at, close + 1) for at, close in bars)) for pair, bars in first.crypto_bars
    )
    with running_fake_alpaca(dataclasses.replace(first, crypto_bars=moved)) as server:
        again = adopt(settings, server)
        assert (again.recorded, again.not_recorded) == ((), ())
        assert len(again.already_recorded) == len(TRADES)
        assert server.requests("/v1beta3/crypto/us/bars") == []  # nothing left to price
