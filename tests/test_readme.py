"""The documentation's snippets run as written: every Python block, in order, and the shell
recipes (the pages of ``docs/`` in the site's order; the README's own blocks are checked in
``tests/test_docs.py``).

The Python blocks form one walk-through (the snapshot block uses the fill the library block
recorded), so they run in order in one namespace, configured only the way the pages say:
``TRADE_LEDGER_TABLE`` and the AWS variables for DynamoDB (embedded moto here), ``APCA_API_*``
for Alpaca (the project's fake server here, serving the account that fill leaves behind).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ledger_store.bootstrap import create_table
from ledger_store.config import TableSettings
from ledger_store.embedded import embedded_aws
from ledger_store.models import _CONNECTIONS
from snapshots.canonical import canonical_bytes
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca
from tests.builders import ROOT
from tests.docs import docs_text

README = docs_text()
TABLE = "alchemiser-trade-ledger-readme"


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.M | re.S)


def test_the_readme_has_the_blocks_this_test_runs() -> None:
    assert len(blocks("python")) == 5
    assert "ledger.record_many" in blocks("python")[1]
    assert "from snapshots.canonical import canonical_bytes" in blocks("python")[4]


@pytest.fixture
def readme_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The table and Alpaca the walk-through expects, configured through the environment."""
    with embedded_aws() as region:
        monkeypatch.setenv("TRADE_LEDGER_TABLE", TABLE)
        monkeypatch.setenv("AWS_REGION", region)
        for name in ("SNAPSHOT_HMAC_KEY", "REPORT_STATE_MACHINE_ARN", "SNAPSHOT_STRICT"):
            monkeypatch.delenv(name, raising=False)
        settings = TableSettings.from_env()
        create_table(settings)
        fill = _readme_fill()
        cycle = TradingCycle(
            correlation_id=fill.correlation_id,
            start=datetime(2026, 8, 3, 14, 30, tzinfo=UTC),
            end=datetime(2026, 8, 3, 21, 0, tzinfo=UTC),
            fills=(fill,),
        )
        account = FakeAccount.from_history([cycle], account_id=fill.account_id)
        with running_fake_alpaca(account) as fake:
            monkeypatch.setenv("APCA_API_KEY_ID", DEFAULT_KEY_ID)
            monkeypatch.setenv("APCA_API_SECRET_KEY", DEFAULT_SECRET_KEY)
            monkeypatch.setenv("APCA_API_BASE_URL", fake.base_url)
            yield
        _CONNECTIONS.pop(settings, None)


def _readme_fill() -> object:
    """The fill of the library block, read from the README itself."""
    namespace: dict[str, object] = {}
    library = blocks("python")[0]
    setup, _, _ = library.partition("result = ledger.record(fill)")
    exec(setup.replace("TradeLedgerRepository(TableSettings.from_env())", "None"), namespace)
    return namespace["fill"]


@pytest.mark.usefixtures("readme_environment")
def test_the_python_walk_through_runs_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    library, bulk, snapshot, lambda_example, worked = blocks("python")

    exec(library, namespace)
    assert capsys.readouterr().out == "momentum 6 226.4\n"

    exec(bulk, namespace)
    assert capsys.readouterr().out == "['already_recorded']\n"

    exec(snapshot, namespace)
    status, payload = capsys.readouterr().out.splitlines()
    assert status == "created"
    assert '"snapshot_id":' in payload

    exec(lambda_example, namespace)
    assert capsys.readouterr().out.split()[0] == "existing"

    exec(worked, namespace)
    assert len(namespace["body"]) == 261  # type: ignore[arg-type]
    text = blocks("text")[0].strip()
    assert namespace["body"] == text.encode("utf-8")
    assert canonical_bytes(namespace["example"]) == text.encode("utf-8")


def _bash(script: str) -> str:
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SNAPSHOT_HMAC_KEY": "fixture-key"},
    )
    return completed.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_worked_example_checksums_reproduce_from_the_text_alone() -> None:
    (script,) = [b for b in blocks("bash") if "printf '%s' \"$body\" | sha256sum" in b]
    output = _bash(script)
    expected = re.findall(r"^# ([0-9a-f]{64})$", script, flags=re.M)
    assert len(expected) == 2
    for digest in expected:
        assert digest in output


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_fixture_one_liner_prints_the_checksum_it_promises() -> None:
    (recipe,) = [b for b in blocks("bash") if "inflate()" in b]
    inflate = next(line for line in recipe.splitlines() if line.startswith("inflate()"))
    sentence = re.search(
        r"`(jq -r '\.items\[0\]\.body\.B'.*?sha256sum)` prints its checksum `(\w+)`", README, re.S
    )
    assert sentence is not None
    one_liner = " ".join(sentence.group(1).split())
    assert _bash(f"{inflate}\n{one_liner}").split()[0] == sentence.group(2)


def _recipe_for(recipe: str, table: str, account: str, end: str, chunked: bool) -> str:
    """The README's recipe with its three settings, keeping the branch the item needs."""
    head, _, rest = recipe.partition("# chunk_count 0: the body is inline\n")
    inline, _, rest = rest.partition("# chunk_count > 0: join the chunks in SK order\n")
    chunks, _, tail = rest.partition("\n\n")
    head = re.sub(r"^TABLE=.*$", f"TABLE={table}", head, flags=re.M)
    head = re.sub(r"^ACCOUNT=.*$", f"ACCOUNT={account}", head, flags=re.M)
    head = re.sub(r"^END=.*$", f"END={end}", head, flags=re.M)
    return head + (chunks if chunked else inline) + "\n" + tail


@pytest.mark.skipif(
    shutil.which("aws") is None or shutil.which("jq") is None,
    reason="the recipe needs the AWS CLI and jq on PATH",
)
def test_the_aws_cli_recipe_verifies_stored_snapshots(
    dynamodb_local_endpoint: str, tmp_path: object
) -> None:
    """Run verbatim against DynamoDB Local: an inline body, then a chunked one."""
    import hashlib
    import hmac
    import json as jsonlib

    from ledger_store.snapshot_store import AccountSnapshotRepository, SnapshotRecord

    settings = TableSettings(
        table_name="readme-recipe", region="us-east-1", endpoint_url=dynamodb_local_endpoint
    )
    create_table(settings)
    key = b"fixture-key"
    account = "5a3f9c2e-8b1d-4e6f-a7c0-2d9e4b6f8a13"
    (recipe,) = [b for b in blocks("bash") if "aws dynamodb get-item" in b]
    try:
        for day, size in ((8, 10), (9, 800_000)):  # inline; ~1.6 MB of hex: chunked
            end = datetime(2026, 8, day, tzinfo=UTC)
            body = jsonlib.dumps({"noise": os.urandom(size).hex()}).encode()
            digest = hmac.new(key, body, hashlib.sha256).hexdigest()
            record = SnapshotRecord(
                account_id=account,
                period_start=datetime(2026, 8, day - 1, tzinfo=UTC),
                period_end=end,
                snapshot_id="9b1b741b-bee1-52e6-9a36-d092c83b5a26",
                snapshot_version="1.1",
                correlation_id="cycle-readme",
                checksum=digest,
                checksum_algorithm="hmac-sha256",
                body=body,
            )
            stored = AccountSnapshotRepository(settings, hmac_key=key).put(record).snapshot
            at = f"{end:%Y-%m-%dT%H:%M:%SZ}"
            script = _recipe_for(recipe, settings.table_name, account, at, stored.chunk_count > 0)
            completed = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=str(tmp_path),
                capture_output=True,
                text=True,
                check=False,
                env={
                    **os.environ,
                    "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local_endpoint,
                    "AWS_DEFAULT_REGION": "us-east-1",  # DynamoDB Local keeps tables per key
                    # and region: the test's own credentials (conftest) reach this table
                    "SNAPSHOT_HMAC_KEY": "fixture-key",
                },
            )
            assert completed.returncode == 0, completed.stderr
            output = completed.stdout
            assert f"hmac-sha256\n{digest}\n{stored.chunk_count}\n" in output
            assert hashlib.sha256(body).hexdigest() in output  # sha256sum of the inflated body
            assert output.rstrip().endswith(digest)  # openssl's HMAC: the stored checksum
        assert stored.chunk_count >= 2
    finally:
        from ledger_store.bootstrap import delete_table

        delete_table(settings)
        _CONNECTIONS.pop(settings, None)
