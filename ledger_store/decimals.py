"""Exact decimal handling shared by the attributes, the DTOs and the canonical JSON form."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import ParamSpec, TypeVar

from .errors import LedgerValidationError

#: DynamoDB numbers carry at most 38 significant digits.
MAX_SIGNIFICANT_DIGITS = 38

#: Every number the library accepts lies in (-10^38, 10^38) and is 0 or at least 10^-38 in
#: magnitude: wide enough for any amount, price or ratio, narrow enough that no arithmetic on
#: it leaves ``decimal``'s range (``1E+999999999`` would overflow, ``1E-999999999`` underflow
#: to a silent 0).
MAX_ADJUSTED_EXPONENT = MAX_SIGNIFICANT_DIGITS - 1
MIN_ADJUSTED_EXPONENT = -MAX_SIGNIFICANT_DIGITS

#: Python's default exponent range, which every context here spells out.
_EMAX, _EMIN = 999_999, -999_999
#: The signals a computation here treats as errors (Python's defaults).
DEFAULT_TRAPS: tuple[type[DecimalException], ...] = (InvalidOperation, DivisionByZero, Overflow)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def decimal_context(
    prec: int = 28,
    rounding: str = ROUND_HALF_EVEN,
    *,
    traps: Iterable[type[DecimalException]] = DEFAULT_TRAPS,
    emax: int = _EMAX,
    emin: int = _EMIN,
) -> Context:
    """A context with every setting given, none inherited: ``decimal.Context(prec=...)`` takes
    what it is not told from ``decimal.DefaultContext``, which any caller may have changed."""
    return Context(
        prec=prec,
        rounding=rounding,
        Emin=emin,
        Emax=emax,
        capitals=1,
        clamp=0,
        flags=[],
        traps=list(traps),
    )


def computed_in(context: Callable[[], Context]) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A decorator: run the function in a fresh ``context()`` rather than in its caller's, so
    no figure depends on the calling process's ``decimal`` settings (the functions it calls
    inherit the context)."""

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(func)
        def in_context(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with localcontext(context()):
                return func(*args, **kwargs)

        return in_context

    return decorate


#: Python's defaults, spelt out: the report, the schema, the checks and the builder.
explicit_context = computed_in(decimal_context)
#: The ledger's arithmetic: twice the digits a number may have, so that adding, subtracting
#: or multiplying two of them is exact and a figure is rounded once, where its rule says.
ledger_arithmetic = computed_in(lambda: decimal_context(MAX_SIGNIFICANT_DIGITS * 2))


_EXACT = decimal_context(MAX_SIGNIFICANT_DIGITS * 2)
_ZERO = Decimal(0)
_ONE = Decimal(1)


def _in_range(value: Decimal, original: object) -> Decimal:
    """``value`` if finite and in range; the error shows ``original`` (what was given)."""
    if not value.is_finite():
        raise LedgerValidationError(f"number must be finite, got {_shown(original)}")
    if not value.is_zero() and not (
        MIN_ADJUSTED_EXPONENT <= value.adjusted() <= MAX_ADJUSTED_EXPONENT
    ):
        raise LedgerValidationError(
            f"number {_shown(original)} is out of range: magnitudes from "
            f"1E{MIN_ADJUSTED_EXPONENT} to below 1E+{MAX_ADJUSTED_EXPONENT + 1} (or 0)"
        )
    return value


def to_decimal(value: object) -> Decimal:
    """Convert ``value`` to ``Decimal`` exactly; floats go through ``str`` (never binary)."""
    if isinstance(value, bool):
        raise LedgerValidationError(f"expected a number, got bool {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        text = str(value).strip() if isinstance(value, str) else None
        if text is not None and len(text) > MAX_NUMBER_TEXT:
            raise LedgerValidationError(
                f"number text is {len(text)} characters long; the limit is {MAX_NUMBER_TEXT}"
            )
        try:
            result = Decimal(text) if text is not None else Decimal(value)
        except (DecimalException, ValueError) as exc:
            raise LedgerValidationError(f"not a decimal number: {_shown(value)}") from exc
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raise LedgerValidationError(f"expected a number, got {type(value).__name__}")
    return _in_range(result, value)


#: Longest accepted text of a number (38 digits, sign, point, exponent and then some).
MAX_NUMBER_TEXT = 100


def _shown(value: object) -> str:
    """``value`` for an error message, as a person reads it: a text in quotes, a number as its
    digits (never ``Decimal('…')``), cut short if it is huge."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"(an integer of {value.bit_length()} bits)"  # str() of it may itself refuse
    text = str(value)
    if len(text) > 60:
        text = f"{text[:30]}...({len(text)} characters)"
    return repr(text) if isinstance(value, str) else text


def normalize(value: Decimal) -> Decimal:
    """Return the canonical representation: no exponent, no trailing zeros, no ``-0``.

    ``1.50`` -> ``1.5``, ``100`` -> ``100`` (not ``1E+2``), ``-0.0`` -> ``0``. Raises when the
    value needs more than 38 significant digits, which DynamoDB cannot store.
    """
    return normalized(_in_range(value, value))


def normalized(value: Decimal) -> Decimal:
    """``normalize`` of a value already known to be in range (``to_decimal``'s result): the
    hot path of every DTO number, so the range is not checked twice."""
    if value.is_zero():
        return _ZERO
    try:
        reduced = value.normalize(_EXACT)
    except DecimalException as exc:  # unreachable within the range; never a raw ArithmeticError
        raise LedgerValidationError(f"cannot normalise {value}: {type(exc).__name__}") from exc
    _, digits, exponent = reduced.as_tuple()
    if len(digits) > MAX_SIGNIFICANT_DIGITS:
        raise LedgerValidationError(
            f"{value} has more than {MAX_SIGNIFICANT_DIGITS} significant digits"
        )
    assert isinstance(exponent, int)
    if exponent > 0:
        reduced = reduced.quantize(_ONE, context=_EXACT)
    return reduced


#: Number text that is already canonical (``normalized`` would return what it spells): zero
#: unsigned, no exponent, no leading or trailing zeros; the form DynamoDB returns. At most
#: ``_SHORT_TEXT`` characters, it has under 20 significant digits and a magnitude in
#: ``[1E-18, 1E+19)``, so it is in range too.
_CANONICAL_TEXT = re.compile(r"0|-?(?:[1-9][0-9]*(?:\.[0-9]*[1-9])?|0\.[0-9]*[1-9])")
_SHORT_TEXT = 20


def canonical_decimal(value: object) -> Decimal:
    """``normalized(to_decimal(value))``: every DTO number's conversion. Short canonical text
    (what a read of stored numbers gives) is converted directly, the checks it would pass
    skipped."""
    if type(value) is str and len(value) <= _SHORT_TEXT and _CANONICAL_TEXT.fullmatch(value):
        return Decimal(value)
    return normalized(to_decimal(value))


def plain(value: Decimal) -> str:
    """Canonical text of a decimal: normalised, positional notation (``format(d, "f")``)."""
    return format(normalize(value), "f")


def decimal_places(value: Decimal) -> int:
    """Number of digits after the decimal point in the normalised value."""
    exponent = normalize(value).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def quantize_down(value: Decimal, places: int) -> Decimal:
    """Truncate ``value`` toward zero to ``places`` decimal places."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN, context=_EXACT)
