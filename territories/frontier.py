"""The trade-off curve (`icm align --frontier`): balance tolerance x moved share x travel.

The scenario is solved again at ten or more balance tolerances on potential (1% to 30%,
plus the scenario's own), each with `POINT_SECONDS` at most and a 1% gap, so an analyst
can see what each point of tolerance costs in potential moved and in km travelled, and
pick a plan rather than guess a tolerance. A tolerance that cannot hold is a point
marked infeasible, not an error. The scenario's own plan is the marked point.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from compensation.errors import IcmError
from territories.align import AlignmentResult, align
from territories.scenario import AlignmentScenario

TOLERANCES = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.075, 0.10, 0.15, 0.20, 0.30)
POINT_SECONDS = 10.0
COLUMNS = ("balance_potential", "status", "moved_share", "mean_km", "p95_km", "max_deviation",
           "objective", "gap", "seconds", "chosen")


@dataclass(frozen=True)
class Frontier:
    """One row per tolerance tried; `seconds` is the whole sweep."""

    points: pd.DataFrame
    seconds: float


def sweep(reps: pd.DataFrame, accounts: pd.DataFrame, scenario: AlignmentScenario,
          chosen: AlignmentResult, *, on_event=None,
          tolerances: tuple[float, ...] = TOLERANCES) -> Frontier:
    """Solve the scenario at every tolerance (the chosen plan is reused, not solved again)."""
    t0 = time.perf_counter()
    own = scenario.balance.potential
    grid = sorted(set(tolerances) | ({own} if own is not None else set()))
    limit = min(scenario.solver.time_limit, POINT_SECONDS)
    rows = []
    for tol in grid:
        if own is not None and math.isclose(tol, own):
            rows.append(_row(tol, chosen, True))
            continue
        point = scenario.model_copy(update={
            "balance": scenario.balance.model_copy(update={"potential": tol}),
            "solver": scenario.solver.model_copy(update={
                "time_limit": limit, "gap": max(scenario.solver.gap, 0.01)})})
        try:
            result = align(reps, accounts, point, on_event=on_event)
        except IcmError:
            rows.append({"balance_potential": tol, "status": "infeasible", "chosen": False})
            continue
        rows.append(_row(tol, result, False))
    points = pd.DataFrame(rows, columns=list(COLUMNS))
    return Frontier(points, time.perf_counter() - t0)


def _row(tol: float, r: AlignmentResult, chosen: bool) -> dict:
    return {"balance_potential": tol, "status": r.status, "moved_share": r.moved_share,
            "mean_km": r.mean_km if r.mean_km is not None else np.nan,
            "p95_km": r.p95_km if r.p95_km is not None else np.nan,
            "max_deviation": float(r.territories["deviation"].abs().max()),
            "objective": r.objective, "gap": r.gap, "seconds": r.seconds, "chosen": chosen}


def frontier_csv(frontier: Frontier) -> bytes:
    """frontier.csv: fractions to 6 places, km to 0.1, seconds to 0.01."""
    p = frontier.points
    out = p.copy()
    for col, places in (("balance_potential", 6), ("moved_share", 6), ("max_deviation", 6),
                        ("gap", 6), ("objective", 6), ("mean_km", 1), ("p95_km", 1),
                        ("seconds", 2)):
        out[col] = [("" if v != v else f"{v:.{places}f}") for v in p[col].astype(float)]
    out["chosen"] = np.where(p["chosen"].fillna(False).astype(bool), "true", "false")
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8")


def frontier_png(frontier: Frontier) -> bytes:
    """Moved share and mean km against tolerance; the scenario's own plan is starred."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    p = frontier.points[frontier.points["status"] != "infeasible"]
    fig = Figure(figsize=(8, 4.8), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    tol = p["balance_potential"].astype(float) * 100
    ax.plot(tol, p["moved_share"].astype(float) * 100, "o-", color="#1f77b4",
            label="potential moved (%)")
    ax.set_xlabel("balance tolerance on potential (+-%)")
    ax.set_ylabel("potential moved (%)", color="#1f77b4")
    km = p["mean_km"].astype(float)
    if km.notna().any():
        ax2 = ax.twinx()
        ax2.plot(tol, km, "s--", color="#d62728", label="mean km to rep home")
        ax2.set_ylabel("mean km from account to rep home", color="#d62728")
    chosen = p[p["chosen"].fillna(False).astype(bool)]
    if len(chosen):
        ax.plot(chosen["balance_potential"].astype(float) * 100,
                chosen["moved_share"].astype(float) * 100, "*", markersize=18, color="gold",
                markeredgecolor="black", label="this scenario's plan", zorder=5)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(f"Trade-off: tighter balance moves more potential ({len(p)} plans, "
                 f"{frontier.seconds:.0f} s)", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()
