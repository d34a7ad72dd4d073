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

CENT = Decimal("0.01")
_EXACT = Context(prec=40, rounding=ROUND_HALF_UP)
# Float products of inputs with a few decimals are within ~1e-12 relative of the true
# value; anything closer than this to x.5 cents is settled in Decimal instead.
_NEAR_HALF = 1e-6


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
    arrays = [np.asarray(f, dtype=np.float64) for f in factors]
    value = arrays[0] * 100.0
    for f in arrays[1:]:
        value = value * f
    if divisor is not None:
        value = value / np.asarray(divisor, dtype=np.float64)

    def exact(i: int) -> Decimal:
        result = _EXACT.multiply(Decimal(100), to_decimal(arrays[0][i]))
        for f in arrays[1:]:
            result = _EXACT.multiply(result, to_decimal(f[i] if f.ndim else f))
        if divisor is not None:
            d = np.asarray(divisor, dtype=np.float64)
            result = _EXACT.divide(result, to_decimal(d[i] if d.ndim else d))
        return result

    return round_exact(value, exact)


def round_exact(approx_cents: np.ndarray, exact: Callable[[int], Decimal]) -> np.ndarray:
    """Round float cents half up; rows within a hair of x.5 are settled by `exact(i)` (Decimal cents)."""
    value = np.asarray(approx_cents, dtype=np.float64)
    cents = np.sign(value) * np.floor(np.abs(value) + 0.5)
    frac = np.abs(value) - np.floor(np.abs(value))
    near = np.flatnonzero(np.abs(frac - 0.5) < _NEAR_HALF * np.maximum(1.0, np.abs(value) * 1e-9))
    if near.size:
        cents = cents.copy()
        for i in near:
            cents[i] = float(exact(int(i)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return cents.astype(np.int64)
