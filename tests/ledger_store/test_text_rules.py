"""One set of text rules for every free-text field written (``ledger_store.dto.text_problem``):
descriptions and sources of events, reasons and actors of corrections and voids, through the
library and the command line; a file read the same way by every command (a byte-order mark at
its start is the file's, not the text's); a merger into its own symbol refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import clean_text, parse_fill, text_problem
from ledger_store.errors import LedgerValidationError
from ledger_store.events import AccountEventRepository, CashFlow, Merger, parse_event
from ledger_store.trades import TradeLedgerRepository
from snapshots.alpaca.activities import events_from_activities
from snapshots.alpaca.models import AccountActivity
from tests.builders import ACCOUNT, fill_data
from tests.snapshots.cli.test_cli import conn, run

#: Text no field takes: a NUL, another control character, a byte-order mark, a lone surrogate.
HOSTILE = ["ops\x00", "ops\x1b[31m", "\ufeffops", "ops\ud800"]
#: Text every field takes: tabs and line breaks are text, as is any printable character.
FINE = ["ops", "wire to checking\n(pending)", "col1\tcol2", "Geb\u00fchr \u682a\u5f0f \U0001f4c8"]


@pytest.mark.parametrize("text", HOSTILE)
def test_the_rule_refuses_what_breaks_a_later_read(text: str) -> None:
    assert text_problem(text) is not None
    assert text_problem(clean_text(text)) is None


@pytest.mark.parametrize("text", FINE)
def test_the_rule_takes_text(text: str) -> None:
    assert text_problem(text) is None
    assert clean_text(text) == text


def _deposit(**fields: Any) -> CashFlow:
    data = {
        "event_id": "deposit-1",
        "account_id": ACCOUNT,
        "effective_at": datetime(2024, 6, 3, 14, tzinfo=UTC),
        "amount": Decimal(100),
        **fields,
    }
    return CashFlow.model_validate(data)


def _parsed(**fields: Any) -> Any:
    """An event as an import or a library caller gives it: validated by ``parse_event``."""
    return parse_event({**_deposit().model_dump(mode="json"), **fields})


@pytest.mark.parametrize("text", HOSTILE)
def test_every_door_refuses_the_same_text_and_writes_nothing(
    settings: TableSettings, text: str
) -> None:
    ledger = TradeLedgerRepository(settings)
    ledger.record(parse_fill(fill_data(order_id="o-1")))
    events = AccountEventRepository(settings)
    events.record(_deposit())
    doors = {
        "trade void reason": lambda: ledger.void("o-1", reason=text, actor="ops"),
        "trade void actor": lambda: ledger.void("o-1", reason="typo", actor=text),
        "amend actor": lambda: ledger.amend(
            parse_fill(fill_data(order_id="o-1", qty="12")), reason="typo", actor=text
        ),
        "event void reason": lambda: events.void(ACCOUNT, "deposit-1", reason=text, actor="o"),
        "event void actor": lambda: events.void(ACCOUNT, "deposit-1", reason="r", actor=text),
        "supersede actor": lambda: events.supersede(
            _deposit(amount=Decimal(150)), reason="corrected", actor=text
        ),
        "event description": lambda: events.record(_parsed(event_id="d-2", description=text)),
        "event source": lambda: events.record(_parsed(event_id="d-3", source=text)),
    }
    for write in doors.values():  # each door named by its key above
        # (a lone surrogate is refused by the model before the rule: not a unicode string)
        with pytest.raises(LedgerValidationError, match=r"U\+|unicode string"):
            write()
    assert ledger.get_trade("o-1").corrections == ()
    assert [e.event_id for e in events.events(ACCOUNT)] == ["deposit-1"]
    assert events.event_count(ACCOUNT) == 1


def test_text_with_line_breaks_and_tabs_is_taken_everywhere(settings: TableSettings) -> None:
    ledger = TradeLedgerRepository(settings)
    ledger.record(parse_fill(fill_data(order_id="o-1")))
    result = ledger.void("o-1", reason="two lines\nof reason", actor="ops\tdesk")
    assert result.status == "voided"
    events = AccountEventRepository(settings)
    assert events.record(_deposit(description=FINE[1])).status == "recorded"


def test_alpacas_text_is_cleaned_at_the_door_not_refused() -> None:
    """Alpaca's description is not ours to refuse: what the rule refuses becomes a space, and
    the deposit is booked."""
    row = AccountActivity.from_api(
        {
            "id": "20240603100000000::5f596936-6f23-4cef-bdf1-3806aae57dbf",
            "activity_type": "CSD",
            "date": "2024-06-03",
            "net_amount": "100",
            "description": "ACH\x00deposit\ufeff",
            "status": "executed",
        }
    )
    (event,) = events_from_activities(ACCOUNT, [row]).events
    assert event.description == "ACH deposit "


def test_a_merger_into_its_own_symbol_is_refused(settings: TableSettings) -> None:
    merger = Merger(
        event_id="m-1",
        account_id=ACCOUNT,
        effective_at=datetime(2024, 6, 3, 14, tzinfo=UTC),
        symbol="XYZ",
        new_symbol="XYZ",
        ratio_new=Decimal(2),
        ratio_old=Decimal(1),
        cash_per_share=Decimal("1.5"),
    )
    events = AccountEventRepository(settings)
    with pytest.raises(LedgerValidationError, match="into itself; record a split"):
        events.record(merger)
    assert list(events.events(ACCOUNT)) == []


def test_amend_reads_its_file_as_an_import_reads_a_line(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A byte-order mark (Excel, Notepad) that ``trades import`` takes, ``trades amend`` takes;
    a float is an exact decimal; what an import line refuses, the amend refuses."""
    ledger = TradeLedgerRepository(settings)
    ledger.record(parse_fill(fill_data(order_id="o-1")))
    amended = tmp_path / "o-1.json"
    text = json.dumps(fill_data(order_id="o-1", qty="12"), default=str).replace('"12"', "12.1")
    amended.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    code, _, err = run(
        capsys,
        "trades",
        "amend",
        str(amended),
        "--reason",
        "qty",
        "--actor",
        "ops",
        *conn(settings),
    )
    assert (code, err) == (0, "")
    assert ledger.get_trade("o-1").fill.qty == Decimal("12.1")

    repeated = tmp_path / "repeated.json"
    repeated.write_text('{"order_id": "o-1", "order_id": "o-2"}', encoding="utf-8")
    code, _, err = run(
        capsys, "trades", "amend", str(repeated), "--reason", "r", "--actor", "o", *conn(settings)
    )
    assert code == 2
    assert "repeated.json" in err
    assert "order_id" in err

    code, _, err = run(
        capsys,
        "trades",
        "amend",
        str(amended),
        "--reason",
        "r",
        "--actor",
        "o\x00",
        *conn(settings),
    )
    assert code == 2
    assert "U+0000" in err


def test_an_event_import_line_with_hostile_text_is_reported_and_the_rest_recorded(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = {
        "kind": "cash_flow",
        "event_id": "deposit-1",
        "account_id": ACCOUNT,
        "effective_at": "2024-06-01T14:00:00Z",
        "amount": "100",
    }
    bad = {**good, "event_id": "deposit-2", "description": "a\x07bell"}
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "events", "import", str(path), "--no-progress", *conn(settings))
    assert code != 0
    assert "1 recorded" in out
    assert "events.jsonl:2: event deposit-2: its description" in err
    assert "U+0007" in err
    assert [e.event_id for e in AccountEventRepository(settings).events(ACCOUNT)] == ["deposit-1"]
    assert parse_event(good).event_id == "deposit-1"
