"""The deployed state machines, executed by moto's Step Functions interpreter with the real
handlers behind their Lambda tasks (issue 20): a transient error is retried and the run
succeeds, a permanent one fails at once, one account failing in a fleet leaves the others
reported and fails the run naming it, another account's keys write nothing, and two runs of
one period both succeed.

moto's interpreter runs the machines' own definitions (``deploy/statemachine``, their
``Retry``/``Catch`` lists as deployed); only the retry intervals are shortened to 1 s so the
suite does not wait minutes. Its Lambda invocations are answered in this process by the
handler the function names, with Lambda's error shape (``errorType`` = the exception's class
name, which the ``Retry`` lists match).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.awslambda import models as lambda_models
from moto.awslambda_simple import models as lambda_simple_models
from moto.core.config import default_user_config

from ledger_store.config import TableSettings
from ledger_store.errors import LedgerValidationError, StorageUnavailableError
from ledger_store.trades import TradeLedgerRepository
from snapshots.demo.history import DEMO_ACCOUNT_ID
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca
from snapshots.handlers import report as report_lambda
from snapshots.handlers import trading as trading_lambda
from tests.builders import ROOT, raw_partition, record_all
from tests.snapshots.handlers.test_trading_lambda import EVENT
from tests.snapshots.test_snapshot_job import CYCLES

pytestmark = pytest.mark.parametrize("engine", ["moto"], indirect=True)

REGION = "us-east-1"
BUCKET = "trade-ledger-reports-local"
OTHER_ACCOUNT = "b8e6d4c2-1f3a-4b7c-9d0e-2f3a4b5c6d7e"
TOLERATED = "25"  # the stage's FleetToleratedFailurePercentage, as the template substitutes it
HANDLERS: dict[str, Callable[[Any, Any], Any]] = {
    "snapshot": trading_lambda.handler,
    "report": report_lambda.handler,
}


class Lambdas:
    """The functions' invocations, answered by the real handlers; ``fail`` queues an exception
    for a function's next invocation (optionally only for one account)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.faults: list[tuple[str, str | None, Exception]] = []

    def fail(self, function: str, error: Exception, account: str | None = None) -> None:
        self.faults.append((function, account, error))

    def invoke(self, function_arn: str, body: Any, response_headers: Any) -> bytes:
        name = function_arn.rsplit(":", 1)[-1]
        event = json.loads(body) if body else {}
        account = event.get("account_id") if isinstance(event, dict) else None
        self.calls.append((name, account))
        try:
            for index, (function, only, error) in enumerate(self.faults):
                if function == name and only in (None, account):
                    del self.faults[index]
                    raise error
            result = HANDLERS[name](event, None)
        except Exception as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            failure = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            return json.dumps(failure).encode()
        return json.dumps(result).encode()


@pytest.fixture
def lambdas(monkeypatch: pytest.MonkeyPatch) -> Lambdas:
    answered = Lambdas()

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, *rest: Any) -> bytes:
        return answered.invoke(function_name, body, rest[-1])

    monkeypatch.setattr(lambda_models.LambdaBackend, "invoke", invoke)
    monkeypatch.setattr(lambda_simple_models.LambdaSimpleBackend, "invoke", invoke)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    monkeypatch.setitem(default_user_config, "lambda", {"use_docker": False})
    return answered


@pytest.fixture
def machines(
    settings: TableSettings, lambdas: Lambdas, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The three machines, created from their definitions, over a recorded ledger and the fake
    Alpaca; the handlers' environment as the template sets it."""
    record_all(TradeLedgerRepository(settings), (f for c in CYCLES for f in c.fills))
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="local", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    functions = {}
    client = boto3.client("lambda", region_name=REGION)
    for name in HANDLERS:
        functions[name] = client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="handler",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        )["FunctionArn"]
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    with running_fake_alpaca(FakeAccount.from_history(CYCLES)) as fake:
        for key, value in {
            "TRADE_LEDGER_TABLE": settings.table_name,
            "APCA_API_KEY_ID": DEFAULT_KEY_ID,
            "APCA_API_SECRET_KEY": DEFAULT_SECRET_KEY,
            "APCA_API_BASE_URL": fake.base_url,
            "REPORT_BUCKET": BUCKET,
            "AWS_REGION": REGION,
        }.items():
            monkeypatch.setenv(key, value)
        for name in ("SNAPSHOT_HMAC_KEY", "SNAPSHOT_STRICT", "REPORT_STATE_MACHINE_ARN"):
            monkeypatch.delenv(name, raising=False)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        created = {}
        for machine in ("snapshot", "report", "fleet", "fleet-distributed"):
            text = (ROOT / "deploy" / "statemachine" / f"{machine}.asl.json").read_text()
            text = text.replace("${SnapshotFunctionArn}", functions["snapshot"])
            text = text.replace("${ReportFunctionArn}", functions["report"])
            text = text.replace("${ResultsBucketName}", BUCKET)
            text = text.replace("${ToleratedFailurePercentage}", TOLERATED)
            text = text.replace("${MaxConcurrency}", "10")
            created[machine] = sfn.create_state_machine(
                name=machine, definition=json.dumps(_quick(json.loads(text))), roleArn=role
            )["stateMachineArn"]
        yield created


def _quick(definition: Any) -> Any:
    """The definition with its retry intervals at 1 s (the lists and attempts unchanged)."""
    if isinstance(definition, dict):
        if "ErrorEquals" in definition and "IntervalSeconds" in definition:
            return {**definition, "IntervalSeconds": 1, "MaxDelaySeconds": 1}
        return {key: _quick(value) for key, value in definition.items()}
    if isinstance(definition, list):
        return [_quick(value) for value in definition]
    return definition


_RUNS = itertools.count(1)


def execute(machine: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run an execution to its end; its description (status, output, error, cause)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    name = f"run-{next(_RUNS)}"  # moto does not name an execution itself
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))[
        "executionArn"
    ]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{arn} still running")


def test_a_snapshot_run_stores_the_snapshot_and_its_report(
    machines: dict[str, str], lambdas: Lambdas, settings: TableSettings
) -> None:
    done = execute(machines["snapshot"], dict(EVENT))
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["s3_uri"].startswith(f"s3://{BUCKET}/reports/{DEMO_ACCOUNT_ID}/")
    assert lambdas.calls == [("snapshot", DEMO_ACCOUNT_ID), ("report", DEMO_ACCOUNT_ID)]
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [o["Key"] for o in listed] == [output["s3_uri"].split(f"{BUCKET}/", 1)[1]]


def test_a_transient_error_is_retried_and_the_run_succeeds(
    machines: dict[str, str], lambdas: Lambdas
) -> None:
    lambdas.fail("snapshot", StorageUnavailableError("get item", None, TimeoutError("slow")))
    done = execute(machines["snapshot"], dict(EVENT))
    assert done["status"] == "SUCCEEDED", done
    assert [name for name, _ in lambdas.calls] == ["snapshot", "snapshot", "report"]


def test_a_permanent_error_fails_at_once_with_its_type(
    machines: dict[str, str], lambdas: Lambdas
) -> None:
    lambdas.fail("snapshot", LedgerValidationError("period_end is not after period_start"))
    done = execute(machines["snapshot"], dict(EVENT))
    assert done["status"] == "FAILED"
    assert done["error"] == "LedgerValidationError"
    assert "period_end is not after period_start" in done["cause"]
    assert lambdas.calls == [("snapshot", DEMO_ACCOUNT_ID)]  # never retried


def test_a_fleet_reports_every_account_but_the_failing_one_and_fails_naming_it(
    machines: dict[str, str], lambdas: Lambdas, settings: TableSettings
) -> None:
    """Two accounts, the second's key the first's: A (bound by its earlier snapshot) is
    reported after a transient error retried, B is refused before any write
    (``AccountMismatchError``, from the real handler), and the run fails at the end naming B."""
    trading_lambda.handler(dict(EVENT), None)  # A's own snapshot of an earlier cycle binds it
    lambdas.fail(
        "snapshot", StorageUnavailableError("query", None, OSError("reset")), DEMO_ACCOUNT_ID
    )
    fleet = {
        "accounts": [DEMO_ACCOUNT_ID, OTHER_ACCOUNT],
        "request": {k: v for k, v in EVENT.items() if k != "account_id"},
    }
    done = execute(machines["fleet"], fleet)
    assert (done["status"], done["error"]) == ("FAILED", "FleetAccountsFailed")
    assert ("report", DEMO_ACCOUNT_ID) in lambdas.calls
    snapshots = [account for name, account in lambdas.calls if name == "snapshot"]
    assert snapshots.count(DEMO_ACCOUNT_ID) == 2  # the transient error, retried
    assert snapshots.count(OTHER_ACCOUNT) == 1  # refused for good: never retried
    assert raw_partition(settings, f"ACCOUNT#{OTHER_ACCOUNT}") == []
    assert raw_partition(settings, f"SNAPSHOT#{OTHER_ACCOUNT}") == []
    history = boto3.client("stepfunctions", region_name=REGION).get_execution_history(
        executionArn=done["executionArn"], maxResults=1000
    )["events"]
    failures = [
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in history
        if e.get("stateExitedEventDetails", {}).get("name") == "AccountFailed"
    ]
    assert [(f["account_id"], f["error"]["Error"]) for f in failures] == [
        (OTHER_ACCOUNT, "AccountMismatchError")
    ]


def test_two_runs_of_one_period_both_succeed(machines: dict[str, str], lambdas: Lambdas) -> None:
    """The schedule's run and the bot's run of the same day: the second gets the stored
    snapshot (and rewrites the same report)."""
    first = execute(machines["snapshot"], dict(EVENT))
    second = execute(machines["snapshot"], {**EVENT, "correlation_id": "scheduled-2026-08-10"})
    assert (first["status"], second["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert json.loads(first["output"])["snapshot_id"] == json.loads(second["output"])["snapshot_id"]


def test_the_report_machine_reports_a_stored_snapshot(
    machines: dict[str, str], lambdas: Lambdas
) -> None:
    payload = trading_lambda.handler(dict(EVENT), None)
    done = execute(machines["report"], payload)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["snapshot_id"] == payload["snapshot_id"]


def test_a_fleet_of_any_size_reads_its_accounts_from_s3(
    machines: dict[str, str], lambdas: Lambdas, settings: TableSettings
) -> None:
    """The distributed fleet: the account list is an object in the bucket (no execution input
    limit), each account a child execution with the same retries: A is reported, B (another
    account's key) is refused before any write, and the map run's manifest is written to the
    bucket. moto's interpreter neither enforces a map run's failure tolerance (Step Functions
    tolerates none by default; the Catch makes that FleetAccountsFailed) nor writes the
    SUCCEEDED/FAILED result files: those are Step Functions' own, not executed here."""
    trading_lambda.handler(dict(EVENT), None)  # A's own snapshot binds it
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(
        Bucket=BUCKET,
        Key="fleets/accounts.json",
        Body=json.dumps([DEMO_ACCOUNT_ID, OTHER_ACCOUNT]).encode(),
    )
    fleet = {
        "accounts": {"Bucket": BUCKET, "Key": "fleets/accounts.json"},
        "request": {k: v for k, v in EVENT.items() if k != "account_id"},
    }
    done = execute(machines["fleet-distributed"], fleet)
    assert done["status"] in {"SUCCEEDED", "FAILED"}  # see the docstring
    snapshots = sorted(account for name, account in lambdas.calls if name == "snapshot")
    assert snapshots == sorted([DEMO_ACCOUNT_ID, OTHER_ACCOUNT])  # one each: B never retried
    assert ("report", DEMO_ACCOUNT_ID) in lambdas.calls
    assert ("report", OTHER_ACCOUNT) not in lambdas.calls
    assert raw_partition(settings, f"ACCOUNT#{OTHER_ACCOUNT}") == []
    assert raw_partition(settings, f"SNAPSHOT#{OTHER_ACCOUNT}") == []
    written = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="fleet-results/").get("Contents", [])
    ]
    assert any(key.endswith("/manifest.json") for key in written), written
    # The stage's tolerance reaches the map run as a number (substituted into the text).
    history = boto3.client("stepfunctions", region_name=REGION).get_execution_history(
        executionArn=done["executionArn"]
    )["events"]
    settings_out = [
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in history
        if e.get("stateExitedEventDetails", {}).get("name") == "Settings"
    ]
    assert [s["tolerated_failure_percentage"] for s in settings_out] == [int(TOLERATED)]
