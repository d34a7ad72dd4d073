"""What the ledger's closed periods say about attainment, for fitting and for SPIF counts.

History is the committed run of the latest closed month: its rule-8 line periods
(credited, quota and attainment of every period of that fiscal year to date) and its
credited transactions. A period still running counts pro rata (`elapsed`: the share of
its months closed); period-to-period spread is read from completed periods only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from compensation import cycle
from compensation.periods import month_index
from compensation.settings import Workspace


@dataclass(frozen=True)
class History:
    """Completed periods of the latest fiscal year with closed months."""

    year: int
    last_month: int  # month index of the latest closed month
    periods: pd.DataFrame  # rep_id, plan_id, line, kind, attainment_period, credited, quota, attainment, elapsed
    credits: pd.DataFrame  # credited transactions of the year to date (the run's `credits`)
    plans: dict
    months_closed: int = 12

    def levels(self, role: str) -> pd.DataFrame:
        """Per rep of the role (rows) and component (columns): credited / quota over the year to date.

        A period still running counts with the part of its quota for its closed months.
        """
        rows = self.periods[(self.periods["plan_id"] == role) & (self.periods["kind"] == "component")
                            & (self.periods["quota"] > 0)]
        if rows.empty:
            return pd.DataFrame()
        sums = rows.assign(due=rows["quota"] * rows["elapsed"]).groupby(["rep_id", "line"])[["credited", "due"]].sum()
        return (sums["credited"] / sums["due"]).unstack("line")

    def baseline(self, plan) -> pd.Series:
        """Yearly credited cents per (rep_id, quota key) of the plan's components, annualised from the closed months."""
        keys = {c.id: c.quota_key for c in plan.components}
        rows = self.periods[(self.periods["kind"] == "component") & self.periods["line"].isin(list(keys))]
        sums = rows.assign(key=rows["line"].map(keys)).groupby(["rep_id", "key"])["credited"].sum()
        return sums * (12 / max(self.months_closed, 1))

    def period_spread(self, role: str) -> float | None:
        """Std of log(period attainment / the rep's level): quarters of components and bonuses."""
        plan = self.plans.get(role)
        if plan is None:
            return None
        levels = self.levels(role)
        if levels.empty:
            return None
        on = {b.id: b.component for b in plan.bonuses}
        on.update({c.id: c.id for c in plan.components if c.attainment_period != "year"})
        rows = self.periods[(self.periods["plan_id"] == role) & self.periods["line"].isin(list(on))]
        rows = rows[(rows["quota"] > 0) & (rows["elapsed"] == 1.0)]
        if rows.empty:
            return None
        comp = rows["line"].map(on)
        stacked = levels.stack()
        level = stacked.reindex(pd.MultiIndex.from_arrays([rows["rep_id"], comp])).to_numpy(dtype=float)
        ratio = rows["attainment"].to_numpy(dtype=float) / level
        ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
        return float(np.log(ratio).std(ddof=1)) if len(ratio) >= 3 else None


def load_history(ws: Workspace) -> History | None:
    """History from the latest closed month, or None when no month is closed."""
    with cycle.open_ledger(ws) as ledger:
        if not ledger.exists():
            return None
        closed = [r.period for r in ledger.runs() if r.status == "closed"]
    if not closed:
        return None
    last = max(closed, key=month_index)
    run = cycle.committed_run(ws, last).result
    last_month = month_index(last)
    lp = run.line_periods
    lp = lp[lp["kind"].isin(["component", "bonus", "spif"])].copy()
    plan_of = run.register.drop_duplicates("rep_id").set_index("rep_id")["plan_id"]
    lp["plan_id"] = lp["rep_id"].map(plan_of)
    bounds = {p: ws.calendar.bounds(p) for p in lp["attainment_period"].dropna().unique()}
    elapsed = {p: min(1.0, max(0.0, (last_month - first + 1) / (last - first + 1)))
               for p, (first, last) in bounds.items()}
    lp["elapsed"] = lp["attainment_period"].map(elapsed).fillna(0.0)
    cols = ["rep_id", "plan_id", "line", "kind", "attainment_period", "credited", "quota", "attainment", "elapsed"]
    periods = lp.loc[(lp["elapsed"] > 0).to_numpy(bool), cols].reset_index(drop=True)
    for c in ("credited", "quota", "attainment"):
        periods[c] = pd.to_numeric(periods[c], errors="coerce").astype(float)
    year = ws.calendar.fiscal_year(last_month)
    closed = last_month - ws.calendar.fiscal_year_first_month(year) + 1
    return History(year, last_month, periods, run.credits, dict(run.plans), closed)
