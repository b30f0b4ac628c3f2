"""The accounting of real accounts, end to end: fake Alpaca (real TradingClient) + ledger.

Each scenario books fills and account events at the fake broker (which shows them as Alpaca
does: orders, positions with their FIFO cost, ``SSP``/``DIV``/``CSD``/``CSW`` activities),
records the bot's fills in the ledger, takes the period's snapshot with the snapshot job and
reads it back from the store. The expected figures are computed by hand in the comments, to
the cent; every integrity check must pass (the ledger agrees with the broker after the
events). Runs on moto and DynamoDB Local.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import groupby

from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill, parse_fill
from ledger_store.events import AccountEventRepository, CashFlow, Dividend, Event, Split
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.alpaca.source import AlpacaSource, RetryPolicy
from snapshots.builder import build_snapshot, take_snapshot
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca
from snapshots.ledger.models import StrategyLedger
from snapshots.records import snapshot_from_record
from snapshots.schema import AccountSnapshotV12, CheckStatus

ACCOUNT = "3c9e5a71-2b4d-4f08-9a6e-1d7c8b2f4e50"
#: Monday 14 September 2026 to Friday 18 September: the period is the week.
MONDAY = date(2026, 9, 14)
PERIOD_START = datetime(2026, 9, 14, tzinfo=UTC)
PERIOD_END = datetime(2026, 9, 19, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
FAST = RetryPolicy(max_attempts=2, base_delay=0, max_delay=0, request_timeout=5, deadline=30)

Corrections = Callable[[TradeLedgerRepository], None]


def at(day: int, hour: int = 15, minute: int = 0) -> datetime:
    """Day ``day`` of the week (0 = Monday, negative: before the period) at ``hour:minute``."""
    moment = datetime(MONDAY.year, MONDAY.month, MONDAY.day, hour, minute, tzinfo=UTC)
    return moment + timedelta(days=day)


def oid(name: str) -> str:
    """Alpaca's order ids are UUIDs: a stable one per scenario name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:trade-ledger:test-order:{name}"))


def fill(
    name: str,
    side: str,
    qty: str,
    price: str,
    when: datetime,
    *,
    symbol: str,
    allocation: dict[str, str],
    fees: str = "0",
) -> TradeFill:
    return parse_fill(
        {
            "order_id": oid(name),
            "account_id": ACCOUNT,
            "correlation_id": f"cycle-{when.date().isoformat()}",
            "symbol": symbol,
            "side": side,
            "qty": qty,
            "price": price,
            "filled_at": when,
            "order_type": "market",
            "fees": fees,
            "strategy_allocation": allocation,
        }
    )


def cycles_of(fills: Sequence[TradeFill]) -> list[TradingCycle]:
    """One trading cycle a day, as the bot runs."""
    ordered = sorted(fills, key=lambda f: f.filled_at)
    cycles = []
    for day, group in groupby(ordered, key=lambda f: f.filled_at.date()):
        start = datetime(day.year, day.month, day.day, 13, 30, tzinfo=UTC)
        cycles.append(
            TradingCycle(
                correlation_id=f"cycle-{day.isoformat()}",
                start=start,
                end=start + timedelta(hours=7, minutes=30),
                fills=tuple(group),
            )
        )
    return cycles


def snapshot_of(
    settings: TableSettings,
    broker_fills: Sequence[TradeFill],
    events: Sequence[Event] = (),
    *,
    ledger_fills: Sequence[TradeFill] | None = None,
    corrections: Corrections | None = None,
) -> AccountSnapshotV12:
    """The stored snapshot of the week, after the broker booked ``broker_fills`` and ``events``
    and the ledger recorded ``ledger_fills`` (default: the same fills) and ``corrections``."""
    ledger = TradeLedgerRepository(settings)
    for f in broker_fills if ledger_fills is None else ledger_fills:
        assert ledger.record(f).status == "recorded"
    if corrections is not None:
        corrections(ledger)
    account = FakeAccount.from_history(
        cycles_of(broker_fills), account_id=ACCOUNT, events=events, include_unfilled=False
    )
    store = AccountSnapshotRepository(settings, clock=lambda: NOW)
    with (
        running_fake_alpaca(account) as fake,
        AlpacaSource(
            api_key=DEFAULT_KEY_ID,
            secret_key=DEFAULT_SECRET_KEY,
            base_url=fake.base_url,
            retry=FAST,
            sleep=lambda _: None,
            environ={},
        ) as alpaca,
    ):
        outcome = take_snapshot(
            account_id=ACCOUNT,
            period_start=PERIOD_START,
            period_end=PERIOD_END,
            correlation_id="cycle-2026-09-18",
            alpaca=alpaca,
            ledger=ledger,
            store=store,
            hmac_key=None,
            clock=lambda: NOW,
        )
        assert fake.handler_errors == []
    assert outcome.status == "created"
    stored = snapshot_from_record(store.get(ACCOUNT, PERIOD_END).record, None)
    assert isinstance(stored, AccountSnapshotV12)
    assert stored == outcome.snapshot
    failing = {c.name: c.message for c in stored.integrity_checks if c.status != CheckStatus.PASS}
    assert failing == {}
    return stored


def strategy(snapshot: AccountSnapshotV12, name: str) -> StrategyLedger:
    return snapshot.internal_ledger.strategy_performance[name]


def lots(p: StrategyLedger) -> list[tuple[str, str, Decimal, Decimal]]:
    return [(lot.symbol, lot.side, lot.qty, lot.price) for lot in p.open_lots]


def position(snapshot: AccountSnapshotV12, symbol: str) -> tuple[Decimal, Decimal | None]:
    (p,) = (p for p in snapshot.alpaca_positions if p.symbol == symbol)
    return p.qty, p.cost_basis


# A strategy that shorts and covers in parts --------------------------------------------------


def test_a_short_covered_in_parts_then_flipped_long(settings: TableSettings) -> None:
    bear = {"bear": "1"}
    fills = [
        # Mon: sell 100 with nothing held: a short lot of 100 at 50.00 (fee 0.10).
        fill("s-1", "SELL", "100", "50.00", at(0), symbol="XYZ", allocation=bear, fees="0.10"),
        # Tue: buy 40 at 48.00 covers 40 of it: (50.00 - 48.00) x 40 = +80.00.
        fill("s-2", "BUY", "40", "48.00", at(1), symbol="XYZ", allocation=bear),
        # Wed: buy 90 at 51.50 covers the other 60: (50.00 - 51.50) x 60 = -90.00, and opens a
        # long lot of 30 at 51.50.
        fill("s-3", "BUY", "90", "51.50", at(2), symbol="XYZ", allocation=bear),
        # Thu: buy 10 at 53.00: a second long lot; Alpaca marks XYZ at 53.00.
        fill("s-4", "BUY", "10", "53.00", at(3), symbol="XYZ", allocation=bear),
    ]
    snapshot = snapshot_of(settings, fills)
    p = strategy(snapshot, "bear")

    assert [(m.side, m.qty, m.realized_pnl) for m in p.period_round_trips] == [
        ("short", Decimal(40), Decimal(80)),
        ("short", Decimal(60), Decimal(-90)),
    ]
    assert p.realized_pnl == Decimal("-10.00")  # 80 - 90
    assert p.fees == Decimal("0.10")
    assert p.net_realized_pnl == Decimal("-10.10")
    assert lots(p) == [
        ("XYZ", "long", Decimal(30), Decimal("51.50")),
        ("XYZ", "long", Decimal(10), Decimal("53.00")),
    ]
    assert p.unrealized_pnl == Decimal("45.00")  # 30 x (53.00 - 51.50) + 10 x 0
    assert p.total_pnl == Decimal("34.90")  # -10.10 + 45.00
    # Cash, not profit: sells 5,000.00 - buys (1,920.00 + 4,635.00 + 530.00).
    assert (p.total_sell_value, p.total_buy_value) == (Decimal(5000), Decimal(7085))
    assert p.net_cash_flow == Decimal(-2085)
    assert (p.total_trades, p.buy_trades, p.sell_trades, p.round_trips) == (4, 3, 1, 2)
    # Alpaca agrees: 40 long, cost 30 x 51.50 + 10 x 53.00 = 2,075.00.
    assert position(snapshot, "XYZ") == (Decimal(40), Decimal(2075))


def test_a_short_still_open_is_marked_at_alpacas_price(settings: TableSettings) -> None:
    bear = {"bear": "1"}
    fills = [
        fill("o-1", "SELL", "25", "80.00", at(0), symbol="XYZ", allocation=bear),
        # A partial cover at 76.00: (80.00 - 76.00) x 10 = +40.00; 15 stay short at 80.00.
        fill("o-2", "BUY", "10", "76.00", at(2), symbol="XYZ", allocation=bear),
    ]
    snapshot = snapshot_of(settings, fills)
    p = strategy(snapshot, "bear")
    assert p.realized_pnl == Decimal(40)
    assert lots(p) == [("XYZ", "short", Decimal(15), Decimal("80.00"))]
    # Marked at 76.00 (the last fill): a short gains when the price falls: 15 x 4.00.
    assert p.unrealized_pnl == Decimal(60)
    assert p.total_pnl == Decimal(100)
    assert position(snapshot, "XYZ") == (Decimal(-15), Decimal(-1200))


# A position held through a 10:1 split, then sold ----------------------------------------------


def test_a_position_held_through_a_ten_for_one_split_then_sold(settings: TableSettings) -> None:
    growth = {"growth": "1"}
    fills = [
        # Fri before the period: 12 at 600.00, cost 7,200.00.
        fill("g-1", "BUY", "12", "600.00", at(-3), symbol="ABC", allocation=growth),
        # Wed, after the split: 120 shares at 60.00 (cost still 7,200.00). Sell 50 at 61.00:
        # (61.00 - 60.00) x 50 = +50.00.
        fill("g-2", "SELL", "50", "61.00", at(2), symbol="ABC", allocation=growth),
        # Thu: sell 50 at 59.50: (59.50 - 60.00) x 50 = -25.00; 20 left at 60.00.
        fill("g-3", "SELL", "50", "59.50", at(3), symbol="ABC", allocation=growth),
    ]
    split = Split(
        event_id="split-abc",
        account_id=ACCOUNT,
        effective_at=at(1, 8),  # Tue before the open
        symbol="ABC",
        ratio_new=Decimal(10),
        ratio_old=Decimal(1),
    )
    snapshot = snapshot_of(settings, fills, [split])
    p = strategy(snapshot, "growth")
    ledger = snapshot.internal_ledger

    # Alpaca's rows (12 out, 120 in) became a 10:1 split in the ledger, recorded by the job.
    assert [a.activity_type for a in snapshot.alpaca_activities] == ["SSP", "SSP"]
    (action,) = ledger.corporate_actions
    assert (action.kind, action.symbol, action.ratio_new, action.ratio_old) == (  # type: ignore[union-attr]
        "split",
        "ABC",
        Decimal(10),
        Decimal(1),
    )
    incoming = next(a for a in snapshot.alpaca_activities if a.qty and a.qty > 0)
    assert (incoming.qty, action.event_id) == (Decimal(120), incoming.id)  # recorded by its id
    assert p.realized_pnl == Decimal("25.00")  # 50 - 25
    assert p.period.realized_pnl == Decimal("25.00")
    assert lots(p) == [("ABC", "long", Decimal(20), Decimal(60))]
    # Marked at 59.50: 20 x (59.50 - 60.00) = -10.00.
    assert p.unrealized_pnl == Decimal("-10.00")
    assert p.total_pnl == Decimal("15.00")
    assert position(snapshot, "ABC") == (Decimal(20), Decimal(1200))


# A dividend on a position held by two strategies -----------------------------------------------


def test_a_dividend_is_shared_by_the_strategies_holding_the_shares(
    settings: TableSettings,
) -> None:
    fills = [
        fill("d-1", "BUY", "1", "60.00", at(0), symbol="KO", allocation={"income": "1"}),
        fill("d-2", "BUY", "2", "60.00", at(0, 16), symbol="KO", allocation={"value": "1"}),
        # After the dividend: income sells its share (realises 0), keeping its dividend.
        fill("d-3", "SELL", "1", "60.00", at(3), symbol="KO", allocation={"income": "1"}),
    ]
    dividend = Dividend(
        event_id="div-ko",
        account_id=ACCOUNT,
        effective_at=at(2, 12),  # Wed noon: income holds 1 share, value 2
        symbol="KO",
        amount=Decimal("1.00"),
        qty=Decimal(3),
    )
    snapshot = snapshot_of(settings, fills, [dividend])

    # 1.00 pro rata to 1 and 2 shares: 0.333333333|3 and 0.666666666|6 at 9 places; the one
    # unit left goes to the larger remainder (value): 0.333333333 + 0.666666667 = 1.
    assert strategy(snapshot, "income").dividends == Decimal("0.333333333")
    assert strategy(snapshot, "value").dividends == Decimal("0.666666667")
    assert strategy(snapshot, "income").net_realized_pnl == Decimal("0.333333333")
    assert strategy(snapshot, "value").period.dividends == Decimal("0.666666667")
    assert [d.amount for d in snapshot.internal_ledger.dividends] == [Decimal("1.00")]
    assert snapshot.internal_ledger.unattributed_dividends == ()
    # Dividends are income, never capital: no cash flow.
    assert snapshot.internal_ledger.net_deposits == 0


# Deposits and withdrawals --------------------------------------------------------------------


def test_deposits_and_withdrawals_are_capital_not_profit(settings: TableSettings) -> None:
    fills = [
        fill("c-1", "BUY", "10", "100.00", at(0), symbol="SPY", allocation={"core": "1"}),
        fill("c-2", "SELL", "10", "101.00", at(3), symbol="SPY", allocation={"core": "1"}),
    ]
    events: list[Event] = [
        # Before the period: the account was funded with 50,000.00.
        CashFlow(event_id="fund", account_id=ACCOUNT, effective_at=at(-10), amount=Decimal(50_000)),
        # Mid-period: +10,000.00 on Tuesday, -2,500.00 on Thursday morning.
        CashFlow(
            event_id="top-up", account_id=ACCOUNT, effective_at=at(1, 13), amount=Decimal(10_000)
        ),
        CashFlow(
            event_id="payout", account_id=ACCOUNT, effective_at=at(3, 9), amount=Decimal(-2_500)
        ),
    ]
    snapshot = snapshot_of(settings, fills, events)
    ledger = snapshot.internal_ledger

    assert [(c.amount, c.source) for c in ledger.cash_flows] == [
        (Decimal(10_000), "CSD"),
        (Decimal(-2_500), "CSW"),
    ]
    assert ledger.net_deposits == Decimal(7_500)
    # The deposit before the period was recorded by an earlier run (or a file); the job only
    # records the period's activities, so the cumulative figure counts what the ledger holds.
    assert ledger.net_deposits_cumulative == Decimal(7_500)
    core = strategy(snapshot, "core")
    assert (core.realized_pnl, core.total_pnl) == (Decimal(10), Decimal(10))  # 10 x 1.00


def test_cumulative_net_deposits_count_every_recorded_cash_flow(settings: TableSettings) -> None:
    AccountEventRepository(settings).record(
        CashFlow(event_id="fund", account_id=ACCOUNT, effective_at=at(-10), amount=Decimal(50_000))
    )
    fills = [fill("c-1", "BUY", "10", "100.00", at(0), symbol="SPY", allocation={"core": "1"})]
    top_up = CashFlow(
        event_id="top-up", account_id=ACCOUNT, effective_at=at(1, 13), amount=Decimal(10_000)
    )
    snapshot = snapshot_of(settings, fills, [top_up])
    assert snapshot.internal_ledger.net_deposits == Decimal(10_000)
    assert snapshot.internal_ledger.net_deposits_cumulative == Decimal(60_000)
    assert strategy(snapshot, "core").total_pnl == 0


# A voided fill and an amended fill ------------------------------------------------------------


def test_a_voided_and_an_amended_fill_agree_with_the_broker(settings: TableSettings) -> None:
    swing = {"swing": "1"}
    broker = [
        fill("v-1", "BUY", "10", "480.00", at(0), symbol="QQQ", allocation=swing),
        fill("v-2", "SELL", "10", "490.00", at(2), symbol="QQQ", allocation=swing),
    ]
    # The bot recorded a phantom duplicate and a typo'd price.
    phantom = fill("v-1-dup", "BUY", "10", "480.00", at(0, 15, 1), symbol="QQQ", allocation=swing)
    typo = fill("v-2", "SELL", "10", "409.00", at(2), symbol="QQQ", allocation=swing)

    def correct(ledger: TradeLedgerRepository) -> None:
        assert (
            ledger.void(oid("v-1-dup"), reason="duplicate of v-1", actor="ops").status == "voided"
        )
        result = ledger.amend(broker[1], reason="price typo: 490.00", actor="ops")
        assert result.status == "amended"

    snapshot = snapshot_of(
        settings, broker, ledger_fills=[broker[0], phantom, typo], corrections=correct
    )
    p = strategy(snapshot, "swing")
    # Only the broker's fills count, at the amended price: (490.00 - 480.00) x 10 = +100.00.
    assert p.realized_pnl == Decimal(100)
    assert (p.total_trades, p.round_trips, lots(p)) == (2, 1, [])
    assert snapshot.internal_ledger.total_trades == 2
    # Three recordings, a void and an amend: the registry revision counts every change.
    assert p.revision == 5
    # The originals stay readable with their history.
    ledger = TradeLedgerRepository(settings)
    assert ledger.get_trade(oid("v-1-dup")).status == "voided"
    amended = ledger.get_trade(oid("v-2"))
    assert amended.fill.price == Decimal(490)
    assert [(c.kind, c.actor) for c in amended.corrections] == [("amend", "ops")]
    assert amended.corrections[0].previous.price == Decimal(409)


# Explicit events beside Alpaca's rows, and voided ones ----------------------------------------


def test_an_explicit_split_supersedes_the_one_alpacas_rows_describe(
    settings: TableSettings,
) -> None:
    """The trader imported the split ahead of the job: it is applied once, not twice."""
    growth = {"growth": "1"}
    fills = [
        fill("x-1", "BUY", "12", "600.00", at(-3), symbol="ABC", allocation=growth),
        fill("x-2", "SELL", "20", "61.00", at(2), symbol="ABC", allocation=growth),
    ]
    split = Split(
        event_id="split-abc",
        account_id=ACCOUNT,
        effective_at=at(1, 8),
        symbol="ABC",
        ratio_new=Decimal(10),
        ratio_old=Decimal(1),
    )
    explicit = split.model_copy(update={"event_id": "abc-split-from-a-file"})
    AccountEventRepository(settings).record(explicit)
    snapshot = snapshot_of(settings, fills, [split])  # every check passes
    assert [a.event_id for a in snapshot.internal_ledger.corporate_actions] == [
        "abc-split-from-a-file"
    ]
    assert lots(strategy(snapshot, "growth")) == [("ABC", "long", Decimal(100), Decimal(60))]


def test_an_activity_whose_event_was_voided_warns_instead_of_failing(
    settings: TableSettings,
) -> None:
    fills = [fill("w-1", "BUY", "10", "100.00", at(0), symbol="SPY", allocation={"core": "1"})]
    deposit = CashFlow(
        event_id="top-up", account_id=ACCOUNT, effective_at=at(1, 13), amount=Decimal(10_000)
    )
    ledger = TradeLedgerRepository(settings)
    first = snapshot_of(settings, fills, [deposit])
    (flow,) = first.internal_ledger.cash_flows
    # Someone decides the deposit should not count (say, it bounced) and voids it; the next
    # snapshot leaves it out and says why Alpaca's row is not in the ledger.
    events = AccountEventRepository(settings)
    events.void(ACCOUNT, flow.event_id, reason="ACH returned", actor="ops")
    account = FakeAccount.from_history(
        cycles_of(fills), account_id=ACCOUNT, events=[deposit], include_unfilled=False
    )
    with (
        running_fake_alpaca(account) as fake,
        AlpacaSource(
            api_key=DEFAULT_KEY_ID,
            secret_key=DEFAULT_SECRET_KEY,
            base_url=fake.base_url,
            retry=FAST,
            sleep=lambda _: None,
            environ={},
        ) as alpaca,
    ):
        again = build_snapshot(
            account_id=ACCOUNT,
            period_start=PERIOD_START,
            period_end=PERIOD_END,
            correlation_id="cycle-2026-09-18",
            alpaca=alpaca,
            ledger=ledger,
            hmac_key=None,
            clock=lambda: NOW,
        )
    assert isinstance(again, AccountSnapshotV12)
    assert again.internal_ledger.cash_flows == ()
    (check,) = (
        c for c in again.integrity_checks if c.name == "ledger_events_match_alpaca_activities"
    )
    assert check.status == CheckStatus.WARN
    assert check.details["voided_in_ledger"] == 1
    assert check.details["voided_activities"] == flow.event_id
    assert "1 voided in the ledger" in check.message
