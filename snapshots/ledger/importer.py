"""Import fills from JSON Lines or CSV: every line validated and recorded on its own."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ledger_store.dto import parse_fill
from ledger_store.errors import ConflictError, LedgerValidationError
from ledger_store.trades import TradeLedgerRepository

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


def detect_format(path: Path) -> Format:
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def read_records(path: Path, fmt: Format) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield ``(line_number, record)``; a record that cannot be parsed is its error text."""
    with path.open(encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            yield from _csv_records(handle)
            return
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield number, f"invalid JSON: {exc.msg} (column {exc.colno})"
                continue
            if not isinstance(data, dict):
                yield number, "expected a JSON object"
                continue
            yield number, data


def _csv_records(handle: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """CSV with the fill's field names as header; allocation as ``name=weight;name=weight``."""
    reader = csv.DictReader(handle)
    for row in reader:
        number = reader.line_num
        record: dict[str, Any] = {k: v for k, v in row.items() if k is not None and v != ""}
        if None in row:
            yield number, "more columns than the header"
            continue
        allocation = record.get("strategy_allocation")
        if isinstance(allocation, str):
            try:
                record["strategy_allocation"] = _parse_allocation(allocation)
            except ValueError as exc:
                yield number, f"strategy_allocation: {exc}"
                continue
        yield number, record


def _parse_allocation(text: str) -> dict[str, str]:
    allocation: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, weight = part.partition("=")
        if not sep:
            raise ValueError(f"expected name=weight, got {part!r}")
        allocation[name.strip()] = weight.strip()
    return allocation


def import_fills(
    repository: TradeLedgerRepository,
    path: Path,
    *,
    fmt: Format | None = None,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Record every valid line; bad or conflicting lines are reported and write nothing."""
    report = ImportReport()
    for number, record in read_records(path, fmt or detect_format(path)):
        try:
            if isinstance(record, str):
                raise LedgerValidationError(record)
            result = repository.record(parse_fill(record))
        except (LedgerValidationError, ConflictError) as exc:
            report.problems.append(LineProblem(number, str(exc)))
        else:
            if result.created:
                report.recorded += 1
            else:
                report.already_recorded += 1
        if progress is not None:
            progress(1)
    return report


def count_lines(path: Path) -> int:
    """Number of non-empty lines (for a progress bar's total)."""
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())
