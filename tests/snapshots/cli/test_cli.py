"""The ``trade-ledger`` command: table bootstrap, import and listing, on both engines."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from ledger_store.config import TableSettings
from ledger_store.trades import TradeLedgerRepository
from snapshots.cli.main import main
from tests.builders import fill_data


def conn(settings: TableSettings) -> list[str]:
    args = ["--table", settings.table_name, "--region", settings.region]
    if settings.endpoint_url:
        args += ["--endpoint-url", settings.endpoint_url]
    return args


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r, default=str) + "\n" for r in records), encoding="utf-8")
    return path


def test_table_create_twice_and_describe(
    settings: TableSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "table", "create", *conn(settings))
    assert code == 0
    assert "already exists and matches the models" in out
    code, out, _ = run(capsys, "table", "describe", "--json", *conn(settings))
    assert code == 0
    described = json.loads(out)
    assert described["matches_models"] is True
    assert described["table_name"] == settings.table_name


def test_table_create_reports_a_differing_table(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=settings.endpoint_url)
    name = settings.table_name + "-other"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        args = conn(settings.with_table(name))
        code, _, err = run(capsys, "table", "create", *args)
        assert code == 3
        assert "primary key is {'HASH': 'PK'}" in err
        assert "index GSI3 is missing" in err
        code, out, _ = run(capsys, "table", "describe", *args)
        assert code == 3
        assert "differs from the models" in out
    finally:
        client.delete_table(TableName=name)


def test_import_reports_bad_lines_and_is_idempotent(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "fills.jsonl"
    good = [fill_data(order_id=f"o-{n}", filled_at=f"2024-03-01T14:3{n}:00Z") for n in range(3)]
    lines = [json.dumps(g, default=str) for g in good]
    lines.insert(1, "{not json")
    lines.insert(3, json.dumps(fill_data(order_id="bad", qty="-1"), default=str))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, out, err = run(capsys, "trades", "import", str(path), "--no-progress", *conn(settings))
    assert code == 1
    assert "3 recorded, 0 already recorded, 2 rejected" in out
    assert f"{path}:2: invalid JSON" in err
    assert f"{path}:4: qty: must be > 0" in err
    repository = TradeLedgerRepository(settings)
    assert {f.order_id for f in repository.trades_by_correlation("cycle-1")} == {
        "o-0",
        "o-1",
        "o-2",
    }

    good_only = jsonl(tmp_path / "good.jsonl", good)
    code, out, _ = run(capsys, "trades", "import", str(good_only), "--no-progress", *conn(settings))
    assert code == 0
    assert "0 recorded, 3 already recorded, 0 rejected - nothing changed" in out


def test_import_reports_a_conflicting_line(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = jsonl(
        tmp_path / "fills.jsonl", [fill_data(order_id="o-1"), fill_data(order_id="o-1", qty="11")]
    )
    code, out, err = run(capsys, "trades", "import", str(path), "--no-progress", *conn(settings))
    assert code == 1
    assert "1 recorded, 0 already recorded, 1 rejected" in out
    assert ":2: order o-1 is already recorded with different content: qty" in err


def test_import_csv(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(
        "order_id,account_id,correlation_id,symbol,side,qty,price,filled_at,fees,"
        "strategy_allocation\n"
        "c-1,acct-1,cycle-1,MSFT,BUY,3,410.5,2024-03-01T15:00:00Z,0,momentum=0.5;carry=0.5\n"
        "c-2,acct-1,cycle-1,MSFT,SELL,1,411,2024-03-01T16:00:00Z,0.02,momentum=1\n"
        "c-3,acct-1,cycle-1,MSFT,SELL,1,411,2024-03-01T16:00:00Z,0.02,momentum\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "trades", "import", str(path), "--no-progress", *conn(settings))
    assert code == 1
    assert "2 recorded" in out
    assert ":4: strategy_allocation: expected name=weight" in err
    code, out, _ = run(
        capsys, "trades", "strategies", "--account", "acct-1", "--json", *conn(settings)
    )
    assert json.loads(out) == [
        {"account_id": "acct-1", "strategy": "carry", "trade_count": 1, "revision": 1},
        {"account_id": "acct-1", "strategy": "momentum", "trade_count": 2, "revision": 2},
    ]


def test_list_by_each_access_path(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    records = [
        fill_data(order_id="o-1", symbol="AAPL", filled_at="2024-03-01T14:30:00Z"),
        fill_data(order_id="o-2", symbol="MSFT", filled_at="2024-03-01T14:31:00Z"),
        fill_data(order_id="o-3", symbol="AAPL", filled_at="2024-03-01T14:32:00Z"),
    ]
    path = jsonl(tmp_path / "fills.jsonl", records)
    assert main(["trades", "import", str(path), "--no-progress", *conn(settings)]) == 0
    capsys.readouterr()

    code, out, _ = run(capsys, "trades", "list", "--symbol", "AAPL", "--json", *conn(settings))
    assert code == 0
    assert [json.loads(line)["order_id"] for line in out.splitlines()] == ["o-1", "o-3"]

    code, out, _ = run(
        capsys,
        "trades",
        "list",
        "--strategy",
        "alpha",
        "--account",
        "acct-1",
        "--from",
        "2024-03-01T14:31:00Z",
        "--to",
        "2024-03-01T14:32:00Z",
        *conn(settings),
    )
    assert code == 0
    assert "o-2" in out
    assert "o-1" not in out
    assert "o-3" not in out
    assert "(1 row)" in out

    code, out, _ = run(capsys, "trades", "list", "--correlation-id", "cycle-1", *conn(settings))
    assert code == 0
    assert "(3 rows)" in out

    code, out, _ = run(capsys, "trades", "list", "--order-id", "o-2", "--json", *conn(settings))
    assert json.loads(out)["symbol"] == "MSFT"

    code, _, err = run(capsys, "trades", "list", "--order-id", "nope", *conn(settings))
    assert code == 1
    assert "NotFoundError" in err

    code, _, err = run(capsys, "trades", "list", "--strategy", "alpha", *conn(settings))
    assert code == 2
    assert "--strategy needs --account" in err


def test_cloudformation_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "table", "cloudformation", "--table", "ledger-x")
    assert code == 0
    resource = json.loads(out)["Resources"]["TradeLedgerTable"]
    assert resource["Properties"]["TableName"] == "ledger-x"


def test_embedded_table_create(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "table", "create", "--embedded", "--stage", "demo")
    assert code == 0
    assert "created table alchemiser-trade-ledger-demo" in out


def test_demo_runs_end_to_end_on_the_embedded_backend(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(
        capsys, "demo", "--days", "8", "--cycles", "2", "--no-progress", "--output", str(tmp_path)
    )
    assert code == 0, out
    assert "on moto (embedded)" in out
    assert "re-import: 0 recorded" in out
    assert "nothing changed" in out
    payloads = [
        json.loads(line.split("payload: ", 1)[1])
        for line in out.splitlines()
        if "payload: " in line
    ]
    assert [p["period"] for p in payloads] == [
        {"start": "2026-08-01T00:00:00Z", "end": "2026-08-12T00:00:00Z"},
        {"start": "2026-08-01T00:00:00Z", "end": "2026-08-13T00:00:00Z"},
    ]
    # The history's deposit, split and dividend reach the ledger through Alpaca's activities,
    # and every check passes: positions after the split and with the short, events recorded.
    assert "account event: 2026-08-03T13:00:00Z cash_flow 25000" in out
    assert "account event: 2026-08-04T08:00:00Z split NVDA 10:1" in out
    assert "account event: 2026-08-05T12:00:00Z dividend TLT 9.3" in out
    # The options strategy's written put expires and its covered call is assigned; the crypto
    # strategy's buy pays its fee in the coin: Alpaca's rows become the ledger's events.
    assert "option_expiry KO260805P00058000 1 expired" in out
    assert "option_exercise KO260807C00062000 1 assigned: -100 KO @ 62" in out
    assert out.count("integrity checks: 5 pass") == 2
    # each cycle says what it is doing before its quiet seconds, and what it recorded
    assert out.count("then the month-to-date snapshot (Alpaca, the ledger, the checks) ...") == 2
    assert re.search(r"cycle \S+: recording its (\d+) fills.*\n  \1 fills recorded;", out)
    assert "B canonical, " in out
    assert "written as JSON Lines to a temporary file and imported" in out
    assert "snapshot existing" in out
    pdf = tmp_path / "account-report-2026-08-13.pdf"
    assert f"report: {pdf}" in out
    # The second account: adopted from Alpaca (its bots' prefixes and the trader's splits by
    # symbol attribute the fills), reconciled after the bot lost one fill and mis-recorded
    # another, and reported.
    assert "95 executions of 60 orders: 60 fills recorded" in out
    assert "GLD split                   5 fills" in out
    assert "default (unattributed)      0 fills" in out
    assert "reconcile: 2 difference(s)" in out
    assert out.count("-> repaired") == 2
    assert "month-to-date snapshot after the repairs: 5 pass" in out
    adopted = tmp_path / "adopted-account-report-2026-08-19.pdf"
    adopted_first = adopted.read_bytes()
    assert adopted_first.startswith(b"%PDF-")
    first = pdf.read_bytes()
    assert first.startswith(b"%PDF-")
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(first)).pages]
    text = " ".join(pages)
    for shown in (
        "NVDA 10 for 1",
        "TLT · 30 sh · 0.31/sh",
        "ACH deposit",
        "short",
        "option assignment",
        "option expiry",
        "fee in coin",
        "By asset class",
        "options_income",
        "us_option",
    ):
        assert shown in text, shown
    # Every section of the report, with figures from the year of history and the benchmark.
    for section in (
        "Key figures",
        "Underwater",
        "Returns and risk",
        "Returns by month and by day",
        "Reconciliation",
        "Strategies (6)",
        "Round trips of the period",
        "P&L by symbol",
        "Exposure and leverage over the period",
        "Methodology",
        "MTD (from",
        "YTD (from",
        "1Y (from",
        "Beta to SPY",
        "Correlation with SPY",
        "Sharpe ratio (risk-free 0.00%)",
    ):
        assert section in text, section
    # No near-empty page: each holds at least a dozen lines besides its header and footer.
    assert all(len(page.splitlines()) >= 14 for page in pages), [
        len(page.splitlines()) for page in pages
    ]

    code, again, _ = run(
        capsys, "demo", "--days", "8", "--cycles", "2", "--no-progress", "--output", str(tmp_path)
    )
    assert code == 0
    assert pdf.read_bytes() == first  # same history, same snapshots, same PDF bytes
    assert adopted.read_bytes() == adopted_first
    assert [line for line in again.splitlines() if "payload: " in line] == [
        line for line in out.splitlines() if "payload: " in line
    ]


def test_demo_refuses_a_history_that_runs_past_today(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "demo", "--days", "400", "--no-progress")
    assert code == 2
    assert "past today" in err
