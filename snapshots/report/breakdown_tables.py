"""The report's breakdowns of the period: P&L by symbol, and exposure and leverage over time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reportlab.platypus import KeepTogether

from snapshots.report.figures import (
    EXACT,
    NONE_TEXT,
    exact_sum,
    fmt_date,
    fmt_datetime,
    fmt_money,
    fmt_percent,
)
from snapshots.report.layout import (
    FONT_BOLD,
    NAVY,
    TABLE_FONT_SIZE,
    _fit,
    _grid_table,
    _heading,
    _note,
    _row_height,
    _signed_colour,
    _total_rows,
    _widths,
)
from snapshots.report.metrics import ReportMetrics
from snapshots.report.summary_tables import _rounding_note


def _by_symbol(m: ReportMetrics) -> list[Any]:
    """The period's P&L symbol by symbol, closed by what the ledger keeps only by strategy."""
    b = m.by_symbol
    if b is None:
        return []
    title = _heading(f"P&L by symbol ({len(b.symbols)})")
    if not b.symbols:
        return [title, _note("No round trip, dividend or open lot in the period.")]
    header = [
        "Symbol",
        "Round\ntrips",
        "Realised",
        "Dividends",
        "Open\nlots",
        "Unrealised",
        "Total",
    ]
    widths = _widths(24, 9, 14, 13, 8, 14, 14)
    data: list[list[Any]] = [header]
    colours: dict[tuple[int, int], Any] = {}
    for row, s in enumerate(b.symbols, start=1):
        data.append(
            [
                _fit(s.symbol, widths[0] - 7),
                str(s.round_trips),
                fmt_money(s.realized_pnl, signed=True),
                fmt_money(s.dividends, signed=True),
                str(s.open_lots),
                fmt_money(s.unrealized_pnl, signed=True),
                fmt_money(s.total, signed=True),
            ]
        )
        for column, value in ((2, s.realized_pnl), (3, s.dividends), (5, s.unrealized_pnl)):
            colours[(column, row)] = _signed_colour(value)
        colours[(6, row)] = _signed_colour(s.total)
    realized = exact_sum(s.realized_pnl for s in b.symbols)
    dividends = exact_sum(s.dividends for s in b.symbols)
    known = [s.unrealized_pnl for s in b.symbols if s.unrealized_pnl is not None]
    unrealized = exact_sum(known) if len(known) == len(b.symbols) else None
    totals = [s.total for s in b.symbols]
    total = None if None in totals else exact_sum(t for t in totals if t is not None)
    subtotal_row = len(data)
    data.append(
        [
            "All symbols",
            str(sum(s.round_trips for s in b.symbols)),
            fmt_money(realized, signed=True),
            fmt_money(dividends, signed=True),
            str(sum(s.open_lots for s in b.symbols)),
            fmt_money(unrealized, signed=True),
            fmt_money(total, signed=True),
        ]
    )
    extras = [
        ("Realised by events, not fills: expiries, mergers (by strategy)", b.other_realized),
        ("Dividends not held by a symbol's lots (by strategy)", b.other_dividends),
    ]
    for label, value in extras:
        if value != 0:
            data.append([label, "", "", "", "", "", fmt_money(value, signed=True)])
    closing = (
        ("Fees of the period's fills (by strategy)", fmt_money(EXACT.minus(b.fees))),
        ("Net: the strategies' period net + unrealised", fmt_money(b.net, signed=True)),
    )
    data += [[label, "", "", "", "", "", value] for label, value in closing]
    label_span = [("SPAN", (0, row), (5, row)) for row in range(subtotal_row + 1, len(data))]
    table = _grid_table(
        data,
        widths,
        right=range(1, 7),
        colours=colours,
        commands=[
            ("FONT", (0, subtotal_row), (-1, subtotal_row), FONT_BOLD, TABLE_FONT_SIZE),
            ("LINEABOVE", (0, subtotal_row), (-1, subtotal_row), 0.6, NAVY),
            *label_span,
            *_total_rows(),
            ("TEXTCOLOR", (6, -1), (6, -1), _signed_colour(b.net)),
        ],
        row_height=_row_height(TABLE_FONT_SIZE, 2.2),
    )
    columns = [
        (name, [getattr(s, field) for s in b.symbols], value)
        for name, field, value in (
            ("Realised", "realized_pnl", realized),
            ("Dividends", "dividends", dividends),
            ("Unrealised", "unrealized_pnl", unrealized or Decimal(0)),
            ("Total", "total", total or Decimal(0)),
        )
    ]
    rounding = _rounding_note(columns)
    return [
        title,
        table,
        _note(
            "Realised: the round trips closed in the period on the symbol (FIFO, before fees); "
            "dividends: those credited in the period on the strategies' holdings; unrealised: "
            "the open lots at Alpaca's price at the period end; total = realised + dividends + "
            "unrealised. Fees are paid per fill and kept by strategy, so they close the table "
            "as one amount, and the net equals the strategy table's net plus unrealised."
            + (f" {rounding}" if rounding else "")
        ),
    ]


def _exposure(m: ReportMetrics) -> list[Any]:
    """Exposure and leverage at the period's closes (at cost) beside the end at market."""
    points = m.exposure
    if not points:
        return []
    header = [
        "",
        "Day (close)",
        "Equity",
        "Long",
        "Short",
        "Gross",
        "Net",
        "Gross\nleverage",
        "Net\n% equity",
    ]
    widths = _widths(13, 13, 13, 12, 11, 12, 12, 9, 10)
    peak = max(enumerate(points), key=lambda item: (item[1].gross, -item[0]))[1]
    data: list[list[Any]] = [header]
    for label, p in (("First close", points[0]), ("Peak gross", peak), ("Last close", points[-1])):
        data.append(
            _exposure_row(
                label,
                fmt_date(p.day),
                p.equity,
                p.long_cost,
                p.short_cost,
                p.leverage,
                p.net_share,
            )
        )
    count = Decimal(len(points))
    equity, long_cost, short_cost = (
        EXACT.divide(exact_sum(getattr(p, field) for p in points), count)
        for field in ("equity", "long_cost", "short_cost")
    )
    ratios = [p.leverage for p in points if p.leverage is not None]
    shares = [p.net_share for p in points if p.net_share is not None]
    data.append(
        _exposure_row(
            "Average",
            f"{len(points)} closes",
            equity,
            long_cost,
            short_cost,
            EXACT.divide(exact_sum(ratios), Decimal(len(ratios))) if ratios else None,
            EXACT.divide(exact_sum(shares), Decimal(len(shares))) if shares else None,
        )
    )
    f = m.figures
    long_value = EXACT.divide(EXACT.add(f.gross_exposure, f.net_exposure), Decimal(2))
    short_value = EXACT.divide(EXACT.subtract(f.gross_exposure, f.net_exposure), Decimal(2))
    positive = f.equity > 0
    data.append(
        _exposure_row(
            "At market",
            fmt_datetime(m.period_end, seconds=False),
            f.equity,
            long_value,
            short_value,
            EXACT.divide(f.gross_exposure, f.equity) if positive else None,
            EXACT.divide(f.net_exposure, f.equity) if positive else None,
        )
    )
    table = _grid_table(
        data,
        widths,
        right=range(2, 9),
        commands=_total_rows(),
        row_height=_row_height(TABLE_FONT_SIZE, 2.2),
        long=False,
    )
    note = _note(
        "At each daily close, the lots open then (the open lots, and the round trips closed "
        "later), each at its cost: qty \u00d7 entry price \u00d7 contract multiplier, since the "
        "snapshot holds no daily price for each symbol. Gross = long + short, net = long "
        "\u2212 short, leverage = gross / the close's equity. The last row is at market: "
        "Alpaca's positions at the period end. A lot closed by an event other than a fill (an "
        "option expiring, a merger paid in cash) is left out before it. Every close is in the "
        "metrics JSON (exposure)."
    )
    return [KeepTogether([_heading("Exposure and leverage over the period"), table, note])]


def _exposure_row(
    label: str,
    when: str,
    equity: Decimal,
    long_value: Decimal,
    short_value: Decimal,
    leverage: Decimal | None,
    net_share: Decimal | None,
) -> list[Any]:
    gross = EXACT.add(long_value, short_value)
    net = EXACT.subtract(long_value, short_value)
    return [
        label,
        when,
        fmt_money(equity),
        fmt_money(long_value),
        fmt_money(short_value),
        fmt_money(gross),
        fmt_money(net, signed=True),
        NONE_TEXT if leverage is None else f"{fmt_money(leverage)}\u00d7",
        fmt_percent(net_share, signed=True),
    ]
