"""``trades import`` survives any file: each bad line is ``FILE:LINE: reason``, the rest imports.

Every case puts one hostile line between good ones. The command must report that line with its
number, record every good line (also those after it), and exit 1 because some lines failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger_store.config import TableSettings
from ledger_store.trades import TradeLedgerRepository
from tests.builders import fill_data
from tests.snapshots.cli.test_cli import conn, run

HEADER = (
    "order_id,account_id,correlation_id,symbol,side,qty,price,filled_at,fees,strategy_allocation"
)


def good_json(n: int) -> bytes:
    data = fill_data(order_id=f"o-{n}", filled_at=f"2024-03-01T14:3{n}:00Z")
    return json.dumps(data, default=str).encode()


def good_csv(n: int) -> bytes:
    return f"o-{n},acct-1,cycle-1,MSFT,BUY,3,410.5,2024-03-01T15:0{n}:00Z,0,momentum=1".encode()


#: name -> (file suffix, the hostile line, what the report must say about it)
JSON_CASES: dict[str, tuple[bytes, str]] = {
    "invalid-utf8": (b'{"order_id": "caf\xe9"}', "not valid UTF-8"),
    "huge-integer": (b'{"qty": ' + b"9" * 5000 + b"}", "a number of 5,000 characters"),
    "deep-nesting": (b"[" * 30000 + b"]" * 30000, "invalid JSON"),
    "moderate-nesting": (b'{"a":' * 40 + b"1" + b"}" * 40, "nested deeper than"),
    "duplicate-key": (
        good_json(9)[:-1] + b', "qty": "99"}',
        "key 'qty' appears twice",
    ),
    "nan": (b'{"qty": NaN}', "NaN is not a number"),
    "oversized-line": (b'{"x": "' + b"y" * 70_000 + b'"}', "longer than 65,536 bytes"),
    "not-an-object": (b"[1, 2]", "expected a JSON object"),
}


def _import(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], path: Path
) -> tuple[int, str, str]:
    return run(capsys, "trades", "import", str(path), "--no-progress", *conn(settings))


def _recorded(settings: TableSettings) -> list[str]:
    ledger = TradeLedgerRepository(settings)
    return sorted(t.order_id for t in ledger.trades_by_correlation("cycle-1"))


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_a_hostile_json_line_is_reported_and_the_rest_imported(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    hostile, reason = JSON_CASES[case]
    path = tmp_path / "fills.jsonl"
    path.write_bytes(b"\n".join([good_json(1), hostile, good_json(2), good_json(3)]) + b"\n")

    code, out, err = _import(settings, capsys, path)

    assert code == 1
    assert f"{path}:2: " in err
    assert reason in err
    assert len(err.strip().splitlines()) == 1, err  # only the hostile line, nothing else
    assert "3 recorded, 0 already recorded, 1 rejected" in out
    assert _recorded(settings) == ["o-1", "o-2", "o-3"]


CSV_CASES: dict[str, tuple[bytes, str]] = {
    "invalid-utf8": (b"o-9,acct-1,cycle-1,MSFT,BUY,3,410.5,\xff,0,momentum=1", "not valid UTF-8"),
    "duplicate-strategy": (
        b"o-9,acct-1,cycle-1,MSFT,BUY,3,410.5,2024-03-01T15:09:00Z,0,a=0.5;a=0.5",
        "strategy 'a' appears twice",
    ),
    "oversized-line": (b"o-9," + b"y" * 70_000, "longer than 65,536 bytes"),
    "extra-columns": (good_csv(9) + b",surplus", "more columns than the header"),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_a_hostile_csv_line_is_reported_and_the_rest_imported(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    hostile, reason = CSV_CASES[case]
    path = tmp_path / "fills.csv"
    lines = [HEADER.encode(), good_csv(1), hostile, good_csv(2), good_csv(3)]
    path.write_bytes(b"\n".join(lines) + b"\n")

    code, out, err = _import(settings, capsys, path)

    assert code == 1
    assert f"{path}:3: " in err
    assert reason in err
    assert "3 recorded, 0 already recorded, 1 rejected" in out
    assert _recorded(settings) == ["o-1", "o-2", "o-3"]


def test_an_oversized_quoted_csv_field_spanning_lines_is_reported(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A quoted field may span lines; a record larger than a line may be is one error."""
    path = tmp_path / "fills.csv"
    field = b'"' + b"x\n" * 70_000 + b'"'
    hostile = b"o-9,acct-1,cycle-1,MSFT,BUY,3,410.5,2024-03-01T15:09:00Z,0," + field
    path.write_bytes(b"\n".join([HEADER.encode(), good_csv(1), hostile, good_csv(2)]) + b"\n")

    code, out, err = _import(settings, capsys, path)

    assert code == 1
    assert err == f"{path}:3: record longer than 65,536 characters\n"
    assert "2 recorded, 0 already recorded, 1 rejected" in out
    assert _recorded(settings) == ["o-1", "o-2"]


BOM = b"\xef\xbb\xbf"
WRITERS: dict[str, Callable[[Path], Path]] = {
    "jsonl": lambda d: _write(d / "fills.jsonl", BOM + good_json(1) + b"\n" + good_json(2)),
    "csv": lambda d: _write(
        d / "fills.csv", BOM + HEADER.encode() + b"\r\n" + good_csv(1) + b"\r\n" + good_csv(2)
    ),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_a_utf8_byte_order_mark_is_accepted(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    """Excel's "CSV UTF-8" starts with a BOM (and ends lines with CRLF)."""
    path = WRITERS[fmt](tmp_path)
    code, out, err = _import(settings, capsys, path)
    assert (code, err) == (0, "")
    assert "2 recorded" in out
    assert _recorded(settings) == ["o-1", "o-2"]


def test_an_unclosed_csv_quote_is_one_error(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "fills.csv"
    hostile = b'o-9,acct-1,cycle-1,MSFT,BUY,3,410.5,2024-03-01T15:09:00Z,0,"momentum=1'
    path.write_bytes(b"\n".join([HEADER.encode(), good_csv(1), hostile, good_csv(2)]) + b"\n")
    code, _, err = _import(settings, capsys, path)
    assert code == 1
    assert err == f"{path}:3: invalid CSV: a quoted field is never closed\n"
    assert _recorded(settings) == ["o-1"]


def test_a_csv_header_that_repeats_a_column_reads_nothing(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "fills.csv"
    path.write_bytes(HEADER.encode() + b",qty\n" + good_csv(1) + b",5\n")
    code, _, err = _import(settings, capsys, path)
    assert code == 1
    assert f"{path}:1: the header repeats qty" in err
    assert _recorded(settings) == []
