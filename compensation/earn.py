"""Rules 4 to 6 applied: what each component has earned to date in each attainment period.

`earn_components` resolves each component period's credited value, quota and
attainment, then hands it to its rule family: `tiers.commission`,
`rate_tables.transaction_sums` (tables applied per transaction) or `curves.curve`, then
the accelerator condition, the cap and `incentives.gate_open`. Results are rounded once,
half up, to the cent (rule 10).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from compensation.codes import positions_of
from compensation.curves import curve, curve_targets
from compensation.errors import Problem
from compensation.incentives import accelerator_met, gate_open
from compensation.measure import period_names, period_totals, quotas_for
from compensation.plan import Commission, Component
from compensation.proration import QuotaSplit, splits_quota
from compensation.rate_tables import transaction_sums
from compensation.tiers import commission


def _unknown(n: int) -> pd.arrays.BooleanArray:
    """Missing booleans, n of them, from a mask: pandas reads a list of NA cell by cell."""
    return pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))


def component_earned(rows: pd.DataFrame, comp: Component, targets, credits: pd.DataFrame | None = None,
                     rule: Commission | None = None) -> np.ndarray:
    """Earned-to-date cents of one component's rows, before gates; caps per attainment period.

    `rule` replaces the component's commission (an accelerator's fallback table); `credits`
    are the component's credit rows, for a table applied per transaction.
    """
    credited = rows["credited"].to_numpy(dtype=np.int64)
    quota = rows["quota"].to_numpy(dtype=float)
    rule = rule or comp.commission
    if rule is not None and rule.per == "transaction":
        earned = transaction_sums(rows, credits, rule)
    elif rule is not None:
        earned = commission(credited, quota, rule)
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
    # Each row's total (keys are unique in totals), in int64 cents: a float would lose the cents of 10^15.
    found = positions_of(rows, totals, ["rep_id", "line", "attainment_period"])
    rows["credited"] = np.append(totals["credited"].to_numpy(dtype=np.int64), 0)[found]  # -1 (none): 0
    quota_key = np.empty(len(rows), dtype=object)
    needs = np.zeros(len(rows), dtype=bool)
    groups = _plan_lines(rows)
    for (plan_id, line), at in groups.items():
        quota_key[at] = plans[plan_id].component(line).quota_key
        needs[at] = plans[plan_id].needs_quota(line)
    rows["quota_key"] = quota_key
    rows["quota"] = quotas_for(rows, quotas, window.calendar)
    split_quotas(rows, groups, quotas, assignments, plans, window.calendar)
    rows["attainment"] = np.divide(rows["credited"].to_numpy(float), rows["quota"].to_numpy(float))
    for row in rows[needs & rows["quota"].isna().to_numpy()].itertuples():
        problems.append(Problem.hold(
            "quotas", f"no quota for component '{row.quota_key}' in {row.attainment_period} (plan {row.plan_id}); "
            f"add a row to quotas with rep_id {row.rep_id}, component {row.quota_key}, period {row.attainment_period} "
            "(or a longer period)", rep_id=row.rep_id))
    rows["attainment"] = rows["attainment"].where(rows["quota"].notna())
    rows["earned_to_date"] = np.zeros(len(rows), dtype=np.int64)
    rows["target"] = np.nan  # curve target in cents, for explain and statements
    rows["gate_open"] = _unknown(len(rows))
    for (plan_id, line), at in groups.items():
        group = rows.iloc[at]
        comp = plans[plan_id].component(line)
        targets = curve_targets(group, assignments, plans, window.calendar) if comp.payout_curve else None
        credits = None
        if comp.commission is not None and comp.commission.per == "transaction":
            credits, found = line_credits(comp_credits, comp, window.calendar)
            problems += found
        earned = component_earned(group, comp, targets, credits)
        if targets is not None:
            rows.loc[group.index, "target"] = targets[0]
        if comp.accelerator_component is not None:
            gating = plans[plan_id].component(comp.accelerator_component)
            met = accelerator_met(group, comp, rows, gating, window.calendar, window.run_month)
            if "accelerator_met" not in rows:
                rows["accelerator_met"] = _unknown(len(rows))
            rows.loc[group.index, "accelerator_met"] = met
            fallback = component_earned(group, comp, targets, credits, comp.commission.decelerated())
            earned = np.where(met, earned, fallback)
        if comp.gate is not None:
            gating = plans[plan_id].component(comp.gate.component)
            is_open = gate_open(group, comp, rows, gating, window.calendar, window.run_month)
            rows.loc[group.index, "gate_open"] = is_open
            earned = np.where(is_open, earned, 0)
        rows.loc[group.index, "earned_to_date"] = earned
    return rows.drop(columns=["quota_key"]), problems


def _plan_lines(rows: pd.DataFrame) -> dict[tuple, np.ndarray]:
    """Row positions of each (plan_id, line), in order of first appearance, as a groupby iterates them.

    Keys are matched as integer codes; a row with a missing key belongs to no group.
    """
    plan_codes, plan_ids = pd.factorize(rows["plan_id"].to_numpy(dtype=object))
    line_codes, line_ids = pd.factorize(rows["line"].to_numpy(dtype=object))
    size = len(line_ids) + 1
    keyed = np.where((plan_codes >= 0) & (line_codes >= 0), plan_codes * size + line_codes, -1)
    group_of, keys = pd.factorize(keyed)
    return {(plan_ids[k // size], line_ids[k % size]): np.flatnonzero(group_of == g)
            for g, k in enumerate(keys) if k >= 0}


def split_quotas(rows, groups, quotas, assignments, plans, calendar) -> None:
    """Quotas of components with seasonal weights or proration (issue 16), in place.

    `quota_share` keeps, for explain, the share of the period's quota the rep's presence kept.
    """
    for (plan_id, line), at in groups.items():
        comp = plans[plan_id].component(line)
        if not splits_quota(comp):
            continue
        split = QuotaSplit.of(comp, assignments, plans, calendar)
        part = rows.iloc[at]
        rows.loc[part.index, "quota"] = quotas_for(part, quotas, calendar, share=split.share)
        if comp.quota_proration != "none":
            if "quota_share" not in rows:
                rows["quota_share"] = pd.Series([None] * len(rows), dtype=object)
            rows.loc[part.index, "quota_share"] = pd.Series(
                [str(split.presence(rep, *calendar.bounds(period)))
                 for rep, period in zip(part["rep_id"], part["attainment_period"], strict=True)],
                index=part.index, dtype=object)


def line_credits(comp_credits: pd.DataFrame, comp: Component, calendar) -> tuple[pd.DataFrame, list[Problem]]:
    """The component's credit rows with their attainment period; a band_by cell that is not a number holds."""
    credits = comp_credits[comp_credits["line"].to_numpy() == comp.id]
    credits = credits.assign(attainment_period=period_names(calendar, comp.attainment_period,
                                                            credits["month"].to_numpy()))
    problems = []
    if comp.commission.band_by is not None:
        for row in credits[credits["band"].isna()].drop_duplicates(["txn_id", "rep_id"]).itertuples():
            problems.append(Problem.hold(
                "transactions", f"'{comp.commission.band_by}' is not a number, and it chooses the band of "
                f"component '{comp.id}'; fill in the column", txn_id=row.txn_id, rep_id=row.rep_id))
    return credits, problems
