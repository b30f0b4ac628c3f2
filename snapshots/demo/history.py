"""Deterministic, realistic multi-strategy trading histories, and a fast way to store them.

One module for everything that needs a ledger without a trading bot: the demo
(``generate_history``), the benchmark (``synthetic_history`` of any size), the tests and the
fixture scripts. Same arguments, same fills, byte for byte: prices follow a seeded random walk,
each symbol is traded by a fixed strategy mix, sells only reduce what is held, and sells pay
Alpaca-style regulatory fees (``snapshots.fake_alpaca.broker.regulatory_fees``).
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from ledger_store.binding import bound
from ledger_store.config import TableSettings
from ledger_store.digests import entry_digest
from ledger_store.dto import OrderType, Side, TradeFill
from ledger_store.events import CashFlow, Dividend, Event, OptionExercise, OptionExpiry, Split
from ledger_store.models import StrategyRegistryItem
from ledger_store.trades import fill_items
from snapshots.fake_alpaca.broker import CRYPTO_FEE_RATE, TradingCycle, regulatory_fees
from snapshots.fake_alpaca.shapes import CENT

DEMO_ACCOUNT_ID = "6f1c3b1e-6d3a-4c59-9f0e-3f6a2b8d9c10"
_NAMESPACE = uuid.UUID("0d7e7a4c-3b61-4b0c-9a55-4f2d1d5e8a21")
_SYNTHETIC_NAMESPACE = uuid.UUID("5b7f3c2e-8a41-4c0d-9d1e-2f6a7b8c9d10")
_SESSION_SECONDS = 23_400  # 14:30-21:00 UTC

#: symbol -> (starting price, daily volatility, strategy allocation)
Universe = Mapping[str, tuple[str, str, Mapping[str, str]]]

#: The demo's eight symbols and four strategies.
UNIVERSE: Universe = {
    "AAPL": ("226.40", "0.014", {"momentum": "0.6", "trend_following": "0.4"}),
    "MSFT": ("415.10", "0.012", {"momentum": "1"}),
    "NVDA": ("118.25", "0.028", {"momentum": "0.5", "mean_reversion": "0.5"}),
    "SPY": ("560.30", "0.008", {"trend_following": "1"}),
    "QQQ": ("482.70", "0.011", {"trend_following": "0.7", "mean_reversion": "0.3"}),
    "TLT": ("97.80", "0.007", {"dividend_carry": "1"}),
    "XLE": ("89.60", "0.013", {"dividend_carry": "0.5", "mean_reversion": "0.5"}),
    "GLD": ("231.90", "0.009", {"dividend_carry": "0.25", "trend_following": "0.75"}),
}

#: The demo's universe plus four symbols and two more strategies (six in all).
WIDE_UNIVERSE: Universe = {
    **UNIVERSE,
    "AMZN": ("185.20", "0.016", {"momentum": "0.4", "breakout": "0.6"}),
    "META": ("505.75", "0.018", {"breakout": "1"}),
    "JPM": ("198.40", "0.010", {"value": "0.5", "dividend_carry": "0.5"}),
    "XOM": ("112.30", "0.012", {"value": "1"}),
}

_BUY_SIZES = (5, 10, 15, 20, 25, 40)


def trading_days(first: date, count: int) -> list[date]:
    """``count`` weekdays starting with ``first`` (inclusive), oldest first."""
    days: list[date] = []
    current = first
    while len(days) < count:
        if current.weekday() < 5:
            days.append(current)
        current += timedelta(days=1)
    return days


def trading_days_ending(last: date, count: int) -> list[date]:
    """``count`` weekdays ending with ``last`` (inclusive), oldest first."""
    days: list[date] = []
    current = last
    while len(days) < count:
        if current.weekday() < 5:
            days.append(current)
        current -= timedelta(days=1)
    return days[::-1]


def all_fills(cycles: Sequence[TradingCycle]) -> list[TradeFill]:
    return [fill for cycle in cycles for fill in cycle.fills]


def _step(rng: random.Random, price: Decimal, volatility: str) -> Decimal:
    """One day of the seeded random walk, to the cent."""
    shock = Decimal(str(round(rng.gauss(0.0002, float(volatility)), 6)))
    return (price * (1 + shock)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def _buy_size(rng: random.Random) -> Decimal:
    return Decimal(rng.choice(_BUY_SIZES))


def _partial_close(rng: random.Random, held: Decimal) -> Decimal:
    """A third to all of what is held, at least one share."""
    fraction = Decimal(rng.choice([1, 2, 3])) / 3
    return max(Decimal(1), (held * fraction).to_integral_value())


def _order_type(rng: random.Random) -> OrderType:
    return OrderType.MARKET if rng.random() < 0.7 else OrderType.LIMIT


def _cycle(day: date, fills: Sequence[TradeFill]) -> TradingCycle:
    return TradingCycle(
        correlation_id=f"cycle-{day.isoformat()}",
        start=datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC),
        end=datetime(day.year, day.month, day.day, 21, 0, tzinfo=UTC),
        fills=tuple(fills),
    )


def generate_history(
    *,
    seed: int = 7,
    first_day: date = date(2026, 8, 3),
    days: int = 60,
    account_id: str = DEMO_ACCOUNT_ID,
) -> list[TradingCycle]:
    """A long-only history: one cycle per trading day, each symbol traded at most once a day."""
    return _generate(seed, first_day, days, account_id, scripted=False).cycles


@dataclass(frozen=True)
class DemoHistory:
    """The demo's trading cycles and the account events among them (by time)."""

    cycles: list[TradingCycle]
    events: list[Event]

    def events_until(self, end: datetime) -> list[Event]:
        """The events that took effect before ``end`` (what the broker shows at ``end``)."""
        return [e for e in self.events if e.effective_at < end]


#: The demo's scripted account events and the short; per-share dividend of TLT.
DEPOSIT = Decimal(25_000)
SPLIT_SYMBOL, SPLIT_RATIO = "NVDA", 10
DIVIDEND_SYMBOL, DIVIDEND_PER_SHARE = "TLT", Decimal("0.31")
SHORT_SYMBOL, SHORT_BEYOND, SHORT_COVER = "MSFT", Decimal(20), Decimal(8)
#: The options strategy: 100 KO bought with a call written against them (assigned), a put
#: written (expires worthless) and SPY puts bought as a hedge (still open); the crypto
#: strategy buys BTC (Alpaca takes its fee in the coin), sells part of it, and spends some of
#: the rest on ETH (ETH/BTC, quoted in BTC: valued at BTC's USD price of the moment).
OPTIONS_STRATEGY, CRYPTO_STRATEGY = "options_income", "crypto"
COVERED, COVERED_PRICE = "KO", Decimal("61.2")
CALL_STRIKE, CALL_PREMIUM = Decimal(62), Decimal("0.85")
PUT_STRIKE, PUT_PREMIUM = Decimal(58), Decimal("0.6")
HEDGE_PREMIUM = Decimal("3.1")
COIN, COIN_BOUGHT, COIN_SOLD = "BTC/USD", Decimal("0.5"), Decimal("0.2")
COIN_PRICES = (Decimal("62150"), Decimal("63480.5"))
CROSSED, CROSSED_QTY, CROSSED_PRICE = "ETH/BTC", Decimal("1.5"), Decimal("0.0405")


def demo_history(
    *,
    seed: int = 7,
    first_day: date = date(2026, 8, 3),
    days: int = 60,
    account_id: str = DEMO_ACCOUNT_ID,
) -> DemoHistory:
    """``generate_history`` plus what a real account sees, so the report shows it.

    In the month of the last trading day (or the first days of the history, if it starts later
    in that month): a deposit of ``DEPOSIT`` before the open of its first trading day, a
    ``SPLIT_RATIO``-for-1 split of ``SPLIT_SYMBOL`` before the open of the second, and a
    dividend of ``DIVIDEND_PER_SHARE`` on every share of ``DIVIDEND_SYMBOL`` held at noon of
    the third (before its open). ``SHORT_SYMBOL`` (one strategy) sells ``SHORT_BEYOND`` shares
    more than it holds on the third-last day and buys ``SHORT_COVER`` back on the last: a short
    covered in part, the rest still open. Quantities and prices after the split are in new
    shares, as Alpaca reports them. ``OPTIONS_STRATEGY`` and ``CRYPTO_STRATEGY`` trade on the
    month's first days (``_derivatives_of_the_day``): a covered call assigned, a written put
    expired, a hedge left open, a coin bought, partly sold and partly spent on another coin.
    """
    return _generate(seed, first_day, days, account_id, scripted=True)


def _generate(
    seed: int, first_day: date, days: int, account_id: str, *, scripted: bool
) -> DemoHistory:
    rng = random.Random(seed)
    prices = {symbol: Decimal(spec[0]) for symbol, spec in UNIVERSE.items()}
    held = dict.fromkeys(UNIVERSE, Decimal(0))
    scale = dict.fromkeys(UNIVERSE, 1)
    calendar = trading_days(first_day, days)
    last = calendar[-1]
    month = [d for d in calendar if (d.year, d.month) == (last.year, last.month)]
    event_days = [month[min(i, len(month) - 1)] for i in range(3)]
    short_days = (calendar[max(len(calendar) - 3, 0)], last)
    events: list[Event] = []
    cycles: list[TradingCycle] = []
    sequence = 0
    for index, day in enumerate(calendar):
        opened = datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC)
        if scripted:
            events.extend(_events_of_the_day(day, event_days, held, prices, scale, account_id))
            events.extend(_option_events(day, month, account_id))
        # No full close the day before an event on the symbol: the event needs a holder.
        protected = {
            symbol
            for symbol, event_day in (
                (SPLIT_SYMBOL, event_days[1]),
                (DIVIDEND_SYMBOL, event_days[2]),
            )
            if scripted and index + 1 < len(calendar) and calendar[index + 1] == event_day
        }
        fills: list[TradeFill] = []
        for symbol, (_, vol, allocation) in UNIVERSE.items():
            prices[symbol] = _step(rng, prices[symbol], vol)
            roll = rng.random()
            if scripted and symbol == SHORT_SYMBOL and day in short_days:
                if day == short_days[0]:
                    side, qty = Side.SELL, max(held[symbol], Decimal(0)) + SHORT_BEYOND
                else:
                    side, qty = Side.BUY, min(SHORT_COVER, -held[symbol])
                if qty <= 0:
                    continue
            elif scripted and held[symbol] < 0:
                continue  # the open short waits for its scripted cover
            elif roll < 0.35 or held[symbol] == 0:
                side, qty = Side.BUY, _buy_size(rng) * scale[symbol]
            elif roll < 0.6:
                side, qty = Side.SELL, _partial_close(rng, held[symbol])
                if symbol in protected:
                    qty = min(qty, held[symbol] - 1)
                    if qty <= 0:
                        continue
            else:
                continue
            held[symbol] += qty if side is Side.BUY else -qty
            sequence += 1
            price = prices[symbol]
            fills.append(
                TradeFill(
                    order_id=str(uuid.uuid5(_NAMESPACE, f"{seed}:{sequence}")),
                    account_id=account_id,
                    correlation_id=f"cycle-{day.isoformat()}",
                    symbol=symbol,
                    side=side,
                    qty=qty,
                    price=price,
                    filled_at=opened
                    + timedelta(minutes=sequence % 300, microseconds=sequence * 137),
                    order_type=_order_type(rng),
                    fees=regulatory_fees(side, qty, price),
                    strategy_allocation={k: Decimal(v) for k, v in allocation.items()},
                    bid_at_fill=price - CENT,
                    ask_at_fill=price + CENT,
                )
            )
        if scripted:
            fills += _derivatives_of_the_day(day, month, prices, last, seed, account_id)
        fills.sort(key=lambda f: (f.filled_at, f.order_id))
        cycles.append(_cycle(day, fills))
    return DemoHistory(
        cycles=cycles, events=sorted(events, key=lambda e: (e.effective_at, e.event_id))
    )


def _events_of_the_day(
    day: date,
    event_days: Sequence[date],
    held: dict[str, Decimal],
    prices: dict[str, Decimal],
    scale: dict[str, int],
    account_id: str,
) -> list[Event]:
    """The scripted events before ``day``'s open; a split reshapes ``held``/``prices``."""
    events: list[Event] = []
    stamp = day.strftime("%Y%m%d")

    def at(hour: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)

    if day == event_days[0]:
        events.append(
            CashFlow(
                event_id=f"{stamp}130000000::demo-deposit",
                account_id=account_id,
                effective_at=at(13),
                amount=DEPOSIT,
                source="CSD",
                description="ACH deposit",
            )
        )
    if day == event_days[1] and held[SPLIT_SYMBOL] > 0:
        events.append(
            Split(
                event_id=f"{stamp}080000000::demo-split",
                account_id=account_id,
                effective_at=at(8),
                symbol=SPLIT_SYMBOL,
                ratio_new=Decimal(SPLIT_RATIO),
                ratio_old=Decimal(1),
                description=f"{SPLIT_SYMBOL} {SPLIT_RATIO}-for-1 split",
            )
        )
        held[SPLIT_SYMBOL] *= SPLIT_RATIO
        prices[SPLIT_SYMBOL] = (prices[SPLIT_SYMBOL] / SPLIT_RATIO).quantize(CENT)
        scale[SPLIT_SYMBOL] = SPLIT_RATIO
    if day == event_days[2] and held[DIVIDEND_SYMBOL] > 0:
        events.append(
            Dividend(
                event_id=f"{stamp}120000000::demo-dividend",
                account_id=account_id,
                effective_at=at(12),
                symbol=DIVIDEND_SYMBOL,
                amount=held[DIVIDEND_SYMBOL] * DIVIDEND_PER_SHARE,
                per_share_amount=DIVIDEND_PER_SHARE,
                qty=held[DIVIDEND_SYMBOL],
                source="DIV",
                description=f"Cash dividend {DIVIDEND_SYMBOL}",
            )
        )
    return events


def _option_symbol(root: str, expiry: date, right: str, strike: Decimal) -> str:
    """The OCC symbol: root, YYMMDD, C/P, strike x 1000 in 8 digits."""
    return f"{root}{expiry:%y%m%d}{right}{int(strike * 1000):08d}"


def _option_days(month: Sequence[date]) -> tuple[date, date, date, date]:
    """The days the scripted options and crypto use: open, put expiry, coin sale, assignment
    (the month's first, third, fourth and fifth trading days, or its last when shorter)."""
    first, put_expiry, sale, call_expiry = (month[min(i, len(month) - 1)] for i in (0, 2, 3, 4))
    return first, put_expiry, sale, call_expiry


def _derivatives_of_the_day(
    day: date,
    month: Sequence[date],
    prices: Mapping[str, Decimal],
    last: date,
    seed: int,
    account_id: str,
) -> list[TradeFill]:
    """The options and crypto strategies' fills of ``day`` (see ``demo_history``)."""
    first, put_expiry, sale, call_expiry = _option_days(month)
    opened = datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC)
    orders: list[tuple[str, str, Side, Decimal, Decimal, Decimal]] = []
    rates: dict[int, Decimal] = {}  # by order number: USD per unit of a pair's quote coin
    if day == first:
        hedge_strike = (prices["SPY"] * Decimal("0.95")).quantize(Decimal(1))
        hedge = _option_symbol("SPY", last + timedelta(days=28), "P", hedge_strike)
        orders += [
            (OPTIONS_STRATEGY, COVERED, Side.BUY, Decimal(100), COVERED_PRICE, Decimal(0)),
            (
                OPTIONS_STRATEGY,
                _option_symbol(COVERED, call_expiry, "C", CALL_STRIKE),
                Side.SELL,
                Decimal(1),
                CALL_PREMIUM,
                Decimal(0),
            ),
            (
                OPTIONS_STRATEGY,
                _option_symbol(COVERED, put_expiry, "P", PUT_STRIKE),
                Side.SELL,
                Decimal(1),
                PUT_PREMIUM,
                Decimal(0),
            ),
            (OPTIONS_STRATEGY, hedge, Side.BUY, Decimal(2), HEDGE_PREMIUM, Decimal(0)),
            (CRYPTO_STRATEGY, COIN, Side.BUY, COIN_BOUGHT, COIN_PRICES[0], Decimal(0)),
        ]
    if day == sale:
        # Alpaca takes a crypto sell's fee in dollars: 0.25 % of the notional, to the cent.
        fee = (COIN_SOLD * COIN_PRICES[1] * CRYPTO_FEE_RATE).quantize(CENT, ROUND_HALF_UP)
        orders.append((CRYPTO_STRATEGY, COIN, Side.SELL, COIN_SOLD, COIN_PRICES[1], fee))
        # ETH bought with BTC; Alpaca takes its fee in the ETH (a coin fee, not the fill's).
        orders.append((CRYPTO_STRATEGY, CROSSED, Side.BUY, CROSSED_QTY, CROSSED_PRICE, Decimal(0)))
        rates[len(orders)] = COIN_PRICES[1]
    fills = []
    for n, (strategy, symbol, side, qty, price, fees) in enumerate(orders, 1):
        fills.append(
            TradeFill(
                order_id=str(uuid.uuid5(_NAMESPACE, f"{seed}:{day.isoformat()}:derivative:{n}")),
                account_id=account_id,
                correlation_id=f"cycle-{day.isoformat()}",
                symbol=symbol,
                side=side,
                qty=qty,
                price=price,
                filled_at=opened + timedelta(minutes=5 + n, microseconds=n * 211),
                order_type=OrderType.LIMIT,
                fees=fees,
                strategy_allocation={strategy: Decimal(1)},
                quote_usd_rate=rates.get(n),
            )
        )
    return fills


def _option_events(day: date, month: Sequence[date], account_id: str) -> list[Event]:
    """The written put expiring and the covered call assigned, after ``day``'s close."""
    _, put_expiry, _, call_expiry = _option_days(month)
    after_close = datetime(day.year, day.month, day.day, 21, 1, tzinfo=UTC)
    stamp = day.strftime("%Y%m%d")
    events: list[Event] = []
    if day == put_expiry:
        events.append(
            OptionExpiry(
                event_id=f"{stamp}170100000::demo-put-expiry",
                account_id=account_id,
                effective_at=after_close,
                symbol=_option_symbol(COVERED, put_expiry, "P", PUT_STRIKE),
                qty=Decimal(1),
                source="OPEXP",
                description="Option Expiry",
            )
        )
    if day == call_expiry:
        events.append(
            OptionExercise(
                event_id=f"{stamp}170200000::demo-call-assignment",
                account_id=account_id,
                effective_at=after_close + timedelta(minutes=1),
                symbol=_option_symbol(COVERED, call_expiry, "C", CALL_STRIKE),
                qty=Decimal(1),
                underlying=COVERED,
                shares=Decimal(-100),
                price=CALL_STRIKE,
                source="OPASN",
                description="Option Assignment",
            )
        )
    return events


def synthetic_account_id(label: str) -> str:
    """A stable UUID account id (Alpaca account ids are UUIDs)."""
    return str(uuid.uuid5(_SYNTHETIC_NAMESPACE, f"account:{label}"))


def synthetic_history(
    trades: int,
    *,
    fills_per_day: int,
    last_day: date,
    account_id: str,
    seed: int = 1,
    universe: Universe = WIDE_UNIVERSE,
) -> list[TradingCycle]:
    """``trades`` fills, ``fills_per_day`` per trading day ending on ``last_day``: one cycle a day.

    For ledgers of any size (benchmarks): symbols are drawn at random each fill, the last day is
    always full and the first day takes the remainder; otherwise the rules of
    ``generate_history`` (and never an oversell).
    """
    if trades < 1 or fills_per_day < 1:
        raise ValueError("trades and fills_per_day must be >= 1")
    days = trading_days_ending(last_day, math.ceil(trades / fills_per_day))
    counts = [fills_per_day] * len(days)
    counts[0] = trades - fills_per_day * (len(days) - 1)
    rng = random.Random(seed)
    symbols = sorted(universe)
    prices = {s: Decimal(universe[s][0]) for s in symbols}
    held = dict.fromkeys(symbols, Decimal(0))
    allocations = {s: {name: Decimal(w) for name, w in universe[s][2].items()} for s in symbols}
    sequence = 0
    cycles: list[TradingCycle] = []
    for day, count in zip(days, counts, strict=True):
        opened = datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC)
        for symbol in symbols:
            prices[symbol] = max(_step(rng, prices[symbol], universe[symbol][1]), Decimal(1))
        spacing_us = _SESSION_SECONDS * 1_000_000 // count
        fills: list[TradeFill] = []
        for index in range(count):
            symbol = rng.choice(symbols)
            if rng.random() < 0.45 or held[symbol] == 0:
                side, qty = Side.BUY, _buy_size(rng)
            else:
                side, qty = Side.SELL, _partial_close(rng, held[symbol])
            held[symbol] += qty if side is Side.BUY else -qty
            sequence += 1
            price = max(prices[symbol] + CENT * rng.randint(-20, 20), CENT)
            fills.append(
                TradeFill(
                    order_id=str(
                        uuid.uuid5(_SYNTHETIC_NAMESPACE, f"order:{seed}:{account_id}:{sequence}")
                    ),
                    account_id=account_id,
                    correlation_id=f"cycle-{day.isoformat()}",
                    symbol=symbol,
                    side=side,
                    qty=qty,
                    price=price,
                    filled_at=opened + timedelta(microseconds=index * spacing_us + sequence % 997),
                    order_type=_order_type(rng),
                    fees=regulatory_fees(side, qty, price),
                    strategy_allocation=allocations[symbol],
                    bid_at_fill=max(price - CENT, CENT),
                    ask_at_fill=price + CENT,
                )
            )
        cycles.append(_cycle(day, fills))
    return cycles


# Seeding ---------------------------------------------------------------------------------------

_BATCH_SIZE = 25


@dataclass(frozen=True)
class SeedReport:
    fills: int
    attributions: int
    items: int
    requests: int
    seconds: float


def seed_ledger(
    settings: TableSettings,
    fills: Sequence[TradeFill],
    *,
    registry: bool = True,
    threads: int = 1,
) -> SeedReport:
    """Store fills with parallel ``BatchWriteItem`` calls instead of one transaction each.

    For benchmarks and tests that need a large ledger fast. The items are exactly what
    ``TradeLedgerRepository.record`` writes (``ledger_store.trades.fill_items``), plus the
    strategy registry's counters unless ``registry`` is false. Not idempotent and not atomic:
    meant for a fresh table, never for a live ledger.
    """
    started = time.perf_counter()
    counts: Counter[tuple[str, str]] = Counter()
    digests: Counter[tuple[str, str]] = Counter()
    items: list[Mapping[str, Any]] = []
    with bound(settings):
        for fill in fills:
            items.extend(fill_items(fill))
            for attribution in fill.attributions():
                counts[(fill.account_id, attribution.strategy)] += 1
                digests[(fill.account_id, attribution.strategy)] += entry_digest(attribution)
        if registry:
            for (account_id, strategy), count in sorted(counts.items()):
                items.append(
                    StrategyRegistryItem(
                        f"ACCOUNT#{account_id}",
                        f"STRATEGY#{strategy}",
                        account_id=account_id,
                        strategy=strategy,
                        trade_count=count,
                        revision=count,
                        entries_digest=digests[(account_id, strategy)],
                    ).serialize()
                )
    client = raw_client(settings, pool=max(threads, 1) + 2)
    batches = [items[i : i + _BATCH_SIZE] for i in range(0, len(items), _BATCH_SIZE)]
    if threads <= 1:
        requests = sum(_write_batch(client, settings.table_name, b) for b in batches)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            requests = sum(
                pool.map(lambda b: _write_batch(client, settings.table_name, b), batches)
            )
    return SeedReport(
        fills=len(fills),
        attributions=sum(counts.values()),
        items=len(items),
        requests=requests,
        seconds=time.perf_counter() - started,
    )


def raw_client(settings: TableSettings, pool: int = 10) -> Any:
    """A plain boto3 DynamoDB client for seeding and inspection (not the one PynamoDB uses)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        config=Config(max_pool_connections=pool, retries={"mode": "standard", "max_attempts": 10}),
    )


def _write_batch(client: Any, table: str, items: Sequence[Mapping[str, Any]]) -> int:
    """One BatchWriteItem of up to 25 items, resending unprocessed ones; returns requests."""
    pending: list[Any] = [{"PutRequest": {"Item": item}} for item in items]
    requests = 0
    delay = 0.05
    while pending:
        requests += 1
        response = client.batch_write_item(RequestItems={table: pending})
        pending = response.get("UnprocessedItems", {}).get(table, [])
        if pending:
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    return requests
