"""Page furniture and style of the report: fonts, colours, paragraph and table styles, the
canvas that draws headers and footers, and the settings pinned while rendering.

Its underscore names are the report's own helpers: shared by the report's modules (``charts``,
``summary_tables``, ``ledger_tables``, ``pdf``), by nothing outside the report.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.graphics.shapes import (
    STATE_DEFAULTS,
)
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    LongTable,
    Paragraph,
    Table,
    TableStyle,
)
from reportlab.platypus.tables import CellStyle

from ledger_store.decimals import decimal_context, explicit_context
from snapshots.alpaca.models import AlpacaOrder
from snapshots.report.figures import (
    NONE_TEXT,
    fmt_money,
)
from snapshots.schema import (
    CheckStatus,
)

#: Products of money and quantities, exact (no caller's context).
_EXACT: Final = decimal_context(80)


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


def _id_column(
    ids: Sequence[str], width: float, font: str = FONT, size: float = TABLE_FONT_SIZE
) -> list[str]:
    """A column of ids cut one way: every id in full when all fit ``width``, otherwise each
    shortened alike to its first 8 and last 4 characters (``91c376a1\u2026b6f0``), so that the
    ids of one table read the same however wide their letters are."""
    cleaned = [clean_text(i) for i in ids]
    if all(pdfmetrics.stringWidth(i, font, size) <= width for i in cleaned):
        return cleaned
    return [
        _fit(i if len(i) <= 13 else f"{i[:8]}\u2026{i[-4:]}", width, font, size) for i in cleaned
    ]


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


def _total_rows(count: int = 1) -> list[tuple[Any, ...]]:
    """Table commands that set the last ``count`` rows apart as totals: bold, on the header's
    band, under a rule."""
    first = (0, -count)
    return [
        ("FONT", first, (-1, -1), FONT_BOLD, TABLE_FONT_SIZE),
        ("LINEABOVE", first, (-1, -count), 0.6, NAVY),
        ("BACKGROUND", first, (-1, -1), HEADER_BG),
    ]


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


CHART_WIDTH: Final = (CONTENT_WIDTH - 16) / 2


CHART_HEIGHT: Final = 172.0


AXIS_FONT_SIZE: Final = 6.3


TOP_POSITIONS: Final = 10


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


def _row_height(font_size: float, pad_y: float) -> float:
    """Height of a one-line row: given explicitly so long tables need not measure every cell."""
    return font_size * 1.2 + 2 * pad_y + 1


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _notional(order: AlpacaOrder) -> str:
    return NONE_TEXT if order.notional is None else f"${fmt_money(order.notional)}"
