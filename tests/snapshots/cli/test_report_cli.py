"""``trade-ledger report render`` on both engines: verified read, atomic PDF write, exit codes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger_store.config import TableSettings
from snapshots.report.figures import mask_account_number
from snapshots.report.pdf import render_report
from snapshots.schema import AccountSnapshot
from tests.builders import ACCOUNT, put_raw, raw_item
from tests.snapshots.cli.test_cli import conn, run
from tests.snapshots.handlers.test_report_lambda import HMAC_KEY, LATER_END, sealed, store

AT = "2024-03-03T00:00:00Z"


@pytest.fixture
def stored(settings: TableSettings, monkeypatch: pytest.MonkeyPatch) -> AccountSnapshot:
    """The test snapshot stored on the engine, with the CLI's HMAC key configured."""
    monkeypatch.setenv("SNAPSHOT_HMAC_KEY", HMAC_KEY)
    snapshot = sealed()
    store(settings, snapshot)
    return snapshot


def render(
    capsys: pytest.CaptureFixture[str], settings: TableSettings, output: Path, *which: str
) -> tuple[int, str, str]:
    return run(
        capsys,
        "report",
        "render",
        "--account",
        ACCOUNT,
        *(which or ("--at", AT)),
        "-o",
        str(output),
        *conn(settings),
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_render_writes_the_verified_report(
    settings: TableSettings,
    stored: AccountSnapshot,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from pypdf import PdfReader

    output = tmp_path / "report.pdf"
    code, out, err = render(capsys, settings, output)
    assert (code, err) == (0, "")
    pdf = output.read_bytes()
    expected = render_report(stored)
    assert pdf == expected.pdf
    assert f"report    {output}" in out
    assert f"pages     {expected.pages}\n" in out
    assert f"size      {len(pdf):,} bytes" in out
    assert f"sha256    {hashlib.sha256(pdf).hexdigest()}" in out
    assert f"snapshot  {stored.snapshot_id} (SNAPSHOT#{ACCOUNT} / SNAP#{AT})" in out
    first_page = PdfReader(output).pages[0].extract_text()
    assert ACCOUNT not in first_page  # masked unless asked for
    assert mask_account_number(ACCOUNT) in first_page
    assert leftovers(tmp_path) == []


def test_render_json_and_the_same_bytes_every_time(
    settings: TableSettings,
    stored: AccountSnapshot,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first.pdf", tmp_path / "second.pdf"
    code, out, _ = render(capsys, settings, first, "--at", AT, "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary == {
        "path": str(first),
        "account_id": ACCOUNT,
        "period_end": AT,
        "snapshot_id": stored.snapshot_id,
        "pages": summary["pages"],
        "bytes": first.stat().st_size,
        "pdf_sha256": hashlib.sha256(first.read_bytes()).hexdigest(),
    }
    assert summary["pages"] >= 1

    assert render(capsys, settings, second, "--latest", "--json")[0] == 0
    assert second.read_bytes() == first.read_bytes()
    assert render(capsys, settings, second, "--latest")[0] == 0  # replaces the file in place
    assert second.read_bytes() == first.read_bytes()
    assert leftovers(tmp_path) == []


def test_latest_renders_the_newest_snapshot(
    settings: TableSettings,
    stored: AccountSnapshot,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    newer = sealed(LATER_END)
    store(settings, newer)
    code, out, _ = render(capsys, settings, tmp_path / "r.pdf", "--latest", "--json")
    assert code == 0
    assert json.loads(out)["snapshot_id"] == newer.snapshot_id
    assert (tmp_path / "r.pdf").read_bytes() == render_report(newer).pdf


def test_a_missing_snapshot_exits_1_and_writes_nothing(
    settings: TableSettings,
    stored: AccountSnapshot,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    output = tmp_path / "report.pdf"
    code, out, err = render(capsys, settings, output, "--at", "2024-03-04T00:00:00Z")
    assert (code, out) == (1, "")
    assert "NotFoundError: no snapshot for account 'acct-1' at 2024-03-04T00:00:00Z" in err
    code, _, err = run(
        capsys, "report", "render", "--account", "acct-9", "--latest", "-o", str(output),
        *conn(settings),
    )  # fmt: skip
    assert code == 1
    assert "NotFoundError" in err
    assert list(tmp_path.iterdir()) == []


def test_a_tampered_snapshot_exits_1_and_keeps_the_old_report(
    settings: TableSettings,
    stored: AccountSnapshot,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    output = tmp_path / "report.pdf"
    output.write_bytes(b"the previous report")
    item = raw_item(settings, f"SNAPSHOT#{ACCOUNT}", f"SNAP#{AT}")
    assert item is not None
    item["correlation_id"] = {"S": "forged-cycle"}
    item["GSI4PK"] = {"S": "CORR#forged-cycle"}  # consistent: only the body disagrees
    put_raw(settings, item)

    for which in (("--at", AT), ("--latest",)):
        code, out, err = render(capsys, settings, output, *which)
        assert (code, out) == (1, "")
        assert "IntegrityError" in err
        assert "correlation_id disagree" in err
    assert output.read_bytes() == b"the previous report"
    assert leftovers(tmp_path) == []


def test_the_wrong_hmac_key_exits_1(
    settings: TableSettings,
    stored: AccountSnapshot,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SNAPSHOT_HMAC_KEY", "another-key")
    code, _, err = render(capsys, settings, tmp_path / "report.pdf")
    assert code == 1
    assert "IntegrityError" in err
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_temporary_file(
    settings: TableSettings,
    stored: AccountSnapshot,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import snapshots.cli.report

    def refuse(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshots.cli.report.os, "replace", refuse)
    code, _, err = render(capsys, settings, tmp_path / "report.pdf")
    assert code == 2
    assert "cannot write" in err
    assert "No space left on device" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--at", "2024-03-03T00:00:00.5Z"], "must be a whole second", id="fraction"),
        pytest.param(["--latest", "-o", "{tmp}"], "is a directory", id="directory"),
        pytest.param(["--latest", "-o", "{tmp}/missing/r.pdf"], "does not exist", id="no-folder"),
        pytest.param(["--latest", "--account", "a#b"], "must not contain '#'", id="bad-account"),
    ],
)
def test_bad_arguments_exit_2_before_reading(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    # A table that cannot be reached: reading would fail with exit code 1, not 2.
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    args = ["report", "render", "--account", ACCOUNT, "-o", str(tmp_path / "r.pdf")]
    code, out, err = run(capsys, *args, *(a.format(tmp=tmp_path) for a in argv))
    assert (code, out) == (2, "")
    assert message in err


def test_at_and_latest_are_exclusive(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        run(capsys, "report", "render", "--account", ACCOUNT, "--at", AT, "--latest", "-o", "r.pdf")
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_embedded_backend_has_no_snapshots(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "r.pdf"
    code, _, err = run(
        capsys,
        "report",
        "render",
        "--embedded",
        "--account",
        ACCOUNT,
        "--latest",
        "-o",
        str(output),
    )
    assert code == 1
    assert "NotFoundError" in err
    assert not output.exists()


def test_metrics_prints_every_figure_the_report_computes(
    settings: TableSettings, stored: AccountSnapshot, capsys: pytest.CaptureFixture[str]
) -> None:
    from snapshots.report.metrics import ReportOptions, metrics_json, report_metrics

    argv = ("report", "metrics", "--account", ACCOUNT, "--at", AT, *conn(settings))
    code, out, err = run(capsys, *argv, "--json", "--risk-free-rate", "0.03")
    assert (code, err) == (0, "")
    expected = report_metrics(stored, ReportOptions(risk_free_rate=Decimal("0.03")))
    assert out == metrics_json(expected) + "\n"
    figures = json.loads(out)
    assert figures["inception"]["risk_free_rate"] == "0.03"
    assert figures["figures"]["equity"] == str(stored.alpaca_account.equity)
    assert {"period", "inception", "strategies", "round_trips", "reconciliation"} <= set(figures)
    # metrics 4: P&L by symbol, exposure at each close and the round trips themselves
    assert {"by_symbol", "exposure", "period_round_trips"} <= set(figures)
    assert figures["metrics_version"] == "4"
    assert "performance" not in figures  # metrics 3: the whole history is "inception"
    # every decimal is normalised like the snapshot's numbers: no trailing zeros, no exponent
    texts = list(_strings(figures))
    decimals = [t for t in texts if re.fullmatch(r"-?\d+\.\d+", t)]
    assert decimals
    assert not [t for t in decimals if t.endswith("0")]
    assert not [t for t in texts if re.fullmatch(r"-?\d+(\.\d+)?E[+-]?\d+", t)]

    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    # The headline figures, formatted as the PDF's key figures print them.
    from snapshots.report.figures import fmt_money, fmt_percent

    plain = report_metrics(stored)
    period_return = fmt_percent(plain.period.twr, signed=True)
    assert re.search(rf"return \(period\) +{re.escape(period_return)} time-weighted", out)
    period_pnl = fmt_money(plain.period.pnl, signed=True)
    assert re.search(rf"net P&L \(period\) +{re.escape(period_pnl)} USD", out)
    # the period's figures first, then the history's, each labelled
    assert out.index("(period)") < out.index("inception") < out.index("(inception)")
    assert "--json prints every figure" in out
    if plain.turnover is not None:
        turnover = re.escape(fmt_money(plain.turnover))
        assert re.search(rf"turnover \(period\) +{turnover}x average equity", out)
    if plain.exposure:
        last = plain.exposure[-1].leverage
        assert re.search(rf"gross leverage \(period, at cost\) +last {fmt_money(last)}x", out)

    code, out, err = run(capsys, *argv, "--risk-free-rate", "4%")
    assert code != 0
    assert "risk-free rate must be a decimal fraction" in err
    assert out == ""


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
