"""Non-trade activities: fetched through alpaca-py from the fake Alpaca, mapped to events.

The fake broker books account events the way Alpaca shows them (a deposit as ``CSD``, a
dividend as ``DIV``, a split as two ``SSP`` share movements, a symbol change as ``SC``, a merger
as ``MA``); the source reads them back (paged by ``page_token``) and ``events_from_activities``
turns what Alpaca's rows allow into events again.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.events import CashFlow, Dividend, Event, Split, parse_event
from snapshots.alpaca.activities import events_from_activities
from snapshots.alpaca.models import AccountActivity
from snapshots.alpaca.source import AlpacaSource, RetryPolicy
from snapshots.demo.history import DEMO_ACCOUNT_ID, generate_history
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import (
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    FakeAlpaca,
    running_fake_alpaca,
)

CYCLES = generate_history(days=10)
START = datetime(2026, 8, 3, tzinfo=UTC)
END = datetime(2026, 8, 20, tzinfo=UTC)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 8, day, hour, tzinfo=UTC)


def event(kind: str, event_id: str, when: datetime, **fields: Any) -> Event:
    return parse_event(
        {
            "kind": kind,
            "event_id": event_id,
            "account_id": DEMO_ACCOUNT_ID,
            "effective_at": when,
            **fields,
        }
    )


EVENTS = [
    event("cash_flow", "deposit", at(4), amount="49000", description="wire"),
    event(
        "dividend",
        "tlt-div",
        at(5),
        symbol="TLT",
        amount="12.34",
        per_share_amount="0.31",
        qty="40",
    ),
    event("cash_flow", "withdrawal", at(11), amount="-2500"),
    # After the last cycle (2026-08-14): the positions they reshape are final.
    event("split", "nvda-split", at(15), symbol="NVDA", ratio_new="10", ratio_old="1"),
    event("symbol_change", "gld-rename", at(16), symbol="GLD", new_symbol="GLDM"),
]


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    account = FakeAccount.from_history(CYCLES, account_id=DEMO_ACCOUNT_ID, events=EVENTS)
    with running_fake_alpaca(account) as server:
        yield server
        assert server.handler_errors == []


def source(fake: FakeAlpaca) -> AlpacaSource:
    return AlpacaSource(
        api_key=DEFAULT_KEY_ID,
        secret_key=DEFAULT_SECRET_KEY,
        base_url=fake.base_url,
        retry=RetryPolicy(max_attempts=3, base_delay=0.01, request_timeout=2, deadline=30),
        environ={},
    )


def test_alpacas_rows_read_back_as_the_events_that_made_them(fake: FakeAlpaca) -> None:
    with source(fake) as alpaca:
        activities = alpaca.fetch_activities(START, END)
    assert [a.activity_type for a in activities] == ["CSD", "DIV", "CSW", "SSP", "SSP", "SC"]

    mapped = events_from_activities(DEMO_ACCOUNT_ID, activities)

    deposit, dividend, withdrawal, split = mapped.events
    assert isinstance(deposit, CashFlow)
    assert (deposit.amount, deposit.source, deposit.effective_at) == (Decimal(49000), "CSD", at(4))
    assert isinstance(dividend, Dividend)
    assert (dividend.symbol, dividend.amount, dividend.per_share_amount, dividend.qty) == (
        "TLT",
        Decimal("12.34"),
        Decimal("0.31"),
        Decimal(40),
    )
    assert isinstance(split, Split)
    assert split.symbol == "NVDA"
    assert split.ratio_new / split.ratio_old == 10  # from the shares moved out and in
    assert isinstance(withdrawal, CashFlow)
    assert withdrawal.amount == Decimal(-2500)
    # A symbol change needs an explicit event: its rows do not say what became what.
    assert [a.activity_type for a in mapped.unmapped] == ["SC"]
    # Event ids are Alpaca's activity ids: recording them again is idempotent.
    assert {e.event_id for e in mapped.events} <= {a.id for a in activities}


def test_the_fake_account_books_the_events(fake: FakeAlpaca) -> None:
    without = FakeAccount.from_history(CYCLES, account_id=DEMO_ACCOUNT_ID)
    account = fake.account
    assert account.cash == without.cash + Decimal(49000) + Decimal("12.34") - Decimal(2500)
    positions = {p.symbol: p.qty for p in account.positions}
    before = {p.symbol: p.qty for p in without.positions}
    assert positions["NVDA"] == before["NVDA"] * 10
    assert "GLD" not in positions
    assert positions["GLDM"] == before["GLD"]


def rows(*specs: tuple[str, int, str | None]) -> list[AccountActivity]:
    """SSP rows of NVDA on one day: (id suffix, millisecond, qty)."""
    return [
        AccountActivity.from_api(
            {
                "id": f"20260806120000{ms:03d}::00000000-0000-4000-8000-{n:012d}",
                "activity_type": "SSP",
                "symbol": "NVDA",
                "qty": qty,
                "date": "2026-08-06",
            }
        )
        for n, (_, ms, qty) in enumerate(specs)
    ]


def test_split_rows_that_do_not_pair_up_are_left_for_an_explicit_event() -> None:
    reversed_and_reposted = rows(
        ("out", 1, "-40"), ("in", 2, "400"), ("back", 3, "40"), ("undo", 4, "-400")
    )
    mapped = events_from_activities(DEMO_ACCOUNT_ID, reversed_and_reposted)
    assert mapped.events == ()
    assert len(mapped.unmapped) == 4
    same = rows(("out", 1, "-40"), ("in", 2, "40"))  # a 1:1 "split" is not a split
    assert events_from_activities(DEMO_ACCOUNT_ID, same).events == ()


def test_activities_are_paged_by_page_token() -> None:
    rng = random.Random(3)
    deposits = [
        event(
            "cash_flow",
            f"d{n:03d}",
            START + timedelta(minutes=n * 37),
            amount=str(rng.randint(1, 999)),
        )
        for n in range(250)
    ]
    account = FakeAccount.from_history(CYCLES, account_id=DEMO_ACCOUNT_ID, events=deposits)
    with running_fake_alpaca(account) as fake, source(fake) as alpaca:
        activities = alpaca.fetch_activities(START, START + timedelta(days=30))
        pages = [
            r for r in fake.requests("/v2/account/activities") if r.query.get("activity_types")
        ]
    assert len(activities) == 250
    assert len(pages) == 3  # 100 + 100 + 50
    mapped = events_from_activities(DEMO_ACCOUNT_ID, activities)
    assert sum(e.amount for e in mapped.events) == sum(d.amount for d in deposits)  # type: ignore[union-attr]
