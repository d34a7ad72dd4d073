"""Rule 10: exact amounts and rounding half up (away from zero) to the cent."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction


def exact(value: str | int | Decimal | Fraction) -> Fraction:
    """A decimal text or number as an exact fraction (never through a float)."""
    if isinstance(value, Fraction):
        return value
    return Fraction(Decimal(str(value)))


def cents(amount: Fraction) -> int:
    """An amount in currency units rounded to whole cents, half away from zero."""
    scaled = amount * 100
    sign = -1 if scaled < 0 else 1
    whole, rest = divmod(abs(scaled.numerator), scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    return sign * whole


def text(cents_value: int) -> str:
    """Cents as register text: `-2000.00`."""
    sign = "-" if cents_value < 0 else ""
    whole, part = divmod(abs(cents_value), 100)
    return f"{sign}{whole}.{part:02d}"
