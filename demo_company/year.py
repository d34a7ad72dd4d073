"""Run and close the demo company's twelve months, as a finance team's cycle would."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from compensation import cycle
from compensation.errors import IcmError
from demo_company.company import write_demo_workspace
from reports.publish import Publisher

MONTHS = tuple(f"2026-{m:02d}" for m in range(1, 13))
STATEMENTS = ("last", "all", "none")
RUN_BY = "icm demo"


@dataclass(frozen=True)
class MonthSummary:
    """One closed month of the demo: what the summary table shows."""

    period: str
    reps_paid: int
    total_cents: int
    exceptions: pd.DataFrame
    out_dir: Path


def refuse_non_empty(directory: Path) -> None:
    """SPEC 6: refuse a DIR that exists and is not an empty folder."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise IcmError(f"{directory}: already exists and is not empty; choose a new folder, "
                       "e.g. ./icm-demo-2")


def build_and_run(directory: Path, *, statements: str = "last",
                  on_month: Callable[[str, str], None] | None = None) -> tuple[list[MonthSummary], pd.DataFrame]:
    """Write the demo workspace, then run and close 2026-01..2026-12 in order.

    `statements`: PDF statements for the `last` month, `all` months or `none`.
    `on_month(period, step)` is told of each step ("run", "close", "done") for a progress bar.
    Returns the month summaries and every rep's paid total per month (rep_id, name,
    period, amount in cents).
    """
    if statements not in STATEMENTS:
        raise IcmError(f"statements={statements!r}: expected one of {', '.join(STATEMENTS)}")
    refuse_non_empty(directory)
    write_demo_workspace(directory)
    ws = cycle.open_workspace(directory)
    tell = on_month or (lambda period, step: None)
    months: list[MonthSummary] = []
    paid: list[pd.DataFrame] = []
    for period in MONTHS:
        tell(period, "run")
        pdfs = statements == "all" or (statements == "last" and period == MONTHS[-1])
        outcome = cycle.run(ws, period, by=RUN_BY, publisher=Publisher(statements=pdfs))
        tell(period, "close")
        cycle.close(ws, period, by=RUN_BY)
        result = outcome.result
        months.append(MonthSummary(period, result.reps_paid(), result.total_paid(), result.exceptions,
                                   Path(outcome.out_dir)))
        by_rep = result.register.groupby(["rep_id", "name"], as_index=False)["amount"].sum()
        paid.append(by_rep.assign(period=period, amount=by_rep["amount"].astype("int64")))
        tell(period, "done")
    return months, pd.concat(paid, ignore_index=True)
