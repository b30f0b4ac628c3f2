"""``trade-ledger report render``: the report Lambda's read-verify-render path, from a shell.

It reads the snapshot (one GetItem for ``--at``, one Query for ``--latest``), verifies schema and
checksum (``SNAPSHOT_HMAC_KEY`` when set), renders the PDF and writes it atomically, so a failed
or interrupted run never leaves a partial report behind. It never talks to Alpaca.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger_store import keys
from ledger_store.config import TableSettings
from ledger_store.errors import LedgerValidationError
from snapshots.cli.ledger import connection_options, run_with_settings, timestamp_arg

if TYPE_CHECKING:
    from snapshots.handlers.report import ReportRequest
    from snapshots.report.metrics import ReportMetrics, ReportOptions


def register(subparsers: Any) -> None:
    """Add ``report`` and its ``render`` subcommand to the top-level parser."""
    report = subparsers.add_parser("report", help="render account reports from stored snapshots")
    commands = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    render = commands.add_parser(
        "render",
        parents=[connection_options()],
        help="verify a stored snapshot and render its PDF report (never calls Alpaca)",
    )
    _which_snapshot(render)
    render.add_argument(
        "-o", "--output", required=True, type=Path, help="PDF file to write (replaced atomically)"
    )
    render.add_argument("--json", action="store_true", help="print a JSON object")
    _report_options(render)
    render.set_defaults(func=run_with_settings(_render))

    metrics = commands.add_parser(
        "metrics",
        parents=[connection_options()],
        help="print every figure of a stored snapshot's report (returns, risk, strategies, ...)",
    )
    _which_snapshot(metrics)
    metrics.add_argument(
        "--json", action="store_true", help="print every figure as one JSON object"
    )
    _report_options(metrics)
    metrics.set_defaults(func=run_with_settings(_metrics))


def _which_snapshot(parser: Any) -> None:
    parser.add_argument("--account", required=True, help="ledger account id")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--at", type=timestamp_arg, help="period end of the snapshot (UTC)")
    which.add_argument("--latest", action="store_true", help="the newest snapshot")


def _report_options(parser: Any) -> None:
    parser.add_argument(
        "--risk-free-rate",
        metavar="RATE",
        help="annual risk-free rate for Sharpe and Sortino as a fraction, e.g. 0.04 "
        "(default: REPORT_RISK_FREE_RATE, else 0)",
    )
    parser.add_argument(
        "--reveal-ids",
        action="store_true",
        help="print account ids in full (default: masked like the account number)",
    )


def _options(args: argparse.Namespace) -> ReportOptions:
    """The report options: the environment's (as the Lambda reads them), then the flags."""
    from snapshots.report.metrics import ReportOptions, options_from_env, parse_risk_free_rate

    base = options_from_env(os.environ)
    rate = base.risk_free_rate
    if args.risk_free_rate is not None:
        rate = parse_risk_free_rate(args.risk_free_rate)
    return ReportOptions(risk_free_rate=rate, reveal_ids=base.reveal_ids or args.reveal_ids)


def _request(args: argparse.Namespace) -> ReportRequest:
    """The same validated request the Lambda would build (bad input: ``ReportPayloadError``)."""
    from snapshots.handlers.report import parse_request

    if args.latest:
        return parse_request({"account_id": args.account, "latest": True})
    if args.at.microsecond:
        raise LedgerValidationError(
            f"--at must be a whole second (snapshots end on one), got {keys.format_micros(args.at)}"
        )
    return parse_request({"account_id": args.account, "at": keys.format_seconds(args.at)})


def _check_output(path: Path) -> None:
    if path.is_dir():
        raise LedgerValidationError(f"--output {path} is a directory; name the PDF file")
    if not path.parent.is_dir():
        raise LedgerValidationError(f"--output {path}: folder {path.parent} does not exist")


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``.

    Readers see the old file or the whole new one, never a partial PDF. The file gets the
    usual permissions (0666 minus the umask).
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise LedgerValidationError(f"cannot write {path}: {exc}") from exc


def _render(args: argparse.Namespace, settings: TableSettings) -> int:
    # Imported here: ReportLab is only loaded by the command that renders.
    from snapshots.handlers.report import hmac_key_from_env, render_stored, snapshot_key

    request = _request(args)
    path: Path = args.output
    _check_output(path)
    options = _options(args)
    snapshot, rendered = render_stored(
        request, settings, hmac_key=hmac_key_from_env(), options=options
    )
    write_atomically(path, rendered.pdf)
    summary = {
        "path": str(path),
        "account_id": snapshot.account_id,
        "period_end": keys.format_seconds(snapshot.period_end),
        "snapshot_id": snapshot.snapshot_id,
        "pages": rendered.pages,
        "bytes": len(rendered.pdf),
        "pdf_sha256": rendered.sha256,
    }
    if args.json:
        print(json.dumps(summary, sort_keys=True))
        return 0
    rows = [
        ("report", str(path)),
        ("snapshot", f"{snapshot.snapshot_id} ({snapshot_key(snapshot)})"),
        ("pages", str(rendered.pages)),
        ("size", f"{len(rendered.pdf):,} bytes"),
        ("sha256", rendered.sha256),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


def _metrics(args: argparse.Namespace, settings: TableSettings) -> int:
    from snapshots.handlers.report import hmac_key_from_env, read_snapshot
    from snapshots.report.metrics import metrics_json, report_metrics

    request = _request(args)
    options = _options(args)
    snapshot = read_snapshot(request, settings, hmac_key=hmac_key_from_env())
    metrics = report_metrics(snapshot, options)
    if args.json:
        print(metrics_json(metrics))
        return 0
    rows = _metrics_rows(metrics)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print("(--json prints every figure)")
    return 0


def _metrics_rows(metrics: ReportMetrics) -> list[tuple[str, str]]:
    """The headline figures as the PDF's key figures print them: the period's first, then
    those since the history the snapshot holds begins, each labelled (``--json`` has all)."""
    from snapshots.report.figures import NONE_TEXT, fmt_date, fmt_money, fmt_percent
    from snapshots.report.performance import Performance

    period, whole = metrics.period, metrics.inception
    ccy = metrics.figures.currency
    rate = fmt_percent(whole.risk_free_rate)

    def ratio(value: Decimal | None, p: Performance, *, percent: bool = False) -> str:
        """A ratio as the PDF's cards print it; a withheld one as the dash and its reason."""
        if value is None and p.withheld:
            return f"{NONE_TEXT} ({p.withheld})"
        if percent:
            return fmt_percent(value, signed=True)
        return fmt_money(value, signed=True)

    def risk(p: Performance, label: str) -> list[tuple[str, str]]:
        rows = [
            (
                f"return ({label})",
                f"{fmt_percent(p.twr, signed=True)} time-weighted, {p.returns} daily returns",
            ),
            (f"annualised return ({label})", ratio(p.annualised_return, p, percent=True)),
            (f"volatility ({label})", ratio(p.volatility, p, percent=True)),
            (f"sharpe ({label}, risk-free {rate})", ratio(p.sharpe, p)),
            (f"sortino ({label}, risk-free {rate})", ratio(p.sortino, p)),
            (f"calmar ({label})", ratio(p.calmar, p)),
        ]
        episode = p.max_drawdown
        if episode is not None:
            rows.append(
                (
                    f"max drawdown ({label})",
                    f"{fmt_percent(episode.depth)} ({fmt_money(-episode.amount)} {ccy}), "
                    f"{fmt_date(episode.peak)} -> {fmt_date(episode.trough)}",
                )
            )
        if p.benchmark is not None:
            b = p.benchmark
            rows.append(
                (
                    f"vs {b.symbol} ({label})",
                    f"excess {fmt_percent(b.excess_return, signed=True)}, beta "
                    f"{fmt_money(b.beta, signed=True)}, correlation "
                    f"{fmt_money(b.correlation, signed=True)}",
                )
            )
        return rows

    rows = [
        ("snapshot", f"{metrics.snapshot_id} (version {metrics.snapshot_version})"),
        (
            "period",
            f"{fmt_date(metrics.period_start)} .. {fmt_date(metrics.period_end)} (UTC, end "
            "exclusive)",
        ),
        ("net P&L (period)", f"{fmt_money(period.pnl, signed=True)} {ccy}, deposits excluded"),
        *risk(period, "period"),
        (
            "inception",
            f"{whole.returns} daily returns, {fmt_date(whole.first_day)} .. "
            f"{fmt_date(whole.last_day)}: the history the snapshot holds",
        ),
        *risk(whole, "inception"),
        *((f"{w.label} return", fmt_percent(w.ret, signed=True)) for w in whole.windows),
    ]
    trips = metrics.round_trips
    if trips is not None:
        rows.append(
            (
                "round trips",
                f"{trips.round_trips}, win rate {fmt_percent(trips.win_rate, places=1)}",
            )
        )
    if metrics.turnover is not None:
        rows.append(("turnover (period)", f"{fmt_money(metrics.turnover)}x average equity"))
    leverage = [(p.leverage, p.day) for p in metrics.exposure if p.leverage is not None]
    if leverage:
        peak = max(leverage, key=lambda item: item[0])
        rows.append(
            (
                "gross leverage (period, at cost)",
                f"last {fmt_money(leverage[-1][0])}x, peak {fmt_money(peak[0])}x on "
                f"{fmt_date(peak[1])}",
            )
        )
    return rows


__all__ = ["register", "write_atomically"]
