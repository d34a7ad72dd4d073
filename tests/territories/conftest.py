import itertools

import numpy as np
import pandas as pd
import pytest

from territories.geo import haversine_km, rep_homes
from territories.instance import build_instance
from territories.scenario import AlignmentScenario


def make_accounts(potential, owners, *, region=None, workload=None, locked=None, lat=None,
                  lon=None, last_year=None):
    n = len(potential)
    return pd.DataFrame({
        "account_id": [f"A{i}" for i in range(n)],
        "potential": np.asarray(potential, dtype=float),
        "workload": np.ones(n) if workload is None else np.asarray(workload, dtype=float),
        "region": region if region is not None else [None] * n,
        "lat": np.full(n, np.nan) if lat is None else np.asarray(lat, dtype=float),
        "lon": np.full(n, np.nan) if lon is None else np.asarray(lon, dtype=float),
        "rep_id": owners,
        "last_year": np.zeros(n) if last_year is None else np.asarray(last_year, dtype=float),
        "locked": np.zeros(n, dtype=bool) if locked is None else np.asarray(locked, dtype=bool),
        "row": np.arange(n) + 2,
    })


def make_reps(ids, *, region=None, capacity=None, lat=None, lon=None, start=None):
    m = len(ids)
    return pd.DataFrame({
        "rep_id": list(ids),
        "region": region if region is not None else [None] * m,
        "capacity": np.ones(m) if capacity is None else np.asarray(capacity, dtype=float),
        "lat": np.full(m, np.nan) if lat is None else np.asarray(lat, dtype=float),
        "lon": np.full(m, np.nan) if lon is None else np.asarray(lon, dtype=float),
        "start_date": pd.to_datetime(start if start is not None else ["2020-01-01"] * m),
        "end_date": pd.to_datetime([None] * m),
        "row": np.arange(m) + 2,
    })


def scenario(**kw) -> AlignmentScenario:
    kw.setdefault("solver", {"gap": 0, "time_limit": 30})
    return AlignmentScenario.model_validate(kw)


def brute_force(reps, accounts, sc: AlignmentScenario):
    """Best objective over every assignment that honours every constraint (None if none)."""
    inst = build_instance(reps, accounts, sc)
    n, m = inst.n, inst.m
    allowed = [sorted(inst.cand_rep[inst.cand_acc == a]) for a in range(n)]
    pot, wl = inst.pot, inst.wl
    cur = inst.cur
    owned = inst.owned
    if sc.objective == "distance":
        homes = rep_homes(inst.reps, inst.accounts)
        km = haversine_km(inst.accounts["lat"].to_numpy()[:, None],
                          inst.accounts["lon"].to_numpy()[:, None],
                          homes["lat"].to_numpy()[None, :], homes["lon"].to_numpy()[None, :])
    best = None
    for combo in itertools.product(*allowed):
        choice = np.array(combo, dtype=int)
        ok = True
        for _, metric, side, _, bound in inst.limits:
            coef = {"potential": pot, "workload": wl}.get(metric, np.ones(n))
            load = np.bincount(choice, weights=coef, minlength=m)
            if side == "hi" and (load > bound + 1e-9).any():
                ok = False
            if side == "lo" and (load < bound - 1e-9).any():
                ok = False
        moved = pot[owned & (choice != cur)].sum()
        if sc.max_moved is not None and moved > sc.max_moved * pot.sum() + 1e-9:
            ok = False
        if not ok:
            continue
        if sc.objective == "disruption":
            value = moved
        elif sc.objective == "distance":
            value = float((wl * km[np.arange(n), choice]).sum())
        else:
            devs = [np.abs(np.bincount(choice, weights=pot, minlength=m) / inst.fair_pot - 1)]
            if sc.balance.workload is not None:
                devs.append(np.abs(np.bincount(choice, weights=wl, minlength=m) / inst.fair_wl - 1))
            value = float(max(d.max() for d in devs))
        if best is None or value < best - 1e-12:
            best = value
    return best


@pytest.fixture
def tiny():
    accounts = make_accounts([50, 40, 30, 20, 10, 10], ["R1", "R1", "R1", "R2", "R2", "R3"],
                             region=["N", "N", "S", "S", "N", "S"],
                             lat=[45.0, 45.1, 44.0, 44.2, 45.3, 44.1],
                             lon=[9.0, 9.2, 11.0, 11.3, 9.1, 11.1])
    reps = make_reps(["R1", "R2", "R3"], region=["N", "S", "S"],
                     lat=[45.0, 44.0, 44.5], lon=[9.0, 11.0, 10.0])
    return reps, accounts


def grid(rows: int, cols: int):
    """Ids and 4-neighbour edges of a rows x cols grid, row by row."""
    edges = []
    for r in range(rows):
        for col in range(cols):
            i = r * cols + col
            if col + 1 < cols:
                edges.append((i, i + 1))
            if r + 1 < rows:
                edges.append((i, i + cols))
    return [f"A{i}" for i in range(rows * cols)], np.array(edges)
