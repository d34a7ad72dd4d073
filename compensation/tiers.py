"""Rule 4: tiered commission, retroactive or marginal, on attainment or on amount bands.

The one home of tier arithmetic: the engine, `explain` and the statements all call these.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from compensation.money import _EXACT, product_cents, round_exact, to_decimal
from compensation.plan import Commission


def commission(credited: np.ndarray, quota: np.ndarray, rule: Commission) -> np.ndarray:
    """Earned cents from tiers (rule 4). `quota` is float cents, NaN when absent."""
    credited = np.asarray(credited, dtype=np.int64)
    if rule.pays_amounts or rule.method == "hybrid":
        return _table(credited, np.asarray(quota, dtype=float), rule)
    if rule.method == "retroactive":
        rates = np.array([float(t.rate) for t in rule.tiers])
        return product_cents(credited, rates[_retroactive_tier(credited, quota, rule)], divisor=100)
    edges, top = _band_edges(credited, quota, rule)

    def exact(i: int) -> Decimal:
        parts = marginal_slices(Decimal(int(credited[i])), [to_decimal(e) for e in edges[i]],
                                None if np.isinf(top[i]) else to_decimal(top[i]))
        return sum((_EXACT.multiply(part, tier.rate) for part, tier in zip(parts, rule.tiers, strict=True)),
                   Decimal(0))

    return round_exact(commission_unrounded(credited, quota, rule), exact)


def commission_unrounded(credited: np.ndarray, quota: np.ndarray, rule: Commission) -> np.ndarray:
    """A table of rates (retroactive or marginal) in float cents, before rounding.

    The engine rounds it exactly (`commission`); plan modelling prices millions of draws
    with it as it is, so both pay through one rule.
    """
    rates = np.array([float(t.rate) for t in rule.tiers])
    if rule.method == "retroactive":
        return np.asarray(credited, dtype=float) * rates[_retroactive_tier(credited, quota, rule)]
    edges, top = _band_edges(credited, quota, rule)
    uppers = np.hstack([edges[:, 1:], top[:, None]])
    c = np.asarray(credited, dtype=float)[:, None]
    slices = np.clip(c, edges, uppers) - edges
    slices[:, 0] = np.minimum(c[:, 0], uppers[:, 0])  # a net negative lands in the first band
    return (slices * rates).sum(axis=1)


def _retroactive_tier(credited: np.ndarray, quota: np.ndarray, rule: Commission) -> np.ndarray:
    froms = np.array([float(t.from_) for t in rule.tiers])
    credited = np.asarray(credited, dtype=float)
    position = credited / 100.0 if rule.basis == "amount" else np.divide(credited, quota)
    return np.clip(np.searchsorted(froms, np.nan_to_num(position, nan=0.0), side="right") - 1, 0, None)


def _band_edges(credited: np.ndarray, quota: np.ndarray, rule: Commission) -> tuple[np.ndarray, np.ndarray]:
    """Marginal band lower edges per row (float cents) and where the last band ends."""
    froms = np.array([float(t.from_) for t in rule.tiers])
    n = len(credited)
    edges = np.outer(np.ones(n), froms * 100.0) if rule.basis == "amount" else np.outer(quota, froms)
    return np.nan_to_num(edges, nan=0.0), _top_edges(np.broadcast_to(np.asarray(quota, dtype=float), (n,)), rule)


def marginal_edges(quota: float, rule: Commission) -> list[Decimal]:
    """Band lower edges in cents: `from` x quota, or `from` itself with `basis: amount`."""
    if rule.basis == "amount":
        return [t.from_ * 100 for t in rule.tiers]
    q = to_decimal(quota) if quota == quota else Decimal(0)
    return [t.from_ * q for t in rule.tiers]


def marginal_slices(value: Decimal, lows: list[Decimal], top: Decimal | None = None) -> list[Decimal]:
    """The part of `value` in each band [lows[k], lows[k+1]), the last up to `top` if any.

    A net negative lands in the first band.
    """
    parts = []
    for k, low in enumerate(lows):
        high = lows[k + 1] if k + 1 < len(lows) else top
        part = value if k == 0 else max(Decimal(0), value - low)
        if high is not None:
            part = min(part, high if k == 0 else high - low)
        parts.append(part)
    return parts


def _top_edges(quota: np.ndarray, rule: Commission) -> np.ndarray:
    """Float cents where the last band ends, per row: `to` of the last tier, else infinity."""
    top = rule.tiers[-1].to
    if top is None:
        return np.full(len(quota), np.inf)
    if rule.basis == "amount":
        return np.full(len(quota), float(top) * 100.0)
    return np.nan_to_num(np.asarray(quota, dtype=float) * float(top), nan=0.0)


def band_index(position: Decimal, froms: list[Decimal]) -> int:
    """The band a position falls in: the last whose start it has reached (the first if below)."""
    return max((k for k, f in enumerate(froms) if f <= position), default=0)


def amount_table(position: Decimal, rule: Commission) -> Decimal:
    """Currency earned by a table of fixed amounts at `position` (in the units of `from`).

    Step: the amount of the band the position falls in. Split: each band's amount times the
    share of the band covered (the last band ends at its `to`). Nothing at 0 or below.
    """
    if position <= 0:
        return Decimal(0)
    froms = [t.from_ for t in rule.tiers]
    if rule.method == "retroactive":
        return rule.tiers[band_index(position, froms)].amount
    parts = marginal_slices(position, froms, rule.tiers[-1].to)
    ends = froms[1:] + [rule.tiers[-1].to]
    return sum((_EXACT.divide(_EXACT.multiply(t.amount, part), end - t.from_)
                for t, part, end in zip(rule.tiers, parts, ends, strict=True)), Decimal(0))


def hybrid(credited: Decimal, position: Decimal, edges: list[Decimal], rule: Commission) -> Decimal:
    """Cents earned by hybrid tiers: retroactive up to `retroactive_to`, marginal above it.

    The value up to the threshold earns the rate of the highest tier below the threshold
    that has been reached; each slice above it earns its own band's rate.
    """
    split = next(k for k, t in enumerate(rule.tiers) if t.from_ == rule.retroactive_to)
    froms = [t.from_ for t in rule.tiers]
    lower_rate = rule.tiers[band_index(position, froms[:split])].rate
    threshold = edges[split]
    total = _EXACT.multiply(min(credited, threshold), lower_rate)
    for k in range(split, len(rule.tiers)):
        high = edges[k + 1] if k + 1 < len(edges) else None
        part = max(Decimal(0), (credited if high is None else min(credited, high)) - edges[k])
        total += _EXACT.multiply(part, rule.tiers[k].rate)
    return total


def _table(credited: np.ndarray, quota: np.ndarray, rule: Commission) -> np.ndarray:
    """Amount tables and hybrid tiers on the period's value (float first, Decimal near a half cent)."""
    on_amount = rule.basis == "amount"

    def exact(i: int) -> Decimal:
        c = Decimal(int(credited[i]))
        q = to_decimal(quota[i]) if quota[i] == quota[i] else None
        if on_amount:
            position = c / 100
        elif q:
            position = _EXACT.divide(c, q)
        else:
            position = Decimal(0)
        if rule.pays_amounts:
            return amount_table(position, rule) * 100
        edges = [t.from_ * 100 if on_amount else t.from_ * (q or 0) for t in rule.tiers]
        return hybrid(c, position, edges, rule)

    # Few rows (one per rep and period): each is worked out in Decimal, then rounded once.
    return np.array([int(exact(i).quantize(Decimal(1), rounding=ROUND_HALF_UP)) for i in range(len(credited))],
                    dtype=np.int64)
