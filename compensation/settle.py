"""Rules 8 to 11: from earned-to-date to what each rep is paid this month.

`true_up` subtracts what closed months already paid per (rep, line, attainment period);
`settle` turns each rep's earned lines, the balance owed from before and the draw into
pay, the new balance and the `recovery`, `draw` and `carry_forward` lines; `register`
lays it all out as payouts.csv rows in SPEC order, payment timing's `held`, `release`
and `forfeit` lines (issue 17) after the SPIFs. All money is int64 cents.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from compensation.assignments import plan_values
from compensation.periods import Calendar, month_indexes
from compensation.plan import Plan

EARNED_KINDS = ("component", "bonus", "spif", "adjustment")
SETTLEMENT_LINES = ("recovery", "draw", "carry_forward")
TIMING_LINES = ("held", "release", "forfeit")
# Register order after the plan's lines (SPEC section 6, issue 17).
KIND_RANK = {"component": 0, "bonus": 1, "spif": 2, "held": 3, "release": 4, "forfeit": 5, "adjustment": 6,
             "recovery": 7, "draw": 8, "carry_forward": 8}


def true_up(
    line_periods: pd.DataFrame, paid: pd.DataFrame, fy_periods: set[str], kinds: Mapping[str, str]
) -> pd.DataFrame:
    """Rule 8: amount = rounded earned-to-date minus what closed months paid, per period.

    Keys that closed months paid but that earn nothing now (a plan or data change) come
    back with earned 0 so the difference is paid or recovered.
    """
    paid = paid[paid["attainment_period"].isin(fy_periods) & (paid["line"] != "adjustment")]
    paid = paid.groupby(["rep_id", "line", "attainment_period"], as_index=False)["amount"].sum()
    paid = paid.rename(columns={"amount": "paid_before"})
    merged = line_periods.merge(paid, on=["rep_id", "line", "attainment_period"], how="outer", indicator=True)
    only_paid = merged["_merge"] == "right_only"
    merged.loc[only_paid, "kind"] = merged.loc[only_paid, "line"].map(lambda x: kinds.get(x, "component"))
    merged = merged.drop(columns="_merge")
    merged["earned_to_date"] = merged["earned_to_date"].fillna(0).astype("int64")
    merged["paid_before"] = merged["paid_before"].fillna(0).astype("int64")
    merged["amount"] = merged["earned_to_date"] - merged["paid_before"]
    return merged


def draw_active(current: pd.DataFrame, plans: Mapping[str, Plan], calendar: Calendar, run_month: int) -> pd.Series:
    """Rule 9: the draw runs for the first `periods` payout periods of the assignment span."""
    start = month_indexes(current["span_start"].to_numpy())
    quarterly = plan_values(current["plan_id"], plans, lambda p: p.payout_frequency == "quarterly").to_numpy(bool)
    quarters = calendar.quarter_number(run_month) - calendar.quarter_number(start)
    elapsed = np.where(quarterly, quarters, run_month - start) + 1
    periods = plan_values(current["plan_id"], plans, lambda p: p.draw.periods if p.draw else 0).to_numpy()
    return pd.Series((elapsed >= 1) & (elapsed <= periods), index=current.index)


def settle(
    earned: pd.Series, balances: pd.DataFrame, current: pd.DataFrame, active: pd.Series, plans: Mapping[str, Plan]
) -> pd.DataFrame:
    """Rule 9 per rep: net = earned - balance owed; pay = max(net, draw floor); new balance."""
    frame = pd.DataFrame({"earned": earned.astype("int64")})
    frame["balance_before"] = balances.set_index("rep_id")["balance"].reindex(frame.index).fillna(0).astype("int64")
    frame["plan_id"] = current["plan_id"].reindex(frame.index)
    frame["currency"] = plan_values(frame["plan_id"], plans, lambda p: p.currency)
    frame["draw_active"] = active.reindex(frame.index).fillna(False).astype(bool)
    draw_cents = plan_values(frame["plan_id"], plans, lambda p: int(p.draw.amount * 100) if p.draw else 0)
    recoverable = plan_values(frame["plan_id"], plans, lambda p: p.draw.recoverable if p.draw else True)
    frame["net"] = frame["earned"] - frame["balance_before"]
    frame["floor"] = np.where(frame["draw_active"], draw_cents, 0).astype("int64")
    frame["pay"] = np.maximum(frame["net"], frame["floor"])
    frame["balance_after"] = np.where(recoverable, frame["pay"] - frame["net"], np.maximum(0, -frame["net"]))
    return frame.rename_axis("rep_id").reset_index()


def settlement_lines(settlement: pd.DataFrame) -> pd.DataFrame:
    """`recovery` (minus the balance owed from before) and `draw` or `carry_forward` (pay - net)."""
    s = settlement
    recovery = s[s["balance_before"] != 0].assign(line="recovery", amount=lambda f: -f["balance_before"])
    top_up = s[s["pay"] > s["net"]].assign(
        line=lambda f: np.where(f["draw_active"], "draw", "carry_forward"), amount=lambda f: f["pay"] - f["net"]
    )
    out = pd.concat([recovery, top_up], ignore_index=True)
    return out[["rep_id", "line", "amount"]].assign(kind=out["line"])


def register(
    period: str,
    line_periods: pd.DataFrame,
    adjustments: pd.DataFrame,
    extra: pd.DataFrame,
    reps: pd.DataFrame,
    current: pd.DataFrame,
    plans: Mapping[str, Plan],
    current_periods: pd.DataFrame,
) -> pd.DataFrame:
    """Lay out payouts.csv rows in SPEC section 6 order.

    Per rep: the current plan's components (always), other lines that move money this
    run, held, release and forfeit, adjustments, then recovery and draw or carry_forward.
    """
    lp = line_periods
    sums = (
        lp.groupby(["rep_id", "line", "kind"], as_index=False, sort=False)[["earned_to_date", "paid_before", "amount"]]
        .sum()
        .rename(columns={"paid_before": "paid_to_date"})
    )
    plan_lines = pd.DataFrame(
        [(pid, line, i) for pid, p in plans.items() for i, line in enumerate(p.line_ids)],
        columns=["plan_id", "line", "_in_plan"],
    )
    sums = sums.assign(plan_id=sums["rep_id"].map(current["plan_id"])).merge(
        plan_lines, on=["plan_id", "line"], how="left"
    )
    in_plan = sums["_in_plan"].notna().to_numpy()
    sums = sums.drop(columns=["plan_id", "_in_plan"])
    is_component = (sums["kind"] == "component").to_numpy()
    keep = (in_plan & is_component) | (sums["amount"] != 0).to_numpy()
    lines = sums[keep].merge(current_periods, on=["rep_id", "line"], how="left")
    lines.loc[lines["kind"] != "component", ["credited", "quota", "attainment"]] = np.nan
    # Every component of the current plan has a row, even with nothing credited yet.
    comps = pd.DataFrame([(pid, c.id) for pid, p in plans.items() for c in p.components], columns=["plan_id", "line"])
    present = current.loc[current.index.isin(lp["rep_id"].unique()), ["plan_id"]].rename_axis("rep_id").reset_index()
    wanted = present.merge(comps, on="plan_id")[["rep_id", "line"]]
    missing = wanted.merge(lines[["rep_id", "line"]], how="left", indicator=True)
    missing = missing[missing["_merge"] == "left_only"].drop(columns="_merge")
    if len(missing):
        lines = pd.concat(
            [lines, missing.assign(kind="component", earned_to_date=0, paid_to_date=0, amount=0)], ignore_index=True
        )
    adj = adjustments.assign(kind="adjustment", line="adjustment")
    lines = pd.concat([lines, adj, extra], ignore_index=True)

    lines["_kind"] = lines["kind"].map(KIND_RANK)
    lines = lines.assign(plan_id=lines["rep_id"].map(current["plan_id"])).merge(
        plan_lines, on=["plan_id", "line"], how="left"
    )
    lines["_in_plan"] = lines["_in_plan"].fillna(1000)
    lines["_group"] = np.where(lines["_kind"] <= 2, 0, lines["_kind"])
    lines["_seq"] = pd.to_numeric(lines["_seq"], errors="coerce").fillna(0) if "_seq" in lines else 0
    lines = lines.sort_values(["rep_id", "_group", "_in_plan", "_kind", "line", "_seq"], kind="stable")

    out = pd.DataFrame(
        {
            "period": period,
            "rep_id": lines["rep_id"].to_numpy(),
            "name": lines["rep_id"].map(reps.set_index("rep_id")["name"]).to_numpy(),
            "line": lines["line"].to_numpy(),
            "credited": pd.array(lines["credited"], dtype="Int64"),
            "quota": pd.array(np.floor(lines["quota"].to_numpy(dtype=float) + 0.5), dtype="Int64"),
            "attainment": lines["attainment"].to_numpy(dtype=float),
            "earned_to_date": pd.array(lines["earned_to_date"], dtype="Int64"),
            "paid_to_date": pd.array(lines["paid_to_date"], dtype="Int64"),
            "amount": pd.array(lines["amount"], dtype="Int64"),
            "currency": lines["rep_id"].map(current["currency"]).to_numpy(),
            "kind": lines["kind"].to_numpy(),
            "plan_id": lines["rep_id"].map(current["plan_id"]).to_numpy(),
        }
    )
    # A forfeit row records what was forfeited as its earned and paid to date (amount 0.00).
    blank = out["kind"].isin(("adjustment", "held", "release", *SETTLEMENT_LINES))
    out.loc[blank, ["earned_to_date", "paid_to_date"]] = pd.NA
    return out.reset_index(drop=True)
