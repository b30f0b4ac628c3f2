"""Import fills or account events from JSON Lines or CSV: every line read and recorded alone."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

from ledger_store.dto import TradeFill, parse_fill, unique_keys
from ledger_store.errors import ConflictError, LedgerError, LedgerValidationError
from ledger_store.events import AccountEventRepository, parse_event
from ledger_store.trades import DEFAULT_WORKERS, TradeLedgerRepository

Format = Literal["jsonl", "csv"]


@dataclass(frozen=True)
class LineProblem:
    """A line that was not written, and why."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did: counts per outcome and every rejected line."""

    recorded: int = 0
    already_recorded: int = 0
    problems: list[LineProblem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.recorded > 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        text = (
            f"{self.recorded} recorded, {self.already_recorded} already recorded, "
            f"{len(self.problems)} rejected"
        )
        if not self.changed and self.ok:
            text += " - nothing changed"
        return text


#: Longest accepted line (a fill is a few hundred bytes; 40 strategies a few KB).
MAX_LINE_BYTES = 64 * 1024
#: Longest accepted number literal in a JSON line (38 digits with sign, point and exponent fit).
MAX_NUMBER_CHARS = 100
#: Deepest accepted JSON nesting (a fill has two levels).
MAX_JSON_DEPTH = 8
_BOM = b"\xef\xbb\xbf"


def detect_format(path: Path) -> Format:
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def read_records(path: Path, fmt: Format) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield ``(line_number, record)``; a record that cannot be read is its error text.

    Every line is read, decoded and parsed on its own, so one bad line (invalid UTF-8, an
    oversized line, a huge number, deep nesting, a repeated key) is reported and the lines
    after it are still read. A UTF-8 byte-order mark at the start (Excel's "CSV UTF-8") is
    skipped.
    """
    lines = _decoded_lines(path)
    if fmt == "csv":
        yield from _csv_records(lines)
        return
    for number, text in lines:
        if isinstance(text, _Unreadable):
            yield number, text.reason
        elif text.strip():
            yield number, _json_record(text)


class _Unreadable:
    """A physical line that could not be decoded."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _decoded_lines(path: Path) -> Iterator[tuple[int, str | _Unreadable]]:
    """``(line_number, text)`` of every physical line, each decoded as UTF-8 on its own."""
    with path.open("rb") as handle:
        number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass  # skip the remainder of the oversized line
                yield number, _Unreadable(f"line is longer than {MAX_LINE_BYTES:,} bytes")
                continue
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, _Unreadable(f"not valid UTF-8 (byte {exc.start + 1} of the line)")


def read_json_file(path: Path) -> dict[str, Any]:
    """One JSON object from a file (``trades amend``), read by the rules of an import line: at
    most ``MAX_LINE_BYTES``, UTF-8 with or without a byte-order mark, numbers as exact
    decimals, no repeated key, bounded nesting. ``LedgerValidationError`` otherwise."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_LINE_BYTES + 1)
    except OSError as exc:
        raise LedgerValidationError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > MAX_LINE_BYTES:
        raise LedgerValidationError(f"{path}: longer than {MAX_LINE_BYTES:,} bytes")
    try:
        text = raw.removeprefix(_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LedgerValidationError(f"{path}: not valid UTF-8 (byte {exc.start + 1})") from exc
    record = _json_record(text)
    if isinstance(record, str):
        raise LedgerValidationError(f"{path}: {record}")
    return record


def _json_record(text: str) -> dict[str, Any] | str:
    try:
        data = json.loads(
            text,
            object_pairs_hook=unique_keys,
            parse_int=_bounded_number,
            parse_float=_bounded_number,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    except (ValueError, RecursionError) as exc:
        return f"invalid JSON: {exc}" if str(exc) else "invalid JSON: nested too deeply"
    if not isinstance(data, dict):
        return "expected a JSON object"
    if _depth(data) > MAX_JSON_DEPTH:
        return f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels"
    return data


def _bounded_number(text: str) -> Decimal:
    """JSON numbers as exact decimals (never binary floats), refusing absurdly long ones."""
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text):,} characters (the limit is {MAX_NUMBER_CHARS})")
    return Decimal(text)


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a number")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


#: Separators a spreadsheet may export instead of commas, as a message names them.
_OTHER_SEPARATORS: Final = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


class CsvRecord(dict[str, Any]):
    """A CSV record's non-empty cells by column; ``empty``: the columns whose cell is empty
    (an empty cell is an absent field, and a required one is reported as an empty cell)."""

    empty: tuple[str, ...] = ()


def explain_empty_cells(message: str, data: dict[str, Any]) -> str:
    """``price: Field required`` -> ``price: the cell is empty`` for a CSV record whose price
    column holds nothing."""
    for name in getattr(data, "empty", ()):
        message = message.replace(f"{name}: Field required", f"{name}: the cell is empty")
    return message


def _csv_records(
    lines: Iterator[tuple[int, str | _Unreadable]],
) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """CSV with the fill's field names as header; allocation as ``name=weight;name=weight``.

    Records are cut from physical lines by quote parity (a quoted field may span lines), each
    bounded like a line, then parsed alone, so a broken record never derails the next one.
    """
    header: list[str] | None = None
    for number, row in _csv_rows(lines):
        if isinstance(row, str):
            yield number, row
            continue
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            repeated = sorted({name for name in row if row.count(name) > 1})
            if repeated:
                yield number, f"the header repeats {', '.join(repeated)}: nothing read"
                return
            separator = next((c for c in _OTHER_SEPARATORS if len(row) == 1 and c in row[0]), None)
            if separator is not None:
                yield (
                    number,
                    (
                        f"the header is one column separated by {_OTHER_SEPARATORS[separator]}: "
                        "an import reads comma-separated values (export the file with commas); "
                        "nothing read"
                    ),
                )
                return
            header = row
            continue
        if len(row) > len(header):
            yield number, "more columns than the header"
            continue
        record = CsvRecord({k: v for k, v in zip(header, row, strict=False) if v != ""})
        record.empty = tuple(k for k, v in zip(header, row, strict=False) if v.strip() == "")
        allocation = record.get("strategy_allocation")
        if isinstance(allocation, str):
            try:
                record["strategy_allocation"] = _parse_allocation(allocation)
            except ValueError as exc:
                yield number, f"strategy_allocation: {exc}"
                continue
        yield number, record


def _csv_rows(
    lines: Iterator[tuple[int, str | _Unreadable]],
) -> Iterator[tuple[int, list[str] | str]]:
    """``(first line number, cells or error)`` of every CSV record."""
    pending: list[str] = []
    first = size = quotes = 0
    broken: str | None = None
    for number, text in lines:
        if not size:
            first, broken, quotes = number, None, 0
        if isinstance(text, _Unreadable):
            if not size:
                yield number, text.reason
                continue
            broken, text = broken or f"{text.reason} (line {number})", ""
        size += len(text) or 1
        quotes += text.count('"')
        if size > MAX_LINE_BYTES and broken is None:
            broken = f"record longer than {MAX_LINE_BYTES:,} characters"
        if broken is None:
            pending.append(text)
        if quotes % 2:
            continue  # inside a quoted field: the record goes on
        record, pending, size = "".join(pending), [], 0
        if broken is not None:
            yield first, broken
            continue
        try:
            yield first, next(csv.reader(io.StringIO(record, newline="")), [])
        except csv.Error as exc:
            yield first, f"invalid CSV: {exc}"
    if size:
        yield first, broken or "invalid CSV: a quoted field is never closed"


def _parse_allocation(text: str) -> dict[str, str]:
    allocation: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, weight = part.partition("=")
        if not sep:
            raise ValueError(f"expected name=weight, got {part!r}")
        if name.strip() in allocation:
            raise ValueError(f"strategy {name.strip()!r} appears twice")
        allocation[name.strip()] = weight.strip()
    return allocation


#: Lines parsed before their fills are recorded together (bounds memory on huge files).
IMPORT_CHUNK_LINES = 2_000


def import_fills(
    repository: TradeLedgerRepository,
    path: Path,
    *,
    fmt: Format | None = None,
    progress: Callable[[int], object] | None = None,
    workers: int = DEFAULT_WORKERS,
) -> ImportReport:
    """Record every valid fill; bad or conflicting lines are reported and write nothing.

    Lines are read in chunks and their fills recorded ``workers`` at a time
    (``TradeLedgerRepository.record_many``: each fill its own idempotent transaction; a fill
    recorded before costs one batched read). Storage that fails ends the import with its
    ``StorageUnavailableError`` once the chunk in flight is done; what was recorded stays.
    """
    report = ImportReport()
    chunk: list[tuple[int, TradeFill]] = []

    def flush() -> None:
        results = repository.record_many(
            [f for _, f in chunk],
            workers=workers,
            done=None if progress is None else lambda _i, _r: progress(1),
        )
        fatal: LedgerError | None = None
        for (number, _), result in zip(chunk, results, strict=True):
            if isinstance(result, LedgerValidationError | ConflictError):
                report.problems.append(LineProblem(number, str(result)))
            elif isinstance(result, LedgerError):
                fatal = fatal or result
            elif result.created:
                report.recorded += 1
            else:
                report.already_recorded += 1
        chunk.clear()
        if fatal is not None:
            raise fatal

    for number, data in read_records(path, fmt or detect_format(path)):
        try:
            if isinstance(data, str):
                raise LedgerValidationError(data)
            chunk.append((number, parse_fill(data)))
        except LedgerValidationError as exc:
            reason = str(exc) if isinstance(data, str) else explain_empty_cells(str(exc), data)
            report.problems.append(LineProblem(number, reason))
            if progress is not None:
                progress(1)
        if len(chunk) >= IMPORT_CHUNK_LINES:
            flush()
    if chunk:
        flush()
    report.problems.sort(key=lambda p: p.line)
    return report


def import_events(
    repository: AccountEventRepository,
    path: Path,
    *,
    fmt: Format | None = None,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Record every valid account event (``ledger_store.events``), one per line, by id."""

    def record(data: dict[str, Any]) -> bool:
        return repository.record(parse_event(data)).status == "recorded"

    return import_records(path, record, fmt=fmt, progress=progress)


def import_records(
    path: Path,
    record: Callable[[dict[str, Any]], bool],
    *,
    fmt: Format | None = None,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Read every line and ``record`` it (``True``: written now, ``False``: already there).

    A line that cannot be read, is invalid or conflicts is reported and writes nothing.
    """
    report = ImportReport()
    for number, data in read_records(path, fmt or detect_format(path)):
        try:
            if isinstance(data, str):
                raise LedgerValidationError(data)
            created = record(data)
        except (LedgerValidationError, ConflictError) as exc:
            reason = str(exc) if isinstance(data, str) else explain_empty_cells(str(exc), data)
            report.problems.append(LineProblem(number, reason))
        else:
            if created:
                report.recorded += 1
            else:
                report.already_recorded += 1
        if progress is not None:
            progress(1)
    return report


def count_lines(path: Path) -> int:
    """Number of non-empty lines (for a progress bar's total; bytes, so any file counts)."""
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())
