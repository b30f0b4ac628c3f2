"""Every figure the report computes, in one object: what the PDF lays out and the CLI prints.

``report_metrics(snapshot, options)`` is pure: the same snapshot and options give the same
figures (and ``metrics_json`` the same bytes). Money and ratios are ``Decimal`` (strings in JSON).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from ledger_store.decimals import decimal_context, explicit_context
from ledger_store.dto import Frozen
from ledger_store.errors import LedgerValidationError
from snapshots.alpaca.models import EquityPoint
from snapshots.ledger.lots import Match
from snapshots.report.asset_classes import AssetClassFigures, by_asset_class
from snapshots.report.exposure import ExposurePoint, exposure_series
from snapshots.report.figures import EXACT, ReportFigures, compute_figures, exact_sum
from snapshots.report.performance import Performance, performance, ratio
from snapshots.report.reconciliation import Reconciliation, reconcile
from snapshots.report.strategies import (
    RoundTripStats,
    StrategyPnL,
    all_round_trips,
    period_round_trips,
    strategy_pnl,
)
from snapshots.report.symbols import SymbolBreakdown, symbol_pnl
from snapshots.schema import AccountSnapshotV12, AccountSnapshotV14, AnySnapshot

#: The metrics' own format version (``report metrics --json``): bumped when a field changes.
#: 2: ``asset_classes`` and each strategy's ``coin_fees``. 3: ``performance`` is ``inception``
#: (beside ``period``), each with ``withheld``; decimals normalised (no trailing zeros).
#: 4: ``by_symbol``, ``exposure`` and the list of ``period_round_trips``.
METRICS_VERSION: Final = "4"


#: The report Lambda's settings: the annual risk-free rate (``0.04`` = 4 %) and whether the
#: account ids are printed in full (``true``/``1``; masked otherwise).
RISK_FREE_RATE_VARIABLE: Final = "REPORT_RISK_FREE_RATE"
REVEAL_IDS_VARIABLE: Final = "REPORT_REVEAL_ACCOUNT_IDS"


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """How to report a snapshot (not part of it): the annual risk-free rate for Sharpe and
    Sortino (default 0), and whether ids are printed in full (default: masked)."""

    risk_free_rate: Decimal = Decimal(0)
    reveal_ids: bool = False

    def __post_init__(self) -> None:
        rate = self.risk_free_rate
        if not isinstance(rate, Decimal) or not rate.is_finite() or not -1 < rate < 1:
            raise LedgerValidationError(
                "the risk-free rate is an annual fraction above -1 and below 1 (0.05 = 5%), "
                f"got {rate}"
            )


@explicit_context
def parse_risk_free_rate(text: str) -> Decimal:
    """``"0.04"`` -> ``Decimal("0.04")``; anything else is a ``LedgerValidationError``."""
    try:
        rate = Decimal(text.strip())
    except ArithmeticError as exc:
        raise LedgerValidationError(
            f"the risk-free rate must be a decimal fraction such as 0.04, got {text!r}"
        ) from exc
    return ReportOptions(risk_free_rate=rate).risk_free_rate


@explicit_context
def options_from_env(environ: Mapping[str, str]) -> ReportOptions:
    """``ReportOptions`` from ``REPORT_RISK_FREE_RATE`` and ``REPORT_REVEAL_ACCOUNT_IDS``."""
    rate_text = environ.get(RISK_FREE_RATE_VARIABLE, "").strip()
    reveal_text = environ.get(REVEAL_IDS_VARIABLE, "").strip().lower()
    if reveal_text not in {"", "0", "1", "false", "true"}:
        raise LedgerValidationError(
            f"{REVEAL_IDS_VARIABLE} must be true or false, got {reveal_text!r}"
        )
    return ReportOptions(
        risk_free_rate=parse_risk_free_rate(rate_text) if rate_text else Decimal(0),
        reveal_ids=reveal_text in {"1", "true"},
    )


class ReportMetrics(Frozen):
    """The snapshot's figures, its performance, its strategies and its reconciliation."""

    metrics_version: str
    account_id: str
    snapshot_id: str
    snapshot_version: str
    period_start: datetime
    period_end: datetime
    figures: ReportFigures
    #: The period: its daily returns from the last close before it (when the snapshot holds
    #: one) to its last close; what the period's return, P&L and reconciliation use.
    period: Performance
    #: The whole daily history the snapshot holds (the lookback and the period: since
    #: inception, as far as the snapshot reaches): risk, drawdowns, months, MTD/YTD/1Y and
    #: the benchmark.
    inception: Performance
    strategies: tuple[StrategyPnL, ...]
    #: The account by asset class (``snapshots.report.asset_classes``).
    asset_classes: tuple[AssetClassFigures, ...]
    round_trips: RoundTripStats | None
    reconciliation: Reconciliation | None
    #: The period's turnover: ``(bought + sold) / 2`` (the ledger's distinct fills, before
    #: fees) over the average of the period's daily closes (its opening close included);
    #: ``None`` without a positive average.
    turnover: Decimal | None = None
    #: The period's P&L by symbol (``snapshots.report.symbols``; ``None`` before 1.2).
    by_symbol: SymbolBreakdown | None = None
    #: Exposure and leverage at each of the period's closes, at cost
    #: (``snapshots.report.exposure``; none before 1.2).
    exposure: tuple[ExposurePoint, ...] = ()
    #: Every round trip closed in the period, strategy by strategy (``None`` before 1.2).
    period_round_trips: tuple[Match, ...] | None = None


@explicit_context
def cash_flows(snapshot: AnySnapshot) -> list[tuple[datetime, Decimal]]:
    """The deposits and withdrawals the snapshot records: of the history (1.4) and of the
    period (none before version 1.2)."""
    flows: list[tuple[datetime, Decimal]] = []
    if isinstance(snapshot, AccountSnapshotV14):
        flows += [(c.effective_at, c.amount) for c in snapshot.history_cash_flows]
    if isinstance(snapshot, AccountSnapshotV12):
        flows += [(c.effective_at, c.amount) for c in snapshot.internal_ledger.cash_flows]
    return flows


@explicit_context
def equity_points(snapshot: AnySnapshot) -> tuple[EquityPoint, ...]:
    """The daily equity the snapshot holds: the history before the period (1.4), then the
    period's own samples."""
    history = snapshot.equity_history if isinstance(snapshot, AccountSnapshotV14) else ()
    return (*history, *snapshot.equity_series)


@explicit_context
def report_metrics(snapshot: AnySnapshot, options: ReportOptions | None = None) -> ReportMetrics:
    """Every figure of the report of ``snapshot``."""
    options = options or ReportOptions()
    rate = options.risk_free_rate
    points, flows = equity_points(snapshot), cash_flows(snapshot)
    benchmark = None
    if isinstance(snapshot, AccountSnapshotV14) and snapshot.benchmark is not None:
        b = snapshot.benchmark
        benchmark = (b.symbol, [(c.day, c.close) for c in b.closes])
    whole = performance(points, flows, risk_free_rate=rate, benchmark=benchmark)
    perf = whole
    if isinstance(snapshot, AccountSnapshotV14) and snapshot.equity_history:
        # The period from the last close before it: that close is the period's opening.
        before = [p for p in snapshot.equity_history if p.equity is not None]
        opening = before[-1:] if before else []
        perf = performance(
            (*opening, *snapshot.equity_series),
            flows,
            risk_free_rate=rate,
            benchmark=benchmark,
        )
    trips = period_round_trips(snapshot)
    return ReportMetrics(
        metrics_version=METRICS_VERSION,
        account_id=snapshot.account_id,
        snapshot_id=snapshot.snapshot_id,
        snapshot_version=snapshot.snapshot_version,
        period_start=snapshot.period_start,
        period_end=snapshot.period_end,
        figures=compute_figures(snapshot),
        period=perf,
        inception=whole,
        strategies=strategy_pnl(snapshot),
        asset_classes=by_asset_class(snapshot),
        round_trips=all_round_trips(snapshot),
        reconciliation=reconcile(snapshot, perf),
        turnover=turnover(snapshot, perf),
        by_symbol=symbol_pnl(snapshot),
        exposure=exposure_series(snapshot, perf),
        period_round_trips=None if trips is None else tuple(trips),
    )


@explicit_context
def turnover(snapshot: AnySnapshot, period: Performance) -> Decimal | None:
    """How much of the account traded in the period (see ``ReportMetrics.turnover``)."""
    closes = [d.equity for d in period.days]
    if not closes:
        return None
    average = EXACT.divide(exact_sum(closes), Decimal(len(closes)))
    if average <= 0:
        return None
    ledger = snapshot.internal_ledger
    traded = exact_sum([ledger.total_buy_value, ledger.total_sell_value])
    return ratio(EXACT.divide(EXACT.divide(traded, Decimal(2)), average))


#: Wide enough that normalising a figure never rounds it (ratios have 20 digits, money 38).
_TEXT: Final = decimal_context(100)


def _decimal_text(value: Decimal) -> str:
    """A figure as the snapshot writes numbers: positional, no trailing zeros, no ``-0``
    ("3558.05", not "3558.050"; "100", not "1E+2")."""
    return "0" if value.is_zero() else format(value.normalize(_TEXT), "f")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@explicit_context
def metrics_dict(metrics: ReportMetrics) -> dict[str, Any]:
    """The metrics as JSON-ready values: decimals as plain strings, times as ISO 8601 UTC."""
    result: dict[str, Any] = _plain(metrics.model_dump())
    return result


@explicit_context
def metrics_json(metrics: ReportMetrics) -> str:
    """``metrics_dict`` as sorted, indented JSON."""
    return json.dumps(metrics_dict(metrics), sort_keys=True, indent=2, ensure_ascii=False)


__all__ = [
    "METRICS_VERSION",
    "REVEAL_IDS_VARIABLE",
    "RISK_FREE_RATE_VARIABLE",
    "ReportMetrics",
    "ReportOptions",
    "cash_flows",
    "equity_points",
    "metrics_dict",
    "metrics_json",
    "options_from_env",
    "parse_risk_free_rate",
    "report_metrics",
]
