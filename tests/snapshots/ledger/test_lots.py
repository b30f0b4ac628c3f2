"""The signed-lot ledger: hand-computed scenarios to the cent, and an independent reference.

The reference below is written from the rules in ``snapshots.ledger.lots``' docstring (the
README's accounting rules), in exact fractions and plain lists, not from the engine's code; a
random property test holds the engine to it over ledgers with shorts, splits, symbol changes,
mergers, dividends and deposits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest

from ledger_store.errors import LedgerValidationError
from ledger_store.events import CashFlow, Dividend, Event, Merger, Split, SymbolChange, parse_event
from snapshots.ledger.lots import LotLedger, Match, run_lots
from tests.builders import ACCOUNT, attributions_of, strategy_fill

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(kind: str, n: int, seconds: int, **fields: Any) -> Event:
    return parse_event(
        {
            "kind": kind,
            "event_id": f"e{n:03d}",
            "account_id": ACCOUNT,
            "effective_at": at(seconds),
            **fields,
        }
    )


def run(*entries: Any) -> LotLedger:
    fills = [
        e for e in entries if not isinstance(e, Split | SymbolChange | Merger | Dividend | CashFlow)
    ]
    events = [
        e for e in entries if isinstance(e, Split | SymbolChange | Merger | Dividend | CashFlow)
    ]
    return run_lots(attributions_of(fills), events)


def lots(ledger: LotLedger) -> list[tuple[str, str, str, str, str]]:
    return [(x.strategy, x.symbol, x.side, str(x.qty), str(x.price)) for x in ledger.lots]


# Hand-computed scenarios ---------------------------------------------------------------------


def test_a_short_covered_in_parts_realises_short_minus_cover() -> None:
    ledger = run(
        strategy_fill("s1", "SELL", "10", "100"),  # opens a short of 10 at 100
        strategy_fill("b1", "BUY", "4", "90", seconds=1),  # covers 4: +40
        strategy_fill("b2", "BUY", "10", "95", seconds=2),  # covers 6: +30, opens long 4
    )
    assert [(m.side, str(m.qty), str(m.realized_pnl)) for m in ledger.matches] == [
        ("short", "4", "40"),
        ("short", "6", "30"),
    ]
    assert ledger.realized_pnl("alpha") == Decimal(70)
    assert lots(ledger) == [("alpha", "AAPL", "long", "4", "95")]


def test_a_position_held_through_a_10_for_1_split_then_sold() -> None:
    ledger = run(
        strategy_fill("b1", "BUY", "10", "500"),
        event("split", 1, 60, symbol="AAPL", ratio_new="10", ratio_old="1"),
        strategy_fill("s1", "SELL", "50", "52", seconds=120),
    )
    assert ledger.realized_pnl("alpha") == Decimal(100)  # 50 x (52 - 50)
    assert lots(ledger) == [("alpha", "AAPL", "long", "50", "50")]


def test_a_reverse_split_keeps_the_cost_basis_to_far_below_a_cent() -> None:
    ledger = run(
        strategy_fill("b1", "BUY", "10", "10"),
        event("split", 1, 60, symbol="AAPL", ratio_new="1", ratio_old="6"),
    )
    (lot,) = ledger.lots
    assert lot.qty == Decimal("1.666666667")  # 10/6 rounded once, half-up, as Alpaca does
    assert abs(lot.qty * lot.price - 100) < Decimal("1E-8")


def test_a_fractional_split_rounds_the_position_once_as_alpaca_does() -> None:
    """7 shares in three lots of two strategies, 1:6: Alpaca writes 1.166666667 for the
    position; truncating each lot would leave the ledger 2-3 billionths short forever."""
    ledger = run(
        strategy_fill("b1", "BUY", "3", "10"),
        strategy_fill("b2", "BUY", "2", "11", seconds=1),
        strategy_fill("b3", "BUY", "2", "12", seconds=2, allocation={"beta": "1"}),
        event("split", 1, 60, symbol="AAPL", ratio_new="1", ratio_old="6"),
    )
    quantities = {(lot.strategy, lot.order_id): lot.qty for lot in ledger.lots}
    assert sum(quantities.values()) == Decimal("1.166666667")
    # 0.5 exactly, then 0.333333333|3 twice: the one unit missing goes to the first of the
    # two equal remainders (strategy alpha before beta).
    assert quantities == {
        ("alpha", "b1"): Decimal("0.5"),
        ("alpha", "b2"): Decimal("0.333333334"),
        ("beta", "b3"): Decimal("0.333333333"),
    }


def test_a_fractional_split_of_a_net_short_position_rounds_toward_alpacas_total() -> None:
    ledger = run(
        strategy_fill("s1", "SELL", "7", "10"),
        strategy_fill("b1", "BUY", "2", "10", allocation={"beta": "1"}),
        event("split", 1, 60, symbol="AAPL", ratio_new="1", ratio_old="3"),
    )
    signed = sum(lot.qty if lot.side == "long" else -lot.qty for lot in ledger.lots)
    # -7/3 + 2/3 = -5/3 = -1.666666666|7 -> Alpaca's position -1.666666667
    assert signed == Decimal("-1.666666667")


def test_a_split_applies_before_a_fill_of_the_same_instant() -> None:
    ledger = run(
        strategy_fill("b1", "BUY", "1", "300"),
        event("split", 1, 60, symbol="AAPL", ratio_new="3", ratio_old="1"),
        strategy_fill("s1", "SELL", "3", "101", seconds=60),
    )
    assert ledger.realized_pnl("alpha") == Decimal(3)
    assert ledger.lots == ()


def test_a_dividend_is_shared_by_the_strategies_holding_the_shares() -> None:
    ledger = run(
        strategy_fill("b1", "BUY", "100", "200", allocation={"momentum": "0.6", "trend": "0.4"}),
        strategy_fill("b2", "BUY", "5", "200", symbol="MSFT", allocation={"value": "1"}),
        event("dividend", 1, 60, symbol="AAPL", amount="24"),
    )
    assert [(d.strategy, str(d.qty_held), str(d.amount)) for d in ledger.dividends] == [
        ("momentum", "60", "14.4"),
        ("trend", "40", "9.6"),
    ]
    assert ledger.dividend_income("momentum") == Decimal("14.4")
    assert ledger.dividend_income("value") == 0


def test_a_short_strategy_pays_its_part_of_a_dividend_the_account_was_paid_net() -> None:
    """alpha holds 10 long, beta 4 short: the account nets 6 and Alpaca pays 6 x 0.5 = 3. alpha
    earns 5 on its 10 shares, beta pays 2 on its 4: each by its own signed holding."""
    ledger = run(
        strategy_fill("b1", "BUY", "10", "100", allocation={"alpha": "1"}),
        strategy_fill("s1", "SELL", "4", "100", allocation={"beta": "1"}, seconds=1),
        event("dividend", 1, 60, symbol="AAPL", amount="3"),
    )
    assert [(d.strategy, str(d.qty_held), str(d.amount)) for d in ledger.dividends] == [
        ("alpha", "10", "5"),
        ("beta", "-4", "-2"),
    ]
    # Long and short cancel out: the account held nothing net, nobody was paid.
    flat = run(
        strategy_fill("b1", "BUY", "4", "100", allocation={"alpha": "1"}),
        strategy_fill("s1", "SELL", "4", "100", allocation={"beta": "1"}, seconds=1),
        event("dividend", 1, 60, symbol="AAPL", amount="1"),
    )
    assert flat.dividends == ()
    assert len(flat.unattributed_dividends) == 1


def test_a_merger_that_leaves_no_shares_still_pays_its_cash() -> None:
    """A lot merged into less than a billionth of a share keeps its cash: 0.9 shares at 10
    take 0.999 each, 0.8991 in all, and lose their 9 of basis, realising 0.8991 - 9; a
    cash-only takeover (no new shares) does the same for every lot."""
    sliver = run(
        strategy_fill("b1", "BUY", "0.9", "10", allocation={"alpha": "1"}),
        event(
            "merger",
            1,
            60,
            symbol="AAPL",
            new_symbol="NEWCO",
            ratio_new="0.000000001",
            ratio_old="1000",
            cash_per_share="0.999",
        ),
    )
    assert sliver.lots == ()
    assert sum(r.realized_pnl for r in sliver.capital_realizations) == Decimal("0.8991") - 9
    takeover = run(
        strategy_fill("b1", "BUY", "2", "10", allocation={"alpha": "1"}),
        strategy_fill("s1", "SELL", "1", "12", allocation={"beta": "1"}, seconds=1),
        event(
            "merger",
            1,
            60,
            symbol="AAPL",
            new_symbol="ACQUIRER",
            ratio_new="0",
            ratio_old="1",
            cash_per_share="15",
        ),
    )
    assert takeover.lots == ()
    realized = {s: takeover.realized_pnl(s) for s in ("alpha", "beta")}
    assert realized == {"alpha": Decimal(10), "beta": Decimal(-3)}  # 2 x (15-10), 1 x (12-15)


def test_a_dividend_split_three_ways_adds_up_exactly() -> None:
    ledger = run(
        strategy_fill(
            "b1",
            "BUY",
            "1",
            "10",
            allocation={"a": "0.333333333", "b": "0.333333333", "c": "0.333333334"},
        ),
        event("dividend", 1, 60, symbol="AAPL", amount="1"),
    )
    amounts = [d.amount for d in ledger.dividends]
    assert sum(amounts) == 1
    assert [str(a) for a in amounts] == ["0.333333333", "0.333333333", "0.333333334"]


def test_a_dividend_nobody_holds_is_unattributed_and_a_deposit_is_capital() -> None:
    dividend = event("dividend", 1, 60, symbol="T", amount="1.02")
    deposit = event("cash_flow", 2, 30, amount="49000")
    ledger = run(strategy_fill("b1", "BUY", "1", "10"), dividend, deposit)
    assert ledger.unattributed_dividends == (dividend,)
    assert ledger.dividends == ()
    assert ledger.net_deposits() == Decimal(49000)
    assert ledger.realized_pnl("alpha") == 0


def test_a_symbol_change_carries_the_lots_over() -> None:
    ledger = run(
        strategy_fill("b1", "BUY", "10", "200", symbol="FB"),
        event("symbol_change", 1, 60, symbol="FB", new_symbol="META"),
        strategy_fill("s1", "SELL", "10", "210", symbol="META", seconds=120),
    )
    assert ledger.realized_pnl("alpha") == Decimal(100)
    assert ledger.lots == ()


def test_a_cash_and_stock_merger_returns_capital() -> None:
    ledger = run(
        strategy_fill("b1", "BUY", "100", "80", symbol="ATVI"),  # cost 8,000
        event(
            "merger",
            1,
            60,
            symbol="ATVI",
            new_symbol="MSFT",
            ratio_new="1",
            ratio_old="5",
            cash_per_share="2.5",
        ),
    )
    assert lots(ledger) == [("alpha", "MSFT", "long", "20", "387.5")]  # (8,000 - 250) / 20
    assert ledger.realized_pnl("alpha") == 0


# An independent reference -----------------------------------------------------------------------

UNIT = Fraction(1, 10**9)
MONEY = Fraction(1, 10**18)


def round_half_even(value: Fraction, quantum: Fraction) -> Fraction:
    with localcontext(prec=200):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        q = Decimal(quantum.numerator) / Decimal(quantum.denominator)
        return Fraction(exact.quantize(q, rounding=ROUND_HALF_EVEN))


def truncate(value: Fraction, quantum: Fraction) -> Fraction:
    with localcontext(prec=200):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        q = Decimal(quantum.numerator) / Decimal(quantum.denominator)
        return Fraction(exact.quantize(q, rounding=ROUND_DOWN))


@dataclass
class RefLot:
    side: str
    order: str
    qty: Fraction
    price: Fraction
    opened: datetime


def reference(fills: list[Any], events: list[Event]) -> dict[str, Any]:
    """Realised P&L, dividends and lots per strategy, straight from the written rules."""
    timeline = [(e.effective_at, 0, e.event_id, "", e) for e in events]
    timeline += [(a.filled_at, 1, a.order_id, a.strategy, a) for a in attributions_of(fills)]
    timeline.sort(key=lambda t: t[:4])
    books: dict[tuple[str, str], list[RefLot]] = {}
    realized: dict[str, Fraction] = {}
    dividends: dict[str, Fraction] = {}
    unattributed = Fraction(0)
    deposits = Fraction(0)
    for _, kind, _, _, entry in timeline:
        if kind == 1:
            a = entry
            book = books.setdefault((a.strategy, a.symbol), [])
            closing = "short" if a.side.value == "BUY" else "long"
            left = Fraction(a.qty)
            while left and book and book[0].side == closing:
                take = min(left, book[0].qty)
                gain = Fraction(a.price) - book[0].price
                if closing == "short":
                    gain = -gain
                realized[a.strategy] = realized.get(a.strategy, Fraction(0)) + round_half_even(
                    take * gain, MONEY
                )
                book[0].qty -= take
                left -= take
                if not book[0].qty:
                    book.pop(0)
            if left:
                book.append(
                    RefLot(
                        "long" if closing == "short" else "short",
                        a.order_id,
                        left,
                        Fraction(a.price),
                        a.filled_at,
                    )
                )
        elif isinstance(entry, CashFlow):
            deposits += Fraction(entry.amount)
        elif isinstance(entry, Dividend):
            # Every holder by its signed holding: a short pays its part.
            holders = {
                s: sum(x.qty for x in b) * (1 if b[0].side == "long" else -1)
                for (s, sym), b in books.items()
                if sym == entry.symbol and b
            }
            holders = {s: q for s, q in holders.items() if q}
            total = sum(holders.values())
            if not holders or total == 0:
                unattributed += Fraction(entry.amount)
                continue
            amount = Fraction(entry.amount)
            exact = {s: amount * q / total for s, q in holders.items()}
            shares = {s: (1 if e >= 0 else -1) * truncate(abs(e), UNIT) for s, e in exact.items()}
            spare = round((amount - sum(shares.values())) / UNIT)
            step = 1 if spare > 0 else -1
            for s in sorted(holders, key=lambda s: (-step * (exact[s] - shares[s]), s))[
                : abs(spare)
            ]:
                shares[s] += step * UNIT
            for s, share in shares.items():
                dividends[s] = dividends.get(s, Fraction(0)) + share
        else:
            old, new = entry.symbol, getattr(entry, "new_symbol", entry.symbol)
            ratio = Fraction(getattr(entry, "ratio_new", 1)) / Fraction(
                getattr(entry, "ratio_old", 1)
            )
            cash_per_share = Fraction(getattr(entry, "cash_per_share", 0))
            # The position is rounded once, half-up, as Alpaca does: lots truncate and the
            # missing units go to the largest remainders on the side that moves the total.
            keyed = [
                ((s, i), lot, 1 if lot.side == "long" else -1)
                for (s, sym), book in sorted(books.items())
                if sym == old
                for i, lot in enumerate(book)
            ]
            new_qty = {key: truncate(lot.qty * ratio, UNIT) for key, lot, _ in keyed}
            total = sum(sign * lot.qty * ratio for _, lot, sign in keyed)
            rounded = (1 if total >= 0 else -1) * truncate(abs(total) + UNIT / 2, UNIT)
            spare = round((rounded - sum(sign * new_qty[key] for key, _, sign in keyed)) / UNIT)
            direction = 1 if spare > 0 else -1
            lots_by_key = {key: lot for key, lot, _ in keyed}
            candidates = sorted(
                (key for key, lot, sign in keyed if sign == direction),
                key=lambda key: (
                    -(lots_by_key[key].qty * ratio - new_qty[key]),
                    key,
                ),
            )
            for key in candidates[: abs(spare)]:
                new_qty[key] += UNIT
            for s, sym in sorted(books):
                if sym != old or not books[(s, sym)]:
                    continue
                moved = []
                for i, lot in enumerate(books[(s, sym)]):
                    qty = new_qty[(s, i)]
                    cost = lot.qty * lot.price - lot.qty * cash_per_share
                    if cost < 0:
                        realized[s] = realized.get(s, Fraction(0)) + round_half_even(
                            -cost if lot.side == "long" else cost, MONEY
                        )
                        cost = Fraction(0)
                    if not qty:  # nothing left to hold: what is left of the basis is realised
                        if cost:
                            realized[s] = realized.get(s, Fraction(0)) + round_half_even(
                                -cost if lot.side == "long" else cost, MONEY
                            )
                        continue
                    moved.append(
                        RefLot(
                            lot.side, lot.order, qty, round_half_even(cost / qty, MONEY), lot.opened
                        )
                    )
                books[(s, sym)] = []
                target = books.setdefault((s, new), [])
                for lot in moved:  # lots arriving on the other side close against it
                    while lot.qty and target and target[0].side != lot.side:
                        take = min(lot.qty, target[0].qty)
                        gain = lot.price - target[0].price
                        if target[0].side == "short":
                            gain = -gain
                        realized[s] = realized.get(s, Fraction(0)) + round_half_even(
                            take * gain, MONEY
                        )
                        target[0].qty -= take
                        lot.qty -= take
                        if not target[0].qty:
                            target.pop(0)
                    if lot.qty:
                        target.append(lot)
                target.sort(key=lambda x: (x.opened, x.order))  # books in acquisition order
    return {
        "realized": {s: v for s, v in realized.items() if v},
        "dividends": dividends,
        "unattributed": unattributed,
        "deposits": deposits,
        "lots": sorted(
            (s, sym, x.side, x.qty, x.price) for (s, sym), b in books.items() for x in b
        ),
    }


def random_ledger(seed: int) -> tuple[list[Any], list[Event]]:
    rng = random.Random(seed)
    symbols = ["AAPL", "MSFT", "NVDA"]
    allocations = [
        {"alpha": "1"},
        {"beta": "1"},
        {"alpha": "0.6", "beta": "0.4"},
        {"alpha": "0.333333333", "beta": "0.333333333", "gamma": "0.333333334"},
    ]
    fills: list[Any] = []
    events: list[Event] = []
    for n in range(rng.randint(5, 60)):
        seconds = rng.randint(0, 5000)
        if rng.random() < 0.15:
            kind = rng.choice(["split", "dividend", "cash_flow", "symbol_change", "merger"])
            symbol = rng.choice(symbols)
            if kind == "split":
                new, old = rng.choice([("10", "1"), ("1", "6"), ("3", "2"), ("2", "1")])
                events.append(
                    event("split", n, seconds, symbol=symbol, ratio_new=new, ratio_old=old)
                )
            elif kind == "dividend":
                events.append(
                    event(
                        "dividend",
                        n,
                        seconds,
                        symbol=symbol,
                        amount=str(Decimal(rng.randint(-500, 5000)) / 100 or 1),
                    )
                )
            elif kind == "cash_flow":
                events.append(
                    event("cash_flow", n, seconds, amount=str(rng.choice([-1000, 2500, 49000])))
                )
            elif kind == "symbol_change":
                other = rng.choice([s for s in symbols if s != symbol])
                events.append(event("symbol_change", n, seconds, symbol=symbol, new_symbol=other))
            else:
                other = rng.choice([s for s in symbols if s != symbol])
                events.append(
                    event(
                        "merger",
                        n,
                        seconds,
                        symbol=symbol,
                        new_symbol=other,
                        ratio_new="1",
                        ratio_old=rng.choice(["2", "5"]),
                        cash_per_share=rng.choice(["0", "1.25", "400"]),
                    )
                )
            continue
        fills.append(
            strategy_fill(
                f"o{n:03d}",
                rng.choice(["BUY", "SELL"]),
                str(Decimal(rng.randint(1, 4000)) / rng.choice([1, 10, 1000])),
                str(Decimal(rng.randint(100, 90000)) / 100),
                seconds=seconds,
                symbol=rng.choice(symbols),
                allocation=rng.choice(allocations),
            )
        )
    return fills, events


@pytest.mark.parametrize("seed", range(150))
def test_the_engine_agrees_with_the_reference(seed: int) -> None:
    fills, events = random_ledger(seed)
    ledger = run_lots(attributions_of(fills), events)
    expected = reference(fills, events)

    strategies = {"alpha", "beta", "gamma"}
    realized = {s: Fraction(ledger.realized_pnl(s)) for s in strategies if ledger.realized_pnl(s)}
    assert realized == expected["realized"]
    dividends = {
        s: Fraction(ledger.dividend_income(s))
        for s in strategies
        if any(d.strategy == s for d in ledger.dividends)
    }
    assert dividends == expected["dividends"]
    assert (
        sum((Fraction(d.amount) for d in ledger.unattributed_dividends), Fraction(0))
        == expected["unattributed"]
    )
    assert Fraction(ledger.net_deposits()) == expected["deposits"]
    for match in ledger.matches:  # built unvalidated: each must be what validation makes of it
        again = Match.model_validate(match.model_dump())
        assert again == match
        assert [str(getattr(again, f)) for f in Match.model_fields] == [
            str(getattr(match, f)) for f in Match.model_fields
        ]
    assert (
        sorted(
            (x.strategy, x.symbol, x.side, Fraction(x.qty), Fraction(x.price)) for x in ledger.lots
        )
        == expected["lots"]
    )


def test_a_merger_into_no_shares_needs_cash() -> None:
    with pytest.raises(LedgerValidationError, match="needs a cash_per_share"):
        event("merger", 1, 60, symbol="AAPL", new_symbol="X", ratio_new="0", ratio_old="1")
