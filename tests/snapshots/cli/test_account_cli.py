"""``trade-ledger account adopt`` and ``account reconcile``, as a trader runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger_store.config import TableSettings
from ledger_store.trades import TradeLedgerRepository
from snapshots.demo.history import DEMO_ACCOUNT_ID
from snapshots.fake_alpaca.server import (
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    FakeAlpaca,
    running_fake_alpaca,
)
from tests.builders import raw_table
from tests.snapshots.adoption.test_adopt import FILLS, PREFIXES, account
from tests.snapshots.adoption.test_reconcile import END, START
from tests.snapshots.cli.test_cli import conn, run

RULES = "\n".join(
    f'[[rule]]\nname = "{name}"\nclient_order_id_prefix = "{prefix}"\nstrategy = "{name}"\n'
    for name, prefix in PREFIXES.items()
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(account()) as server:
        monkeypatch.setenv("APCA_API_KEY_ID", DEFAULT_KEY_ID)
        monkeypatch.setenv("APCA_API_SECRET_KEY", DEFAULT_SECRET_KEY)
        monkeypatch.setenv("APCA_API_BASE_URL", server.base_url)
        monkeypatch.setenv("APCA_API_DATA_URL", server.base_url)  # ETH/BTC's rate: its bars
        yield server


def test_adopt_then_re_run_then_reconcile_from_the_command_line(
    settings: TableSettings,
    fake: FakeAlpaca,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    adopt = ["account", "adopt", "--account", DEMO_ACCOUNT_ID, "--rules", str(rules)]
    code, out, err = run(capsys, *adopt, "--no-progress", *conn(settings))
    assert code == 0, err
    assert f"fills: {len(FILLS)} recorded, 0 already recorded" in out
    assert "momentum " in out  # the rules' table
    assert "default (unattributed)" in out
    assert "first snapshot (created): " in out
    assert " fail" not in out

    before = raw_table(settings)
    code, out, _ = run(capsys, *adopt, "--no-progress", *conn(settings))
    assert code == 0
    assert f"fills: 0 recorded, {len(FILLS)} already recorded" in out
    assert "nothing changed: the account was adopted already" in out
    assert "no first snapshot: the account has snapshots already" in out
    assert raw_table(settings) == before

    # A fill the bot recorded wrongly: reconcile lists it, --apply amends it.
    ledger = TradeLedgerRepository(settings)
    wrong = ledger.get_trade(FILLS[5].order_id).fill
    ledger.amend(wrong.model_copy(update={"qty": wrong.qty + 1}), reason="typo", actor="bot")
    period = [
        "--period-start",
        START.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--period-end",
        END.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ]
    reconcile = ["account", "reconcile", "--account", DEMO_ACCOUNT_ID, *period, *conn(settings)]
    code, out, _ = run(capsys, *reconcile)
    assert code == 1
    assert "1 difference(s)" in out
    assert wrong.order_id in out
    assert "nothing was changed: --apply makes these repairs" in out
    code, out, _ = run(capsys, *reconcile, "--apply")
    assert code == 0
    assert "repaired" in out
    code, out, _ = run(capsys, *reconcile, "--json")
    assert code == 0
    assert json.loads(out)["differences"] == []


def test_a_bad_rule_file_is_refused_before_alpaca_is_read(
    settings: TableSettings,
    fake: FakeAlpaca,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nsymbols = ["A"]\nstrategy = "a"\nprefx = "x"\n', encoding="utf-8")
    code, _, err = run(
        capsys,
        "account",
        "adopt",
        "--account",
        DEMO_ACCOUNT_ID,
        "--rules",
        str(rules),
        *conn(settings),
    )
    assert code == 2
    assert f"{rules}:4: rule 1: unknown key 'prefx'" in err
    assert fake.requests() == []
    assert raw_table(settings) == []
