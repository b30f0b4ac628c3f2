"""The trading Lambda's snapshot step: a handler to call after each trading cycle.

Event (JSON)::

    {"account_id": "...", "period_start": "2026-08-03T00:00:00Z",
     "period_end": "2026-08-04T00:00:00Z", "correlation_id": "cycle-2026-08-03",
     "strict": false, "replace_checksum": null}
    {"account_id": "...", "as_of": "2026-08-04T00:15:00Z", "period": "previous_day"}
    {"account_id": "...", "request": {...either of the above without account_id...}}

The second form is a schedule's (``SnapshotRequest``); the third the fleet state machine's.

Configuration is the ecosystem's: the table from ``TRADE_LEDGER_TABLE`` or
``TRADE_LEDGER_STAGE``, ``AWS_REGION`` and ``AWS_ENDPOINT_URL_DYNAMODB`` for DynamoDB,
``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` / ``APCA_API_BASE_URL`` for Alpaca,
``SNAPSHOT_HMAC_KEY`` for HMAC checksums, ``SNAPSHOT_STRICT=true`` to refuse snapshots whose
integrity checks fail, and ``REPORT_STATE_MACHINE_ARN`` to start the report state machine with
the payload. With ``TRADE_LEDGER_SECRET_ARN`` the Alpaca keys and the HMAC key come from that
Secrets Manager secret, read once per cold start (``snapshots.handlers.secrets``); with
``TRADE_LEDGER_ACCOUNT_SECRET_PREFIX`` each account's Alpaca keys come from its own secret (a
fleet), and only from it. Before anything is written the ledger account is bound to the
Alpaca account the keys read (``ledger_store.accounts``): another account's keys are refused.
The handler returns the payload; any failure raises, so the cycle sees it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from pydantic import TypeAdapter, ValidationError, model_validator

from ledger_store import keys
from ledger_store.checksums import hmac_key_from_env
from ledger_store.config import TableSettings
from ledger_store.dto import (
    AccountId,
    CorrelationId,
    Frozen,
    HexDigest,
    UTCDateTime,
    describe_validation_error,
)
from ledger_store.errors import LedgerValidationError
from snapshots.errors import (
    AlpacaAuthError,
    ReportTriggerError,
    ReportTriggerUnavailableError,
    aws_transient,
)
from snapshots.handlers.telemetry import emit_integrity_metrics, handler_logger
from snapshots.payload import SnapshotPayload

if TYPE_CHECKING:
    from snapshots.builder import SnapshotOutcome

# Cold start: the store (PynamoDB, botocore), the Alpaca source and the builder are imported
# when an event is handled; parsing the event needs none of them.

LOGGER = handler_logger(__name__)

#: Environment variable naming the report state machine to start (optional).
STATE_MACHINE_VARIABLE = "REPORT_STATE_MACHINE_ARN"
#: Environment variable switching strict integrity mode on (``true``/``1``/``yes``).
STRICT_VARIABLE = "SNAPSHOT_STRICT"

_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_-]")
_UTC: TypeAdapter[datetime] = TypeAdapter(UTCDateTime)


#: The periods a scheduled request may name (``{"as_of": T, "period": P}``).
SCHEDULED_PERIODS: Final = ("previous_day", "month_to_date")


def scheduled_period(as_of: datetime, period: str) -> tuple[datetime, datetime]:
    """The period a schedule firing at ``as_of`` means, ending at the UTC midnight before it.

    ``previous_day``: the UTC day that ended; ``month_to_date``: from the first of that day's
    month. A schedule after the US close (e.g. 00:15 UTC, Tuesday to Saturday) so snapshots the
    trading day that just ended, and consecutive daily periods tile without gaps.
    """
    moment = keys.require_utc(as_of, "as_of")
    end = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    last_day = end - timedelta(days=1)
    if period == "previous_day":
        return last_day, end
    if period == "month_to_date":
        return datetime(last_day.year, last_day.month, 1, tzinfo=UTC), end
    raise LedgerValidationError(
        f"period must be one of {', '.join(SCHEDULED_PERIODS)}, got {period!r}"
    )


class SnapshotRequest(Frozen):
    """The handler's event.

    Either the period itself (``period_start``, ``period_end``, ``correlation_id``), or — for a
    schedule — ``as_of`` (the schedule's time, e.g. EventBridge Scheduler's
    ``<aws.scheduler.scheduled-time>``) and ``period`` (``SCHEDULED_PERIODS``); the correlation
    id then defaults to ``scheduled-{YYYY-MM-DD}`` of the day that ended. The fleet state
    machine passes the shared fields under ``request`` beside each ``account_id``.
    """

    account_id: AccountId
    period_start: UTCDateTime
    period_end: UTCDateTime
    correlation_id: CorrelationId
    strict: bool | None = None
    replace_checksum: HexDigest | None = None

    @model_validator(mode="before")
    @classmethod
    def _scheduled(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        fields = dict(data)
        shared = fields.pop("request", None)
        if shared is not None:
            if not isinstance(shared, Mapping):
                raise ValueError("request must be an object of the request's fields")
            overlap = sorted(set(shared) & set(fields))
            if overlap:
                raise ValueError(f"fields given twice, in and beside request: {overlap}")
            fields.update(shared)
        if "as_of" not in fields and "period" not in fields:
            return fields
        if "period_start" in fields or "period_end" in fields:
            raise ValueError("give either as_of and period, or period_start and period_end")
        as_of = _UTC.validate_python(fields.pop("as_of", None))
        start, end = scheduled_period(as_of, str(fields.pop("period", "")))
        fields.update(period_start=start, period_end=end)
        ended = (end - timedelta(days=1)).date()
        fields.setdefault("correlation_id", f"scheduled-{ended.isoformat()}")
        return fields


def parse_request(event: Any) -> SnapshotRequest:
    """Validate the event; a bad one raises ``LedgerValidationError`` (nothing is read)."""
    if not isinstance(event, Mapping):
        raise LedgerValidationError(f"the event must be a JSON object, got {type(event).__name__}")
    try:
        return SnapshotRequest.model_validate(dict(event))
    except ValidationError as exc:
        raise LedgerValidationError(
            f"invalid snapshot request: {describe_validation_error(exc)}"
        ) from exc


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def execution_name(payload: SnapshotPayload) -> str:
    """Deterministic execution name: a retried cycle cannot start a second report run.

    It includes a checksum prefix, so a deliberately replaced snapshot gets its own run.
    """
    name = f"snapshot-{payload.snapshot_id}-{payload.checksum[:16]}"
    return _NAME_UNSAFE.sub("-", name)[:80]


#: How many report runs of one snapshot may end without a report before the start gives up.
MAX_REPORT_RUNS = 5
#: Statuses of a report run that will not produce its report: a new run is started.
_ENDED_WITHOUT_REPORT = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def start_report(
    state_machine_arn: str,
    payload: SnapshotPayload,
    *,
    client: Any | None = None,
    region: str | None = None,
) -> str:
    """Start the report state machine with ``payload``; returns the execution ARN.

    Idempotent: when the execution of this name already exists and is running or succeeded,
    its ARN is returned. One that failed, timed out or was aborted made no report, and a
    Standard execution's name cannot be reused: the next run is started as ``<name>-r1``,
    ``-r2``… (at most ``MAX_REPORT_RUNS`` runs in all). Other failures raise
    ``ReportTriggerError`` (``ReportTriggerUnavailableError`` when worth a retry).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    name = execution_name(payload)

    def failed(exc: Exception, what: str) -> ReportTriggerError:
        error = ReportTriggerUnavailableError if aws_transient(exc) else ReportTriggerError
        return error(
            f"snapshot {payload.snapshot_id} is stored, but {what} {state_machine_arn} "
            f"failed: {exc}"
        )

    if client is None:
        import boto3

        try:
            client = boto3.client("stepfunctions", region_name=region)
        except BotoCoreError as exc:  # no region, say: raised as the library's own error
            raise failed(exc, "a client to start") from exc
    for run in range(MAX_REPORT_RUNS):
        suffix = f"-r{run}" if run else ""
        run_name = name[: 80 - len(suffix)] + suffix
        try:
            response = client.start_execution(
                stateMachineArn=state_machine_arn, name=run_name, input=payload.to_text()
            )
            return str(response["executionArn"])
        except (ClientError, BotoCoreError) as exc:
            code = (
                exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
            )
            if code != "ExecutionAlreadyExists":
                raise failed(exc, "starting") from exc
        arn = _execution_arn(state_machine_arn, run_name)
        try:
            status = client.describe_execution(executionArn=arn)["status"]
        except (ClientError, BotoCoreError) as exc:
            raise failed(exc, f"describing the existing run {run_name} of") from exc
        if status not in _ENDED_WITHOUT_REPORT:
            return arn
    raise ReportTriggerError(
        f"snapshot {payload.snapshot_id} is stored, but {MAX_REPORT_RUNS} runs of "
        f"{state_machine_arn} for it ended without a report (see the executions {name}*)"
    )


def _execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def run(
    request: SnapshotRequest,
    *,
    environ: Mapping[str, str] | None = None,
    alpaca: Any | None = None,
) -> tuple[SnapshotOutcome, str | None]:
    """Take the requested snapshot with the environment's configuration.

    Returns the outcome and the report execution ARN (``None`` without a state machine).
    ``alpaca`` replaces the ``AlpacaSource`` built from ``APCA_*`` (tests, other brokers).
    """
    from ledger_store.snapshot_store import AccountSnapshotRepository
    from ledger_store.trades import TradeLedgerRepository
    from snapshots.alpaca.source import AlpacaSource
    from snapshots.builder import take_snapshot
    from snapshots.handlers.secrets import (
        EXPECTED_ACCOUNT_VARIABLE,
        account_environment,
        environment,
        forget_account,
    )

    env = account_environment(environment(environ), request.account_id)
    settings = TableSettings.from_env(environ=env)
    hmac_key = hmac_key_from_env(env)
    strict = request.strict if request.strict is not None else _flag(env.get(STRICT_VARIABLE))
    source = alpaca if alpaca is not None else AlpacaSource(environ=env)
    try:
        outcome = take_snapshot(
            account_id=request.account_id,
            period_start=request.period_start,
            period_end=request.period_end,
            correlation_id=request.correlation_id,
            alpaca=source,
            ledger=TradeLedgerRepository(settings),
            store=AccountSnapshotRepository(settings, hmac_key=hmac_key),
            hmac_key=hmac_key,
            strict=strict,
            replace_checksum=request.replace_checksum,
            expected_alpaca_account_id=env.get(EXPECTED_ACCOUNT_VARIABLE) or None,
        )
    except AlpacaAuthError:
        forget_account(env, request.account_id)
        raise
    finally:
        if alpaca is None:
            source.close()
    arn = env.get(STATE_MACHINE_VARIABLE) or None
    execution = (
        start_report(arn, outcome.payload, region=settings.region) if arn is not None else None
    )
    return outcome, execution


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point: take the snapshot, start the report, return the payload."""
    request = parse_request(event)
    outcome, execution = run(request)
    worst = sorted({c.status.value for c in outcome.snapshot.integrity_checks})
    if outcome.status != "existing":  # a stored snapshot's checks were counted when it was
        emit_integrity_metrics(
            [(c.name, c.status.value) for c in outcome.snapshot.integrity_checks],
            stage=os.environ.get("TRADE_LEDGER_STAGE") or "default",
            at=datetime.now(UTC),  # CloudWatch drops metrics older than two weeks
        )
    LOGGER.info(
        json.dumps(
            {
                "message": "snapshot stored",
                "correlation_id": request.correlation_id,
                "status": outcome.status,
                "snapshot_id": outcome.snapshot.snapshot_id,
                "key": f"{outcome.payload.key.pk} / {outcome.payload.key.sk}",
                "checks": worst,
                "report_execution": execution,
                "ledger_read": (
                    None
                    if outcome.ledger_read is None
                    else outcome.ledger_read.model_dump(mode="json")
                ),
            },
            sort_keys=True,
        )
    )
    return outcome.payload.to_json()


__all__ = [
    "SCHEDULED_PERIODS",
    "SnapshotRequest",
    "execution_name",
    "handler",
    "parse_request",
    "run",
    "scheduled_period",
    "start_report",
]
