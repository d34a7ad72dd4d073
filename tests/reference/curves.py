"""Rule 5: payout curves on a target prorated by the days each assignment covers."""

from __future__ import annotations

from fractions import Fraction

from tests.reference.calendar import Fiscal, days_between, first_day, last_day
from tests.reference.spec import Curve, World

PERIOD_SHARE = {"month": Fraction(1, 12), "quarter": Fraction(1, 4), "year": Fraction(1)}


def target(world: World, rep_id: str, line: str, period: str) -> Fraction:
    """Sum over the rep's assignments in the period of TI x weight x share x days / period days.

    Each assignment counts with its own plan's weight and target incentive (the rep's row
    overrides the plan's); assignments whose plan lacks the curve add nothing.
    """
    fiscal = Fiscal(world.fiscal_year_start)
    first_m, last_m = fiscal.bounds(period)
    p_first, p_last = first_day(first_m), last_day(last_m)
    period_days = days_between(p_first, p_last)
    total = Fraction(0)
    for a in world.assignments:
        if a.rep_id != rep_id:
            continue
        plan = world.plan(a.plan)
        comp = plan.component(line)
        if comp is None or comp.curve is None:
            continue
        ti = a.target_incentive if a.target_incentive is not None else plan.target_incentive
        days = days_between(max(a.start, p_first), min(a.end, p_last))
        if days and ti is not None:
            total += ti * comp.curve.weight * PERIOD_SHARE[comp.period] * Fraction(days, period_days)
    return total


def curve_value(curve: Curve, attainment: Fraction) -> Fraction:
    """Linear between points; below the first point its payout; past the last the slope continues."""
    pts = curve.points
    if attainment <= pts[0][0]:
        y = pts[0][1]
    else:
        seg = next((k for k in range(1, len(pts)) if attainment <= pts[k][0]), len(pts) - 1)
        (x0, y0), (x1, y1) = pts[seg - 1], pts[seg]
        y = y0 + (attainment - x0) * (y1 - y0) / (x1 - x0)
    return min(y, curve.cap) if curve.cap is not None else y
