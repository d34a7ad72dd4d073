"""Rules 1 and 2: who is credited with each transaction, on which plan assignment.

Produces credit lines: one row per (transaction, credited rep), with its share, role and,
for team roll-up, the subordinate it came through (`via_rep_id`). Cancellations take the
original's columns and credits, on their own date, inside the clawback window of the
plan they credit. Component filters, multipliers and FX are `measure`'s business.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from compensation.assignments import assign_by_date
from compensation.errors import Problem
from compensation.periods import months_of_dates
from compensation.plan import Plan

# Columns of a transaction that are its own even when it is a cancellation (rule 2).
OWN_COLUMNS = ("row", "txn_id", "date", "amount", "reverses")
MAX_CHAIN = 32


def credit_lines(
    txns: pd.DataFrame,
    credits: pd.DataFrame,
    reps: pd.DataFrame,
    assignments: pd.DataFrame,
    plans: Mapping[str, Plan],
    first_day: pd.Timestamp,
    last_day: pd.Timestamp,
) -> tuple[pd.DataFrame, list[Problem]]:
    """Credit lines of the transactions dated in [first_day, last_day]."""
    problems: list[Problem] = []
    dated = txns[(txns["date"] >= first_day) & (txns["date"] <= last_day)]
    dated = _take_original_columns(dated, txns)

    direct = _direct_lines(dated, credits)
    direct["via_rep_id"] = None
    lines = [direct]
    if any(c.measure.credit == "team" for p in plans.values() for c in p.components):
        lines.append(_team_lines(direct, reps))
    lines = pd.concat(lines, ignore_index=True)

    known_reps = set(reps["rep_id"])
    lines = lines.reset_index(names="_line")
    assigned = assign_by_date(lines, assignments)
    unassigned = lines[~lines["_line"].isin(assigned["_line"]) & lines["via_rep_id"].isna()
                       & lines["rep_id"].isin(known_reps)]
    for row in unassigned.itertuples():
        problems.append(Problem.notice(
            "transactions", f"dated {row.date:%Y-%m-%d}, outside every plan assignment of rep "
            f"'{row.rep_id}' in reps: it credits nothing (check start_date/end_date)",
            row=row.row, txn_id=row.txn_id, rep_id=row.rep_id))

    assigned, window_problems = _apply_clawback_window(assigned, plans)
    problems += window_problems
    assigned = assigned.drop(columns=["_line"]).reset_index(drop=True)
    assigned["month"] = months_of_dates(assigned["date"])
    return assigned, problems


def _take_original_columns(dated: pd.DataFrame, all_txns: pd.DataFrame) -> pd.DataFrame:
    """Cancellations take every column of their original but date and amount (rule 2)."""
    is_cancel = dated["reverses"].notna()
    out = dated.copy()
    out["is_cancel"] = is_cancel.to_numpy()
    out["orig_date"] = pd.NaT
    if not is_cancel.any():
        out["credit_key"] = out["txn_id"]
        return out
    originals = all_txns.drop_duplicates("txn_id").set_index("txn_id")
    cancels = out[is_cancel]
    found = cancels["reverses"].isin(originals.index)
    out = out[~is_cancel | is_cancel & out["reverses"].isin(originals.index)]
    cancels = cancels[found]
    source = originals.loc[cancels["reverses"]]
    borrowed = [c for c in out.columns if c in source.columns and c not in OWN_COLUMNS]
    out.loc[cancels.index, borrowed] = source[borrowed].to_numpy()
    out.loc[cancels.index, "orig_date"] = source["date"].to_numpy()
    out["credit_key"] = out["reverses"].where(out["is_cancel"], out["txn_id"])
    return out


def _direct_lines(dated: pd.DataFrame, credits: pd.DataFrame) -> pd.DataFrame:
    """Owner crediting, or the `credits` rows (split and overlay) when a txn has any."""
    dated = dated.rename(columns={"rep_id": "owner_id"})
    has_credits = dated["credit_key"].isin(credits["txn_id"]) if len(credits) else np.zeros(len(dated), bool)
    owned = dated[~has_credits].copy()
    owned["rep_id"] = owned["owner_id"]
    owned["share"] = 1.0
    owned["role"] = "owner"
    split_rows = credits[["txn_id", "rep_id", "share", "role"]].rename(columns={"txn_id": "credit_key"})
    split = dated[has_credits].merge(split_rows, on="credit_key", how="inner", sort=False)
    split["role"] = split["role"].fillna("split")
    out = pd.concat([owned, split], ignore_index=True)
    return out[out["rep_id"].notna()]


def _team_lines(direct: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    """Every manager up the chain, as of each transaction's date, gets the line too (rule 1)."""
    chain = reps[["rep_id", "start_date", "end_date", "manager_id"]].dropna(subset=["manager_id"])
    chain = chain.assign(end_date=chain["end_date"].fillna(pd.Timestamp.max))
    current = pd.DataFrame({"_src": np.arange(len(direct)), "rep_id": direct["rep_id"].to_numpy(),
                            "date": direct["date"].to_numpy()})
    found = []
    for _ in range(MAX_CHAIN):
        step = current.merge(chain, on="rep_id", how="inner", sort=False)
        step = step[(step["start_date"] <= step["date"]) & (step["date"] <= step["end_date"])]
        if step.empty:
            break
        current = pd.DataFrame({"_src": step["_src"].to_numpy(), "rep_id": step["manager_id"].to_numpy(),
                                "date": step["date"].to_numpy()})
        found.append(current)
    if not found:
        return direct.iloc[0:0].assign(via_rep_id=None)
    ups = pd.concat(found, ignore_index=True).drop_duplicates(["_src", "rep_id"])
    team = direct.iloc[ups["_src"].to_numpy()].copy()
    team["via_rep_id"] = team["rep_id"].to_numpy()
    team["rep_id"] = ups["rep_id"].to_numpy()
    return team.reset_index(drop=True)


def _apply_clawback_window(lines: pd.DataFrame, plans: Mapping[str, Plan]) -> tuple[pd.DataFrame, list[Problem]]:
    """A cancellation credits only inside its plan's clawback window, inclusive (rule 2)."""
    if not lines["is_cancel"].any():
        return lines, []
    window = lines["plan_id"].map(
        {pid: p.clawback.window_days if p.clawback else np.inf for pid, p in plans.items()}).astype(float)
    age = (lines["date"] - lines["orig_date"]).dt.days.astype(float)
    outside = lines["is_cancel"] & (age > window)
    problems = [
        Problem.notice(
            "transactions",
            f"cancels {row.reverses} {int(row.age)} days after it, outside the {int(row.window)}-day "
            "clawback window: it credits nothing",
            row=row.row, txn_id=row.txn_id, rep_id=row.rep_id)
        for row in lines[outside].assign(age=age[outside], window=window[outside])
        .drop_duplicates(["txn_id", "rep_id"]).itertuples()
    ]
    return lines[~outside], problems
