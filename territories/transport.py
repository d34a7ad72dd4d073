"""Transport pairs: candidate pairs along a rep-to-rep flow that balances the book.

Nearest-rep candidate lists can leave the restricted LP infeasible: a crowded metro's
reps hold several fair shares and their nearest reps are full too. The flow of potential
that fixes that is a small transportation problem between reps (400 x 400 arcs): each
rep's load plus inflow minus outflow within its window, each unit moved costing 1 plus
a little per km between rep homes (so the flow stays local where it can). For every arc
that carries flow, the sending rep's accounts nearest the receiving rep's home, worth
about twice the flow, become candidates of the receiver. The LP then has a feasible
route for every unit of excess, and the model stays small.
"""

from __future__ import annotations

import numpy as np

from territories.chains import windows
from territories.geo import haversine_km
from territories.instance import Instance, allowed, metric_vector
from territories.model import Model, block_reps
from territories.solvers import lp_solve

SPARE = 4  # each arc's nearest accounts worth this many times its flow
MIN_ACCOUNTS = 10  # and at least this many
_KM_PRICE = 1.0 / 20_000  # a unit moved across the world costs twice a unit moved next door


def flow_pairs(inst: Instance, block: np.ndarray, choice: np.ndarray,
               seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """(accounts, reps) of the pairs along the balancing flow; empty when none is needed."""
    spec = windows(inst)
    if spec is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    metric, lo, hi = spec
    w = metric_vector(inst, metric)
    reps = block_reps(inst, block)
    load = np.bincount(choice[block], weights=w[block], minlength=inst.m)[reps]
    n = len(reps)
    src, dst = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    cost = np.ones(len(src))
    if inst.homes is not None:
        h = inst.homes[reps]
        cost += _KM_PRICE * haversine_km(h[src, 0], h[src, 1], h[dst, 0], h[dst, 1])
    unit = float(np.mean(w[block])) or 1.0
    rows = np.r_[src, dst]
    cols = np.r_[np.arange(len(src)), np.arange(len(src))]
    vals = np.r_[-np.ones(len(src)), np.ones(len(src))]
    model = Model(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), cost,
                  np.zeros(len(src)), np.full(len(src), np.inf), np.zeros(len(src), bool),
                  rows, cols, vals, (lo[reps] - load) / unit, (hi[reps] - load) / unit,
                  [f"rep[{r}]" for r in reps], {})
    solved = lp_solve(model, max(seconds, 1.0), inst.scenario.solver.threads)
    if solved.values is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    flow = solved.values * unit
    arcs = np.flatnonzero(flow > 1e-6 * unit)
    owners = reps[src[arcs]]
    out_a, out_r = [], []
    in_block = block[np.isin(choice[block], owners)]
    by_owner = {int(r): in_block[choice[in_block] == r] for r in np.unique(owners)}
    lat = inst.accounts["lat"].to_numpy() if inst.homes is not None else None
    lon = inst.accounts["lon"].to_numpy() if inst.homes is not None else None
    for arc in arcs:
        giver, taker = int(reps[src[arc]]), int(reps[dst[arc]])
        accs = by_owner[giver]
        accs = accs[allowed(inst, accs, np.full(len(accs), taker))]
        if not len(accs):
            continue
        if lat is not None:
            d = haversine_km(lat[accs], lon[accs], inst.homes[taker, 0], inst.homes[taker, 1])
            accs = accs[np.argsort(d, kind="stable")]
        enough = np.searchsorted(np.cumsum(w[accs]), SPARE * flow[arc]) + 1
        take = accs[:max(enough, MIN_ACCOUNTS)]
        out_a.append(take)
        out_r.append(np.full(len(take), taker))
    if not out_a:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_a).astype(np.int64), np.concatenate(out_r).astype(np.int64)
