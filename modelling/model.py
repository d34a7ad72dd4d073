"""`model`: a scenario file in, every candidate's modelled year out (what `icm model` shows).

Loads the workspace's plans and tables and the ledger's history, builds each candidate's
population and assumptions, and runs the Monte Carlo. Prints nothing; writes nothing
(`modelling.outputs` does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from compensation import cycle
from compensation.errors import IcmError, Located
from compensation.settings import Workspace
from modelling import population as pop_
from modelling.attainment import assumptions_for
from modelling.history import History, load_history
from modelling.montecarlo import CandidateResult, simulate
from modelling.population import quota_free
from modelling.pricing import spif_models
from modelling.scenario import CandidatePlan, Scenario, load_scenario


@dataclass(frozen=True)
class ModelResult:
    """Every candidate of a scenario, in scenario order."""

    scenario: Scenario
    year: int
    candidates: tuple[CandidateResult, ...]
    root: Path  # the workspace folder

    def summary(self) -> pd.DataFrame:
        """One row per candidate: the figures of the comparison table (currency units)."""
        rows = []
        for c in self.candidates:
            rows.append({
                "candidate": c.name, "plan": c.plan.id, "role": c.role, "reps": c.reps, "draws": c.draws,
                "expected_cost": c.expected / 100, "p10": c.quantile(0.1) / 100, "p50": c.quantile(0.5) / 100,
                "p90": c.quantile(0.9) / 100, "cost_of_sales": c.cost_of_sales,
                "pay_at_50": c.pay_at[0.5] / 100, "pay_at_100": c.pay_at[1.0] / 100,
                "pay_at_150": c.pay_at[1.5] / 100, "share_above_quota": c.above_quota,
                "top_decile_vs_median": c.top_decile_vs_median,
            })
        return pd.DataFrame(rows)


def run_model(workspace: Workspace | Path | str, scenario_path: Path | str, *, draws: int | None = None,
              seed: int | None = None, progress: Callable[[int, int], None] | None = None) -> ModelResult:
    """Model every candidate of a scenario; `draws`/`seed` override the file's.

    `progress(draws_done, draws_in_all)` is told after each chunk of draws.
    """
    ws = cycle.open_workspace(workspace)
    plan_set, inputs, _ = cycle.load(ws)
    scenario = load_scenario(scenario_path, ws, plan_set.plans)
    spec = scenario.spec
    history = load_history(ws)
    year = spec.year or _default_year(ws, inputs.quotas, history)
    n = draws or spec.draws
    results = []
    tell = (lambda done: progress(done, n * len(scenario.candidates))) if progress else None
    for i, cand in enumerate(scenario.candidates):
        pop = population(scenario, i, cand, ws, plan_set.plans, inputs, year, history)
        assumptions = assumptions_for(scenario, cand.role, [c.id for c in cand.plan.components], history,
                                      quota_free=quota_free(cand.plan))
        credits = history.credits[history.credits["plan_id"] == cand.role] if history is not None else None
        spifs = spif_models(cand.plan, credits, ws.calendar, year)
        results.append(simulate(cand.name, cand.plan, pop, assumptions, spifs, ws.calendar, n,
                                (seed if seed is not None else spec.seed) + 7919 * i, tell))
    return ModelResult(scenario, year, tuple(results), ws.root)


def population(scenario: Scenario, index: int, cand: CandidatePlan, ws: Workspace, plans, inputs, year: int,
               history: History | None) -> pop_.Population:
    """The candidate's reps: the workspace's reps of its role, or the synthetic group of its role."""
    spec = scenario.spec
    if spec.population == "workspace":
        pop = pop_.from_workspace(cand.plan, cand.role, inputs.reps, inputs.quotas, plans, ws.calendar, year,
                                  baseline=history.baseline(cand.plan) if history is not None else None)
        if not pop.size:
            raise IcmError(Located(
                f"candidate '{cand.name}': no rep is on plan '{cand.role}' at the end of {year} with the quotas "
                "it needs; set role: to a plan reps are on, or use a synthetic population",
                scenario.source, scenario.line_of("candidates", index)))
        return pop
    group = next((g for g in spec.population.synthetic if g.role == cand.role), None)
    if group is None:
        raise IcmError(Located(
            f"candidate '{cand.name}' pays role '{cand.role}', which the synthetic population does not have; "
            f"add {{role: {cand.role}, count: 40, target_incentive: 60000, quotas: {{...}}}}",
            scenario.source, scenario.line_of("population")))
    needed = {c.quota_key for c in cand.plan.components if cand.plan.needs_quota(c.id)}
    lacking = sorted(needed - set(group.quotas))
    if lacking:
        raise IcmError(Located(
            f"synthetic role '{cand.role}' needs a yearly quota for {', '.join(lacking)} (candidate '{cand.name}')",
            scenario.source, scenario.line_of("population")))
    return pop_.synthetic(cand.plan, cand.role, group.count, float(group.target_incentive),
                          {k: float(v) for k, v in group.quotas.items()}, year)


def _default_year(ws: Workspace, quotas: pd.DataFrame, history: History | None) -> int:
    """The latest fiscal year the quotas table covers, else the history's, else the current one."""
    if len(quotas):
        return max(ws.calendar.fiscal_year(ws.calendar.bounds(p)[1]) for p in quotas["period"].unique())
    if history is not None:
        return history.year
    return pd.Timestamp.today().year
