"""Rules 6 and 7: gates, bonuses and SPIFs."""

from __future__ import annotations

from fractions import Fraction

from tests.reference.calendar import Fiscal, month_of
from tests.reference.crediting import CreditLine
from tests.reference.spec import Bonus, Plan, matches


def gate_month(fiscal: Fiscal, period: str, run_month: int) -> int:
    """The month whose gating attainment counts: the gated period's end, or the run month if earlier."""
    return min(fiscal.bounds(period)[1], run_month)


def bonus_earned(bonus: Bonus, attainment: Fraction | None) -> Fraction:
    """The bonus amount (cents) once the period's attainment to date reaches the bar."""
    return bonus.amount * 100 if attainment is not None and attainment >= bonus.min_attainment else Fraction(0)


def spif_earned(plan_of, lines: list[CreditLine], rep_id: str, spif_id: str, period: str,
                fiscal: Fiscal) -> Fraction:
    """per_transaction x share for each of the rep's own credit lines matching the SPIF in `period`.

    A cancellation counts negatively; its window is judged on the original's date.
    """
    first, last = fiscal.bounds(period)
    total = Fraction(0)
    for cl in lines:
        if cl.rep_id != rep_id or not first <= month_of(cl.txn.date) <= last:
            continue
        plan: Plan = plan_of(cl.assignment.plan)
        spif = next((s for s in plan.spifs if s.id == spif_id), None)
        if spif is None or not matches(spif.where, cl.txn):
            continue
        if (spif.start and cl.orig_date < spif.start) or (spif.end and cl.orig_date > spif.end):
            continue
        sign = -1 if cl.txn.reverses else 1
        total += sign * spif.per_transaction * cl.share * 100
    return total
