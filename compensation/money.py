"""Exact money: integer cents, rounded half up (away from zero), never float noise.

Frames carry money as int64 cents. Products such as amount x share x rate are computed
vectorised in float64, and every result whose float value lies within a hair of a
half-cent boundary is recomputed in `Decimal` from the shortest decimal text of each
factor (`repr` of a float read from "1006.30" is "1006.3"), so the rounded cents are
exactly what decimal arithmetic gives: 1,006.30 x 5% = 50.32, never 50.31.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal

import numpy as np

from compensation.errors import IcmError

CENT = Decimal("0.01")
_EXACT = Context(prec=40, rounding=ROUND_HALF_UP)
# Float products of inputs with a few decimals are within ~1e-12 relative of the true
# value; anything closer than this to x.5 cents is settled in Decimal instead.
_NEAR_HALF = 1e-6
# From here a float64 no longer holds every cent exactly: such rows are settled in Decimal.
_FLOAT_EXACT = 2.0**50
# int64 cents end at 2^63; leave room for the sums of a few lines.
_INT64_LIMIT = 2.0**62


def to_decimal(value) -> Decimal:
    """The decimal a float stands for (shortest repr), or an exact Decimal/int/str."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float | np.floating):
        return Decimal(repr(float(value)))
    return Decimal(str(value))


def round_decimal_cents(value: Decimal) -> int:
    """Decimal amount -> integer cents, half up (away from zero)."""
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cents_to_decimal(cents: int) -> Decimal:
    """Integer cents as a two-place Decimal."""
    return (Decimal(int(cents)) / 100).quantize(CENT)


def format_cents(cents: int) -> str:
    """Cents as `-2000.00`: dot, two decimals, no separators."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{frac:02d}"


def product_cents(*factors: Sequence[float] | np.ndarray, divisor=None) -> np.ndarray:
    """Round the row-wise product of `factors` (in currency units), / `divisor`, to int64 cents.

    Half up, away from zero, exact as Decimal arithmetic on the factors' decimal text.
    """
    originals = [np.asarray(f) for f in factors]  # int64 cents stay exact in the Decimal path
    arrays = [np.asarray(f, dtype=np.float64) for f in originals]
    value = arrays[0] * 100.0
    for f in arrays[1:]:
        value = value * f
    if divisor is not None:
        value = value / np.asarray(divisor, dtype=np.float64)

    def exact(i: int) -> Decimal:
        result = _EXACT.multiply(Decimal(100), _exact_value(originals[0], i))
        for f in originals[1:]:
            result = _EXACT.multiply(result, _exact_value(f, i))
        if divisor is not None:
            d = np.asarray(divisor, dtype=np.float64)
            result = _EXACT.divide(result, to_decimal(d[i] if d.ndim else d))
        return result

    return round_exact(value, exact)


def _exact_value(array: np.ndarray, i: int) -> Decimal:
    value = array[i] if array.ndim else array
    if isinstance(value, int | np.integer):
        return Decimal(int(value))
    return to_decimal(value)


def round_exact(approx_cents: np.ndarray, exact: Callable[[int], Decimal]) -> np.ndarray:
    """Round float cents half up; rows a float cannot settle are settled by `exact(i)` (Decimal cents).

    Those are the rows within a hair of x.5 and every row too large for a float to hold
    its cents (from 2^50 cents up). A figure beyond int64 is an error, never a wrong one.
    """
    value = np.asarray(approx_cents, dtype=np.float64)
    if np.any(np.abs(value) >= _INT64_LIMIT):
        raise IcmError(f"a calculated amount ({np.nanmax(np.abs(value)) / 100:,.0f}) is beyond what icm can hold "
                       "exactly (about 9.2e16): check the amounts, FX rates and multipliers of the data")
    cents = (np.sign(value) * np.floor(np.abs(value) + 0.5)).astype(np.int64)
    frac = np.abs(value) - np.floor(np.abs(value))
    near = np.flatnonzero((np.abs(frac - 0.5) < _NEAR_HALF * np.maximum(1.0, np.abs(value) * 1e-9))
                          | (np.abs(value) >= _FLOAT_EXACT))
    for i in near:
        cents[i] = int(exact(int(i)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return cents


def checked_sum(cents: np.ndarray, groups: np.ndarray, size: int) -> np.ndarray:
    """Per-group sums of int64 cents that never wrap: an overflow is an error, never a wrong figure."""
    total = np.zeros(size, dtype=np.int64)
    np.add.at(total, groups, cents)
    approx = np.zeros(size, dtype=np.float64)
    np.add.at(approx, groups, cents.astype(np.float64))
    wrapped = np.abs(approx - total) > np.maximum(1e6, np.abs(approx) * 1e-9)
    if np.any(np.abs(approx) >= _INT64_LIMIT) or np.any(wrapped):
        raise IcmError("a total of credited amounts is beyond what icm can hold exactly (about 9.2e16): "
                       "check the amounts, FX rates and multipliers of the data")
    return total
