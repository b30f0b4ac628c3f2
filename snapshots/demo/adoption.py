"""The demo's second account: adopted from Alpaca, reconciled after a bot crash, reported.

A trader arrives with an Alpaca account that traded for weeks before its bot recorded
anything. ``account adopt`` brings that history in (attributed by the bots' order-id prefixes)
and takes the first snapshot; the bot then records its own fills, but crashes once before
``record()`` and records another fill with the wrong quantity; ``account reconcile`` lists both
and repairs them; the month's snapshot passes every check and its report is rendered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger_store import keys
from ledger_store.checksums import hmac_key_from_env
from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill
from ledger_store.events import AccountEventRepository
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.adoption.adopt import adopt_account
from snapshots.adoption.reconcile import reconcile_account
from snapshots.alpaca.source import AlpacaSource
from snapshots.builder import take_snapshot
from snapshots.demo.history import UNIVERSE, generate_history, synthetic_account_id
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca
from snapshots.ledger.rules import load_rules
from snapshots.schema import AnySnapshot

ADOPTED_ACCOUNT_ID = synthetic_account_id("adopted")
#: The adopted account's bots named their orders by strategy; the orders one bot placed for
#: two strategies carry no prefix, and the trader writes their split down by symbol. The
#: rules must say what the bots will say when they record fills themselves: a position
#: adopted into ``unattributed`` and later sold by a bot's own strategy would show as a long
#: in one and a short in the other.
PREFIXES = {"momentum": "mom-", "trend_following": "trend-", "dividend_carry": "div-"}
SHARED = {
    symbol: allocation for symbol, (_, _, allocation) in UNIVERSE.items() if len(allocation) > 1
}
RULES = (
    "# how this account's bots named their orders\n"
    + "\n".join(
        f'[[rule]]\nname = "{name} bot"\nclient_order_id_prefix = "{prefix}"\nstrategy = "{name}"\n'
        for name, prefix in PREFIXES.items()
    )
    + "\n"
    + "\n".join(
        f'[[rule]]\nname = "{symbol} split"\nsymbols = ["{symbol}"]\nallocation = {{ '
        + ", ".join(f'{name} = "{weight}"' for name, weight in sorted(allocation.items()))
        + " }\n"
        for symbol, allocation in sorted(SHARED.items())
    )
)
#: Trading days of the adopted account; the bot records the last two itself.
DAYS, LIVE = 12, 2


def client_order_id(fill: TradeFill) -> str:
    if len(fill.strategy_allocation) == 1:
        (strategy,) = fill.strategy_allocation
        return f"{PREFIXES.get(strategy, 'bot-')}{fill.order_id[:8]}"
    return f"shared-{fill.order_id[:8]}"  # the bot did not say


def _midnight_after(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def run_adoption_demo(
    settings: TableSettings, first_day: datetime, workdir: Path, output: Path
) -> Path:
    """Adopt, reconcile and report the second account; returns the report's path."""
    cycles = generate_history(
        first_day=first_day.date(), days=DAYS, seed=11, account_id=ADOPTED_ACCOUNT_ID
    )
    before, live = cycles[:-LIVE], cycles[-LIVE:]
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    adopted_until = _midnight_after(before[-1].end)
    rules_file = workdir / "rules.toml"
    rules_file.write_text(RULES, encoding="utf-8")
    rules = load_rules(rules_file)
    ledger = TradeLedgerRepository(settings)
    events = AccountEventRepository(settings)
    hmac_key = hmac_key_from_env()
    store = AccountSnapshotRepository(settings, hmac_key=hmac_key)
    print(
        f"\nadopting account {ADOPTED_ACCOUNT_ID}: {sum(len(c.fills) for c in before)} orders "
        f"at Alpaca from {keys.format_seconds(start)}, none in the ledger "
        f"(rules: {rules_file.name})"
    )
    account = FakeAccount.from_history(before, client_order_id=client_order_id)
    with running_fake_alpaca(account) as fake:
        alpaca = AlpacaSource(
            api_key=DEFAULT_KEY_ID,
            secret_key=DEFAULT_SECRET_KEY,
            base_url=fake.base_url,
            environ={},
        )
        with alpaca:
            adoption = adopt_account(
                account_id=ADOPTED_ACCOUNT_ID,
                alpaca=alpaca,
                ledger=ledger,
                events=events,
                store=store,
                rules=rules,
                period_start=start,
                period_end=adopted_until,
                hmac_key=hmac_key,
            )
            print(
                f"  {adoption.executions} executions of {adoption.fills} orders: "
                f"{len(adoption.recorded)} fills recorded"
            )
            for label, count in adoption.by_rule.items():
                print(f"    {label:<24} {count:>4} fills")
            assert adoption.snapshot is not None
            print(f"  first snapshot: {_checks(adoption.snapshot.snapshot)}")

            # The bot now records its own fills, but one cycle crashes before record() and
            # another fill goes in with the wrong quantity.
            lost, wrong = live[0].fills[0], live[-1].fills[-1]
            for fill in (f for c in live for f in c.fills if f is not lost):
                ledger.record(
                    fill if fill is not wrong else wrong.model_copy(update={"qty": wrong.qty + 1})
                )
            fake.account = FakeAccount.from_history(cycles, client_order_id=client_order_id)
            period_start = datetime(start.year, start.month, 1, tzinfo=UTC)
            period_end = _midnight_after(live[-1].end)
            for apply in (False, True):
                result = reconcile_account(
                    account_id=ADOPTED_ACCOUNT_ID,
                    alpaca=alpaca,
                    ledger=ledger,
                    events=events,
                    period_start=period_start,
                    period_end=period_end,
                    rules=rules,
                    apply=apply,
                )
                verb = "reconcile --apply" if apply else "reconcile"
                print(f"  {verb}: {len(result.differences)} difference(s)")
                for difference in result.differences:
                    shown = f" -> {difference.status}" if apply else ""
                    print(
                        f"    {difference.kind}: {difference.order_id} {difference.repair}{shown}"
                    )
            outcome = take_snapshot(
                account_id=ADOPTED_ACCOUNT_ID,
                period_start=period_start,
                period_end=period_end,
                correlation_id=live[-1].correlation_id,
                alpaca=alpaca,
                ledger=ledger,
                store=store,
                hmac_key=hmac_key,
            )
    print(f"  month-to-date snapshot after the repairs: {_checks(outcome.snapshot)}")
    return _render(settings, outcome.snapshot.period_end, output)


def _checks(snapshot: AnySnapshot) -> str:
    statuses = [c.status.value for c in snapshot.integrity_checks]
    return ", ".join(f"{statuses.count(s)} {s}" for s in ("pass", "warn", "fail") if s in statuses)


def _render(settings: TableSettings, period_end: datetime, output: Path) -> Path:
    from snapshots.cli.report import write_atomically
    from snapshots.handlers.report import parse_request, render_stored

    event = {"account_id": ADOPTED_ACCOUNT_ID, "at": keys.format_seconds(period_end)}
    snapshot, rendered = render_stored(parse_request(event), settings, hmac_key=hmac_key_from_env())
    path = output / f"adopted-account-report-{keys.format_seconds(snapshot.period_end)[:10]}.pdf"
    write_atomically(path, rendered.pdf)
    print(f"  report: {path} ({rendered.pages} pages)")
    return path
