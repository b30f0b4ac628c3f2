"""The account report: a sealed snapshot rendered to PDF, byte-identical for the same snapshot.

``render_report(snapshot)`` is a pure function of the snapshot. It imports only the schema, the
figures (``snapshots.report.figures``) and ReportLab: never alpaca-py, pandas, the Alpaca source
or a builder, so the report Lambda stays lean and cannot call Alpaca.

How the bytes are pinned (whatever the process, clock, ``TZ``, locale or ``PYTHONHASHSEED``):

* ReportLab runs in invariant mode, with compression, comments and a few other global
  settings pinned for the duration of the render (``RL_*`` variables or a
  ``~/.reportlab_settings`` cannot change the output).
* ``SOURCE_DATE_EPOCH`` overrides invariant mode in ReportLab, so while rendering it is set to
  the snapshot's ``period_end`` and restored afterwards: the creation and modification dates
  are ``period_end`` (UTC) and an inherited value has no effect. Renders are serialised by a lock
  because the environment and ReportLab's settings are process-wide.
* The PDF ``/ID`` hashes the metadata, which carries the snapshot id and its checksum, so two
  different snapshots never share an ``/ID`` (and their pages differ anyway).
* Numbers and dates are formatted by ``snapshots.report.figures`` (no locale, no ``strftime``);
  every chart label names its font.
* Text is set in DejaVu Sans Condensed, bundled in ``snapshots/report/fonts`` (Bitstream Vera
  licence) and embedded as a subset: strategy names, symbols, account ids and messages may hold any
  Unicode, which the Latin-1 core fonts cannot show. Characters the font lacks are replaced by
  U+FFFD and control characters by spaces, deterministically, before they reach the page.
"""

from __future__ import annotations

import hashlib
import os
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from functools import cache, lru_cache, partial
from io import BytesIO
from itertools import pairwise
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.graphics.charts.barcharts import (
    HorizontalBarChart,
)
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import (
    STATE_DEFAULTS,
    Drawing,
    Rect,
    String,
)
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    KeepTogether,
    LongTable,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tables import CellStyle

from ledger_store.decimals import decimal_context, explicit_context, plain
from ledger_store.dto import value_of
from ledger_store.events import AssetFee, Dividend, Merger, Split, SymbolChange
from snapshots.alpaca.models import AlpacaOrder
from snapshots.ledger.models import AccountLedgerV16, AccountLedgerV17, LedgerFigures
from snapshots.report.figures import (
    NONE_TEXT,
    PositionExposure,
    ReportFigures,
    compute_figures,
    fmt_date,
    fmt_datetime,
    fmt_money,
    fmt_percent,
    fmt_price,
    fmt_qty,
    mask_account_number,
    valued,
)
from snapshots.report.metrics import ReportMetrics, ReportOptions, equity_points, report_metrics
from snapshots.report.performance import Performance
from snapshots.schema import (
    AccountSnapshotV12,
    AccountSnapshotV14,
    AnySnapshot,
    CheckStatus,
    StrategyPerformance,
    TradeMetrics,
)

#: Products of money and quantities, exact (no caller's context).
_EXACT: Final = decimal_context(80)

#: Version of the layout; part of the PDF metadata. Bump it when the report changes on purpose.
REPORT_LAYOUT_VERSION: Final = "2"

# Fonts ---------------------------------------------------------------------------------------

FONT_DIR: Final = Path(__file__).resolve().parent / "fonts"
FONT: Final = "TradeLedgerSans"
FONT_BOLD: Final = "TradeLedgerSans-Bold"
_FONT_FILES: Final = {
    FONT: "DejaVuSansCondensed.ttf",
    FONT_BOLD: "DejaVuSansCondensed-Bold.ttf",
}
_REPLACEMENT: Final = "\ufffd"


@cache
def _covered() -> frozenset[int]:
    """Register the bundled fonts once; return the code points both of them can draw."""
    coverage: frozenset[int] | None = None
    for name, filename in _FONT_FILES.items():
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(
                TTFont(name, str(FONT_DIR / filename), asciiReadable=1, shapable=False)
            )
        cmap = frozenset(pdfmetrics.getFont(name).face.charToGlyph)
        coverage = cmap if coverage is None else coverage & cmap
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
    )
    assert coverage is not None
    return coverage


@explicit_context
def clean_text(text: str) -> str:
    """Text the fonts can draw: control characters become spaces, unknown characters U+FFFD."""
    if text.isascii() and text.isprintable():
        return text  # printable ASCII is always covered
    covered = _covered()
    out = []
    for char in text:
        if unicodedata.category(char) == "Cc":
            out.append(" ")
        elif ord(char) in covered:
            out.append(char)
        else:
            out.append(_REPLACEMENT)
    return "".join(out)


# Look ----------------------------------------------------------------------------------------

PAGE_SIZE: Final = LETTER
MARGIN_X: Final = 40.0
MARGIN_TOP: Final = 50.0
MARGIN_BOTTOM: Final = 46.0
CONTENT_WIDTH: Final = PAGE_SIZE[0] - 2 * MARGIN_X

INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#66788A")
NAVY = colors.HexColor("#1F3A5F")
RULE = colors.HexColor("#D5DBE3")
HEADER_BG = colors.HexColor("#E8EDF3")
ZEBRA = colors.HexColor("#F6F8FA")
CARD_BG = colors.HexColor("#F3F6F9")
LONG = colors.HexColor("#3D6A99")
SHORT = colors.HexColor("#C4704F")
POSITIVE = colors.HexColor("#1E7A4C")
NEGATIVE = colors.HexColor("#B3261E")
WARNING = colors.HexColor("#A15C00")
LONG_LIGHT = colors.HexColor("#9DB7D5")
UNDERWATER = colors.HexColor("#F2C9C4")
STATUS_COLOURS: Final = {
    CheckStatus.PASS: (POSITIVE, colors.HexColor("#E3F2EA")),
    CheckStatus.WARN: (WARNING, colors.HexColor("#FBF0DC")),
    CheckStatus.FAIL: (NEGATIVE, colors.HexColor("#F9E1DF")),
}
ORDER_STATUS_COLOURS: Final = {
    "filled": POSITIVE,
    "partially_filled": WARNING,
    "canceled": MUTED,
    "expired": MUTED,
    "replaced": MUTED,
    "rejected": NEGATIVE,
    "suspended": NEGATIVE,
}

TABLE_FONT_SIZE: Final = 7.5
ORDERS_FONT_SIZE: Final = 7.0


def _style(name: str, **kwargs: Any) -> Any:
    base: dict[str, Any] = {"fontName": FONT, "fontSize": 8.5, "leading": 11, "textColor": INK}
    base.update(kwargs)
    return ParagraphStyle(name, **base)


TITLE = _style("title", fontName=FONT_BOLD, fontSize=18, leading=22, textColor=NAVY)
SUBTITLE = _style("subtitle", fontSize=9.5, leading=13, textColor=MUTED)
HEADING = _style(
    "heading",
    fontName=FONT_BOLD,
    fontSize=11,
    leading=14,
    textColor=NAVY,
    spaceBefore=14,
    spaceAfter=5,
    keepWithNext=1,
)
HEADING_FLOWING = ParagraphStyle("heading-flowing", parent=HEADING, keepWithNext=0)
NOTE = _style("note", fontSize=7.5, leading=10, textColor=MUTED, spaceBefore=3)
CELL = _style("cell", fontSize=TABLE_FONT_SIZE, leading=9.2)
METHOD = _style("method", fontSize=7.8, leading=10.4, spaceAfter=4)
CELL_MUTED = _style("cell-muted", fontSize=6.8, leading=8.6, textColor=MUTED)
CELL_LEFT_BOLD = _style(
    "cell-bold", fontName=FONT_BOLD, fontSize=TABLE_FONT_SIZE, leading=9.2, alignment=TA_LEFT
)


def _para(text: str, style: Any = CELL) -> Any:
    """A Paragraph of untrusted text: cleaned for the font, escaped for the markup."""
    return Paragraph(escape(clean_text(text)), style)


@lru_cache(maxsize=8192)
def _fit(text: str, width: float, font: str = FONT, size: float = TABLE_FONT_SIZE) -> str:
    """Clean ``text`` and cut it with an ellipsis so that it fits ``width`` points."""
    text = clean_text(text)
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if pdfmetrics.stringWidth(text[:mid] + "\u2026", font, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "\u2026"


def _fitting_size(text: str, width: float, font: str, size: float) -> float:
    """The largest font size up to ``size`` (in steps of 0.5 pt) at which ``text`` fits."""
    while size > 6 and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _signed_colour(value: Decimal | None) -> Any:
    if value is None or value == 0:
        return INK
    return POSITIVE if value > 0 else NEGATIVE


_CELL_OPS: Final = frozenset(
    {
        "FONT",
        "FONTNAME",
        "FACE",
        "SIZE",
        "FONTSIZE",
        "LEADING",
        "TEXTCOLOR",
        "ALIGN",
        "ALIGNMENT",
        "VALIGN",
        "LEFTPADDING",
        "RIGHTPADDING",
        "TOPPADDING",
        "BOTTOMPADDING",
    }
)


def _cell_style(
    name: str, *, bold: bool, size: float, colour: Any, right: bool, pad_x: float, pad_y: float
) -> Any:
    style = CellStyle(name)
    style.fontname = FONT_BOLD if bold else FONT
    style.fontsize = size
    style.leading = size * 1.2
    style.color = colour
    style.alignment = "RIGHT" if right else "LEFT"
    style.valign = "MIDDLE"
    style.leftPadding = style.rightPadding = pad_x
    style.topPadding = style.bottomPadding = pad_y
    return style


def _grid_table(
    data: list[list[Any]],
    widths: Sequence[float],
    *,
    right: Sequence[int] = (),
    font_size: float = TABLE_FONT_SIZE,
    pad_x: float = 3.5,
    pad_y: float = 2.2,
    colours: dict[tuple[int, int], Any] | None = None,
    commands: Sequence[tuple[Any, ...]] = (),
    zebra: bool = True,
    row_height: float | None = None,
    long: bool = True,
    h_align: str = "CENTER",
) -> Any:
    """The common table look: bold header band, zebra rows, hairlines, right-aligned numbers.

    Rows share one ReportLab cell style per column (a table of thousands of rows would
    otherwise apply every style command to every cell); ``colours`` gives single cells their
    text colour, and cell commands in ``commands`` get private styles for the cells they touch.
    """
    ncols, nrows = len(widths), len(data)
    right_set = set(right)

    def styles(bold: bool, colour: Any, tag: str) -> list[Any]:
        return [
            _cell_style(
                f"{tag}{c}",
                bold=bold,
                size=font_size,
                colour=colour,
                right=c in right_set,
                pad_x=pad_x,
                pad_y=pad_y,
            )
            for c in range(ncols)
        ]

    body = styles(False, INK, "b")
    matrix = [styles(True, NAVY, "h")] + [list(body) for _ in range(nrows - 1)]
    shared: dict[tuple[int, Any], Any] = {}
    for (column, row), colour in (colours or {}).items():
        key = (column, colour)
        if key not in shared:
            shared[key] = body[column].copy()
            shared[key].color = colour
        matrix[row][column] = shared[key]
    for command in commands:
        if command[0] in _CELL_OPS:
            (c0, r0), (c1, r1) = command[1], command[2]
            for r in range(r0 % nrows, r1 % nrows + 1):
                for c in range(c0 % ncols, c1 % ncols + 1):
                    matrix[r][c] = matrix[r][c].copy()
    style: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, NAVY),
        ("LINEBELOW", (0, -1), (-1, -1), 0.4, RULE),
    ]
    if zebra:
        style.append(("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]))
    style += commands
    heights = None
    if row_height is not None:
        heights = [font_size * 1.2 + 2 * pad_y + 1] + [row_height] * (nrows - 1)
    kind = LongTable if long else Table
    table = kind(
        data,
        colWidths=list(widths),
        rowHeights=heights,
        repeatRows=1 if long else 0,
        cellStyles=matrix,
        hAlign=h_align,
    )
    table.setStyle(TableStyle(style))
    return table


def _widths(*fractions: float) -> list[float]:
    """Column widths from relative weights, filling the content width exactly."""
    total = sum(fractions)
    return [CONTENT_WIDTH * f / total for f in fractions]


def _heading(text: str) -> Any:
    return Paragraph(escape(text), HEADING)


def _long_heading(text: str) -> list[Any]:
    """The heading of a table that may run over pages: it starts where the last one ended.

    A kept-with-next heading would move a long table to a fresh page whole, leaving the page
    before it nearly empty; this one only needs room for itself and a few rows.
    """
    return [CondPageBreak(96), Paragraph(escape(text), HEADING_FLOWING)]


def _note(text: str) -> Any:
    return Paragraph(escape(clean_text(text)), NOTE)


# Page furniture: running header, footer, "Page X of Y" ----------------------------------------


@dataclass(slots=True)
class _Decor:
    """What every page shows around the content; ``pages`` is filled in when the PDF is saved."""

    running_title: str
    running_period: str
    footer_left: str
    pages: int = 0


class _ReportCanvas(Canvas):  # type: ignore[misc]
    """A canvas that keeps pages until the end, so each can say "Page X of Y"."""

    def __init__(self, *args: Any, decor: _Decor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._decor = decor
        self._saved_pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._saved_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved_pages)
        self._decor.pages = total
        for state in self._saved_pages:
            self.__dict__.update(state)
            self._furniture(total)
            super().showPage()
        super().save()

    def _furniture(self, total: int) -> None:
        width, height = PAGE_SIZE
        decor = self._decor
        page = self.getPageNumber()
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.6)
        if page > 1:
            self.setFont(FONT_BOLD, 7.5)
            self.setFillColor(NAVY)
            self.drawString(MARGIN_X, height - 30, decor.running_title)
            self.setFont(FONT, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(width - MARGIN_X, height - 30, decor.running_period)
            self.line(MARGIN_X, height - 35, width - MARGIN_X, height - 35)
        self.line(MARGIN_X, 32, width - MARGIN_X, 32)
        self.setFont(FONT, 7)
        self.setFillColor(MUTED)
        self.drawString(MARGIN_X, 22, decor.footer_left)
        self.setFont(FONT_BOLD, 7)
        self.setFillColor(INK)
        self.drawRightString(width - MARGIN_X, 22, f"Page {page} of {total}")
        self.restoreState()


# Reproducibility -------------------------------------------------------------------------------

_RENDER_LOCK: Final = threading.Lock()
#: ReportLab settings that change the bytes, and the values every render uses.
_PINNED_SETTINGS: Final[dict[str, Any]] = {
    "invariant": 1,
    "pageCompression": 1,
    "pdfComments": 0,
    "useA85": 0,
    "pdfMultiLine": 0,
    "ttfAsciiReadable": 1,
    "documentLang": None,
    "longTableOptimize": 1,
    "paraFontSizeHeightOffset": 1,
    "allowShortTableRows": 1,
    "spaceShrinkage": 0.05,
    "hyphenationLang": "",
    "decimalSymbol": ".",
    "shapeChecking": 1,
    "emptyTableAction": "error",
    "std14Embed": False,
}


@contextmanager
def _reproducible(period_end: datetime) -> Iterator[None]:
    """Pin ReportLab's settings and ``SOURCE_DATE_EPOCH`` (= ``period_end``) while rendering.

    The graphics' default font (Helvetica, which a chart selects before drawing anything) is
    our font too, so nothing in the PDF depends on a font we did not choose.
    """
    saved_env = os.environ.get("SOURCE_DATE_EPOCH")
    saved = {name: getattr(rl_config, name, None) for name in _PINNED_SETTINGS}
    saved_font = STATE_DEFAULTS["fontName"]
    try:
        os.environ["SOURCE_DATE_EPOCH"] = str(int(period_end.timestamp()))
        for name, value in _PINNED_SETTINGS.items():
            setattr(rl_config, name, value)
        STATE_DEFAULTS["fontName"] = FONT
        yield
    finally:
        STATE_DEFAULTS["fontName"] = saved_font
        for name, value in saved.items():
            setattr(rl_config, name, value)
        if saved_env is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved_env


# The API ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderedReport:
    """A rendered report: the PDF, its page count and the SHA-256 (hex) of its bytes."""

    pdf: bytes = field(repr=False)
    pages: int
    sha256: str


@explicit_context
def render_report(snapshot: AnySnapshot, options: ReportOptions | None = None) -> RenderedReport:
    """Render ``snapshot`` to PDF; the same snapshot and options always give the same bytes.

    ``options`` (``ReportOptions``): the risk-free rate and whether account ids are printed in
    full; by default they are masked like the account number, on the pages and in the metadata.
    """
    options = options or ReportOptions()
    metrics = report_metrics(snapshot, options)
    account = _account_label(snapshot.account_id, options)
    buffer = BytesIO()
    with _RENDER_LOCK, _reproducible(snapshot.period_end):
        _covered()
        period = _period_text(snapshot)
        decor = _Decor(
            running_title=_fit(
                f"Account report \u00b7 {account}",
                CONTENT_WIDTH - pdfmetrics.stringWidth(period, FONT, 7.5) - 24,
                FONT_BOLD,
                7.5,
            ),
            running_period=period,
            footer_left=clean_text(
                f"trade-ledger \u00b7 snapshot {snapshot.snapshot_id} \u00b7 "
                f"{snapshot.checksum_algorithm} {snapshot.checksum[:16]}\u2026"
            ),
        )
        doc = BaseDocTemplate(
            buffer,
            pagesize=PAGE_SIZE,
            leftMargin=MARGIN_X,
            rightMargin=MARGIN_X,
            topMargin=MARGIN_TOP,
            bottomMargin=MARGIN_BOTTOM,
            title=f"Account report {account} {period}",
            author="trade-ledger",
            subject=f"snapshot {snapshot.snapshot_id} (version {snapshot.snapshot_version})",
            keywords=(
                f"account {account}; snapshot {snapshot.snapshot_id}; "
                f"{snapshot.checksum_algorithm} {snapshot.checksum}"
            ),
            creator=f"trade-ledger account report, layout {REPORT_LAYOUT_VERSION}",
            producer="trade-ledger (ReportLab)",
            invariant=1,
            pageCompression=1,
            lang="en-US",
            initialFontName=FONT,
        )
        frame = Frame(
            MARGIN_X,
            MARGIN_BOTTOM,
            CONTENT_WIDTH,
            PAGE_SIZE[1] - MARGIN_TOP - MARGIN_BOTTOM,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
            id="content",
        )
        doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
        doc.build(
            _story(snapshot, metrics, options), canvasmaker=partial(_ReportCanvas, decor=decor)
        )
    pdf = buffer.getvalue()
    return RenderedReport(pdf=pdf, pages=decor.pages, sha256=hashlib.sha256(pdf).hexdigest())


# The story -----------------------------------------------------------------------------------


def _period_text(snapshot: AnySnapshot) -> str:
    start = fmt_datetime(snapshot.period_start, seconds=False)
    end = fmt_datetime(snapshot.period_end, seconds=False)
    return f"{start} \u2013 {end} UTC"


def _account_label(account_id: str, options: ReportOptions) -> str:
    return account_id if options.reveal_ids else mask_account_number(account_id)


def _story(snapshot: AnySnapshot, metrics: ReportMetrics, options: ReportOptions) -> list[Any]:
    figures = metrics.figures
    story: list[Any] = []
    story += _title_block(snapshot, options)
    story += _key_figures(metrics)
    story += _charts(snapshot, metrics)
    story += _returns_and_risk(metrics)
    story += _period_returns(metrics)
    story += _reconciliation(metrics)
    story += _strategies(metrics)
    story += _integrity_checks(snapshot)
    story += _positions(figures)
    story += _asset_classes(metrics)
    story += _strategy_performance(snapshot)
    story += _lots_and_oversells(snapshot)
    story += _fees(snapshot, figures)
    story += _orders(snapshot, figures)
    story += _methodology(metrics, snapshot)
    return story


def _title_block(snapshot: AnySnapshot, options: ReportOptions) -> list[Any]:
    account = snapshot.alpaca_account
    label = _style("meta-label", fontSize=7, leading=9, textColor=MUTED)
    value = _style("meta-value", fontSize=8, leading=10)
    mono = _style("meta-mono", fontSize=7.2, leading=9.5)

    def pair(name: str, text: str, style: Any = value) -> list[Any]:
        return [Paragraph(escape(name), label), _para(text, style)]

    status = account.status or NONE_TEXT
    account_text = (
        f"{mask_account_number(account.account_number)} \u00b7 {status} \u00b7 {account.currency}"
    )
    rows = [
        pair("Account", account_text) + pair("Period (UTC)", _period_text(snapshot)[:-4]),
        pair("Account id", _account_label(snapshot.account_id, options))
        + pair("Snapshot id", snapshot.snapshot_id, mono),
        pair("Alpaca account", _account_label(account.id, options), mono)
        + pair("Snapshot version", snapshot.snapshot_version),
        pair("Correlation id", snapshot.correlation_id)
        + pair("Ledger", snapshot.internal_ledger.ledger_id),
        [*pair(f"Checksum ({snapshot.checksum_algorithm})", snapshot.checksum, mono), "", ""],
    ]
    table = Table(rows, colWidths=[78, 188, 80, 186], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("SPAN", (1, -1), (3, -1)),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("LINEABOVE", (0, 0), (-1, 0), 0.6, RULE),
                ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE),
            ]
        )
    )
    return [
        Paragraph("Account report", TITLE),
        Paragraph(
            escape(f"{_period_text(snapshot)} \u00b7 as recorded in the sealed snapshot"), SUBTITLE
        ),
        Spacer(1, 8),
        table,
    ]


def _key_figures(m: ReportMetrics) -> list[Any]:
    f, p, period = m.figures, m.performance, m.period
    ccy = clean_text(f.currency)
    episode = p.max_drawdown
    rate = fmt_percent(p.risk_free_rate)
    trips = m.round_trips
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
            f"time-weighted, {_count(period.returns, 'day')}",
            _signed_colour(period.twr),
        ),
        (
            "Max drawdown",
            fmt_percent(None if episode is None else episode.depth),
            (
                f"{fmt_money(-episode.amount)} {ccy}, {fmt_date(episode.peak)[5:]} \u2192 "
                f"{fmt_date(episode.trough)[5:]}"
                if episode is not None
                else ("no fall" if p.returns else "needs two daily values")
            ),
            NEGATIVE if episode is not None else INK,
        ),
        ("Cash", fmt_money(f.cash), ccy, INK),
        ("Buying power", fmt_money(f.buying_power), ccy, INK),
        ("Long market value", fmt_money(f.long_market_value), ccy, INK),
        ("Short market value", fmt_money(f.short_market_value), ccy, INK),
        ("Volatility", fmt_percent(p.volatility), "annualised (252 days)", INK),
        ("Sharpe", _ratio_text(p.sharpe), f"risk-free {rate}", _signed_colour(p.sharpe)),
        ("Sortino", _ratio_text(p.sortino), f"risk-free {rate}", _signed_colour(p.sortino)),
        ("Calmar", _ratio_text(p.calmar), "annualised return / max DD", _signed_colour(p.calmar)),
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


# Charts -------------------------------------------------------------------------------------

CHART_WIDTH: Final = (CONTENT_WIDTH - 16) / 2
CHART_HEIGHT: Final = 172.0
AXIS_FONT_SIZE: Final = 6.3


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


TOP_POSITIONS: Final = 10
#: The daily-returns table: rows per column and columns (the last days when there are more).
DAILY_ROWS: Final = 12
DAILY_COLUMNS: Final = 3


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


# Performance, reconciliation, strategies, methodology ------------------------------------------


def _duration(seconds: Decimal | None) -> str:
    """``3 d 4 h``, ``5 h 12 m`` or ``42 m`` (whole minutes, rounded down)."""
    if seconds is None:
        return NONE_TEXT
    minutes = int(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} m" if hours else f"{minutes} m"


def _ratio_text(value: Decimal | None) -> str:
    return NONE_TEXT if value is None else fmt_money(value, places=2, signed=True)


def _kv_table(rows: Sequence[tuple[str, str, Any]], width: float, title: str) -> Any:
    """A two-column table of label and value, the value right-aligned (and coloured)."""
    data: list[list[Any]] = [[title, ""]]
    colours: dict[tuple[int, int], Any] = {}
    for row, (label, value, colour) in enumerate(rows, start=1):
        data.append([label, value])
        if colour is not None:
            colours[(1, row)] = colour
    return _grid_table(
        data,
        [width * 0.62, width * 0.38],
        right=(1,),
        colours=colours,
        commands=[("SPAN", (0, 0), (1, 0))],
        long=False,
        h_align="LEFT",
    )


def _bare_style(*extra: tuple[Any, ...]) -> Any:
    """A layout table's style: our font (an empty cell must not name Helvetica), no side or
    top padding, cells aligned at the top; ``extra`` sets the bottom padding."""
    return TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 8),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            *extra,
        ]
    )


def _side_by_side(left: Any, right: Any, widths: tuple[float, float, float] | None = None) -> Any:
    """Two flowables in one row (default: the two chart columns and the gap between)."""
    if widths is None:
        widths = (CHART_WIDTH, CONTENT_WIDTH - 2 * CHART_WIDTH, CHART_WIDTH)
    table = Table([[left, "", right]], colWidths=list(widths))
    table.setStyle(_bare_style(("BOTTOMPADDING", (0, 0), (-1, -1), 0)))
    return table


def _window_text(p: Performance) -> str:
    if p.first_day is None:
        return "no daily equity"
    return (
        f"from the close of {fmt_date(p.first_day)} to that of {fmt_date(p.last_day)}, "
        f"{_count(p.returns, 'daily return')}"
    )


def _returns_and_risk(m: ReportMetrics) -> list[Any]:
    p, period = m.performance, m.period
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
            fmt_money(period.net_flows, signed=True),
            None,
        ),
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
    p = m.performance
    days = [d for d in m.period.days if d.ret is not None]
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
        header += ["Day", "Return"]
    data: list[list[Any]] = [header]
    colours: dict[tuple[int, int], Any] = {}
    for row in range(max(len(c) for c in columns)):
        line: list[str] = []
        for index, column in enumerate(columns):
            if row < len(column):
                day = column[row]
                line += [fmt_date(day.day), fmt_percent(day.ret, signed=True)]
                colours[(2 * index + 1, row + 1)] = _signed_colour(day.ret)
            else:
                line += ["", ""]
        data.append(line)
    width = CONTENT_WIDTH - 196
    daily = _grid_table(
        data,
        [width / (2 * len(columns))] * (2 * len(columns)),
        right=tuple(range(1, 2 * len(columns), 2)),
        colours=colours,
        long=False,
        font_size=7,
        pad_y=1.6,
        h_align="LEFT",
    )
    layout = _side_by_side(month_table, daily, (180, 16, width))
    story.append(layout)
    if len(shown) < len(days):
        story.append(_note(f"The last {len(shown)} of {len(days)} daily returns."))
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
        commands=[
            ("FONT", (0, -1), (-1, -1), FONT_BOLD, TABLE_FONT_SIZE),
            ("LINEABOVE", (0, -1), (-1, -1), 0.6, NAVY),
            ("BACKGROUND", (0, -1), (-1, -1), HEADER_BG),
        ],
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
        values = (s.realized_pnl, s.dividends, s.fees, s.net_pnl, s.unrealized_pnl, s.total_pnl)
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
        commands=[
            ("FONT", (0, -1), (-1, -1), FONT_BOLD, TABLE_FONT_SIZE),
            ("LINEABOVE", (0, -1), (-1, -1), 0.6, NAVY),
            ("BACKGROUND", (0, -1), (-1, -1), HEADER_BG),
        ],
        long=False,
    )
    story: list[Any] = [
        title,
        table,
        _note(
            "Period: realised P&L of the round trips closed in the period (FIFO, before fees), "
            "dividends credited and fees paid in it; net = realised + dividends \u2212 fees. "
            "Unrealised: open lots at Alpaca's prices at the period end. Total: net realised "
            "since the strategy's first fill + unrealised. Trades counts a fill shared by "
            "strategies once for each."
        ),
    ]
    return story + _round_trips(m)


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
        commands=[
            ("FONT", (0, -1), (-1, -1), FONT_BOLD, TABLE_FONT_SIZE),
            ("LINEABOVE", (0, -1), (-1, -1), 0.6, NAVY),
            ("BACKGROUND", (0, -1), (-1, -1), HEADER_BG),
        ],
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


def _asset_fees(snapshot: AnySnapshot) -> tuple[AssetFee, ...]:
    ledger = snapshot.internal_ledger
    return ledger.asset_fees if isinstance(ledger, AccountLedgerV16) else ()


def _methodology(m: ReportMetrics, snapshot: AnySnapshot) -> list[Any]:
    p = m.performance
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
            "Time-weighted and flow-adjusted: a deposit or withdrawal dated on the days after "
            "one daily close up to the next counts as made at the start of that day, so "
            "r = equity / (previous equity + flow) \u2212 1. Period, month, MTD, YTD and 1Y "
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
            "both have; correlation: Pearson.",
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
            "Deposits and withdrawals are capital, never P&L.",
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
    return [KeepTogether([_heading("Methodology"), *paragraphs])]


# Tables -------------------------------------------------------------------------------------


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
        ("FONT", (0, -1), (-1, -1), FONT_BOLD, TABLE_FONT_SIZE),
        ("TEXTCOLOR", (7, -1), (7, -1), _signed_colour(total_pl)),
        ("LINEABOVE", (0, -1), (-1, -1), 0.6, NAVY),
        ("BACKGROUND", (0, -1), (-1, -1), HEADER_BG),
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


def _row_height(font_size: float, pad_y: float) -> float:
    """Height of a one-line row: given explicitly so long tables need not measure every cell."""
    return font_size * 1.2 + 2 * pad_y + 1


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


def _metrics_row(label: str, m: TradeMetrics) -> list[Any]:
    return [
        label,
        f"{m.total_trades} ({m.buy_trades}/{m.sell_trades})",
        fmt_money(m.total_buy_value),
        fmt_money(m.total_sell_value),
        fmt_money(m.gross_pnl, signed=True),
        fmt_money(m.realized_pnl, signed=True),
        fmt_money(m.fees),
        fmt_money(m.net_realized_pnl, signed=True),
        fmt_datetime(m.first_trade_at, seconds=False),
        fmt_datetime(m.last_trade_at, seconds=False),
    ]


def _strategy_performance(snapshot: AnySnapshot) -> list[Any]:
    if isinstance(snapshot, AccountSnapshotV12):
        return _strategy_ledgers(snapshot)
    performance = snapshot.internal_ledger.strategy_performance
    title = _heading(f"Strategy ledger: cumulative and period ({len(performance)})")
    if not performance:
        return [title, _note("The ledger has no strategy with trades before the period end.")]
    header = [
        "Scope",
        "Trades\n(buy/sell)",
        "Buy value",
        "Sell value",
        "Gross P/L",
        "Realised\nP/L",
        "Fees",
        "Net\nrealised",
        "First trade\n(UTC)",
        "Last trade\n(UTC)",
    ]
    widths = [46.0, 50.0, 56.0, 56.0, 56.0, 52.0, 40.0, 50.0, 63.0, 63.0]
    widths[0] += CONTENT_WIDTH - sum(widths)
    data: list[list[Any]] = [header]
    commands: list[tuple[Any, ...]] = []
    colours: dict[tuple[int, int], Any] = {}
    for index, (name, p) in enumerate(performance.items()):
        first = len(data)
        data.append([_strategy_cell(name, p), *[""] * 9])
        data.append(_metrics_row("Cumulative", p))
        data.append(_metrics_row("Period", p.period))
        commands += [
            ("SPAN", (0, first), (-1, first)),
            ("TOPPADDING", (0, first), (-1, first), 4),
            ("BOTTOMPADDING", (0, first), (-1, first), 1),
            ("LINEBELOW", (0, first + 2), (-1, first + 2), 0.4, RULE),
        ]
        for offset, metrics in ((1, p), (2, p.period)):
            colours[(0, first + offset)] = MUTED
            for column, value in (
                (4, metrics.gross_pnl),
                (5, metrics.realized_pnl),
                (7, metrics.net_realized_pnl),
            ):
                colours[(column, first + offset)] = _signed_colour(value)
        if index % 2:
            commands.append(("BACKGROUND", (0, first), (-1, first + 2), ZEBRA))
    table = _grid_table(
        data,
        widths,
        right=range(1, 10),
        colours=colours,
        commands=commands,
        zebra=False,
        font_size=7.2,
        pad_x=2.5,
    )
    note = _note(
        "Cumulative: every fill attributed to the strategy before the period end. Period: fills "
        "inside the period. Realised P/L is FIFO, before fees; net realised = realised \u2212 fees."
    )
    return [title, table, note]


STRATEGY_CELL: Final = _style("strategy", fontName=FONT_BOLD, fontSize=8, leading=10.4)


def _strategy_cell(name: str, p: StrategyPerformance) -> Any:
    """The strategy's name, then its symbols and open lots / oversells in small muted text."""
    details = "Symbols " + (", ".join(p.symbols_traded) or NONE_TEXT)
    if p.open_lots:
        details += f" \u00b7 {_count(len(p.open_lots), 'open lot')}"
    if p.oversells:
        details += f" \u00b7 {_count(len(p.oversells), 'oversell')}"
    muted = MUTED.hexval()[2:]
    return Paragraph(
        f'{escape(clean_text(name))}&nbsp;&nbsp;<font name="{FONT}" size="6.8" '
        f'color="#{muted}">{escape(clean_text(details))}</font>',
        STRATEGY_CELL,
    )


def _lots_and_oversells(snapshot: AnySnapshot) -> list[Any]:
    if isinstance(snapshot, AccountSnapshotV12):
        return _signed_lots(snapshot) + _cash_and_actions(snapshot)
    performance = snapshot.internal_ledger.strategy_performance.values()
    lots = [lot for p in performance for lot in p.open_lots]
    oversells = [o for p in performance for o in p.oversells]
    story: list[Any] = []
    row_height = _row_height(TABLE_FONT_SIZE, 2.2)
    if lots:
        widths = _widths(70, 46, 156, 82, 46, 56, 76)
        data: list[list[Any]] = [
            ["Strategy", "Symbol", "Order", "Opened (UTC)", "Qty", "Price", "Cost"]
        ]
        for lot in lots:
            data.append(
                [
                    _fit(lot.strategy, widths[0] - 7),
                    _fit(lot.symbol, widths[1] - 7),
                    _fit(lot.order_id, widths[2] - 7),
                    fmt_datetime(lot.opened_at),
                    fmt_qty(lot.qty),
                    fmt_price(lot.price),
                    fmt_money(value_of(lot.symbol, lot.qty, lot.price)),
                ]
            )
        table = _grid_table(data, widths, right=range(4, 7), row_height=row_height)
        story += [_heading(f"Open FIFO lots ({len(lots)})"), table]
    if oversells:
        widths = _widths(80, 56, 156, 84, 70, 86)
        data = [["Strategy", "Symbol", "Order", "Filled (UTC)", "Sell qty", "Unmatched qty"]]
        for o in oversells:
            data.append(
                [
                    _fit(o.strategy, widths[0] - 7),
                    _fit(o.symbol, widths[1] - 7),
                    _fit(o.order_id, widths[2] - 7),
                    fmt_datetime(o.filled_at),
                    fmt_qty(o.sell_qty),
                    fmt_qty(o.unmatched_qty),
                ]
            )
        colours = {(5, row): WARNING for row in range(1, len(data))}
        table = _grid_table(data, widths, right=(4, 5), colours=colours, row_height=row_height)
        story += [
            _heading(f"Oversells ({len(oversells)})"),
            table,
            _note(
                "Sells larger than the strategy's open lots; the unmatched part realised no P/L."
            ),
        ]
    return story


def _ledger_row(label: str, m: LedgerFigures, unrealized: Any, total: Any) -> list[Any]:
    return [
        label,
        f"{m.total_trades} ({m.buy_trades}/{m.sell_trades})",
        fmt_money(m.net_cash_flow, signed=True),
        fmt_money(m.realized_pnl, signed=True),
        fmt_money(m.dividends, signed=True),
        fmt_money(m.fees),
        fmt_money(m.net_realized_pnl, signed=True),
        unrealized,
        total,
    ]


def _strategy_ledgers(snapshot: AccountSnapshotV12) -> list[Any]:
    """Snapshot 1.2: per strategy the P/L of the signed-lot ledger, cumulative and period."""
    performance = snapshot.internal_ledger.strategy_performance
    title = _heading(f"Strategy ledger: cumulative and period ({len(performance)})")
    if not performance:
        return [title, _note("The ledger has no strategy with trades before the period end.")]
    header = [
        "Scope",
        "Trades\n(buy/sell)",
        "Net cash\nflow",
        "Realised\nP/L",
        "Dividends",
        "Fees",
        "Net\nrealised",
        "Unrealised\nP/L",
        "Total\nP/L",
    ]
    widths = [52.0, 52.0, 62.0, 58.0, 54.0, 44.0, 58.0, 58.0, 58.0]
    widths[0] += CONTENT_WIDTH - sum(widths)
    data: list[list[Any]] = [header]
    commands: list[tuple[Any, ...]] = []
    colours: dict[tuple[int, int], Any] = {}
    for index, (name, p) in enumerate(performance.items()):
        first = len(data)
        details = "Symbols " + (", ".join(p.symbols_traded) or NONE_TEXT)
        if p.open_lots:
            details += f" \u00b7 {_count(len(p.open_lots), 'open lot')}"
        data.append([_strategy_label(name, details), *[""] * 8])
        data.append(
            _ledger_row(
                "Cumulative",
                p,
                fmt_money(p.unrealized_pnl, signed=True),
                fmt_money(p.total_pnl, signed=True),
            )
        )
        data.append(_ledger_row("Period", p.period, NONE_TEXT, NONE_TEXT))
        commands += [
            ("SPAN", (0, first), (-1, first)),
            ("TOPPADDING", (0, first), (-1, first), 4),
            ("BOTTOMPADDING", (0, first), (-1, first), 1),
            ("LINEBELOW", (0, first + 2), (-1, first + 2), 0.4, RULE),
        ]
        for offset, figures, extra in ((1, p, (p.unrealized_pnl, p.total_pnl)), (2, p.period, ())):
            colours[(0, first + offset)] = MUTED
            values = (figures.realized_pnl, figures.dividends, figures.net_realized_pnl, *extra)
            for column, value in zip((3, 4, 6, 7, 8), values, strict=False):
                if value is not None:
                    colours[(column, first + offset)] = _signed_colour(value)
        if index % 2:
            commands.append(("BACKGROUND", (0, first), (-1, first + 2), ZEBRA))
    table = _grid_table(
        data,
        widths,
        right=range(1, 9),
        colours=colours,
        commands=commands,
        zebra=False,
        font_size=7.2,
        pad_x=2.5,
    )
    note = _note(
        "Realised P/L: closed round trips, signed FIFO (longs sold, shorts covered), before fees; "
        "net realised = realised + dividends \u2212 fees; unrealised: open lots at Alpaca's "
        "current prices; total = net realised + unrealised. Net cash flow = sells \u2212 buys: "
        "cash, not profit."
    )
    return [title, table, note]


def _strategy_label(name: str, details: str) -> Any:
    muted = MUTED.hexval()[2:]
    return Paragraph(
        f'{escape(clean_text(name))}&nbsp;&nbsp;<font name="{FONT}" size="6.8" '
        f'color="#{muted}">{escape(clean_text(details))}</font>',
        STRATEGY_CELL,
    )


def _signed_lots(snapshot: AccountSnapshotV12) -> list[Any]:
    lots = [
        lot for p in snapshot.internal_ledger.strategy_performance.values() for lot in p.open_lots
    ]
    if not lots:
        return []
    widths = _widths(66, 44, 36, 150, 82, 46, 56, 70)
    data: list[list[Any]] = [
        ["Strategy", "Symbol", "Side", "Order", "Opened (UTC)", "Qty", "Price", "Cost"]
    ]
    for lot in lots:
        data.append(
            [
                _fit(lot.strategy, widths[0] - 7),
                _fit(lot.symbol, widths[1] - 7),
                lot.side,
                _fit(lot.order_id, widths[3] - 7),
                fmt_datetime(lot.opened_at),
                fmt_qty(lot.qty),
                fmt_price(lot.price),
                fmt_money(value_of(lot.symbol, lot.qty, lot.price)),
            ]
        )
    colours = {(2, row): SHORT for row, lot in enumerate(lots, start=1) if lot.side == "short"}
    table = _grid_table(
        data,
        widths,
        right=range(5, 8),
        colours=colours,
        row_height=_row_height(TABLE_FONT_SIZE, 2.2),
    )
    return [_heading(f"Open lots ({len(lots)})"), table]


def _cash_and_actions(snapshot: AccountSnapshotV12) -> list[Any]:
    ledger = snapshot.internal_ledger
    rows: list[list[Any]] = []
    for flow in ledger.cash_flows:
        what = "deposit" if flow.amount > 0 else "withdrawal"
        rows.append(
            [
                fmt_datetime(flow.effective_at),
                what,
                flow.source or NONE_TEXT,
                _fit(" ".join((flow.description or "").split()), 170),
                fmt_money(flow.amount, signed=True),
            ]
        )
    for action in ledger.corporate_actions:
        detail = _action_text(action)
        rows.append(
            [
                fmt_datetime(action.effective_at),
                action.kind.value.replace("_", " "),
                action.source or NONE_TEXT,
                detail,
                "",
            ]
        )
    unattributed = {d.event_id for d in ledger.unattributed_dividends}
    for dividend in ledger.dividends:
        rows.append(
            [
                fmt_datetime(dividend.effective_at),
                "dividend" if dividend.amount > 0 else "withholding",
                dividend.source or NONE_TEXT,
                _fit(_dividend_text(dividend, dividend.event_id in unattributed), 170),
                fmt_money(dividend.amount, signed=True),
            ]
        )
    fees = ledger.asset_fees if isinstance(ledger, AccountLedgerV16) else ()
    unpaid = set(ledger.unattributed_asset_fees) if isinstance(ledger, AccountLedgerV16) else set()
    for fee in fees:
        rows.append(
            [
                fmt_datetime(fee.effective_at),
                "fee in coin",
                fee.source or NONE_TEXT,
                _fit(_asset_fee_text(fee, fee in unpaid), 170),
                "",
            ]
        )
    expiries = ledger.option_expiries if isinstance(ledger, AccountLedgerV16) else ()
    for expiry in expiries:
        rows.append(
            [
                fmt_datetime(expiry.effective_at),
                "option expiry",
                expiry.source or NONE_TEXT,
                f"{expiry.symbol} {plain(expiry.qty)}",
                "",
            ]
        )
    exercises = ledger.option_exercises if isinstance(ledger, AccountLedgerV17) else ()
    uncovered = (
        set(ledger.unattributed_option_exercises) if isinstance(ledger, AccountLedgerV17) else set()
    )
    for exercise in exercises:
        rows.append(
            [
                fmt_datetime(exercise.effective_at),
                "option exercise" if exercise.exercised else "option assignment",
                exercise.source or NONE_TEXT,
                _fit(
                    f"{exercise.symbol} {plain(exercise.qty)}: {plain(exercise.shares)} "
                    f"{exercise.underlying} @ {plain(exercise.price)}"
                    + (" \u00b7 no contract held" if exercise in uncovered else ""),
                    170,
                ),
                fmt_money(
                    value_of(exercise.underlying, -exercise.shares, exercise.price), signed=True
                ),
            ]
        )
    lieu = ledger.cash_in_lieu if isinstance(ledger, AccountLedgerV16) else ()
    unsold = (
        set(ledger.unattributed_cash_in_lieu) if isinstance(ledger, AccountLedgerV16) else set()
    )
    for paid in lieu:
        rows.append(
            [
                fmt_datetime(paid.effective_at),
                "cash in lieu",
                paid.source or NONE_TEXT,
                f"{paid.symbol} fraction sold"
                + (" \u00b7 no fraction held" if paid in unsold else ""),
                fmt_money(paid.amount, signed=True),
            ]
        )
    note = _note(
        f"Net deposits: {fmt_money(ledger.net_deposits, signed=True)} in the period, "
        f"{fmt_money(ledger.net_deposits_cumulative, signed=True)} since the ledger began: "
        "capital, never counted as profit."
        + (
            " A fee in coin shrinks the newest lots of the coin at the same cost: it shows in "
            "the P/L when the coin is sold."
            if fees
            else ""
        )
        + (
            " An option exercised or assigned delivers its shares at the strike, its premium "
            "folded into their cost or proceeds as US brokers report it (a call's added, a "
            "put's subtracted): the contract itself realises nothing."
            if exercises
            else ""
        )
    )
    if not rows:
        return [_heading("Cash flows, dividends and corporate actions"), note]
    rows.sort(key=lambda r: r[0])
    widths = _widths(96, 110, 50, 176, 80)
    data: list[list[Any]] = [["When (UTC)", "What", "Source", "Detail", "Amount"], *rows]
    table = _grid_table(data, widths, right=(4,), row_height=_row_height(TABLE_FONT_SIZE, 2.2))
    return [_heading(f"Cash flows, dividends and corporate actions ({len(rows)})"), table, note]


def _dividend_text(dividend: Dividend, unattributed: bool) -> str:
    parts = [dividend.symbol]
    if dividend.qty is not None:
        parts.append(f"{plain(dividend.qty)} sh")
    if dividend.per_share_amount is not None:
        parts.append(f"{plain(dividend.per_share_amount)}/sh")
    if unattributed:
        parts.append("no strategy held it")
    return " \u00b7 ".join(parts)


def _asset_fee_text(fee: AssetFee, unattributed: bool) -> str:
    """``ETHUSD -0.000195 (about 0.37)``: the coin taken and its value then."""
    text = f"{fee.symbol} -{plain(fee.qty)}"
    if fee.price is not None:
        text += f" (about {fmt_money(_EXACT.multiply(fee.qty, fee.price))})"
    return text + (" \u00b7 no lot held it" if unattributed else "")


def _action_text(action: Split | SymbolChange | Merger) -> str:
    if isinstance(action, Split):
        return f"{action.symbol} {plain(action.ratio_new)} for {plain(action.ratio_old)}"
    if isinstance(action, SymbolChange):
        return f"{action.symbol} \u2192 {action.new_symbol}"
    cash = f" + {plain(action.cash_per_share)} cash" if action.cash_per_share else ""
    return (
        f"{action.symbol} \u2192 {plain(action.ratio_new)}/{plain(action.ratio_old)} "
        f"{action.new_symbol}{cash}"
    )


def _fees(snapshot: AnySnapshot, figures: ReportFigures) -> list[Any]:
    title = _heading(
        f"Fees ({_count(len(snapshot.alpaca_fees), 'activity')})".replace("activitys", "activities")
    )
    summary: list[list[Any]] = [["Source", "Sub type", "Count", "Fees"]]
    for total in figures.alpaca_fees_by_sub_type:
        summary.append(
            [
                "Alpaca",
                _fit(total.sub_type or NONE_TEXT, 100),
                str(total.count),
                fmt_money(total.amount),
            ]
        )
    summary.append(
        ["Alpaca", "Total", str(len(snapshot.alpaca_fees)), fmt_money(figures.alpaca_fees)]
    )
    summary.append(
        [
            "Ledger",
            "Total (trades in period)",
            str(figures.ledger_trades),
            fmt_money(figures.ledger_fees),
        ]
    )
    commands = [
        ("FONT", (0, -2), (-1, -1), FONT_BOLD, TABLE_FONT_SIZE),
        ("LINEABOVE", (0, -2), (-1, -2), 0.6, NAVY),
    ]
    summary_table = _grid_table(
        summary, [70, 120, 60, 80], right=(2, 3), commands=commands, long=False, h_align="LEFT"
    )
    window = (
        f"Fee activities created {fmt_datetime(snapshot.fee_window_start)} \u2013 "
        f"{fmt_datetime(snapshot.fee_window_end)} UTC. Fees are positive amounts (a rebate "
        "lowers them); activity net amounts below are as Alpaca reports them."
    )
    story: list[Any] = [title, summary_table, _note(window)]
    if snapshot.alpaca_fees:
        widths = _widths(15, 8, 11, 8, 9, 10, 39)
        data: list[list[Any]] = [
            ["Created (UTC)", "Sub type", "Symbol", "Qty", "Per share", "Net amount", "Description"]
        ]
        for fee in snapshot.alpaca_fees:
            data.append(
                [
                    fmt_datetime(fee.created_at),
                    _fit(fee.activity_sub_type or NONE_TEXT, widths[1] - 7),
                    _fit(fee.symbol or NONE_TEXT, widths[2] - 7),
                    fmt_qty(fee.qty),
                    fmt_price(fee.per_share_amount),
                    fmt_money(fee.net_amount, places=4),
                    _fit(fee.description or NONE_TEXT, widths[6] - 7),
                ]
            )
        table = _grid_table(
            data, widths, right=(3, 4, 5), row_height=_row_height(TABLE_FONT_SIZE, 2.2)
        )
        story += [Spacer(1, 8), table]
    return story


ORDER_HEADER: Final = [
    "#",
    "Order id",
    "Submitted (UTC)",
    "Symbol",
    "Side",
    "Type",
    "Status",
    "Qty",
    "Filled",
    "Avg price",
]


def _orders(snapshot: AnySnapshot, figures: ReportFigures) -> list[Any]:
    orders = snapshot.alpaca_orders
    legs = f" + {_count(figures.order_legs, 'leg')}" if figures.order_legs else ""
    title = _long_heading(f"Orders ({len(orders)}{legs})")
    if not orders:
        return [*title, _note("No orders in the period.")]
    widths = [21.0, 143.0, 72.0, 0.0, 26.0, 44.0, 56.0, 38.0, 38.0, 44.0]
    widths[3] = CONTENT_WIDTH - sum(widths)
    size, pad_x, pad_y = ORDERS_FONT_SIZE, 2.5, 1.6
    data: list[list[str]] = [ORDER_HEADER]
    colours: dict[tuple[int, int], Any] = {}

    def add(order: AlpacaOrder, label: str, leg: bool) -> None:
        row = len(data)
        data.append(
            [
                label,
                order.id,
                fmt_datetime(order.submitted_at),
                _fit(order.symbol or NONE_TEXT, widths[3] - 2 * pad_x, size=size),
                _fit(order.side or NONE_TEXT, widths[4] - 2 * pad_x, size=size),
                _fit(order.type or NONE_TEXT, widths[5] - 2 * pad_x, size=size),
                _fit(order.status.replace("_", " "), widths[6] - 2 * pad_x, size=size),
                fmt_qty(order.qty) if order.qty is not None else _notional(order),
                fmt_qty(order.filled_qty),
                fmt_price(order.filled_avg_price),
            ]
        )
        colours[(0, row)] = MUTED
        if leg:
            colours.update({(column, row): MUTED for column in range(1, 10)})
        colour = ORDER_STATUS_COLOURS.get(order.status)
        if colour is not None:
            colours[(6, row)] = colour

    for number, order in enumerate(orders, start=1):
        add(order, str(number), leg=False)
        for leg in order.legs:
            add(leg, "\u21b3", leg=True)
    table = _grid_table(
        data,
        widths,
        right=(0, 7, 8, 9),
        font_size=size,
        pad_x=pad_x,
        pad_y=pad_y,
        colours=colours,
        row_height=_row_height(size, pad_y),
    )
    note = _note(
        "Every order the snapshot holds (submitted or filled in the period), by submission time; "
        "legs of multi-leg orders follow their parent (\u21b3)."
    )
    return [*title, table, note]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _notional(order: AlpacaOrder) -> str:
    return NONE_TEXT if order.notional is None else f"${fmt_money(order.notional)}"


__all__ = [
    "REPORT_LAYOUT_VERSION",
    "RenderedReport",
    "ReportFigures",
    "clean_text",
    "compute_figures",
    "render_report",
]
