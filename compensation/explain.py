"""`icm explain`: the calculation trace of one rep's month, in words and figures.

Reads only a `RunResult`; every figure it prints is one the pipeline produced, and the
arithmetic it shows (tiers, curves, gates, caps) is re-derived from the plan so a
reader can check it by hand.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from compensation.curves import curve_exact
from compensation.errors import IcmError
from compensation.money import cents_to_decimal, format_cents, to_decimal
from compensation.plan import Commission, Component, Plan
from compensation.rate_tables import transaction_earning
from compensation.results import RunResult
from compensation.tiers import band_index, marginal_edges, marginal_slices
from compensation.timing import explain_timing


def money(cents) -> str:
    """Cents as `1,234.56`, or `-` when blank."""
    if cents is None or cents is pd.NA or (isinstance(cents, float) and np.isnan(cents)):
        return "-"
    return f"{cents_to_decimal(int(cents)):,}"


def pct(value) -> str:
    """A fraction as a percentage with up to four decimals."""
    if value is None or value != value:
        return "-"
    return f"{float(value) * 100:.4f}".rstrip("0").rstrip(".") + "%"


def explain_rep(result: RunResult, rep_id: str) -> str:
    """The full trace of `rep_id` in the run: credits, attainment, arithmetic, settlement."""
    reps = result.reps.set_index("rep_id")
    if rep_id not in reps.index:
        raise IcmError(f"rep '{rep_id}' is not in reps; check --rep")
    info = reps.loc[rep_id]
    out = [f"{rep_id} - {info['name']} - period {result.period}"]
    plan_id = info.get("plan_id")
    plan = result.plans.get(plan_id) if isinstance(plan_id, str) else None
    if plan:
        out.append(f"plan {plan.id} ({plan.name}), currency {plan.currency}, pays {plan.payout_frequency}")
    ex = result.exceptions[result.exceptions["rep_id"] == rep_id]
    for row in ex.itertuples():
        out.append(
            f"  {row.severity.upper()}: {row.table} row {row.row if row.row is not pd.NA else '-'}: {row.reason}"
        )
    if rep_id in result.held_reps:
        out.append("HELD: no lines are paid this run until the problems above are fixed.")
        return "\n".join(out)
    lp = result.line_periods[result.line_periods["rep_id"] == rep_id]
    credits = result.credits[result.credits["rep_id"] == rep_id]
    register = result.register[result.register["rep_id"] == rep_id]
    if register.empty:
        out.append("No lines this run (not assigned in this payout period, or a quarterly plan between quarter ends).")
        return "\n".join(out)
    for line in register.itertuples():
        if line.kind in ("component", "bonus", "spif"):
            out += _explain_line(result, plan, line, lp[lp["line"] == line.line], credits[credits["line"] == line.line])
    out += explain_timing(result.timing, rep_id)
    out += _explain_settlement(result, rep_id, register)
    return "\n".join(out)


def _explain_line(
    result: RunResult, plan: Plan | None, line, periods: pd.DataFrame, credits: pd.DataFrame
) -> list[str]:
    out = ["", f"{line.kind} {line.line}"]
    described = None
    for period in periods.sort_values("attainment_period").itertuples():
        # The rules are those of the assignment governing that period (plan changes re-rate).
        governing = result.plans.get(getattr(period, "plan_id", None)) or plan
        comp = _component(governing, line.line) if line.kind == "component" else None
        if comp is not None and comp != described:
            out.append(f"  {_describe(comp)}")
            described = comp
        out.append(f"  {period.attainment_period}:")
        mine = credits[credits["attainment_period"] == period.attainment_period]
        team = mine["via_rep_id"].notna().to_numpy() if "via_rep_id" in mine else np.zeros(len(mine), bool)
        # Own credits one by one, in date order; a manager's team credit one line per member.
        for c in mine[~team].sort_values(["date", "txn_id"], kind="stable").itertuples():
            cancel = f" cancels {c.reverses}" if isinstance(c.reverses, str) else ""
            ccy = c.currency if isinstance(c.currency, str) else (governing.currency if governing else "")
            out.append(
                f"    {pd.Timestamp(c.date):%Y-%m-%d} {c.txn_id} account {c.account_id or '-'} "
                f"{c.type or '-'}{cancel}: "
                f"{money(round(c.amount * 100))} {ccy} x share {c.share:g} x multiplier {c.multiplier:g} "
                f"x fx {c.fx_rate:g} = {money(c.credited)}"
            )
            if comp is not None and comp.commission and comp.commission.per == "transaction" and \
                    getattr(c, "base", None) == getattr(c, "base", None) and getattr(c, "base", None) is not None:
                out.append("      " + transaction_text(_rule_of(comp, period), c))
        if team.any():
            members = mine[team].groupby("via_rep_id", sort=True)["credited"].agg(["count", "sum"])
            for member, row in members.iterrows():
                out.append(f"    team credit via {member}: {int(row['count'])} transactions = {money(int(row['sum']))}")
        if comp is not None:
            out.append("    " + _arithmetic(comp, period))
        out.append(
            f"    earned to date {money(period.earned_to_date)} - paid before {money(period.paid_before)} "
            f"= {money(period.amount)}"
        )
    out.append(
        f"  line {line.line}: earned to date {money(line.earned_to_date)} - paid to date "
        f"{money(line.paid_to_date)} = {money(line.amount)}"
    )
    return out


def _rule_of(comp: Component, period) -> Commission:
    """The table that paid the period: the accelerator's fallback when its condition failed."""
    met = getattr(period, "accelerator_met", pd.NA)
    if comp.commission.accelerator and met is not pd.NA and met == met and not met:
        return comp.commission.decelerated()
    return comp.commission


def _component(plan: Plan | None, line_id: str) -> Component | None:
    return next((c for c in plan.components if c.id == line_id), None) if plan else None


def _describe(comp: Component) -> str:
    """The component's rules in one line (public as `rule_text` for statements)."""
    if comp.commission:
        c = comp.commission
        unit = (lambda v: f"{v:,}") if c.basis == "amount" else pct
        pays = (lambda t: f"{money(int(t.amount * 100))}") if c.pays_amounts else (lambda t: pct(t.rate))
        tiers = " | ".join(f"from {unit(t.from_)}: {pays(t)}" for t in c.tiers)
        if c.tiers[-1].to is not None:
            tiers += f" (to {unit(c.tiers[-1].to)})"
        table = "fixed amounts" if c.pays_amounts else "rates"
        if c.per == "transaction":
            how = "step" if c.method == "retroactive" else "split across bands"
            by = f"the '{c.band_by}' column" if c.band_by else "its credited value"
            text = f"{table} per transaction ({how}), band chosen by {by}: {tiers}"
        elif c.method == "hybrid":
            text = (f"hybrid commission on {c.basis} (retroactive up to {unit(c.retroactive_to)}, marginal above), "
                    f"{comp.attainment_period} to date: {tiers}")
        else:
            kind = "commission" if not c.pays_amounts else "table of fixed amounts"
            text = f"{c.method} {kind} on {c.basis}, {comp.attainment_period} to date: {tiers}"
        if c.accelerator:
            a = c.accelerator
            over = "year-to-date" if a.over == "year_to_date" else f"{comp.attainment_period}"
            text += (f"; tiers from {unit(a.from_)} pay only while {comp.accelerator_component}'s {over} attainment "
                     f"is at least {pct(a.min_attainment)}, else the tier below")
    else:
        cv = comp.payout_curve
        pts = ", ".join(f"{pct(x)} -> {pct(y)}" for x, y in cv.points)
        text = f"payout curve, weight {pct(cv.weight)}, {comp.attainment_period} to date: {pts}"
        if cv.cap is not None:
            text += f", capped at {pct(cv.cap)}"
    if comp.cap is not None:
        text += f"; earnings capped at {comp.cap:,} per period"
    if comp.gate:
        text += f"; gated on {comp.gate.component} reaching {pct(comp.gate.min_attainment)}"
    if comp.from_ or comp.to:
        text += f"; counts transactions dated {comp.from_ or 'any time'} to {comp.to or 'any time'}"
    if comp.quota_weights:
        text += "; quota split by weights " + ", ".join(f"{k} {pct(v)}" for k, v in comp.quota_weights.items())
    if comp.quota_proration == "months":
        text += "; quota prorated by months (a month counts when the rep is assigned on its 15th)"
    elif comp.quota_proration == "days":
        text += "; quota prorated by the days of each month the rep is assigned"
    return text


rule_text = _describe


def transaction_text(rule: Commission, credit) -> str:
    """One credit's earning under a per-transaction table: the band, the rate or amount, the share."""
    band = to_decimal(float(credit.band)) if credit.band == credit.band else None
    earned = transaction_earning(credit.base, credit.band, credit.share, credit.portion_num, credit.portion_den, rule)
    shown = f"{money(int(earned.quantize(Decimal(1), rounding=ROUND_HALF_UP)))}"
    if band is None:
        return f"no number chooses its band: earns {shown}"
    froms = [t.from_ for t in rule.tiers]
    value = money(int(credit.base))
    if rule.pays_amounts:
        parts = ([(band_index(band, froms), None)] if rule.method == "retroactive"
                 else [(k, part) for k, part in enumerate(marginal_slices(band, froms, rule.tiers[-1].to)) if part > 0])
        words = " + ".join(f"{money(int(rule.tiers[k].amount * 100))}" if part is None else
                           f"{money(int(rule.tiers[k].amount * 100))} x {_num(part)}/{_num(_width(rule, k))}"
                           for k, part in parts) or "no band"
        words = f"({words})" if len(parts) > 1 else words
        text = f"band value {_num(band)}: {words} x share {credit.share:g}"
    elif rule.method == "retroactive":
        k = band_index(band, froms)
        text = f"band {k + 1} (from {_num(froms[k])}): {value} x {pct(rule.tiers[k].rate)}"
    else:
        parts = marginal_slices(band, froms, rule.tiers[-1].to)
        words = " + ".join(f"{_num(part)} x {pct(t.rate)}" for part, t in zip(parts, rule.tiers, strict=True) if part)
        text = f"{words} of band value {_num(band)}" + ("" if rule.band_by is None else f", on {value}")
    if credit.portion_num != 1 or credit.portion_den != 1:
        cancelled = f"{_num(to_decimal(-credit.portion_num))}/{_num(to_decimal(credit.portion_den))}"
        text += f"; cancels {cancelled} of its original"
    return f"{text} = {shown}"


def _num(value: Decimal) -> str:
    """A band figure without trailing zeros: 1,000 or 8 or 0.5."""
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _width(rule: Commission, k: int) -> Decimal:
    ends = [t.from_ for t in rule.tiers[1:]] + [rule.tiers[-1].to]
    return ends[k] - rule.tiers[k].from_

def _arithmetic(comp: Component, period) -> str:
    credited = int(period.credited) if period.credited == period.credited else 0
    quota = period.quota
    att = period.attainment
    quota_text = money(round(quota)) if quota == quota else "-"
    head = f"credited {money(credited)} / quota {quota_text} = attainment {pct(att)}; "
    if comp.commission:
        c = comp.commission
        position = credited / 100 if c.basis == "amount" else (att if att == att else 0.0)
        tier = max(i for i, t in enumerate(c.tiers) if float(t.from_) <= position) if position >= 0 else 0
        c = _rule_of(comp, period)
        if c.per == "transaction":
            body = "the sum of each transaction's earning above, rounded once"
        elif c.pays_amounts:
            body = f"{'band' if c.method == 'retroactive' else 'bands covered'} at {position:,.6g}"
        elif c.method == "hybrid":
            split = next(k for k, t in enumerate(c.tiers) if t.from_ == c.retroactive_to)
            edges = marginal_edges(quota, c)
            low = min(Decimal(credited), edges[split])
            lower_tier = min(tier, split - 1)
            above = [(max(Decimal(0), min(Decimal(credited), edges[k + 1] if k + 1 < len(edges) else Decimal(credited))
                          - edges[k]), c.tiers[k]) for k in range(split, len(c.tiers))]
            body = " + ".join([f"{money(round(low))} x {pct(c.tiers[lower_tier].rate)} (retroactive)"]
                              + [f"{money(round(part))} x {pct(t.rate)}" for part, t in above if part > 0])
        elif c.method == "retroactive":
            body = f"tier {tier + 1} rate {pct(c.tiers[tier].rate)} x {money(credited)}"
        else:
            parts = marginal_slices(Decimal(credited), marginal_edges(quota, c))
            body = (
                " + ".join(
                    f"{money(round(part))} x {pct(t.rate)}" for part, t in zip(parts, c.tiers, strict=True) if part
                )
                or "nothing credited"
            )
    else:
        cv = comp.payout_curve
        y = curve_exact(credited, quota, cv) if quota == quota else Decimal(0)
        target = getattr(period, "target", float("nan"))
        body = f"target {money(round(target)) if target == target else '-'} x curve({pct(att)}) {pct(y)}"
    if comp.cap is not None and period.earned_to_date == int(comp.cap * 100):
        body += f"; capped at {money(int(comp.cap * 100))}"
    if comp.commission and comp.commission.accelerator:
        met = getattr(period, "accelerator_met", pd.NA)
        if met is not pd.NA and met == met:
            body += (f"; accelerator condition {'met' if met else 'NOT met: tiers from '}"
                     + ("" if met else f"{pct(comp.commission.accelerator.from_)} pay the tier below"))
    share = getattr(period, "quota_share", None)
    if isinstance(share, str):
        body += f"; quota prorated: the rep counts for {share} of the period"
    gate = getattr(period, "gate_open", pd.NA)
    if comp.gate and gate is not pd.NA:
        body += f"; gate on {comp.gate.component} {'open' if gate else 'CLOSED: earned held at 0'}"
    return head + body + f" -> earned to date {money(period.earned_to_date)}"


def _explain_settlement(result: RunResult, rep_id: str, register: pd.DataFrame) -> list[str]:
    s = result.settlement[result.settlement["rep_id"] == rep_id]
    out = [""]
    for adj in register[register["kind"] == "adjustment"].itertuples():
        out.append(f"adjustment {money(adj.amount)}")
    details = result.line_periods[
        (result.line_periods["rep_id"] == rep_id) & (result.line_periods["kind"] == "adjustment")
    ]
    for d in details.itertuples():
        out.append(f"  {d.attainment_period}: {d.detail}")
    if not s.empty:
        r = s.iloc[0]
        out.append(
            f"settlement: earned {money(r.earned)} - balance owed before {money(r.balance_before)} "
            f"= net {money(r.net)}; floor {money(r.floor)}{' (draw active)' if r.draw_active else ''}; "
            f"pay = max(net, floor) = {money(r.pay)}; "
            f"balance owed after {money(r.balance_after)}"
        )
    for line in register[register["kind"].isin(["recovery", "draw", "carry_forward"])].itertuples():
        out.append(f"{line.line} {money(line.amount)}")
    out.append(f"paid this month: {format_cents(int(register['amount'].sum()))} {register['currency'].iloc[0]}")
    return out
