"""The command-line reference of the documentation, written from the argument parser itself,
so that it can never drift from what ``trade-ledger`` accepts (``scripts/gen_docs.py``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from snapshots.cli.ledger import connection_options
from snapshots.cli.main import build_parser
from snapshots.cli.schema_reference import schema_reference

#: The width the usage lines are wrapped at, whatever the terminal generating them.
USAGE_COLUMNS: Final = 100

HEADER: Final = """# Command-line reference

Generated from `trade-ledger`'s argument parser by `scripts/gen_docs.py` (a test fails when it
is out of date). Every command that reads or writes the table takes the *table and endpoint*
options; every time is UTC (a date alone is its midnight UTC). Exit codes: 0 success, 1 a
failure of storage, Alpaca or integrity (or rejected lines of an import), 2 bad input or
configuration (including a missing table or missing credentials), 3 a table that differs from
the models; 141 when the reader of the output went away (`… | head`).
"""


@contextmanager
def _columns(width: int) -> Iterator[None]:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """``(name, help, parser)`` of each subcommand, in the order they were added."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            found += [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return found


def _shared() -> set[str]:
    """The destinations of the table and endpoint options every storage command shares."""
    return {a.dest for a in connection_options()._actions}


def _option_rows(
    parser: argparse.ArgumentParser, skip: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.dest in skip:
            continue
        metavar = action.metavar or action.dest.upper()
        if action.option_strings:
            value = f" {metavar}" if action.nargs != 0 else ""
            names = ", ".join(f"`{o}{value}`" for o in action.option_strings)
        else:
            names = f"`{metavar}`"
        meaning = (action.help or "").replace("|", "\\|").replace("\n", " ")
        if action.required:
            meaning = f"required; {meaning}" if meaning else "required"
        shown = action.default not in (None, False, argparse.SUPPRESS)
        if shown and action.option_strings and "default" not in meaning:
            meaning += f" (default: `{action.default}`)"
        rows.append(f"| {names} | {meaning} |")
    return rows


def _command(path: str, help_text: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    lines = [f"{'#' * level} `{path}`", ""]
    if help_text:
        lines += [help_text[0].upper() + help_text[1:] + ".", ""]
    subcommands = _subcommands(parser)
    if not subcommands:
        lines += ["```text", parser.format_usage().strip(), "```", ""]
        shared = _shared()
        rows = _option_rows(parser, shared)
        if rows:
            lines += ["| argument | meaning |", "|---|---|", *rows, ""]
        if shared <= {a.dest for a in parser._actions}:
            lines += ["With the [table and endpoint options](#table-and-endpoint-options).", ""]
    for name, sub_help, sub in subcommands:
        lines += _command(f"{path} {name}", sub_help, sub, min(level + 1, 4))
    return lines


def cli_reference() -> str:
    """The reference page: every command, its usage and its arguments, as Markdown."""
    with _columns(USAGE_COLUMNS):
        parser = build_parser()
        lines = [HEADER, "## Table and endpoint options", ""]
        lines += ["| argument | meaning |", "|---|---|", *_option_rows(connection_options()), ""]
        for name, help_text, sub in _subcommands(parser):
            lines += _command(f"trade-ledger {name}", help_text, sub, 2)
    return "\n".join(lines).rstrip() + "\n"


ERRORS_HEADER: Final = """# Errors and exit codes

Every failure of the library, the command line and the Lambda handlers is one of these typed
exceptions, all subclasses of `LedgerError`, with a message that says what to fix. Generated
from the code by `scripts/gen_docs.py`. *Exit code*: what `trade-ledger` exits with when a
command fails with it. *Retried*: a `TransientError`, which the state machines retry with
backoff (the handlers raise it as is; Step Functions matches it by name); every other error
fails the task at once.
"""


def _error_classes() -> list[type[Exception]]:
    """Every ``LedgerError`` class the library defines, by module then name."""
    import snapshots.canonical
    import snapshots.errors
    import snapshots.handlers.report
    from ledger_store.errors import LedgerError

    del snapshots  # imported for their classes
    found: list[type[Exception]] = []
    pending: list[type[Exception]] = [LedgerError]
    while pending:
        cls = pending.pop()
        if cls not in found:
            found.append(cls)
            pending += cls.__subclasses__()
    ours = [c for c in found if c.__module__.split(".")[0] in {"ledger_store", "snapshots"}]
    return sorted(ours, key=lambda c: (c is not LedgerError, c.__module__, c.__name__))


def changelog_page(changelog: str) -> str:
    """The site's changelog: ``CHANGELOG.md`` as it is (the file stays where tools look)."""
    return changelog


def errors_reference() -> str:
    """The errors page: each error, what it is, its exit code and whether it is retried."""
    from ledger_store.errors import LedgerError, TransientError
    from snapshots.cli.main import exit_code_of

    lines = [ERRORS_HEADER, "| error | module | is a | exit code | retried | meaning |"]
    lines.append("|---|---|---|---|---|---|")
    for cls in _error_classes():
        bases = ", ".join(f"`{b.__name__}`" for b in cls.__bases__ if b is not Exception)
        doc = " ".join((cls.__doc__ or "").split()).replace("``", "`").replace("|", "\\|")
        code = exit_code_of(cls) if issubclass(cls, LedgerError) else 1
        retried = "yes" if issubclass(cls, TransientError) else "no"
        lines.append(
            f"| `{cls.__name__}` | `{cls.__module__}` | {bases or '`Exception`'} | {code} | "
            f"{retried} | {doc} |"
        )
    return "\n".join(lines) + "\n"


__all__ = ["GENERATED", "changelog_page", "cli_reference", "errors_reference", "generated_pages"]


#: The documentation pages written from the code, by path under ``docs/``.
GENERATED: Final = ("cli-reference.md", "errors.md", "schema.md", "changelog.md")


def generated_pages(root: Path) -> dict[str, str]:
    """Every generated page of the documentation of the tree at ``root``, by name."""
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    return {
        "cli-reference.md": cli_reference(),
        "errors.md": errors_reference(),
        "schema.md": schema_reference(),
        "changelog.md": changelog_page(changelog),
    }
