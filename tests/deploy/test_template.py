"""The SAM application: cfn-lint on the template and on its state machines, the table's
definition against the models, and the state machines' Retry/Catch against the library's errors.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ledger_store import errors as store_errors
from ledger_store import keys
from ledger_store.bootstrap import cloudformation_template
from snapshots import errors as snapshot_errors
from snapshots.handlers import report as report_handler
from tests.builders import ROOT

DEPLOY = ROOT / "deploy"
TEMPLATE = DEPLOY / "template.yaml"
MACHINES = {
    "SnapshotStateMachine": "snapshot.asl.json",
    "ReportStateMachine": "report.asl.json",
    "FleetStateMachine": "fleet.asl.json",
    "FleetDistributedStateMachine": "fleet-distributed.asl.json",
}
#: The library's errors that a retry can cure (an outage outlasted the library's own retries).
#: What Step Functions retries: every ``TransientError`` the library defines, by its name (the
#: ASL matches an error's exact class name, never its base classes).
TRANSIENT = store_errors.transient_error_names(store_errors, snapshot_errors, report_handler)
#: A throttled invocation (reserved concurrency in use) and the longest snapshot task.
THROTTLED = "Lambda.TooManyRequestsException"
TASK_TIMEOUT = 360
#: Errors of the Lambda service and of Step Functions itself, worth a retry.
SERVICE = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "States.Timeout",
}


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    return loaded


def machine(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (DEPLOY / "statemachine" / MACHINES[name]).read_text(encoding="utf-8")
    )
    return loaded


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(path)],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def library_errors() -> set[str]:
    """The class names of every typed error the handlers can raise (Step Functions' names)."""
    found = set()
    for module in (store_errors, snapshot_errors, report_handler):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, store_errors.LedgerError):
                found.add(value.__name__)
    return found


def tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state, including those inside a Map's item processor."""
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        if state["Type"] == "Map":
            yield from tasks(state["ItemProcessor"]["States"])


def test_cfn_lint_passes_on_the_template() -> None:
    result = cfn_lint(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def asl_template(tmp_path: Path, edit: Any = None) -> Path:
    """Each state machine as an ``AWS::StepFunctions::StateMachine`` with its definition
    inline and its substitutions made (as SAM makes them), so cfn-lint validates the ASL."""
    resources = {}
    for name, file in MACHINES.items():
        text = (DEPLOY / "statemachine" / file).read_text(encoding="utf-8")
        for key in ("SnapshotFunctionArn", "ReportFunctionArn"):
            text = text.replace(
                "${" + key + "}", f"arn:aws:lambda:us-east-1:123456789012:function:{key}"
            )
        text = text.replace("${ResultsBucketName}", "trade-ledger-reports")
        definition = json.loads(text)
        resources[name] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "RoleArn": "arn:aws:iam::123456789012:role/states",
                "Definition": edit(name, definition) if edit else definition,
            },
        }
    path = tmp_path / "machines.yaml"
    document = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_cfn_lint_validates_the_state_machines(tmp_path: Path) -> None:
    result = cfn_lint(asl_template(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr

    def broken(name: str, definition: dict[str, Any]) -> dict[str, Any]:
        if name == "FleetStateMachine":
            definition = copy.deepcopy(definition)
            inner = definition["States"]["Accounts"]["ItemProcessor"]["States"]
            inner["Snapshot"]["Retry"][0]["BackoffRate"] = "fast"
        return definition

    result = cfn_lint(asl_template(tmp_path, broken))
    assert result.returncode != 0
    assert "'fast' is not of type 'number'" in result.stdout


def transitions(state: dict[str, Any]) -> set[str]:
    found = {state[k] for k in ("Next", "Default") if k in state}
    found |= {c["Next"] for c in state.get("Choices", [])}
    found |= {c["Next"] for c in state.get("Catch", [])}
    return found


def check_graph(definition: dict[str, Any]) -> list[str]:
    """What cfn-lint's schema does not check: targets exist, every state is reachable, each
    path ends; recursively into Map item processors."""
    states = definition["States"]
    problems = [f"StartAt {definition['StartAt']} is not a state"] * (
        definition["StartAt"] not in states
    )
    seen, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        state = states[name]
        targets = transitions(state)
        problems += [f"{name} -> {t}: no such state" for t in sorted(targets - set(states))]
        ends = state["Type"] in {"Succeed", "Fail"} or state.get("End") is True
        if not ends and "Next" not in state and state["Type"] != "Choice":
            problems.append(f"{name} neither ends nor goes on")
        if state["Type"] == "Map":
            problems += check_graph(state["ItemProcessor"])
        todo += sorted(targets)
    problems += [f"{name} is unreachable" for name in sorted(set(states) - seen)]
    return problems


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_every_transition_lands_and_every_state_is_reachable(name: str) -> None:
    assert check_graph(machine(name)) == []
    broken = machine(name)
    first = broken["StartAt"]
    broken["States"][first]["Next"] = "NoSuchState"
    assert f"{first} -> NoSuchState: no such state" in check_graph(broken)


def test_the_table_is_the_models_table() -> None:
    generated = cloudformation_template()["Resources"]["TradeLedgerTable"]
    assert template()["Resources"]["LedgerTable"] == generated


def test_every_substitution_is_given() -> None:
    resources = template()["Resources"]
    for name, file in MACHINES.items():
        text = (DEPLOY / "statemachine" / file).read_text(encoding="utf-8")
        needed = {part.split("}")[0] for part in text.split("${")[1:]}
        given = set(resources[name]["Properties"]["DefinitionSubstitutions"])
        assert needed == given, name


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_retries_name_the_library_s_transient_errors_and_catches_fail_with_them(
    name: str,
) -> None:
    known = library_errors()
    assert known >= TRANSIENT
    for state_name, state in tasks(machine(name)["States"]):
        retried = {e for retry in state["Retry"] for e in retry["ErrorEquals"]}
        # Every name is one the library raises, or a Lambda/Step Functions service error.
        assert retried <= known | SERVICE, retried - known - SERVICE
        # The transient ones are retried, with backoff; nothing permanent is.
        assert retried & known == TRANSIENT, (name, state_name)
        for retry in state["Retry"]:
            assert retry["BackoffRate"] >= 2
            if retry["ErrorEquals"] == [THROTTLED]:
                continue
            assert retry["MaxAttempts"] <= 4
            assert THROTTLED not in retry["ErrorEquals"]
        # A throttled invocation waits for a slot of the reserved concurrency, which a running
        # snapshot holds for up to its timeout: retried with jittered backoff for minutes.
        (throttled,) = [r for r in state["Retry"] if THROTTLED in r["ErrorEquals"]]
        waits = [
            min(
                throttled["IntervalSeconds"] * throttled["BackoffRate"] ** n,
                throttled.get("MaxDelaySeconds", 1e9),
            )
            for n in range(throttled["MaxAttempts"])
        ]
        # Full jitter waits half the ceilings on average: together more than a task's timeout.
        assert sum(waits) / 2 >= TASK_TIMEOUT, waits
        assert throttled["JitterStrategy"] == "FULL"
        if name == "FleetDistributedStateMachine":
            # A child execution per account: its failure fails the child, and the map run
            # counts it (and names it in its results).
            assert "Catch" not in state
            continue
        # Anything else is caught and carried (error type and message) to the failure state.
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        assert catch["ResultPath"] == "$.error"


def test_the_large_fleet_s_failure_tolerance_is_a_bounded_stage_parameter() -> None:
    """The tolerance is the stage's (0..100, none tolerated by default), handed to the map run
    as a number; more failures than it allows end in FleetAccountsFailed."""
    parameter = template()["Parameters"]["FleetToleratedFailurePercentage"]
    assert (parameter["Type"], parameter["Default"]) == ("Number", 0)
    assert (parameter["MinValue"], parameter["MaxValue"]) == (0, 100)
    states = machine("FleetDistributedStateMachine")["States"]
    settings = states["Settings"]["Parameters"]
    path = states["Accounts"]["ToleratedFailurePercentagePath"]
    assert path == "$.tolerated_failure_percentage"
    assert settings["tolerated_failure_percentage.$"] == (
        "States.StringToJson('${ToleratedFailurePercentage}')"
    )
    (catch,) = states["Accounts"]["Catch"]
    assert catch["ErrorEquals"] == ["States.ExceedToleratedFailureThreshold"]
    assert states[catch["Next"]] == {**states[catch["Next"]], "Error": "FleetAccountsFailed"}


def test_a_failure_carries_the_error_type_and_its_message() -> None:
    for name in ("SnapshotStateMachine", "ReportStateMachine"):
        states = machine(name)["States"]
        failures = [s for s in states.values() if s["Type"] == "Fail"]
        assert failures
        for failure in failures:
            assert (failure["ErrorPath"], failure["CausePath"]) == (
                "$.error.Error",
                "$.error.Cause",
            )
    fleet = machine("FleetStateMachine")["States"]
    inner = fleet["Accounts"]["ItemProcessor"]["States"]
    assert inner["AccountFailed"]["Parameters"]["error.$"] == "$.error"


def test_a_fleet_runs_at_most_as_many_accounts_as_the_snapshot_function_may_serve() -> None:
    """Both fleets' maps run as many accounts at once as the snapshot function's reserved
    concurrency (no throttled invocation by design), read from the stage's parameter."""
    resources = template()["Resources"]
    assert resources["SnapshotFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Ref": "SnapshotConcurrency"
    }
    for name in ("FleetStateMachine", "FleetDistributedStateMachine"):
        given = resources[name]["Properties"]["DefinitionSubstitutions"]
        assert given["MaxConcurrency"] == {"Ref": "SnapshotConcurrency"}
        states = machine(name)["States"]
        assert states["Settings"]["Parameters"]["max_concurrency.$"] == (
            "States.StringToJson('${MaxConcurrency}')"
        )
        assert "MaxConcurrency" not in states["Accounts"]
        assert states["Accounts"]["MaxConcurrencyPath"] == "$.max_concurrency"
        assert machine(name)["StartAt"] == "Settings"


def select(template_value: Any, document: Any, context: dict[str, Any]) -> Any:
    """Step Functions' ``Parameters``/``ItemSelector`` for the paths the machines use."""

    def path(expression: str) -> Any:
        root, rest = (
            (context, expression[2:]) if expression.startswith("$$") else (document, expression[1:])
        )
        value = root
        for part in [p for p in rest.split(".") if p]:
            value = value[part]
        return value

    if isinstance(template_value, dict):
        return {
            (k[:-2] if k.endswith(".$") else k): (
                path(v) if k.endswith(".$") else select(v, document, context)
            )
            for k, v in template_value.items()
        }
    return template_value


def test_the_handlers_take_exactly_what_the_machines_pass() -> None:
    from snapshots.handlers.report import parse_request as parse_report
    from snapshots.handlers.trading import parse_request as parse_snapshot

    fleet = machine("FleetStateMachine")["States"]["Accounts"]
    explicit = {
        "period_start": "2026-10-01T00:00:00Z",
        "period_end": "2026-10-24T00:00:00Z",
        "correlation_id": "close-2026-10-23",
    }
    # What the schedule sends: Scheduler's time of the run and the period it means.
    scheduled = {"as_of": "2026-10-24T00:15:00Z", "period": "month_to_date"}
    for shared, correlation in (
        (explicit, "close-2026-10-23"),
        (scheduled, "scheduled-2026-10-23"),
    ):
        run_input = {"accounts": ["acct-a", "acct-b"], "request": shared}
        for account in run_input["accounts"]:
            context = {"Map": {"Item": {"Value": account}}}
            item = select(fleet["ItemSelector"], run_input, context)
            request = parse_snapshot(item)  # extra="forbid": exactly the handler's fields
            assert (request.account_id, request.correlation_id) == (account, correlation)
            assert keys.format_seconds(request.period_start) == "2026-10-01T00:00:00Z"
            assert keys.format_seconds(request.period_end) == "2026-10-24T00:00:00Z"
    for name in ("SnapshotStateMachine", "FleetStateMachine"):
        states = machine(name)["States"]
        states = (
            states["Accounts"]["ItemProcessor"]["States"] if name == "FleetStateMachine" else states
        )
        # Each task hands its input to the function whole, and passes on the function's result.
        for task in ("Snapshot", "Report"):
            assert states[task]["Parameters"]["Payload.$"] == "$"
            assert states[task]["OutputPath"] == "$.Payload"
    payload = {
        "account_id": "acct-a",
        "period": {"start": "2026-10-01T00:00:00Z", "end": "2026-10-24T00:00:00Z"},
        "snapshot_id": "026dc75f-e936-567a-a1bc-8fe2aca213ea",
        "key": {"pk": "SNAPSHOT#acct-a", "sk": "SNAP#2026-10-24T00:00:00Z"},
        "checksum": "a" * 64,
        "checksum_algorithm": "sha256",
    }
    assert parse_report(payload).account_id == "acct-a"  # the snapshot step's output


def test_the_schedule_starts_the_fleet_with_requests_the_handler_takes() -> None:
    from snapshots.handlers.trading import parse_request as parse_snapshot

    fleet = template()["Resources"]["FleetStateMachine"]["Properties"]
    schedule = fleet["Events"]["AfterTheClose"]["Properties"]
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    text, variables = schedule["Input"]["Fn::Sub"]
    separator, _ = variables["Accounts"]["Fn::Join"]
    accounts = ["acct-a", "acct-b"]
    rendered = (
        text.replace("${Accounts}", separator.join(accounts))
        .replace("${SchedulePeriod}", "previous_day")
        .replace("<aws.scheduler.scheduled-time>", "2026-10-24T00:15:00Z")
    )
    run_input = json.loads(rendered)
    assert run_input["accounts"] == accounts
    selector = machine("FleetStateMachine")["States"]["Accounts"]["ItemSelector"]
    for account in accounts:
        item = select(selector, run_input, {"Map": {"Item": {"Value": account}}})
        request = parse_snapshot(item)
        assert keys.format_seconds(request.period_start) == "2026-10-23T00:00:00Z"
        assert keys.format_seconds(request.period_end) == "2026-10-24T00:00:00Z"
        assert request.correlation_id == "scheduled-2026-10-23"


def test_the_library_splits_its_errors_into_transient_and_permanent() -> None:
    """The split the machines follow: what may pass is retried (storage and Alpaca outages, S3
    ``SlowDown`` on the upload, a throttled secret read, a throttled report start); a refusal
    (access denied, a missing table, a bad request, a conflict of meaning) fails at once."""
    assert {
        "AlpacaUnavailableError",
        "ReportTriggerUnavailableError",
        "ReportUploadUnavailableError",
        "SecretUnavailableError",
        "StorageUnavailableError",
    } == TRANSIENT
    permanent = library_errors() - TRANSIENT
    assert {
        "StorageAccessError",
        "ReportUploadError",
        "ConfigurationError",
        "AccountMismatchError",
        "ConflictError",
        "AlpacaAuthError",
    } <= permanent


def test_names_are_stage_scoped_and_invokes_exact() -> None:
    """Two stages never collide (the schedule's name was not scoped), and each state machine
    may invoke exactly its functions (SAM's LambdaInvokePolicy grants ``name*``)."""
    resources = template()["Resources"]
    schedule = resources["FleetStateMachine"]["Properties"]["Events"]["AfterTheClose"]
    properties = schedule["Properties"]
    assert properties["Name"] == {"Fn::Sub": "trade-ledger-fleet-after-close-${Stage}"}
    assert properties["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert properties["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}
    }
    queue = resources["ScheduleDeadLetterQueue"]["Properties"]
    assert queue["QueueName"] == {"Fn::Sub": "trade-ledger-schedule-dlq-${Stage}"}
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        for key in (
            "FunctionName",
            "Name",
            "TableName",
            "LogGroupName",
            "QueueName",
            "TopicName",
            "AlarmName",
        ):
            if key in properties:
                assert "${Stage}" in json.dumps(properties[key]), (name, key)
        if resource["Type"] != "AWS::Serverless::StateMachine":
            continue
        for policy in properties["Policies"]:
            assert "LambdaInvokePolicy" not in policy, name
        invokes = [
            statement
            for policy in properties["Policies"]
            for statement in policy["Statement"]
            if statement.get("Action") == ["lambda:InvokeFunction"]
        ]
        (invoke,) = invokes
        assert all(set(r) == {"Fn::GetAtt"} for r in invoke["Resource"]), name


def test_the_report_function_reads_the_hmac_key_and_no_trading_key() -> None:
    """The report function's only secret is the HMAC key's; the snapshot function reads it,
    one account's keys or its fleet's per-account secrets, and a customer-managed key when
    one is given (kms:Decrypt through Secrets Manager only)."""
    resources = template()["Resources"]
    globals_ = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert "TRADE_LEDGER_SECRET_ARN" not in globals_
    assert globals_["TRADE_LEDGER_HMAC_SECRET_ARN"] == {"Ref": "HmacSecretArn"}
    report = resources["ReportFunction"]["Properties"]
    assert "TRADE_LEDGER_SECRET_ARN" not in report["Environment"]["Variables"]
    statements = report["Policies"][0]["Statement"]
    secret_reads = [s for s in statements if s.get("Action") == ["secretsmanager:GetSecretValue"]]
    assert secret_reads == [
        {
            "Sid": "HmacSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [{"Ref": "HmacSecretArn"}],
        }
    ]
    snapshot = resources["SnapshotFunction"]["Properties"]
    (reads,) = [
        s
        for s in snapshot["Policies"][0]["Statement"]
        if s.get("Action") == ["secretsmanager:GetSecretValue"]
    ]
    prefix = reads["Resource"][2]["Fn::If"][1]["Fn::Sub"]
    arn = (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:trade-ledger/prod/alpaca/6f1c-AbCdEf"
    )
    pattern = (
        prefix.replace("${AWS::Partition}", "aws")
        .replace("${AWS::Region}", "us-east-1")
        .replace("${AWS::AccountId}", "123456789012")
        .replace("${AccountSecretPrefix}", "trade-ledger/prod/alpaca/")
    )
    assert fnmatch.fnmatchcase(arn, pattern)
    kms = [s["Fn::If"][1] for s in snapshot["Policies"][0]["Statement"] if "Fn::If" in s] + [
        s["Fn::If"][1] for s in statements if "Fn::If" in s
    ]
    assert len(kms) == 2
    for statement in kms:
        assert statement["Action"] == ["kms:Decrypt"]
        assert statement["Resource"] == [{"Ref": "SecretKmsKeyArn"}]
        assert "kms:ViaService" in statement["Condition"]["StringEquals"]
    assert snapshot["ReservedConcurrentExecutions"] == {"Ref": "SnapshotConcurrency"}


def test_someone_is_told_when_something_fails() -> None:
    """Failed executions of every machine reach the alert topic (and an e-mail when given);
    alarms watch the functions' errors and throttles, the table's throttles and the handler's
    failed-integrity-check metric (its namespace, name and dimensions are the handler's); the
    functions write JSON logs at INFO."""
    from snapshots.handlers import telemetry

    resources = template()["Resources"]
    rule = resources["FailedExecutionRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    machines = [n for n, r in resources.items() if r["Type"] == "AWS::Serverless::StateMachine"]
    watched = rule["EventPattern"]["detail"]["stateMachineArn"]
    assert sorted(r["Ref"] for r in watched) == sorted(machines)
    assert rule["Targets"] == [{"Id": "alert-topic", "Arn": {"Ref": "AlertTopic"}}]
    # The topic policy replaces SNS's default one: it admits the rule and the stage's alarms,
    # and every alarm's name is one the alarms' grant covers.
    grant, alarm_grant = resources["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert grant["Principal"] == {"Service": "events.amazonaws.com"}
    assert grant["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["FailedExecutionRule", "Arn"]
    }
    assert alarm_grant["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarm_grant["Action"] == "sns:Publish"
    pattern = alarm_grant["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    alarm_names = [
        r["Properties"]["AlarmName"]["Fn::Sub"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    ]
    assert alarm_names
    for name in alarm_names:
        arn = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:" + name
        assert fnmatch.fnmatchcase(arn, pattern), name
    assert resources["AlertEmailSubscription"]["Condition"] == "HasAlertEmail"

    alarms = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in resources.values()
        if a["Type"] == "AWS::CloudWatch::Alarm"
    }
    watched = {
        (namespace, metric, tuple(d["Name"] for d in alarm["Dimensions"]))
        for (namespace, metric), alarm in alarms.items()
    } | {
        (
            "AWS/Lambda",
            a["Properties"]["MetricName"],
            a["Properties"]["Dimensions"][0]["Value"]["Ref"],
        )
        for a in resources.values()
        if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"]["Namespace"] == "AWS/Lambda"
    }
    for function in ("SnapshotFunction", "ReportFunction"):
        for metric in ("Errors", "Throttles"):
            assert ("AWS/Lambda", metric, function) in watched
    assert ("AWS/DynamoDB", "ReadThrottleEvents", ("TableName",)) in watched
    assert ("AWS/DynamoDB", "WriteThrottleEvents", ("TableName",)) in watched
    # A scheduled run that could not even start lands in the dead-letter queue: watched too.
    dead = alarms[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert dead["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "QueueName"]}}
    ]
    schedule = resources["FleetStateMachine"]["Properties"]["Events"]
    (target,) = [e["Properties"] for e in schedule.values()]
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}
    integrity = alarms[(telemetry.NAMESPACE, telemetry.METRIC)]
    dimensions = {d["Name"]: d["Value"] for d in integrity["Dimensions"]}
    assert dimensions == {"Stage": {"Ref": "Stage"}, "Status": "fail"}
    emitted = telemetry.integrity_metric(
        "c", "fail", stage="x", at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert ["Stage", "Status"] in emitted["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]
    for function in ("SnapshotFunction", "ReportFunction"):
        logging_config = resources[function]["Properties"]["LoggingConfig"]
        assert (logging_config["LogFormat"], logging_config["ApplicationLogLevel"]) == (
            "JSON",
            "INFO",
        )


def test_no_iam_resource_is_named() -> None:
    """The stack deploys with CAPABILITY_IAM (what ``sam deploy --guided`` grants by default):
    a named IAM resource would need CAPABILITY_NAMED_IAM, and IAM names are global."""
    names = ("RoleName", "ManagedPolicyName", "PolicyName", "UserName", "GroupName")
    for name, resource in template()["Resources"].items():
        if resource["Type"].startswith("AWS::IAM::"):
            assert not set(resource["Properties"]) & set(names), name


def test_a_trading_bot_gets_a_policy_to_start_the_snapshot_machine() -> None:
    resources = template()["Resources"]
    policy = resources["SnapshotStarterPolicy"]["Properties"]
    statement, describe = policy["PolicyDocument"]["Statement"]
    # start_report describes a report run of the same name (restarted when it failed).
    assert describe["Action"] == ["states:DescribeExecution"]
    assert describe["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
            "execution:trade-ledger-report-${Stage}:*"
        }
    ]
    report_name = resources["ReportStateMachine"]["Properties"]["Name"]
    assert report_name == {"Fn::Sub": "trade-ledger-report-${Stage}"}
    assert statement["Action"] == ["states:StartExecution"]
    assert statement["Resource"] == [
        {"Ref": "SnapshotStateMachine"},
        {"Ref": "ReportStateMachine"},
    ]
    assert template()["Outputs"]["SnapshotStarterPolicyArn"]["Value"] == {
        "Ref": "SnapshotStarterPolicy"
    }


def test_every_name_fits_its_limit_at_the_longest_stage() -> None:
    """The Stage pattern admits only what every service's names allow, and its maximum length
    keeps each name within 64 characters (Lambda, EventBridge, Scheduler); secret ARNs are
    the full ones IAM can match (with Secrets Manager's suffix)."""
    parameters = template()["Parameters"]
    stage = parameters["Stage"]
    assert re.fullmatch(stage["AllowedPattern"], "prod_eu-1")
    assert not re.fullmatch(stage["AllowedPattern"], "prod.eu")
    longest = "x" * stage["MaxLength"]
    limits = {
        "AWS::CloudWatch::Alarm": 255,
        "AWS::DynamoDB::Table": 255,
        "AWS::SNS::Topic": 256,
        "AWS::SQS::Queue": 80,
        "AWS::Serverless::StateMachine": 80,
        "AWS::Logs::LogGroup": 512,
    }
    names = [
        (value["Fn::Sub"].replace("${Stage}", longest), limits.get(resource["Type"], 64))
        for resource in template()["Resources"].values()
        for key, value in resource["Properties"].items()
        if key.endswith("Name")
        and isinstance(value, dict)
        and isinstance(value.get("Fn::Sub"), str)
    ]
    assert len(names) > 10
    too_long = [name for name, limit in names if len(name) > limit]
    assert too_long == []
    schedule = template()["Resources"]["FleetStateMachine"]["Properties"]["Events"]
    (event,) = schedule.values()
    assert len(event["Properties"]["Name"]["Fn::Sub"].replace("${Stage}", longest)) <= 64
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:trade-ledger/hmac"
    for name in ("HmacSecretArn", "SecretArn"):
        pattern = parameters[name]["AllowedPattern"]
        assert re.fullmatch(pattern, arn + "-AbC123")
        assert not re.fullmatch(pattern, arn)
