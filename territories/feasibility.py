"""Why an alignment scenario cannot hold, in the user's words and with exact figures.

First the cheap necessary conditions (an account larger than any allowed maximum, a
region whose total cannot be split within tolerance, locked accounts over a limit,
max_moved below what balance forces); then, when the solver still says infeasible,
a solve with a penalised slack on every named limit reports what the closest plan
breaks and by how much.
"""

from __future__ import annotations

import numpy as np

from territories.instance import Instance, _listed, effective_regions, metric_vector, moved_budget
from territories.model import build_model
from territories.solvers import run_model

_TOL = 1e-9


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _pct(value: float) -> str:
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _describe_limit(inst: Instance, label: str) -> tuple[str, str, float | None]:
    """(what the limit is called, its metric, its tolerance) from a limit label."""
    sc = inst.scenario
    if label.startswith("balance_"):
        metric = label.split("_")[1]
        tol = getattr(sc.balance, metric)
        return f"balance {_pct(tol)} on {metric}", metric, tol
    metric = label.split("_")[1]
    per = getattr(sc.capacity, metric)
    return f"capacity {_num(per)} {metric} per unit of capacity", metric, None


def necessary_conditions(inst: Instance) -> list[str]:
    """Every cheap reason the scenario cannot hold; an empty list proves nothing."""
    problems: list[str] = []
    ids = inst.accounts["account_id"].to_numpy(dtype=object)
    rep_ids = inst.reps["rep_id"].to_numpy(dtype=object)
    has_pair = np.zeros(inst.n, dtype=bool)
    has_pair[inst.cand_acc] = True
    stranded = np.flatnonzero(~has_pair)
    for a in stranded[:10]:
        problems.append(_no_rep_reason(inst, a))
    if len(stranded) > 10:
        problems.append(f"and {len(stranded) - 10} more accounts with no rep they can go to")
    if problems:
        return problems

    for label, metric, side, _, bound in inst.limits:
        coef = metric_vector(inst, metric)
        what, _, tol = _describe_limit(inst, label)
        if side == "hi":
            # an account larger than every maximum it may go to
            best = np.full(inst.n, -np.inf)
            np.maximum.at(best, inst.cand_acc, bound[inst.cand_rep])
            too_big = np.flatnonzero(coef > best * (1 + _TOL) + _TOL)
            by_size = too_big[np.argsort(-coef[too_big], kind="stable")]
            for a in by_size[:5]:
                reach = inst.cand_rep[inst.cand_acc == a]
                r = reach[np.argmax(bound[reach])]
                if tol is not None:
                    fair = bound[r] / (1 + tol)
                    problems.append(
                        f"{what} is infeasible: account {ids[a]} alone ({metric} {_num(coef[a])}) "
                        f"is {_pct(coef[a] / fair - 1)} above the fair share {_num(fair)} of rep "
                        f"{rep_ids[r]}, the largest it can go to (at most {_num(bound[r])})")
                else:
                    problems.append(
                        f"{what} is infeasible: account {ids[a]} alone ({metric} {_num(coef[a])}) "
                        f"exceeds the limit of every rep it can go to (at most {_num(bound[r])})")
            if len(by_size) > 5:
                problems.append(f"and {len(by_size) - 5} more accounts too large for every rep "
                                f"they can go to: {_listed(ids[by_size[5:]], 10)}")
            # accounts locked to a rep already over its maximum
            locked = inst.accounts["locked"].to_numpy(dtype=bool) & (inst.cur >= 0)
            load = np.bincount(inst.cur[locked], weights=coef[locked], minlength=inst.m)
            over = np.flatnonzero(load > bound * (1 + _TOL) + _TOL)
            for r in over[:5]:
                problems.append(
                    f"{what} is infeasible: the accounts locked to rep {rep_ids[r]} hold "
                    f"{metric} {_num(load[r])}, more than its maximum {_num(bound[r])}")
            if len(over) > 5:
                problems.append(f"and {len(over) - 5} more reps whose locked accounts exceed "
                                f"their maximum: {_listed(rep_ids[over[5:]])}")
        problems += _group_totals(inst, label, metric, side, bound)
    problems += _moved_floor(inst)
    return problems


def _no_rep_reason(inst: Instance, a: int) -> str:
    acc = inst.accounts.iloc[a]
    rep_ids = set(inst.reps["rep_id"])
    if acc["locked"]:
        if acc["rep_id"] not in rep_ids:
            return f"account {acc['account_id']} is locked to {acc['rep_id']}, who is not in reps"
        return f"account {acc['account_id']} is locked to {acc['rep_id']}, whose capacity is 0"
    if inst.scenario.same_region:
        region = acc["region"] or "(blank)"
        return (f"same_region is infeasible: account {acc['account_id']} is in region {region}, "
                "which has no rep with capacity above 0")
    return f"account {acc['account_id']} has no rep it can go to"


def _group_totals(inst: Instance, label: str, metric: str, side: str, bound) -> list[str]:
    """A region (or the book) whose total cannot be split within the reps' limits."""
    coef = metric_vector(inst, metric)
    what, _, tol = _describe_limit(inst, label)
    problems = []
    rep_ids = inst.reps["rep_id"].to_numpy(dtype=object)
    if inst.scenario.same_region:
        rep_region = inst.reps["region"].fillna("").to_numpy(dtype=object)
        acc_region = effective_regions(inst)
        groups = sorted(set(acc_region) | set(rep_region[inst.cap > 0]))
    else:
        acc_region = np.full(inst.n, "", dtype=object)
        rep_region = np.full(inst.m, "", dtype=object)
        groups = [""]
    active = inst.cap > 0
    for g in groups:
        total = float(coef[acc_region == g].sum())
        reps = np.flatnonzero((rep_region == g) & active)
        limit = float(bound[reps].sum())
        where = f"in region {g}" if g else "across all reps"
        held = (f"it has {_num(total)} accounts" if metric == "accounts"
                else f"its accounts hold {metric} {_num(total)}")
        if side == "hi" and total > limit * (1 + _TOL) + _TOL:
            problems.append(
                f"{what} is infeasible {where}: {held} but its "
                f"{len(reps)} rep(s) can carry at most {_num(limit)}"
                + (f" (fair share +{_pct(tol)})" if tol is not None else ""))
        if side == "lo" and total < limit * (1 - _TOL) - _TOL:
            if not len(reps):
                continue
            problems.append(
                f"{what} is infeasible {where}: {held} but its "
                f"{len(reps)} rep(s) need at least {_num(limit)} (fair share -{_pct(tol)})"
                + (f": rep {rep_ids[reps[0]]} would be left short" if len(reps) == 1 else ""))
    return problems


def _moved_floor(inst: Instance) -> list[str]:
    """max_moved below the potential that must change owner whatever the plan."""
    budget = moved_budget(inst)
    if budget is None:
        return []
    pot = inst.pot
    # accounts whose current owner is not an allowed rep must move
    stay_ok = np.zeros(inst.n, dtype=bool)
    stay_ok[inst.cand_acc[inst.cand_rep == inst.cur[inst.cand_acc]]] = True
    forced = inst.owned & ~stay_ok
    # a rep above its potential maximum must shed at least the excess
    kept = inst.owned & stay_ok
    load = np.bincount(inst.cur[kept], weights=pot[kept], minlength=inst.m)
    shed = np.zeros(inst.m)
    for _, metric, side, _, bound in inst.limits:
        if metric == "potential" and side == "hi":
            shed = np.maximum(shed, load - bound)
    least = float(pot[forced].sum() + np.clip(shed, 0, None).sum())
    if least > budget * (1 + _TOL) + _TOL:
        return [moved_infeasible(inst, least)]
    return []


def moved_infeasible(inst: Instance, least: float) -> str:
    """The message for a max_moved below the `least` potential that must move."""
    total = inst.pot.sum()
    return (f"max_moved {_pct(inst.scenario.max_moved)} is infeasible: at least potential "
            f"{_num(least)} ({_pct(least / total)} of {_num(total)}) must change owner to meet "
            "the other limits")


def diagnose(inst: Instance, accounts_idx: np.ndarray, *, with_max_moved: bool = True) -> list[str]:
    """Solve with a penalised slack on every limit and name each one the closest plan breaks."""
    opts = inst.scenario.solver
    model = build_model(inst, accounts_idx, elastic=True, with_max_moved=with_max_moved)
    solved = run_model(model, opts.name, opts.time_limit, opts.gap, opts.threads)
    head = "the constraints cannot all hold"
    if solved.status not in ("optimal", "feasible"):
        return [f"{head} (the solver proved it; it found no closest plan within "
                f"{opts.time_limit:g} s to say which)"]
    rep_ids = inst.reps["rep_id"].to_numpy(dtype=object)
    broken = []
    for name, col in model.slack.items():
        value = float(solved.values[col])
        label, metric, r, rhs, unit = model.meta[name]
        amount = value * unit
        bound = rhs * unit
        if amount <= max(1e-6 * max(abs(bound), 1.0), 1e-6):
            continue
        if label == "max_moved":
            least = bound + amount
            broken.append((amount / max(bound, 1e-9), moved_infeasible(inst, least)))
            continue
        what, _, tol = _describe_limit(inst, label)
        hi = label.endswith("_hi") or label.startswith("capacity")
        load = bound + amount if hi else bound - amount
        rel = amount / max(abs(bound), 1e-9)
        side = "above its maximum" if hi else "below its minimum"
        broken.append((rel, f"{name}: {what} breaks for rep {rep_ids[r]}: the closest plan "
                            f"gives it {metric} {_num(load)}, {_num(amount)} ({_pct(rel)}) {side} "
                            f"{_num(bound)}"))
    if not broken:
        return [f"{head}: the solver reported the model infeasible, but the closest plan breaks "
                "no limit by more than rounding; loosen balance slightly"]
    broken.sort(key=lambda t: -t[0])
    head = f"{head}; the closest plan breaks {len(broken)} limit(s):"
    more = [f"and {len(broken) - 10} more broken limits"] if len(broken) > 10 else []
    return [head] + [m for _, m in broken[:10]] + more
