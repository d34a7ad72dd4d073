"""What closed months paid, as the engine needs it: the prior state of a run (rule 8).

The ledger only stores and returns rows; this is where they become what was paid per
line and attainment period, each rep's balance after its latest closed month, the
adjustments already paid, what each rep was paid so far in the fiscal year, and the
payment-timing flows of held balances.
"""

from __future__ import annotations

import pandas as pd

from compensation.ledger import ClosedRows
from compensation.periods import Calendar, month_index
from compensation.results import PriorState


def prior_state(closed: ClosedRows, period: str, calendar: Calendar) -> PriorState:
    """The prior state of a run of `period` from the rows of the closed runs before it."""
    if not closed.period_of_run:
        return PriorState()
    period_of_run = closed.period_of_run
    lp, st = closed.line_periods, closed.settlements
    empty = PriorState()
    paid = empty.paid
    if len(lp):
        paid = (lp.groupby(["rep_id", "line", "attainment_period"], dropna=False, sort=True)
                ["amount"].sum().reset_index())
        paid["amount"] = paid["amount"].astype("int64")
    balances, year_paid = empty.balances, empty.year_paid
    if len(st):
        st = st.assign(period=st["run_id"].map(period_of_run))
        last = st.sort_values(["period", "run_id"]).groupby("rep_id", sort=True).tail(1)
        balances = pd.DataFrame({
            "rep_id": last["rep_id"].to_numpy(dtype=object),
            "balance": last["balance_after"].astype("int64").to_numpy(),
        }).sort_values("rep_id", ignore_index=True)
        fiscal_year = calendar.fiscal_year(month_index(period))
        this_year = st[calendar.in_fiscal_year(st["period"], fiscal_year)]
        if len(this_year):
            year_paid = (this_year.groupby("rep_id", sort=True)["pay"].sum().astype("int64")
                         .rename("pay").reset_index())
    adjustments = empty.paid_adjustments
    adj = lp[lp["kind"] == "adjustment"] if len(lp) else lp
    if len(adj):
        run_period = adj["run_id"].map(period_of_run)
        own = adj["attainment_period"].where(
            adj["attainment_period"].astype(str).str.fullmatch(r"\d{4}-\d{2}"), run_period)
        adjustments = pd.DataFrame({
            "rep_id": adj["rep_id"].to_numpy(dtype=object),
            "period": own.to_numpy(dtype=object),
            "amount": adj["amount"].astype("int64").to_numpy(),
            "reason": adj["detail"].to_numpy(dtype=object),
        }).sort_values(["period", "rep_id"], ignore_index=True, kind="stable")
    held = empty.held
    if len(closed.held):  # payment timing: every closed run's flows, across fiscal years
        held = closed.held.drop(columns="run_id").reset_index(drop=True)
        for c in ("withheld", "released", "forfeited"):
            held[c] = held[c].astype("int64")
    return PriorState(closed_months=frozenset(period_of_run.values()), paid=paid, balances=balances,
                      paid_adjustments=adjustments, year_paid=year_paid, held=held)
