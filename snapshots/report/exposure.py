"""Exposure and leverage at each of the period's daily closes, rebuilt from the snapshot's lots.

A lot slice was open at a close when it had opened by then and had not yet closed: the open
lots at ``period_end`` (opened by then) and the period's round trips (opened by then, closed
after). The snapshot holds no daily price for each symbol, so each slice counts **at its cost**
(qty x entry price x contract multiplier; a split changes neither): long and short cost, gross
= long + short, net = long - short, leverage = gross / the close's equity. A lot an event closed
outside a round trip (an option expiring, a merger paid in cash, an asset fee taking a whole
lot) is not counted before that event. At ``period_end`` the report also shows the exposure
at market, from Alpaca's positions (``ReportFigures``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Final

from ledger_store.decimals import explicit_context
from ledger_store.dto import Frozen, value_of
from snapshots.report.figures import EXACT
from snapshots.report.performance import Performance, day_end, ratio
from snapshots.schema import AccountSnapshotV12, AnySnapshot

_ZERO: Final = Decimal(0)


class ExposurePoint(Frozen):
    """The account's lots at one daily close, at cost (see the module docstring); ``leverage``
    and ``net_share`` (net / equity) are ``None`` when the close's equity is not positive."""

    #: The close's day and the moment it is valued at: the end of that UTC day.
    day: date
    at: datetime
    equity: Decimal
    long_cost: Decimal
    short_cost: Decimal
    gross: Decimal
    net: Decimal
    leverage: Decimal | None
    net_share: Decimal | None


@explicit_context
def exposure_series(snapshot: AnySnapshot, period: Performance) -> tuple[ExposurePoint, ...]:
    """The exposure at each close of ``period`` (its opening close included); none before
    snapshot 1.2, whose ledgers keep no round trips."""
    if not isinstance(snapshot, AccountSnapshotV12):
        return ()
    # A sweep over the slices' openings and closings: (time, is a closing, long, short cost).
    changes: list[tuple[datetime, bool, Decimal, Decimal]] = []
    for s in snapshot.internal_ledger.strategy_performance.values():
        for lot in s.open_lots:
            changes.append(
                (lot.opened_at, False, *_costs(lot.side, lot.symbol, lot.qty, lot.price))
            )
        for m in s.period_round_trips:
            costs = _costs(m.side, m.symbol, m.qty, m.open_price)
            changes.append((m.opened_at, False, *costs))
            changes.append((m.closed_at, True, EXACT.minus(costs[0]), EXACT.minus(costs[1])))
    changes.sort(key=lambda c: (c[0], c[1]))
    points: list[ExposurePoint] = []
    long_cost = short_cost = _ZERO
    applied = 0
    for day in period.days:
        # A daily close is valued at the end of its UTC day (as the returns are): a slice
        # counts when it opened by then and closed after.
        close = day_end(day.day)
        while applied < len(changes) and changes[applied][0] <= close:
            long_cost = EXACT.add(long_cost, changes[applied][2])
            short_cost = EXACT.add(short_cost, changes[applied][3])
            applied += 1
        gross = EXACT.add(long_cost, short_cost)
        net = EXACT.subtract(long_cost, short_cost)
        positive = day.equity > 0
        points.append(
            ExposurePoint(
                day=day.day,
                at=close,
                equity=day.equity,
                long_cost=long_cost,
                short_cost=short_cost,
                gross=gross,
                net=net,
                leverage=ratio(EXACT.divide(gross, day.equity)) if positive else None,
                net_share=ratio(EXACT.divide(net, day.equity)) if positive else None,
            )
        )
    return tuple(points)


def _costs(side: str, symbol: str, qty: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
    """(long cost, short cost) of a slice."""
    cost = value_of(symbol, qty, price)
    return (cost, _ZERO) if side == "long" else (_ZERO, cost)


__all__ = ["ExposurePoint", "exposure_series"]
