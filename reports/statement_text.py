"""The sentences that say why each statement line pays what it pays, in the rep's words.

Every figure comes from the committed run (register, line periods, plan) or from the
engine's own rule functions (`compensation.tiers`, `compensation.curves`), never from a
second copy of the arithmetic: a statement cannot disagree with the payout it explains.
A line that pays nothing says why in plain words ("not paid: new business attainment
84.0% is below the 100% this kicker needs"), never an internal state name.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal

import numpy as np
import pandas as pd

from compensation.curves import curve_exact
from compensation.explain import rule_text
from compensation.plan import Commission, Component, Plan, Tier
from compensation.tiers import commission, marginal_edges, marginal_slices
from reports.i18n import Formatter

SHARE_TEXT = {"month": " × 1/12", "quarter": " × 1/4", "year": ""}
SHARE = {"month": Decimal(1) / 12, "quarter": Decimal(1) / 4, "year": Decimal(1)}


def none(value):
    """None for every flavour of missing (None, NA, NaN, NaT); the value otherwise."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def title(line_id: str) -> str:
    """`new_business` -> `New business`."""
    text = line_id.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def component_name(component_id: str, fmt: Formatter) -> str:
    """A component's name inside a sentence: `new business` in English, `New business` in Italian."""
    name = title(component_id)
    return name.lower() if fmt.locale == "en" else name


def tier_pay(tier: Tier, fmt: Formatter) -> str:
    """What a tier pays: its rate, or its fixed amount."""
    return fmt.rate(tier.rate) if tier.rate is not None else fmt.amount(tier.amount)


def _needed_cents(threshold: Decimal, credited: int) -> int:
    return int((threshold - Decimal(credited)).to_integral_value(rounding=ROUND_CEILING))


def _gate_sentence(component: Component, fmt: Formatter, row, current: dict | None, att_by_line) -> str | None:
    """Why a gated component pays nothing yet, or None when its gate is open."""
    gate = component.gate
    is_open = none((current or {}).get("gate_open"))
    now = att_by_line.get(gate.component)
    if is_open is None:  # a run without gate flags: judge from the gating attainment shown
        is_open = now is not None and now >= float(gate.min_attainment)
    if is_open:
        return None
    return fmt.sentences["gate_closed"].format(
        component=component_name(gate.component, fmt),
        min=fmt.rate(gate.min_attainment), now=fmt.percent(now) if now is not None else "0%")


def _commission_sentences(com: Commission, fmt: Formatter, credited, quota, attainment):
    """Explanation and next-tier hint of a tier table on the current attainment period."""
    s = fmt.sentences
    tiers = com.tiers
    explain, nxt = [], None
    credited_text = fmt.money(credited or 0)
    by_amount = com.basis == "amount"
    if com.per != "period" or com.method == "hybrid" or com.accelerator is not None or com.pays_amounts:
        rates = " / ".join(tier_pay(t, fmt) for t in tiers)
        return [s["tier_table"].format(credited=credited_text, rates=rates)], None
    position = None
    if by_amount:
        position = Decimal(int(credited or 0)) / 100
    elif attainment is not None:
        position = Decimal(repr(float(attainment)))
    quota_f = float(quota) if quota is not None else math.nan
    earned = int(commission(np.array([int(credited or 0)]), np.array([quota_f]), com)[0]) \
        if position is not None or len(tiers) == 1 else None
    if len(tiers) == 1:
        explain.append(s["flat"].format(rate=fmt.rate(tiers[0].rate), credited=credited_text,
                                        earned=fmt.money(earned)))
    elif com.method == "marginal" and position is not None:
        edges = marginal_edges(quota_f, com)
        parts = marginal_slices(Decimal(int(credited or 0)), edges)
        sums = " + ".join(f"{fmt.money(int(p))} × {fmt.rate(t.rate)}" for p, t in zip(parts, tiers, strict=True)
                          if p != 0)
        explain.append(s["tier_marginal"].format(credited=credited_text, slices=sums or fmt.money(0),
                                                 earned=fmt.money(earned)))
    elif position is not None:
        current = [t for t in tiers if t.from_ <= position][-1]
        key = "tier_retro_amount" if by_amount else "tier_retro"
        explain.append(s[key].format(
            attainment=fmt.percent(attainment), credited=credited_text, rate=fmt.rate(current.rate),
            tier_from=fmt.amount(current.from_) if by_amount else fmt.rate(current.from_),
            earned=fmt.money(earned)))
    if position is not None and len(tiers) > 1:
        upcoming = [t for t in tiers if t.from_ > position]
        if upcoming:
            t = upcoming[0]
            threshold = t.from_ * 100 if by_amount else (
                t.from_ * Decimal(int(quota)) if quota is not None else None)
            if threshold is not None:
                nxt = s["next_tier"].format(
                    needed=fmt.money(_needed_cents(threshold, int(credited or 0))), rate=fmt.rate(t.rate),
                    tier_from=fmt.amount(t.from_) if by_amount else fmt.rate(t.from_))
        else:
            nxt = s["top_tier"]
    return explain, nxt


def _target_text(component: Component, fmt: Formatter, target_cents: float) -> str:
    """`€75,000.00 × 30% × 1/4 = €5,625.00`, or the prorated target alone.

    The target incentive is read back from the run's target; when it is not a whole
    amount (the rep was on the plan for part of the period) only the target is shown.
    """
    curve = component.payout_curve
    target = Decimal(int(round(target_cents)))
    share = SHARE[component.attainment_period]
    ti = target / 100 / (curve.weight * share)
    whole = ti.to_integral_value()
    if abs(ti - whole) * curve.weight * share * 100 < Decimal("0.5"):
        return fmt.sentences["curve_target"].format(
            ti=fmt.amount(whole), weight=fmt.rate(curve.weight), share=SHARE_TEXT[component.attainment_period],
            target=fmt.money(int(target)))
    return fmt.sentences["curve_target_prorated"].format(target=fmt.money(int(target)),
                                                         weight=fmt.rate(curve.weight))


def _curve_sentences(component: Component, fmt: Formatter, credited, quota, attainment, current: dict | None):
    s = fmt.sentences
    curve = component.payout_curve
    if attainment is None:
        return [], None
    payout = curve_exact(int(credited or 0), float(quota), curve) if quota else Decimal(0)
    target = none((current or {}).get("target"))
    earned = none((current or {}).get("earned_to_date"))
    if target is not None and earned is not None:
        explain = [s["curve_pays"].format(target=_target_text(component, fmt, float(target)),
                                          attainment=fmt.percent(attainment), payout=fmt.percent(payout),
                                          earned=fmt.money(earned))]
    else:
        explain = [s["curve"].format(attainment=fmt.percent(attainment), payout=fmt.percent(payout))]
    nxt = None
    position = Decimal(repr(float(attainment)))
    upcoming = [p for p in curve.points if p[0] > position and p[1] > 0]
    capped = curve.cap is not None and payout >= curve.cap
    if upcoming and not capped and quota is not None:
        x, y = upcoming[0]
        if curve.cap is not None:
            y = min(y, curve.cap)
        nxt = s["next_point"].format(needed=fmt.money(_needed_cents(x * Decimal(int(quota)), int(credited or 0))),
                                     target=fmt.rate(x), payout=fmt.rate(y))
    elif capped:
        nxt = s["curve_max"]
    return explain, nxt


def charts_cumulative_tiers(rule) -> bool:
    """Whether a commission is a cumulative table of rates that the tier chart and sentences describe."""
    return (rule.per != "transaction" and not rule.pays_amounts and rule.method in ("retroactive", "marginal")
            and rule.accelerator is None)


def component_sentences(component: Component, fmt: Formatter, row: dict, current: dict | None,
                        att_by_line: dict) -> tuple[list[str], str | None]:
    """Why the component pays what it pays (gate first), and what the next tier needs.

    `row` is the register line, `current` the line-period row of the attainment period
    containing the run month (target, gate_open, earned_to_date), when the run has one.
    """
    credited, quota, attainment = none(row["credited"]), none(row["quota"]), none(row["attainment"])
    explain, nxt = [], None
    if component.gate is not None:
        gate = _gate_sentence(component, fmt, row, current, att_by_line)
        if gate is not None:
            explain.append(gate)
    if component.commission is not None and not charts_cumulative_tiers(component.commission):
        # Per-transaction tables, amount tables, hybrid tiers and gated accelerators: the rule in
        # words (the same text as `icm explain`); each credit's arithmetic is in explain.
        text = rule_text(component)
        more = [text[0].upper() + text[1:] + "."]
        more.append(fmt.sentences["component"].format(component=title(component.id)))
    elif component.commission is not None:
        more, nxt = _commission_sentences(component.commission, fmt, credited, quota, attainment)
    else:
        more, nxt = _curve_sentences(component, fmt, credited, quota, attainment, current)
    explain += more
    if not explain:
        explain.append(fmt.sentences["component"].format(component=title(component.id)))
    return explain, nxt


def bonus_sentence(plan: Plan, line: str, fmt: Formatter, current: dict | None, period_label: str) -> str | None:
    """Paid, already paid, or not paid and why, for the bonus period containing the run month."""
    s = fmt.sentences
    bonus = next((b for b in plan.bonuses if b.id == line), None)
    if bonus is None:
        return None
    rule = s["bonus"].format(amount=fmt.amount(bonus.amount), per=s[f"per_{bonus.per}"],
                             component=title(bonus.component), min=fmt.rate(bonus.min_attainment))
    attainment = none((current or {}).get("attainment"))
    if current is None or (attainment is None and none(current.get("quota")) is None):
        return rule
    facts = {"component": component_name(bonus.component, fmt), "attainment": fmt.percent(attainment or 0),
             "min": fmt.rate(bonus.min_attainment), "period": period_label}
    if int(current.get("earned_to_date") or 0) == 0:
        return s["bonus_not_paid"].format(**facts) + " " + rule
    if int(current.get("amount") or 0) == 0:
        return s["bonus_paid_before"].format(**facts) + " " + rule
    return s["bonus_paid"].format(**facts) + " " + rule


def other_sentence(kind: str, line: str, plan: Plan | None, fmt: Formatter, amount, settle_row,
                   reason: str | None) -> str:
    """Why a SPIF, adjustment, recovery, draw or carry-forward line is there."""
    s = fmt.sentences
    if kind == "bonus" and plan is not None:
        bonus = next((b for b in plan.bonuses if b.id == line), None)
        if bonus is not None:
            return s["bonus"].format(amount=fmt.amount(bonus.amount), per=s[f"per_{bonus.per}"],
                                     component=title(bonus.component), min=fmt.rate(bonus.min_attainment))
    if kind == "spif" and plan is not None:
        spif = next((p for p in plan.spifs if p.id == line), None)
        if spif is not None:
            window = ""
            if spif.from_ is not None and spif.to is not None:
                window = s["spif_window"].format(start=fmt.date(spif.from_), end=fmt.date(spif.to))
            return s["spif"].format(amount=fmt.amount(spif.per_transaction), window=window)
    if kind == "adjustment":
        return s["adjustment"].format(reason=reason or "")
    if kind == "recovery":
        return s["recovery"].format(amount=fmt.money(-int(amount or 0)))
    net = settle_row.get("net") if settle_row is not None else None
    if kind == "draw":
        floor = settle_row.get("floor") if settle_row is not None else None
        recoverable = plan is None or plan.draw is None or plan.draw.recoverable
        return s["draw"].format(net=fmt.money(net if net is not None else 0),
                                floor=fmt.money(floor if floor is not None else 0),
                                recoverable=s["draw_recoverable"] if recoverable else "")
    if kind == "carry_forward":
        return s["carry_forward"].format(net=fmt.money(net if net is not None else 0))
    return ""
