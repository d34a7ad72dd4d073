"""The per-transaction stages of a month on one slice of the transactions, and their sums.

`credit_partition` runs crediting (rules 1 and 2), the component measure (filters,
multipliers, FX), rate tables' inputs, SPIFs and pay-on-cash's per-deal sums on the
rows it is given, and returns a `Credited`: only what the per-rep stages need, summed
per rep, component and month. Sums of several slices add up (`combine`), so the pandas
engine (one slice: the whole table) and the Dask engine (one slice per partition) hand
the same figures to the same earn and settle code. Everything here is pandas; Dask
only decides which rows a call sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from compensation.codes import run_codes
from compensation.crediting import credit_lines
from compensation.errors import Problem
from compensation.incentives import spif_rows
from compensation.measure import component_credits, period_names
from compensation.plan import Plan
from compensation.timing import add_cash, cash_credits

SUM_KEY = ["rep_id", "plan_id", "line", "month"]
SPIF_KEY = ["rep_id", "line", "attainment_period"]
CANCEL_KEY = ["rep_id", "line", "attainment_period", "assignment"]


@dataclass(frozen=True)
class Credited:
    """The transactions of a month as the per-rep stages see them.

    `credits`: component credits summed per (rep_id, plan_id, line, month), `credited` in
    cents; a component rated transaction by transaction keeps one row per credit (its
    rate table needs each). `cancel_keys`: the (assignment, component, period) keys only a
    cancellation credits (`credited_candidates`). `spifs`: SPIF cents per (rep_id, line,
    attainment_period). `cash`: `timing.cash_credits`. `problems`: the row problems found.
    """

    credits: pd.DataFrame
    cancel_keys: pd.DataFrame
    spifs: pd.DataFrame
    cash: pd.DataFrame
    problems: tuple[Problem, ...] = ()


def credit_partition(txns: pd.DataFrame, credits: pd.DataFrame, reps: pd.DataFrame, fx: pd.DataFrame,
                     assignments: pd.DataFrame, plans: Mapping[str, Plan], window, base_currency: str, *,
                     lookup: int = 0) -> tuple[Credited, pd.DataFrame, pd.DataFrame]:
    """Credit and measure the rows of `txns` dated in the run's window.

    The last `lookup` rows of `txns` are there only for cancellations to borrow their
    original's columns from (rows of other partitions). Returns the `Credited` sums and
    the credit lines and component credits they came from (for the credit detail).
    """
    lines, problems = credit_lines(txns, credits, reps, assignments, plans, window.first_day, window.last_day,
                                   lookup=lookup)
    comp_credits, found = component_credits(lines, plans, fx, base_currency)
    problems += found
    credited = Credited(
        credits=summed_credits(comp_credits, lines, plans, window.calendar),
        cancel_keys=credited_candidates(comp_credits, lines, assignments, plans, window),
        spifs=spif_sums(lines, plans, window.calendar),
        cash=cash_credits(comp_credits, lines, plans, window.calendar),
        problems=tuple(problems),
    )
    return credited, lines, comp_credits


def summed_credits(comp_credits: pd.DataFrame, lines: pd.DataFrame, plans: Mapping[str, Plan], calendar,
                   ) -> pd.DataFrame:
    """Credited cents per (rep_id, plan_id, line, month), the month being the first of the finest period read.

    A component's credits are read per its attainment period and per the `per` period of
    each bonus on it; months of the finest of those add up to all of them, so summing
    there loses nothing (fiscal months nest in quarters, quarters in years). A component
    rated per transaction keeps its credit rows as they are.
    """
    per_txn = {c.id for p in plans.values() for c in p.components
               if c.commission is not None and c.commission.per == "transaction"}
    whole = comp_credits["line"].isin(list(per_txn)).to_numpy() if per_txn else np.zeros(len(comp_credits), bool)
    summed = comp_credits[~whole] if whole.any() else comp_credits
    grain = _grains(plans)
    months = summed["month"].to_numpy(dtype=np.int64)
    line_codes, line_names = run_codes(summed["line"].to_numpy(dtype=object))
    first = months.copy()
    for kind in ("quarter", "year"):
        coarse = np.array([grain.get(name) == kind for name in line_names] + [False], dtype=bool)[line_codes]
        if coarse.any():
            first[coarse] = _first_months(calendar, kind, months[coarse])
    # First summed per (assignment, line, month) as one integer: the assignment fixes rep_id
    # and plan_id, so no string is hashed per credit. Those partial sums, in order of first
    # appearance, then add up per SUM_KEY as few rows.
    assignment = lines["assignment"].to_numpy(dtype=np.int64)[summed["line_idx"].to_numpy()]
    low = int(first.min()) if len(first) else 0
    span = int(first.max()) - low + 1 if len(first) else 1
    key = (assignment * (len(line_names) + 1) + line_codes + 1) * span + (first - low)
    groups, _ = pd.factorize(key)
    at = np.full(int(groups.max()) + 1 if len(groups) else 0, len(groups), dtype=np.int64)
    np.minimum.at(at, groups, np.arange(len(groups)))
    partial = np.zeros(len(at), dtype=np.int64)
    np.add.at(partial, groups, summed["credited"].to_numpy(dtype=np.int64))
    sums = _sum_by(pd.DataFrame({"rep_id": summed["rep_id"].to_numpy()[at], "plan_id": summed["plan_id"].to_numpy()[at],
                                 "line": summed["line"].to_numpy(dtype=object)[at], "month": first[at],
                                 "credited": partial}), SUM_KEY, "credited")
    if not whole.any():
        return sums
    kept = comp_credits[whole].drop(columns=["line_idx"])
    return pd.concat([sums, kept], ignore_index=True)


RANK = {"month": 0, "quarter": 1, "year": 2}


def _grains(plans: Mapping[str, Plan]) -> dict[str, str]:
    """Per component id: the finest of its attainment period and its bonuses' `per` periods."""
    grain: dict[str, str] = {}
    for plan in plans.values():
        for comp in plan.components:
            kinds = [comp.attainment_period] + [b.per for b in plan.bonuses if b.component == comp.id]
            kinds.append(grain.get(comp.id, "year"))
            grain[comp.id] = min(kinds, key=lambda k: RANK.get(k, 0))
    return grain


def _first_months(calendar, kind: str, months: np.ndarray) -> np.ndarray:
    """The first month index of each month's `kind` period, worked out once per month of the range."""
    low, high = int(months.min()), int(months.max())
    span = np.arange(low, high + 1)
    firsts = np.array([calendar.bounds(name)[0] for name in period_names(calendar, kind, span)], dtype=np.int64)
    return firsts[months - low]


def spif_sums(lines: pd.DataFrame, plans: Mapping[str, Plan], calendar) -> pd.DataFrame:
    """SPIF cents per (rep_id, line, attainment_period) of these lines."""
    return _sum_by(spif_rows(lines, plans, calendar), SPIF_KEY, "earned_to_date")


def _sum_by(frame: pd.DataFrame, key: list[str], value: str) -> pd.DataFrame:
    """`value` summed per `key` (int64), groups in order of first appearance."""
    if not len(frame):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("month", value) else object) for c in [*key, value]})
    out = frame.groupby(key, sort=False, as_index=False)[value].sum()
    out[value] = out[value].astype("int64")
    return out


def combine(parts: Sequence[Credited]) -> Credited:
    """The sums of several partitions as one: sums added, keys deduplicated in partition order."""
    if len(parts) == 1:
        return parts[0]
    credits = pd.concat([p.credits for p in parts], ignore_index=True)
    per_txn = credits["base"].notna().to_numpy() if "base" in credits else np.zeros(len(credits), bool)
    credits = pd.concat([_sum_by(credits[~per_txn][SUM_KEY + ["credited"]], SUM_KEY, "credited"),
                         credits[per_txn]], ignore_index=True)
    return Credited(
        credits=credits,
        cancel_keys=pd.concat([p.cancel_keys for p in parts], ignore_index=True).drop_duplicates(CANCEL_KEY),
        spifs=_sum_by(pd.concat([p.spifs for p in parts], ignore_index=True), SPIF_KEY, "earned_to_date"),
        cash=add_cash([p.cash for p in parts]),
        problems=tuple(p for part in parts for p in part.problems),
    )


def credited_candidates(comp_credits, lines, assignments, plans, window) -> pd.DataFrame:
    """(assignment, component, period) keys that have credits outside the assignment's periods.

    A cancellation can credit a leaver's assignment in a period it no longer overlaps
    (rule 2). Only cancellations can, so only their credits are looked at.
    """
    comp_credits = comp_credits[lines["is_cancel"].to_numpy()[comp_credits["line_idx"].to_numpy()]]
    kinds = {c.id: c.attainment_period for p in plans.values() for c in p.components}
    assignment = lines["assignment"].to_numpy()[comp_credits["line_idx"].to_numpy()]
    line = comp_credits["line"].to_numpy(dtype=object)
    month = comp_credits["month"].to_numpy(dtype=np.int64)
    periods = np.empty(len(comp_credits), dtype=object)  # None in each cell
    line_kind = pd.Series(line, dtype=object).map(kinds).to_numpy()
    for kind in ("month", "quarter", "year"):
        mask = line_kind == kind
        if mask.any():
            periods[mask] = period_names(window.calendar, kind, month[mask])
    first = np.arange(len(comp_credits))
    if len(comp_credits):
        # The assignment fixes rep_id and plan_id: one integer per (assignment, line, period),
        # first occurrences kept in order, before any frame is built.
        line_codes, line_names = pd.factorize(line)
        period_codes, period_names_ = pd.factorize(periods)
        key = ((assignment.astype(np.int64) * (len(line_names) + 1) + line_codes + 1) * (len(period_names_) + 1)
               + period_codes + 1)
        first = np.sort(np.unique(key, return_index=True)[1])
    keys = pd.DataFrame({
        "rep_id": comp_credits["rep_id"].to_numpy()[first], "line": line[first],
        "plan_id": comp_credits["plan_id"].to_numpy()[first], "assignment": assignment[first],
        "period_kind": line_kind[first], "attainment_period": periods[first],
    })
    keys["kind"] = "component"
    keys["start"] = assignments.set_index("assignment")["start"].reindex(keys["assignment"]).to_numpy()
    return keys.drop_duplicates(CANCEL_KEY)
