"""Typed errors of the snapshot job's Alpaca layer (all are ``LedgerError``)."""

from __future__ import annotations

from typing import Final

from ledger_store.errors import LedgerError, TransientError


class AlpacaError(LedgerError):
    """Base class of every failure talking to Alpaca or reading its answers."""


class AlpacaUnavailableError(AlpacaError, TransientError):
    """Alpaca kept failing transiently (429, 5xx, timeouts, connection errors).

    Raised once the retry attempts or the overall deadline are used up; ``last_error`` is the
    failure of the last attempt (also chained as ``__cause__``).
    """

    def __init__(
        self, call: str, attempts: int, last_error: BaseException | None, reason: str
    ) -> None:
        self.call = call
        self.attempts = attempts
        self.last_error = last_error
        self.reason = reason
        last = f"; last error: {describe(last_error)}" if last_error is not None else ""
        super().__init__(f"Alpaca call {call} failed after {attempts} attempt(s) ({reason}){last}")


class AlpacaRequestError(AlpacaError):
    """Alpaca rejected a request with a 4xx other than 429; retrying would not help."""

    def __init__(self, call: str, status: int | None, code: int | None, message: str) -> None:
        self.call = call
        self.status = status
        self.code = code
        self.message = message
        what = f"HTTP {status}" if status is not None else "request error"
        code_text = f", code {code}" if code is not None else ""
        super().__init__(f"Alpaca call {call} was rejected ({what}{code_text}): {message}")


class AlpacaAuthError(AlpacaRequestError):
    """401/403: the API key id or secret is wrong, or the key may not do this."""


class AlpacaResponseError(AlpacaError):
    """Alpaca answered, but the answer is not what the contract promises."""

    def __init__(self, call: str, message: str) -> None:
        self.call = call
        super().__init__(f"Alpaca call {call} returned unexpected data: {message}")


def describe(error: BaseException) -> str:
    """``Type: message`` of an exception, on one line."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class ReportTriggerError(LedgerError):
    """The snapshot was stored, but starting the report state machine failed.

    Re-running the cycle is safe: the snapshot comes back ``existing`` and the start is
    retried under the same execution name.
    """


class ReportTriggerUnavailableError(ReportTriggerError, TransientError):
    """Starting the report state machine failed in a way that may pass (throttling, a 5xx,
    the network)."""


#: AWS error codes that say "not now" rather than "no" (any service; a 5xx is one too).
TRANSIENT_AWS_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "InternalServiceErrorException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)


def aws_transient(exc: BaseException) -> bool:
    """Whether an AWS SDK failure may pass: no answer at all (a timeout, a reset connection),
    a 5xx, or a throttling or "not now" code; ``False`` for a refusal (access denied, a
    missing resource, a bad request)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        from botocore.exceptions import (
            BotoCoreError,
            NoCredentialsError,
            NoRegionError,
            ParamValidationError,
            PartialCredentialsError,
        )

        # The SDK's own set-up (credentials, region, parameters) is not "not now".
        setup = NoCredentialsError | PartialCredentialsError | NoRegionError | ParamValidationError
        return isinstance(exc, BotoCoreError | OSError) and not isinstance(exc, setup)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = response.get("Error", {}).get("Code")
    return (isinstance(status, int) and status >= 500) or code in TRANSIENT_AWS_CODES
