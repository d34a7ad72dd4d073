"""The alignment MILP over one block of accounts, as arrays both solver adapters read.

Rows, each named in the user's words so infeasibility can be reported that way:
`assign[A]` (each account exactly once), `balance_{metric}_{hi,lo}[R]`,
`capacity_{metric}[R]`, `max_moved`, and for the `balance` objective
`deviation_{metric}_{hi,lo}[R]` around the largest deviation `z`. Contiguity adds flow
columns and rows (`territories.contiguity`). `pair_columns` gives any (account, rep)
pair's column, so pairs left out of a candidate list can be priced against the duals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from territories.instance import (
    Instance,
    effective_regions,
    metric_vector,
    moved_budget,
    pair_cost,
)

_EPS = 1e-7


@dataclass(frozen=True)
class Model:
    """A linear model in arrays: columns, rows (COO), names, and what each row means."""

    block: np.ndarray  # account indexes of the block
    pair_acc: np.ndarray  # account and rep of each pair column (the first columns)
    pair_rep: np.ndarray
    cost: np.ndarray  # every column
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray  # bool per column
    rows: np.ndarray  # COO row index
    cols: np.ndarray
    vals: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    row_names: list
    meta: dict  # row name -> (label, metric, rep index, rhs in user units / unit, unit)
    slack: dict = field(default_factory=dict)  # row name -> slack column (elastic models)
    zcol: int | None = None
    scale: float = 1.0  # objective units per model unit
    layout: dict = field(default_factory=dict)  # what pair_columns needs

    @property
    def n_pairs(self) -> int:
        """Number of (account, rep) columns."""
        return len(self.pair_acc)


def cost_scale(inst: Instance) -> float:
    """Objective units per model unit, so coefficients stay near 1.

    The same for every block and every widening of the candidate lists.
    """
    objective = inst.scenario.objective
    if objective == "disruption":
        return float(inst.pot.mean()) or 1.0
    if objective == "distance":
        return 100.0 * (float(inst.wl.mean()) or 1.0)
    return 1.0


def block_reps(inst: Instance, block: np.ndarray) -> np.ndarray:
    """Reps the block's accounts may go to in the full model (rows exist for each)."""
    if inst.scenario.same_region:
        regions = set(effective_regions(inst)[block])
        reps = np.flatnonzero(inst.reps["region"].fillna("").isin(regions).to_numpy()
                              & (inst.cap > 0))
    else:
        reps = np.flatnonzero(inst.cap > 0)
    in_block = np.isin(inst.cand_acc, block)
    return np.union1d(reps, inst.cand_rep[in_block])


def pair_columns(inst: Instance, layout: dict, acc: np.ndarray, rep: np.ndarray):
    """(cost, rows, positions, values) of pair columns: rows/values are COO per pair."""
    cost = pair_cost(inst, acc, rep) / layout["scale"]
    if inst.scenario.objective == "balance":
        cost = np.zeros(len(acc))
    rows, pos, vals = [layout["assign_row"][acc]], [np.arange(len(acc))], [np.ones(len(acc))]
    for first, coef, unit in layout["rep_rows"]:
        row = first[rep]
        ok = row >= 0
        rows.append(row[ok])
        pos.append(np.flatnonzero(ok))
        vals.append(coef[acc[ok]] / unit[rep[ok]] if isinstance(unit, np.ndarray)
                    else coef[acc[ok]] / unit)
    if layout.get("moved_row") is not None:
        kept = np.flatnonzero(rep == inst.cur[acc])
        rows.append(np.full(len(kept), layout["moved_row"]))
        pos.append(kept)
        vals.append(-inst.pot[acc[kept]] / layout["moved_scale"])
    return cost, np.concatenate(rows), np.concatenate(pos), np.concatenate(vals)


def build_model(inst: Instance, block: np.ndarray, *, relax: bool = False,
                elastic: bool = False, with_max_moved: bool = True,
                pairs: tuple[np.ndarray, np.ndarray] | None = None) -> Model:
    """The model over `block`; `pairs` overrides the instance's pairs of the block.

    With `elastic`, every row but `assign` gets a penalised slack so a plan always exists:
    violations dominate the objective, which then only breaks ties.
    """
    sc = inst.scenario
    if pairs is None:
        in_block = np.isin(inst.cand_acc, block)
        pa, pr = inst.cand_acc[in_block], inst.cand_rep[in_block]
    else:
        pa, pr = pairs
    reps = block_reps(inst, block)
    ids = inst.accounts["account_id"].to_numpy(dtype=object)
    rep_ids = inst.reps["rep_id"].to_numpy(dtype=object)
    assign_row = np.full(inst.n, -1, dtype=np.int64)
    assign_row[block] = np.arange(len(block))
    names = [f"assign[{ids[a]}]" for a in block]
    meta = {name: ("assign", None, None, 1.0, 1.0) for name in names}
    row_lo, row_hi = [np.ones(len(block))], [np.ones(len(block))]
    rep_rows = []

    def rep_block(label, metric, coef, unit, lo, hi, rhs_user):
        first = np.full(inst.m, -1, dtype=np.int64)
        first[reps] = len(names) + np.arange(len(reps))
        rep_rows.append((first, coef, unit))
        for r in reps:
            names.append(f"{label}[{rep_ids[r]}]")
            u = unit[r] if isinstance(unit, np.ndarray) else unit
            meta[names[-1]] = (label, metric, int(r), rhs_user[r] / u, u)
        row_lo.append(lo[reps])
        row_hi.append(hi[reps])

    for label, metric, side, _, bound in inst.limits:
        coef = metric_vector(inst, metric)
        unit = float(np.mean(coef[block])) or 1.0
        inf = np.full(inst.m, np.inf)
        if side == "hi":
            rep_block(label, metric, coef, unit, -inf, bound / unit, bound)
        else:
            rep_block(label, metric, coef, unit, bound / unit, inf, bound)

    layout = {"assign_row": assign_row, "rep_rows": rep_rows, "scale": cost_scale(inst)}
    budget = moved_budget(inst)
    if budget is not None and with_max_moved:
        unit = float(inst.pot.mean()) or 1.0
        owned_block = block[inst.owned[block]]
        layout["moved_row"], layout["moved_scale"] = len(names), unit
        names.append("max_moved")
        meta["max_moved"] = ("max_moved", "potential", None, budget / unit, unit)
        row_lo.append([-np.inf])
        row_hi.append([(budget - inst.pot[owned_block].sum()) / unit])

    zcol = None
    extra_rows = []
    metrics = []
    if sc.objective == "balance":
        metrics = ["potential"] + (["workload"] if sc.balance.workload is not None else [])
        for metric in metrics:
            fair = inst.fair_pot if metric == "potential" else inst.fair_wl
            fair = np.where(fair > 0, fair, np.inf)
            inf = np.full(inst.m, np.inf)
            one = np.ones(inst.m)
            for side in ("hi", "lo"):
                start = len(names)
                rep_block(f"deviation_{metric}_{side}", metric, metric_vector(inst, metric), fair,
                          -inf if side == "hi" else one, one if side == "hi" else inf, one)
                extra_rows.append((start, side))
    cost, rows, pos, vals = pair_columns(inst, layout, pa, pr)
    n_cols = len(pa)
    cols = [pos]
    rows, vals = [rows], [vals]
    lower, upper = [np.zeros(n_cols)], [np.ones(n_cols)]
    integer = [np.full(n_cols, not relax)]
    costs = [cost]
    if sc.objective == "balance":
        zcol = n_cols
        costs.append([1.0])
        lower.append([_balance_floor(inst, block, reps, metrics) * (1 - 1e-9)])
        upper.append([np.inf])
        integer.append([False])
        for start, side in extra_rows:
            r = np.arange(start, start + len(reps))
            rows.append(r)
            cols.append(np.full(len(r), zcol))
            vals.append(np.full(len(r), -1.0 if side == "hi" else 1.0))
        n_cols += 1
    row_lo, row_hi = np.concatenate(row_lo).astype(float), np.concatenate(row_hi).astype(float)
    slack: dict = {}
    if elastic:
        costs = [np.asarray(c, dtype=float) * 1e-4 for c in costs]
        for i, name in enumerate(names):
            if name.startswith(("assign[", "deviation_")):
                continue
            side = -1.0 if np.isfinite(row_hi[i]) else 1.0
            slack[name] = n_cols
            rows.append([i])
            cols.append([n_cols])
            vals.append([side])
            scale = max(abs(row_hi[i] if side < 0 else row_lo[i]), _EPS)
            costs.append([1e3 / scale])
            lower.append([0.0])
            upper.append([np.inf])
            integer.append([False])
            n_cols += 1
    return Model(block, pa, pr, np.concatenate([np.asarray(c, float) for c in costs]),
                 np.concatenate([np.asarray(x, float) for x in lower]),
                 np.concatenate([np.asarray(x, float) for x in upper]),
                 np.concatenate([np.asarray(x, bool) for x in integer]),
                 np.concatenate([np.asarray(x, np.int64) for x in rows]),
                 np.concatenate([np.asarray(x, np.int64) for x in cols]),
                 np.concatenate([np.asarray(x, float) for x in vals]),
                 row_lo, row_hi, names, meta, slack, zcol,
                 1.0 if sc.objective == "balance" else layout["scale"], layout)


def _balance_floor(inst: Instance, block, reps, metrics) -> float:
    """The largest deviation is at least the block's average one: spares a proof by branching."""
    floor = 0.0
    for metric in metrics:
        fair = inst.fair_pot if metric == "potential" else inst.fair_wl
        total_fair = fair[reps].sum()
        if total_fair > 0:
            total = metric_vector(inst, metric)[block].sum()
            floor = max(floor, abs(total / total_fair - 1))
    return floor


def start_values(model: Model, choice: np.ndarray, inst: Instance) -> np.ndarray:
    """A full column vector for a plan (z and slacks at their least feasible values)."""
    x = np.zeros(len(model.cost))
    x[: model.n_pairs] = (choice[model.pair_acc] == model.pair_rep).astype(float)
    if model.zcol is not None:
        act = activities(model, x)
        need = 0.0
        for name, i in zip(model.row_names, range(len(act)), strict=True):
            if name.startswith("deviation_"):
                need = max(need, (act[i] - 1) if name.split("[")[0].endswith("_hi") else 1 - act[i])
        x[model.zcol] = max(need, model.lower[model.zcol])
    return x


def activities(model: Model, x: np.ndarray) -> np.ndarray:
    """Row activities A x."""
    return np.bincount(model.rows, weights=model.vals * x[model.cols], minlength=len(model.row_lo))
