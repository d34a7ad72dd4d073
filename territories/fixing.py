"""Fix-and-resolve: the first plan from the LP relaxation, without repairing move by move.

With balance limits only, the LP relaxation is nearly a transportation problem: a basic
optimal solution has at most about (reps + binding rows) fractional accounts, a few
hundred out of 20,000. So every account the LP assigns whole (value >= 1 - 1e-6) is fixed
to that rep, and a small MILP over the other accounts, with each row's window shifted by
what the fixed accounts already use (residual balance, capacity and max_moved), places
the rest. When that MILP is infeasible, more accounts are freed: those of the reps the
fractional accounts touch, then those of their nearest reps as well. The plan keeps every
row of the block's model, and its cost is within a few tenths of a percent of the LP bound.
"""

from __future__ import annotations

import time

import numpy as np

from territories.chains import chain_repair
from territories.instance import Instance
from territories.model import Model, activities, start_values
from territories.repair import polish, repair, rounded
from territories.solvers import solve_highs

_WHOLE = 1 - 1e-6
WHOLE_BLOCK = 2000  # up to this many accounts, the last ring frees the whole block


def sub_model(model: Model, fixed_choice: np.ndarray, free: np.ndarray) -> tuple[Model, np.ndarray]:
    """The MILP over the `free` accounts, the others fixed to `fixed_choice`.

    Keeps the pair columns of free accounts and every non-pair column (z, slacks); drops
    the assign rows of fixed accounts; shifts every other row by the fixed accounts' use.
    Returns the model and, per kept column, its column in `model`.
    """
    is_free = np.zeros(len(fixed_choice), dtype=bool)
    is_free[free] = True
    pair_free = is_free[model.pair_acc]
    x = np.zeros(len(model.cost))
    fixed_pair = ~pair_free & (fixed_choice[model.pair_acc] == model.pair_rep)
    x[: model.n_pairs] = fixed_pair
    used = activities(model, x)
    keep_col = np.r_[pair_free, np.ones(len(model.cost) - model.n_pairs, dtype=bool)]
    keep_row = np.ones(len(model.row_lo), dtype=bool)
    keep_row[: len(model.block)] = is_free[model.block]  # assign rows come first, in block order
    col_new = np.full(len(model.cost), -1, dtype=np.int64)
    col_new[keep_col] = np.arange(int(keep_col.sum()))
    row_new = np.full(len(model.row_lo), -1, dtype=np.int64)
    row_new[keep_row] = np.arange(int(keep_row.sum()))
    nz = keep_col[model.cols] & keep_row[model.rows]
    integer = model.integer[keep_col].copy()
    integer[: int(pair_free.sum())] = True  # pair columns are whole even in an LP's model
    names = [n for n, k in zip(model.row_names, keep_row, strict=True) if k]
    slack = {n: int(col_new[c]) for n, c in model.slack.items() if n in set(names)}
    sub = Model(np.asarray(free, dtype=np.int64), model.pair_acc[pair_free],
                model.pair_rep[pair_free], model.cost[keep_col], model.lower[keep_col],
                model.upper[keep_col], integer, row_new[model.rows[nz]],
                col_new[model.cols[nz]], model.vals[nz], (model.row_lo - used)[keep_row],
                (model.row_hi - used)[keep_row], names, {n: model.meta[n] for n in names}, slack,
                None if model.zcol is None else int(col_new[model.zcol]), model.scale, model.layout)
    return sub, np.flatnonzero(keep_col)


def fix_and_resolve(inst: Instance, model: Model, lp_values: np.ndarray, row_dual, base: np.ndarray,
                    seconds: float, gap: float) -> tuple[np.ndarray, float] | None:
    """(plan, objective in model units) keeping every row of `model`, or None.

    `model` is the block's LP model, `lp_values`/`row_dual` its optimal solution; `base`
    gives the rep of accounts outside the block. First the small MILP over the fractional
    accounts; when it has no solution, the rounded LP repaired (single moves, then chains,
    `territories.chains`). Then larger rings of free accounts (the cheapest to move by
    reduced cost), each MILP warm-started from the best plan so far, until a plan is
    within `gap` (relative) of the LP objective or the time is up.
    """
    deadline = time.perf_counter() + seconds
    values = lp_values[: model.n_pairs]
    choice = rounded(inst, model.pair_acc, model.pair_rep, values, base)
    lp_cost = float(model.cost @ lp_values)
    pairs = (model.block, model.pair_acc, model.pair_rep, model.cost[: model.n_pairs])
    best: tuple[np.ndarray, float] | None = None

    def consider(plan: np.ndarray) -> None:
        nonlocal best
        if model.zcol is None:
            plan = polish(inst, plan, *pairs)
        x = start_values(model, plan, inst)
        act = activities(model, x)
        if np.any(act < model.row_lo - 1e-7) or np.any(act > model.row_hi + 1e-7):
            return
        objective = float(model.cost @ x)
        if best is None or objective < best[1] - 1e-12:
            best = (plan, objective)

    rings = list(_rings(inst, model, values, row_dual, choice))
    for n_ring, free in enumerate(rings):
        left = deadline - time.perf_counter()
        if left <= 0.05 or best is not None and best[1] - lp_cost <= gap * abs(best[1]) + 1e-9:
            break
        if not len(free):  # the LP is integral
            consider(choice)
            continue
        fixed_plan = choice if best is None else best[0]
        sub, cols = sub_model(model, fixed_plan, free)
        warm = None if best is None else start_values(model, best[0], inst)[cols]
        limit = left if n_ring == len(rings) - 1 else max(left / 3, min(left, 1.0))
        # tiny sub-MILPs exactly (ties broken by travel), others to a share of the gap
        sub_gap = 0.0 if sub.n_pairs <= 500 else max(gap * abs(lp_cost) / 4, 1e-6)
        solved = solve_highs(sub, time_limit=limit, gap=sub_gap,
                             threads=inst.scenario.solver.threads, absolute=True, start=warm)
        if solved.values is not None:
            consider(rounded(inst, sub.pair_acc, sub.pair_rep, solved.values[: sub.n_pairs],
                             fixed_plan))
        if best is None and n_ring == 0:  # rounding by moves: repair, then chains
            plan = repair(inst, choice, model.block,
                          seconds=min(2.0, max(deadline - time.perf_counter(), 0.1) / 4))
            plan = chain_repair(inst, plan, *pairs,
                                seconds=max(deadline - time.perf_counter(), 0.1) / 2)
            consider(plan)
    return best


def _rings(inst: Instance, model: Model, values, row_dual, choice):
    """Nested sets of accounts to free: the fractional ones, then more by reduced cost.

    An account's price of moving is the least reduced cost of its other pairs minus that
    of its own (0 for the fractional ones); the cheapest go first, in rings of about 3,
    10 and 30 times the fractional count, then the whole block.
    """
    block = model.block
    own = np.zeros(inst.n)
    np.maximum.at(own, model.pair_acc, values)
    fractional = block[own[block] < _WHOLE]
    yield fractional
    if row_dual is None:
        yield block
        return
    rc = model.cost[: model.n_pairs] - np.bincount(
        model.cols, weights=model.vals * np.asarray(row_dual)[model.rows],
        minlength=len(model.cost))[: model.n_pairs]
    mine = choice[model.pair_acc] == model.pair_rep
    own_rc = np.zeros(inst.n)
    own_rc[model.pair_acc[mine]] = rc[mine]
    alt = np.full(inst.n, np.inf)
    np.minimum.at(alt, model.pair_acc[~mine], rc[~mine])
    price = alt[block] - own_rc[block]
    price[own[block] < _WHOLE] = -np.inf
    order = block[np.argsort(price, kind="stable")]
    for times in (3, 10, 30):
        size = times * len(fractional) + 20 * times
        if size >= len(block):
            break
        yield order[:size]
    if len(block) <= WHOLE_BLOCK:
        yield block
