"""The ``table`` and ``trades`` commands of ``trade-ledger`` (the console script lives in
``snapshots.cli.main``, which adds the snapshot and report commands)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from ledger_store import bootstrap
from ledger_store.config import TableSettings
from ledger_store.decimals import plain
from ledger_store.dto import LEDGER_CURRENCY, StrategyAttribution, TradeFill, quote_currency
from ledger_store.embedded import embedded_aws
from ledger_store.errors import LedgerValidationError
from ledger_store.events import AccountEventRepository, Event, RecordedEvent, event_detail
from ledger_store.keys import format_micros, parse_timestamp
from ledger_store.trades import DEFAULT_WORKERS, MAX_WORKERS, TradeLedgerRepository
from snapshots.ledger.importer import (
    Format,
    ImportReport,
    count_lines,
    detect_format,
    import_events,
    import_fills,
)

Handler = Callable[[argparse.Namespace, TableSettings], int]


def connection_options() -> argparse.ArgumentParser:
    """Options every storage command takes: which table, where, and the embedded backend."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("table and endpoint")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--stage", help="table alchemiser-trade-ledger-STAGE (TRADE_LEDGER_STAGE)")
    which.add_argument("--table", help="explicit table name (TRADE_LEDGER_TABLE)")
    group.add_argument(
        "--endpoint-url", help="DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, then AWS)"
    )
    group.add_argument("--region", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION)")
    group.add_argument(
        "--embedded",
        action="store_true",
        help="use moto in this process (no AWS account; data is gone when the command ends)",
    )
    return parser


def resolve_settings(args: argparse.Namespace) -> TableSettings:
    return TableSettings.from_env(
        table_name=args.table,
        stage=args.stage,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )


def backend(args: argparse.Namespace) -> AbstractContextManager[object]:
    """moto for ``--embedded``, otherwise the SDK's configuration as is."""
    return embedded_aws() if args.embedded else nullcontext()


def run_with_settings(
    handler: Handler, *, create_embedded: bool = True
) -> Callable[[argparse.Namespace], int]:
    """Resolve the settings (inside the embedded backend when asked) and call ``handler``."""

    def run(args: argparse.Namespace) -> int:
        with ExitStack() as stack:
            stack.enter_context(backend(args))
            settings = resolve_settings(args)
            if args.embedded and create_embedded:
                # The embedded table only exists in this process: create it first.
                bootstrap.create_table(settings)
            return handler(args, settings)
        raise AssertionError("unreachable")  # pragma: no cover

    return run


def register(subparsers: Any) -> None:
    """Add ``table`` and ``trades`` to the top-level parser's subcommands."""
    common = connection_options()

    table = subparsers.add_parser(
        "table", help="create, migrate or describe the ledger table, or print its CloudFormation"
    )
    table_commands = table.add_subparsers(dest="table_command", required=True, metavar="COMMAND")
    create = table_commands.add_parser(
        "create", parents=[common], help="create the table, its GSIs and TTL (idempotent)"
    )
    create.add_argument("--wait", action="store_true", help="wait until every index is ACTIVE")
    create.set_defaults(func=run_with_settings(_table_create, create_embedded=False))
    migrate = table_commands.add_parser(
        "migrate",
        parents=[common],
        help="add the indexes a table created by an earlier version lacks (GSI5: listing)",
    )
    migrate.set_defaults(func=run_with_settings(_table_migrate, create_embedded=False))
    describe = table_commands.add_parser(
        "describe", parents=[common], help="show the table and how it differs from the models"
    )
    describe.add_argument("--json", action="store_true", help="machine-readable output")
    describe.set_defaults(func=run_with_settings(_table_describe))
    cfn = table_commands.add_parser(
        "cloudformation", help="print the AWS::DynamoDB::Table template generated from the models"
    )
    cfn.add_argument("--table", help="literal table name instead of the Stage parameter")
    cfn.set_defaults(func=_table_cloudformation)

    trades = subparsers.add_parser("trades", help="import and list fills")
    trade_commands = trades.add_subparsers(dest="trades_command", required=True, metavar="COMMAND")
    importer = trade_commands.add_parser(
        "import", parents=[common], help="record fills from JSON Lines (or .csv), idempotently"
    )
    importer.add_argument("file", type=Path)
    importer.add_argument("--format", choices=["jsonl", "csv"], help="default: by file suffix")
    importer.add_argument(
        "--workers",
        type=workers_arg,
        default=DEFAULT_WORKERS,
        help=f"fills recorded at once, 1 to {MAX_WORKERS} (default {DEFAULT_WORKERS})",
    )
    importer.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    importer.set_defaults(func=run_with_settings(_trades_import))

    listing = trade_commands.add_parser(
        "list", parents=[common], help="list fills by strategy, symbol, correlation or order"
    )
    key = listing.add_mutually_exclusive_group(required=True)
    key.add_argument("--strategy", help="with --account: the strategy's attributions (GSI3)")
    key.add_argument(
        "--symbol", type=symbol_arg, help="fills of a symbol (GSI2): AAPL, BRK.B, BTC/USD"
    )
    key.add_argument("--correlation-id", help="fills of one trading cycle (GSI1)")
    key.add_argument("--order-id", help="one fill and its attributions")
    listing.add_argument("--account", help="account id (required with --strategy)")
    listing.add_argument("--from", dest="start", type=timestamp_arg, help="inclusive start (ISO)")
    listing.add_argument("--to", dest="end", type=timestamp_arg, help="exclusive end (ISO)")
    listing.add_argument("--json", action="store_true", help="JSON Lines, one fill per line")
    listing.set_defaults(func=run_with_settings(_trades_list))

    strategies = trade_commands.add_parser(
        "strategies", parents=[common], help="the strategies an account has traded"
    )
    strategies.add_argument("--account", required=True)
    strategies.add_argument("--json", action="store_true", help="the strategies as a JSON array")
    strategies.set_defaults(func=run_with_settings(_trades_strategies))

    void = trade_commands.add_parser(
        "void",
        parents=[connection_options()],
        help="take a recorded fill out of every aggregate (append-only, kept readable)",
    )
    void.add_argument("--order-id", required=True)
    void.add_argument("--reason", required=True, help="why (kept with the correction)")
    void.add_argument("--actor", help="who (default: $USER)")
    void.set_defaults(func=run_with_settings(_trades_void))
    amend = trade_commands.add_parser(
        "amend",
        parents=[connection_options()],
        help="replace a recorded fill's content with FILE's (one JSON object, same order_id)",
    )
    amend.add_argument("file", type=Path)
    amend.add_argument("--reason", required=True, help="why (kept with the correction)")
    amend.add_argument("--actor", help="who (default: $USER)")
    amend.set_defaults(func=run_with_settings(_trades_amend))

    events = subparsers.add_parser(
        "events", help="import and list account events (splits, dividends, cash flows)"
    )
    event_commands = events.add_subparsers(dest="events_command", required=True, metavar="COMMAND")
    event_import = event_commands.add_parser(
        "import",
        parents=[connection_options()],
        help="record the events of a JSON Lines or CSV file (idempotent by event_id)",
    )
    event_import.add_argument("file", type=Path)
    event_import.add_argument("--format", choices=["jsonl", "csv"], help="default: by suffix")
    event_import.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    event_import.set_defaults(func=run_with_settings(_events_import))
    event_list = event_commands.add_parser(
        "list", parents=[connection_options()], help="an account's events, oldest first"
    )
    event_list.add_argument("--account", required=True)
    event_list.add_argument("--from", dest="start", type=timestamp_arg, help="inclusive start")
    event_list.add_argument("--to", dest="end", type=timestamp_arg, help="exclusive end")
    event_list.add_argument("--json", action="store_true", help="JSON Lines, one event per line")
    event_list.add_argument(
        "--include-voided", action="store_true", help="voided events too, with their status"
    )
    event_list.set_defaults(func=run_with_settings(_events_list))
    event_void = event_commands.add_parser(
        "void",
        parents=[connection_options()],
        help="take a wrong event out of every figure (it stays readable, its id stays taken)",
    )
    event_void.add_argument("--account", required=True)
    event_void.add_argument("--event-id", required=True)
    event_void.add_argument("--reason", required=True, help="why (kept with the event)")
    event_void.add_argument("--actor", help="who (default: $USER)")
    event_void.set_defaults(func=run_with_settings(_events_void))
    event_sync = event_commands.add_parser(
        "sync",
        parents=[connection_options()],
        help="record the events of Alpaca's non-trade activities of a range (as snapshots do)",
    )
    event_sync.add_argument("--account", required=True, help="ledger account id")
    event_sync.add_argument(
        "--from", dest="start", required=True, type=timestamp_arg, help="inclusive, UTC"
    )
    event_sync.add_argument(
        "--to", dest="end", required=True, type=timestamp_arg, help="exclusive, UTC"
    )
    event_sync.add_argument(
        "--alpaca-base-url", help="Alpaca endpoint (default: APCA_API_BASE_URL, then paper)"
    )
    event_sync.set_defaults(func=run_with_settings(_events_sync))


def symbol_arg(text: str) -> str:
    """A symbol as the ledger writes it (``aapl`` is refused, not silently found in nothing)."""
    from pydantic import TypeAdapter, ValidationError

    from ledger_store.dto import Symbol

    try:
        return str(TypeAdapter(Symbol).validate_python(text.strip()))
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(
            str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, ")
        ) from exc


def timestamp_arg(text: str) -> Any:
    """A command-line time, always UTC: ISO 8601 with ``Z`` or an offset, or without one
    (read as UTC, as every option's help says), or a date alone (its midnight UTC)."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        parsed = None  # parse_timestamp says what is wrong with it
    if parsed is not None and parsed.tzinfo is None:
        value = parsed.replace(tzinfo=UTC).isoformat()
    try:
        return parse_timestamp(value)
    except LedgerValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


# table ------------------------------------------------------------------------------------


def _table_create(args: argparse.Namespace, settings: TableSettings) -> int:
    outcome = bootstrap.create_table(settings, wait=args.wait)
    if outcome == "created":
        count = len(bootstrap.expected_definition().indexes)
        print(f"created table {settings.table_name} ({count} GSIs, TTL on 'ttl', on-demand)")
    else:
        print(f"table {settings.table_name} already exists and matches the models")
    return 0


def _table_migrate(args: argparse.Namespace, settings: TableSettings) -> int:
    added = bootstrap.add_missing_indexes(settings)
    if added:
        print(f"added {', '.join(added)} to {settings.table_name}; it now matches the models")
    else:
        print(f"table {settings.table_name} already matches the models")
    return 0


def _table_describe(args: argparse.Namespace, settings: TableSettings) -> int:
    description = bootstrap.describe_table(settings)
    if args.json:
        print(json.dumps(description.as_dict(), indent=2, sort_keys=True))
    else:
        rows = [
            ("table", description.table_name),
            ("endpoint", description.endpoint),
            ("region", description.region),
            ("status", description.status),
            ("items", str(description.item_count)),
            ("billing", description.billing_mode),
            ("ttl", f"{description.ttl_status} ({description.ttl_attribute or '-'})"),
        ]
        for index in description.indexes:
            keys = index["keys"]
            projection = index["projection"]
            if index["non_key_attributes"]:
                projection += " " + ",".join(index["non_key_attributes"])
            rows.append(
                (index["name"], f"{keys['HASH']}/{keys['RANGE']} {projection} {index['status']}")
            )
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            print(f"{label:<{width}}  {value}")
        if description.differences:
            print("differs from the models:")
            for difference in description.differences:
                print(f"  - {difference}")
        else:
            print("matches the models")
    return 0 if not description.differences else 3


def _table_cloudformation(args: argparse.Namespace) -> int:
    print(json.dumps(bootstrap.cloudformation_template(args.table), indent=2))
    return 0


# trades -----------------------------------------------------------------------------------


def _trades_import(args: argparse.Namespace, settings: TableSettings) -> int:
    repository = TradeLedgerRepository(settings)
    return _import_file(
        args,
        "fill",
        lambda path, fmt, progress: import_fills(
            repository, path, fmt=fmt, progress=progress, workers=args.workers
        ),
    )


def workers_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_WORKERS}")
    return value


def _default_actor() -> str:
    import os

    return os.environ.get("USER") or os.environ.get("USERNAME") or "trade-ledger-cli"


def _trades_void(args: argparse.Namespace, settings: TableSettings) -> int:
    result = TradeLedgerRepository(settings).void(
        args.order_id, reason=args.reason, actor=args.actor or _default_actor()
    )
    print(f"{result.status}: order {result.order_id} (revision {result.revision})")
    return 0


def _trades_amend(args: argparse.Namespace, settings: TableSettings) -> int:
    from ledger_store.dto import parse_fill
    from snapshots.ledger.importer import read_json_file

    data = read_json_file(args.file)  # the rules of an import line: BOM, exact numbers, ...
    result = TradeLedgerRepository(settings).amend(
        parse_fill(data), reason=args.reason, actor=args.actor or _default_actor()
    )
    print(f"{result.status}: order {result.order_id} (revision {result.revision})")
    return 0


def _events_import(args: argparse.Namespace, settings: TableSettings) -> int:
    repository = AccountEventRepository(settings)
    return _import_file(
        args,
        "event",
        lambda path, fmt, progress: import_events(repository, path, fmt=fmt, progress=progress),
    )


def _import_file(
    args: argparse.Namespace,
    unit: str,
    run: Callable[[Path, Format, Callable[[int], object]], ImportReport],
) -> int:
    """Import ``args.file`` with a progress bar; report each bad line as ``FILE:LINE: reason``."""
    from tqdm import tqdm

    path: Path = args.file
    if path.is_dir():
        raise LedgerValidationError(f"{path} is a folder: name the file to import")
    if not path.is_file():
        raise LedgerValidationError(f"no such file: {path}")
    fmt = args.format or detect_format(path)
    total = count_lines(path) - (1 if fmt == "csv" else 0)
    with tqdm(
        total=total, unit=unit, desc="import", disable=args.no_progress or None, file=sys.stderr
    ) as bar:
        report = run(path, fmt, bar.update)
    for problem in report.problems:
        print(f"{path}:{problem.line}: {problem.reason}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1


def _events_list(args: argparse.Namespace, settings: TableSettings) -> int:
    repository = AccountEventRepository(settings)
    if not args.include_voided:
        events = repository.events(args.account, args.start, args.end)
        if args.json:  # an event file: what ``events import`` reads
            for event in events:
                print(json.dumps(event.model_dump(mode="json"), sort_keys=True, ensure_ascii=False))
            return 0
        rows: Iterator[list[str]] = (_event_row(e) for e in events)
        print_table(["effective_at", "kind", "event_id", "symbol", "detail"], rows, out=sys.stdout)
        return 0
    history = repository.history(args.account, args.start, args.end)
    if args.json:
        for recorded in history:
            data = recorded.model_dump(mode="json")
            print(json.dumps(data, sort_keys=True, ensure_ascii=False))
        return 0
    rows = ([*_event_row(r.event), _void_text(r)] for r in history)
    print_table(
        ["effective_at", "kind", "event_id", "symbol", "detail", "status"], rows, out=sys.stdout
    )
    return 0


def _event_row(event: Event) -> list[str]:
    return [
        format_micros(event.effective_at),
        event.kind.value,
        event.event_id,
        getattr(event, "symbol", None) or "",
        event_detail(event),
    ]


def _void_text(recorded: RecordedEvent) -> str:
    if recorded.status == "active" or recorded.voided_at is None:
        return recorded.status
    return (
        f"voided {format_micros(recorded.voided_at)} by {recorded.void_actor}: "
        f"{recorded.void_reason}"
    )


def _events_void(args: argparse.Namespace, settings: TableSettings) -> int:
    result = AccountEventRepository(settings).void(
        args.account, args.event_id, reason=args.reason, actor=args.actor or _default_actor()
    )
    print(f"{result.status}: event {result.event_id}")
    return 0


def _events_sync(args: argparse.Namespace, settings: TableSettings) -> int:
    from ledger_store.accounts import AccountBindingRepository
    from snapshots.alpaca.source import AlpacaSource
    from snapshots.builder import record_activity_events

    with AlpacaSource(base_url=args.alpaca_base_url) as source:
        account = source.fetch_account()
        activities = source.fetch_activities(args.start, args.end)
    # The keys must be this ledger account's before anything is written into it.
    AccountBindingRepository(settings).bind(args.account, account.id, account.account_number)
    sync = record_activity_events(AccountEventRepository(settings), args.account, activities)
    print(
        f"{len(activities)} non-trade activities: {len(sync.recorded)} events recorded, "
        f"{len(sync.already_recorded)} already recorded, {len(sync.superseded)} splits "
        f"superseded by an explicit event, {len(sync.unmapped)} need an explicit event"
    )
    if sync.unmapped:
        rows = (
            [
                format_micros(a.created_at),
                a.activity_type,
                a.id,
                a.symbol or "",
                "" if a.qty is None else plain(a.qty),
                "" if a.net_amount is None else plain(a.net_amount),
                a.description or "",
            ]
            for a in sync.unmapped
        )
        print_table(
            ["created_at", "type", "id", "symbol", "qty", "net_amount", "description"],
            rows,
            out=sys.stdout,
        )
        print("record these with `trade-ledger events import` (an explicit event of that day)")
    return 0


def _trades_list(args: argparse.Namespace, settings: TableSettings) -> int:
    repository = TradeLedgerRepository(settings)
    if args.strategy:
        if not args.account:
            raise LedgerValidationError("--strategy needs --account")
        attributions = repository.attributions_by_strategy(
            args.account, args.strategy, args.start, args.end
        )
        _print_attributions(attributions, as_json=args.json)
        return 0
    fills: Iterable[TradeFill]
    if args.symbol:
        fills = repository.trades_by_symbol(
            args.symbol, args.start, args.end, account_id=args.account
        )
    elif args.correlation_id:
        fills = repository.trades_by_correlation(args.correlation_id, args.start, args.end)
    else:
        trade = repository.get_trade(args.order_id)
        _print_fills([trade.fill], as_json=args.json)  # JSON: the fill, as a fill file holds it
        if args.json:
            return 0
        print(f"status: {trade.status}")
        for c in trade.corrections:
            print(
                f"  revision {c.revision}: {c.kind} by {c.actor} at "
                f"{format_micros(c.corrected_at)}: {c.reason}"
            )
        return 0
    _print_fills(fills, as_json=args.json)
    return 0


def _trades_strategies(args: argparse.Namespace, settings: TableSettings) -> int:
    registrations = TradeLedgerRepository(settings).strategies(args.account)
    if args.json:
        # The digest is the reader's bookkeeping (ledger_store.digests), not a figure.
        rows = [r.model_dump(mode="json", exclude={"entries_digest"}) for r in registrations]
        print(json.dumps(rows, indent=2))
    else:
        print_table(
            ["strategy", "fills"],
            ([r.strategy, str(r.trade_count)] for r in registrations),
            out=sys.stdout,
        )
    return 0


def _print_fills(fills: Iterable[TradeFill], *, as_json: bool) -> None:
    if as_json:
        for fill in fills:
            print(fill.model_dump_json())
        return
    print_table(
        [
            "filled_at",
            "order_id",
            "account",
            "symbol",
            "side",
            "qty",
            "price",
            "fees",
            "strategies",
        ],
        (
            [
                format_micros(f.filled_at),
                f.order_id,
                f.account_id,
                f.symbol,
                f.side.value,
                format(f.qty, "f"),
                price_text(f.symbol, f.price, f.quote_usd_rate),
                amount_text(f.symbol, f.fees),
                ",".join(f"{name}={format(w, 'f')}" for name, w in f.strategy_allocation.items()),
            ]
            for f in fills
        ),
        out=sys.stdout,
    )


def _print_attributions(attributions: Iterable[StrategyAttribution], *, as_json: bool) -> None:
    if as_json:
        for attribution in attributions:
            print(attribution.model_dump_json())
        return
    print_table(
        ["filled_at", "order_id", "strategy", "symbol", "side", "qty", "price", "weight", "fees"],
        (
            [
                format_micros(a.filled_at),
                a.order_id,
                a.strategy,
                a.symbol,
                a.side.value,
                format(a.qty, "f"),
                price_text(a.symbol, a.price, a.quote_usd_rate),
                format(a.weight, "f"),
                amount_text(a.symbol, a.fees),
            ]
            for a in attributions
        ),
        out=sys.stdout,
    )


def price_text(symbol: str, price: Decimal, rate: Decimal | None) -> str:
    """A fill's price as text; a pair quoted in another currency names it and its USD rate
    (``0.05 BTC @ 60000 USD/BTC``), so it is never read as dollars."""
    quote = quote_currency(symbol)
    if quote == LEDGER_CURRENCY:
        return format(price, "f")
    rate_text = "no rate" if rate is None else f"{format(rate, 'f')} USD/{quote}"
    return f"{format(price, 'f')} {quote} @ {rate_text}"


def amount_text(symbol: str, amount: Decimal) -> str:
    """A fill's fees as text, in the pair's quote currency when it is not USD."""
    quote = quote_currency(symbol)
    return format(amount, "f") + ("" if quote == LEDGER_CURRENCY else f" {quote}")


def print_table(headers: Sequence[str], rows: Iterator[list[str]], *, out: TextIO) -> None:
    """Aligned columns; rows are consumed as they stream, in chunks, to bound memory."""
    chunk: list[list[str]] = []
    printed = 0
    for row in rows:
        chunk.append(row)
        if len(chunk) == 500:
            _emit(headers, chunk, out, header=printed == 0)
            printed += len(chunk)
            chunk = []
    if chunk or printed == 0:
        _emit(headers, chunk, out, header=printed == 0)
        printed += len(chunk)
    print(f"({printed} {'row' if printed == 1 else 'rows'})", file=out)


def _emit(headers: Sequence[str], rows: list[list[str]], out: TextIO, *, header: bool) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    if header:
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), file=out)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)), file=out)
