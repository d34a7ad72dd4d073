"""A connected start for contiguous territories: grow, then balance by boundary moves.

The flow model of `territories.contiguity` is weak (big-M), and HiGHS finds no first plan
on its own beyond a few dozen accounts. This module builds one along the adjacency graph:

1. *Seeds.* The largest connected piece of each rep's current territory (the rest of a
   split territory is regrown); one root per rep (its current account nearest its home,
   else the allowed account nearest its home); then the largest pieces of the optimum
   without contiguity, which the caller solves once the first plan is there.
2. *Growth.* Multi-source: each step gives the rep furthest below its target the nearest
   unclaimed neighbour of its territory (its own current accounts first), never past a
   rep's maximum; the accounts left over go to the lightest neighbouring territory.
3. *Boundary moves.* An account moves from territory A to a neighbouring territory B only
   when A stays connected without it; a cut account moves with the pieces it holds on
   to. Each round applies, one per rep, the moves that lower the limit violation (then
   the squared deviation from the fair share beyond half the tolerance: that spreads load
   across the graph), cheapest per unit gained, until every limit holds; then the moves
   that lower the objective and keep every limit.
4. *Kicks.* With the time left: a random fifth of the boundary moves that lower the
   objective, limits ignored (for disruption, accounts going back to their owner), then
   step 3 again; kept when better, until 60 kicks in a row find nothing.

Every pair the full model allows may be used (locks, same_region and max_km hold), not
only the candidate lists: a territory's neighbour is often not among an account's k
nearest reps. The caller adds the plan's pairs to the model it warm-starts.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import numpy as np

from territories.instance import Instance, allowed, metric_vector, moved_budget, pair_cost, pair_km

_EPS = 1e-9
_W = 100.0  # weight of a unit of relative violation against the squared deviation
_BRANCHES = 50  # cut accounts tried with their branch per round
_DENSE = 4_000_000  # up to this many (account, rep) pairs, their costs are kept in a matrix
_KICKS = 60  # kicks in a row that find nothing better before the search stops


@dataclass(frozen=True)
class Graph:
    """Adjacency lists in CSR form: the neighbours of i are nbr[start[i]:start[i + 1]]."""

    start: np.ndarray
    nbr: np.ndarray

    def of(self, i: int) -> np.ndarray:
        """Neighbours of account i."""
        return self.nbr[self.start[i]:self.start[i + 1]]


def graph(n: int, edges: np.ndarray) -> Graph:
    """CSR adjacency of the undirected `edges`."""
    both = np.concatenate([edges, edges[:, ::-1]]) if len(edges) else np.empty((0, 2), np.int64)
    order = np.lexsort((both[:, 1], both[:, 0]))
    both = both[order]
    return Graph(np.searchsorted(both[:, 0], np.arange(n + 1)), both[:, 1].astype(np.int64))


def pieces(g, members: np.ndarray, inside: np.ndarray) -> list[list[int]]:
    """Connected pieces of `members` (`inside` marks them), largest first.

    `g` is a `Graph` or a list of neighbour lists.
    """
    nbrs = g.of if isinstance(g, Graph) else g.__getitem__
    seen = ~inside
    out = []
    for s in members.tolist():
        if seen[s]:
            continue
        seen[s] = True
        piece, stack = [], [s]
        while stack:
            i = stack.pop()
            piece.append(i)
            for j in nbrs(i):
                if not seen[j]:
                    seen[j] = True
                    stack.append(j)
        out.append(piece)
    return sorted(out, key=len, reverse=True)


class _Book:
    """What the heuristics read: allowed pairs, costs, targets and limits as arrays."""

    def __init__(self, inst: Instance, edges: np.ndarray):
        self.inst, self.n, self.m = inst, inst.n, inst.m
        self.g = graph(inst.n, edges)
        self.lists = [self.g.of(i).tolist() for i in range(inst.n)]
        self._allowed = self._cost = None
        if inst.n * inst.m <= _DENSE:  # every pair's cost and permission, computed once
            acc, rep = np.repeat(np.arange(inst.n), inst.m), np.tile(np.arange(inst.m), inst.n)
            self._allowed = allowed(inst, acc, rep).reshape(inst.n, inst.m)
            self._cost = pair_cost(inst, acc, rep).reshape(inst.n, inst.m)
        self.specs = []  # (coef, side, bound) per limit
        for _, metric, side, _, bound in inst.limits:
            self.specs.append((metric_vector(inst, metric), side, np.asarray(bound, float)))
        balance = inst.scenario.balance
        self.targets = []  # (coef, fair share, band) per balanced metric
        for metric in ("potential", "workload"):
            tol = getattr(balance, metric)
            if tol is None and (metric == "workload" or balance.workload is not None):
                continue
            coef = metric_vector(inst, metric)
            fair = np.maximum(coef.sum() * inst.cap / max(inst.cap.sum(), _EPS), _EPS)
            band = 0.0 if inst.scenario.objective == "balance" or tol is None else tol / 2
            self.targets.append((coef, fair, band, tol is not None))
        self.budget = moved_budget(inst)
        self.home_km = None
        if inst.homes is not None:
            self.home_km = lambda a, r: pair_km(inst, np.asarray(a), np.asarray(r))

    def allowed(self, acc, rep) -> np.ndarray:
        """Whether the full model allows each (account, rep) pair (not only the candidates)."""
        acc, rep = np.asarray(acc, np.int64), np.asarray(rep, np.int64)
        if self._allowed is not None:
            return self._allowed[acc, rep]
        return allowed(self.inst, acc, rep)

    def pair_cost(self, acc, rep) -> np.ndarray:
        """Objective cost of pairs."""
        acc, rep = np.asarray(acc, np.int64), np.asarray(rep, np.int64)
        if self._cost is not None:
            return self._cost[acc, rep]
        return pair_cost(self.inst, acc, rep)

    def loads(self, choice: np.ndarray) -> list[np.ndarray]:
        """Each limit's load per rep."""
        ok = choice >= 0
        return [np.bincount(choice[ok], weights=coef[ok], minlength=self.m)
                for coef, _, _ in self.specs]

    def violation(self, choice: np.ndarray) -> float:
        """Sum of relative limit violations, max_moved included (0 means feasible)."""
        total = 0.0
        for (_, side, bound), load in zip(self.specs, self.loads(choice), strict=True):
            total += float(_over(load, side, bound).sum())
        return total + self.moved_over(choice)

    def moved_over(self, choice: np.ndarray) -> float:
        """Relative excess of moved potential over max_moved."""
        if self.budget is None:
            return 0.0
        inst = self.inst
        moved = float(inst.pot[inst.owned & (choice != inst.cur)].sum())
        return max(0.0, moved - self.budget) / max(self.budget, _EPS)

    def total_cost(self, choice: np.ndarray) -> float:
        """The plan's objective cost."""
        return float(self.pair_cost(np.arange(self.n), choice).sum())


def _over(load, side, bound):
    scale = np.maximum(np.abs(bound), _EPS)
    d = load - bound if side == "hi" else bound - load
    return np.clip(d / scale, 0, None)


def _sq(load, fair, band):
    return np.clip(np.abs(load / fair - 1) - band, 0, None) ** 2


def seeds_from_roots(book: _Book) -> np.ndarray:
    """One root account per rep: its current account nearest home, else the nearest allowed."""
    inst, choice = book.inst, np.full(book.n, -1, np.int64)
    ca, cr = inst.cand_acc, inst.cand_rep  # the model's pairs hold each rep's nearest accounts
    first, later = [], []
    for r in range(book.m):
        mine = ca[cr == r]
        if not len(mine):
            continue
        own = mine[inst.cur[mine] == r]
        (first if len(own) else later).append((r, own if len(own) else mine))
    for r, options in first + later:
        options = options[choice[options] < 0]
        if not len(options):
            continue
        if book.home_km is not None:
            pick = options[np.argmin(book.home_km(options, np.full(len(options), r)))]
        else:  # the account with the most neighbours among the options
            inside = np.zeros(book.n, bool)
            inside[options] = True
            pick = options[np.argmax([inside[book.g.of(a)].sum() for a in options.tolist()])]
        choice[pick] = r
    return choice


def seeds_from_plan(book: _Book, plan: np.ndarray) -> np.ndarray:
    """Each rep keeps the largest connected piece of its (allowed) accounts in `plan`."""
    choice = np.full(book.n, -1, np.int64)
    stay = np.flatnonzero((plan >= 0) & book.allowed(np.arange(book.n), np.maximum(plan, 0)))
    for r in np.unique(plan[stay]).tolist():
        members = stay[plan[stay] == r]
        inside = np.zeros(book.n, bool)
        inside[members] = True
        choice[pieces(book.lists, members, inside)[0]] = r
    return choice


def grow(book: _Book, choice: np.ndarray) -> np.ndarray:
    """Claim every account for a neighbouring territory, lightest rep first (see module doc)."""
    choice = choice.copy()
    inst = book.inst
    km = book.home_km
    heaps: list[list] = [[] for _ in range(book.m)]
    loads = book.loads(choice)
    tloads = [np.bincount(choice[choice >= 0], weights=coef[choice >= 0], minlength=book.m)
              for coef, *_ in book.targets]
    fill = np.max([t / fair for t, (_, fair, *_) in zip(tloads, book.targets, strict=True)], axis=0)

    def push(r: int, accounts: np.ndarray):
        accounts = accounts[choice[accounts] < 0]
        accounts = accounts[book.allowed(accounts, np.full(len(accounts), r))]
        if not len(accounts):
            return
        d = km(accounts, np.full(len(accounts), r)) if km is not None else np.zeros(len(accounts))
        key = (inst.cur[accounts] != r) * 1e9 + d
        for k, a in zip(key.tolist(), accounts.tolist(), strict=True):
            heapq.heappush(heaps[r], (k, a))

    claimed = np.flatnonzero(choice >= 0)
    for r in range(book.m):
        mine = claimed[choice[claimed] == r]
        if len(mine):
            push(r, np.unique(np.concatenate([book.g.of(a) for a in mine.tolist()])))
    for respect_hi in (True, False):
        active = np.array([bool(h) for h in heaps])
        while active.any():
            r = int(np.flatnonzero(active)[np.argmin(fill[active])])
            heap = heaps[r]
            while heap and choice[heap[0][1]] >= 0:
                heapq.heappop(heap)
            if not heap:
                active[r] = False
                continue
            a = heapq.heappop(heap)[1]
            if respect_hi and not _fits(book, loads, a, r):
                continue  # left for the second pass
            choice[a] = r
            for (coef, _, _), load in zip(book.specs, loads, strict=True):
                load[r] += coef[a]
            for t, (coef, *_) in zip(tloads, book.targets, strict=True):
                t[r] += coef[a]
            fill[r] = max(t[r] / fair[r] for t, (_, fair, *_) in zip(tloads, book.targets,
                                                                      strict=True))
            push(r, book.g.of(a))
            active[r] = bool(heaps[r])
        if (choice >= 0).all():
            break
        for r in range(book.m):  # second pass: every territory's frontier again
            mine = np.flatnonzero(choice == r)
            if len(mine):
                push(r, np.unique(np.concatenate([book.g.of(a) for a in mine.tolist()])))
    return choice


def _fits(book: _Book, loads, a: int, r: int) -> bool:
    for (coef, side, bound), load in zip(book.specs, loads, strict=True):
        if side == "hi" and load[r] + coef[a] > bound[r] * (1 + 1e-12) + 1e-7:
            return False
    return True


def stays_connected(book: _Book, choice: np.ndarray, a: int) -> bool:
    """Territory choice[a] without account a is still one piece (or empty).

    Enough to check that a's neighbours in the territory still reach each other: a
    breadth-first search from one of them, stopped as soon as it has found the others.
    """
    r, adj = choice[a], book.lists
    near = [j for j in adj[a] if choice[j] == r]
    if len(near) <= 1:
        return True  # a leaf (or the territory's only account)
    targets = set(near[1:])
    seen, queue = {a, near[0]}, [near[0]]
    for i in queue:  # breadth-first: the others are usually a step or two away
        for j in adj[i]:
            if j not in seen and choice[j] == r:
                if j in targets:
                    targets.discard(j)
                    if not targets:
                        return True
                seen.add(j)
                queue.append(j)
    return False


def improve(book: _Book, choice: np.ndarray, deadline: float, *, balance_only: bool = False
            ) -> np.ndarray:
    """Boundary moves keeping every territory connected.

    First to keep every limit (and, for the balance objective, to lower the deviation),
    then to lower the objective.
    """
    choice = choice.copy()
    stop_when_feasible = book.inst.scenario.objective != "balance"
    bands = [t[2] for t in book.targets]
    try:
        while time.perf_counter() < deadline:
            feasible = book.violation(choice) <= _EPS
            if feasible and stop_when_feasible:
                break
            if not _round(book, choice, _energy_delta):
                if not feasible and any(t[2] > 0 for t in book.targets):
                    # stuck short of the limits: aim at the fair share itself, which makes
                    # the reps around a violating one pass load on
                    book.targets = [(c, f, 0.0, b) for c, f, _, b in book.targets]
                    continue
                break
    finally:
        book.targets = [(c, f, band, b) for (c, f, _, b), band in zip(book.targets, bands,
                                                                       strict=True)]
    if balance_only or book.violation(choice) > _EPS:
        return choice
    while time.perf_counter() < deadline and _round(book, choice, _cost_delta):
        pass
    return choice


def _round(book: _Book, choice: np.ndarray, score) -> bool:
    """One round of moves; when none applies with few cut accounts tried, all are tried."""
    return _moves(book, choice, score, _BRANCHES) or _moves(book, choice, score, book.n)


def _boundary(book: _Book, choice: np.ndarray):
    """Every move (account, from, to) of an account into a neighbouring territory."""
    i = np.repeat(np.arange(book.n), np.diff(book.g.start))
    j = book.g.nbr
    differ = choice[i] != choice[j]
    a, to = i[differ], choice[j[differ]]
    keys = np.unique(a.astype(np.int64) * book.m + to)
    a, to = keys // book.m, keys % book.m
    ok = book.allowed(a, to)
    return a[ok], choice[a[ok]], to[ok]


def _energy_delta(book: _Book, choice, a, s, r):
    """Change of W * violation + squared deviation beyond the band, per move."""
    delta = np.zeros(len(a))
    for (coef, side, bound), load in zip(book.specs, book.loads(choice), strict=True):
        w = coef[a]
        delta += _W * (_over(load[s] - w, side, bound[s]) - _over(load[s], side, bound[s])
                       + _over(load[r] + w, side, bound[r]) - _over(load[r], side, bound[r]))
    for coef, fair, band, balanced in book.targets:
        if not balanced:
            continue
        load = np.bincount(choice, weights=coef, minlength=book.m)
        w = coef[a]
        delta += (_sq(load[s] - w, fair[s], band) - _sq(load[s], fair[s], band)
                  + _sq(load[r] + w, fair[r], band) - _sq(load[r], fair[r], band))
    if book.budget is not None:
        inst = book.inst
        extra = np.where(inst.owned[a], inst.pot[a], 0.0) * (
            (r != inst.cur[a]).astype(float) - (s != inst.cur[a]).astype(float))
        moved = float(inst.pot[inst.owned & (choice != inst.cur)].sum())
        over = np.clip(moved + extra - book.budget, 0, None) - max(0.0, moved - book.budget)
        delta += _W * over / max(book.budget, _EPS)
    return delta


def _cost_delta(book: _Book, choice, a, s, r):
    """Change of objective cost per move; inf for a move that would break a limit."""
    delta = book.pair_cost(a, r) - book.pair_cost(a, s)
    for (coef, side, bound), load in zip(book.specs, book.loads(choice), strict=True):
        w = coef[a]
        if side == "hi":
            bad = load[r] + w > bound[r] * (1 + 1e-12) + 1e-7
        else:
            bad = load[s] - w < bound[s] * (1 - 1e-12) - 1e-7
        delta = np.where(bad, np.inf, delta)
    if book.budget is not None:
        inst = book.inst
        adds = inst.owned[a] & (r != inst.cur[a]) & (s == inst.cur[a])
        delta = np.where(adds, np.inf, delta)  # only moves that add no moved potential
    return delta


def _moves(book: _Book, choice: np.ndarray, score, most_branches: int) -> bool:
    """Apply the best improving connected move of each rep (disjoint); False if none.

    At most `most_branches` cut accounts are tried with their branch.
    """
    a, s, r = _boundary(book, choice)
    if not len(a):
        return False
    delta = score(book, choice, a, s, r)
    good = np.flatnonzero(delta < -1e-12)
    if not len(good):
        return False
    if score is _energy_delta and book.inst.scenario.objective != "balance":
        # of each rep's moves within a quarter of its best gain, the cheapest per unit gained
        gain = -delta[good]
        best = np.zeros(book.m)
        np.maximum.at(best, s[good], gain)
        strong = good[gain >= 0.25 * best[s[good]]]
        gain = -delta[strong]
        extra = book.pair_cost(a[strong], r[strong]) - book.pair_cost(a[strong], s[strong])
        weak = np.setdiff1d(good, strong)  # when every strong move would split a territory
        good = np.r_[strong[np.lexsort((-gain, extra / gain))],
                     weak[np.argsort(delta[weak], kind="stable")]]
    else:
        good = good[np.argsort(delta[good], kind="stable")]
    used: set = set()
    applied, branches = 0, 0
    for k in good.tolist():
        if s[k] in used or r[k] in used:
            continue
        moving = [int(a[k])]
        if not stays_connected(book, choice, int(a[k])):
            # a cut account: move it with the pieces it holds on (never the largest)
            branches += 1
            if branches > most_branches:
                continue
            moving = branch(book, choice, int(a[k]))
            if moving is None or not book.allowed(moving, np.full(len(moving), r[k])).all():
                continue
            before = _total(book, choice, score)
            choice[moving] = r[k]
            if not _total(book, choice, score) < before - 1e-12:
                choice[moving] = s[k]
                continue
        else:
            before = book.violation(choice) if book.budget is not None and applied else None
            choice[moving] = r[k]
            if before is not None and book.moved_over(choice) > 0 and book.violation(
                    choice) > before:
                choice[moving] = s[k]  # with this round's other moves it breaks max_moved
                continue
        used.update((int(s[k]), int(r[k])))
        applied += 1
    return applied > 0


def branch(book: _Book, choice: np.ndarray, a: int) -> list[int] | None:
    """Account a and every piece its territory falls into without it, but the largest."""
    r = choice[a]
    members = np.flatnonzero(choice == r)
    inside = choice == r
    inside[a] = False
    parts = pieces(book.lists, members[members != a], inside)
    if len(parts) < 2:
        return None
    return [a] + [i for part in parts[1:] for i in part]


def _total(book: _Book, choice: np.ndarray, score) -> float:
    """The whole plan's energy (`_energy_delta`'s measure) or cost (inf past a limit)."""
    if score is _cost_delta:
        if book.violation(choice) > _EPS:
            return np.inf
        return book.total_cost(choice)
    total = _W * book.violation(choice)
    for coef, fair, band, balanced in book.targets:
        if balanced:
            total += float(_sq(np.bincount(choice, weights=coef, minlength=book.m), fair,
                               band).sum())
    return total


def kick(book: _Book, choice: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """A random share of the boundary moves that lower the cost, limits ignored.

    For disruption these are mostly accounts going back to their current owner; the
    balancing moves then settle the limits again elsewhere (iterated local search).
    """
    choice = choice.copy()
    a, s, r = _boundary(book, choice)
    cheaper = np.flatnonzero(book.pair_cost(a, r) < book.pair_cost(a, s) - 1e-12)
    if not len(cheaper):
        return choice
    picked = rng.choice(cheaper, size=max(1, int(share * len(cheaper))), replace=False)
    for k in picked.tolist():
        if choice[a[k]] == s[k] and stays_connected(book, choice, int(a[k])) and (
                choice[book.lists[int(a[k])]] == r[k]).any():
            choice[a[k]] = r[k]
    return choice


def connected_start(inst: Instance, edges: np.ndarray, seconds: float, hints=None,
                    on_first=None) -> tuple[np.ndarray, float]:
    """The best connected plan of several seeds, grown and improved: (choice, violation).

    Seeds: the largest pieces of the current alignment, one root per rep, then of each
    plan `hints()` returns (such as the optimum without contiguity: slower to get, so
    asked for after the first plan). Every account is assigned unless the graph leaves
    some unreachable (then -1 there). The plan keeps every limit when the violation is
    0; the best is the feasible one with the lowest objective, else the one with the
    lowest violation. The time left after the seeds goes to kicks (`kick`) followed by
    the boundary moves, kept when they lower the objective. `on_first()` is called when
    the first plan keeping every limit is found.
    """
    book = _Book(inst, edges)
    deadline = time.perf_counter() + seconds
    best, best_key = None, None

    def seeds():
        yield seeds_from_plan(book, inst.cur)
        yield seeds_from_roots(book)
        for plan in (hints() if hints is not None else ()):
            yield seeds_from_plan(book, plan)

    for seed in seeds():
        choice = grow(book, seed)
        if (choice < 0).any():
            continue
        left = deadline - time.perf_counter()  # more for a seed while no plan keeps every limit
        share = 2 if best_key is None or best_key[0] else 3
        choice = improve(book, choice, time.perf_counter() + max(left / share, 0.2))
        v = book.violation(choice)
        key = (v > _EPS, v if v > _EPS else 0.0, book.total_cost(choice))
        if best_key is None or key < best_key:
            if v <= _EPS and (best_key is None or best_key[0]) and on_first is not None:
                on_first()
            best, best_key = choice, key
    if best is None:
        return np.full(inst.n, -1, np.int64), np.inf
    rng = np.random.default_rng(0)
    tries = 0
    while not best_key[0] and time.perf_counter() < deadline and tries < _KICKS:
        tries += 1
        choice = improve(book, kick(book, best, rng, 0.2), deadline)
        if book.violation(choice) <= _EPS and book.total_cost(choice) < best_key[2] - 1e-9:
            best, best_key, tries = choice, (False, 0.0, book.total_cost(choice)), 0
    return best, book.violation(best)
