"""How the source talks to Alpaca: its own bounded requests over alpaca-py's session.

alpaca-py retries only 429/504 and has no timeout: the source disables its retries, bounds
every request (connect, read, the whole body, a deadline a watchdog enforces) and sorts
failures into transient (retried) and permanent (typed, raised at once). Imports nothing of
alpaca-py at module level.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from ledger_store.errors import ConfigurationError
from snapshots.errors import (
    AlpacaAuthError,
    AlpacaError,
    AlpacaRequestError,
    AlpacaResponseError,
    describe,
)

#: Statuses worth a retry besides every 5xx.
RETRYABLE_STATUSES = frozenset({408, 429})


class SharedSession:
    """The bot's ``requests`` session as the source's client sees it: requests go through it
    (its adapters, proxies, certificates, pooled connections), but the source's request bounds
    are set on this view, and closing the source leaves the bot's session open."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.request = session.request

    def close(self) -> None:
        """The session belongs to the bot: nothing to close."""


def reading_client_of(client: Any) -> Any:
    """A ``TradingClient`` of the source's own with ``client``'s credentials, URL and session."""
    from alpaca.trading.client import TradingClient

    if not isinstance(client, TradingClient):
        raise ConfigurationError(
            f"client must be alpaca-py's TradingClient, got {type(client).__name__}"
        )
    base = getattr(client._base_url, "value", client._base_url)
    reading = TradingClient(
        api_key=client._api_key,
        secret_key=client._secret_key,
        oauth_token=client._oauth_token,
        raw_data=True,
        url_override=str(base),
    )
    reading._sandbox = client._sandbox
    reading._use_basic_auth = client._use_basic_auth
    reading._session = SharedSession(client._session)  # type: ignore[assignment]
    return reading


def disable_sdk_retries_and_bound_requests(
    client: Any,
    timeout: Callable[[], float],
    deadline: Callable[[], float | None],
    clock: Callable[[], float],
) -> None:
    """Turn off alpaca-py's own retry loop; give every request a timeout and a deadline.

    ``RESTClient._request`` loops ``while retry >= 0`` over ``_one_request``, which raises its
    internal ``RetryException`` (then sleeps ``_retry_wait``) only when the status is in
    ``_retry_codes`` and ``retry > 0``: with ``_retry = 0`` and no codes every request is sent
    once. ``_one_request`` calls ``self._session.request(method, url, **opts)`` without a
    timeout; the wrapper adds one and reads the body itself (``read_body``), so neither a
    trickling nor an endless body can outlast the fetch's deadline.
    """
    missing = [
        n for n in ("_retry", "_retry_wait", "_retry_codes", "_session") if not hasattr(client, n)
    ]
    if missing:
        raise ConfigurationError(
            f"this alpaca-py version has no {', '.join(missing)} on its REST client; "
            "snapshots.alpaca.source cannot bound its retries and timeouts"
        )
    client._retry = 0
    client._retry_wait = 0
    client._retry_codes = []
    session = client._session
    send = session.request

    def bounded_request(method: str, url: str, **kwargs: Any) -> Any:
        abandoned = getattr(WORKER, "abandoned", None)
        if abandoned is not None and abandoned.is_set():
            raise Abandoned(f"{method} {url}: the call was abandoned at its deadline")
        kwargs.setdefault("timeout", timeout())
        kwargs["stream"] = True
        response = send(method, url, **kwargs)
        try:
            response._content = read_body(response, deadline(), clock)
        finally:
            response.close()
        return response

    session.request = bounded_request


#: The largest answer read from Alpaca (a page of 500 nested orders is about 1 MB).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
READ_SIZE = 64 * 1024


class DeadlinePassed(Exception):
    """The watchdog gave up on a request at the fetch's deadline."""


class Abandoned(Exception):
    """Raised in an abandoned worker at its next request, so that it ends there."""


#: The worker thread's ``abandoned`` event (``AlpacaSource._within``).
WORKER = threading.local()


class ResponseTooLarge(Exception):
    """Alpaca's answer exceeded ``MAX_RESPONSE_BYTES``."""


def read_body(response: Any, deadline: float | None, clock: Callable[[], float]) -> bytes:
    """The whole body, read at most one socket receive at a time, within ``deadline``.

    Before each receive the socket's timeout is cut to the time left, so a server that sends
    a byte now and then (each gap shorter than the request timeout) or never stops sending
    is cut off at the deadline (``ReadTimeout``) or at ``MAX_RESPONSE_BYTES``.
    """
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ReadTimeout
    from urllib3.exceptions import HTTPError, ReadTimeoutError

    raw = response.raw
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    body = bytearray()
    while True:
        if deadline is not None:
            left = deadline - clock()
            if left <= 0:
                raise ReadTimeout("the fetch's deadline passed while reading the response body")
            if sock is not None:
                sock.settimeout(min(left, sock.gettimeout() or left))
        try:
            chunk = raw.read1(READ_SIZE, decode_content=True)
        except (OSError, HTTPError) as exc:  # a receive cut short by the timeout above
            if isinstance(exc, TimeoutError | ReadTimeoutError):
                raise ReadTimeout(f"reading the response body: {exc}") from exc
            raise RequestsConnectionError(f"reading the response body: {exc}") from exc
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise ResponseTooLarge(f"the answer is larger than {MAX_RESPONSE_BYTES:,} bytes")


def is_transient(exc: Exception) -> bool:
    from alpaca.common.exceptions import APIError
    from requests import exceptions

    if isinstance(exc, APIError):
        status = exc.status_code
        return status is not None and (status in RETRYABLE_STATUSES or status >= 500)
    return isinstance(
        exc, exceptions.Timeout | exceptions.ConnectionError | exceptions.ChunkedEncodingError
    )


def permanent_error(call: str, exc: Exception) -> AlpacaError | None:
    """The typed error for a failure that retrying cannot fix; None otherwise."""
    from alpaca.common.exceptions import APIError
    from requests import exceptions

    if isinstance(exc, APIError):
        if is_transient(exc):
            return None
        status = exc.status_code
        code, message = api_error_details(str(exc))
        if status in (401, 403):
            return AlpacaAuthError(call, status, code, message)
        return AlpacaRequestError(call, status, code, message)
    if isinstance(exc, exceptions.JSONDecodeError):
        return AlpacaResponseError(call, f"the body is not JSON ({exc})")
    if isinstance(exc, ResponseTooLarge):
        return AlpacaResponseError(call, str(exc))
    if is_transient(exc):
        return None
    if isinstance(exc, exceptions.RequestException):
        return AlpacaRequestError(call, None, None, describe(exc))
    return None


def api_error_details(text: str) -> tuple[int | None, str]:
    """``code`` and ``message`` of an Alpaca error body (the body itself if not JSON)."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message")
        return (
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            str(message) if message is not None else text[:500],
        )
    return None, " ".join(text.split())[:500] or "(empty body)"
