"""Replay: a candidate plan applied to a past year's real data, on a scratch ledger.

Each closed month of the year is calculated with `compensation.pipeline.calculate`, then
committed and closed on an in-memory ledger exactly as the cycle does, so true-ups,
balances and draws carry from month to month. With the plans that were in force the
replay equals, to the cent, the register lines the workspace's ledger holds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from compensation import cycle, workflow
from compensation.errors import UsageError
from compensation.ledger import Audit, Ledger
from compensation.periods import month_index
from compensation.pipeline import calculate
from compensation.plan import Plan
from compensation.prior import prior_state
from compensation.settings import Workspace

KEY = ["period", "rep_id", "line"]


@dataclass(frozen=True)
class ReplayResult:
    """Register amounts per (period, rep, line): replayed, in the ledger, and where they differ (cents)."""

    name: str
    periods: tuple[str, ...]
    lines: pd.DataFrame  # period, rep_id, line, amount
    actual: pd.DataFrame  # period, rep_id, line, amount
    compared: pd.DataFrame  # period, rep_id, line, replayed, actual, change (only rows that differ)

    @property
    def total(self) -> int:
        return int(self.lines["amount"].sum())

    @property
    def actual_total(self) -> int:
        return int(self.actual["amount"].sum())

    @property
    def exact(self) -> bool:
        return self.compared.empty


def closed_periods(ws: Workspace, year: int) -> tuple[str, ...]:
    """The closed months of a fiscal year, in order."""
    with cycle.open_ledger(ws) as ledger:
        runs = ledger.runs() if ledger.exists() else []
    found = sorted({r.period for r in runs if r.status == "closed"
                    and ws.calendar.fiscal_year(month_index(r.period)) == year}, key=month_index)
    if not found:
        raise UsageError(f"no month of fiscal year {year} is closed; replay re-runs closed months")
    return tuple(found)


def replay(workspace: Workspace | str, year: int, candidates: dict[str, Plan] | None = None,
           name: str = "in force") -> ReplayResult:
    """Re-run the closed months of `year` with `candidates` (role -> plan) replacing the plans of those roles."""
    ws = cycle.open_workspace(workspace)
    periods = closed_periods(ws, year)
    plan_set, inputs, problems = cycle.load(ws)
    plans = dict(plan_set.plans)
    for role, plan in (candidates or {}).items():
        plans[role] = plan.model_copy(update={"id": role})
    plan_set = replace(plan_set, plans=plans)
    with cycle.open_ledger(ws) as real:
        extra = workflow.ledger_adjustments(real)
        actual = pd.concat([real.lines(p)[KEY + ["amount"]] for p in periods], ignore_index=True)
    if len(extra):
        table = inputs.adjustments
        rows = extra.reindex(columns=table.columns)
        if "row" in rows:
            rows["row"] = pd.NA
        inputs = replace(inputs, adjustments=pd.concat([table, rows], ignore_index=True))
    scratch = Ledger("sqlite://")
    audit = Audit(by="icm model replay", icm_version="replay")
    frames = []
    try:
        for period in periods:
            prior = prior_state(scratch.closed_rows(period), period, ws.calendar)
            result = calculate(ws, period, plan_set, inputs, problems, prior)
            scratch.commit_run(result, audit)
            scratch.close(period, audit)
            frames.append(result.register[KEY + ["amount"]])
    finally:
        scratch.dispose()
    lines = _summed(pd.concat(frames, ignore_index=True))
    actual = _summed(actual)
    merged = lines.merge(actual, on=KEY, how="outer", suffixes=("_replayed", "_actual")).fillna(0)
    merged = merged.rename(columns={"amount_replayed": "replayed", "amount_actual": "actual"})
    merged["change"] = merged["replayed"] - merged["actual"]
    compared = merged[merged["change"] != 0].reset_index(drop=True)
    return ReplayResult(name, periods, lines, actual, compared)


def _summed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.groupby(KEY, as_index=False, sort=True)["amount"].sum()
    out["amount"] = out["amount"].astype("int64")
    return out
