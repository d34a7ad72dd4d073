"""Rule 1's measure and rule 3: credited value per component, quotas and attainment.

`component_credits` turns credit lines into credited cents per component: the `where`
filter, the first matching multiplier, FX into the plan currency, then one rounding
to the cent per credit (rule 10). `period_totals` sums them per attainment period and
`quotas_for` finds the quota of each period (rows inside it, or a longer period's
quota split evenly).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from compensation.errors import Problem
from compensation.money import product_cents
from compensation.periods import Calendar, month_name
from compensation.plan import Plan


def where_mask(frame: pd.DataFrame, where: Mapping[str, tuple[str, ...]]) -> np.ndarray:
    """Every key must match; a tuple of values means one of. Unknown columns match nothing."""
    mask = np.ones(len(frame), dtype=bool)
    for column, wanted in where.items():
        if column not in frame.columns:
            return np.zeros(len(frame), dtype=bool)
        mask &= frame[column].astype(str).isin(wanted).to_numpy()
    return mask


def fx_factors(lines: pd.DataFrame, plan_currency: np.ndarray, fx: pd.DataFrame, base_currency: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numerator and denominator rates converting each line to its plan currency, and a missing mask.

    Converting X to plan currency Y uses rate(X) / rate(Y) of the line's month (base = 1).
    """
    plan_ccy = plan_currency.astype(str)
    txn_ccy = lines["currency"].to_numpy(dtype=object)
    txn_ccy = np.where(pd.isna(txn_ccy), plan_ccy, txn_ccy).astype(str)
    months = lines["month"].to_numpy()
    same = txn_ccy == plan_ccy
    rates = {}
    if len(fx):
        fx_months = fx["period"].map(lambda p: int(p[:4]) * 12 + int(p[5:7]) - 1)
        rates = dict(zip(zip(fx_months, fx["currency"], strict=True), fx["rate"], strict=True))

    def lookup(ccy: np.ndarray, months: np.ndarray) -> np.ndarray:
        keys = pd.MultiIndex.from_arrays([months, ccy])
        found = pd.Series(rates, dtype=float).reindex(keys).to_numpy() if rates else np.full(len(ccy), np.nan)
        return np.where(ccy == base_currency, 1.0, found)

    num = np.ones(len(lines))
    den = np.ones(len(lines))
    todo = ~same
    if todo.any():
        num[todo] = lookup(txn_ccy[todo], months[todo])
        den[todo] = lookup(plan_ccy[todo], months[todo])
    missing = np.isnan(num) | np.isnan(den)
    return num, den, missing


def component_credits(
    lines: pd.DataFrame, plans: Mapping[str, Plan], fx: pd.DataFrame, base_currency: str,
) -> tuple[pd.DataFrame, list[Problem]]:
    """Credited cents per (credit line, component): line_idx, rep_id, plan_id, line, multiplier, fx_rate, credited."""
    problems: list[Problem] = []
    plan_currency = lines["plan_id"].map({pid: p.currency for pid, p in plans.items()}).to_numpy()
    num, den, missing = fx_factors(lines, plan_currency, fx, base_currency)
    if missing.any():
        lacking = lines[missing].assign(plan_currency=plan_currency[missing])
        for row in lacking.drop_duplicates(["txn_id", "rep_id"]).itertuples():
            ccy = row.currency if isinstance(row.currency, str) else row.plan_currency
            need = ", ".join(c for c in dict.fromkeys((ccy, row.plan_currency)) if c != base_currency)
            problems.append(Problem.hold(
                "fx", f"no fx rate for {need} in {month_name(row.month)} to convert transaction {row.txn_id} "
                f"into {row.plan_currency}; add a row to fx (period {month_name(row.month)})",
                txn_id=row.txn_id, rep_id=row.rep_id))
    frames = []
    for plan_id, plan in plans.items():
        in_plan = (lines["plan_id"] == plan_id).to_numpy() & ~missing
        if not in_plan.any():
            continue
        plan_lines = lines[in_plan]
        idx = np.flatnonzero(in_plan)
        for comp in plan.components:
            m = comp.measure
            sel = where_mask(plan_lines, m.where)
            if m.credit == "direct":
                sel &= plan_lines["via_rep_id"].isna().to_numpy()
            if not sel.any():
                continue
            chosen = plan_lines[sel]
            factor = np.ones(len(chosen))
            if m.multipliers:
                conditions = [where_mask(chosen, mult.where) for mult in m.multipliers]
                factor = np.select(conditions, [float(mult.factor) for mult in m.multipliers], default=1.0)
            value = pd.to_numeric(chosen[m.value], errors="coerce").fillna(0.0).to_numpy(dtype=float)
            if m.value != "amount":
                # A cancellation reverses the original's value (it borrowed the original's columns).
                value = np.where(chosen["is_cancel"].to_numpy(), -np.abs(value), value)
            rows = idx[sel]
            credited = product_cents(value, chosen["share"].to_numpy(dtype=float), factor, num[rows],
                                     divisor=den[rows])
            frames.append(pd.DataFrame({
                "line_idx": rows, "rep_id": chosen["rep_id"].to_numpy(), "plan_id": plan_id,
                "line": comp.id, "month": chosen["month"].to_numpy(), "multiplier": factor,
                "fx_rate": num[rows] / den[rows], "credited": credited,
            }))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
            ("line_idx", "int64"), ("rep_id", object), ("plan_id", object), ("line", object),
            ("month", "int64"), ("multiplier", float), ("fx_rate", float), ("credited", "int64"))}), problems
    return pd.concat(frames, ignore_index=True), problems


def period_totals(comp_credits: pd.DataFrame, kinds: Mapping[str, str], calendar: Calendar) -> pd.DataFrame:
    """Credited cents per (rep_id, line, attainment_period) for the period kind of each line."""
    frames = []
    for kind in ("month", "quarter", "year"):
        lines = [line for line, k in kinds.items() if k == kind]
        part = comp_credits[comp_credits["line"].isin(lines)]
        if part.empty:
            continue
        frames.append(pd.DataFrame({
            "rep_id": part["rep_id"].to_numpy(), "line": part["line"].to_numpy(),
            "attainment_period": calendar.periods_of(kind, part["month"].to_numpy()),
            "credited": part["credited"].to_numpy(),
        }))
    if not frames:
        return pd.DataFrame({"rep_id": pd.Series(dtype=object), "line": pd.Series(dtype=object),
                             "attainment_period": pd.Series(dtype=object), "credited": pd.Series(dtype="int64")})
    return pd.concat(frames).groupby(["rep_id", "line", "attainment_period"], as_index=False, sort=False)[
        "credited"].sum()


def quotas_for(requests: pd.DataFrame, quotas: pd.DataFrame, calendar: Calendar) -> np.ndarray:
    """Quota (float cents, NaN when none) of each request row (rep_id, quota_key, attainment_period).

    Rows of exactly that period win; else rows inside it (quarters before months); else
    the shortest longer period containing it, split evenly by months (annual / 4 a quarter).
    """
    out = np.full(len(requests), np.nan)
    if quotas.empty or requests.empty:
        return out
    q = quotas.assign(
        first=quotas["period"].map(lambda p: calendar.bounds(p)[0]),
        last=quotas["period"].map(lambda p: calendar.bounds(p)[1]),
        cents=np.round(quotas["amount"].to_numpy(dtype=float) * 100),
    ).rename(columns={"component": "quota_key"})
    q["months"] = q["last"] - q["first"] + 1
    req = requests[["rep_id", "quota_key", "attainment_period"]].reset_index(drop=True)
    bounds = {p: calendar.bounds(p) for p in req["attainment_period"].unique()}
    req["first"] = req["attainment_period"].map(lambda p: bounds[p][0])
    req["last"] = req["attainment_period"].map(lambda p: bounds[p][1])
    req["_req"] = np.arange(len(req))
    pairs = req.merge(q[["rep_id", "quota_key", "first", "last", "months", "cents"]],
                      on=["rep_id", "quota_key"], suffixes=("", "_q"))
    if pairs.empty:
        return out
    exact = (pairs["first_q"] == pairs["first"]) & (pairs["last_q"] == pairs["last"])
    inside = (pairs["first_q"] >= pairs["first"]) & (pairs["last_q"] <= pairs["last"]) & ~exact
    containing = (pairs["first_q"] <= pairs["first"]) & (pairs["last_q"] >= pairs["last"]) & ~exact
    req_months = pairs["last"] - pairs["first"] + 1
    # Preference: exact (0), inside with the coarsest granularity, then the shortest container.
    pairs["rank"] = np.select([exact, inside, containing], [0, 100 - pairs["months"], 1000 + pairs["months"]], -1)
    pairs["value"] = np.where(containing, pairs["cents"] * req_months / pairs["months"], pairs["cents"])
    pairs = pairs[pairs["rank"] >= 0]
    best = pairs.groupby("_req")["rank"].transform("min")
    chosen = pairs[pairs["rank"] == best]
    # Several rows of the same period (or granularity inside) add up; a container is unique.
    sums = chosen.groupby("_req")["value"].sum()
    out[sums.index.to_numpy()] = sums.to_numpy()
    return out
