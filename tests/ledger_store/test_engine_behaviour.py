"""Behaviour that depends on the DynamoDB engine: paging, numbers, transactions, limits, TTL.

Every test runs on moto and on DynamoDB Local; the two differ in exactly these areas, so a
test that passes on both pins the library's behaviour rather than one emulator's quirks.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pynamodb.connection.base import Connection
from pynamodb.exceptions import TransactWriteError

from ledger_store.binding import bound
from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill, parse_fill
from ledger_store.errors import LedgerValidationError, NotFoundError
from ledger_store.models import LedgerItem, SnapshotItem
from ledger_store.storage import storage_call
from ledger_store.trades import TradeLedgerRepository, _trade_item
from tests.builders import (
    ACCOUNT,
    CORRELATION,
    at,
    fill_data,
    make_fill,
    order_ids,
    raw_item,
    raw_partition,
    raw_table,
    record_all,
    seed_fills,
)

# Paging beyond DynamoDB's 1 MB page -----------------------------------------------------------


@dataclass
class Page:
    index: str | None
    started_after: dict[str, Any] | None
    limit: int | None
    items: int
    last_evaluated_key: dict[str, Any] | None


@dataclass
class QuerySpy:
    """Every Query page PynamoDB requested, as DynamoDB answered it."""

    pages: list[Page] = field(default_factory=list)

    def reset(self) -> None:
        self.pages.clear()


@pytest.fixture
def query_spy(monkeypatch: pytest.MonkeyPatch) -> QuerySpy:
    spy = QuerySpy()
    original = Connection.query

    def query(self: Connection, *args: Any, **kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = original(self, *args, **kwargs)
        spy.pages.append(
            Page(
                index=kwargs.get("index_name"),
                started_after=kwargs.get("exclusive_start_key"),
                limit=kwargs.get("limit"),
                items=len(response.get("Items", [])),
                last_evaluated_key=response.get("LastEvaluatedKey"),
            )
        )
        return response

    monkeypatch.setattr(Connection, "query", query)
    return spy


def long_id(prefix: str) -> str:
    """A 128-character id (the maximum): bigger items, so fewer of them fill a page."""
    return prefix + "-" * (128 - len(prefix))


BIG_ACCOUNT = long_id("acct")
BIG_CORRELATION = long_id("cycle")
BIG_STRATEGY = long_id("alpha")
#: With 128-character ids a 1 MB page holds about 720 (moto) or 755 (DynamoDB Local) of these
#: trades or attributions, so 850 fills need a second page on both engines, with margin.
PAGED_FILLS = 850


def paged_fills() -> list[TradeFill]:
    return [
        make_fill(
            order_id=long_id(f"order-{i:05d}"),
            account_id=BIG_ACCOUNT,
            correlation_id=BIG_CORRELATION,
            filled_at=at(seconds=i),
            strategy_allocation={BIG_STRATEGY: "1"},
        )
        for i in range(PAGED_FILLS)
    ]


def assert_paged_through(spy: QuerySpy, index: str) -> None:
    """More than one page was read, each continuing where the previous one stopped."""
    pages = spy.pages
    assert len(pages) >= 2, f"expected several pages, got {len(pages)}"
    assert all(p.index == index and p.limit is None for p in pages)
    assert pages[0].started_after is None
    for previous, page in itertools.pairwise(pages):
        assert previous.last_evaluated_key is not None
        assert page.started_after == previous.last_evaluated_key
    assert pages[-1].last_evaluated_key is None


PAGED_READS: list[tuple[str, str, Callable[[TradeLedgerRepository], Iterator[Any]]]] = [
    ("GSI1", "correlation", lambda ledger: ledger.trades_by_correlation(BIG_CORRELATION)),
    ("GSI2", "symbol", lambda ledger: ledger.trades_by_symbol("AAPL", account_id=BIG_ACCOUNT)),
    ("GSI3", "strategy", lambda ledger: ledger.attributions_by_strategy(BIG_ACCOUNT, BIG_STRATEGY)),
]


def test_reads_follow_pages_beyond_one_megabyte(
    settings: TableSettings, ledger: TradeLedgerRepository, query_spy: QuerySpy
) -> None:
    # One seeding for the three index reads: writing the data is the slow part.
    fills = paged_fills()
    shuffled = fills[:]
    random.Random(7).shuffle(shuffled)  # the write order must not matter
    seed_fills(settings, shuffled)

    for index, name, read in PAGED_READS:
        query_spy.reset()
        stream = read(ledger)
        first = next(stream)
        # streaming: the first result needs one page, not the whole result set
        assert len(query_spy.pages) == 1, name
        results = [first, *stream]

        assert_paged_through(query_spy, index)
        assert sum(p.items for p in query_spy.pages) == len(fills), name
        assert order_ids(results) == order_ids(fills), name  # each once, in fill order
        expected = [f.attributions()[0] for f in fills] if index == "GSI3" else fills
        assert results == expected, name


# Numbers --------------------------------------------------------------------------------------

TINY_38 = "0.00000000000000000000000000000000000001"  # 38 decimal places, 1 digit
NINES_38 = "0.99999999999999999999999999999999999999"  # 38 significant digits
PRICE_16 = "1234567.123456789"  # the largest price shape a fill accepts: 7 + 9 digits
WIDE = "9000000"  # trailing zeros: must not come back as 9E+6


def test_decimals_round_trip_exactly_and_normalised(
    ledger: TradeLedgerRepository, settings: TableSettings
) -> None:
    fill = make_fill(
        qty="1.50",
        price=PRICE_16,
        fees="100",
        bid_at_fill=PRICE_16,
        ask_at_fill=WIDE,
        strategy_allocation={"alpha": TINY_38, "beta": NINES_38},
    )
    ledger.record(fill)

    stored = ledger.get_trade(fill.order_id)
    (listed,) = ledger.trades_by_correlation(CORRELATION)

    for read_back in (stored.fill, listed):
        assert read_back == fill
        assert str(read_back.qty) == "1.5"
        assert str(read_back.fees) == "100"  # not 1E+2
        assert str(read_back.price) == PRICE_16
        assert format(read_back.ask_at_fill, "f") == WIDE
        assert {k: format(v, "f") for k, v in read_back.strategy_allocation.items()} == {
            "alpha": TINY_38,
            "beta": NINES_38,
        }
    assert stored.attributions == fill.attributions()
    assert [format(a.weight, "f") for a in stored.attributions] == [TINY_38, NINES_38]
    assert [str(a.qty) for a in stored.attributions] == ["0", "1.5"]

    # What any other reader of the table sees: plain, normalised number text.
    raw = raw_item(settings, "TRADE#order-1", "METADATA")
    assert raw is not None
    assert raw["qty"] == {"N": "1.5"}
    assert raw["fees"] == {"N": "100"}
    assert raw["price"] == {"N": PRICE_16}
    assert raw["ask_at_fill"] == {"N": WIDE}
    assert raw["strategy_allocation"] == {"M": {"alpha": {"N": TINY_38}, "beta": {"N": NINES_38}}}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("price", "1234567890123456789.01234567890123456789", id="price"),
        pytest.param("ask_at_fill", "1.23456789012345678901234567890123456789", id="ask"),
        pytest.param("fees", "1234567890123456789012345678901.23456789", id="fees"),
    ],
)
def test_39_significant_digits_are_rejected_before_writing(
    settings: TableSettings, field: str, value: str
) -> None:
    with pytest.raises(LedgerValidationError, match="more than 38 significant digits"):
        parse_fill(fill_data(**{field: value}))

    # An item built around validation is still stopped by the attribute, before any request.
    item = _trade_item(make_fill())
    setattr(item, field, Decimal(value))
    with (
        pytest.raises(LedgerValidationError, match="more than 38 significant digits"),
        storage_call(settings, "save trade", item.pk),
    ):
        item.save()
    assert raw_table(settings) == []


# Transactions -------------------------------------------------------------------------------


def test_duplicate_is_a_cancelled_transaction_reported_as_already_recorded(
    ledger: TradeLedgerRepository, settings: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill = make_fill(strategy_allocation={"alpha": "0.5", "beta": "0.5"})
    ledger.record(fill)
    before = raw_table(settings)

    raised: list[BaseException] = []
    original = Connection.transact_write_items

    def transact_write_items(self: Connection, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        except BaseException as exc:
            raised.append(exc)
            raise

    monkeypatch.setattr(Connection, "transact_write_items", transact_write_items)

    assert ledger.record(fill).status == "already_recorded"

    # What the engine actually answered: the whole transaction cancelled, and only the
    # TRADE put's condition failed (1 TRADE + 2 attributions + 2 registry updates).
    (error,) = raised
    assert isinstance(error, TransactWriteError)
    assert error.cause_response_code == "TransactionCanceledException"
    reasons = [r.code if r is not None else None for r in error.cancellation_reasons]
    assert len(reasons) == 5
    assert reasons[0] == "ConditionalCheckFailed"
    assert all(code in (None, "None") for code in reasons[1:])
    assert raw_table(settings) == before


# The 400 KB item limit ------------------------------------------------------------------------


def snapshot_item(body_bytes: int) -> SnapshotItem:
    period_end = datetime(2024, 3, 1, 21, tzinfo=UTC)
    return SnapshotItem(
        f"SNAPSHOT#{ACCOUNT}",
        "SNAP#2024-03-01T21:00:00Z",
        snapshot_id="snap-1",
        snapshot_version="1",
        account_id=ACCOUNT,
        correlation_id=CORRELATION,
        period_start=period_end - timedelta(days=1),
        period_end=period_end,
        created_at=period_end,
        checksum="0" * 64,
        checksum_algorithm="sha256",
        body_size=body_bytes,
        body=random.Random(1).randbytes(body_bytes),
    )


def test_items_over_400_kb_are_rejected_as_invalid(settings: TableSettings) -> None:
    # DynamoDB's limit is 400 KB per item, attribute names included. Both engines enforce it
    # (moto from 405,000 bytes, DynamoDB Local at 409,600), so 420,000 is over on both.
    key = f"SNAPSHOT#{ACCOUNT}"
    with (
        pytest.raises(LedgerValidationError, match=r"rejected by DynamoDB.*maximum allowed size"),
        storage_call(settings, "save snapshot", key),
    ):
        snapshot_item(420_000).save()
    assert raw_partition(settings, key) == []

    # Control: the same item with a body well under the limit is stored.
    with storage_call(settings, "save snapshot", key):
        snapshot_item(390_000).save()
    (stored,) = raw_partition(settings, key)
    assert len(stored["body"]["B"]) == 390_000


# TTL: expired items are hidden by the reads -------------------------------------------------

#: Far in the real future, so no engine ever deletes these items during the test: what is
#: asserted is the read filter, never DynamoDB's (lazy) deletion.
EXPIRY = datetime(2100, 1, 1, tzinfo=UTC)


def clock(now: datetime) -> Callable[[], datetime]:
    return lambda: now


def expire(settings: TableSettings, pk: str, sk: str, when: datetime) -> None:
    """Set ``ttl`` on a stored item through the PynamoDB model."""
    with bound(settings):
        item = LedgerItem.get(pk, sk, consistent_read=True)
        item.update(actions=[LedgerItem.ttl.set(when)])


def test_expired_items_are_hidden_from_every_read(settings: TableSettings) -> None:
    expiring = make_fill(order_id="expiring", filled_at=at(seconds=1))
    kept = make_fill(order_id="kept", filled_at=at(seconds=2), strategy_allocation={"alpha": "1"})
    record_all(TradeLedgerRepository(settings), [expiring, kept])
    for sk in ("METADATA", "STRATEGY#alpha", "STRATEGY#beta"):
        expire(settings, "TRADE#expiring", sk, EXPIRY)
    # beta's registry row: only the expiring fill used beta
    expire(settings, f"ACCOUNT#{ACCOUNT}", "STRATEGY#beta", EXPIRY)

    before = TradeLedgerRepository(settings, clock=clock(EXPIRY - timedelta(seconds=1)))
    after = TradeLedgerRepository(settings, clock=clock(EXPIRY + timedelta(seconds=1)))

    # ttl still in the future: everything is returned
    assert before.get_trade("expiring").fill == expiring
    assert len(before.get_trade("expiring").attributions) == 2
    assert order_ids(before.trades_by_correlation(CORRELATION)) == ["expiring", "kept"]
    assert order_ids(before.trades_by_symbol("AAPL")) == ["expiring", "kept"]
    assert order_ids(before.trades_by_symbol("AAPL", account_id=ACCOUNT)) == ["expiring", "kept"]
    assert order_ids(before.attributions_by_strategy(ACCOUNT, "alpha")) == ["expiring", "kept"]
    assert order_ids(before.attributions_by_strategy(ACCOUNT, "beta")) == ["expiring"]
    assert [r.strategy for r in before.strategies(ACCOUNT)] == ["alpha", "beta"]

    # ttl passed: hidden from every read path; items without ttl are unaffected
    with pytest.raises(NotFoundError):
        after.get_trade("expiring")
    assert after.get_trade("kept").fill == kept
    assert order_ids(after.trades_by_correlation(CORRELATION)) == ["kept"]
    assert order_ids(after.trades_by_symbol("AAPL")) == ["kept"]
    assert order_ids(after.trades_by_symbol("AAPL", account_id=ACCOUNT)) == ["kept"]
    assert order_ids(after.attributions_by_strategy(ACCOUNT, "alpha")) == ["kept"]
    assert list(after.attributions_by_strategy(ACCOUNT, "beta")) == []
    assert [r.strategy for r in after.strategies(ACCOUNT)] == ["alpha"]

    # ...although they are all still in the table
    assert len(raw_partition(settings, "TRADE#expiring")) == 3
    assert all(
        item["ttl"] == {"N": str(int(EXPIRY.timestamp()))}
        for item in raw_partition(settings, "TRADE#expiring")
    )
