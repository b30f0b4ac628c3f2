"""A fake Alpaca Trading API server for tests and local runs (stdlib only).

The real alpaca-py ``TradingClient`` is pointed at it (``url_override=server.base_url`` or
``APCA_API_BASE_URL``). It serves, under ``/v2``, what the snapshot job reads, in the shapes of
the contract fixtures (``tests/contract/alpaca/payloads``, each naming its public source;
``docs/alpaca.md``):

* ``GET /v2/account``, ``GET /v2/positions``;
* ``GET /v2/orders`` with ``status`` (open/closed/all, default open), ``limit`` (default 50,
  capped at 500), ``after``/``until`` (exclusive bounds on ``submitted_at``), ``direction``
  (default desc), ``nested`` (legs inside their parent, else beside it), ``symbols``,
  ``side``; ``GET /v2/orders/{id}``;
* ``GET /v2/account/activities/{TYPE}`` and ``GET /v2/account/activities?activity_types=A,B``
  with ``after``/``until`` (exclusive, on creation time), ``date``, ``direction`` (default
  desc), ``page_size`` (default and maximum 100) and ``page_token`` (the id of the last row
  seen; ids look like ``<yyyymmddhhmmssmmm>::<uuid>`` and rows are ordered by id);
* ``GET /v2/account/portfolio/history`` with ``period``, ``timeframe`` (``1D``, or ``1Min``,
  ``5Min``, ``15Min``, ``1H`` over the session), ``start``, ``end``: parallel arrays of JSON
  numbers, as Alpaca sends them, the timestamps in seconds (or in milliseconds, as Alpaca's
  documented example, with ``FakeAccount.history_in_milliseconds``);
* the market-data route ``GET /v2/stocks/bars`` (``APCA_API_DATA_URL`` points alpaca-py's
  ``StockHistoricalDataClient`` here) with ``symbols``, ``timeframe`` (``1Day`` only),
  ``start``, ``end``, ``limit`` (default 1000, at most 10,000) and ``page_token``:
  ``{"bars": {symbol: [{"t", "o", "h", "l", "c", "v", "n", "vw"}]}, "next_page_token"}``;
* the crypto market-data route ``GET /v1beta3/crypto/us/bars`` (alpaca-py's
  ``CryptoHistoricalDataClient``, at the same data URL) with ``symbols`` (``BTC/USD``),
  ``timeframe`` (``1Min`` only), ``start``, ``end``, ``limit`` and ``page_token``, in the same
  shape: the quote coins' rates at the minutes of the fills quoted in them. Like Alpaca's, it
  needs no keys.

Money and quantities are JSON strings (numbers only in portfolio history), timestamps carry 9
fractional digits, errors are ``{"code": int, "message": str}``, every response carries
``X-Ratelimit-Limit/Remaining/Reset``. Requests need ``APCA-API-KEY-ID`` and
``APCA-API-SECRET-KEY``: missing or wrong keys get 401.

Tests steer it with ``inject`` (the next N requests under a path prefix answer with a status,
a body, and/or only after a delay) and read the request log (``requests``). A delayed request
is released at once when the server stops, so stopping never waits for a "hanging" request.
"""

from __future__ import annotations

import decimal
import json
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ledger_store.decimals import decimal_context
from snapshots.fake_alpaca.broker import OPEN_STATUSES, FakeAccount
from snapshots.fake_alpaca.shapes import NS_PER_SECOND, epoch_ns

DEFAULT_KEY_ID = "FAKEALPACAKEYID"
DEFAULT_SECRET_KEY = "fake-alpaca-secret-key"
#: Alpaca's documented rate limit (requests per minute per account).
RATE_LIMIT_PER_MINUTE = 200
ORDERS_DEFAULT_LIMIT = 50
ORDERS_MAX_LIMIT = 500
ACTIVITIES_MAX_PAGE_SIZE = 100

_ERROR_CODES = {
    400: (40010000, "bad request"),
    401: (40110000, "request is not authorized"),
    403: (40310000, "forbidden"),
    404: (40410000, "resource not found"),
    405: (40510000, "method not allowed"),
    422: (42210000, "unprocessable entity"),
    429: (42910000, "rate limit exceeded"),
    500: (50010000, "internal server error"),
    502: (50210000, "bad gateway"),
    503: (50310000, "service unavailable"),
    504: (50410000, "gateway timeout"),
}


_QUERY_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<tz>Z|z|[+\- ]\d{2}:?\d{2})?)?$"
)


def parse_query_time(text: str) -> int:
    """An RFC 3339 timestamp or a date from a query string, as epoch nanoseconds (UTC).

    Dates mean midnight UTC; a time without an offset is read as UTC; a ``+`` that arrived
    unescaped (decoded to a space) is read as ``+``.
    """
    match = _QUERY_TIME.fullmatch(text.strip())
    if match is None:
        raise _Failure(422, f"invalid timestamp {text!r}")
    day = date.fromisoformat(match["date"])
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if match["h"] is not None:
        moment += timedelta(
            hours=int(match["h"]), minutes=int(match["m"]), seconds=int(match["s"] or 0)
        )
    tz = match["tz"]
    if tz and tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    fraction = int((match["f"] or "").ljust(9, "0"))
    return epoch_ns(moment) + fraction


# The server ----------------------------------------------------------------------------------


class _Failure(Exception):
    """An HTTP error answer (status, Alpaca error code, message)."""

    def __init__(self, status: int, message: str | None = None) -> None:
        code, default = _ERROR_CODES.get(status, (status * 100_000, "error"))
        self.status = status
        self.code = code
        self.message = message or default
        super().__init__(self.message)


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server received it (query values: the last one of each name)."""

    method: str
    path: str
    query: Mapping[str, str]


@dataclass
class _Fault:
    path_prefix: str
    remaining: int
    status: int | None
    delay: float
    body: str | None
    trickle: float = 0.0
    trickle_headers: bool = False
    endless: bool = False


class _Server(ThreadingHTTPServer):
    block_on_close = True  # stop() joins every handler thread (delays are released first)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAlpaca
    server_version = "FakeAlpaca/1.0"
    timeout = 10  # a client that connects and never sends cannot pin a thread forever

    def do_GET(self) -> None:
        self.fake._handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is ``FakeAlpaca.requests``."""


class FakeAlpaca:
    """The fake Trading API server; use ``running_fake_alpaca`` or ``start``/``stop``."""

    def __init__(
        self,
        account: FakeAccount,
        *,
        key_id: str = DEFAULT_KEY_ID,
        secret_key: str = DEFAULT_SECRET_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int = RATE_LIMIT_PER_MINUTE,
    ) -> None:
        self.key_id = key_id
        self.secret_key = secret_key
        self._account = account
        self._host = host
        self._port = port
        self._rate_limit = rate_limit
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._log: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._window = -1
        self._window_count = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeAlpaca:
        if self._server is not None:
            raise RuntimeError("the fake Alpaca server is already running")
        handler = type("FakeAlpacaHandler", (_Handler,), {"fake": self})
        self._stopping.clear()
        self._server = _Server((self._host, self._port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-alpaca-{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release delayed requests, stop serving, close the socket, join every thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeAlpaca:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash, no ``/v2``)."""
        if self._server is None:
            raise RuntimeError("the fake Alpaca server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # State and steering -----------------------------------------------------------------

    @property
    def account(self) -> FakeAccount:
        return self._account

    @account.setter
    def account(self, account: FakeAccount) -> None:
        with self._lock:
            self._account = account

    def inject(
        self,
        path_prefix: str,
        *,
        status: int | None = None,
        times: int = 1,
        delay: float = 0.0,
        body: str | None = None,
        trickle: float = 0.0,
        trickle_headers: bool = False,
        endless: bool = False,
    ) -> None:
        """The next ``times`` requests whose path starts with ``path_prefix`` misbehave.

        ``delay`` seconds pass before anything is sent (a "hang" when it exceeds the client's
        timeout); then ``status`` (with an Alpaca error body, or ``body`` verbatim) is sent
        instead of the real answer, or the real answer when ``status`` is None. ``trickle``
        sends the answer one byte every ``trickle`` seconds (the headers too with
        ``trickle_headers``), each gap shorter than a client's read timeout; ``endless``
        sends headers, then body bytes without end. Faults queue in order; each request
        consumes at most one.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if status is None and delay <= 0 and body is None and not trickle and not endless:
            raise ValueError("give a status, a delay, a body, a trickle or endless")
        fault = _Fault(path_prefix, times, status, delay, body, trickle, trickle_headers, endless)
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests(self, path_prefix: str = "") -> list[RecordedRequest]:
        """Requests received so far (in arrival order), optionally under ``path_prefix``."""
        with self._lock:
            return [r for r in self._log if r.path.startswith(path_prefix)]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def handler_errors(self) -> list[BaseException]:
        """Exceptions raised while answering (a bug in the fake; answered with 500)."""
        with self._lock:
            return list(self._errors)

    # Request handling -------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        path = split.path
        with self._lock:
            self._log.append(RecordedRequest(handler.command, path, query))
            fault = self._take_fault(path)
            account = self._account
        if fault is not None and fault.delay > 0 and self._stopping.wait(fault.delay):
            return  # stopping: drop the connection without an answer
        if fault is not None and fault.endless:
            self._send_endless(handler)
            return
        if fault is not None and fault.body is not None:
            self._send(handler, fault.status or 200, fault.body.encode("utf-8"), fault)
            return
        try:
            if fault is not None and fault.status is not None:
                raise _Failure(fault.status)
            # The broker's own arithmetic, whatever the client process set as its default.
            with decimal.localcontext(decimal_context(60)):
                payload = self._route(handler, path, query, account)
        except _Failure as failure:
            error = {"code": failure.code, "message": failure.message}
            self._send(handler, failure.status, json.dumps(error).encode("utf-8"))
            return
        except Exception as exc:  # a bug in the fake: answer 500, keep it for the tests
            with self._lock:
                self._errors.append(exc)
            error = {"code": 50010000, "message": f"fake server error: {exc!r}"}
            self._send(handler, 500, json.dumps(error).encode("utf-8"))
            return
        self._send(handler, 200, json.dumps(payload).encode("utf-8"), fault)

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        fault: _Fault | None = None,
    ) -> None:
        now = time.time()
        window = int(now // 60)
        with self._lock:
            if window != self._window:
                self._window, self._window_count = window, 0
            self._window_count += 1
            remaining = max(self._rate_limit - self._window_count, 0)
        if status == 429:
            remaining = 0
        trickle = fault.trickle if fault is not None else 0.0
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("X-Ratelimit-Limit", str(self._rate_limit))
            handler.send_header("X-Ratelimit-Remaining", str(remaining))
            handler.send_header("X-Ratelimit-Reset", str((window + 1) * 60))
            if trickle and fault is not None and fault.trickle_headers:
                head = b"".join(handler._headers_buffer) + b"\r\n"  # type: ignore[attr-defined]
                handler._headers_buffer = []  # type: ignore[attr-defined]
                self._trickle(handler, head, trickle)
            else:
                handler.end_headers()
            if trickle:
                self._trickle(handler, body, trickle)
            else:
                handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. timed out) before the answer: nothing to tell

    def _trickle(self, handler: BaseHTTPRequestHandler, data: bytes, gap: float) -> None:
        """Write ``data`` a byte at a time, ``gap`` seconds apart, until done or stopping."""
        for index in range(len(data)):
            handler.wfile.write(data[index : index + 1])
            handler.wfile.flush()
            if self._stopping.wait(gap):
                return

    def _send_endless(self, handler: BaseHTTPRequestHandler) -> None:
        """A 200 whose body never ends (1 GB promised, 4 KB every 10 ms) until the client
        hangs up or the server stops."""
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(1 << 30))
            handler.end_headers()
            handler.wfile.write(b"[")
            while not self._stopping.wait(0.01):
                handler.wfile.write(b" " * 4096)
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    def _route(
        self,
        handler: BaseHTTPRequestHandler,
        path: str,
        query: Mapping[str, str],
        account: FakeAccount,
    ) -> Any:
        if handler.command != "GET":
            raise _Failure(405)
        if path.rstrip("/") == "/v1beta3/crypto/us/bars":
            return _crypto_bars(account, query)  # Alpaca's crypto data needs no keys
        if not path.startswith("/v2/"):
            raise _Failure(404, f"endpoint not found: {path}")
        key_id = handler.headers.get("APCA-API-KEY-ID")
        secret = handler.headers.get("APCA-API-SECRET-KEY")
        if key_id != self.key_id or secret != self.secret_key:
            raise _Failure(401)
        route = path[len("/v2") :].rstrip("/")
        if route == "/account":
            return account.account_json()
        if route == "/positions":
            return [p.to_json() for p in sorted(account.positions, key=lambda p: p.symbol)]
        if route == "/orders":
            return _orders(account, query)
        if route.startswith("/orders/"):
            nested = _flag(query, "nested")
            order_id = route[len("/orders/") :]
            for order in account.orders:
                if order.id == order_id:
                    return order.to_json(nested=nested)
            raise _Failure(404, f"order not found for {order_id}")
        if route == "/account/activities":
            names = query.get("activity_types") or query.get("activity_type")
            types = {t.strip().upper() for t in names.split(",") if t.strip()} if names else None
            return _activities(account, types, query)
        if route.startswith("/account/activities/"):
            name = route[len("/account/activities/") :]
            if not re.fullmatch(r"[A-Z]+", name):
                raise _Failure(422, f"invalid activity type {name!r}")
            return _activities(account, {name}, query)
        if route == "/account/portfolio/history":
            return _portfolio_history(account, query)
        if route == "/stocks/bars":
            return _stock_bars(account, query)
        raise _Failure(404, f"endpoint not found: {path}")


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise _Failure(422, f"{name} must be an integer, got {text!r}") from exc
    if value < 1:
        raise _Failure(422, f"{name} must be >= 1, got {value}")
    return value


def _choice(query: Mapping[str, str], name: str, allowed: Sequence[str], default: str) -> str:
    value = query.get(name) or default
    if value.lower() not in allowed:
        raise _Failure(422, f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value.lower()


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return False
    if value.lower() not in ("true", "false"):
        raise _Failure(422, f"{name} must be true or false, got {value!r}")
    return value.lower() == "true"


def _bound(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    return parse_query_time(value) if value else None


def _orders(account: FakeAccount, query: Mapping[str, str]) -> list[dict[str, Any]]:
    status = _choice(query, "status", ("open", "closed", "all"), "open")
    limit = min(_int(query, "limit", ORDERS_DEFAULT_LIMIT), ORDERS_MAX_LIMIT)
    after, until = _bound(query, "after"), _bound(query, "until")
    direction = _choice(query, "direction", ("asc", "desc"), "desc")
    # Nested, an order's legs ride in its ``legs``; otherwise they are orders of their own.
    nested = _flag(query, "nested")
    side = query.get("side")
    if side is not None and side.lower() not in ("buy", "sell"):
        raise _Failure(422, f"side must be buy or sell, got {side!r}")
    symbols = None
    if query.get("symbols"):
        symbols = {s.strip().upper() for s in query["symbols"].split(",") if s.strip()}
    every = [
        order
        for parent in account.orders
        for order in ((parent,) if nested else (parent, *parent.legs))
    ]
    selected = [
        order
        for order in every
        if (status == "all" or (status == "open") == (order.status in OPEN_STATUSES))
        and (after is None or order.submitted_ns > after)
        and (until is None or order.submitted_ns < until)
        and (symbols is None or order.symbol in symbols)
        and (side is None or order.side == side.lower())
    ]
    selected.sort(key=lambda o: (o.submitted_ns, o.id), reverse=direction == "desc")
    return [order.to_json(nested=nested) for order in selected[:limit]]


_ACTIVITY_ID = re.compile(r"^\d{17}::[0-9a-fA-F-]{36}$")


def _activities(
    account: FakeAccount, types: set[str] | None, query: Mapping[str, str]
) -> list[dict[str, Any]]:
    after, until = _bound(query, "after"), _bound(query, "until")
    day = query.get("date")
    direction = _choice(query, "direction", ("asc", "desc"), "desc")
    page_size = min(_int(query, "page_size", ACTIVITIES_MAX_PAGE_SIZE), ACTIVITIES_MAX_PAGE_SIZE)
    token = query.get("page_token") or None
    if token is not None and not _ACTIVITY_ID.fullmatch(token):
        raise _Failure(422, f"invalid page_token {token!r}")
    day_bounds = None
    if day:
        start = parse_query_time(day[:10])
        day_bounds = (start, start + 86_400 * NS_PER_SECOND)
    rows = [
        activity
        for activity in (
            *account.fill_activities,
            *account.fee_activities,
            *account.other_activities,
        )
        if (types is None or activity.activity_type in types)
        and (after is None or activity.dated_ns > after)
        and (until is None or activity.dated_ns < until)
        and (day_bounds is None or day_bounds[0] <= activity.dated_ns < day_bounds[1])
    ]
    descending = direction == "desc"
    rows.sort(key=lambda a: a.id, reverse=descending)
    if token is not None:
        rows = [a for a in rows if (a.id < token if descending else a.id > token)]
    return [a.to_json() for a in rows[:page_size]]


_PERIOD = re.compile(r"^(\d+)([DWMA])$")
_PERIOD_DAYS = {"D": 1, "W": 7, "M": 30, "A": 365}


def _period(text: str) -> int:
    match = _PERIOD.fullmatch(text.strip().upper())
    if match is None:
        raise _Failure(422, f"invalid period {text!r}")
    return int(match[1]) * _PERIOD_DAYS[match[2]] * 86_400 * NS_PER_SECOND


#: Intraday timeframes of the history, and the regular session they cover (UTC, summer).
_INTRADAY = {"1Min": 1, "5Min": 5, "15Min": 15, "1H": 60}
_SESSION_UTC = (13 * 60 + 30, 20 * 60)


def _portfolio_history(account: FakeAccount, query: Mapping[str, str]) -> dict[str, Any]:
    timeframe = query.get("timeframe") or "1D"
    if timeframe != "1D" and timeframe not in _INTRADAY:
        raise _Failure(422, f"invalid timeframe {timeframe!r}")
    series = sorted(account.equity_series, key=lambda s: s.timestamp)
    start, end = _bound(query, "start"), _bound(query, "end")
    span = _period(query["period"]) if query.get("period") else None
    if start is not None and end is not None and span is not None:
        raise _Failure(422, "give at most two of period, start and end")
    last = epoch_ns(series[-1].timestamp) if series else 0
    if start is not None and end is None:
        end = start + span if span is not None else last
    elif start is None:
        end = end if end is not None else last
        start = end - (span if span is not None else _period("1M"))
    assert end is not None
    points = [s for s in series if start <= epoch_ns(s.timestamp) <= end]
    if timeframe in _INTRADAY:
        # The day's value held through its session, one sample per step (Alpaca's intraday
        # history covers the session).
        step = _INTRADAY[timeframe]
        points = [
            replace(p, timestamp=p.timestamp + timedelta(minutes=minute))
            for p in points
            for minute in range(_SESSION_UTC[0], _SESSION_UTC[1], step)
        ]
    unit = 1000 if account.history_in_milliseconds else 1
    return {
        "timestamp": [epoch_ns(p.timestamp) // NS_PER_SECOND * unit for p in points],
        "equity": [float(p.equity) for p in points],
        "profit_loss": [float(p.profit_loss) for p in points],
        "profit_loss_pct": [
            None if p.profit_loss_pct is None else float(p.profit_loss_pct) for p in points
        ],
        "base_value": float(account.base_value),
        "base_value_asof": points[0].timestamp.date().isoformat() if points else None,
        "timeframe": timeframe,
    }


#: ``GET /v2/stocks/bars``: default and largest page (Alpaca's), and a daily bar's time of day.
BARS_DEFAULT_LIMIT = 1000
BARS_MAX_LIMIT = 10_000
_BAR_HOUR = 4  # 00:00 New York time (EDT) in UTC: Alpaca labels a daily bar with its start


def _stock_bars(account: FakeAccount, query: Mapping[str, str]) -> dict[str, Any]:
    """Daily bars of the requested symbols within ``[start, end]``, paged in symbol order."""
    known = {
        symbol: [
            (datetime(day.year, day.month, day.day, _BAR_HOUR, tzinfo=UTC), close)
            for day, close in closes
        ]
        for symbol, closes in account.benchmark_bars
    }
    return _bars(query, known, ("1Day", "1D"), volume=1_000_000, trades=10_000)


#: ``GET /v1beta3/crypto/us/bars``: the timeframe the fake serves.
_MINUTE_TIMEFRAMES = ("1Min", "1T")


def _crypto_bars(account: FakeAccount, query: Mapping[str, str]) -> dict[str, Any]:
    """1-minute bars of the requested pairs within ``[start, end]``, paged in pair order."""
    return _bars(query, dict(account.crypto_bars), _MINUTE_TIMEFRAMES, volume=0.5, trades=3)


def _bars(
    query: Mapping[str, str],
    known: Mapping[str, Sequence[tuple[datetime, decimal.Decimal]]],
    timeframes: Sequence[str],
    *,
    volume: float,
    trades: int,
) -> dict[str, Any]:
    """A bars answer of Alpaca's market data: the requested symbols' bars (each a flat bar at
    its close) within ``[start, end]``, paged in symbol order by ``limit`` and ``page_token``."""
    if not query.get("symbols"):
        raise _Failure(422, "symbols is required")
    symbols = sorted({s.strip().upper() for s in query["symbols"].split(",") if s.strip()})
    timeframe = query.get("timeframe") or ""
    if timeframe not in timeframes:
        raise _Failure(422, f"the fake serves timeframe {timeframes[0]} only, got {timeframe!r}")
    start, end = _bound(query, "start"), _bound(query, "end")
    limit = min(_int(query, "limit", BARS_DEFAULT_LIMIT), BARS_MAX_LIMIT)
    if limit < 1:
        raise _Failure(422, f"limit must be positive, got {limit}")
    offset = _int(query, "page_token", 0) if query.get("page_token") else 0
    rows: list[tuple[str, dict[str, Any]]] = []
    for symbol in symbols:
        for at, close in known.get(symbol, ()):
            moment = epoch_ns(at)
            if (start is not None and moment < start) or (end is not None and moment > end):
                continue
            price = float(close)
            bar = {"t": at.isoformat().replace("+00:00", "Z"), "o": price, "h": price}
            bar |= {"l": price, "c": price, "v": volume, "n": trades, "vw": price}
            rows.append((symbol, bar))
    page = rows[offset : offset + limit]
    bars: dict[str, list[dict[str, Any]]] = {}
    for symbol, bar in page:
        bars.setdefault(symbol, []).append(bar)
    more = offset + limit < len(rows)
    return {"bars": bars, "next_page_token": str(offset + limit) if more else None}


@contextmanager
def running_fake_alpaca(account: FakeAccount, **options: Any) -> Iterator[FakeAlpaca]:
    """A started ``FakeAlpaca`` serving ``account`` on a free loopback port; stopped on exit."""
    server = FakeAlpaca(account, **options).start()
    try:
        yield server
    finally:
        server.stop()
