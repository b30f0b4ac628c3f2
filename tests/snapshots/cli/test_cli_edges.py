"""The command line's edges as a newcomer meets them: its version, pipes closed early, times
given as dates, and configuration errors (no credentials, a misspelt table) told as such."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from importlib import metadata
from pathlib import Path

import pytest

from ledger_store.config import TableSettings
from snapshots.cli.ledger import timestamp_arg
from tests.builders import fill_data
from tests.snapshots.cli.test_cli import conn, jsonl, run

ROOT = Path(__file__).resolve().parents[3]


def test_version_is_the_packages_and_the_changelogs_newest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        run(capsys, "--version")
    assert exited.value.code == 0
    version = metadata.version("trade-ledger")
    assert capsys.readouterr().out == f"trade-ledger {version}\n"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = re.search(r"^## \[?(\d+\.\d+\.\d+)", changelog, re.MULTILINE)
    assert newest is not None
    assert newest.group(1) == version


def test_a_reader_that_stops_early_ends_the_command_quietly() -> None:
    """``trade-ledger … | head``: the reader closes the pipe; no BrokenPipeError traceback,
    and the exit status of a process SIGPIPE ended (141), as ``cat`` or ``grep`` give."""
    process = subprocess.Popen(
        [sys.executable, "-m", "snapshots.cli.main", "table", "cloudformation"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    error = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert error == b""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-24", datetime(2026, 10, 24, tzinfo=UTC)),
        ("2026-10-24T09:30:00", datetime(2026, 10, 24, 9, 30, tzinfo=UTC)),
        ("2026-10-24T09:30:00Z", datetime(2026, 10, 24, 9, 30, tzinfo=UTC)),
        ("2026-10-24T11:30:00+02:00", datetime(2026, 10, 24, 9, 30, tzinfo=UTC)),
        (" 2026-10-24 ", datetime(2026, 10, 24, tzinfo=UTC)),
    ],
)
def test_times_are_utc_and_a_date_is_its_midnight(text: str, expected: datetime) -> None:
    """The help says "(UTC)": a date or a time without an offset is read as UTC."""
    assert timestamp_arg(text) == expected


def test_a_time_that_is_no_time_says_so() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="yesterday"):
        timestamp_arg("yesterday")


@pytest.fixture
def fresh_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection cached by an earlier test: the SDK reads its configuration anew, as a
    fresh ``trade-ledger`` process does."""
    from ledger_store import models

    monkeypatch.setattr(models, "_CONNECTIONS", {})


@pytest.mark.usefixtures("fresh_sdk")
def test_an_unknown_aws_profile_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No request is made: exit 2 (configuration, as documented), with what to set, never a
    retryable 'storage unavailable'."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-xyz")
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    code, out, err = run(capsys, "snapshot", "list", "--account", "acct-1", "--region", "us-east-1")
    assert (code, out) == (2, ""), err
    assert "StorageUnavailableError" not in err
    assert "the AWS profile does not exist: check AWS_PROFILE" in err


@pytest.mark.usefixtures("fresh_sdk")
def test_no_credentials_at_all_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    code, out, err = run(capsys, "snapshot", "list", "--account", "acct-1", "--region", "us-east-1")
    assert (code, out) == (2, ""), err
    assert "no AWS credentials were found" in err


def test_a_misspelt_table_is_named_and_exits_2(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A read and an import on a table that does not exist: both name the table, where it was
    looked for and what to do (the import once said ``look up trades (key 1 trades)``)."""
    missing = conn(settings.with_table("trade-ledgr-typo"))
    code, _, err = run(capsys, "trades", "list", "--account", "acct-1", "--strategy", "s", *missing)
    assert code == 2
    assert "table 'trade-ledgr-typo' does not exist" in err
    fills = jsonl(tmp_path / "fills.jsonl", [fill_data(order_id="o-1")])
    code, _, err = run(capsys, "trades", "import", str(fills), "--no-progress", *missing)
    assert code == 2
    assert "table 'trade-ledgr-typo' does not exist" in err
    assert "key 1 trades" not in err


HEADER = (
    "order_id,account_id,correlation_id,symbol,side,qty,price,filled_at,fees,strategy_allocation"
)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(
            HEADER.replace(",", ";")
            + "\nc-1;acct-1;cycle-1;MSFT;BUY;3;410.5;2024-03-01T15:00:00Z;0;m=1\n",
            ":1: the header is one column separated by semicolons: an import reads "
            "comma-separated values",
            id="semicolons",
        ),
        pytest.param(
            HEADER.replace(",", "\t") + "\n",
            ":1: the header is one column separated by tabs",
            id="tabs",
        ),
        pytest.param(
            HEADER + "\nc-1,acct-1,cycle-1,MSFT,BUY,3,,2024-03-01T15:00:00Z,0,m=1\n",
            ":2: price: the cell is empty",
            id="empty-price",
        ),
    ],
)
def test_a_csv_a_spreadsheet_wrote_gets_one_clear_reason(
    settings: TableSettings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str,
    reason: str,
) -> None:
    """A semicolon-separated export once gave nine 'Field required' lines; an empty price
    cell 'price: Field required'. Each now gets the reason a person can act on."""
    path = tmp_path / "fills.csv"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "trades", "import", str(path), "--no-progress", *conn(settings))
    assert code == 1
    assert "0 recorded" in out
    assert f"{path}{reason}" in err
    assert "Field required" not in err


def test_a_folder_to_import_is_named_as_a_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "trades", "import", str(tmp_path), "--embedded")
    assert (code, out) == (2, "")
    assert f"{tmp_path} is a folder: name the file to import" in err


def test_an_unknown_event_kind_lists_the_kinds_as_words(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Pydantic named the kinds as Python enum reprs (``<EventKind.SPLIT: 'split'>``)."""
    event = {
        "kind": "deposit",
        "event_id": "e-1",
        "account_id": "acct-1",
        "effective_at": "2026-08-03T14:00:00Z",
        "amount": "100",
    }
    path = jsonl(tmp_path / "events.jsonl", [event])
    code, _, err = run(capsys, "events", "import", str(path), "--no-progress", *conn(settings))
    assert code == 1
    assert "kind must be one of split, symbol_change, merger, dividend, cash_flow" in err
    assert "got deposit" in err
    assert "<EventKind" not in err


def test_verifying_nothing_is_no_success(
    settings: TableSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt account verified "0 snapshot(s), 0 failed" and exited 0: a cron job would
    pass. Nothing to verify is now exit 1, saying what to check."""
    code, out, err = run(
        capsys, "snapshot", "verify", "--account", "no-such-account", "--all", *conn(settings)
    )
    assert code == 1
    assert "0 snapshot(s) verified, 0 failed" in out
    assert "no snapshot of account no-such-account in the range" in err


def test_a_missing_subcommand_is_named_as_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    """Not argparse's internal name (``trades_command``)."""
    with pytest.raises(SystemExit) as exited:
        run(capsys, "trades")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "the following arguments are required: COMMAND" in err
    assert "trades_command" not in err


def test_metrics_print_percentages_as_percentages() -> None:
    """``report metrics`` printed an annualised return of 11.06 % as ``+0.11``."""
    from snapshots.cli.report import _metrics_rows
    from snapshots.report.figures import fmt_percent
    from snapshots.report.metrics import report_metrics
    from tests.snapshots.report.test_report_pdf import newest_fixture

    m = report_metrics(newest_fixture())
    rows = dict(_metrics_rows(m))
    assert m.inception.volatility is None  # too few returns in the fixture: withheld
    assert rows["volatility (inception)"].startswith("\u2014 (needs 20 daily returns")
    from snapshots.report.performance import Performance

    rich = m.inception.model_copy(
        update={"volatility": Decimal("0.1304"), "annualised_return": Decimal("0.1106")}
    )
    assert isinstance(rich, Performance)
    rows = dict(_metrics_rows(m.model_copy(update={"inception": rich})))
    assert rows["volatility (inception)"] == fmt_percent(Decimal("0.1304"), signed=True)
    assert rows["annualised return (inception)"] == "+11.06%"


def test_a_malformed_symbol_is_refused_not_found_in_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``trades list --symbol aapl`` printed ``(0 rows)`` while an import refuses ``aapl``."""
    with pytest.raises(SystemExit) as exited:
        run(capsys, "trades", "list", "--symbol", "aapl", "--embedded")
    assert exited.value.code == 2
    assert "symbol 'aapl' is malformed" in capsys.readouterr().err


def test_a_missing_table_leads_with_what_to_do(
    settings: TableSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The SDK's long words about its request no longer come before the hint."""
    missing = conn(settings.with_table("trade-ledgr-typo"))
    code, _, err = run(capsys, "snapshot", "list", "--account", "acct-1", *missing)
    assert code == 2
    first = err.splitlines()[0]
    assert first.startswith("error: list snapshots (key SNAPSHOT#acct-1) failed: table ")
    assert "An error occurred" not in err
