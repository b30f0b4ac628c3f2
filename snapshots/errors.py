"""Typed errors of the snapshot job's Alpaca layer (all are ``LedgerError``)."""

from __future__ import annotations

from ledger_store.errors import LedgerError


class AlpacaError(LedgerError):
    """Base class of every failure talking to Alpaca or reading its answers."""


class AlpacaUnavailableError(AlpacaError):
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
