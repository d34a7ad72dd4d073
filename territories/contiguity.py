"""Contiguity: every territory is one connected piece of the account adjacency graph.

Single-commodity flow per rep (Shirabe 2005): a rep picks at most one root account
(`y`); the root may send flow, every other account of the territory must receive one
unit more than it sends, and flow runs only along adjacency edges between two accounts
of that territory. So a territory with accounts is connected exactly when such a flow
exists. Flow columns exist only where both ends are candidates of the rep.

The adjacency is `data/adjacency.csv` (account_id, neighbour_id) when given, else the
Delaunay triangulation of the account locations: a documented approximation (two
accounts can be neighbours across a lake, a mountain range or a state line).

HiGHS finds no first plan of this weak model by itself beyond a few dozen accounts, so
`align_contiguous` builds a connected start first (`territories.growth`) and gives it to
the MILP with its roots and flows (`flow_start`); the bound of the model without
contiguity, a relaxation, is reported when it is the stronger one.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from compensation.errors import IcmError
from territories.blocks import BlockSolve, heard
from territories.geo import delaunay_edges
from territories.growth import Graph, connected_start, graph, pieces
from territories.instance import (
    InfeasibleError,
    Instance,
    NoSolutionError,
    metric_vector,
    pair_cost,
)
from territories.model import Model, build_model, cost_scale, start_values
from territories.repair import rounded, violation
from territories.solvers import Solve, lp_solve, run_model

HEURISTIC_SHARE = 0.6  # of the time limit, at most, for the connected start (the MILP rarely
# improves it beyond a few hundred accounts; on small books the start stops early)
MILP_COLUMNS = 250_000  # above this, no MILP: HiGHS overran its limit by 38 s at 340,000 columns


def adjacency_for(inst: Instance, adjacency: pd.DataFrame | None) -> np.ndarray:
    """Undirected edges (i < j) between account indexes."""
    if adjacency is None:
        if not inst.has_geo:
            raise IcmError.at("data/accounts.csv", None,
                              "contiguity needs data/adjacency.csv (account_id, neighbour_id) "
                              "or lat and lon on every account to derive neighbours")
        return delaunay_edges(inst.accounts["lat"].to_numpy(), inst.accounts["lon"].to_numpy())
    blank = adjacency[["account_id", "neighbour_id"]].isna() | (
        adjacency[["account_id", "neighbour_id"]].astype(str).apply(lambda c: c.str.strip()) == "")
    if blank.to_numpy().any():
        i = int(np.flatnonzero(blank.any(axis=1).to_numpy())[0])
        column = "account_id" if blank["account_id"].iloc[i] else "neighbour_id"
        raise IcmError.at("data/adjacency.csv", i + 2, f"{column} is blank; each row names two neighbouring "
                          "accounts (account_id, neighbour_id): fill it in or delete the row")
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
    """Number of connected pieces the accounts `members` form."""
    inside = np.zeros(n, dtype=bool)
    inside[members] = True
    return len(pieces(graph(n, edges), np.asarray(members), inside))


def broken_territories(assignments: pd.DataFrame, edges: np.ndarray) -> list[str]:
    """Rep ids whose accounts form more than one connected piece."""
    codes, rep_ids = pd.factorize(assignments["rep_id"].to_numpy(dtype=object))
    return sorted(str(rep_ids[r]) for r in broken_territories_of(codes, graph(len(codes), edges)))


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
    flow = {"acc": out["acc"].to_numpy(np.int64), "to": out["to"].to_numpy(np.int64),
            "rep": out["rep"].to_numpy(np.int64), "y0": y0, "f0": f0}
    return dataclasses.replace(
        model, layout={**model.layout, "flow": flow},
        cost=np.concatenate([model.cost, np.zeros(n_x + n_f)]),
        lower=np.concatenate([model.lower, np.zeros(n_x + n_f)]),
        upper=np.concatenate([model.upper, np.ones(n_x), np.full(n_f, big - 1)]),
        integer=np.concatenate([model.integer, np.ones(n_x, bool), np.zeros(n_f, bool)]),
        rows=np.concatenate([model.rows, *[np.asarray(r, np.int64) for r in rows]]),
        cols=np.concatenate([model.cols, *[np.asarray(c, np.int64) for c in cols]]),
        vals=np.concatenate([model.vals, *vals]),
        row_lo=np.concatenate([model.row_lo, lo]), row_hi=np.concatenate([model.row_hi, hi]),
        row_names=model.row_names + names)


def flow_start(inst: Instance, model: Model, choice: np.ndarray, g: Graph) -> np.ndarray | None:
    """Column values of a connected plan: its pairs, one root per territory, and flows.

    The flow on each edge of a breadth-first tree from the root is the number of accounts
    below it, so every non-root account receives one unit more than it sends. None when a
    territory is not connected or needs an arc the model lacks.
    """
    x = start_values(model, choice, inst)
    flow = model.layout["flow"]
    n, m = inst.n, inst.m
    pair_key = model.pair_acc * m + model.pair_rep
    pair_order = np.argsort(pair_key)
    arc_key = (flow["acc"] * n + flow["to"]) * m + flow["rep"]
    arc_order = np.argsort(arc_key)

    def column(keys, order, key):
        pos = np.searchsorted(keys, key, sorter=order)
        return int(order[pos]) if pos < len(order) and keys[order[pos]] == key else None

    for r in np.unique(choice[model.block]).tolist():
        members = model.block[choice[model.block] == r]
        root = int(members[0])
        parent, seen, order = {root: -1}, {root}, [root]
        for i in order:  # breadth-first; `order` grows while it is read
            for j in g.of(i).tolist():
                if choice[j] == r and j not in seen:
                    seen.add(j)
                    parent[j] = i
                    order.append(j)
        if len(order) != len(members):
            return None
        col = column(pair_key, pair_order, root * m + r)
        if col is None:
            return None
        x[flow["y0"] + col] = 1.0
        below = dict.fromkeys(order, 1)
        for j in reversed(order[1:]):
            below[parent[j]] += below[j]
            arc = column(arc_key, arc_order, (parent[j] * n + j) * m + r)
            if arc is None:
                return None
            x[flow["f0"] + arc] = float(below[j])
    return x


def align_contiguous(inst: Instance, edges: np.ndarray, clock, make_result):
    """Connected start (`territories.growth`), then the whole book's flow MILP from it."""
    opts = inst.scenario.solver
    block = np.arange(inst.n)
    g = graph(inst.n, edges)
    loose = []  # (plan, bound) of the model without contiguity, once asked for

    def hints():
        loose.append(_without_contiguity(inst, block, min(opts.time_limit / 6, 30.0)))
        return [] if loose[0][0] is None else [loose[0][0]]

    # when the flow model is too large for the MILP, the start has nearly all the time
    big = _columns(inst, edges) > MILP_COLUMNS
    share = 0.9 if big else HEURISTIC_SHARE
    start, violated = connected_start(inst, edges, share * opts.time_limit - clock(), hints,
                                      on_first=clock.first)
    loose_bound = loose[0][1] if loose else -math.inf
    inst = with_pairs(inst, start)
    model = with_contiguity(inst, build_model(inst, block), edges)
    warm = flow_start(inst, model, start, g) if violated <= 1e-9 else None
    if warm is not None:
        clock.first()
    scale = 1.0 if inst.scenario.objective == "balance" else cost_scale(inst)
    if len(model.cost) <= MILP_COLUMNS:
        # HiGHS overruns its limit on these models by up to 10 s (measured)
        solved = run_model(model, opts.name, max(0.9 * (opts.time_limit - clock()), 1.0),
                           opts.gap, opts.threads, start=warm,
                           on_progress=heard(0, 1, scale, clock, clock.on_event))
    else:
        solved = Solve(None, "none", math.nan, math.nan, 0.0)
    if solved.status == "infeasible" and not inst.restricted:  # candidate lists prove nothing
        raise InfeasibleError("contiguity is infeasible with the other limits: no plan keeps "
                              "every territory in one piece; loosen balance or drop contiguity")
    note = f"contiguity: {len(edges):,} adjacency edges, " + (
        f"MILP {solved.seconds:.1f} s" if len(model.cost) <= MILP_COLUMNS else
        f"no MILP ({len(model.cost):,} columns, above {MILP_COLUMNS:,})")
    if warm is None:
        note += f"; the grown start broke a limit ({_broken_limits(inst, start)})"
    choice = None
    if solved.status != "none":
        choice = rounded(inst, model.pair_acc, model.pair_rep, solved.values[: model.n_pairs],
                         start)
        if broken_territories_of(choice, g) or violation(inst, choice, block) > 1e-9:
            choice = None  # a plan off by the solver's tolerances: keep the start
    if choice is None and warm is None:
        raise NoSolutionError(
            f"no connected alignment found within {opts.time_limit:g} s: the territories grown "
            f"along the adjacency and moved account by account still broke a limit "
            f"({_broken_limits(inst, start)}), and the MILP ({len(model.cost):,} columns) found "
            "no plan" + ("" if len(model.cost) <= MILP_COLUMNS else " (too large to run)")
            + ". Raise solver.time_limit, loosen balance or drop contiguity")
    if choice is None:
        choice, objective = start, float(model.cost @ warm)
        note += "; the grown start is the answer"
    else:
        objective = solved.objective
        if warm is not None and objective >= float(model.cost @ warm) - 1e-9 * abs(objective):
            note += "; the MILP found no better plan than the grown start"
    bound, kind = -math.inf, "MILP"
    if solved.status != "none" and math.isfinite(solved.bound):
        bound = solved.bound
    if loose_bound > bound:
        bound, kind = loose_bound, "MILP without contiguity"
    kind += " (candidate lists)" if inst.restricted else ""
    bound = min(bound, objective)
    status = "optimal" if solved.status == "optimal" and choice is not start or (
        math.isfinite(bound) and objective - bound <= opts.gap * abs(objective) + 1e-9) else "feasible"
    solve = BlockSolve(choice, status, objective, bound, kind, model.n_pairs)
    return make_result(inst, choice, [solve], clock, (note,))


def with_pairs(inst: Instance, plan: np.ndarray) -> Instance:
    """`inst` whose candidate lists also hold the plan's pairs (so it is a point of the model)."""
    acc = np.flatnonzero(plan >= 0)
    if not inst.restricted or not len(acc):
        return inst
    known = np.unique(inst.cand_acc.astype(np.int64) * inst.m + inst.cand_rep)
    keys = acc.astype(np.int64) * inst.m + plan[acc]
    pos = np.clip(np.searchsorted(known, keys), 0, len(known) - 1)
    acc = acc[known[pos] != keys]
    rep = plan[acc]
    return dataclasses.replace(inst, cand_acc=np.concatenate([inst.cand_acc, acc]),
                               cand_rep=np.concatenate([inst.cand_rep, rep]),
                               cost=np.concatenate([inst.cost, pair_cost(inst, acc, rep)]))


def _columns(inst: Instance, edges: np.ndarray) -> int:
    """Columns of the flow model: pairs, roots and a flow per arc whose ends share a rep."""
    n_pairs = len(inst.cand_acc)
    frame = pd.DataFrame({"acc": inst.cand_acc, "rep": inst.cand_rep})
    arcs = pd.DataFrame({"acc": np.r_[edges[:, 0], edges[:, 1]],
                         "to": np.r_[edges[:, 1], edges[:, 0]]})
    out = frame.merge(arcs, on="acc").merge(frame.rename(columns={"acc": "to"}), on=["to", "rep"])
    return 2 * n_pairs + len(out)


def _without_contiguity(inst: Instance, block: np.ndarray, seconds: float):
    """(plan, bound) of the model without contiguity: a relaxation, so its bound holds here.

    Its plan is the best seed for the connected start: most of its territories are one
    piece already, and the rest are small pieces to regrow.
    """
    opts = inst.scenario.solver
    model = build_model(inst, block)
    solved = run_model(model, opts.name, seconds, opts.gap, opts.threads)
    if solved.values is None:  # no plan in the time: the LP relaxation's bound still holds
        lp = lp_solve(build_model(inst, block, relax=True), seconds / 2, opts.threads)
        return None, lp.objective if lp.status == "optimal" else -math.inf
    plan = rounded(inst, model.pair_acc, model.pair_rep, solved.values[: model.n_pairs],
                   np.full(inst.n, -1, np.int64))
    return plan, solved.bound if math.isfinite(solved.bound) else -math.inf


def broken_territories_of(choice: np.ndarray, g: Graph) -> list[int]:
    """Rep indexes whose accounts form more than one connected piece."""
    broken = []
    for r in np.unique(choice[choice >= 0]).tolist():
        members = np.flatnonzero(choice == r)
        if len(pieces(g, members, choice == r)) > 1:
            broken.append(r)
    return broken


def _broken_limits(inst: Instance, choice: np.ndarray) -> str:
    """`balance_potential_hi: R01, R07 and 3 more`, for each limit the plan breaks."""
    out = []
    rep_ids = inst.reps["rep_id"].to_numpy(dtype=object)
    for label, metric, side, _, bound in inst.limits:
        load = np.bincount(choice[choice >= 0], weights=metric_vector(inst, metric)[choice >= 0],
                           minlength=inst.m)
        bad = load > bound * (1 + 1e-9) + 1e-7 if side == "hi" else load < bound * (1 - 1e-9) - 1e-7
        if bad.any():
            names = [str(x) for x in rep_ids[bad]]
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            out.append(f"{label}: {', '.join(names[:5])}{more}")
    if (choice < 0).any():
        out.append(f"{int((choice < 0).sum())} accounts no territory can reach along the adjacency")
    return "; ".join(out) or "max_moved"
