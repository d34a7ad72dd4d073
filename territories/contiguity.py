"""Contiguity: every territory is one connected piece of the account adjacency graph.

Single-commodity flow per rep (Shirabe 2005): a rep picks at most one root account
(`y`); the root may send flow, every other account of the territory must receive one
unit more than it sends, and flow runs only along adjacency edges between two accounts
of that territory. So a territory with accounts is connected exactly when such a flow
exists. Flow columns exist only where both ends are candidates of the rep.

The adjacency is `data/adjacency.csv` (account_id, neighbour_id) when given, else the
Delaunay triangulation of the account locations: a documented approximation (two
accounts can be neighbours across a lake, a mountain range or a state line).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from compensation.errors import IcmError
from territories.blocks import BlockSolve
from territories.geo import delaunay_edges
from territories.instance import InfeasibleError, Instance, NoSolutionError
from territories.model import Model, build_model
from territories.repair import repair, rounded, start_choice
from territories.solvers import run_model


def adjacency_for(inst: Instance, adjacency: pd.DataFrame | None) -> np.ndarray:
    """Undirected edges (i < j) between account indexes."""
    if adjacency is None:
        if not inst.has_geo:
            raise IcmError.at("data/accounts.csv", None,
                              "contiguity needs data/adjacency.csv (account_id, neighbour_id) "
                              "or lat and lon on every account to derive neighbours")
        return delaunay_edges(inst.accounts["lat"].to_numpy(), inst.accounts["lon"].to_numpy())
    pos = pd.Series(np.arange(inst.n), index=inst.accounts["account_id"].to_numpy())
    a = adjacency["account_id"].astype(str).map(pos)
    b = adjacency["neighbour_id"].astype(str).map(pos)
    bad = a.isna() | b.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        unknown = adjacency["account_id"].iloc[i] if a.isna().iloc[i] else adjacency[
            "neighbour_id"].iloc[i]
        raise IcmError.at("data/adjacency.csv", i + 2,
                          f"account {unknown} is not in accounts; fix the id or delete the row "
                          f"({int(bad.sum())} such rows)")
    edges = np.sort(np.column_stack([a.to_numpy(int), b.to_numpy(int)]), axis=1)
    edges = edges[edges[:, 0] != edges[:, 1]]
    return np.unique(edges, axis=0)


def components(n: int, edges: np.ndarray, members: np.ndarray) -> int:
    """Number of connected pieces the accounts `members` form (union-find)."""
    parent = {int(i): int(i) for i in members}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in edges.tolist():
        if i in parent and j in parent:
            parent[find(i)] = find(j)
    return len({find(x) for x in parent})


def broken_territories(assignments: pd.DataFrame, edges: np.ndarray) -> list[str]:
    """Rep ids whose accounts form more than one connected piece."""
    reps = assignments["rep_id"].to_numpy(dtype=object)
    return sorted(r for r in set(reps)
                  if components(len(reps), edges, np.flatnonzero(reps == r)) > 1)


def with_contiguity(inst: Instance, model: Model, edges: np.ndarray) -> Model:
    """`model` plus root and flow columns and the rows that make each territory connected."""
    n_x = model.n_pairs
    big = float(len(model.block))
    arcs = np.concatenate([edges, edges[:, ::-1]])
    # directed arcs (i -> j) per rep r where both i and j may go to r
    frame = pd.DataFrame({"acc": model.pair_acc, "rep": model.pair_rep, "x": np.arange(n_x)})
    out = frame.merge(pd.DataFrame({"acc": arcs[:, 0], "to": arcs[:, 1]}), on="acc")
    out = out.merge(frame.rename(columns={"acc": "to", "x": "x_to"}), on=["to", "rep"])
    n_f = len(out)
    y0, f0 = len(model.cost), len(model.cost) + n_x
    n_rows = len(model.row_lo)
    rep_ids = inst.reps["rep_id"].to_numpy(dtype=object)
    ids = inst.accounts["account_id"].to_numpy(dtype=object)
    reps = np.unique(model.pair_rep)
    root_row = pd.Series(n_rows + np.arange(len(reps)), index=reps)
    in_row = n_rows + len(reps)  # inflow rows, one per pair
    root_le_x = in_row + n_x  # y <= x, one per pair
    cap_row = root_le_x + n_x  # two per arc
    x_idx = np.arange(n_x)
    f_idx = np.arange(n_f)
    rows = [root_row[model.pair_rep].to_numpy(),  # sum y <= 1
            in_row + x_idx, in_row + x_idx,  # inflow: -x + M y
            root_le_x + x_idx, root_le_x + x_idx,  # y - x <= 0
            in_row + out["x_to"].to_numpy(), in_row + out["x"].to_numpy(),  # + in - out
            cap_row + f_idx, cap_row + f_idx, cap_row + n_f + f_idx, cap_row + n_f + f_idx]
    cols = [y0 + x_idx, x_idx, y0 + x_idx, y0 + x_idx, x_idx, f0 + f_idx, f0 + f_idx,
            f0 + f_idx, out["x"].to_numpy(), f0 + f_idx, out["x_to"].to_numpy()]
    vals = [np.ones(n_x), -np.ones(n_x), np.full(n_x, big), np.ones(n_x), -np.ones(n_x),
            np.ones(n_f), -np.ones(n_f), np.ones(n_f), np.full(n_f, 1 - big), np.ones(n_f),
            np.full(n_f, 1 - big)]
    names = ([f"one_root[{rep_ids[r]}]" for r in reps]
             + [f"connected[{ids[a]},{rep_ids[r]}]" for a, r in zip(model.pair_acc, model.pair_rep,
                                                                     strict=True)]
             + [f"root_in_territory[{k}]" for k in range(n_x)]
             + [f"flow_cap[{k}]" for k in range(2 * n_f)])
    lo = np.concatenate([np.full(len(reps), -np.inf), np.zeros(n_x), np.full(n_x, -np.inf),
                         np.full(2 * n_f, -np.inf)])
    hi = np.concatenate([np.ones(len(reps)), np.full(n_x, np.inf), np.zeros(n_x),
                         np.zeros(2 * n_f)])
    return dataclasses.replace(
        model,
        cost=np.concatenate([model.cost, np.zeros(n_x + n_f)]),
        lower=np.concatenate([model.lower, np.zeros(n_x + n_f)]),
        upper=np.concatenate([model.upper, np.ones(n_x), np.full(n_f, big - 1)]),
        integer=np.concatenate([model.integer, np.ones(n_x, bool), np.zeros(n_f, bool)]),
        rows=np.concatenate([model.rows, *[np.asarray(r, np.int64) for r in rows]]),
        cols=np.concatenate([model.cols, *[np.asarray(c, np.int64) for c in cols]]),
        vals=np.concatenate([model.vals, *vals]),
        row_lo=np.concatenate([model.row_lo, lo]), row_hi=np.concatenate([model.row_hi, hi]),
        row_names=model.row_names + names)


def align_contiguous(inst: Instance, edges: np.ndarray, clock, make_result):
    """Solve the whole book at once with connected territories (no decomposition)."""
    opts = inst.scenario.solver
    block = np.arange(inst.n)
    start = repair(inst, start_choice(inst, block), block, seconds=opts.time_limit / 4)
    base = build_model(inst, block)
    model = with_contiguity(inst, base, edges)
    solved = run_model(model, opts.name, max(opts.time_limit - clock(), 1.0), opts.gap,
                       opts.threads)
    if solved.status == "infeasible":
        raise InfeasibleError("contiguity is infeasible with the other limits: no plan keeps "
                              "every territory in one piece; loosen balance or drop contiguity")
    if solved.status == "none":
        raise NoSolutionError(f"no connected alignment found within {opts.time_limit:g} s "
                              f"({len(model.cost):,} columns); raise solver.time_limit")
    choice = rounded(inst, model.pair_acc, model.pair_rep, solved.values[: model.n_pairs], start)
    bound = solved.bound if math.isfinite(solved.bound) else -math.inf
    solve = BlockSolve(choice, solved.status, solved.objective, bound, "MILP", model.n_pairs)
    return make_result(inst, choice, [solve], clock,
                       (f"contiguity: {len(edges):,} adjacency edges, solved in "
                        f"{solved.seconds:.1f} s",))
