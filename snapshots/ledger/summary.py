"""The account ledger of a snapshot: fills and account events to an ``AccountLedgerV18``.

``summarize_account`` is pure: the account's attributions and events (any order, anything at
or after ``period_end`` ignored), the current prices of Alpaca's positions (for unrealised P&L),
the registry revisions and the account's event count in; an ``AccountView`` out: the ledger
the snapshot keeps plus the raw figures the integrity checks compare.

Given a ``LedgerBase`` (the ledger of an earlier snapshot whose ``period_end`` is at or before
``period_start``) it folds only what is dated from the base's ``period_end`` on, starting from
the base's open lots and cumulative figures. The result is the same ledger, byte for byte, as
folding the whole history: every cumulative figure is a sum (exact: fills' values need no
rounding at ``MONEY_PLACES``), the first and last trade times, the symbols a union, and the
open lots the FIFO queue itself (``run_lots`` keeps books in acquisition order).
``read_account`` decides whether a base may be used: only when the registry's and the event
counter's digests prove nothing dated before the base's ``period_end`` changed since.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal, NamedTuple

from pydantic import Field, ValidationError, model_validator

from ledger_store import keys
from ledger_store.decimals import ledger_arithmetic, normalize
from ledger_store.digests import DIGEST_MODULUS, DigestMemo, digest_sum, digest_text
from ledger_store.dto import (
    Frozen,
    Money,
    OrderId,
    Side,
    StrategyAttribution,
    StrategyRegistration,
    Symbol,
    UTCDateTime,
    describe_validation_error,
    quote_currency,
)
from ledger_store.errors import IntegrityError, LedgerValidationError
from ledger_store.events import (
    AccountEventRepository,
    AssetFee,
    CashFlow,
    CashInLieu,
    Dividend,
    Event,
    Merger,
    OptionExercise,
    OptionExpiry,
    RecordedEvent,
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
    marked_pnl,
    market_price,
    run_lots,
)
from snapshots.ledger.metrics import LedgerFill, _period, group_by_order, period_totals
from snapshots.ledger.models import AccountLedgerV16, AccountLedgerV18, StrategyLedgerV13
from snapshots.ledger.quotes import Leg, is_quote_leg, leg_value, usd_legs

_log = logging.getLogger(__name__)

#: The reason of a full read when there is no earlier snapshot to start from.
NO_BASE: Final = "no earlier snapshot to start from"

_ZERO: Final = Decimal(0)


class AccountView(Frozen):
    """The internal ledger of a period and the raw figures the integrity checks compare.

    * ``period_fills``: the period's fills by order id (sorted by order id).
    * ``net_positions``: for every symbol the account traded or holds lots in before
      ``period_end``, its open quantity over all strategies after corporate actions (shorts
      negative, 0 when flat).
    * ``period_events``: the account's events of the period, by time.
    * ``voided_event_ids``: the ids of the period's events the ledger holds voided (sorted): an
      Alpaca activity of the period under such an id was deliberately taken out, not forgotten.
    """

    account_id: str
    period_start: UTCDateTime
    period_end: UTCDateTime
    internal_ledger: AccountLedgerV18
    period_fills: dict[OrderId, LedgerFill]
    net_positions: dict[Symbol, Money]
    period_events: tuple[Event, ...] = ()
    voided_event_ids: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _matches_totals(self) -> AccountView:
        if len(self.period_fills) != self.internal_ledger.total_trades:
            raise ValueError("period_fills must be the internal ledger's trades")
        return self


class LedgerBase(Frozen):
    """The ledger of a stored, verified snapshot, to carry forward from its ``period_end``."""

    snapshot_id: str
    period_end: UTCDateTime
    ledger: AccountLedgerV16


class LedgerRead(Frozen):
    """How ``read_account`` built the ledger: from the whole history or from a base snapshot.

    ``reason`` says why the path was taken (why a base could not be used, or which one was);
    ``attributions_read`` and ``events_read`` count the entries read from the table.
    """

    path: Literal["full", "incremental"]
    reason: str
    base_snapshot_id: str | None = None
    attributions_read: int = Field(ge=0)
    events_read: int = Field(ge=0)


class AccountRead(Frozen):
    """The ledger ``read_account`` built and how it read it."""

    view: AccountView
    read: LedgerRead


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (as it was, after it): a full read
    makes ~10^5 objects that all live on, and each generation-2 pass walked them all again,
    a third of the read's CPU. The read makes no reference cycles to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@ledger_arithmetic
@_collector_paused()
def read_account(
    ledger: TradeLedgerRepository,
    events: AccountEventRepository,
    account_id: str,
    period_start: datetime,
    period_end: datetime,
    *,
    prices: Mapping[str, Decimal],
    ledger_id: str | None = None,
    base: LedgerBase | None = None,
    why_no_base: str = NO_BASE,
) -> AccountRead:
    """Read the account's attributions (GSI3) and events and fold them into its ledger.

    ``why_no_base`` is the reason reported for a full read when the caller has no base.

    Without ``base`` (or when it cannot be used) everything dated before ``period_end`` is
    read. With one, only what is dated from the base's ``period_end`` on: the registry's and
    the event counter's digests, less those of the entries read, must equal the base's
    digests, or something dated before it changed (a late or voided fill, an amendment, a
    back-dated or voided event) and the whole history is read instead, the reason logged.

    Reads: the registry (one Query: strategies, revisions, digests), each strategy's
    attributions (one paginated Query each), the account's events (one paginated Query;
    voided ones are left out of the figures) and its event counter (one GetItem).
    """
    start, end = _period(period_start, period_end)
    keys.validate_key_part(account_id, "account_id")
    ledger_name = ledger_id or ledger.settings.table_name
    registrations = ledger.strategies(account_id)
    totals = events.event_totals(account_id)
    reason = why_no_base
    if base is not None:
        reason = _base_unusable(base, start, ledger_name, registrations, totals.events_digest)
    since = None if reason else base.period_end if base is not None else None
    until = None if since is not None else end
    attributions: list[StrategyAttribution] = []
    by_strategy: dict[str, int] = {}
    memo = DigestMemo()
    names = [registration.strategy for registration in registrations]
    for name, entries in zip(
        names, _strategies_entries(ledger, account_id, names, since, until, memo), strict=True
    ):
        by_strategy[name] = memo.sum(entries)  # remembered: summed by the reader thread
        attributions.extend(entries)
    history = list(events.history(account_id, since, until))
    active = [r.event for r in history if r.status == "active"]
    if base is not None and since is not None:
        reason = _digests_differ(base, registrations, by_strategy, totals.events_digest, active)
        if reason:
            # Something dated before the base changed: read the rest of the history too.
            older = _read_before(ledger, events, account_id, registrations, since)
            attributions.extend(older[0])
            history = [*older[1], *history]
            active = [r.event for r in history if r.status == "active"]
    usable = base if base is not None and not reason else None
    if usable is None:
        _log.info("ledger of %s through %s: full read: %s", account_id, end.isoformat(), reason)
    view = summarize_account(
        attributions,
        active,
        account_id=account_id,
        period_start=start,
        period_end=end,
        ledger_id=ledger_name,
        prices=prices,
        revisions={r.strategy: r.revision for r in registrations},
        event_count=totals.event_count,
        voided_event_ids=[
            r.event.event_id
            for r in history
            if r.status == "voided" and start <= r.event.effective_at < end
        ],
        base=usable,
        digests=memo,
    )
    read = LedgerRead(
        path="incremental" if usable is not None else "full",
        reason=f"carried forward from snapshot {usable.snapshot_id}" if usable else reason,
        base_snapshot_id=usable.snapshot_id if usable else None,
        attributions_read=len(attributions),
        events_read=len(history),
    )
    return AccountRead(view=view, read=read)


def _base_unusable(
    base: LedgerBase,
    start: datetime,
    ledger_id: str,
    registrations: Sequence[StrategyRegistration],
    events_digest: int | None,
) -> str:
    """Why ``base`` cannot be carried forward whatever the entries say; ``""`` if it may be."""
    if base.period_end > start:
        return f"snapshot {base.snapshot_id} ends after the period starts"
    if base.ledger.ledger_id != ledger_id:
        return f"snapshot {base.snapshot_id} is of ledger {base.ledger.ledger_id}"
    registered = {r.strategy: r for r in registrations}
    missing = sorted(set(base.ledger.strategy_performance) - set(registered))
    if missing:
        return f"strategies of snapshot {base.snapshot_id} are gone: {', '.join(missing)}"
    legacy = sorted(r.strategy for r in registrations if r.entries_digest is None)
    if legacy or events_digest is None:
        return "the registry has no digests (rows written before they were kept)"
    return ""


def _digests_differ(
    base: LedgerBase,
    registrations: Sequence[StrategyRegistration],
    read: Mapping[str, int],
    events_digest: int | None,
    active: Sequence[Event],
) -> str:
    """``""`` when the entries dated before the base are what the base folded, else why not."""
    changed = []
    for registration in registrations:
        name = registration.strategy
        before = (registration.entries_digest or 0) - read[name]
        carried = base.ledger.strategy_performance.get(name)
        expected = int(carried.entries_digest, 16) if carried is not None else 0
        if before % DIGEST_MODULUS != expected:
            changed.append(name)
    if changed:
        return (
            f"fills dated before {base.period_end.isoformat()} changed since snapshot "
            f"{base.snapshot_id} (strategies {', '.join(changed)})"
        )
    before = (events_digest or 0) - digest_sum(active)
    if before % DIGEST_MODULUS != int(base.ledger.events_digest, 16):
        return (
            f"account events dated before {base.period_end.isoformat()} changed since "
            f"snapshot {base.snapshot_id}"
        )
    return ""


def _read_before(
    ledger: TradeLedgerRepository,
    events: AccountEventRepository,
    account_id: str,
    registrations: Sequence[StrategyRegistration],
    until: datetime,
) -> tuple[list[StrategyAttribution], list[RecordedEvent]]:
    older: list[StrategyAttribution] = []
    names = [registration.strategy for registration in registrations]
    for entries in _strategies_entries(ledger, account_id, names, None, until, None):
        older.extend(entries)
    return older, list(events.history(account_id, None, until))


#: Strategies read at once: each is one paginated Query, so while one page is parsed (CPU)
#: another is on its way (the engine's time and the network's).
READ_THREADS: Final = 6


def _strategies_entries(
    ledger: TradeLedgerRepository,
    account_id: str,
    names: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    memo: DigestMemo | None,
) -> list[list[StrategyAttribution]]:
    """Each strategy's attributions (``_strategy_entries``), the strategies read concurrently;
    in the order of ``names``. With ``memo`` each reader also digests what it read (CPU work
    done while other reads wait for DynamoDB)."""
    if len(names) <= 1:
        return [_strategy_entries(ledger, account_id, name, since, until, memo) for name in names]
    with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(names))) as pool:
        # Each read runs in a copy of this thread's context: its decimal context (the ledger's
        # arithmetic, not the worker's default) and the bound table settings go with it.
        reads = [
            pool.submit(
                contextvars.copy_context().run,
                _strategy_entries,
                ledger,
                account_id,
                name,
                since,
                until,
                memo,
            )
            for name in names
        ]
        return [read.result() for read in reads]


def _strategy_entries(
    ledger: TradeLedgerRepository,
    account_id: str,
    strategy: str,
    since: datetime | None,
    until: datetime | None,
    memo: DigestMemo | None = None,
) -> list[StrategyAttribution]:
    """The strategy's attributions in ``[since, until)``, each checked to be of this account
    and strategy (GSI3 returning another's would corrupt the ledger silently); digested into
    ``memo`` if given."""
    entries = list(ledger.attributions_by_strategy(account_id, strategy, since, until))
    for attribution in entries:
        if (attribution.account_id, attribution.strategy) != (account_id, strategy):
            raise IntegrityError(
                f"GSI3 of account {account_id}, strategy {strategy} returned order "
                f"{attribution.order_id} of account {attribution.account_id}, "
                f"strategy {attribution.strategy}"
            )
    if memo is not None:
        memo.sum(entries)
    return entries


@ledger_arithmetic
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
    base: LedgerBase | None = None,
    digests: DigestMemo | None = None,
) -> AccountView:
    """Fold the account's fills and events up to ``period_end`` (see the module docstring).

    With ``base``, entries dated before its ``period_end`` are taken as folded into it and
    left out. Raises ``IntegrityError`` for attributions or events of another account or
    attributions that contradict each other, ``LedgerValidationError`` for a bad period or a
    base that ends after ``period_start``.
    """
    start, end = _period(period_start, period_end)
    memo = digests if digests is not None else DigestMemo()
    since = base.period_end if base is not None else None
    if since is not None and since > start:
        raise LedgerValidationError(
            f"the base snapshot ends at {since.isoformat()}, after period_start {start.isoformat()}"
        )

    def in_range(at: datetime) -> bool:
        return at < end and (since is None or at >= since)

    cumulative = sorted((a for a in attributions if in_range(a.filled_at)), key=fifo_order)
    timeline = sorted(
        (e for e in events if in_range(e.effective_at)), key=lambda e: (e.effective_at, e.event_id)
    )
    foreign = [a.order_id for a in cumulative if a.account_id != account_id]
    foreign += [e.event_id for e in timeline if e.account_id != account_id]
    if foreign:
        raise IntegrityError(
            f"entries of other accounts in the ledger of {account_id}: {', '.join(foreign)}"
        )
    symbols, _, in_period_fills = group_by_order(cumulative, start, end)
    carried = base.ledger.strategy_performance if base is not None else {}
    opening = [lot for p in carried.values() for lot in p.open_lots]
    legs = usd_legs(cumulative)
    try:
        ledger = run_lots(legs, timeline, opening=opening)
    except LedgerValidationError as exc:
        raise IntegrityError(f"ledger of account {account_id}: {exc}") from exc

    def in_period(at: datetime) -> bool:
        return start <= at < end

    by_strategy: dict[str, list[StrategyAttribution]] = defaultdict(list)
    for a in cumulative:
        by_strategy[a.strategy].append(a)
    legs_of: dict[str, list[Leg]] = defaultdict(list)
    for leg in legs:
        legs_of[leg.strategy].append(leg)
    of_strategy = _by_strategy(ledger)
    performance = {
        name: _strategy(
            name,
            by_strategy.get(name, []),
            legs_of.get(name, []),
            of_strategy.get(name, _NOTHING),
            in_period,
            prices,
            revisions.get(name, 0),
            carried.get(name),
            memo,
        )
        for name in sorted(set(by_strategy) | set(carried))
    }

    period_fills = dict(sorted(in_period_fills.items()))
    period_events = tuple(e for e in timeline if in_period(e.effective_at))
    totals = period_totals(period_fills.values())
    with exact_arithmetic():
        cash_flows = [e for e in period_events if isinstance(e, CashFlow)]
        traded = {s for p in carried.values() for s in p.symbols_traded}
        books = {leg.symbol for leg in legs}  # a crossed pair's coins too
        net: dict[str, Decimal] = dict.fromkeys(sorted(traded.union(symbols, books)), _ZERO)
        for lot in ledger.lots:
            net[lot.symbol] = net.get(lot.symbol, _ZERO) + (
                lot.qty if lot.side == "long" else -lot.qty
            )
        deposits = ledger.net_deposits()
        events_digest = memo.sum(timeline)
        if base is not None:
            deposits = normalize(deposits + base.ledger.net_deposits_cumulative)
            events_digest += int(base.ledger.events_digest, 16)
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
                "net_deposits_cumulative": deposits,
                "corporate_actions": [
                    e for e in period_events if isinstance(e, Split | SymbolChange | Merger)
                ],
                "dividends": [e for e in period_events if isinstance(e, Dividend)],
                "unattributed_dividends": [
                    d for d in ledger.unattributed_dividends if in_period(d.effective_at)
                ],
                "asset_fees": [e for e in period_events if isinstance(e, AssetFee)],
                "cash_in_lieu": [e for e in period_events if isinstance(e, CashInLieu)],
                "option_expiries": [e for e in period_events if isinstance(e, OptionExpiry)],
                "option_exercises": [e for e in period_events if isinstance(e, OptionExercise)],
                "asset_fee_shares": [
                    s for s in ledger.asset_fee_shares if in_period(s.effective_at)
                ],
                "unattributed_option_exercises": [
                    e for e in ledger.unattributed_exercises if in_period(e.effective_at)
                ],
                "unattributed_cash_in_lieu": [
                    e for e in ledger.unattributed_cash_in_lieu if in_period(e.effective_at)
                ],
                "unattributed_asset_fees": [
                    e for e in ledger.unattributed_asset_fees if in_period(e.effective_at)
                ],
                "event_count": event_count,
                "events_digest": digest_text(events_digest),
                "quoted_fills": _quoted(period_fills.values()),
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


class _StrategyLots(NamedTuple):
    """What the lot ledger found for one strategy, each in the ledger's order."""

    matches: list[Match]
    capital: list[CapitalRealization]
    dividends: list[DividendShare]
    lots: list[Lot]


_NOTHING: Final = _StrategyLots([], [], [], [])


def _by_strategy(ledger: LotLedger) -> dict[str, _StrategyLots]:
    """The lot ledger's matches, capital realizations, dividend shares and lots by strategy
    (one pass over each, not one per strategy)."""
    found: dict[str, _StrategyLots] = defaultdict(lambda: _StrategyLots([], [], [], []))
    for match in ledger.matches:
        found[match.strategy].matches.append(match)
    for realization in ledger.capital_realizations:
        found[realization.strategy].capital.append(realization)
    for share in ledger.dividends:
        found[share.strategy].dividends.append(share)
    for lot in ledger.lots:
        found[lot.strategy].lots.append(lot)
    return found


def _strategy(
    name: str,
    attributions: Sequence[StrategyAttribution],
    fills: Sequence[Leg],
    found: _StrategyLots,
    in_period: Any,
    prices: Mapping[str, Decimal],
    revision: int,
    carried: StrategyLedgerV13 | None,
    memo: DigestMemo,
) -> dict[str, Any]:
    """The strategy's ``StrategyLedgerV13`` fields; ``carried`` its figures at the base's end."""
    matches, capital, dividends, lots = found
    period_matches = [m for m in matches if in_period(m.closed_at)]
    cumulative = _figures(fills, matches, capital, dividends)
    digest = memo.sum(attributions)
    if carried is not None:
        cumulative = _carry(carried, cumulative)
        digest += int(carried.entries_digest, 16)
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
        "entries_digest": digest_text(digest),
    }


#: The cumulative figures that are sums over entries (the rest: a union and two times).
_SUMS: Final = (
    "total_trades",
    "buy_trades",
    "sell_trades",
    "total_buy_value",
    "total_sell_value",
    "net_cash_flow",
    "realized_pnl",
    "dividends",
    "fees",
    "net_realized_pnl",
    "round_trips",
)


def _carry(carried: StrategyLedgerV13, delta: dict[str, Any]) -> dict[str, Any]:
    """Cumulative figures at the base's end plus those of what came after: the same as
    ``_figures`` of everything, since each is a sum, a union, the first or the last."""
    with exact_arithmetic():
        sums = {
            field: (
                getattr(carried, field) + delta[field]
                if isinstance(delta[field], int)
                else normalize(getattr(carried, field) + delta[field])
            )
            for field in _SUMS
        }
    return {
        **sums,
        "symbols_traded": sorted({*carried.symbols_traded, *delta["symbols_traded"]}),
        "first_trade_at": carried.first_trade_at or delta["first_trade_at"],
        "last_trade_at": delta["last_trade_at"] or carried.last_trade_at,
    }


def _figures(
    fills: Sequence[Leg],
    matches: Sequence[Match],
    capital: Sequence[CapitalRealization],
    dividends: Sequence[DividendShare],
) -> dict[str, Any]:
    """``LedgerFigures`` of the USD legs of fills in ``fifo_order`` and of what the lots did
    with them: values and fees of every leg, trades counted once per fill (its base leg)."""
    buys = [f for f in fills if f.side is Side.BUY]
    sells = [f for f in fills if f.side is Side.SELL]
    bought = sum(1 for f in buys if not is_quote_leg(f))
    sold = sum(1 for f in sells if not is_quote_leg(f))
    with exact_arithmetic():
        buy_value = money(sum(map(leg_value, buys), _ZERO))
        sell_value = money(sum(map(leg_value, sells), _ZERO))
        realized = sum((m.realized_pnl for m in matches), _ZERO) + sum(
            (c.realized_pnl for c in capital), _ZERO
        )
        income = sum((d.amount for d in dividends), _ZERO)
        fees = sum((f.fees for f in fills), _ZERO)
        return {
            "total_trades": bought + sold,
            "buy_trades": bought,
            "sell_trades": sold,
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


def _quoted(fills: Iterable[LedgerFill]) -> list[dict[str, Any]]:
    """The period's fills of pairs quoted in another currency, with their USD values."""
    crossed = sorted(
        (f for f in fills if f.quote_usd_rate is not None), key=lambda f: (f.filled_at, f.order_id)
    )
    return [
        {
            "order_id": f.order_id,
            "symbol": f.symbol,
            "side": f.side,
            "qty": f.qty,
            "price": f.price,
            "fees": f.fees,
            "filled_at": f.filled_at,
            "quote_currency": quote_currency(f.symbol),
            "quote_usd_rate": f.quote_usd_rate,
            "quote_qty": f.quote_qty,
            "usd_value": f.usd_notional,
            "usd_fees": f.usd_fees,
        }
        for f in crossed
    ]


def _unrealized(lots: Sequence[Lot], prices: Mapping[str, Decimal]) -> Decimal | None:
    """Open lots marked at Alpaca's current prices; ``None`` if a symbol has no price."""
    total = _ZERO
    with exact_arithmetic():
        for lot in lots:
            price = market_price(prices, lot.symbol)
            if price is None:
                return None
            total += marked_pnl(lot, price)
    return total


__all__ = [
    "NO_BASE",
    "AccountRead",
    "AccountView",
    "LedgerBase",
    "LedgerRead",
    "read_account",
    "summarize_account",
]
