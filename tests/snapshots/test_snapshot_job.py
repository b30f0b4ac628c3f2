"""The snapshot job end to end: fake Alpaca (real TradingClient) + ledger -> stored snapshot.

Runs on moto and DynamoDB Local. The trading Lambda handler and its Step Functions start are
tested with moto (Step Functions has no local engine here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.errors import (
    ConflictError,
    IntegrityError,
    LedgerValidationError,
    NotFoundError,
)
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.alpaca.source import AlpacaSource, RetryPolicy
from snapshots.builder import SnapshotOutcome, build_snapshot, hmac_key_from_env, take_snapshot
from snapshots.demo.history import DEMO_ACCOUNT_ID, generate_history
from snapshots.errors import AlpacaUnavailableError
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import (
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    FakeAlpaca,
    running_fake_alpaca,
)
from snapshots.integrity import IntegrityCheckFailed
from snapshots.records import snapshot_from_record, snapshot_record
from snapshots.schema import SNAPSHOT_VERSION, CheckStatus, snapshot_id_for
from tests.builders import raw_partition, record_all

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
CYCLES = generate_history(days=6)
PERIOD_START = datetime(2026, 8, 3, tzinfo=UTC)
PERIOD_END = datetime(2026, 8, 11, tzinfo=UTC)  # after the sixth trading day (2026-08-10)
FAST = RetryPolicy(max_attempts=2, base_delay=0, max_delay=0, request_timeout=2, deadline=20)


def clock() -> datetime:
    return NOW


@pytest.fixture
def recorded(ledger: TradeLedgerRepository) -> TradeLedgerRepository:
    record_all(ledger, (fill for cycle in CYCLES for fill in cycle.fills))
    return ledger


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(FakeAccount.from_history(CYCLES)) as server:
        yield server
        assert server.handler_errors == []


def source(fake: FakeAlpaca) -> AlpacaSource:
    return AlpacaSource(
        api_key=DEFAULT_KEY_ID,
        secret_key=DEFAULT_SECRET_KEY,
        base_url=fake.base_url,
        retry=FAST,
        sleep=lambda _: None,
        environ={},
    )


def take(
    settings: TableSettings,
    fake: FakeAlpaca,
    *,
    key: bytes | None = None,
    **options: Any,
) -> SnapshotOutcome:
    with source(fake) as alpaca:
        return take_snapshot(
            account_id=DEMO_ACCOUNT_ID,
            period_start=options.pop("period_start", PERIOD_START),
            period_end=options.pop("period_end", PERIOD_END),
            correlation_id=options.pop("correlation_id", CYCLES[-1].correlation_id),
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            store=AccountSnapshotRepository(settings, hmac_key=key, clock=clock),
            hmac_key=key,
            clock=clock,
            **options,
        )


def test_a_snapshot_is_built_checked_and_stored_at_its_key(
    settings: TableSettings, recorded: TradeLedgerRepository, fake: FakeAlpaca
) -> None:
    outcome = take(settings, fake)

    assert outcome.status == "created"
    snapshot = outcome.snapshot
    assert snapshot.snapshot_id == snapshot_id_for(DEMO_ACCOUNT_ID, PERIOD_END)
    assert outcome.payload.to_json() == {
        "account_id": DEMO_ACCOUNT_ID,
        "period": {"start": "2026-08-03T00:00:00Z", "end": "2026-08-11T00:00:00Z"},
        "snapshot_id": snapshot.snapshot_id,
        "key": {"pk": f"SNAPSHOT#{DEMO_ACCOUNT_ID}", "sk": "SNAP#2026-08-11T00:00:00Z"},
        "checksum": snapshot.checksum,
        "checksum_algorithm": "sha256",
    }
    fills = [f for c in CYCLES for f in c.fills]
    assert snapshot.internal_ledger.total_trades == len(fills)
    assert {o.id for o in snapshot.alpaca_orders} >= {f.order_id for f in fills}
    assert snapshot.internal_ledger.ledger_id == settings.table_name
    statuses = {c.name: c.status for c in snapshot.integrity_checks}
    assert statuses
    assert set(statuses.values()) == {CheckStatus.PASS}, snapshot.integrity_checks

    item = raw_partition(settings, f"SNAPSHOT#{DEMO_ACCOUNT_ID}")
    assert [(i["PK"]["S"], i["SK"]["S"], i["EntityType"]["S"]) for i in item] == [
        (f"SNAPSHOT#{DEMO_ACCOUNT_ID}", "SNAP#2026-08-11T00:00:00Z", "SNAPSHOT")
    ]
    assert int(item[0]["ttl"]["N"]) == int((NOW.replace(microsecond=0) + timedelta(90)).timestamp())

    store = AccountSnapshotRepository(settings, clock=clock)
    read_back = snapshot_from_record(store.get(DEMO_ACCOUNT_ID, PERIOD_END).record, None)
    assert read_back == snapshot
    assert [s.record.snapshot_id for s in store.by_correlation(snapshot.correlation_id)] == [
        snapshot.snapshot_id
    ]


def test_re_running_the_cycle_returns_the_stored_snapshot_without_reading_alpaca(
    settings: TableSettings, recorded: TradeLedgerRepository, fake: FakeAlpaca
) -> None:
    first = take(settings, fake)
    items = raw_partition(settings, f"SNAPSHOT#{DEMO_ACCOUNT_ID}")
    # Live data moves between the attempts (a cent of cash): a rebuild would conflict.
    fake.account = replace(fake.account, cash=fake.account.cash + Decimal("0.01"))
    fake.clear_requests()

    second = take(settings, fake)

    assert second.status == "existing"
    assert second.snapshot == first.snapshot
    assert second.payload == first.payload
    assert fake.requests() == []  # Alpaca was not read again
    assert raw_partition(settings, f"SNAPSHOT#{DEMO_ACCOUNT_ID}") == items


def test_two_builds_of_the_same_data_store_once(
    settings: TableSettings, recorded: TradeLedgerRepository, fake: FakeAlpaca
) -> None:
    """Concurrent first attempts: the store keeps the first and calls the second unchanged."""
    store = AccountSnapshotRepository(settings, clock=clock)
    with source(fake) as alpaca:
        built = [
            build_snapshot(
                account_id=DEMO_ACCOUNT_ID,
                period_start=PERIOD_START,
                period_end=PERIOD_END,
                correlation_id=CYCLES[-1].correlation_id,
                alpaca=alpaca,
                ledger=recorded,
                hmac_key=None,
                clock=clock,
            )
            for _ in range(2)
        ]
    assert built[0] == built[1]
    assert [store.put(snapshot_record(s)).status for s in built] == ["created", "unchanged"]


class _NotYetStored(AccountSnapshotRepository):
    """A store whose first read of the period misses: the caller looked before another one
    stored it (two first takes at once)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.missed = False

    def get(self, *args: Any, **kwargs: Any) -> Any:
        if not self.missed:
            self.missed = True
            raise NotFoundError("not yet")
        return super().get(*args, **kwargs)


def test_two_first_takes_at_once_both_succeed_with_the_one_stored(
    settings: TableSettings, recorded: TradeLedgerRepository, fake: FakeAlpaca
) -> None:
    """The bot stores the period while the schedule's take (another cycle, Alpaca a cent
    apart) is building: the schedule's write conflicts in the store and it returns the
    stored snapshot as ``existing`` instead of failing the fleet run."""
    first = take(settings, fake)
    fake.account = replace(fake.account, cash=fake.account.cash + Decimal("0.01"))
    with source(fake) as alpaca:
        late = take_snapshot(
            account_id=DEMO_ACCOUNT_ID,
            period_start=PERIOD_START,
            period_end=PERIOD_END,
            correlation_id="scheduled-2026-08-10",
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            store=_NotYetStored(settings, clock=clock),
            hmac_key=None,
            clock=clock,
        )
    assert (late.status, late.payload) == ("existing", first.payload)


def test_whoever_asks_first_writes_the_period_and_the_other_gets_it(
    settings: TableSettings, recorded: TradeLedgerRepository, fake: FakeAlpaca
) -> None:
    """A schedule and a bot's own run of the same period (other correlation ids): both
    succeed with the stored snapshot, Alpaca is not read again; another period start for the
    same end is another request and conflicts unless the stored checksum is replaced."""
    first = take(settings, fake)
    fake.account = replace(fake.account, cash=fake.account.cash + Decimal("12.34"))

    other = take(settings, fake, correlation_id="scheduled-2026-08-10")
    assert (other.status, other.snapshot, other.payload) == (
        "existing",
        first.snapshot,
        first.payload,
    )
    with pytest.raises(
        ConflictError, match="already stored for cycle 'cycle-2026-08-10'"
    ) as caught:
        take(settings, fake, period_start=PERIOD_START - timedelta(days=1))
    assert caught.value.key == f"SNAPSHOT#{DEMO_ACCOUNT_ID} / SNAP#2026-08-11T00:00:00Z"
    store = AccountSnapshotRepository(settings, clock=clock)
    assert store.get(DEMO_ACCOUNT_ID, PERIOD_END).record.checksum == first.snapshot.checksum

    with pytest.raises(ConflictError):
        take(settings, fake, replace_checksum="0" * 64)
    replaced = take(settings, fake, replace_checksum=first.snapshot.checksum)
    assert replaced.status == "replaced"
    assert replaced.snapshot.alpaca_account.cash == first.snapshot.alpaca_account.cash + Decimal(
        "12.34"
    )
    stored = snapshot_from_record(store.get(DEMO_ACCOUNT_ID, PERIOD_END).record, None)
    assert stored.checksum == replaced.snapshot.checksum != first.snapshot.checksum


def test_strict_mode_refuses_a_snapshot_whose_checks_fail_and_writes_nothing(
    settings: TableSettings, recorded: TradeLedgerRepository, fake: FakeAlpaca
) -> None:
    account = fake.account
    fake.account = replace(account, positions=account.positions[1:])  # Alpaca lost a position
    dropped = account.positions[0].symbol

    with pytest.raises(IntegrityCheckFailed) as caught:
        take(settings, fake, strict=True)
    assert "ledger_positions_match_alpaca_positions" in str(caught.value)
    assert [c.name for c in caught.value.checks] == ["ledger_positions_match_alpaca_positions"]
    assert raw_partition(settings, f"SNAPSHOT#{DEMO_ACCOUNT_ID}") == []

    lenient = take(settings, fake)  # without strict the failure is recorded, not hidden
    check = next(
        c
        for c in lenient.snapshot.integrity_checks
        if c.name == "ledger_positions_match_alpaca_positions"
    )
    assert check.status is CheckStatus.FAIL
    assert dropped in json.dumps(check.details)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (PERIOD_START, NOW + timedelta(seconds=1), "in the future"),
        (PERIOD_START, PERIOD_END + timedelta(microseconds=5), "whole second"),
        (PERIOD_END, PERIOD_START, "must be before"),
        (PERIOD_START.replace(tzinfo=None), PERIOD_END, "timezone"),
    ],
)
def test_a_bad_period_is_refused_before_anything_is_read(
    settings: TableSettings, fake: FakeAlpaca, start: datetime, end: datetime, message: str
) -> None:
    with pytest.raises(LedgerValidationError, match=message):
        take(settings, fake, period_start=start, period_end=end)
    assert fake.requests() == []
    assert raw_partition(settings, f"SNAPSHOT#{DEMO_ACCOUNT_ID}") == []


def test_an_alpaca_outage_raises_and_writes_nothing(
    settings: TableSettings, recorded: TradeLedgerRepository, fake: FakeAlpaca
) -> None:
    fake.inject("/v2/positions", status=503, times=10)
    with pytest.raises(AlpacaUnavailableError, match="get_all_positions"):
        take(settings, fake)
    assert raw_partition(settings, f"SNAPSHOT#{DEMO_ACCOUNT_ID}") == []


def test_hmac_sealed_snapshots_need_the_key_to_be_read(
    settings: TableSettings, recorded: TradeLedgerRepository, fake: FakeAlpaca
) -> None:
    outcome = take(settings, fake, key=b"k1")
    assert outcome.snapshot.checksum_algorithm == "hmac-sha256"
    with_key = AccountSnapshotRepository(settings, hmac_key=b"k1", clock=clock)
    assert snapshot_from_record(with_key.latest(DEMO_ACCOUNT_ID).record, b"k1") == (
        outcome.snapshot
    )
    for wrong in (None, b"k2"):
        with pytest.raises(IntegrityError):
            AccountSnapshotRepository(settings, hmac_key=wrong, clock=clock).latest(DEMO_ACCOUNT_ID)


def test_hmac_key_comes_from_the_environment() -> None:
    assert hmac_key_from_env({}) is None
    assert hmac_key_from_env({"SNAPSHOT_HMAC_KEY": ""}) is None
    assert hmac_key_from_env({"SNAPSHOT_HMAC_KEY": "s3cret-ü"}) == "s3cret-ü".encode()


def cycle_period(cycle: TradingCycle) -> tuple[datetime, datetime]:
    day = cycle.start.date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def test_one_snapshot_per_cycle_reads_back_by_range_newest_first(
    settings: TableSettings, recorded: TradeLedgerRepository, fake: FakeAlpaca
) -> None:
    payloads = []
    for cycle in CYCLES[:3]:
        start, end = cycle_period(cycle)
        outcome = take(
            settings, fake, period_start=start, period_end=end, correlation_id=cycle.correlation_id
        )
        assert outcome.snapshot.internal_ledger.total_trades == len(cycle.fills)
        payloads.append(outcome.payload)
    store = AccountSnapshotRepository(settings, clock=clock)
    listed = [s.record.snapshot_id for s in store.range(DEMO_ACCOUNT_ID)]
    assert listed == [p.snapshot_id for p in reversed(payloads)]
    assert store.latest(DEMO_ACCOUNT_ID).record.period_end == cycle_period(CYCLES[2])[1]


@pytest.mark.parametrize("engine", ["moto"], indirect=True)
def test_build_snapshot_traces_fetch_aggregation_and_write(
    settings: TableSettings,
    recorded: TradeLedgerRepository,
    fake: FakeAlpaca,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aws_xray_sdk.core import xray_recorder

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "trading")
    monkeypatch.delenv("AWS_XRAY_SDK_ENABLED", raising=False)
    xray_recorder.configure(sampling=False, context_missing="LOG_ERROR")
    segment = xray_recorder.begin_segment("snapshot-invocation")
    try:
        take(settings, fake)
        names = [s.name for s in segment.subsegments]
    finally:
        xray_recorder.clear_trace_entities()
    fetch = names.index("snapshot.alpaca_fetch")
    aggregation = names.index("snapshot.ledger_aggregation")
    assert fetch < aggregation < names.index("ledger.snapshot_write")
    fetch_segment = segment.subsegments[fetch]
    assert fetch_segment.annotations["account_id"] == DEMO_ACCOUNT_ID
    assert any(s.name.startswith("alpaca.") for s in fetch_segment.subsegments)


def test_build_snapshot_writes_nothing(
    settings: TableSettings, recorded: TradeLedgerRepository, fake: FakeAlpaca
) -> None:
    with source(fake) as alpaca:
        snapshot = build_snapshot(
            account_id=DEMO_ACCOUNT_ID,
            period_start=PERIOD_START,
            period_end=PERIOD_END,
            correlation_id="c",
            alpaca=alpaca,
            ledger=recorded,
            hmac_key=None,
            clock=clock,
        )
    assert snapshot.period_end == PERIOD_END
    assert raw_partition(settings, f"SNAPSHOT#{DEMO_ACCOUNT_ID}") == []
    with pytest.raises(NotFoundError):
        AccountSnapshotRepository(settings, clock=clock).latest(DEMO_ACCOUNT_ID)


def test_the_lookback_holds_the_history_its_deposits_and_the_benchmark(
    settings: TableSettings, recorded: TradeLedgerRepository
) -> None:
    from ledger_store.events import AccountEventRepository, CashFlow
    from snapshots.report.metrics import report_metrics
    from snapshots.schema import AccountSnapshotV15

    events = AccountEventRepository(settings)

    def deposit(event_id: str, at: datetime, amount: str) -> CashFlow:
        flow = CashFlow(
            event_id=event_id, account_id=DEMO_ACCOUNT_ID, effective_at=at, amount=Decimal(amount)
        )
        events.record(flow)
        return flow

    inside = deposit("in-lookback", PERIOD_START - timedelta(days=10), "2000")
    deposit("before-lookback", PERIOD_START - timedelta(days=40), "3000")
    account = FakeAccount.from_history(CYCLES, history_days=60, benchmark="SPY")
    with (
        running_fake_alpaca(account) as server,
        AlpacaSource(
            api_key=DEFAULT_KEY_ID,
            secret_key=DEFAULT_SECRET_KEY,
            base_url=server.base_url,
            retry=FAST,
            sleep=lambda _: None,
            environ={"APCA_API_DATA_URL": server.base_url},
            equity_lookback_days=30,
            benchmark_symbol="SPY",
        ) as alpaca,
    ):
        outcome = take_snapshot(
            account_id=DEMO_ACCOUNT_ID,
            period_start=PERIOD_START,
            period_end=PERIOD_END,
            correlation_id=CYCLES[-1].correlation_id,
            alpaca=alpaca,
            ledger=recorded,
            store=AccountSnapshotRepository(settings, clock=clock),
            hmac_key=None,
            clock=clock,
        )
    snapshot = outcome.snapshot
    assert isinstance(snapshot, AccountSnapshotV15)
    assert snapshot.snapshot_version == SNAPSHOT_VERSION
    assert (snapshot.equity_lookback_days, snapshot.history_start) == (
        30,
        PERIOD_START - timedelta(days=30),
    )
    assert snapshot.history_cash_flows == (inside,)
    assert len(snapshot.equity_history) > 15
    assert snapshot.benchmark is not None
    assert len(snapshot.benchmark.closes) == len(snapshot.equity_history) + len(
        snapshot.equity_series
    )
    # The report's longer windows come from it: MTD reaches back to the close of July 31.
    metrics = report_metrics(snapshot)
    assert {w.label for w in metrics.inception.windows} == {"MTD"}
    assert metrics.period.first_day == snapshot.equity_history[-1].timestamp.date()
    assert metrics.inception.benchmark is not None
    assert metrics.inception.returns > metrics.period.returns
