"""Readers support every released ``snapshot_version``: the committed items of each keep loading.

For each version ``v`` (``1_0``, ``1_1``, ...), ``tests/fixtures/snapshot_v{v}_item.json``
(SHA-256) and ``snapshot_v{v}_item_hmac.json`` (HMAC-SHA-256 with the key ``b"fixture-key"``,
i.e. ``SNAPSHOT_HMAC_KEY=fixture-key``) are the DynamoDB items ``AccountSnapshotRepository``
wrote for one fully populated snapshot when that version was released
(``scripts/make_snapshot_fixture.py``); ``snapshot_v{v}_body.json`` is their decompressed body,
byte for byte. They are records, never regenerated: if a test here fails, the code changed how
a released version is read or canonicalised, and that is the bug (a new schema or canonical
rule needs a new ``snapshot_version``, with the old ones still readable). Every test runs for
every version; what differs between them is stated in ``VERSIONS``.

The items were stored at ``STORED_AT``, so their ``ttl`` (90 days later) has passed in real
time: every repository here reads with a clock injected just after ``STORED_AT``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.digests import digest_sum, digest_text
from ledger_store.errors import IntegrityError, NotFoundError
from ledger_store.snapshot_store import AccountSnapshotRepository, SnapshotRecord, StoredSnapshot
from snapshots import canonical
from snapshots.records import snapshot_from_record
from snapshots.report.pdf import render_report
from snapshots.schema import (
    SNAPSHOT_VERSION,
    SUPPORTED_VERSIONS,
    AccountSnapshot,
    AccountSnapshotV12,
    AccountSnapshotV13,
    AccountSnapshotV14,
    AccountSnapshotV15,
    AccountSnapshotV16,
    AccountSnapshotV17,
    AccountSnapshotV18,
    AnySnapshot,
    CheckStatus,
    body_bytes,
    load_snapshot,
    parse_snapshot,
    seal,
    snapshot_bytes,
)
from tests.builders import ROOT, load_script, put_raw

FIXTURES = ROOT / "tests" / "fixtures"
HMAC_KEY = b"fixture-key"


@dataclass(frozen=True)
class Version:
    """One released version's fixture files and checksums."""

    version: str
    sha256_checksum: str
    hmac_checksum: str

    @property
    def tag(self) -> str:
        return self.version.replace(".", "_")

    @property
    def sha256_item(self) -> Path:
        return FIXTURES / f"snapshot_v{self.tag}_item.json"

    @property
    def hmac_item(self) -> Path:
        return FIXTURES / f"snapshot_v{self.tag}_item_hmac.json"

    @property
    def body(self) -> Path:
        return FIXTURES / f"snapshot_v{self.tag}_body.json"


VERSIONS = [
    Version(
        "1.0",
        "2ea619724fdd2db1aab911223afcc056a1f26b917cd721c53e86f7c2d1f2cd3b",
        "50e4e030eab8034526c8e7f5cf656fba3ab1769fba743f60d2f6fd8ff22f61da",
    ),
    Version(
        "1.1",
        "0be605536331129cb2795fbaa7bff0010f567d1a5713b94465da4173776a3dde",
        "5a023e7180205e2489517efd8a078c5738a531193ca7f72e946c0e67f936bc8f",
    ),
    Version(
        "1.2",
        "a1872373b69f33b57a2c8973a23605d54729c7459dbc0dbf3d7ff7ee8419ce67",
        "9ed8e32e0f50bb8b305949cc987523af79d90f07f76493ced8aa9a9057f3412c",
    ),
    Version(
        "1.3",
        "d7cfb6c2afc3986aac35f3028e9cd0388f82f4ab532554f3cf6e72ad910ecad7",
        "e8bcbd051464da12631837c5d2a12c8998759ba7a72998b157273c5aa2e93565",
    ),
    Version(
        "1.4",
        "d42bf8116247443a65ca6e1ba0afd2858282500663e7ac3c8c7d43c30b60b6dc",
        "c9f0da82dd0f55ce9108dbef086d01477bdbd7aaba7a9f52d4219bebaab185d5",
    ),
    Version(
        "1.5",
        "4d46ccd34a4e82088016d1e015090958aaf1dcf74c651ddfc6c4acbfe51031c5",
        "7b284f1319583a6481a1f91fcc33152c364184e27e28f1f202996bcd4d0bbf21",
    ),
    Version(
        "1.6",
        "8e1a7154d2dbc4db959c88df332d132d9ae66b0bf5628a8175a81cfbd49961a6",
        "38ef696fdd200e3ee7716f8ddb1e063d9cb6d6cd137e29f33976f48cefe9f8c1",
    ),
    Version(
        "1.7",
        "8448646e4bcb00d7d21fd2dad20b4a75a48ea220992cd1f0aabe46ff26ed7603",
        "5bc69bc0363db0f66867ccbfe756666a4669bf28be92d6a543c176b3f2a58a33",
    ),
    Version(
        "1.8",
        "8a28e4add9143b0792d028e1a9800652905ae510ddca3bc500a4ae9fc5be557a",
        "3c65e8292493fa1327f10495bd43c90200bcfc9e94862adfc62fb2c145accf6c",
    ),
]


@pytest.fixture(params=VERSIONS, ids=[v.version for v in VERSIONS])
def released(request: pytest.FixtureRequest) -> Version:
    return request.param  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Case:
    """A fixture item read with the key its checksum needs."""

    path: Path
    key: bytes | None
    checksum: str
    algorithm: str


def cases(version: Version) -> list[Case]:
    return [
        Case(version.sha256_item, None, version.sha256_checksum, "sha256"),
        Case(version.hmac_item, HMAC_KEY, version.hmac_checksum, "hmac-sha256"),
    ]


@pytest.fixture(params=["sha256", "hmac"])
def case(request: pytest.FixtureRequest, released: Version) -> Case:
    return cases(released)[0 if request.param == "sha256" else 1]


ACCOUNT_ID = "5a3f9c2e-8b1d-4e6f-a7c0-2d9e4b6f8a13"
CORRELATION_ID = "cycle-2026-08-07"
PERIOD_START = datetime(2026, 8, 3, tzinfo=UTC)
PERIOD_END = datetime(2026, 8, 8, tzinfo=UTC)
SNAPSHOT_ID = "9b1b741b-bee1-52e6-9a36-d092c83b5a26"
#: The repository's clock when it wrote the items (whole seconds: it drops the fraction).
STORED_AT = datetime(2026, 8, 8, 0, 0, 7, tzinfo=UTC)
#: When the tests read them: long before their ttl, whatever today's date is.
READ_AT = STORED_AT + timedelta(minutes=5)


def load_items(path: Path) -> list[dict[str, Any]]:
    """The fixture's items as the boto3 client takes them (``B`` values back to bytes)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return [{name: _attribute(value) for name, value in item.items()} for item in document["items"]]


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner, validate=True)}
    return {kind: inner}


def stored_body(path: Path) -> bytes:
    """The decompressed ``body`` attribute of the fixture's snapshot item."""
    (item,) = load_items(path)
    return zlib.decompress(item["body"]["B"])


def repository(
    settings: TableSettings, key: bytes | None, now: datetime = READ_AT
) -> AccountSnapshotRepository:
    return AccountSnapshotRepository(settings, hmac_key=key, clock=lambda: now)


def read_snapshot(settings: TableSettings, key: bytes | None) -> AnySnapshot:
    """What a report step does: get the stored record, then parse and verify the snapshot."""
    stored = repository(settings, key).get(ACCOUNT_ID, PERIOD_END)
    return snapshot_from_record(stored.record, key)


def record_of(path: Path, body: bytes | None = None) -> SnapshotRecord:
    """The ``SnapshotRecord`` a reader rebuilds from the fixture item (without a table)."""
    (item,) = load_items(path)
    return SnapshotRecord(
        account_id=item["account_id"]["S"],
        period_start=datetime.fromisoformat(item["period_start"]["S"]),
        period_end=datetime.fromisoformat(item["period_end"]["S"]),
        snapshot_id=item["snapshot_id"]["S"],
        snapshot_version=item["snapshot_version"]["S"],
        correlation_id=item["correlation_id"]["S"],
        checksum=item["checksum"]["S"],
        checksum_algorithm=item["checksum_algorithm"]["S"],
        body=stored_body(path) if body is None else body,
    )


def tampered(item: dict[str, Any], old: bytes, new: bytes) -> dict[str, Any]:
    """``item`` with one edit in its decompressed body, recompressed; metadata untouched."""
    assert len(old) == len(new)
    body = zlib.decompress(item["body"]["B"])
    assert body.count(old) == 1, old
    edited = body.replace(old, new)
    assert sum(a != b for a, b in zip(body, edited, strict=True)) == 1  # exactly one byte
    return {**item, "body": {"B": zlib.compress(edited, 9)}}


def assert_is_the_fixture_snapshot(
    snapshot: AnySnapshot, checksum: str, algorithm: str, version: str
) -> None:
    assert snapshot.snapshot_id == SNAPSHOT_ID
    assert snapshot.snapshot_version == version
    assert snapshot.checksum == checksum
    assert snapshot.checksum_algorithm == algorithm
    assert snapshot.account_id == ACCOUNT_ID
    assert snapshot.correlation_id == CORRELATION_ID
    assert (snapshot.period_start, snapshot.period_end) == (PERIOD_START, PERIOD_END)
    assert (snapshot.fee_window_start, snapshot.fee_window_end) == (PERIOD_START, PERIOD_END)

    account = snapshot.alpaca_account
    crypto = version >= "1.6"  # since 1.6 the account also traded ETH
    options = version >= "1.7"  # since 1.7 a call, exercised into 100 KO
    crossed = version >= "1.8"  # since 1.8 BTC bought, and ETH bought with it (ETH/BTC)
    cash, equity_, long_value = {
        "1.8": ("-9334.3275", "9664.287472", "19833.614972"),
        "1.7": ("-8719.3275", "9657.469972", "19211.797472"),
        "1.6": ("-2594.3275", "9622.469972", "13051.797472"),
    }.get(version, ("-2500.75", "9620.9", "12956.65"))
    assert account.cash == Decimal(cash)  # margin: negative
    assert account.equity == Decimal(equity_)
    assert account.long_market_value == Decimal(long_value)
    assert account.short_market_value == Decimal("-835")
    assert account.accrued_fees == Decimal(0)
    assert account.daytrade_count == 0
    assert account.created_at == datetime(2025, 2, 14, 16, 20, 31, 518734, tzinfo=UTC)

    positions = {p.symbol: p for p in snapshot.alpaca_positions}
    assert list(positions) == sorted(
        ["AAPL", "GLD", "MSFT", "SPY"]
        + (["ETHUSD"] if crypto else [])
        + (["KO"] if options else [])
        + (["BTCUSD"] if crossed else [])
    )
    assert (positions["MSFT"].side, positions["MSFT"].qty) == ("short", Decimal(-2))
    assert positions["MSFT"].cost_basis == Decimal("-836.4")
    assert positions["AAPL"].qty == Decimal("4.5")
    assert positions["AAPL"].qty_available == Decimal(0)
    assert positions["AAPL"].avg_entry_price == Decimal("226.6777777778")
    assert positions["SPY"].unrealized_intraday_pl == Decimal(0)

    orders = snapshot.alpaca_orders
    assert len(orders) == 9 + (2 if crypto else 0) + (1 if options else 0) + 2 * crossed
    assert [o.submitted_at for o in orders] == sorted(o.submitted_at for o in orders)
    assert sorted(o.status for o in orders) == [
        "canceled",
        "expired",
        *["filled"] * (4 + (2 if crypto else 0) + (1 if options else 0) + 2 * crossed),
        "new",
        "rejected",
        "replaced",
    ]
    (oco,) = (o for o in orders if o.order_class == "oco")
    assert [(leg.type, leg.stop_price) for leg in oco.legs] == [("stop", Decimal(220))]
    notional = next(o for o in orders if o.notional is not None)
    assert (notional.qty, notional.notional, notional.filled_qty) == (
        None,
        Decimal("114.45"),
        Decimal("0.5"),
    )

    fees = snapshot.alpaca_fees
    # Since 1.6 the ETH sell's dollar fee (CFEE, no sub type) is one of them.
    assert [f.activity_sub_type for f in fees] == ["REG", "TAF"] * 3 + ([None] if crypto else [])
    assert sum((f.net_amount for f in fees), Decimal(0)) == Decimal("-0.44" if crypto else "-0.2")
    assert fees[1].description == "FINRA trading activity fee \u2014 TAF"

    equity = snapshot.equity_series
    assert [p.timestamp.day for p in equity] == [3, 4, 5, 6, 7]
    assert equity[0].profit_loss_pct is None
    assert equity[-1].equity == Decimal("9620.9")

    if version >= "1.2":
        assert_is_the_v1_2_ledger(snapshot, version)
        if version >= "1.3":
            assert_carries_its_digests(snapshot)
        if version >= "1.4":
            assert_has_its_history(snapshot)
        if version >= "1.5":
            assert_reads_alpaca_as_it_is(snapshot)
        if version >= "1.6":
            assert_reads_crypto_fees(snapshot)
        if version >= "1.7":
            assert_reads_option_exercises(snapshot)
        if version >= "1.8":
            assert_values_crossed_pairs_in_usd(snapshot)
        return
    assert positions["SPY"].qty == Decimal(20)
    assert isinstance(snapshot, AccountSnapshot)
    ledger = snapshot.internal_ledger
    assert ledger.ledger_id == "alchemiser-trade-ledger-prod"
    assert ledger.total_trades == 4
    assert ledger.total_buy_value == Decimal("114.45")
    assert ledger.total_sell_value == Decimal("7932.3")
    assert ledger.total_fees == Decimal("0.27")
    assert ledger.strategies_active == ("mean_reversion", "momentum", "trend_following")
    momentum = ledger.strategy_performance["momentum"]
    assert momentum.realized_pnl == Decimal("72.4")
    assert momentum.period.realized_pnl == Decimal("66.65")
    assert [(o.symbol, o.unmatched_qty) for o in momentum.oversells] == [("MSFT", Decimal(2))]
    assert [(lot.symbol, lot.qty) for lot in momentum.open_lots] == [("AAPL", Decimal("2.4"))]
    assert ledger.strategy_performance["trend_following"].gross_pnl == Decimal("-11676.09")

    assert {c.name: c.status for c in snapshot.integrity_checks} == {
        "equity_matches_balances": CheckStatus.PASS,
        "fills_match_orders": CheckStatus.PASS,
        "positions_match_ledger": CheckStatus.FAIL,
        "strategy_totals_match_ledger": CheckStatus.WARN,
    }
    positions_check = snapshot.integrity_checks[2]
    assert positions_check.message.startswith("GLD: Alpaca 3, ledger 0\nMSFT")
    assert positions_check.details["GLD"] == "3 \u2260 0"

    # What the versions differ in.
    fills_check = snapshot.integrity_checks[1]
    expired = next(o for o in orders if o.status == "expired")
    if version == "1.0":
        assert fills_check.details["alpaca_filled_orders"] == "4"  # counts as text
        assert account.initial_margin == Decimal("6895.825")
        assert expired.filled_qty == 0
        assert positions["GLD"].cost_basis == Decimal("695.7")
        assert all(p.equity is not None for p in equity)
    else:
        assert_is_without_the_fields_alpaca_dropped(snapshot)


def assert_is_without_the_fields_alpaca_dropped(snapshot: AnySnapshot) -> None:
    """Since 1.1: integer counts in check details, Alpaca's optional fields missing."""
    fills_check = next(c for c in snapshot.integrity_checks if "fills" in c.name)
    crypto_fills = 2 if snapshot.snapshot_version >= "1.6" else 0
    option_fills = 1 if snapshot.snapshot_version >= "1.7" else 0
    crossed_fills = 2 if snapshot.snapshot_version >= "1.8" else 0
    filled = 4 + crypto_fills + option_fills + crossed_fills
    assert fills_check.details["alpaca_filled_orders"] == filled  # counts as integers
    account = snapshot.alpaca_account
    assert (account.initial_margin, account.maintenance_margin) == (None, None)
    expired = next(o for o in snapshot.alpaca_orders if o.status == "expired")
    assert (expired.filled_qty, expired.client_order_id, expired.time_in_force) == (
        None,
        None,
        None,
    )
    gld = next(p for p in snapshot.alpaca_positions if p.symbol == "GLD")
    assert (gld.cost_basis, gld.avg_entry_price) == (None, None)
    assert [p.timestamp.day for p in snapshot.equity_series if p.equity is None] == [5]


def assert_is_the_v1_2_ledger(snapshot: AnySnapshot, version: str) -> None:
    """1.2: the account ledger of signed lots and events, Alpaca's activities, five checks."""
    assert isinstance(snapshot, AccountSnapshotV12)
    assert_is_without_the_fields_alpaca_dropped(snapshot)
    spy = next(p for p in snapshot.alpaca_positions if p.symbol == "SPY")
    assert (spy.qty, spy.current_price) == (Decimal(40), Decimal("280.525"))  # split 2-for-1
    since_1_5 = ["CSW", "JNLC"] if version >= "1.5" else []
    since_1_6 = ["CFEE"] if version >= "1.6" else []
    since_1_7 = ["OPEXC", "OPTRD"] if version >= "1.7" else []
    assert [a.activity_type for a in snapshot.alpaca_activities] == [
        "CSD",
        "SSP",
        "SSP",
        *since_1_5,
        "DIV",
        *since_1_6,
        *since_1_7,
        "REORG",
    ]
    ledger = snapshot.internal_ledger
    assert ledger.ledger_id == "alchemiser-trade-ledger-prod"
    # Since 1.6 the ETH round trip: bought 0.1 at 1,884.50, sold 0.05 at 1,902.25, fee 0.24.
    crypto = version >= "1.6"
    eth_price = Decimal("1888.181954811883172186")  # 188.45 / 0.099805, to 18 places
    places = Decimal("1e-18")  # the ledger rounds P&L to 18 places
    eth_gain = (Decimal("0.05") * (Decimal("1902.25") - eth_price)).quantize(places)
    eth_unrealized = (Decimal("0.049805") * (Decimal("1910.4") - eth_price)).quantize(places)
    options = version >= "1.7"  # the call bought for 125
    # Since 1.8: 0.01 BTC for 615, then 0.05 ETH for 0.001525 BTC at 61,800 USD a BTC: 94.245
    # bought (ETH) and sold (BTC); the BTC lot (61,500) realises 0.001525 x 300 = 0.4575.
    crossed = version >= "1.8"
    assert (ledger.total_trades, ledger.total_fees) == (
        (6 + options + 2 * crossed, Decimal("0.51")) if crypto else (4, Decimal("0.27"))
    )
    assert (ledger.total_buy_value, ledger.total_sell_value) == (
        Decimal("302.9") + (125 if options else 0) + (Decimal("709.245") if crossed else 0)
        if crypto
        else Decimal("114.45"),
        Decimal("8027.4125") + (Decimal("94.245") if crossed else 0)
        if crypto
        else Decimal("7932.3"),
    )
    assert ledger.strategies_active == ("mean_reversion", "momentum", "trend_following")
    momentum = ledger.strategy_performance["momentum"]
    gain = (eth_gain if crypto else Decimal(0)) + (Decimal("0.4575") if crossed else 0)
    assert (momentum.realized_pnl, momentum.period.realized_pnl) == (
        Decimal("72.4") + gain,
        Decimal("66.65") + gain,
    )
    # The MSFT oversell of 1.0/1.1 is a short lot; the AAPL dividend is shared pro rata.
    eth = [("ETH/USD", "long", Decimal("0.049805"))] if crypto else []
    if crossed:
        eth = [
            ("BTC/USD", "long", Decimal("0.008475")),
            *eth,
            ("ETH/USD", "long", Decimal("0.05")),
        ]
    assert [(lot.symbol, lot.side, lot.qty) for lot in momentum.open_lots] == [
        ("AAPL", "long", Decimal("2.4")),
        *eth,
        ("MSFT", "short", Decimal(2)),
    ]
    assert momentum.dividends == Decimal("0.624")
    fees = Decimal("0.24") if crypto else Decimal(0)
    assert momentum.net_realized_pnl == Decimal("72.809") + gain - fees  # 72.4 + 0.624 - 0.215
    # 1.8: BTC 0.008475 x (62,100 - 61,500) + ETH 0.05 x (1,910.40 - 1,884.90)
    unrealized = (
        Decimal("10.28")
        + (eth_unrealized if crypto else 0)
        + (Decimal("5.085") + Decimal("1.275") if crossed else 0)
    )
    assert (momentum.unrealized_pnl, momentum.total_pnl) == (
        unrealized,
        Decimal("72.809") + gain - fees + unrealized,
    )
    trend = ledger.strategy_performance["trend_following"]
    assert trend.net_cash_flow == Decimal("-11676.09")  # 1.0/1.1's gross_pnl, renamed
    assert trend.dividends == Decimal("0.546")
    spy_lot = next(lot for lot in trend.open_lots if lot.symbol == "SPY")
    assert (spy_lot.qty, spy_lot.price) == (Decimal(40), Decimal("280.15"))  # cost unchanged
    assert {name: p.revision for name, p in ledger.strategy_performance.items()} == {
        "mean_reversion": 5 if options else 4,
        "momentum": 11 if crossed else 9 if crypto else 7,
        "trend_following": 5,
    }
    # 1.5's fixture has a cash journal of 75 timed by its (New York) id.
    journal = [Decimal(75)] if version >= "1.5" else []
    assert [c.amount for c in ledger.cash_flows] == [Decimal(1000), *journal, Decimal(-250)]
    # From 1.4 on the fixture has a deposit of 500 in the lookback before the period.
    period = Decimal(750) + sum(journal, Decimal(0))
    cumulative = period + (Decimal(500) if version >= "1.4" else 0)
    assert (ledger.net_deposits, ledger.net_deposits_cumulative) == (period, cumulative)
    assert [(a.kind, a.symbol) for a in ledger.corporate_actions] == [("split", "SPY")]
    assert [(d.symbol, d.amount) for d in ledger.dividends] == [("AAPL", Decimal("1.17"))]
    assert (ledger.unattributed_dividends, ledger.event_count) == (
        (),
        {"1.4": 5, "1.5": 6, "1.6": 7, "1.7": 8, "1.8": 8}.get(version, 4),
    )

    assert {c.name: c.status for c in snapshot.integrity_checks} == {
        "alpaca_equity_matches_balances": CheckStatus.PASS,
        "ledger_events_match_alpaca_activities": CheckStatus.FAIL,
        "ledger_fills_match_alpaca_orders": CheckStatus.PASS,
        "ledger_positions_match_alpaca_positions": CheckStatus.WARN,
        "strategy_totals_match_ledger_totals": CheckStatus.PASS,
    }
    events_check = snapshot.integrity_checks[1]
    assert events_check.details["unreported_events"] == "wire-out-2026-08-07"
    assert str(events_check.details["missing_activities"]).endswith("(REORG GLD)")


def assert_is_the_stored_fixture(stored: StoredSnapshot, path: Path) -> None:
    assert stored.created_at == STORED_AT
    assert stored.expires_at == STORED_AT + timedelta(days=90)
    assert stored.chunk_count == 0
    (item,) = load_items(path)
    assert stored.compressed_size == len(item["body"]["B"])
    assert stored.record.body == stored_body(path)


# The stored items, read with nothing but the standard library -------------------------------


def test_the_fixture_items_are_what_the_store_wrote(released: Version) -> None:
    body = released.body.read_bytes()
    for case in cases(released):
        (item,) = load_items(case.path)
        assert item["PK"] == {"S": f"SNAPSHOT#{ACCOUNT_ID}"}
        assert item["SK"] == {"S": "SNAP#2026-08-08T00:00:00Z"}
        assert item["EntityType"] == {"S": "SNAPSHOT"}
        assert item["GSI4PK"] == {"S": f"CORR#{CORRELATION_ID}"}
        assert item["GSI4SK"] == item["SK"]
        assert item["snapshot_id"] == {"S": SNAPSHOT_ID}
        assert item["snapshot_version"] == {"S": released.version}
        assert item["checksum"] == {"S": case.checksum}
        assert item["checksum_algorithm"] == {"S": case.algorithm}
        assert item["created_at"] == {"S": "2026-08-08T00:00:07.000000Z"}
        assert item["ttl"] == {"N": str(int((STORED_AT + timedelta(days=90)).timestamp()))}
        # Items written before retention was recorded carry none (and used 90 days).
        assert item.get("retention_days") == (None if released.version == "1.0" else {"N": "90"})
        assert item["body_encoding"] == {"S": "zlib"}
        assert item["chunk_count"] == {"N": "0"}
        assert zlib.decompress(item["body"]["B"]) == body
        assert item["body_size"] == {"N": str(len(body))}
    assert hashlib.sha256(body).hexdigest() == released.sha256_checksum
    assert hmac.new(HMAC_KEY, body, hashlib.sha256).hexdigest() == released.hmac_checksum
    # The stored body is the checksummed body: neither checksum fields nor storage attributes,
    # and it is canonical as the README states it (stdlib json with these options, UTF-8).
    fields = json.loads(body)
    assert not {"checksum", "checksum_algorithm", "created_at", "ttl"} & set(fields)
    canonical_text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_text.encode("utf-8") == body


def test_every_supported_version_has_a_fixture() -> None:
    assert [v.version for v in VERSIONS] == list(SUPPORTED_VERSIONS)
    assert VERSIONS[-1].version == SNAPSHOT_VERSION
    for version in VERSIONS:
        assert version.sha256_item.exists()
        assert version.hmac_item.exists()
        assert version.body.exists()


# The current code still reads and reproduces them -------------------------------------------


def test_current_code_reproduces_the_fixture_bytes_and_checksums(released: Version) -> None:
    """Any change to the canonical rules or to a released schema's content fails here."""
    body = released.body.read_bytes()
    sha256, hmac_checksum = released.sha256_checksum, released.hmac_checksum
    snapshot = snapshot_from_record(record_of(released.sha256_item), None)
    assert body_bytes(snapshot) == body  # parse -> canonicalise gives the stored bytes back
    assert canonical.checksum(body, None) == (sha256, "sha256")
    assert canonical.checksum(body, HMAC_KEY) == (hmac_checksum, "hmac-sha256")
    assert seal(snapshot, None) == snapshot
    assert seal(snapshot, HMAC_KEY).checksum == hmac_checksum
    # The transported form (body plus checksum) reads back through every public reader.
    whole = snapshot_bytes(snapshot)
    assert parse_snapshot(whole) == snapshot
    assert load_snapshot(whole, None) == snapshot
    assert json.loads(whole) == {
        **json.loads(body),
        "checksum": sha256,
        "checksum_algorithm": "sha256",
    }
    assert_is_the_fixture_snapshot(snapshot, sha256, "sha256", released.version)


def assert_carries_its_digests(snapshot: AnySnapshot) -> None:
    """1.3: the digests of every strategy's entries and of the account's events, which are
    those of the fixture's fills and events."""
    assert isinstance(snapshot, AccountSnapshotV13)
    ledger = snapshot.internal_ledger
    fixture_script = load_script("make_snapshot_fixture")
    fills = fixture_script.ledger_fills(snapshot.snapshot_version)
    attributions = [a for fill in fills for a in fill.attributions()]
    for name, strategy in ledger.strategy_performance.items():
        mine = [a for a in attributions if a.strategy == name]
        assert strategy.entries_digest == digest_text(digest_sum(mine))
    events = fixture_script.account_events(snapshot.snapshot_version)
    if snapshot.snapshot_version >= "1.4":
        events = [*fixture_script.history_events(), *events]
    assert ledger.events_digest == digest_text(digest_sum(events))


def assert_has_its_history(snapshot: AnySnapshot) -> None:
    """1.4: fourteen days of lookback, their daily equity and deposit, and SPY's closes."""
    assert isinstance(snapshot, AccountSnapshotV14)
    assert snapshot.equity_lookback_days == 14
    assert snapshot.history_start == PERIOD_START - timedelta(days=14)
    assert [p.timestamp.day for p in snapshot.equity_history] == [
        20, 21, 22, 23, 24, 27, 28, 29, 30, 31
    ]  # fmt: skip
    assert [(c.amount, c.source) for c in snapshot.history_cash_flows] == [(Decimal(500), "CSD")]
    assert snapshot.benchmark is not None
    assert snapshot.benchmark.symbol == "SPY"
    assert len(snapshot.benchmark.closes) == 15
    assert snapshot.benchmark.closes[-1].close == Decimal("280.525")


def assert_reads_alpaca_as_it_is(snapshot: AnySnapshot) -> None:
    """1.5: an activity timed by its id alone is read in New York time, and a withdrawal
    Alpaca canceled is not booked; the events check says so."""
    assert isinstance(snapshot, AccountSnapshotV15)
    rows = {a.activity_type: a for a in snapshot.alpaca_activities}
    journal, canceled = rows["JNLC"], rows["CSW"]
    assert journal.id.startswith("20260805214000000::")  # 21:40 in New York ...
    assert journal.created_at == datetime(2026, 8, 6, 1, 40, tzinfo=UTC)  # ... 01:40 UTC
    assert journal.date.isoformat() == "2026-08-05"
    assert canceled.status == "canceled"
    ledger = snapshot.internal_ledger
    assert canceled.id not in {c.event_id for c in ledger.cash_flows}
    events_check = next(
        c for c in snapshot.integrity_checks if c.name == "ledger_events_match_alpaca_activities"
    )
    assert events_check.details["canceled_at_alpaca"] == 1
    assert "1 canceled by Alpaca and not booked" in events_check.message


def assert_reads_crypto_fees(snapshot: AnySnapshot) -> None:
    """1.6: the ETH buy's coin fee (CFEE, stamped with the fill's own time) is an asset fee
    that leaves the ledger's ETH where Alpaca's is; the sell's dollar fee is a fee."""
    assert isinstance(snapshot, AccountSnapshotV16)
    (row,) = (a for a in snapshot.alpaca_activities if a.activity_type == "CFEE")
    assert (row.symbol, row.qty, row.price) == ("ETHUSD", Decimal("-0.000195"), Decimal("1884.5"))
    ledger = snapshot.internal_ledger
    (fee,) = ledger.asset_fees
    assert (fee.event_id, fee.symbol, fee.qty) == (row.id, "ETHUSD", Decimal("0.000195"))
    assert ledger.unattributed_asset_fees == ()
    # (since 1.8 momentum also holds the ETH it bought with BTC: the round trip's lot is 15's)
    (lot,) = (
        lot
        for lot in ledger.strategy_performance["momentum"].open_lots
        if "ETH" in lot.symbol and lot.order_id.endswith("15")
    )
    # The 188.45 paid bought 0.099805 once the fee was taken; 0.049805 of them are left.
    assert lot.qty * lot.price == pytest.approx(Decimal("94.0409022594"), abs=Decimal("1e-10"))
    positions = next(
        c for c in snapshot.integrity_checks if c.name == "ledger_positions_match_alpaca_positions"
    )
    # and KO since 1.7, BTC since 1.8
    matched = {"1.6": 4, "1.7": 5}.get(snapshot.snapshot_version, 6)
    assert (positions.details["matched"], positions.details["differing"]) == (matched, 0)
    (dollar_fee,) = (f for f in snapshot.alpaca_fees if f.activity_type == "CFEE")
    assert dollar_fee.net_amount == Decimal("-0.24")


def assert_reads_option_exercises(snapshot: AnySnapshot) -> None:
    """1.7: the KO call bought at 1.25 and exercised (OPEXC with its OPTRD row) is one
    option_exercise event; mean_reversion holds 100 KO at 61.25, the strike with the premium
    folded in, and the positions and events checks count KO and both rows."""
    assert isinstance(snapshot, AccountSnapshotV17)
    rows = {a.activity_type: a for a in snapshot.alpaca_activities}
    ledger = snapshot.internal_ledger
    (exercise,) = ledger.option_exercises
    assert (exercise.event_id, exercise.trade_activity_id) == (rows["OPEXC"].id, rows["OPTRD"].id)
    assert (exercise.symbol, exercise.qty, exercise.underlying, exercise.shares) == (
        "KO260807C00060000",
        Decimal(-1),
        "KO",
        Decimal(100),
    )
    assert ledger.unattributed_option_exercises == ()
    mean_reversion = ledger.strategy_performance["mean_reversion"]
    (ko,) = (lot for lot in mean_reversion.open_lots if lot.symbol == "KO")
    assert (ko.qty, ko.price, ko.order_id) == (Decimal(100), Decimal("61.25"), exercise.event_id)
    assert "KO260807C00060000" not in {lot.symbol for lot in mean_reversion.open_lots}
    assert mean_reversion.unrealized_pnl == Decimal(35)  # 100 x (61.60 - 61.25)
    # The ETH buy's coin fee was taken from momentum's lot.
    (share,) = ledger.asset_fee_shares
    assert (share.strategy, share.symbol, share.qty) == ("momentum", "ETH/USD", Decimal("0.000195"))
    events = next(
        c for c in snapshot.integrity_checks if c.name == "ledger_events_match_alpaca_activities"
    )
    assert events.details["missing_from_ledger"] == 1  # the REORG row only


def assert_values_crossed_pairs_in_usd(snapshot: AnySnapshot) -> None:
    """1.8: ETH bought with BTC (ETH/BTC at 0.0305, a BTC worth 61,800 USD) is an ETH lot at
    1,884.90 USD and a sale of 0.001525 BTC from momentum's BTC lot, so the ledger's BTC and
    ETH agree with Alpaca's per-coin positions; the fill is listed with its rate."""
    assert isinstance(snapshot, AccountSnapshotV18)
    ledger = snapshot.internal_ledger
    (quoted,) = ledger.quoted_fills
    assert (quoted.symbol, quoted.quote_currency, quoted.price, quoted.quote_usd_rate) == (
        "ETH/BTC",
        "BTC",
        Decimal("0.0305"),
        Decimal(61800),
    )
    assert (quoted.usd_value, quoted.usd_fees) == (Decimal("94.245"), Decimal(0))
    momentum = ledger.strategy_performance["momentum"]
    lots = {(lot.symbol, lot.order_id[-2:]): (lot.qty, lot.price) for lot in momentum.open_lots}
    assert lots[("BTC/USD", "18")] == (Decimal("0.008475"), Decimal(61500))  # 0.01 - 0.001525
    assert lots[("ETH/USD", "19")] == (Decimal("0.05"), Decimal("1884.9"))  # 0.0305 x 61,800
    (btc_sale,) = (m for m in momentum.period_round_trips if m.symbol == "BTC/USD")
    assert (btc_sale.qty, btc_sale.close_price, btc_sale.realized_pnl) == (
        Decimal("0.001525"),
        Decimal(61800),
        Decimal("0.4575"),
    )
    assert "BTC/USD" in momentum.symbols_traded
    assert "ETH/BTC" not in momentum.symbols_traded
    positions = next(
        c for c in snapshot.integrity_checks if c.name == "ledger_positions_match_alpaca_positions"
    )
    assert (positions.details["matched"], positions.details["differing"]) == (6, 0)


def test_every_version_renders(released: Version) -> None:
    """The report reads every released version (the PDF bytes are pinned per version)."""
    snapshot = snapshot_from_record(record_of(released.sha256_item), None)
    rendered = render_report(snapshot)
    assert rendered.pdf.startswith(b"%PDF-")
    assert rendered.pages >= 2
    assert b"Helvetica" not in rendered.pdf  # every section names its (embedded) font
    assert rendered.sha256 == RENDERED_SHA256[released.version]


#: The PDF of each fixture: a change to the report shows up here, per version, on purpose only.
RENDERED_SHA256 = {
    "1.0": "25d92d88b06e8857981ecf3f712a4674a4195eb276131a3be5b62a8246ba46b1",
    "1.1": "9dc407214a353a9305229c16d4d853044cd4f5fc9e671d50666fcbb176846b2c",
    "1.2": "3ed34fe939a725c7f57ea51b01a6d4d9d42851066aff77108271be05a75f1b92",
    "1.3": "6405106f6e815d67162dee83411b299cc3d4a67db341484c22ebe87873286a03",
    "1.4": "f9ae7a01b722473bdd631879dad994c183e3dc1603061b46bf3ff27776bb971a",
    "1.5": "8376a628dec0c5c91078493889650b3cd184905fd373ed7bd37ca697bbf82294",
    "1.6": "d4542f9a2d9342f3fcc367a91b0ad5fdb3d1ba28971254a629811f9bcc14263d",
    "1.7": "166aa51ebbf56866c831bdce2e3b94c4ef3c2b908149dbdf00afd3e19b1059d7",
    "1.8": "71dd68548a0bd1b84031756f997d3fcfcb00a21d1951bd57b8416db51d9ea91a",
}


def test_the_stored_fixture_loads_through_the_repository(
    settings: TableSettings, released: Version, case: Case
) -> None:
    for item in load_items(case.path):
        put_raw(settings, item)
    store = repository(settings, case.key)

    stored = store.get(ACCOUNT_ID, PERIOD_END)
    assert_is_the_stored_fixture(stored, case.path)
    assert store.latest(ACCOUNT_ID) == stored
    assert list(store.range(ACCOUNT_ID, PERIOD_START, PERIOD_END + timedelta(seconds=1))) == [
        stored
    ]
    assert store.by_correlation(CORRELATION_ID) == [stored]

    snapshot = snapshot_from_record(stored.record, case.key)
    assert_is_the_fixture_snapshot(snapshot, case.checksum, case.algorithm, released.version)
    assert body_bytes(snapshot) == stored.record.body


def test_the_fixture_is_hidden_once_its_ttl_has_passed(
    settings: TableSettings, released: Version
) -> None:
    for item in load_items(released.sha256_item):
        put_raw(settings, item)
    expired = repository(settings, None, now=STORED_AT + timedelta(days=90))
    with pytest.raises(NotFoundError):
        expired.get(ACCOUNT_ID, PERIOD_END)
    with pytest.raises(NotFoundError):
        expired.latest(ACCOUNT_ID)


# Tampering is detected -----------------------------------------------------------------------

#: One changed byte each: a balance, an integrity status, a quantity of the ledger.
EDITS = [
    pytest.param(b'"cash":"-2500.75","created', b'"cash":"-2500.76","created', id="cash"),
    pytest.param(b'"status":"fail"', b'"status":"pail"', id="status"),
    pytest.param(b'"unmatched_qty":"2"}],"period"', b'"unmatched_qty":"3"}],"period"', id="qty"),
]
#: 1.2 and later have no oversells: its quantity edit changes the short MSFT lot.
EDITS_V1_2 = {b'"unmatched_qty":"2"}],"period"': b'"qty":"2","side":"short"'}


def edit_for(version: str, old: bytes, new: bytes) -> tuple[bytes, bytes]:
    if version >= "1.2" and old in EDITS_V1_2:
        return EDITS_V1_2[old], EDITS_V1_2[old].replace(b'"2"', b'"3"')
    if version >= "1.6" and old.startswith(b'"cash":"-2500.75"'):
        # Since 1.6 the account's cash also paid for ETH (and since 1.7 for KO): edit its last
        # digit the same way.
        last = new[len(b'"cash":"-2500.7') : len(b'"cash":"-2500.7') + 1]
        cash = {"1.6": b"-2594.327", "1.7": b"-8719.327"}.get(version, b"-9334.327")
        return old.replace(b"-2500.75", cash + b"5"), new.replace(b"-2500.7" + last, cash + last)
    return old, new


@pytest.mark.parametrize(("old", "new"), EDITS)
def test_one_changed_byte_in_the_stored_body_is_rejected(
    settings: TableSettings, released: Version, case: Case, old: bytes, new: bytes
) -> None:
    old, new = edit_for(released.version, old, new)
    (item,) = load_items(case.path)
    put_raw(settings, tampered(item, old, new))
    with pytest.raises(IntegrityError, match=SNAPSHOT_ID):
        repository(settings, case.key).get(ACCOUNT_ID, PERIOD_END)
    # The snapshot layer rejects it on its own too (a record that bypassed the store).
    edited = zlib.decompress(tampered(item, old, new)["body"]["B"])
    with pytest.raises(IntegrityError, match=SNAPSHOT_ID):
        snapshot_from_record(record_of(case.path, body=edited), case.key)


def test_the_hmac_fixture_needs_its_key(settings: TableSettings, released: Version) -> None:
    for item in load_items(released.hmac_item):
        put_raw(settings, item)
    with pytest.raises(IntegrityError, match="SNAPSHOT_HMAC_KEY"):
        repository(settings, None).get(ACCOUNT_ID, PERIOD_END)
    with pytest.raises(IntegrityError, match=released.hmac_checksum):
        repository(settings, b"another-key").get(ACCOUNT_ID, PERIOD_END)
    record = repository(settings, HMAC_KEY).get(ACCOUNT_ID, PERIOD_END).record
    with pytest.raises(IntegrityError, match=SNAPSHOT_ID):
        snapshot_from_record(record, None)
    with pytest.raises(IntegrityError, match=SNAPSHOT_ID):
        snapshot_from_record(record, b"another-key")


def test_a_forged_hmac_snapshot_resealed_with_plain_sha256_is_rejected(
    settings: TableSettings, released: Version
) -> None:
    """Someone with table write access edits the body and writes its keyless SHA-256."""
    (item,) = load_items(released.hmac_item)
    old, new = edit_for(
        released.version, b'"cash":"-2500.75","created', b'"cash":"-2500.70","created'
    )
    forged = tampered(item, old, new)
    body = zlib.decompress(forged["body"]["B"])
    forged["checksum"] = {"S": hashlib.sha256(body).hexdigest()}
    forged["checksum_algorithm"] = {"S": "sha256"}
    put_raw(settings, forged)
    # Whichever layer notices (the store or the snapshot reader), the reader gets no snapshot.
    with pytest.raises(IntegrityError, match=SNAPSHOT_ID):
        read_snapshot(settings, HMAC_KEY)


def test_item_metadata_edited_apart_from_the_body_is_rejected(
    settings: TableSettings, released: Version
) -> None:
    (item,) = load_items(released.sha256_item)
    forged = {"correlation_id": {"S": "cycle-forged"}, "GSI4PK": {"S": "CORR#cycle-forged"}}
    put_raw(settings, {**item, **forged})
    stored = repository(settings, None).get(ACCOUNT_ID, PERIOD_END)  # the body still verifies
    with pytest.raises(IntegrityError, match="correlation_id"):
        snapshot_from_record(stored.record, None)
    # Edited without its index key, the item disagrees with itself: the store refuses it.
    put_raw(settings, {**item, "correlation_id": {"S": "cycle-forged"}})
    with pytest.raises(IntegrityError, match="GSI4PK is 'CORR#cycle-2026-08-07'"):
        repository(settings, None).get(ACCOUNT_ID, PERIOD_END)


@pytest.mark.parametrize(
    ("version", "why"),
    [
        ("1.0", "which does not carry its ledger's digests"),
        ("1.1", "which does not carry its ledger's digests"),
        ("1.2", "which does not carry its ledger's digests"),
        ("1.3", f"whose ledger follows other rules than {SNAPSHOT_VERSION}'s"),
        ("1.4", f"whose ledger follows other rules than {SNAPSHOT_VERSION}'s"),
        ("1.5", f"whose ledger follows other rules than {SNAPSHOT_VERSION}'s"),
        ("1.6", f"whose ledger follows other rules than {SNAPSHOT_VERSION}'s"),
        ("1.7", f"whose ledger follows other rules than {SNAPSHOT_VERSION}'s"),
    ],
)
def test_a_snapshot_of_an_earlier_version_is_not_carried_forward(
    settings: TableSettings, version: str, why: str
) -> None:
    """Only snapshots of the current rules carry a ledger forward: 1.0-1.2 have no digests,
    1.3-1.7 kept their ledger by other rules (activity times, split rounding, coin fees, and
    until 1.8 a crossed pair recorded before rates were required was summed as dollars). An
    older newest snapshot means a full read of the ledger, with the reason."""
    from snapshots.builder import ledger_base

    (released,) = (v for v in VERSIONS if v.version == version)
    for item in load_items(released.sha256_item):
        put_raw(settings, item)
    base, reason = ledger_base(repository(settings, None), ACCOUNT_ID, PERIOD_END, None)
    assert base is None
    assert reason.endswith(f"is snapshot_version {version}, {why}")


@pytest.mark.parametrize("version", ["1.8"])
def test_the_current_fixture_is_a_base(settings: TableSettings, version: str) -> None:
    """A snapshot of the current version carries its ledger forward."""
    from snapshots.builder import ledger_base

    (released,) = (v for v in VERSIONS if v.version == version)
    for item in load_items(released.sha256_item):
        put_raw(settings, item)
    base, reason = ledger_base(repository(settings, None), ACCOUNT_ID, PERIOD_END, None)
    assert reason == ""
    assert base is not None
    assert base.period_end == PERIOD_END
    assert set(base.ledger.strategy_performance) == {
        "mean_reversion",
        "momentum",
        "trend_following",
    }
