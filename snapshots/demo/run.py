"""``trade-ledger demo``: the whole system, end to end, with nothing but this repository.

1. bootstrap the ledger table (embedded moto unless ``--endpoint-url`` /
   ``AWS_ENDPOINT_URL_DYNAMODB`` names DynamoDB Local or a real table);
2. import a multi-strategy history (JSON Lines, idempotent; a re-import changes nothing);
3. start the project's fake Alpaca server and run the last trading cycles: each records its
   fills, takes the month-to-date snapshot through the real alpaca-py ``TradingClient`` and
   the ledger, stores it, and hands the Step Functions payload to the report state machine
   (a moto state machine on the embedded backend);
4. run the report step on the latest payload: read the snapshot back from DynamoDB, verify it
   and render the PDF into the output folder (default: the current one);
5. adopt a second account whose bot never recorded its history (``snapshots.demo.adoption``),
   reconcile it after a bot crash and render its report.

Everything is deterministic: a re-run gives the same snapshots, checksums and PDF bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger_store import bootstrap, keys
from ledger_store.config import TableSettings
from ledger_store.embedded import embedded_aws
from ledger_store.errors import LedgerValidationError
from ledger_store.events import event_detail
from ledger_store.keys import format_seconds
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.alpaca.source import AlpacaSource
from snapshots.builder import SnapshotOutcome, hmac_key_from_env, take_snapshot
from snapshots.cli.ledger import resolve_settings
from snapshots.demo.history import DEMO_ACCOUNT_ID, DemoHistory, demo_history, trading_days
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca
from snapshots.ledger.importer import import_fills
from snapshots.payload import SnapshotPayload

#: The demo history starts here, so every run produces the same data (and the same PDF).
FIRST_DAY = date(2026, 8, 3)
#: The report's longer windows and its benchmark: a year of daily equity before each period
#: (the fake account has a synthetic history before the ledger's first fill) and SPY's closes
#: from the fake market-data route.
DEMO_LOOKBACK_DAYS = 365
DEMO_BENCHMARK = "SPY"
FAKE_MARKET: dict[str, Any] = {"history_days": 400, "benchmark": DEMO_BENCHMARK}
STATE_MACHINE_NAME = "trade-ledger-account-report"
REPORT_BUCKET = "trade-ledger-reports"


def month_to_date(cycle: TradingCycle) -> tuple[datetime, datetime]:
    """The demo's snapshot period: from the first of the cycle's month to the next midnight."""
    day = cycle.start.astimezone(UTC).date()
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return datetime(day.year, day.month, 1, tzinfo=UTC), end


def run_demo(args: argparse.Namespace) -> int:
    if args.cycles < 1 or args.days <= args.cycles:
        raise LedgerValidationError("--days must be larger than --cycles, and --cycles >= 1")
    last = trading_days(FIRST_DAY, args.days)[-1]
    if datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1) > datetime.now(
        UTC
    ):
        raise LedgerValidationError(
            f"--days {args.days} runs the history past today; snapshots need ended periods"
        )
    demo = demo_history(first_day=FIRST_DAY, days=args.days)
    cycles = demo.cycles
    output = Path(args.output).resolve()
    if not output.is_dir():
        raise LedgerValidationError(f"output folder {output} does not exist")
    remote = bool(args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    embedded = not remote or args.embedded
    with ExitStack() as stack:
        if embedded:
            stack.enter_context(embedded_aws())
        settings = resolve_settings(args)
        where = settings.endpoint_url or ("moto (embedded)" if embedded else "AWS")
        print(f"ledger table {settings.table_name} on {where}")
        print(f"  table: {bootstrap.create_table(settings)}")

        history, live = cycles[: -args.cycles], cycles[-args.cycles :]
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="trade-ledger-")))
        ledger = TradeLedgerRepository(settings)
        _import_history(ledger, history, workdir, quiet=args.no_progress)

        _print_events(demo)
        account = FakeAccount.from_history(
            history, events=demo.events_until(history[-1].end), **FAKE_MARKET
        )
        fake = stack.enter_context(running_fake_alpaca(account))
        print(f"\nfake Alpaca (real alpaca-py TradingClient) at {fake.base_url}")
        state_machine = _state_machine(settings) if embedded else None
        hmac_key = hmac_key_from_env()
        store = AccountSnapshotRepository(settings, hmac_key=hmac_key)
        alpaca = stack.enter_context(
            AlpacaSource(
                api_key=DEFAULT_KEY_ID,
                secret_key=DEFAULT_SECRET_KEY,
                base_url=fake.base_url,
                environ={},
                equity_lookback_days=DEMO_LOOKBACK_DAYS,
                benchmark_symbol=DEMO_BENCHMARK,
                data_url=fake.base_url,
            )
        )

        payloads: list[SnapshotPayload] = []
        outcome: SnapshotOutcome | None = None
        for index, cycle in enumerate(live):
            print(
                f"\ncycle {cycle.correlation_id}: recording its {len(cycle.fills)} fills, then "
                "the month-to-date snapshot (Alpaca, the ledger, the checks) ...",
                flush=True,
            )
            # What the trading Lambda records during its cycle; idempotent, so a second demo
            # on the same table finds them there.
            results = [ledger.record(fill) for fill in cycle.fills]
            recorded = sum(1 for r in results if r.created)
            fake.account = FakeAccount.from_history(
                cycles[: len(history) + index + 1],
                events=demo.events_until(cycle.end),
                **FAKE_MARKET,
            )
            start, end = month_to_date(cycle)
            outcome = take_snapshot(
                account_id=DEMO_ACCOUNT_ID,
                period_start=start,
                period_end=end,
                correlation_id=cycle.correlation_id,
                alpaca=alpaca,
                ledger=ledger,
                store=store,
                hmac_key=hmac_key,
            )
            payloads.append(outcome.payload)
            _print_cycle(cycle, recorded, outcome, state_machine, settings)

        assert outcome is not None
        again = take_snapshot(
            account_id=DEMO_ACCOUNT_ID,
            period_start=outcome.snapshot.period_start,
            period_end=outcome.snapshot.period_end,
            correlation_id=outcome.snapshot.correlation_id,
            alpaca=alpaca,
            ledger=ledger,
            store=store,
            hmac_key=hmac_key,
        )
        print(
            f"\nre-running cycle {again.snapshot.correlation_id}: snapshot {again.status} "
            f"(checksum {again.snapshot.checksum[:16]}…, Alpaca not read again)"
        )
        listed = list(store.range(DEMO_ACCOUNT_ID, start=month_to_date(live[0])[1]))
        print(f"snapshots of the demo cycles (range query, newest first): {len(listed)}")

        path = _report(settings, payloads[-1], output, state_machine)
        print(f"report: {path}")

        from snapshots.demo.adoption import run_adoption_demo

        first = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
        run_adoption_demo(settings, first, workdir, output)
    return 0


def _print_events(demo: DemoHistory) -> None:
    """What the account saw besides trades (Alpaca reports it; the snapshot job records it)."""
    for event in demo.events:
        parts = (format_seconds(event.effective_at), event.kind.value, getattr(event, "symbol", ""))
        print(f"  account event: {' '.join(p for p in parts if p)} {event_detail(event)}")


def _import_history(
    ledger: TradeLedgerRepository, history: Sequence[TradingCycle], workdir: Path, *, quiet: bool
) -> None:
    fills_file = workdir / "fills.jsonl"
    with fills_file.open("w", encoding="utf-8") as handle:
        for cycle in history:
            for fill in cycle.fills:
                handle.write(fill.model_dump_json() + "\n")
    total = sum(len(c.fills) for c in history)
    strategies = {name for c in history for f in c.fills for name in f.strategy_allocation}
    print(
        f"  history: {len(history)} trading cycles from {history[0].start.date()}, "
        f"{total} fills of {len(strategies)} strategies, written as JSON Lines to a temporary "
        "file and imported"
    )
    for label in ("import", "re-import"):
        report = _import(ledger, fills_file, total, label, quiet=quiet)
        print(f"  {label}: {report}")
    print(
        "  strategies (registry, one Query): "
        + ", ".join(f"{r.strategy} {r.trade_count}" for r in ledger.strategies(DEMO_ACCOUNT_ID))
    )


def _import(
    repository: TradeLedgerRepository, path: Path, total: int, label: str, *, quiet: bool
) -> str:
    from tqdm import tqdm

    with tqdm(total=total, unit="fill", desc=label, disable=quiet or None, file=sys.stderr) as bar:
        report = import_fills(repository, path, progress=bar.update)
    return report.summary()


def _state_machine(settings: TableSettings) -> str:
    """A report state machine in moto: the payload's way to the report Lambda."""
    import boto3

    client = boto3.client("stepfunctions", region_name=settings.region or "us-east-1")
    definition = {
        "Comment": "Render the account report of a stored snapshot",
        "StartAt": "RenderReport",
        "States": {"RenderReport": {"Type": "Pass", "End": True}},
    }
    arn: str = client.create_state_machine(
        name=STATE_MACHINE_NAME,
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/trade-ledger-report",
    )["stateMachineArn"]
    return arn


def _print_cycle(
    cycle: TradingCycle,
    recorded: int,
    outcome: SnapshotOutcome,
    state_machine: str | None,
    settings: TableSettings,
) -> None:
    snapshot = outcome.snapshot
    statuses = [c.status.value for c in snapshot.integrity_checks]
    checks = ", ".join(
        f"{statuses.count(s)} {s}" for s in ("pass", "warn", "fail") if s in statuses
    )
    flagged = [f"{c.name}: {c.message}" for c in snapshot.integrity_checks if c.status != "pass"]
    already = len(cycle.fills) - recorded
    print(
        f"  {recorded} fills recorded"
        + (f", {already} already recorded" if already else "")
        + f"; snapshot {outcome.status} at {outcome.payload.key.pk} / {outcome.payload.key.sk}"
    )
    print(
        f"  {len(snapshot.alpaca_orders)} orders, {len(snapshot.alpaca_positions)} positions, "
        f"{snapshot.internal_ledger.total_trades} ledger fills month to date; "
        f"{len(outcome.stored.record.body):,} B canonical, "
        f"{outcome.stored.compressed_size:,} B stored"
    )
    print(f"  integrity checks: {checks}")
    for line in flagged:
        print(f"    {line}")
    print(f"  payload: {outcome.payload.to_text()}")
    if state_machine is not None:
        from snapshots.handlers.trading import start_report

        execution = start_report(state_machine, outcome.payload, region=settings.region)
        print(f"  report execution: {execution.rsplit(':', 1)[-1]}")


def _report(
    settings: TableSettings, payload: SnapshotPayload, output: Path, state_machine: str | None
) -> Path:
    """The report Lambda's job, given only the payload: DynamoDB -> verified snapshot -> PDF.

    On the embedded backend the payload is the input the state machine received, and the PDF
    also goes to a moto S3 bucket exactly as the deployed handler puts it.
    """
    import boto3

    from snapshots.cli.report import write_atomically
    from snapshots.handlers.report import parse_request, render_stored, upload_report

    event: dict[str, Any] = payload.to_json()
    uri = None
    if state_machine is not None:
        region = settings.region or "us-east-1"
        client = boto3.client("stepfunctions", region_name=region)
        newest = client.list_executions(stateMachineArn=state_machine)["executions"][0]
        event = json.loads(client.describe_execution(executionArn=newest["executionArn"])["input"])
    snapshot, rendered = render_stored(parse_request(event), settings, hmac_key=hmac_key_from_env())
    if state_machine is not None:
        s3 = boto3.client("s3", region_name=settings.region or "us-east-1")
        s3.create_bucket(Bucket=REPORT_BUCKET)
        uri = upload_report(snapshot, rendered, REPORT_BUCKET, client=s3)
    path = output / f"account-report-{keys.format_seconds(snapshot.period_end)[:10]}.pdf"
    write_atomically(path, rendered.pdf)
    print(
        f"\nreport step: snapshot {snapshot.snapshot_id} verified, {rendered.pages} pages, "
        f"{len(rendered.pdf):,} bytes, sha256 {rendered.sha256}"
        + (f"\n  uploaded to {uri}" if uri else "")
    )
    return path
