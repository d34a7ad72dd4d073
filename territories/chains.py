"""Chain repair: bring the last reps into their window by a chain of account moves.

After LP rounding a few reps sit a little outside their window, and every neighbour is
at its own bound, so no single move helps (the repair in `territories.repair` stalls).
A chain does: rep A sheds an account to B, B sheds one of about that size to C, ...,
until a rep can absorb it. For a rep below its minimum the chain runs the other way (A
takes an account from B, B from C, ...). Chains are searched cheapest first (the
objective's change, in model units) among the model's pairs. Used when every limit is on
one metric (then each rep has one window); the search is bounded, so it may give up.
"""

from __future__ import annotations

import heapq
import time

import numpy as np

from territories.instance import Instance, metric_vector

_TOL = 1e-9
_PER_STATE = 6  # accounts tried per rep visited
_MAX_DEPTH = 8
_MAX_STATES = 4000


def windows(inst: Instance) -> tuple[str, np.ndarray, np.ndarray] | None:
    """(metric, lower, upper) per rep when every limit is on one metric, else None."""
    metrics = {metric for _, metric, *_ in inst.limits}
    if len(metrics) != 1:
        return None
    lo, hi = np.full(inst.m, -np.inf), np.full(inst.m, np.inf)
    for _, _, side, _, bound in inst.limits:
        if side == "hi":
            hi = np.minimum(hi, bound)
        else:
            lo = np.maximum(lo, bound)
    return metrics.pop(), lo, hi


def chain_repair(inst: Instance, choice: np.ndarray, block: np.ndarray, pair_acc, pair_rep,
                 cost, seconds: float) -> np.ndarray:
    """The plan with violating reps fixed by chains where a chain is found."""
    spec = windows(inst)
    if spec is None:
        return choice
    metric, lo, hi = spec
    w = metric_vector(inst, metric)
    choice = choice.copy()
    in_block = np.zeros(inst.n, dtype=bool)
    in_block[block] = True
    keep = in_block[pair_acc]
    pa, pr, pc = pair_acc[keep], pair_rep[keep], np.asarray(cost, float)[keep]
    by_acc = np.argsort(pa, kind="stable")
    acc_start = np.searchsorted(pa[by_acc], np.arange(inst.n + 1))
    by_rep = np.argsort(pr, kind="stable")
    rep_start = np.searchsorted(pr[by_rep], np.arange(inst.m + 1))
    own_cost = np.zeros(inst.n)
    deadline = time.perf_counter() + seconds
    tol = _TOL * max(float(np.abs(w[block]).max(initial=1.0)), 1.0)
    small = float(np.quantile(np.abs(w[block]), 0.1)) if len(block) else 0.0
    # a chain is searched best first by its cost plus lam per move still needed to reach a
    # rep with room (the typical cost of one move), so a long chain is found without
    # first trying every cheap short one
    lam = float(np.median(pc[pc > 0])) if (pc > 0).any() else 1.0
    progress = True
    while progress and time.perf_counter() < deadline:
        progress = False  # a pass: every rep outside its window, worst first, until stuck
        load = np.bincount(choice[block], weights=w[block], minlength=inst.m)
        mine = choice[pa] == pr
        own_cost[pa[mine]] = pc[mine]
        holders = _held(choice, block)
        held = in_block[pa] & ~mine
        give, take = choice[pa][held], pr[held]
        hops = {True: _hops(give, take, hi - load > small, inst.m),  # room for a small account
                False: _hops(take, give, load - lo > small, inst.m)}
        off = np.maximum(load - hi, lo - load)
        for rep in np.flatnonzero(off > tol)[np.argsort(-off[off > tol], kind="stable")]:
            for _ in range(50):
                if time.perf_counter() > deadline:
                    break
                shed = load[rep] - hi[rep] > tol
                if not shed and lo[rep] - load[rep] <= tol:
                    break
                ctx = (choice, load, lo, hi, w, tol, pa, pr, pc, by_acc, acc_start, by_rep,
                       rep_start, own_cost, holders, in_block, hops[shed], lam)
                moves = _shed(int(rep), ctx) if shed else _pull(int(rep), ctx)
                if moves is None:
                    break
                for acc, r in moves:
                    old = int(choice[acc])
                    load[old] -= w[acc]
                    load[r] += w[acc]
                    ks = by_acc[acc_start[acc]:acc_start[acc + 1]]
                    own_cost[acc] = pc[ks[pr[ks] == r][0]]
                    holders[old] = holders[old][holders[old] != acc]
                    holders[r] = np.append(holders.get(r, np.empty(0, np.int64)), acc)
                    choice[acc] = r
                progress = True
    return choice


def _best_first(start: int, grow) -> list[tuple[int, int]] | None:
    """Cheapest-first search over chains from `start`, within `_MAX_STATES` states.

    `grow(rep, carried, path, cost)` returns the finished chain's moves, or None and the
    next states as (priority, rep, carried weight, path, cost); ties go first-pushed first.
    """
    heap = [(0.0, 0, start, 0.0, (), 0.0)]
    tick = 1
    for _ in range(_MAX_STATES):
        if not heap:
            break
        _, _, rep, carried, path, cost = heapq.heappop(heap)
        done, states = grow(rep, carried, path, cost)
        if done is not None:
            return done
        for priority, *state in states:
            heapq.heappush(heap, (priority, tick, *state))
            tick += 1
    return None


def _shed(start: int, ctx):
    """Moves taking the excess off `start`: A -> B -> ... until a rep can absorb it."""
    (choice, load, lo, hi, w, tol, pa, pr, pc, by_acc, acc_start, _, _, own_cost,
     holders, _, hops, lam) = ctx

    def grow(rep, w_in, path, cost):
        need_lo, need_hi = load[rep] + w_in - hi[rep], load[rep] + w_in - lo[rep]
        if path and (rep == start or need_lo <= tol and need_hi >= -tol):
            return [(a, y) for a, _, y in path], ()
        if len(path) >= _MAX_DEPTH or need_lo <= tol:
            return None, ()  # within reach only by gaining: not a shedding chain
        used = [a for a, _, _ in path]
        seen = [y for _, _, y in path] + ([] if path else [start])
        accs = holders.get(rep, np.empty(0, np.int64))
        least = need_lo - tol if path else tol  # the first move may fix only part of it
        accs = accs[(w[accs] >= least) & (w[accs] <= need_hi + tol)]
        accs = accs[~np.isin(accs, used)]
        if not len(accs):
            return None, ()
        ks = by_acc[_ranges(acc_start[accs], acc_start[accs + 1])]
        ks = ks[~np.isin(pr[ks], seen)]
        a, y = pa[ks], pr[ks]
        delta = pc[ks] - own_cost[a]
        room = load[y] + w[a] <= hi[y] + tol  # y absorbs it: the chain ends there
        if path:  # or the chain closes on the start, which shed its first account
            back = load[start] - w[path[0][0]] + w[a]
            home = y == start
            room = np.where(home, (back <= hi[start] + tol) & (back >= lo[start] - tol), room)
            keep = ~home | room
            ks, a, y, delta, room = ks[keep], a[keep], y[keep], delta[keep], room[keep]
        closer = room | (hops[y] < hops[rep])
        states = []
        for k, ends in _best(ks[closer], delta[closer], room[closer]):
            a_k, y_k = int(pa[k]), int(pr[k])
            c = cost + pc[k] - own_cost[a_k]
            states.append((c + (0 if ends else lam * hops[y_k]), y_k, float(w[a_k]), path + ((a_k, rep, y_k),), c))
        return None, states

    return _best_first(start, grow)


def _pull(start: int, ctx):
    """Moves filling `start`: it takes an account from B, B from C, ... until one can give."""
    (choice, load, lo, hi, w, tol, pa, pr, pc, _, _, by_rep, rep_start, own_cost,
     _, in_block, hops, lam) = ctx

    def grow(rep, w_out, path, cost):
        need_lo, need_hi = lo[rep] - (load[rep] - w_out), hi[rep] - (load[rep] - w_out)
        if path and (rep == start or need_lo <= tol and need_hi >= -tol):
            return [(a, y) for a, _, y in path], ()
        if len(path) >= _MAX_DEPTH or need_hi < -tol:
            return None, ()
        used = [a for a, _, _ in path]
        seen = [x for _, x, _ in path] + ([] if path else [start])
        ks = by_rep[rep_start[rep]:rep_start[rep + 1]]
        accs = pa[ks]
        ok = in_block[accs] & (choice[accs] != rep)
        least = need_lo - tol if path else tol  # the first move may fix only part of it
        ok &= (w[accs] >= least) & (w[accs] <= need_hi + tol)
        ks = ks[ok]
        ks = ks[~np.isin(pa[ks], used) & ~np.isin(choice[pa[ks]], seen)]
        a = pa[ks]
        giver = choice[a]
        delta = pc[ks] - own_cost[a]
        room = load[giver] - w[a] >= lo[giver] - tol  # the giver stays above its minimum
        if path:  # or the chain closes on the start, which took its first account
            back = load[start] + w[path[0][0]] - w[a]
            home = giver == start
            room = np.where(home, (back <= hi[start] + tol) & (back >= lo[start] - tol), room)
            keep = ~home | room
            ks, a, giver, delta, room = ks[keep], a[keep], giver[keep], delta[keep], room[keep]
        closer = room | (hops[giver] < hops[rep])
        states = []
        for k, ends in _best(ks[closer], delta[closer], room[closer]):
            a_k = int(pa[k])
            g = int(choice[a_k])
            c = cost + pc[k] - own_cost[a_k]
            states.append((c + (0 if ends else lam * hops[g]), g, float(w[a_k]), path + ((a_k, g, rep),), c))
        return None, states

    return _best_first(start, grow)


def _hops(src: np.ndarray, dst: np.ndarray, free: np.ndarray, m: int) -> np.ndarray:
    """Fewest moves from each rep to a rep with room, along src -> dst edges."""
    hops = np.where(free, 0, np.iinfo(np.int64).max)
    for d in range(1, m + 1):
        step = (hops[dst] == d - 1) & (hops[src] > d)
        if not step.any():
            break
        hops[src[step]] = d
    return hops


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenated aranges [starts[i], ends[i])."""
    lengths = ends - starts
    if not lengths.sum():
        return np.empty(0, np.int64)
    offsets = np.repeat(ends - lengths.cumsum(), lengths)
    return np.arange(lengths.sum()) + offsets


def _best(ks: np.ndarray, delta: np.ndarray, room: np.ndarray) -> list[tuple[int, bool]]:
    """(pair, ends the chain) for the cheapest moves that end it and that continue it."""
    ends, goes = ks[room], ks[~room]
    return ([(int(k), True) for k in ends[np.argsort(delta[room], kind="stable")][:_PER_STATE]]
            + [(int(k), False) for k in goes[np.argsort(delta[~room], kind="stable")][:_PER_STATE]])


def _held(choice: np.ndarray, block: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(choice[block], kind="stable")
    reps, first = np.unique(choice[block][order], return_index=True)
    parts = np.split(block[order], first[1:])
    return {int(r): p for r, p in zip(reps, parts, strict=True)}
