"""Fetch a period's account data from Alpaca with alpaca-py's ``TradingClient``.

alpaca-py is imported only when an ``AlpacaSource`` is built (it imports pandas, ~0.7 s);
importing this module, or ``snapshots.alpaca.models``, never imports it.

Timeouts and retries
    alpaca-py sends requests without a timeout and retries only 429/504, with a fixed 3 s sleep.
    ``AlpacaSource`` turns that off on its client (``_retry = 0``, ``_retry_codes = []``, see
    ``alpaca.common.rest.RESTClient._request``) and wraps the client's ``requests`` session so
    every request gets a timeout. Each Alpaca call then runs in its own retry loop: 429, 408,
    5xx, connection errors and timeouts are retried with exponential backoff and jitter, up
    to ``RetryPolicy.max_attempts`` attempts, all within one overall deadline per ``fetch``
    (a request's timeout is also cut to what is left of it). When they are used up,
    ``AlpacaUnavailableError`` names the call, the attempts and the last error. Other 4xx
    answers fail at once: ``AlpacaAuthError`` (401/403) or ``AlpacaRequestError``.

Raw JSON
    The client runs with ``raw_data=True``: the answers are validated by the snapshot's own
    DTOs, not alpaca-py's models, so a value alpaca-py does not know yet (a new order status)
    does not fail the whole call, timestamps are read from Alpaca's text, and the numbers
    that arrive as JSON floats (portfolio history) go through ``str`` to ``Decimal``.

What a period's fetch contains: see ``AlpacaData`` and ``AlpacaSource.fetch``.
"""

from __future__ import annotations

import functools
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from ledger_store.dto import UTCDateTime, describe_validation_error, usd_pair
from ledger_store.errors import ConfigurationError, LedgerValidationError
from ledger_store.keys import require_utc
from ledger_store.tracing import subsegment
from snapshots.alpaca.fills import FillExecution, TradingHistory
from snapshots.alpaca.models import (
    CRYPTO_FEE_TYPE,
    MAX_LOOKBACK_DAYS,
    AccountActivity,
    AccountActivityV16,
    AlpacaAccount,
    AlpacaData,
    AlpacaOrder,
    AlpacaPosition,
    AlpacaUuid,
    Benchmark,
    EquityPoint,
    FeeActivity,
    closes_from_api,
    equity_points_from_api,
    is_coin_fee,
)
from snapshots.alpaca.rates import bar_closes_from_api, rate_at, rate_requests, window_of
from snapshots.alpaca.transport import (
    WORKER,
    DeadlinePassed,
    disable_sdk_retries_and_bound_requests,
    is_transient,
    permanent_error,
    reading_client_of,
)
from snapshots.errors import (
    AlpacaAuthError,
    AlpacaRequestError,
    AlpacaResponseError,
    AlpacaUnavailableError,
    describe,
)

#: How many calendar days of daily equity before the period a snapshot keeps by default (a
#: year: the report's YTD, 1Y and annualised figures need it), and the variable that sets it.
DEFAULT_LOOKBACK_DAYS = 365
LOOKBACK_VARIABLE = "SNAPSHOT_EQUITY_LOOKBACK_DAYS"
#: The benchmark symbol (e.g. ``SPY``; unset: none) and Alpaca's market-data endpoint.
BENCHMARK_VARIABLE = "SNAPSHOT_BENCHMARK_SYMBOL"
DATA_URL_VARIABLE = "APCA_API_DATA_URL"
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,15}$")


def _lookback_days(given: int | None, env: Mapping[str, str]) -> int:
    value: object = given
    if given is None:
        text = env.get(LOOKBACK_VARIABLE, "").strip()
        if not text:
            return DEFAULT_LOOKBACK_DAYS
        value = int(text) if text.isdigit() else text
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LOOKBACK_DAYS:
        raise ConfigurationError(
            f"the equity lookback ({LOOKBACK_VARIABLE}) is a whole number of days from 0 to "
            f"{MAX_LOOKBACK_DAYS}, got {value!r}"
        )
    return value


def _benchmark_symbol(given: str | None, env: Mapping[str, str]) -> str | None:
    symbol = given if given is not None else (env.get(BENCHMARK_VARIABLE, "").strip() or None)
    if symbol is not None and not _SYMBOL.fullmatch(symbol):
        raise ConfigurationError(
            f"the benchmark ({BENCHMARK_VARIABLE}) must be a stock symbol such as SPY, "
            f"got {symbol!r}"
        )
    return symbol


#: ``GET /v2/orders`` returns at most this many orders per request.
ORDERS_PAGE_LIMIT = 500
#: ``GET /v2/account/activities`` returns at most this many rows per request.
ACTIVITIES_PAGE_SIZE = 100
#: The non-trade activity types a snapshot reads (``fetch_activities``): cash movements,
#: dividends and their withholdings, corporate actions, crypto fees taken in the coin (the
#: dollar ones are fees, read with ``FEE``), and option events (expiry, exercise, assignment
#: and the trades of the shares these deliver).
NON_TRADE_TYPES: tuple[str, ...] = (
    "CSD",
    "CSW",
    "JNLC",
    "DIV",
    "DIVCGL",
    "DIVCGS",
    "DIVFEE",
    "DIVFT",
    "DIVNRA",
    "DIVROC",
    "DIVTW",
    "DIVTXEX",
    "SSP",
    "SC",
    "MA",
    "REORG",
    "CFEE",
    "OPEXP",
    "OPEXC",
    "OPASN",
    "OPTRD",
)
#: How far beyond the period the activity queries reach. Alpaca filters ``after``/``until`` by
#: its own dating of a row (New York dates, fee rows by trade date), while a row belongs to the
#: period holding its UTC time (``activity_time``): a deposit at 21:30 New York on the last day
#: of a period is dated that day but happens after the UTC midnight. The queries ask for a few
#: days more on both sides (a long weekend), then keep the rows whose time is in the period, so
#: no row falls between two periods.
ACTIVITY_QUERY_SLACK = timedelta(days=5)
#: Default shift of the fee window: none, the FEE rows *posted* in the period (see ``fee_window``).
FEE_POSTING_LAG = timedelta(0)

_MICROSECOND = timedelta(microseconds=1)

_T = TypeVar("_T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop around each Alpaca call (seconds)."""

    #: Attempts per call, the first one included.
    max_attempts: int = 5
    #: Backoff before retry ``n`` is ``min(max_delay, base_delay * 2**(n-1))``, jittered to
    #: between half and all of it.
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: Timeout of one HTTP request (connect and read), cut to the time left before deadline.
    request_timeout: float = 10.0
    #: Overall budget of one ``fetch`` (every call and every backoff).
    deadline: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise LedgerValidationError(f"max_attempts must be >= 1, got {self.max_attempts}")
        for name in ("request_timeout", "deadline"):
            if getattr(self, name) <= 0:
                raise LedgerValidationError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("base_delay", "max_delay"):
            if getattr(self, name) < 0:
                raise LedgerValidationError(f"{name} must be >= 0, got {getattr(self, name)}")


def fee_window(
    period_start: datetime, period_end: datetime, lag: timedelta = FEE_POSTING_LAG
) -> tuple[datetime, datetime]:
    """The creation-time window of the FEE activities a snapshot of the period keeps.

    ``[period_start + lag, period_end + lag)``; by default (``lag = 0``) the rows Alpaca
    created in the period. Alpaca posts a day's REG/TAF rows on the next business day, so
    these are mostly the fees of earlier trades (the ledger's own ``total_fees`` covers the
    period's fills). A positive lag would attribute rows to the trades that caused them, but
    its window is still open when the snapshot is taken right after ``period_end``: a later
    re-run would see more rows and a different checksum, so keep it for periods that ended at
    least ``lag`` ago. Consecutive periods get consecutive, non-overlapping windows: every fee
    row belongs to exactly one period.
    """
    return period_start + lag, period_end + lag


class _FillRow(BaseModel):
    """The fields of a FILL activity the fetch needs (others ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    id: str
    activity_type: str
    order_id: AlpacaUuid
    transaction_time: UTCDateTime


class AlpacaSource:
    """Reads one Alpaca account through alpaca-py's ``TradingClient``.

    ``client``: the trading bot's own ``TradingClient``. The source reads with its keys (or
    OAuth token), its endpoint and its HTTP session, through a client of its own, so the
    project's timeouts, retries and deadline apply to the snapshot's reads while the bot's
    client is left exactly as it was (its retries, its data models, its session open).

    Without ``client``, credentials and endpoint default to ``APCA_API_KEY_ID``,
    ``APCA_API_SECRET_KEY`` and ``APCA_API_BASE_URL`` (``http(s)://host[:port]``, no ``/v2``);
    without a base URL the paper endpoint is used (``paper=False``: the live one). ``sleep``,
    ``clock`` (monotonic seconds) and ``rng`` are injectable for tests. Not thread-safe: use
    one source per thread.

    ``equity_lookback_days`` (``SNAPSHOT_EQUITY_LOOKBACK_DAYS``, default 365) is how much daily
    equity before the period a fetch keeps; ``benchmark_symbol`` (``SNAPSHOT_BENCHMARK_SYMBOL``,
    default none) a symbol whose daily bars it reads from Alpaca's market data at ``data_url``
    (``APCA_API_DATA_URL``, default Alpaca's), with the same credentials. A bad value is a
    ``ConfigurationError``.
    """

    def __init__(
        self,
        *,
        client: Any | None = None,
        api_key: str | None = None,
        secret_key: str | None = None,
        base_url: str | None = None,
        paper: bool = True,
        retry: RetryPolicy | None = None,
        fee_posting_lag: timedelta = FEE_POSTING_LAG,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
        equity_lookback_days: int | None = None,
        benchmark_symbol: str | None = None,
        data_url: str | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.equity_lookback_days = _lookback_days(equity_lookback_days, env)
        self.benchmark_symbol = _benchmark_symbol(benchmark_symbol, env)
        self._data_url = _normalise_base_url(data_url or env.get(DATA_URL_VARIABLE) or None)
        self._data_client: Any = None
        self._crypto_client: Any = None
        self.retry = retry or RetryPolicy()
        self.fee_posting_lag = fee_posting_lag
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._timeout = self.retry.request_timeout
        if client is not None:
            self._client: Any = reading_client_of(client)
        else:
            api_key = api_key or env.get("APCA_API_KEY_ID") or None
            secret_key = secret_key or env.get("APCA_API_SECRET_KEY") or None
            if not api_key or not secret_key:
                raise ConfigurationError(
                    "Alpaca credentials are missing: set APCA_API_KEY_ID and "
                    "APCA_API_SECRET_KEY (or pass api_key and secret_key, or the bot's client)"
                )
            url = _normalise_base_url(base_url or env.get("APCA_API_BASE_URL") or None)

            from alpaca.trading.client import TradingClient

            self._client = TradingClient(
                api_key=api_key, secret_key=secret_key, paper=paper, raw_data=True, url_override=url
            )
        self._deadline: float | None = None
        self._abandon_on_close: set[threading.Event] = set()
        disable_sdk_retries_and_bound_requests(
            self._client, lambda: self._timeout, lambda: self._deadline, self._clock
        )

    @property
    def base_url(self) -> str:
        """The endpoint the client talks to (without ``/v2``)."""
        return str(getattr(self._client._base_url, "value", self._client._base_url))

    def close(self) -> None:
        """Close the HTTP connections of the clients; a request still running is abandoned."""
        for abandoned in list(self._abandon_on_close):
            abandoned.set()
        self._client._session.close()
        for data in (self._data_client, self._crypto_client):
            if data is not None:
                data._session.close()

    def _market_data(self) -> Any:
        """The ``StockHistoricalDataClient`` of the benchmark (``_data_client_of``)."""
        if self._data_client is None:
            from alpaca.data.historical.stock import StockHistoricalDataClient

            self._data_client = self._data_client_of(StockHistoricalDataClient)
        return self._data_client

    def _crypto_data(self) -> Any:
        """The ``CryptoHistoricalDataClient`` of the quote rates (``_data_client_of``)."""
        if self._crypto_client is None:
            from alpaca.data.historical.crypto import CryptoHistoricalDataClient

            self._crypto_client = self._data_client_of(CryptoHistoricalDataClient)
        return self._crypto_client

    def _data_client_of(self, kind: Callable[..., Any]) -> Any:
        """An alpaca-py market-data client: the trading client's credentials,
        ``APCA_API_DATA_URL`` (or Alpaca's data endpoint), the same timeouts and deadline."""
        trading = self._client
        client = kind(
            api_key=trading._api_key,
            secret_key=trading._secret_key,
            oauth_token=trading._oauth_token,
            raw_data=True,
            url_override=self._data_url,
        )
        disable_sdk_retries_and_bound_requests(
            client, lambda: self._timeout, lambda: self._deadline, self._clock
        )
        return client

    def fetch_quote_rates(
        self, wanted: Sequence[tuple[str, datetime]]
    ) -> dict[tuple[str, datetime], Decimal]:
        """USD per unit of each ``(coin, moment)`` Alpaca's crypto bars price
        (``snapshots.alpaca.rates``: the bar of the moment's minute, or the latest within an
        hour before it); a pair it cannot price is left out. One request (paged, with its own
        retries and deadline) per coin and UTC day."""
        from alpaca.data.requests import CryptoBarsRequest
        from alpaca.data.timeframe import TimeFrame

        found: dict[tuple[str, datetime], Decimal] = {}
        try:
            for (coin, day), moments in rate_requests(wanted).items():
                symbol = usd_pair(coin)
                start, end = window_of(day)
                request = CryptoBarsRequest(
                    symbol_or_symbols=symbol, timeframe=TimeFrame.Minute, start=start, end=end
                )
                raw = self._call(
                    "get_crypto_bars",
                    functools.partial(self._crypto_data().get_crypto_bars, request),
                    self._budget(None),
                )
                closes = _parse(
                    "get_crypto_bars", functools.partial(bar_closes_from_api, symbol=symbol), raw
                )
                for moment in moments:
                    rate = rate_at(closes, moment)
                    if rate is not None:
                        found[(coin, moment)] = rate
        finally:
            self._deadline = None
        return found

    def __enter__(self) -> AlpacaSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # The fetch --------------------------------------------------------------------------

    def fetch(self, period_start: datetime, period_end: datetime) -> AlpacaData:
        """Everything a snapshot keeps from Alpaca for ``[period_start, period_end)``.

        * the account and its open positions, as of now;
        * the orders submitted in the period (``GET /v2/orders``, status all, ascending, 500
          per page, paged with ``after`` = last ``submitted_at`` minus 1 µs and de-duplicated
          by id, so orders sharing a timestamp across a page boundary are neither lost nor
          doubled), plus the orders submitted before the period that filled in it: they are
          found through the period's FILL activities and fetched by id;
        * the FEE activities of ``fee_window(period_start, period_end, fee_posting_lag)``
          (by default those created in the period), paged by ``page_token``;
        * the non-trade activities created in the period (``fetch_activities``);
        * the daily portfolio history from ``equity_lookback_days`` before the period to its
          end, in one request: the samples before ``period_start`` are the history, the others
          the period's;
        * with a benchmark symbol, its daily bars over the same window (``GET /v2/stocks/bars``
          through alpaca-py's ``StockHistoricalDataClient``, split- and dividend-adjusted).

        Raises ``AlpacaUnavailableError`` (transient failures outlasted the retries or the
        deadline), ``AlpacaAuthError``/``AlpacaRequestError`` (rejected request),
        ``AlpacaResponseError`` (unexpected answer), ``LedgerValidationError`` (bad period).
        """
        start = require_utc(period_start, "period_start")
        end = require_utc(period_end, "period_end")
        if end <= start:
            raise LedgerValidationError(
                f"period_end {end.isoformat()} must be after period_start {start.isoformat()}"
            )
        deadline = self._clock() + self.retry.deadline
        self._deadline = deadline
        try:
            return self._fetch(start, end, deadline)
        finally:
            self._deadline = None

    def _fetch(self, start: datetime, end: datetime, deadline: float) -> AlpacaData:
        account = _parse(
            "get_account",
            AlpacaAccount.from_api,
            self._call("get_account", self._client.get_account, deadline),
        )
        positions = tuple(
            _parse("get_all_positions", AlpacaPosition.from_api, row)
            for row in _rows(
                "get_all_positions",
                self._call("get_all_positions", self._client.get_all_positions, deadline),
            )
        )
        orders = self._orders_submitted(start, end, deadline)
        filled_ids = sorted(self._filled_order_ids(start, end, deadline))
        for order_id in filled_ids:
            if order_id not in orders:  # submitted before the period, filled inside it
                orders[order_id] = self._order_by_id(order_id, deadline)
        fees_start, fees_end = fee_window(start, end, self.fee_posting_lag)
        fees = self._fees(fees_start, fees_end, deadline)
        activities = self._non_trade(start, end, deadline)
        history_start = start - timedelta(days=self.equity_lookback_days)
        samples = self._equity(history_start, end, deadline)
        benchmark = None
        if self.benchmark_symbol is not None:
            benchmark = self._benchmark(self.benchmark_symbol, history_start, end, deadline)
        try:
            return AlpacaData(
                period_start=start,
                period_end=end,
                fee_window_start=fees_start,
                fee_window_end=fees_end,
                account=account,
                positions=positions,
                orders=tuple(orders.values()),
                fees=tuple(fees),
                filled_order_ids=tuple(filled_ids),
                equity=tuple(p for p in samples if start <= p.timestamp),
                activities=activities,
                history_start=history_start,
                history=tuple(p for p in samples if p.timestamp < start),
                benchmark=benchmark,
            )
        except ValidationError as exc:
            raise AlpacaResponseError("fetch", describe_validation_error(exc)) from exc

    def _orders_submitted(
        self,
        start: datetime,
        end: datetime,
        deadline: float | None,
        on_page: Callable[[int], object] | None = None,
    ) -> dict[str, AlpacaOrder]:
        from alpaca.common.enums import Sort
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        found: dict[str, AlpacaOrder] = {}
        after = start - _MICROSECOND  # ``after`` is exclusive; keep orders at ``start``
        page = 0
        while True:
            page += 1
            request = GetOrdersRequest(
                status=QueryOrderStatus.ALL,
                limit=ORDERS_PAGE_LIMIT,
                after=after,
                until=end,
                direction=Sort.ASC,
                nested=True,
            )
            rows = _rows(
                "get_orders",
                self._call(
                    "get_orders",
                    functools.partial(self._client.get_orders, request),
                    self._budget(deadline),
                    page=page,
                ),
            )
            parsed = [_parse("get_orders", AlpacaOrder.from_api, row) for row in rows]
            if on_page is not None:
                on_page(len(rows))
            for order in parsed:
                if start <= order.submitted_at < end:
                    found.setdefault(order.id, order)
            if len(rows) < ORDERS_PAGE_LIMIT:
                return found
            # Timestamps arrive with 9 digits and are read to the microsecond; stepping back
            # 1 µs re-reads the orders that share the last timestamp (dropped as duplicates).
            next_after = max(order.submitted_at for order in parsed) - _MICROSECOND
            if next_after <= after:
                raise AlpacaResponseError(
                    "get_orders",
                    f"a full page of {len(rows)} orders does not advance past "
                    f"{after.isoformat()}: more than {ORDERS_PAGE_LIMIT} orders share one "
                    "submission time, they cannot be paged by time",
                )
            after = next_after

    def _order_by_id(self, order_id: str, deadline: float | None) -> AlpacaOrder:
        from alpaca.trading.requests import GetOrderByIdRequest

        raw = self._call(
            "get_order_by_id",
            functools.partial(
                self._client.get_order_by_id, order_id, GetOrderByIdRequest(nested=True)
            ),
            self._budget(deadline),
            order_id=order_id,
        )
        return _parse("get_order_by_id", AlpacaOrder.from_api, raw)

    def _filled_order_ids(self, start: datetime, end: datetime, deadline: float) -> set[str]:
        ids = set()
        for row in self._activities("FILL", deadline, start, end):
            fill = _parse("get_activities", _FillRow.model_validate, row)
            if start <= fill.transaction_time < end:
                ids.add(fill.order_id)
        return ids

    def _fees(self, start: datetime, end: datetime, deadline: float) -> list[FeeActivity]:
        fees = []
        types = ("FEE", CRYPTO_FEE_TYPE)
        for row in self._activities(types, deadline, start, end, slack=ACTIVITY_QUERY_SLACK):
            fee = _parse("get_activities", FeeActivity.from_api, row)
            if start <= fee.created_at < end and not is_coin_fee(fee):
                fees.append(fee)
        return fees

    def _activities(
        self,
        activity_type: str | Sequence[str],
        deadline: float | None,
        start: datetime,
        end: datetime,
        slack: timedelta = timedelta(0),
        on_page: Callable[[int], object] | None = None,
    ) -> list[Mapping[str, Any]]:
        """Rows of the activity type(s) Alpaca dates in ``[start - slack, end + slack)``, by id.

        The caller keeps the rows whose own time lies in ``[start, end)``. ``deadline`` None:
        each page has a budget of its own (a long history); ``on_page(rows)`` after each page.
        """
        types = [activity_type] if isinstance(activity_type, str) else list(activity_type)
        params: dict[str, Any] = {
            "after": _rfc3339(start - slack - _MICROSECOND),
            "until": _rfc3339(end + slack),
            "direction": "asc",
            "page_size": ACTIVITIES_PAGE_SIZE,
        }
        if len(types) == 1:
            path = f"/account/activities/{types[0]}"
        else:
            path = "/account/activities"
            params["activity_types"] = ",".join(types)
        rows: dict[str, Mapping[str, Any]] = {}
        token: str | None = None
        page = 0
        while True:
            page += 1
            query = dict(params) if token is None else {**params, "page_token": token}
            batch = _rows(
                "get_activities",
                self._call(
                    "get_activities",
                    functools.partial(self._client.get, path, query),
                    self._budget(deadline),
                    activity_type=",".join(types),
                    page=page,
                ),
            )
            if on_page is not None:
                on_page(len(batch))
            for row in batch:
                if not isinstance(row, Mapping) or not isinstance(row.get("id"), str):
                    raise AlpacaResponseError("get_activities", f"row without an id: {row!r}")
                if row.get("activity_type") not in types:
                    raise AlpacaResponseError(
                        "get_activities",
                        f"asked for {', '.join(types)} activities, got a "
                        f"{row.get('activity_type')!r} row",
                    )
                rows.setdefault(row["id"], row)
            if len(batch) < ACTIVITIES_PAGE_SIZE:
                return list(rows.values())
            last_id = batch[-1]["id"]
            if last_id == token:
                raise AlpacaResponseError(
                    "get_activities", f"page_token {token!r} returned the same page again"
                )
            token = last_id

    def fetch_account(self) -> AlpacaAccount:
        """The account the keys read (``GET /v2/account``), within the retries and deadline."""
        deadline = self._clock() + self.retry.deadline
        self._deadline = deadline
        try:
            return _parse(
                "get_account",
                AlpacaAccount.from_api,
                self._call("get_account", self._client.get_account, deadline),
            )
        finally:
            self._deadline = None

    def fetch_activities(
        self, period_start: datetime, period_end: datetime
    ) -> tuple[AccountActivity, ...]:
        """The non-trade activities created in ``[period_start, period_end)``, by time and id.

        Cash movements, dividends and withholdings, corporate actions (``NON_TRADE_TYPES``),
        paged by ``page_token`` within the same retries and overall deadline as ``fetch``.
        """
        start = require_utc(period_start, "period_start")
        end = require_utc(period_end, "period_end")
        if end <= start:
            raise LedgerValidationError(
                f"period_end {end.isoformat()} must be after period_start {start.isoformat()}"
            )
        deadline = self._clock() + self.retry.deadline
        self._deadline = deadline
        try:
            return self._non_trade(start, end, deadline)
        finally:
            self._deadline = None

    def fetch_trading_history(
        self,
        period_start: datetime,
        period_end: datetime,
        *,
        progress: Callable[[str, int], object] | None = None,
    ) -> TradingHistory:
        """Every ``FILL`` activity of ``[period_start, period_end)`` and the orders they fill.

        The executions are paged by ``page_token`` (100 a page), the orders submitted in the
        range by time (500 a page), and an order submitted before the range (a GTC order
        filled later) by id. A history may take hundreds of requests: each has the retries and
        deadline of one call (``RetryPolicy``), not the whole read. ``progress(kind, rows)``
        after each page (``fills`` or ``orders``).
        """
        start = require_utc(period_start, "period_start")
        end = require_utc(period_end, "period_end")
        if end <= start:
            raise LedgerValidationError(
                f"period_end {end.isoformat()} must be after period_start {start.isoformat()}"
            )

        def counted(kind: str) -> Callable[[int], object] | None:
            return None if progress is None else functools.partial(progress, kind)

        try:
            rows = self._activities("FILL", None, start, end, on_page=counted("fills"))
            executions = [_parse("get_activities", FillExecution.from_api, row) for row in rows]
            executions = [e for e in executions if start <= e.transaction_time < end]
            orders = self._orders_submitted(start, end, None, on_page=counted("orders"))
            known = {leg.id for order in orders.values() for leg in _and_legs(order)}
            for order_id in sorted({e.order_id for e in executions} - known):
                order = self._order_by_id(order_id, None)
                orders[order.id] = order
                known.update(leg.id for leg in _and_legs(order))
                if progress is not None:
                    progress("orders", 1)
        finally:
            self._deadline = None
        try:
            return TradingHistory(
                start=start, end=end, executions=tuple(executions), orders=tuple(orders.values())
            )
        except ValidationError as exc:
            raise AlpacaResponseError(
                "fetch_trading_history", describe_validation_error(exc)
            ) from exc

    def fetch_orders(self, order_ids: Sequence[str]) -> dict[str, AlpacaOrder]:
        """The orders of these ids Alpaca has (``GET /v2/orders/{id}``), by id; an id Alpaca
        does not know (404, or not a UUID) is left out. Each request has its own budget."""
        found: dict[str, AlpacaOrder] = {}
        try:
            for order_id in sorted(set(order_ids)):
                try:
                    uuid.UUID(order_id)
                except ValueError:
                    continue  # not an Alpaca order id: Alpaca cannot know it
                try:
                    order = self._order_by_id(order_id, None)
                except AlpacaRequestError as exc:
                    if isinstance(exc, AlpacaAuthError) or exc.status not in (404, 422):
                        raise
                    continue
                found[order_id] = order
        finally:
            self._deadline = None
        return found

    def _budget(self, deadline: float | None) -> float:
        """``deadline``, or a fresh budget for one request of a long read."""
        if deadline is not None:
            return deadline
        self._deadline = self._clock() + self.retry.deadline
        return self._deadline

    def _non_trade(
        self, start: datetime, end: datetime, deadline: float
    ) -> tuple[AccountActivity, ...]:
        rows = self._activities(NON_TRADE_TYPES, deadline, start, end, slack=ACTIVITY_QUERY_SLACK)
        activities = [_parse("get_activities", AccountActivityV16.from_api, row) for row in rows]
        return tuple(
            sorted(
                (
                    a
                    for a in activities
                    if start <= a.created_at < end
                    and (a.activity_type != CRYPTO_FEE_TYPE or is_coin_fee(a))
                ),
                key=lambda a: (a.created_at, a.id),
            )
        )

    def _equity(self, start: datetime, end: datetime, deadline: float) -> tuple[EquityPoint, ...]:
        from alpaca.trading.requests import GetPortfolioHistoryRequest

        request = GetPortfolioHistoryRequest(timeframe="1D", start=start, end=end)
        raw = self._call(
            "get_portfolio_history",
            functools.partial(self._client.get_portfolio_history, request),
            deadline,
        )
        points = _parse("get_portfolio_history", equity_points_from_api, raw)
        return tuple(p for p in points if start <= p.timestamp < end)

    def _benchmark(self, symbol: str, start: datetime, end: datetime, deadline: float) -> Benchmark:
        from alpaca.data.enums import Adjustment
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame

        request = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=TimeFrame.Day,
            start=start,
            end=end,
            adjustment=Adjustment.ALL,
        )
        raw = self._call(
            "get_stock_bars",
            functools.partial(self._market_data().get_stock_bars, request),
            deadline,
        )
        closes = _parse("get_stock_bars", lambda r: closes_from_api(r, symbol), raw)
        return Benchmark(
            symbol=symbol,
            closes=tuple(c for c in closes if start.date() <= c.day <= end.date()),
        )

    # Retries ----------------------------------------------------------------------------

    def _call(
        self,
        call: str,
        operation: Callable[[], _T],
        deadline: float,
        **annotations: str | int | None,
    ) -> _T:
        """Run ``operation`` with retries of transient failures, within ``deadline``."""
        policy = self.retry
        attempts = 0
        last_error: BaseException | None = None
        with subsegment(f"alpaca.{call}", **annotations):
            while True:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise AlpacaUnavailableError(
                        call, attempts, last_error, f"deadline of {policy.deadline:g}s reached"
                    ) from last_error
                self._timeout = min(policy.request_timeout, remaining)
                attempts += 1
                try:
                    return self._within(operation, remaining)
                except DeadlinePassed:
                    raise AlpacaUnavailableError(
                        call,
                        attempts,
                        last_error,
                        f"deadline of {policy.deadline:g}s reached during the request",
                    ) from last_error
                except Exception as exc:
                    permanent = permanent_error(call, exc)
                    if permanent is not None:
                        raise permanent from exc
                    if not is_transient(exc):
                        # alpaca-py failing on an answer it cannot walk ({}, [], null,
                        # {"bars": null}...): the answer is wrong, not the library's caller.
                        raise AlpacaResponseError(
                            call, f"alpaca-py could not read the answer: {describe(exc)}"
                        ) from exc
                    last_error = exc
                if attempts >= policy.max_attempts:
                    raise AlpacaUnavailableError(
                        call, attempts, last_error, "retry attempts used up"
                    ) from last_error
                delay = self._backoff(attempts)
                if self._clock() + delay >= deadline:
                    raise AlpacaUnavailableError(
                        call,
                        attempts,
                        last_error,
                        f"deadline of {policy.deadline:g}s reached before the next retry",
                    ) from last_error
                self._sleep(delay)

    def _within(self, operation: Callable[[], _T], seconds: float) -> _T:
        """``operation()`` in a worker thread, abandoned after ``seconds`` (``DeadlinePassed``).

        Timeouts bound each receive and ``read_body`` the body, but only a watchdog bounds
        the wall time of every phase (a server can trickle its headers too). An abandoned
        worker ends at its next receive: the connections are closed under it.
        """
        outcome: list[Any] = []
        done = threading.Event()
        abandoned = threading.Event()
        self._abandon_on_close.add(abandoned)

        def work() -> None:
            WORKER.abandoned = abandoned
            try:
                outcome.append((True, operation()))
            except BaseException as exc:
                outcome.append((False, exc))
            finally:
                done.set()

        threading.Thread(target=work, name="alpaca-request", daemon=True).start()
        try:
            if not done.wait(max(seconds, 0.0)):
                # No request may leave the worker from now on (a paging loop inside alpaca-py
                # would go on forever, and in Lambda resume on the next invocation).
                abandoned.set()
                self._client._session.close()
                raise DeadlinePassed
        finally:
            self._abandon_on_close.discard(abandoned)
        ok, value = outcome[0]
        if not ok:
            raise value
        return cast(_T, value)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


def _parse(call: str, parse: Callable[[Any], _T], raw: Any) -> _T:
    try:
        return parse(raw)
    except ValidationError as exc:
        raise AlpacaResponseError(call, describe_validation_error(exc)) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise AlpacaResponseError(call, describe(exc)) from exc


def _and_legs(order: AlpacaOrder) -> Iterator[AlpacaOrder]:
    yield order
    for leg in order.legs:
        yield from _and_legs(leg)


def _rows(call: str, raw: Any) -> Sequence[Any]:
    if not isinstance(raw, list):
        raise AlpacaResponseError(call, f"expected a JSON array, got {type(raw).__name__}")
    return raw


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _normalise_base_url(url: str | None) -> str | None:
    if url is None:
        return None
    cleaned = url.strip().rstrip("/").removesuffix("/v2")
    if not cleaned.startswith(("http://", "https://")) or cleaned in ("http:", "https:"):
        raise ConfigurationError(
            f"APCA_API_BASE_URL must be http(s)://host[:port] (no /v2), got {url!r}"
        )
    return cleaned
