"""Rule 9: balance owed, draws and carry-forward, per rep and payout period."""

from __future__ import annotations

from dataclasses import dataclass

from tests.reference.calendar import Fiscal, month_of
from tests.reference.spec import Assignment, Plan, World


@dataclass(frozen=True)
class Settlement:
    earned: int
    balance_before: int
    pay: int
    balance_after: int
    draw_active: bool

    def lines(self) -> list[tuple[str, int]]:
        """recovery (minus the balance owed before) and draw or carry_forward (pay - net)."""
        out = []
        if self.balance_before:
            out.append(("recovery", -self.balance_before))
        topped = self.pay - (self.earned - self.balance_before)
        if topped > 0:
            out.append(("draw" if self.draw_active else "carry_forward", topped))
        return out


def draw_active(world: World, current: Assignment, run_month: int) -> bool:
    """The draw runs for the first `periods` payout periods of the unbroken stretch on the plan.

    The stretch is the run of the rep's consecutive rows (gaps allowed) with the same plan id.
    """
    plan = world.plan(current.plan)
    if plan.draw is None:
        return False
    rows = sorted((a for a in world.assignments if a.rep_id == current.rep_id), key=lambda a: a.start)
    start = current.start
    for a in reversed(rows[:rows.index(current)]):
        if a.plan != current.plan:
            break
        start = a.start
    fiscal = Fiscal(world.fiscal_year_start)
    if plan.payout_frequency == "quarterly":
        def index(m: int) -> int:  # quarters counted from any fixed origin
            return (fiscal.period("quarter", m)[0] - (fiscal.start - 1)) // 3
        elapsed = index(run_month) - index(month_of(start))
    else:
        elapsed = run_month - month_of(start)
    return 0 <= elapsed < plan.draw.periods


def settle(plan: Plan, earned: int, balance_before: int, active: bool) -> Settlement:
    net = earned - balance_before
    floor = int(plan.draw.amount * 100) if active else 0
    pay = max(net, floor)
    if plan.draw is not None and not plan.draw.recoverable:
        after = max(0, -net)
    else:
        after = pay - net
    return Settlement(earned, balance_before, pay, after, active)
