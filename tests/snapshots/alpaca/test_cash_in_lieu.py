"""Cash in lieu: before Alpaca kept fractional shares (August 2021), a split that left a
fraction paid it in cash, an ``SSP`` row with an amount and no shares beside the share rows.
The ledger sells the fraction for that cash, so its holding stays Alpaca's whole shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ledger_store.events import CashInLieu, Split
from snapshots.alpaca.activities import events_from_activities
from snapshots.alpaca.models import AccountActivity
from snapshots.integrity import check_events, check_positions
from snapshots.ledger.lots import run_lots
from snapshots.ledger.summary import summarize_account
from tests.builders import alpaca_data, alpaca_position, alpaca_uuid, attributions_of
from tests.builders import strategy_fill as fill

ACCOUNT = "acct-1"
DAY = datetime(2020, 8, 31, tzinfo=UTC)
UUIDS = [f"5f596936-6f23-4cef-bdf1-3806aae57db{n}" for n in range(6)]


def ssp(n: int, **fields: Any) -> AccountActivity:
    """An SSP row of the 1:6 reverse split of XYZ on 31 August 2020, 08:00 New York."""
    return AccountActivity.from_api(
        {
            "id": f"20200831080000{n:03d}::{UUIDS[n]}",
            "activity_type": "SSP",
            "date": "2020-08-31",
            "symbol": "XYZ",
            "status": "executed",
            **fields,
        }
    )


def rows() -> list[AccountActivity]:
    return [ssp(0, qty="-7"), ssp(1, qty="1"), ssp(2, net_amount="1.37")]


def _split() -> Split:
    return Split(
        event_id="xyz-reverse-split",
        account_id=ACCOUNT,
        effective_at=DAY + timedelta(hours=12),
        symbol="XYZ",
        ratio_new=Decimal(1),
        ratio_old=Decimal(6),
    )


def test_the_cash_row_is_a_cash_in_lieu_event_and_the_shares_need_their_split() -> None:
    """1 share in for 7 out is no ratio (the fraction went as cash): the share rows wait for an
    explicit split; the cash row is the fraction's sale."""
    mapped = events_from_activities(ACCOUNT, rows())
    (lieu,) = mapped.events
    assert isinstance(lieu, CashInLieu)
    assert (lieu.symbol, lieu.amount, lieu.event_id) == ("XYZ", Decimal("1.37"), rows()[2].id)
    assert [r.qty for r in mapped.unmapped] == [Decimal(-7), Decimal(1)]


def test_a_posted_and_reversed_cash_pair_nets_to_nothing() -> None:
    posted = [*rows()[:2], ssp(2, net_amount="1.37"), ssp(3, net_amount="-1.37")]
    mapped = events_from_activities(ACCOUNT, posted)
    assert mapped.events == ()
    assert len(mapped.unmapped) == 4
    reposted = [*posted, ssp(4, net_amount="1.37")]
    (lieu,) = events_from_activities(ACCOUNT, reposted).events
    assert (lieu.amount, lieu.event_id) == (Decimal("1.37"), reposted[-1].id)


def test_the_fraction_is_sold_for_the_cash_and_the_ledger_holds_alpacas_whole_shares() -> None:
    """7 shares bought at 10 (cost 70) become 1.166666667 after 1:6; 0.166666667 of them go for
    1.37, realising 1.37 less what they cost; 1 share is left, at the same price."""
    bought = fill(alpaca_uuid(1), "BUY", "7", "10", symbol="XYZ")
    lieu = events_from_activities(ACCOUNT, rows()).events[0]
    assert isinstance(lieu, CashInLieu)
    at = {"effective_at": DAY + timedelta(hours=12)}
    ledger = run_lots(
        attributions_of([bought.model_copy(update={"filled_at": DAY - timedelta(days=30)})]),
        [_split(), lieu.model_copy(update=at)],
    )
    (lot,) = ledger.lots
    assert lot.qty == 1
    (sale,) = ledger.capital_realizations
    cost = Fraction("0.166666667") * Fraction(lot.price)
    assert abs(Fraction(sale.realized_pnl) - (Fraction("1.37") - cost)) < Fraction(1, 10**17)
    assert sale.event_id == lieu.event_id
    assert ledger.unattributed_cash_in_lieu == ()


def test_the_events_and_positions_checks_pass_with_the_split_imported() -> None:
    """The snapshot of the day: the share rows are accounted for by the imported split, the
    cash row by its event; the ledger holds Alpaca's 1 share."""
    bought = fill(alpaca_uuid(1), "BUY", "7", "10", symbol="XYZ")
    bought = bought.model_copy(update={"filled_at": DAY - timedelta(days=30)})
    (lieu,) = events_from_activities(ACCOUNT, rows()).events
    view = summarize_account(
        attributions_of([bought]),
        [_split().model_copy(update={"effective_at": DAY + timedelta(hours=12)}), lieu],
        account_id=ACCOUNT,
        period_start=DAY,
        period_end=DAY + timedelta(days=1),
        ledger_id="ledger-test",
        prices={"XYZ": Decimal(60)},
        revisions={},
        event_count=2,
    )
    assert view.internal_ledger.cash_in_lieu == (lieu,)
    window = {"period_start": DAY, "period_end": DAY + timedelta(days=1)}
    data = alpaca_data(
        **window,
        fee_window_start=DAY,
        fee_window_end=DAY + timedelta(days=1),
        positions=(alpaca_position("XYZ", qty="1"),),
        orders=(),
        fees=(),
        filled_order_ids=(),
        equity=(),
        activities=tuple(sorted(rows(), key=lambda a: (a.created_at, a.id))),
    )
    events = check_events(data, view)
    assert events.status == "pass", events.message
    positions = check_positions(data, view)
    assert positions.status == "pass", positions.message


def test_through_the_fake_the_fraction_leaves_after_its_split(settings: Any) -> None:
    """A split and its cash in lieu at one instant, the cash's id sorting first: Alpaca (the
    fake) and the ledger both apply the split first, hold 1 share, and agree."""
    from ledger_store.dto import parse_fill
    from ledger_store.events import AccountEventRepository
    from ledger_store.snapshot_store import AccountSnapshotRepository
    from ledger_store.trades import TradeLedgerRepository
    from snapshots.builder import take_snapshot
    from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
    from snapshots.fake_alpaca.server import running_fake_alpaca
    from tests.builders import fill_data, record_all
    from tests.snapshots.alpaca.test_history_and_benchmark import source

    account_id = "6f1c3b1e-6d3a-4c59-9f0e-3f6a2b8d9c10"
    at = datetime(2026, 8, 4, 14, 30, tzinfo=UTC)
    bought = parse_fill(
        fill_data(
            order_id=alpaca_uuid(1),
            account_id=account_id,
            correlation_id="c",
            symbol="XYZ",
            side="BUY",
            qty="7",
            price="10",
            filled_at=at,
        )
    )
    cycle = TradingCycle("c", at, at + timedelta(hours=1), (bought,))
    record_all(TradeLedgerRepository(settings), [bought])
    split = _split().model_copy(
        update={"account_id": account_id, "effective_at": at + timedelta(hours=5)}
    )
    AccountEventRepository(settings).record(split)  # the explicit split
    lieu = CashInLieu(
        event_id="a-lieu",  # sorts before the split's id
        account_id=account_id,
        effective_at=split.effective_at,
        symbol="XYZ",
        amount=Decimal("1.37"),
        source="SSP",
    )
    fake_account = FakeAccount.from_history([cycle], events=[split, lieu], include_unfilled=False)
    assert [p.qty for p in fake_account.positions] == [1]
    with running_fake_alpaca(fake_account) as fake, source(fake, equity_lookback_days=0) as alpaca:
        outcome = take_snapshot(
            account_id=account_id,
            period_start=datetime(2026, 8, 4, tzinfo=UTC),
            period_end=datetime(2026, 8, 5, tzinfo=UTC),
            correlation_id="c",
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            store=AccountSnapshotRepository(settings),
            hmac_key=None,
        )
    checks = {c.name: c for c in outcome.snapshot.integrity_checks}
    for name in (
        "ledger_positions_match_alpaca_positions",
        "ledger_events_match_alpaca_activities",
    ):
        assert checks[name].status == "pass", checks[name].message
    (recorded,) = outcome.snapshot.internal_ledger.cash_in_lieu
    assert recorded.amount == Decimal("1.37")
