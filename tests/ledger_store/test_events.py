"""Account events on both engines: recorded once by id, read back exactly, in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.errors import ConflictError, LedgerValidationError, NotFoundError
from ledger_store.events import (
    AccountEventRepository,
    CashFlow,
    Dividend,
    EventKind,
    Merger,
    Split,
    SymbolChange,
    parse_event,
)
from tests.builders import ACCOUNT, raw_table

T0 = datetime(2026, 8, 3, 13, 30, tzinfo=UTC)


def event_data(kind: str, **overrides: Any) -> dict[str, Any]:
    """A valid event of ``kind`` (an unknown kind gets the cash-flow fields)."""
    base: dict[str, dict[str, Any]] = {
        "split": {"symbol": "NVDA", "ratio_new": "10", "ratio_old": "1", "source": "SSP"},
        "symbol_change": {"symbol": "FB", "new_symbol": "META", "source": "SC"},
        "merger": {
            "symbol": "ATVI",
            "new_symbol": "MSFT",
            "ratio_new": "1",
            "ratio_old": "5",
            "cash_per_share": "2.5",
            "source": "MA",
        },
        "dividend": {
            "symbol": "T",
            "amount": "1.02",
            "per_share_amount": "0.51",
            "qty": "2",
            "source": "DIV",
        },
        "cash_flow": {"amount": "49000", "source": "CSD", "description": "wire in"},
        "asset_fee": {"symbol": "ETHUSD", "qty": "0.000195", "price": "1884.5", "source": "CFEE"},
        "cash_in_lieu": {"symbol": "SPY", "amount": "37.12", "source": "SSP"},
        "option_expiry": {"symbol": "AAPL230721C00150000", "qty": "-2", "source": "OPEXP"},
        "option_exercise": {
            "symbol": "QS240301C00004500",
            "qty": "1",
            "underlying": "QS",
            "shares": "-100",
            "price": "4.5",
            "trade_activity_id": "20240301000000000::a88c089f-a8c3-4672-9b68-2f6f2d05e914",
            "source": "OPASN",
        },
    }
    return {
        "kind": kind,
        "event_id": f"20260803133000000::{kind}",
        "account_id": ACCOUNT,
        "effective_at": T0,
        **base.get(kind, base["cash_flow"]),
        **overrides,
    }


#: Every kind of event the ledger holds.
KINDS = [kind.value for kind in EventKind]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_recorded_once_and_read_back_exactly(
    settings: TableSettings, kind: str
) -> None:
    events = AccountEventRepository(settings)
    event = parse_event(event_data(kind))
    assert event.kind == EventKind(kind)

    assert events.record(event).status == "recorded"
    assert events.record(event).status == "already_recorded"
    assert events.get(ACCOUNT, event.event_id) == event
    assert list(events.events(ACCOUNT)) == [event]
    assert events.event_count(ACCOUNT) == 1
    # The event, its id guard, the account's counter and, for a corporate action, its
    # symbol-and-day guard: nothing else.
    action = ["ACTION"] if kind in {"split", "symbol_change", "merger"} else []
    assert sorted(item["SK"]["S"].split("#")[0] for item in raw_table(settings)) == [
        *action,
        "EVENT",
        "EVENTID",
        "EVENTS",
    ]


def test_the_same_id_with_other_content_is_a_conflict_and_changes_nothing(
    settings: TableSettings,
) -> None:
    events = AccountEventRepository(settings)
    first = parse_event(event_data("dividend"))
    events.record(first)
    before = raw_table(settings)
    # Even at another time: the id alone decides.
    other = parse_event(event_data("dividend", amount="1.03", effective_at=T0 + timedelta(days=1)))
    with pytest.raises(ConflictError, match=r"amount: stored '1\.02', given '1\.03'") as caught:
        events.record(other)
    assert caught.value.key == f"ACCOUNT#{ACCOUNT} / EVENTID#{first.event_id}"
    assert raw_table(settings) == before
    assert events.event_count(ACCOUNT) == 1


@pytest.mark.parametrize("kind", ["split", "symbol_change", "merger"])
def test_one_corporate_action_per_symbol_and_day(settings: TableSettings, kind: str) -> None:
    """The split Alpaca's rows describe and the same split imported from a file can never
    both apply: a second action on the symbol that day is refused, whatever its id."""
    events = AccountEventRepository(settings)
    events.record(parse_event(event_data(kind)))
    before = raw_table(settings)
    again = parse_event(
        event_data(kind, event_id="from-a-file", effective_at=T0 + timedelta(hours=3))
    )
    with pytest.raises(ConflictError, match=r"already recorded \(one corporate action per symbol"):
        events.record(again)
    assert raw_table(settings) == before
    next_day = parse_event(
        event_data(kind, event_id="next-day", effective_at=T0 + timedelta(days=1))
    )
    assert events.record(next_day).status == "recorded"


def test_events_are_read_in_time_order_over_half_open_ranges(settings: TableSettings) -> None:
    events = AccountEventRepository(settings)
    recorded = []
    for day in (5, 1, 3, 2, 4):
        event = parse_event(
            event_data(
                "cash_flow",
                event_id=f"deposit-{day}",
                amount=str(day * 100),
                effective_at=T0 + timedelta(days=day),
            )
        )
        events.record(event)
        recorded.append(event)
    in_order = sorted(recorded, key=lambda e: e.effective_at)
    assert list(events.events(ACCOUNT)) == in_order
    start, end = T0 + timedelta(days=2), T0 + timedelta(days=4)
    assert [e.event_id for e in events.events(ACCOUNT, start, end)] == ["deposit-2", "deposit-3"]
    assert list(events.events(ACCOUNT, end, end)) == []
    assert events.event_count(ACCOUNT) == 5
    with pytest.raises(LedgerValidationError, match="after its end"):
        list(events.events(ACCOUNT, end, start))


def test_events_do_not_disturb_the_strategy_registry(settings: TableSettings) -> None:
    from ledger_store.trades import TradeLedgerRepository
    from tests.builders import make_fill

    ledger = TradeLedgerRepository(settings)
    ledger.record(make_fill())
    AccountEventRepository(settings).record(parse_event(event_data("split")))
    assert [r.strategy for r in ledger.strategies(ACCOUNT)] == ["alpha", "beta"]


def test_an_unknown_event_is_not_found(settings: TableSettings) -> None:
    events = AccountEventRepository(settings)
    with pytest.raises(NotFoundError, match="no event 'nope'"):
        events.get(ACCOUNT, "nope")
    assert events.event_count(ACCOUNT) == 0
    assert list(events.events(ACCOUNT)) == []


REJECTED: list[Any] = [
    pytest.param("split", {"ratio_new": "1", "ratio_old": "1"}, "must differ", id="split-1-1"),
    pytest.param("split", {"ratio_new": "0"}, "ratio_new", id="split-zero"),
    pytest.param("split", {"ratio_new": "1000001"}, "ratio_new", id="split-too-large"),
    pytest.param("split", {"ratio_new": "1.0000000001"}, "9 decimal places", id="split-places"),
    pytest.param("symbol_change", {"new_symbol": "FB"}, "must differ", id="same-symbol"),
    pytest.param("symbol_change", {"new_symbol": "meta"}, "malformed", id="bad-symbol"),
    pytest.param("merger", {"cash_per_share": "-1"}, "cash_per_share", id="negative-cash"),
    pytest.param("dividend", {"amount": "0"}, "must not be 0", id="zero-dividend"),
    pytest.param("dividend", {"amount": "1E+10"}, "amount", id="dividend-too-large"),
    pytest.param("cash_flow", {"amount": "0.0000000001"}, "9 decimal places", id="cash-places"),
    pytest.param("cash_flow", {"event_id": "a#b"}, "must not contain '#'", id="hash-in-id"),
    pytest.param("cash_flow", {"source": "X" * 17}, "source", id="long-source"),
    pytest.param(
        "cash_flow",
        {"effective_at": datetime.now(UTC) + timedelta(days=1)},
        "in the future",
        id="future",
    ),
    pytest.param("cash_flow", {"effective_at": "1969-12-31T00:00:00Z"}, "out of range", id="1969"),
    pytest.param("gift", {}, "kind", id="unknown-kind"),
    pytest.param("cash_flow", {"symbol": "AAPL"}, "Extra inputs", id="field-of-another-kind"),
]


@pytest.mark.parametrize(("kind", "overrides", "message"), REJECTED)
def test_bad_events_are_rejected_with_the_field_named(
    kind: str, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(LedgerValidationError, match=message):
        parse_event(event_data(kind, **overrides))


def test_event_values_are_normalised_and_hashed_by_value() -> None:
    a = parse_event(event_data("dividend", amount="1.020", qty="2.0"))
    b = parse_event(event_data("dividend"))
    assert a == b
    assert a.content_sha256() == b.content_sha256()
    assert isinstance(a, Dividend)
    assert a.amount == Decimal("1.02")
    assert isinstance(parse_event(event_data("split")), Split)
    assert isinstance(parse_event(event_data("symbol_change")), SymbolChange)
    assert isinstance(parse_event(event_data("merger")), Merger)
    assert isinstance(parse_event(event_data("cash_flow")), CashFlow)


# Voiding a wrong event ------------------------------------------------------------------------


def test_a_voided_event_leaves_every_reader_and_stays_readable(settings: TableSettings) -> None:
    stamps = iter([T0 + timedelta(days=30)])
    events = AccountEventRepository(settings, clock=lambda: next(stamps))
    wrong = parse_event(event_data("split", ratio_new="100"))  # a typo: 100:1 for 10:1
    events.record(wrong)

    result = events.void(ACCOUNT, wrong.event_id, reason="ratio typo", actor="ops")
    assert (result.event_id, result.status) == (wrong.event_id, "voided")
    assert list(events.events(ACCOUNT)) == []
    recorded = events.recorded(ACCOUNT, wrong.event_id)
    assert (recorded.event, recorded.status) == (wrong, "voided")
    assert (recorded.voided_at, recorded.void_reason, recorded.void_actor) == (
        T0 + timedelta(days=30),
        "ratio typo",
        "ops",
    )
    assert [r.status for r in events.history(ACCOUNT)] == ["voided"]
    assert events.get(ACCOUNT, wrong.event_id) == wrong
    # The record and the void each changed the account's events.
    assert events.event_count(ACCOUNT) == 2
    # Again: nothing changes.
    assert events.void(ACCOUNT, wrong.event_id, reason="again", actor="ops").status == "unchanged"
    assert events.event_count(ACCOUNT) == 2


def test_a_voided_id_stays_taken_and_frees_its_day_for_the_right_action(
    settings: TableSettings,
) -> None:
    events = AccountEventRepository(settings)
    wrong = parse_event(event_data("split", ratio_new="100"))
    events.record(wrong)
    events.void(ACCOUNT, wrong.event_id, reason="ratio typo", actor="ops")
    assert events.corporate_action(ACCOUNT, "NVDA", T0.date()) is None
    # A re-run reading the same Alpaca activity does not bring it back.
    assert events.record(wrong).status == "already_recorded"
    assert list(events.events(ACCOUNT)) == []
    # The right split of that symbol and day can now be recorded (under another id).
    right = parse_event(event_data("split", event_id="nvda-split-fixed"))
    assert events.record(right).status == "recorded"
    assert events.corporate_action(ACCOUNT, "NVDA", T0.date()) == right
    assert list(events.events(ACCOUNT)) == [right]


def test_voiding_needs_an_event_a_reason_and_an_actor(settings: TableSettings) -> None:
    events = AccountEventRepository(settings)
    with pytest.raises(NotFoundError, match="no event 'nope'"):
        events.void(ACCOUNT, "nope", reason="r", actor="a")
    event = parse_event(event_data("cash_flow"))
    events.record(event)
    before = raw_table(settings)
    for reason, actor in (("", "ops"), ("why", " "), ("x" * 501, "ops")):
        with pytest.raises(LedgerValidationError, match=r"a void.s (reason|actor) must be 1 to"):
            events.void(ACCOUNT, event.event_id, reason=reason, actor=actor)
    assert raw_table(settings) == before
