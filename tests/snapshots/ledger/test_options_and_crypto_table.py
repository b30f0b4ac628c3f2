"""An options-and-crypto history, imported from a file and snapshotted against the fake Alpaca
on both engines, gives each strategy the P&L of a table computed by hand from the README's
rules (issue 19's acceptance): a long call expiring worthless, a covered call assigned, a
protective put exercised, a written put bought back, a vertical spread opened and closed as
two-leg orders, a put still open, and a crypto round trip whose buy paid its fee in the coin.

Alpaca's option events (``OPEXP``, ``OPASN`` with ``OPTRD``, ``OPEXC`` with ``OPTRD``) and
crypto fees (``CFEE``) reach the ledger the way they do in production: the fake posts the rows,
the snapshot job maps them to events and records them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import parse_fill
from ledger_store.events import parse_event
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.builder import take_snapshot
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import running_fake_alpaca
from tests.builders import alpaca_uuid
from tests.snapshots.alpaca.test_history_and_benchmark import source
from tests.snapshots.cli.test_cli import conn, jsonl, run

ACCOUNT = "0b7d2f6e-4c1a-4e8b-9a3d-5f2c1e0d9b47"
MONDAY = datetime(2026, 8, 3, tzinfo=UTC)
PERIOD_END = MONDAY + timedelta(days=5)

AAPL_CALL = "AAPL260807C00150000"
MSFT_CALL = "MSFT260807C00410000"
SPY_PUT = "SPY260807P00490000"
KO_PUT = "KO260807P00060000"
NVDA_100 = "NVDA260807C00100000"
NVDA_110 = "NVDA260807C00110000"
QQQ_PUT = "QQQ260918P00400000"

#: (day, minute, strategy, symbol, side, qty, price, fees); legs of one spread share a minute.
FILLS: list[tuple[int, int, str, str, str, str, str, str]] = [
    (0, 1, "long_call", AAPL_CALL, "BUY", "2", "1.5", "0"),
    (0, 2, "covered_call", "MSFT", "BUY", "100", "400", "0"),
    (0, 3, "covered_call", MSFT_CALL, "SELL", "1", "5", "0"),
    (0, 4, "protective_put", "SPY", "BUY", "100", "500", "0"),
    (0, 5, "protective_put", SPY_PUT, "BUY", "1", "4", "0"),
    (0, 6, "short_put", KO_PUT, "SELL", "2", "1.1", "0"),
    (0, 7, "vertical", NVDA_100, "BUY", "1", "6", "0"),
    (0, 7, "vertical", NVDA_110, "SELL", "1", "2.5", "0"),
    (0, 8, "long_put", QQQ_PUT, "BUY", "3", "2", "0"),
    (0, 9, "crypto", "BTC/USD", "BUY", "0.5", "60000", "0"),
    (1, 1, "short_put", KO_PUT, "BUY", "2", "0.35", "0.03"),
    (1, 2, "vertical", NVDA_100, "SELL", "1", "9", "0"),
    (1, 2, "vertical", NVDA_110, "BUY", "1", "4", "0"),
    # Alpaca's dollar fee of a crypto sell: 0.25 % of 15,500.
    (1, 3, "crypto", "BTC/USD", "SELL", "0.25", "62000", "38.75"),
]

#: Friday after the close: the AAPL calls expire, the MSFT call is assigned, the SPY put is
#: exercised (the fake posts each as Alpaca does, with the OPTRD row of the shares).
EVENTS: list[dict[str, Any]] = [
    {"kind": "option_expiry", "symbol": AAPL_CALL, "qty": "-2"},
    {
        "kind": "option_exercise",
        "symbol": MSFT_CALL,
        "qty": "1",
        "underlying": "MSFT",
        "shares": "-100",
        "price": "410",
    },
    {
        "kind": "option_exercise",
        "symbol": SPY_PUT,
        "qty": "-1",
        "underlying": "SPY",
        "shares": "-100",
        "price": "490",
    },
]

_PLACES = Decimal("1e-18")
#: The BTC lot after the buy's coin fee: 0.5 x 0.25 % = 0.00125 BTC taken, the 30,000 paid
#: now the cost of 0.49875 BTC (README: *Fees in the coin*), its price to 18 places.
BTC_PRICE = (Decimal(30000) / Decimal("0.49875")).quantize(_PLACES, ROUND_HALF_EVEN)

#: strategy -> (realised P&L, fees, open lots as (symbol, side, qty, price)), by hand:
TABLE: dict[str, tuple[Decimal, Decimal, set[tuple[str, str, Decimal, Decimal]]]] = {
    # 2 calls bought at 1.50 expire worthless: -2 x 1.50 x 100.
    "long_call": (Decimal(-300), Decimal(0), set()),
    # 100 MSFT at 400, a 410 call written for 5.00 and assigned: the shares go at 415.
    "covered_call": (Decimal(1500), Decimal(0), set()),
    # 100 SPY at 500, a 490 put bought for 4.00 and exercised: the shares go at 486.
    "protective_put": (Decimal(-1400), Decimal(0), set()),
    # 2 puts written at 1.10, bought back at 0.35: 2 x 0.75 x 100, less 0.03 of fees.
    "short_put": (Decimal(150), Decimal("0.03"), set()),
    # Long 100 call 6.00 -> 9.00 (+300), short 110 call 2.50 -> 4.00 (-150).
    "vertical": (Decimal(150), Decimal(0), set()),
    # 3 puts still open at their cost.
    "long_put": (Decimal(0), Decimal(0), {(QQQ_PUT, "long", Decimal(3), Decimal(2))}),
    # 0.25 of the 0.49875 BTC sold at 62,000; 0.24875 left at the fee-adjusted price.
    "crypto": (
        (Decimal("0.25") * (62000 - BTC_PRICE)).quantize(_PLACES, ROUND_HALF_EVEN),
        Decimal("38.75"),
        {("BTC/USD", "long", Decimal("0.24875"), BTC_PRICE)},
    ),
}


def _fill_records() -> list[dict[str, Any]]:
    records = []
    for n, (day, minute, strategy, symbol, side, qty, price, fees) in enumerate(FILLS, 1):
        records.append(
            {
                "order_id": alpaca_uuid(100 + n),
                "account_id": ACCOUNT,
                "correlation_id": f"cycle-{day}",
                "symbol": symbol,
                "side": side,
                "qty": qty,
                "price": price,
                "filled_at": (MONDAY + timedelta(days=day, hours=14, minutes=minute)).isoformat(),
                "order_type": "market",
                "fees": fees,
                "strategy_allocation": {strategy: "1"},
            }
        )
    return records


def _account() -> FakeAccount:
    fills = [parse_fill(r) for r in _fill_records()]
    cycles = [
        TradingCycle(
            f"cycle-{day}",
            MONDAY + timedelta(days=day, hours=14),
            MONDAY + timedelta(days=day, hours=15),
            tuple(f for f in fills if f.correlation_id == f"cycle-{day}"),
        )
        for day in (0, 1)
    ]
    friday = MONDAY + timedelta(days=4, hours=21)
    events = [
        parse_event(
            {
                "event_id": f"event-{n}",
                "account_id": ACCOUNT,
                "effective_at": friday + timedelta(minutes=n),
                **fields,
            }
        )
        for n, fields in enumerate(EVENTS)
    ]
    return FakeAccount.from_history(cycles, events=events, include_unfilled=False)


def _week(
    settings: TableSettings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    account: FakeAccount,
) -> Any:
    """The fills imported from a file (``trades import``), then the week's snapshot taken
    against ``account`` and stored."""
    path = jsonl(tmp_path / "fills.jsonl", list(_fill_records()))
    code, _, err = run(capsys, "trades", "import", str(path), "--no-progress", *conn(settings))
    assert code == 0, err
    with running_fake_alpaca(account) as fake, source(fake, equity_lookback_days=0) as alpaca:
        return take_snapshot(
            account_id=ACCOUNT,
            period_start=MONDAY,
            period_end=PERIOD_END,
            correlation_id="week",
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            store=AccountSnapshotRepository(settings),
            hmac_key=None,
        ).snapshot


def test_the_history_gives_the_hand_computed_table(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    account = _account()
    held = {p.symbol: p.qty for p in account.positions}
    assert held == {QQQ_PUT: 3, "BTC/USD": Decimal("0.24875")}  # nothing else left open
    snapshot = _week(settings, capsys, tmp_path, account)
    checks = {c.name: c for c in snapshot.integrity_checks}
    for name in (
        "ledger_fills_match_alpaca_orders",
        "ledger_positions_match_alpaca_positions",
        "ledger_events_match_alpaca_activities",
        "strategy_totals_match_ledger_totals",
    ):
        assert checks[name].status == "pass", checks[name].message
    assert checks["ledger_positions_match_alpaca_positions"].details["matched"] == 2

    ledger = snapshot.internal_ledger
    assert [e.symbol for e in ledger.option_expiries] == [AAPL_CALL]
    assert [(e.symbol, e.source) for e in ledger.option_exercises] == [
        (MSFT_CALL, "OPASN"),
        (SPY_PUT, "OPEXC"),
    ]
    assert [(f.symbol, f.qty) for f in ledger.asset_fees] == [("BTCUSD", Decimal("0.00125"))]
    figures = {
        name: (
            p.realized_pnl,
            p.fees,
            {(lot.symbol, lot.side, lot.qty, lot.price) for lot in p.open_lots},
        )
        for name, p in ledger.strategy_performance.items()
    }
    assert figures == TABLE
    for name, (realized, fees, _) in TABLE.items():
        assert ledger.strategy_performance[name].net_realized_pnl == realized - fees


def test_the_report_shows_the_history_by_asset_class(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The same week by asset class, by hand: the open QQQ puts (3 x 2.00 x 100 = 600, a
    delta-free notional of 3 x 400 x 100 = 120,000), the premium of the period's option fills
    (paid 300 + 400 + 600 + 600 + 70 + 400 = 2,370; received 500 + 220 + 250 + 900 = 1,870),
    the coin left (0.24875 x 62,000) and the coin fee of the buy (0.00125 x 60,000 = 75) that
    the crypto strategy's lot paid; the shares the exercises moved are all gone again."""
    from snapshots.report.metrics import metrics_dict, report_metrics

    snapshot = _week(settings, capsys, tmp_path, _account())
    metrics = report_metrics(snapshot)
    classes = {c.asset_class: c for c in metrics.asset_classes}
    # Shares were traded (and delivered) in the week, none is left.
    assert list(classes) == ["us_equity", "us_option", "crypto"]
    shares, options, crypto = classes["us_equity"], classes["us_option"], classes["crypto"]
    assert (shares.positions, shares.long_value, shares.short_value) == (0, 0, 0)
    assert (options.positions, options.long_value, options.notional) == (1, 600, 120_000)
    assert (options.premium_paid, options.premium_received) == (2370, 1870)
    assert (crypto.positions, crypto.long_value) == (1, Decimal("0.24875") * 62000)
    assert crypto.coin_fees == 75
    assert crypto.coin_fees_by_strategy == {"crypto": 75}
    coin = {s.strategy: s.coin_fees for s in metrics.strategies}
    assert coin["crypto"] == 75
    assert {name for name, value in coin.items() if value} == {"crypto"}
    # The JSON the CLI prints carries the same figures.
    as_json = metrics_dict(metrics)
    assert as_json["metrics_version"] == "4"
    # By symbol: the AAPL call expired worthless (-300 of premium) outside any round trip, so
    # the symbols' rows leave it to the line of what the ledger keeps by strategy.
    by_symbol = metrics.by_symbol
    assert by_symbol is not None
    assert by_symbol.other_realized == -300
    assert AAPL_CALL not in {r.symbol for r in by_symbol.symbols}
    assert as_json["by_symbol"]["other_realized"] == "-300"
    (option_json,) = (c for c in as_json["asset_classes"] if c["asset_class"] == "us_option")
    assert (option_json["premium_paid"], option_json["notional"]) == ("2370", "120000")
