"""``scripts/fake_alpaca.py``: the demo's account served on its own, so that a newcomer can try
the commands that read Alpaca; here ``account adopt`` runs against it as the page shows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.timing import hang_limit

ROOT = Path(__file__).resolve().parents[2]


def test_the_commands_that_read_alpaca_run_against_the_served_fake() -> None:
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "fake_alpaca.py"), "--days", "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        exports = server.stdout.readline().strip()
        assert banner.startswith("fake Alpaca serving account ")
        assert exports.startswith("export APCA_API_KEY_ID=")
        settings = dict(part.split("=", 1) for part in exports.removeprefix("export ").split())
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("APCA_")
        }
        adopted = subprocess.run(
            [
                str(Path(sys.executable).parent / "trade-ledger"),
                "account",
                "adopt",
                "--account",
                "tried-on-the-fake",
                "--embedded",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**environment, **settings},
            timeout=hang_limit(60),
        )
        assert adopted.returncode == 0, adopted.stderr
        assert "first snapshot (created)" in adopted.stdout
        assert adopted.stdout.count(" pass") == 5
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=hang_limit(5)) == 0
