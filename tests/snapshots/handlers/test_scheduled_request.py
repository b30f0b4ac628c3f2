"""The trading handler's scheduled request: ``as_of`` and ``period`` name the period that ended."""

from __future__ import annotations

from typing import Any

import pytest

from ledger_store import keys
from ledger_store.errors import LedgerValidationError
from snapshots.handlers import trading as trading_lambda

ACCOUNT = "acct-1"


@pytest.mark.parametrize(
    ("as_of", "period", "start", "end", "correlation"),
    [
        (
            "2026-08-11T00:15:00Z",
            "previous_day",
            "2026-08-10",
            "2026-08-11",
            "scheduled-2026-08-10",
        ),
        (
            "2026-08-11T23:59:59Z",
            "previous_day",
            "2026-08-10",
            "2026-08-11",
            "scheduled-2026-08-10",
        ),
        (
            "2026-08-11T00:15:00Z",
            "month_to_date",
            "2026-08-01",
            "2026-08-11",
            "scheduled-2026-08-10",
        ),
        (
            "2026-09-01T00:15:00Z",
            "month_to_date",
            "2026-08-01",
            "2026-09-01",
            "scheduled-2026-08-31",
        ),
    ],
)
def test_a_scheduled_request_names_the_period_that_ended(
    as_of: str, period: str, start: str, end: str, correlation: str
) -> None:
    request = trading_lambda.parse_request(
        {"account_id": ACCOUNT, "as_of": as_of, "period": period}
    )
    assert keys.format_seconds(request.period_start) == f"{start}T00:00:00Z"
    assert keys.format_seconds(request.period_end) == f"{end}T00:00:00Z"
    assert request.correlation_id == correlation
    given = trading_lambda.parse_request(
        {"account_id": ACCOUNT, "as_of": as_of, "period": period, "correlation_id": "mine"}
    )
    assert given.correlation_id == "mine"


def test_the_fleet_passes_the_shared_fields_under_request() -> None:
    shared = {"period_start": "2026-08-01T00:00:00Z", "period_end": "2026-08-11T00:00:00Z"}
    request = trading_lambda.parse_request(
        {"account_id": ACCOUNT, "request": {**shared, "correlation_id": "c-1"}}
    )
    assert (request.account_id, request.correlation_id) == (ACCOUNT, "c-1")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"as_of": "2026-08-11T00:15:00Z", "period": "week"}, "period must be one of"),
        ({"as_of": "2026-08-11T00:15:00", "period": "previous_day"}, "as_of|timezone|UTC"),
        (
            {"as_of": "2026-08-11T00:15:00Z", "period": "previous_day", "period_end": "x"},
            "either as_of and period",
        ),
        ({"request": {"account_id": "other"}}, "given twice"),
        ({"request": ["x"]}, "request must be an object"),
    ],
)
def test_a_bad_scheduled_request_is_refused(event: dict[str, Any], message: str) -> None:
    with pytest.raises(LedgerValidationError, match=message):
        trading_lambda.parse_request({"account_id": ACCOUNT, **event})
