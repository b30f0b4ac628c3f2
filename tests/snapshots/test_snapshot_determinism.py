"""The same inputs give byte-identical snapshots in separate processes, whatever their environment.

Each child process runs this module (``python -m``, from the checkout): it builds a snapshot end
to end, the way the trading Lambda does, from fixed inputs (a deterministic ten-day history
recorded in the ledger on embedded moto; the account that history leaves behind, served by the
fake Alpaca server and read through the real ``AlpacaSource``/alpaca-py client; a fixed clock)
and prints the SHA-256 of the stored form (``snapshot_bytes``), of the checksummed body
(``body_bytes``) and the checksum, once keyless and once with an HMAC key. The children differ
in ``TZ``, ``PYTHONHASHSEED`` and ``LC_ALL`` (applied with ``setlocale``); every one must print
exactly what this process computes. Each child also reports what its environment really was (UTC
offset, a string hash, the active locale), so the test proves the variation took effect.
"""

from __future__ import annotations

import hashlib
import json
import locale
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.builders import ROOT

HMAC_KEY = b"determinism-key"
TABLE = "alchemiser-trade-ledger-determinism"
PERIOD_START = datetime(2026, 8, 10, tzinfo=UTC)
PERIOD_END = datetime(2026, 8, 15, tzinfo=UTC)
NOW = datetime(2026, 8, 15, 0, 5, 17, tzinfo=UTC)
CORRELATION_ID = "cycle-2026-08-14"
HISTORY_DAYS = 10
CHILD_TIMEOUT = 60


def build_digests() -> dict[str, Any]:
    """Build the snapshot from the fixed inputs; the digests of its bytes and its checksums."""
    from ledger_store.bootstrap import create_table
    from ledger_store.config import TableSettings
    from ledger_store.embedded import embedded_aws
    from ledger_store.trades import TradeLedgerRepository
    from snapshots.alpaca.source import AlpacaSource
    from snapshots.builder import build_snapshot
    from snapshots.demo.history import DEMO_ACCOUNT_ID, generate_history
    from snapshots.fake_alpaca.broker import FakeAccount
    from snapshots.fake_alpaca.server import running_fake_alpaca
    from snapshots.schema import body_bytes, snapshot_bytes

    cycles = generate_history(first_day=date(2026, 8, 3), days=HISTORY_DAYS)
    result: dict[str, Any] = {}
    with embedded_aws() as region:
        settings = TableSettings(table_name=TABLE, region=region)
        create_table(settings)
        ledger = TradeLedgerRepository(settings)
        for cycle in cycles:
            for fill in cycle.fills:
                ledger.record(fill)
        with running_fake_alpaca(FakeAccount.from_history(cycles)) as fake:
            source = AlpacaSource(
                api_key=fake.key_id,
                secret_key=fake.secret_key,
                base_url=fake.base_url,
                environ={},
            )
            with source:
                for label, key in (("sha256", None), ("hmac", HMAC_KEY)):
                    snapshot = build_snapshot(
                        account_id=DEMO_ACCOUNT_ID,
                        period_start=PERIOD_START,
                        period_end=PERIOD_END,
                        correlation_id=CORRELATION_ID,
                        alpaca=source,
                        ledger=ledger,
                        hmac_key=key,
                        clock=lambda: NOW,
                    )
                    result[label] = {
                        "snapshot_bytes_sha256": hashlib.sha256(
                            snapshot_bytes(snapshot)
                        ).hexdigest(),
                        "body_bytes_sha256": hashlib.sha256(body_bytes(snapshot)).hexdigest(),
                        "checksum": snapshot.checksum,
                        "checksum_algorithm": snapshot.checksum_algorithm,
                    }
    result["shape"] = {
        "snapshot_id": snapshot.snapshot_id,
        "orders": len(snapshot.alpaca_orders),
        "positions": len(snapshot.alpaca_positions),
        "fees": len(snapshot.alpaca_fees),
        "equity_points": len(snapshot.equity_series),
        "ledger_trades": snapshot.internal_ledger.total_trades,
        "strategies": len(snapshot.internal_ledger.strategy_performance),
        "checks": len(snapshot.integrity_checks),
    }
    return result


def environment_probe() -> dict[str, str]:
    """What this process's environment really is (proof that the variation took effect)."""
    instant = time.localtime(PERIOD_END.timestamp())
    return {
        "utc_offset": time.strftime("%z", instant),
        "str_hash": str(hash("trade-ledger")),
        "locale": str(locale.setlocale(locale.LC_ALL)),
    }


def _child_main() -> None:
    locale.setlocale(locale.LC_ALL, "")  # apply LC_ALL to every category, as an app might
    print(json.dumps({"digests": build_digests(), "environment": environment_probe()}))


# The test ------------------------------------------------------------------------------------


def _extra_locale() -> str:
    """A non-C locale when the machine has one (Turkish and German format and case-fold
    differently); otherwise C.UTF-8, which every glibc has."""
    available: set[str] = set()
    program = shutil.which("locale")
    if program is not None:
        listing = subprocess.run([program, "-a"], capture_output=True, text=True, check=False)
        available = {name.lower().replace("-", "") for name in listing.stdout.split()}
    for wanted in ("tr_TR.UTF-8", "de_DE.UTF-8", "fr_FR.UTF-8", "en_IN.UTF-8"):
        if wanted.lower().replace("-", "") in available:
            return wanted
    return "C.UTF-8"


#: (TZ, PYTHONHASHSEED, LC_ALL, expected UTC offset at period_end)
ENVIRONMENTS: list[tuple[str, str, str, str]] = [
    ("UTC", "0", "C", "+0000"),
    ("America/New_York", "1", _extra_locale(), "-0400"),
    ("Asia/Kolkata", "random", "POSIX", "+0530"),
    ("Pacific/Chatham", "4294967295", "C.UTF-8", "+1245"),
]


def _child_env(tz: str, hash_seed: str, lc_all: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LC_", "PYTEST", "TRADE_LEDGER_"))
        and name not in {"TZ", "PYTHONHASHSEED", "LANG", "LANGUAGE"}
    }
    env.update({"TZ": tz, "PYTHONHASHSEED": hash_seed, "LC_ALL": lc_all})
    return env


def _run_child(env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", __name__],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    described = " ".join(f"{name}={env[name]}" for name in ("TZ", "PYTHONHASHSEED", "LC_ALL"))
    assert completed.returncode == 0, f"child {described} failed:\n{completed.stderr}"
    output: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return output


def test_separate_processes_build_byte_identical_snapshots() -> None:
    # Environments first: the in-process build below masks AWS variables while it runs.
    envs = [_child_env(tz, seed, lc_all) for tz, seed, lc_all, _ in ENVIRONMENTS]
    with ThreadPoolExecutor(max_workers=len(envs)) as pool:
        children = [pool.submit(_run_child, env) for env in envs]
        in_process = build_digests()  # built here while the children run
        outputs = [child.result() for child in children]

    # The environments really differed.
    probes = [output["environment"] for output in outputs]
    assert [p["utc_offset"] for p in probes] == [offset for *_, offset in ENVIRONMENTS]
    assert len({p["str_hash"] for p in probes}) == len(ENVIRONMENTS)
    # glibc names the POSIX locale "C".
    expected_locales = [{"POSIX": "C"}.get(lc_all, lc_all) for _, _, lc_all, _ in ENVIRONMENTS]
    assert [p["locale"] for p in probes] == expected_locales

    # A real snapshot, keyless and keyed.
    shape = in_process["shape"]
    assert shape["orders"] > 20
    assert shape["positions"] > 0
    assert shape["fees"] > 0
    assert shape["equity_points"] == 5
    assert shape["ledger_trades"] > 0
    assert shape["checks"] == 5
    assert in_process["sha256"]["checksum_algorithm"] == "sha256"
    assert in_process["hmac"]["checksum_algorithm"] == "hmac-sha256"
    assert in_process["sha256"]["body_bytes_sha256"] == in_process["sha256"]["checksum"]
    assert in_process["hmac"]["body_bytes_sha256"] == in_process["sha256"]["body_bytes_sha256"]
    assert in_process["hmac"]["checksum"] != in_process["sha256"]["checksum"]

    # Byte-identical everywhere.
    for (tz, seed, lc_all, _), output in zip(ENVIRONMENTS, outputs, strict=True):
        assert output["digests"] == in_process, f"TZ={tz} PYTHONHASHSEED={seed} LC_ALL={lc_all}"


@pytest.mark.parametrize("lc_all", ["C", "POSIX", "C.UTF-8"])
def test_the_standard_locales_exist(lc_all: str) -> None:
    """The child environments rely on them; a machine without them must fail loudly here."""
    previous = locale.setlocale(locale.LC_ALL)
    try:
        locale.setlocale(locale.LC_ALL, lc_all)
    finally:
        locale.setlocale(locale.LC_ALL, previous)


if __name__ == "__main__":
    _child_main()
