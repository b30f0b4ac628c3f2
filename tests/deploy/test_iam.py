"""Least privilege, derived from the access patterns: every AWS call each handler makes in an
end-to-end run on moto is allowed by its function's policy in ``deploy/template.yaml``, and the
policy grants no action that was never made.

Every botocore call is recorded (PynamoDB, boto3: both go through ``BaseClient._make_api_call``)
and translated to what IAM authorises: ``TransactWriteItems`` is each item's ``PutItem``,
``UpdateItem``, ``DeleteItem`` or ``ConditionCheckItem`` on its table, a Query of an index is
authorised on ``table/NAME/index/INDEX``, ``PutObject`` on ``bucket/key``. The run covers what
a function meets in its life: the first snapshot (full read) with Alpaca's activities recorded
as events, the next day carried forward, a retried cycle, a replaced snapshot whose chunks
shrink (chunking made small for the run), and the report read by payload, by date and as the
newest, its body in chunks.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.client
import pytest

from ledger_store import keys, snapshot_store
from ledger_store.config import TableSettings
from ledger_store.trades import TradeLedgerRepository
from snapshots.demo.history import DEMO_ACCOUNT_ID, demo_history
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca
from snapshots.handlers import report as report_lambda
from snapshots.handlers import secrets
from snapshots.handlers import trading as trading_lambda
from tests.builders import record_all
from tests.deploy.test_template import template

pytestmark = pytest.mark.parametrize("engine", ["moto"], indirect=True)

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "trade-ledger-reports-test"
Grant = tuple[str, str]  # (action, resource)


@dataclass
class Recorder:
    """Every botocore call made while it is active, as IAM sees it: (action, resource)."""

    calls: list[Grant] = field(default_factory=list)

    def add(self, service: str, operation: str, params: dict[str, Any]) -> None:
        self.calls.extend(iam_requests(service, operation, params))


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def iam_requests(service: str, operation: str, params: dict[str, Any]) -> list[Grant]:
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            kinds = {
                "Put": "PutItem",
                "Update": "UpdateItem",
                "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem",
            }
            found = []
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                found.append((f"dynamodb:{kinds[kind]}", table_arn(body["TableName"])))
            return found
        if operation == "TransactGetItems":
            return [
                ("dynamodb:GetItem", table_arn(i["Get"]["TableName"]))
                for i in params["TransactItems"]
            ]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", table_arn(t)) for t in params["RequestItems"]]
        arn = table_arn(params["TableName"])
        if params.get("IndexName"):
            arn += f"/index/{params['IndexName']}"
        return [(f"dynamodb:{operation}", arn)]
    if service == "s3":
        resource = f"arn:aws:s3:::{params['Bucket']}"
        if "Key" in params:
            resource += f"/{params['Key']}"
        return [(f"s3:{operation}", resource)]
    if service == "stepfunctions":
        return [(f"states:{operation}", params.get("stateMachineArn", "*"))]
    if service == "secretsmanager":
        return [(f"secretsmanager:{operation}", params["SecretId"])]
    raise AssertionError(f"an AWS call the test does not know how to authorise: {service}")


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch) -> Callable[[], Recorder]:
    """``record()`` starts a new recorder; calls go to the newest one."""
    recorders: list[Recorder] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if recorders:
            recorders[-1].add(self.meta.service_model.service_name, operation, params)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)

    def start() -> Recorder:
        recorders.append(Recorder())
        return recorders[-1]

    return start


# The template's policies, resolved for this run ------------------------------------------------


#: The template's conditions as this run deploys it: one account's secret, no per-account
#: secrets, the AWS managed key.
CONDITIONS = {"HasSecret": True, "HasAccountSecrets": False, "HasKmsKey": False}
_NO_VALUE = object()


def resolve(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if "Fn::If" in value:
            condition, then, otherwise = value["Fn::If"]
            return resolve(then if CONDITIONS[condition] else otherwise, names)
        if "Ref" in value:
            return names[value["Ref"]]
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return names[f"{resource}.{attribute}"]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            for name, resolved in names.items():
                text = text.replace("${" + name + "}", resolved)
            assert "${" not in text, text
            return text
        resolved = {k: resolve(v, names) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
    if isinstance(value, list):
        return [v for v in (resolve(v, names) for v in value) if v is not _NO_VALUE]
    return value


def statements(function: str, names: dict[str, str], document: Any = None) -> list[dict[str, Any]]:
    """The function's policy statements (inline documents only: SAM's policy templates would
    grant more than the calls need, so the template uses none)."""
    document = document or template()
    policies = document["Resources"][function]["Properties"]["Policies"]
    found = []
    for policy in policies:
        assert isinstance(policy, dict), f"{function}: only inline policy documents, got {policy}"
        assert set(policy) == {"Version", "Statement"}, f"{function}: {policy}"
        for statement in resolve(policy["Statement"], names):
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            assert all("*" not in a for a in actions), f"{function}: wildcard action {actions}"
            found.append(statement)
    return found


def allowed(grants: list[dict[str, Any]], call: Grant) -> bool:
    action, resource = call
    return any(
        action in s["Action"] and any(fnmatch.fnmatchcase(resource, r) for r in s["Resource"])
        for s in grants
    )


def unused(grants: list[dict[str, Any]], calls: list[Grant]) -> list[Grant]:
    """Granted (action, resource pattern) pairs that no recorded call needed."""
    return [
        (action, pattern)
        for s in grants
        for action in s["Action"]
        for pattern in s["Resource"]
        if not any(a == action and fnmatch.fnmatchcase(r, pattern) for a, r in calls)
    ]


def problems(grants: list[dict[str, Any]], calls: list[Grant]) -> list[str]:
    denied = sorted({c for c in calls if not allowed(grants, c)})
    extra = unused(grants, calls)
    return [f"denied: {a} on {r}" for a, r in denied] + [
        f"never used: {a} on {r}" for a, r in extra
    ]


# The end-to-end run ---------------------------------------------------------------------------


@dataclass
class Run:
    snapshot_calls: list[Grant]
    report_calls: list[Grant]
    names: dict[str, str]


@pytest.fixture
def run(
    settings: TableSettings,
    record: Callable[[], Recorder],
    monkeypatch: pytest.MonkeyPatch,
) -> Run:
    history = demo_history(days=8)
    cycles = history.cycles
    ledger = TradeLedgerRepository(settings)
    record_all(ledger, (fill for cycle in cycles for fill in cycle.fills))
    # Small chunks, so that bodies are chunked and a replaced snapshot drops chunks.
    monkeypatch.setattr(snapshot_store, "INLINE_LIMIT", 1500)
    monkeypatch.setattr(snapshot_store, "CHUNK_SIZE", 1500)
    monkeypatch.setattr(snapshot_store, "MAX_CHUNKS", 40)
    secrets.clear_cache()
    manager = boto3.client("secretsmanager", region_name=REGION)
    secret_arn = manager.create_secret(
        Name="trade-ledger-test",
        SecretString=json.dumps(
            {"APCA_API_KEY_ID": DEFAULT_KEY_ID, "APCA_API_SECRET_KEY": DEFAULT_SECRET_KEY}
        ),
    )["ARN"]
    hmac_arn = manager.create_secret(
        Name="trade-ledger-test-hmac", SecretString=json.dumps({"SNAPSHOT_HMAC_KEY": "iam-key"})
    )["ARN"]
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "SNAPSHOT_HMAC_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("REPORT_STATE_MACHINE_ARN", raising=False)
    monkeypatch.setenv("TRADE_LEDGER_TABLE", settings.table_name)
    monkeypatch.setenv("TRADE_LEDGER_SECRET_ARN", secret_arn)
    monkeypatch.setenv("TRADE_LEDGER_HMAC_SECRET_ARN", hmac_arn)
    monkeypatch.setenv("SNAPSHOT_EQUITY_LOOKBACK_DAYS", "30")
    monkeypatch.setenv("SNAPSHOT_BENCHMARK_SYMBOL", "SPY")
    day1, day2 = cycles[-2], cycles[-1]

    def event(cycle: Any, **more: Any) -> dict[str, Any]:
        start = cycle.start.astimezone(UTC).replace(day=1, hour=0, minute=0)
        end = datetime(cycle.start.year, cycle.start.month, cycle.start.day, tzinfo=UTC)
        return {
            "account_id": DEMO_ACCOUNT_ID,
            "period_start": keys.format_seconds(start),
            "period_end": keys.format_seconds(end + timedelta(days=1)),
            "correlation_id": cycle.correlation_id,
            **more,
        }

    def account(upto: int, **options: Any) -> FakeAccount:
        return FakeAccount.from_history(
            cycles[:upto],
            events=history.events_until(cycles[upto - 1].end),
            **{"history_days": 60, "benchmark": "SPY", **options},
        )

    with running_fake_alpaca(account(len(cycles) - 1)) as fake:
        monkeypatch.setenv("APCA_API_BASE_URL", fake.base_url)
        monkeypatch.setenv("APCA_API_DATA_URL", fake.base_url)
        snapshot = record()
        trading_lambda.handler(event(day1), None)  # the first: a full read, events recorded
        fake.account = account(len(cycles))
        payload = trading_lambda.handler(event(day2), None)  # carried forward
        assert trading_lambda.handler(event(day2), None) == payload  # a retried cycle
        # A body smaller by chunks: no unfilled orders, no history before the ledger.
        fake.account = account(len(cycles), include_unfilled=False, history_days=0)
        replaced = trading_lambda.handler(
            event(day2, correlation_id="cycle-rerun", replace_checksum=payload["checksum"]),
            None,
        )
        assert replaced["checksum"] != payload["checksum"]

    monkeypatch.setenv("REPORT_BUCKET", BUCKET)
    monkeypatch.setenv("AWS_REGION", REGION)
    # The report function is another process (its own cold start) and has the HMAC secret
    # only: it can never read a trading key.
    monkeypatch.delenv("TRADE_LEDGER_SECRET_ARN")
    secrets.clear_cache()
    report = record()
    report_lambda.handler(replaced, None)
    report_lambda.handler({"account_id": DEMO_ACCOUNT_ID, "at": replaced["period"]["end"]}, None)
    report_lambda.handler({"account_id": DEMO_ACCOUNT_ID, "latest": True}, None)
    secrets.clear_cache()
    names = {
        "LedgerTable": settings.table_name,
        "LedgerTable.Arn": table_arn(settings.table_name),
        "ReportBucket": BUCKET,
        "ReportBucket.Arn": f"arn:aws:s3:::{BUCKET}",
        "SecretArn": secret_arn,
        "HmacSecretArn": hmac_arn,
    }
    return Run(snapshot.calls, report.calls, names)


def test_each_function_is_allowed_exactly_the_calls_it_makes(run: Run) -> None:
    snapshot_grants = statements("SnapshotFunction", run.names)
    report_grants = statements("ReportFunction", run.names)
    assert problems(snapshot_grants, run.snapshot_calls) == [], "\n".join(
        problems(snapshot_grants, run.snapshot_calls)
    )
    assert problems(report_grants, run.report_calls) == [], "\n".join(
        problems(report_grants, run.report_calls)
    )
    # What the run exercised: chunk writes and the replaced snapshot's dropped chunks.
    assert ("dynamodb:DeleteItem", run.names["LedgerTable.Arn"]) in run.snapshot_calls
    assert any(a == "s3:PutObject" for a, _ in run.report_calls)


def test_the_check_fails_when_a_policy_is_narrowed_or_widened(run: Run) -> None:
    document = template()

    def with_actions(function: str, edit: Callable[[list[str]], None]) -> list[dict[str, Any]]:
        changed = copy.deepcopy(document)
        policy = changed["Resources"][function]["Properties"]["Policies"][0]
        edit(policy["Statement"][0]["Action"])
        return statements(function, run.names, changed)

    narrowed = with_actions("SnapshotFunction", lambda actions: actions.remove("dynamodb:Query"))
    assert any(
        p.startswith("denied: dynamodb:Query") for p in problems(narrowed, run.snapshot_calls)
    )
    widened = with_actions("ReportFunction", lambda actions: actions.append("dynamodb:Scan"))
    assert any(
        p.startswith("never used: dynamodb:Scan") for p in problems(widened, run.report_calls)
    )
