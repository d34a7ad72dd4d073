"""The payout pipeline for one month: load -> credit -> measure -> earn -> settle.

`calculate` is pure: it reads the workspace's plans and tables and the ledger's
`PriorState`, and returns a `RunResult`; it writes nothing. The command commits the
result to the ledger and renders it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from compensation.assignments import build_assignments, current_assignments, latest_rows, plan_values
from compensation.codes import run_codes
from compensation.coerce import frame_of, rows_of
from compensation.earn import earn_components
from compensation.engines.partition import Credited, credit_partition
from compensation.errors import HOLD, IcmError, Problem
from compensation.incentives import earn_bonuses, earn_spifs
from compensation.measure import period_names
from compensation.money import product_cents
from compensation.periods import Calendar, month_first_day, month_index, month_last_day, month_name
from compensation.plan import Plan
from compensation.results import EXCEPTION_COLUMNS, PriorState, RunResult
from compensation.settings import Workspace
from compensation.settle import draw_active, register, settle, settlement_lines, true_up
from compensation.timing import (
    check_payments,
    deal_amounts,
    net_by_rep,
    paying_reps,
    timing,
    timing_lines,
    waiting_reps,
)


@dataclass(frozen=True)
class RunWindow:
    """The months a run recomputes: its fiscal year from the first month to the run month."""

    period: str
    run_month: int
    first_month: int
    calendar: Calendar

    @classmethod
    def of(cls, period: str, calendar: Calendar) -> RunWindow:
        try:
            run_month = month_index(period)
        except ValueError as exc:
            raise IcmError(f"--period {exc}") from None
        first = calendar.fiscal_year_first_month(calendar.fiscal_year(run_month))
        return cls(period, run_month, first, calendar)

    @property
    def first_day(self) -> pd.Timestamp:
        return pd.Timestamp(month_first_day(self.first_month))

    @property
    def last_day(self) -> pd.Timestamp:
        return pd.Timestamp(month_last_day(self.run_month))

    def periods(self, kind: str) -> list[str]:
        return self.calendar.periods_begun(kind, self.run_month)

    def all_periods(self) -> set[str]:
        return {p for kind in ("month", "quarter", "year") for p in self.periods(kind)}


def calculate(ws: Workspace, period: str, plan_set, inputs, load_problems: Iterable[Problem] = (),
              prior: PriorState | None = None) -> RunResult:
    """Calculate one month from loaded plans and tables and what closed months paid.

    Reads no files: `compensation.cycle` loads the inputs and the ledger's prior state.
    `load_problems` are the row problems found at load; they go to the exceptions.
    The pandas engine: the whole transactions table is one partition.
    """
    window = RunWindow.of(period, ws.calendar)
    assignments, found = build_assignments(inputs.reps, plan_set.plans)
    credited, lines, comp_credits = credit_partition(inputs.transactions, inputs.credits, inputs.reps, inputs.fx,
                                                     assignments, plan_set.plans, window, ws.settings.base_currency)
    detail = credit_detail(comp_credits, lines, window.calendar, plan_set.plans)
    del lines, comp_credits
    return calculate_credited(ws, period, plan_set, inputs, [*load_problems, *found], prior, credited, detail,
                              deals_of(inputs.transactions, inputs.payments, prior))


def deals_of(transactions: pd.DataFrame, payments: pd.DataFrame, prior: PriorState | None) -> pd.DataFrame:
    """The transactions payments and the ledger's cash keys name: all payment timing reads of the table."""
    wanted = set(payments["txn_id"]) if payments is not None and len(payments) else set()
    if prior is not None and len(prior.held):
        wanted |= set(prior.held.loc[prior.held["source"] == "cash", "ref"])
    if not wanted:
        return transactions.iloc[:0]
    return transactions[transactions["txn_id"].isin(list(wanted)).to_numpy()]


def calculate_credited(ws: Workspace, period: str, plan_set, inputs, problems: list[Problem],
                       prior: PriorState | None, credited: Credited, detail: pd.DataFrame,
                       deals: pd.DataFrame) -> RunResult:
    """The per-rep stages (earn, true-up, timing, settle, register) on the transactions' sums.

    Both engines end here: `credited` is the per-partition sums added up, `deals` the
    transactions named by payments or by the ledger's cash keys (`deals_of`), `detail`
    the credit detail the result keeps.
    """
    prior = prior or PriorState()
    window = RunWindow.of(period, ws.calendar)
    plans: Mapping[str, Plan] = plan_set.plans
    problems = list(problems) + list(credited.problems)
    assignments, _ = build_assignments(inputs.reps, plans)
    comp_credits = credited.credits

    candidates = pd.concat([line_candidates(assignments, plans, window), credited.cancel_keys],
                           ignore_index=True).drop_duplicates(["rep_id", "line", "attainment_period", "assignment"])
    governing = candidates.sort_values("start", kind="stable").groupby(
        ["rep_id", "line", "attainment_period"], sort=False).tail(1)
    components, found = earn_components(governing, comp_credits, candidates, assignments, inputs.quotas, plans, window)
    problems += found
    bonuses, found = earn_bonuses(governing, comp_credits, inputs.quotas, plans, window, assignments)
    problems += found
    spifs = earn_spifs(governing, credited.spifs)
    # Credited cents stay integers through the concat: float64 cannot hold the cents of 10^15.
    earned = pd.concat([f.astype({"credited": "Int64"}) if "credited" in f else f
                        for f in (components, bonuses, spifs)], ignore_index=True)

    kinds = {line: kind for p in plans.values() for kind, ids in (
        ("component", [c.id for c in p.components]), ("bonus", [b.id for b in p.bonuses]),
        ("spif", [s.id for s in p.spifs])) for line in ids}
    line_periods = true_up(earned, prior.paid, window.all_periods(), kinds)
    current = current_assignments(assignments, window.last_day)
    adjustments, found = adjustment_lines(inputs.adjustments, prior, window, current, plans)
    problems += found
    payments, found = check_payments(inputs.payments, deals, inputs.credits, inputs.fx, current,
                                     ws.settings.base_currency, set(inputs.reps["rep_id"]))
    problems += found

    held = {p.rep_id for p in problems if p.severity == HOLD and p.rep_id}
    paid_reps = payable_reps(current, line_periods, adjustments, plans, window) - held
    # Payment timing (issue 17): held, release and forfeit, between earn and settle.
    timed_reps = paid_reps | (waiting_reps(prior.held, paying_reps(current, plans, window)) - held)
    held_keys = timing(line_periods[line_periods["rep_id"].isin(timed_reps)], credited.cash, payments,
                       deal_amounts(deals, credited.cash), prior.held, timed_reps, assignments, plans, window)
    timed = timing_lines(held_keys[held_keys["rep_id"].isin(timed_reps)])
    paid_reps |= set(timed["rep_id"])
    line_periods = line_periods[line_periods["rep_id"].isin(paid_reps)].reset_index(drop=True)
    adjustments = adjustments[adjustments["rep_id"].isin(paid_reps)].reset_index(drop=True)

    earned_by_rep = (line_periods.groupby("rep_id")["amount"].sum().astype("int64")
                     .add(adjustments.groupby("rep_id")["amount"].sum().astype("int64"), fill_value=0)
                     .add(net_by_rep(held_keys[held_keys["rep_id"].isin(paid_reps)]), fill_value=0)
                     .reindex(sorted(paid_reps), fill_value=0))
    current_paid = current.loc[current.index.isin(paid_reps)]
    settlement = settle(earned_by_rep, prior.balances, current_paid,
                        draw_active(current_paid, plans, window.calendar, window.run_month), plans)
    year = year_to_date(line_periods, adjustments, settlement, prior, window)
    reps_info = rep_directory(inputs.reps, current)
    extra = pd.concat([timed.assign(earned_to_date=timed["forfeited"], paid_to_date=timed["forfeited"]),
                       settlement_lines(settlement)], ignore_index=True)
    payouts = register(period, line_periods, adjustments, extra, reps_info,
                       current, plans, current_period_figures(line_periods, window, plans, current))
    return RunResult(
        workspace=ws, period=period, plans=plans, register=payouts,
        line_periods=pd.concat([line_periods, adjustments.assign(
            kind="adjustment", line="adjustment", earned_to_date=adjustments["amount"], paid_before=0)],
            ignore_index=True),
        credits=detail,
        settlement=settlement, reps=reps_info,
        exceptions=exceptions_frame(period, problems),
        inputs=tuple(inputs.files) + tuple(getattr(plan_set, "files", ())),
        year_to_date=year,
        timing=held_keys,
    )


def year_to_date(line_periods, adjustments, settlement, prior: PriorState, window: RunWindow) -> pd.DataFrame:
    """Per paid rep: earned, paid and balance over the fiscal year to the run month (cents).

    Earned is every line's earned to date in the year's attainment periods plus the
    year's adjustments; paid is what closed months of the year paid plus this run's pay.
    """
    reps = settlement["rep_id"].to_numpy(dtype=object)
    earned = line_periods.groupby("rep_id")["earned_to_date"].sum()
    fiscal_year = window.calendar.fiscal_year(window.run_month)
    paid_adj = prior.paid_adjustments
    in_year = window.calendar.in_fiscal_year(paid_adj["period"], fiscal_year)
    adjusted = (paid_adj[in_year].groupby("rep_id")["amount"].sum()
                .add(adjustments.groupby("rep_id")["amount"].sum(), fill_value=0))
    earned = earned.add(adjusted, fill_value=0).reindex(reps, fill_value=0)
    paid_before = prior.year_paid.set_index("rep_id")["pay"].reindex(reps, fill_value=0)
    return pd.DataFrame({
        "rep_id": reps,
        "earned": earned.to_numpy(dtype=np.int64),
        "paid": paid_before.to_numpy(dtype=np.int64) + settlement["pay"].to_numpy(dtype=np.int64),
        "balance": settlement["balance_after"].to_numpy(dtype=np.int64),
    })


def line_candidates(assignments: pd.DataFrame, plans: Mapping[str, Plan], window: RunWindow) -> pd.DataFrame:
    """Every (assignment, line, attainment period) the run recomputes (rule 8).

    The periods of the fiscal year begun by the run month that the assignment overlaps,
    for each line of its plan.
    """
    columns = ["rep_id", "line", "kind", "period_kind", "attainment_period", "plan_id", "assignment", "start"]
    parts: list[tuple] = []
    # Rows picked as positions and filled in once: a frame per (line, period) costs more than its rows.
    start = assignments["start"].to_numpy(dtype="datetime64[ns]")
    end = assignments["end"].to_numpy(dtype="datetime64[ns]")
    in_window = (start <= window.last_day.to_datetime64()) & (end >= window.first_day.to_datetime64())
    for plan_id, plan in plans.items():
        mine = np.flatnonzero((assignments["plan_id"].to_numpy() == plan_id) & in_window)
        if not len(mine):
            continue
        lines = ([(c.id, "component", c.attainment_period) for c in plan.components]
                 + [(b.id, "bonus", b.per) for b in plan.bonuses] + [(s.id, "spif", "year") for s in plan.spifs])
        for line, kind, period_kind in lines:
            for name in window.periods(period_kind):
                first, last = (np.datetime64(d, "ns") for d in window.calendar.day_bounds(name))
                overlap = mine[(start[mine] <= last) & (end[mine] >= first)]
                if len(overlap):
                    parts.append((overlap, line, kind, period_kind, name, plan_id))
    if not parts:
        return pd.DataFrame(columns=columns)
    rows = np.concatenate([part[0] for part in parts])
    sizes = [len(part[0]) for part in parts]
    out = {"rep_id": assignments["rep_id"].to_numpy()[rows]}
    for k, column in enumerate(("line", "kind", "period_kind", "attainment_period", "plan_id"), start=1):
        out[column] = np.repeat(np.array([part[k] for part in parts], dtype=object), sizes)
    out["assignment"] = assignments["assignment"].to_numpy()[rows]
    out["start"] = assignments["start"].to_numpy()[rows]
    return frame_of(out)


def adjustment_lines(adjustments: pd.DataFrame, prior: PriorState, window: RunWindow, current, plans):
    """One line per adjustment row up to the run month (SPEC section 3).

    Rows a close already paid are skipped (also those of a skipped month paid in a later
    one); a new row whose payout period is closed holds the rep. A quarterly plan's payout
    period is the quarter, so its reps' adjustments wait for the quarter's last month.
    """
    problems: list[Problem] = []
    columns = ["rep_id", "attainment_period", "amount", "detail", "_seq"]
    if adjustments.empty:
        return pd.DataFrame(columns=columns), problems
    adj = adjustments[adjustments["period"].map(month_index) <= window.run_month].copy()
    adj["cents"] = product_cents(adj["amount"].to_numpy(float))
    months = adj["period"].map(month_index).to_numpy()
    plan_ids = adj["rep_id"].map(current["plan_id"])
    quarterly = plan_values(plan_ids, plans, lambda p: p.payout_frequency == "quarterly").fillna(False).to_numpy(bool)
    settled_in = np.where(quarterly, window.calendar.quarter_last_month(months), months)
    closed = pd.Series([month_name(m) for m in settled_in], index=adj.index).isin(prior.closed_months)
    paid = prior.paid_adjustments
    paid_keys = set(zip(paid["rep_id"], paid["period"], paid["amount"], paid["reason"], strict=True))
    already = np.array([(r, p, c, why) in paid_keys for r, p, c, why in zip(
        adj["rep_id"], adj["period"], adj["cents"], adj["reason"], strict=True)], dtype=bool)
    for row in adj[closed.to_numpy() & ~already].itertuples():
        problems.append(Problem.hold(
            "adjustments", f"{row.period} is closed; date it in {window.period}", row=row.row, rep_id=row.rep_id))
    due = adj[~closed.to_numpy() & ~already]
    out = pd.DataFrame({"rep_id": due["rep_id"].to_numpy(), "attainment_period": due["period"].to_numpy(),
                        "amount": due["cents"].to_numpy(), "detail": due["reason"].to_numpy(),
                        "_seq": due["row"].to_numpy()})
    return out.sort_values(["rep_id", "attainment_period", "_seq"]).reset_index(drop=True), problems


def payable_reps(current, line_periods, adjustments, plans, window) -> set[str]:
    """Reps with lines this run: assigned in the payout period, or with money moving.

    A quarterly plan's reps get lines only in the last month of a quarter (rule 11).
    """
    month_start = pd.Timestamp(month_first_day(window.run_month))
    quarterly = plan_values(current["plan_id"], plans, lambda p: p.payout_frequency == "quarterly")
    pays_now = ~quarterly | window.calendar.is_quarter_end(window.run_month)
    period_start = month_start if not window.calendar.is_quarter_end(window.run_month) else pd.Timestamp(
        month_first_day(window.run_month - 2))
    first = np.where(quarterly, period_start.to_datetime64(), month_start.to_datetime64())
    active = (current["start"] <= window.last_day) & (current["end"] >= first)
    moving = np.concatenate([line_periods["rep_id"].to_numpy()[line_periods["amount"].to_numpy() != 0],
                             adjustments["rep_id"].to_numpy()])
    return set(current.index[(active | current.index.isin(moving)) & pays_now])


def current_period_figures(line_periods, window, plans, current) -> pd.DataFrame:
    """credited, quota and attainment of each component's attainment period containing the run month."""
    kinds = {c.id: c.attainment_period for p in plans.values() for c in p.components}
    now = {kind: window.calendar.period_of(kind, window.run_month) for kind in ("month", "quarter", "year")}
    # Each line's current period found once per line id (a missing id counts as a year line).
    line_codes, line_ids = pd.factorize(line_periods["line"].to_numpy(dtype=object))
    current_of = np.array([now[kinds.get(x, "year")] for x in line_ids] + [now["year"]], dtype=object)
    is_now = ((line_periods["kind"].to_numpy() == "component")
              & (line_periods["attainment_period"].to_numpy() == current_of[line_codes]))
    return line_periods.loc[is_now, ["rep_id", "line", "credited", "quota", "attainment"]]


def rep_directory(reps: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """One row per rep: the latest reps row's name and contact, the current plan and currency."""
    latest = reps.take(latest_rows(reps["rep_id"], reps["start_date"])).set_index("rep_id")
    info = pd.DataFrame(index=latest.index)
    for column in ("name", "email", "locale", "manager_id"):
        info[column] = latest[column] if column in latest else None
    info["plan_id"] = current["plan_id"].reindex(info.index)
    info["currency"] = current["currency"].reindex(info.index)
    return info.rename_axis("rep_id").reset_index()


def credit_detail(comp_credits, lines, calendar, plans) -> pd.DataFrame:
    """Credited transactions per rep and component, for statements and explain."""
    columns = [c for c in ("txn_id", "date", "account_id", "type", "product", "amount", "currency", "share",
                           "role", "reverses", "via_rep_id") if c in lines]
    take = comp_credits["line_idx"].to_numpy()
    out = {c: rows_of(lines[c], take) for c in columns}
    kinds = {c.id: c.attainment_period for p in plans.values() for c in p.components}
    # Each line's period kind found once per line id: integer codes, not a million strings, compared.
    line_codes, line_names = run_codes(comp_credits["line"].to_numpy(dtype=object))
    periods = np.empty(len(comp_credits), dtype=object)
    for kind in ("month", "quarter", "year"):
        mask = np.isin(line_codes, [code for code, name in enumerate(line_names) if kinds.get(name) == kind])
        if mask.any():
            periods[mask] = period_names(calendar, kind, comp_credits["month"].to_numpy()[mask])
    # base/band/portion_*: what a per-transaction table rated each credit on (issue 16), for explain.
    for c in ("rep_id", "plan_id", "line", "multiplier", "fx_rate", "credited", "base", "band", "portion_num",
              "portion_den"):
        if c in comp_credits:
            out[c] = comp_credits[c].to_numpy()
    out["attainment_period"] = periods
    # Unconsolidated (no copy of a million rows): only explain and statements read it, by rep.
    return frame_of(out)


def exceptions_frame(period: str, problems: list[Problem]) -> pd.DataFrame:
    """exceptions.csv rows (the tables decide hold or notice for reps they do not know)."""
    rows = [(period, p.severity, p.table, p.row, p.txn_id, p.rep_id, p.reason) for p in problems]
    frame = pd.DataFrame(rows, columns=list(EXCEPTION_COLUMNS)).drop_duplicates()
    frame["row"] = pd.array(frame["row"], dtype="Int64")
    return frame.sort_values(["severity", "table", "row", "txn_id", "rep_id", "reason"], kind="stable",
                             na_position="first").reset_index(drop=True)

