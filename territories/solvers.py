"""Solver adapters: HiGHS through highspy, CBC through PuLP, both reading a `Model`.

HiGHS is driven directly (PuLP gives no callbacks) so every improving plan reports its
objective, bound and gap while solving, and the LP's duals are available for pricing.
PuLP stays the modelling layer for CBC, with every row named as in the model.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pulp

from territories.model import Model


@dataclass(frozen=True)
class Solve:
    """Outcome of one model solve, in model units (multiply by `Model.scale`)."""

    values: np.ndarray | None  # every column
    status: str  # optimal | feasible | infeasible | none
    objective: float
    bound: float
    seconds: float
    row_dual: np.ndarray | None = None  # LPs only


@dataclass(frozen=True)
class Progress:
    """One line of solver progress: an improving plan or a new bound."""

    seconds: float
    objective: float
    bound: float
    gap: float


def new_var(prob: pulp.LpProblem, name: str, low=None, up=None, cat=pulp.LpContinuous):
    """A variable of `prob`: `add_variable` from PuLP 3, `LpVariable` before it."""
    add = getattr(prob, "add_variable", None)
    if add is not None:
        return add(name, low, up, cat)
    return pulp.LpVariable(name, low, up, cat)


_BANNER_DONE = False


def quiet_highs():
    """A silent highspy.Highs (the first one ever made prints a banner on stdout)."""
    global _BANNER_DONE
    import highspy

    if not _BANNER_DONE:
        _BANNER_DONE = True
        try:
            sys.stdout.flush()
            saved = os.dup(1)
        except (OSError, ValueError):
            saved = None
        if saved is not None:
            try:
                with open(os.devnull, "w") as null:
                    os.dup2(null.fileno(), 1)
                    highspy.Highs().setOptionValue("output_flag", False)
            finally:
                os.dup2(saved, 1)
                os.close(saved)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def _highs_lp(model: Model, relax: bool):
    import highspy

    order = np.lexsort((model.rows, model.cols))
    cols, rows, vals = model.cols[order], model.rows[order], model.vals[order]
    n = len(model.cost)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, len(model.row_lo)
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = model.cost, model.lower, model.upper
    lp.row_lower_, lp.row_upper_ = model.row_lo, model.row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(cols, np.arange(n + 1)).astype(np.int32)
    lp.a_matrix_.index_ = rows.astype(np.int32)
    lp.a_matrix_.value_ = vals
    if not relax and model.integer.any():
        kind = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                for i in model.integer]
        lp.integrality_ = kind
    return lp


def solve_highs(model: Model, *, time_limit: float, gap: float, threads: int | None,
                start: np.ndarray | None = None, relax: bool = False, absolute: bool = False,
                on_progress=None) -> Solve:
    """Solve with highspy; `on_progress(Progress)` hears every improving plan."""
    h = quiet_highs()
    h.passModel(_highs_lp(model, relax))
    h.setOptionValue("time_limit", float(max(time_limit, 0.1)))
    if threads:
        h.setOptionValue("threads", int(threads))
    if absolute:
        h.setOptionValue("mip_abs_gap", float(gap))
        h.setOptionValue("mip_rel_gap", 0.0)
    else:
        h.setOptionValue("mip_rel_gap", float(gap))
    if start is not None and not relax:
        h.setSolution(len(start), np.arange(len(start), dtype=np.int32), np.asarray(start, float))
    if on_progress is not None and not relax:
        def heard(event):
            out = event.data_out
            on_progress(Progress(out.running_time, out.objective_function_value,
                                 out.mip_dual_bound, out.mip_gap))
        h.cbMipImprovingSolution.subscribe(heard)
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    status = h.modelStatusToString(h.getModelStatus()).lower()
    info = h.getInfo()
    if "infeasible" in status and "unbounded" not in status or status == "infeasible":
        return Solve(None, "infeasible", math.nan, math.nan, seconds)
    sol = h.getSolution()
    if info.primal_solution_status != 2:  # kSolutionStatusFeasible
        return Solve(None, "none", math.nan, math.nan, seconds)
    values = np.asarray(sol.col_value)
    objective = float(info.objective_function_value)
    if relax:
        duals = np.asarray(sol.row_dual) if sol.dual_valid else None
        return Solve(values, "optimal" if status == "optimal" else "feasible", objective,
                     objective if status == "optimal" else -math.inf, seconds, duals)
    bound = float(info.mip_dual_bound)
    if not math.isfinite(bound):
        bound = -math.inf
    return Solve(values, "optimal" if status == "optimal" else "feasible", objective,
                 min(bound, objective), seconds)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._" else "_" for c in str(text))


def pulp_problem(model: Model, relax: bool = False) -> tuple[pulp.LpProblem, list]:
    """The model as a PuLP problem with its rows named as the user reads them."""
    prob = pulp.LpProblem("alignment", pulp.LpMinimize)
    xs = [new_var(prob, f"x{k}", lo if np.isfinite(lo) else None, up if np.isfinite(up) else None,
                  pulp.LpBinary if (i and not relax and lo == 0 and up == 1) else
                  pulp.LpInteger if (i and not relax) else pulp.LpContinuous)
          for k, (lo, up, i) in enumerate(zip(model.lower, model.upper, model.integer, strict=True))]
    order = np.argsort(model.rows, kind="stable")
    bounds = np.searchsorted(model.rows[order], np.arange(len(model.row_lo) + 1))
    for i, name in enumerate(model.row_names):
        sel = order[bounds[i]:bounds[i + 1]]
        expr = pulp.LpAffineExpression([(xs[c], v) for c, v in zip(model.cols[sel], model.vals[sel],
                                                                    strict=True)])
        lo, hi = model.row_lo[i], model.row_hi[i]
        if lo == hi:
            prob.addConstraint(expr == lo, _safe(name))
            continue
        if np.isfinite(hi):
            prob.addConstraint(expr <= hi, _safe(name) + ("_hi" if np.isfinite(lo) else ""))
        if np.isfinite(lo):
            prob.addConstraint(expr >= lo, _safe(name))
    prob.setObjective(pulp.LpAffineExpression(
        [(xs[k], c) for k, c in enumerate(model.cost) if c]))
    return prob, xs


def solve_cbc(model: Model, *, time_limit: float, gap: float, threads: int | None,
              start: np.ndarray | None = None, relax: bool = False,
              absolute: bool = False) -> Solve:
    """Solve with CBC through PuLP; the bound is read from CBC's log (PuLP gives none)."""
    prob, xs = pulp_problem(model, relax)
    if start is not None:
        for var, value in zip(xs, start, strict=True):
            var.setInitialValue(float(value))
    gaps = {"gapAbs": gap, "gapRel": 0.0} if absolute else {"gapRel": gap}
    fd, log = tempfile.mkstemp(prefix="icm-cbc-", suffix=".log")
    os.close(fd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the bundled CBC, PuLP 3.x
        solver = pulp.PULP_CBC_CMD(mip=not relax, msg=False, timeLimit=max(1, math.ceil(time_limit)),
                                   logPath=log, threads=threads, warmStart=start is not None,
                                   **gaps)
    t0 = time.perf_counter()
    try:
        prob.solve(solver)
        text = Path(log).read_text(errors="replace")
    finally:
        Path(log).unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    status, sol = prob.status, prob.sol_status
    if status == pulp.LpStatusInfeasible or sol == pulp.LpSolutionInfeasible:
        return Solve(None, "infeasible", math.nan, math.nan, seconds)
    value = pulp.value(prob.objective)
    if sol not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible) or value is None:
        return Solve(None, "none", math.nan, math.nan, seconds)
    value = float(value)
    optimal = sol == pulp.LpSolutionOptimal
    bound = value if optimal else _cbc_bound(text)
    values = np.array([v.varValue or 0.0 for v in xs])
    return Solve(values, "optimal" if optimal else "feasible", value, min(bound, value), seconds)


def _cbc_bound(text: str) -> float:
    found = re.search(r"^Lower bound:\s*(\S+)", text, re.MULTILINE)
    try:
        return float(found.group(1)) if found else -math.inf
    except ValueError:
        return -math.inf


def run_model(model: Model, name: str, time_limit: float, gap: float, threads: int | None,
              start: np.ndarray | None = None, relax: bool = False, on_progress=None) -> Solve:
    """Solve with the named solver; `start` is a value per column."""
    absolute = model.zcol is not None and not model.slack
    if name == "highs":
        return solve_highs(model, time_limit=time_limit, gap=gap, threads=threads, start=start,
                           relax=relax, absolute=absolute, on_progress=on_progress)
    return solve_cbc(model, time_limit=time_limit, gap=gap, threads=threads, start=start,
                     relax=relax, absolute=absolute)


def lp_solve(model: Model, time_limit: float, threads: int | None) -> Solve:
    """The LP relaxation with HiGHS, duals included (used for bounds and pricing)."""
    return solve_highs(model, time_limit=time_limit, gap=0.0, threads=threads, relax=True)
