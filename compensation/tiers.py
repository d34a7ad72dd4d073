"""Rule 4: tiered commission, retroactive or marginal, on attainment or on amount bands.

The one home of tier arithmetic: the engine, `explain` and the statements all call these.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from compensation.money import _EXACT, product_cents, round_exact, to_decimal
from compensation.plan import Commission


def commission(credited: np.ndarray, quota: np.ndarray, rule: Commission) -> np.ndarray:
    """Earned cents from tiers (rule 4). `quota` is float cents, NaN when absent."""
    credited = np.asarray(credited, dtype=np.int64)
    froms = np.array([float(t.from_) for t in rule.tiers])
    rates = np.array([float(t.rate) for t in rule.tiers])
    on_amount = rule.basis == "amount"
    if rule.method == "retroactive":
        position = credited / 100.0 if on_amount else np.divide(credited, quota)
        tier = np.clip(np.searchsorted(froms, np.nan_to_num(position, nan=0.0), side="right") - 1, 0, None)
        return product_cents(credited / 100.0, rates[tier])
    # Marginal: each slice of credited value pays the rate of its band.
    edges = np.outer(np.ones(len(credited)), froms * 100.0) if on_amount else np.outer(quota, froms)
    edges = np.nan_to_num(edges, nan=0.0)
    uppers = np.hstack([edges[:, 1:], np.full((len(credited), 1), np.inf)])
    c = credited.astype(float)[:, None]
    slices = np.clip(c, edges, uppers) - edges
    slices[:, 0] = np.minimum(credited, uppers[:, 0])  # a net negative lands in the first band
    approx = (slices * rates).sum(axis=1)

    def exact(i: int) -> Decimal:
        parts = marginal_slices(Decimal(int(credited[i])), [to_decimal(e) for e in edges[i]])
        return sum((_EXACT.multiply(part, tier.rate) for part, tier in zip(parts, rule.tiers, strict=True)),
                   Decimal(0))

    return round_exact(approx, exact)


def marginal_edges(quota: float, rule: Commission) -> list[Decimal]:
    """Band lower edges in cents: `from` x quota, or `from` itself with `basis: amount`."""
    if rule.basis == "amount":
        return [t.from_ * 100 for t in rule.tiers]
    q = to_decimal(quota) if quota == quota else Decimal(0)
    return [t.from_ * q for t in rule.tiers]


def marginal_slices(value: Decimal, lows: list[Decimal]) -> list[Decimal]:
    """The part of `value` in each band [lows[k], lows[k+1]); a net negative lands in the first."""
    parts = []
    for k, low in enumerate(lows):
        high = lows[k + 1] if k + 1 < len(lows) else None
        part = value if k == 0 else max(Decimal(0), value - low)
        if high is not None:
            part = min(part, high if k == 0 else high - low)
        parts.append(part)
    return parts
