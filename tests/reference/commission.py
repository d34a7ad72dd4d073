"""Rule 4: commission tiers (retroactive, marginal; on attainment or amount) and the cap."""

from __future__ import annotations

from fractions import Fraction

from tests.reference.spec import Component


def needs_quota(comp: Component) -> bool:
    """Tiers above 0% on attainment, or a curve (gates and bonuses: see incentives)."""
    if comp.curve is not None:
        return True
    return comp.tiers.basis == "attainment" and any(f > 0 for f, _ in comp.tiers.tiers)


def commission(comp: Component, credited_cents: int, quota_cents: Fraction | None) -> Fraction:
    """Earned cents (unrounded) of a tiered component on the value credited to date.

    Below the first tier (negative value after cancellations) the first tier's rate applies.
    """
    tiers = comp.tiers
    value = Fraction(credited_cents)
    scale = quota_cents if tiers.basis == "attainment" and needs_quota(comp) else Fraction(100)
    edges = [f * scale for f, _ in tiers.tiers]
    rates = [r for _, r in tiers.tiers]
    if tiers.method == "retroactive":
        reached = [r for edge, r in zip(edges, rates, strict=True) if value >= edge] or rates[:1]
        earned = value * reached[-1]
    else:
        earned = Fraction(0)
        for i, rate in enumerate(rates):
            top = min(value, edges[i + 1]) if i + 1 < len(edges) else value
            part = top - edges[i]
            earned += rate * (part if i == 0 else max(part, Fraction(0)))
    return capped(comp, earned)


def capped(comp: Component, earned: Fraction) -> Fraction:
    return min(earned, comp.cap * 100) if comp.cap is not None else earned
