"""Rules 4 to 6 applied: what each component has earned to date in each attainment period.

`earn_components` resolves each component period's credited value, quota and
attainment, then hands it to its rule family: `tiers.commission` or `curves.curve`, then
the cap and `incentives.gate_open`. Results are rounded once, half up, to the cent (rule 10).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from compensation.curves import curve, curve_targets
from compensation.errors import Problem
from compensation.incentives import gate_open
from compensation.measure import period_totals, quotas_for
from compensation.plan import Component
from compensation.tiers import commission


def component_earned(rows: pd.DataFrame, comp: Component, targets) -> np.ndarray:
    """Earned-to-date cents of one component's rows, before gates; caps per attainment period."""
    credited = rows["credited"].to_numpy(dtype=np.int64)
    quota = rows["quota"].to_numpy(dtype=float)
    if comp.commission is not None:
        earned = commission(credited, quota, comp.commission)
    else:
        approx_target, exact_target = targets
        earned = curve(credited, quota, approx_target, comp.payout_curve, exact_target)
    if comp.cap is not None:
        earned = np.minimum(earned, int(comp.cap * 100))
    return earned


def earn_components(governing, comp_credits, candidates, assignments, quotas, plans, window):
    """Credited, quota, attainment and earned-to-date of every component period; missing quotas hold."""
    problems: list[Problem] = []
    rows = governing[governing["kind"] == "component"].reset_index(drop=True)
    kinds = {c.id: c.attainment_period for p in plans.values() for c in p.components}
    totals = period_totals(comp_credits, kinds, window.calendar)
    rows = rows.merge(totals, on=["rep_id", "line", "attainment_period"], how="left")
    rows["credited"] = rows["credited"].fillna(0).astype("int64")
    quota_key = np.empty(len(rows), dtype=object)
    needs = np.zeros(len(rows), dtype=bool)
    for (plan_id, line), at in rows.groupby(["plan_id", "line"], sort=False).indices.items():
        quota_key[at] = plans[plan_id].component(line).quota_key
        needs[at] = plans[plan_id].needs_quota(line)
    rows["quota_key"] = quota_key
    rows["quota"] = quotas_for(rows, quotas, window.calendar)
    rows["attainment"] = np.divide(rows["credited"].to_numpy(float), rows["quota"].to_numpy(float))
    for row in rows[needs & rows["quota"].isna().to_numpy()].itertuples():
        problems.append(Problem.hold(
            "quotas", f"no quota for component '{row.quota_key}' in {row.attainment_period} (plan {row.plan_id}); "
            f"add a row to quotas with rep_id {row.rep_id}, component {row.quota_key}, period {row.attainment_period} "
            "(or a longer period)", rep_id=row.rep_id))
    rows["attainment"] = rows["attainment"].where(rows["quota"].notna())
    rows["earned_to_date"] = np.zeros(len(rows), dtype=np.int64)
    rows["target"] = np.nan  # curve target in cents, for explain and statements
    rows["gate_open"] = pd.array([pd.NA] * len(rows), dtype="boolean")
    for (plan_id, line), group in rows.groupby(["plan_id", "line"], sort=False):
        comp = plans[plan_id].component(line)
        targets = curve_targets(group, candidates, assignments, plans, window.calendar) if comp.payout_curve else None
        earned = component_earned(group, comp, targets)
        if targets is not None:
            rows.loc[group.index, "target"] = targets[0]
        if comp.gate is not None:
            gating = plans[plan_id].component(comp.gate.component)
            is_open = gate_open(group, comp, rows, gating, window.calendar, window.run_month)
            rows.loc[group.index, "gate_open"] = is_open
            earned = np.where(is_open, earned, 0)
        rows.loc[group.index, "earned_to_date"] = earned
    return rows.drop(columns=["quota_key"]), problems
