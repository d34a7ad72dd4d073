"""Rule 5: payout curves on a prorated target.

The one home of curve arithmetic: the engine, `explain` and the statements all call
`curve_value` / `curve_exact`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import numpy as np
import pandas as pd

from compensation.codes import combined_codes, merge_pairs, shared_codes
from compensation.money import _EXACT, round_exact, to_decimal
from compensation.periods import Calendar
from compensation.plan import PayoutCurve, Plan

_DAY_NS = 86_400 * 10**9
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
    # Integer codes: each distinct key (its first row) takes every assignment of its rep, as
    # a merge of the distinct keys with the assignments on rep_id pairs them.
    (row_rep, assignment_rep), _ = shared_codes(rows["rep_id"].to_numpy(), assignments["rep_id"].to_numpy())
    line_codes, line_ids = pd.factorize(rows["line"].to_numpy(dtype=object))
    period_codes, period_names = pd.factorize(rows["attainment_period"].to_numpy(dtype=object))
    key_of_row, _ = pd.factorize(combined_codes(row_rep, line_codes, period_codes))
    firsts = np.unique(key_of_row, return_index=True)[1]
    owner, which = merge_pairs(row_rep[firsts], assignment_rep)
    # (plan, line) -> weight and period share, looked up through a table of the distinct pairs.
    plan_codes, plan_ids = pd.factorize(assignments["plan_id"].to_numpy(dtype=object))
    weight = np.full((len(plan_ids) + 1, len(line_ids) + 1), Decimal(0), dtype=object)
    share = weight.copy()
    line_at = {name: j for j, name in enumerate(line_ids)}
    for i, pid in enumerate(plan_ids):
        for c in plans[pid].components if pid in plans else ():
            if c.payout_curve and c.id in line_at:
                j = line_at[c.id]
                weight[i, j], share[i, j] = c.payout_curve.weight, PERIOD_SHARE[c.attainment_period]
    cell = (plan_codes[which], line_codes[firsts][owner])  # code -1 (missing) picks the last row/column: 0
    # Period bounds in the order the parts first name them; a missing name fails there.
    part_periods = period_codes[firsts][owner]
    day_bounds = np.zeros((len(period_names) + 1, 2), dtype="datetime64[ns]")
    for code in pd.unique(part_periods):
        name = period_names[code] if code >= 0 else rows["attainment_period"].to_numpy()[period_codes < 0][0]
        day_bounds[code] = [np.datetime64(d, "ns") for d in calendar.day_bounds(name)]
    first, last = day_bounds[part_periods, 0], day_bounds[part_periods, 1]
    start = assignments["start"].to_numpy(dtype="datetime64[ns]")[which]
    end = assignments["end"].to_numpy(dtype="datetime64[ns]")[which]
    span = np.minimum(end, last) - np.maximum(start, first)  # NaT where a date is missing: no days
    days = np.floor_divide(span.view(np.int64), _DAY_NS) + 1
    period_days = (last - first).view(np.int64) // _DAY_NS + 1
    target_incentive = assignments["target_incentive"].to_numpy(dtype=float)[which]
    kept = ~np.isnat(span) & (days > 0) & ~np.isnan(target_incentive)
    owner, cell, days, period_days = owner[kept], (cell[0][kept], cell[1][kept]), days[kept], period_days[kept]
    target_incentive = target_incentive[kept]
    value = (target_incentive * weight.astype(float)[cell] * share.astype(float)[cell] * days / period_days)
    # Summed per key in the parts' order, as a groupby of the keys sums them; a key with a
    # missing value sums nothing (groupby drops it).
    complete = ((row_rep >= 0) & (line_codes >= 0) & (period_codes >= 0))[firsts]
    grouped = complete[owner]
    sums = np.zeros(len(firsts))
    if grouped.any():
        summed = pd.Series(value[grouped] * 100).groupby(owner[grouped]).sum()
        sums[summed.index.to_numpy()] = summed.to_numpy()
    approx = sums[key_of_row]
    columns: dict = {}

    def exact(i: int) -> Decimal:
        if not columns:  # built on first use: most runs never need it
            # Each key's parts, in their own order: parts are in key order already.
            columns.update(bounds=np.searchsorted(owner, np.arange(len(firsts) + 1)).tolist(),
                           ti=target_incentive.tolist(), weight=weight[cell], share=share[cell],
                           days=days.tolist(), period_days=period_days.tolist())
        key = int(key_of_row[i])
        lo, hi = columns["bounds"][key], columns["bounds"][key + 1]
        ti, weight_, share_ = columns["ti"], columns["weight"], columns["share"]
        days_, period_days_ = columns["days"], columns["period_days"]
        return sum((to_decimal(ti[j]) * weight_[j] * share_[j] * days_[j] / period_days_[j]
                    for j in range(lo, hi)), Decimal(0))

    return approx, exact
