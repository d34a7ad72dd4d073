"""Rule 5: payout curves on a prorated target.

The one home of curve arithmetic: the engine, `explain` and the statements all call
`curve_value` / `curve_exact`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import numpy as np
import pandas as pd

from compensation.money import _EXACT, round_exact, to_decimal
from compensation.periods import Calendar
from compensation.plan import PayoutCurve, Plan

PERIOD_SHARE = {"month": Decimal(1) / 12, "quarter": Decimal(1) / 4, "year": Decimal(1)}


def curve_value(attainment: np.ndarray, curve: PayoutCurve) -> np.ndarray:
    """Payout fraction at each attainment: linear between points, last slope continues, capped."""
    xs = np.array([float(p[0]) for p in curve.points])
    ys = np.array([float(p[1]) for p in curve.points])
    x = np.nan_to_num(np.asarray(attainment, dtype=float), nan=0.0)
    y = np.interp(x, xs, ys)
    slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    y = np.where(x > xs[-1], ys[-1] + (x - xs[-1]) * slope, y)
    if curve.cap is not None:
        y = np.minimum(y, float(curve.cap))
    return y


def curve_exact(credited: int, quota: float, curve: PayoutCurve) -> Decimal:
    """`curve_value` in Decimal, for the rows whose rounding a float cannot settle."""
    x = _EXACT.divide(Decimal(int(credited)), to_decimal(quota)) if quota == quota and quota else Decimal(0)
    pts = curve.points
    if x <= pts[0][0]:
        return pts[0][1]
    seg = next((k for k in range(1, len(pts)) if x <= pts[k][0]), len(pts) - 1)
    (x0, y0), (x1, y1) = pts[seg - 1], pts[seg]
    y = y0 + _EXACT.divide(_EXACT.multiply(x - x0, y1 - y0), x1 - x0)
    return min(y, curve.cap) if curve.cap is not None else y


def curve(credited: np.ndarray, quota: np.ndarray, target: np.ndarray, rule: PayoutCurve,
          exact_target: Callable[[int], Decimal]) -> np.ndarray:
    """Earned cents of a payout curve (rule 5).

    Earned = target x curve(attainment); `target` is float cents per row and
    `exact_target(i)` its Decimal value (currency) for the rows a float cannot round.
    """
    attainment = np.divide(np.asarray(credited, dtype=float), quota)
    approx = np.asarray(target, dtype=float) * curve_value(attainment, rule)

    def exact(i: int) -> Decimal:
        return _EXACT.multiply(exact_target(i) * 100, curve_exact(credited[i], quota[i], rule))

    return round_exact(approx, exact)


def curve_targets(rows: pd.DataFrame, assignments: pd.DataFrame,
                  plans: Mapping[str, Plan], calendar: Calendar) -> tuple[np.ndarray, Callable[[int], Decimal]]:
    """Curve target of each (rep_id, line, attainment_period) row (rule 5).

    The sum over every assignment of the rep in the period, a later one already in `reps`
    included, of target incentive x weight x period share x assigned days / period days.

    Returns float cents per row, and a function giving row i's exact Decimal target.
    """
    keys = ["rep_id", "line", "attainment_period"]
    parts = rows[keys].drop_duplicates().merge(
        assignments[["rep_id", "assignment", "plan_id", "start", "end", "target_incentive"]], on="rep_id")
    # (plan, line) -> weight and period share, looked up through a table of the distinct pairs.
    plan_codes, plan_ids = pd.factorize(parts["plan_id"].to_numpy(dtype=object))
    line_codes, line_ids = pd.factorize(parts["line"].to_numpy(dtype=object))
    weight = np.full((len(plan_ids) + 1, len(line_ids) + 1), Decimal(0), dtype=object)
    share = weight.copy()
    line_at = {name: j for j, name in enumerate(line_ids)}
    for i, pid in enumerate(plan_ids):
        for c in plans[pid].components if pid in plans else ():
            if c.payout_curve and c.id in line_at:
                j = line_at[c.id]
                weight[i, j], share[i, j] = c.payout_curve.weight, PERIOD_SHARE[c.attainment_period]
    parts["weight"] = weight[plan_codes, line_codes]  # code -1 (missing) picks the last row/column: 0
    parts["share"] = share[plan_codes, line_codes]
    bounds = {p: tuple(pd.Timestamp(d) for d in calendar.day_bounds(p)) for p in parts["attainment_period"].unique()}
    first = parts["attainment_period"].map({p: b[0] for p, b in bounds.items()})
    last = parts["attainment_period"].map({p: b[1] for p, b in bounds.items()})
    parts["days"] = (np.minimum(parts["end"], last) - np.maximum(parts["start"], first)).dt.days + 1
    parts["period_days"] = (last - first).dt.days + 1
    parts = parts[(parts["days"] > 0) & parts["target_incentive"].notna()]
    value = (parts["target_incentive"].to_numpy(float) * parts["weight"].astype(float).to_numpy()
             * parts["share"].astype(float).to_numpy() * parts["days"].to_numpy() / parts["period_days"].to_numpy())
    sums = parts.assign(value=value * 100).groupby(keys)["value"].sum()
    index = pd.MultiIndex.from_frame(rows[keys])
    approx = sums.reindex(index).fillna(0.0).to_numpy()
    columns: dict = {}

    def exact(i: int) -> Decimal:
        if not columns:  # built on first use: most runs never need it
            columns.update((c, parts[c].to_numpy()) for c in ("target_incentive", "weight", "share", "days",
                                                              "period_days"))
            # Each part's row in `rows`, sorted stably: a row's parts in their own order.
            owner = (index.get_indexer(pd.MultiIndex.from_frame(parts[keys])) if index.is_unique
                     else np.full(len(parts), -1))
            order = np.argsort(owner, kind="stable")
            columns.update(order=order, owner=owner[order], by_key=None if index.is_unique
                           else parts.groupby(keys, sort=False).indices)
        ti, weight, share = columns["target_incentive"], columns["weight"], columns["share"]
        days, period_days = columns["days"], columns["period_days"]
        if columns["by_key"] is None:
            lo, hi = np.searchsorted(columns["owner"], [i, i + 1])
            mine = columns["order"][lo:hi]
        else:
            mine = columns["by_key"].get(index[i], ())
        return sum((to_decimal(float(ti[j])) * weight[j] * share[j] * int(days[j]) / int(period_days[j])
                    for j in mine), Decimal(0))

    return approx, exact
