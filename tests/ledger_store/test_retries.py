"""A long-lived process recovers after an outage (issue 20): the DynamoDB client retries every
call within its own budget, however many retries earlier calls used.

botocore's ``standard`` retry mode keeps a retry quota per client (500 tokens, 5 a retried
error): after about 100 retries in one process it stops retrying, and every later call fails
at its first transient error until enough first attempts succeed, so a warm Lambda container
that lived through an outage loses calls it would have won. The library's client retries in
botocore's ``legacy`` mode, which has no quota. The DynamoDB here is a small HTTP endpoint
that answers from a script: an outage (every request a 500), then a flaky recovery (every
first attempt a 500, every retry an answer).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ledger_store.accounts import AccountBindingRepository
from ledger_store.config import TableSettings
from ledger_store.errors import StorageUnavailableError


class _Script:
    """What the endpoint answers: ``down`` every request fails; otherwise every other one."""

    def __init__(self) -> None:
        self.down = True
        self.requests = 0
        self.lock = threading.Lock()

    def fails(self) -> bool:
        with self.lock:
            self.requests += 1
            return self.down or self.requests % 2 == 1


@pytest.fixture
def flaky_dynamodb() -> Iterator[tuple[str, _Script]]:
    script = _Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if script.fails():
                body = {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError"}
                status = 500
            else:
                body, status = {}, 200  # GetItem of an absent item
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


def test_calls_after_an_outage_are_retried_again(
    flaky_dynamodb: tuple[str, _Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    """120 calls fail through an outage (120 retries: past standard mode's quota); once
    DynamoDB answers every second request, each of the next 20 calls fails once and is
    retried to an answer. With a retry quota every one of them would fail."""
    endpoint, script = flaky_dynamodb
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    settings = TableSettings(
        table_name="retries-table", region="us-east-1", endpoint_url=endpoint, max_retry_attempts=1
    )
    accounts = AccountBindingRepository(settings)
    for _ in range(120):
        with pytest.raises(StorageUnavailableError):
            accounts.find("acct-1")
    assert script.requests == 240  # each call: its attempt and one retry
    script.down = False
    script.requests = 0
    assert [accounts.find("acct-1") for _ in range(20)] == [None] * 20
    assert script.requests == 40
