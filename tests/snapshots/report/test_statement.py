"""Round-trip statistics, strategy P&L and the reconciliation, against hand-computed ledgers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from snapshots.ledger.lots import Match
from snapshots.records import snapshot_from_record
from snapshots.report.metrics import report_metrics
from snapshots.report.strategies import round_trip_stats
from tests.snapshots.test_snapshot_fixture import VERSIONS, Version, record_of

OPEN = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def match(n: int, pnl: str, held: timedelta, strategy: str = "alpha") -> Match:
    return Match(
        strategy=strategy,
        symbol="AAPL",
        side="long",
        open_order_id=f"open-{n}",
        close_order_id=f"close-{n}",
        opened_at=OPEN,
        closed_at=OPEN + held,
        qty=Decimal(1),
        open_price=Decimal(100),
        close_price=Decimal(100) + Decimal(pnl),
        realized_pnl=Decimal(pnl),
    )


def test_round_trip_statistics_by_hand() -> None:
    # Wins 120 and 30, losses -50 and -10, one break-even: held 1 h, 2 h, 3 h, 4 h and 5 h.
    matches = [
        match(1, "120", timedelta(hours=1)),
        match(2, "-50", timedelta(hours=2)),
        match(3, "30", timedelta(hours=3)),
        match(4, "0", timedelta(hours=4)),
        match(5, "-10", timedelta(hours=5)),
    ]
    s = round_trip_stats(matches)
    assert (s.round_trips, s.wins, s.losses) == (5, 2, 2)
    assert s.win_rate == Decimal("0.4")
    assert (s.gross_profit, s.gross_loss, s.realized_pnl) == (
        Decimal(150),
        Decimal(-60),
        Decimal(90),
    )
    assert s.profit_factor == Decimal("2.5")  # 150 / 60
    assert s.payoff_ratio == Decimal("2.5")  # (150 / 2) / (60 / 2)
    assert s.expectancy == Decimal(18)  # 90 / 5
    assert (s.largest_win, s.largest_loss) == (Decimal(120), Decimal(-50))
    assert s.average_holding_seconds == Decimal(3 * 3600)


def test_round_trips_without_losses_or_at_all_have_no_ratio() -> None:
    only_wins = round_trip_stats([match(1, "5", timedelta(minutes=3))])
    assert (only_wins.win_rate, only_wins.profit_factor, only_wins.payoff_ratio) == (
        Decimal(1),
        None,
        None,
    )
    assert only_wins.largest_loss is None
    none = round_trip_stats([])
    assert (none.round_trips, none.win_rate, none.expectancy, none.average_holding_seconds) == (
        0,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("released", VERSIONS, ids=[v.version for v in VERSIONS])
def test_the_reconciliation_sums_to_the_closing_equity(released: Version) -> None:
    snapshot = snapshot_from_record(record_of(released.sha256_item), None)
    m = report_metrics(snapshot)
    r = m.reconciliation
    assert r is not None
    assert sum((line.amount for line in r.lines), Decimal(0)) == r.closing
    assert r.closing == m.inception.end_equity
    lines = {line.key: line.amount for line in r.lines}
    ledger = snapshot.internal_ledger
    assert lines["fees"] == -ledger.total_fees
    assert lines["realized_pnl"] == sum(
        (p.period.realized_pnl for p in ledger.strategy_performance.values()), Decimal(0)
    )
    differences = {d.key: d for d in r.differences}
    fees = differences["fees"]
    assert fees.alpaca == -sum((f.net_amount for f in snapshot.alpaca_fees), Decimal(0))
    assert fees.difference == fees.alpaca - fees.ledger
    assert (fees.explanation == "equal") == (fees.difference == 0)
    live = differences["live_equity"]
    assert live.alpaca == snapshot.alpaca_account.equity
    if released.version >= "1.2":
        # Alpaca's activities hold 1,000 of deposits, the fixture's ledger 750: named.
        assert differences["cash_flows"].difference == Decimal(250)
        assert "record the missing events" in differences["cash_flows"].explanation
        assert {"cash_flows", "dividends"} <= set(differences)
        assert all(d.explanation for d in r.differences)
    else:
        assert set(differences) == {"live_equity", "fees"}


@pytest.mark.parametrize("released", VERSIONS, ids=[v.version for v in VERSIONS])
def test_strategy_pnl_is_the_ledger_s_per_strategy(released: Version) -> None:
    snapshot = snapshot_from_record(record_of(released.sha256_item), None)
    m = report_metrics(snapshot)
    performance = snapshot.internal_ledger.strategy_performance
    assert [s.strategy for s in m.strategies] == sorted(performance)
    for s in m.strategies:
        p = performance[s.strategy]
        assert (s.realized_pnl, s.fees, s.trades) == (
            p.period.realized_pnl,
            p.period.fees,
            p.period.total_trades,
        )
        if released.version >= "1.2":
            assert s.total_pnl == p.total_pnl  # type: ignore[union-attr]
            assert s.round_trips is not None
            assert s.round_trips.round_trips == p.period.round_trips  # type: ignore[union-attr]
            assert s.net_pnl == s.realized_pnl + (s.dividends or 0) - s.fees
        else:
            assert (s.dividends, s.unrealized_pnl, s.total_pnl, s.round_trips) == (None,) * 4
    assert (m.round_trips is None) == (released.version < "1.2")


def test_a_first_snapshot_counts_the_deposits_of_its_first_day() -> None:
    """Without an earlier close, the period opens on its first day's close, which already
    holds that day's 1,000 deposit: the statement showed the period's deposits without it
    while the cash-flow table listed it. Now the opening is shown without the day's flows and
    the deposits with them; the statement still sums to the closing equity."""
    from snapshots.report.pdf import render_report
    from tests.snapshots.report.test_report_pdf import newest_fixture, pdf_text

    snapshot = newest_fixture().model_copy(update={"equity_history": ()})
    m = report_metrics(snapshot)
    assert m.period.first_day == snapshot.period_start.date()
    assert m.period.opening_flows == Decimal(1000)
    r = m.reconciliation
    assert r is not None
    lines = {line.key: line for line in r.lines}
    assert lines["net_flows"].amount == Decimal(1000 + 75 - 250)
    assert lines["opening_equity"].amount == m.period.start_equity - 1000
    assert lines["opening_equity"].label == (
        "Opening equity (close of 2026-08-03, less that day's deposits and withdrawals, +1,000.00)"
    )
    assert sum((line.amount for line in r.lines), Decimal(0)) == r.closing
    text = "\n".join(pdf_text(render_report(snapshot)))
    assert "Period deposits and withdrawals, USD\n+825.00" in text
    # with the history before it, the period opens on the previous close: nothing to move
    full = report_metrics(newest_fixture())
    assert full.period.first_day is not None
    assert full.period.first_day < snapshot.period_start.date()
    assert full.reconciliation is not None
    flows = {line.key: line.amount for line in full.reconciliation.lines}["net_flows"]
    assert flows == full.period.net_flows == Decimal(825)


def test_turnover_is_half_the_traded_value_over_the_average_close() -> None:
    from tests.snapshots.report.test_report_pdf import newest_fixture

    snapshot = newest_fixture()
    m = report_metrics(snapshot)
    closes = [d.equity for d in m.period.days]
    ledger = snapshot.internal_ledger
    traded = (ledger.total_buy_value + ledger.total_sell_value) / 2
    expected = Fraction(traded) / (Fraction(sum(closes, Decimal(0))) / len(closes))
    assert m.turnover is not None
    assert abs(Fraction(m.turnover) - expected) < Fraction(1, 10**15)
    assert m.turnover > 0
