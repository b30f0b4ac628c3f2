"""Returns, risk and drawdown of an account from its daily equity and cash flows: pure ``Decimal``.

Definitions (the report's methodology appendix prints the same):

* **Daily equity**: the last valued portfolio-history sample of each UTC calendar day. A daily
  (``1D``) sample is labelled with the start of its day and holds the day's closing equity, as
  Alpaca's portfolio history does.
* **Daily return** of day *d* (flow-adjusted, Modified Dietz within the day): the deposits
  and withdrawals ``F_i`` dated on the days after the previous sample up to *d* count for the
  part of the interval they were invested, by their time: the interval runs from the end of
  the previous sample's UTC day to the end of day *d* (a daily close is valued at the end of
  its day), and ``w_i`` is the share of it after the flow, so
  ``r[d] = (E[d] - E[d-1] - sum F_i) / (E[d-1] + sum w_i F_i)``. A flow at the day's start
  weighs 1 (``E[d] / (E[d-1] + F) - 1``); one late in the day little, so withdrawing
  all but the day's loss at 20:30Z on a -1 % day is about -1 %, not -100 %. A day has no
  return, and says why (``note``), when either close is negative (negative equity), when its
  withdrawals take all of the previous close, or when the capital ``E[d-1] + sum w_i F_i`` is
  not positive. A flow dated on or before the first day is in its closing equity.
* **Time-weighted return** of a window: ``prod(1 + r) - 1`` over its daily returns.
* **Annualised return** (CAGR): ``(1 + TWR) ** (252 / n) - 1`` over *n* daily returns.
* **Volatility**: the sample standard deviation (n - 1) of the daily returns times ``sqrt(252)``.
* **Sharpe**: ``mean(r - rf) / std(r - rf) * sqrt(252)``, ``rf = (1 + rate) ** (1/252) - 1`` the
  daily equivalent of the annual risk-free ``rate``.
* **Sortino**: ``mean(r - rf) * 252 / (sqrt(mean(min(r - rf, 0) ** 2)) * sqrt(252))``.
* **Drawdown**: the wealth index ``W`` starts at 1 on the first sample and is multiplied by
  ``1 + r`` each day; the drawdown is ``W / max(W so far) - 1``. The **max drawdown** is the
  deepest such fall as one episode: its peak, its trough, the day it recovered the peak (or
  none), its length in calendar days, and what it cost in money (equity at the peak minus
  equity at the trough plus the net flows between them).
* **Calmar**: annualised return / abs(max drawdown).
* **Minimum observations**: the annualised figures (annualised return, volatility, Sharpe,
  Sortino, Calmar), and beta and correlation to the benchmark, need
  ``MIN_ANNUALISED_RETURNS`` (20) daily returns (shared with the benchmark); with fewer they are
  not given, and ``withheld`` says why (a day or two annualised to a year says nothing). Sharpe and
  Sortino are also not given when the excess returns do not vary (a flat account: the ratio of
  a constant to itself), nor Sortino without a day below the risk-free rate.

These are the definitions of empyrical-reloaded (``annual_volatility``, ``sharpe_ratio``,
``sortino_ratio``, ``annual_return``, ``calmar_ratio``, ``beta``), against which the tests check
them; the one difference is that our wealth index includes the starting point, so a fall on the
first day counts as a drawdown (empyrical's ``max_drawdown`` of the returns with a leading 0).
Every ratio is computed with 50 significant digits and rounded half-even to 20.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Final

from ledger_store.decimals import decimal_context, explicit_context
from ledger_store.dto import Frozen, UTCDateTime
from ledger_store.errors import LedgerValidationError
from snapshots.alpaca.models import EquityPoint

#: Trading days in a year: the annualisation factor.
PERIODS_PER_YEAR: Final = 252
#: Daily returns the annualised figures need (about a trading month); fewer: not given.
MIN_ANNUALISED_RETURNS: Final = 20
#: Working precision of every computation, and the significant digits a ratio is given with.
_CALC: Final = decimal_context(50)
_OUT: Final = decimal_context(20)
_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_YEAR: Final = Decimal(PERIODS_PER_YEAR)


@explicit_context
def ratio(value: Decimal) -> Decimal:
    """A computed ratio as reported: 20 significant digits, half-even (never ``-0``)."""
    rounded = _OUT.plus(value)
    return abs(rounded) if rounded.is_zero() else rounded


class DailyReturn(Frozen):
    """One day of the account: its closing equity, the flows dated in it and its return."""

    day: date
    at: UTCDateTime
    equity: Decimal
    net_flow: Decimal
    #: ``None`` on the first day (no base) and on a day ``note`` explains.
    ret: Decimal | None
    #: Why a day after the first has no return (negative equity, flows above its capital).
    note: str | None = None
    #: The day's P&L in money: ``E[d] - E[d-1] - flows`` (``None`` on the first day).
    pnl: Decimal | None = None


class WindowReturn(Frozen):
    """The time-weighted return of a window of days (a month, MTD, YTD, one year, ...)."""

    label: str
    first_day: date
    last_day: date
    days: int
    ret: Decimal


class DrawdownEpisode(Frozen):
    """The deepest fall of the wealth index, from its peak to its trough and back.

    ``recovered`` is the first day the index was back at the peak (``None``: not yet);
    ``duration_days`` counts calendar days from the peak to the recovery (or to the last day).
    ``amount`` is what the fall cost: equity at the peak - equity at the trough + the net flows
    of the days after the peak up to the trough.
    """

    depth: Decimal
    amount: Decimal
    peak: date
    trough: date
    recovered: date | None
    duration_days: int
    peak_equity: Decimal
    trough_equity: Decimal


class CurrentDrawdown(Frozen):
    """How far the wealth index is below its peak on the last day (0 at a new high)."""

    depth: Decimal
    peak: date
    days: int


class UnderwaterPoint(Frozen):
    day: date
    depth: Decimal


class BenchmarkFigures(Frozen):
    """The account against a benchmark's daily closes over the days both have."""

    symbol: str
    days: int
    total_return: Decimal
    account_return: Decimal
    excess_return: Decimal
    beta: Decimal | None
    correlation: Decimal | None


class Performance(Frozen):
    """Every return and risk figure of a daily series (see the module docstring)."""

    periods_per_year: int
    risk_free_rate: Decimal
    days: tuple[DailyReturn, ...]
    returns: int
    first_day: date | None
    last_day: date | None
    start_equity: Decimal | None
    end_equity: Decimal | None
    net_flows: Decimal
    #: Flows dated on the first day: already in its closing equity (the opening), so neither
    #: in ``net_flows`` nor in a return; a statement that opens on that day names them.
    opening_flows: Decimal = _ZERO
    flows_after_last_sample: Decimal
    pnl: Decimal | None
    twr: Decimal | None
    annualised_return: Decimal | None
    volatility: Decimal | None
    sharpe: Decimal | None
    sortino: Decimal | None
    calmar: Decimal | None
    #: Why the annualised figures are not given (too few daily returns); ``None`` when they are.
    withheld: str | None = None
    max_drawdown: DrawdownEpisode | None
    current_drawdown: CurrentDrawdown | None
    underwater: tuple[UnderwaterPoint, ...]
    months: tuple[WindowReturn, ...]
    windows: tuple[WindowReturn, ...]
    benchmark: BenchmarkFigures | None


@explicit_context
def daily_equity(points: Iterable[EquityPoint]) -> list[tuple[date, datetime, Decimal]]:
    """``(day, time, equity)`` of the last valued sample of each UTC day, by day."""
    last: dict[date, tuple[datetime, Decimal]] = {}
    for point in points:
        if point.equity is None:
            continue
        at = point.timestamp.astimezone(UTC)
        known = last.get(at.date())
        if known is None or at >= known[0]:
            last[at.date()] = (at, point.equity)
    return [(day, at, equity) for day, (at, equity) in sorted(last.items())]


@explicit_context
def daily_returns(
    points: Iterable[EquityPoint], flows: Iterable[tuple[datetime, Decimal]]
) -> tuple[list[DailyReturn], Decimal]:
    """The daily returns (see the module docstring) and the flows after the last day."""
    days = daily_equity(points)
    pending = sorted(
        (moment.date(), moment, amount)
        for moment, amount in ((at.astimezone(UTC), amount) for at, amount in flows)
    )
    if not days:
        return [], _ZERO
    result: list[DailyReturn] = []
    index = 0
    # Flows on or before the first day are in its closing equity: the opening of the series.
    while index < len(pending) and pending[index][0] <= days[0][0]:
        index += 1
    previous: tuple[date, Decimal] | None = None
    for day, at, equity in days:
        dated: list[tuple[datetime, Decimal]] = []
        while previous is not None and index < len(pending) and pending[index][0] <= day:
            dated.append(pending[index][1:])
            index += 1
        flow = _ZERO
        for _, amount in dated:
            flow = _CALC.add(flow, amount)
        ret: Decimal | None = None
        note: str | None = None
        pnl: Decimal | None = None
        if previous is not None:
            ret, note = _day_return(previous, day, equity, dated, flow)
            pnl = _CALC.subtract(_CALC.subtract(equity, previous[1]), flow)
        result.append(
            DailyReturn(day=day, at=at, equity=equity, net_flow=flow, ret=ret, note=note, pnl=pnl)
        )
        previous = (day, equity)
    after = _ZERO
    for _, _, amount in pending[index:]:
        after = _CALC.add(after, amount)
    return result, after


_MICROSECOND: Final = timedelta(microseconds=1)


def day_end(day: date) -> datetime:
    """Where a daily close is valued: the end of its UTC day."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def _day_return(
    previous: tuple[date, Decimal],
    day: date,
    equity: Decimal,
    flows: Sequence[tuple[datetime, Decimal]],
    net_flow: Decimal,
) -> tuple[Decimal | None, str | None]:
    """Day ``day``'s Modified Dietz return from the previous close (see the module
    docstring), or ``None`` and why it has none."""
    before_day, before = previous
    if before < 0 or equity < 0:
        return None, "negative equity"
    withdrawn = _ZERO
    for _, amount in flows:
        withdrawn = _CALC.add(withdrawn, min(amount, _ZERO))
    if flows and _CALC.add(before, withdrawn) <= 0:
        return None, "withdrawals took all the capital"
    start, end = day_end(before_day), day_end(day)
    span = Decimal((end - start) // _MICROSECOND)
    capital = before
    for at, amount in flows:
        invested = Decimal((end - min(max(at, start), end)) // _MICROSECOND)
        capital = _CALC.add(capital, _CALC.multiply(amount, _CALC.divide(invested, span)))
    if capital <= 0:
        return None, "no capital"
    gain = _CALC.subtract(_CALC.subtract(equity, before), net_flow)
    return ratio(_CALC.divide(gain, capital)), None


@explicit_context
def compound(returns: Iterable[Decimal]) -> Decimal:
    """``prod(1 + r) - 1``."""
    growth = _ONE
    for r in returns:
        growth = _CALC.multiply(growth, _CALC.add(_ONE, r))
    return _CALC.subtract(growth, _ONE)


def _mean(values: Sequence[Decimal]) -> Decimal:
    total = _ZERO
    for v in values:
        total = _CALC.add(total, v)
    return _CALC.divide(total, Decimal(len(values)))


def _sample_std(values: Sequence[Decimal]) -> Decimal | None:
    if len(values) < 2:
        return None
    mean = _mean(values)
    total = _ZERO
    for v in values:
        d = _CALC.subtract(v, mean)
        total = _CALC.add(total, _CALC.multiply(d, d))
    return _CALC.sqrt(_CALC.divide(total, Decimal(len(values) - 1)))


@explicit_context
def daily_risk_free(rate: Decimal) -> Decimal:
    """The daily rate that compounds to the annual ``rate`` over 252 days."""
    if rate <= -1:
        raise LedgerValidationError(f"a risk-free rate must be above -100%, got {rate}")
    if rate.is_zero():
        return _ZERO
    return _CALC.subtract(_CALC.power(_CALC.add(_ONE, rate), _CALC.divide(_ONE, _YEAR)), _ONE)


@explicit_context
def annualised(total_return: Decimal, n: int) -> Decimal | None:
    """``(1 + total) ** (252 / n) - 1``; ``None`` without returns or after a total loss."""
    growth = _CALC.add(_ONE, total_return)
    if n == 0 or growth <= 0:
        return None
    return _CALC.subtract(_CALC.power(growth, _CALC.divide(_YEAR, Decimal(n))), _ONE)


@explicit_context
def volatility(returns: Sequence[Decimal]) -> Decimal | None:
    std = _sample_std(returns)
    return None if std is None else _CALC.multiply(std, _CALC.sqrt(_YEAR))


@explicit_context
def sharpe(returns: Sequence[Decimal], rf_daily: Decimal) -> Decimal | None:
    excess = [_CALC.subtract(r, rf_daily) for r in returns]
    std = _sample_std(excess)
    if std is None or std.is_zero():
        return None
    return _CALC.multiply(_CALC.divide(_mean(excess), std), _CALC.sqrt(_YEAR))


@explicit_context
def sortino(returns: Sequence[Decimal], rf_daily: Decimal) -> Decimal | None:
    excess = [_CALC.subtract(r, rf_daily) for r in returns]
    std = _sample_std(excess)
    if std is None or std.is_zero():
        return None  # excess returns that do not vary: no ratio (as for Sharpe)
    downside = _mean([_CALC.multiply(min(e, _ZERO), min(e, _ZERO)) for e in excess])
    if downside.is_zero():
        return None
    risk = _CALC.multiply(_CALC.sqrt(downside), _CALC.sqrt(_YEAR))
    return _CALC.divide(_CALC.multiply(_mean(excess), _YEAR), risk)


def _wealth(days: Sequence[DailyReturn]) -> list[Decimal]:
    """The wealth index: 1 on the first day, times ``1 + r`` on each day with a return."""
    index: list[Decimal] = []
    level = _ONE
    for day in days:
        if day.ret is not None:
            level = _CALC.multiply(level, _CALC.add(_ONE, day.ret))
        index.append(level)
    return index


@explicit_context
def drawdowns(
    days: Sequence[DailyReturn],
) -> tuple[DrawdownEpisode | None, CurrentDrawdown | None, tuple[UnderwaterPoint, ...]]:
    """The max drawdown episode, the current drawdown and the underwater series."""
    if len(days) < 2:
        return None, None, ()
    wealth = _wealth(days)
    peak_at = 0
    worst: tuple[Decimal, int, int] | None = None  # (depth, peak index, trough index)
    underwater: list[UnderwaterPoint] = []
    for i, level in enumerate(wealth):
        if level >= wealth[peak_at]:
            peak_at = i
        depth = _CALC.subtract(_CALC.divide(level, wealth[peak_at]), _ONE)
        underwater.append(UnderwaterPoint(day=days[i].day, depth=ratio(depth)))
        if depth < 0 and (worst is None or depth < worst[0]):
            worst = (depth, peak_at, i)
    current = CurrentDrawdown(
        depth=underwater[-1].depth,
        peak=days[peak_at].day,
        days=(days[-1].day - days[peak_at].day).days,
    )
    if worst is None:
        return None, current, tuple(underwater)
    depth, peak, trough = worst
    recovered = next((i for i in range(trough + 1, len(days)) if wealth[i] >= wealth[peak]), None)
    end_day = days[recovered].day if recovered is not None else days[-1].day
    flows = _ZERO
    for day in days[peak + 1 : trough + 1]:
        flows = _CALC.add(flows, day.net_flow)
    amount = _CALC.add(_CALC.subtract(days[peak].equity, days[trough].equity), flows)
    episode = DrawdownEpisode(
        depth=ratio(depth),
        amount=amount,
        peak=days[peak].day,
        trough=days[trough].day,
        recovered=None if recovered is None else days[recovered].day,
        duration_days=(end_day - days[peak].day).days,
        peak_equity=days[peak].equity,
        trough_equity=days[trough].equity,
    )
    return episode, current, tuple(underwater)


def _window(label: str, days: Sequence[DailyReturn]) -> WindowReturn | None:
    rets = [d.ret for d in days if d.ret is not None]
    if not days or not rets:
        return None
    return WindowReturn(
        label=label,
        first_day=days[0].day,
        last_day=days[-1].day,
        days=len(rets),
        ret=ratio(compound(rets)),
    )


@explicit_context
def monthly_returns(days: Sequence[DailyReturn]) -> tuple[WindowReturn, ...]:
    """The time-weighted return of each calendar month with at least one daily return."""
    by_month: dict[str, list[DailyReturn]] = {}
    for day in days:
        by_month.setdefault(f"{day.day.year:04d}-{day.day.month:02d}", []).append(day)
    months = (_window(label, month) for label, month in sorted(by_month.items()))
    return tuple(m for m in months if m is not None)


@explicit_context
def trailing_windows(days: Sequence[DailyReturn]) -> tuple[WindowReturn, ...]:
    """MTD, YTD and 1Y returns, each only when the series reaches back to its start.

    MTD needs a sample before the last day's month, YTD one before its year, 1Y one at least
    365 days before the last day: otherwise the window is not covered and is left out.
    """
    if len(days) < 2:
        return ()
    last = days[-1].day
    first = days[0].day
    windows: list[WindowReturn] = []
    month_start = last.replace(day=1)
    year_start = last.replace(month=1, day=1)
    year_ago = last - timedelta(days=365)
    for label, start, covered in (
        ("MTD", month_start, first < month_start),
        ("YTD", year_start, first < year_start),
        ("1Y", year_ago + timedelta(days=1), first <= year_ago),
    ):
        if not covered:
            continue
        window = _window(label, [d for d in days if d.day >= start])
        if window is not None:
            windows.append(window)
    return tuple(windows)


def _pearson(xs: Sequence[Decimal], ys: Sequence[Decimal]) -> Decimal | None:
    mx, my = _mean(xs), _mean(ys)
    sxy = sxx = syy = _ZERO
    for x, y in zip(xs, ys, strict=True):
        dx, dy = _CALC.subtract(x, mx), _CALC.subtract(y, my)
        sxy = _CALC.add(sxy, _CALC.multiply(dx, dy))
        sxx = _CALC.add(sxx, _CALC.multiply(dx, dx))
        syy = _CALC.add(syy, _CALC.multiply(dy, dy))
    if sxx.is_zero() or syy.is_zero():
        return None
    return _CALC.divide(sxy, _CALC.sqrt(_CALC.multiply(sxx, syy)))


@explicit_context
def benchmark_figures(
    symbol: str, days: Sequence[DailyReturn], closes: Iterable[tuple[date, Decimal]]
) -> BenchmarkFigures | None:
    """The account's daily returns against the benchmark's close-to-close returns.

    Only the days on which both have a return count, and the benchmark's return of a day is
    from its previous close in the series; beta is ``cov(a, b) / var(b)`` (empyrical's),
    correlation Pearson's. ``None`` when fewer than two days are shared.
    """
    ordered = sorted(closes)
    bench: dict[date, Decimal] = {}
    for (_, before), (day, close) in pairwise(ordered):
        if before > 0:
            bench[day] = _CALC.subtract(_CALC.divide(close, before), _ONE)
    pairs = [(d.ret, bench[d.day]) for d in days if d.ret is not None and d.day in bench]
    if len(pairs) < 2:
        return None
    account = [a for a, _ in pairs]
    market = [b for _, b in pairs]
    mb = _mean(market)
    var = cov = _ZERO
    for a, b in pairs:
        residual = _CALC.subtract(b, mb)
        var = _CALC.add(var, _CALC.multiply(residual, residual))
        cov = _CALC.add(cov, _CALC.multiply(residual, a))
    account_return = compound(account)
    market_return = compound(market)
    few = len(pairs) < MIN_ANNUALISED_RETURNS  # a beta of a few days says nothing either
    correlation = _pearson(account, market)
    return BenchmarkFigures(
        symbol=symbol,
        days=len(pairs),
        total_return=ratio(market_return),
        account_return=ratio(account_return),
        excess_return=ratio(_CALC.subtract(account_return, market_return)),
        beta=None if var.is_zero() or few else ratio(_CALC.divide(cov, var)),
        correlation=None if correlation is None or few else ratio(correlation),
    )


@explicit_context
def performance(
    points: Iterable[EquityPoint],
    flows: Iterable[tuple[datetime, Decimal]],
    *,
    risk_free_rate: Decimal = _ZERO,
    benchmark: tuple[str, Iterable[tuple[date, Decimal]]] | None = None,
) -> Performance:
    """Every figure of the module docstring for a portfolio history and its cash flows."""
    rf_daily = daily_risk_free(risk_free_rate)
    flows = list(flows)
    days, after = daily_returns(points, flows)
    opening = _ZERO
    if days:
        for at, amount in flows:
            if at.astimezone(UTC).date() == days[0].day:
                opening = _CALC.add(opening, amount)
    rets = [d.ret for d in days if d.ret is not None]
    first = days[0] if days else None
    last = days[-1] if days else None
    net_flows = _ZERO
    for d in days:
        net_flows = _CALC.add(net_flows, d.net_flow)
    pnl: Decimal | None = None
    if first is not None and last is not None and len(days) >= 2:
        pnl = _CALC.subtract(_CALC.subtract(last.equity, first.equity), net_flows)
    twr = compound(rets) if rets else None
    episode, current, underwater = drawdowns(days)
    withheld: str | None = None
    annual = vol = sharpe_ratio = sortino_ratio = calmar = None
    if len(rets) < MIN_ANNUALISED_RETURNS:
        if rets:
            withheld = f"needs {MIN_ANNUALISED_RETURNS} daily returns, has {len(rets)}"
    else:
        annual = None if twr is None else annualised(twr, len(rets))
        if annual is not None and episode is not None and not episode.depth.is_zero():
            calmar = _CALC.divide(annual, abs(episode.depth))
        vol, sharpe_ratio, sortino_ratio = (
            volatility(rets),
            sharpe(rets, rf_daily),
            sortino(rets, rf_daily),
        )
    return Performance(
        periods_per_year=PERIODS_PER_YEAR,
        risk_free_rate=risk_free_rate,
        days=tuple(days),
        returns=len(rets),
        first_day=None if first is None else first.day,
        last_day=None if last is None else last.day,
        start_equity=None if first is None else first.equity,
        end_equity=None if last is None else last.equity,
        net_flows=net_flows,
        opening_flows=opening,
        flows_after_last_sample=after,
        pnl=pnl,
        twr=None if twr is None else ratio(twr),
        annualised_return=None if annual is None else ratio(annual),
        volatility=None if vol is None else ratio(vol),
        sharpe=None if sharpe_ratio is None else ratio(sharpe_ratio),
        sortino=None if sortino_ratio is None else ratio(sortino_ratio),
        calmar=None if calmar is None else ratio(calmar),
        withheld=withheld,
        max_drawdown=episode,
        current_drawdown=current,
        underwater=underwater,
        months=monthly_returns(days),
        windows=trailing_windows(days),
        benchmark=None
        if benchmark is None
        else benchmark_figures(benchmark[0], days, benchmark[1]),
    )


__all__ = [
    "MIN_ANNUALISED_RETURNS",
    "PERIODS_PER_YEAR",
    "BenchmarkFigures",
    "CurrentDrawdown",
    "DailyReturn",
    "DrawdownEpisode",
    "Performance",
    "UnderwaterPoint",
    "WindowReturn",
    "annualised",
    "benchmark_figures",
    "compound",
    "daily_equity",
    "daily_returns",
    "daily_risk_free",
    "day_end",
    "drawdowns",
    "monthly_returns",
    "performance",
    "ratio",
    "sharpe",
    "sortino",
    "trailing_windows",
    "volatility",
]
