"""A crypto pair quoted in another currency than USD (ETH/BTC, BTC/USDT, ETH/USDC) is refused at
every door the ledger has, with the pair and the reason named, and nothing written: its price
and fees are not dollars, and summing them as dollars would be silently wrong (issue 24's
first slice; valuing them in USD comes next)."""

from __future__ import annotations

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill, parse_fill, quote_currency, usd_quote_problem
from ledger_store.errors import LedgerValidationError, NotFoundError
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
    ],
)
def test_the_quote_currency_is_the_pairs_second_half_else_usd(symbol: str, quote: str) -> None:
    assert quote_currency(symbol) == quote
    assert (usd_quote_problem(symbol) is None) is (quote == "USD")


@pytest.mark.parametrize("symbol", FOREIGN)
def test_a_fill_line_in_another_quote_currency_is_refused_with_the_reason(symbol: str) -> None:
    with pytest.raises(LedgerValidationError) as caught:
        parse_fill(fill_data(symbol=symbol, qty="0.5", price="0.05"))
    message = str(caught.value)
    quote = symbol.split("/")[1]
    assert f"{symbol} is quoted in {quote}, not USD" in message
    assert "nothing is recorded" in message
    assert f"({symbol.split('/')[0]}/USD)" in message


def _foreign_fill(order_id: str, symbol: str = "ETH/BTC") -> TradeFill:
    """A fill built past ``parse_fill`` (a caller with its own DTO), which every write refuses."""
    return TradeFill.model_validate(fill_data(order_id=order_id, symbol=symbol, price="0.05"))


def test_record_refuses_it_and_writes_nothing(ledger: TradeLedgerRepository) -> None:
    with pytest.raises(LedgerValidationError, match="ETH/BTC is quoted in BTC"):
        ledger.record(_foreign_fill("eth-btc-1"))
    with pytest.raises(NotFoundError):
        ledger.get_trade("eth-btc-1")
    assert ledger.strategies(ACCOUNT) == []


def test_record_many_refuses_it_in_its_place_and_records_the_others(
    ledger: TradeLedgerRepository,
) -> None:
    usd = make_fill(order_id="btc-usd-1", symbol="BTC/USD", qty="0.5", price="60000")
    results = ledger.record_many([_foreign_fill("btc-usdt-1", "BTC/USDT"), usd])
    refused, recorded = results
    assert isinstance(refused, LedgerValidationError)
    assert "BTC/USDT is quoted in USDT" in str(refused)
    assert getattr(recorded, "status", None) == "recorded"
    with pytest.raises(NotFoundError):
        ledger.get_trade("btc-usdt-1")


def test_amend_refuses_to_turn_a_fill_into_another_quote_currency(
    ledger: TradeLedgerRepository,
) -> None:
    ledger.record(make_fill(order_id="o-1"))
    with pytest.raises(LedgerValidationError, match="ETH/BTC is quoted in BTC"):
        ledger.amend(_foreign_fill("o-1"), reason="wrong pair", actor="test")
    assert ledger.get_trade("o-1").fill.symbol == make_fill(order_id="o-1").symbol


def test_an_import_reports_the_line_and_records_the_rest(
    settings: TableSettings, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    from pathlib import Path

    path = jsonl(
        Path(str(tmp_path)) / "fills.jsonl",
        [
            fill_data(order_id="o-usd"),
            fill_data(order_id="o-btc", symbol="ETH/BTC", qty="1", price="0.05"),
        ],
    )
    code, out, err = run(capsys, "trades", "import", str(path), "--no-progress", *conn(settings))
    assert code == 1
    assert "1 recorded, 0 already recorded, 1 rejected" in out
    assert f"{path}:2: order o-btc: symbol ETH/BTC is quoted in BTC, not USD" in err
