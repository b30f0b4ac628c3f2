"""Corrections of recorded fills, on both engines: void and amend, append-only and atomic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import MAX_FILLS_PER_STRATEGY, RecordedTrade
from ledger_store.errors import ConflictError, LedgerValidationError
from ledger_store.trades import TradeLedgerRepository
from tests.builders import ACCOUNT, CORRELATION, make_fill, put_raw, raw_table

ORIGINAL = {"alpha": "0.5", "beta": "0.5"}


def registry(ledger: TradeLedgerRepository) -> dict[str, int]:
    return {r.strategy: r.trade_count for r in ledger.strategies(ACCOUNT)}


def revisions(ledger: TradeLedgerRepository) -> dict[str, int]:
    """Writes that changed each strategy's entries: only ever grows."""
    return {r.strategy: r.revision for r in ledger.strategies(ACCOUNT)}


def strategy_orders(ledger: TradeLedgerRepository, strategy: str) -> list[tuple[str, str]]:
    return [(a.order_id, str(a.qty)) for a in ledger.attributions_by_strategy(ACCOUNT, strategy)]


def test_a_voided_fill_leaves_every_aggregate_and_stays_readable(
    ledger: TradeLedgerRepository,
) -> None:
    fill = make_fill(order_id="o-1", strategy_allocation=ORIGINAL)
    other = make_fill(order_id="o-2", strategy_allocation={"alpha": "1"})
    ledger.record(fill)
    ledger.record(other)

    result = ledger.void("o-1", reason="broker busted the trade", actor="ops@desk")

    assert (result.status, result.revision) == ("voided", 1)
    assert registry(ledger) == {"alpha": 1, "beta": 0}
    assert revisions(ledger) == {"alpha": 3, "beta": 2}
    assert strategy_orders(ledger, "alpha") == [("o-2", "10")]
    assert strategy_orders(ledger, "beta") == []
    assert [f.order_id for f in ledger.trades_by_correlation(CORRELATION)] == ["o-2"]
    assert [f.order_id for f in ledger.trades_by_symbol("AAPL")] == ["o-2"]
    trade = ledger.get_trade("o-1")
    assert trade.status == "voided"
    assert trade.fill == fill
    assert trade.attributions == ()
    (correction,) = trade.corrections
    assert (correction.kind, correction.reason, correction.actor) == (
        "void",
        "broker busted the trade",
        "ops@desk",
    )
    assert correction.previous == fill

    # A retry changes nothing; re-importing the original does not bring it back.
    before = raw_table(ledger.settings)
    assert ledger.void("o-1", reason="again", actor="ops").status == "unchanged"
    assert ledger.record(fill).status == "already_recorded"
    assert raw_table(ledger.settings) == before


def test_an_amended_fill_replaces_its_content_and_keeps_the_original(
    ledger: TradeLedgerRepository,
) -> None:
    fill = make_fill(order_id="o-1", strategy_allocation=ORIGINAL)
    ledger.record(fill)
    amended = make_fill(
        order_id="o-1",
        qty="12",
        price="187.5",
        strategy_allocation={"alpha": "0.5", "gamma": "0.5"},
    )

    result = ledger.amend(amended, reason="typo in qty", actor="bot")

    assert (result.status, result.revision) == ("amended", 1)
    assert registry(ledger) == {"alpha": 1, "beta": 0, "gamma": 1}
    # Every strategy the amend touched saw a change, the one it kept too.
    assert revisions(ledger) == {"alpha": 2, "beta": 2, "gamma": 1}
    assert strategy_orders(ledger, "alpha") == [("o-1", "6")]
    assert strategy_orders(ledger, "beta") == []
    assert strategy_orders(ledger, "gamma") == [("o-1", "6")]
    (listed,) = ledger.trades_by_correlation(CORRELATION)
    assert listed == amended
    trade = ledger.get_trade("o-1")
    assert (trade.status, trade.fill) == ("active", amended)
    assert [c.previous for c in trade.corrections] == [fill]

    # Retries and re-imports of either version change nothing; a third content conflicts.
    before = raw_table(ledger.settings)
    assert ledger.amend(amended, reason="retry", actor="bot").status == "unchanged"
    assert ledger.record(fill).status == "already_recorded"
    assert ledger.record(amended).status == "already_recorded"
    assert raw_table(ledger.settings) == before
    with pytest.raises(ConflictError, match="qty: stored '12', given '13'"):
        ledger.record(
            make_fill(
                order_id="o-1",
                qty="13",
                price="187.5",
                strategy_allocation={"alpha": "0.5", "gamma": "0.5"},
            )
        )

    # A second amend, then a void: the history grows, nothing is rewritten.
    third = amended.model_copy(update={"price": Decimal("187.6")})
    assert ledger.amend(third, reason="price", actor="bot").revision == 2
    assert ledger.void("o-1", reason="done", actor="ops").revision == 3
    history = ledger.get_trade("o-1").corrections
    assert [(c.revision, c.kind, c.previous) for c in history] == [
        (1, "amend", fill),
        (2, "amend", amended),
        (3, "void", third),
    ]
    assert registry(ledger) == {"alpha": 0, "beta": 0, "gamma": 0}


def test_a_correction_read_before_a_concurrent_change_is_refused(
    ledger: TradeLedgerRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill = make_fill(order_id="o-1", strategy_allocation=ORIGINAL)
    ledger.record(fill)
    stale: RecordedTrade = ledger.get_trade("o-1")
    ledger.amend(
        make_fill(order_id="o-1", qty="11", strategy_allocation=ORIGINAL), reason="a", actor="x"
    )
    after_first = raw_table(ledger.settings)

    monkeypatch.setattr(ledger, "get_trade", lambda order_id: stale)
    with pytest.raises(ConflictError, match="changed while it was being amended"):
        ledger.amend(
            make_fill(order_id="o-1", qty="12", strategy_allocation=ORIGINAL), reason="b", actor="y"
        )
    with pytest.raises(ConflictError, match="changed while it was being voided"):
        ledger.void("o-1", reason="c", actor="z")
    assert raw_table(ledger.settings) == after_first


def test_an_amend_into_a_full_strategy_writes_nothing(
    ledger: TradeLedgerRepository, settings: TableSettings
) -> None:
    ledger.record(make_fill(order_id="o-1", strategy_allocation=ORIGINAL))
    put_raw(
        settings,
        {
            "PK": {"S": f"ACCOUNT#{ACCOUNT}"},
            "SK": {"S": "STRATEGY#gamma"},
            "EntityType": {"S": "STRATEGY"},
            "account_id": {"S": ACCOUNT},
            "strategy": {"S": "gamma"},
            "trade_count": {"N": str(MAX_FILLS_PER_STRATEGY)},
        },
    )
    before = raw_table(settings)
    with pytest.raises(ConflictError, match="a strategy it adds is full"):
        ledger.amend(
            make_fill(order_id="o-1", strategy_allocation={"gamma": "1"}), reason="r", actor="a"
        )
    assert raw_table(settings) == before


def test_what_cannot_be_amended(ledger: TradeLedgerRepository) -> None:
    ledger.record(make_fill(order_id="o-1"))
    with pytest.raises(LedgerValidationError, match="cannot move it to another account"):
        ledger.amend(make_fill(order_id="o-1", account_id="acct-2"), reason="r", actor="a")
    with pytest.raises(LedgerValidationError, match="reason"):
        ledger.amend(make_fill(order_id="o-1", qty="11"), reason=" ", actor="a")
    ledger.void("o-1", reason="r", actor="a")
    with pytest.raises(LedgerValidationError, match="is voided"):
        ledger.amend(make_fill(order_id="o-1", qty="11"), reason="r", actor="a")
