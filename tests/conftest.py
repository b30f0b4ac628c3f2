"""Engines for the suite: every ``table`` test runs on moto and on Amazon's DynamoDB Local.

DynamoDB Local is started once per session by ``scripts/dynamodb_local.py`` (or reused from
``TRADE_LEDGER_DYNAMODB_LOCAL_ENDPOINT``). Without Java/npm its tests skip with the reason;
under ``CI=true`` they fail instead, so CI can never pass while silently skipping the engine.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Iterator

import pytest
from moto import mock_aws

from ledger_store.bootstrap import create_table, delete_table
from ledger_store.config import TableSettings
from ledger_store.embedded import install_fast_transactions
from ledger_store.errors import LedgerError
from ledger_store.models import _CONNECTIONS
from ledger_store.trades import TradeLedgerRepository
from tests.builders import load_script

REGION = "us-east-1"

ENGINES = [
    pytest.param("moto", id="moto"),
    pytest.param("dynamodb_local", id="dynamodb_local", marks=pytest.mark.dynamodb_local),
]


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region; never let a test reach a real AWS account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    for name in ("TRADE_LEDGER_TABLE", "TRADE_LEDGER_STAGE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    """Endpoint of a DynamoDB Local shared by the session (started here unless given)."""
    given = os.environ.get("TRADE_LEDGER_DYNAMODB_LOCAL_ENDPOINT")
    if given:
        yield given
        return
    engine_script = load_script("dynamodb_local")
    try:
        engine = engine_script.start()
    except engine_script.EngineUnavailable as exc:
        reason = f"DynamoDB Local unavailable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the engine tests must run)")
        pytest.skip(reason)
    try:
        yield engine.endpoint_url
    finally:
        engine_script.stop(engine)


def new_table_name() -> str:
    return f"ledger-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Name of the engine the test runs on."""
    return str(request.param)


@pytest.fixture
def settings(engine: str, request: pytest.FixtureRequest) -> Iterator[TableSettings]:
    """A freshly created ledger table on the engine under test."""
    name = new_table_name()
    if engine == "moto":
        # The same moto the embedded backend uses, so its transaction shim is tested too.
        install_fast_transactions()
        with mock_aws():
            table = TableSettings(table_name=name, region=REGION)
            create_table(table)
            yield table
        _CONNECTIONS.pop(table, None)
        return
    endpoint = request.getfixturevalue("dynamodb_local_endpoint")
    table = TableSettings(table_name=name, region=REGION, endpoint_url=endpoint)
    create_table(table)
    try:
        yield table
    finally:
        delete_table(table)
        _CONNECTIONS.pop(table, None)


@pytest.fixture
def ledger(settings: TableSettings) -> TradeLedgerRepository:
    return TradeLedgerRepository(settings)


# Every library error the suite raises reads as text for a person -----------------------------

#: Python's reprs that leak into a message: an enum member, a class or object, a Decimal or a
#: datetime as Python writes them.
REPR_IN_MESSAGE = re.compile(
    r"<[A-Za-z_][\w.]*(?::| at 0x| object)|<class '|Decimal\(|datetime\.(?:datetime|date)\("
)
_ERROR_MESSAGES: list[tuple[str, str, str]] = []
_CURRENT_TEST = ["(collection)"]


def _record_message(self: LedgerError, *args: object) -> None:
    Exception.__init__(self, *args)
    _ERROR_MESSAGES.append((_CURRENT_TEST[0], type(self).__name__, str(self)))


def pytest_configure(config: pytest.Config) -> None:
    LedgerError.__init__ = _record_message  # type: ignore[method-assign]


def pytest_runtest_setup(item: pytest.Item) -> None:
    _CURRENT_TEST[0] = item.nodeid


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when any library error of any test showed a Python repr."""
    leaks = [(test, kind, m) for test, kind, m in _ERROR_MESSAGES if REPR_IN_MESSAGE.search(m)]
    if leaks:
        seen: set[tuple[str, str]] = set()
        lines = []
        for test, kind, message in leaks:
            if (kind, message) not in seen:
                seen.add((kind, message))
                lines.append(f"  {test}: {kind}: {message[:300]}")
        sys.stderr.write(
            "\nerror messages with Python reprs (write values as text):\n" + "\n".join(lines) + "\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
