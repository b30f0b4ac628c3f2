#!/usr/bin/env python3
"""Benchmark of the PDF report: render a large synthetic snapshot N times and print the figures.

The snapshot (version 1.4: 300 positions, 2,000 orders, fees, a month of equity samples after a
year of daily history, a benchmark, four strategies) is built deterministically from a seeded
generator and sealed, so every run renders the same PDF.
This is a benchmark, not a test: it prints median render time, size, pages and the SHA-256.

    .venv/bin/python scripts/bench_report.py [--runs 5] [--orders 2000] [-o report.pdf]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger_store.dto import TradeFill
from snapshots.alpaca.models import (
    AlpacaAccount,
    AlpacaData,
    AlpacaOrder,
    AlpacaPosition,
    Benchmark,
    DailyClose,
    EquityPoint,
    FeeActivity,
)
from snapshots.ledger.summary import summarize_account
from snapshots.schema import (
    AnySnapshot,
    CheckStatus,
    IntegrityCheck,
    compose_snapshot,
    seal,
)

ACCOUNT = "acct-bench"
PERIOD_START = datetime(2024, 5, 1, tzinfo=UTC)
PERIOD_END = datetime(2024, 6, 1, tzinfo=UTC)
STRATEGIES = ("carry", "mean-reversion", "momentum", "pairs-\u03b1")


def _uuid(kind: int, n: int) -> str:
    return f"00000000-0000-4000-{8000 + kind:04d}-{n:012d}"


def _cents(rng: random.Random, lo: int, hi: int) -> Decimal:
    return Decimal(rng.randint(lo * 100, hi * 100)) / 100


def synthetic_snapshot(positions: int = 300, orders: int = 2000, seed: int = 7) -> AnySnapshot:
    """A valid sealed snapshot of the given size; the same arguments give the same snapshot."""
    rng = random.Random(seed)
    symbols = [f"S{i:03d}" for i in range(max(positions, 40))]
    position_rows = []
    long_value = short_value = Decimal(0)
    for i in range(positions):
        qty = Decimal(rng.randint(1, 60))
        short = i % 7 == 3
        entry = _cents(rng, 5, 600)
        price = (entry * Decimal(rng.randint(85, 120)) / 100).quantize(Decimal("0.01"))
        signed_qty = -qty if short else qty
        value = signed_qty * price
        if short:
            short_value += value
        else:
            long_value += value
        position_rows.append(
            AlpacaPosition(
                symbol=symbols[i],
                asset_class="us_equity",
                exchange="NASDAQ",
                side="short" if short else "long",
                qty=signed_qty,
                avg_entry_price=entry,
                cost_basis=signed_qty * entry,
                market_value=value,
                current_price=price,
                unrealized_pl=value - signed_qty * entry,
            )
        )
    cash = Decimal("85000.00")
    equity = cash + long_value + short_value
    account = AlpacaAccount(
        id=_uuid(0, 1),
        account_number="PA3BENCH0001",
        status="ACTIVE",
        cash=cash,
        equity=equity,
        last_equity=equity - Decimal("1234.56"),
        buying_power=equity * 2,
        long_market_value=long_value,
        short_market_value=short_value,
        initial_margin=long_value / 2,
        maintenance_margin=long_value / 4,
    )

    seconds = int((PERIOD_END - PERIOD_START).total_seconds())
    statuses = ["filled"] * 8 + ["canceled", "partially_filled", "expired", "rejected"]
    order_rows = []
    fills: list[TradeFill] = []
    fees = []
    for n in range(orders):
        submitted = PERIOD_START + timedelta(seconds=rng.randrange(seconds - 3600))
        symbol = symbols[rng.randrange(40)]
        side = "buy" if n % 3 else "sell"
        status = statuses[rng.randrange(len(statuses))]
        qty = Decimal(rng.randint(1, 50))
        price = _cents(rng, 10, 500)
        filled = qty if status == "filled" else (qty // 2 if status == "partially_filled" else 0)
        order_id = _uuid(1, n)
        order_rows.append(
            AlpacaOrder(
                id=order_id,
                client_order_id=f"bench-{n}",
                symbol=symbol,
                side=side,
                type=("market", "limit", "stop_limit")[n % 3],
                time_in_force="day",
                status=status,
                qty=qty,
                filled_qty=filled,
                filled_avg_price=price if filled else None,
                limit_price=price if n % 3 else None,
                submitted_at=submitted,
                created_at=submitted,
                updated_at=submitted + timedelta(seconds=2),
                filled_at=submitted + timedelta(seconds=1) if filled else None,
            )
        )
        if filled and n % 4 == 0:
            filled_at = submitted + timedelta(seconds=1)
            fee = Decimal("0.01") + Decimal(n % 5) / 100
            fills.append(
                TradeFill(
                    order_id=order_id,
                    account_id=ACCOUNT,
                    correlation_id=f"cycle-{n // 50}",
                    symbol=symbol,
                    side="BUY" if side == "buy" else "SELL",
                    qty=filled,
                    price=price,
                    filled_at=filled_at,
                    fees=fee,
                    strategy_allocation={STRATEGIES[(n // 4) % 4]: Decimal(1)},
                )
            )
            if side == "sell":
                fees.append(
                    FeeActivity(
                        id=f"{filled_at:%Y%m%d%H%M%S}000::{_uuid(2, n)}",
                        activity_type="FEE",
                        activity_sub_type=("REG", "TAF")[n % 2],
                        date=filled_at.date(),
                        created_at=filled_at,
                        net_amount=-fee,
                        symbol=symbol,
                        qty=filled,
                        description=f"{('SEC', 'FINRA TAF')[n % 2]} fee {symbol}",
                    )
                )
    level = equity - Decimal("3000")
    equity_points = []
    for day in range(31):
        level += Decimal(rng.randint(-900000, 1000000)) / 100
        equity_points.append(
            EquityPoint(
                timestamp=PERIOD_START + timedelta(days=day, hours=20),
                equity=level,
                profit_loss=level - equity,
            )
        )
    # A year of daily history before the period and a benchmark over both (snapshot 1.4).
    history_start = PERIOD_START - timedelta(days=365)
    history = []
    past = equity - Decimal("40000")
    for day in range(365):
        moment = history_start + timedelta(days=day)
        if moment.weekday() < 5:
            past += Decimal(rng.randint(-700000, 800000)) / 100
            history.append(EquityPoint(timestamp=moment, equity=past, profit_loss=past - equity))
    close = Decimal("400")
    closes = []
    for day in range(365 + 31):
        moment = history_start + timedelta(days=day)
        if moment.weekday() < 5:
            close = (close * (1 + Decimal(rng.randint(-150, 160)) / 10000)).quantize(
                Decimal("0.01")
            )
            closes.append(DailyClose(day=moment.date(), close=close))
    alpaca = AlpacaData(
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        fee_window_start=PERIOD_START,
        fee_window_end=PERIOD_END,
        account=account,
        positions=tuple(position_rows),
        orders=tuple(order_rows),
        fees=tuple(fees),
        filled_order_ids=tuple(f.order_id for f in fills),
        equity=tuple(equity_points),
        history_start=history_start,
        history=tuple(history),
        benchmark=Benchmark(symbol="SPY", closes=tuple(closes)),
    )
    ledger = summarize_account(
        [a for fill in fills for a in fill.attributions()],
        [],
        account_id=ACCOUNT,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        ledger_id="alchemiser-trade-ledger-bench",
        prices={p.symbol: p.current_price for p in position_rows if p.current_price},
        revisions={},
        event_count=0,
    ).internal_ledger
    checks = [
        IntegrityCheck(name="equity_matches_positions", status=CheckStatus.PASS, message="ok"),
        IntegrityCheck(
            name="fees_match_ledger",
            status=CheckStatus.WARN,
            message="Alpaca and the ledger disagree on fees (posting lag)",
            details={"alpaca": "12.34", "ledger": "12.5"},
        ),
        IntegrityCheck(
            name="fills_match_orders",
            status=CheckStatus.FAIL,
            message="3 ledger fills have no Alpaca order",
        ),
    ]
    body = compose_snapshot(
        account_id=ACCOUNT,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        correlation_id="cycle-bench",
        alpaca=alpaca,
        internal_ledger=ledger,
        integrity_checks=checks,
    )
    return seal(body, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--positions", type=int, default=300)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("-o", "--output", type=Path, help="also write the PDF here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    from snapshots.report.pdf import render_report

    import_s = time.perf_counter() - started
    snapshot = synthetic_snapshot(args.positions, args.orders)
    times: list[float] = []
    result: Any = None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        rendered = render_report(snapshot)
        times.append(time.perf_counter() - t0)
        if result is not None and rendered.sha256 != result.sha256:
            print("NOT DETERMINISTIC: two renders differ", file=sys.stderr)
            return 1
        result = rendered
    assert result is not None
    if args.output:
        args.output.write_bytes(result.pdf)
    print(
        f"{args.positions} positions, {args.orders} orders, {len(snapshot.alpaca_fees)} fees: "
        f"median {statistics.median(times):.3f} s (min {min(times):.3f} s, "
        f"first {times[0]:.3f} s, {args.runs} runs), {len(result.pdf):,} bytes, "
        f"{result.pages} pages, import {import_s * 1000:.0f} ms, sha256 {result.sha256}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
