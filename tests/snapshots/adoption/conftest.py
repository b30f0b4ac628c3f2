"""Fixtures of the adoption tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from ledger_store.bootstrap import create_table, delete_table
from ledger_store.config import TableSettings
from tests.conftest import new_table_name


@pytest.fixture
def other(settings: TableSettings) -> Iterator[TableSettings]:
    """A second ledger table on the same engine (the ledger that went wrong)."""
    table = dataclasses.replace(settings, table_name=new_table_name())
    create_table(table)
    yield table
    if settings.endpoint_url is not None:
        delete_table(table)
