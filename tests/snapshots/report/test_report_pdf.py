"""The PDF account report: hand-computed figures, byte-identical output, content and isolation.

Snapshots come from ``tests/builders.py`` (``snapshot_body`` then ``seal``), so every test
renders a valid, sealed snapshot. Text is read back with pypdf.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from ledger_store.errors import LedgerValidationError
from snapshots.report.figures import (
    compute_figures,
    fill_state,
    fmt_date,
    fmt_datetime,
    fmt_money,
    fmt_percent,
    fmt_price,
    fmt_qty,
    mask_account_number,
)
from snapshots.report.metrics import ReportOptions, report_metrics
from snapshots.report.pdf import RenderedReport, clean_text, render_report
from snapshots.schema import AccountSnapshot, InternalLedger, parse_snapshot, seal, snapshot_bytes
from tests.builders import (
    ACCOUNT,
    PERIOD_END,
    PERIOD_START,
    ROOT,
    alpaca_order,
    alpaca_position,
    alpaca_uuid,
    attributions_of,
    equity_point,
    fee_activity,
    snapshot_body,
    strategy_fill,
)

#: SHA-256 of ``render_report(golden_snapshot())``. It changes only when the layout, the fonts,
#: the builders' default data or ReportLab's output change. To update it deliberately: render,
#: look at the PDF (``pdftoppm -png -r 80``), then paste the new digest printed by the failing
#: assertion here and bump ``REPORT_LAYOUT_VERSION`` if the layout changed on purpose.
GOLDEN_SHA256 = "e9b1fb1c69eb045595145d922340304ecb8a1689f39ab11c1bcaf626d2990db0"


def sealed(**overrides: Any) -> AccountSnapshot:
    return seal(snapshot_body(**overrides), None)


def golden_snapshot() -> AccountSnapshot:
    """The builders' default snapshot, with a short equity curve so the chart has a shape."""
    return sealed(equity_series=equity_curve())


def equity_curve() -> tuple[Any, ...]:
    """1000 -> 1100 -> 990 -> 1050 -> 1045: P/L 45 (4.5 %), max drawdown 110 (10 %)."""
    values = ["1000", "1100", "990", "1050", "1045"]
    return tuple(
        equity_point(4 * i, equity=v, profit_loss=str(Decimal(v) - 1000), profit_loss_pct=None)
        for i, v in enumerate(values)
    )


def pdf_text(report: RenderedReport) -> list[str]:
    """The extracted text of every page."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(report.pdf)).pages]


@pytest.fixture(scope="module")
def golden() -> RenderedReport:
    return render_report(golden_snapshot())


# Figures, by hand ----------------------------------------------------------------------------


def test_figures_of_the_default_snapshot() -> None:
    f = compute_figures(golden_snapshot())
    assert (f.currency, f.equity, f.cash) == ("USD", Decimal("5000.25"), Decimal("1000.50"))
    assert (f.buying_power, f.long_market_value, f.short_market_value) == (
        Decimal("2001"),
        Decimal("3999.75"),
        Decimal("0"),
    )
    assert f.equity_samples == 5
    # Two FEE activities of -0.01 (REG and TAF); the ledger's period fills o3, o4, o5 paid
    # 0.05 + 0.01 + 0.02.
    assert f.alpaca_fees == Decimal("0.02")
    assert [(t.sub_type, t.count, t.amount) for t in f.alpaca_fees_by_sub_type] == [
        ("REG", 1, Decimal("0.01")),
        ("TAF", 1, Decimal("0.01")),
    ]
    assert (f.ledger_fees, f.ledger_trades) == (Decimal("0.08"), 3)
    assert (f.orders, f.filled_orders, f.partially_filled_orders, f.order_legs) == (2, 2, 0, 1)
    assert (f.checks_passed, f.checks_warned, f.checks_failed) == (1, 1, 0)
    # Both builder positions are worth 770 (AAPL long, MSFT short as given).
    assert [(e.symbol, e.market_value) for e in f.exposures] == [
        ("AAPL", Decimal(770)),
        ("MSFT", Decimal(770)),
    ]
    assert f.exposures[0].equity_fraction == Decimal("0.1539923004")  # 770 / 5000.25
    assert (f.gross_exposure, f.net_exposure) == (Decimal(1540), Decimal(1540))


def test_exposure_falls_back_to_qty_times_price_and_is_signed() -> None:
    short = alpaca_position("MSFT", qty="-1", side="short", market_value=None)
    unpriced = alpaca_position("ZZZ", market_value=None, current_price=None)
    f = compute_figures(sealed(alpaca_positions=(alpaca_position("AAPL"), short, unpriced)))
    by_symbol = {e.symbol: e for e in f.exposures}
    assert by_symbol["MSFT"].market_value == Decimal(-110)  # -1 * 110
    assert by_symbol["MSFT"].equity_fraction == Decimal("-0.0219989001")  # -110 / 5000.25
    assert by_symbol["ZZZ"].market_value is None
    assert by_symbol["ZZZ"].equity_fraction is None
    assert (f.gross_exposure, f.net_exposure) == (Decimal(880), Decimal(660))


def test_a_rebate_lowers_the_fee_total() -> None:
    fees = (fee_activity(1, net_amount="-0.25"), fee_activity(2, net_amount="0.05"))
    f = compute_figures(sealed(alpaca_fees=fees))
    assert f.alpaca_fees == Decimal("0.2")
    assert [(t.sub_type, t.count, t.amount) for t in f.alpaca_fees_by_sub_type] == [
        ("REG", 2, Decimal("0.2"))
    ]


def test_orders_count_as_filled_by_their_quantities_whatever_the_status_text() -> None:
    orders = (
        alpaca_order(1, status="filled"),
        # Alpaca sent a status this code does not know, but the order filled completely.
        alpaca_order(2, status="done_for_day", qty="5", filled_qty="5"),
        alpaca_order(3, status="calculated", qty="5", filled_qty="2"),
        alpaca_order(4, status="canceled", qty="5", filled_qty="0"),
        alpaca_order(5, status="partially_filled", qty="5", filled_qty=None),
        alpaca_order(6, status="partially_filled", qty=None, filled_qty="2"),
        alpaca_order(7, status="done_for_day", qty=None, filled_qty="2"),
    )
    f = compute_figures(sealed(alpaca_orders=orders))
    assert [fill_state(o) for o in orders] == [
        "filled",
        "filled",
        "partial",
        "none",
        "partial",
        "partial",  # a notional order: its status tells
        "filled",
    ]
    assert (f.orders, f.filled_orders, f.partially_filled_orders) == (7, 3, 3)


@pytest.mark.parametrize("samples", [0, 1])
def test_period_figures_need_two_samples(samples: int) -> None:
    series = tuple(equity_point(i) for i in range(samples))
    snapshot = sealed(equity_series=series)
    assert compute_figures(snapshot).equity_samples == samples
    p = report_metrics(snapshot).inception
    assert (p.twr, p.pnl, p.max_drawdown, p.sharpe) == (None, None, None, None)
    assert report_metrics(snapshot).reconciliation is None
    render_report(snapshot)  # renders with notes instead of figures


def test_number_and_date_formatting_ignores_locale_and_rounds_half_even() -> None:
    assert fmt_money(Decimal("1234567.5")) == "1,234,567.50"
    assert fmt_money(Decimal("0.125")) == "0.12"
    assert fmt_money(Decimal("0.135")) == "0.14"
    assert fmt_money(Decimal("-0.001")) == "0.00"  # never "-0.00"
    assert fmt_money(Decimal("12.3"), signed=True) == "+12.30"
    assert fmt_money(Decimal("0"), signed=True) == "0.00"
    assert fmt_money(Decimal("-12.3"), signed=True) == "-12.30"
    assert fmt_money(None) == "\u2014"
    assert fmt_price(Decimal("110")) == "110.00"
    assert fmt_price(Decimal("101.428571429")) == "101.4286"
    assert fmt_price(Decimal("1234.5")) == "1,234.50"
    assert fmt_qty(Decimal("1E+2")) == "100"
    assert fmt_qty(Decimal("1500.50")) == "1,500.5"
    assert fmt_percent(Decimal("0.012345")) == "1.23%"
    assert fmt_percent(Decimal("0.045"), signed=True) == "+4.50%"
    assert fmt_datetime(PERIOD_START + timedelta(hours=14, seconds=5)) == "2024-03-02 14:00:05"
    assert fmt_datetime(PERIOD_END, seconds=False) == "2024-03-03 00:00"
    assert fmt_date(PERIOD_END) == "2024-03-03"


def test_account_numbers_are_masked() -> None:
    assert mask_account_number("PA3ABCDEFGH") == "PA3\u2022\u2022\u2022\u2022EFGH"
    assert mask_account_number("12345678") == "\u2022\u2022\u2022\u202278"
    assert mask_account_number("123") == "\u2022\u2022\u2022\u2022"


def test_text_is_cleaned_for_the_font() -> None:
    assert clean_text("plain ASCII") == "plain ASCII"
    assert clean_text("Momentum \u03b1\u2014\u00e9") == "Momentum \u03b1\u2014\u00e9"
    assert clean_text("tab\there\nnew") == "tab here new"
    assert clean_text("\u682a") == "\ufffd"  # CJK is not in DejaVu Sans


# Determinism -------------------------------------------------------------------------------


def test_the_result_describes_its_bytes(golden: RenderedReport) -> None:
    reader = PdfReader(io.BytesIO(golden.pdf))
    assert golden.pages == len(reader.pages) >= 2
    assert golden.sha256 == hashlib.sha256(golden.pdf).hexdigest()
    assert golden.pdf.startswith(b"%PDF-")
    assert "pdf=" not in repr(golden)  # the bytes stay out of logs and tracebacks


def test_same_snapshot_same_bytes_in_process(
    golden: RenderedReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert render_report(golden_snapshot()).pdf == golden.pdf
    # An inherited SOURCE_DATE_EPOCH would override ReportLab's invariant mode: it must not.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1")
    assert render_report(golden_snapshot()).pdf == golden.pdf
    assert os.environ["SOURCE_DATE_EPOCH"] == "1"  # restored after rendering
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    render_report(golden_snapshot())
    assert "SOURCE_DATE_EPOCH" not in os.environ


def test_concurrent_renders_give_the_same_bytes(golden: RenderedReport) -> None:
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(render_report(golden_snapshot()).pdf))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [golden.pdf] * 3


def test_every_font_is_embedded_and_global_settings_are_restored(golden: RenderedReport) -> None:
    from reportlab import rl_config
    from reportlab.graphics.shapes import STATE_DEFAULTS

    assert b"/FontFile2" in golden.pdf
    assert b"Helvetica" not in golden.pdf  # not even an unused core-font reference
    before = (rl_config.invariant, rl_config.pageCompression, STATE_DEFAULTS["fontName"])
    render_report(golden_snapshot())
    assert (rl_config.invariant, rl_config.pageCompression, STATE_DEFAULTS["fontName"]) == before


def test_golden_hash(golden: RenderedReport) -> None:
    assert golden.sha256 == GOLDEN_SHA256, (
        f"the report of the golden snapshot changed: {golden.sha256} (see GOLDEN_SHA256)"
    )


def test_dates_come_from_the_period_end_and_the_id_from_the_checksum(
    golden: RenderedReport,
) -> None:
    reader = PdfReader(io.BytesIO(golden.pdf))
    info = reader.metadata
    assert info is not None
    assert info["/CreationDate"] == info["/ModDate"] == "D:20240303000000+00'00'"
    snapshot = golden_snapshot()
    assert snapshot.checksum in info["/Keywords"]
    assert snapshot.snapshot_id in info["/Subject"]
    other = render_report(seal(golden_snapshot(), b"an hmac key"))  # same body, other checksum
    other_reader = PdfReader(io.BytesIO(other.pdf))
    assert other_reader.trailer["/ID"] != reader.trailer["/ID"]
    assert other.pdf != golden.pdf


def test_a_different_snapshot_gives_different_bytes(golden: RenderedReport) -> None:
    snapshot = golden_snapshot()
    orders = list(snapshot.alpaca_orders)
    orders[0] = orders[0].model_copy(update={"qty": Decimal(6)})
    changed = seal(snapshot.model_copy(update={"alpaca_orders": tuple(orders)}), None)
    assert changed.checksum != snapshot.checksum
    assert render_report(changed).pdf != golden.pdf


_CHILD = textwrap.dedent(
    """
    import hashlib, sys, time
    fake_now = float(sys.argv[2])
    time.time = lambda: fake_now  # a clock in another year
    from snapshots.report.pdf import render_report
    from snapshots.schema import parse_snapshot
    with open(sys.argv[1], "rb") as f:
        snapshot = parse_snapshot(f.read())
    print(render_report(snapshot).sha256)
    """
)

_ENVIRONMENTS = [
    {"TZ": "UTC", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"},
    {
        "TZ": "Asia/Kolkata",
        "LC_ALL": "POSIX",
        "PYTHONHASHSEED": "12345",
        "SOURCE_DATE_EPOCH": "1700000000",
    },
    {
        "TZ": "EST+5EDT,M3.2.0,M11.1.0",
        "LC_ALL": "C",
        "PYTHONHASHSEED": "random",
        "SOURCE_DATE_EPOCH": "1",
        # ReportLab reads RL_* settings at import; the renderer pins the ones that matter.
        "RL_invariant": "0",
        "RL_pageCompression": "0",
        "RL_useA85": "1",
    },
]


def newest_fixture() -> Any:
    """The committed fixture of the current version: history, benchmark, every section."""
    from snapshots.records import snapshot_from_record
    from tests.snapshots.test_snapshot_fixture import VERSIONS, record_of

    return snapshot_from_record(record_of(VERSIONS[-1].sha256_item), None)


@pytest.mark.parametrize("which", ["golden", "newest-fixture"])
def test_same_bytes_across_processes_timezones_locales_hash_seeds_and_clocks(
    which: str, tmp_path: Path
) -> None:
    snapshot = golden_snapshot() if which == "golden" else newest_fixture()
    expected = render_report(snapshot)
    path = tmp_path / "snapshot.json"
    path.write_bytes(snapshot_bytes(snapshot))
    assert parse_snapshot(path.read_bytes()) == snapshot
    clocks = ["1000000000", "4102444800", "1709500000"]  # 2001, 2100, a day after period_end
    children = []
    for env_overrides, clock in zip(_ENVIRONMENTS, clocks, strict=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RL_")}
        env.pop("SOURCE_DATE_EPOCH", None)
        env.update(env_overrides)
        env["PYTHONPATH"] = str(ROOT)
        children.append(
            subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(path), clock],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out.strip() == expected.sha256


# Content ---------------------------------------------------------------------------------------


def test_text_shows_account_orders_strategies_checks_and_page_numbers(
    golden: RenderedReport,
) -> None:
    pages = pdf_text(golden)
    text = "\n".join(pages)
    snapshot = golden_snapshot()
    assert ACCOUNT not in text  # the account id is masked like the number
    assert mask_account_number(ACCOUNT) in text
    assert "PA3\u2022\u2022\u2022\u2022EFGH" in text
    assert "PA3ABCDEFGH" not in text  # the account number is masked
    assert snapshot.snapshot_id in text
    assert snapshot.checksum in text
    assert "sha256" in text
    ids = [o.id for o in snapshot.alpaca_orders] + [
        leg.id for o in snapshot.alpaca_orders for leg in o.legs
    ]
    assert len(ids) == 3
    for order_id in ids:
        assert order_id in text
    for strategy in ("alpha", "beta"):
        assert strategy in text
    for check in ("positions_match_ledger", "fills_match_orders", "PASS", "WARN"):
        assert check in text
    for n, page in enumerate(pages, start=1):
        assert f"Page {n} of {len(pages)}" in page
    # Key figures as the figures module computed them.
    for figure in ("5,000.25", "1,000.50", "2,001.00", "3,999.75"):
        assert figure in text


def test_orders_span_pages_and_repeat_the_header() -> None:
    orders = tuple(
        alpaca_order(
            n,
            side=("buy", "sell")[n % 2],
            status=("filled", "canceled", "partially_filled")[n % 3],
            symbol=f"SYM{n % 17}",
            qty=str(n),
            filled_qty=str(n if n % 3 == 0 else 0),
            filled_avg_price=str(100 + n) if n % 3 == 0 else None,
        )
        for n in range(1, 301)
    )
    report = render_report(sealed(alpaca_orders=orders))
    pages = pdf_text(report)
    with_orders = [page for page in pages if any(o.id in page for o in orders)]
    assert len(with_orders) >= 3
    for page in with_orders:
        assert "Order id" in page
        assert "Submitted (UTC)" in page
        assert "Avg price" in page
    text = "\n".join(pages)
    for order in orders:
        assert order.id in text
    assert alpaca_uuid(300) in with_orders[-1]
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]


def test_an_empty_snapshot_renders_with_notes() -> None:
    ledger = InternalLedger(
        ledger_id="empty-ledger",
        total_trades=0,
        total_buy_value=Decimal(0),
        total_sell_value=Decimal(0),
        total_fees=Decimal(0),
        strategies_active=(),
        strategy_performance={},
    )
    snapshot = sealed(
        alpaca_positions=(),
        alpaca_orders=(),
        alpaca_fees=(),
        equity_series=(),
        integrity_checks=(),
        internal_ledger=ledger,
    )
    report = render_report(snapshot)
    text = "\n".join(pdf_text(report))
    assert report.pages >= 1
    for note in (
        "No equity samples in the period",
        "No open positions",
        "No orders in the period",
        "no integrity checks",
        "no strategy with trades",
    ):
        assert note in text
    assert render_report(snapshot).pdf == report.pdf


def test_a_single_equity_sample_gets_a_note() -> None:
    report = render_report(sealed(equity_series=(equity_point(3),)))
    assert "One equity sample (5,000.25 at 2024-03-02 03:00:00)" in "\n".join(pdf_text(report))


def test_non_latin1_text_is_embedded_or_replaced() -> None:
    from snapshots.ledger.metrics import summarize_ledger

    fills = [
        strategy_fill("u1", "BUY", "2", "10", allocation={"Momentum \u03b1": "1"}),
        strategy_fill("u2", "SELL", "1", "12", seconds=86_400, allocation={"Momentum \u03b1": "1"}),
    ]
    ledger = summarize_ledger(
        attributions_of(fills),
        account_id=ACCOUNT,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        ledger_id="t\u00e9st-ledger",
    ).internal_ledger
    fees = (fee_activity(1, description="Geb\u00fchr \u682a\u5f0f"),)
    report = render_report(sealed(internal_ledger=ledger, alpaca_fees=fees))
    text = "\n".join(pdf_text(report))
    assert "Momentum \u03b1" in text
    assert "t\u00e9st-ledger" in text
    assert "Geb\u00fchr \ufffd\ufffd" in text


# Isolation -----------------------------------------------------------------------------------


def test_importing_the_renderer_pulls_in_no_alpaca_pandas_or_builder() -> None:
    code = (
        "import sys, snapshots.report.pdf; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('alpaca', 'pandas', 'numpy')"
        " or m in ('snapshots.alpaca.source', 'snapshots.ledger.metrics', 'snapshots.demo.run',"
        " 'snapshots.fake_alpaca.server', 'tests.builders')); "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == ""


def test_account_ids_are_masked_in_pages_and_metadata_unless_asked_for(
    golden: RenderedReport,
) -> None:
    snapshot = golden_snapshot()
    hidden = (ACCOUNT, snapshot.alpaca_account.id)
    metadata = PdfReader(io.BytesIO(golden.pdf)).metadata
    assert metadata is not None
    described = " ".join(str(v) for v in metadata.values())
    for text in ("\n".join(pdf_text(golden)), described):
        for identifier in hidden:
            assert identifier not in text
    revealed = render_report(snapshot, ReportOptions(reveal_ids=True))
    text = "\n".join(pdf_text(revealed))
    for identifier in hidden:
        assert identifier in text
    assert revealed.pdf != golden.pdf


def test_the_risk_free_rate_is_stated_and_changes_the_ratios() -> None:
    # 25 daily closes: enough daily returns (24) for the annualised ratios
    values = [str(1000 + (37 * i) % 50 + 2 * i) for i in range(25)]
    snapshot = sealed(
        equity_series=tuple(
            equity_point(24 * (i - len(values) + 1), equity=v) for i, v in enumerate(values)
        )
    )
    plain_rate = render_report(snapshot)
    rated = render_report(snapshot, ReportOptions(risk_free_rate=Decimal("0.05")))
    assert "risk-free 0.00%" in "\n".join(pdf_text(plain_rate))
    assert "risk-free 5.00%" in "\n".join(pdf_text(rated))
    sharpe = [
        report_metrics(snapshot, ReportOptions(risk_free_rate=r)).inception.sharpe
        for r in (Decimal(0), Decimal("0.05"))
    ]
    assert sharpe[0] is not None
    assert sharpe[1] is not None
    assert sharpe[1] < sharpe[0]


@pytest.mark.parametrize("rate", [Decimal(1), Decimal("-1"), Decimal("NaN")])
def test_a_risk_free_rate_outside_minus_one_to_one_is_refused(rate: Decimal) -> None:
    with pytest.raises(LedgerValidationError, match="risk-free rate"):
        ReportOptions(risk_free_rate=rate)


def test_the_first_page_gives_the_period_first_and_labels_the_history() -> None:
    """The key figures read the period's return, P&L, drawdown (dated with years) and risk
    first, each card saying "(period)"; figures over the whole history follow, labelled
    "(inception)"; a ratio from too few daily returns is "—" with the reason, never a number."""
    first = pdf_text(render_report(newest_fixture()))[0]
    labels = [
        "NET P&L (PERIOD)",
        "RETURN (PERIOD)",
        "MAX DRAWDOWN (PERIOD)",
        "VOLATILITY (PERIOD)",
        "SHARPE (PERIOD)",
        "SORTINO (PERIOD)",
        "RETURN (INCEPTION)",
        "MAX DRAWDOWN (INCEPTION)",
        "SHARPE (INCEPTION)",
    ]
    at = [first.index(label) for label in labels]
    assert at == sorted(at)
    # the period's deepest fall, dated in full (the fixture's history holds a deeper one)
    assert "2026-07-31 \u2192 2026-08-03" in first
    assert "-10.17%" in first
    assert "2026-07-29 \u2192 2026-08-03" in first
    assert "-10.62%" in first
    # four daily returns in the period, thirteen in the history: no annualised ratio at all
    assert first.count("needs 20 daily returns, has 4") == 3
    assert first.count("needs 20 daily returns, has 13") == 2
    assert "since 2026-07-20, 13 daily returns" in first


def test_a_strategy_table_whose_rounded_rows_miss_the_total_says_so() -> None:
    """Three strategies of 1.005 each print 1.00 (half-even) three times, 3.00 in all, while
    the exact total 3.015 prints 3.02: the note names the column and both sums."""
    from snapshots.report.summary_tables import _rounding_note

    rows = [Decimal("1.005")] * 3
    note = _rounding_note([("Total P&L", rows, sum(rows, Decimal(0)))])
    assert "Total P&L 3.00 against 3.02" in note
    assert _rounding_note([("Fees", [Decimal("1.25"), None], Decimal("1.25"))]) == ""


def test_the_equity_and_underwater_charts_share_their_dates_and_mark_the_flows() -> None:
    """A deposit is a jump in the equity line and no recovery in the underwater chart: the
    equity chart marks each flow (the largest with its amount), the underwater chart says it
    is of the flow-adjusted index, and both read the same dates, with years."""
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Line, String

    from snapshots.report.charts import _equity_chart, _underwater_chart, date_axis
    from snapshots.report.metrics import cash_flows

    snapshot = newest_fixture()
    page = pdf_text(render_report(snapshot))[0]  # (registers the report's fonts)
    assert "drawdown of the flow-adjusted wealth index" in page
    assert "deposits and withdrawals marked" in page
    m = report_metrics(snapshot)
    axis = date_axis(snapshot)
    assert axis is not None
    equity, underwater = _equity_chart(snapshot, m, axis), _underwater_chart(m, axis)
    plots = [next(c for c in d.contents if isinstance(c, LinePlot)) for d in (equity, underwater)]
    labels = [[p.xValueAxis.labelTextFormat(v) for v in p.xValueAxis.valueSteps] for p in plots]
    assert labels[0] == labels[1]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", label) for label in labels[0])
    first, last = labels[0][0], labels[0][-1]
    assert (first, last) == (fmt_date(m.inception.first_day), fmt_date(m.inception.last_day))
    marks = [c for c in equity.contents if isinstance(c, Line) and c.strokeDashArray]
    flows = [f for f in cash_flows(snapshot) if f[0] > snapshot.equity_history[0].timestamp]
    assert len(marks) == len(flows) > 0
    texts = {c.text for c in equity.contents if isinstance(c, String)}
    largest = max(flows, key=lambda f: abs(f[1]))[1]
    assert fmt_money(largest, places=0, signed=True) in texts


def test_the_round_trips_of_the_period_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each round trip closed in the period is a row: entry and exit, P&L and holding time;
    with more than the table's rows, the largest by P&L first, and the note says so."""
    from snapshots.report import ledger_tables

    snapshot = newest_fixture()
    trips = [
        m
        for p in snapshot.internal_ledger.strategy_performance.values()
        for m in p.period_round_trips
    ]
    assert trips
    text = "\n".join(pdf_text(render_report(snapshot)))
    assert f"Round trips closed in the period ({len(trips)})" in text
    biggest = max(trips, key=lambda m: abs(m.realized_pnl))
    assert fmt_money(biggest.realized_pnl, signed=True) in text
    assert "by close time" in text
    # the daily returns come with the day's P&L in money
    assert "P&L, USD" in text
    last = report_metrics(snapshot).period.days[-1]
    assert f"{fmt_percent(last.ret, signed=True)}\n{fmt_money(last.pnl, signed=True)}" in text
    monkeypatch.setattr(ledger_tables, "ROUND_TRIP_ROWS", 1)
    story = ledger_tables._round_trip_list(snapshot)
    table = story[-2]
    assert len(table._cellvalues) == 2  # the header and the largest
    assert table._cellvalues[1][7] == fmt_money(biggest.realized_pnl, signed=True)
