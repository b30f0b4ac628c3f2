"""The report's ledger sections: strategy performance, lots, strategy ledgers, cash flows and
corporate actions, fees and orders.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.platypus import (
    Paragraph,
    Spacer,
)

from ledger_store.decimals import plain
from ledger_store.dto import LEDGER_CURRENCY, quote_currency, value_of
from ledger_store.events import AssetFee, Dividend, Merger, Split, SymbolChange
from snapshots.alpaca.models import AlpacaOrder
from snapshots.ledger.models import AccountLedgerV16, AccountLedgerV17, LedgerFigures
from snapshots.report.figures import (
    NONE_TEXT,
    ReportFigures,
    fmt_datetime,
    fmt_money,
    fmt_price,
    fmt_qty,
)
from snapshots.report.layout import (
    _EXACT,
    CONTENT_WIDTH,
    FONT,
    FONT_BOLD,
    MUTED,
    NAVY,
    ORDER_STATUS_COLOURS,
    ORDERS_FONT_SIZE,
    RULE,
    SHORT,
    TABLE_FONT_SIZE,
    WARNING,
    ZEBRA,
    _count,
    _duration,
    _fit,
    _grid_table,
    _heading,
    _id_column,
    _long_heading,
    _note,
    _notional,
    _row_height,
    _signed_colour,
    _style,
    _widths,
    clean_text,
)
from snapshots.report.strategies import period_round_trips
from snapshots.schema import (
    AccountSnapshotV12,
    AnySnapshot,
    StrategyPerformance,
    TradeMetrics,
)


def _metrics_row(label: str, m: TradeMetrics) -> list[Any]:
    return [
        label,
        f"{m.total_trades} ({m.buy_trades}/{m.sell_trades})",
        fmt_money(m.total_buy_value),
        fmt_money(m.total_sell_value),
        fmt_money(m.gross_pnl, signed=True),
        fmt_money(m.realized_pnl, signed=True),
        fmt_money(m.fees),
        fmt_money(m.net_realized_pnl, signed=True),
        fmt_datetime(m.first_trade_at, seconds=False),
        fmt_datetime(m.last_trade_at, seconds=False),
    ]


def _strategy_performance(snapshot: AnySnapshot) -> list[Any]:
    if isinstance(snapshot, AccountSnapshotV12):
        return _strategy_ledgers(snapshot)
    performance = snapshot.internal_ledger.strategy_performance
    title = _heading(f"Strategy ledger: cumulative and period ({len(performance)})")
    if not performance:
        return [title, _note("The ledger has no strategy with trades before the period end.")]
    header = [
        "Scope",
        "Trades\n(buy/sell)",
        "Buy value",
        "Sell value",
        "Gross P/L",
        "Realised\nP/L",
        "Fees",
        "Net\nrealised",
        "First trade\n(UTC)",
        "Last trade\n(UTC)",
    ]
    widths = [46.0, 50.0, 56.0, 56.0, 56.0, 52.0, 40.0, 50.0, 63.0, 63.0]
    widths[0] += CONTENT_WIDTH - sum(widths)
    data: list[list[Any]] = [header]
    commands: list[tuple[Any, ...]] = []
    colours: dict[tuple[int, int], Any] = {}
    for index, (name, p) in enumerate(performance.items()):
        first = len(data)
        data.append([_strategy_cell(name, p), *[""] * 9])
        data.append(_metrics_row("Cumulative", p))
        data.append(_metrics_row("Period", p.period))
        commands += [
            ("SPAN", (0, first), (-1, first)),
            ("TOPPADDING", (0, first), (-1, first), 4),
            ("BOTTOMPADDING", (0, first), (-1, first), 1),
            ("LINEBELOW", (0, first + 2), (-1, first + 2), 0.4, RULE),
        ]
        for offset, metrics in ((1, p), (2, p.period)):
            colours[(0, first + offset)] = MUTED
            for column, value in (
                (4, metrics.gross_pnl),
                (5, metrics.realized_pnl),
                (7, metrics.net_realized_pnl),
            ):
                colours[(column, first + offset)] = _signed_colour(value)
        if index % 2:
            commands.append(("BACKGROUND", (0, first), (-1, first + 2), ZEBRA))
    table = _grid_table(
        data,
        widths,
        right=range(1, 10),
        colours=colours,
        commands=commands,
        zebra=False,
        font_size=7.2,
        pad_x=2.5,
    )
    note = _note(
        "Cumulative: every fill attributed to the strategy before the period end. Period: fills "
        "inside the period. Realised P/L is FIFO, before fees; net realised = realised \u2212 fees."
    )
    return [title, table, note]


STRATEGY_CELL: Final = _style("strategy", fontName=FONT_BOLD, fontSize=8, leading=10.4)


def _strategy_cell(name: str, p: StrategyPerformance) -> Any:
    """The strategy's name, then its symbols and open lots / oversells in small muted text."""
    details = "Symbols " + (", ".join(p.symbols_traded) or NONE_TEXT)
    if p.open_lots:
        details += f" \u00b7 {_count(len(p.open_lots), 'open lot')}"
    if p.oversells:
        details += f" \u00b7 {_count(len(p.oversells), 'oversell')}"
    muted = MUTED.hexval()[2:]
    return Paragraph(
        f'{escape(clean_text(name))}&nbsp;&nbsp;<font name="{FONT}" size="6.8" '
        f'color="#{muted}">{escape(clean_text(details))}</font>',
        STRATEGY_CELL,
    )


#: Round trips listed one by one; beyond, the largest by |P&L| (the snapshot has them all).
ROUND_TRIP_ROWS: Final = 60


def _round_trip_list(snapshot: AnySnapshot) -> list[Any]:
    """Every round trip closed in the period, by close time, or the largest first when there
    are more than ``ROUND_TRIP_ROWS``: entry and exit, quantity, P&L and holding time."""
    trips = period_round_trips(snapshot)
    if not trips:
        return []  # none closed, or a 1.0/1.1 snapshot (FIFO lots of its own, no round trips)
    total = len(trips)
    if total > ROUND_TRIP_ROWS:
        trips = sorted(trips, key=lambda m: (-abs(m.realized_pnl), m.closed_at, m.close_order_id))
        trips = trips[:ROUND_TRIP_ROWS]
    else:
        trips = sorted(trips, key=lambda m: (m.closed_at, m.strategy, m.close_order_id))
    widths = _widths(17, 16, 13, 7, 10, 11, 11, 12, 10)
    data: list[list[Any]] = [
        ["Closed (UTC)", "Strategy", "Symbol", "Side", "Qty", "Entry", "Exit", "P&L", "Held"]
    ]
    colours: dict[tuple[int, int], Any] = {}
    for row, m in enumerate(trips, start=1):
        data.append(
            [
                fmt_datetime(m.closed_at, seconds=False),
                _fit(m.strategy, widths[1] - 7),
                _fit(m.symbol, widths[2] - 7),
                m.side,
                fmt_qty(m.qty),
                fmt_price(m.open_price),
                fmt_price(m.close_price),
                fmt_money(m.realized_pnl, signed=True),
                _duration(Decimal((m.closed_at - m.opened_at).total_seconds())),
            ]
        )
        colours[(7, row)] = _signed_colour(m.realized_pnl)
    table = _grid_table(
        data, widths, right=range(4, 9), colours=colours, row_height=_row_height(7.2, 1.8)
    )
    shown = (
        f"the {len(trips)} largest by P&L of {total}, largest first"
        if total > len(trips)
        else "by close time"
    )
    return [
        *_long_heading(f"Round trips closed in the period ({total})"),
        table,
        _note(
            f"Each lot slice closed in the period ({shown}): entry and exit prices, P&L "
            "before fees (\u00d7 100 for an option contract), holding time from the opening "
            "fill to the closing one. The snapshot holds them all (each strategy's "
            "period_round_trips)."
        ),
    ]


def _lots_and_oversells(snapshot: AnySnapshot) -> list[Any]:
    if isinstance(snapshot, AccountSnapshotV12):
        return _signed_lots(snapshot) + _cash_and_actions(snapshot)
    performance = snapshot.internal_ledger.strategy_performance.values()
    lots = [lot for p in performance for lot in p.open_lots]
    oversells = [o for p in performance for o in p.oversells]
    story: list[Any] = []
    row_height = _row_height(TABLE_FONT_SIZE, 2.2)
    if lots:
        widths = _widths(70, 46, 156, 82, 46, 56, 76)
        data: list[list[Any]] = [
            ["Strategy", "Symbol", "Order", "Opened (UTC)", "Qty", "Price", "Cost"]
        ]
        ids = _id_column([lot.order_id for lot in lots], widths[2] - 7)
        for lot, order_id in zip(lots, ids, strict=True):
            data.append(
                [
                    _fit(lot.strategy, widths[0] - 7),
                    _fit(lot.symbol, widths[1] - 7),
                    order_id,
                    fmt_datetime(lot.opened_at),
                    fmt_qty(lot.qty),
                    fmt_price(lot.price),
                    fmt_money(value_of(lot.symbol, lot.qty, lot.price)),
                ]
            )
        table = _grid_table(data, widths, right=range(4, 7), row_height=row_height)
        story += [_heading(f"Open FIFO lots ({len(lots)})"), table]
    if oversells:
        widths = _widths(80, 56, 156, 84, 70, 86)
        data = [["Strategy", "Symbol", "Order", "Filled (UTC)", "Sell qty", "Unmatched qty"]]
        ids = _id_column([o.order_id for o in oversells], widths[2] - 7)
        for o, order_id in zip(oversells, ids, strict=True):
            data.append(
                [
                    _fit(o.strategy, widths[0] - 7),
                    _fit(o.symbol, widths[1] - 7),
                    order_id,
                    fmt_datetime(o.filled_at),
                    fmt_qty(o.sell_qty),
                    fmt_qty(o.unmatched_qty),
                ]
            )
        colours = {(5, row): WARNING for row in range(1, len(data))}
        table = _grid_table(data, widths, right=(4, 5), colours=colours, row_height=row_height)
        story += [
            _heading(f"Oversells ({len(oversells)})"),
            table,
            _note(
                "Sells larger than the strategy's open lots; the unmatched part realised no P/L."
            ),
        ]
    return story


def _ledger_row(label: str, m: LedgerFigures, unrealized: Any, total: Any) -> list[Any]:
    return [
        label,
        f"{m.total_trades} ({m.buy_trades}/{m.sell_trades})",
        fmt_money(m.net_cash_flow, signed=True),
        fmt_money(m.realized_pnl, signed=True),
        fmt_money(m.dividends, signed=True),
        fmt_money(m.fees),
        fmt_money(m.net_realized_pnl, signed=True),
        unrealized,
        total,
    ]


def _strategy_ledgers(snapshot: AccountSnapshotV12) -> list[Any]:
    """Snapshot 1.2: per strategy the P/L of the signed-lot ledger, cumulative and period."""
    performance = snapshot.internal_ledger.strategy_performance
    title = _heading(f"Strategy ledger: cumulative and period ({len(performance)})")
    if not performance:
        return [title, _note("The ledger has no strategy with trades before the period end.")]
    header = [
        "Scope",
        "Trades\n(buy/sell)",
        "Net cash\nflow",
        "Realised\nP/L",
        "Dividends",
        "Fees",
        "Net\nrealised",
        "Unrealised\nP/L",
        "Total\nP/L",
    ]
    widths = [52.0, 52.0, 62.0, 58.0, 54.0, 44.0, 58.0, 58.0, 58.0]
    widths[0] += CONTENT_WIDTH - sum(widths)
    data: list[list[Any]] = [header]
    commands: list[tuple[Any, ...]] = []
    colours: dict[tuple[int, int], Any] = {}
    for index, (name, p) in enumerate(performance.items()):
        first = len(data)
        details = "Symbols " + (", ".join(p.symbols_traded) or NONE_TEXT)
        if p.open_lots:
            details += f" \u00b7 {_count(len(p.open_lots), 'open lot')}"
        data.append([_strategy_label(name, details), *[""] * 8])
        data.append(
            _ledger_row(
                "Cumulative",
                p,
                fmt_money(p.unrealized_pnl, signed=True),
                fmt_money(p.total_pnl, signed=True),
            )
        )
        data.append(_ledger_row("Period", p.period, NONE_TEXT, NONE_TEXT))
        commands += [
            ("SPAN", (0, first), (-1, first)),
            ("TOPPADDING", (0, first), (-1, first), 4),
            ("BOTTOMPADDING", (0, first), (-1, first), 1),
            ("LINEBELOW", (0, first + 2), (-1, first + 2), 0.4, RULE),
        ]
        for offset, figures, extra in ((1, p, (p.unrealized_pnl, p.total_pnl)), (2, p.period, ())):
            colours[(0, first + offset)] = MUTED
            values = (figures.realized_pnl, figures.dividends, figures.net_realized_pnl, *extra)
            for column, value in zip((3, 4, 6, 7, 8), values, strict=False):
                if value is not None:
                    colours[(column, first + offset)] = _signed_colour(value)
        if index % 2:
            commands.append(("BACKGROUND", (0, first), (-1, first + 2), ZEBRA))
    table = _grid_table(
        data,
        widths,
        right=range(1, 9),
        colours=colours,
        commands=commands,
        zebra=False,
        font_size=7.2,
        pad_x=2.5,
    )
    note = _note(
        "Realised P/L: closed round trips, signed FIFO (longs sold, shorts covered), before fees; "
        "net realised = realised + dividends \u2212 fees; unrealised: open lots at Alpaca's "
        "current prices; total = net realised + unrealised. Net cash flow = sells \u2212 buys: "
        "cash, not profit."
    )
    return [title, table, note]


def _strategy_label(name: str, details: str) -> Any:
    muted = MUTED.hexval()[2:]
    return Paragraph(
        f'{escape(clean_text(name))}&nbsp;&nbsp;<font name="{FONT}" size="6.8" '
        f'color="#{muted}">{escape(clean_text(details))}</font>',
        STRATEGY_CELL,
    )


def _signed_lots(snapshot: AccountSnapshotV12) -> list[Any]:
    lots = [
        lot for p in snapshot.internal_ledger.strategy_performance.values() for lot in p.open_lots
    ]
    if not lots:
        return []
    widths = _widths(66, 44, 36, 150, 82, 46, 56, 70)
    data: list[list[Any]] = [
        ["Strategy", "Symbol", "Side", "Order", "Opened (UTC)", "Qty", "Price", "Cost"]
    ]
    ids = _id_column([lot.order_id for lot in lots], widths[3] - 7)
    for lot, order_id in zip(lots, ids, strict=True):
        data.append(
            [
                _fit(lot.strategy, widths[0] - 7),
                _fit(lot.symbol, widths[1] - 7),
                lot.side,
                order_id,
                fmt_datetime(lot.opened_at),
                fmt_qty(lot.qty),
                fmt_price(lot.price),
                fmt_money(value_of(lot.symbol, lot.qty, lot.price)),
            ]
        )
    colours = {(2, row): SHORT for row, lot in enumerate(lots, start=1) if lot.side == "short"}
    table = _grid_table(
        data,
        widths,
        right=range(5, 8),
        colours=colours,
        row_height=_row_height(TABLE_FONT_SIZE, 2.2),
    )
    return [_heading(f"Open lots ({len(lots)})"), table]


def _cash_and_actions(snapshot: AccountSnapshotV12) -> list[Any]:
    ledger = snapshot.internal_ledger
    rows: list[list[Any]] = []
    for flow in ledger.cash_flows:
        what = "deposit" if flow.amount > 0 else "withdrawal"
        rows.append(
            [
                fmt_datetime(flow.effective_at),
                what,
                flow.source or NONE_TEXT,
                _fit(" ".join((flow.description or "").split()), 170),
                fmt_money(flow.amount, signed=True),
            ]
        )
    for action in ledger.corporate_actions:
        detail = _action_text(action)
        rows.append(
            [
                fmt_datetime(action.effective_at),
                action.kind.value.replace("_", " "),
                action.source or NONE_TEXT,
                detail,
                "",
            ]
        )
    unattributed = {d.event_id for d in ledger.unattributed_dividends}
    for dividend in ledger.dividends:
        rows.append(
            [
                fmt_datetime(dividend.effective_at),
                "dividend" if dividend.amount > 0 else "withholding",
                dividend.source or NONE_TEXT,
                _fit(_dividend_text(dividend, dividend.event_id in unattributed), 170),
                fmt_money(dividend.amount, signed=True),
            ]
        )
    fees = ledger.asset_fees if isinstance(ledger, AccountLedgerV16) else ()
    unpaid = set(ledger.unattributed_asset_fees) if isinstance(ledger, AccountLedgerV16) else set()
    for fee in fees:
        rows.append(
            [
                fmt_datetime(fee.effective_at),
                "fee in coin",
                fee.source or NONE_TEXT,
                _fit(_asset_fee_text(fee, fee in unpaid), 170),
                "",
            ]
        )
    expiries = ledger.option_expiries if isinstance(ledger, AccountLedgerV16) else ()
    for expiry in expiries:
        rows.append(
            [
                fmt_datetime(expiry.effective_at),
                "option expiry",
                expiry.source or NONE_TEXT,
                f"{expiry.symbol} {plain(expiry.qty)}",
                "",
            ]
        )
    exercises = ledger.option_exercises if isinstance(ledger, AccountLedgerV17) else ()
    uncovered = (
        set(ledger.unattributed_option_exercises) if isinstance(ledger, AccountLedgerV17) else set()
    )
    for exercise in exercises:
        rows.append(
            [
                fmt_datetime(exercise.effective_at),
                "option exercise" if exercise.exercised else "option assignment",
                exercise.source or NONE_TEXT,
                _fit(
                    f"{exercise.symbol} {plain(exercise.qty)}: {plain(exercise.shares)} "
                    f"{exercise.underlying} @ {plain(exercise.price)}"
                    + (" \u00b7 no contract held" if exercise in uncovered else ""),
                    170,
                ),
                fmt_money(
                    value_of(exercise.underlying, -exercise.shares, exercise.price), signed=True
                ),
            ]
        )
    lieu = ledger.cash_in_lieu if isinstance(ledger, AccountLedgerV16) else ()
    unsold = (
        set(ledger.unattributed_cash_in_lieu) if isinstance(ledger, AccountLedgerV16) else set()
    )
    for paid in lieu:
        rows.append(
            [
                fmt_datetime(paid.effective_at),
                "cash in lieu",
                paid.source or NONE_TEXT,
                f"{paid.symbol} fraction sold"
                + (" \u00b7 no fraction held" if paid in unsold else ""),
                fmt_money(paid.amount, signed=True),
            ]
        )
    note = _note(
        f"Net deposits: {fmt_money(ledger.net_deposits, signed=True)} in the period, "
        f"{fmt_money(ledger.net_deposits_cumulative, signed=True)} since the ledger began: "
        "capital, never counted as profit."
        + (
            " A fee in coin shrinks the newest lots of the coin at the same cost: it shows in "
            "the P/L when the coin is sold."
            if fees
            else ""
        )
        + (
            " An option exercised or assigned delivers its shares at the strike, its premium "
            "folded into their cost or proceeds as US brokers report it (a call's added, a "
            "put's subtracted): the contract itself realises nothing."
            if exercises
            else ""
        )
    )
    if not rows:
        return [_heading("Cash flows, dividends and corporate actions"), note]
    rows.sort(key=lambda r: r[0])
    widths = _widths(96, 110, 50, 176, 80)
    data: list[list[Any]] = [["When (UTC)", "What", "Source", "Detail", "Amount"], *rows]
    table = _grid_table(data, widths, right=(4,), row_height=_row_height(TABLE_FONT_SIZE, 2.2))
    return [_heading(f"Cash flows, dividends and corporate actions ({len(rows)})"), table, note]


def _dividend_text(dividend: Dividend, unattributed: bool) -> str:
    parts = [dividend.symbol]
    if dividend.qty is not None:
        parts.append(f"{plain(dividend.qty)} sh")
    if dividend.per_share_amount is not None:
        parts.append(f"{plain(dividend.per_share_amount)}/sh")
    if unattributed:
        parts.append("no strategy held it")
    return " \u00b7 ".join(parts)


def _asset_fee_text(fee: AssetFee, unattributed: bool) -> str:
    """``ETHUSD -0.000195 (about 0.37)``: the coin taken and its value then."""
    text = f"{fee.symbol} -{plain(fee.qty)}"
    if fee.price is not None:
        text += f" (about {fmt_money(_EXACT.multiply(fee.qty, fee.price))})"
    return text + (" \u00b7 no lot held it" if unattributed else "")


def _action_text(action: Split | SymbolChange | Merger) -> str:
    if isinstance(action, Split):
        return f"{action.symbol} {plain(action.ratio_new)} for {plain(action.ratio_old)}"
    if isinstance(action, SymbolChange):
        return f"{action.symbol} \u2192 {action.new_symbol}"
    cash = f" + {plain(action.cash_per_share)} cash" if action.cash_per_share else ""
    return (
        f"{action.symbol} \u2192 {plain(action.ratio_new)}/{plain(action.ratio_old)} "
        f"{action.new_symbol}{cash}"
    )


def _fees(snapshot: AnySnapshot, figures: ReportFigures) -> list[Any]:
    title = _heading(
        f"Fees ({_count(len(snapshot.alpaca_fees), 'activity')})".replace("activitys", "activities")
    )
    summary: list[list[Any]] = [["Source", "Sub type", "Count", "Fees"]]
    for total in figures.alpaca_fees_by_sub_type:
        summary.append(
            [
                "Alpaca",
                _fit(total.sub_type or NONE_TEXT, 100),
                str(total.count),
                fmt_money(total.amount),
            ]
        )
    summary.append(
        ["Alpaca", "Total", str(len(snapshot.alpaca_fees)), fmt_money(figures.alpaca_fees)]
    )
    summary.append(
        [
            "Ledger",
            "Total (trades in period)",
            str(figures.ledger_trades),
            fmt_money(figures.ledger_fees),
        ]
    )
    commands = [
        ("FONT", (0, -2), (-1, -1), FONT_BOLD, TABLE_FONT_SIZE),
        ("LINEABOVE", (0, -2), (-1, -2), 0.6, NAVY),
    ]
    summary_table = _grid_table(
        summary, [70, 120, 60, 80], right=(2, 3), commands=commands, long=False, h_align="LEFT"
    )
    window = (
        f"Fee activities created {fmt_datetime(snapshot.fee_window_start)} \u2013 "
        f"{fmt_datetime(snapshot.fee_window_end)} UTC. Fees are positive amounts here as "
        "everywhere in the report (a rebate is negative and lowers them); each activity's fee "
        "is Alpaca's net amount with the sign turned, to the four places Alpaca gives."
    )
    story: list[Any] = [title, summary_table, _note(window)]
    if snapshot.alpaca_fees:
        widths = _widths(15, 8, 11, 8, 9, 10, 39)
        data: list[list[Any]] = [
            ["Created (UTC)", "Sub type", "Symbol", "Qty", "Per share", "Fee", "Description"]
        ]
        for fee in snapshot.alpaca_fees:
            data.append(
                [
                    fmt_datetime(fee.created_at),
                    _fit(fee.activity_sub_type or NONE_TEXT, widths[1] - 7),
                    _fit(fee.symbol or NONE_TEXT, widths[2] - 7),
                    fmt_qty(fee.qty),
                    fmt_price(fee.per_share_amount),
                    fmt_money(-fee.net_amount, places=4),
                    _fit(fee.description or NONE_TEXT, widths[6] - 7),
                ]
            )
        table = _grid_table(
            data, widths, right=(3, 4, 5), row_height=_row_height(TABLE_FONT_SIZE, 2.2)
        )
        story += [Spacer(1, 8), table]
    return story


ORDER_HEADER: Final = [
    "#",
    "Order id",
    "Submitted (UTC)",
    "Symbol",
    "Side",
    "Type",
    "Status",
    "Qty",
    "Filled",
    "Avg price",
]


def _order_price(order: AlpacaOrder) -> str:
    """The average fill price; in a pair quoted in another currency, exact and named
    (``0.0305 BTC``: never read as dollars)."""
    quote = quote_currency(order.symbol or "")
    if quote == LEDGER_CURRENCY or order.filled_avg_price is None:
        return fmt_price(order.filled_avg_price)
    return f"{fmt_qty(order.filled_avg_price)} {quote}"


def _orders(snapshot: AnySnapshot, figures: ReportFigures) -> list[Any]:
    orders = snapshot.alpaca_orders
    legs = f" + {_count(figures.order_legs, 'leg')}" if figures.order_legs else ""
    title = _long_heading(f"Orders ({len(orders)}{legs})")
    if not orders:
        return [*title, _note("No orders in the period.")]
    widths = [21.0, 143.0, 72.0, 0.0, 26.0, 44.0, 56.0, 38.0, 38.0, 44.0]
    widths[3] = CONTENT_WIDTH - sum(widths)
    size, pad_x, pad_y = ORDERS_FONT_SIZE, 2.5, 1.6
    data: list[list[str]] = [ORDER_HEADER]
    colours: dict[tuple[int, int], Any] = {}

    every = [o.id for order in orders for o in (order, *order.legs)]
    ids = dict(zip(every, _id_column(every, widths[1] - 2 * pad_x, size=size), strict=True))

    def add(order: AlpacaOrder, label: str, leg: bool) -> None:
        row = len(data)
        data.append(
            [
                label,
                ids[order.id],
                fmt_datetime(order.submitted_at),
                _fit(order.symbol or NONE_TEXT, widths[3] - 2 * pad_x, size=size),
                _fit(order.side or NONE_TEXT, widths[4] - 2 * pad_x, size=size),
                _fit(order.type or NONE_TEXT, widths[5] - 2 * pad_x, size=size),
                _fit(order.status.replace("_", " "), widths[6] - 2 * pad_x, size=size),
                fmt_qty(order.qty) if order.qty is not None else _notional(order),
                fmt_qty(order.filled_qty),
                _fit(_order_price(order), widths[9] - 2 * pad_x, size=size),
            ]
        )
        colours[(0, row)] = MUTED
        if leg:
            colours.update({(column, row): MUTED for column in range(1, 10)})
        colour = ORDER_STATUS_COLOURS.get(order.status)
        if colour is not None:
            colours[(6, row)] = colour

    for number, order in enumerate(orders, start=1):
        add(order, str(number), leg=False)
        for leg in order.legs:
            add(leg, "\u21b3", leg=True)
    table = _grid_table(
        data,
        widths,
        right=(0, 7, 8, 9),
        font_size=size,
        pad_x=pad_x,
        pad_y=pad_y,
        colours=colours,
        row_height=_row_height(size, pad_y),
    )
    note = _note(
        "Every order the snapshot holds (submitted or filled in the period), by submission time; "
        "legs of multi-leg orders follow their parent (\u21b3)."
    )
    return [*title, table, note]
