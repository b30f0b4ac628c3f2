"""``trade-ledger snapshot take|show|latest|list|verify``: the snapshot job from a shell.

Reads verify every snapshot (schema and checksum, with ``SNAPSHOT_HMAC_KEY`` when set);
``take`` talks to Alpaca through ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` /
``APCA_API_BASE_URL``. Human output by default, ``--json`` for machines.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from ledger_store import keys
from ledger_store.checksums import hmac_key_from_env
from ledger_store.config import TableSettings
from ledger_store.errors import IntegrityError, LedgerValidationError
from ledger_store.snapshot_store import AccountSnapshotRepository, SnapshotSummary, StoredSnapshot
from snapshots.builder import payload_for
from snapshots.cli.ledger import connection_options, print_table, run_with_settings, timestamp_arg
from snapshots.payload import SnapshotPayload
from snapshots.records import snapshot_from_record
from snapshots.schema import AnySnapshot, CheckStatus, snapshot_bytes


def register(subparsers: Any) -> None:
    """Add ``snapshot`` and its subcommands to the top-level parser."""
    common = connection_options()
    snapshot = subparsers.add_parser("snapshot", help="take, read and verify account snapshots")
    commands = snapshot.add_subparsers(dest="snapshot_command", required=True, metavar="COMMAND")

    take = commands.add_parser(
        "take", parents=[common], help="build the period's snapshot from Alpaca + ledger, store it"
    )
    take.add_argument("--account", required=True, help="ledger account id")
    take.add_argument("--period-start", required=True, type=timestamp_arg, help="inclusive, UTC")
    take.add_argument("--period-end", required=True, type=timestamp_arg, help="exclusive, UTC")
    take.add_argument("--correlation-id", help="trading cycle id (default: manual-<period end>)")
    take.add_argument(
        "--strict", action="store_true", help="refuse to store when an integrity check fails"
    )
    take.add_argument(
        "--replace", metavar="CHECKSUM", help="replace the stored snapshot that has this checksum"
    )
    take.add_argument(
        "--alpaca-base-url", help="Alpaca endpoint (default: APCA_API_BASE_URL, then paper)"
    )
    take.add_argument(
        "--full-rebuild",
        action="store_true",
        help="read the ledger's whole history instead of carrying the last snapshot forward",
    )
    take.add_argument("--json", action="store_true", help="print the Step Functions payload only")
    take.set_defaults(func=run_with_settings(_take))

    show = commands.add_parser("show", parents=[common], help="one snapshot, by period end")
    show.add_argument("--account", required=True)
    show.add_argument("--at", required=True, type=timestamp_arg, help="period end (UTC)")
    show.add_argument("--json", action="store_true", help="the whole snapshot (canonical JSON)")
    show.set_defaults(func=run_with_settings(_show))

    latest = commands.add_parser("latest", parents=[common], help="the newest snapshot")
    latest.add_argument("--account", required=True)
    latest.add_argument("--json", action="store_true", help="the whole snapshot (canonical JSON)")
    latest.set_defaults(func=run_with_settings(_latest))

    listing = commands.add_parser(
        "list", parents=[common], help="snapshots by period end, newest first"
    )
    listing.add_argument("--account", required=True)
    listing.add_argument("--from", dest="start", type=timestamp_arg, help="inclusive (UTC)")
    listing.add_argument("--to", dest="end", type=timestamp_arg, help="exclusive (UTC)")
    listing.add_argument(
        "--oldest-first", action="store_true", help="oldest first (default: newest)"
    )
    listing.add_argument(
        "--verify",
        action="store_true",
        help="read and verify every body (and show its checks) instead of the metadata only",
    )
    listing.add_argument("--json", action="store_true", help="JSON Lines, one payload per line")
    listing.set_defaults(func=run_with_settings(_list))

    verify = commands.add_parser(
        "verify", parents=[common], help="check schema and checksum of stored snapshots"
    )
    verify.add_argument("--account", required=True)
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("--at", type=timestamp_arg, help="the snapshot with this period end")
    which.add_argument("--latest", action="store_true", help="the newest snapshot")
    which.add_argument("--all", action="store_true", help="every snapshot (--from/--to bound it)")
    verify.add_argument("--from", dest="start", type=timestamp_arg, help="with --all: inclusive")
    verify.add_argument("--to", dest="end", type=timestamp_arg, help="with --all: exclusive")
    verify.add_argument("--json", action="store_true", help="one JSON result per snapshot")
    verify.set_defaults(func=run_with_settings(_verify))


def _repository(settings: TableSettings) -> AccountSnapshotRepository:
    return AccountSnapshotRepository(settings, hmac_key=hmac_key_from_env())


def _loaded(stored: StoredSnapshot) -> AnySnapshot:
    return snapshot_from_record(stored.record, hmac_key_from_env())


# take -------------------------------------------------------------------------------------


def _take(args: argparse.Namespace, settings: TableSettings) -> int:
    from ledger_store.trades import TradeLedgerRepository
    from snapshots.alpaca.source import AlpacaSource
    from snapshots.builder import take_snapshot

    hmac_key = hmac_key_from_env()
    correlation = args.correlation_id or f"manual-{keys.format_seconds(args.period_end)}"
    with AlpacaSource(base_url=args.alpaca_base_url) as source:
        outcome = take_snapshot(
            account_id=args.account,
            period_start=args.period_start,
            period_end=args.period_end,
            correlation_id=correlation,
            alpaca=source,
            ledger=TradeLedgerRepository(settings),
            store=AccountSnapshotRepository(settings, hmac_key=hmac_key),
            hmac_key=hmac_key,
            strict=args.strict,
            replace_checksum=args.replace,
            full_rebuild=args.full_rebuild,
        )
    if args.json:
        print(outcome.payload.to_text())
        return 0
    print(f"{outcome.status}: {outcome.payload.key.pk} / {outcome.payload.key.sk}")
    if outcome.ledger_read is not None:
        read = outcome.ledger_read
        print(
            f"ledger read: {read.path} ({read.attributions_read} attributions, "
            f"{read.events_read} events): {read.reason}"
        )
    _print_summary(outcome.snapshot, outcome.stored)
    print(f"payload: {outcome.payload.to_text()}")
    return 0


# reads ------------------------------------------------------------------------------------


def _show(args: argparse.Namespace, settings: TableSettings) -> int:
    return _print_one(_repository(settings).get(args.account, args.at), as_json=args.json)


def _latest(args: argparse.Namespace, settings: TableSettings) -> int:
    return _print_one(_repository(settings).latest(args.account), as_json=args.json)


def _print_one(stored: StoredSnapshot, *, as_json: bool) -> int:
    snapshot = _loaded(stored)
    if as_json:
        sys.stdout.write(snapshot_bytes(snapshot).decode("utf-8") + "\n")
    else:
        _print_summary(snapshot, stored)
    return 0


def _list(args: argparse.Namespace, settings: TableSettings) -> int:
    """Metadata only (GSI5): one small Query, nothing inflated or verified. ``--verify`` reads
    every body, verifies it and shows its worst check."""
    newest_first = not args.oldest_first
    if args.verify:
        found = _repository(settings).range(
            args.account, args.start, args.end, newest_first=newest_first
        )
        if args.json:
            for stored in found:
                print(payload_for(_loaded(stored)).to_text())
            return 0
        print_table(
            [
                "period_end",
                "period_start",
                "snapshot_id",
                "correlation_id",
                "checks",
                "canonical",
                "stored",
            ],
            (_row(stored) for stored in found),
            out=sys.stdout,
        )
        return 0
    listed = _repository(settings).summaries(
        args.account, args.start, args.end, newest_first=newest_first
    )
    if args.json:
        for summary in listed:
            print(_summary_payload(summary).to_text())
        return 0
    print_table(
        ["period_end", "period_start", "snapshot_id", "correlation_id", "version", "canonical"],
        (
            [
                keys.format_seconds(s.period_end),
                keys.format_seconds(s.period_start),
                s.snapshot_id,
                s.correlation_id,
                s.snapshot_version,
                f"{s.body_size:,} B" + (f" in {s.chunk_count} chunks" if s.chunk_count else ""),
            ]
            for s in listed
        ),
        out=sys.stdout,
    )
    return 0


def _summary_payload(summary: SnapshotSummary) -> SnapshotPayload:
    """The Step Functions payload of a listed snapshot (what ``snapshot take --json`` prints)."""
    return SnapshotPayload.naming(
        account_id=summary.account_id,
        period_start=summary.period_start,
        period_end=summary.period_end,
        snapshot_id=summary.snapshot_id,
        checksum=summary.checksum,
        checksum_algorithm=summary.checksum_algorithm,
    )


def _row(stored: StoredSnapshot) -> list[str]:
    snapshot = _loaded(stored)
    return [
        keys.format_seconds(snapshot.period_end),
        keys.format_seconds(snapshot.period_start),
        snapshot.snapshot_id,
        snapshot.correlation_id,
        _worst(snapshot),
        f"{len(stored.record.body):,} B",
        _size(stored),
    ]


def _verify(args: argparse.Namespace, settings: TableSettings) -> int:
    """Verify snapshots. ``--at``/``--latest``: a failure raises ``IntegrityError`` (exit 1).

    ``--all`` verifies every snapshot of the range, reports each (``ok`` or ``FAIL`` with the
    reason) and exits 1 at the end if any failed, or if there was none to verify.
    """
    repository = _repository(settings)
    if (args.start or args.end) and not args.all:
        raise LedgerValidationError("--from/--to only go with --all")
    if args.at is not None or args.latest:
        stored = (
            repository.get(args.account, args.at) if args.at else repository.latest(args.account)
        )
        _print_verified(_loaded(stored), args.json)
        if not args.json:
            print("1 snapshot(s) verified")
        return 0
    verified = failed = 0
    for check in repository.verify_range(args.account, args.start, args.end):
        error = check.error
        if check.snapshot is not None:
            try:
                snapshot = _loaded(check.snapshot)
            except IntegrityError as exc:
                error = str(exc)
            else:
                verified += 1
                _print_verified(snapshot, args.json)
                continue
        failed += 1
        if args.json:
            failure = {"verified": False, "key": check.key, "error": error}
            print(json.dumps(failure, sort_keys=True, separators=(",", ":")))
        else:
            print(f"FAIL  {check.key}: {error}")
    if not args.json:
        print(f"{verified} snapshot(s) verified, {failed} failed")
    if verified + failed == 0:
        # Nothing verified is no success: a misspelt account or range would pass a cron job.
        print(
            f"error: no snapshot of account {args.account} in the range: nothing was verified "
            "(check --account, --from and --to)",
            file=sys.stderr,
        )
        return 1
    return 1 if failed else 0


def _print_verified(snapshot: AnySnapshot, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {"verified": True, **payload_for(snapshot).to_json(), "checks": _worst(snapshot)},
                sort_keys=True,
                separators=(",", ":"),
            )
        )
    else:
        print(
            f"ok  {keys.format_seconds(snapshot.period_end)}  {snapshot.snapshot_id}  "
            f"{snapshot.checksum_algorithm} {snapshot.checksum}"
        )


# formatting -------------------------------------------------------------------------------


def _size(stored: StoredSnapshot) -> str:
    """What the table holds: the compressed body (``canonical`` is its JSON before)."""
    chunks = f" in {stored.chunk_count} chunks" if stored.chunk_count else ""
    return f"{stored.compressed_size:,} B{chunks}"


def _worst(snapshot: AnySnapshot) -> str:
    statuses = {check.status for check in snapshot.integrity_checks}
    for status in (CheckStatus.FAIL, CheckStatus.WARN, CheckStatus.PASS):
        if status in statuses:
            return status.value
    return "-"


def _money(value: Any) -> str:
    """An amount as a person reads it: to the cent, grouped (``--json`` has it exact)."""
    from snapshots.report.figures import fmt_money

    return fmt_money(value)


def _at(value: datetime | None) -> str:
    return keys.format_seconds(value.replace(microsecond=0)) if value is not None else "-"


def _print_summary(snapshot: AnySnapshot, stored: StoredSnapshot) -> None:
    account = snapshot.alpaca_account
    ledger = snapshot.internal_ledger
    rows = [
        ("snapshot", f"{snapshot.snapshot_id} (v{snapshot.snapshot_version})"),
        ("account", snapshot.account_id),
        (
            "period",
            f"{keys.format_seconds(snapshot.period_start)} .. "
            f"{keys.format_seconds(snapshot.period_end)}",
        ),
        ("correlation", snapshot.correlation_id),
        ("checksum", f"{snapshot.checksum_algorithm} {snapshot.checksum}"),
        ("stored", f"{_at(stored.created_at)}, expires {_at(stored.expires_at)}"),
        (
            "size",
            f"{len(stored.record.body):,} B canonical, {stored.compressed_size:,} B compressed"
            + (f", {stored.chunk_count} chunks" if stored.chunk_count else ""),
        ),
        ("alpaca", f"{account.account_number} {account.status} ({account.currency})"),
        ("equity", _money(account.equity)),
        ("cash", _money(account.cash)),
        ("buying power", _money(account.buying_power)),
        (
            "market value",
            f"long {_money(account.long_market_value)}, short {_money(account.short_market_value)}",
        ),
        (
            "alpaca data",
            f"{len(snapshot.alpaca_positions)} positions, {len(snapshot.alpaca_orders)} orders, "
            f"{len(snapshot.alpaca_fees)} fee activities, {len(snapshot.equity_series)} equity "
            "samples",
        ),
        (
            "ledger",
            f"{ledger.ledger_id}: {ledger.total_trades} fills in the period, buys "
            f"{_money(ledger.total_buy_value)}, sells {_money(ledger.total_sell_value)}, "
            f"fees {_money(ledger.total_fees)}",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    if ledger.strategy_performance:
        print(
            "\nstrategies (cumulative through period end; period in brackets; amounts to the "
            "cent, exact in --json):"
        )
        print_table(
            ["strategy", "trades", "buy value", "sell value", "realized", "fees", "last trade"],
            (
                [
                    name,
                    f"{p.total_trades} [{p.period.total_trades}]",
                    _money(p.total_buy_value),
                    _money(p.total_sell_value),
                    f"{_money(p.realized_pnl)} [{_money(p.period.realized_pnl)}]",
                    _money(p.fees),
                    _at(p.last_trade_at),
                ]
                for name, p in ledger.strategy_performance.items()
            ),
            out=sys.stdout,
        )
    if snapshot.integrity_checks:
        print("\nintegrity checks:")
        for check in snapshot.integrity_checks:
            print(f"  {check.status.value:<4}  {check.name}: {check.message}")


__all__ = ["register"]
