"""The architecture, as the folder tree states it: which package may import which.

Dependencies point one way: faces (``cli``, ``demo``, ``handlers``) -> ``adoption`` (library
functions over the core) -> the core (the modules at the top of ``snapshots``) -> the wings
(``alpaca``, ``ledger``) -> ``ledger_store``. The report
wing renders the core's schema and is imported by faces only. Every import counts, including
those inside functions (lazy imports are still dependencies).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import ROOT

CORE = frozenset(
    f"snapshots.{name}"
    for name in (
        "schema",
        "canonical",
        "builder",
        "integrity",
        "payload",
        "records",
        "errors",
    )
)
#: What the report wing may read: the schema and what the schema is made of.
SCHEMA_PARTS = frozenset(
    {
        "snapshots.schema",
        "snapshots.canonical",
        "snapshots.errors",
        "snapshots.alpaca.models",
        "snapshots.ledger.models",
        "snapshots.ledger.fifo",
        "snapshots.ledger.lots",
    }
)
#: Third-party packages a package must never import.
FORBIDDEN_LIBRARIES = {
    "ledger_store": {"argparse", "tqdm", "reportlab", "alpaca", "pandas", "numpy", "snapshots"},
    "snapshots.report": {"alpaca", "pandas", "numpy", "argparse", "tqdm"},
    "snapshots.handlers": {"argparse", "tqdm"},
    "snapshots.adoption": {"argparse", "tqdm"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> list[str]:
    files = sorted((ROOT / "ledger_store").rglob("*.py")) + sorted(
        (ROOT / "snapshots").rglob("*.py")
    )
    return [module_name(path) for path in files]


def imports_of(module: str) -> Iterator[str]:
    """Every module ``module`` imports (absolute names), wherever the import stands."""
    path = ROOT / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            # ``from snapshots import canonical`` imports the module snapshots.canonical.
            for alias in node.names:
                yield f"{base}.{alias.name}"


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def allowed(importer: str, imported: str) -> bool:
    """The rule for a project-internal import."""
    if _within(importer, "ledger_store"):
        return _within(imported, "ledger_store")
    if _within(imported, "ledger_store") or imported == "snapshots":
        return True
    if _within(imported, "snapshots.errors"):
        return True
    for wing in ("snapshots.alpaca", "snapshots.ledger", "snapshots.fake_alpaca"):
        if _within(importer, wing):
            return _within(imported, wing)
    if importer in CORE:
        return (
            any(_within(imported, core) for core in CORE)
            or _within(imported, "snapshots.alpaca.models")
            # The pure mapping of Alpaca's activity rows to events (no alpaca-py, no I/O).
            or _within(imported, "snapshots.alpaca.activities")
            # The pure reading of Alpaca's trading history as ledger fills (adoption).
            or _within(imported, "snapshots.alpaca.fills")
            or _within(imported, "snapshots.ledger")
        )
    if _within(importer, "snapshots.report"):
        return _within(imported, "snapshots.report") or any(
            _within(imported, part) for part in SCHEMA_PARTS
        )
    if _within(importer, "snapshots.adoption"):
        # Adoption and reconciliation: library functions over the core (the first snapshot).
        return not any(
            _within(imported, face)
            for face in (
                "snapshots.cli",
                "snapshots.demo",
                "snapshots.handlers",
                "snapshots.fake_alpaca",
            )
        )
    if _within(importer, "snapshots.handlers"):
        return not any(
            _within(imported, face)
            for face in ("snapshots.cli", "snapshots.demo", "snapshots.fake_alpaca")
        )
    # cli and demo: the faces may use everything.
    return _within(importer, "snapshots.cli") or _within(importer, "snapshots.demo")


def _internal(name: str, known: set[str]) -> str | None:
    """The project module ``name`` refers to (a name imported from a module is not one)."""
    if not (_within(name, "ledger_store") or _within(name, "snapshots")):
        return None
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def test_every_import_points_the_allowed_way() -> None:
    modules = project_modules()
    known = set(modules)
    wrong = sorted(
        f"{importer} imports {target}"
        for importer in modules
        for name in imports_of(importer)
        if (target := _internal(name, known)) is not None
        and target != importer
        and not allowed(importer, target)
    )
    assert wrong == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN_LIBRARIES))
def test_packages_keep_their_libraries_out(package: str) -> None:
    forbidden = FORBIDDEN_LIBRARIES[package]
    found = sorted(
        f"{module} imports {name}"
        for module in project_modules()
        if _within(module, package)
        for name in imports_of(module)
        if name.split(".")[0] in forbidden
    )
    assert found == []


def test_the_core_is_small_and_every_wing_says_what_it_may_import() -> None:
    top = sorted(p.stem for p in (ROOT / "snapshots").glob("*.py") if p.stem != "__init__")
    assert len(top) <= 8, top
    wings = [p for p in (ROOT / "snapshots").iterdir() if (p / "__init__.py").exists()]
    assert {w.name for w in wings} >= {
        "alpaca",
        "ledger",
        "report",
        "handlers",
        "cli",
        "demo",
        "fake_alpaca",
        "adoption",
    }
    for wing in [*wings, ROOT / "snapshots", ROOT / "ledger_store"]:
        docstring = ast.get_docstring(ast.parse((wing / "__init__.py").read_text()))
        assert docstring, f"{wing.name}/__init__.py has no docstring"
        assert "\n" not in docstring, f"{wing.name}/__init__.py: one line, please"
        says = "import" in docstring.lower()
        assert says, f"{wing.name}/__init__.py does not say what it may import"
        body = ast.parse((wing / "__init__.py").read_text()).body
        assert len(body) == 1, f"{wing.name}/__init__.py re-exports or runs code"


def test_the_rules_catch_a_wrong_import() -> None:
    """The checker itself: each of these would break the layering."""
    assert not allowed("ledger_store.trades", "snapshots.schema")
    assert not allowed("snapshots.alpaca.source", "snapshots.schema")
    assert not allowed("snapshots.ledger.metrics", "snapshots.schema")
    assert not allowed("snapshots.schema", "snapshots.report.pdf")
    assert not allowed("snapshots.schema", "snapshots.alpaca.source")
    assert not allowed("snapshots.report.pdf", "snapshots.builder")
    assert not allowed("snapshots.report.pdf", "snapshots.alpaca.source")
    assert not allowed("snapshots.handlers.trading", "snapshots.cli.ledger")
    assert not allowed("snapshots.handlers.trading", "snapshots.fake_alpaca.server")
    assert not allowed("snapshots.builder", "snapshots.fake_alpaca.broker")
    assert not allowed("snapshots.alpaca.source", "snapshots.fake_alpaca.server")
    assert allowed("snapshots.cli.main", "snapshots.demo.run")
    assert allowed("snapshots.builder", "snapshots.ledger.metrics")
    assert allowed("snapshots.report.figures", "snapshots.schema")
