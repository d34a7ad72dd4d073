"""Rules 4 to 7: what each line has earned to date in each attainment period.

One home per family: `commission` (retroactive and marginal tiers, attainment or amount
basis, caps), `curve` (payout curves on a prorated target), `apply_gates`, `bonus_rows`
and `spif_rows`. Inputs are frames keyed by (rep_id, line, attainment_period); results
are rounded once, half up, to the cent (rule 10).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import numpy as np
import pandas as pd

from compensation.measure import period_names, period_totals, quotas_for, where_at
from compensation.money import _EXACT, product_cents, round_exact, to_decimal
from compensation.periods import Calendar
from compensation.plan import Commission, Component, PayoutCurve, Plan

PERIOD_SHARE = {"month": Decimal(1) / 12, "quarter": Decimal(1) / 4, "year": Decimal(1)}


def commission(credited: np.ndarray, quota: np.ndarray, rule: Commission) -> np.ndarray:
    """Earned cents from tiers (rule 4). `quota` is float cents, NaN when absent."""
    credited = np.asarray(credited, dtype=np.int64)
    froms = np.array([float(t.from_) for t in rule.tiers])
    rates = np.array([float(t.rate) for t in rule.tiers])
    on_amount = rule.basis == "amount"
    if rule.method == "retroactive":
        position = credited / 100.0 if on_amount else np.divide(credited, quota)
        tier = np.clip(np.searchsorted(froms, np.nan_to_num(position, nan=0.0), side="right") - 1, 0, None)
        return product_cents(credited / 100.0, rates[tier])
    # Marginal: each slice of credited value pays the rate of its band.
    edges = np.outer(np.ones(len(credited)), froms * 100.0) if on_amount else np.outer(quota, froms)
    edges = np.nan_to_num(edges, nan=0.0)
    uppers = np.hstack([edges[:, 1:], np.full((len(credited), 1), np.inf)])
    c = credited.astype(float)[:, None]
    slices = np.clip(c, edges, uppers) - edges
    slices[:, 0] = np.minimum(credited, uppers[:, 0])  # a net negative lands in the first band
    approx = (slices * rates).sum(axis=1)

    def exact(i: int) -> Decimal:
        parts = marginal_slices(Decimal(int(credited[i])), [to_decimal(e) for e in edges[i]])
        return sum((_EXACT.multiply(part, tier.rate) for part, tier in zip(parts, rule.tiers, strict=True)),
                   Decimal(0))

    return round_exact(approx, exact)


def marginal_edges(quota: float, rule: Commission) -> list[Decimal]:
    """Band lower edges in cents: `from` x quota, or `from` itself with `basis: amount`."""
    if rule.basis == "amount":
        return [t.from_ * 100 for t in rule.tiers]
    q = to_decimal(quota) if quota == quota else Decimal(0)
    return [t.from_ * q for t in rule.tiers]


def marginal_slices(value: Decimal, lows: list[Decimal]) -> list[Decimal]:
    """The part of `value` in each band [lows[k], lows[k+1]); a net negative lands in the first."""
    parts = []
    for k, low in enumerate(lows):
        high = lows[k + 1] if k + 1 < len(lows) else None
        part = value if k == 0 else max(Decimal(0), value - low)
        if high is not None:
            part = min(part, high if k == 0 else high - low)
        parts.append(part)
    return parts


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


def curve_targets(rows: pd.DataFrame, candidates: pd.DataFrame, assignments: pd.DataFrame,
                  plans: Mapping[str, Plan], calendar: Calendar) -> tuple[np.ndarray, Callable[[int], Decimal]]:
    """Curve target of each (rep_id, line, attainment_period) row (rule 5).

    The sum over the period's assignments of target incentive x weight x period share x
    assigned days / period days.

    Returns float cents per row, and a function giving row i's exact Decimal target.
    """
    keys = ["rep_id", "line", "attainment_period"]
    parts = candidates.merge(rows[keys].drop_duplicates(), on=keys)
    parts = parts.merge(assignments[["assignment", "end", "target_incentive"]], on="assignment")
    weights = {(pid, c.id): (c.payout_curve.weight, PERIOD_SHARE[c.attainment_period])
               for pid, p in plans.items() for c in p.components if c.payout_curve}
    pair = list(zip(parts["plan_id"], parts["line"], strict=True))
    parts["weight"] = [weights.get(k, (Decimal(0), Decimal(0)))[0] for k in pair]
    parts["share"] = [weights.get(k, (Decimal(0), Decimal(0)))[1] for k in pair]
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


def component_earned(rows: pd.DataFrame, comp: Component, targets) -> np.ndarray:
    """Earned-to-date cents of one component's rows, before gates; caps per attainment period."""
    credited = rows["credited"].to_numpy(dtype=np.int64)
    quota = rows["quota"].to_numpy(dtype=float)
    if comp.commission is not None:
        earned = commission(credited, quota, comp.commission)
    else:
        approx_target, exact_target = targets
        earned = curve(credited, quota, approx_target, comp.payout_curve, exact_target)
    if comp.cap is not None:
        earned = np.minimum(earned, int(comp.cap * 100))
    return earned


def gate_open(rows: pd.DataFrame, comp: Component, attainments: pd.DataFrame, gating: Component,
              calendar: Calendar, run_month: int) -> np.ndarray:
    """Rule 6: whether each gated row's gate is open.

    The gating component's attainment to date, in its period containing the end of the
    gated period (or the run month, if earlier), must reach `min_attainment`.
    """
    ends_of = {p: min(calendar.bounds(p)[1], run_month) for p in rows["attainment_period"].unique()}
    ends = rows["attainment_period"].map(ends_of).to_numpy()
    gating_periods = calendar.periods_of(gating.attainment_period, ends)
    lookup = attainments.set_index(["rep_id", "line", "attainment_period"])["attainment"]
    keys = pd.MultiIndex.from_arrays([rows["rep_id"].to_numpy(), np.full(len(rows), gating.id), gating_periods])
    att = lookup.reindex(keys).to_numpy(dtype=float) if len(lookup) else np.full(len(rows), np.nan)
    return np.nan_to_num(att, nan=-np.inf) >= float(comp.gate.min_attainment)


def bonus_attainment(comp_credits: pd.DataFrame, quotas: pd.DataFrame, requests: pd.DataFrame,
                     component: Component, per: str, calendar: Calendar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Credited, quota and attainment of a component over each bonus `per` period in `requests`."""
    totals = period_totals(comp_credits[comp_credits["line"] == component.id], {component.id: per}, calendar)
    keyed = totals.set_index(["rep_id", "attainment_period"])["credited"]
    keys = pd.MultiIndex.from_arrays([requests["rep_id"].to_numpy(), requests["attainment_period"].to_numpy()])
    credited = (keyed.reindex(keys).fillna(0).to_numpy(dtype=np.int64) if len(keyed)
                else np.zeros(len(requests), np.int64))
    quota = quotas_for(requests.assign(quota_key=component.quota_key), quotas, calendar)
    return credited, quota, np.divide(credited.astype(float), quota)


def spif_rows(lines: pd.DataFrame, plans: Mapping[str, Plan], calendar: Calendar) -> pd.DataFrame:
    """Rule 7: SPIF earnings per credit line, keyed by fiscal year.

    per_transaction x share for each direct credit line matching a SPIF, minus for a
    credited cancellation; the window is judged on the original's date.
    """
    frames = []
    # Rows are picked as positions and columns taken as arrays: the wide frame is never copied.
    direct = pd.isna(lines["via_rep_id"].to_numpy(dtype=object))
    plan_ids = lines["plan_id"].to_numpy(dtype=object)
    for plan_id, plan in plans.items():
        if not plan.spifs:
            continue
        plan_rows = np.flatnonzero(direct & (plan_ids == plan_id))
        for spif in plan.spifs:
            rows = plan_rows[where_at(lines, plan_rows, spif.where)]
            is_cancel = lines["is_cancel"].to_numpy(dtype=bool)[rows]
            when = np.where(is_cancel, lines["orig_date"].to_numpy()[rows], lines["date"].to_numpy()[rows])
            inside = np.ones(len(rows), dtype=bool)
            if spif.from_:
                inside &= when >= pd.Timestamp(spif.from_).to_datetime64()
            if spif.to:
                inside &= when <= pd.Timestamp(spif.to).to_datetime64()
            rows, is_cancel = rows[inside], is_cancel[inside]
            if not len(rows):
                continue
            sign = np.where(is_cancel, -1.0, 1.0)
            earned = product_cents(np.full(len(rows), float(spif.per_transaction)),
                                   lines["share"].to_numpy(dtype=float)[rows], sign)
            frames.append(pd.DataFrame({
                "rep_id": lines["rep_id"].to_numpy()[rows], "line": spif.id,
                "attainment_period": period_names(calendar, "year", lines["month"].to_numpy()[rows]),
                "earned_to_date": earned, "plan_id": plan_id, "txn_id": lines["txn_id"].to_numpy()[rows],
            }))
    if not frames:
        return pd.DataFrame(columns=["rep_id", "line", "attainment_period", "earned_to_date", "plan_id", "txn_id"])
    return pd.concat(frames, ignore_index=True)
