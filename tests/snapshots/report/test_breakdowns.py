"""P&L by symbol and exposure over the period: against definitions computed here, by hand on
the newest fixture, and as the PDF and the CLI print them."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.dto import value_of
from snapshots.records import snapshot_from_record
from snapshots.report.exposure import exposure_series
from snapshots.report.figures import fmt_date, fmt_money
from snapshots.report.metrics import report_metrics
from snapshots.report.pdf import render_report
from snapshots.report.performance import day_end
from snapshots.report.symbols import symbol_pnl
from snapshots.schema import AccountSnapshotV12
from tests.snapshots.report.test_report_pdf import newest_fixture, pdf_text
from tests.snapshots.test_snapshot_fixture import VERSIONS, Version, record_of

SIGNED_LOT_VERSIONS = [v for v in VERSIONS if v.version not in {"1.0", "1.1"}]


def fixture_of(version: Version) -> Any:
    return snapshot_from_record(record_of(version.sha256_item), None)


@pytest.mark.parametrize(
    "released", SIGNED_LOT_VERSIONS, ids=[v.version for v in SIGNED_LOT_VERSIONS]
)
def test_pnl_by_symbol_adds_up_to_the_strategy_table(released: Version) -> None:
    """Each symbol's realised P&L is the sum of its round trips; with the amounts kept only by
    strategy and the fees, the rows make the strategies' period net plus their unrealised."""
    snapshot = fixture_of(released)
    breakdown = symbol_pnl(snapshot)
    assert breakdown is not None
    strategies = list(snapshot.internal_ledger.strategy_performance.values())
    realized: dict[str, Decimal] = defaultdict(Decimal)
    for s in strategies:
        for m in s.period_round_trips:
            realized[m.symbol] += m.realized_pnl
    rows = {r.symbol: r for r in breakdown.symbols}
    assert {k: rows[k].realized_pnl for k in realized} == dict(realized)
    assert list(rows) == sorted(rows)
    unrealized = [s.unrealized_pnl for s in strategies]
    if None not in unrealized:
        expected = sum((s.period.net_realized_pnl for s in strategies), Decimal(0)) + sum(
            (u for u in unrealized if u is not None), Decimal(0)
        )
        assert breakdown.net == expected
    assert breakdown.fees == sum((s.period.fees for s in strategies), Decimal(0))


def test_pnl_by_symbol_by_hand() -> None:
    """The newest fixture: KO's lot 100 @ 61.25 at 61.60 is +35; MSFT's short 2 @ 418.20 at
    417.50 is +1.40; the ETH/USD lots are marked at Alpaca's ETHUSD position; since 1.8 the
    BTC spent on ETH (ETH/BTC) is a BTC/USD round trip and the ETH bought with it an ETH lot."""
    snapshot = newest_fixture()
    breakdown = symbol_pnl(snapshot)
    assert breakdown is not None
    rows = {r.symbol: r for r in breakdown.symbols}
    assert (rows["KO"].unrealized_pnl, rows["KO"].total) == (Decimal(35), Decimal(35))
    assert rows["MSFT"].unrealized_pnl == Decimal("1.4")
    assert rows["MSFT"].realized_pnl == Decimal("15.5")  # 5 x (418.20 - 415.10)
    eth = rows["ETH/USD"]
    # 0.049805 x (1910.4 - cost) + 0.05 x (1910.4 - 1884.9), the ETH bought with BTC
    assert eth.unrealized_pnl == Decimal("1.106569740594158609") + Decimal("1.275")
    assert eth.open_lots == 2
    btc = rows["BTC/USD"]
    # 0.001525 BTC spent at 61,800 from a lot at 61,500; 0.008475 left, at 62,100
    assert (btc.round_trips, btc.realized_pnl) == (1, Decimal("0.4575"))
    assert btc.unrealized_pnl == Decimal("5.085")
    assert "ETH/BTC" not in rows  # the pair is no holding: its coins are
    assert rows["NVDA"].open_lots == 0
    assert rows["NVDA"].unrealized_pnl == 0
    # a symbol without a price has no unrealised P&L, and the net is unknown with it
    unpriced = snapshot.model_copy(
        update={"alpaca_positions": tuple(p for p in snapshot.alpaca_positions if p.symbol != "KO")}
    )
    without = symbol_pnl(unpriced)
    assert without is not None
    ko = next(r for r in without.symbols if r.symbol == "KO")
    assert (ko.unrealized_pnl, ko.total, without.net) == (None, None, None)


def test_realised_pnl_outside_round_trips_is_shown_apart() -> None:
    """P&L an event realised (an option expiring, a merger's cash) has no round trip: it is
    the strategies' realised P&L the symbols' rows do not hold, shown as its own line."""
    snapshot = newest_fixture()
    ledger = snapshot.internal_ledger
    name, strategy = next(iter(ledger.strategy_performance.items()))
    period = strategy.period.model_copy(
        update={"realized_pnl": strategy.period.realized_pnl + Decimal(60)}
    )
    changed = {**ledger.strategy_performance, name: strategy.model_copy(update={"period": period})}
    edited = snapshot.model_copy(
        update={"internal_ledger": ledger.model_copy(update={"strategy_performance": changed})}
    )
    before, after = symbol_pnl(snapshot), symbol_pnl(edited)
    assert before is not None
    assert after is not None
    assert after.other_realized - before.other_realized == Decimal(60)
    assert after.symbols == before.symbols


def brute_force_exposure(snapshot: AccountSnapshotV12, moment: Any) -> tuple[Decimal, Decimal]:
    """(long, short) cost of the slices open at ``moment``, slice by slice."""
    long_cost = short_cost = Decimal(0)
    for s in snapshot.internal_ledger.strategy_performance.values():
        slices = [
            (lot.side, lot.symbol, lot.qty, lot.price, lot.opened_at, None) for lot in s.open_lots
        ]
        slices += [
            (m.side, m.symbol, m.qty, m.open_price, m.opened_at, m.closed_at)
            for m in s.period_round_trips
        ]
        for side, symbol, qty, price, opened, closed in slices:
            if opened <= moment and (closed is None or closed > moment):
                if side == "long":
                    long_cost += value_of(symbol, qty, price)
                else:
                    short_cost += value_of(symbol, qty, price)
    return long_cost, short_cost


@pytest.mark.parametrize(
    "released", SIGNED_LOT_VERSIONS, ids=[v.version for v in SIGNED_LOT_VERSIONS]
)
def test_exposure_at_each_close_is_the_lots_open_then(released: Version) -> None:
    snapshot = fixture_of(released)
    period = report_metrics(snapshot).period
    points = exposure_series(snapshot, period)
    assert [p.day for p in points] == [d.day for d in period.days]
    for point, day in zip(points, period.days, strict=True):
        assert point.at == day_end(day.day)
        assert (point.long_cost, point.short_cost) == brute_force_exposure(snapshot, point.at)
        assert point.gross == point.long_cost + point.short_cost
        assert point.net == point.long_cost - point.short_cost
        if day.equity > 0:
            assert point.leverage is not None
            assert abs(point.leverage - point.gross / day.equity) < Decimal("1e-18")


def test_exposure_by_hand() -> None:
    """The newest fixture's first close (2026-07-31, valued at 08-01 00:00): AAPL 10 @ 226.40
    (2.4 + 1.6 open, 3.6 + 2.4 closed later), SPY 40 @ 280.15, MSFT 5 @ 415.10 and NVDA 2 x 15
    @ 118.25 = 2,264 + 11,206 + 2,075.50 + 3,547.50 = 19,093, no short. The MSFT short of
    08-05 (2 @ 418.20 = 836.40) counts from that day's close on. At the period's end every
    round trip has closed: the exposure is the open lots'."""
    snapshot = newest_fixture()
    points = report_metrics(snapshot).exposure
    first = points[0]
    assert (first.long_cost, first.short_cost) == (Decimal(19093), Decimal(0))
    assert first.leverage is not None
    assert round(first.leverage, 4) == Decimal("2.0112")
    shorts = {fmt_date(p.day): p.short_cost for p in points}
    assert shorts["2026-08-04"] == 0
    assert shorts["2026-08-06"] == Decimal("836.4")
    last = points[-1]
    assert last.at == snapshot.period_end
    lots = [
        lot for s in snapshot.internal_ledger.strategy_performance.values() for lot in s.open_lots
    ]
    assert last.gross == sum((value_of(lot.symbol, lot.qty, lot.price) for lot in lots), Decimal(0))


def test_the_report_prints_both_tables_and_the_cli_the_leverage() -> None:
    from snapshots.cli.report import _metrics_rows

    snapshot = newest_fixture()
    m = report_metrics(snapshot)
    assert m.by_symbol is not None
    assert m.by_symbol.net is not None
    text = "\n".join(pdf_text(render_report(snapshot)))
    assert f"P&L by symbol ({len(m.by_symbol.symbols)})" in text
    assert (
        f"Net: the strategies' period net + unrealised\n{fmt_money(m.by_symbol.net, signed=True)}"
        in text
    )
    assert "Exposure and leverage over the period" in text
    assert f"First close\n{fmt_date(m.exposure[0].day)}" in text
    assert fmt_money(Decimal(19093)) in text
    rows = dict(_metrics_rows(m))
    peak = max(m.exposure, key=lambda p: p.leverage or 0)
    assert rows["gross leverage (period, at cost)"] == (
        f"last {fmt_money(m.exposure[-1].leverage)}x, peak {fmt_money(peak.leverage)}x on "
        f"{fmt_date(peak.day)}"
    )
    assert m.turnover is not None
    assert rows["turnover (period)"] == f"{fmt_money(m.turnover)}x average equity"


def test_order_ids_in_a_column_are_cut_alike() -> None:
    """Proportional letters made some ids fit and others not; now a column prints every id in
    full, or every id as its first 8 and last 4 characters."""
    from snapshots.report.layout import _id_column

    ids = ["91c376a1-7f36-5cf5-b38f-2a97bce8b6f0", "a5d6f14f-cc75-5b84-9ecf-a5ceeadbb1e9"]
    assert _id_column(ids, 1000) == ids
    assert _id_column(ids, 100) == ["91c376a1\u2026b6f0", "a5d6f14f\u2026b1e9"]
    assert _id_column(["short", ids[0]], 100) == ["short", "91c376a1\u2026b6f0"]
