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
from dataclasses import dataclass, field
from functools import partial
from io import BytesIO
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from ledger_store.decimals import explicit_context
from snapshots.report.breakdown_tables import _by_symbol, _exposure
from snapshots.report.charts import (
    _charts,
)
from snapshots.report.figures import (
    NONE_TEXT,
    ReportFigures,
    compute_figures,
    fmt_datetime,
    mask_account_number,
)
from snapshots.report.layout import (
    _RENDER_LOCK,
    CONTENT_WIDTH,
    FONT,
    FONT_BOLD,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    MUTED,
    PAGE_SIZE,
    RULE,
    SUBTITLE,
    TITLE,
    _covered,
    _Decor,
    _fit,
    _para,
    _ReportCanvas,
    _reproducible,
    _style,
    clean_text,
)
from snapshots.report.ledger_tables import (
    _fees,
    _lots_and_oversells,
    _orders,
    _round_trip_list,
    _strategy_performance,
)
from snapshots.report.metrics import ReportMetrics, ReportOptions, report_metrics
from snapshots.report.quoted import quoted_fills
from snapshots.report.summary_tables import (
    _asset_classes,
    _integrity_checks,
    _key_figures,
    _methodology,
    _period_returns,
    _positions,
    _reconciliation,
    _returns_and_risk,
    _strategies,
)
from snapshots.schema import (
    AnySnapshot,
)

#: Version of the layout; part of the PDF metadata. Bump it when the report changes on purpose.
REPORT_LAYOUT_VERSION: Final = "4"


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
    story += _by_symbol(metrics)
    story += _round_trip_list(snapshot)
    story += _integrity_checks(snapshot)
    story += _positions(figures)
    story += _asset_classes(metrics)
    story += _exposure(metrics)
    story += _strategy_performance(snapshot)
    story += _lots_and_oversells(snapshot)
    story += _fees(snapshot, figures)
    story += _orders(snapshot, figures)
    story += quoted_fills(snapshot)
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


__all__ = [
    "REPORT_LAYOUT_VERSION",
    "RenderedReport",
    "ReportFigures",
    "clean_text",
    "compute_figures",
    "render_report",
]
