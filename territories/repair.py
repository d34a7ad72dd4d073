"""Heuristic plans: a greedy start, LP rounding, and repair to feasibility.

The start keeps each account with its current owner where allowed, else gives it its
cheapest allowed rep. `repair` then moves accounts out of reps above a maximum and into
reps below a minimum: each round it scores only the moves that touch a violating rep
(cost added per unit of violation removed) and applies the best move of every violating
rep at once, so a 20,000-account book is repaired in rounds, not in single moves over
every pair.
"""

from __future__ import annotations

import time

import numpy as np

from territories.instance import Instance, metric_vector

_EPS = 1e-7


def loads(inst: Instance, choice: np.ndarray, block: np.ndarray, metric: str) -> np.ndarray:
    """Each rep's total of `metric` over the block's accounts."""
    return np.bincount(choice[block], weights=metric_vector(inst, metric)[block], minlength=inst.m)


def _over(load, side, bound):
    scale = np.maximum(np.abs(bound), _EPS)
    d = load - bound if side == "hi" else bound - load
    return np.clip(d / scale, 0, None)


def violation(inst: Instance, choice: np.ndarray, block: np.ndarray) -> float:
    """Sum of relative limit violations over the reps the block reaches (0 means feasible)."""
    reps = np.unique(inst.cand_rep[np.isin(inst.cand_acc, block)])
    total = 0.0
    for _, metric, side, _, bound in inst.limits:
        total += float(_over(loads(inst, choice, block, metric)[reps], side, bound[reps]).sum())
    return total


def start_choice(inst: Instance, block: np.ndarray) -> np.ndarray:
    """Current owner where allowed, else the allowed rep with the lowest cost."""
    choice = np.full(inst.n, -1, dtype=np.int64)
    mask = np.isin(inst.cand_acc, block)
    ca, cr, cost = inst.cand_acc[mask], inst.cand_rep[mask], inst.cost[mask]
    need = np.ones(inst.n, dtype=bool)
    stay = cr == inst.cur[ca]
    choice[ca[stay]] = cr[stay]
    need[ca[stay]] = False
    pick = need[ca]
    if pick.any():
        order = np.lexsort((cr[pick], cost[pick], ca[pick]))
        a, r = ca[pick][order], cr[pick][order]
        first = np.r_[True, a[1:] != a[:-1]]
        choice[a[first]] = r[first]
    return choice


def rounded(inst: Instance, pair_acc, pair_rep, values, choice: np.ndarray) -> np.ndarray:
    """Rep per account from pair values: the largest value wins (LP rounding)."""
    out = choice.copy()
    if not len(pair_acc):
        return out
    order = np.lexsort((-np.asarray(values), pair_acc))
    a, r = pair_acc[order], pair_rep[order]
    first = np.r_[True, a[1:] != a[:-1]]
    out[a[first]] = r[first]
    return out


def repair(inst: Instance, choice: np.ndarray, block: np.ndarray,
           max_rounds: int | None = None, seconds: float = 60.0) -> np.ndarray:
    """Moves that reduce the limit violation, cheapest per unit removed, until feasible."""
    choice = choice.copy()
    mask = np.isin(inst.cand_acc, block)
    ca, cr, cost = inst.cand_acc[mask], inst.cand_rep[mask], inst.cost[mask]
    specs = [(metric, side, bound, metric_vector(inst, metric))
             for _, metric, side, _, bound in inst.limits]
    if not specs or not len(ca):
        return choice
    own = np.zeros(inst.n)
    keys = np.sort(ca.astype(np.int64) * inst.m + cr)  # allowed pairs, for swaps
    deadline = time.perf_counter() + seconds
    for _ in range(max_rounds or 4 * len(block) + 10):
        lds = {metric: loads(inst, choice, block, metric) for metric, *_ in specs}
        per_rep = sum(_over(lds[m], s, b) for m, s, b, _ in specs)
        if per_rep.sum() <= 1e-12 or time.perf_counter() > deadline:
            break
        bad = per_rep > 1e-12
        src = choice[ca]
        here = cr == src
        own[ca[here]] = cost[here]
        movable = ~here & (bad[src] | bad[cr])
        a, r, s = ca[movable], cr[movable], src[movable]
        delta = np.zeros(len(a))
        for metric, side, bound, coef in specs:
            load, w = lds[metric], coef[a]
            delta += (_over(load[s] - w, side, bound[s]) - _over(load[s], side, bound[s])
                      + _over(load[r] + w, side, bound[r]) - _over(load[r], side, bound[r]))
        good = delta < -1e-12
        if not good.any():
            swapped = _swap(inst, choice, block, specs, lds, per_rep, keys)
            if swapped is None:
                break
            choice = swapped
            continue
        a, r, s, gain = a[good], r[good], s[good], -delta[good]
        extra = cost[movable][good] - own[a]
        # a violating rep's moves within a quarter of its largest gain, cheapest per unit
        key = np.where(bad[s], s, r)
        best_gain = np.zeros(inst.m)
        np.maximum.at(best_gain, key, gain)
        strong = gain >= 0.25 * best_gain[key]
        a, r, s, gain, extra, key = (v[strong] for v in (a, r, s, gain, extra, key))
        order = np.lexsort((-gain, extra / gain))
        picked = _disjoint(order, key, s, r, a)
        before = per_rep.sum()
        trial = choice.copy()
        trial[a[picked]] = r[picked]
        after = sum(_over(loads(inst, trial, block, m), sd, b) for m, sd, b, _ in specs).sum()
        if after < before - 1e-12:
            choice = trial
        else:
            k = order[0]
            choice[a[k]] = r[k]
    return choice


def _swap(inst: Instance, choice, block, specs, lds, per_rep, keys) -> np.ndarray | None:
    """The best exchange of two accounts between a violating rep and another rep.

    Single moves overshoot when every account is larger than what a rep is off by; an
    exchange moves only the difference of two accounts. Returns None when none helps.
    """
    def allowed_pair(acc, rep):
        k = acc.astype(np.int64) * inst.m + rep
        pos = np.clip(np.searchsorted(keys, k), 0, len(keys) - 1)
        return keys[pos] == k

    best, best_delta = None, -1e-12
    for r in np.argsort(-per_rep)[: 20]:
        if per_rep[r] <= 1e-12:
            break
        mine = block[choice[block] == r]
        others = block[choice[block] != r]
        others = others[allowed_pair(others, np.full(len(others), r))]
        if not len(mine) or not len(others):
            continue
        s_of = choice[others]
        ok = allowed_pair(np.repeat(mine, len(others)), np.tile(s_of, len(mine))).reshape(
            len(mine), len(others))
        delta = np.zeros(ok.shape)
        for metric, side, bound, coef in specs:
            load = lds[metric]
            wa, wb = coef[mine][:, None], coef[others][None, :]
            ls = load[s_of][None, :]
            delta += (_over(load[r] - wa + wb, side, bound[r]) - _over(load[r], side, bound[r])
                      + _over(ls + wa - wb, side, bound[s_of][None, :])
                      - _over(ls, side, bound[s_of][None, :]))
        delta = np.where(ok, delta, np.inf)
        i, j = np.unravel_index(np.argmin(delta), delta.shape)
        if delta[i, j] < best_delta:
            best_delta, best = delta[i, j], (mine[i], others[j], r, s_of[j])
    if best is None:
        return None
    out = choice.copy()
    out[best[0]], out[best[1]] = best[3], best[2]
    return out


def _disjoint(order, key, s, r, a) -> np.ndarray:
    """Moves in `order`, keeping the first per violating rep, and no rep or account twice."""
    used_rep: set = set()
    used_acc: set = set()
    picked = []
    for k in order:
        if s[k] in used_rep or r[k] in used_rep or a[k] in used_acc:
            continue
        picked.append(k)
        used_rep.update((int(s[k]), int(r[k])))
        used_acc.add(int(a[k]))
    return np.array(picked, dtype=np.int64)


def polish(inst: Instance, choice: np.ndarray, block: np.ndarray, pair_acc, pair_rep, cost,
           rounds: int = 50) -> np.ndarray:
    """Single moves that lower the cost and keep every limit, the best per rep each round.

    Run on a feasible plan, it keeps it feasible; it also settles ties the LP and MILP
    tolerances cannot see (the travel tie-break is 1e-7 of the objective). With max_moved
    only moves that do not add moved potential are taken.
    """
    choice = choice.copy()
    in_block = np.zeros(inst.n, dtype=bool)
    in_block[block] = True
    keep = in_block[pair_acc]
    pa, pr, pc = pair_acc[keep], pair_rep[keep], np.asarray(cost)[keep]
    specs = [(side, bound, metric_vector(inst, metric)) for _, metric, side, _, bound in inst.limits]
    budget_limited = inst.scenario.max_moved is not None
    for _ in range(rounds):
        own = np.full(inst.n, np.inf)
        mine = choice[pa] == pr
        own[pa[mine]] = pc[mine]
        better = ~mine & (pc < own[pa] - 1e-12)
        if budget_limited:
            better &= ~inst.owned[pa] | (pr == inst.cur[pa]) | (choice[pa] != inst.cur[pa])
        a, r, c = pa[better], pr[better], pc[better]
        if not len(a):
            break
        s = choice[a]
        ok = np.ones(len(a), dtype=bool)
        for side, bound, coef in specs:
            load = np.bincount(choice[block], weights=coef[block], minlength=inst.m)
            w = coef[a]
            if side == "hi":
                ok &= load[r] + w <= bound[r] * (1 + 1e-12) + _EPS
            else:
                ok &= load[s] - w >= bound[s] * (1 - 1e-12) - _EPS
        if not ok.any():
            break
        a, r, s, gain = a[ok], r[ok], s[ok], (own[a] - c)[ok]
        order = np.argsort(-gain, kind="stable")
        picked = _disjoint(order, np.zeros(len(a)), s, r, a)
        choice[a[picked]] = r[picked]
    return choice
