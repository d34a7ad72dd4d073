"""What the pages read: committed runs (cached, they never change), months, and who sees whom.

Committed runs come from `compensation.cycle.committed_run` (the ledger's kept run,
never recalculated), so they are cached by run id. Access rules live here: finance
and approvers see everything; a rep sees their own closed months; a manager sees the
chain below them as of the month (the `reps` rows in force on its last day).
"""

from __future__ import annotations

import calendar
import threading
from collections import OrderedDict
from datetime import date

import pandas as pd

from compensation import cycle
from compensation.ledger import CLOSED
from compensation.periods import month_index
from compensation.workflow import Session

STAFF = ("finance", "approver")
_LOCK = threading.Lock()


class Denied(Exception):
    """The user may not see this (403)."""


class NotFound(Exception):
    """Nothing here for this user (404)."""


def valid_period(period: str) -> str:
    """A month written 2026-03, else 404."""
    try:
        month_index(period)
    except (ValueError, TypeError):
        raise NotFound() from None
    return period


def last_day(period: str) -> date:
    """The month's last day: whose manager chain counts."""
    year, month = int(period[:4]), int(period[5:7])
    return date(year, month, calendar.monthrange(year, month)[1])


def _remember(state, key, make, size: int = 32):
    with _LOCK:
        store = state.cache.setdefault("lru", OrderedDict())
        if key in store:
            store.move_to_end(key)
            return store[key]
    value = make()
    with _LOCK:
        store[key] = value
        while len(store) > size:
            store.popitem(last=False)
    return value


def months(state) -> list[dict]:
    """Every month with runs, newest first: its current run and whether it is closed."""
    out: dict[str, dict] = {}
    for run in state.ledger.runs():
        if run.status == "superseded":
            out.setdefault(run.period, {"period": run.period, "runs": 0})["runs"] += 1
            continue
        entry = out.setdefault(run.period, {"period": run.period, "runs": 0})
        entry.update(runs=entry["runs"] + 1, run=run, closed=run.status == CLOSED)
    return sorted((m for m in out.values() if "run" in m), key=lambda m: month_index(m["period"]), reverse=True)


def closed_months(state) -> list[str]:
    """Closed months, newest first."""
    return [m["period"] for m in months(state) if m["closed"]]


def committed(state, period: str, run_id: int | None = None) -> cycle.CommittedRun:
    """The month's current committed run (or run `run_id`); NotFound when there is none."""
    latest = state.ledger.latest_run(period)
    if latest is None:
        raise NotFound()
    wanted = run_id or latest.id
    return _remember(state, ("run", wanted), lambda: cycle.committed_run(state.ws, period, wanted))


def reps_table(state) -> pd.DataFrame:
    """`data/reps` (every effective-dated row), re-read when the file changes."""
    from compensation.tables import read_table, table_path

    path = table_path(state.ws, "reps")
    stamp = path.stat().st_mtime_ns if path else None
    cached = state.cache.get("reps")
    if cached and cached[0] == stamp:
        return cached[1]
    frame, _, _ = read_table(state.ws, "reps", required=False)
    frame = frame if frame is not None else pd.DataFrame(columns=["rep_id", "name", "manager_id"])
    state.cache["reps"] = (stamp, frame)
    return frame


def team_below(reps: pd.DataFrame, manager_id: str, as_of: date) -> set[str]:
    """Every rep whose manager chain reaches `manager_id` on `as_of`."""
    rows = reps
    if "start_date" in reps:
        day = pd.Timestamp(as_of)
        start = pd.to_datetime(reps["start_date"])
        end = pd.to_datetime(reps["end_date"]) if "end_date" in reps else pd.Series(pd.NaT, index=reps.index)
        rows = reps[(start <= day) & (end.isna() | (end >= day))]
    managers = rows["manager_id"] if "manager_id" in rows else pd.Series(None, index=rows.index)
    manager_of = dict(zip(rows["rep_id"], managers, strict=True))
    below: set[str] = set()
    for rep in manager_of:
        seen, boss = {rep}, manager_of.get(rep)
        while isinstance(boss, str) and boss and boss not in seen:
            if boss == manager_id:
                below.add(rep)
                break
            seen.add(boss)
            boss = manager_of.get(boss)
    return below


def names(state) -> dict[str, str]:
    """rep_id -> name from `data/reps`."""
    reps = reps_table(state)
    return dict(zip(reps["rep_id"], reps["name"], strict=True)) if len(reps) else {}


def visible_reps(state, session: Session, period: str) -> set[str] | None:
    """The reps this user may see in a month (None: everyone)."""
    user = session.user
    if user.role in STAFF:
        return None
    own = {user.rep_id} if user.rep_id else set()
    if user.role == "manager" and user.rep_id:
        own |= team_below(reps_table(state), user.rep_id, last_day(period))
    return own


def check_rep(state, session: Session, rep_id: str, period: str) -> None:
    """403 unless the user may see `rep_id` in `period`; reps and managers see closed months only."""
    valid_period(period)
    seen = visible_reps(state, session, period)
    if seen is not None and rep_id not in seen:
        raise Denied()
    if session.user.role not in STAFF and period not in closed_months(state):
        raise NotFound()


def open_month(state) -> str | None:
    """The earliest month not yet closed (the month after the last closed one), or None."""
    found = months(state)
    closed = [m["period"] for m in found if m["closed"]]
    if closed:
        last = max(closed, key=month_index)
        year, month = int(last[:4]), int(last[5:7])
        return f"{year + month // 12}-{month % 12 + 1:02d}"
    return found[-1]["period"] if found else None
