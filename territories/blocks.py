"""Solving one block of accounts: LP, first plan, bound with pricing, MILP, bound to report.

Order of work for a block (a region under `same_region`, else the whole book):
1. the LP relaxation; if the restricted one is infeasible, pairs along a balancing flow
   join (`territories.transport`), then k doubles (`widened`);
2. the first plan by fix-and-resolve from that LP (`territories.fixing`: fix the whole
   accounts, a small MILP over the fractional ones, else repair by moves and chains);
3. with candidate lists, *pricing*: every pair left out gets its reduced cost from the
   LP duals, the negative ones join and the LP is solved again, until none is negative
   (the full model's LP bound) or a few rounds do not lower it (the restricted model's);
   fix-and-resolve again on the priced LP when the plan is not within the gap;
4. the MILP on the (enriched) pairs, warm-started from the best plan so far, only for
   blocks the whole plan's gap still needs, reporting every improving plan;
5. with time left, the full LP over every allowed pair for the bound (`certified`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from territories.fixing import fix_and_resolve
from territories.instance import DEFAULT_K, Instance, candidate_pairs, full_pair_chunks, pair_cost
from territories.model import Model, build_model, pair_columns, start_values
from territories.repair import repair, rounded, start_choice, violation
from territories.solvers import Progress, lp_solve, run_model
from territories.transport import flow_pairs

PRICING_SHARE = 0.35  # of a block's time, at most, for the LP bound and pricing
ADD_PER_ACCOUNT = 3
FULL_LP_PAIRS = 1_500_000  # the full LP is tried for the bound up to this many pairs
STALLS = 3  # pricing rounds in a row that do not lower the LP before it stops
START_GAP = 0.02  # the first plan is taken within this of the LP (or twice the gap); improved later


@dataclass(frozen=True)
class BlockSolve:
    """One block's plan and what is known about it, in model units."""

    choice: np.ndarray  # rep per account (only the block's accounts are meaningful)
    status: str  # optimal | feasible | infeasible | none
    objective: float
    bound: float
    bound_kind: str  # "full model LP", "full model Lagrangian", "restricted model LP", "MILP"
    pairs: int


@dataclass(frozen=True)
class Event:
    """Progress of an alignment solve, in the objective's own units."""

    stage: str  # start | bound | plan
    block: int
    blocks: int
    seconds: float
    objective: float = math.nan
    bound: float = math.nan
    gap: float = math.nan


def widened(inst: Instance, block: np.ndarray, with_max_moved: bool, deadline: float):
    """(instance, LP) with enough candidates for the block's LP relaxation to be feasible.

    Nearest-rep lists can miss the chains a crowded metro needs (its reps all above their
    maximum, the reps with room far away): while the restricted LP is infeasible, first
    the pairs along a rep-to-rep balancing flow join (`territories.transport`), then k
    doubles; at k = number of reps it is the full model. The LP is None when not solved.
    """
    k = inst.scenario.candidates or DEFAULT_K
    flowed = False
    while time.perf_counter() < deadline:
        model = build_model(inst, block, relax=True, with_max_moved=with_max_moved)
        lp = lp_solve(model, max(deadline - time.perf_counter(), 1.0), inst.scenario.solver.threads)
        if lp.status != "infeasible" or not inst.restricted:
            return inst, (model, lp)
        other = ~np.isin(inst.cand_acc, block)
        if not flowed:
            flowed = True
            acc, rep = flow_pairs(inst, block, start_choice(inst, block),
                                  max(deadline - time.perf_counter(), 1.0) / 4)
            if len(acc):
                inst = _with_pairs(inst, block, np.r_[inst.cand_acc[~other], acc],
                                   np.r_[inst.cand_rep[~other], rep], restricted=True)
                continue
        k *= 2
        if k >= inst.m:
            chunks = list(full_pair_chunks(inst, block))
            acc = np.concatenate([c[0] for c in chunks])
            rep = np.concatenate([c[1] for c in chunks])
        else:
            acc, rep = candidate_pairs(inst, inst.fair_pot, k)
            keep = np.isin(acc, block)
            acc, rep = acc[keep], rep[keep]
            mine = ~other  # keep the pairs the block had (transport pairs among them)
            both = np.unique(np.column_stack([np.r_[inst.cand_acc[mine], acc],
                                              np.r_[inst.cand_rep[mine], rep]]), axis=0)
            acc, rep = both[:, 0], both[:, 1]
        inst = _with_pairs(inst, block, acc, rep, restricted=k < inst.m)
    return inst, None


def _with_pairs(inst: Instance, block: np.ndarray, acc: np.ndarray, rep: np.ndarray, *,
                restricted: bool) -> Instance:
    """The instance with the block's pairs replaced by (acc, rep), duplicates removed."""
    both = np.unique(np.column_stack([acc, rep]), axis=0)
    acc, rep = both[:, 0].astype(np.int64), both[:, 1].astype(np.int64)
    other = ~np.isin(inst.cand_acc, block)
    return dataclasses.replace(
        inst, cand_acc=np.concatenate([inst.cand_acc[other], acc]),
        cand_rep=np.concatenate([inst.cand_rep[other], rep]),
        cost=np.concatenate([inst.cost[other], pair_cost(inst, acc, rep)]),
        restricted=restricted)


def start_plan(inst: Instance, block: np.ndarray, seconds: float,
               with_max_moved: bool = True, relaxed=None) -> tuple[np.ndarray, bool]:
    """A feasible plan for the block, fast, and whether it keeps every limit.

    Fix-and-resolve from the LP relaxation first (`territories.fixing`: fix the accounts
    the LP assigns whole, a small MILP over the rest); when the LP has no solution or the
    small MILPs fail, the greedy start repaired by single moves and exchanges, then the
    LP rounded (the largest value wins) and repaired.
    """
    deadline = time.perf_counter() + seconds
    greedy = start_choice(inst, block)
    if relaxed is None or relaxed[1].values is None:
        model = build_model(inst, block, relax=True, with_max_moved=with_max_moved)
        relaxed = (model, lp_solve(model, max(seconds / 2, 1.0), inst.scenario.solver.threads))
    model, lp = relaxed
    if lp.values is not None:
        fixed = fix_and_resolve(inst, model, lp.values, lp.row_dual, greedy,
                                max(deadline - time.perf_counter(), 1.0),
                                max(2 * inst.scenario.solver.gap, START_GAP))
        if fixed is not None and violation(inst, fixed[0], block) <= 1e-9:
            return fixed[0], True
    plan = repair(inst, greedy, block, seconds=min(seconds / 4, 2.0))
    if violation(inst, plan, block) <= 1e-9 or lp.values is None:
        return plan, violation(inst, plan, block) <= 1e-9
    current = rounded(inst, model.pair_acc, model.pair_rep, lp.values[: model.n_pairs], greedy)
    current = repair(inst, current, block, seconds=max(min(seconds / 3, 5.0), 0.5))
    return current, violation(inst, current, block) <= 1e-9


def full_lp_bound(inst: Instance, block: np.ndarray, deadline: float, with_max_moved: bool):
    """(bound, kind, pairs, (LP model, LP solve)) by pricing (see the module docstring)."""
    opts = inst.scenario.solver
    in_block = np.isin(inst.cand_acc, block)
    pa, pr = inst.cand_acc[in_block], inst.cand_rep[in_block]
    known = pa * inst.m + pr  # pairs already in the model, as keys
    bound, kind, stalled = -math.inf, "restricted model LP", 0
    lp_pairs = (pa, pr)  # the MILP gets the pairs of the LP that gave the bound
    relaxed = None
    for _ in range(20):
        left = deadline - time.perf_counter()
        if left <= 0.2:
            break
        model = build_model(inst, block, relax=True, with_max_moved=with_max_moved, pairs=(pa, pr))
        lp = lp_solve(model, left, opts.threads)
        if lp.status != "optimal" or lp.row_dual is None:
            break
        lp_pairs, relaxed = (pa, pr), (model, lp)
        if not inst.restricted:
            return lp.objective, "full model LP", (pa, pr), relaxed
        # degenerate duals price in columns that do not lower the LP: stop after a few such rounds
        flat = math.isfinite(bound) and lp.objective >= bound - 1e-9 * max(1.0, abs(bound))
        stalled = stalled + 1 if flat else 0
        bound = lp.objective
        if stalled >= STALLS:
            break
        add, _ = _price(inst, model, lp.row_dual, block, known, deadline)
        if add is None:  # pricing ran out of time
            break

        if not len(add[0]):
            return lp.objective, "full model LP", (pa, pr), relaxed
        known = np.r_[known, add[0] * inst.m + add[1]]
        pa, pr = np.concatenate([pa, add[0]]), np.concatenate([pr, add[1]])
    if inst.restricted and relaxed is not None and deadline - time.perf_counter() > 1.0:
        full = _full_lp(inst, block, deadline, with_max_moved)
        if full is not None:
            return min(full[1].objective, bound), "full model LP", lp_pairs, relaxed
    return bound, kind, lp_pairs, relaxed


def certified(inst: Instance, block: np.ndarray, solved: BlockSolve, deadline: float,
              with_max_moved: bool) -> BlockSolve:
    """The block with the full model's LP bound when it solves by `deadline`, else as it was.

    When the plan is not within the gap of that bound, fix-and-resolve runs once more on
    the full LP (every allowed pair), which can reach reps the candidate lists left out.
    """
    if solved.bound_kind != "restricted model LP" or not math.isfinite(solved.objective):
        return solved
    full = _full_lp(inst, block, deadline, with_max_moved)
    if full is None:
        return solved
    model, lp = full
    choice, objective = solved.choice, solved.objective
    gap = inst.scenario.solver.gap
    if not _within(objective, lp.objective, gap):
        fixed = fix_and_resolve(inst, model, lp.values, lp.row_dual, choice,
                                max(deadline - time.perf_counter(), 1.0), gap / 2)
        if fixed is not None and fixed[1] < objective - 1e-9 * max(1.0, abs(objective)):
            choice, objective = fixed
    bound = min(lp.objective, solved.bound, objective)
    status = "optimal" if _within(objective, bound, gap) else "feasible"
    return BlockSolve(choice, status, objective, bound, "full model LP", solved.pairs)


def _full_lp(inst: Instance, block: np.ndarray, deadline: float, with_max_moved: bool):
    """(model, LP) of the full model over every allowed pair, when it solves by `deadline`."""
    chunks = list(full_pair_chunks(inst, block))
    acc = np.concatenate([c[0] for c in chunks])
    if len(acc) > FULL_LP_PAIRS or time.perf_counter() >= deadline - 1.0:
        return None
    rep = np.concatenate([c[1] for c in chunks])
    model = build_model(inst, block, relax=True, with_max_moved=with_max_moved, pairs=(acc, rep))
    lp = lp_solve(model, max(deadline - time.perf_counter(), 1.0), inst.scenario.solver.threads)
    return (model, lp) if lp.status == "optimal" and lp.values is not None else None


def _price(inst, model, duals, block, known, deadline):
    """Negative reduced-cost pairs (a few per account) and sum of each account's minimum."""
    total = 0.0
    add_a, add_r = [], []
    for acc, rep in full_pair_chunks(inst, block):
        if time.perf_counter() > deadline:
            return None, None
        cost, rows, pos, vals = pair_columns(inst, model.layout, acc, rep)
        rc = cost - np.bincount(pos, weights=vals * duals[rows], minlength=len(acc))
        order = np.lexsort((rc, acc))
        a, r, v = acc[order], rep[order], rc[order]
        first = np.r_[True, a[1:] != a[:-1]]
        total += float(np.minimum(v[first], 0).sum())
        rank = np.arange(len(a)) - np.maximum.accumulate(np.where(first, np.arange(len(a)), 0))
        neg = (v < -1e-9) & (rank < ADD_PER_ACCOUNT)
        a, r = a[neg], r[neg]
        new = ~np.isin(a * inst.m + r, known)
        add_a.append(a[new])
        add_r.append(r[new])
    add = (np.concatenate(add_a + [np.empty(0, np.int64)]).astype(np.int64),
           np.concatenate(add_r + [np.empty(0, np.int64)]).astype(np.int64))
    return add, (total if total < -1e-9 else 0.0)


@dataclass(frozen=True)
class Prepared:
    """A block after its bound and quick improvement: either done or ready for the MILP."""

    model: Model
    start: np.ndarray
    warm: np.ndarray | None  # column values of the start, None without a feasible one
    bound: float
    kind: str
    done: BlockSolve | None  # the answer when the start is already within the gap


def prepare_block(inst: Instance, block: np.ndarray, start: np.ndarray, start_ok: bool,
                  seconds: float, *, with_max_moved: bool, on_plan=None) -> Prepared:
    """The bound (pricing), then fix-and-resolve on the priced LP when the start is not close.

    With candidate lists, a plan within the scenario's gap of the priced LP bound is the
    answer: the MILP is not run.
    """
    opts = inst.scenario.solver
    t0 = time.perf_counter()
    pairs, bound, kind, relaxed = None, -math.inf, "MILP", None
    if inst.restricted and opts.name == "highs":
        bound, kind, pairs, relaxed = full_lp_bound(inst, block, t0 + 0.6 * seconds, with_max_moved)
    model = build_model(inst, block, with_max_moved=with_max_moved, pairs=pairs)
    warm = start_values(model, start, inst) if start_ok else None
    if relaxed is not None and relaxed[1].values is not None:
        if warm is None or not _within(float(model.cost @ warm), bound, opts.gap):
            fixed = fix_and_resolve(inst, relaxed[0], relaxed[1].values, relaxed[1].row_dual,
                                    start, max(seconds - (time.perf_counter() - t0), 1.0),
                                    opts.gap / 2)
            if fixed is not None and (warm is None or fixed[1] < float(model.cost @ warm)):
                start, warm = fixed[0], start_values(model, fixed[0], inst)
    done = None
    if warm is not None and inst.restricted and opts.name == "highs":
        objective = float(model.cost @ warm)
        gap = (objective - bound) / max(abs(objective), 1e-12)
        if on_plan is not None:
            on_plan(Progress(time.perf_counter() - t0, objective, bound, gap))
        if _within(objective, bound, opts.gap):
            done = BlockSolve(start, "optimal", objective, min(bound, objective), kind,
                              model.n_pairs)
    return Prepared(model, start, warm, bound, kind, done)


def settled(prepared: Prepared) -> BlockSolve:
    """The block's answer from its start plan, without the MILP (the whole is within its gap)."""
    if prepared.done is not None:
        return prepared.done
    objective = float(prepared.model.cost @ prepared.warm)
    return BlockSolve(prepared.start, "optimal", objective, min(prepared.bound, objective),
                      prepared.kind, prepared.model.n_pairs)


def solve_block(inst: Instance, block: np.ndarray, start: np.ndarray, start_ok: bool,
                budget: float, *, with_max_moved: bool, on_plan=None,
                prepared: Prepared | None = None) -> BlockSolve:
    """Bound, then MILP from the start; never worse than the start when it is feasible."""
    opts = inst.scenario.solver
    t0 = time.perf_counter()
    if prepared is None:
        prepared = prepare_block(inst, block, start, start_ok, PRICING_SHARE * budget,
                                 with_max_moved=with_max_moved, on_plan=on_plan)
    if prepared.done is not None:
        return prepared.done
    model, start, warm, bound, kind = (prepared.model, prepared.start, prepared.warm,
                                       prepared.bound, prepared.kind)
    left = max(budget - (time.perf_counter() - t0), 0.5)
    solved = run_model(model, opts.name, left, opts.gap, opts.threads, start=warm,
                       on_progress=on_plan)
    if solved.status == "infeasible" and inst.restricted:
        solved = dataclasses.replace(solved, status="none")  # proves nothing of the full model
    if solved.status in ("infeasible", "none"):
        if warm is not None:
            objective = float((model.cost * warm).sum())
            return BlockSolve(start, "feasible", objective, min(bound, objective), kind,
                              model.n_pairs)
        return BlockSolve(start, solved.status, math.nan, bound, kind, model.n_pairs)
    choice = rounded(inst, model.pair_acc, model.pair_rep, solved.values[: model.n_pairs], start)
    if not inst.restricted or opts.name != "highs":
        kind = "MILP" if math.isfinite(solved.bound) else kind
        bound = solved.bound if math.isfinite(solved.bound) else bound
    if not math.isfinite(bound):
        bound, kind, _, _ = full_lp_bound(inst, block, time.perf_counter() + max(budget / 4, 5),
                                          with_max_moved)
    status = solved.status if not inst.restricted else (
        "optimal" if _within(solved.objective, bound, opts.gap) else "feasible")
    return BlockSolve(choice, status, solved.objective, min(bound, solved.objective), kind,
                      model.n_pairs)


def _within(objective: float, bound: float, gap: float) -> bool:
    """The plan is within the relative `gap` of a finite bound."""
    return math.isfinite(bound) and objective - bound <= gap * abs(objective) + 1e-9


def heard(block: int, blocks: int, scale: float, clock, sink):
    """A solver callback turning HiGHS progress into `Event`s for `sink`."""
    if sink is None:
        return None

    def on_plan(p: Progress) -> None:
        sink(Event("plan", block, blocks, clock(), p.objective * scale, p.bound * scale, p.gap))
    return on_plan
