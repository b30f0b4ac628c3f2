"""A crypto pair quoted in another currency than USD (ETH/BTC, BTC/USDT, ETH/USDC) is recorded
with ``quote_usd_rate``, the USD value of one unit of its quote currency at the fill's time, and
refused without it at every door the ledger has, with the pair and what to supply named, and
nothing written (issue 24). The rate is stored with the fill and its attributions, read back on
every path (GSI3 does not project it), and part of what the digests cover."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.digests import digest_sum
from ledger_store.dto import (
    TradeFill,
    parse_fill,
    quote_currency,
    quote_rate_problem,
)
from ledger_store.errors import (
    ConflictError,
    IntegrityError,
    LedgerValidationError,
    NotFoundError,
)
from ledger_store.trades import TradeLedgerRepository
from tests.builders import ACCOUNT, fill_data, make_fill
from tests.snapshots.cli.test_cli import conn, jsonl, run

FOREIGN = ["ETH/BTC", "BTC/USDT", "ETH/USDC", "SOL/BTC"]


@pytest.mark.parametrize(
    ("symbol", "quote"),
    [
        ("ETH/BTC", "BTC"),
        ("BTC/USDT", "USDT"),
        ("BTC/USD", "USD"),
        ("AAPL", "USD"),
        ("SPY261120P00553000", "USD"),
        ("BRK.B", "USD"),
        ("USD", "USD"),  # ProShares Ultra Semiconductors: a share, not a pair of USD with itself
    ],
)
def test_the_quote_currency_is_the_pairs_second_half_else_usd(symbol: str, quote: str) -> None:
    assert quote_currency(symbol) == quote
    assert (quote_rate_problem(symbol, None) is None) is (quote == "USD")
    assert quote_rate_problem(symbol, Decimal("2")) is None
    if "/" not in symbol:
        assert parse_fill(fill_data(symbol=symbol)).symbol == symbol


@pytest.mark.parametrize("symbol", FOREIGN)
def test_a_fill_line_in_another_quote_currency_without_a_rate_is_refused_with_the_reason(
    symbol: str,
) -> None:
    with pytest.raises(LedgerValidationError) as caught:
        parse_fill(fill_data(symbol=symbol, qty="0.5", price="0.05"))
    message = str(caught.value)
    quote = symbol.split("/")[1]
    assert f"{symbol} is quoted in {quote}, not USD" in message
    assert f"needs quote_usd_rate, the USD value of one {quote}" in message
    assert "nothing is recorded" in message


def test_a_rate_is_taken_only_for_a_pair_that_needs_it() -> None:
    with pytest.raises(LedgerValidationError, match="AAPL is quoted in USD"):
        parse_fill(fill_data(quote_usd_rate="1"))
    with pytest.raises(LedgerValidationError, match=r"quote_usd_rate: .*must be > 0"):
        parse_fill(fill_data(symbol="ETH/BTC", price="0.05", quote_usd_rate="0"))
    with pytest.raises(LedgerValidationError, match="at most 9 decimal places"):
        parse_fill(fill_data(symbol="ETH/BTC", price="0.05", quote_usd_rate="1.0000000001"))


def test_a_fill_is_bounded_in_usd_as_a_usd_fill_is() -> None:
    """0.05 BTC x 10,000 ETH is within the notional limit in BTC, not at 10^7 USD a BTC."""
    with pytest.raises(LedgerValidationError, match=r"notional in USD .* above the limit"):
        parse_fill(
            fill_data(symbol="ETH/BTC", qty="10000", price="0.05", quote_usd_rate="10000000")
        )


def test_a_usd_fills_json_and_hash_do_not_name_the_rate() -> None:
    """Every fill recorded before rates existed keeps its bytes, so its content_sha256 (and an
    identical re-record) is unchanged."""
    fill = make_fill()
    assert "quote_usd_rate" not in fill.model_dump(mode="json")
    assert all("quote_usd_rate" not in a.model_dump(mode="json") for a in fill.attributions())
    crossed = make_fill(symbol="ETH/BTC", price="0.05", quote_usd_rate="60000")
    assert crossed.model_dump(mode="json")["quote_usd_rate"] == "60000"
    assert (
        crossed.content_sha256()
        != make_fill(symbol="ETH/BTC", price="0.05", quote_usd_rate="60001").content_sha256()
    )


def _rateless(order_id: str, symbol: str = "ETH/BTC") -> TradeFill:
    """A fill built past ``parse_fill`` (a caller with its own DTO), which every write refuses."""
    return TradeFill.model_validate(fill_data(order_id=order_id, symbol=symbol, price="0.05"))


def test_record_refuses_it_and_writes_nothing(ledger: TradeLedgerRepository) -> None:
    with pytest.raises(LedgerValidationError, match="ETH/BTC is quoted in BTC"):
        ledger.record(_rateless("eth-btc-1"))
    with pytest.raises(NotFoundError):
        ledger.get_trade("eth-btc-1")
    assert ledger.strategies(ACCOUNT) == []


def test_record_many_refuses_it_in_its_place_and_records_the_others(
    ledger: TradeLedgerRepository,
) -> None:
    usd = make_fill(order_id="btc-usd-1", symbol="BTC/USD", qty="0.5", price="60000")
    results = ledger.record_many([_rateless("btc-usdt-1", "BTC/USDT"), usd])
    refused, recorded = results
    assert isinstance(refused, LedgerValidationError)
    assert "BTC/USDT is quoted in USDT" in str(refused)
    assert getattr(recorded, "status", None) == "recorded"
    with pytest.raises(NotFoundError):
        ledger.get_trade("btc-usdt-1")


def test_amend_refuses_a_crossed_pair_without_its_rate_and_takes_it_with_one(
    ledger: TradeLedgerRepository,
) -> None:
    ledger.record(make_fill(order_id="o-1"))
    with pytest.raises(LedgerValidationError, match="ETH/BTC is quoted in BTC"):
        ledger.amend(_rateless("o-1"), reason="wrong pair", actor="test")
    assert ledger.get_trade("o-1").fill.symbol == make_fill(order_id="o-1").symbol
    rated = make_fill(order_id="o-1", symbol="ETH/BTC", price="0.05", quote_usd_rate="60000")
    assert ledger.amend(rated, reason="the pair was ETH/BTC", actor="test").status == "amended"
    assert ledger.get_trade("o-1").fill.quote_usd_rate == Decimal("60000")


def test_the_rate_is_stored_and_read_back_on_every_path(ledger: TradeLedgerRepository) -> None:
    """The trade, its attributions by strategy (GSI3 does not project the rate: it is read from
    the attribution items), by correlation and by symbol; the registry's digest covers it."""
    usd = make_fill(order_id="btc-usd-1", symbol="BTC/USD", qty="1", price="50000")
    crossed = [
        make_fill(
            order_id=f"eth-btc-{n}",
            symbol="ETH/BTC",
            qty="2",
            price="0.05",
            quote_usd_rate=f"6000{n}",
            filled_at=usd.filled_at.replace(second=n),
        )
        for n in range(1, 4)
    ]
    for fill in [usd, *crossed]:
        assert ledger.record(fill).created
        assert ledger.record(fill).status == "already_recorded"  # same content, same hash
    assert ledger.get_trade("eth-btc-2").fill == crossed[1]
    assert ledger.recorded_fills(["eth-btc-2", "btc-usd-1", "missing"]) == {
        "eth-btc-2": crossed[1],
        "btc-usd-1": usd,
    }
    assert {a.quote_usd_rate for a in ledger.get_trade("eth-btc-2").attributions} == {
        Decimal("60002")
    }
    for strategy in ("alpha", "beta"):
        read = list(ledger.attributions_by_strategy(ACCOUNT, strategy))
        assert [(a.order_id, a.quote_usd_rate) for a in read] == [
            ("btc-usd-1", None),
            ("eth-btc-1", Decimal("60001")),
            ("eth-btc-2", Decimal("60002")),
            ("eth-btc-3", Decimal("60003")),
        ]
        registered = {r.strategy: r for r in ledger.strategies(ACCOUNT)}[strategy]
        assert (registered.entries_digest or 0) % 2**128 == digest_sum(read) % 2**128
    assert [f.quote_usd_rate for f in ledger.trades_by_symbol("ETH/BTC")] == [
        Decimal("60001"),
        Decimal("60002"),
        Decimal("60003"),
    ]


def test_an_import_takes_the_rate_from_the_file_and_refuses_a_line_without_it(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = jsonl(
        tmp_path / "fills.jsonl",
        [
            fill_data(order_id="o-usd"),
            fill_data(order_id="o-btc", symbol="ETH/BTC", qty="1", price="0.05"),
            fill_data(
                order_id="o-rated", symbol="ETH/BTC", qty="1", price="0.05", quote_usd_rate="61000"
            ),
        ],
    )
    code, out, err = run(capsys, "trades", "import", str(path), "--no-progress", *conn(settings))
    assert code == 1
    assert "2 recorded, 0 already recorded, 1 rejected" in out
    assert f"{path}:2: order o-btc: symbol ETH/BTC is quoted in BTC, not USD" in err
    ledger = TradeLedgerRepository(settings)
    assert ledger.get_trade("o-rated").fill.quote_usd_rate == Decimal("61000")
    # Listed, its price and fees name their currency and the rate: never read as dollars.
    code, out, _ = run(capsys, "trades", "list", "--symbol", "ETH/BTC", *conn(settings))
    assert code == 0
    assert "0.05 BTC @ 61000 USD/BTC" in out
    assert "0.01 BTC" in out
    code, out, _ = run(
        capsys, "trades", "list", "--strategy", "alpha", "--account", ACCOUNT, *conn(settings)
    )
    assert "0.05 BTC @ 61000 USD/BTC" in out
    assert "187.25 " in out  # a USD fill's price as before


def test_a_re_record_in_another_quote_currency_is_a_conflict_naming_the_rate(
    ledger: TradeLedgerRepository,
) -> None:
    """The stored fill names its rate, the new one (a USD pair) none: they differ there, and
    the conflict says so (the field one side leaves out is compared as absent)."""
    crossed = make_fill(order_id="o-1", symbol="ETH/BTC", price="0.05", quote_usd_rate="60000")
    ledger.record(crossed)
    usd = make_fill(order_id="o-1", symbol="ETH/USD", price="3000")
    with pytest.raises(ConflictError) as caught:
        ledger.record(usd)
    assert "quote_usd_rate: stored '60000', given None" in str(caught.value)
    assert "symbol: stored 'ETH/BTC', given 'ETH/USD'" in str(caught.value)
    (result,) = ledger.record_many([usd])
    assert isinstance(result, ConflictError)


def test_the_strategy_read_asks_rates_in_batches_and_holds_back_little(
    settings: TableSettings,
) -> None:
    """Crossed attributions wait for their rates in groups of at most 100 (one BatchGetItem
    each), and the USD ones between never pile up beyond 1,000: the read stays a stream."""
    batches: list[tuple[int, int]] = []

    class Counting(TradeLedgerRepository):
        def _rated(self, held: Any) -> list[Any]:
            batches.append((len(held), sum(a.symbol == "ETH/BTC" for a in held)))
            return list(held)

    usd = make_fill(order_id="u", symbol="BTC/USD", price="50000").attributions()[0]
    crossed = make_fill(
        order_id="c", symbol="ETH/BTC", price="0.05", quote_usd_rate="60000"
    ).attributions()[0]
    stream = [crossed, *[usd] * 1500, *[crossed] * 250, usd]
    read = list(Counting(settings)._with_quote_rates(iter(stream)))
    assert read == stream  # in order, nothing lost
    # 1,000 held (the first crossed one and the USD ones after it), the next 500 USD straight
    # through, then the crossed ones 100 at a time and the last with the USD one after it.
    assert batches == [(1000, 1), (100, 100), (100, 100), (51, 50)]


def test_an_attribution_the_index_lists_but_whose_item_is_gone_is_a_typed_error(
    ledger: TradeLedgerRepository,
) -> None:
    """GSI3 is updated asynchronously: right after a void it may still list an attribution
    whose item is deleted. Its rate cannot be read, and the read says so instead of going on
    without it (which would stop the snapshot as if the fill had no rate)."""
    listed = make_fill(
        order_id="gone", symbol="ETH/BTC", price="0.05", quote_usd_rate="60000"
    ).attributions()
    with pytest.raises(IntegrityError, match=r"TRADE#gone / STRATEGY#alpha.*read again"):
        list(ledger._with_quote_rates(iter(listed)))
