"""The report's table of fills quoted in another currency than USD (since snapshot 1.8): the
price and fees as traded, the rate the ledger valued them at, and their USD values."""

from __future__ import annotations

from typing import Any

from ledger_store.dto import Side
from snapshots.ledger.models import AccountLedgerV18
from snapshots.report.figures import fmt_datetime, fmt_money, fmt_price, fmt_qty
from snapshots.report.layout import (
    CONTENT_WIDTH,
    ORDERS_FONT_SIZE,
    _fit,
    _grid_table,
    _id_column,
    _long_heading,
    _note,
    _row_height,
)
from snapshots.schema import AnySnapshot

_HEADER = [
    "Filled",
    "Order",
    "Pair",
    "Side",
    "Qty",
    "Price",
    "Quote coin",
    "USD per unit",
    "Value (USD)",
    "Fees (USD)",
]


def _quote_text(price: Any, currency: str) -> str:
    """A price in its quote currency, named: ``0.0305 BTC``."""
    return f"{fmt_qty(price)} {currency}"


def quoted_fills(snapshot: AnySnapshot) -> list[Any]:
    """The section, or nothing when the period has no such fill (or the snapshot predates
    1.8, whose ledger held none)."""
    ledger = snapshot.internal_ledger
    if not isinstance(ledger, AccountLedgerV18) or not ledger.quoted_fills:
        return []
    fills = ledger.quoted_fills
    widths = [72.0, 0.0, 44.0, 24.0, 40.0, 58.0, 60.0, 50.0, 48.0, 42.0]
    widths[1] = CONTENT_WIDTH - sum(widths)
    size, pad_x, pad_y = ORDERS_FONT_SIZE, 2.5, 1.6
    ids = _id_column([f.order_id for f in fills], widths[1] - 2 * pad_x, size=size)
    data: list[list[str]] = [_HEADER]
    for fill, order in zip(fills, ids, strict=True):
        data.append(
            [
                fmt_datetime(fill.filled_at),
                order,
                _fit(fill.symbol, widths[2] - 2 * pad_x, size=size),
                fill.side.value.lower(),
                fmt_qty(fill.qty),
                _fit(
                    _quote_text(fill.price, fill.quote_currency),
                    widths[5] - 2 * pad_x,
                    size=size,
                ),
                _fit(
                    _quote_text(
                        -fill.quote_qty if fill.side is Side.BUY else fill.quote_qty,
                        fill.quote_currency,
                    ),
                    widths[6] - 2 * pad_x,
                    size=size,
                ),
                fmt_price(fill.quote_usd_rate),
                fmt_money(fill.usd_value),
                fmt_money(fill.usd_fees),
            ]
        )
    table = _grid_table(
        data,
        widths,
        right=(4, 5, 6, 7, 8, 9),
        font_size=size,
        pad_x=pad_x,
        pad_y=pad_y,
        row_height=_row_height(size, pad_y),
    )
    note = _note(
        "Their prices and fees are in the pair's quote currency; every figure of this report is "
        "in USD, at the USD value of one unit of the quote currency recorded with the fill. The "
        "ledger holds each as a trade of each coin on its own USD book: buying ETH/BTC buys ETH "
        "at price \u00d7 rate and sells the BTC it spent (quote coin: qty \u00d7 price to 9 "
        "places) at the rate, a realised gain or loss on the BTC lots; the values of both count, "
        "as bought and as sold."
    )
    return [*_long_heading(f"Fills quoted in other currencies ({len(fills)})"), table, note]
