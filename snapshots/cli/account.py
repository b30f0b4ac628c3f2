"""``trade-ledger account adopt``: bring an Alpaca account's history into the ledger."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ledger_store import keys
from ledger_store.checksums import hmac_key_from_env
from ledger_store.config import TableSettings
from ledger_store.events import AccountEventRepository
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import DEFAULT_WORKERS, TradeLedgerRepository
from snapshots.cli.ledger import (
    connection_options,
    print_table,
    run_with_settings,
    timestamp_arg,
    workers_arg,
)


def register(subparsers: Any) -> None:
    """Add ``account`` and its subcommands to the top-level parser."""
    account = subparsers.add_parser(
        "account", help="adopt an Alpaca account's history and keep the ledger reconciled"
    )
    commands = account.add_subparsers(dest="account_command", required=True, metavar="COMMAND")
    adopt = commands.add_parser(
        "adopt",
        parents=[connection_options()],
        help="record an Alpaca account's fills and events and take its first snapshot",
        description=(
            "Reads the account's FILL activities and their orders from Alpaca (APCA_API_* "
            "keys), records one fill per order Alpaca is done with, attributed by the rule "
            "file, records the events of the non-trade activities, and takes the account's "
            "first snapshot with a full read. A re-run records nothing; an interrupted run "
            "resumes where it stopped."
        ),
    )
    adopt.add_argument("--account", required=True, help="ledger account id")
    adopt.add_argument(
        "--from",
        dest="start",
        type=timestamp_arg,
        help="inclusive, UTC (default: when the Alpaca account was created)",
    )
    adopt.add_argument("--to", dest="end", type=timestamp_arg, help="exclusive, UTC (default: now)")
    adopt.add_argument(
        "--rules", help="strategy attribution rules (TOML); default: all to 'unattributed'"
    )
    adopt.add_argument(
        "--no-snapshot", action="store_true", help="record only; take no first snapshot"
    )
    adopt.add_argument(
        "--workers",
        type=workers_arg,
        default=DEFAULT_WORKERS,
        help=f"transactions at once (default {DEFAULT_WORKERS})",
    )
    adopt.add_argument(
        "--alpaca-base-url", help="Alpaca endpoint (default: APCA_API_BASE_URL, then paper)"
    )
    adopt.add_argument("--no-progress", action="store_true", help="no progress bars")
    adopt.set_defaults(func=run_with_settings(_adopt))

    reconcile = commands.add_parser(
        "reconcile",
        parents=[connection_options()],
        help="compare the ledger with Alpaca for a period; --apply repairs the differences",
        description=(
            "Compares the ledger's fills of the period with the orders Alpaca filled in it "
            "(by order id: symbol, side, quantity, price) and its events with Alpaca's "
            "non-trade activities, and prints each difference with its repair: record a "
            "missing fill (attributed by the rules), void a fill Alpaca never made, amend one "
            "whose figures differ, record a missing event. Without --apply nothing is written; "
            "exit status 1 when something differs."
        ),
    )
    reconcile.add_argument("--account", required=True, help="ledger account id")
    reconcile.add_argument(
        "--period-start", required=True, type=timestamp_arg, help="inclusive, UTC"
    )
    reconcile.add_argument("--period-end", required=True, type=timestamp_arg, help="exclusive, UTC")
    reconcile.add_argument("--rules", help="attribution rules (TOML) for the fills recorded")
    reconcile.add_argument(
        "--apply", action="store_true", help="make the repairs (actor 'reconcile')"
    )
    reconcile.add_argument(
        "--alpaca-base-url", help="Alpaca endpoint (default: APCA_API_BASE_URL, then paper)"
    )
    reconcile.add_argument("--json", action="store_true", help="the differences as JSON")
    reconcile.set_defaults(func=run_with_settings(_reconcile))


def _adopt(args: argparse.Namespace, settings: TableSettings) -> int:
    from tqdm import tqdm

    from snapshots.adoption.adopt import READING, adopt_account
    from snapshots.alpaca.source import AlpacaSource
    from snapshots.ledger.rules import AttributionRules, load_rules

    rules = load_rules(args.rules) if args.rules else AttributionRules()  # before any read
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            unit = "row" if stage == READING else "fill"
            bar = bars[stage] = tqdm(
                total=total,
                unit=unit,
                desc=stage,
                disable=args.no_progress or None,
                file=sys.stderr,
            )
        bar.update(done - bar.n)

    try:
        with AlpacaSource(base_url=args.alpaca_base_url) as source:
            adoption = adopt_account(
                account_id=args.account,
                alpaca=source,
                ledger=TradeLedgerRepository(settings),
                events=AccountEventRepository(settings),
                store=AccountSnapshotRepository(settings, hmac_key=hmac_key_from_env()),
                rules=rules,
                period_start=args.start,
                period_end=args.end,
                hmac_key=hmac_key_from_env(),
                first_snapshot=not args.no_snapshot,
                workers=args.workers,
                progress=progress,
            )
    finally:
        for bar in bars.values():
            bar.close()

    period = (
        f"{keys.format_seconds(adoption.period_start)} to "
        f"{keys.format_seconds(adoption.period_end)}"
    )
    print(
        f"Alpaca account {adoption.alpaca_account_id}, {period}: {adoption.executions} "
        f"executions of {adoption.fills + len(adoption.open_orders)} orders"
    )
    print(
        f"fills: {len(adoption.recorded)} recorded, {len(adoption.already_recorded)} already "
        f"recorded, {len(adoption.not_recorded)} not recorded, {len(adoption.open_orders)} "
        "orders still open (recorded once Alpaca is done with them)"
    )
    if adoption.recorded and adoption.already_recorded:
        print(
            f"resumed: an earlier run had recorded {len(adoption.already_recorded)} of the "
            f"{adoption.fills} fills"
        )
    print_table(
        ["rule", "fills"],
        ([label, str(count)] for label, count in adoption.by_rule.items()),
        out=sys.stdout,
    )
    sync = adoption.events
    print(
        f"events: {len(sync.recorded)} recorded, {len(sync.already_recorded)} already recorded, "
        f"{len(sync.unmapped)} need an explicit event (see `trade-ledger events sync`)"
    )
    refused = [(p.order_id, p.reason) for p in adoption.not_recorded]
    refused += [(p.order_id, p.reason) for p in adoption.problems]
    for order_id, reason in refused:
        print(f"not recorded: order {order_id}: {reason}", file=sys.stderr)
    if adoption.rounded_prices:
        print(
            f"{len(adoption.rounded_prices)} average price(s) had more than 9 places and were "
            "rounded (half even)"
        )
    if adoption.snapshot is not None:
        snapshot = adoption.snapshot.snapshot
        checks = ", ".join(f"{c.name} {c.status}" for c in snapshot.integrity_checks)
        print(f"first snapshot ({adoption.snapshot.status}): {checks}")
    elif adoption.first_snapshot_skipped:
        print(f"no first snapshot: {adoption.first_snapshot_skipped}")
    if not adoption.changed:
        print("nothing changed: the account was adopted already")
    return 1 if adoption.not_recorded or adoption.problems else 0


def _reconcile(args: argparse.Namespace, settings: TableSettings) -> int:
    from snapshots.adoption.reconcile import reconcile_account
    from snapshots.alpaca.source import AlpacaSource
    from snapshots.ledger.rules import AttributionRules, load_rules

    rules = load_rules(args.rules) if args.rules else AttributionRules()  # before any read
    with AlpacaSource(base_url=args.alpaca_base_url) as source:
        result = reconcile_account(
            account_id=args.account,
            alpaca=source,
            ledger=TradeLedgerRepository(settings),
            events=AccountEventRepository(settings),
            period_start=args.period_start,
            period_end=args.period_end,
            rules=rules,
            apply=args.apply,
        )
    if args.json:
        print(result.model_dump_json(exclude={"events"}))
        return 0 if result.clean else 1
    print(
        f"{keys.format_seconds(result.period_start)} to {keys.format_seconds(result.period_end)}: "
        f"Alpaca filled {result.alpaca_orders} order(s), the ledger has {result.ledger_fills} "
        f"fill(s), {result.matched} agree; {len(result.differences)} difference(s)"
    )
    if result.differences:
        columns = ["difference", "id", "repair", "detail"]
        if result.applied:
            columns.append("status")
        print_table(
            columns,
            (
                [d.kind, d.order_id, d.repair, d.detail]
                + ([d.status + (f": {d.error}" if d.error else "")] if result.applied else [])
                for d in result.differences
            ),
            out=sys.stdout,
        )
    for order in result.open_orders:
        print(f"still open at Alpaca ({order.status}): {order.order_id} {order.symbol}")
    if not result.applied and result.differences:
        print("nothing was changed: --apply makes these repairs")
    return 0 if result.clean else 1
