#!/usr/bin/env python3
"""How many calls a long-lived process wins against a DynamoDB that loses most answers.

    .venv/bin/python scripts/bench_retries.py [--calls 300] [--loss 0.6] [--attempts 4]

A local endpoint answers DynamoDB's JSON API from a seeded script: each request fails (a 500)
with probability ``--loss``, else succeeds (``GetItem`` of an absent item). One process makes
``--calls`` reads through the library's repository, first with botocore's ``standard`` retry
mode (what PynamoDB configures: a retry quota per client), then with ``legacy`` (what the
library configures: each call retries within its own budget). Both runs see the same failure
sequence; the figures are printed side by side: calls won, requests sent, retries made.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ledger_store.accounts import AccountBindingRepository  # noqa: E402
from ledger_store.binding import bound  # noqa: E402
from ledger_store.config import TableSettings  # noqa: E402
from ledger_store.errors import StorageUnavailableError  # noqa: E402
from ledger_store.models import LedgerItem  # noqa: E402


def serve(loss: float, seed: int) -> tuple[ThreadingHTTPServer, dict[str, int]]:
    """An endpoint failing each request with probability ``loss`` (seeded); its counters."""
    rng = random.Random(seed)
    counts = {"requests": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                counts["requests"] += 1
                fail = rng.random() < loss
            body = {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError"}
            data = json.dumps(body if fail else {}).encode()
            self.send_response(500 if fail else 200)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, counts


def run(mode: str, calls: int, loss: float, attempts: int, seed: int) -> tuple[int, int]:
    """Calls won and requests sent with botocore's ``mode`` (a fresh client and sequence)."""
    server, counts = serve(loss, seed)
    settings = TableSettings(
        table_name=f"bench-{mode}",
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        max_retry_attempts=attempts,
    )
    accounts = AccountBindingRepository(settings)
    won = 0
    try:
        with bound(settings):
            connection = LedgerItem._get_connection().connection
            connection._retry_configuration = {"mode": mode, "total_max_attempts": 1 + attempts}
        for _ in range(calls):
            try:
                accounts.find("bench")
                won += 1
            except StorageUnavailableError:
                pass
    finally:
        server.shutdown()
        server.server_close()
    return won, counts["requests"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--loss", type=float, default=0.6)
    parser.add_argument("--attempts", type=int, default=4, help="retries a call may make")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    print(
        f"{args.calls} reads, {args.loss:.0%} of answers lost, up to {args.attempts} retries "
        "a call, one process:"
    )
    bound = 1 - args.loss ** (1 + args.attempts)
    for mode in ("standard", "legacy"):
        won, requests = run(mode, args.calls, args.loss, args.attempts, args.seed)
        print(
            f"  {mode:<9} won {won:4d} of {args.calls} ({won / args.calls:6.1%}), "
            f"{requests:5d} requests ({requests - args.calls:5d} retries)"
        )
    print(f"  expected without a quota: 1 - {args.loss}^{1 + args.attempts} = {bound:.1%} a call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
