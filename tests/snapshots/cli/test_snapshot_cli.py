"""``trade-ledger snapshot ...`` on both engines, with the fake Alpaca server behind APCA_*."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ledger_store import keys
from ledger_store.config import TableSettings
from ledger_store.trades import TradeLedgerRepository
from snapshots.demo.history import DEMO_ACCOUNT_ID
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import (
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    FakeAlpaca,
    running_fake_alpaca,
)
from snapshots.schema import SNAPSHOT_VERSION, parse_snapshot, snapshot_id_for
from tests.builders import put_raw, raw_item, record_all
from tests.snapshots.cli.test_cli import conn, run
from tests.snapshots.test_snapshot_job import CYCLES, PERIOD_END, PERIOD_START, cycle_period

START, END = keys.format_seconds(PERIOD_START), keys.format_seconds(PERIOD_END)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(FakeAccount.from_history(CYCLES)) as server:
        monkeypatch.setenv("APCA_API_KEY_ID", DEFAULT_KEY_ID)
        monkeypatch.setenv("APCA_API_SECRET_KEY", DEFAULT_SECRET_KEY)
        monkeypatch.setenv("APCA_API_BASE_URL", server.base_url)
        monkeypatch.delenv("SNAPSHOT_HMAC_KEY", raising=False)
        yield server


@pytest.fixture
def recorded(ledger: TradeLedgerRepository) -> TradeLedgerRepository:
    record_all(ledger, (fill for cycle in CYCLES for fill in cycle.fills))
    return ledger


def take(
    capsys: pytest.CaptureFixture[str], settings: TableSettings, *extra: str
) -> tuple[int, str, str]:
    return run(
        capsys,
        "snapshot",
        "take",
        "--account",
        DEMO_ACCOUNT_ID,
        "--period-start",
        START,
        "--period-end",
        END,
        *extra,
        *conn(settings),
    )


def test_take_prints_the_payload_and_is_idempotent(
    settings: TableSettings,
    recorded: TradeLedgerRepository,
    fake: FakeAlpaca,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = take(capsys, settings, "--correlation-id", "cycle-x", "--json")
    assert (code, err) == (0, "")
    payload = json.loads(out)
    assert payload["snapshot_id"] == snapshot_id_for(DEMO_ACCOUNT_ID, PERIOD_END)
    assert payload["period"] == {"start": START, "end": END}

    code, out, _ = take(capsys, settings, "--correlation-id", "cycle-x")
    assert code == 0
    assert out.startswith(f"existing: SNAPSHOT#{DEMO_ACCOUNT_ID} / SNAP#{END}\n")
    lines = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in out.splitlines()[1:8]}
    assert lines["checksum"] == f"sha256 {payload['checksum']}"
    assert lines["correlation"] == "cycle-x"
    assert "integrity checks:" in out
    assert "pass  ledger_fills_match_alpaca_orders" in out


def test_show_latest_list_and_verify(
    settings: TableSettings,
    recorded: TradeLedgerRepository,
    fake: FakeAlpaca,
    capsys: pytest.CaptureFixture[str],
) -> None:
    taken = []
    for cycle in CYCLES[:3]:
        start, end = cycle_period(cycle)
        code, out, _ = run(
            capsys,
            "snapshot",
            "take",
            "--account",
            DEMO_ACCOUNT_ID,
            "--period-start",
            keys.format_seconds(start),
            "--period-end",
            keys.format_seconds(end),
            "--correlation-id",
            cycle.correlation_id,
            "--json",
            *conn(settings),
        )
        assert code == 0
        taken.append(json.loads(out))
    account = ["--account", DEMO_ACCOUNT_ID, *conn(settings)]

    code, out, _ = run(capsys, "snapshot", "show", "--at", taken[1]["period"]["end"], *account)
    assert code == 0
    assert taken[1]["snapshot_id"] in out
    assert f"correlation   {CYCLES[1].correlation_id}\n" in out
    # amounts as a person reads them (to the cent, grouped); --json keeps them exact
    code, exact, _ = run(
        capsys, "snapshot", "show", "--at", taken[1]["period"]["end"], "--json", *account
    )
    shown = parse_snapshot(exact.strip())
    from snapshots.report.figures import fmt_money

    assert f"equity        {fmt_money(shown.alpaca_account.equity)}\n" in out
    assert "," in fmt_money(shown.alpaca_account.equity)
    for strategy in shown.internal_ledger.strategy_performance.values():
        assert fmt_money(strategy.realized_pnl) in out

    code, out, _ = run(capsys, "snapshot", "latest", "--json", *account)
    assert code == 0
    latest = parse_snapshot(out.strip())
    assert (latest.snapshot_id, latest.checksum) == (
        taken[2]["snapshot_id"],
        taken[2]["checksum"],
    )

    code, out, _ = run(capsys, "snapshot", "list", "--json", *account)
    assert [json.loads(line) for line in out.splitlines()] == list(reversed(taken))
    code, out, _ = run(
        capsys,
        "snapshot",
        "list",
        "--from",
        taken[1]["period"]["end"],
        "--oldest-first",
        *account,
    )
    assert code == 0
    rows = out.splitlines()
    assert rows[0].split()[:3] == ["period_end", "period_start", "snapshot_id"]
    assert [r.split()[2] for r in rows[1:-1]] == [taken[1]["snapshot_id"], taken[2]["snapshot_id"]]
    assert rows[-1] == "(2 rows)"

    code, out, _ = run(capsys, "snapshot", "verify", "--all", *account)
    assert code == 0
    assert out.splitlines()[-1] == "3 snapshot(s) verified, 0 failed"

    # One bad snapshot in the middle: reported, and the others are still verified.
    middle = raw_item(settings, f"SNAPSHOT#{DEMO_ACCOUNT_ID}", taken[1]["key"]["sk"])
    assert middle is not None
    put_raw(settings, {**middle, "body_size": {"N": "7"}})
    code, out, _ = run(capsys, "snapshot", "verify", "--all", *account)
    assert code == 1
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["ok", "FAIL", "ok"]
    assert f"FAIL  SNAPSHOT#{DEMO_ACCOUNT_ID} / {taken[1]['key']['sk']}: " in lines[1]
    assert "body_size is 7" in lines[1]
    assert lines[-1] == "2 snapshot(s) verified, 1 failed"
    code, out, _ = run(capsys, "snapshot", "verify", "--all", "--json", *account)
    assert code == 1
    assert [json.loads(line)["verified"] for line in out.splitlines()] == [True, False, True]
    put_raw(settings, middle)

    code, out, _ = run(capsys, "snapshot", "verify", "--latest", "--json", *account)
    assert json.loads(out)["verified"] is True


def test_verify_reports_a_tampered_snapshot(
    settings: TableSettings,
    recorded: TradeLedgerRepository,
    fake: FakeAlpaca,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert take(capsys, settings, "--json")[0] == 0
    item = raw_item(settings, f"SNAPSHOT#{DEMO_ACCOUNT_ID}", f"SNAP#{END}")
    assert item is not None
    item["correlation_id"] = {"S": "forged-cycle"}
    item["GSI4PK"] = {"S": "CORR#forged-cycle"}  # consistent: only the body disagrees
    put_raw(settings, item)

    code, out, err = run(
        capsys, "snapshot", "verify", "--at", END, "--account", DEMO_ACCOUNT_ID, *conn(settings)
    )
    assert code == 1
    assert out == ""
    assert "IntegrityError" in err
    assert "correlation_id disagree" in err


def test_errors_exit_with_their_codes(
    settings: TableSettings, fake: FakeAlpaca, capsys: pytest.CaptureFixture[str]
) -> None:
    account = ["--account", DEMO_ACCOUNT_ID, *conn(settings)]
    code, _, err = run(capsys, "snapshot", "show", "--at", END, *account)
    assert code == 1
    assert "NotFoundError: no snapshot" in err
    code, _, err = run(capsys, "snapshot", "verify", "--latest", "--from", START, *account)
    assert code == 2
    assert "--from/--to only go with --all" in err
    code, _, err = take(capsys, settings, "--replace", "nothex")
    assert code == 2
    assert "replace_checksum must be 64 lower-case hex digits" in err
    assert fake.requests() == []


def test_take_says_how_it_read_the_ledger(
    settings: TableSettings,
    recorded: TradeLedgerRepository,
    fake: FakeAlpaca,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The first cycle reads the whole ledger, the next one carries it forward, and
    ``--full-rebuild`` reads everything again."""
    said = []
    for cycle, extra in zip(CYCLES[:3], ([], [], ["--full-rebuild"]), strict=True):
        start, end = cycle_period(cycle)
        code, out, _ = run(
            capsys,
            "snapshot",
            "take",
            "--account",
            DEMO_ACCOUNT_ID,
            "--period-start",
            keys.format_seconds(start),
            "--period-end",
            keys.format_seconds(end),
            "--correlation-id",
            cycle.correlation_id,
            *extra,
            *conn(settings),
        )
        assert code == 0
        (line,) = (line for line in out.splitlines() if line.startswith("ledger read: "))
        said.append(line)
    assert said[0].startswith("ledger read: full (")
    assert said[0].endswith("): no earlier snapshot to start from")
    assert said[1].startswith("ledger read: incremental (")
    assert "carried forward from snapshot " in said[1]
    assert said[2].endswith("): a full rebuild was asked for")


def test_list_reads_metadata_and_verify_reads_the_bodies(
    settings: TableSettings,
    recorded: TradeLedgerRepository,
    fake: FakeAlpaca,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = take(capsys, settings, "--correlation-id", "cycle-x", "--json")
    assert code == 0
    payload = json.loads(out)
    account = ["--account", DEMO_ACCOUNT_ID, *conn(settings)]
    code, out, _ = run(capsys, "snapshot", "list", *account)
    header, row = out.splitlines()[:2]
    assert header.split() == [
        "period_end",
        "period_start",
        "snapshot_id",
        "correlation_id",
        "version",
        "canonical",
    ]
    assert row.split()[2:5] == [payload["snapshot_id"], "cycle-x", SNAPSHOT_VERSION]
    canonical = row.split()[5]
    code, out, _ = run(capsys, "snapshot", "list", "--verify", *account)
    header, row = out.splitlines()[:2]
    assert header.split()[4:] == ["checks", "canonical", "stored"]
    assert row.split()[4] in ("pass", "warn", "fail")
    # the same size under the same name in both lists; the stored (compressed) one is smaller
    assert row.split()[5] == canonical
    stored = row.split()[7]
    assert int(stored.replace(",", "")) < int(canonical.replace(",", ""))
    code, out, _ = run(capsys, "table", "migrate", *conn(settings))
    assert (code, out.strip()) == (0, f"table {settings.table_name} already matches the models")
