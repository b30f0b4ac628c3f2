"""The trading Lambda's snapshot handler: event in, payload out, report state machine started."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ledger_store import keys
from ledger_store.config import TableSettings
from ledger_store.errors import (
    ConfigurationError,
    ConflictError,
    LedgerValidationError,
    TransientError,
)
from ledger_store.trades import TradeLedgerRepository
from snapshots.demo.history import DEMO_ACCOUNT_ID
from snapshots.errors import ReportTriggerError, ReportTriggerUnavailableError
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import (
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    FakeAlpaca,
    running_fake_alpaca,
)
from snapshots.handlers import trading as trading_lambda
from snapshots.integrity import IntegrityCheckFailed
from tests.builders import raw_partition, raw_table, record_all
from tests.snapshots.test_snapshot_job import CYCLES, PERIOD_END, PERIOD_START

pytestmark = pytest.mark.parametrize("engine", ["moto"], indirect=True)

EVENT = {
    "account_id": DEMO_ACCOUNT_ID,
    "period_start": keys.format_seconds(PERIOD_START),
    "period_end": keys.format_seconds(PERIOD_END),
    "correlation_id": "cycle-2026-08-10",
}


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(FakeAccount.from_history(CYCLES)) as server:
        yield server


@pytest.fixture
def environment(
    settings: TableSettings, fake: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> TableSettings:
    ledger = TradeLedgerRepository(settings)
    record_all(ledger, (fill for cycle in CYCLES for fill in cycle.fills))
    monkeypatch.setenv("TRADE_LEDGER_TABLE", settings.table_name)
    monkeypatch.setenv("APCA_API_KEY_ID", DEFAULT_KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", DEFAULT_SECRET_KEY)
    monkeypatch.setenv("APCA_API_BASE_URL", fake.base_url)
    for name in ("SNAPSHOT_HMAC_KEY", "SNAPSHOT_STRICT", "REPORT_STATE_MACHINE_ARN"):
        monkeypatch.delenv(name, raising=False)
    return settings


@pytest.fixture
def state_machine(environment: TableSettings, monkeypatch: pytest.MonkeyPatch) -> str:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    arn: str = client.create_state_machine(
        name="account-report",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/report-states",
    )["stateMachineArn"]
    monkeypatch.setenv("REPORT_STATE_MACHINE_ARN", arn)
    return arn


def executions(arn: str) -> list[dict[str, Any]]:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    listed = client.list_executions(stateMachineArn=arn)["executions"]
    return [client.describe_execution(executionArn=e["executionArn"]) for e in listed]


def test_the_handler_returns_the_payload_and_starts_the_report_once(
    state_machine: str, environment: TableSettings
) -> None:
    payload = trading_lambda.handler(dict(EVENT), None)

    assert payload["account_id"] == DEMO_ACCOUNT_ID
    assert payload["period"] == {"start": EVENT["period_start"], "end": EVENT["period_end"]}
    assert payload["key"] == {
        "pk": f"SNAPSHOT#{DEMO_ACCOUNT_ID}",
        "sk": "SNAP#2026-08-11T00:00:00Z",
    }
    started = executions(state_machine)
    assert len(started) == 1
    assert json.loads(started[0]["input"]) == payload
    assert started[0]["name"] == f"snapshot-{payload['snapshot_id']}-{payload['checksum'][:16]}"

    again = trading_lambda.handler(dict(EVENT), None)  # a retried cycle
    assert again == payload
    assert len(executions(state_machine)) == 1


def test_a_report_run_that_failed_is_started_again_under_the_next_name(
    environment: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Standard execution's name cannot be reused: after the first report run failed, the
    retried cycle starts ``<name>-r1``; a run under way or done is left alone (the runs are
    executed by moto's interpreter)."""
    from moto.core.config import default_user_config

    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    client = boto3.client("stepfunctions", region_name="us-east-1")
    arn = client.create_state_machine(
        name="failing-report",
        definition=json.dumps({"StartAt": "No", "States": {"No": {"Type": "Fail"}}}),
        roleArn="arn:aws:iam::123456789012:role/report-states",
    )["stateMachineArn"]
    outcome, _ = trading_lambda.run(trading_lambda.parse_request(dict(EVENT)))
    first = trading_lambda.start_report(arn, outcome.payload, client=client)
    wait_until_done(client, first)
    second = trading_lambda.start_report(arn, outcome.payload, client=client)
    assert second == first + "-r1"
    wait_until_done(client, second)
    names = sorted(e["name"] for e in client.list_executions(stateMachineArn=arn)["executions"])
    name = trading_lambda.execution_name(outcome.payload)
    assert names == [name, f"{name}-r1"]

    good = client.create_state_machine(
        name="good-report",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/report-states",
    )["stateMachineArn"]
    done = trading_lambda.start_report(good, outcome.payload, client=client)
    wait_until_done(client, done)
    assert trading_lambda.start_report(good, outcome.payload, client=client) == done
    assert len(client.list_executions(stateMachineArn=good)["executions"]) == 1


def test_starting_a_report_without_a_region_is_the_library_s_error(
    environment: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3 cannot build the client (no region anywhere): a ReportTriggerError saying so,
    not botocore's NoRegionError, and not one to retry."""
    outcome, _ = trading_lambda.run(trading_lambda.parse_request(dict(EVENT)))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:report"
    with pytest.raises(ReportTriggerError, match="is stored, but a client to start") as caught:
        trading_lambda.start_report(arn, outcome.payload)
    assert not isinstance(caught.value, TransientError)


def wait_until_done(client: Any, arn: str) -> None:
    for _ in range(200):
        if client.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


def test_without_a_state_machine_only_the_snapshot_is_written(
    environment: TableSettings,
) -> None:
    payload = trading_lambda.handler(dict(EVENT), None)
    items = raw_partition(environment, f"SNAPSHOT#{DEMO_ACCOUNT_ID}")
    assert [i["snapshot_id"]["S"] for i in items] == [payload["snapshot_id"]]


def test_a_failing_state_machine_start_raises_after_the_snapshot_is_stored(
    environment: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:missing"
    monkeypatch.setenv("REPORT_STATE_MACHINE_ARN", missing)
    with pytest.raises(ReportTriggerError, match="is stored, but starting") as caught:
        trading_lambda.handler(dict(EVENT), None)
    assert not isinstance(caught.value, TransientError)  # no such machine: not retried
    assert len(raw_partition(environment, f"SNAPSHOT#{DEMO_ACCOUNT_ID}")) == 1


def test_a_retry_after_a_failed_report_start_finishes_the_cycle(
    state_machine: str,
    environment: TableSettings,
    fake: FakeAlpaca,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Attempt 1 stores the snapshot, then Step Functions fails; Alpaca's data moves by a
    cent; the Lambda retry returns the stored snapshot's payload and starts the report."""
    real_client = boto3.client
    failures = {"left": 1}

    def flaky_client(service: str, *args: Any, **kwargs: Any) -> Any:
        client = real_client(service, *args, **kwargs)  # type: ignore[call-overload]
        if service == "stepfunctions":
            start = client.start_execution

            def start_execution(**params: Any) -> Any:
                if failures["left"]:
                    failures["left"] -= 1
                    raise ClientError(
                        {"Error": {"Code": "ServiceUnavailable", "Message": "try again"}},
                        "StartExecution",
                    )
                return start(**params)

            client.start_execution = start_execution
        return client

    monkeypatch.setattr(boto3, "client", flaky_client)

    # Step Functions was unavailable: a transient error, which the state machine retries.
    with pytest.raises(ReportTriggerUnavailableError, match="is stored, but starting"):
        trading_lambda.handler(dict(EVENT), None)
    stored = raw_partition(environment, f"SNAPSHOT#{DEMO_ACCOUNT_ID}")
    assert len(stored) == 1
    assert executions(state_machine) == []

    fake.account = replace(fake.account, cash=fake.account.cash + Decimal("0.01"))
    fake.clear_requests()
    payload = trading_lambda.handler(dict(EVENT), None)  # the Lambda retry

    assert fake.requests() == []  # the stored snapshot is used, live data is not refetched
    assert payload["checksum"] == stored[0]["checksum"]["S"]
    assert raw_partition(environment, f"SNAPSHOT#{DEMO_ACCOUNT_ID}") == stored
    started = executions(state_machine)
    assert len(started) == 1
    assert json.loads(started[0]["input"]) == payload

    assert trading_lambda.handler(dict(EVENT), None) == payload  # and again: still one report
    assert len(executions(state_machine)) == 1


def test_a_schedule_and_a_bot_asking_for_one_period_both_succeed(
    environment: TableSettings,
) -> None:
    """The fleet's scheduled run and the bot's own run of the same period: whoever asks first
    writes the snapshot, the other gets its payload; another period start conflicts."""
    first = trading_lambda.handler(dict(EVENT), None)
    assert trading_lambda.handler({**EVENT, "correlation_id": "scheduled-x"}, None) == first
    with pytest.raises(ConflictError, match="already stored for cycle"):
        trading_lambda.handler({**EVENT, "period_start": "2026-08-02T00:00:00Z"}, None)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({**EVENT, "period_end": "yesterday"}, "period_end"),
        ({k: v for k, v in EVENT.items() if k != "correlation_id"}, "correlation_id"),
        ({**EVENT, "account_id": "a#b"}, "account_id"),
        ({**EVENT, "surprise": 1}, "surprise"),
        ({**EVENT, "replace_checksum": "abc"}, "replace_checksum"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_a_bad_event_is_rejected_before_any_call(
    environment: TableSettings, fake: FakeAlpaca, event: Any, message: str
) -> None:
    with pytest.raises(LedgerValidationError, match=message):
        trading_lambda.handler(event, None)
    assert fake.requests() == []
    assert raw_partition(environment, f"SNAPSHOT#{DEMO_ACCOUNT_ID}") == []


def test_missing_alpaca_credentials_are_a_configuration_error(
    environment: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APCA_API_SECRET_KEY")
    with pytest.raises(ConfigurationError, match="APCA_API_SECRET_KEY"):
        trading_lambda.handler(dict(EVENT), None)


def test_strict_mode_from_the_environment(
    environment: TableSettings, fake: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    fake.account = replace(fake.account, positions=fake.account.positions[1:])
    monkeypatch.setenv("SNAPSHOT_STRICT", "true")
    with pytest.raises(IntegrityCheckFailed):
        trading_lambda.handler(dict(EVENT), None)
    assert raw_partition(environment, f"SNAPSHOT#{DEMO_ACCOUNT_ID}") == []
    # the event can override the environment
    payload = trading_lambda.handler({**EVENT, "strict": False}, None)
    assert payload["snapshot_id"]


def test_hmac_key_from_the_environment_seals_the_snapshot(
    environment: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAPSHOT_HMAC_KEY", "trading-secret")
    payload = trading_lambda.handler(dict(EVENT), None)
    assert payload["checksum_algorithm"] == "hmac-sha256"


def test_the_handler_logs_one_json_line_with_the_cycle_s_correlation_id(
    environment: TableSettings, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="snapshots.handlers.trading")
    payload = trading_lambda.handler(dict(EVENT), None)
    lines = [r.getMessage() for r in caplog.records if r.name == "snapshots.handlers.trading"]
    assert len(lines) == 1
    logged = json.loads(lines[0])
    assert logged["message"] == "snapshot stored"
    assert logged["correlation_id"] == EVENT["correlation_id"]
    assert logged["snapshot_id"] == payload["snapshot_id"]
    assert DEFAULT_SECRET_KEY not in caplog.text


def test_a_scheduled_run_takes_the_snapshot_of_the_day_that_ended(
    environment: TableSettings,
) -> None:
    payload = trading_lambda.handler(
        {
            "request": {"as_of": "2026-08-11T00:15:00Z", "period": "month_to_date"},
            "account_id": DEMO_ACCOUNT_ID,
        },
        None,
    )
    assert payload["period"] == {"start": "2026-08-01T00:00:00Z", "end": "2026-08-11T00:00:00Z"}


def test_a_fleet_with_a_wrong_key_writes_nothing(
    environment: TableSettings, fake: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two accounts, one secret each (``TRADE_LEDGER_ACCOUNT_SECRET_PREFIX``); B's secret was
    filled in with A's key. A's snapshot is taken; B's is refused with ``AccountMismatchError``
    before anything is written: no event, no snapshot, no binding (the field report: B's
    ledger got A's balances and three of A's activities as events, for good)."""
    from ledger_store.errors import AccountMismatchError
    from snapshots.handlers import secrets

    other = "b8e6d4c2-1f3a-4b7c-9d0e-2f3a4b5c6d7e"
    prefix = "trade-ledger/test/alpaca/"
    client = boto3.client("secretsmanager", region_name="us-east-1")
    for account in (DEMO_ACCOUNT_ID, other):  # B's secret holds A's key (and A's Alpaca)
        value = {
            "APCA_API_KEY_ID": DEFAULT_KEY_ID,
            "APCA_API_SECRET_KEY": DEFAULT_SECRET_KEY,
            "APCA_API_BASE_URL": fake.base_url,
        }
        client.create_secret(Name=f"{prefix}{account}", SecretString=json.dumps(value))
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_BASE_URL"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("TRADE_LEDGER_ACCOUNT_SECRET_PREFIX", prefix)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    secrets.clear_cache()
    try:
        trading_lambda.handler(EVENT)
        before = raw_table(environment)
        with pytest.raises(
            AccountMismatchError, match=f"belongs to ledger account {DEMO_ACCOUNT_ID}"
        ):
            trading_lambda.handler({**EVENT, "account_id": other})
    finally:
        secrets.clear_cache()
    assert raw_table(environment) == before
    assert raw_partition(environment, f"ACCOUNT#{other}") == []
    assert raw_partition(environment, f"SNAPSHOT#{other}") == []


def test_an_account_s_expected_alpaca_account_refuses_a_wrong_key_even_on_first_use(
    environment: TableSettings, fake: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B's secret holds A's key but names B's Alpaca account: B's first snapshot (nothing
    bound yet, so the binding alone could not tell) is refused before any write, and A can
    still bind its own Alpaca account afterwards."""
    from ledger_store.errors import AccountMismatchError
    from snapshots.handlers import secrets

    other = "b8e6d4c2-1f3a-4b7c-9d0e-2f3a4b5c6d7e"
    prefix = "trade-ledger/test/alpaca/"
    client = boto3.client("secretsmanager", region_name="us-east-1")
    value = {
        "APCA_API_KEY_ID": DEFAULT_KEY_ID,
        "APCA_API_SECRET_KEY": DEFAULT_SECRET_KEY,
        "TRADE_LEDGER_ALPACA_ACCOUNT_ID": "0b0b0b0b-1111-4222-8333-444444444444",
    }
    client.create_secret(Name=f"{prefix}{other}", SecretString=json.dumps(value))
    client.create_secret(
        Name=f"{prefix}{DEMO_ACCOUNT_ID}",
        SecretString=json.dumps(
            {"APCA_API_KEY_ID": DEFAULT_KEY_ID, "APCA_API_SECRET_KEY": DEFAULT_SECRET_KEY}
        ),
    )
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("APCA_API_BASE_URL", fake.base_url)  # the stage's endpoint
    monkeypatch.setenv("TRADE_LEDGER_ACCOUNT_SECRET_PREFIX", prefix)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    secrets.clear_cache()
    before = raw_table(environment)
    try:
        with pytest.raises(AccountMismatchError, match="not 0b0b0b0b-1111-4222-8333-444444444444"):
            trading_lambda.handler({**EVENT, "account_id": other})
        assert raw_table(environment) == before
        trading_lambda.handler(EVENT)  # A's own keys, at the stage's endpoint
    finally:
        secrets.clear_cache()
    assert raw_partition(environment, f"ACCOUNT#{other}") == []
    assert raw_partition(environment, f"SNAPSHOT#{DEMO_ACCOUNT_ID}") != []


def test_the_handler_writes_its_info_line_and_one_metric_per_check(
    environment: TableSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lambda's root logger stays at WARNING unless told otherwise: the handler's own logger
    is at INFO, so its JSON line reaches the log. Each check of a new snapshot is one EMF line
    (TradeLedger/IntegrityChecks by Stage+Status and Stage+Check+Status); a stored snapshot
    returned again is not counted twice."""
    import logging

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    keep, level = Keep(), root.level
    root.addHandler(keep)
    root.setLevel(logging.WARNING)  # what Lambda's Python runtime leaves it at
    try:
        capsys.readouterr()
        payload = trading_lambda.handler(dict(EVENT), None)
        first = capsys.readouterr().out.splitlines()
        trading_lambda.handler(dict(EVENT), None)
        again = capsys.readouterr().out.splitlines()
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    stored = [json.loads(r.getMessage()) for r in records if "snapshot stored" in r.getMessage()]
    assert [(s["snapshot_id"], s["status"]) for s in stored] == [
        (payload["snapshot_id"], "created"),
        (payload["snapshot_id"], "existing"),
    ]
    metrics = [json.loads(line) for line in first if line.startswith('{"Check"')]
    assert len(metrics) == 5
    for metric in metrics:
        (directive,) = metric["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "TradeLedger"
        assert directive["Metrics"] == [{"Name": "IntegrityChecks", "Unit": "Count"}]
        assert metric["IntegrityChecks"] == 1
        assert metric["Status"] in {"pass", "warn", "fail"}
    assert {m["Check"] for m in metrics} == {
        "alpaca_equity_matches_balances",
        "ledger_events_match_alpaca_activities",
        "ledger_fills_match_alpaca_orders",
        "ledger_positions_match_alpaca_positions",
        "strategy_totals_match_ledger_totals",
    }
    assert not [line for line in again if line.startswith('{"Check"')]
