"""Summaries of a plan: one row per account, one row per rep, deviation and compactness.

Compactness is in real kilometres: the mean and the 95th percentile of the great-circle
distance from each account to its rep's home (not weighted by workload).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from territories.instance import Instance, metric_vector, pair_km


def max_deviation(inst: Instance, choice: np.ndarray, block: np.ndarray,
                  metrics: tuple[str, ...] | None = None) -> float:
    """Largest |load / fair share - 1| over the reps these accounts may go to."""
    sc = inst.scenario
    if metrics is None:
        metrics = ("potential",) + (("workload",) if sc.balance.workload is not None else ())
    reps = np.union1d(np.unique(choice[block]),
                      np.unique(inst.cand_rep[np.isin(inst.cand_acc, block)]))
    worst = 0.0
    for metric in metrics:
        fair = inst.fair_pot if metric == "potential" else inst.fair_wl
        load = np.bincount(choice[block], weights=metric_vector(inst, metric)[block],
                           minlength=inst.m)
        ok = fair[reps] > 0
        if ok.any():
            worst = max(worst, float(np.abs(load[reps][ok] / fair[reps][ok] - 1).max()))
    return worst


def compactness(inst: Instance, choice: np.ndarray) -> tuple[float | None, float | None]:
    """(mean, 95th percentile) km from account to its rep's home; None without geography."""
    if not inst.has_geo:
        return None, None
    km = pair_km(inst, np.arange(inst.n), choice)
    return float(km.mean()), float(np.percentile(km, 95))


def summarise(inst: Instance, choice: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assignments (one row per account) and territories (one row per rep)."""
    acc = inst.accounts
    rep_ids = inst.reps["rep_id"].to_numpy(dtype=object)
    km = pair_km(inst, np.arange(inst.n), choice)
    names = acc["name"].to_numpy(dtype=object) if "name" in acc else np.full(inst.n, None)
    assignments = pd.DataFrame({
        "account_id": acc["account_id"].to_numpy(dtype=object),
        "rep_id": rep_ids[choice],
        "moved": inst.owned & (acc["rep_id"].to_numpy(dtype=object) != rep_ids[choice]),
        "previous_rep_id": acc["rep_id"].to_numpy(dtype=object),
        "name": names,
        "potential": inst.pot,
        "workload": inst.wl,
        "region": acc["region"].to_numpy(dtype=object),
        "lat": acc["lat"].to_numpy(),
        "lon": acc["lon"].to_numpy(),
        "km": km,
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
        mean_km = np.bincount(choice, weights=np.nan_to_num(km), minlength=inst.m) / counts
    homes = inst.homes if inst.homes is not None else np.full((inst.m, 2), np.nan)
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
        "mean_km": np.where(counts > 0, mean_km, np.nan) if inst.has_geo else np.nan,
        "home_lat": homes[:, 0],
        "home_lon": homes[:, 1],
    })
    return assignments, territories
