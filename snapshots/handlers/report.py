"""The report Lambda: a stored snapshot -> verified -> rendered PDF -> (optionally) S3.

Step Functions starts it with the payload the trading Lambda emitted. Three event forms::

    {"account_id": "...", "period": {"start": "...Z", "end": "...Z"}, "snapshot_id": "...",
     "key": {"pk": "...", "sk": "..."}, "checksum": "...", "checksum_algorithm": "..."}
    {"account_id": "...", "at": "2026-08-04T00:00:00Z"}
    {"account_id": "...", "latest": true}

In the first form ``key``, ``checksum`` and ``checksum_algorithm`` are optional; when present
they must agree with the key computed from account and period end and with the stored snapshot.
Timestamps are UTC, ``YYYY-MM-DDTHH:MM:SSZ``. The snapshot is read with one GetItem (one Query
for ``latest``), verified (schema, checksum with ``SNAPSHOT_HMAC_KEY``, which may come from the
``TRADE_LEDGER_SECRET_ARN`` secret, see ``snapshots.handlers.secrets``; stored metadata) and
compared with the payload, then rendered by ``snapshots.report.pdf`` with the options of the
environment (``REPORT_RISK_FREE_RATE``, ``REPORT_REVEAL_ACCOUNT_IDS``; see
``snapshots.report.metrics.options_from_env``). With ``REPORT_BUCKET`` set the PDF goes to
``s3://{bucket}/reports/{account_id}/{period_end}.pdf``.

Every failure raises a typed ``LedgerError`` (its class name is the Step Functions error name),
so no report is ever claimed that was not made. Cold-start discipline: this module (and what it
imports) never loads alpaca-py, pandas, the Alpaca source, the snapshot builder, the ledger
metrics or the integrity checks — reporting cannot call Alpaca. ``tests/test_report_lambda.py``
checks that in a fresh interpreter.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, cast

from pydantic import (
    AfterValidator,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    ValidationError,
    model_validator,
)

from ledger_store import keys
from ledger_store.checksums import HMAC_KEY_VARIABLE, ChecksumAlgorithm, hmac_key_from_env
from ledger_store.config import TableSettings
from ledger_store.dto import AccountId, Frozen, HexDigest, UuidText
from ledger_store.errors import IntegrityError, LedgerError, LedgerValidationError, TransientError
from snapshots.errors import aws_transient
from snapshots.handlers.telemetry import handler_logger
from snapshots.payload import SnapshotKey

if TYPE_CHECKING:
    from snapshots.report.metrics import ReportOptions
    from snapshots.report.pdf import RenderedReport
    from snapshots.schema import AnySnapshot

# Cold start: the store (PynamoDB, botocore), the snapshot schema and the renderer (ReportLab)
# are imported when an event is handled, not when the module loads; parsing the event needs
# none of them.

LOGGER = handler_logger(__name__)

#: Environment variable naming the S3 bucket for the PDFs (optional: no upload without it).
BUCKET_VARIABLE = "REPORT_BUCKET"
#: Content type of the uploaded object.
PDF_CONTENT_TYPE = "application/pdf"

_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


# Errors -----------------------------------------------------------------------------------


class ReportPayloadError(LedgerValidationError):
    """The event is not one of the accepted forms; nothing was read."""


class SnapshotMismatchError(IntegrityError):
    """The stored snapshot verifies, but it is not the one the payload names.

    ``differences`` holds ``(field, payload value, stored value)`` for each disagreement.
    """

    def __init__(self, key: str, differences: Sequence[tuple[str, str, str]]) -> None:
        self.key = key
        self.differences = tuple(differences)
        listed = "; ".join(
            f"payload {name} {given!r}, stored {stored!r}" for name, given, stored in differences
        )
        super().__init__(f"snapshot {key} is not the one the payload names: {listed}")


class ReportUploadError(LedgerError):
    """The PDF was rendered but S3 refused it for good (access denied, no such bucket)."""

    def __init__(self, uri: str, cause: BaseException) -> None:
        self.uri = uri
        self.cause = cause
        super().__init__(f"uploading the report to {uri} failed: {type(cause).__name__}: {cause}")


class ReportUploadUnavailableError(ReportUploadError, TransientError):
    """The PDF was rendered but S3 could not take it now (``SlowDown``, a 5xx, the network):
    the task fails and Step Functions retries it; the key is deterministic."""


# The event --------------------------------------------------------------------------------


def _utc_seconds(value: object) -> datetime:
    """Accept exactly ``YYYY-MM-DDTHH:MM:SSZ`` (what the payload carries), nothing looser."""
    if not isinstance(value, str) or not _SECONDS.fullmatch(value):
        raise ValueError(f"must be a UTC timestamp YYYY-MM-DDTHH:MM:SSZ, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"is not a valid date and time: {value!r}") from None


#: A period boundary as the payload writes it; parsed to an aware UTC datetime.
UTCSeconds = Annotated[
    datetime,
    PlainValidator(_utc_seconds),
    PlainSerializer(keys.format_seconds, return_type=str),
]


def _must_be_true(value: bool) -> bool:
    if not value:
        raise ValueError("must be true (name a snapshot with 'at' or the payload instead)")
    return value


class ReportPeriod(Frozen):
    """The payload's half-open period ``[start, end)``."""

    start: UTCSeconds
    end: UTCSeconds

    @model_validator(mode="after")
    def _ordered(self) -> ReportPeriod:
        if self.start >= self.end:
            raise ValueError("period.start must be before period.end")
        return self


class PayloadReportRequest(Frozen):
    """The Step Functions payload of ``snapshots.payload.SnapshotPayload``."""

    account_id: AccountId
    period: ReportPeriod
    snapshot_id: UuidText
    key: SnapshotKey | None = None
    checksum: HexDigest | None = None
    checksum_algorithm: ChecksumAlgorithm | None = None

    @model_validator(mode="after")
    def _key_matches(self) -> PayloadReportRequest:
        expected = SnapshotKey(
            pk=keys.snapshot_pk(self.account_id), sk=keys.snapshot_sk(self.period.end)
        )
        if self.key is not None and self.key != expected:
            raise ValueError(
                f"key {self.key.pk} / {self.key.sk} is not the key of account and period end "
                f"({expected.pk} / {expected.sk})"
            )
        return self

    @property
    def period_end(self) -> datetime:
        """The snapshot's key timestamp (what the GetItem reads)."""
        return self.period.end


class AtReportRequest(Frozen):
    """The snapshot of ``account_id`` whose period ends at ``at``."""

    account_id: AccountId
    at: UTCSeconds

    @property
    def period_end(self) -> datetime:
        """The snapshot's key timestamp (what the GetItem reads)."""
        return self.at


class LatestReportRequest(Frozen):
    """The newest unexpired snapshot of ``account_id``."""

    account_id: AccountId
    latest: Annotated[StrictBool, AfterValidator(_must_be_true)]


ReportRequest: TypeAlias = PayloadReportRequest | AtReportRequest | LatestReportRequest

_FORMS: tuple[tuple[str, frozenset[str], type[Frozen]], ...] = (
    ("the snapshot payload", frozenset({"period", "snapshot_id"}), PayloadReportRequest),
    ("at", frozenset({"at"}), AtReportRequest),
    ("latest", frozenset({"latest"}), LatestReportRequest),
)


def _describe(exc: ValidationError) -> str:
    """One ``field: reason`` per problem (``event`` for the whole event), without URLs."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "event"
        parts.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_request(event: Any) -> ReportRequest:
    """Validate the event strictly; a bad one raises ``ReportPayloadError`` (nothing is read)."""
    if not isinstance(event, Mapping):
        raise ReportPayloadError(f"the event must be a JSON object, got {type(event).__name__}")
    data = dict(event)
    forms = [(name, model) for name, fields, model in _FORMS if fields & data.keys()]
    if len(forms) != 1:
        given = " and ".join(name for name, _ in forms) if forms else "none of them"
        raise ReportPayloadError(
            "the event must name one snapshot: the snapshot payload (period + snapshot_id), "
            f"'at', or 'latest': true; it has {given}"
        )
    name, model = forms[0]
    try:
        request = cast(ReportRequest, model.model_validate(data))
    except ValidationError as exc:
        raise ReportPayloadError(f"invalid report request ({name}): {_describe(exc)}") from exc
    return request


# Reading and rendering --------------------------------------------------------------------


def snapshot_key(snapshot: AnySnapshot) -> str:
    """``PK / SK`` of the snapshot's item, for messages and logs."""
    return f"{keys.snapshot_pk(snapshot.account_id)} / {keys.snapshot_sk(snapshot.period_end)}"


def read_snapshot(
    request: ReportRequest, settings: TableSettings, *, hmac_key: bytes | None
) -> AnySnapshot:
    """Fetch the requested snapshot, verify it, and check it is the one the payload names.

    One strongly consistent GetItem (plus a chunk Query for a chunked body), or one Query for
    ``latest``. Raises
    ``NotFoundError``, ``IntegrityError`` or its subclass ``SnapshotMismatchError``.
    """
    from ledger_store.snapshot_store import AccountSnapshotRepository
    from snapshots.records import snapshot_from_record

    store = AccountSnapshotRepository(settings, hmac_key=hmac_key)
    if isinstance(request, LatestReportRequest):
        stored = store.latest(request.account_id)
    else:
        # The snapshot was committed a moment ago: an eventually consistent read could miss it.
        stored = store.get(request.account_id, request.period_end, consistent_read=True)
    snapshot = snapshot_from_record(stored.record, hmac_key)
    if isinstance(request, PayloadReportRequest):
        _check_payload(request, snapshot)
    return snapshot


def _check_payload(request: PayloadReportRequest, snapshot: AnySnapshot) -> None:
    compared: list[tuple[str, str | None, str]] = [
        ("snapshot_id", request.snapshot_id, snapshot.snapshot_id),
        (
            "period.start",
            keys.format_seconds(request.period.start),
            keys.format_seconds(snapshot.period_start),
        ),
        ("checksum_algorithm", request.checksum_algorithm, snapshot.checksum_algorithm),
        ("checksum", request.checksum, snapshot.checksum),
    ]
    differences: list[tuple[str, str, str]] = []
    for name, given, stored in compared:
        if given is not None and given != stored:
            differences.append((name, given, stored))
    if differences:
        raise SnapshotMismatchError(snapshot_key(snapshot), differences)


def render_stored(
    request: ReportRequest,
    settings: TableSettings,
    *,
    hmac_key: bytes | None,
    options: ReportOptions | None = None,
) -> tuple[AnySnapshot, RenderedReport]:
    """``read_snapshot`` then ``render_report``: the verified snapshot and its PDF."""
    from snapshots.report.pdf import render_report

    snapshot = read_snapshot(request, settings, hmac_key=hmac_key)
    return snapshot, render_report(snapshot, options)


# S3 ---------------------------------------------------------------------------------------


def report_object_key(account_id: str, period_end: datetime) -> str:
    """The deterministic S3 key: a re-run overwrites the same object with the same bytes."""
    return f"reports/{account_id}/{keys.format_seconds(period_end)}.pdf"


def upload_report(
    snapshot: AnySnapshot,
    rendered: RenderedReport,
    bucket: str,
    *,
    client: Any | None = None,
    region: str | None = None,
) -> str:
    """Put the PDF at its deterministic key; returns the ``s3://`` URI.

    The object carries the PDF's SHA-256, the snapshot id and checksum as metadata, and S3
    checks the upload against the SHA-256. A failure that may pass raises
    ``ReportUploadUnavailableError``, a refusal ``ReportUploadError``.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    key = report_object_key(snapshot.account_id, snapshot.period_end)
    uri = f"s3://{bucket}/{key}"
    try:
        if client is None:
            import boto3

            client = boto3.client("s3", region_name=region)
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=rendered.pdf,
            ContentType=PDF_CONTENT_TYPE,
            ChecksumSHA256=base64.b64encode(bytes.fromhex(rendered.sha256)).decode("ascii"),
            Metadata={
                "pdf-sha256": rendered.sha256,
                "snapshot-id": snapshot.snapshot_id,
                "snapshot-checksum": snapshot.checksum,
                "snapshot-checksum-algorithm": snapshot.checksum_algorithm,
            },
        )
    except (BotoCoreError, ClientError) as exc:
        error = ReportUploadUnavailableError if aws_transient(exc) else ReportUploadError
        raise error(uri, exc) from exc
    return uri


# The handler ------------------------------------------------------------------------------


class ReportResult(Frozen):
    """What the task returns to Step Functions (``s3_uri`` only when the PDF was uploaded)."""

    snapshot_id: str
    pdf_sha256: str
    pages: int
    bytes: int
    s3_uri: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The task output: JSON-ready, without ``s3_uri`` when nothing was uploaded."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude_none=True)
        return data


def run(
    request: ReportRequest,
    *,
    environ: Mapping[str, str] | None = None,
    settings: TableSettings | None = None,
    s3_client: Any | None = None,
) -> tuple[AnySnapshot, ReportResult]:
    """Read, verify, render and (with ``REPORT_BUCKET``) upload, configured by ``environ``.

    ``settings`` and ``s3_client`` replace what the environment would give (tests, tools).
    """
    from snapshots.handlers.secrets import environment

    env = environment(environ)
    table = settings if settings is not None else TableSettings.from_env(environ=env)
    from snapshots.report.metrics import options_from_env

    options = options_from_env(env)
    snapshot, rendered = render_stored(
        request, table, hmac_key=hmac_key_from_env(env), options=options
    )
    bucket = env.get(BUCKET_VARIABLE) or None
    uri = None
    if bucket is not None:
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        uri = upload_report(snapshot, rendered, bucket, client=s3_client, region=region)
    result = ReportResult(
        snapshot_id=snapshot.snapshot_id,
        pdf_sha256=rendered.sha256,
        pages=rendered.pages,
        bytes=len(rendered.pdf),
        s3_uri=uri,
    )
    return snapshot, result


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point: the report of the snapshot the event names, or a typed error.

    Logs one JSON line (ids, key, digest, pages; never the event or a secret) either way.
    """
    try:
        request = parse_request(event)
        snapshot, result = run(request)
    except LedgerError as exc:
        LOGGER.error(json.dumps({"message": "report failed", "error": type(exc).__name__}))
        raise
    LOGGER.info(
        json.dumps(
            {
                "message": "report rendered",
                "correlation_id": snapshot.correlation_id,
                "snapshot_id": result.snapshot_id,
                "key": snapshot_key(snapshot),
                "pdf_sha256": result.pdf_sha256,
                "pages": result.pages,
                "bytes": result.bytes,
                "s3_uri": result.s3_uri,
            },
            sort_keys=True,
        )
    )
    return result.to_json()


__all__ = [
    "BUCKET_VARIABLE",
    "HMAC_KEY_VARIABLE",
    "AtReportRequest",
    "LatestReportRequest",
    "PayloadReportRequest",
    "ReportPayloadError",
    "ReportPeriod",
    "ReportRequest",
    "ReportResult",
    "ReportUploadError",
    "SnapshotMismatchError",
    "handler",
    "hmac_key_from_env",
    "parse_request",
    "read_snapshot",
    "render_stored",
    "report_object_key",
    "run",
    "snapshot_key",
    "upload_report",
]
