"""The current fiscal year's landing: closed months' actual pay plus Monte Carlo over the open months.

For each plan in force, every rep's credit to date per component and sub-period is
read from the latest closed run; the open part of each sub-period is drawn (level x
quota x the open share of the sub-period x period noise) and the year is priced
through the plan. Landing = paid so far + (modelled year earned - earned already paid).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from compensation import cycle
from compensation.errors import UsageError
from compensation.periods import month_index, month_name
from compensation.prior import prior_state
from compensation.settings import Workspace
from modelling import population as pop_
from modelling.attainment import Assumptions, assumptions_for
from modelling.history import load_history
from modelling.population import quota_free
from modelling.pricing import price, spif_models, sub_periods
from modelling.scenario import Attainment, ModelSpec, Scenario

KINDS = {1: "year", 4: "quarter", 12: "month"}


@dataclass(frozen=True)
class Landing:
    """Forecast cost of the fiscal year (cents)."""

    year: int
    last_closed: str
    paid_to_date: int
    cost: np.ndarray  # per draw: paid to date + what the rest of the year adds

    def quantile(self, q: float) -> float:
        return float(np.quantile(self.cost, q))


def landing(workspace: Workspace | str, *, draws: int = 2000, seed: int = 0,
            scenario: Scenario | None = None) -> Landing:
    """Forecast this fiscal year's cost from its closed months (attainment fitted unless a scenario says)."""
    ws = cycle.open_workspace(workspace)
    history = load_history(ws)
    if history is None:
        raise UsageError("no month is closed yet: the landing starts from closed months")
    last = month_name(history.last_month)
    year, first = history.year, ws.calendar.fiscal_year_first_month(history.year)
    plan_set, inputs, _ = cycle.load(ws)
    run = cycle.committed_run(ws, last).result
    with cycle.open_ledger(ws) as ledger:
        after = month_name(history.last_month + 1)
        closed_rows = ledger.closed_rows(after)
    prior = prior_state(closed_rows, after, ws.calendar)
    st = closed_rows.settlements
    of_year = st["run_id"].map(closed_rows.period_of_run).map(lambda p: ws.calendar.fiscal_year(month_index(p)))
    paid_to_date = int(st.loc[(of_year == year).to_numpy(), "pay"].sum())
    in_year = prior.paid[prior.paid["line"] != "adjustment"]
    in_year = in_year[[ws.calendar.fiscal_year(ws.calendar.bounds(p)[1]) == year
                       for p in in_year["attainment_period"]]]
    scenario = scenario or Scenario(ModelSpec(candidates=({"name": "in force", "plan": "in force"},),
                                              attainment=Attainment(fit="lognormal")), (), "", "landing", None)
    rng = np.random.default_rng(seed)
    closed_months = history.last_month - first + 1
    rest = np.zeros(draws)
    lp = run.line_periods
    for role, plan in plan_set.plans.items():
        pop = pop_.from_workspace(plan, role, inputs.reps, inputs.quotas, plan_set.plans, ws.calendar, year,
                                  baseline=history.baseline(plan))
        if not pop.size:
            continue
        assumptions = assumptions_for(scenario, role, [c.id for c in plan.components], history,
                                      quota_free=quota_free(plan))
        credited = _credited(plan, pop, lp, rng, assumptions, draws, closed_months, ws.calendar, year)
        years = {c: v.sum(axis=2) for c, v in credited.items()}
        spifs = spif_models(plan, history.credits[history.credits["plan_id"] == role], ws.calendar, year)
        counts = {}
        for s in plan.spifs:
            done = lp[(lp["line"] == s.id) & lp["rep_id"].isin(pop.rep_ids)].groupby("rep_id")["earned_to_date"].sum()
            so_far = done.reindex(pop.rep_ids).fillna(0).to_numpy(dtype=float) / float(s.per_transaction * 100)
            rest_of_year = years[spifs[s.id].component] * (12 - closed_months) / 12
            counts[s.id] = so_far[None] + spifs[s.id].draw(rng, rest_of_year)
        earned = price(plan, pop, credited, counts, ws.calendar).total().sum(axis=1)
        already = in_year[in_year["rep_id"].isin(pop.rep_ids)]["amount"].sum()
        rest += earned - float(already)
    return Landing(year, last, paid_to_date, paid_to_date + rest)


def _credited(plan, pop, lp: pd.DataFrame, rng, assumptions: Assumptions, draws: int, closed: int, calendar,
              year: int) -> dict[str, np.ndarray]:
    """Credit per (draw, rep, sub-period): actual to date plus the open share drawn."""
    levels = assumptions.draw_levels(rng, draws, pop.size)
    out = {}
    for comp_id, k in sub_periods(plan).items():
        comp = plan.component(comp_id)
        kind = KINDS[k]
        names = pop_.period_names(calendar, year, kind)
        months = 12 // k
        open_share = np.clip((np.arange(k) + 1) * months - closed, 0, months) / months
        source = comp_id if comp.attainment_period == kind else next(
            (b.id for b in plan.bonuses if b.component == comp_id and b.per == kind), comp_id)
        rows = lp[(lp["line"] == source) & lp["rep_id"].isin(pop.rep_ids)]
        actual = (rows.pivot_table(index="rep_id", columns="attainment_period", values="credited", aggfunc="sum")
                  .reindex(index=pop.rep_ids, columns=names).fillna(0).to_numpy(dtype=float))
        quotas = np.nan_to_num(pop.quota(comp.quota_key, kind))
        drawn = levels[comp_id][..., None] * (quotas * open_share)[None] * assumptions.shares(rng, quotas, draws)
        out[comp_id] = actual[None] + drawn
    return out

