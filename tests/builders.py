"""Shared builders for the ledger tests: valid fills, raw table access, exact sums.

Raw access goes through a plain boto3 client (not the library), so assertions about what is
stored in the table do not depend on the code under test.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill, parse_fill
from ledger_store.trades import TradeLedgerRepository
from snapshots.demo.history import seed_ledger

#: A fixed instant all builders count from (a trading day, 09:30 New York time).
T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
#: The checkout's root folder.
ROOT = Path(__file__).resolve().parent.parent


def load_script(name: str) -> ModuleType:
    """Import a module from ``scripts/`` (they are entry scripts, not a package)."""
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_scripts_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ACCOUNT = "acct-1"
CORRELATION = "cycle-1"

#: Weights that cannot be split evenly: the classic one-third case at 9 decimal places.
THIRDS = {"alpha": "0.333333333", "beta": "0.333333333", "gamma": "0.333333334"}

RawItem = dict[str, Any]


def fill_data(**overrides: Any) -> dict[str, Any]:
    """A valid fill as a bot would send it (a JSON-like mapping); ``overrides`` replace keys."""
    data: dict[str, Any] = {
        "order_id": "order-1",
        "account_id": ACCOUNT,
        "correlation_id": CORRELATION,
        "symbol": "AAPL",
        "side": "BUY",
        "qty": "10",
        "price": "187.25",
        "filled_at": T0,
        "order_type": "market",
        "fees": "0.01",
        "strategy_allocation": {"alpha": "0.6", "beta": "0.4"},
    }
    data.update(overrides)
    return data


def make_fill(**overrides: Any) -> TradeFill:
    """A validated ``TradeFill`` built from ``fill_data(**overrides)``."""
    return parse_fill(fill_data(**overrides))


def at(microseconds: int = 0, *, seconds: int = 0) -> datetime:
    """``T0`` shifted by the given offset."""
    return T0 + timedelta(seconds=seconds, microseconds=microseconds)


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """Sum without the default context's 28-digit rounding."""
    with localcontext(prec=200):
        return sum(values, Decimal(0))


def order_ids(fills: Iterable[Any]) -> list[str]:
    return [f.order_id for f in fills]


# Raw table access ---------------------------------------------------------------------------


def client(settings: TableSettings) -> Any:
    """A plain boto3 DynamoDB client for the table's engine (moto is patched in-process)."""
    return boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.endpoint_url)


def raw_item(settings: TableSettings, pk: str, sk: str) -> RawItem | None:
    """The stored item with this key, exactly as DynamoDB returns it, or None."""
    response = client(settings).get_item(
        TableName=settings.table_name,
        Key={"PK": {"S": pk}, "SK": {"S": sk}},
        ConsistentRead=True,
    )
    item: RawItem | None = response.get("Item")
    return item


def raw_partition(settings: TableSettings, pk: str) -> list[RawItem]:
    """Every stored item with this partition key, sorted by SK."""
    paginator = client(settings).get_paginator("query")
    pages = paginator.paginate(
        TableName=settings.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )
    return [item for page in pages for item in page["Items"]]


def raw_table(settings: TableSettings) -> list[RawItem]:
    """Every item in the table (tests keep their tables small), sorted by key."""
    paginator = client(settings).get_paginator("scan")
    pages = paginator.paginate(TableName=settings.table_name, ConsistentRead=True)
    items = [item for page in pages for item in page["Items"]]
    return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


def put_raw(settings: TableSettings, item: Mapping[str, Any]) -> None:
    client(settings).put_item(TableName=settings.table_name, Item=dict(item))


# Bulk seeding ----------------------------------------------------------------------------------


def seed_fills(settings: TableSettings, fills: Sequence[TradeFill]) -> None:
    """Store fills with ``BatchWriteItem`` using the repository's own item mapping.

    Much faster than one transaction per fill. Writes the TRADE and STRATEGY_TRADE items only;
    the strategy registry is not touched.
    """
    seed_ledger(settings, fills, registry=False)


# The range readers, as one shape: (ledger, start, end) -> iterator of fills/attributions ------

Reader = Callable[[TradeLedgerRepository, datetime | None, datetime | None], Iterator[Any]]

READERS: list[Any] = [
    pytest.param(
        lambda ledger, start, end: ledger.trades_by_correlation(CORRELATION, start, end),
        id="by-correlation",
    ),
    pytest.param(
        lambda ledger, start, end: ledger.trades_by_symbol("AAPL", start, end),
        id="by-symbol",
    ),
    pytest.param(
        lambda ledger, start, end: ledger.trades_by_symbol("AAPL", start, end, account_id=ACCOUNT),
        id="by-symbol-and-account",
    ),
    pytest.param(
        lambda ledger, start, end: ledger.attributions_by_strategy(ACCOUNT, "alpha", start, end),
        id="by-strategy",
    ),
]


def record_all(ledger: TradeLedgerRepository, fills: Iterable[TradeFill]) -> None:
    for fill in fills:
        assert ledger.record(fill).status == "recorded"


# FIFO and ledger-metrics builders (snapshots) ----------------------------------------------------


def strategy_fill(
    order_id: str,
    side: str,
    qty: str,
    price: str,
    *,
    seconds: int = 0,
    symbol: str = "AAPL",
    fees: str = "0",
    allocation: Mapping[str, str] | None = None,
    **overrides: Any,
) -> TradeFill:
    """A fill at ``T0 + seconds`` attributed wholly to ``alpha`` unless ``allocation`` is given."""
    return make_fill(
        order_id=order_id,
        side=side,
        qty=qty,
        price=price,
        symbol=symbol,
        fees=fees,
        filled_at=at(seconds=seconds),
        strategy_allocation=dict(allocation or {"alpha": "1"}),
        **overrides,
    )


def attributions_of(fills: Iterable[TradeFill]) -> list[Any]:
    """Every ``StrategyAttribution`` of the fills, in the order given."""
    return [a for fill in fills for a in fill.attributions()]


# Snapshot builders (snapshots.schema): every optional field set, so every field can be mutated --

PERIOD_START = datetime(2024, 3, 2, tzinfo=UTC)
PERIOD_END = datetime(2024, 3, 3, tzinfo=UTC)
ALPACA_ACCOUNT_ID = "2f1c3a5e-0d6b-4a53-9b8e-6a1f2c3d4e5f"


def alpaca_uuid(n: int) -> str:
    """A stable, valid UUID text numbered ``n``."""
    return f"00000000-0000-4000-8000-{n:012d}"


def alpaca_account(**overrides: Any) -> Any:
    from snapshots.alpaca.models import AlpacaAccount

    data: dict[str, Any] = {
        "id": ALPACA_ACCOUNT_ID,
        "account_number": "PA3ABCDEFGH",
        "status": "ACTIVE",
        "currency": "USD",
        "cash": "1000.50",
        "equity": "5000.25",
        "last_equity": "4990",
        "buying_power": "2001",
        "regt_buying_power": "2001",
        "non_marginable_buying_power": "1000.5",
        "long_market_value": "3999.75",
        "short_market_value": "0",
        "portfolio_value": "5000.25",
        "initial_margin": "1999.875",
        "maintenance_margin": "1199.925",
        "last_maintenance_margin": "1190",
        "sma": "0",
        "multiplier": "2",
        "accrued_fees": "0.08",
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "daytrade_count": 1,
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "shorting_enabled": True,
        "created_at": datetime(2023, 1, 5, 12, 0, 0, 123456, tzinfo=UTC),
    }
    data.update(overrides)
    return AlpacaAccount.model_validate(data)


def alpaca_position(symbol: str = "AAPL", **overrides: Any) -> Any:
    from snapshots.alpaca.models import AlpacaPosition

    data: dict[str, Any] = {
        "symbol": symbol,
        "asset_id": alpaca_uuid(100),
        "asset_class": "us_equity",
        "exchange": "NASDAQ",
        "side": "long",
        "qty": "7",
        "qty_available": "7",
        "avg_entry_price": "101.428571429",
        "cost_basis": "710",
        "market_value": "770",
        "current_price": "110",
        "lastday_price": "108",
        "change_today": "0.0185185185",
        "unrealized_pl": "60",
        "unrealized_plpc": "0.0845070423",
        "unrealized_intraday_pl": "14",
        "unrealized_intraday_plpc": "0.0185185185",
    }
    data.update(overrides)
    return AlpacaPosition.model_validate(data)


def alpaca_order(n: int = 1, **overrides: Any) -> Any:
    """A filled order ``n`` with every optional field set, and one (leg-less) leg."""
    from snapshots.alpaca.models import AlpacaOrder

    submitted = PERIOD_START + timedelta(hours=14, minutes=30, seconds=n)
    data: dict[str, Any] = {
        "id": alpaca_uuid(n),
        "client_order_id": f"client-{n}",
        "symbol": "AAPL",
        "asset_id": alpaca_uuid(100),
        "asset_class": "us_equity",
        "side": "sell",
        "type": "limit",
        "order_class": "simple",
        "time_in_force": "day",
        "status": "filled",
        "qty": "5",
        "notional": "550",
        "filled_qty": "5",
        "filled_avg_price": "110",
        "limit_price": "109.5",
        "stop_price": "100",
        "extended_hours": False,
        "submitted_at": submitted,
        "created_at": submitted,
        "updated_at": submitted + timedelta(seconds=1),
        "filled_at": submitted + timedelta(microseconds=500),
        "canceled_at": submitted + timedelta(seconds=2),
        "expired_at": submitted + timedelta(seconds=3),
        "failed_at": submitted + timedelta(seconds=4),
        "replaced_at": submitted + timedelta(seconds=5),
        "replaced_by": alpaca_uuid(n + 1000),
        "replaces": alpaca_uuid(n + 2000),
        "legs": (),
    }
    data.update(overrides)
    return AlpacaOrder.model_validate(data)


def fee_activity(n: int = 1, **overrides: Any) -> Any:
    from snapshots.alpaca.models import FeeActivity

    created = PERIOD_START + timedelta(hours=20, seconds=n)
    data: dict[str, Any] = {
        "id": f"20240302200000{n:03d}::{alpaca_uuid(n + 3000)}",
        "activity_type": "FEE",
        "activity_sub_type": "REG",
        "date": created.date(),
        "created_at": created,
        "net_amount": "-0.01",
        "symbol": "AAPL",
        "qty": "5",
        "per_share_amount": "0.002",
        "description": "REG fee",
        "status": "executed",
    }
    data.update(overrides)
    return FeeActivity.model_validate(data)


def equity_point(hours: int = 0, **overrides: Any) -> Any:
    from snapshots.alpaca.models import EquityPoint

    data: dict[str, Any] = {
        "timestamp": PERIOD_START + timedelta(hours=hours),
        "equity": "5000.25",
        "profit_loss": "10.25",
        "profit_loss_pct": "0.0020541082",
    }
    data.update(overrides)
    return EquityPoint.model_validate(data)


def alpaca_data(**overrides: Any) -> Any:
    """``AlpacaData`` for ``[PERIOD_START, PERIOD_END)`` with two of everything."""
    from snapshots.alpaca.models import AlpacaData

    leg = alpaca_order(9, side="buy", type="stop")
    data: dict[str, Any] = {
        "period_start": PERIOD_START,
        "period_end": PERIOD_END,
        "fee_window_start": PERIOD_START,
        "fee_window_end": PERIOD_END,
        "account": alpaca_account(),
        "positions": (alpaca_position("MSFT", qty="-1", side="short"), alpaca_position("AAPL")),
        "orders": (alpaca_order(2, side="buy"), alpaca_order(1, legs=(leg,))),
        "fees": (fee_activity(2, activity_sub_type="TAF"), fee_activity(1)),
        "filled_order_ids": (alpaca_uuid(1), alpaca_uuid(2)),
        "equity": (equity_point(16), equity_point(0, profit_loss="-3.5")),
    }
    data.update(overrides)
    return AlpacaData.model_validate(data)


def snapshot_fills() -> list[TradeFill]:
    """A small history: lots before the period, a shared sell, an oversell and open lots."""
    day = 86_400
    split = {"alpha": "0.6", "beta": "0.4"}
    return [
        strategy_fill("o1", "BUY", "10", "100", allocation=split, fees="0.10"),
        strategy_fill("o2", "BUY", "5", "400", symbol="MSFT", seconds=3_600),
        strategy_fill("o3", "SELL", "5", "110", allocation=split, fees="0.05", seconds=day),
        strategy_fill("o4", "BUY", "2", "105.5", fees="0.01", seconds=day + 3_600),
        strategy_fill("o5", "SELL", "6", "390", symbol="MSFT", fees="0.02", seconds=day + 7_200),
    ]


def internal_ledger(ledger_id: str = "alchemiser-trade-ledger-test") -> Any:
    """The ``InternalLedger`` of ``snapshot_fills`` for ``[PERIOD_START, PERIOD_END)``."""
    from snapshots.ledger.metrics import summarize_ledger

    return summarize_ledger(
        attributions_of(snapshot_fills()),
        account_id=ACCOUNT,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        ledger_id=ledger_id,
    ).internal_ledger


def integrity_checks() -> tuple[Any, ...]:
    from snapshots.schema import CheckStatus, IntegrityCheck

    return (
        IntegrityCheck(
            name="positions_match_ledger",
            status=CheckStatus.WARN,
            message="MSFT: Alpaca -1, ledger -1; AAPL: Alpaca 7, ledger 7",
            details={"AAPL": "7", "MSFT": "-1"},
        ),
        IntegrityCheck(
            name="fills_match_orders",
            status=CheckStatus.PASS,
            message="every fill has an order",
            details={"fills": "5", "orders": "2"},
        ),
    )


def snapshot_body(**overrides: Any) -> Any:
    """A fully populated, valid ``SnapshotBody`` (unsealed); ``overrides`` replace fields."""
    from snapshots.schema import compose_snapshot

    body = compose_snapshot(
        account_id=ACCOUNT,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        correlation_id=CORRELATION,
        alpaca=alpaca_data(),
        internal_ledger=internal_ledger(),
        integrity_checks=integrity_checks(),
    )
    if not overrides:
        return body
    return type(body).model_validate({**dict(body), **overrides})
