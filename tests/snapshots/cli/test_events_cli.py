"""``trade-ledger events import|list`` and ``trades void|amend``: the ledger beyond fills."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import parse_fill
from ledger_store.events import AccountEventRepository, CashFlow, Split, SymbolChange
from ledger_store.trades import TradeLedgerRepository
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca
from tests.builders import ACCOUNT, fill_data, raw_table
from tests.snapshots.cli.test_cli import conn, run

EVENTS = [
    {
        "kind": "split",
        "event_id": "nvda-split-2024",
        "account_id": ACCOUNT,
        "effective_at": "2024-06-10T13:30:00Z",
        "symbol": "NVDA",
        "ratio_new": "10",
        "ratio_old": "1",
    },
    {
        "kind": "dividend",
        "event_id": "20240612013000000::7c1b0a56-2b4f-4d36-9d1e-0c3f5b7a9e11",
        "account_id": ACCOUNT,
        "effective_at": "2024-06-12T00:00:00Z",
        "symbol": "NVDA",
        "amount": "0.4",
        "per_share_amount": "0.01",
        "qty": "40",
        "source": "DIV",
    },
    {
        "kind": "cash_flow",
        "event_id": "deposit-1",
        "account_id": ACCOUNT,
        "effective_at": "2024-06-01T14:00:00Z",
        "amount": "49000",
        "source": "CSD",
    },
]


def test_events_import_is_idempotent_and_lists_in_time_order(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    bad = {**EVENTS[0], "event_id": "bad", "ratio_new": "1", "ratio_old": "1"}
    lines = [json.dumps(e) for e in EVENTS] + [json.dumps(bad)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, out, err = run(capsys, "events", "import", str(path), "--no-progress", *conn(settings))
    assert code == 1
    assert "3 recorded, 0 already recorded, 1 rejected" in out
    assert f"{path}:4: " in err
    assert "must differ" in err

    code, out, _ = run(capsys, "events", "import", str(path), "--no-progress", *conn(settings))
    assert "0 recorded, 3 already recorded, 1 rejected" in out

    code, out, _ = run(capsys, "events", "list", "--account", ACCOUNT, *conn(settings))
    assert code == 0
    rows = out.splitlines()
    assert rows[0].split() == ["effective_at", "kind", "event_id", "symbol", "detail"]
    assert [r.split()[1] for r in rows[1:-1]] == ["cash_flow", "split", "dividend"]
    assert rows[2].split()[-1] == "10:1"
    assert rows[-1] == "(3 rows)"

    code, out, _ = run(
        capsys,
        "events",
        "list",
        "--account",
        ACCOUNT,
        "--from",
        "2024-06-05T00:00:00Z",
        "--json",
        *conn(settings),
    )
    assert [json.loads(line)["event_id"] for line in out.splitlines()] == [
        "nvda-split-2024",
        EVENTS[1]["event_id"],
    ]
    assert AccountEventRepository(settings).event_count(ACCOUNT) == 3


def test_events_import_reads_csv_with_the_same_columns(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "kind,event_id,account_id,effective_at,symbol,new_symbol,ratio_new,ratio_old,amount\n"
        f"symbol_change,fb-meta,{ACCOUNT},2022-06-09T13:30:00Z,FB,META,,,\n"
        f"cash_flow,withdrawal-1,{ACCOUNT},2022-06-10T15:00:00Z,,,,,-2500\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "events", "import", str(path), "--no-progress", *conn(settings))
    assert (code, err) == (0, "")
    assert "2 recorded" in out
    kinds = [e.kind.value for e in AccountEventRepository(settings).events(ACCOUNT)]
    assert kinds == ["symbol_change", "cash_flow"]


def test_trades_void_and_amend_from_the_command_line(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ledger = TradeLedgerRepository(settings)
    ledger.record(parse_fill(fill_data(order_id="o-1")))
    ledger.record(parse_fill(fill_data(order_id="o-2")))
    amended = tmp_path / "o-1.json"
    amended.write_text(
        json.dumps(fill_data(order_id="o-1", qty="12"), default=str), encoding="utf-8"
    )

    code, out, _ = run(
        capsys,
        "trades",
        "amend",
        str(amended),
        "--reason",
        "qty typo",
        "--actor",
        "ops",
        *conn(settings),
    )
    assert (code, out) == (0, "amended: order o-1 (revision 1)\n")
    code, out, _ = run(
        capsys, "trades", "void", "--order-id", "o-2", "--reason", "busted", *conn(settings)
    )
    assert (code, out.split(":")[0]) == (0, "voided")

    code, out, _ = run(capsys, "trades", "list", "--order-id", "o-1", *conn(settings))
    assert "status: active" in out
    assert "revision 1: amend by ops" in out
    assert out.rstrip().endswith("qty typo")
    code, out, _ = run(capsys, "trades", "list", "--order-id", "o-2", *conn(settings))
    assert "status: voided" in out
    code, _, err = run(
        capsys, "trades", "amend", str(tmp_path / "missing.json"), "--reason", "r", *conn(settings)
    )
    assert code == 2
    assert "missing.json: cannot be read" in err


def test_events_void_and_list_with_their_status(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n", encoding="utf-8")
    run(capsys, "events", "import", str(path), "--no-progress", *conn(settings))

    void = (
        "events",
        "void",
        "--account",
        ACCOUNT,
        "--event-id",
        "nvda-split-2024",
        "--reason",
        "duplicate",
    )
    code, out, _ = run(capsys, *void, "--actor", "ops", *conn(settings))
    assert (code, out) == (0, "voided: event nvda-split-2024\n")
    code, out, _ = run(capsys, *void, "--actor", "ops", *conn(settings))
    assert out == "unchanged: event nvda-split-2024\n"

    code, out, _ = run(capsys, "events", "list", "--account", ACCOUNT, *conn(settings))
    assert [r.split()[1] for r in out.splitlines()[1:-1]] == ["cash_flow", "dividend"]
    listing = ("events", "list", "--account", ACCOUNT, "--include-voided")
    code, out, _ = run(capsys, *listing, *conn(settings))
    rows = out.splitlines()
    assert rows[0].split()[-1] == "status"
    assert rows[2].split()[1] == "split"
    assert "voided" in rows[2]
    assert "by ops: duplicate" in rows[2]
    code, out, _ = run(capsys, *listing, "--json", *conn(settings))
    statuses = [
        (json.loads(line)["event"]["event_id"], json.loads(line)["status"])
        for line in out.splitlines()
    ]
    assert statuses == [
        ("deposit-1", "active"),
        ("nvda-split-2024", "voided"),
        (EVENTS[1]["event_id"], "active"),
    ]

    code, _, err = run(
        capsys,
        "events",
        "void",
        "--event-id",
        "nope",
        "--account",
        ACCOUNT,
        "--reason",
        "x",
        *conn(settings),
    )
    assert code != 0
    assert "no event 'nope'" in err


def test_events_sync_records_what_alpacas_activities_describe(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = "3c9e5a71-2b4d-4f08-9a6e-1d7c8b2f4e50"
    day = datetime(2026, 9, 14, tzinfo=UTC)
    fills = [
        parse_fill(
            fill_data(
                order_id="6b1f0c1e-5c1a-4d8e-9a0b-3e2f1d4c5b6a",
                account_id=account_id,
                symbol="ABC",
                qty="12",
                price="600",
                filled_at=day - timedelta(days=3) + timedelta(hours=15),
                strategy_allocation={"growth": "1"},
            )
        )
    ]
    cycle = TradingCycle(
        correlation_id="c", start=fills[0].filled_at, end=fills[0].filled_at, fills=tuple(fills)
    )
    events = [
        CashFlow(
            event_id="dep",
            account_id=account_id,
            effective_at=day + timedelta(hours=13),
            amount=Decimal(5000),
        ),
        Split(
            event_id="spl",
            account_id=account_id,
            effective_at=day + timedelta(days=1, hours=8),
            symbol="ABC",
            ratio_new=Decimal(10),
            ratio_old=Decimal(1),
        ),
        SymbolChange(
            event_id="sc",
            account_id=account_id,
            effective_at=day + timedelta(days=2, hours=8),
            symbol="ABC",
            new_symbol="ABCD",
        ),
    ]
    account = FakeAccount.from_history(
        [cycle], account_id=account_id, events=events, include_unfilled=False
    )
    sync = (
        "events",
        "sync",
        "--account",
        account_id,
        "--from",
        "2026-09-14T00:00:00Z",
        "--to",
        "2026-09-19T00:00:00Z",
    )
    with running_fake_alpaca(account) as server:
        monkeypatch.setenv("APCA_API_KEY_ID", DEFAULT_KEY_ID)
        monkeypatch.setenv("APCA_API_SECRET_KEY", DEFAULT_SECRET_KEY)
        monkeypatch.setenv("APCA_API_BASE_URL", server.base_url)
        code, out, err = run(capsys, *sync, *conn(settings))
        assert (code, err) == (0, "")
        assert out.splitlines()[0] == (
            "4 non-trade activities: 2 events recorded, 0 already recorded, 0 splits superseded "
            "by an explicit event, 1 need an explicit event"
        )
        assert " SC " in out
        assert "ABC" in out
        assert "trade-ledger events import" in out
        code, out, _ = run(capsys, *sync, *conn(settings))
        assert "0 events recorded, 2 already recorded" in out
        # The same keys for another ledger account: refused before anything is written.
        before = raw_table(settings)
        other = [*sync[:3], "another-account", *sync[4:]]
        code, _, err = run(capsys, *other, *conn(settings))
        assert code != 0
        assert f"Alpaca account {account_id} belongs to ledger account {account_id}" in err
        assert raw_table(settings) == before
    recorded = list(AccountEventRepository(settings).events(account_id))
    assert [(e.kind.value, getattr(e, "symbol", None)) for e in recorded] == [
        ("cash_flow", None),
        ("split", "ABC"),
    ]
