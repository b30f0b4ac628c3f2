"""Every storage operation fails as ``StorageUnavailableError`` when DynamoDB cannot be reached.

Two local endpoints stand in for a broken network: one accepts a connection, reads the request
and resets it (RST); one accepts and never answers. Every repository and bootstrap operation
must raise the library's typed error naming the operation and the key, after the configured
attempts and with the configured timeouts, never a raw Python or botocore exception. Nothing
here times a call: the attempts are counted and the timeouts read from the client.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.bootstrap import add_missing_indexes, create_table, delete_table, describe_table
from ledger_store.config import TableSettings
from ledger_store.errors import StorageUnavailableError
from ledger_store.events import AccountEventRepository, CashFlow
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.records import snapshot_record
from snapshots.schema import seal
from tests.builders import ACCOUNT, CORRELATION, PERIOD_END, make_fill, snapshot_body

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 0.5
RETRIES = 1


class BrokenEndpoint:
    """A loopback TCP server that resets every connection, or never answers one."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self._server = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()
        #: Connections accepted: one per attempt of a request.
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            if self.behaviour == "reset":
                connection.settimeout(2)
                with contextlib.suppress(OSError):
                    connection.recv(65536)
                # SO_LINGER 0: close() sends RST instead of FIN.
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                connection.close()
            else:
                self._held.append(connection)  # accepted, never answered

    def close(self) -> None:
        self._stopped.set()
        self._server.close()
        for connection in self._held:
            connection.close()


@pytest.fixture(params=["reset", "silent"])
def endpoint(request: pytest.FixtureRequest) -> Iterator[BrokenEndpoint]:
    broken = BrokenEndpoint(request.param)
    try:
        yield broken
    finally:
        broken.close()


@pytest.fixture
def broken(endpoint: BrokenEndpoint) -> TableSettings:
    return TableSettings(
        table_name="alchemiser-trade-ledger-broken",
        region="us-east-1",
        endpoint_url=endpoint.url,
        connect_timeout_seconds=CONNECT_TIMEOUT,
        read_timeout_seconds=READ_TIMEOUT,
        max_retry_attempts=RETRIES,
    )


def _event() -> CashFlow:
    return CashFlow(
        event_id="e-1",
        account_id=ACCOUNT,
        effective_at=datetime(2026, 8, 3, 14, tzinfo=UTC),
        amount=Decimal(100),
    )


def _record() -> Any:
    return snapshot_record(seal(snapshot_body(), None))


Operation = Callable[[TableSettings], object]


#: (operation, text the error must name: the operation's words and its key)
def _first_error(results: list[Any]) -> Any:
    """``record_many`` hands each fill's error back in its place: raise it."""
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        raise errors[0]
    return results


OPERATIONS: list[Any] = [
    pytest.param(
        lambda s: TradeLedgerRepository(s).record(make_fill(order_id="o-1")),
        ("record", "TRADE#o-1"),
        id="record",
    ),
    pytest.param(
        lambda s: _first_error(TradeLedgerRepository(s).record_many([make_fill(order_id="o-1")])),
        ("look up 1 trades", "failed"),
        id="record_many",
    ),
    pytest.param(
        lambda s: TradeLedgerRepository(s).get_trade("o-1"),
        ("get trade", "TRADE#o-1"),
        id="get_trade",
    ),
    pytest.param(
        lambda s: list(TradeLedgerRepository(s).trades_by_correlation(CORRELATION)),
        ("correlation", f"CORR#{CORRELATION}"),
        id="trades_by_correlation",
    ),
    pytest.param(
        lambda s: list(TradeLedgerRepository(s).trades_by_symbol("AAPL")),
        ("symbol", "SYMBOL#AAPL"),
        id="trades_by_symbol",
    ),
    pytest.param(
        lambda s: list(TradeLedgerRepository(s).attributions_by_strategy(ACCOUNT, "alpha")),
        ("strategy", f"ACCOUNT#{ACCOUNT}#STRATEGY#alpha"),
        id="attributions_by_strategy",
    ),
    pytest.param(
        lambda s: TradeLedgerRepository(s).strategies(ACCOUNT),
        ("strategies", f"ACCOUNT#{ACCOUNT}"),
        id="strategies",
    ),
    pytest.param(
        lambda s: TradeLedgerRepository(s).recorded_fills(["o-1", "o-2"]),
        ("look up 2 trades", "failed"),
        id="recorded_fills",
    ),
    pytest.param(
        lambda s: AccountSnapshotRepository(s).put(_record()),
        ("snapshot", f"SNAPSHOT#{ACCOUNT}"),
        id="snapshot_put",
    ),
    pytest.param(
        lambda s: AccountSnapshotRepository(s).get(ACCOUNT, PERIOD_END),
        ("snapshot", f"SNAPSHOT#{ACCOUNT}"),
        id="snapshot_get",
    ),
    pytest.param(
        lambda s: AccountSnapshotRepository(s).latest(ACCOUNT),
        ("snapshot", f"SNAPSHOT#{ACCOUNT}"),
        id="snapshot_latest",
    ),
    pytest.param(
        lambda s: list(
            AccountSnapshotRepository(s).range(ACCOUNT, datetime(2024, 1, 1, tzinfo=UTC), None)
        ),
        ("snapshot", f"SNAPSHOT#{ACCOUNT}"),
        id="snapshot_range",
    ),
    pytest.param(
        lambda s: list(AccountSnapshotRepository(s).summaries(ACCOUNT)),
        ("list snapshots", f"SNAPSHOT#{ACCOUNT}"),
        id="snapshot_summaries",
    ),
    pytest.param(
        lambda s: list(AccountSnapshotRepository(s).verify_range(ACCOUNT)),
        ("snapshot", f"SNAPSHOT#{ACCOUNT}"),
        id="snapshot_verify_range",
    ),
    pytest.param(
        lambda s: AccountSnapshotRepository(s).by_correlation(CORRELATION),
        ("snapshot", f"CORR#{CORRELATION}"),
        id="snapshot_by_correlation",
    ),
    pytest.param(
        lambda s: TradeLedgerRepository(s).void("o-1", reason="r", actor="a"),
        ("trade", "TRADE#o-1"),
        id="void",
    ),
    pytest.param(
        lambda s: TradeLedgerRepository(s).amend(make_fill(order_id="o-1"), reason="r", actor="a"),
        ("trade", "TRADE#o-1"),
        id="amend",
    ),
    pytest.param(
        lambda s: AccountEventRepository(s).record(_event()),
        ("record event", f"ACCOUNT#{ACCOUNT}"),
        id="event_record",
    ),
    pytest.param(
        lambda s: AccountEventRepository(s).get(ACCOUNT, "e-1"),
        ("get event", "EVENTID#e-1"),
        id="event_get",
    ),
    pytest.param(
        lambda s: AccountEventRepository(s).recorded(ACCOUNT, "e-1"),
        ("get event", "EVENTID#e-1"),
        id="event_recorded",
    ),
    pytest.param(
        lambda s: AccountEventRepository(s).void(ACCOUNT, "e-1", reason="r", actor="a"),
        ("get event", "EVENTID#e-1"),
        id="event_void",
    ),
    pytest.param(
        lambda s: AccountEventRepository(s).revisions(ACCOUNT, "e-1"),
        ("event revisions", "EVENTID#e-1"),
        id="event_revisions",
    ),
    pytest.param(
        lambda s: AccountEventRepository(s).supersede(_event(), reason="r", actor="a"),
        ("event revisions", "EVENTID#e-1"),
        id="event_supersede",
    ),
    pytest.param(
        lambda s: list(AccountEventRepository(s).events(ACCOUNT)),
        ("events", f"ACCOUNT#{ACCOUNT}"),
        id="event_events",
    ),
    pytest.param(
        lambda s: list(AccountEventRepository(s).history(ACCOUNT)),
        ("events", f"ACCOUNT#{ACCOUNT}"),
        id="event_history",
    ),
    pytest.param(
        lambda s: AccountEventRepository(s).event_totals(ACCOUNT),
        ("event count", f"ACCOUNT#{ACCOUNT}"),
        id="event_event_totals",
    ),
    pytest.param(
        lambda s: AccountEventRepository(s).event_count(ACCOUNT),
        ("event count", f"ACCOUNT#{ACCOUNT}"),
        id="event_count",
    ),
    pytest.param(
        lambda s: AccountEventRepository(s).corporate_action(ACCOUNT, "NVDA", date(2026, 8, 3)),
        ("corporate action", "ACTION#NVDA#2026-08-03"),
        id="event_corporate_action",
    ),
    pytest.param(lambda s: create_table(s), ("table", "broken"), id="create_table"),
    pytest.param(lambda s: describe_table(s), ("table", "broken"), id="describe_table"),
    pytest.param(
        lambda s: add_missing_indexes(s, sleep=lambda _: None),
        ("table", "broken"),
        id="add_missing_indexes",
    ),
    pytest.param(lambda s: delete_table(s), ("table", "broken"), id="delete_table"),
]


#: Every public method of every repository, as the ids above name it.
COVERED = {
    TradeLedgerRepository: {
        "record": "record",
        "record_many": "record_many",
        "get_trade": "get_trade",
        "trades_by_correlation": "trades_by_correlation",
        "trades_by_symbol": "trades_by_symbol",
        "attributions_by_strategy": "attributions_by_strategy",
        "strategies": "strategies",
        "recorded_fills": "recorded_fills",
        "void": "void",
        "amend": "amend",
    },
    AccountEventRepository: {
        name: f"event_{name}" if name != "event_count" else name
        for name in (
            "record",
            "get",
            "recorded",
            "void",
            "revisions",
            "supersede",
            "events",
            "history",
            "event_count",
            "event_totals",
            "corporate_action",
        )
    },
    AccountSnapshotRepository: {
        name: f"snapshot_{name}"
        for name in (
            "put",
            "get",
            "latest",
            "range",
            "summaries",
            "verify_range",
            "by_correlation",
        )
    },
}


def test_every_repository_method_is_among_the_operations() -> None:
    ids = {param.id for param in OPERATIONS}
    for repository, methods in COVERED.items():
        public = {
            name
            for name, member in vars(repository).items()
            if callable(member) and not name.startswith("_")
        }
        assert public == set(methods), repository.__name__
        assert set(methods.values()) <= ids, repository.__name__


@pytest.mark.parametrize(("operation", "named"), OPERATIONS)
def test_every_operation_fails_typed_after_the_configured_attempts(
    broken: TableSettings, endpoint: BrokenEndpoint, operation: Operation, named: tuple[str, str]
) -> None:
    """Typed, named, and given up after the settings' attempts (botocore's own modes would
    try 3 to 5 times): the endpoint counts one connection per attempt."""
    with pytest.raises(StorageUnavailableError) as caught:
        operation(broken)

    message = str(caught.value)
    for word in named:
        assert word in message, message
    assert endpoint.connections == RETRIES + 1


def test_the_settings_timeouts_and_attempts_reach_the_sdk(broken: TableSettings) -> None:
    """What bounds a call's time is the client every operation shares (repositories and
    bootstrap alike): built with the settings' connect and read timeouts and attempts, not
    botocore's 60 s defaults. Checked on the client, not by timing a call."""
    from ledger_store.binding import bound
    from ledger_store.models import _CONNECTIONS, LedgerItem

    with bound(broken):
        client: Any = LedgerItem._get_connection().connection.client
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (CONNECT_TIMEOUT, READ_TIMEOUT)
    assert config.retries["total_max_attempts"] == RETRIES + 1
    _CONNECTIONS.pop(broken, None)
