"""A deterministic, realistic multi-strategy trading history for the demo and tests.

Same seed, same fills, byte for byte: prices follow a seeded random walk, each symbol is
traded by a fixed strategy mix, sells only reduce what is held, and sells pay Alpaca-style
regulatory fees (SEC fee on notional, FINRA TAF per share).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal

from ledger_store.dto import OrderType, Side, TradeFill

DEMO_ACCOUNT_ID = "6f1c3b1e-6d3a-4c59-9f0e-3f6a2b8d9c10"
_NAMESPACE = uuid.UUID("0d7e7a4c-3b61-4b0c-9a55-4f2d1d5e8a21")

#: symbol -> (starting price, daily volatility, strategy allocation)
UNIVERSE: dict[str, tuple[str, str, dict[str, str]]] = {
    "AAPL": ("226.40", "0.014", {"momentum": "0.6", "trend_following": "0.4"}),
    "MSFT": ("415.10", "0.012", {"momentum": "1"}),
    "NVDA": ("118.25", "0.028", {"momentum": "0.5", "mean_reversion": "0.5"}),
    "SPY": ("560.30", "0.008", {"trend_following": "1"}),
    "QQQ": ("482.70", "0.011", {"trend_following": "0.7", "mean_reversion": "0.3"}),
    "TLT": ("97.80", "0.007", {"dividend_carry": "1"}),
    "XLE": ("89.60", "0.013", {"dividend_carry": "0.5", "mean_reversion": "0.5"}),
    "GLD": ("231.90", "0.009", {"dividend_carry": "0.25", "trend_following": "0.75"}),
}

SEC_FEE_RATE = Decimal("0.0000278")
TAF_PER_SHARE = Decimal("0.000166")
TAF_MAX = Decimal("8.30")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class TradingCycle:
    """One run of the trading Lambda: its correlation id, time window and fills."""

    correlation_id: str
    start: datetime
    end: datetime
    fills: tuple[TradeFill, ...]


def regulatory_fees(side: Side, qty: Decimal, price: Decimal) -> Decimal:
    """SEC + TAF on sells (rounded up to the cent, as brokers charge them); buys pay none."""
    if side is Side.BUY:
        return Decimal(0)
    sec = (qty * price * SEC_FEE_RATE).quantize(CENT, rounding=ROUND_UP)
    taf = min(qty * TAF_PER_SHARE, TAF_MAX).quantize(CENT, rounding=ROUND_UP)
    return sec + taf


def trading_days(first: date, count: int) -> list[date]:
    days: list[date] = []
    current = first
    while len(days) < count:
        if current.weekday() < 5:
            days.append(current)
        current += timedelta(days=1)
    return days


def generate_history(
    *,
    seed: int = 7,
    first_day: date = date(2026, 8, 3),
    days: int = 60,
    account_id: str = DEMO_ACCOUNT_ID,
) -> list[TradingCycle]:
    """One trading cycle per trading day, each with a handful of fills."""
    rng = random.Random(seed)
    prices = {symbol: Decimal(spec[0]) for symbol, spec in UNIVERSE.items()}
    held = {symbol: Decimal(0) for symbol in UNIVERSE}
    cycles: list[TradingCycle] = []
    sequence = 0
    for day in trading_days(first_day, days):
        opened = datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC)
        correlation_id = f"cycle-{day.isoformat()}"
        fills: list[TradeFill] = []
        for symbol, (_, vol, allocation) in UNIVERSE.items():
            shock = Decimal(str(round(rng.gauss(0.0002, float(vol)), 6)))
            prices[symbol] = (prices[symbol] * (1 + shock)).quantize(CENT, rounding=ROUND_HALF_EVEN)
            roll = rng.random()
            if roll < 0.35 or held[symbol] == 0:
                side = Side.BUY
                qty = Decimal(rng.choice([5, 10, 15, 20, 25, 40]))
            elif roll < 0.6:
                side = Side.SELL
                # Partial closes: a third to all of what is held.
                fraction = Decimal(rng.choice([1, 2, 3])) / 3
                qty = max(Decimal(1), (held[symbol] * fraction).to_integral_value())
            else:
                continue
            held[symbol] += qty if side is Side.BUY else -qty
            sequence += 1
            filled_at = opened + timedelta(minutes=sequence % 300, microseconds=sequence * 137)
            fills.append(
                TradeFill(
                    order_id=str(uuid.uuid5(_NAMESPACE, f"{seed}:{sequence}")),
                    account_id=account_id,
                    correlation_id=correlation_id,
                    symbol=symbol,
                    side=side,
                    qty=qty,
                    price=prices[symbol],
                    filled_at=filled_at,
                    order_type=OrderType.MARKET if rng.random() < 0.7 else OrderType.LIMIT,
                    fees=regulatory_fees(side, qty, prices[symbol]),
                    strategy_allocation={k: Decimal(v) for k, v in allocation.items()},
                    bid_at_fill=prices[symbol] - CENT,
                    ask_at_fill=prices[symbol] + CENT,
                )
            )
        fills.sort(key=lambda f: (f.filled_at, f.order_id))
        cycles.append(
            TradingCycle(
                correlation_id=correlation_id,
                start=opened,
                end=datetime(day.year, day.month, day.day, 21, 0, tzinfo=UTC),
                fills=tuple(fills),
            )
        )
    return cycles
