"""Exact decimal handling shared by the attributes, the DTOs and the canonical JSON form."""

from __future__ import annotations

from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation

from .errors import LedgerValidationError

#: DynamoDB numbers carry at most 38 significant digits.
MAX_SIGNIFICANT_DIGITS = 38

_EXACT = Context(prec=MAX_SIGNIFICANT_DIGITS * 2)


def to_decimal(value: object) -> Decimal:
    """Convert ``value`` to ``Decimal`` exactly; floats go through ``str`` (never binary)."""
    if isinstance(value, bool):
        raise LedgerValidationError(f"expected a number, got bool {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise LedgerValidationError(f"not a decimal number: {value!r}") from exc
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raise LedgerValidationError(f"expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise LedgerValidationError(f"number must be finite, got {value!r}")
    return result


def normalize(value: Decimal) -> Decimal:
    """Return the canonical representation: no exponent, no trailing zeros, no ``-0``.

    ``1.50`` -> ``1.5``, ``100`` -> ``100`` (not ``1E+2``), ``-0.0`` -> ``0``. Raises when the
    value needs more than 38 significant digits, which DynamoDB cannot store.
    """
    if not value.is_finite():
        raise LedgerValidationError(f"number must be finite, got {value}")
    if value.is_zero():
        return Decimal(0)
    reduced = value.normalize(_EXACT)
    if len(reduced.as_tuple().digits) > MAX_SIGNIFICANT_DIGITS:
        raise LedgerValidationError(
            f"{value} has more than {MAX_SIGNIFICANT_DIGITS} significant digits"
        )
    exponent = reduced.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent > 0:
        reduced = reduced.quantize(Decimal(1), context=_EXACT)
    return reduced


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
