"""Monte Carlo over draws x reps: each candidate's cost distribution and what it pays whom.

Draws are processed in chunks (about a million rep-years each) so memory stays flat;
each chunk draws levels and sub-period shares (`attainment`), credits every rep
level x quota x share, prices it (`pricing`, float path) and keeps the sums. A sample
of rep-level pay (up to `SAMPLE` rep-years) is kept for deciles and charts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from compensation.periods import Calendar
from compensation.plan import Plan
from modelling.attainment import Assumptions
from modelling.population import PERIODS, Population
from modelling.pricing import SpifModel, price, sub_periods

CHUNK = 500_000  # rep-years per chunk
WORKERS = max(1, min(2, os.cpu_count() or 1))  # the machine has two cores
SAMPLE = 200_000  # rep-years kept for deciles and histograms
AT = (0.5, 1.0, 1.5)
CURVE_X = np.round(np.linspace(0.0, 2.0, 41), 4)


@dataclass(frozen=True)
class CandidateResult:
    """One candidate's modelled year; money in cents (float)."""

    name: str
    role: str
    plan: Plan
    reps: int
    draws: int
    cost: np.ndarray  # total cost per draw
    revenue: np.ndarray  # credited value per draw (direct components)
    line_cost: dict[str, float]  # expected cost per line
    above_quota: float  # share of rep-years at or above 100% on the first component
    sample_pay: np.ndarray  # (draws kept, reps) pay per rep-year
    sample_attainment: np.ndarray  # (draws kept, reps) first component's yearly attainment
    pay_at: dict[float, float]  # mean pay per rep with every component at 50/100/150%
    curve: np.ndarray  # mean pay per rep at CURVE_X
    notes: tuple[str, ...] = field(default=())

    def quantile(self, q: float) -> float:
        return float(np.quantile(self.cost, q))

    @property
    def expected(self) -> float:
        return float(self.cost.mean())

    @property
    def cost_of_sales(self) -> float:
        revenue = float(self.revenue.mean())
        return self.expected / revenue if revenue else float("nan")

    @property
    def top_decile_vs_median(self) -> float:
        """Mean pay of the top 10% of rep-years over the median rep-year's pay."""
        pay = np.sort(self.sample_pay.ravel())
        median = float(np.median(pay)) if len(pay) else 0.0
        top = pay[int(len(pay) * 0.9):]
        return float(top.mean()) / median if median > 0 and len(top) else float("nan")


def credit(rng: np.random.Generator, plan: Plan, pop: Population, assumptions: Assumptions,
           draws: int) -> dict[str, np.ndarray]:
    """Credited cents (draws, reps, K) per component: level x yearly quota spread over sub-periods."""
    levels = assumptions.draw_levels(rng, draws, pop.size)
    out = {}
    for comp, k in sub_periods(plan).items():
        c = plan.component(comp)
        kind = {1: "year", 4: "quarter", 12: "month"}[k]
        quotas = np.nan_to_num(pop.quota(c.quota_key, kind))
        out[comp] = levels[comp][..., None] * quotas[None] * assumptions.shares(rng, quotas, draws)
    return out


def simulate(name: str, plan: Plan, pop: Population, assumptions: Assumptions, spifs: dict[str, SpifModel],
             calendar: Calendar, draws: int, seed: int,
             progress: Callable[[int], None] | None = None) -> CandidateResult:
    """`draws` years of the population under `plan`; reproducible for a seed.

    Chunk i draws from its own generator (seed, i), so the result does not depend on how
    many threads priced the chunks (numpy releases the GIL in its loops).
    """
    chunk = max(1, min(draws, CHUNK // max(pop.size, 1)))
    keep = max(1, min(draws, SAMPLE // max(pop.size, 1)))
    first = plan.components[0].id
    direct = [c.id for c in plan.components if c.measure.credit == "direct"]
    starts = list(range(0, draws, chunk))

    def one(i: int) -> tuple:
        d = min(chunk, draws - starts[i])
        rng = np.random.default_rng([seed, i])
        credited = credit(rng, plan, pop, assumptions, d)
        counts = {s.id: spifs[s.id].draw(rng, credited[spifs[s.id].component].sum(axis=2)) for s in plan.spifs}
        priced = price(plan, pop, credited, counts, calendar)
        pay = priced.total()
        room = max(0, keep - starts[i])
        return (d, pay.sum(axis=1), sum((priced.credited[c].sum(axis=1) for c in direct), np.zeros(d)),
                {line: float(v.sum()) for line, v in priced.lines.items()},
                int((priced.attainment[first] >= 1.0).sum()),  # NaN (no quota) is not above
                pay[:room], priced.attainment[first][:room])

    cost, revenue, kept_pay, kept_att = [], [], [], []
    line_sum: dict[str, float] = {}
    above = 0
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for d, c, r, lines, a, p, t in pool.map(one, range(len(starts))):
            cost.append(c)
            revenue.append(r)
            for line, total in lines.items():
                line_sum[line] = line_sum.get(line, 0.0) + total
            above += a
            if len(p):
                kept_pay.append(p)
                kept_att.append(t)
            if progress:
                progress(d)
    at = fixed_attainment(plan, pop, spifs, calendar, np.array(AT + tuple(CURVE_X)))
    return CandidateResult(
        name=name, role=pop.role, plan=plan, reps=pop.size, draws=draws,
        cost=np.concatenate(cost), revenue=np.concatenate(revenue),
        line_cost={line: total / draws for line, total in line_sum.items()},
        above_quota=above / (draws * max(pop.size, 1)),
        sample_pay=np.concatenate(kept_pay), sample_attainment=np.concatenate(kept_att),
        pay_at=dict(zip(AT, at[:len(AT)], strict=True)), curve=at[len(AT):],
        notes=assumptions.notes + pop.notes)


def fixed_attainment(plan: Plan, pop: Population, spifs: dict[str, SpifModel], calendar: Calendar,
                     levels: np.ndarray) -> np.ndarray:
    """Mean pay per rep when every component lands at each level, evenly over the year (expected SPIFs)."""
    if not pop.size:
        return np.zeros(len(levels))
    credited = {}
    for comp, k in sub_periods(plan).items():
        kind = {1: "year", 4: "quarter", 12: "month"}[k]
        quotas = np.nan_to_num(pop.quota(plan.component(comp).quota_key, kind))
        credited[comp] = levels[:, None, None] * quotas[None]
    years = {c: v.sum(axis=2) for c, v in credited.items()}
    counts = {s.id: spifs[s.id].expected(years[spifs[s.id].component]) for s in plan.spifs}
    return price(plan, pop, credited, counts, calendar).total().mean(axis=1)


__all__ = ["AT", "CURVE_X", "PERIODS", "CandidateResult", "credit", "fixed_attainment", "simulate"]
