"""Who a candidate plan pays: the workspace's reps of its role, or synthetic reps.

A rep's role is the plan of their assignment. Each modelled rep has a target incentive
and, per quota key, the quota of every month, quarter and year of the modelled fiscal
year, resolved with the engine's own `quotas_for` (rows of the period, rows inside it,
or a longer period split evenly), so a modelled rep meets the quotas a run would use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from compensation.assignments import build_assignments
from compensation.measure import quotas_for
from compensation.periods import Calendar, month_first_day, month_last_day
from compensation.plan import Plan

PERIODS = {"year": 1, "quarter": 4, "month": 12}


@dataclass(frozen=True)
class Population:
    """Modelled reps of one role; quotas in float cents per (quota key, period kind)."""

    role: str
    rep_ids: np.ndarray
    target: np.ndarray  # target incentive per rep, currency units
    quotas: dict[tuple[str, str], np.ndarray]  # (quota key, kind) -> (reps, periods of the kind)
    year: int
    notes: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.rep_ids)

    def quota(self, key: str, kind: str) -> np.ndarray:
        return self.quotas[(key, kind)]


def period_names(calendar: Calendar, year: int, kind: str) -> list[str]:
    """The fiscal year's periods of a kind, in order."""
    first = calendar.fiscal_year_first_month(year)
    return list(dict.fromkeys(calendar.period_of(kind, m) for m in range(first, first + 12)))


def quota_free(plan: Plan) -> frozenset[str]:
    """Components whose pay needs no quota (no attainment tiers, curve, gate or bonus on them)."""
    return frozenset(c.id for c in plan.components if not plan.needs_quota(c.id))


def quota_keys(plan: Plan) -> list[str]:
    """The plan's quota keys, in component order."""
    return list(dict.fromkeys(c.quota_key for c in plan.components))


def from_workspace(plan: Plan, role: str, reps: pd.DataFrame, quotas: pd.DataFrame, plans: dict[str, Plan],
                   calendar: Calendar, year: int, baseline: pd.Series | None = None) -> Population:
    """The reps on `role` at the fiscal year's end, each modelled for the whole year.

    Reps without a quota for a component whose pay needs one are left out (and said so).
    A component paid without a quota is measured against `baseline` (yearly credited
    cents per (rep_id, quota key), from history) instead, split evenly over months.
    """
    assignments, _ = build_assignments(reps, plans)
    last = pd.Timestamp(month_last_day(calendar.fiscal_year_first_month(year) + 11))
    first = pd.Timestamp(month_first_day(calendar.fiscal_year_first_month(year)))
    live = assignments[(assignments["start"] <= last) & (assignments["end"] >= first)]
    latest = live.sort_values(["rep_id", "start"]).groupby("rep_id").tail(1)
    mine = latest[(latest["plan_id"] == role) & (latest["end"] >= last)]
    rep_ids = mine["rep_id"].to_numpy(dtype=object)
    target = mine["target_incentive"].fillna(float(plan.target_incentive or 0)).to_numpy(dtype=float)
    table = {}
    for key in quota_keys(plan):
        for kind, n in PERIODS.items():
            names = period_names(calendar, year, kind)
            req = pd.DataFrame({"rep_id": np.repeat(rep_ids, n), "quota_key": key,
                                "attainment_period": np.tile(names, len(rep_ids))})
            found = quotas_for(req, quotas, calendar).reshape(len(rep_ids), n)
            if baseline is not None and not any(c.quota_key == key and plan.needs_quota(c.id) for c in plan.components):
                base = baseline.reindex(pd.MultiIndex.from_arrays([rep_ids, np.full(len(rep_ids), key)]))
                found = np.where(np.isnan(found), base.to_numpy(dtype=float)[:, None] / n, found)
            table[(key, kind)] = found
    needed = {c.quota_key for c in plan.components if plan.needs_quota(c.id)}
    missing = np.zeros(len(rep_ids), dtype=bool)
    for key in needed:
        missing |= np.isnan(table[(key, "year")]).any(axis=1)
    notes = ()
    if missing.any():
        notes = (f"{int(missing.sum())} {role} reps have no {year} quota for "
                 f"{', '.join(sorted(needed))} and are left out: {', '.join(rep_ids[missing][:8])}",)
    keep = ~missing
    return Population(role, rep_ids[keep], target[keep], {k: v[keep] for k, v in table.items()}, year, notes)


def synthetic(plan: Plan, role: str, count: int, target_incentive: float, yearly: dict[str, float],
              year: int) -> Population:
    """`count` identical reps: each quota key's yearly amount split evenly over months."""
    rep_ids = np.array([f"{role}-{i + 1:05d}" for i in range(count)], dtype=object)
    table = {}
    for key in quota_keys(plan):
        cents = float(yearly[key]) * 100 if key in yearly else np.nan
        for kind, n in PERIODS.items():
            table[(key, kind)] = np.full((count, n), cents / n)
    return Population(role, rep_ids, np.full(count, float(target_incentive)), table, year)
