"""Territory alignment by mixed-integer optimisation (SPEC section 7, `icm align`).

`align(reps, accounts, scenario)` builds the instance (`territories.instance`), checks the
cheap necessary conditions (`territories.feasibility`), finds a feasible start for every
block, then solves each block (`territories.blocks`) and returns an `AlignmentResult`.
Nothing is stored on an optimiser; progress goes to the `on_event` callback.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from territories.blocks import (
    BlockSolve,
    Event,
    certified,
    heard,
    prepare_block,
    settled,
    solve_block,
    start_plan,
    widened,
)
from territories.contiguity import adjacency_for, align_contiguous
from territories.feasibility import diagnose, moved_infeasible, necessary_conditions
from territories.instance import (
    InfeasibleError,
    Instance,
    NoSolutionError,
    blocks_of,
    build_instance,
    moved_budget,
    pair_cost,
)
from territories.model import cost_scale
from territories.scenario import AlignmentScenario
from territories.summary import compactness, max_deviation, summarise

__all__ = ["AlignmentResult", "InfeasibleError", "NoSolutionError", "align"]

PREPARE_SHARE = 0.35  # of the time left, for every block's bound and quick improvement
CERTIFY_MARGIN = 3.0  # seconds kept back from the full-LP bound at the end


@dataclass(frozen=True)
class AlignmentResult:
    """What one alignment solve produced; the optimiser keeps none of it."""

    assignments: pd.DataFrame
    territories: pd.DataFrame
    status: str
    objective_name: str
    objective: float
    bound: float
    gap: float
    seconds: float
    first_seconds: float | None
    solver: str
    blocks: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    mean_km: float | None = None  # mean km from account to its rep's home (compactness)
    p95_km: float | None = None
    bound_kind: str = "MILP"
    pairs: int = 0
    full_pairs: int = 0
    scenario: AlignmentScenario | None = None

    @property
    def moved_share(self) -> float:
        """Share of total potential that changes owner."""
        total = self.assignments["potential"].sum()
        moved = self.assignments.loc[self.assignments["moved"], "potential"].sum()
        return float(moved / total) if total else 0.0


class _Clock:
    """Time since the start and the first moment every block had a feasible plan."""

    def __init__(self, on_first, on_event):
        self.t0, self.on_first, self.on_event, self.first_seconds = (
            time.perf_counter(), on_first, on_event, None)

    def __call__(self) -> float:
        return time.perf_counter() - self.t0

    def first(self) -> None:
        if self.first_seconds is None:
            self.first_seconds = self()
            if self.on_first:
                self.on_first(self.first_seconds)


def align(reps: pd.DataFrame, accounts: pd.DataFrame, scenario: AlignmentScenario, *,
          adjacency: pd.DataFrame | None = None, on_first=None, on_event=None) -> AlignmentResult:
    """Assign every account to exactly one rep; raises InfeasibleError / NoSolutionError.

    `on_first(seconds)` is called once every block has a feasible plan; `on_event(Event)`
    hears the start, bounds and every improving plan. `adjacency` (account_id,
    neighbour_id) is used with `contiguity`; without it, the Delaunay neighbours.
    """
    clock = _Clock(on_first, on_event)
    inst = build_instance(reps, accounts, scenario)
    problems = necessary_conditions(inst)
    if problems:
        raise InfeasibleError(*problems)
    if scenario.contiguity:
        return align_contiguous(inst, adjacency_for(inst, adjacency), clock, _result)
    blocks = blocks_of(inst)
    solves = _solve_blocks(inst, blocks, clock, with_max_moved=len(blocks) == 1)
    choice = _merged(inst, solves, blocks)
    notes: tuple[str, ...] = ()
    if not _moved_ok(inst, choice):
        # Regions were solved without the shared max_moved. For disruption each region's
        # plan moves the least it can, so a bound above the budget proves it cannot hold.
        least = sum(s.bound for s in solves) * cost_scale(inst)
        if least > moved_budget(inst) * (1 + 1e-9):
            raise InfeasibleError(moved_infeasible(inst, least))
        notes = ("regions solved one by one broke max_moved; solved the whole book at once",)
        blocks = [np.arange(inst.n)]
        solves = _solve_blocks(inst, blocks, clock, with_max_moved=True)
        choice = _merged(inst, solves, blocks)
    return _result(inst, choice, solves, clock, notes)


def _merged(inst: Instance, solves: list[BlockSolve], blocks) -> np.ndarray:
    choice = np.full(inst.n, -1, dtype=np.int64)
    for s, b in zip(solves, blocks, strict=True):
        choice[b] = s.choice[b]
    return choice


def _result(inst: Instance, choice: np.ndarray, solves: list[BlockSolve], clock,
            notes: tuple[str, ...] = ()) -> AlignmentResult:
    sc = inst.scenario
    if sc.objective == "balance":
        objective = max_deviation(inst, choice, np.arange(inst.n))
        bound = max(s.bound for s in solves)
    else:
        objective = float(pair_cost(inst, np.arange(inst.n), choice).sum())
        if sc.objective == "disruption":  # report potential moved, without the tie-break
            objective = float(inst.pot[inst.owned & (choice != inst.cur)].sum())
        bound = sum(s.bound for s in solves) * cost_scale(inst)
    bound = min(bound, objective)
    if sc.objective == "balance":
        gap = max(0.0, objective - bound)  # percentage points of deviation
    else:
        gap = 0.0 if objective <= 1e-7 else max(0.0, (objective - bound) / abs(objective))
        if not math.isfinite(bound):
            gap = math.inf
    status = "optimal" if all(s.status == "optimal" for s in solves) else "feasible"
    clock.first()
    assignments, territories = summarise(inst, choice)
    mean_km, p95_km = compactness(inst, choice)
    kinds = sorted({s.bound_kind for s in solves})
    return AlignmentResult(assignments, territories, status, sc.objective, objective, bound, gap,
                           clock(), clock.first_seconds, sc.solver.name, len(solves), notes,
                           mean_km, p95_km, " + ".join(kinds), sum(s.pairs for s in solves),
                           inst.full_pairs, sc)


def _solve_blocks(inst: Instance, blocks: list[np.ndarray], clock: _Clock, *,
                  with_max_moved: bool) -> list[BlockSolve]:
    """Start every block, then solve each with a share of the time left (by size)."""
    opts = inst.scenario.solver
    starts, views = [], []
    for b in blocks:
        share = max(opts.time_limit / (3 * len(blocks)), 1.0)
        view, relaxed = widened(inst, b, with_max_moved, time.perf_counter() + share)
        plan, ok = start_plan(view, b, share, with_max_moved, relaxed)
        starts.append((plan, ok))
        views.append(view)
    merged = np.full(inst.n, -1, dtype=np.int64)
    for (plan, _), b in zip(starts, blocks, strict=True):
        merged[b] = plan[b]
    moved_ok = not with_max_moved or _moved_ok(inst, merged)
    if all(ok for _, ok in starts) and moved_ok:
        clock.first()
    if clock.on_event:
        clock.on_event(Event("start", 0, len(blocks), clock()))
    solves: dict[int, BlockSolve] = {}
    scale = 1.0 if inst.scenario.objective == "balance" else cost_scale(inst)
    # blocks still without a plan first, and with twice the weight: they need a first plan
    weight = {i: len(b) * (1 if starts[i][1] else 2) for i, b in enumerate(blocks)}
    order = sorted(range(len(blocks)), key=lambda i: (starts[i][1], i))
    # every block's bound and quick improvement first, so a block done early gives its time
    # to the blocks that still need the MILP
    prepared = {}
    for n_done, i in enumerate(order):
        left = sum(weight[j] for j in order[n_done:])
        seconds = max((opts.time_limit - clock()) * PREPARE_SHARE * weight[i] / left, 0.5)
        plan, ok = starts[i]
        prepared[i] = prepare_block(views[i], blocks[i], plan, ok and moved_ok, seconds,
                                    with_max_moved=with_max_moved,
                                    on_plan=heard(i, len(blocks), scale, clock, clock.on_event))
    if _within_overall(inst, prepared):
        prepared = {i: dataclasses.replace(p, done=settled(p)) for i, p in prepared.items()}
    order = [i for i in order if prepared[i].done is not None] + [
        i for i in order if prepared[i].done is None]
    for n_done, i in enumerate(order):
        b = blocks[i]
        left = sum(weight[j] for j in order[n_done:] if prepared[j].done is None) or 1
        budget = max((opts.time_limit - clock()) * weight[i] / left, 0.5)
        plan, ok = starts[i]
        solved = solve_block(views[i], b, plan, ok and moved_ok, budget,
                             with_max_moved=with_max_moved,
                             on_plan=heard(i, len(blocks), scale, clock, clock.on_event),
                             prepared=prepared[i])
        if solved.status == "infeasible":
            raise InfeasibleError(*diagnose(views[i], b, with_max_moved=with_max_moved))
        if solved.status == "none":
            raise NoSolutionError(
                f"no alignment found within {opts.time_limit:g} s: tried {opts.name} "
                f"(gap {opts.gap:.2%}) on {len(blocks)} block(s) of at most "
                f"{max(len(x) for x in blocks)} accounts, starting from the LP relaxation "
                "fixed and resolved, then the current alignment repaired move by move, which "
                "still broke a limit. Raise solver.time_limit, "
                "loosen balance or allow more moves (max_moved)")
        if clock.on_event:
            clock.on_event(Event("bound", i, len(blocks), clock(), solved.objective * scale,
                                 solved.bound * scale))
        solves[i] = solved
    clock.first()
    # time left: the full model's LP bound for blocks that only have the restricted one
    for n_done, i in enumerate(sorted(solves, key=lambda j: len(blocks[j]))):
        left = opts.time_limit - clock() - CERTIFY_MARGIN  # building the full LP takes time too
        if left < 2.0:
            break
        deadline = time.perf_counter() + left / (len(blocks) - n_done)
        solves[i] = certified(views[i], blocks[i], solves[i], deadline, with_max_moved)
    return [solves[i] for i in range(len(blocks))]


def _within_overall(inst: Instance, prepared: dict) -> bool:
    """Every block has a plan and, summed, they are within the scenario's gap of the bound.

    The gap is the whole plan's: a block a little above it is fine when the others are
    well within (not for `balance`, whose objective is a maximum, not a sum).
    """
    if inst.scenario.objective == "balance" or any(p.warm is None for p in prepared.values()):
        return False
    objective = sum(float(p.model.cost @ p.warm) for p in prepared.values())
    bound = sum(p.bound for p in prepared.values())
    return math.isfinite(bound) and objective - bound <= inst.scenario.solver.gap * abs(objective)


def _moved_ok(inst: Instance, choice: np.ndarray) -> bool:
    budget = moved_budget(inst)
    if budget is None:
        return True
    moved = inst.owned & (choice != inst.cur)
    return float(inst.pot[moved].sum()) <= budget * (1 + 1e-9) + 1e-7
