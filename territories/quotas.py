"""Quota allocation (SPEC section 7, `icm quotas`).

Turns a company target into rep quotas over an alignment: a share per rep by method
(`potential`, `history`, `blend`, or `optimise`, an LP), new hires' ramp redistributed
pro rata to the others, then split by component and season. Amounts are integer cents
and every split is largest-remainder, so the quotas sum exactly to
target x (1 + over_assignment), and each rep's rows to the rep's quota.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pulp

from compensation.errors import IcmError
from compensation.money import format_cents, round_decimal_cents, to_decimal
from compensation.periods import Calendar
from territories.scenario import QuotaScenario
from territories.solvers import new_var, quiet_highs

FLAG_LOW, FLAG_HIGH = 0.9, 1.15
QUARTERS = ("Q1", "Q2", "Q3", "Q4")


@dataclass(frozen=True)
class QuotaResult:
    """Rows for quotas.csv (amount in cents) and one summary row per rep."""

    quotas: pd.DataFrame  # rep_id, component, period, amount_cents
    reps: pd.DataFrame  # rep_id, potential, history, quota_cents, ratio, vs_company, flag
    total_cents: int
    company_ratio: float
    method: str


def largest_remainder(ideal: np.ndarray, groups: np.ndarray, totals: dict) -> np.ndarray:
    """Integers close to `ideal` whose sum per group is exactly `totals[group]`.

    Floors every value, then gives the missing units to the largest remainders of the
    group (ties: first in order). Vectorised over groups.
    """
    ideal = np.asarray(ideal, dtype=np.float64)
    base = np.floor(ideal + 1e-9).astype(np.int64)
    # remainders equal up to float noise are ties, settled by order
    frame = pd.DataFrame({"g": groups, "base": base, "frac": np.round(ideal - base, 9),
                          "pos": np.arange(len(ideal))})
    floors = frame.groupby("g", sort=False)["base"].sum()
    short = pd.Series(totals).reindex(floors.index) - floors
    frame["short"] = frame["g"].map(short).astype(np.int64)
    frame = frame.sort_values(["g", "frac", "pos"], ascending=[True, False, True], kind="stable")
    rank = frame.groupby("g", sort=False).cumcount().to_numpy()
    short_sorted = frame["short"].to_numpy()
    n_in_group = frame.groupby("g", sort=False)["pos"].transform("size").to_numpy()
    # a negative shortfall (never from floors, but kept exact) takes units from the smallest
    add = np.where(short_sorted >= 0,
                   (rank < short_sorted).astype(np.int64),
                   -((n_in_group - 1 - rank) < -short_sorted).astype(np.int64))
    out = base.copy()
    out[frame["pos"].to_numpy()] += add
    return out


def _owner_sums(accounts: pd.DataFrame, owners: pd.Series, rep_ids: pd.Index) -> pd.DataFrame:
    frame = pd.DataFrame({"rep_id": owners.to_numpy(),
                          "potential": accounts["potential"].to_numpy(),
                          "history": accounts["last_year"].to_numpy()})
    return frame.groupby("rep_id").sum().reindex(rep_ids, fill_value=0.0)


def month_factors(reps: pd.DataFrame, calendar: Calendar, year: int,
                  ramp: list[float]) -> np.ndarray:
    """Reps x 12 fiscal months: 0 before start / after end, ramp for new hires, else 1."""
    first = calendar.fiscal_year_first_month(year)
    months = first + np.arange(12)
    start = reps["start_date"]
    end = reps["end_date"]
    s_idx = np.where(start.notna(), start.dt.year * 12 + start.dt.month - 1, -(10 ** 9))
    e_idx = np.where(end.notna(), end.dt.year * 12 + end.dt.month - 1, 10 ** 9)
    k = months[None, :] - np.asarray(s_idx, dtype=np.int64)[:, None]
    factors = np.ones((len(reps), 12))
    new_hire = (np.asarray(s_idx) >= first) & (np.asarray(s_idx) <= first + 11)
    if ramp:
        steps = np.asarray(ramp, dtype=float)
        in_ramp = new_hire[:, None] & (k >= 0) & (k < len(steps))
        factors = np.where(in_ramp, steps[np.clip(k, 0, len(steps) - 1)], factors)
    factors[k < 0] = 0.0
    factors[months[None, :] > np.asarray(e_idx, dtype=np.int64)[:, None]] = 0.0
    return factors


def month_weights(scenario: QuotaScenario) -> np.ndarray:
    """Share of the year in each fiscal month (seasonality per quarter, split evenly)."""
    if scenario.seasonality is None:
        return np.full(12, 1 / 12)
    return np.repeat([scenario.seasonality[q] / 3 for q in QUARTERS], 3)


def base_shares(scenario: QuotaScenario, potential: np.ndarray, history: np.ndarray,
                rep_ids: list[str]) -> np.ndarray:
    """Each rep's share of the total, before ramp, by the scenario's method."""
    def share(values: np.ndarray, what: str) -> np.ndarray:
        total = values.sum()
        if total <= 0:
            raise IcmError.at("data/accounts.csv", None,
                              f"method {scenario.method} needs {what}, but the reps' accounts "
                              f"have none (the {what} column is blank or 0)")
        return values / total

    if scenario.method == "potential":
        return share(potential, "potential")
    if scenario.method == "history":
        return share(history, "last_year")
    if scenario.method == "blend":
        w = scenario.blend or {}
        return (w.get("potential", 0) * share(potential, "potential")
                + w.get("history", 0) * share(history, "last_year"))
    return optimise_shares(potential, history, scenario, rep_ids)


def optimise_shares(potential: np.ndarray, history: np.ndarray, scenario: QuotaScenario,
                    rep_ids: list[str]) -> np.ndarray:
    """Shares by LP: the largest deviation of quota/potential from the company's, least.

    Subject to +-max_change of last year's bookings (reps with none are free). A second
    pass minimises the sum of deviations to settle the reps the largest does not bind.
    """
    total_cents = total_quota_cents(scenario)
    total = total_cents / 100
    if potential.sum() <= 0:
        raise IcmError.at("data/accounts.csv", None, "method optimise needs potential on accounts")
    pot = potential / potential.sum()  # work in shares of the total: well scaled
    hist = history / total
    mc = scenario.max_change
    lo = np.where((hist > 0) & (mc is not None), hist * (1 - (mc or 0)), 0.0)
    hi = np.where((hist > 0) & (mc is not None), hist * (1 + (mc or 0)), np.inf)
    hi = np.where((pot <= 0) & ~np.isfinite(hi), 0.0, hi)
    if lo.sum() > 1 + 1e-12 or (np.isfinite(hi).all() and hi.sum() < 1 - 1e-12):
        low, high = lo.sum() * total, hi.sum() * total
        raise IcmError(f"max_change {mc:.0%} is infeasible: last year's bookings allow quotas "
                       f"between {low:,.2f} and {high:,.2f} in total, but the target with "
                       f"over-assignment is {total:,.2f}")

    def model(z_cap: float | None):
        prob = pulp.LpProblem("quotas", pulp.LpMinimize)
        q = [new_var(prob, f"q{i}", lo[i], None if not np.isfinite(hi[i]) else hi[i])
             for i in range(len(pot))]
        z = new_var(prob, "z", 0)
        d = [new_var(prob, f"d{i}", 0) for i in range(len(pot))]
        prob += pulp.lpSum(q) == 1, "target"
        for i, p in enumerate(pot):
            if p <= 0:
                continue
            name = "".join(c if c.isalnum() else "_" for c in rep_ids[i])
            prob += q[i] - p <= d[i] * p, f"ratio_hi_{name}_{i}"
            prob += p - q[i] <= d[i] * p, f"ratio_lo_{name}_{i}"
            prob += d[i] <= z, f"largest_{name}_{i}"
        if z_cap is None:
            prob += z
        else:
            prob += z <= z_cap
            prob += pulp.lpSum(d)
        quiet_highs()  # the first Highs() prints a banner
        prob.solve(pulp.HiGHS(msg=False, timeLimit=60))
        if prob.status != pulp.LpStatusOptimal:
            raise IcmError("the quota optimisation found no solution "
                           f"({pulp.LpStatus[prob.status]})")
        return np.array([v.varValue or 0.0 for v in q]), z.varValue or 0.0

    _, z_best = model(None)
    shares, _ = model(z_best * (1 + 1e-7) + 1e-12)
    return np.clip(shares, 0, None) / np.clip(shares, 0, None).sum()


def redistribute_ramp(shares: np.ndarray, effective: np.ndarray, hist_share: np.ndarray,
                      max_change: float | None, rep_ids: list[str], total_cents: int,
                      year: int) -> np.ndarray:
    """Shares after ramp: what new hires do not carry goes pro rata to full-year reps.

    `max_change` wins (issue 21): a rep with last year's bookings never goes above them
    x (1 + max_change); the reduction is poured pro rata into the reps with headroom, and
    when their headroom is not enough the allocation stops, naming reps and shortfall.
    """
    full = np.isclose(effective, 1.0)
    reduced = shares * effective
    if reduced.sum() <= 0:
        raise IcmError(f"no rep works any month of {year}: check reps start and end dates")
    if full.all():
        return reduced
    if shares[full].sum() <= 0:
        return reduced / reduced.sum()
    freed = float((shares[~full] * (1 - effective[~full])).sum())
    cap = np.full(len(shares), np.inf)
    if max_change is not None:
        cap = np.where(hist_share > 0, hist_share * (1 + max_change), np.inf)
    room = np.where(full, np.clip(cap - shares, 0, None), 0.0)
    weight = np.where(full, shares, 0.0)
    out = reduced.copy()
    left = freed
    for _ in range(len(shares)):  # water-filling: each pass caps at least one rep or ends
        open_ = (room > 1e-15) & (weight > 0)
        if left <= 1e-15 or not open_.any():
            break
        give = np.where(open_, left * weight / weight[open_].sum(), 0.0)
        give = np.minimum(give, room)
        out += give
        room -= give
        left -= float(give.sum())
    if left > 1e-12:
        short = left * total_cents / 100
        new = [r for r, f in zip(rep_ids, full, strict=True) if not f]
        capped = [r for r, f, c in zip(rep_ids, full, np.isfinite(cap), strict=True) if f and c]
        raise IcmError(f"max_change {max_change:.0%} leaves no room for the ramp reduction of "
                       f"{_names(new)}: {short:,.2f} of quota cannot go to anyone, because "
                       f"{_names(capped)} would exceed last year's bookings x {1 + max_change:g}; "
                       "raise max_change, lower the target or shorten the ramp")
    return out


def _names(items: list[str], limit: int = 8) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def total_quota_cents(scenario: QuotaScenario) -> int:
    """Target x (1 + over_assignment), in cents, half up."""
    return round_decimal_cents(scenario.target * (1 + to_decimal(scenario.over_assignment)))


def allocate(reps: pd.DataFrame, accounts: pd.DataFrame, owners: pd.Series,
             scenario: QuotaScenario, calendar: Calendar | None = None) -> QuotaResult:
    """Rep quotas per component and period; `owners` is the rep of each account row."""
    calendar = calendar or Calendar()
    rep_ids = pd.Index(reps["rep_id"])
    unknown = sorted(set(owners.dropna()) - set(rep_ids))
    if unknown:
        raise IcmError.at("data/accounts.csv", None,
                          f"accounts are owned by {', '.join(unknown[:5])}, not in reps; fix "
                          "rep_id or run icm align first")
    sums = _owner_sums(accounts, owners, rep_ids)
    potential = sums["potential"].to_numpy()
    history = sums["history"].to_numpy()
    shares = base_shares(scenario, potential, history, list(rep_ids))

    weights = month_weights(scenario)
    factors = month_factors(reps, calendar, scenario.year, scenario.ramp)
    effective = factors @ weights  # share of a full year each rep works, season-weighted
    total_cents = total_quota_cents(scenario)
    reduced = redistribute_ramp(shares, effective, history / (total_cents / 100),
                                scenario.max_change, list(rep_ids), total_cents, scenario.year)

    rep_cents = largest_remainder(reduced / reduced.sum() * total_cents,
                                  np.zeros(len(rep_ids), dtype=np.int64), {0: total_cents})

    # Split each rep's cents over (component, period) cells.
    if scenario.seasonality is None:
        periods = [f"{scenario.year:04d}"]
        period_share = np.ones((len(rep_ids), 1))
    else:
        periods = [f"{scenario.year:04d}-{q}" for q in QUARTERS]
        per_month = factors * weights[None, :]
        by_quarter = per_month.reshape(len(rep_ids), 4, 3).sum(axis=2)
        tot = by_quarter.sum(axis=1, keepdims=True)
        period_share = np.divide(by_quarter, tot, out=np.zeros_like(by_quarter), where=tot > 0)
    comps = list(scenario.components)
    comp_share = np.array([scenario.components[c] for c in comps])
    cell = (period_share[:, None, :] * comp_share[None, :, None]).reshape(len(rep_ids), -1)
    r_idx = np.repeat(np.arange(len(rep_ids)), cell.shape[1])
    ideal = (cell * rep_cents[:, None]).reshape(-1)
    cents = largest_remainder(ideal, r_idx, dict(enumerate(rep_cents.tolist())))
    quotas = pd.DataFrame({
        "rep_id": np.asarray(rep_ids)[r_idx],
        "component": np.tile(np.repeat(comps, len(periods)), len(rep_ids)),
        "period": np.tile(periods, len(rep_ids) * len(comps)),
        "amount_cents": cents,
    })
    quotas = quotas.sort_values(["rep_id", "component", "period"], kind="stable",
                                key=lambda s: s.map(comps.index) if s.name == "component" else s)
    quotas = quotas.reset_index(drop=True)

    company = total_cents / 100 / potential.sum() if potential.sum() > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(potential > 0, rep_cents / 100 / potential, np.nan)
        # a new hire is compared for the part of the year it carries, not flagged for its ramp
        vs = np.where(effective > 0, ratio / effective, np.nan) / company
    flag = np.where(np.isnan(vs), np.where(rep_cents > 0, "quota without potential", ""),
                    np.where(vs < FLAG_LOW, "below 0.9x company ratio",
                             np.where(vs > FLAG_HIGH, "above 1.15x company ratio", "")))
    summary = pd.DataFrame({"rep_id": np.asarray(rep_ids), "potential": potential,
                            "history": history, "quota_cents": rep_cents, "ratio": ratio,
                            "vs_company": vs, "ramp": effective, "flag": flag})
    return QuotaResult(quotas, summary, total_cents, float(company), scenario.method)


def summary_text(result: QuotaResult) -> list[tuple[str, str]]:
    """Headline figures for the command's summary table."""
    return [("method", result.method), ("total", format_cents(result.total_cents)),
            ("company quota/potential", f"{result.company_ratio:.4f}"),
            ("flagged reps", str(int((result.reps["flag"] != "").sum())))]
