"""The cases where the report used to print a misleading number, each rendered to PDF and read
as a trader reads it: a late withdrawal of everything, negative equity, one daily return."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from snapshots.alpaca.models import EquityPoint
from snapshots.report.metrics import report_metrics
from snapshots.report.pdf import render_report
from tests.snapshots.report.test_report_pdf import newest_fixture, pdf_text


def with_days(
    closes: list[str],
    flows: list[tuple[timedelta, str]] = (),  # type: ignore[assignment]
) -> Any:
    """The newest fixture with no history, one close per day from its period's start and the
    given cash flows (at offsets from that start)."""
    snapshot = newest_fixture()
    start: datetime = snapshot.period_start
    points = tuple(
        EquityPoint(timestamp=start + timedelta(days=i), equity=Decimal(v))
        for i, v in enumerate(closes)
    )
    template = snapshot.internal_ledger.cash_flows[0]
    events = tuple(
        template.model_copy(
            update={
                "event_id": f"flow-{i}",
                "effective_at": start + offset,
                "amount": Decimal(amount),
            }
        )
        for i, (offset, amount) in enumerate(flows)
    )
    ledger = snapshot.internal_ledger.model_copy(update={"cash_flows": events})
    return snapshot.model_copy(
        update={
            "equity_history": (),
            "history_cash_flows": (),
            "equity_series": points,
            "internal_ledger": ledger,
        }
    )


def first_page(snapshot: Any) -> str:
    return pdf_text(render_report(snapshot))[0]


def test_withdrawing_everything_late_on_a_losing_day_is_not_a_total_loss() -> None:
    """100,000 falls to 99,000 and all of it is withdrawn at 20:30Z: the report once read
    -100.00 %, a -100 % drawdown and 424 % volatility for a loss of 1,000. Modified Dietz
    weighs the withdrawal by the 3.5 of 24 hours it was out: -1,000 / (100,000 - 99,000 x
    3.5 / 24) = -1.17 %, the P&L is -1,000 and no -100 % is printed."""
    snapshot = with_days(["100000", "0"], [(timedelta(days=1, hours=20, minutes=30), "-99000")])
    m = report_metrics(snapshot)
    assert m.period.pnl == Decimal(-1000)
    last = m.period.days[-1]
    assert last.ret is not None
    expected = Decimal(-1000) / (Decimal(100000) - Decimal(99000) * Decimal("3.5") / 24)
    assert abs(last.ret - expected) < Decimal("1e-18")
    text = "\n".join(pdf_text(render_report(snapshot)))
    assert "-1.17%" in text
    assert "-1,000.00" in text
    assert "-100.00%" not in text


def test_withdrawing_more_than_the_capital_leaves_the_day_without_a_return() -> None:
    """A withdrawal of all the capital (100,000 of 100,000, the day's close 0) leaves nothing
    to earn a return on: the day shows none and says why (never dropped silently), and its
    P&L, 0, still counts."""
    snapshot = with_days(["100000", "0"], [(timedelta(days=1, minutes=1), "-100000")])
    m = report_metrics(snapshot)
    last = m.period.days[-1]
    assert last.ret is None
    assert last.note
    assert last.pnl == 0
    assert last.note == "withdrawals took all the capital"
    flat = " ".join("\n".join(pdf_text(render_report(snapshot))).split())
    assert last.note in flat
    assert "-100.00%" not in flat


def test_negative_equity_is_stated_not_turned_into_a_percentage() -> None:
    """Equity below zero has no percentage return: the day says why, and no return below
    -100 % is printed anywhere."""
    snapshot = with_days(["1000", "-200", "-180"])
    m = report_metrics(snapshot)
    assert [d.ret for d in m.period.days[1:]] == [None, None]
    notes = [d.note for d in m.period.days[1:]]
    assert all(notes)
    text = "\n".join(pdf_text(render_report(snapshot)))
    flat = " ".join(text.split())
    for note in notes:
        assert note is not None
        assert note in flat
    percentages = [Decimal(p.replace(",", "")) for p in _percentages(text)]
    assert all(p >= -100 for p in percentages)


def test_one_daily_return_prints_no_ratio() -> None:
    """A single -1 % day once printed Sortino -15.87, CAGR -92.06 % and Calmar -92.06 beside
    a blank volatility: every annualised figure is now "—" with the same reason."""
    snapshot = with_days(["100000", "99000"])
    page = first_page(snapshot)
    assert "-1.00%" in page
    assert "needs 20 daily returns, has 1" in page
    for number in ("-15.87", "-92.06"):
        assert number not in page


def _percentages(text: str) -> list[str]:
    import re

    return re.findall(r"(-?[\d,]+\.\d+)%", text)
