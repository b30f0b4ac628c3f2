"""The documentation site's pages, in the order of its navigation (``mkdocs.yml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _walk(entries: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _walk(value) if isinstance(value, list) else [value]
    return pages


def nav_pages() -> list[str]:
    """Every page the site's navigation lists, in order (paths under ``docs/``)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return _walk(config["nav"])


def docs_text() -> str:
    """All the pages, in navigation order, as one text."""
    return "\n".join((DOCS / page).read_text(encoding="utf-8") for page in nav_pages())
