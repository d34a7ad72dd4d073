"""Rules 1 and 2: who is credited with what, per component, in the plan currency.

A transaction credits its owner 100% or its `credits` rows; each credited rep's
assignment on the date picks the plan; `credit: team` components also credit every
manager up the chain on that date. A cancellation takes the original's reps, shares,
assignment and columns (all but date and amount), on its own date, inside the clawback
window only. Each credit is rounded to the cent once, after share, multiplier and FX.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from tests.reference.calendar import month_name, month_of
from tests.reference.money import cents
from tests.reference.spec import Assignment, Txn, World, matches


@dataclass(frozen=True)
class CreditLine:
    """One rep's share of one transaction (before components): what SPIFs count."""

    rep_id: str
    assignment: Assignment
    share: Fraction
    txn: Txn  # the transaction as measured: the original's columns, own date and amount
    orig_date: dt.date  # the original's date for a cancellation, else the date


@dataclass(frozen=True)
class Credit:
    """Credited cents of one component for one rep, dated by the transaction's own date."""

    rep_id: str
    plan_id: str
    line: str
    date: dt.date
    cents: int
    txn_id: str
    direct: bool
    assignment: Assignment


def assignment_on(world: World, rep_id: str, day: dt.date) -> Assignment | None:
    return next((a for a in world.assignments if a.rep_id == rep_id and a.contains(day)), None)


def credit_lines(world: World, until: dt.date) -> list[CreditLine]:
    """Every rep-share of every transaction dated up to `until` that credits an assignment."""
    by_id = {t.txn_id: t for t in world.txns}
    out = []
    for txn in world.txns:
        if txn.date > until:
            continue
        orig = by_id.get(txn.reverses) if txn.reverses else None
        basis = orig or txn
        measured = Txn(txn.txn_id, txn.date, txn.amount, basis.currency, basis.rep_id, basis.type,
                       basis.product, txn.reverses)
        rows = [(c.rep_id, c.share) for c in world.credits if c.txn_id == basis.txn_id]
        for rep_id, share in rows or [(basis.rep_id, Fraction(1))]:
            assignment = assignment_on(world, rep_id, basis.date)
            if assignment is None:
                continue
            window = world.plan(assignment.plan).clawback_days
            if orig is not None and window is not None and (txn.date - orig.date).days > window:
                continue
            out.append(CreditLine(rep_id, assignment, share, measured, basis.date))
    return out


def fx_ratio(world: World, currency: str, plan_currency: str, day: dt.date) -> Fraction:
    """rate(X) / rate(Y) of the transaction's month; the base currency is 1."""
    month = month_name(month_of(day))

    def rate(cur: str) -> Fraction:
        return Fraction(1) if cur == world.base_currency else world.fx[(month, cur)]

    return rate(currency) / rate(plan_currency)


def managers(world: World, rep_id: str, day: dt.date) -> list[str]:
    """The manager chain of a rep on a day (nearest first; a cycle stops the walk)."""
    chain, seen = [], {rep_id}
    row = assignment_on(world, rep_id, day)
    while row is not None and row.manager_id and row.manager_id not in seen:
        chain.append(row.manager_id)
        seen.add(row.manager_id)
        row = assignment_on(world, row.manager_id, day)
    return chain


def component_credits(world: World, lines: list[CreditLine]) -> list[Credit]:
    """Rule 1 per component: direct credits, then team roll-ups to the manager chain."""
    out = []
    for cl in lines:
        txn = cl.txn
        out += _credit(world, cl.rep_id, cl.assignment, cl.share, txn, direct=True)
        for manager in managers(world, cl.rep_id, cl.orig_date):
            held = assignment_on(world, manager, cl.orig_date)
            if held is not None:
                out += _credit(world, manager, held, cl.share, txn, direct=False)
    return out


def _credit(world: World, rep_id: str, assignment: Assignment, share: Fraction, txn: Txn, *,
            direct: bool) -> list[Credit]:
    plan = world.plan(assignment.plan)
    out = []
    for comp in plan.components:
        if not direct and comp.credit != "team":
            continue
        if not matches(comp.where, txn):
            continue
        factor = next((f for w, f in comp.multipliers if matches(w, txn)), Fraction(1))
        value = txn.amount * share * factor * fx_ratio(world, txn.currency, plan.currency, txn.date)
        out.append(Credit(rep_id, plan.id, comp.id, txn.date, cents(value), txn.txn_id, direct, assignment))
    return out
