"""The ledger of ``snapshot_version`` 1.2: fills and account events to an ``AccountLedger``.

``summarize_account`` is pure: the account's attributions and events (any order, anything at
or after ``period_end`` ignored), the current prices of Alpaca's positions (for unrealised P&L),
the registry revisions and the account's event count in; an ``AccountView`` out: the
``AccountLedger`` the snapshot keeps plus the raw figures the integrity checks compare.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from operator import mul
from typing import Any, Final

from pydantic import ValidationError, model_validator

from ledger_store import keys
from ledger_store.dto import (
    Frozen,
    Money,
    OrderId,
    Side,
    StrategyAttribution,
    Symbol,
    UTCDateTime,
    describe_validation_error,
)
from ledger_store.errors import IntegrityError, LedgerValidationError
from ledger_store.events import (
    AccountEventRepository,
    CashFlow,
    Dividend,
    Event,
    Merger,
    Split,
    SymbolChange,
)
from ledger_store.trades import TradeLedgerRepository
from snapshots.ledger.fifo import exact_arithmetic, fifo_order, money
from snapshots.ledger.lots import (
    CapitalRealization,
    DividendShare,
    Lot,
    LotLedger,
    Match,
    run_lots,
)
from snapshots.ledger.metrics import LedgerFill, _group_by_order, _period, period_totals
from snapshots.ledger.models import AccountLedger

_ZERO: Final = Decimal(0)


class AccountView(Frozen):
    """The 1.2 internal ledger of a period and the raw figures the integrity checks compare.

    * ``period_fills``: the period's fills by order id (sorted by order id).
    * ``net_positions``: for every symbol the account traded or holds lots in before
      ``period_end``, its open quantity over all strategies after corporate actions (shorts
      negative, 0 when flat).
    * ``period_events``: the account's events of the period, by time.
    * ``voided_event_ids``: the ids of the events the ledger holds voided (sorted): an Alpaca
      activity under such an id was deliberately taken out, not forgotten.
    """

    account_id: str
    period_start: UTCDateTime
    period_end: UTCDateTime
    internal_ledger: AccountLedger
    period_fills: dict[OrderId, LedgerFill]
    net_positions: dict[Symbol, Money]
    period_events: tuple[Event, ...] = ()
    voided_event_ids: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _matches_totals(self) -> AccountView:
        if len(self.period_fills) != self.internal_ledger.total_trades:
            raise ValueError("period_fills must be the internal ledger's trades")
        return self


def read_account(
    ledger: TradeLedgerRepository,
    events: AccountEventRepository,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    *,
    prices: Mapping[str, Decimal],
    ledger_id: str | None = None,
) -> AccountView:
    """Read the account's attributions (GSI3) and events through ``period_end`` and fold them.

    Reads: the registry (one Query: strategies and their revisions), each strategy's
    attributions (one paginated Query each), the account's events (one paginated Query; voided
    ones are left out of the figures) and its event count (one GetItem).
    """
    start, end = _period(period_start, period_end)
    keys.validate_key_part(account_id, "account_id")
    registrations = ledger.strategies(account_id)
    attributions: list[StrategyAttribution] = []
    for registration in registrations:
        name = registration.strategy
        for attribution in ledger.attributions_by_strategy(account_id, name, None, end):
            if (attribution.account_id, attribution.strategy) != (account_id, name):
                raise IntegrityError(
                    f"GSI3 of account {account_id}, strategy {name} returned order "
                    f"{attribution.order_id} of account {attribution.account_id}, "
                    f"strategy {attribution.strategy}"
                )
            attributions.append(attribution)
    history = list(events.history(account_id, None, end))
    return summarize_account(
        attributions,
        [r.event for r in history if r.status == "active"],
        account_id=account_id,
        period_start=start,
        period_end=end,
        ledger_id=ledger_id or ledger.settings.table_name,
        prices=prices,
        revisions={r.strategy: r.revision for r in registrations},
        event_count=events.event_count(account_id),
        voided_event_ids=[r.event.event_id for r in history if r.status == "voided"],
    )


def summarize_account(
    attributions: Iterable[StrategyAttribution],
    events: Iterable[Event],
    *,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    ledger_id: str,
    prices: Mapping[str, Decimal],
    revisions: Mapping[str, int],
    event_count: int,
    voided_event_ids: Iterable[str] = (),
) -> AccountView:
    """Fold the account's fills and events up to ``period_end`` (see the module docstring).

    Raises ``IntegrityError`` for attributions or events of another account or attributions
    that contradict each other, ``LedgerValidationError`` for a bad period.
    """
    start, end = _period(period_start, period_end)
    cumulative = sorted((a for a in attributions if a.filled_at < end), key=fifo_order)
    timeline = sorted(
        (e for e in events if e.effective_at < end), key=lambda e: (e.effective_at, e.event_id)
    )
    foreign = [a.order_id for a in cumulative if a.account_id != account_id]
    foreign += [e.event_id for e in timeline if e.account_id != account_id]
    if foreign:
        raise IntegrityError(
            f"entries of other accounts in the ledger of {account_id}: {', '.join(foreign)}"
        )
    symbols, _, in_period_fills = _group_by_order(cumulative, start, end)
    try:
        ledger = run_lots(cumulative, timeline)
    except LedgerValidationError as exc:
        raise IntegrityError(f"ledger of account {account_id}: {exc}") from exc

    def in_period(at: datetime) -> bool:
        return start <= at < end

    by_strategy: dict[str, list[StrategyAttribution]] = defaultdict(list)
    for a in cumulative:
        by_strategy[a.strategy].append(a)
    performance = {
        name: _strategy(name, fills, ledger, in_period, prices, revisions.get(name, 0))
        for name, fills in sorted(by_strategy.items())
    }

    period_fills = dict(sorted(in_period_fills.items()))
    period_events = tuple(e for e in timeline if in_period(e.effective_at))
    totals = period_totals(period_fills.values())
    with exact_arithmetic():
        cash_flows = [e for e in period_events if isinstance(e, CashFlow)]
        net: dict[str, Decimal] = dict.fromkeys(symbols, _ZERO)
        for lot in ledger.lots:
            net[lot.symbol] = net.get(lot.symbol, _ZERO) + (
                lot.qty if lot.side == "long" else -lot.qty
            )
        data = {
            "account_id": account_id,
            "period_start": start,
            "period_end": end,
            "internal_ledger": {
                "ledger_id": ledger_id,
                "total_trades": len(period_fills),
                **totals,
                "strategies_active": sorted(
                    name for name, p in performance.items() if p["period"]["total_trades"]
                ),
                "strategy_performance": performance,
                "cash_flows": cash_flows,
                "net_deposits": sum((c.amount for c in cash_flows), _ZERO),
                "net_deposits_cumulative": ledger.net_deposits(),
                "corporate_actions": [
                    e for e in period_events if isinstance(e, Split | SymbolChange | Merger)
                ],
                "dividends": [e for e in period_events if isinstance(e, Dividend)],
                "unattributed_dividends": [
                    d for d in ledger.unattributed_dividends if in_period(d.effective_at)
                ],
                "event_count": event_count,
            },
            "period_fills": period_fills,
            "net_positions": dict(sorted(net.items())),
            "period_events": period_events,
            "voided_event_ids": tuple(sorted(set(voided_event_ids))),
        }
    try:
        return AccountView.model_validate(data)
    except ValidationError as exc:
        raise IntegrityError(
            f"ledger of account {account_id} is inconsistent: {describe_validation_error(exc)}"
        ) from exc


def _strategy(
    name: str,
    fills: Sequence[StrategyAttribution],
    ledger: LotLedger,
    in_period: Any,
    prices: Mapping[str, Decimal],
    revision: int,
) -> dict[str, Any]:
    matches = [m for m in ledger.matches if m.strategy == name]
    capital = [c for c in ledger.capital_realizations if c.strategy == name]
    dividends = [d for d in ledger.dividends if d.strategy == name]
    lots = [lot for lot in ledger.lots if lot.strategy == name]
    period_matches = [m for m in matches if in_period(m.closed_at)]
    cumulative = _figures(fills, matches, capital, dividends)
    unrealized = _unrealized(lots, prices)
    with exact_arithmetic():
        total = None if unrealized is None else cumulative["net_realized_pnl"] + unrealized
    return {
        **cumulative,
        "open_lots": lots,
        "unrealized_pnl": unrealized,
        "total_pnl": total,
        "period": _figures(
            [f for f in fills if in_period(f.filled_at)],
            period_matches,
            [c for c in capital if in_period(c.effective_at)],
            [d for d in dividends if in_period(d.effective_at)],
        ),
        "period_round_trips": period_matches,
        "revision": revision,
    }


def _figures(
    fills: Sequence[StrategyAttribution],
    matches: Sequence[Match],
    capital: Sequence[CapitalRealization],
    dividends: Sequence[DividendShare],
) -> dict[str, Any]:
    """``LedgerFigures`` of fills in ``fifo_order`` and of what the lots did with them."""
    buys = [f for f in fills if f.side is Side.BUY]
    sells = [f for f in fills if f.side is Side.SELL]
    with exact_arithmetic():
        buy_value = money(sum(map(mul, (f.qty for f in buys), (f.price for f in buys)), _ZERO))
        sell_value = money(sum(map(mul, (f.qty for f in sells), (f.price for f in sells)), _ZERO))
        realized = sum((m.realized_pnl for m in matches), _ZERO) + sum(
            (c.realized_pnl for c in capital), _ZERO
        )
        income = sum((d.amount for d in dividends), _ZERO)
        fees = sum((f.fees for f in fills), _ZERO)
        return {
            "total_trades": len(fills),
            "buy_trades": len(buys),
            "sell_trades": len(sells),
            "total_buy_value": buy_value,
            "total_sell_value": sell_value,
            "net_cash_flow": sell_value - buy_value,
            "realized_pnl": realized,
            "dividends": income,
            "fees": fees,
            "net_realized_pnl": realized + income - fees,
            "round_trips": len(matches),
            "symbols_traded": sorted({f.symbol for f in fills}),
            "first_trade_at": fills[0].filled_at if fills else None,
            "last_trade_at": fills[-1].filled_at if fills else None,
        }


def _unrealized(lots: Sequence[Lot], prices: Mapping[str, Decimal]) -> Decimal | None:
    """Open lots marked at Alpaca's current prices; ``None`` if a symbol has no price."""
    total = _ZERO
    with exact_arithmetic():
        for lot in lots:
            # Alpaca names a crypto position without the pair's slash (BTC/USD: BTCUSD).
            price = prices.get(lot.symbol, prices.get(lot.symbol.replace("/", "")))
            if price is None:
                return None
            gain = price - lot.price if lot.side == "long" else lot.price - price
            total += money(lot.qty * gain)
    return total


__all__ = ["AccountView", "read_account", "summarize_account"]
