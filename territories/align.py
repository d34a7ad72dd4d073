"""Territory alignment by mixed-integer optimisation (SPEC section 7, `icm align`).

`align(reps, accounts, scenario)` builds one PuLP model per independent block (a
region when `same_region` makes regions independent, else the whole book), with every
constraint named in the user's words (`balance_potential_hi[R07]`), warm-starts it
from the current alignment repaired to feasibility, solves with HiGHS or CBC and
returns an `AlignmentResult`. Infeasibility is explained by `territories.feasibility`.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pulp

from compensation.errors import IcmError
from territories.scenario import AlignmentScenario

EARTH_KM = 6371.0088
_EPS = 1e-7


class InfeasibleError(IcmError):
    """The scenario's constraints cannot all hold; the messages say which and by how much."""


class NoSolutionError(IcmError):
    """The solver found no assignment within the time limit."""


@dataclass(frozen=True)
class Instance:
    """Arrays of one alignment problem: accounts x reps, limits and allowed pairs."""

    accounts: pd.DataFrame
    reps: pd.DataFrame
    scenario: AlignmentScenario
    pot: np.ndarray
    wl: np.ndarray
    cur: np.ndarray  # index of the current rep, -1 for none or a rep not in `reps`
    owned: np.ndarray  # account has a current owner (in reps or not)
    cap: np.ndarray
    fair_pot: np.ndarray
    fair_wl: np.ndarray
    cand_acc: np.ndarray  # allowed (account, rep) pairs
    cand_rep: np.ndarray
    cost: np.ndarray  # objective coefficient of each pair (0 for `balance`)
    limits: tuple  # (metric, side, rep index array, bound array, coef vector name)

    @property
    def n(self) -> int:
        """Number of accounts."""
        return len(self.pot)

    @property
    def m(self) -> int:
        """Number of reps."""
        return len(self.cap)


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
    distance_km: float | None = None  # workload-weighted km to each rep's home, when known

    @property
    def moved_share(self) -> float:
        """Share of total potential that changes owner."""
        total = self.assignments["potential"].sum()
        moved = self.assignments.loc[self.assignments["moved"], "potential"].sum()
        return float(moved / total) if total else 0.0


# Building the instance -----------------------------------------------------------------


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km, vectorised."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def rep_homes(reps: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Each rep's home: reps.lat/lon, else the centroid of the rep's current accounts."""
    geo = accounts.dropna(subset=["lat", "lon", "rep_id"])
    centroid = geo.groupby("rep_id")[["lat", "lon"]].mean()
    homes = reps.set_index("rep_id")[["lat", "lon"]].copy()
    fill = centroid.reindex(homes.index)
    homes["lat"] = homes["lat"].fillna(fill["lat"])
    homes["lon"] = homes["lon"].fillna(fill["lon"])
    return homes


def build_instance(reps: pd.DataFrame, accounts: pd.DataFrame,
                   scenario: AlignmentScenario) -> Instance:
    """Allowed pairs, fair shares and named limits; raises when a pair set is empty."""
    reps = reps.reset_index(drop=True)
    accounts = accounts.reset_index(drop=True)
    if reps.empty:
        raise IcmError.at("data/reps.csv", None, "no reps to align accounts to")
    if accounts.empty:
        raise IcmError.at("data/accounts.csv", None, "no accounts to align")
    rep_pos = pd.Series(np.arange(len(reps)), index=reps["rep_id"])
    cur = accounts["rep_id"].map(rep_pos).fillna(-1).astype(np.int64).to_numpy()
    owned = accounts["rep_id"].notna().to_numpy()
    pot = accounts["potential"].to_numpy(dtype=float)
    wl = accounts["workload"].to_numpy(dtype=float)
    cap = reps["capacity"].to_numpy(dtype=float)
    if cap.sum() <= 0:
        raise IcmError.at("data/reps.csv", None,
                          "every rep has capacity 0: nobody can take accounts")
    fair_pot = pot.sum() * cap / cap.sum()
    fair_wl = wl.sum() * cap / cap.sum()

    n, m = len(accounts), len(reps)
    acc_idx = np.repeat(np.arange(n), m)
    rep_idx = np.tile(np.arange(m), n)
    keep = cap[rep_idx] > 0
    if scenario.same_region:
        acc_region = accounts["region"].to_numpy(dtype=object)
        rep_region = reps["region"].to_numpy(dtype=object)
        keep &= acc_region[acc_idx] == rep_region[rep_idx]
    # a locked account stays with its rep, whatever its region
    locked = accounts["locked"].to_numpy(dtype=bool)
    stays = (cur[acc_idx] == rep_idx) & (cap[rep_idx] > 0)
    keep = np.where(locked[acc_idx], stays, keep)
    cand_acc, cand_rep = acc_idx[keep], rep_idx[keep]

    if scenario.objective == "disruption":
        cost = np.where(owned[cand_acc] & (cur[cand_acc] != cand_rep), pot[cand_acc], 0.0)
    elif scenario.objective == "distance":
        homes = rep_homes(reps, accounts)
        no_home = homes.index[homes["lat"].isna() | homes["lon"].isna()]
        if len(no_home):
            raise IcmError.at("data/reps.csv", None,
                              "objective distance needs a home for every rep; give lat and "
                              f"lon to {', '.join(no_home[:5])} (no lat/lon and no current "
                              "accounts with lat/lon)")
        no_geo = accounts["lat"].isna() | accounts["lon"].isna()
        if no_geo.any():
            raise IcmError.at("data/accounts.csv", int(accounts.loc[no_geo, "row"].iloc[0]),
                              "objective distance needs lat and lon on every account")
        hl, ho = homes["lat"].to_numpy(), homes["lon"].to_numpy()
        alat, alon = accounts["lat"].to_numpy(), accounts["lon"].to_numpy()
        km = haversine_km(alat[cand_acc], alon[cand_acc], hl[cand_rep], ho[cand_rep])
        cost = wl[cand_acc] * km
    else:
        cost = np.zeros(len(cand_acc))

    limits = []
    all_reps = np.arange(m)
    for metric, tol in (("potential", scenario.balance.potential),
                        ("workload", scenario.balance.workload)):
        if tol is None:
            continue
        fair = fair_pot if metric == "potential" else fair_wl
        limits.append((f"balance_{metric}_hi", metric, "hi", all_reps, fair * (1 + tol)))
        limits.append((f"balance_{metric}_lo", metric, "lo", all_reps, fair * (1 - tol)))
    for metric in ("accounts", "workload", "potential"):
        per_unit = getattr(scenario.capacity, metric)
        if per_unit is not None:
            limits.append((f"capacity_{metric}", metric, "hi", all_reps, cap * per_unit))
    return Instance(accounts, reps, scenario, pot, wl, cur, owned, cap, fair_pot, fair_wl,
                    cand_acc, cand_rep, cost, tuple(limits))


def metric_vector(inst: Instance, metric: str) -> np.ndarray:
    """Per-account value of a limit's metric (`accounts` counts 1 each)."""
    if metric == "potential":
        return inst.pot
    if metric == "workload":
        return inst.wl
    return np.ones(inst.n)


def moved_budget(inst: Instance) -> float | None:
    """max_moved as potential, or None without the limit."""
    if inst.scenario.max_moved is None:
        return None
    return inst.scenario.max_moved * inst.pot.sum()


# Model ---------------------------------------------------------------------------------


@dataclass
class Model:
    """A PuLP problem over one block, with its named constraints and pair variables."""

    prob: pulp.LpProblem
    pairs: np.ndarray  # indexes into inst.cand_* of this block's variables
    x: list
    named: dict  # user name -> (label, metric, rep index, scaled bound, LpConstraint, unit)
    slack: dict  # user name -> slack variable (elastic models only)
    zvar: object | None


def new_var(prob: pulp.LpProblem, name: str, low=None, up=None, cat=pulp.LpContinuous):
    """A variable of `prob`: `add_variable` from PuLP 3, `LpVariable` before it."""
    add = getattr(prob, "add_variable", None)
    if add is not None:
        return add(name, low, up, cat)
    return pulp.LpVariable(name, low, up, cat)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._" else "_" for c in str(text))


def build_model(inst: Instance, accounts: np.ndarray, *, relax: bool = False,
                elastic: bool = False, with_max_moved: bool = True) -> Model:
    """The MILP over the accounts `accounts` (and the reps they may go to).

    Constraints: `assign[A]` (each account exactly once), `balance_{metric}_{hi,lo}[R]`,
    `capacity_{metric}[R]`, `max_moved`. With `elastic`, every constraint but
    `assign` gets a penalised slack so the model always has a solution.
    """
    sc = inst.scenario
    in_block = np.zeros(inst.n, dtype=bool)
    in_block[accounts] = True
    pairs = np.flatnonzero(in_block[inst.cand_acc])
    prob = pulp.LpProblem("alignment", pulp.LpMinimize)
    cat = pulp.LpContinuous if relax else pulp.LpBinary
    x = [new_var(prob, f"x{k}", 0, 1, cat) for k in range(len(pairs))]
    pa, pr = inst.cand_acc[pairs], inst.cand_rep[pairs]
    named: dict = {}
    slack: dict = {}
    penalty_terms = []

    order = np.argsort(pa, kind="stable")
    bounds = np.flatnonzero(np.diff(pa[order])) + 1
    ids = inst.accounts["account_id"].to_numpy()
    for group in np.split(order, bounds):
        if not len(group):
            continue
        a = pa[group[0]]
        con = pulp.LpAffineExpression([(x[k], 1.0) for k in group]) == 1
        name = f"assign[{ids[a]}]"
        prob.addConstraint(con, _safe(name))
        named[name] = ("assign", None, None, 1.0, con, 1.0)

    rep_order = np.argsort(pr, kind="stable")
    rep_bounds = np.flatnonzero(np.diff(pr[rep_order])) + 1
    rep_groups = {int(pr[g[0]]): g for g in np.split(rep_order, rep_bounds) if len(g)}
    rep_ids = inst.reps["rep_id"].to_numpy()
    block_reps = sorted(rep_groups)

    def add(name, expr_terms, sense, rhs, meta, scale, unit):
        expr = pulp.LpAffineExpression(expr_terms)
        if elastic:
            s = new_var(prob, f"s{len(slack)}", 0)
            slack[name] = s
            penalty_terms.append((s, 1.0 / max(scale, _EPS)))
            expr = expr - s if sense == "<=" else expr + s
        con = expr <= rhs if sense == "<=" else expr >= rhs
        prob.addConstraint(con, _safe(name))
        named[name] = (*meta, rhs, con, unit)

    for label, metric, side, _, bound in inst.limits:
        coef = metric_vector(inst, metric)
        scale = float(np.mean(coef[accounts])) if len(accounts) else 1.0
        scale = scale or 1.0
        for r in block_reps:
            terms = [(x[k], coef[pa[k]] / scale) for k in rep_groups[r]]
            add(f"{label}[{rep_ids[r]}]", terms, "<=" if side == "hi" else ">=",
                bound[r] / scale, (label, metric, r), bound[r] / scale, scale)

    budget = moved_budget(inst)
    if budget is not None and with_max_moved:
        scale = float(inst.pot.mean()) or 1.0
        kept = np.flatnonzero(pr == inst.cur[pa])
        owned_block = accounts[inst.owned[accounts]]
        # moved = owned potential - potential kept with its current rep <= budget
        rhs = (budget - inst.pot[owned_block].sum()) / scale
        add("max_moved", [(x[k], -inst.pot[pa[k]] / scale) for k in kept], "<=", rhs,
            ("max_moved", "potential", None), budget / scale, scale)

    zvar = None
    if sc.objective == "balance":
        metrics = ["potential"] + (["workload"] if sc.balance.workload is not None else [])
        # Valid bound: the largest deviation is at least the block's average deviation,
        # sum(load) / sum(fair) - 1; it spares the solver proving it by branching.
        floor = 0.0
        for metric in metrics:
            fair = inst.fair_pot if metric == "potential" else inst.fair_wl
            total_fair = fair[block_reps].sum()
            if total_fair > 0:
                total = metric_vector(inst, metric)[accounts].sum()
                floor = max(floor, abs(total / total_fair - 1))
        zvar = new_var(prob, "z", floor * (1 - 1e-9))
        for metric in metrics:
            coef = metric_vector(inst, metric)
            fair = inst.fair_pot if metric == "potential" else inst.fair_wl
            for r in block_reps:
                group = rep_groups[r]
                f = fair[r]
                if f <= 0:
                    continue
                load = [(x[k], coef[pa[k]] / f) for k in group]
                prob.addConstraint(pulp.LpAffineExpression(load) - zvar <= 1,
                                   _safe(f"deviation_{metric}_hi[{rep_ids[r]}]"))
                prob.addConstraint(pulp.LpAffineExpression(load) + zvar >= 1,
                                   _safe(f"deviation_{metric}_lo[{rep_ids[r]}]"))
        objective = [(zvar, 1.0)]
    else:
        scale = _cost_scale(inst)
        objective = [(x[k], inst.cost[p] / scale) for k, p in enumerate(pairs) if inst.cost[p]]
    if elastic:
        # Violations dominate; the objective only breaks ties among least-violating plans.
        objective = [(v, c * 1e-4) for v, c in objective] + [(s, w * 1e3) for s, w in penalty_terms]
    prob.setObjective(pulp.LpAffineExpression(objective))
    return Model(prob, pairs, x, named, slack, zvar)


def _cost_scale(inst: Instance) -> float:
    positive = inst.cost[inst.cost > 0]
    return float(positive.mean()) if len(positive) else 1.0


# Solving -------------------------------------------------------------------------------


_BANNER_DONE = False


def _quiet_banner() -> None:
    """Highspy prints a copyright banner on stdout when the first Highs() is made."""
    global _BANNER_DONE
    if _BANNER_DONE:
        return
    import highspy

    _BANNER_DONE = True
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):
        highspy.Highs().setOptionValue("output_flag", False)
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs().setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class _HiGHS(pulp.HiGHS):
    """PuLP's HiGHS interface plus a warm start (a full assignment) passed to highspy."""

    def __init__(self, *args, start: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.start = start or {}

    def createAndConfigureSolver(self, lp):
        _quiet_banner()
        super().createAndConfigureSolver(lp)

    def callSolver(self, lp):
        if self.start:
            idx = np.array([v.index for v in self.start], dtype=np.int32)
            val = np.array(list(self.start.values()), dtype=np.float64)
            lp.solverModel.setSolution(len(idx), idx, val)
        lp.solverModel.run()


@dataclass(frozen=True)
class Solve:
    """Outcome of one block solve."""

    values: np.ndarray | None  # chosen rep per account of the block's pairs (0/1 per pair)
    status: str  # optimal | feasible | infeasible | none
    objective: float
    bound: float
    seconds: float


def solver_for(name: str, *, time_limit: float, gap: float, threads: int | None,
               relax: bool = False, start: dict | None = None, absolute: bool = False):
    """A PuLP solver for the scenario's options.

    `absolute` makes `gap` absolute (the balance objective, where 0.5% means within half
    a percentage point of the best largest deviation).
    """
    gaps = {"gapAbs": gap, "gapRel": 0.0} if absolute else {"gapRel": gap}
    if name == "highs":
        return _HiGHS(mip=not relax, msg=False, timeLimit=time_limit, threads=threads,
                      start=start, **gaps)
    for var, value in (start or {}).items():
        var.setInitialValue(value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the bundled CBC, PuLP 3.x
        seconds = max(1, int(math.ceil(time_limit)))
        fd, log = tempfile.mkstemp(prefix="icm-cbc-", suffix=".log")
        os.close(fd)
        return pulp.PULP_CBC_CMD(mip=not relax, msg=False, timeLimit=seconds, logPath=log,
                                 threads=threads, warmStart=bool(start), **gaps)


def _cbc_bound(solver, objective: float) -> float | None:
    """CBC's own lower bound from its log (PuLP reports none); None when not printed."""
    path = getattr(solver, "optionsDict", {}).get("logPath")
    if not path:
        return None
    try:
        text = Path(path).read_text(errors="replace")
    finally:
        Path(path).unlink(missing_ok=True)
    found = re.search(r"^Lower bound:\s*(\S+)", text, re.MULTILINE)
    if found:
        try:
            return float(found.group(1))
        except ValueError:
            return None
    if re.search(r"^Result - Optimal solution found\s*$", text, re.MULTILINE):
        return objective
    return None


def run_model(model: Model, name: str, time_limit: float, gap: float, threads: int | None,
              start: np.ndarray | None = None, relax: bool = False) -> Solve:
    """Solve a built model; `start` is a 0/1 value per pair variable."""
    warm = None
    if start is not None:
        warm = {v: float(s) for v, s in zip(model.x, start, strict=True)}
        if model.zvar is not None:
            warm = None  # the start would need z; let the solver find its own
    solver = solver_for(name, time_limit=time_limit, gap=gap, threads=threads, relax=relax,
                        start=warm, absolute=model.zvar is not None and not model.slack)
    t0 = time.perf_counter()
    model.prob.solve(solver)
    seconds = time.perf_counter() - t0
    status = model.prob.status
    sol = model.prob.sol_status
    obj_value = pulp.value(model.prob.objective)
    if name == "cbc" and (status == pulp.LpStatusInfeasible
                          or sol not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)):
        _cbc_bound(solver, math.nan)  # remove the log
    if status == pulp.LpStatusInfeasible or sol == pulp.LpSolutionInfeasible:
        return Solve(None, "infeasible", math.nan, math.nan, seconds)
    if sol not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible) or obj_value is None:
        return Solve(None, "none", math.nan, math.nan, seconds)
    values = np.array([v.varValue or 0.0 for v in model.x])
    obj_value = float(obj_value)
    bound = obj_value
    if name == "cbc":
        cbc = _cbc_bound(solver, obj_value)
        bound = math.nan if cbc is None or relax else cbc
    if name == "highs" and not relax:
        info = model.prob.solverModel.getInfo()
        bound = float(info.mip_dual_bound)
        if not math.isfinite(bound):
            bound = obj_value
    optimal = sol == pulp.LpSolutionOptimal
    return Solve(values, "optimal" if optimal else "feasible", obj_value, bound, seconds)


# Heuristic start: current alignment (or LP rounding) repaired to feasibility ------------


def _loads(inst: Instance, choice: np.ndarray, accounts: np.ndarray, metric: str) -> np.ndarray:
    return np.bincount(choice[accounts], weights=metric_vector(inst, metric)[accounts],
                       minlength=inst.m)


def violation(inst: Instance, choice: np.ndarray, accounts: np.ndarray) -> float:
    """Sum of relative limit violations of an assignment (0 means feasible)."""
    total = 0.0
    for _, metric, side, _, bound in inst.limits:
        load = _loads(inst, choice, accounts, metric)
        reps = np.unique(inst.cand_rep[np.isin(inst.cand_acc, accounts)])
        scale = np.maximum(np.abs(bound[reps]), _EPS)
        diff = load[reps] - bound[reps] if side == "hi" else bound[reps] - load[reps]
        total += float(np.clip(diff / scale, 0, None).sum())
    return total


def repair(inst: Instance, choice: np.ndarray, accounts: np.ndarray,
           max_steps: int | None = None) -> np.ndarray:
    """Greedy single-account moves that reduce the limit violation most, cheapest first.

    Starts from `choice` (a rep index per account; only `accounts` are considered) and
    stops when feasible or when no move helps. Vectorised over candidate moves.
    """
    choice = choice.copy()
    mask = np.isin(inst.cand_acc, accounts)
    ca, cr, cost = inst.cand_acc[mask], inst.cand_rep[mask], inst.cost[mask]
    own_cost = np.zeros(inst.n)
    specs = [(metric, side, bound, metric_vector(inst, metric))
             for _, metric, side, _, bound in inst.limits]
    if not specs:
        return choice
    steps = max_steps or 4 * len(accounts)

    def over(load, side, bound):
        scale = np.maximum(np.abs(bound), _EPS)
        d = load - bound if side == "hi" else bound - load
        return np.clip(d / scale, 0, None)

    for _ in range(steps):
        loads = {metric: _loads(inst, choice, accounts, metric) for metric, *_ in specs}
        current = sum(float(over(loads[m], s, b).sum()) for m, s, b, _ in specs)
        if current <= 1e-12:
            break
        src = choice[ca]
        movable = cr != src
        delta = np.zeros(movable.sum())
        a, r, s = ca[movable], cr[movable], src[movable]
        for metric, side, bound, coef in specs:
            load = loads[metric]
            w = coef[a]
            scale = np.maximum(np.abs(bound), _EPS)

            def v(x, b, sc, side=side):
                d = x - b if side == "hi" else b - x
                return np.clip(d / sc, 0, None)

            delta += (v(load[s] - w, bound[s], scale[s]) - v(load[s], bound[s], scale[s])
                      + v(load[r] + w, bound[r], scale[r]) - v(load[r], bound[r], scale[r]))
        own_cost[ca[cr == src]] = cost[cr == src]
        extra = cost[movable] - own_cost[a]
        best = delta.min() if len(delta) else 0.0
        if best >= -1e-12:
            break
        # among moves within 1% of the best improvement, take the cheapest
        near = np.flatnonzero(delta <= best * 0.99)
        k = near[np.argmin(extra[near] / -delta[near])]
        choice[a[k]] = r[k]
    return choice


def _start_choice(inst: Instance, accounts: np.ndarray) -> np.ndarray:
    """Current owner where allowed, else the allowed rep with the lowest cost then load."""
    choice = np.full(inst.n, -1, dtype=np.int64)
    mask = np.isin(inst.cand_acc, accounts)
    ca, cr, cost = inst.cand_acc[mask], inst.cand_rep[mask], inst.cost[mask]
    stay = cr == inst.cur[ca]
    choice[ca[stay]] = cr[stay]
    need = choice[ca] < 0
    if need.any():
        order = np.lexsort((cr[need], cost[need], ca[need]))
        a, r = ca[need][order], cr[need][order]
        first = np.r_[True, a[1:] != a[:-1]]
        choice[a[first]] = r[first]
    return choice


def _pairs_values(inst: Instance, model: Model, choice: np.ndarray) -> np.ndarray:
    pa, pr = inst.cand_acc[model.pairs], inst.cand_rep[model.pairs]
    return (choice[pa] == pr).astype(float)


def _choice_from(inst: Instance, model: Model, values: np.ndarray,
                 choice: np.ndarray) -> np.ndarray:
    """Rep per account from pair values (largest value wins, as LP rounding)."""
    out = choice.copy()
    pa, pr = inst.cand_acc[model.pairs], inst.cand_rep[model.pairs]
    order = np.lexsort((-values, pa))
    first = np.r_[True, pa[order][1:] != pa[order][:-1]]
    out[pa[order][first]] = pr[order][first]
    return out


def block_objective(inst: Instance, choice: np.ndarray, accounts: np.ndarray) -> float:
    """The scenario objective of an assignment over some accounts, in model units."""
    if inst.scenario.objective == "balance":
        return max_deviation(inst, choice, accounts)
    ca, cr = inst.cand_acc, inst.cand_rep
    mask = np.isin(ca, accounts) & (choice[ca] == cr)
    return float(inst.cost[mask].sum()) / _cost_scale(inst)


def max_deviation(inst: Instance, choice: np.ndarray, accounts: np.ndarray,
                  metrics: tuple[str, ...] | None = None) -> float:
    """Largest |load / fair share - 1| over the reps these accounts may go to."""
    sc = inst.scenario
    if metrics is None:
        metrics = ("potential",) + (("workload",) if sc.balance.workload is not None else ())
    reps = np.unique(choice[accounts])
    reps_all = np.unique(inst.cand_rep[np.isin(inst.cand_acc, accounts)])
    reps = np.union1d(reps, reps_all)
    worst = 0.0
    for metric in metrics:
        fair = inst.fair_pot if metric == "potential" else inst.fair_wl
        load = _loads(inst, choice, accounts, metric)
        ok = fair[reps] > 0
        if ok.any():
            worst = max(worst, float(np.abs(load[reps][ok] / fair[reps][ok] - 1).max()))
    return worst


# The whole solve -----------------------------------------------------------------------


def blocks_of(inst: Instance) -> list[np.ndarray]:
    """Independent account blocks: regions when same_region makes them separable."""
    sc = inst.scenario
    separable = sc.same_region and (sc.max_moved is None or sc.objective == "disruption")
    if not separable:
        return [np.arange(inst.n)]
    regions = effective_regions(inst)
    return [np.flatnonzero(regions == g) for g in sorted(set(regions))]


def effective_regions(inst: Instance) -> np.ndarray:
    """Each account's region, except that a locked account counts in its rep's region."""
    rep_region = inst.reps["region"].fillna("").to_numpy(dtype=object)
    regions = inst.accounts["region"].fillna("").to_numpy(dtype=object).copy()
    locked = inst.accounts["locked"].to_numpy(dtype=bool) & (inst.cur >= 0)
    regions[locked] = rep_region[inst.cur[locked]]
    return regions


def align(reps: pd.DataFrame, accounts: pd.DataFrame, scenario: AlignmentScenario,
          *, on_first=None) -> AlignmentResult:
    """Assign every account to exactly one rep; raises InfeasibleError / NoSolutionError.

    `on_first(seconds)` is called once every block has a feasible plan (the benchmark's
    time to a first plan).
    """
    from territories.feasibility import moved_infeasible, necessary_conditions

    t0 = time.perf_counter()
    inst = build_instance(reps, accounts, scenario)
    problems = necessary_conditions(inst)
    if problems:
        raise InfeasibleError(*problems)
    blocks = blocks_of(inst)
    state = _Clock(t0, on_first)
    choice, statuses, bounds = _solve_blocks(inst, blocks, state, with_max_moved=len(blocks) == 1)
    notes: tuple[str, ...] = ()
    if not _moved_ok(inst, choice):
        # Regions were solved without the shared max_moved. For disruption each region's
        # plan moves the least it can, so a lower bound above the budget proves it cannot hold.
        least = sum(bounds) * _cost_scale(inst)
        budget = moved_budget(inst)
        if least > budget * (1 + 1e-9):
            raise InfeasibleError(moved_infeasible(inst, least))
        notes = ("regions solved one by one broke max_moved; solved the whole book at once",)
        choice, statuses, bounds = _solve_blocks(inst, [np.arange(inst.n)], state,
                                                 with_max_moved=True)
        blocks = [np.arange(inst.n)]
    seconds = time.perf_counter() - t0
    if scenario.objective == "balance":
        objective, bound = max_deviation(inst, choice, np.arange(inst.n)), max(bounds)
    else:
        objective = float(inst.cost[choice[inst.cand_acc] == inst.cand_rep].sum())
        bound = sum(bounds) * _cost_scale(inst)
    bound = min(bound, objective)
    if scenario.objective == "balance":
        gap = max(0.0, objective - bound)  # percentage points of deviation
    else:
        gap = 0.0 if objective <= _EPS else max(0.0, (objective - bound) / abs(objective))
    status = "optimal" if all(s == "optimal" for s in statuses) else "feasible"
    state.first()
    assignments, territories = summarise(inst, choice)
    return AlignmentResult(assignments, territories, status, scenario.objective, objective, bound,
                           gap, seconds, state.first_seconds, scenario.solver.name, len(blocks),
                           notes, travel_km(inst, choice))


def travel_km(inst: Instance, choice: np.ndarray) -> float | None:
    """Workload-weighted great-circle km from each account to its rep's home."""
    acc = inst.accounts
    homes = rep_homes(inst.reps, acc)
    if acc[["lat", "lon"]].isna().any().any() or homes.isna().any().any():
        return None
    hl, ho = homes["lat"].to_numpy()[choice], homes["lon"].to_numpy()[choice]
    km = haversine_km(acc["lat"].to_numpy(), acc["lon"].to_numpy(), hl, ho)
    return float((km * inst.wl).sum())


class _Clock:
    """Time since the start and the first moment every block had a feasible plan."""

    def __init__(self, t0: float, on_first):
        self.t0, self.on_first, self.first_seconds = t0, on_first, None

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def first(self) -> None:
        if self.first_seconds is None:
            self.first_seconds = self.elapsed()
            if self.on_first:
                self.on_first(self.first_seconds)


def _solve_blocks(inst: Instance, blocks: list[np.ndarray], clock: _Clock, *,
                  with_max_moved: bool) -> tuple[np.ndarray, list[str], list[float]]:
    """Solve each block in turn, warm-started from the repaired current alignment."""
    from territories.feasibility import diagnose

    opts = inst.scenario.solver
    choice = np.full(inst.n, -1, dtype=np.int64)
    heuristic_ok = []
    for accounts_idx in blocks:
        start = repair(inst, _start_choice(inst, accounts_idx), accounts_idx)
        heuristic_ok.append(violation(inst, start, accounts_idx) <= 1e-9)
        choice[accounts_idx] = start[accounts_idx]
    moved_ok = not with_max_moved or _moved_ok(inst, choice)
    if all(heuristic_ok) and moved_ok:
        clock.first()

    statuses: list[str] = []
    bounds: list[float] = []
    for b, accounts_idx in enumerate(blocks):
        remaining = opts.time_limit - clock.elapsed()
        budget = max(remaining / (len(blocks) - b), 0.5)
        model = build_model(inst, accounts_idx, with_max_moved=with_max_moved)
        warm = _pairs_values(inst, model, choice) if heuristic_ok[b] and moved_ok else None
        solved = run_model(model, opts.name, budget, opts.gap, opts.threads, start=warm)
        if solved.status == "infeasible":
            raise InfeasibleError(*diagnose(inst, accounts_idx, with_max_moved=with_max_moved))
        if solved.status == "none":
            if warm is not None:
                # the solver kept nothing better than the repaired start
                statuses.append("feasible")
                bounds.append(min(_lp_bound(inst, accounts_idx),
                                  block_objective(inst, choice, accounts_idx)))
                continue
            raise NoSolutionError(
                f"no alignment found within {opts.time_limit:g} s: tried {opts.name} "
                f"(gap {opts.gap:.2%}) on {len(blocks)} block(s) of at most "
                f"{max(len(x) for x in blocks)} accounts, starting from the current alignment "
                "repaired move by move, which still broke a limit. Raise solver.time_limit, "
                "loosen balance or allow more moves (max_moved)")
        choice = _choice_from(inst, model, solved.values, choice)
        statuses.append(solved.status)
        bound = solved.bound
        if not math.isfinite(bound):  # CBC printed no bound: use the LP relaxation's
            bound = _lp_bound(inst, accounts_idx)
        bounds.append(min(bound, solved.objective))
    clock.first()
    return choice, statuses, bounds


def _moved_ok(inst: Instance, choice: np.ndarray) -> bool:
    budget = moved_budget(inst)
    if budget is None:
        return True
    moved = inst.owned & (choice != inst.cur)
    return float(inst.pot[moved].sum()) <= budget * (1 + 1e-9) + _EPS


def _lp_bound(inst: Instance, accounts_idx: np.ndarray) -> float:
    """The LP relaxation's objective: a lower bound for CBC, which reports none."""
    opts = inst.scenario.solver
    model = build_model(inst, accounts_idx, relax=True, with_max_moved=False)
    solved = run_model(model, "highs", opts.time_limit, 0.0, opts.threads, relax=True)
    return solved.objective if solved.status != "none" else 0.0


def summarise(inst: Instance, choice: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assignments (one row per account) and territories (one row per rep)."""
    acc = inst.accounts
    rep_ids = inst.reps["rep_id"].to_numpy(dtype=object)
    assignments = pd.DataFrame({
        "account_id": acc["account_id"].to_numpy(dtype=object),
        "rep_id": rep_ids[choice],
        "moved": inst.owned & (acc["rep_id"].to_numpy(dtype=object) != rep_ids[choice]),
        "previous_rep_id": acc["rep_id"].to_numpy(dtype=object),
        "potential": inst.pot,
        "workload": inst.wl,
        "region": acc["region"].to_numpy(dtype=object),
        "lat": acc["lat"].to_numpy(),
        "lon": acc["lon"].to_numpy(),
    })
    counts = np.bincount(choice, minlength=inst.m)
    pot = np.bincount(choice, weights=inst.pot, minlength=inst.m)
    wl = np.bincount(choice, weights=inst.wl, minlength=inst.m)
    before = np.where(inst.cur >= 0, inst.cur, inst.m)
    pot_before = np.bincount(before, weights=inst.pot, minlength=inst.m + 1)[: inst.m]
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(inst.fair_pot > 0, pot / inst.fair_pot - 1, np.nan)
        dev_wl = np.where(inst.fair_wl > 0, wl / inst.fair_wl - 1, np.nan)
        dev_before = np.where(inst.fair_pot > 0, pot_before / inst.fair_pot - 1, np.nan)
    territories = pd.DataFrame({
        "rep_id": rep_ids,
        "accounts": counts,
        "potential": pot,
        "workload": wl,
        "deviation": dev,
        "workload_deviation": dev_wl,
        "fair_potential": inst.fair_pot,
        "potential_before": pot_before,
        "deviation_before": dev_before,
        "region": inst.reps["region"].to_numpy(dtype=object),
    })
    return assignments, territories
