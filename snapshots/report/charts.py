"""The report's charts (equity, underwater, exposure, strategies): ReportLab drawings with
every label in the bundled font.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from itertools import pairwise
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import (
    HorizontalBarChart,
)
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import (
    Drawing,
    Line,
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
    POSITIVE,
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
from snapshots.report.metrics import ReportMetrics, cash_flows, equity_points
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


def _value_scale(
    axis: Any, ticks: Sequence[Decimal], label: Callable[[float], str] | None = None
) -> None:
    """A value axis running over ``ticks``, labelled (``label``, else the ticks' own format)
    and gridded at each."""
    axis.valueMin, axis.valueMax = float(ticks[0]), float(ticks[-1])
    axis.valueSteps = [float(t) for t in ticks]
    axis.labelTextFormat = label or _axis_label_format(ticks)
    axis.visibleGrid = 1
    axis.gridStrokeColor = RULE
    axis.gridStrokeWidth = 0.4


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
    _value_scale(chart.valueAxis, ticks)


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
    days = [d for d in m.inception.days if d.day in closes]
    if len(days) < 2:
        return None
    value = days[0].equity
    line = [(days[0].at, value)]
    with localcontext(decimal_context(28)):  # never the caller's context
        for before, day in pairwise(days):
            value = (value + day.net_flow) * closes[day.day] / closes[before.day]
            line.append((day.at, value))
    return snapshot.benchmark.symbol, line


@dataclass(frozen=True, slots=True)
class _DateAxis:
    """One x axis of dates for a pair of charts: days since ``origin`` (a UTC midnight), the
    same ticks for both, every label with its year."""

    origin: datetime
    span: float
    intraday: bool

    @classmethod
    def of(cls, first: datetime, last: datetime) -> _DateAxis:
        origin = datetime(first.year, first.month, first.day, tzinfo=UTC)
        span = max((last - origin) / timedelta(days=1), 1e-9)
        return cls(origin, span, (last - first) <= timedelta(days=3))

    def x(self, moment: datetime) -> float:
        return (moment - self.origin) / timedelta(days=1)

    def ticks(self) -> list[float]:
        if self.intraday:
            return [self.span * i / 4 for i in range(5)]
        # whole days, so each label is the day its tick stands on
        days = sorted({round(self.span * i / 4) for i in range(5)})
        return [float(d) for d in days if d <= self.span] or [0.0]

    def label(self, value: float) -> str:
        moment = self.origin + timedelta(days=value)
        return fmt_datetime(moment, seconds=False) if self.intraday else fmt_date(moment)

    def apply(self, axis: Any) -> None:
        axis.valueMin, axis.valueMax = 0.0, self.span
        axis.valueSteps = self.ticks()
        axis.labelTextFormat = self.label


def date_axis(snapshot: AnySnapshot) -> _DateAxis | None:
    """The axis the equity and underwater charts share: the equity samples' first to last."""
    series = valued(equity_points(snapshot))
    if len(series) < 2:
        return None
    return _DateAxis.of(series[0].timestamp.astimezone(UTC), series[-1].timestamp.astimezone(UTC))


def _equity_chart(snapshot: AnySnapshot, m: ReportMetrics, axis: _DateAxis | None) -> Any:
    series = valued(equity_points(snapshot))
    if not series:
        return _chart_note("No equity samples in the period")
    if len(series) == 1 or axis is None:
        point = series[0]
        return _chart_note(
            f"One equity sample ({fmt_money(point.equity)} at {fmt_datetime(point.timestamp)}):"
            " a curve needs two"
        )
    xs = [axis.x(p.timestamp.astimezone(UTC)) for p in series]
    values = [p.equity for p in series if p.equity is not None]
    benchmark = _benchmark_line(snapshot, m)
    bench_values = [v for _, v in benchmark[1]] if benchmark else []
    y_ticks = _nice_scale(min([*values, *bench_values]), max([*values, *bench_values]))
    drawing = Drawing(CHART_WIDTH, CHART_HEIGHT)
    plot = LinePlot()
    plot.x, plot.y = 42, 22
    plot.width, plot.height = CHART_WIDTH - 54, CHART_HEIGHT - 34
    data = [list(zip(xs, (float(v) for v in values), strict=True))]
    if benchmark is not None:
        data.append([(axis.x(at), float(v)) for at, v in benchmark[1]])
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
    for each in (plot.xValueAxis, plot.yValueAxis):
        _style_axis(each)
    axis.apply(plot.xValueAxis)
    _value_scale(plot.yValueAxis, y_ticks)
    plot.yValueAxis.visibleAxis = 0
    plot.yValueAxis.visibleTicks = 0
    drawing.add(plot)
    flows = _flow_marks(
        drawing, plot, axis, series[0].timestamp, series[-1].timestamp, cash_flows(snapshot)
    )
    entries: list[tuple[str, Any]] = [("Account", NAVY)]
    if benchmark is not None:
        entries.append((f"{_fit(benchmark[0], 60, size=AXIS_FONT_SIZE)}, same deposits", SHORT))
    if flows:
        entries.append(("cash flow", MUTED))
    if len(entries) > 1:
        _legend(drawing, entries)
    return drawing


#: Flows labelled with their amount on the equity chart (the largest; the others only marked).
FLOW_LABELS: Final = 4


def _flow_marks(
    drawing: Any,
    plot: Any,
    axis: _DateAxis,
    first: datetime,
    last: datetime,
    cash: Sequence[tuple[datetime, Decimal]],
) -> int:
    """A dotted line at each deposit (green) and withdrawal (red) between the first and the
    last sample, the largest labelled with their amount: the jumps they make in the equity
    line are not returns. Returns how many were marked."""
    flows = [
        (at, amount)
        for at, amount in sorted(cash)
        if first < at <= last + timedelta(days=1) and not amount.is_zero()
    ]

    def x_of(at: datetime) -> float:
        return float(plot.x + plot.width * min(max(axis.x(at) / axis.span, 0.0), 1.0))

    for at, amount in flows:
        drawing.add(
            Line(
                x_of(at),
                plot.y,
                x_of(at),
                plot.y + plot.height,
                strokeColor=POSITIVE if amount > 0 else NEGATIVE,
                strokeWidth=0.7,
                strokeDashArray=[1, 1.5],
            )
        )
    # the largest first, each on the highest of three rows where it overlaps no other label
    rows: list[list[tuple[float, float]]] = [[], [], []]
    for at, amount in sorted(flows, key=lambda f: (-abs(f[1]), f[0]))[:FLOW_LABELS]:
        text = fmt_money(amount, places=0, signed=True)
        width = pdfmetrics.stringWidth(text, FONT, AXIS_FONT_SIZE)
        x = min(x_of(at) + 2, plot.x + plot.width - width)
        for level, taken in enumerate(rows):
            if all(x + width + 3 < left or right + 3 < x for left, right in taken):
                taken.append((x, x + width))
                drawing.add(
                    String(
                        x,
                        plot.y + plot.height - 8 - 7 * level,
                        text,
                        fontName=FONT,
                        fontSize=AXIS_FONT_SIZE,
                        fillColor=POSITIVE if amount > 0 else NEGATIVE,
                    )
                )
                break
    return len(flows)


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

    axis = date_axis(snapshot)
    return [
        _heading("Equity and drawdown"),
        pair(
            (
                f"Equity ({ccy}), deposits and withdrawals marked",
                "Underwater: drawdown of the flow-adjusted wealth index",
            ),
            (_equity_chart(snapshot, m, axis), _underwater_chart(m, axis)),
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


def _underwater_chart(m: ReportMetrics, axis: _DateAxis | None) -> Any:
    """Each day's drawdown of the wealth index, which deposits and withdrawals do not move
    (so a deposit's jump in the equity line is no recovery here), on the equity chart's axis."""
    points = m.inception.underwater
    if len(points) < 2 or axis is None:
        return _chart_note("A drawdown needs two daily equity values")
    # a daily close is plotted where the equity chart plots its sample: the day's start
    xs = [axis.x(datetime(p.day.year, p.day.month, p.day.day, tzinfo=UTC)) for p in points]
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
    for each in (plot.xValueAxis, plot.yValueAxis):
        _style_axis(each)
    axis.apply(plot.xValueAxis)
    label = _axis_label_format(ticks)
    _value_scale(plot.yValueAxis, ticks, lambda v: f"{label(v)}%")
    plot.yValueAxis.visibleAxis = 0
    plot.yValueAxis.visibleTicks = 0
    drawing.add(plot)
    return drawing
