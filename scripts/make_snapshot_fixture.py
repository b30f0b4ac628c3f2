#!/usr/bin/env python3
"""Generate the committed snapshot fixture of the current ``snapshot_version``.

Readers support every released ``snapshot_version``; ``tests/snapshots/test_snapshot_fixture.py``
proves it by loading the DynamoDB items this script wrote once for each version, when it was
released (``snapshot_v1_0_*`` for 1.0, ``snapshot_v1_1_*`` for 1.1, ...). The fixtures are
*records*, not build products: never regenerate them for an existing version (a different
body or checksum would hide exactly the incompatibility the test exists to catch). When a new
``snapshot_version`` is released, this script writes its files beside the old ones (named by
``SNAPSHOT_VERSION``) and refuses to overwrite any; ``--check`` compares the current version's.

What it does, deterministically (no clock, no randomness, no network):

1. builds a fully populated week-long snapshot of a margin account (since 1.1 with what 1.1
   allows: integer counts in check details, an account without margins, an order without
   ``filled_qty``, a position without cost basis, a day of portfolio history without values):
   negative cash, a short position, zero values, every optional field of every Alpaca DTO set
   somewhere (and some left ``null``), a multi-leg order, replaced/rejected/expired/open orders,
   REG and TAF fee activities, a five-day equity series (one ``profit_loss_pct`` null), a ledger
   with three strategies, a shared fill, a partial close, an oversell and open lots, and
   integrity checks with every status (pass, warn, fail); texts include non-ASCII characters and
   a newline; since 1.2 the ledger is the account ledger of signed lots (the oversold MSFT is
   a short lot), with a deposit, a dividend shared by two strategies, a 2-for-1 split of SPY
   (Alpaca's paired ``SSP`` rows), a withdrawal Alpaca did not report and a ``REORG`` row the
   ledger lacks (the events check fails),
   registry revisions, and since 1.3 the digests of each strategy's entries and of the
   account's events (what a later snapshot carries the ledger forward with), and the checks
   are computed by ``run_integrity_checks``; since 1.5 activity ids carry New York time, a
   cash journal is timed by its id alone and a withdrawal Alpaca canceled is not booked;
2. seals it with SHA-256 (``snapshot_v{version}_item.json``) and, with the HMAC key
   ``b"fixture-key"``, with HMAC-SHA-256 (``snapshot_v{version}_item_hmac.json``);
3. stores each through ``AccountSnapshotRepository`` on embedded moto with the fixed clock
   ``STORED_AT`` and dumps the raw items of the snapshot (and chunk) partitions as the boto3
   client returns them, binary values base64-encoded;
4. writes the decompressed body of the SHA-256 item verbatim to ``snapshot_v{version}_body.json``.

Usage::

    .venv/bin/python scripts/make_snapshot_fixture.py            # refuses to overwrite
    .venv/bin/python scripts/make_snapshot_fixture.py --check    # regenerate in memory, diff
    .venv/bin/python scripts/make_snapshot_fixture.py --force    # only for a new fixture file
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from snapshots.schema import SNAPSHOT_VERSION  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
_TAG = SNAPSHOT_VERSION.replace(".", "_")
SHA256_FIXTURE = FIXTURES / f"snapshot_v{_TAG}_item.json"
HMAC_FIXTURE = FIXTURES / f"snapshot_v{_TAG}_item_hmac.json"
#: The decompressed ``body`` of the SHA-256 item, byte for byte (canonical JSON, one line, no
#: trailing newline): readable in a review, and ``sha256sum`` of it is the item's checksum.
BODY_FIXTURE = FIXTURES / f"snapshot_v{_TAG}_body.json"
#: The HMAC key of the second fixture (``SNAPSHOT_HMAC_KEY=fixture-key``).
HMAC_KEY = b"fixture-key"

ACCOUNT_ID = "5a3f9c2e-8b1d-4e6f-a7c0-2d9e4b6f8a13"
CORRELATION_ID = "cycle-2026-08-07"
LEDGER_ID = "alchemiser-trade-ledger-prod"
PERIOD_START = datetime(2026, 8, 3, tzinfo=UTC)
PERIOD_END = datetime(2026, 8, 8, tzinfo=UTC)
#: When the repository stored the fixture (its clock); ``ttl`` is 90 days later.
STORED_AT = datetime(2026, 8, 8, 0, 0, 7, 654321, tzinfo=UTC)

_MOMENTUM_TREND = {"momentum": "0.6", "trend_following": "0.4"}
_MOMENTUM_REVERSION = {"momentum": "0.5", "mean_reversion": "0.5"}
_RATIO = Decimal("0.0000000001")


def _uuid(n: int) -> str:
    return f"7e0c4a1b-3d5f-4c2a-9b8e-{n:012d}"


def _at(day: int, hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 7 if day > 20 else 8, day, hour, minute, second, micro, tzinfo=UTC)


def _text(value: Decimal) -> str:
    from ledger_store.decimals import plain

    return plain(value)


def _ratio(numerator: Decimal, denominator: Decimal) -> str:
    return _text((numerator / denominator).quantize(_RATIO, rounding=ROUND_HALF_EVEN))


# The ledger: what the bot recorded -----------------------------------------------------------

#: (n, symbol, side, qty, price, filled_at, fees, allocation); order ids are ``_uuid(n)``.
FILLS: tuple[tuple[int, str, str, str, str, datetime, str, Mapping[str, str]], ...] = (
    (1, "AAPL", "BUY", "10", "226.4", _at(30, 14, 31, 2, 250_000), "0", _MOMENTUM_TREND),
    (2, "MSFT", "BUY", "5", "415.1", _at(30, 14, 32, 10), "0", {"momentum": "1"}),
    (3, "NVDA", "BUY", "40", "118.25", _at(30, 14, 33), "0", _MOMENTUM_REVERSION),
    (4, "SPY", "BUY", "20", "560.3", _at(31, 14, 35), "0", {"trend_following": "1"}),
    (5, "NVDA", "SELL", "10", "119.4", _at(31, 15, 0, 0, 125_000), "0.05", _MOMENTUM_REVERSION),
    # The period: a shared partial close, a fractional buy, an oversell, a full close.
    (11, "AAPL", "SELL", "6", "229.15", _at(3, 14, 30, 0, 500_000), "0.05", _MOMENTUM_TREND),
    (12, "AAPL", "BUY", "0.5", "228.9", _at(4, 14, 45, 30), "0", {"trend_following": "1"}),
    (13, "MSFT", "SELL", "7", "418.2", _at(5, 15, 10), "0.1", {"momentum": "1"}),
    (14, "NVDA", "SELL", "30", "121", _at(7, 19, 55, 0, 1), "0.12", _MOMENTUM_REVERSION),
)
#: Since 1.6: a crypto round trip. Alpaca takes the buy's fee in the coin (a ``CFEE`` row of
#: -0.000195 ETH, stamped with the fill's own time) and the sell's in dollars.
CRYPTO_FILLS: tuple[tuple[int, str, str, str, str, datetime, str, Mapping[str, str]], ...] = (
    (15, "ETH/USD", "BUY", "0.1", "1884.5", _at(6, 15, 0, 12, 345_000), "0", {"momentum": "1"}),
    (16, "ETH/USD", "SELL", "0.05", "1902.25", _at(7, 16, 20), "0.24", {"momentum": "1"}),
)
COIN_FEE = "0.000195"
#: Since 1.7: a call bought, exercised on its expiry day (Alpaca's ``OPEXC`` and ``OPTRD``
#: rows): 100 KO at the strike, 60, costing 61.25 a share with the premium folded in.
OPTION = "KO260807C00060000"
OPTION_FILLS: tuple[tuple[int, str, str, str, str, datetime, str, Mapping[str, str]], ...] = (
    (17, OPTION, "BUY", "1", "1.25", _at(3, 15, 5), "0", {"mean_reversion": "1"}),
)

#: Since 1.8: a pair quoted in BTC. BTC bought for dollars, then ETH bought with BTC at 0.0305
#: BTC while one BTC was worth 61,800 USD (``quote_usd_rate``): an ETH lot at 1,884.9 USD and
#: 0.001525 BTC sold at 61,800 (a gain of 0.001525 x 300 = 0.4575 on the BTC lot).
CROSSED_FILLS: tuple[tuple[int, str, str, str, str, datetime, str, Mapping[str, str]], ...] = (
    (18, "BTC/USD", "BUY", "0.01", "61500", _at(5, 10, 0), "0", {"momentum": "1"}),
    (19, "ETH/BTC", "BUY", "0.05", "0.0305", _at(6, 16, 0, 30), "0", {"momentum": "1"}),
)
#: USD per unit of the quote currency, by fill (since 1.8).
QUOTE_RATES: dict[int, str] = {19: "61800"}


def fills_of(version: str = SNAPSHOT_VERSION) -> tuple[Any, ...]:
    """The fills the bot recorded, as the fixture of ``version`` holds them."""
    return (
        FILLS
        + (CRYPTO_FILLS if version >= "1.6" else ())
        + (OPTION_FILLS if version >= "1.7" else ())
        + (CROSSED_FILLS if version >= "1.8" else ())
    )


def ledger_fills(version: str = SNAPSHOT_VERSION) -> list[Any]:
    from ledger_store.dto import parse_fill

    fills = []
    for n, symbol, side, qty, price, filled_at, fees, allocation in fills_of(version):
        tick = Decimal("0.0001") if n in QUOTE_RATES else Decimal("0.01")  # BTC: a finer tick
        fills.append(
            parse_fill(
                {
                    "order_id": _uuid(n),
                    "account_id": ACCOUNT_ID,
                    "correlation_id": f"cycle-{filled_at.date().isoformat()}",
                    "symbol": symbol,
                    "side": side,
                    "qty": qty,
                    "price": price,
                    "filled_at": filled_at,
                    "order_type": "limit" if n == 13 else "market",
                    "fees": fees,
                    "strategy_allocation": dict(allocation),
                    "bid_at_fill": str(Decimal(price) - tick),
                    "ask_at_fill": str(Decimal(price) + tick),
                    **({"quote_usd_rate": QUOTE_RATES[n]} if n in QUOTE_RATES else {}),
                }
            )
        )
    return fills


#: The account's events: (n, kind, effective_at, fields); event ids of events recorded from
#: Alpaca's activities are the activities' ids (``activity_id(n, at)``).
SPLIT_AT = _at(4, 8, 0, 0, 1_000)
#: Since 1.5: when the cash journal happened (its id says 21:40 New York on 5 August).
JOURNAL_AT = _at(6, 1, 40)


def activity_id(n: int, at: datetime, version: str = SNAPSHOT_VERSION) -> str:
    """Alpaca's ``<yyyymmddhhmmssmmm>::<uuid>``: the time in New York since 1.5 (the earlier
    fixtures wrote it in UTC, as the fake Alpaca then did)."""
    local = at.astimezone(ZoneInfo("America/New_York") if version >= "1.5" else UTC)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}::{_uuid(700 + n)}"


def account_activities(version: str = SNAPSHOT_VERSION) -> list[Any]:
    """Alpaca's non-trade activities of the period: a deposit, SPY's split, AAPL's dividend
    and a reorganisation notice; since 1.5 a cash journal timed by its id alone (New York
    time: posted 21:40 on 5 August there, 01:40 UTC on the 6th) and a withdrawal Alpaca
    canceled (not booked); since 1.6 the coin fee of the ETH buy (a date-only id, as Alpaca
    writes them, and the fill's own time); since 1.7 the KO call's exercise and the trade of
    its shares."""
    from snapshots.alpaca.models import AccountActivity, AccountActivityV16

    deposit_at = _at(3, 13, 2, 11, 88_000)
    dividend_at = _at(6, 11, 30, 0, 250_000)
    reorg_at = _at(7, 9, 15)
    canceled_at = _at(4, 15, 45)
    rows: list[dict[str, Any]] = [
        {
            "id": activity_id(1, deposit_at, version),
            "activity_type": "CSD",
            "created_at": deposit_at,
            "net_amount": "1000",
            "description": "ACH deposit",
        },
        # A split moves the old shares out and the new ones in; the ratio is not stated.
        {
            "id": activity_id(2, SPLIT_AT, version),
            "activity_type": "SSP",
            "created_at": SPLIT_AT,
            "symbol": "SPY",
            "qty": "-20",
        },
        {
            "id": activity_id(3, SPLIT_AT, version),
            "activity_type": "SSP",
            "created_at": SPLIT_AT,
            "symbol": "SPY",
            "qty": "40",
        },
        {
            "id": activity_id(4, dividend_at, version),
            "activity_type": "DIV",
            "created_at": dividend_at,
            "symbol": "AAPL",
            "qty": "4.5",
            "per_share_amount": "0.26",
            "net_amount": "1.17",
            "description": "Cash dividend \u2014 AAPL",
            "status": "executed",
        },
        # A reorganisation the rows do not describe: left for an explicit event, which the
        # ledger lacks (the events check fails).
        {
            "id": activity_id(5, reorg_at, version),
            "activity_type": "REORG",
            "created_at": reorg_at,
            "symbol": "GLD",
            "qty": "0",
            "description": "Mandatory reorganisation notice",
        },
    ]
    if version >= "1.5":
        rows += [
            {
                "id": activity_id(6, JOURNAL_AT, version),
                "activity_type": "JNLC",
                "date": "2026-08-05",
                "net_amount": "75",
                "description": "cash journal",
                "status": "executed",
            },
            {
                "id": activity_id(7, canceled_at, version),
                "activity_type": "CSW",
                "created_at": canceled_at,
                "net_amount": "-300",
                "description": "ACH withdrawal",
                "status": "canceled",
            },
        ]
    if version >= "1.6":
        bought_at = CRYPTO_FILLS[0][5]
        rows.append(
            {
                "id": f"20260806000000000::{_uuid(708)}",
                "activity_type": "CFEE",
                "date": "2026-08-06",
                "created_at": bought_at,
                "net_amount": "0",
                "description": "Coin Pair Transaction Fee (Non USD)",
                "status": "executed",
                "currency": "USD",
                "symbol": "ETHUSD",
                "qty": f"-{COIN_FEE}",
                "price": "1884.5",
            }
        )
    if version >= "1.7":
        # The call exercised: the contract row, then the shares' trade (date-only ids).
        rows += [
            {
                "id": f"20260807000000000::{_uuid(709)}",
                "activity_type": "OPEXC",
                "date": "2026-08-07",
                "net_amount": "0",
                "description": "Option Exercise",
                "symbol": OPTION,
                "qty": "-1",
                "status": "executed",
            },
            {
                "id": f"20260807000000000::{_uuid(710)}",
                "activity_type": "OPTRD",
                "date": "2026-08-07",
                "net_amount": "-6000",
                "description": "Option Trade",
                "symbol": "KO",
                "qty": "100",
                "price": "60",
                "status": "executed",
            },
        ]
    model = AccountActivityV16 if version >= "1.6" else AccountActivity
    return [
        model.from_api(
            {**row, "created_at": row["created_at"].isoformat()} if "created_at" in row else row
        )
        for row in rows
    ]


def account_events(version: str = SNAPSHOT_VERSION) -> list[Any]:
    """The ledger's events: those of the activities plus a withdrawal entered by hand."""
    from ledger_store.events import CashFlow
    from snapshots.alpaca.activities import events_from_activities

    mapped = events_from_activities(ACCOUNT_ID, account_activities(version))
    assert [row.activity_type for row in mapped.unmapped] == ["REORG"], mapped.unmapped
    withdrawal = CashFlow(
        event_id="wire-out-2026-08-07",
        account_id=ACCOUNT_ID,
        effective_at=_at(7, 21, 0),
        amount=Decimal("-250"),
        source="manual",
        description="wire to checking\n(pending at Alpaca)",
    )
    return [*mapped.events, withdrawal]


def history_events() -> list[Any]:
    """Since 1.4: a deposit in the lookback before the period (``history_cash_flows``)."""
    from ledger_store.events import CashFlow

    return [
        CashFlow(
            event_id="20260727140000000::history-deposit",
            account_id=ACCOUNT_ID,
            effective_at=datetime(2026, 7, 27, 14, 0, tzinfo=UTC),
            amount=Decimal("500"),
            source="CSD",
            description="ACH deposit",
        )
    ]


#: Registry revisions: one per recorded fill, and one more for mean_reversion, whose NVDA sell
#: was amended (its fee corrected).
REVISIONS = {"mean_reversion": 5, "momentum": 11, "trend_following": 5}


def account_view() -> Any:
    from snapshots.ledger.summary import summarize_account

    attributions = [a for fill in ledger_fills() for a in fill.attributions()]
    events = [*history_events(), *account_events()]
    return summarize_account(
        attributions,
        events,
        account_id=ACCOUNT_ID,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        ledger_id=LEDGER_ID,
        prices={symbol: Decimal(p[2]) for symbol, p in POSITIONS.items()},
        revisions=REVISIONS,
        event_count=len(events),
    )


# Alpaca: what the broker reported ------------------------------------------------------------

#: symbol -> (qty, cost basis, current price, last-day price, opened today, exchange)
POSITIONS: dict[str, tuple[str, str, str, str, bool, str]] = {
    "AAPL": ("4.5", "1020.05", "230.1", "227.85", False, "NASDAQ"),
    "GLD": ("3", "695.7", "233.4", "232", False, "ARCA"),  # bought by hand, not in the ledger
    "MSFT": ("-2", "-836.4", "417.5", "415.6", False, "NASDAQ"),
    # Split 2-for-1 on 4 Aug (20 at 560.3 became 40 at 280.15); unchanged today: zeros.
    "SPY": ("40", "11206", "280.525", "280.525", False, "ARCA"),
    # Since 1.6: 0.1 bought, 0.000195 taken as the fee, 0.05 sold (Alpaca's pair, no slash).
    "ETHUSD": ("0.099805", "188.2859022594", "1910.4", "1895", False, "CRYPTO"),
    # Since 1.7: the exercised call's shares, at Alpaca's cost (the strike).
    "KO": ("100", "6000", "61.6", "61.1", False, "NYSE"),
    # Since 1.8: 0.01 BTC bought, 0.001525 of it spent on 0.05 ETH (ETH/BTC): the ETH
    # position above holds those too.
    "BTCUSD": ("0.008475", "521.2125", "62100", "61900", False, "CRYPTO"),
}
#: Since 1.6 the cash has paid for the ETH round trip: 188.45 for the buy, 95.1125 from the
#: sell, 0.24 of dollar fee (Alpaca keeps crypto cash to the fourth place); since 1.7 for the
#: call (125) and its exercise (6,000); since 1.8 for 0.01 BTC (615: the ETH bought with BTC
#: moved no dollars).
CASH = Decimal("-9334.3275")


def alpaca_positions() -> list[Any]:
    from snapshots.alpaca.models import AlpacaPosition

    positions = []
    for index, (symbol, (qty_t, cost_t, price_t, last_t, _, exchange)) in enumerate(
        POSITIONS.items()
    ):
        qty, cost, price, last = (Decimal(v) for v in (qty_t, cost_t, price_t, last_t))
        value = qty * price
        intraday = qty * (price - last)
        positions.append(
            AlpacaPosition(
                symbol=symbol,
                asset_id=_uuid(900 + index),
                asset_class="crypto" if exchange == "CRYPTO" else "us_equity",
                exchange=exchange,
                side="long" if qty > 0 else "short",
                qty=qty,
                # AAPL: all of it is held by the open OCO sell order below.
                qty_available=Decimal(0) if symbol == "AAPL" else qty,
                # GLD, bought by hand: since 1.1 a position may come without its cost.
                avg_entry_price=None if symbol == "GLD" else Decimal(_ratio(cost, qty)),
                cost_basis=None if symbol == "GLD" else cost,
                market_value=value,
                current_price=price,
                lastday_price=last,
                change_today=Decimal(_ratio(price - last, last)),
                unrealized_pl=value - cost,
                unrealized_plpc=Decimal(_ratio(value - cost, abs(cost))),
                unrealized_intraday_pl=intraday,
                unrealized_intraday_plpc=Decimal(_ratio(intraday, abs(qty * last))),
            )
        )
    return positions


def alpaca_account() -> Any:
    from snapshots.alpaca.models import AlpacaAccount

    long_value = sum(
        (Decimal(q) * Decimal(p) for q, _, p, _, _, _ in POSITIONS.values() if Decimal(q) > 0),
        Decimal(0),
    )
    short_value = sum(
        (Decimal(q) * Decimal(p) for q, _, p, _, _, _ in POSITIONS.values() if Decimal(q) < 0),
        Decimal(0),
    )
    equity = CASH + long_value + short_value
    initial = (long_value - short_value) / 2
    return AlpacaAccount(
        id=ACCOUNT_ID,
        account_number="PA3FX7Q2M9KD",
        status="ACTIVE",
        currency="USD",
        cash=CASH,
        equity=equity,
        last_equity=Decimal("9598.37"),
        buying_power=(equity - initial) * 2,
        regt_buying_power=(equity - initial) * 2,
        non_marginable_buying_power=Decimal(0),
        long_market_value=long_value,
        short_market_value=short_value,
        portfolio_value=equity,
        # Alpaca dropped fields without notice (2026-07-06): since 1.1 they may be missing.
        initial_margin=None,
        maintenance_margin=None,
        last_maintenance_margin=Decimal("3452.1"),
        sma=Decimal("1250.5"),
        multiplier=Decimal(2),
        accrued_fees=Decimal(0),
        pending_transfer_in=Decimal(0),
        pending_transfer_out=Decimal("0.000"),
        daytrade_count=0,
        pattern_day_trader=False,
        trading_blocked=False,
        transfers_blocked=False,
        account_blocked=False,
        shorting_enabled=True,
        created_at=datetime(2025, 2, 14, 16, 20, 31, 518734, tzinfo=UTC),
    )


def _order(n: int, **fields: Any) -> Any:
    from snapshots.alpaca.models import AlpacaOrder

    submitted: datetime = fields.pop("submitted_at")
    data: dict[str, Any] = {
        "id": _uuid(n),
        "client_order_id": f"alchemiser-{n:04d}",
        "asset_id": _uuid(900 + sorted(POSITIONS).index(fields["symbol"]))
        if fields.get("symbol") in POSITIONS
        else _uuid(950),
        "asset_class": "us_equity",
        "order_class": "simple",
        "time_in_force": "day",
        "submitted_at": submitted,
        "created_at": submitted,
        "updated_at": fields.get("filled_at") or submitted + timedelta(milliseconds=40),
        **fields,
    }
    return AlpacaOrder.model_validate(data)


def alpaca_orders() -> list[Any]:
    def filled(n: int, symbol: str, side: str, qty: str, price: str, at: datetime, **more: Any):
        return _order(
            n,
            symbol=symbol,
            side=side,
            type=more.pop("type", "market"),
            status="filled",
            qty=qty,
            filled_qty=qty,
            filled_avg_price=price,
            submitted_at=at - timedelta(milliseconds=300),
            filled_at=at,
            **more,
        )

    fills = {
        n: (symbol, side.lower(), qty, price, at)
        for n, symbol, side, qty, price, at, *_ in fills_of()
    }
    oco_submitted = _at(4, 14, 46, 1)
    return [
        filled(11, *fills[11]),
        # A notional (fractional) buy: Alpaca sends qty null and the notional.
        _order(
            12,
            symbol="AAPL",
            side="buy",
            type="market",
            status="filled",
            notional="114.45",
            filled_qty="0.5",
            filled_avg_price="228.9",
            submitted_at=fills[12][4] - timedelta(milliseconds=120),
            filled_at=fills[12][4],
        ),
        # The MSFT limit sell replaced an earlier one (a price change).
        _order(
            20,
            symbol="MSFT",
            side="sell",
            type="limit",
            status="replaced",
            qty="7",
            filled_qty="0",
            limit_price="420",
            submitted_at=_at(5, 14, 0),
            replaced_at=_at(5, 15, 9, 59, 900_000),
            replaced_by=_uuid(13),
        ),
        filled(
            13,
            *fills[13],
            type="limit",
            limit_price="418",
            replaces=_uuid(20),
            time_in_force="gtc",
        ),
        # Rejected: not enough buying power for the order.
        _order(
            21,
            symbol="NVDA",
            side="buy",
            type="limit",
            status="rejected",
            qty="1000",
            filled_qty="0",
            limit_price="120.5",
            submitted_at=_at(6, 13, 45, 0, 1),
            failed_at=_at(6, 13, 45, 0, 2),
            extended_hours=True,
        ),
        # An open OCO exit holding all of AAPL: take profit at 235, stop loss at 220.
        _order(
            22,
            symbol="AAPL",
            side="sell",
            type="limit",
            order_class="oco",
            time_in_force="gtc",
            status="new",
            qty="4.5",
            filled_qty="0",
            limit_price="235",
            submitted_at=oco_submitted,
            legs=(
                _order(
                    23,
                    symbol="AAPL",
                    side="sell",
                    type="stop",
                    order_class="oco",
                    time_in_force="gtc",
                    status="held",
                    qty="4.5",
                    filled_qty="0",
                    stop_price="220",
                    submitted_at=oco_submitted,
                ),
            ),
        ),
        # A day order that expired at the close.
        _order(
            24,
            symbol="SPY",
            side="buy",
            type="stop_limit",
            status="expired",
            qty="5",
            filled_qty=None,  # since 1.1: Alpaca may leave it out
            client_order_id=None,
            time_in_force=None,
            limit_price="277.5",
            stop_price="277.25",
            submitted_at=_at(7, 15, 0),
            expired_at=_at(7, 20, 0, 0, 123),
            canceled_at=None,
        ),
        # Canceled by the bot before anything filled.
        _order(
            25,
            symbol="GLD",
            side="sell",
            type="limit",
            status="canceled",
            qty="3",
            filled_qty="0",
            limit_price="240",
            submitted_at=_at(7, 16, 0),
            canceled_at=_at(7, 16, 5, 30),
        ),
        filled(14, *fills[14]),
        # Since 1.6: the crypto round trip (Alpaca's pair spelling, good-till-canceled).
        *(
            filled(n, *fills[n], asset_class="crypto", time_in_force="gtc")
            for n in sorted(fills)
            if n in (15, 16)
        ),
        # Since 1.7: the call.
        *(filled(n, *fills[n], asset_class="us_option") for n in sorted(fills) if n == 17),
        # Since 1.8: BTC for dollars, then ETH for BTC (the price in BTC, as Alpaca's order).
        *(
            filled(n, *fills[n], asset_class="crypto", time_in_force="gtc")
            for n in sorted(fills)
            if n in (18, 19)
        ),
    ]


def fee_activities() -> list[Any]:
    """REG (SEC, on notional) and TAF (FINRA, per share) rows, posted the next business day.

    The window is the period, so it holds the rows of the sells of 31 Jul (fill 5), 3 Aug
    (fill 11) and 5 Aug (fill 13); those of 7 Aug (fill 14) post on 10 Aug, outside it.
    """
    from snapshots.alpaca.models import FeeActivity

    rows = []
    for n, posted, symbol, qty, reg, taf in (
        (5, _at(3, 8, 1, 23, 456_000), "NVDA", "10", "-0.04", "-0.01"),
        (11, _at(4, 8, 1, 19, 7_000), "AAPL", "6", "-0.04", "-0.01"),
        (13, _at(6, 8, 2, 0), "MSFT", "7", "-0.09", "-0.01"),
    ):
        stamp = posted.strftime("%Y%m%d%H%M%S") + f"{posted.microsecond // 1000:03d}"
        for offset, sub_type, amount, per_share, description in (
            (0, "REG", reg, None, "SEC regulatory fee"),
            (1, "TAF", taf, "0.000166", "FINRA trading activity fee \u2014 TAF"),
        ):
            rows.append(
                FeeActivity(
                    id=f"{stamp}::{_uuid(500 + 2 * n + offset)}",
                    activity_type="FEE",
                    activity_sub_type=sub_type,
                    date=posted.date(),
                    created_at=posted,
                    net_amount=Decimal(amount),
                    symbol=symbol,
                    qty=Decimal(qty),
                    per_share_amount=None if per_share is None else Decimal(per_share),
                    description=description,
                    status="executed",
                )
            )
    # Since 1.6: the ETH sell's fee, in dollars (a CFEE row: no sub type, symbol or qty).
    sold_at = CRYPTO_FILLS[1][5]
    rows.append(
        FeeActivity.from_api(
            {
                "id": f"20260807000000000::{_uuid(560)}",
                "activity_type": "CFEE",
                "date": "2026-08-07",
                "created_at": sold_at.isoformat(),
                "net_amount": "-0.24",
                "description": "Coin Pair Transaction Fee (USD)",
                "status": "executed",
                "currency": "USD",
            }
        )
    )
    return sorted(rows, key=lambda f: (f.created_at, f.id))


def equity_series() -> list[Any]:
    from snapshots.alpaca.models import EquityPoint

    base = Decimal("9500")
    points = []
    for day, equity in (
        (3, "9512.4"),
        (4, "9547.05"),
        (5, "9561.8"),
        (6, "9598.37"),
        (7, "9620.9"),
    ):
        value = Decimal(equity)
        missing = day == 5  # since 1.1: a day Alpaca sent as null in every array
        points.append(
            EquityPoint(
                timestamp=datetime(2026, 8, day, tzinfo=UTC),
                equity=None if missing else value,
                profit_loss=None if missing else value - base,
                # Alpaca sends null for the first day of a history.
                profit_loss_pct=None
                if day == 3 or missing
                else Decimal(_ratio(value - base, base)),
            )
        )
    return points


#: Since 1.4: the lookback before the period, its daily equity and the benchmark's closes.
LOOKBACK_DAYS = 14


def equity_history() -> list[Any]:
    """Weekday samples of 20-31 July (after the 27 July deposit of 500 the equity jumps)."""
    from snapshots.alpaca.models import EquityPoint

    base = Decimal("9500")
    values = {
        20: "8950.2",
        21: "8991.75",
        22: "8964.1",
        23: "9012.8",
        24: "9020.05",
        27: "9533.4",
        28: "9498.65",
        29: "9541.3",
        30: "9470.9",
        31: "9493.15",
    }
    return [
        EquityPoint(
            timestamp=datetime(2026, 7, day, tzinfo=UTC),
            equity=Decimal(value),
            profit_loss=Decimal(value) - base,
            profit_loss_pct=Decimal(_ratio(Decimal(value) - base, base)),
        )
        for day, value in values.items()
    ]


def benchmark() -> Any:
    """SPY's daily closes (split-adjusted) over the lookback and the period."""
    from snapshots.alpaca.models import Benchmark, DailyClose

    closes = {
        (7, 20): "275.1",
        (7, 21): "276.42",
        (7, 22): "275.8",
        (7, 23): "277.35",
        (7, 24): "277.9",
        (7, 27): "278.6",
        (7, 28): "277.45",
        (7, 29): "279.1",
        (7, 30): "276.8",
        (7, 31): "277.6",
        (8, 3): "278.95",
        (8, 4): "279.4",
        (8, 5): "280.05",
        (8, 6): "280.9",
        (8, 7): "280.525",
    }
    return Benchmark(
        symbol="SPY",
        closes=tuple(
            DailyClose(day=datetime(2026, m, d, tzinfo=UTC).date(), close=Decimal(c))
            for (m, d), c in closes.items()
        ),
    )


def fixture_body() -> Any:
    """The unsealed snapshot of the fixtures, its integrity checks computed from its data."""
    from snapshots.alpaca.models import AlpacaData
    from snapshots.integrity import run_integrity_checks
    from snapshots.schema import compose_snapshot

    alpaca = AlpacaData(
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        fee_window_start=PERIOD_START,
        fee_window_end=PERIOD_END,
        account=alpaca_account(),
        positions=tuple(alpaca_positions()),
        orders=tuple(alpaca_orders()),
        fees=tuple(fee_activities()),
        filled_order_ids=tuple(_uuid(n) for n in (11, 12, 13, 14, 15, 16)),
        equity=tuple(equity_series()),
        activities=tuple(account_activities()),
        history_start=PERIOD_START - timedelta(days=LOOKBACK_DAYS),
        history=tuple(equity_history()),
        benchmark=benchmark(),
    )
    view = account_view()
    return compose_snapshot(
        account_id=ACCOUNT_ID,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        correlation_id=CORRELATION_ID,
        alpaca=alpaca,
        internal_ledger=view.internal_ledger,
        integrity_checks=run_integrity_checks(alpaca, view),
        history_cash_flows=history_events(),
    )


# Storing and dumping ------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """A boto3 attribute value as JSON: ``B`` (bytes) base64, sets and maps recursively."""
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode("ascii") for b in inner]}
    if kind == "M":
        return {"M": {k: _json_value(v) for k, v in sorted(inner.items())}}
    if kind == "L":
        return {"L": [_json_value(v) for v in inner]}
    return {kind: inner}


def stored_items(key: bytes | None) -> list[dict[str, Any]]:
    """Seal with ``key``, store on embedded moto at ``STORED_AT``, return the raw items."""
    import boto3

    from ledger_store import keys
    from ledger_store.bootstrap import create_table
    from ledger_store.config import TableSettings
    from ledger_store.embedded import embedded_aws
    from ledger_store.snapshot_store import AccountSnapshotRepository
    from snapshots.records import snapshot_record
    from snapshots.schema import seal

    snapshot = seal(fixture_body(), key)
    with embedded_aws() as region:
        settings = TableSettings(table_name=LEDGER_ID, region=region)
        create_table(settings)
        store = AccountSnapshotRepository(settings, hmac_key=key, clock=lambda: STORED_AT)
        result = store.put(snapshot_record(snapshot))
        assert result.status == "created", result.status
        client = boto3.client("dynamodb", region_name=region)
        items: list[dict[str, Any]] = []
        for pk in (
            keys.snapshot_pk(ACCOUNT_ID),
            keys.snapshot_chunk_pk(ACCOUNT_ID, PERIOD_END),
        ):
            pages = client.get_paginator("query").paginate(
                TableName=LEDGER_ID,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ConsistentRead=True,
            )
            items.extend(item for page in pages for item in page["Items"])
    return [{name: _json_value(item[name]) for name in sorted(item)} for item in items]


def fixture_document(key: bytes | None) -> dict[str, Any]:
    algorithm = "HMAC-SHA-256 with the key b'fixture-key'" if key else "plain SHA-256"
    return {
        "description": (
            f"A snapshot_version {SNAPSHOT_VERSION} account snapshot exactly as "
            "AccountSnapshotRepository "
            f"stored it (sealed with {algorithm}), as DynamoDB attribute values; 'B' values "
            "are base64. A released-version record: never regenerate or edit it."
        ),
        "generator": "scripts/make_snapshot_fixture.py",
        "stored_at": STORED_AT.isoformat().replace("+00:00", "Z"),
        "items": stored_items(key),
    }


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare with the committed files")
    mode.add_argument("--force", action="store_true", help="overwrite existing fixture files")
    args = parser.parse_args(argv)
    sha256_text = render(fixture_document(None))
    header = json.loads(sha256_text)["items"][0]
    outputs = {
        SHA256_FIXTURE: sha256_text.encode("utf-8"),
        HMAC_FIXTURE: render(fixture_document(HMAC_KEY)).encode("utf-8"),
        BODY_FIXTURE: zlib.decompress(base64.b64decode(header["body"]["B"])),
    }
    status = 0
    for path, data in outputs.items():
        name = path.relative_to(ROOT)
        if args.check:
            same = path.exists() and path.read_bytes() == data
            print(f"{name}: {'reproduced exactly' if same else 'DIFFERS from this code'}")
            status |= 0 if same else 1
            continue
        if path.exists() and not args.force:
            print(f"{name} exists; released fixtures are never regenerated (--force to overwrite)")
            status = 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {name} ({len(data):,} bytes)")
    print(f"snapshot_id {header['snapshot_id']['S']}, sha256 checksum {header['checksum']['S']}")
    return status


if __name__ == "__main__":
    sys.exit(main())
