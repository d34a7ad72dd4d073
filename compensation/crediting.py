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
import pyarrow as pa
import pyarrow.compute as pc

from compensation.assignments import match_by_date, plan_values
from compensation.coerce import arrow_text, frame_of, rows_of
from compensation.errors import Problem
from compensation.periods import month_indexes
from compensation.plan import Plan

# Columns of a transaction that are its own even when it is a cancellation (rule 2).
OWN_COLUMNS = ("row", "txn_id", "date", "amount", "amount_cents", "reverses")
MAX_CHAIN = 32


def credit_lines(
    txns: pd.DataFrame,
    credits: pd.DataFrame,
    reps: pd.DataFrame,
    assignments: pd.DataFrame,
    plans: Mapping[str, Plan],
    first_day: pd.Timestamp,
    last_day: pd.Timestamp,
    *,
    lookup: int = 0,
) -> tuple[pd.DataFrame, list[Problem]]:
    """Credit lines of the transactions dated in [first_day, last_day].

    Works on positions (which transaction row gives a line its own columns, which one the
    borrowed ones) and builds the wide frame of every transaction column once, at the end:
    a million-row frame is never copied or consolidated on the way. The last `lookup` rows
    are only there for cancellations to borrow from (originals kept in another partition).
    """
    problems: list[Problem] = []
    dates = txns["date"].to_numpy()
    own = np.flatnonzero((dates >= first_day.to_datetime64()) & (dates <= last_day.to_datetime64()))
    if lookup:
        own = own[own < len(txns) - lookup]
    own, source, is_cancel = _take_original_columns(own, txns)

    line_txn, rep_id, share, role = _direct_lines(source, txns["rep_id"].to_numpy(dtype=object), txns["txn_id"],
                                                  credits)
    via = np.empty(len(line_txn), dtype=object)  # None in each cell
    if any(c.measure.credit == "team" for p in plans.values() for c in p.components):
        src, managers = _team_lines(rep_id, dates[own[line_txn]], reps)
        line_txn = np.concatenate([line_txn, line_txn[src]])
        via = np.concatenate([via, rep_id[src]])
        rep_id = np.concatenate([rep_id, managers])
        share = np.concatenate([share, share[src]])
        role = np.concatenate([role, role[src]])

    line_dates = dates[own[line_txn]]
    orig_date = _orig_dates(dates, own, source, is_cancel)
    # A cancellation reverses what the original credited, on the assignment the original
    # credited (its plan, its rates, its SPIFs), even after a plan change or after the rep
    # left (rule 2); it counts in the period of its own date, and the window still applies.
    cancel_line = is_cancel[line_txn]
    at, which = match_by_date(rep_id, np.where(cancel_line, orig_date[line_txn], line_dates), assignments)
    matched = np.zeros(len(line_txn), dtype=bool)
    matched[at] = True
    missed = np.flatnonzero(cancel_line & ~matched)  # the original's date had no assignment: its own date's
    if missed.size:
        found, found_which = match_by_date(rep_id[missed], line_dates[missed], assignments)
        order = np.argsort(np.concatenate([at, missed[found]]), kind="stable")
        at = np.concatenate([at, missed[found]])[order]
        which = np.concatenate([which, found_which])[order]
    assigned = np.zeros(len(line_txn), dtype=bool)
    assigned[at] = True
    unassigned = np.flatnonzero(~assigned)
    unassigned = unassigned[pd.isna(via[unassigned]) & pd.Index(rep_id[unassigned]).isin(list(set(reps["rep_id"])))]
    txn_ids, rows = txns["txn_id"].array, txns["row"].to_numpy()
    for i in unassigned:
        t = own[line_txn[i]]
        problems.append(Problem.notice(
            "transactions", f"dated {pd.Timestamp(dates[t]):%Y-%m-%d}, outside every plan assignment of rep "
            f"'{rep_id[i]}' in reps: it credits nothing (check start_date/end_date)",
            row=rows[t], txn_id=txn_ids[t], rep_id=rep_id[i]))

    if not np.array_equal(at, np.arange(len(line_txn))):  # else every line, in order: no copies
        line_txn, rep_id, share, role, via = (a[at] for a in (line_txn, rep_id, share, role, via))
    plan_id = assignments["plan_id"].to_numpy(dtype=object)[which]
    assignment = assignments["assignment"].to_numpy()[which]
    if is_cancel[line_txn].any():
        keep, window_problems = _apply_clawback_window(pd.DataFrame({
            "row": rows[own[line_txn]], "txn_id": txn_ids[own[line_txn]], "date": line_dates[at],
            "orig_date": orig_date[line_txn], "reverses": txns["reverses"].to_numpy(dtype=object)[own[line_txn]],
            "is_cancel": is_cancel[line_txn], "rep_id": rep_id, "plan_id": plan_id}), plans)
        problems += window_problems
        line_txn, rep_id, share, role, via, plan_id, assignment = (
            a[keep] for a in (line_txn, rep_id, share, role, via, plan_id, assignment))

    own_rows, source_rows = own[line_txn], source[line_txn]
    # Every transaction once and in order (no split, no cancellation): columns as they are, no copy.
    everything = np.arange(len(txns))
    own_rows = None if np.array_equal(own_rows, everything) else own_rows
    source_rows = None if np.array_equal(source_rows, everything) else source_rows
    columns: dict[str, np.ndarray] = {}
    for column in txns.columns:
        rows = own_rows if column in OWN_COLUMNS else source_rows
        columns["owner_id" if column == "rep_id" else column] = rows_of(txns[column], rows)
    columns["is_cancel"] = is_cancel[line_txn]
    columns["orig_date"] = orig_date[line_txn]
    amounts = txns["amount"].to_numpy()
    columns["orig_amount"] = amounts if source_rows is None else amounts[source_rows]  # a reversal: its original's
    columns["credit_key"] = rows_of(txns["txn_id"], source_rows)  # the id credits and payments name: the original's
    columns.update(rep_id=rep_id, share=share, role=role, via_rep_id=via, assignment=assignment,
                   plan_id=plan_id)
    columns["month"] = month_indexes(columns["date"])
    return frame_of(columns), problems


def _orig_dates(dates: np.ndarray, own: np.ndarray, source: np.ndarray, is_cancel: np.ndarray) -> np.ndarray:
    """The original's date for a cancellation, NaT for the others."""
    out = np.full(len(own), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[is_cancel] = dates[source[is_cancel]]
    return out


def _take_original_columns(own: np.ndarray, all_txns: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cancellations take every column of their original but date and amount (rule 2).

    Of the dated rows `own`, returns those kept (a cancellation of an unknown txn_id is
    not), the row giving each one's borrowed columns (its original, else itself) and
    whether it is a cancellation.
    """
    reverses = all_txns["reverses"].to_numpy(dtype=object)[own]
    is_cancel = ~pd.isna(reverses)
    source = own.copy()
    if not is_cancel.any():
        return own, source, is_cancel
    # The first row with each reversed id, looked up in Arrow: the ids stay Arrow text (kind `id`).
    wanted = pa.array(reverses[is_cancel], pa.string(), from_pandas=True)
    found = pc.index_in(wanted, value_set=arrow_text(all_txns["txn_id"])).fill_null(-1).to_numpy(zero_copy_only=False)
    keep = np.ones(len(own), dtype=bool)
    keep[np.flatnonzero(is_cancel)[found < 0]] = False
    source[is_cancel] = found
    return own[keep], source[keep], is_cancel[keep]


def _direct_lines(source: np.ndarray, owners: np.ndarray, txn_ids: pd.Series, credits: pd.DataFrame,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Owner crediting, or the `credits` rows (split and overlay) when a txn has any.

    `source` is the row giving each dated transaction its borrowed columns (a cancellation
    credits its original's owner). Returns per line its dated position, rep_id, share and role.
    """
    n = len(source)
    if len(credits):
        credit_key = rows_of(txn_ids, source)  # a cancellation's original
        has_credits = pd.Series(credit_key).isin(credits["txn_id"]).to_numpy()
    else:
        credit_key, has_credits = np.empty(0, dtype=object), np.zeros(n, bool)
    owned = np.flatnonzero(~has_credits)
    borrowed = np.flatnonzero(has_credits)
    split = pd.DataFrame({"_at": borrowed, "credit_key": np.asarray(credit_key[borrowed], dtype=object)}).merge(
        credits[["txn_id", "rep_id", "share", "role"]].rename(columns={"txn_id": "credit_key"}),
        on="credit_key", how="inner", sort=False)
    line = np.concatenate([owned, split["_at"].to_numpy(dtype=np.int64)])
    rep_id = np.concatenate([owners[source[owned]],
                             split["rep_id"].to_numpy(dtype=object)])
    share = np.concatenate([np.ones(len(owned)), split["share"].to_numpy(dtype=float)])
    owner_role = np.empty(len(owned), dtype=object)
    owner_role.fill("owner")  # np.full with a str fill is 20x slower on object arrays
    role = np.concatenate([owner_role,
                           split["role"].fillna("split").to_numpy(dtype=object)])
    # A line without a rep (a missing owner) is kept: it matches no assignment, so it credits
    # nothing and is not told of, and testing a million cells for missing costs more.
    return line, rep_id, share, role


def _team_lines(rep_id: np.ndarray, dates: np.ndarray, reps: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Every manager up the chain, as of each transaction's date, gets the line too (rule 1).

    Returns the direct line each team line copies and the manager it credits.
    """
    chain = reps[["rep_id", "start_date", "end_date", "manager_id"]].dropna(subset=["manager_id"])
    chain = chain.assign(end_date=chain["end_date"].fillna(pd.Timestamp.max))
    current = pd.DataFrame({"_src": np.arange(len(rep_id)), "rep_id": rep_id, "date": dates})
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
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    ups = pd.concat(found, ignore_index=True).drop_duplicates(["_src", "rep_id"])
    return ups["_src"].to_numpy(dtype=np.int64), ups["rep_id"].to_numpy(dtype=object)


def _apply_clawback_window(lines: pd.DataFrame, plans: Mapping[str, Plan]) -> tuple[np.ndarray, list[Problem]]:
    """A cancellation credits only inside its plan's clawback window, inclusive (rule 2).

    Returns which lines to keep and a notice per cancellation left out.
    """
    if not lines["is_cancel"].any():
        return np.ones(len(lines), dtype=bool), []
    window = plan_values(lines["plan_id"], plans,
                         lambda p: p.clawback.window_days if p.clawback else np.inf).astype(float)
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
    return ~outside.to_numpy(dtype=bool), problems
