"""Rules 6 and 7: gates, bonuses and SPIFs.

A gate zeroes a component's earnings until another component's attainment reaches a
bar; a bonus pays a fixed amount once a component's attainment reaches its bar in each
`per` period; a SPIF pays a fixed amount per matching credited transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import pandas as pd

from compensation.errors import Problem
from compensation.measure import period_names, period_totals, quotas_for, where_at
from compensation.money import product_cents, to_decimal
from compensation.periods import Calendar
from compensation.plan import Component, Plan
from compensation.proration import QuotaSplit, splits_quota


def gate_open(rows: pd.DataFrame, comp: Component, attainments: pd.DataFrame, gating: Component,
              calendar: Calendar, run_month: int) -> np.ndarray:
    """Rule 6: whether each gated row's gate is open.

    The gating component's attainment to date, in its period containing the end of the
    gated period (or the run month, if earlier), must reach `min_attainment`.
    """
    ends_of = {p: min(calendar.bounds(p)[1], run_month) for p in rows["attainment_period"].unique()}
    ends = rows["attainment_period"].map(ends_of).to_numpy()
    gating_periods = calendar.periods_of(gating.attainment_period, ends)
    lookup = attainments.set_index(["rep_id", "line", "attainment_period"])["attainment"]
    keys = pd.MultiIndex.from_arrays([rows["rep_id"].to_numpy(), np.full(len(rows), gating.id), gating_periods])
    att = lookup.reindex(keys).to_numpy(dtype=float) if len(lookup) else np.full(len(rows), np.nan)
    return np.nan_to_num(att, nan=-np.inf) >= float(comp.gate.min_attainment)


def accelerator_met(rows: pd.DataFrame, comp: Component, attainments: pd.DataFrame, gating: Component,
                    calendar: Calendar, run_month: int) -> np.ndarray:
    """Issue 16: whether each row's accelerator condition holds (its tiers above the threshold pay).

    Judged as of the end of the row's attainment period, or the run month if earlier: the
    gating component's attainment in its period containing that month, or year to date
    (credit and quota summed over its attainment periods of the fiscal year begun by then).
    """
    acc = comp.commission.accelerator
    keys = list(zip(attainments["rep_id"], attainments["line"], attainments["attainment_period"], strict=True))
    credited = dict(zip(keys, attainments["credited"].to_numpy(), strict=True))
    quota = dict(zip(keys, attainments["quota"].to_numpy(dtype=float), strict=True))
    out = np.zeros(len(rows), dtype=bool)
    for i, (rep_id, period) in enumerate(zip(rows["rep_id"], rows["attainment_period"], strict=True)):
        end = min(calendar.bounds(period)[1], run_month)
        if acc.over == "period":
            names = [calendar.period_of(gating.attainment_period, end)]
        else:
            names = calendar.periods_begun(gating.attainment_period, end)
        keys = [(rep_id, gating.id, name) for name in names]
        c = sum(int(credited.get(k, 0)) for k in keys)
        q = [quota.get(k, 0.0) for k in keys]
        total = sum(to_decimal(float(x)) for x in q) if all(x == x for x in q) else None
        out[i] = bool(total) and Decimal(c) >= acc.min_attainment * total
    return out


def bonus_attainment(comp_credits: pd.DataFrame, quotas: pd.DataFrame, requests: pd.DataFrame,
                     component: Component, per: str, calendar: Calendar, share=None,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Credited, quota and attainment of a component over each bonus `per` period in `requests`.

    `share` splits the component's quotas as its seasonal weights and proration say.
    """
    totals = period_totals(comp_credits[comp_credits["line"] == component.id], {component.id: per}, calendar)
    keyed = totals.set_index(["rep_id", "attainment_period"])["credited"]
    keys = pd.MultiIndex.from_arrays([requests["rep_id"].to_numpy(), requests["attainment_period"].to_numpy()])
    credited = (keyed.reindex(keys).fillna(0).to_numpy(dtype=np.int64) if len(keyed)
                else np.zeros(len(requests), np.int64))
    quota = quotas_for(requests.assign(quota_key=component.quota_key), quotas, calendar, share=share)
    return credited, quota, np.divide(credited.astype(float), quota)


def earn_bonuses(governing, comp_credits, quotas, plans, window, assignments=None):
    """Rule 7: a bonus's amount is earned in each `per` period once the attainment reaches the bar."""
    problems: list[Problem] = []
    rows = governing[governing["kind"] == "bonus"].reset_index(drop=True)
    rows["earned_to_date"] = np.zeros(len(rows), dtype=np.int64)
    for column in ("credited", "quota", "attainment"):  # kept so statements can say why a bonus is 0
        rows[column] = np.nan
    for (plan_id, line), group in rows.groupby(["plan_id", "line"], sort=False):
        plan = plans[plan_id]
        bonus = next(b for b in plan.bonuses if b.id == line)
        component = plan.component(bonus.component)
        share = (QuotaSplit.of(component, assignments, plans, window.calendar).share
                 if assignments is not None and splits_quota(component) else None)
        credited, quota, attainment = bonus_attainment(comp_credits, quotas, group, component, bonus.per,
                                                       window.calendar, share)
        for rep_id, name in group.loc[np.isnan(quota), ["rep_id", "attainment_period"]].itertuples(index=False):
            problems.append(Problem.hold(
                "quotas", f"no quota for component '{component.quota_key}' in {name} (bonus {bonus.id}); "
                f"add a row to quotas for rep_id {rep_id}", rep_id=rep_id))
        reached = np.nan_to_num(attainment, nan=-np.inf) >= float(bonus.min_attainment)
        rows.loc[group.index, "earned_to_date"] = np.where(reached, int(bonus.amount * 100), 0)
        rows.loc[group.index, ["credited", "quota", "attainment"]] = np.column_stack([credited, quota, attainment])
    return rows, problems


def spif_rows(lines: pd.DataFrame, plans: Mapping[str, Plan], calendar: Calendar) -> pd.DataFrame:
    """Rule 7: SPIF earnings per credit line, keyed by fiscal year.

    per_transaction x share for each direct credit line matching a SPIF, minus for a
    credited cancellation; the window is judged on the original's date.
    """
    frames = []
    # Rows are picked as positions and columns taken as arrays: the wide frame is never copied.
    direct = pd.isna(lines["via_rep_id"].to_numpy(dtype=object))
    plan_ids = lines["plan_id"].to_numpy(dtype=object)
    for plan_id, plan in plans.items():
        if not plan.spifs:
            continue
        plan_rows = np.flatnonzero(direct & (plan_ids == plan_id))
        for spif in plan.spifs:
            rows = plan_rows[where_at(lines, plan_rows, spif.where)]
            is_cancel = lines["is_cancel"].to_numpy(dtype=bool)[rows]
            when = np.where(is_cancel, lines["orig_date"].to_numpy()[rows], lines["date"].to_numpy()[rows])
            inside = np.ones(len(rows), dtype=bool)
            if spif.from_:
                inside &= when >= pd.Timestamp(spif.from_).to_datetime64()
            if spif.to:
                inside &= when <= pd.Timestamp(spif.to).to_datetime64()
            rows, is_cancel = rows[inside], is_cancel[inside]
            if not len(rows):
                continue
            sign = np.where(is_cancel, -1.0, 1.0)
            earned = product_cents(np.full(len(rows), float(spif.per_transaction)),
                                   lines["share"].to_numpy(dtype=float)[rows], sign)
            frames.append(pd.DataFrame({
                "rep_id": lines["rep_id"].to_numpy()[rows], "line": spif.id,
                "attainment_period": period_names(calendar, "year", lines["month"].to_numpy()[rows]),
                "earned_to_date": earned, "plan_id": plan_id, "txn_id": lines["txn_id"].to_numpy()[rows],
            }))
    if not frames:
        return pd.DataFrame(columns=["rep_id", "line", "attainment_period", "earned_to_date", "plan_id", "txn_id"])
    return pd.concat(frames, ignore_index=True)


def earn_spifs(governing, sums):
    """Rule 7: SPIF earnings per (rep, SPIF, fiscal year); `sums` are `spif_rows` summed by that key."""
    rows = governing[governing["kind"] == "spif"].reset_index(drop=True)
    rows = rows.merge(sums, on=["rep_id", "line", "attainment_period"], how="outer")
    rows["kind"] = "spif"
    rows["earned_to_date"] = pd.to_numeric(rows["earned_to_date"]).fillna(0).astype("int64")
    return rows
