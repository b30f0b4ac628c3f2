"""Returns, risk and drawdowns: against empyrical-reloaded, an independent drawdown search and
hand-computed series.

empyrical-reloaded (dev-only, with pandas and numpy) is the oracle for every ratio, on the very
daily returns the report computed; the report path itself imports neither (``test_layout``).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import empyrical  # the oracle: a dev dependency, so a missing one fails loudly, never skips
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_store.errors import LedgerValidationError
from snapshots.alpaca.models import EquityPoint
from snapshots.report.performance import (
    MIN_ANNUALISED_RETURNS,
    DailyReturn,
    daily_returns,
    drawdowns,
    performance,
    trailing_windows,
)

START = datetime(2025, 1, 2, tzinfo=UTC)
REL = 1e-9


def series(values: Sequence[str | Decimal], start: datetime = START) -> list[EquityPoint]:
    """Daily samples labelled at 00:00 UTC, one per calendar day from ``start``."""
    return [
        EquityPoint(timestamp=start + timedelta(days=i), equity=Decimal(v))
        for i, v in enumerate(values)
    ]


def random_path(seed: int, days: int) -> tuple[list[EquityPoint], list[tuple[datetime, Decimal]]]:
    """A reproducible equity path with deposits and withdrawals that the returns must ignore."""
    rng = random.Random(seed)
    equity = Decimal("100000")
    points = [EquityPoint(timestamp=START, equity=equity)]
    flows: list[tuple[datetime, Decimal]] = []
    for i in range(1, days):
        at = START + timedelta(days=i)
        flow = Decimal(0)
        if rng.random() < 0.1:
            flow = Decimal(rng.choice([5000, -3000, 20000, -1000]))
            flows.append((at + timedelta(hours=14), flow))
        growth = Decimal(str(round(rng.gauss(0.0004, 0.012), 6)))
        equity = ((equity + flow) * (1 + growth)).quantize(Decimal("0.01"))
        points.append(EquityPoint(timestamp=at, equity=equity))
    return points, flows


def close(mine: Decimal | None, theirs: float) -> None:
    assert mine is not None
    assert math.isclose(float(mine), theirs, rel_tol=REL, abs_tol=1e-15), (mine, theirs)


@pytest.mark.parametrize(("seed", "days", "rate"), [(1, 60, "0"), (2, 300, "0.04"), (3, 21, "0.1")])
def test_ratios_match_empyrical(seed: int, days: int, rate: str) -> None:
    points, flows = random_path(seed, days)
    p = performance(points, flows, risk_free_rate=Decimal(rate))
    returns = np.array([float(d.ret) for d in p.days if d.ret is not None])
    assert len(returns) == days - 1
    rf_daily = (1 + float(rate)) ** (1 / 252) - 1
    close(p.volatility, empyrical.annual_volatility(returns))
    close(p.sharpe, empyrical.sharpe_ratio(returns, risk_free=rf_daily))
    close(p.sortino, empyrical.sortino_ratio(returns, required_return=rf_daily))
    close(p.annualised_return, empyrical.annual_return(returns))
    close(p.twr, empyrical.cum_returns_final(returns))
    # Our wealth index starts at 1 before the first return: empyrical with a leading 0 return.
    with_start = np.concatenate([[0.0], returns])
    assert p.max_drawdown is not None
    close(p.max_drawdown.depth, empyrical.max_drawdown(with_start))
    close(
        p.calmar,
        empyrical.annual_return(returns) / abs(empyrical.max_drawdown(with_start)),
    )


def test_the_flows_never_count_as_return() -> None:
    # 1000, then +500 deposited on day 2 and the account closes at 1500: a 0 % day.
    points = series(["1000", "1500", "1650"])
    deposit = [(START + timedelta(days=1, hours=15), Decimal(500))]
    days, after = daily_returns(points, deposit)
    assert [d.ret for d in days] == [None, Decimal(0), Decimal("0.1")]
    assert [d.net_flow for d in days] == [Decimal(0), Decimal(500), Decimal(0)]
    assert after == 0
    p = performance(points, deposit)
    assert (p.twr, p.pnl, p.net_flows) == (Decimal("0.1"), Decimal(150), Decimal(500))
    # Unadjusted, the deposit would have been a 65 % "return".
    unadjusted = performance(points, [])
    assert unadjusted.twr == Decimal("0.65")


def test_flows_on_the_first_day_are_opening_capital_and_late_ones_are_reported() -> None:
    points = series(["1000", "1010"])
    flows = [
        (START + timedelta(hours=13), Decimal(200)),  # the first day: in its close
        (START + timedelta(days=5), Decimal(-50)),  # after the last sample
    ]
    days, after = daily_returns(points, flows)
    assert [d.net_flow for d in days] == [Decimal(0), Decimal(0)]
    assert days[1].ret == Decimal("0.01")
    assert after == Decimal(-50)


def test_a_withdrawal_of_everything_leaves_the_day_without_a_return() -> None:
    points = series(["1000", "0", "0"])
    days, _ = daily_returns(points, [(START + timedelta(days=1), Decimal(-1000))])
    assert [d.ret for d in days] == [None, None, None]
    p = performance(points, [(START + timedelta(days=1), Decimal(-1000))])
    assert (p.twr, p.sharpe, p.max_drawdown) == (None, None, None)


def test_the_last_sample_of_a_day_is_its_value() -> None:
    points = [
        EquityPoint(timestamp=START + timedelta(hours=h), equity=Decimal(v))
        for h, v in ((0, "100"), (5, "90"), (30, "99"), (29, "120"))
    ]
    days, _ = daily_returns(points, [])
    assert [(d.day, d.equity) for d in days] == [
        (date(2025, 1, 2), Decimal(90)),
        (date(2025, 1, 3), Decimal(99)),
    ]


def test_max_drawdown_is_one_episode_with_dates_and_money() -> None:
    # 200 -> 150 (-25 %), then a new peak 400 and 320 after a 100 deposit made as day 4
    # opened (invested all day: weight 1): -38 % of wealth.
    points = series(["200", "150", "400", "420", "320", "540"])
    deposit = [(START + timedelta(days=4), Decimal(100))]
    p = performance(points, deposit)
    episode = p.max_drawdown
    assert episode is not None
    # Wealth: day 4 return = 320 / (420 + 100) - 1 = -0.384615...; the peak is day 3 (420).
    assert (episode.peak, episode.trough) == (date(2025, 1, 5), date(2025, 1, 6))
    assert episode.depth == Decimal("-0.38461538461538461538")
    # The money lost is the peak equity minus the trough plus the deposit between them.
    assert episode.amount == Decimal(200)
    assert (episode.peak_equity, episode.trough_equity) == (Decimal(420), Decimal(320))
    # 540 / 320 = 1.6875 >= 1 / (1 - 0.3846) = 1.625: recovered on the last day, 2 days on.
    assert episode.recovered == date(2025, 1, 7)
    assert episode.duration_days == 2
    assert p.current_drawdown is not None
    assert p.current_drawdown.depth == 0
    assert [u.depth for u in p.underwater][:2] == [Decimal(0), Decimal("-0.25")]


def brute_force_drawdown(returns: Sequence[Decimal | None]) -> tuple[float, int, int] | None:
    """The deepest ``wealth[j] / wealth[i] - 1`` over all ``i <= j``, by trying every pair."""
    wealth = [1.0]
    for r in returns[1:]:
        wealth.append(wealth[-1] * (1 + float(r)) if r is not None else wealth[-1])
    best: tuple[float, int, int] | None = None
    for i in range(len(wealth)):
        for j in range(i, len(wealth)):
            depth = wealth[j] / wealth[i] - 1
            if depth < 0 and (best is None or depth < best[0] - 1e-12):
                best = (depth, i, j)
    return best


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.decimals(min_value=Decimal("0.5"), max_value=Decimal("2"), places=3),
        min_size=2,
        max_size=40,
    )
)
def test_drawdown_episode_matches_an_independent_search(factors: list[Decimal]) -> None:
    equity = [Decimal(1000)]
    for f in factors[1:]:
        equity.append((equity[-1] * f).quantize(Decimal("0.01")))
    days = [
        DailyReturn(
            day=(START + timedelta(days=i)).date(),
            at=START + timedelta(days=i),
            equity=e,
            net_flow=Decimal(0),
            ret=None if i == 0 else e / equity[i - 1] - 1,
        )
        for i, e in enumerate(equity)
    ]
    episode, current, underwater = drawdowns(days)
    expected = brute_force_drawdown([d.ret for d in days])
    if expected is None:
        assert episode is None
        assert all(u.depth == 0 for u in underwater)
        return
    assert episode is not None
    depth, peak, trough = expected
    assert math.isclose(float(episode.depth), depth, rel_tol=1e-9)
    # Ties: the first peak at that level and the first trough of the deepest fall.
    assert episode.trough == days[trough].day
    assert equity[days.index(next(d for d in days if d.day == episode.peak))] == equity[peak]
    later = [i for i in range(trough + 1, len(days)) if equity[i] >= equity[peak]]
    assert episode.recovered == (days[later[0]].day if later else None)
    assert min(u.depth for u in underwater) == episode.depth
    assert current is not None
    assert current.depth == underwater[-1].depth


def test_trailing_windows_need_history_that_reaches_their_start() -> None:
    # 2025-11-20 .. 2026-02-10: MTD and YTD are covered, 1Y is not.
    start = datetime(2025, 11, 20, tzinfo=UTC)
    values = [Decimal(1000) + i for i in range(83)]
    days, _ = daily_returns(series(values, start), [])
    windows = {w.label: w for w in trailing_windows(days)}
    assert set(windows) == {"MTD", "YTD"}
    last = days[-1]
    assert last.day == date(2026, 2, 10)
    assert windows["MTD"].first_day == date(2026, 2, 1)
    # MTD compounds February's daily returns: from the close of Jan 31 to the close of Feb 10.
    jan31 = next(d for d in days if d.day == date(2026, 1, 31))
    assert windows["MTD"].ret == pytest.approx(last.equity / jan31.equity - 1, rel=Decimal("1e-15"))
    dec31 = next(d for d in days if d.day == date(2025, 12, 31))
    assert windows["YTD"].ret == pytest.approx(last.equity / dec31.equity - 1, rel=Decimal("1e-15"))
    # A year and a day of history: 1Y appears.
    long_days, _ = daily_returns(series([1000 + i for i in range(367)]), [])
    assert {w.label for w in trailing_windows(long_days)} >= {"1Y"}


def test_monthly_returns_compound_the_days_of_each_month() -> None:
    start = datetime(2025, 1, 30, tzinfo=UTC)
    p = performance(series(["100", "110", "99", "108.9"], start), [])
    assert [(m.label, m.ret, m.days) for m in p.months] == [
        ("2025-01", Decimal("0.1"), 1),  # Jan 31: 110 / 100
        ("2025-02", Decimal("-0.01"), 2),  # 99 / 110 * 108.9 / 99 = 0.99
    ]


def test_benchmark_beta_and_correlation_match_empyrical_and_numpy() -> None:
    points, flows = random_path(7, 120)
    rng = random.Random(8)
    p0 = performance(points, flows)
    closes = [(START.date(), Decimal("400"))]
    for d in p0.days[1:]:
        # A benchmark that moves with the account, plus noise.
        assert d.ret is not None
        move = Decimal(str(round(float(d.ret) * 0.8 + rng.gauss(0, 0.004), 6)))
        closes.append((d.day, (closes[-1][1] * (1 + move)).quantize(Decimal("0.0001"))))
    p = performance(points, flows, benchmark=("SPY", closes))
    b = p.benchmark
    assert b is not None
    mine = np.array([float(d.ret) for d in p.days if d.ret is not None])
    bench = np.array([float(c / before - 1) for (_, before), (_, c) in itertools.pairwise(closes)])
    assert b.days == len(mine) == len(bench)
    close(b.beta, empyrical.beta(mine, bench))
    close(b.correlation, float(np.corrcoef(mine, bench)[0, 1]))
    close(b.total_return, empyrical.cum_returns_final(bench))
    close(b.excess_return, empyrical.cum_returns_final(mine) - empyrical.cum_returns_final(bench))
    assert 0.5 < float(b.beta or 0) < 1.5


def test_fewer_than_two_days_give_no_figures() -> None:
    for values in ([], ["1000"]):
        p = performance(series(values), [])
        assert (p.twr, p.pnl, p.volatility, p.sharpe, p.max_drawdown) == (None,) * 5
        assert p.returns == 0


def test_a_risk_free_rate_must_be_above_minus_one() -> None:
    with pytest.raises(LedgerValidationError, match="above -100%"):
        performance(series(["1", "2"]), [], risk_free_rate=Decimal(-1))


def test_too_few_daily_returns_give_no_annualised_figure_and_say_why() -> None:
    """A single -1 % day annualised to a year (CAGR -92 %, Sortino -15.9, Calmar -92 %) says
    nothing: below ``MIN_ANNUALISED_RETURNS`` every annualised figure is withheld alike."""
    one_day = performance(series(["100000", "99000"]), [])
    assert one_day.twr == Decimal("-0.01")
    assert one_day.max_drawdown is not None  # a fall is a fall, however short
    withheld = (
        one_day.annualised_return,
        one_day.volatility,
        one_day.sharpe,
        one_day.sortino,
        one_day.calmar,
    )
    assert withheld == (None,) * 5
    assert one_day.withheld == f"needs {MIN_ANNUALISED_RETURNS} daily returns, has 1"
    values = [str(100000 + 37 * (i % 5) - 20 * (i % 3)) for i in range(MIN_ANNUALISED_RETURNS + 1)]
    short = performance(series(values[:-1]), [])
    enough = performance(series(values), [])
    assert short.returns == MIN_ANNUALISED_RETURNS - 1
    assert short.volatility is None
    assert short.withheld is not None
    assert enough.returns == MIN_ANNUALISED_RETURNS
    assert enough.withheld is None
    assert None not in (enough.annualised_return, enough.volatility, enough.sharpe)
    assert enough.sortino is not None


def test_flat_equity_has_no_sharpe_or_sortino_whatever_the_risk_free_rate() -> None:
    """Flat equity at a 4 % rate had Sortino -sqrt(252) for any rate: a constant shortfall
    divided by itself. Excess returns that do not vary give neither ratio."""
    flat = ["100000"] * (MIN_ANNUALISED_RETURNS + 5)
    for rate in ("0", "0.04", "0.1"):
        p = performance(series(flat), [], risk_free_rate=Decimal(rate))
        assert (p.sharpe, p.sortino) == (None, None)
        assert p.volatility == 0
        assert p.withheld is None


def test_a_flow_counts_for_the_part_of_the_day_it_was_invested() -> None:
    """Withdrawing the rest at 20:30Z on a -1 % day (100,000 -> 99,000, then -99,000) was a
    -100 % day and a -100 % drawdown for a P&L of -1,000. By Modified Dietz within the day
    the withdrawal weighs 3.5 / 24 of it: about -1.17 %."""
    late = START + timedelta(days=1, hours=20, minutes=30)
    p = performance(series(["100000", "0"]), [(late, Decimal(-99000))])
    capital = Decimal(100000) - Decimal("3.5") / Decimal(24) * Decimal(99000)
    assert p.days[1].ret is not None
    assert abs(p.days[1].ret - Decimal(-1000) / capital) < Decimal("1e-18")
    assert p.days[1].note is None
    assert p.pnl == Decimal(-1000)
    assert [d.pnl for d in p.days] == [None, Decimal(-1000)]  # the day's P&L in money
    assert p.max_drawdown is not None
    assert Decimal("-0.0118") < p.max_drawdown.depth < Decimal("-0.0116")
    # a deposit at the day's start is invested all day: the old start-of-day rule
    opening = performance(series(["1000", "1650"]), [(START + timedelta(days=1), Decimal(500))])
    assert opening.days[1].ret == Decimal("0.1")


def test_a_day_without_a_return_says_why() -> None:
    """Negative equity is stated, never a return below -100 %; a day whose withdrawals take
    all of the previous close has no return and says so (it was dropped silently: withdrawing
    101,000 on a +1 % day showed 0.00 % against a P&L of +1,000)."""
    negative = performance(series(["1000", "-200", "100"]), [])
    assert [d.note for d in negative.days] == [None, "negative equity", "negative equity"]
    assert [d.ret for d in negative.days] == [None, None, None]
    assert negative.twr is None
    late = START + timedelta(days=1, hours=20, minutes=30)
    emptied = performance(series(["100000", "0"]), [(late, Decimal(-101000))])
    assert emptied.days[1].ret is None
    assert emptied.days[1].note == "withdrawals took all the capital"
    assert emptied.pnl == Decimal(1000)
