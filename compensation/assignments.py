"""Plan assignments: the effective-dated `reps` rows joined to their plans.

An assignment is one `reps` row: a rep on a plan from `start` to `end` (inclusive), with
its target incentive and manager. Transactions credit the assignment whose range contains
their date (rule 1); curve targets sum the prorated targets of every assignment in a
period (rule 5); a draw counts payout periods from the start of a run of rows on the
same plan (rule 9).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from compensation.errors import Problem
from compensation.plan import Plan

OPEN_END = pd.Timestamp("2262-04-01")


def build_assignments(reps: pd.DataFrame, plans: Mapping[str, Plan]) -> tuple[pd.DataFrame, list[Problem]]:
    """One row per valid reps row: rep_id, plan_id, start, end, target_incentive, manager_id, ...

    `span_start` is the first day of the unbroken run of rows on the same plan id, so a
    target or manager change does not restart a draw but a plan change does.
    """
    problems: list[Problem] = []
    known = reps["plan"].isin(list(plans))
    for row in reps[~known].itertuples():
        problems.append(Problem.hold(
            "reps", f"plan '{row.plan}' does not exist; plans are: {', '.join(sorted(plans)) or 'none'}",
            row=row.row, rep_id=row.rep_id))
    a = reps[known].copy()
    a = a.rename(columns={"plan": "plan_id", "start_date": "start", "end_date": "end"})
    a["end"] = a["end"].fillna(OPEN_END)
    plan_ti = a["plan_id"].map({pid: float(p.target_incentive) if p.target_incentive is not None else np.nan
                                for pid, p in plans.items()})
    ti = a["target_incentive"] if "target_incentive" in a else pd.Series(np.nan, index=a.index)
    a["target_incentive"] = ti.fillna(plan_ti)
    a["currency"] = a["plan_id"].map({pid: p.currency for pid, p in plans.items()})
    a = a.sort_values(["rep_id", "start"], kind="stable").reset_index(drop=True)
    new_span = (a["rep_id"] != a["rep_id"].shift()) | (a["plan_id"] != a["plan_id"].shift()) | (
        a["start"] != a["end"].shift() + pd.Timedelta(days=1))
    a["span_start"] = a["start"].where(new_span).ffill()
    a["assignment"] = np.arange(len(a))
    return a, problems


def assign_by_date(lines: pd.DataFrame, assignments: pd.DataFrame, rep_col: str = "rep_id",
                   columns: tuple[str, ...] = ("assignment", "plan_id")) -> pd.DataFrame:
    """Inner-join lines to the assignment of `rep_col` whose date range contains `date`.

    Rows with no such assignment are dropped; the caller reports them.
    """
    keep = ["rep_id", "start", "end", *columns]
    right = assignments[keep].rename(columns={"rep_id": rep_col})
    merged = lines.merge(right, on=rep_col, how="inner", sort=False)
    in_range = (merged["start"] <= merged["date"]) & (merged["date"] <= merged["end"])
    return merged[in_range].drop(columns=["start", "end"])


def current_assignments(assignments: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each rep's latest assignment starting on or before `as_of` (their plan now, or last)."""
    started = assignments[assignments["start"] <= as_of]
    return started.sort_values(["rep_id", "start"]).groupby("rep_id", sort=True).tail(1).set_index("rep_id")
