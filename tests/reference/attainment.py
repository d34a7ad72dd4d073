"""Rule 3: credited value to date per attainment period, quotas and attainment.

Attainment = value credited from the start of the period to the end of the run month /
the quota of the whole period. The quota is the sum of the rep's rows inside the period;
when only a longer period's quota is given it is split evenly. Never rounded.
"""

from __future__ import annotations

from fractions import Fraction

from tests.reference.calendar import Fiscal, month_of
from tests.reference.crediting import Credit
from tests.reference.spec import World


def credited(credits: list[Credit], rep_id: str, line: str, period: str, fiscal: Fiscal, run_month: int) -> int:
    """Cents credited to (rep, component id) in `period` up to the end of the run month, across plans."""
    first, last = fiscal.bounds(period)
    last = min(last, run_month)
    return sum(c.cents for c in credits
               if c.rep_id == rep_id and c.line == line and first <= month_of(c.date) <= last)


def quota(world: World, rep_id: str, key: str, period: str) -> Fraction | None:
    """The quota of a period in cents (rows inside it, else a longer row split evenly), or None."""
    fiscal = Fiscal(world.fiscal_year_start)
    first, last = fiscal.bounds(period)
    rows = [(fiscal.bounds(q.period), q.amount) for q in world.quotas if q.rep_id == rep_id and q.component == key]
    inside = [amount for (a, b), amount in rows if first <= a and b <= last]
    if inside:
        total = sum(inside, Fraction(0))
    else:
        longer = [(b - a + 1, amount) for (a, b), amount in rows if a <= first and last <= b]
        if not longer:
            return None
        months, amount = min(longer)
        total = amount * (last - first + 1) / months
    return total * 100 if total > 0 else None


def attainment(world: World, credits: list[Credit], rep_id: str, line: str, key: str, period: str,
               run_month: int) -> Fraction | None:
    q = quota(world, rep_id, key, period)
    if q is None:
        return None
    return Fraction(credited(credits, rep_id, line, period, Fiscal(world.fiscal_year_start), run_month)) / q
