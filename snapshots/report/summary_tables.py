"""The report's summary sections: key figures, returns and risk, reconciliation, strategies,
round trips, positions, asset classes, integrity checks and the methodology.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.platypus import (
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from ledger_store.events import AssetFee
from snapshots.ledger.models import AccountLedgerV16
from snapshots.report.figures import (
    NONE_TEXT,
    PositionExposure,
    ReportFigures,
    exact_sum,
    fmt_date,
    fmt_datetime,
    fmt_money,
    fmt_percent,
    fmt_price,
    fmt_qty,
    shown,
)
from snapshots.report.layout import (
    CARD_BG,
    CELL_LEFT_BOLD,
    CELL_MUTED,
    CHART_WIDTH,
    CONTENT_WIDTH,
    FONT,
    FONT_BOLD,
    INK,
    METHOD,
    MUTED,
    NEGATIVE,
    POSITIVE,
    STATUS_COLOURS,
    TABLE_FONT_SIZE,
    WARNING,
    _count,
    _duration,
    _fit,
    _fitting_size,
    _grid_table,
    _heading,
    _kv_table,
    _long_heading,
    _note,
    _para,
    _ratio_text,
    _row_height,
    _side_by_side,
    _signed_colour,
    _total_rows,
    _widths,
    clean_text,
)
from snapshots.report.metrics import ReportMetrics
from snapshots.report.performance import MIN_ANNUALISED_RETURNS, Performance
from snapshots.report.reconciliation import period_opening_flows
from snapshots.report.strategies import StrategyPnL
from snapshots.schema import (
    AnySnapshot,
)


def _key_figures(m: ReportMetrics) -> list[Any]:
    """The first page's cards: the period's figures first (each card says so), then the
    same figures since the history the snapshot holds begins, labelled with that day, then
    the account's balances and the ledger's state."""
    f, period, inception = m.figures, m.period, m.inception
    ccy = clean_text(f.currency)
    rate = fmt_percent(inception.risk_free_rate)
    trips = m.round_trips
    since = f"since {fmt_date(inception.first_day)}"
    cards: list[tuple[str, str, str, Any]] = [
        ("Equity", fmt_money(f.equity), f"{ccy}, live at the snapshot", INK),
        (
            "Net P&L (period)",
            fmt_money(period.pnl, signed=True),
            f"{ccy}, deposits excluded" if period.pnl is not None else "needs two daily values",
            _signed_colour(period.pnl),
        ),
        (
            "Return (period)",
            fmt_percent(period.twr, signed=True),
            f"time-weighted, {_count(period.returns, 'daily return')}",
            _signed_colour(period.twr),
        ),
        _drawdown_card("Max drawdown (period)", period),
        _ratio_card("Volatility (period)", period, period.volatility, "annualised", percent=True),
        _ratio_card("Sharpe (period)", period, period.sharpe, f"risk-free {rate}"),
        _ratio_card(
            "Sortino (period)",
            period,
            period.sortino,
            f"risk-free {rate}",
            undefined="no day below the risk-free rate",
        ),
        _benchmark_card(period),
        (
            "Return (inception)",
            fmt_percent(inception.twr, signed=True),
            f"{since}, {_count(inception.returns, 'daily return')}",
            _signed_colour(inception.twr),
        ),
        _drawdown_card("Max drawdown (inception)", inception),
        _ratio_card("Volatility (inception)", inception, inception.volatility, since, percent=True),
        _ratio_card("Sharpe (inception)", inception, inception.sharpe, since),
        ("Cash", fmt_money(f.cash), ccy, INK),
        ("Buying power", fmt_money(f.buying_power), ccy, INK),
        ("Long market value", fmt_money(f.long_market_value), ccy, INK),
        ("Short market value", fmt_money(f.short_market_value), ccy, INK),
        (
            "Fees (ledger)",
            fmt_money(f.ledger_fees),
            f"Alpaca {fmt_money(f.alpaca_fees)} in its fee window",
            INK,
        ),
        (
            "Win rate",
            fmt_percent(None if trips is None else trips.win_rate, places=1),
            NONE_TEXT if trips is None else f"{_count(trips.round_trips, 'round trip')}",
            INK,
        ),
        (
            "Orders filled",
            f"{f.filled_orders} / {f.orders}",
            _orders_detail(f),
            INK,
        ),
        (
            "Integrity checks",
            _checks_headline(f),
            f"{f.checks_passed} pass \u00b7 {f.checks_warned} warn \u00b7 {f.checks_failed} fail",
            NEGATIVE if f.checks_failed else (WARNING if f.checks_warned else POSITIVE),
        ),
    ]
    per_row = 4
    data: list[list[str]] = []
    style: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, -1), CARD_BG),
        ("LINEAFTER", (0, 0), (-2, -1), 4, colors.white),
        ("LEFTPADDING", (0, 0), (-1, -1), 7),
        ("RIGHTPADDING", (0, 0), (-1, -1), 7),
        ("TOPPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
    ]
    for start in range(0, len(cards), per_row):
        group = cards[start : start + per_row]
        row = len(data)
        data.append([c[0].upper() for c in group])
        data.append([c[1] for c in group])
        data.append([_fit(c[2], CONTENT_WIDTH / per_row - 14, size=6.8) for c in group])
        style += [
            ("FONT", (0, row), (-1, row), FONT_BOLD, 6.3),
            ("TEXTCOLOR", (0, row), (-1, row), MUTED),
            ("TOPPADDING", (0, row), (-1, row), 5),
            ("FONT", (0, row + 1), (-1, row + 1), FONT_BOLD, 12.5),
            ("TOPPADDING", (0, row + 1), (-1, row + 1), 2),
            ("BOTTOMPADDING", (0, row + 1), (-1, row + 1), 2),
            ("FONT", (0, row + 2), (-1, row + 2), FONT, 6.8),
            ("TEXTCOLOR", (0, row + 2), (-1, row + 2), MUTED),
            ("BOTTOMPADDING", (0, row + 2), (-1, row + 2), 5),
        ]
        for column, card in enumerate(group):
            cell = (column, row + 1)
            style.append(("TEXTCOLOR", cell, cell, card[3]))
            size = _fitting_size(card[1], CONTENT_WIDTH / per_row - 14, FONT_BOLD, 12.5)
            if size < 12.5:
                style.append(("FONT", cell, cell, FONT_BOLD, size, 12.5 * 1.2))
        if start:
            style.append(("LINEABOVE", (0, row), (-1, row), 4, colors.white))
    table = Table(data, colWidths=[CONTENT_WIDTH / per_row] * per_row)
    table.setStyle(TableStyle(style))
    return [_heading("Key figures"), table]


def _drawdown_card(label: str, p: Performance) -> tuple[str, str, str, Any]:
    """The deepest fall of ``p``, dated in full (peak to trough)."""
    episode = p.max_drawdown
    if episode is None:
        why = "no fall" if p.returns else "needs two daily values"
        return (label, fmt_percent(None), why, INK)
    dates = f"{fmt_date(episode.peak)} \u2192 {fmt_date(episode.trough)}"
    return (label, fmt_percent(episode.depth), dates, NEGATIVE)


def _ratio_card(
    label: str,
    p: Performance,
    value: Decimal | None,
    detail: str,
    *,
    percent: bool = False,
    undefined: str = "returns do not vary",
) -> tuple[str, str, str, Any]:
    """An annualised figure of ``p``, or "—" with the reason it is not given (too few daily
    returns, or ``undefined``: why the ratio has no value for these returns)."""
    if value is None:
        why = p.withheld or ("needs two daily values" if not p.returns else undefined)
        return (label, NONE_TEXT, why, INK)
    text = fmt_percent(value) if percent else _ratio_text(value)
    return (label, text, detail, INK if percent else _signed_colour(value))


def _benchmark_card(p: Performance) -> tuple[str, str, str, Any]:
    """The period's return over the benchmark's, with the account's beta to it."""
    b = p.benchmark
    if b is None:
        return ("Vs benchmark (period)", NONE_TEXT, "no benchmark closes in the period", INK)
    beta = "beta \u2014" if b.beta is None else f"beta {_ratio_text(b.beta)}"
    return (
        f"Vs {clean_text(b.symbol)} (period)",
        fmt_percent(b.excess_return, signed=True),
        f"excess return, {beta}, {_count(b.days, 'day')}",
        _signed_colour(b.excess_return),
    )


def _orders_detail(f: ReportFigures) -> str:
    parts = []
    if f.partially_filled_orders:
        parts.append(f"{f.partially_filled_orders} partially")
    if f.order_legs:
        parts.append(_count(f.order_legs, "leg"))
    return " \u00b7 ".join(parts) if parts else "filled / total, by quantity"


def _checks_headline(f: ReportFigures) -> str:
    if f.checks_failed:
        return f"{f.checks_failed} failed"
    if f.checks_warned:
        return _count(f.checks_warned, "warning")
    return "all passed" if f.checks_passed else "none run"


#: The daily-returns table: rows per column and columns (the last days when there are more).
DAILY_ROWS: Final = 12


DAILY_COLUMNS: Final = 3


def _window_text(p: Performance) -> str:
    if p.first_day is None:
        return "no daily equity"
    return (
        f"from the close of {fmt_date(p.first_day)} to that of {fmt_date(p.last_day)}, "
        f"{_count(p.returns, 'daily return')}"
    )


def _returns_and_risk(m: ReportMetrics) -> list[Any]:
    p, period = m.inception, m.period
    ccy = clean_text(m.figures.currency)
    returns: list[tuple[str, str, Any]] = [
        (
            "Period return (time-weighted)",
            fmt_percent(period.twr, signed=True),
            _signed_colour(period.twr),
        ),
        (
            f"Period net P&L (flow-adjusted), {ccy}",
            fmt_money(period.pnl, signed=True),
            _signed_colour(period.pnl),
        ),
        (
            f"Period deposits and withdrawals, {ccy}",
            fmt_money(
                exact_sum([period.net_flows, period_opening_flows(m.period_start, period)]),
                signed=True,
            ),
            None,
        ),
        ("Turnover (period)", fmt_percent(m.turnover), None),
    ]
    if p is not period:
        returns.append(
            (
                "Return over the whole history",
                fmt_percent(p.twr, signed=True),
                _signed_colour(p.twr),
            )
        )
    for window_return in p.windows:
        returns.append(
            (
                f"{window_return.label} (from {fmt_date(window_return.first_day)})",
                fmt_percent(window_return.ret, signed=True),
                _signed_colour(window_return.ret),
            )
        )
    returns.append(
        (
            "Annualised return (CAGR)",
            fmt_percent(p.annualised_return, signed=True),
            _signed_colour(p.annualised_return),
        )
    )
    b = p.benchmark
    if b is not None:
        symbol = _fit(b.symbol, 60)
        whole = " (whole history)" if p is not period else ""
        if p is not period and period.benchmark is not None:
            returns.append(
                (
                    f"{symbol} over the period",
                    fmt_percent(period.benchmark.total_return, signed=True),
                    _signed_colour(period.benchmark.total_return),
                )
            )
        returns += [
            (
                f"{symbol}{whole}",
                fmt_percent(b.total_return, signed=True),
                _signed_colour(b.total_return),
            ),
            (
                f"Excess return over {symbol}{whole}",
                fmt_percent(b.excess_return, signed=True),
                _signed_colour(b.excess_return),
            ),
            (f"Beta to {symbol}", _ratio_text(b.beta), None),
            (f"Correlation with {symbol}", _ratio_text(b.correlation), None),
        ]
    episode, current = p.max_drawdown, p.current_drawdown
    rate = fmt_percent(p.risk_free_rate)
    risk: list[tuple[str, str, Any]] = [
        ("Volatility (annualised)", fmt_percent(p.volatility), None),
        (f"Sharpe ratio (risk-free {rate})", _ratio_text(p.sharpe), _signed_colour(p.sharpe)),
        (f"Sortino ratio (risk-free {rate})", _ratio_text(p.sortino), _signed_colour(p.sortino)),
        ("Calmar ratio", _ratio_text(p.calmar), _signed_colour(p.calmar)),
    ]
    if episode is None:
        risk.append(("Max drawdown", "none" if p.returns else NONE_TEXT, None))
    else:
        recovered = fmt_date(episode.recovered) if episode.recovered else "not yet"
        risk += [
            ("Max drawdown", fmt_percent(episode.depth), NEGATIVE),
            (f"\u2003lost, {ccy}", fmt_money(-episode.amount, signed=True), NEGATIVE),
            (
                "\u2003peak \u2192 trough",
                f"{fmt_date(episode.peak)} \u2192 {fmt_date(episode.trough)}",
                None,
            ),
            ("\u2003recovered", recovered, None),
            ("\u2003duration", _count(episode.duration_days, "day"), None),
        ]
    if current is not None:
        risk.append(
            (
                f"Current drawdown (peak {fmt_date(current.peak)})",
                fmt_percent(current.depth),
                NEGATIVE if current.depth < 0 else None,
            )
        )
    table = _side_by_side(
        _kv_table(returns, CHART_WIDTH, "Returns"), _kv_table(risk, CHART_WIDTH, "Risk")
    )
    return [
        _heading("Returns and risk"),
        table,
        _note(
            f"Period: {_window_text(period)}. Risk, drawdown, MTD/YTD/1Y and the benchmark: "
            f"{_window_text(p)}. Returns are time-weighted: deposits and withdrawals are not "
            "profit. Ratios annualise with 252 trading days; see the methodology at the end."
        ),
    ]


def _period_returns(m: ReportMetrics) -> list[Any]:
    """Monthly returns, then the daily returns in columns."""
    p = m.inception
    # every day after the first: one without a return is listed too, with why it has none
    days = [d for d in m.period.days if d.ret is not None or d.note is not None]
    if not days:
        return []
    story: list[Any] = [_heading("Returns by month and by day")]
    months = [["Month", "Return", "Days"]] + [
        [w.label, fmt_percent(w.ret, signed=True), str(w.days)] for w in p.months
    ]
    month_colours = {(1, row): _signed_colour(w.ret) for row, w in enumerate(p.months, start=1)}
    month_table = _grid_table(
        months, [70, 70, 40], right=(1, 2), colours=month_colours, long=False, h_align="LEFT"
    )
    shown = days[-DAILY_ROWS * DAILY_COLUMNS :]
    columns = [shown[i : i + DAILY_ROWS] for i in range(0, len(shown), DAILY_ROWS)]
    header: list[str] = []
    for _ in columns:
        header += ["Day", "Return", f"P&L, {clean_text(m.figures.currency)}"]
    data: list[list[Any]] = [header]
    colours: dict[tuple[int, int], Any] = {}
    for row in range(max(len(c) for c in columns)):
        line: list[str] = []
        for index, column in enumerate(columns):
            if row < len(column):
                day = column[row]
                line += [
                    fmt_date(day.day),
                    fmt_percent(day.ret, signed=True),
                    fmt_money(day.pnl, signed=True),
                ]
                colours[(3 * index + 1, row + 1)] = _signed_colour(day.ret)
                colours[(3 * index + 2, row + 1)] = _signed_colour(day.pnl)
            else:
                line += ["", "", ""]
        data.append(line)
    width = CONTENT_WIDTH - 196
    fields = (0.36, 0.27, 0.37)  # of each column: the day, its return, its P&L
    daily = _grid_table(
        data,
        [width * f / len(columns) for _ in columns for f in fields],
        right=tuple(i for i in range(3 * len(columns)) if i % 3),
        colours=colours,
        long=False,
        font_size=6.4,
        pad_y=1.6,
        h_align="LEFT",
    )
    layout = _side_by_side(month_table, daily, (180, 16, width))
    story.append(layout)
    if len(shown) < len(days):
        story.append(_note(f"The last {len(shown)} of {len(days)} daily returns."))
    without = [d for d in days if d.ret is None]
    if without:
        listed = "; ".join(f"{fmt_date(d.day)}: {d.note}" for d in without)
        story.append(
            _note(
                f"No return on {_count(len(without), 'day')} (shown \u2014, left out of every "
                f"return and ratio): {listed}."
            )
        )
    return story


def _reconciliation(m: ReportMetrics) -> list[Any]:
    r = m.reconciliation
    title = _heading("Reconciliation")
    if r is None:
        return [title, _note("Two daily equity samples are needed to reconcile the period.")]
    data: list[list[Any]] = [["", "Source", m.figures.currency]]
    colours: dict[tuple[int, int], Any] = {}
    for row, line in enumerate(r.lines, start=1):
        data.append(
            [
                _para(line.label),
                _para(line.source, CELL_MUTED),
                fmt_money(line.amount, signed=line.key != "opening_equity"),
            ]
        )
        if line.key != "opening_equity":
            colours[(2, row)] = _signed_colour(line.amount)
    data.append(
        [
            f"Closing equity (close of {fmt_date(m.period.last_day)})",
            "Alpaca portfolio history",
            fmt_money(r.closing),
        ]
    )
    statement = _grid_table(
        data,
        _widths(52, 30, 18),
        right=(2,),
        colours=colours,
        commands=_total_rows(),
        long=False,
    )
    diffs: list[list[Any]] = [["Figure", "Alpaca", "Ledger", "Difference", "Why"]]
    diff_colours: dict[tuple[int, int], Any] = {}
    for row, d in enumerate(r.differences, start=1):
        diffs.append(
            [
                _para(d.label),
                fmt_money(d.alpaca),
                fmt_money(d.ledger),
                fmt_money(d.difference, signed=True),
                _para(d.explanation, CELL_MUTED),
            ]
        )
        if not d.difference.is_zero():
            diff_colours[(3, row)] = WARNING
    differences = _grid_table(
        diffs, _widths(24, 12, 13, 11, 40), right=(1, 2, 3), colours=diff_colours, long=False
    )
    return [
        title,
        statement,
        _note(
            "Opening equity + deposits and withdrawals + realised P&L + dividends \u2212 fees + "
            "market moves = closing equity. Market moves is what remains: the change in value "
            "of open positions and anything the ledger does not hold."
        ),
        Spacer(1, 6),
        differences,
    ]


def _strategies(m: ReportMetrics) -> list[Any]:
    strategies = m.strategies
    title = _heading(f"Strategies ({len(strategies)})")
    if not strategies:
        return [title, _note("The ledger has no strategy with trades before the period end.")]
    header = [
        "Strategy",
        "Trades",
        "Realised",
        "Dividends",
        "Fees",
        "Net\n(period)",
        "Unrealised\n(open lots)",
        "Total P&L\n(inception)",
    ]
    widths = _widths(26, 9, 11, 11, 9, 11, 12, 12)
    data: list[list[Any]] = [header]
    colours: dict[tuple[int, int], Any] = {}
    totals = [Decimal(0)] * 6
    for row, s in enumerate(strategies, start=1):
        values = _values_of(s)
        data.append(
            [
                _fit(s.strategy, widths[0] - 7),
                str(s.trades),
                fmt_money(s.realized_pnl, signed=True),
                fmt_money(s.dividends, signed=True),
                fmt_money(s.fees),
                fmt_money(s.net_pnl, signed=True),
                fmt_money(s.unrealized_pnl, signed=True),
                fmt_money(s.total_pnl, signed=True),
            ]
        )
        for column, value in zip((2, 3, 5, 6, 7), (values[0], values[1], *values[3:]), strict=True):
            colours[(column, row)] = _signed_colour(value)
        totals = [t + (v or Decimal(0)) for t, v in zip(totals, values, strict=True)]
    data.append(
        [
            "All strategies",
            str(sum(s.trades for s in strategies)),
            fmt_money(totals[0], signed=True),
            fmt_money(totals[1], signed=True),
            fmt_money(totals[2]),
            fmt_money(totals[3], signed=True),
            fmt_money(totals[4], signed=True),
            fmt_money(totals[5], signed=True),
        ]
    )
    table = _grid_table(
        data,
        widths,
        right=range(1, 8),
        colours=colours,
        commands=_total_rows(),
        long=False,
    )
    columns = [
        (name, [_values_of(s)[i] for s in strategies], totals[i])
        for i, name in enumerate(
            ("Realised", "Dividends", "Fees", "Net (period)", "Unrealised", "Total P&L")
        )
    ]
    rounding = _rounding_note(columns)
    story: list[Any] = [
        title,
        table,
        _note(
            "Period: realised P&L of the round trips closed in the period (FIFO, before fees), "
            "dividends credited and fees paid in it; net = realised + dividends \u2212 fees. "
            "Unrealised: open lots at Alpaca's prices at the period end. Total: net realised "
            "since the strategy's first fill + unrealised. Trades counts a fill shared by "
            "strategies once for each." + (f" {rounding}" if rounding else "")
        ),
    ]
    return story + _round_trips(m)


def _values_of(s: StrategyPnL) -> tuple[Decimal | None, ...]:
    """A strategy row's money columns, in the table's order."""
    return (s.realized_pnl, s.dividends, s.fees, s.net_pnl, s.unrealized_pnl, s.total_pnl)


def _rounding_note(columns: Sequence[tuple[str, Sequence[Decimal | None], Decimal]]) -> str:
    """Where the rows of a column, as printed (to the cent), do not add up to its total as
    printed: a sentence naming each such column and both sums; ``""`` when all add up.
    Totals are of the exact figures, each row rounded on its own."""
    differ = []
    for name, rows, total in columns:
        printed = sum((shown(v) for v in rows if v is not None), Decimal(0))
        if printed != shown(total):
            differ.append(f"{name} {fmt_money(printed)} against {fmt_money(total)}")
    if not differ:
        return ""
    return (
        "Each figure is rounded to the cent on its own and the totals are of the exact "
        "figures, so the rows shown add up to a cent or so apart: " + "; ".join(differ) + "."
    )


def _round_trips(m: ReportMetrics) -> list[Any]:
    if m.round_trips is None:
        return [
            _heading("Round trips"),
            _note("Snapshots before version 1.2 record no round trips."),
        ]
    header = [
        "Strategy",
        "Round\ntrips",
        "Win rate",
        "Profit\nfactor",
        "Payoff",
        "Expectancy",
        "Largest win",
        "Largest loss",
        "Avg holding",
    ]
    widths = _widths(22, 8, 9, 9, 8, 11, 11, 11, 11)
    data: list[list[Any]] = [header]
    rows = [(s.strategy, s.round_trips) for s in m.strategies if s.round_trips is not None]
    rows.append(("All strategies", m.round_trips))
    for name, stats in rows:
        assert stats is not None
        data.append(
            [
                _fit(name, widths[0] - 7),
                str(stats.round_trips),
                fmt_percent(stats.win_rate, places=1),
                fmt_money(stats.profit_factor),
                fmt_money(stats.payoff_ratio),
                fmt_money(stats.expectancy, signed=True),
                fmt_money(stats.largest_win, signed=True),
                fmt_money(stats.largest_loss, signed=True),
                _duration(stats.average_holding_seconds),
            ]
        )
    table = _grid_table(
        data,
        widths,
        right=range(1, 9),
        commands=_total_rows(),
        long=False,
    )
    return [
        _heading("Round trips of the period"),
        table,
        _note(
            "A round trip is a lot slice closed in the period (a partial close counts on its "
            "own), P&L before fees. Win rate = wins / round trips; profit factor = gross profit / "
            "gross loss; payoff = average win / average loss; expectancy = P&L per round trip; "
            "holding time from the opening fill to the closing fill."
        ),
    ]


def _asset_fees(snapshot: AnySnapshot) -> tuple[AssetFee, ...]:
    ledger = snapshot.internal_ledger
    return ledger.asset_fees if isinstance(ledger, AccountLedgerV16) else ()


def _methodology(m: ReportMetrics, snapshot: AnySnapshot) -> list[Any]:
    p = m.inception
    rate = fmt_percent(p.risk_free_rate)
    items = [
        (
            "Data",
            f"Everything in this report is computed from the sealed snapshot "
            f"{snapshot.snapshot_id} (version {snapshot.snapshot_version}, checksum "
            f"{snapshot.checksum_algorithm}), as of {fmt_datetime(snapshot.period_end)} UTC: "
            "Alpaca's account, positions, orders, activities and daily portfolio history as "
            "the snapshot job read them, and the trade ledger's fills and events.",
        ),
        (
            "Daily equity",
            "The last portfolio-history sample of each UTC day: a daily (1D) sample holds the "
            "day's closing equity and is labelled with the day's start, as Alpaca's portfolio "
            "history does. The live equity is the account's value when the snapshot was taken.",
        ),
        (
            "Returns",
            "Time-weighted and flow-adjusted (Modified Dietz within the day): a daily close "
            "is valued at the end of its UTC day, and a deposit or withdrawal F dated after "
            "the previous close counts for the share w of that interval it was invested, so "
            "r = (equity \u2212 previous equity \u2212 \u03a3F) / (previous equity + "
            "\u03a3wF). A day has no return when an equity is negative or its withdrawals "
            "take all of the previous close; such days are listed. Period, month, MTD, YTD and 1Y "
            "returns compound the daily returns; MTD, YTD and 1Y are shown only when the "
            "history reaches back to their start. Annualised: (1 + return)^(252 / days) \u2212 1.",
        ),
        (
            "Risk",
            f"252 trading days a year. Volatility: sample standard deviation of the daily "
            f"returns \u00d7 \u221a252. Sharpe: mean daily excess return / its standard "
            f"deviation \u00d7 \u221a252, with the risk-free rate {rate} a year compounded "
            "to a daily rate. Sortino: mean excess return \u00d7 252 / (root mean square of "
            "the negative excess returns \u00d7 \u221a252). Calmar: annualised return / |max "
            "drawdown|. Benchmark beta: covariance / benchmark variance of the daily returns "
            "both have; correlation: Pearson. The annualised figures (return, volatility, "
            f"Sharpe, Sortino, Calmar), beta and correlation need {MIN_ANNUALISED_RETURNS} "
            "daily returns: with "
            "fewer they show \u2014 and say so; Sharpe and Sortino also show \u2014 when the "
            "excess returns do not vary, Sortino when no day is below the risk-free rate. "
            "Turnover: (bought + sold) / 2 over the average daily close of the period. "
            "Key figures marked (period) are the period's, from the last close before it; "
            "(inception) covers all the daily history the snapshot holds. The ratios equal "
            "empyrical-reloaded's on the same (flow-adjusted) daily returns; unlike it, the "
            "drawdown counts a first-day fall and nothing is annualised below the minimum.",
        ),
        (
            "Drawdown",
            "The wealth index starts at 1 on the first daily sample and compounds the daily "
            "returns; drawdown = index / running peak \u2212 1. The max drawdown is one "
            "episode: peak, trough, the day the peak was regained, and the money it cost "
            "(equity at the peak \u2212 equity at the trough + net deposits in between).",
        ),
        (
            "Benchmark",
            "When the snapshot holds one: the symbol's daily closes adjusted for splits and "
            "dividends, from Alpaca's market data. Its return, the excess return, beta and "
            "correlation use the days both have. On the equity chart it is the equity the "
            "account would have had in the benchmark from the first common day, with the same "
            "deposits and withdrawals.",
        ),
        (
            "Realised",
            "P&L of closed round trips matched first in, first out per strategy and symbol "
            "(longs sold, shorts covered), after splits and symbol changes, plus merger cash "
            "beyond cost; before fees. Unrealised: open lots at Alpaca's current prices. "
            "Deposits and withdrawals are capital, never P&L. Exposure: the lots open at each "
            "close, at cost; at market only at the period end.",
        ),
        (
            "Fees",
            "The ledger's fees are those recorded on the period's fills; Alpaca's are its FEE "
            "activities created in the fee window, which can differ because Alpaca posts "
            "regulatory fees after the trade (see the reconciliation)."
            + (
                " Alpaca's crypto fees in dollars (CFEE) count among them; a crypto fee taken "
                "in the coin is in the cost of the lots it shrank instead, and shows when the "
                "coin is sold."
                if any(f.activity_type == "CFEE" for f in snapshot.alpaca_fees)
                or _asset_fees(snapshot)
                else ""
            ),
        ),
    ]
    paragraphs = [
        Paragraph(f"<b>{escape(name)}.</b> {escape(clean_text(text))}", METHOD)
        for name, text in items
    ]
    # It flows on from the last section rather than waiting for a page of its own (a kept
    # block left most of a page blank before it).
    return [*_long_heading("Methodology"), *paragraphs]


def _integrity_checks(snapshot: AnySnapshot) -> list[Any]:
    checks = snapshot.integrity_checks
    if not checks:
        return [_heading("Integrity checks"), _note("The snapshot records no integrity checks.")]
    data: list[list[Any]] = [["Check", "Status", "Message", "Details"]]
    commands: list[tuple[Any, ...]] = []
    for row, check in enumerate(checks, start=1):
        details = " \u00b7 ".join(f"{k} = {v}" for k, v in check.details.items())
        data.append(
            [
                _para(check.name, CELL_LEFT_BOLD),
                check.status.value.upper(),
                _para(check.message or NONE_TEXT),
                _para(details or NONE_TEXT, CELL_MUTED),
            ]
        )
        ink, background = STATUS_COLOURS[check.status]
        commands += [
            ("TEXTCOLOR", (1, row), (1, row), ink),
            ("FONT", (1, row), (1, row), FONT_BOLD, 7),
            ("BACKGROUND", (1, row), (1, row), background),
            ("ALIGN", (1, row), (1, row), "CENTER"),
        ]
    table = _grid_table(data, _widths(31, 8, 36, 25), commands=commands)
    return [_heading("Integrity checks"), table]


def _positions(figures: ReportFigures) -> list[Any]:
    title = _heading(f"Positions ({len(figures.exposures)})")
    if not figures.exposures:
        return [title, _note("No open positions.")]
    header = [
        "Symbol",
        "Class",
        "Side",
        "Qty",
        "Avg entry",
        "Price",
        "Market value",
        "Unrealised P/L",
        "% of equity",
    ]
    widths = _widths(15, 12, 7, 11, 12, 12, 14, 13, 10)
    data: list[list[Any]] = [header]
    colours: dict[tuple[int, int], Any] = {}
    for row, e in enumerate(figures.exposures, start=1):
        data.append(_position_row(e, widths))
        colours[(7, row)] = _signed_colour(e.unrealized_pl)
    known = [e.market_value for e in figures.exposures if e.market_value is not None]
    pls = [e.unrealized_pl for e in figures.exposures if e.unrealized_pl is not None]
    total_pl = sum(pls, Decimal(0))
    data.append(
        [
            "Total",
            "",
            "",
            "",
            "",
            "",
            fmt_money(sum(known, Decimal(0))),
            fmt_money(total_pl, signed=True),
            "",
        ]
    )
    commands = [
        *_total_rows(),
        ("TEXTCOLOR", (7, -1), (7, -1), _signed_colour(total_pl)),
    ]
    table = _grid_table(
        data,
        widths,
        right=range(3, 9),
        colours=colours,
        commands=commands,
        row_height=_row_height(TABLE_FONT_SIZE, 2.2),
    )
    return [title, table]


def _asset_classes(metrics: ReportMetrics) -> list[Any]:
    """The account by asset class, when it holds or traded more than shares."""
    classes = metrics.asset_classes
    if all(c.asset_class == "us_equity" for c in classes):
        return []
    header = ["Class", "Positions", "Long value", "Short value", "Unrealised P/L", "Detail"]
    widths = _widths(11, 8, 12, 12, 12, 51)
    data: list[list[Any]] = [header]
    colours: dict[tuple[int, int], Any] = {}
    for row, c in enumerate(classes, start=1):
        detail = ""
        if c.asset_class == "us_option":
            detail = (
                f"notional {fmt_money(c.notional, signed=True)} \u00b7 premium paid "
                f"{fmt_money(c.premium_paid)} / received {fmt_money(c.premium_received)}"
            )
        elif c.asset_class == "crypto" and (c.coin_fees or c.coin_fees_by_strategy):
            coin = c.coin_fees_by_strategy or {}
            parts = ", ".join(f"{name} {fmt_money(value)}" for name, value in coin.items())
            detail = f"coin fees {fmt_money(c.coin_fees)}" + (f" ({parts})" if parts else "")
        data.append(
            [
                c.asset_class,
                str(c.positions),
                fmt_money(c.long_value),
                fmt_money(c.short_value),
                fmt_money(c.unrealized_pl, signed=True),
                _fit(detail, widths[5] - 7),
            ]
        )
        colours[(4, row)] = _signed_colour(c.unrealized_pl)
    table = _grid_table(
        data,
        widths,
        right=range(1, 5),
        colours=colours,
        row_height=_row_height(TABLE_FONT_SIZE, 2.2),
    )
    names = {c.asset_class for c in classes}
    texts = ["Values and unrealised P/L are Alpaca's, each position in its Alpaca asset class."]
    if "us_option" in names:
        texts.append(
            "Option notional is delta-free: contracts \u00d7 strike \u00d7 100, long minus "
            "short (what the contracts deliver at their strikes, not a delta-adjusted "
            "exposure). Premium: the period's option fills at Alpaca (multi-leg orders by "
            "their legs)."
        )
    if "crypto" in names:
        texts.append(
            "Coin fees: the period's crypto fees taken in the coin, at Alpaca's price then"
            + (
                ", by the strategies whose lots paid them"
                if any(c.coin_fees_by_strategy for c in classes)
                else ""
            )
            + "; they are part of the lots' cost, so the P/L holds them already."
        )
    note = _note(" ".join(texts))
    return [_heading("By asset class"), table, note]


def _position_row(e: PositionExposure, widths: Sequence[float]) -> list[str]:
    return [
        _fit(e.symbol, widths[0] - 7),
        _fit(e.asset_class or NONE_TEXT, widths[1] - 7),
        _fit(e.side, widths[2] - 7),
        fmt_qty(e.qty),
        fmt_price(e.avg_entry_price),
        fmt_price(e.current_price),
        fmt_money(e.market_value),
        fmt_money(e.unrealized_pl, signed=True),
        fmt_percent(e.equity_fraction),
    ]
