"""Pay drawn attainment through a plan: tiers, curves, caps, gates, bonuses and SPIFs.

Everything is vectorised over draws x reps. Input is what each rep is credited per
component and sub-period (cents); output is the year's earned cents per line, as the
December run of that year would hold them (payment timing does not change cost).

Two paths share one layout. The exact path (`exact=True`, integer credited cents) calls
the engine's own functions, `tiers.commission` and `curves.curve`, and so pays a single
draw to the cent as `icm run` would. The float path, for the Monte Carlo, calls
`curves.curve_value` and evaluates tiers in float without the engine's Decimal tie
settling (which would cost a Python call per half-cent tie); tests pin it to the exact
path within a cent per line period.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from compensation.curves import PERIOD_SHARE, curve, curve_value
from compensation.measure import where_mask
from compensation.money import to_decimal
from compensation.periods import Calendar
from compensation.plan import Component, Plan
from compensation.tiers import commission, commission_unrounded
from modelling.population import PERIODS, Population, period_names


def sub_periods(plan: Plan) -> dict[str, int]:
    """Per component, how finely its credit is drawn: its own period or its bonuses', whichever is finer."""
    k = {c.id: PERIODS[c.attainment_period] for c in plan.components}
    for b in plan.bonuses:
        k[b.component] = max(k[b.component], PERIODS[b.per])
    return k


@dataclass(frozen=True)
class SpifModel:
    """A SPIF's count: matching transactions among the ones making up a component's total."""

    component: str
    deal: float  # mean credited cents per transaction of the component (the role's history)
    p: float  # chance that one of them matches the SPIF (where, and the window within the year)
    share: float  # mean credit share of the matching ones

    def expected(self, credited: np.ndarray) -> np.ndarray:
        if self.deal <= 0:
            return np.zeros(credited.shape)
        return np.maximum(credited, 0) / self.deal * self.p * self.share

    def draw(self, rng: np.random.Generator, credited: np.ndarray) -> np.ndarray:
        """Resampling the role's transactions to the drawn total: Binomial(total / mean deal, p) x share."""
        if self.deal <= 0 or self.p <= 0:
            return np.zeros(credited.shape)
        n = np.rint(np.maximum(credited, 0) / self.deal).astype(np.int64)
        return rng.binomial(n, self.p) * self.share


def spif_models(plan: Plan, credits: pd.DataFrame | None, calendar: Calendar, year: int) -> dict[str, SpifModel]:
    """Per SPIF: the component whose transactions it counts, and the role's historical rates."""
    out = {}
    first, last = (pd.Timestamp(d) for d in calendar.day_bounds(f"{year:04d}"))
    for spif in plan.spifs:
        comp = related_component(plan, spif.where)
        lo = max(first, pd.Timestamp(spif.from_)) if spif.from_ else first
        hi = min(last, pd.Timestamp(spif.to)) if spif.to else last
        window = max(0, (hi - lo).days + 1) / ((last - first).days + 1)
        mine = pd.DataFrame() if credits is None else credits[
            (credits["line"] == comp.id) & credits["via_rep_id"].isna() & (credits["credited"] > 0)]
        if mine.empty:
            out[spif.id] = SpifModel(comp.id, 0.0, 0.0, 1.0)
            continue
        hit = where_mask(mine, spif.where)
        share = float(mine.loc[hit, "share"].mean()) if hit.any() else 1.0
        out[spif.id] = SpifModel(comp.id, float(mine["credited"].mean()), float(hit.mean()) * window, share)
    return out


def related_component(plan: Plan, where: dict) -> Component:
    """The first direct component whose `where` admits every transaction the SPIF's `where` does."""
    for comp in plan.components:
        w = comp.measure.where
        if comp.measure.credit == "direct" and all(k in where and set(where[k]) <= set(v) for k, v in w.items()):
            return comp
    return plan.components[0]


@dataclass(frozen=True)
class Priced:
    """Year earned cents per line, and each component's year credited and attainment: (draws, reps)."""

    lines: dict[str, np.ndarray]
    credited: dict[str, np.ndarray]
    attainment: dict[str, np.ndarray]

    def total(self) -> np.ndarray:
        values = list(self.lines.values())
        out = values[0].copy()
        for v in values[1:]:
            out += v
        return out


def price(plan: Plan, pop: Population, credited: dict[str, np.ndarray], spif_counts: dict[str, np.ndarray],
          calendar: Calendar, exact: bool = False) -> Priced:
    """Earned cents per line for credited (draws, reps, K) per component, K from `sub_periods`."""
    lines: dict[str, np.ndarray] = {}
    period_att: dict[str, np.ndarray] = {}
    year_cr, year_att = {}, {}
    folded = {}
    for comp in plan.components:
        cr = folded[comp.id] = _fold(credited[comp.id], PERIODS[comp.attainment_period])
        if any(c.gate and c.gate.component == comp.id for c in plan.components):
            period_att[comp.id] = np.divide(cr, pop.quota(comp.quota_key, comp.attainment_period)[None])
        year_cr[comp.id] = cr.sum(axis=2)
        year_att[comp.id] = year_cr[comp.id] / pop.quota(comp.quota_key, "year")[None, :, 0]
    for comp in plan.components:
        cr = folded[comp.id]
        q = np.broadcast_to(pop.quota(comp.quota_key, comp.attainment_period)[None], cr.shape)
        earned = _earn(comp, cr, q, pop, calendar, exact)
        if comp.cap is not None:
            earned = np.minimum(earned, float(int(comp.cap * 100)))
        if comp.gate is not None:
            earned = earned * _gate_open(plan, comp, period_att)
        lines[comp.id] = earned.sum(axis=2)
    for bonus in plan.bonuses:
        comp = plan.component(bonus.component)
        cr = _fold(credited[comp.id], PERIODS[bonus.per])
        if exact:
            cr = cr.astype(np.int64)
        att = np.divide(cr.astype(float), pop.quota(comp.quota_key, bonus.per)[None])
        reached = att >= float(bonus.min_attainment)  # NaN (no quota) never reaches
        lines[bonus.id] = reached.sum(axis=2) * float(int(bonus.amount * 100))
    for spif in plan.spifs:
        lines[spif.id] = spif_counts[spif.id] * float(spif.per_transaction * 100)
    return Priced(lines, year_cr, year_att)


def _fold(values: np.ndarray, n: int) -> np.ndarray:
    """(draws, reps, K) -> (draws, reps, n) by summing consecutive sub-periods."""
    d, r, k = values.shape
    return values if k == n else values.reshape(d, r, n, k // n).sum(axis=3)


def _earn(comp: Component, cr: np.ndarray, q: np.ndarray, pop: Population, calendar: Calendar,
          exact: bool) -> np.ndarray:
    n = cr.shape[2]
    if comp.commission is not None:
        rule = comp.commission
        if exact or rule.pays_amounts or rule.method == "hybrid":  # tables the float path does not cover
            flat = commission(np.rint(cr).ravel().astype(np.int64), q.ravel(), rule)
            return flat.reshape(cr.shape).astype(float)
        return _half_up(commission_unrounded(np.rint(cr).ravel(), q.ravel(), rule)).reshape(cr.shape)
    rule = comp.payout_curve
    names = period_names(calendar, pop.year, comp.attainment_period)
    days = [(lambda b: ((b[1] - b[0]).days + 1))(calendar.day_bounds(p)) for p in names]
    share = PERIOD_SHARE[comp.attainment_period]
    target = np.broadcast_to((pop.target * float(rule.weight) * float(share) * 100)[None, :, None], cr.shape)
    if not exact:
        return _half_up(target * curve_value(np.divide(cr, q), rule))
    d, r, _ = cr.shape
    exact_ti = [to_decimal(float(t)) * rule.weight * share for t in pop.target]

    def exact_target(i: int) -> Decimal:
        rep, period = (i // n) % r, i % n
        return exact_ti[rep] * days[period] / days[period]

    flat = curve(cr.ravel().astype(np.int64), q.ravel(), target.ravel(), rule, exact_target)
    return flat.reshape(cr.shape).astype(float)


def _gate_open(plan: Plan, comp: Component, period_att: dict[str, np.ndarray]) -> np.ndarray:
    """Rule 6 at the year's end: the gating component's attainment in its period holding each gated period's end."""
    gating = plan.component(comp.gate.component)
    n, g = PERIODS[comp.attainment_period], PERIODS[gating.attainment_period]
    ends = (np.arange(n) + 1) * (12 // n) - 1
    att = period_att[gating.id][:, :, ends // (12 // g)]
    return att >= float(comp.gate.min_attainment)  # NaN (no quota) keeps the gate shut


def _half_up(cents: np.ndarray) -> np.ndarray:
    """Half up to the cent; a negative amount (a net cancellation) away from zero."""
    out = np.floor(cents + 0.5)
    negative = cents < 0
    if negative.any():
        out[negative] = -np.floor(-cents[negative] + 0.5)
    return out
