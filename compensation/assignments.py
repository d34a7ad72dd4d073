"""Plan assignments: the effective-dated `reps` rows joined to their plans.

An assignment is one `reps` row: a rep on a plan from `start` to `end` (inclusive), with
its target incentive and manager. Transactions credit the assignment whose range contains
their date (rule 1); curve targets sum the prorated targets of every assignment in a
period (rule 5); a draw counts payout periods from the start of a run of rows on the
same plan (rule 9).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from compensation.codes import object_codes
from compensation.errors import Problem
from compensation.plan import Plan

OPEN_END = pd.Timestamp("2262-04-01")


def plan_values(plan_ids, plans: Mapping[str, Plan], value: Callable[[Plan], Any]) -> pd.Series:
    """`value(plan)` for each plan id (one call per plan, not per row); NaN for unknown ids."""
    return pd.Series(plan_ids).map({pid: value(p) for pid, p in plans.items()})


def rep_date_order(rep_ids, dates) -> tuple[np.ndarray, np.ndarray]:
    """The order `sort_values(["rep_id", date])` gives (stable, missing last), and each sorted row's rep code.

    A missing rep id's code is -1. Rep ids already in order (a reps table usually is) are
    not sorted again.
    """
    rep_ids = np.asarray(rep_ids, dtype=object)
    index = pd.Index(rep_ids, dtype=object)
    missing = -1
    if index.is_monotonic_increasing and not index.hasnans:
        codes = np.concatenate([[0], np.cumsum(rep_ids[1:] != rep_ids[:-1])]) if len(rep_ids) else np.zeros(0, int)
    else:
        codes, uniques = pd.factorize(rep_ids, sort=True)
        missing = len(uniques)
        codes = np.where(codes < 0, missing, codes)  # sorted last
    order = np.lexsort((np.asarray(dates, dtype="datetime64[ns]"), codes))
    return order, np.where(codes[order] == missing, -1, codes[order])


def latest_rows(rep_ids, dates) -> np.ndarray:
    """Each rep's last row by date, as `sort_values(["rep_id", date]).groupby("rep_id").tail(1)` picks them."""
    order, codes = rep_date_order(rep_ids, dates)
    return order[np.append(codes[1:] != codes[:-1], True) & (codes >= 0)]


def build_assignments(reps: pd.DataFrame, plans: Mapping[str, Plan]) -> tuple[pd.DataFrame, list[Problem]]:
    """One row per valid reps row: rep_id, plan_id, start, end, target_incentive, manager_id, ...

    `span_start` is the first day of the run of consecutive rows on the same plan id, so a
    target or manager change, or a return after a gap, does not restart a draw; a plan
    change does (rule 9).
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
    plan_ti = plan_values(a["plan_id"], plans,
                          lambda p: np.nan if p.target_incentive is None else float(p.target_incentive))
    ti = a["target_incentive"] if "target_incentive" in a else pd.Series(np.nan, index=a.index)
    a["target_incentive"] = ti.fillna(plan_ti)
    a["currency"] = plan_values(a["plan_id"], plans, lambda p: p.currency)
    order, rep_codes = rep_date_order(a["rep_id"], a["start"])
    a = a.take(order).reset_index(drop=True)
    # A new span where the rep or the plan changes (a missing rep id equals nothing, itself included).
    plan_codes, _ = pd.factorize(a["plan_id"].to_numpy(dtype=object))
    new_span = np.append(True, (rep_codes[1:] != rep_codes[:-1]) | (plan_codes[1:] != plan_codes[:-1])) | (
        rep_codes < 0) | (plan_codes < 0)
    a["span_start"] = a["start"].where(new_span).ffill()
    a["assignment"] = np.arange(len(a))
    return a, problems


_DAY_NS = 86_400 * 10**9
_DAY_BITS = 18  # datetime64[ns] spans about +-106,751 days around 1970: below 2**17 either way


def match_by_date(rep_ids: np.ndarray, dates: np.ndarray, assignments: pd.DataFrame,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (line position, assignments row position) where the rep's assignment contains the date.

    In the order of the lines, as an SQL inner join on rep_id gives them. Non-overlapping,
    day-aligned assignments (what `build_assignments` gives from checked reps) are looked
    up by rep code (a sorted search only for reps with several); anything else a slim merge.
    """
    empty = np.empty(0, dtype=np.int64)
    if len(rep_ids) == 0 or assignments.empty:
        return empty, empty
    dates = np.asarray(dates, dtype="datetime64[ns]").view(np.int64)
    a_codes, uniques = pd.factorize(assignments["rep_id"].to_numpy(dtype=object))
    # Each line's rep found once per distinct rep (lines share one str object per rep id).
    line_codes, line_reps = object_codes(rep_ids)
    codes = np.append(pd.Index(uniques).get_indexer(line_reps), -1)[line_codes]
    start = assignments["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end = assignments["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    order = np.lexsort((start, a_codes))
    s_codes, s_start, s_end = a_codes[order], start[order], end[order]
    nat = np.iinfo(np.int64).min
    same_rep = s_codes[1:] == s_codes[:-1]
    simple = (
        (a_codes >= 0).all() and not (start == nat).any() and not (end == nat).any()
        and not (dates == nat).any() and not (same_rep & (s_start[1:] <= s_end[:-1])).any()
        and not (start % _DAY_NS).any() and not (dates % _DAY_NS).any()
    )
    if not simple:
        return _match_by_merge(rep_ids, dates, assignments)
    # Most reps hold one assignment: the line takes it, no search. Reps with several take
    # a sorted search on (rep, start day) keys.
    first = np.searchsorted(s_codes, np.arange(len(uniques) + 1))
    pos = np.where(codes >= 0, first[codes], -1)
    several = np.flatnonzero((codes >= 0) & (np.diff(first)[codes] > 1))
    if several.size:
        offset = 1 << (_DAY_BITS - 1)
        keys = (s_codes << _DAY_BITS) | (s_start // _DAY_NS + offset)
        wanted = (codes[several] << _DAY_BITS) | (dates[several] // _DAY_NS + offset)
        pos[several] = np.searchsorted(keys, wanted, side="right") - 1
    safe = np.maximum(pos, 0)
    hit = (codes >= 0) & (pos >= 0) & (s_codes[safe] == codes) & (s_start[safe] <= dates) & (dates <= s_end[safe])
    at = np.flatnonzero(hit)
    return at, order[pos[at]]


def _match_by_merge(rep_ids: np.ndarray, dates: np.ndarray, assignments: pd.DataFrame,
                    ) -> tuple[np.ndarray, np.ndarray]:
    left = pd.DataFrame({"_at": np.arange(len(rep_ids)), "rep_id": rep_ids, "date": dates.view("datetime64[ns]")})
    right = pd.DataFrame({"rep_id": assignments["rep_id"].to_numpy(dtype=object),
                          "start": assignments["start"].to_numpy(), "end": assignments["end"].to_numpy(),
                          "_which": np.arange(len(assignments))})
    merged = left.merge(right, on="rep_id", how="inner", sort=False)
    inside = ((merged["start"] <= merged["date"]) & (merged["date"] <= merged["end"])).to_numpy()
    return (merged["_at"].to_numpy()[inside].astype(np.int64),
            merged["_which"].to_numpy()[inside].astype(np.int64))


def current_assignments(assignments: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each rep's latest assignment starting on or before `as_of` (their plan now, or last)."""
    started = assignments[assignments["start"] <= as_of]
    return started.take(latest_rows(started["rep_id"], started["start"])).set_index("rep_id")
