"""The project's fake Alpaca serving the demo's account on its own, so that the commands that
read Alpaca (``snapshot take``, ``events sync``, ``account adopt``/``reconcile``) can be tried
without an Alpaca account (``scripts/fake_alpaca.py``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

from snapshots.demo.history import demo_history
from snapshots.demo.run import FAKE_MARKET, FIRST_DAY
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, FakeAlpaca


def demo_account(days: int = 60) -> FakeAccount:
    """Alpaca's side of the demo's account after its last trading day: orders, positions,
    activities, a daily history and SPY's bars."""
    demo = demo_history(first_day=FIRST_DAY, days=days)
    return FakeAccount.from_history(
        demo.cycles, events=demo.events_until(demo.cycles[-1].end), **FAKE_MARKET
    )


def serve(port: int, days: int, say: Callable[[str], object] = print) -> int:
    """Serve the demo's account on ``port`` (0: a free one) until SIGINT or SIGTERM."""
    account = demo_account(days)
    server = FakeAlpaca(account, port=port).start()
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    url = server.base_url
    say(f"fake Alpaca serving account {account.account_id} at {url} (Ctrl-C stops it); in a shell:")
    say(
        f"  export APCA_API_KEY_ID={DEFAULT_KEY_ID} APCA_API_SECRET_KEY={DEFAULT_SECRET_KEY} "
        f"APCA_API_BASE_URL={url} APCA_API_DATA_URL={url}"
    )
    try:
        stopped.wait()
    finally:
        server.stop()
    return 0


__all__ = ["demo_account", "serve"]
