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
