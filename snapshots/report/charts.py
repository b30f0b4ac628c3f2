"""The report's charts (equity, underwater, exposure, strategies): ReportLab drawings with
every label in the bundled font.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from itertools import pairwise
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import (
    HorizontalBarChart,
)
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import (
    Drawing,
    Rect,
    String,
)
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import (
    Paragraph,
    Table,
)

from ledger_store.decimals import decimal_context
from snapshots.report.figures import (
    ReportFigures,
    fmt_date,
    fmt_datetime,
    fmt_money,
    valued,
)
from snapshots.report.layout import (
    AXIS_FONT_SIZE,
    CHART_HEIGHT,
    CHART_WIDTH,
    CONTENT_WIDTH,
    FONT,
    FONT_BOLD,
    INK,
    LONG,
    LONG_LIGHT,
    MUTED,
    NAVY,
    NEGATIVE,
    RULE,
    SHORT,
    TOP_POSITIONS,
    UNDERWATER,
    ZEBRA,
    _bare_style,
    _fit,
    _heading,
    _style,
    clean_text,
)
from snapshots.report.metrics import ReportMetrics, equity_points
from snapshots.schema import (
    AccountSnapshotV14,
    AnySnapshot,
)


def _nice_scale(lo: Decimal, hi: Decimal, intervals: int = 4) -> list[Decimal]:
    """Tick values covering ``[lo, hi]`` in round steps (1, 2, 2.5, 5 x 10^n), in ``Decimal``."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = max(abs(hi) / 100, Decimal(1))
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / intervals
    base = Decimal(1).scaleb(raw.adjusted())
    step = base * 10
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if base * factor >= raw:
            step = base * factor
            break
    first = (lo / step).to_integral_value(rounding=ROUND_FLOOR) * step
    last = (hi / step).to_integral_value(rounding=ROUND_CEILING) * step
    count = int((last - first) / step)
    return [first + step * i for i in range(count + 1)]


def _axis_label_format(ticks: Sequence[Decimal]) -> Callable[[float], str]:
    """Axis labels with as many decimals as the step needs, formatted without locale."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else Decimal(1)
    exponent = step.normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0

    def label(value: float) -> str:
        return fmt_money(Decimal(repr(value)), places=min(places, 4))

    return label


def _style_axis(axis: Any) -> None:
    axis.labels.fontName = FONT
    axis.labels.fontSize = AXIS_FONT_SIZE
    axis.labels.fillColor = MUTED
    axis.strokeColor = RULE
    axis.strokeWidth = 0.6
    if axis.isXAxis:
        axis.tickDown = 2
    else:
        axis.tickLeft = 2


def _style_bar_axes(chart: Any, ticks: Sequence[Decimal]) -> None:
    """The horizontal bar charts' look: names at the left, value grid on ``ticks``."""
    _style_axis(chart.categoryAxis)
    _style_axis(chart.valueAxis)
    chart.categoryAxis.visibleTicks = 0
    chart.categoryAxis.labels.fillColor = INK
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.labels.dx = -3
    chart.categoryAxis.joinAxisMode = "left"
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = float(ticks[0]), float(ticks[-1])
    chart.valueAxis.valueSteps = [float(t) for t in ticks]
    chart.valueAxis.labelTextFormat = _axis_label_format(ticks)
    chart.valueAxis.visibleGrid = 1
    chart.valueAxis.gridStrokeColor = RULE
    chart.valueAxis.gridStrokeWidth = 0.4


def _chart_note(text: str) -> Any:
    drawing = Drawing(CHART_WIDTH, CHART_HEIGHT)
    drawing.add(
        Rect(0, 0, CHART_WIDTH, CHART_HEIGHT, fillColor=ZEBRA, strokeColor=RULE, strokeWidth=0.5)
    )
    drawing.add(
        String(
            CHART_WIDTH / 2,
            CHART_HEIGHT / 2,
            clean_text(text),
            fontName=FONT,
            fontSize=7.5,
            fillColor=MUTED,
            textAnchor="middle",
        )
    )
    return drawing


def _benchmark_line(
    snapshot: AnySnapshot, m: ReportMetrics
) -> tuple[str, list[tuple[datetime, Decimal]]] | None:
    """What the equity would have been in the benchmark with the same deposits and
    withdrawals: from the account's equity on the first day both have, each day's flows
    added and the benchmark's move applied."""
    if not isinstance(snapshot, AccountSnapshotV14) or snapshot.benchmark is None:
        return None
    closes = {c.day: c.close for c in snapshot.benchmark.closes}
    days = [d for d in m.performance.days if d.day in closes]
    if len(days) < 2:
        return None
    value = days[0].equity
    line = [(days[0].at, value)]
    with localcontext(decimal_context(28)):  # never the caller's context
        for before, day in pairwise(days):
            value = (value + day.net_flow) * closes[day.day] / closes[before.day]
            line.append((day.at, value))
    return snapshot.benchmark.symbol, line


def _equity_chart(snapshot: AnySnapshot, m: ReportMetrics) -> Any:
    series = valued(equity_points(snapshot))
    if not series:
        return _chart_note("No equity samples in the period")
    if len(series) == 1:
        point = series[0]
        return _chart_note(
            f"One equity sample ({fmt_money(point.equity)} at {fmt_datetime(point.timestamp)}):"
            " a curve needs two"
        )
    origin = series[0].timestamp
    hours = [(p.timestamp - origin) / timedelta(hours=1) for p in series]
    values = [p.equity for p in series if p.equity is not None]
    benchmark = _benchmark_line(snapshot, m)
    bench_values = [v for _, v in benchmark[1]] if benchmark else []
    y_ticks = _nice_scale(min([*values, *bench_values]), max([*values, *bench_values]))
    span = hours[-1]
    x_ticks = [span * i / 4 for i in range(5)]
    long_period = (series[-1].timestamp - origin) > timedelta(days=3)

    def x_label(value: float) -> str:
        moment = origin + timedelta(hours=value)
        if long_period:
            return fmt_date(moment)
        text = fmt_datetime(moment, seconds=False)
        return text[5:]  # MM-DD HH:MM

    drawing = Drawing(CHART_WIDTH, CHART_HEIGHT)
    plot = LinePlot()
    plot.x, plot.y = 42, 22
    plot.width, plot.height = CHART_WIDTH - 54, CHART_HEIGHT - 34
    data = [list(zip(hours, (float(v) for v in values), strict=True))]
    if benchmark is not None:
        data.append([((at - origin) / timedelta(hours=1), float(v)) for at, v in benchmark[1]])
    plot.data = data
    plot.lines[0].strokeColor = NAVY
    plot.lines[0].strokeWidth = 1.3
    if len(series) <= 60:
        plot.lines[0].symbol = makeMarker(
            "FilledCircle", size=2.6, fillColor=NAVY, strokeColor=NAVY
        )
    if benchmark is not None:
        plot.lines[1].strokeColor = SHORT
        plot.lines[1].strokeWidth = 0.9
        plot.lines[1].strokeDashArray = [3, 2]
    for axis in (plot.xValueAxis, plot.yValueAxis):
        _style_axis(axis)
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0.0, span
    plot.xValueAxis.valueSteps = x_ticks
    plot.xValueAxis.labelTextFormat = x_label
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = float(y_ticks[0]), float(y_ticks[-1])
    plot.yValueAxis.valueSteps = [float(t) for t in y_ticks]
    plot.yValueAxis.labelTextFormat = _axis_label_format(y_ticks)
    plot.yValueAxis.visibleGrid = 1
    plot.yValueAxis.gridStrokeColor = RULE
    plot.yValueAxis.gridStrokeWidth = 0.4
    plot.yValueAxis.visibleAxis = 0
    plot.yValueAxis.visibleTicks = 0
    drawing.add(plot)
    if benchmark is not None:
        _legend(
            drawing,
            (
                ("Account", NAVY),
                (f"{_fit(benchmark[0], 60, size=AXIS_FONT_SIZE)}, same deposits", SHORT),
            ),
        )
    return drawing


def _exposure_chart(figures: ReportFigures) -> tuple[Any, str]:
    valued = [e for e in figures.exposures if e.market_value is not None]
    if not valued:
        return _chart_note("No open positions with a market value"), "Exposure by position"
    top = sorted(valued, key=lambda e: (-abs(e.market_value or Decimal(0)), e.symbol))[
        :TOP_POSITIONS
    ]
    top.reverse()  # the bar chart draws its first category at the bottom
    values = [e.market_value or Decimal(0) for e in top]
    ticks = _nice_scale(min([*values, Decimal(0)]), max([*values, Decimal(0)]))
    drawing = Drawing(CHART_WIDTH, CHART_HEIGHT)
    chart = HorizontalBarChart()
    chart.x, chart.y = 56, 22
    chart.width, chart.height = CHART_WIDTH - 66, CHART_HEIGHT - 40
    chart.data = [[float(v) for v in values]]
    chart.bars.strokeColor = None
    chart.barSpacing = 0
    chart.groupSpacing = 3 if len(top) > 6 else 6
    for index, exposure in enumerate(top):
        chart.bars[(0, index)].fillColor = SHORT if exposure.side == "short" else LONG
    chart.categoryAxis.categoryNames = [_fit(e.symbol, 50, size=AXIS_FONT_SIZE) for e in top]
    _style_bar_axes(chart, ticks)
    drawing.add(chart)
    legend_y = CHART_HEIGHT - 9
    for offset, (name, colour) in enumerate((("Long", LONG), ("Short", SHORT))):
        x = CHART_WIDTH - 78 + offset * 40
        drawing.add(Rect(x, legend_y, 7, 7, fillColor=colour, strokeColor=None))
        drawing.add(
            String(
                x + 10, legend_y + 1, name, fontName=FONT, fontSize=AXIS_FONT_SIZE, fillColor=MUTED
            )
        )
    shown = f"top {len(top)} of {len(figures.exposures)}" if len(valued) > len(top) else "all"
    return drawing, f"Exposure by position ({shown}, market value)"


def _charts(snapshot: AnySnapshot, m: ReportMetrics) -> list[Any]:
    caption = _style("chart-caption", fontName=FONT_BOLD, fontSize=8, leading=10, textColor=INK)
    exposure, exposure_title = _exposure_chart(m.figures)
    ccy = clean_text(m.figures.currency)

    def pair(titles: tuple[str, str], drawings: tuple[Any, Any]) -> Any:
        table = Table(
            [
                [
                    Paragraph(escape(clean_text(titles[0])), caption),
                    "",
                    Paragraph(escape(clean_text(titles[1])), caption),
                ],
                [drawings[0], "", drawings[1]],
            ],
            colWidths=[CHART_WIDTH, CONTENT_WIDTH - 2 * CHART_WIDTH, CHART_WIDTH],
        )
        table.setStyle(_bare_style(("BOTTOMPADDING", (0, 0), (-1, 0), 4)))
        return table

    return [
        _heading("Equity and drawdown"),
        pair(
            (f"Equity ({ccy})", "Underwater: drawdown from the running peak"),
            (_equity_chart(snapshot, m), _underwater_chart(m)),
        ),
        _heading("P&L by strategy and exposure"),
        pair(
            (f"P&L by strategy ({ccy})", f"{exposure_title}, {ccy}"),
            (_strategy_chart(m), exposure),
        ),
    ]


def _strategy_chart(m: ReportMetrics) -> Any:
    """Horizontal bars: each strategy's net P&L of the period and its total since inception."""
    shown = m.strategies[:TOP_POSITIONS]
    if not shown:
        return _chart_note("No strategies")
    period = [s.net_pnl for s in shown]
    # Snapshots before 1.2 have no unrealised P&L, so no total: only the period's bars.
    total = [s.total_pnl for s in shown]
    with_total = any(t is not None for t in total)
    totals = [t if t is not None else Decimal(0) for t in total]
    values = [*period, *(totals if with_total else []), Decimal(0)]
    ticks = _nice_scale(min(values), max(values))
    drawing = Drawing(CHART_WIDTH, CHART_HEIGHT)
    chart = HorizontalBarChart()
    chart.x, chart.y = 70, 22
    chart.width, chart.height = CHART_WIDTH - 80, CHART_HEIGHT - 40
    series = [[float(v) for v in reversed(period)]]
    if with_total:
        series.insert(0, [float(v) for v in reversed(totals)])
    chart.data = series
    chart.bars.strokeColor = None
    chart.bars[0].fillColor = NAVY if with_total else LONG_LIGHT
    chart.bars[1].fillColor = LONG_LIGHT
    chart.barSpacing = 1
    chart.groupSpacing = 4
    chart.categoryAxis.categoryNames = [
        _fit(s.strategy, 62, size=AXIS_FONT_SIZE) for s in reversed(shown)
    ]
    _style_bar_axes(chart, ticks)
    drawing.add(chart)
    legend = [("Net, period", LONG_LIGHT)]
    if with_total:
        legend.append(("Total, inception", NAVY))
    _legend(drawing, legend)
    return drawing


def _legend(drawing: Any, entries: Sequence[tuple[str, Any]]) -> None:
    x = CHART_WIDTH
    y = CHART_HEIGHT - 9
    for name, colour in reversed(entries):
        x -= pdfmetrics.stringWidth(name, FONT, AXIS_FONT_SIZE) + 18
        drawing.add(Rect(x, y, 7, 7, fillColor=colour, strokeColor=None))
        drawing.add(
            String(x + 10, y + 1, name, fontName=FONT, fontSize=AXIS_FONT_SIZE, fillColor=MUTED)
        )


@dataclass(frozen=True, slots=True)
class _FillTo:
    """ReportLab's in-fill target: the y value a line plot's area is filled to."""

    yValue: float  # ReportLab's attribute name


def _underwater_chart(m: ReportMetrics) -> Any:
    points = m.performance.underwater
    if len(points) < 2:
        return _chart_note("A drawdown needs two daily equity values")
    origin = points[0].day
    xs = [float((p.day - origin).days) for p in points]
    depths = [p.depth * 100 for p in points]
    low = min([*depths, Decimal(-1)])
    ticks = _nice_scale(low, Decimal(0))
    drawing = Drawing(CHART_WIDTH, CHART_HEIGHT)
    plot = LinePlot()
    plot.x, plot.y = 42, 22
    plot.width, plot.height = CHART_WIDTH - 54, CHART_HEIGHT - 34
    plot.data = [list(zip(xs, (float(d) for d in depths), strict=True))]
    plot.lines[0].strokeColor = NEGATIVE
    plot.lines[0].strokeWidth = 1.1
    plot.lines[0].inFill = 1
    plot.lines[0].fillColor = UNDERWATER
    plot._inFill = _FillTo(0.0)  # fill up to 0 % (ReportLab's default fills to the x axis)
    for axis in (plot.xValueAxis, plot.yValueAxis):
        _style_axis(axis)
    span = xs[-1] if xs[-1] > 0 else 1.0
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0.0, span
    plot.xValueAxis.valueSteps = [span * i / 4 for i in range(5)]
    plot.xValueAxis.labelTextFormat = lambda v: fmt_date(origin + timedelta(days=round(v)))
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = float(ticks[0]), float(ticks[-1])
    plot.yValueAxis.valueSteps = [float(t) for t in ticks]
    label = _axis_label_format(ticks)
    plot.yValueAxis.labelTextFormat = lambda v: f"{label(v)}%"
    plot.yValueAxis.visibleGrid = 1
    plot.yValueAxis.gridStrokeColor = RULE
    plot.yValueAxis.gridStrokeWidth = 0.4
    plot.yValueAxis.visibleAxis = 0
    plot.yValueAxis.visibleTicks = 0
    drawing.add(plot)
    return drawing
