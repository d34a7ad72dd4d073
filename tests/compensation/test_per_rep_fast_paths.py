"""The per-rep stages' integer-code paths give what pandas' merges, groupbys and sorts give.

Each fast path is checked against the pandas operation it replaces, on small random
frames with missing keys, duplicates and unsorted rows.
"""

import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from compensation.assignments import build_assignments, latest_rows, rep_date_order
from compensation.codes import key_codes, merge_pairs
from compensation.curves import PERIOD_SHARE, curve_targets
from compensation.measure import quotas_for
from compensation.periods import Calendar
from compensation.plan import Plan

PLAN = {
    "id": "p1", "name": "P", "currency": "EUR", "effective": {"from": "2026-01-01", "to": "2026-12-31"},
    "target_incentive": 50000,
    "components": [
        {"id": "new", "measure": {"value": "amount"}, "attainment_period": "year",
         "commission": {"method": "marginal", "tiers": [{"from": 0, "rate": 0.04}, {"from": 1, "rate": 0.07}]}},
        {"id": "renew", "measure": {"value": "amount"}, "attainment_period": "quarter",
         "payout_curve": {"weight": 0.3, "points": [[0, 0], [1, 1], [1.5, 2]]}},
    ],
}
PLANS = {"p1": Plan.model_validate(PLAN), "p2": Plan.model_validate({**PLAN, "id": "p2"})}
PERIODS = ["2026", "2026-Q1", "2026-Q2", "2026-Q4", "2026-01", "2026-02", "2026-12", "2025-Q4"]


def _reps(rng: random.Random, n: int, ids=("A", "B", "C", None)) -> pd.DataFrame:
    starts = pd.to_datetime([rng.choice(["2025-11-15", "2026-01-01", "2026-02-10", "2026-07-20"]) for _ in range(n)])
    return pd.DataFrame({
        "row": range(n), "rep_id": pd.Series([rng.choice(ids) for _ in range(n)], dtype=object),
        "name": [rng.choice(["x", "y"]) for _ in range(n)], "plan": [rng.choice(["p1", "p2"]) for _ in range(n)],
        "start_date": starts,
        "end_date": [pd.NaT if rng.random() < 0.4 else s + pd.Timedelta(days=rng.randint(0, 200)) for s in starts],
        "target_incentive": [rng.choice([np.nan, 1000.1, 0.0]) for _ in range(n)],
    })


@pytest.mark.parametrize("seed", range(40))
def test_merge_pairs_pairs_rows_as_an_inner_merge(seed):
    rng = random.Random(seed)
    keys = ["a", "b", None, np.nan]
    left = pd.DataFrame({"k": pd.Series([rng.choice(keys) for _ in range(rng.randint(0, 8))], dtype=object)})
    right = pd.DataFrame({"k": pd.Series([rng.choice(keys) for _ in range(rng.randint(0, 8))], dtype=object)})
    at, which = merge_pairs(*key_codes([left["k"].to_numpy()], [right["k"].to_numpy()]))
    merged = left.assign(i=range(len(left))).merge(right.assign(j=range(len(right))), on="k")
    assert at.tolist() == merged["i"].tolist() and which.tolist() == merged["j"].tolist()


def _quotas_by_merge(requests, quotas, calendar):
    """quotas_for as a merge of requests and quota rows (the reference)."""
    out = np.full(len(requests), np.nan)
    q = quotas.rename(columns={"component": "quota_key"}).assign(
        first=[calendar.bounds(p)[0] for p in quotas["period"]], last=[calendar.bounds(p)[1] for p in quotas["period"]],
        cents=np.round(quotas["amount"].to_numpy(dtype=float) * 100))
    q["months"] = q["last"] - q["first"] + 1
    req = requests[["rep_id", "quota_key"]].reset_index(drop=True).assign(
        first=[calendar.bounds(p)[0] for p in requests["attainment_period"]],
        last=[calendar.bounds(p)[1] for p in requests["attainment_period"]], _req=np.arange(len(requests)))
    pairs = req.merge(q[["rep_id", "quota_key", "first", "last", "months", "cents"]], on=["rep_id", "quota_key"],
                      suffixes=("", "_q"))
    exact = (pairs["first_q"] == pairs["first"]) & (pairs["last_q"] == pairs["last"])
    inside = (pairs["first_q"] >= pairs["first"]) & (pairs["last_q"] <= pairs["last"]) & ~exact
    containing = (pairs["first_q"] <= pairs["first"]) & (pairs["last_q"] >= pairs["last"]) & ~exact
    pairs["rank"] = np.select([exact, inside, containing], [0, 100 - pairs["months"], 1000 + pairs["months"]], -1)
    pairs["value"] = np.where(containing, pairs["cents"] * (pairs["last"] - pairs["first"] + 1) / pairs["months"],
                              pairs["cents"])
    pairs = pairs[pairs["rank"] >= 0]
    chosen = pairs[pairs["rank"] == pairs.groupby("_req")["rank"].transform("min")]
    sums = chosen.groupby("_req")["value"].sum()
    out[sums.index.to_numpy()] = sums.to_numpy()
    return out


@pytest.mark.parametrize("seed", range(60))
def test_quotas_for_matches_the_merge(seed):
    rng = random.Random(seed)
    calendar = Calendar(rng.choice([1, 4]))
    quotas = pd.DataFrame({"rep_id": [rng.choice(["A", "B", None]) for _ in range(rng.randint(1, 12))]})
    quotas["component"] = [rng.choice(["x", "y"]) for _ in range(len(quotas))]
    quotas["period"] = [rng.choice(PERIODS) for _ in range(len(quotas))]
    quotas["amount"] = [rng.choice([100.0, 1234.56, 0.005, 33.33]) for _ in range(len(quotas))]
    n = rng.randint(1, 10)
    requests = pd.DataFrame({"rep_id": pd.Series([rng.choice(["A", "B", "C", None]) for _ in range(n)], dtype=object),
                             "quota_key": [rng.choice(["x", "y"]) for _ in range(n)],
                             "attainment_period": [rng.choice(PERIODS) for _ in range(n)]}, index=np.arange(n) * 2)
    got, want = quotas_for(requests, quotas, calendar), _quotas_by_merge(requests, quotas, calendar)
    assert np.array_equal(got, want, equal_nan=True)


@pytest.mark.parametrize("seed", range(40))
def test_curve_targets_sum_every_assignment_of_the_period(seed):
    rng = random.Random(seed)
    calendar = Calendar()
    assignments, _ = build_assignments(_reps(rng, rng.randint(1, 8)), PLANS)
    n = rng.randint(1, 8)
    rows = pd.DataFrame({"rep_id": [rng.choice(["A", "B", "C"]) for _ in range(n)],
                         "line": [rng.choice(["renew", "new"]) for _ in range(n)],
                         "attainment_period": [rng.choice(["2026-Q1", "2026-Q2", "2026-Q3"]) for _ in range(n)]})
    approx, exact = curve_targets(rows, assignments, PLANS, calendar)
    for i, row in enumerate(rows.itertuples()):
        first, last = (pd.Timestamp(d) for d in calendar.day_bounds(row.attainment_period))
        want = Decimal(0)
        for a in assignments[assignments["rep_id"] == row.rep_id].itertuples():
            days = (min(a.end, last) - max(a.start, first)).days + 1
            if days > 0 and a.target_incentive == a.target_incentive and row.line == "renew":
                want += Decimal(repr(a.target_incentive)) * Decimal("0.3") * PERIOD_SHARE["quarter"] * days / (
                    (last - first).days + 1)
        assert exact(i) == want
        assert approx[i] == pytest.approx(float(want) * 100)


@pytest.mark.parametrize("seed", range(40))
def test_latest_rows_and_the_order_of_reps_match_sort_values(seed):
    rng = random.Random(seed)
    reps = _reps(rng, rng.randint(0, 9))
    if seed % 2:
        reps = reps.sort_values("rep_id", na_position="first" if seed % 4 == 1 else "last")
    order, _ = rep_date_order(reps["rep_id"], reps["start_date"])
    want = reps.sort_values(["rep_id", "start_date"])
    assert reps.index[order].tolist() == want.index.tolist()
    latest = want.groupby("rep_id").tail(1)
    assert reps.index[latest_rows(reps["rep_id"], reps["start_date"])].tolist() == latest.index.tolist()
