"""The report Lambda: stored snapshot -> verified -> PDF (-> S3), on moto and DynamoDB Local.

S3 runs on moto only. ``mock_aws()`` cannot wrap the S3 part of a DynamoDB Local test: under it,
clients created inside the block send DynamoDB calls to moto even with an explicit
``endpoint_url`` (checked with moto 5.2; the ``passthrough`` services/urls options did not
change that), so the test would silently stop reading DynamoDB Local. The S3 tests therefore
pin ``engine`` to moto; everything else runs on both engines.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import zlib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ledger_store import keys
from ledger_store.config import TableSettings
from ledger_store.errors import (
    IntegrityError,
    LedgerValidationError,
    NotFoundError,
    TransientError,
)
from ledger_store.snapshot_store import AccountSnapshotRepository
from snapshots import builder
from snapshots.builder import payload_for
from snapshots.handlers import report as report_lambda
from snapshots.handlers.report import (
    ReportPayloadError,
    ReportUploadError,
    SnapshotMismatchError,
    handler,
    parse_request,
)
from snapshots.records import snapshot_record
from snapshots.report.figures import mask_account_number
from snapshots.report.metrics import ReportOptions
from snapshots.report.pdf import RenderedReport, render_report
from snapshots.schema import AccountSnapshot, seal, snapshot_bytes, snapshot_id_for
from tests.builders import ACCOUNT, PERIOD_END, ROOT, put_raw, raw_item, snapshot_body

HMAC_KEY = "report-test-key"
BUCKET = "trade-ledger-reports-test"
LATER_END = PERIOD_END + timedelta(days=1)
FORBIDDEN = (
    "alpaca",
    "pandas",
    "snapshots.alpaca.source",
    "snapshots.builder",
    "snapshots.ledger.metrics",
    "snapshots.integrity",
    "snapshots.fake_alpaca.server",
)
S3_ONLY_ON_MOTO = pytest.mark.parametrize("engine", ["moto"], indirect=True)


def sealed(period_end: Any = PERIOD_END) -> AccountSnapshot:
    body = snapshot_body(
        period_end=period_end,
        fee_window_end=period_end,
        snapshot_id=snapshot_id_for(ACCOUNT, period_end),
    )
    return seal(body, HMAC_KEY.encode())


@pytest.fixture(scope="module")
def snapshot() -> AccountSnapshot:
    return sealed()


@pytest.fixture(scope="module")
def later() -> AccountSnapshot:
    return sealed(LATER_END)


@pytest.fixture(scope="module")
def expected(snapshot: AccountSnapshot) -> RenderedReport:
    return render_report(snapshot)


@pytest.fixture
def env(settings: TableSettings, monkeypatch: pytest.MonkeyPatch) -> TableSettings:
    """The Lambda's configuration pointing at the test table; no bucket."""
    monkeypatch.setenv("TRADE_LEDGER_TABLE", settings.table_name)
    monkeypatch.setenv("AWS_REGION", settings.region)
    if settings.endpoint_url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", settings.endpoint_url)
    monkeypatch.setenv("SNAPSHOT_HMAC_KEY", HMAC_KEY)
    monkeypatch.delenv("REPORT_BUCKET", raising=False)
    return settings


def store(settings: TableSettings, *snapshots: AccountSnapshot) -> None:
    repository = AccountSnapshotRepository(settings, hmac_key=HMAC_KEY.encode())
    for snap in snapshots:
        assert repository.put(snapshot_record(snap)).status == "created"


def event_for(snap: AccountSnapshot, **changes: Any) -> dict[str, Any]:
    event = payload_for(snap).to_json()
    event.update(changes)
    return event


@pytest.fixture
def bucket(env: TableSettings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A moto S3 bucket named by ``REPORT_BUCKET``; returns the S3 client."""
    import boto3

    client = boto3.client("s3", region_name=env.region)
    client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("REPORT_BUCKET", BUCKET)
    return client


def bucket_keys(client: Any) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


# Imports ----------------------------------------------------------------------------------


def test_a_fresh_interpreter_imports_the_handler_without_alpaca_pandas_or_the_builder() -> None:
    code = (
        "import json, sys\n"
        "import snapshots.handlers.report\n"
        f"forbidden = {FORBIDDEN!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "    if any(m == f or m.startswith(f + '.') for f in forbidden))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(done.stdout) == []


#: What loading the handler module must not load: storage, schema and renderer come with the
#: first event (``import`` of the module is the cold start's share Lambda's INIT phase pays).
DEFERRED = ["reportlab", "pynamodb", "botocore", "boto3", "snapshots.schema", "snapshots.report"]


def test_loading_the_handler_defers_storage_schema_and_renderer() -> None:
    code = (
        "import json, sys\n"
        "import snapshots.handlers.report\n"
        f"deferred = {DEFERRED!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "    if any(m == f or m.startswith(f + '.') for f in deferred))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(done.stdout) == []


_COLD_START = """
import json, sys
import snapshots.handlers.report as report_lambda

forbidden = {forbidden!r}
def present():
    return sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in forbidden))

after_import = present()
snapshot_file, engine, event = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
from contextlib import nullcontext
from ledger_store.bootstrap import create_table
from ledger_store.config import TableSettings
from ledger_store.snapshot_store import AccountSnapshotRepository
from snapshots.records import snapshot_record
from snapshots.schema import parse_snapshot

if engine == "moto":
    from moto import mock_aws
    backend = mock_aws()
else:
    backend = nullcontext()
with backend:
    settings = TableSettings.from_env()
    if engine == "moto":
        create_table(settings)
    with open(snapshot_file, "rb") as handle:
        stored = parse_snapshot(handle.read())
    AccountSnapshotRepository(settings, hmac_key=report_lambda.hmac_key_from_env()).put(
        snapshot_record(stored)
    )
    result = report_lambda.handler(event)
print(json.dumps({{"after_import": after_import, "after_handler": present(), "result": result}}))
"""


def test_a_cold_start_renders_without_ever_loading_alpaca(
    env: TableSettings,
    engine: str,
    snapshot: AccountSnapshot,
    expected: RenderedReport,
    tmp_path: Path,
) -> None:
    """A whole invocation in a fresh process (a Lambda cold start): the forbidden modules stay
    unloaded after rendering too, not only after the import."""
    snapshot_file = tmp_path / "snapshot.json"
    snapshot_file.write_bytes(snapshot_bytes(snapshot))
    child_env = {
        **os.environ,
        "APCA_API_KEY_ID": "unreachable",
        "APCA_API_SECRET_KEY": "unreachable",
        "APCA_API_BASE_URL": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _COLD_START.format(forbidden=FORBIDDEN),
            str(snapshot_file),
            engine,
            json.dumps(event_for(snapshot)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=child_env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["after_import"] == []
    assert report["after_handler"] == []
    assert report["result"] == {
        "snapshot_id": snapshot.snapshot_id,
        "pdf_sha256": expected.sha256,
        "pages": expected.pages,
        "bytes": len(expected.pdf),
    }


def test_both_lambdas_read_the_hmac_key_from_the_same_variable() -> None:
    environ = {"SNAPSHOT_HMAC_KEY": "shared-secret"}
    assert report_lambda.hmac_key_from_env(environ) == b"shared-secret"
    assert builder.hmac_key_from_env(environ) == b"shared-secret"
    assert report_lambda.hmac_key_from_env({"SNAPSHOT_HMAC_KEY": ""}) is None


# Round trips --------------------------------------------------------------------------------


def test_round_trip_returns_the_digest_of_the_rendered_pdf(
    env: TableSettings,
    snapshot: AccountSnapshot,
    expected: RenderedReport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store(env, snapshot)
    caplog.set_level(logging.INFO, logger="snapshots.handlers.report")

    result = handler(event_for(snapshot), None)

    assert result == {
        "snapshot_id": snapshot.snapshot_id,
        "pdf_sha256": expected.sha256,
        "pages": expected.pages,
        "bytes": len(expected.pdf),
    }
    assert expected.pages >= 1
    assert handler(event_for(snapshot), None) == result  # the same snapshot, the same PDF
    lines = [r.getMessage() for r in caplog.records if r.name == "snapshots.handlers.report"]
    assert len(lines) == 2
    logged = json.loads(lines[0])
    assert logged == {
        "message": "report rendered",
        "correlation_id": snapshot.correlation_id,
        "snapshot_id": snapshot.snapshot_id,
        "key": f"SNAPSHOT#{ACCOUNT} / SNAP#{keys.format_seconds(PERIOD_END)}",
        "pdf_sha256": expected.sha256,
        "pages": expected.pages,
        "bytes": len(expected.pdf),
        "s3_uri": None,
    }
    assert HMAC_KEY not in caplog.text
    assert snapshot.checksum not in caplog.text  # the event's fields are not echoed


@S3_ONLY_ON_MOTO
def test_round_trip_uploads_the_pdf_with_its_metadata(
    env: TableSettings, bucket: Any, snapshot: AccountSnapshot, expected: RenderedReport
) -> None:
    store(env, snapshot)

    result = handler(event_for(snapshot), None)

    key = f"reports/{ACCOUNT}/2024-03-03T00:00:00Z.pdf"
    assert result == {
        "snapshot_id": snapshot.snapshot_id,
        "pdf_sha256": expected.sha256,
        "pages": expected.pages,
        "bytes": len(expected.pdf),
        "s3_uri": f"s3://{BUCKET}/{key}",
    }
    assert bucket_keys(bucket) == [key]
    stored = bucket.get_object(Bucket=BUCKET, Key=key)
    pdf = stored["Body"].read()
    assert pdf == expected.pdf
    assert stored["ContentType"] == "application/pdf"
    assert stored["Metadata"] == {
        "pdf-sha256": expected.sha256,
        "snapshot-id": snapshot.snapshot_id,
        "snapshot-checksum": snapshot.checksum,
        "snapshot-checksum-algorithm": "hmac-sha256",
    }
    assert mask_account_number(ACCOUNT) in pdf_text(pdf)

    assert handler(event_for(snapshot), None) == result  # a retried task: same key, same bytes
    assert bucket_keys(bucket) == [key]
    assert bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read() == expected.pdf


def test_at_and_latest_name_the_stored_snapshots(
    env: TableSettings, snapshot: AccountSnapshot, later: AccountSnapshot
) -> None:
    store(env, snapshot, later)
    earlier_pdf, later_pdf = render_report(snapshot), render_report(later)
    assert earlier_pdf.sha256 != later_pdf.sha256

    at = handler({"account_id": ACCOUNT, "at": "2024-03-03T00:00:00Z"}, None)
    assert at["snapshot_id"] == snapshot.snapshot_id
    assert at["pdf_sha256"] == earlier_pdf.sha256

    newest = handler({"account_id": ACCOUNT, "latest": True}, None)
    assert newest["snapshot_id"] == later.snapshot_id
    assert newest["pdf_sha256"] == later_pdf.sha256

    # The bare contract (no key/checksum fields) is accepted as well.
    bare = {
        k: v for k, v in event_for(later).items() if k in {"account_id", "period", "snapshot_id"}
    }
    assert handler(bare, None) == newest


def test_the_pdf_text_names_the_account(env: TableSettings, snapshot: AccountSnapshot) -> None:
    store(env, snapshot)
    request = parse_request({"account_id": ACCOUNT, "latest": True})
    _, rendered = report_lambda.render_stored(request, env, hmac_key=HMAC_KEY.encode())
    text = pdf_text(rendered.pdf)
    assert ACCOUNT not in text
    assert mask_account_number(ACCOUNT) in text
    assert snapshot.snapshot_id in text
    _, revealed = report_lambda.render_stored(
        request, env, hmac_key=HMAC_KEY.encode(), options=ReportOptions(reveal_ids=True)
    )
    assert ACCOUNT in pdf_text(revealed.pdf)


def test_the_report_options_come_from_the_environment(
    env: TableSettings, snapshot: AccountSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(env, snapshot)
    plain = handler({"account_id": ACCOUNT, "latest": True}, None)
    monkeypatch.setenv("REPORT_RISK_FREE_RATE", "0.04")
    monkeypatch.setenv("REPORT_REVEAL_ACCOUNT_IDS", "true")
    configured = handler({"account_id": ACCOUNT, "latest": True}, None)
    expected = render_report(snapshot, ReportOptions(Decimal("0.04"), reveal_ids=True))
    assert configured["pdf_sha256"] == expected.sha256 != plain["pdf_sha256"]
    for name, value, message in (
        ("REPORT_RISK_FREE_RATE", "4%", "risk-free rate must be a decimal fraction"),
        ("REPORT_REVEAL_ACCOUNT_IDS", "yes", "REPORT_REVEAL_ACCOUNT_IDS must be true or false"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(LedgerValidationError, match=message):
            handler({"account_id": ACCOUNT, "latest": True}, None)
        monkeypatch.delenv(name)


# Rejections -------------------------------------------------------------------------------

OTHER_ID = "0b5c2d7e-9f41-5a3b-8c6d-1e2f3a4b5c6d"
OTHER_CHECKSUM = "0" * 64


@pytest.mark.parametrize(
    ("changes", "field", "given"),
    [
        pytest.param({"snapshot_id": OTHER_ID}, "snapshot_id", OTHER_ID, id="snapshot-id"),
        pytest.param(
            {"period": {"start": "2024-03-01T00:00:00Z", "end": "2024-03-03T00:00:00Z"}},
            "period.start",
            "2024-03-01T00:00:00Z",
            id="period-start",
        ),
        pytest.param({"checksum": OTHER_CHECKSUM}, "checksum", OTHER_CHECKSUM, id="checksum"),
        pytest.param(
            {"checksum_algorithm": "sha256"}, "checksum_algorithm", "sha256", id="algorithm"
        ),
    ],
)
def test_a_payload_naming_another_snapshot_is_rejected(
    env: TableSettings,
    snapshot: AccountSnapshot,
    changes: dict[str, Any],
    field: str,
    given: str,
) -> None:
    store(env, snapshot)
    stored_value = {
        "snapshot_id": snapshot.snapshot_id,
        "period.start": "2024-03-02T00:00:00Z",
        "checksum": snapshot.checksum,
        "checksum_algorithm": "hmac-sha256",
    }[field]
    with pytest.raises(SnapshotMismatchError) as caught:
        handler(event_for(snapshot, **changes), None)
    assert isinstance(caught.value, IntegrityError)
    assert caught.value.differences == ((field, given, stored_value),)
    assert given in str(caught.value)
    assert stored_value in str(caught.value)


@pytest.fixture
def unreachable_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table configuration that cannot be reached: a test that should fail before reading
    fails fast (and never talks to AWS) if it reads after all."""
    monkeypatch.setenv("TRADE_LEDGER_TABLE", "report-test-unreachable")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")


@pytest.mark.usefixtures("unreachable_table")
def test_a_payload_whose_key_is_not_its_period_is_rejected_before_reading() -> None:
    event = event_for(
        sealed(), key={"pk": f"SNAPSHOT#{ACCOUNT}", "sk": "SNAP#2024-03-04T00:00:00Z"}
    )
    with pytest.raises(ReportPayloadError, match="is not the key of account and period end"):
        handler(event, None)


def _edit_snapshot_id(item: dict[str, Any]) -> None:
    item["snapshot_id"] = {"S": OTHER_ID}


def _edit_correlation(item: dict[str, Any]) -> None:
    """A careful forger: the attribute and its index key, so the item agrees with itself."""
    item["correlation_id"] = {"S": "forged-cycle"}
    item["GSI4PK"] = {"S": "CORR#forged-cycle"}


def _edit_correlation_only(item: dict[str, Any]) -> None:
    item["correlation_id"] = {"S": "forged-cycle"}


def _edit_body(item: dict[str, Any]) -> None:
    body = zlib.decompress(item["body"]["B"])
    assert b'"PA3ABCDEFGH"' in body
    item["body"] = {"B": zlib.compress(body.replace(b'"PA3ABCDEFGH"', b'"PA3FORGED00"'), 9)}


def _forge_sha256(item: dict[str, Any]) -> None:
    """Rewrite the body and re-seal it with a keyless SHA-256, as a forger without the key would."""
    _edit_body(item)
    body = zlib.decompress(item["body"]["B"])
    item["checksum"] = {"S": hashlib.sha256(body).hexdigest()}
    item["checksum_algorithm"] = {"S": "sha256"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(_edit_snapshot_id, "snapshot_id disagree", id="snapshot-id-attribute"),
        pytest.param(_edit_correlation, "correlation_id disagree", id="correlation-attribute"),
        pytest.param(_edit_correlation_only, "GSI4PK is", id="correlation-without-index-key"),
        pytest.param(_edit_body, "fails its hmac-sha256 checksum", id="body"),
        pytest.param(_forge_sha256, "sealed with sha256", id="resealed"),
    ],
)
def test_a_tampered_snapshot_is_rejected(
    env: TableSettings, snapshot: AccountSnapshot, edit: Any, message: str
) -> None:
    store(env, snapshot)
    item = raw_item(env, f"SNAPSHOT#{ACCOUNT}", "SNAP#2024-03-03T00:00:00Z")
    assert item is not None
    edit(item)
    put_raw(env, item)
    for event in (event_for(snapshot), {"account_id": ACCOUNT, "latest": True}):
        with pytest.raises(IntegrityError, match=message) as caught:
            handler(event, None)
        assert not isinstance(caught.value, SnapshotMismatchError)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"account_id": ACCOUNT, "at": "2024-03-04T00:00:00Z"}, id="at"),
        pytest.param({"account_id": "acct-2", "latest": True}, id="latest"),
    ],
)
def test_a_missing_snapshot_raises_not_found(
    env: TableSettings, snapshot: AccountSnapshot, event: dict[str, Any]
) -> None:
    store(env, snapshot)
    with pytest.raises(NotFoundError):
        handler(event, None)


def test_a_payload_of_a_snapshot_never_stored_raises_not_found(
    env: TableSettings, snapshot: AccountSnapshot
) -> None:
    with pytest.raises(NotFoundError, match="no snapshot for account 'acct-1'"):
        handler(event_for(snapshot), None)


def test_a_sha256_snapshot_renders_without_a_key(
    env: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = seal(sealed(), None)
    assert plain.checksum_algorithm == "sha256"
    assert AccountSnapshotRepository(env).put(snapshot_record(plain)).status == "created"
    monkeypatch.delenv("SNAPSHOT_HMAC_KEY")
    result = handler(event_for(plain), None)
    assert result["pdf_sha256"] == render_report(plain).sha256


def test_the_wrong_hmac_key_or_none_is_an_integrity_failure(
    env: TableSettings, snapshot: AccountSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(env, snapshot)
    monkeypatch.setenv("SNAPSHOT_HMAC_KEY", "another-key")
    with pytest.raises(IntegrityError, match="fails its hmac-sha256 checksum"):
        handler(event_for(snapshot), None)
    monkeypatch.delenv("SNAPSHOT_HMAC_KEY")
    with pytest.raises(IntegrityError, match="needs SNAPSHOT_HMAC_KEY"):
        handler(event_for(snapshot), None)


_PAYLOAD = payload_for(sealed()).to_json()
_BARE = {k: _PAYLOAD[k] for k in ("account_id", "period", "snapshot_id")}
_END = "2024-03-03T00:00:00Z"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        pytest.param(
            {k: v for k, v in _BARE.items() if k != "snapshot_id"},
            "snapshot_id: Field required",
            id="no-snapshot-id",
        ),
        pytest.param(
            {k: v for k, v in _BARE.items() if k != "account_id"},
            "account_id: Field required",
            id="no-account",
        ),
        pytest.param(
            {**_BARE, "period": {"end": "2024-03-03T00:00:00Z"}},
            "period.start: Field required",
            id="no-period-start",
        ),
        pytest.param(
            {
                **_BARE,
                "period": {"start": "2024-03-02T00:00:00+00:00", "end": "2024-03-03T00:00:00Z"},
            },
            "period.start: must be a UTC timestamp",
            id="offset-not-z",
        ),
        pytest.param(
            {"account_id": ACCOUNT, "at": "2024-03-03T00:00:00"}, "at: must be a UTC", id="naive"
        ),
        pytest.param(
            {"account_id": ACCOUNT, "at": "2024-03-03T00:00:00.000001Z"},
            "at: must be a UTC",
            id="fractional",
        ),
        pytest.param({"account_id": ACCOUNT, "at": 1709424000}, "at: must be a UTC", id="epoch"),
        pytest.param(
            {"account_id": ACCOUNT, "at": "2024-02-30T00:00:00Z"}, "not a valid date", id="feb-30"
        ),
        pytest.param({**_PAYLOAD, "strict": True}, "strict: Extra inputs", id="extra-field"),
        pytest.param(
            {"account_id": ACCOUNT, "at": "2024-03-03T00:00:00Z", "latest": True},
            "it has at and latest",
            id="at-and-latest",
        ),
        pytest.param({**_BARE, "latest": True}, "it has the snapshot payload and latest", id="mix"),
        pytest.param({"account_id": ACCOUNT}, "it has none of them", id="no-selector"),
        pytest.param({"account_id": ACCOUNT, "latest": False}, "must be true", id="latest-false"),
        pytest.param({"account_id": ACCOUNT, "latest": "true"}, "valid boolean", id="latest-str"),
        pytest.param({"account_id": "a#b", "latest": True}, "must not contain '#'", id="bad-id"),
        pytest.param({**_BARE, "snapshot_id": "not-a-uuid"}, "snapshot_id", id="bad-uuid"),
        pytest.param({**_PAYLOAD, "checksum": "ABC"}, "checksum", id="bad-checksum"),
        pytest.param(
            {**_PAYLOAD, "checksum_algorithm": "md5"}, "checksum_algorithm", id="bad-algorithm"
        ),
        pytest.param(
            {**_BARE, "period": {"start": "2024-03-03T00:00:00Z", "end": "2024-03-03T00:00:00Z"}},
            "period.start must be before period.end",
            id="empty-period",
        ),
        pytest.param(["not", "an", "object"], "must be a JSON object", id="list"),
    ],
)
@pytest.mark.usefixtures("unreachable_table")
def test_bad_payloads_raise_a_typed_error_before_any_read(event: Any, message: str) -> None:
    with pytest.raises(ReportPayloadError, match=message) as caught:
        handler(event, None)
    assert isinstance(caught.value, LedgerValidationError)


@pytest.mark.usefixtures("unreachable_table")
def test_a_failure_logs_one_line_without_the_event(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="snapshots.handlers.report")
    with pytest.raises(ReportPayloadError):
        handler({**_PAYLOAD, "secret_token": "s3cr3t-value"}, None)
    lines = [r.getMessage() for r in caplog.records if r.name == "snapshots.handlers.report"]
    assert [json.loads(line) for line in lines] == [
        {"message": "report failed", "error": "ReportPayloadError"}
    ]
    assert "s3cr3t-value" not in caplog.text


# Nothing is uploaded that was not verified -------------------------------------------------


@S3_ONLY_ON_MOTO
def test_failures_upload_nothing(
    env: TableSettings, bucket: Any, snapshot: AccountSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = env
    failing = [
        ({"account_id": ACCOUNT, "latest": True}, NotFoundError),
        ({**event_for(snapshot), "snapshot_id": OTHER_ID}, NotFoundError),  # not stored yet
    ]
    for event, error in failing:
        with pytest.raises(error):
            handler(event, None)
    store(settings, snapshot)
    with pytest.raises(SnapshotMismatchError):
        handler(event_for(snapshot, snapshot_id=OTHER_ID), None)
    with pytest.raises(ReportPayloadError):
        handler({**event_for(snapshot), "extra": 1}, None)
    monkeypatch.setenv("SNAPSHOT_HMAC_KEY", "another-key")
    with pytest.raises(IntegrityError):
        handler(event_for(snapshot), None)
    monkeypatch.setenv("SNAPSHOT_HMAC_KEY", HMAC_KEY)
    item = raw_item(settings, f"SNAPSHOT#{ACCOUNT}", "SNAP#2024-03-03T00:00:00Z")
    assert item is not None
    _edit_correlation(item)
    put_raw(settings, item)
    with pytest.raises(IntegrityError):
        handler(event_for(snapshot), None)
    assert bucket_keys(bucket) == []


@S3_ONLY_ON_MOTO
def test_an_s3_failure_is_a_typed_error(
    env: TableSettings, snapshot: AccountSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(env, snapshot)
    monkeypatch.setenv("REPORT_BUCKET", "no-such-bucket-here")
    with pytest.raises(ReportUploadError, match="s3://no-such-bucket-here/reports/acct-1/") as e:
        handler(event_for(snapshot), None)
    assert "NoSuchBucket" in str(e.value)
    assert not isinstance(e.value, TransientError)  # no bucket: retrying cannot help


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("SlowDown", 503, True),
        ("InternalError", 500, True),
        ("AccessDenied", 403, False),
        ("NoSuchBucket", 404, False),
    ],
)
def test_an_upload_that_may_pass_is_transient_and_a_refusal_is_not(
    snapshot: AccountSnapshot, code: str, status: int, transient: bool
) -> None:
    """S3's ``SlowDown`` and 5xx are retried by Step Functions (the key is deterministic, a
    retry rewrites the same bytes); access denied and a missing bucket fail at once."""
    from botocore.exceptions import ClientError

    from snapshots.handlers.report import ReportUploadUnavailableError, upload_report
    from snapshots.report.pdf import render_report

    class Refusing:
        def put_object(self, **_: Any) -> None:
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": "no"},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                "PutObject",
            )

    with pytest.raises(ReportUploadError) as caught:
        upload_report(snapshot, render_report(snapshot), "bucket", client=Refusing())
    assert isinstance(caught.value, ReportUploadUnavailableError) is transient
    assert isinstance(caught.value, TransientError) is transient


# No Alpaca, no network but DynamoDB -------------------------------------------------------


@pytest.fixture
def dynamodb_only_network(env: TableSettings, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every socket connection except to the DynamoDB Local endpoint fails; returns the list of
    the blocked addresses. Alpaca's configuration points at a closed port as well."""
    monkeypatch.setenv("APCA_API_KEY_ID", "unreachable")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "unreachable")
    monkeypatch.setenv("APCA_API_BASE_URL", "http://127.0.0.1:9")
    allowed_port = urlsplit(env.endpoint_url).port if env.endpoint_url else None
    blocked: list[Any] = []
    real_connect = socket.socket.connect

    def allowed(address: Any) -> bool:
        return (
            allowed_port is not None
            and isinstance(address, tuple)
            and address[0] in {"127.0.0.1", "::1", "localhost"}
            and address[1] == allowed_port
        )

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(address):
            blocked.append(address)
            raise ConnectionRefusedError(f"test: no network to {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        try:
            connect(self, address)
        except OSError as exc:
            return exc.errno or 111
        return 0

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    with pytest.raises(
        ConnectionRefusedError, match="no network"
    ):  # the guard works: Alpaca's endpoint cannot be reached
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    assert blocked == [("127.0.0.1", 9)]
    blocked.clear()
    return blocked


def test_renders_with_every_alpaca_endpoint_unreachable(
    env: TableSettings,
    dynamodb_only_network: list[Any],
    snapshot: AccountSnapshot,
    expected: RenderedReport,
) -> None:
    store(env, snapshot)
    result = handler(event_for(snapshot), None)
    assert result["pdf_sha256"] == expected.sha256
    assert handler({"account_id": ACCOUNT, "latest": True}, None) == result
    assert dynamodb_only_network == []  # nothing but DynamoDB was even attempted
