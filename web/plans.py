"""A plan in plain words, for the rep who accepts it, and the version they accept.

The version is the sha256 of the plan file: accepting records exactly what was read,
and an edited plan needs accepting again.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from compensation.explain import rule_text
from compensation.plan import Component, Plan
from reports.statement_text import charts_cumulative_tiers
from web import data
from web.format import pct


def _amount(value, currency: str) -> str:
    return f"{currency} {value:,.2f}"


def _where(where: dict) -> str:
    if not where:
        return "every transaction"
    parts = []
    for key, values in where.items():
        values = values if isinstance(values, list | tuple) else [values]
        parts.append(f"{key} is {' or '.join(str(v) for v in values)}")
    return "transactions where " + " and ".join(parts)


def component_words(comp: Component, plan: Plan) -> list[str]:
    """What a component counts, how attainment is measured and how it pays."""
    m = comp.measure
    credit = ("credited to you and to everyone whose manager chain reaches you" if m.credit == "team"
              else "credited to you (your share on split deals)")
    out = [f"Counts the {m.value} of {_where(dict(m.where))}, {credit}."]
    for mult in m.multipliers:
        out.append(f"{_where(dict(mult.where)).capitalize()} count {mult.factor}x.")
    per = {"month": "each month", "quarter": "each quarter", "year": "the year"}[comp.attainment_period]
    out.append(f"Attainment is what you are credited from the start of {per} to date, against your quota for "
               f"{per}.")
    if comp.commission is not None and not charts_cumulative_tiers(comp.commission):
        # Tables per transaction, of amounts, hybrid or with a gated accelerator: the engine's own words.
        text = rule_text(comp)
        out.append(text[0].upper() + text[1:] + ".")
    elif comp.commission is not None:
        c = comp.commission
        unit = (lambda v: _amount(v, plan.currency)) if c.basis == "amount" else pct
        steps = "; ".join(f"from {unit(t.from_)}: {pct(t.rate, 2)}" for t in c.tiers)
        how = ("the rate of the highest tier you reach applies to everything credited" if c.method == "retroactive"
               else "each slice of credit pays the rate of its band")
        out.append(f"Commission: {steps} ({how}).")
    else:
        cv = comp.payout_curve
        points = ", ".join(f"{pct(x, 0)} pays {pct(y, 0)}" for x, y in cv.points)
        out.append(f"Pays {pct(cv.weight, 0)} of your target incentive for {per} along a curve: {points}"
                   + (f", at most {pct(cv.cap, 0)}." if cv.cap is not None else "."))
    if comp.cap is not None:
        out.append(f"Earnings are capped at {_amount(comp.cap, plan.currency)} per period.")
    if comp.gate is not None:
        out.append(f"Pays only once {comp.gate.component} reaches {pct(comp.gate.min_attainment, 0)} attainment.")
    return out


def plan_words(plan: Plan) -> dict:
    """The whole plan as sections of sentences."""
    intro = [f"Paid {plan.payout_frequency} in {plan.currency}."]
    if plan.effective is not None:
        intro.append(f"In force from {plan.effective.from_}" + (f" to {plan.effective.to}." if plan.effective.to
                                                                 else "."))
    if plan.target_incentive:
        intro.append(f"Target incentive: {_amount(plan.target_incentive, plan.currency)} a year.")
    sections = [{"title": c.id.replace("_", " ").capitalize(), "sentences": component_words(c, plan)}
                for c in plan.components]
    extras = []
    for b in plan.bonuses:
        extras.append(f"{b.id}: {_amount(b.amount, plan.currency)} once per {b.per} when {b.component} reaches "
                      f"{pct(b.min_attainment, 0)} of that {b.per}'s quota.")
    for s in plan.spifs:
        window = f" from {s.from_}" if s.from_ else ""
        window += f" to {s.to}" if s.to else ""
        extras.append(f"{s.id}: {_amount(s.per_transaction, plan.currency)} for each {_where(dict(s.where))}"
                      f"{window}.")
    if plan.draw is not None:
        kind = "recoverable (repaid from later earnings)" if plan.draw.recoverable else "non-recoverable"
        extras.append(f"Draw: you are paid at least {_amount(plan.draw.amount, plan.currency)} in each of your first "
                      f"{plan.draw.periods} payout periods; {kind}.")
    if plan.clawback is not None:
        extras.append(f"Clawback: a deal cancelled within {plan.clawback.window_days} days is taken back.")
    if extras:
        sections.append({"title": "Bonuses, SPIFs, draws and clawbacks", "sentences": extras})
    return {"intro": intro, "sections": sections}


def current_plan(state, rep_id: str, today: date | None = None) -> dict | None:
    """The rep's plan in force today (else their latest row): id, name, version, words."""
    from compensation.planfile import load_plans

    reps = data.reps_table(state)
    rows = reps[reps["rep_id"] == rep_id]
    if rows.empty:
        return None
    day = pd.Timestamp(today or date.today())
    live = rows[(pd.to_datetime(rows["start_date"]) <= day)
                & (rows["end_date"].isna() | (pd.to_datetime(rows["end_date"]) >= day))]
    row = (live if len(live) else rows.sort_values("start_date")).iloc[-1]
    plan_set = load_plans(state.ws)
    plan = plan_set.plans.get(row["plan"])
    if plan is None:
        return None
    version = next((f.sha256 for f in plan_set.files if f.name == f"plan:{plan.id}"), "")
    return {"id": plan.id, "name": plan.name, "version": version, "plan": plan, "words": plan_words(plan)}
