"""Query pages: every one is sized, and the hot reads take their items as DynamoDB sent them.

``ledger_store.paging``: on moto and DynamoDB Local. The page counts come from
``DynamoMeter`` (what the client sent and the engine answered).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger_store import paging
from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill
from ledger_store.metering import DynamoMeter
from ledger_store.trades import TradeLedgerRepository
from tests.builders import ACCOUNT, T0, client, make_fill

PAGE = 7


def fills(n: int) -> list[TradeFill]:
    return [
        make_fill(
            order_id=f"page-{i:03d}",
            filled_at=T0 + timedelta(seconds=i),
            side="BUY",
            strategy_allocation={"alpha": "0.5", 'b\u00e9ta "q\\': "0.5"},
        )
        for i in range(n)
    ]


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(paging, "QUERY_PAGE_ITEMS", PAGE)
    return PAGE


def test_a_read_pages_by_the_page_size_and_follows_every_page(
    settings: TableSettings, ledger: TradeLedgerRepository, small_pages: int
) -> None:
    """Without a caller's ``Limit`` each page holds at most ``QUERY_PAGE_ITEMS`` items, and the
    read still returns the whole partition (it follows ``LastEvaluatedKey``)."""
    ledger.record_many(fills(20))
    meter = DynamoMeter.for_settings(settings)
    with meter.measure() as usage:
        served = list(ledger.attributions_by_strategy(ACCOUNT, "alpha"))
    assert [a.order_id for a in served] == [f"page-{i:03d}" for i in range(20)]
    # 20 items in pages of 7: three full-or-partial pages, and a fourth that may find the end
    assert usage.requests["Query"] in (3, 4)


def test_the_raw_read_gives_what_the_model_read_gives(
    settings: TableSettings, ledger: TradeLedgerRepository
) -> None:
    """GSI3 items parsed from DynamoDB's JSON (escaped quotes, backslashes, non-ASCII) are the
    attributions the fill's own item holds, read through PynamoDB's models."""
    batch = fills(5)
    ledger.record_many(batch)
    for strategy in ("alpha", 'b\u00e9ta "q\\'):
        served = list(ledger.attributions_by_strategy(ACCOUNT, strategy))
        stored = [
            a
            for f in batch
            for a in ledger.get_trade(f.order_id).attributions
            if a.strategy == strategy
        ]
        assert served == stored
        assert len(served) == 5


def test_raw_items_stay_within_the_read_that_asked(settings: TableSettings) -> None:
    """A raw block hands a page's items over as JSON; outside one (and after a raw read)
    botocore parses them as ever: binary values are bytes again."""
    ledger = TradeLedgerRepository(settings)
    ledger.record_many(fills(3))
    list(ledger.attributions_by_strategy(ACCOUNT, "alpha"))
    pk = "PAGING#RAW"
    raw = client(settings)
    raw.put_item(
        TableName=settings.table_name,
        Item={"PK": {"S": pk}, "SK": {"S": "B"}, "blob": {"B": b"\x00\xffbytes"}},
    )
    paging.install(raw)
    with paging.raw_items():
        page: dict[str, Any] = raw.query(
            TableName=settings.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
        )
    # a raw block hands the items over as JSON: binary as base64 text, never misread as bytes
    assert page["Items"][0]["blob"] == {"B": "AP9ieXRlcw=="}
    page = raw.query(
        TableName=settings.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    assert page["Items"][0]["blob"] == {"B": b"\x00\xffbytes"}
