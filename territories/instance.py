"""One alignment problem as arrays: accounts x reps, limits, and the pairs a model uses.

The full model allows every (account, rep) pair the rules permit (capacity above 0, the
same region under `same_region`, within `max_km`, a locked account only with its rep).
Above `FULL_PAIRS` pairs, with geography and more than 2k reps, or when the scenario
sets `candidates`, the model keeps
*candidate lists*: each account's k nearest allowed reps and its current owner, plus each
rep's nearest allowed accounts until they hold three times its fair share (so every rep
can be filled). `territories.blocks` prices the pairs left out against the LP duals, so
the bound it reports is the full model's whenever pricing finishes in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from compensation.errors import IcmError
from territories.geo import haversine_km, nearest, rep_homes
from territories.scenario import AlignmentScenario

FULL_PAIRS = 250_000  # above this many allowed pairs, candidate lists are used
DEFAULT_K = 12
TIE_BREAK = 1e-7  # travel in a disruption plan, priced at 1e-7 of the total potential


class InfeasibleError(IcmError):
    """The scenario's constraints cannot all hold; the messages say which and by how much."""


class NoSolutionError(IcmError):
    """The solver found no assignment within the time limit."""


@dataclass(frozen=True)
class Instance:
    """Arrays of one alignment problem: accounts x reps, limits and the model's pairs."""

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
    cand_acc: np.ndarray  # (account, rep) pairs of the model
    cand_rep: np.ndarray
    cost: np.ndarray  # objective coefficient of each pair, in objective units
    limits: tuple  # (label, metric, side, rep index array, bound array)
    homes: np.ndarray | None  # reps x (lat, lon), None without geography
    acc_code: np.ndarray  # region codes (-1 blank), comparable between accounts and reps
    rep_code: np.ndarray
    locked: np.ndarray
    full_pairs: int  # how many pairs the full model allows
    restricted: bool  # cand_* is a candidate list, not every allowed pair

    @property
    def n(self) -> int:
        """Number of accounts."""
        return len(self.pot)

    @property
    def m(self) -> int:
        """Number of reps."""
        return len(self.cap)

    @property
    def has_geo(self) -> bool:
        """Every account and every rep home has a location."""
        return self.homes is not None


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


def pair_km(inst: Instance, acc: np.ndarray, rep: np.ndarray) -> np.ndarray:
    """Great-circle km from accounts to rep homes (NaN without geography)."""
    if inst.homes is None:
        return np.full(len(acc), np.nan)
    lat, lon = inst.accounts["lat"].to_numpy(), inst.accounts["lon"].to_numpy()
    return haversine_km(lat[acc], lon[acc], inst.homes[rep, 0], inst.homes[rep, 1])


def allowed(inst_like, acc: np.ndarray, rep: np.ndarray) -> np.ndarray:
    """Which (account, rep) pairs the full model permits (vectorised over pairs)."""
    sc = inst_like.scenario
    cap, cur = inst_like.cap, inst_like.cur
    keep = cap[rep] > 0
    if sc.same_region:
        keep &= inst_like.acc_code[acc] == inst_like.rep_code[rep]
    if sc.max_km is not None and inst_like.homes is not None:
        keep &= pair_km(inst_like, acc, rep) <= sc.max_km
    stays = (cur[acc] == rep) & (cap[rep] > 0)
    return np.where(inst_like.locked[acc], stays, keep)


def pair_cost(inst_like, acc: np.ndarray, rep: np.ndarray) -> np.ndarray:
    """Objective coefficient of pairs: potential moved, km travelled, or their priced mix."""
    sc = inst_like.scenario
    pot, wl, cur, owned = inst_like.pot, inst_like.wl, inst_like.cur, inst_like.owned
    moved = np.where(owned[acc] & (cur[acc] != rep), pot[acc], 0.0)
    if sc.objective == "balance":
        return np.zeros(len(acc))
    km = pair_km(inst_like, acc, rep) if inst_like.homes is not None else None
    if sc.objective == "distance":
        return wl[acc] * km
    if sc.objective == "disruption":
        if km is None:
            return moved
        scale = TIE_BREAK * pot.sum() / max(wl.sum() * 20_000.0, 1e-12)
        return moved + scale * wl[acc] * km
    w = sc.weights
    total_pot, total_wl = max(pot.sum(), 1e-12), max(wl.sum(), 1e-12)
    cost = w.disruption * 100 * moved / total_pot
    if w.distance:
        cost = cost + w.distance * wl[acc] * km / total_wl
    return cost


@dataclass(frozen=True)
class _Shape:
    """What `allowed`/`pair_cost` read, before the instance exists."""

    scenario: AlignmentScenario
    accounts: pd.DataFrame
    reps: pd.DataFrame
    pot: np.ndarray
    wl: np.ndarray
    cur: np.ndarray
    owned: np.ndarray
    cap: np.ndarray
    homes: np.ndarray | None
    acc_code: np.ndarray
    rep_code: np.ndarray
    locked: np.ndarray


def _region_codes(accounts: pd.DataFrame, reps: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Integer region codes shared by accounts and reps (a blank region is a region too)."""
    both = pd.concat([accounts["region"], reps["region"]], ignore_index=True)
    codes, _ = pd.factorize(both)
    return codes[: len(accounts)], codes[len(accounts):]


def _homes(reps: pd.DataFrame, accounts: pd.DataFrame, scenario) -> np.ndarray | None:
    homes = rep_homes(reps, accounts)
    missing = homes["lat"].isna() | homes["lon"].isna()
    no_geo = accounts["lat"].isna() | accounts["lon"].isna()
    needs = scenario.objective == "distance" or (
        scenario.objective == "mix" and scenario.weights.distance) or scenario.max_km is not None
    if needs and missing.any():
        raise IcmError.at("data/reps.csv", None,
                          "distance needs a home for every rep; give lat and lon to "
                          f"{_listed(homes.index[missing])} (no lat/lon and no current "
                          "accounts with lat/lon)")
    if needs and no_geo.any():
        raise IcmError.at("data/accounts.csv", int(accounts.loc[no_geo, "row"].iloc[0]),
                          f"distance needs lat and lon on every account ({int(no_geo.sum())} "
                          "have none)")
    if missing.any() or no_geo.any():
        return None
    return homes[["lat", "lon"]].to_numpy(dtype=float)


def _listed(items, limit: int = 5) -> str:
    """`a, b, c and 4 more`: every list in a message says how many it left out."""
    items = [str(i) for i in items]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def build_instance(reps: pd.DataFrame, accounts: pd.DataFrame,
                   scenario: AlignmentScenario) -> Instance:
    """Allowed pairs (or candidate lists), fair shares and named limits."""
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
    homes = _homes(reps, accounts, scenario)
    acc_code, rep_code = _region_codes(accounts, reps)
    locked = accounts["locked"].to_numpy(dtype=bool)
    shape = _Shape(scenario, accounts, reps, pot, wl, cur, owned, cap, homes, acc_code, rep_code,
                   locked)

    n, m = len(accounts), len(reps)
    full = _count_allowed(shape, n, m)
    # with geography, candidate lists also keep moves local: a disruption plan may move an
    # account to any rep at the same cost, and a 1% gap leaves the travel tie-break unseen
    k = scenario.candidates or DEFAULT_K
    restricted = scenario.candidates is not None or full > FULL_PAIRS or (
        homes is not None and m > 2 * k)
    if restricted:
        cand_acc, cand_rep = candidate_pairs(shape, fair_pot, k)
    else:
        acc_idx, rep_idx = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
        keep = allowed(shape, acc_idx, rep_idx)
        cand_acc, cand_rep = acc_idx[keep], rep_idx[keep]
    restricted = restricted and len(cand_acc) < full
    cost = pair_cost(shape, cand_acc, cand_rep)

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
                    cand_acc, cand_rep, cost, tuple(limits), homes, acc_code, rep_code, locked,
                    full, restricted)


def _count_allowed(shape: _Shape, n: int, m: int, chunk: int = 2048) -> int:
    total = 0
    for s in range(0, n, chunk):
        acc = np.repeat(np.arange(s, min(s + chunk, n)), m)
        total += int(allowed(shape, acc, np.tile(np.arange(m), len(acc) // m)).sum())
    return total


def full_pair_chunks(inst: Instance, accounts: np.ndarray, chunk: int = 2048):
    """Every allowed pair of the full model over `accounts`, a chunk of accounts at a time."""
    for s in range(0, len(accounts), chunk):
        acc = np.repeat(accounts[s:s + chunk], inst.m)
        rep = np.tile(np.arange(inst.m), len(acc) // inst.m)
        keep = allowed(inst, acc, rep)
        yield acc[keep], rep[keep]


def candidate_pairs(shape: _Shape, fair_pot: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs: near reps per account, near accounts per rep, its current owner.

    Each account's k nearest allowed reps and its owner; each rep's nearest accounts up to
    three times its fair share of potential; and the transport pairs.
    """
    n, m = len(shape.pot), len(shape.cap)
    if shape.homes is not None:
        lat, lon = shape.accounts["lat"].to_numpy(), shape.accounts["lon"].to_numpy()

        def ok(rows):
            return allowed(shape, np.repeat(rows, m), np.tile(np.arange(m), len(rows))).reshape(
                len(rows), m)

        near = nearest(lat, lon, shape.homes[:, 0], shape.homes[:, 1], k, ok)
        acc = np.repeat(np.arange(n), near.shape[1])
        rep = near.reshape(-1)
        pairs = [np.column_stack([acc[rep >= 0], rep[rep >= 0]])]
        # each rep's nearest allowed accounts, so no rep is left unable to reach its share
        by_rep = nearest(shape.homes[:, 0], shape.homes[:, 1], lat, lon,
                         min(n, max(1, int(np.ceil(6 * n / max(m, 1))))),
                         lambda rows: ok(np.arange(n)).T[rows])
        for r in range(m):
            cand = by_rep[r][by_rep[r] >= 0]
            if not len(cand):
                continue
            enough = np.searchsorted(np.cumsum(shape.pot[cand]), 3 * fair_pot[r]) + 1
            take = cand[:max(enough, 1)]
            pairs.append(np.column_stack([take, np.full(len(take), r)]))
        pairs += _transport_pairs(shape, fair_pot, ok, lat, lon, max(k // 2, 2))
    else:
        # no geography: k reps spread over the list, deterministically
        step = max(m // k, 1)
        rep = (np.arange(n)[:, None] + step * np.arange(min(k, m))[None, :]) % m
        acc = np.repeat(np.arange(n), rep.shape[1])
        rep = rep.reshape(-1)
        keep = allowed(shape, acc, rep)
        pairs = [np.column_stack([acc[keep], rep[keep]])]
    stay = (shape.cur >= 0)
    stay_pairs = np.column_stack([np.flatnonzero(stay), shape.cur[stay]])
    stay_pairs = stay_pairs[allowed(shape, stay_pairs[:, 0], stay_pairs[:, 1])]
    pairs.append(stay_pairs)
    both = np.unique(np.concatenate(pairs), axis=0)
    return both[:, 0].astype(np.int64), both[:, 1].astype(np.int64)


def _transport_pairs(shape: _Shape, fair_pot, ok, lat, lon, k: int) -> list[np.ndarray]:
    """Pairs that let potential flow from reps above their fair share to reps below it.

    Moving an account straight from an over-loaded rep to an under-loaded one counts once
    in `disruption`; a chain through full reps counts twice. So each account of an
    over-loaded rep also gets its k nearest under-loaded reps, and each under-loaded rep
    the nearest accounts of over-loaded reps worth three times its shortfall.
    """
    n, m = len(shape.pot), len(shape.cap)
    owned = shape.cur >= 0
    load = np.bincount(shape.cur[owned], weights=shape.pot[owned], minlength=m)
    over, under = load > fair_pot, (load < fair_pot) & (shape.cap > 0)
    if not over.any() or not under.any():
        return []
    out = []
    rows = np.flatnonzero(owned & over[np.maximum(shape.cur, 0)] | ~owned)
    under_idx = np.flatnonzero(under)
    near = nearest(lat[rows], lon[rows], shape.homes[under_idx, 0], shape.homes[under_idx, 1], k,
                   lambda r: ok(rows[r])[:, under_idx])
    acc = np.repeat(rows, near.shape[1])
    rep = near.reshape(-1)
    out.append(np.column_stack([acc[rep >= 0], under_idx[rep[rep >= 0]]]))
    # each under-loaded rep: nearest accounts of over-loaded reps, three times its shortfall
    donors = np.flatnonzero(owned & over[np.maximum(shape.cur, 0)])
    best = nearest(shape.homes[under_idx, 0], shape.homes[under_idx, 1], lat[donors],
                   lon[donors], min(len(donors), max(20, 4 * n // max(m, 1))),
                   lambda r: ok(donors).T[under_idx[r]])
    for j, r in enumerate(under_idx):
        cand = donors[best[j][best[j] >= 0]]
        enough = np.searchsorted(np.cumsum(shape.pot[cand]), 3 * (fair_pot[r] - load[r])) + 1
        take = cand[:max(enough, 1)]
        out.append(np.column_stack([take, np.full(len(take), r)]))
    return out


def blocks_of(inst: Instance) -> list[np.ndarray]:
    """Independent account blocks: regions when same_region makes them separable."""
    sc = inst.scenario
    separable = sc.same_region and not sc.contiguity and (
        sc.max_moved is None or sc.objective == "disruption")
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
