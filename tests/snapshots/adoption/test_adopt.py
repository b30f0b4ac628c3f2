"""Adopting an Alpaca account: its history recorded once, attributed by rules, checked by a
first snapshot; a re-run changes nothing; another account's keys write nothing."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger_store.accounts import AccountBindingRepository
from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill
from ledger_store.errors import AccountMismatchError
from ledger_store.events import AccountEventRepository
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.adoption.adopt import Adoption, adopt_account, fill_of
from snapshots.alpaca.fills import DoneOrder, done_orders
from snapshots.alpaca.source import AlpacaSource, RetryPolicy
from snapshots.demo.history import DEMO_ACCOUNT_ID, all_fills, demo_history
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import (
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    FakeAlpaca,
    running_fake_alpaca,
)
from snapshots.ledger.rules import AttributionRules, parse_rules
from tests.builders import raw_partition

DEMO = demo_history(days=30)
FILLS = all_fills(DEMO.cycles)
FAST = RetryPolicy(max_attempts=2, base_delay=0, max_delay=0, request_timeout=5, deadline=30)
#: The bots named their orders after their strategies; a rule per name.
PREFIXES = {
    "dividend_carry": "div-",
    "mean_reversion": "mr-",
    "momentum": "mom-",
    "trend_following": "trend-",
    "options_income": "opt-",
    "crypto": "coin-",
}
RULES = parse_rules(
    "\n".join(
        f'[[rule]]\nname = "{name}"\nclient_order_id_prefix = "{prefix}"\nstrategy = "{name}"\n'
        for name, prefix in PREFIXES.items()
    )
)


def client_order_id(fill: TradeFill) -> str:
    """The first strategy's prefix, or none for a fill the bot shared between strategies."""
    if len(fill.strategy_allocation) > 1:
        return f"shared-{fill.order_id[:8]}"
    (strategy,) = fill.strategy_allocation
    return f"{PREFIXES[strategy]}{fill.order_id[:8]}"


def account(**options: object) -> FakeAccount:
    return FakeAccount.from_history(
        DEMO.cycles,
        events=DEMO.events_until(DEMO.cycles[-1].end),
        client_order_id=client_order_id,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(account()) as server:
        yield server
        assert server.handler_errors == []


def source(fake: FakeAlpaca) -> AlpacaSource:
    """A source reading the fake with short retries (shared by the adoption tests)."""
    return AlpacaSource(
        api_key=DEFAULT_KEY_ID,
        secret_key=DEFAULT_SECRET_KEY,
        base_url=fake.base_url,
        data_url=fake.base_url,  # the demo's ETH/BTC fill is priced from the fake's BTC bars
        retry=FAST,
        sleep=lambda _: None,
        environ={},
    )


def adopt(
    settings: TableSettings, fake: FakeAlpaca, *, rules: AttributionRules = RULES, **options: object
) -> Adoption:
    with source(fake) as alpaca:
        return adopt_account(
            account_id=DEMO_ACCOUNT_ID,
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            events=AccountEventRepository(settings),
            store=AccountSnapshotRepository(settings),
            rules=rules,
            **options,  # type: ignore[arg-type]
        )


def test_an_account_s_history_is_adopted_and_its_first_snapshot_passes_every_check(
    settings: TableSettings, fake: FakeAlpaca
) -> None:
    seen: Counter[str] = Counter()
    adoption = adopt(settings, fake, progress=lambda stage, done, total: seen.update([stage]))

    # Every order Alpaca filled is one ledger fill, with Alpaca's figures, however many
    # executions it took.
    assert adoption.executions > adoption.fills == len(FILLS)
    assert sorted(adoption.recorded) == sorted(f.order_id for f in FILLS)
    assert (adoption.already_recorded, adoption.not_recorded, adoption.problems) == ((), (), ())
    ledger = TradeLedgerRepository(settings)
    for fill in FILLS:
        stored = ledger.get_trade(fill.order_id).fill
        assert (stored.symbol, stored.side, stored.qty, stored.price, stored.filled_at) == (
            fill.symbol,
            fill.side,
            fill.qty,
            fill.price,
            fill.filled_at,
        )
        assert stored.correlation_id == f"alpaca-{fill.filled_at:%Y-%m-%d}"
        assert stored.fees == 0  # Alpaca's fees are its FEE/CFEE activities
        if len(fill.strategy_allocation) == 1:
            assert stored.strategy_allocation == fill.strategy_allocation
        else:
            assert stored.strategy_allocation == {"unattributed": Decimal(1)}

    # The rules' table: every rule, the default last, and what each took.
    single = Counter(
        next(iter(f.strategy_allocation)) for f in FILLS if len(f.strategy_allocation) == 1
    )
    assert adoption.by_rule == {
        **{name: single[name] for name in PREFIXES},
        "default (unattributed)": sum(len(f.strategy_allocation) > 1 for f in FILLS),
    }
    # The events of the range: the deposit, the split, the dividend, the option events.
    assert len(adoption.events.recorded) >= len(DEMO.events)
    assert adoption.events.unmapped == ()

    # The first snapshot covers the whole range, read from the whole ledger; all checks pass.
    assert adoption.snapshot is not None
    assert adoption.snapshot.status == "created"
    snapshot = adoption.snapshot.snapshot
    assert snapshot.period_start == adoption.period_start
    assert {c.name: c.status for c in snapshot.integrity_checks} == {
        c.name: "pass" for c in snapshot.integrity_checks
    }
    assert adoption.snapshot.ledger_read is not None
    assert adoption.snapshot.ledger_read.path == "full"
    assert seen["reading"] > 0
    assert seen["recording"] == len(FILLS) + 1
    assert adoption.changed


def test_a_re_run_changes_nothing_and_says_so(settings: TableSettings, fake: FakeAlpaca) -> None:
    first = adopt(settings, fake)
    before = raw_partition(settings, f"ACCOUNT#{DEMO_ACCOUNT_ID}")
    again = adopt(settings, fake, period_start=first.period_start, period_end=first.period_end)
    assert again.recorded == ()
    assert sorted(again.already_recorded) == sorted(first.recorded)
    assert again.events.recorded == ()
    assert again.snapshot is None
    assert again.first_snapshot_skipped is not None
    assert "has snapshots already" in again.first_snapshot_skipped
    assert not again.changed
    assert raw_partition(settings, f"ACCOUNT#{DEMO_ACCOUNT_ID}") == before


def test_an_interrupted_adoption_resumes_where_it_stopped(
    settings: TableSettings, fake: FakeAlpaca
) -> None:
    """The first run stopped after a third of the fills: the next records only the rest."""
    ledger = TradeLedgerRepository(settings)
    orders = done_orders_of(fake)
    done_before = [
        fill_of(order, DEMO_ACCOUNT_ID, RULES)[1] for order in orders[: len(orders) // 3]
    ]
    ledger.record_many(done_before)
    adoption = adopt(settings, fake)
    assert sorted(adoption.already_recorded) == sorted(f.order_id for f in done_before)
    assert len(adoption.recorded) == len(FILLS) - len(done_before)
    assert adoption.snapshot is not None
    assert all(c.status == "pass" for c in adoption.snapshot.snapshot.integrity_checks)


def done_orders_of(fake: FakeAlpaca) -> list[DoneOrder]:
    with source(fake) as alpaca:
        start = datetime(2024, 1, 1, tzinfo=UTC)
        history = alpaca.fetch_trading_history(start, datetime.now(UTC))
    return list(done_orders(history).done)


def test_another_account_s_keys_are_refused_before_anything_is_written(
    settings: TableSettings, fake: FakeAlpaca
) -> None:
    AccountBindingRepository(settings).bind(
        DEMO_ACCOUNT_ID, "0d1f3a52-7b36-4c88-9e0f-0123456789ab", "PA3OTHER0001"
    )
    before = raw_partition(settings, f"ACCOUNT#{DEMO_ACCOUNT_ID}")
    with pytest.raises(AccountMismatchError):
        adopt(settings, fake)
    assert raw_partition(settings, f"ACCOUNT#{DEMO_ACCOUNT_ID}") == before
    assert raw_partition(settings, f"SNAPSHOT#{DEMO_ACCOUNT_ID}") == []


def test_an_order_still_filling_is_set_apart_until_alpaca_is_done_with_it(
    settings: TableSettings,
) -> None:
    """The last order filled in pieces has filled in part and may fill further: it is not
    recorded, and reported."""
    full = account()
    pieces = Counter(str(row.fields["order_id"]) for row in full.fill_activities)
    last = max((o for o in full.orders if pieces[o.id] > 1), key=lambda o: (o.filled_at, o.id))
    rows = sorted(
        (r for r in full.fill_activities if r.fields["order_id"] == last.id),
        key=lambda r: r.created_ns,
    )
    filling = dataclasses.replace(
        last,
        status="partially_filled",
        filled_at=None,
        filled_qty=Decimal(str(rows[-2].fields["cum_qty"])),
    )
    shown = dataclasses.replace(
        full,
        orders=tuple(filling if o.id == last.id else o for o in full.orders),
        fill_activities=tuple(r for r in full.fill_activities if r is not rows[-1]),
    )
    with running_fake_alpaca(shown) as server:
        adoption = adopt(settings, server, first_snapshot=False)
    assert [o.order_id for o in adoption.open_orders] == [last.id]
    assert adoption.open_orders[0].filled_qty == filling.filled_qty
    assert last.id not in adoption.recorded
    assert len(adoption.recorded) == len(FILLS) - 1


def test_the_history_starts_when_the_account_was_created(
    settings: TableSettings, fake: FakeAlpaca
) -> None:
    adoption = adopt(settings, fake, first_snapshot=False)
    assert adoption.period_start == account().created_at.replace(microsecond=0)
    assert datetime.now(UTC) - adoption.period_end < timedelta(minutes=5)
