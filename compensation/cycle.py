"""The month as a library: check, run, close, read and compare a month's runs.

`compensation.cycle` owns a month. Every call takes a workspace (a folder or a loaded
`Workspace`), holds the workspace lock while it writes, keeps months in order, commits
a run whole (its rows and a snapshot of the `RunResult`, in one transaction) and
returns an outcome value; it prints nothing. Rendering is someone else's job: a caller
passes a `Publisher` (see `reports.publish`) and the cycle calls it, still under the
lock, once the run is committed. So a month can be run and closed from Python without
the `icm` command, and the command is options -> these calls -> printing.

`ICM_TEST_PAUSE_AT=<stage>` stops the process at a named stage (`before-commit`,
`mid-commit`, `after-commit`, `mid-render`, `before-move`): it writes
`ICM_TEST_PAUSE_FILE` (default `<ws>/.icm-paused`), prints `ICM-PAUSED <stage>` to
stderr and waits for SIGUSR1, so fault tests can SIGKILL it exactly there.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import pandas as pd

from compensation import workflow
from compensation.assignments import build_assignments
from compensation.digest import file_sha256
from compensation.errors import IcmError, Problem, UsageError
from compensation.ledger import Audit, Ledger
from compensation.ledger_io import changes
from compensation.lock import workspace_lock
from compensation.money import round_decimal_cents, to_decimal
from compensation.periods import month_index
from compensation.pipeline import calculate
from compensation.plan import Plan
from compensation.planfile import is_scenario, load_plans, load_workspace, load_yaml
from compensation.prior import prior_state
from compensation.results import InputFile, RunResult
from compensation.settings import Workspace
from compensation.snapshot import pack, unpack
from compensation.tables import DEFAULT_TABLES, Inputs, load_inputs

PLAN_SUFFIXES = (".yaml", ".yml")
DATA_SUFFIXES = (".csv", ".xlsx", ".parquet")
WORKSPACE_ID_FILE = ".icm-workspace-id"
STAGES = ("before-commit", "mid-commit", "after-commit", "mid-render", "before-move")


@dataclass(frozen=True)
class CommittedRun:
    """A run as the ledger keeps it: its id, its number within the month, its result."""

    run_id: int
    run_number: int
    period: str
    status: str
    result: RunResult

    @property
    def label(self) -> str:
        """How a person names the run: "run 2 of 2026-02"."""
        return f"run {self.run_number} of {self.period}"


class Publisher(Protocol):
    """Renders committed runs into files (implemented by `reports.publish`)."""

    def publish(self, ws: Workspace, run: CommittedRun, pause: Callable[[str], None]) -> tuple[Path, tuple[str, ...]]:
        """Render `run`; return the folder and notes worth telling the user."""

    def heal(self, ws: Workspace, ledger: Ledger) -> tuple[str, ...]:
        """Re-render a committed run a crash kept out of its folder; say what was done."""


@dataclass(frozen=True)
class RunOutcome:
    """A committed (and, with a publisher, rendered) run."""

    run: CommittedRun
    out_dir: Path | None = None
    notes: tuple[str, ...] = ()

    @property
    def run_id(self) -> int:
        return self.run.run_id

    @property
    def result(self) -> RunResult:
        return self.run.result


@dataclass(frozen=True)
class CloseOutcome:
    """A closed month; `warnings` says which inputs changed since its run."""

    period: str
    run_id: int
    run_number: int
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckReport:
    """What a check of the workspace found: plans, scenario files, rows and row problems.

    With a period, `problems` are exactly what a run of that month would report.
    """

    plans: Mapping[str, Plan]
    scenarios: tuple[Path, ...]
    rows: int
    problems: tuple[Problem, ...]
    period: str | None = None

    @property
    def holds(self) -> int:
        return sum(p.severity == "hold" for p in self.problems)


@dataclass(frozen=True)
class DiffOutcome:
    """What changed per rep and line between two versions of a month's register.

    `changes`: rep_id, line, before, after, change (cents; blank where a line is absent
    on one side), status (`changed`, `new`, `gone`), only rows that differ.
    """

    period: str
    before: str  # e.g. "run 1 of 2026-02"
    after: str  # e.g. "run 2 of 2026-02" or "a dry re-run on today's inputs"
    changes: pd.DataFrame
    total_before: int
    total_after: int
    notes: tuple[str, ...] = field(default=())


# -- opening ---------------------------------------------------------------------------


def open_workspace(workspace: Workspace | Path | str) -> Workspace:
    """A loaded workspace: its folder and its `icm.yaml` settings."""
    return workspace if isinstance(workspace, Workspace) else load_workspace(Path(workspace))


@contextmanager
def open_ledger(workspace: Workspace | Path | str) -> Iterator[Ledger]:
    """The workspace's ledger, disposed of on exit."""
    ws = open_workspace(workspace)
    ledger = Ledger(ws.ledger_url)
    try:
        yield ledger
    finally:
        ledger.dispose()


def load(ws: Workspace) -> tuple[object, Inputs, list[Problem]]:
    """Load and validate: plans (structural errors raise) and tables (row problems returned)."""
    plan_set = load_plans(ws)
    inputs, problems = load_inputs(ws)
    return plan_set, inputs, list(problems)


def check(workspace: Workspace | Path | str, period: str | None = None) -> CheckReport:
    """Validate the workspace; with a period, report everything a run of it would hold.

    Without a period: plans, tables and the checks that need no month. With one: the
    same checks a run makes, quota coverage and adjustments into closed months
    included, by calculating the month against the ledger without writing anything.
    """
    ws = open_workspace(workspace)
    loaded = load(ws)  # read once, whether or not the month is calculated too
    plan_set, inputs, problems = loaded
    if period is None:
        problems = problems + build_assignments(inputs.reps, plan_set.plans)[1]
    else:
        _period_ok(period)
        with open_ledger(ws) as ledger:
            problems = _problems_of(_calculate(ws, period, ledger, loaded=loaded).exceptions)
    return CheckReport(dict(plan_set.plans), tuple(plan_set.scenarios), sum(f.rows for f in inputs.files),
                       tuple(problems), period)


# -- the month ---------------------------------------------------------------------------


def run(workspace: Workspace | Path | str, period: str, *, strict: bool = False, by: str | None = None,
        publisher: Publisher | None = None) -> RunOutcome:
    """Calculate an open month, replace its draft in the ledger, keep it whole, publish it."""
    ws = open_workspace(workspace)
    _period_ok(period)
    pause = _Pauser(ws.root)
    with _writing(ws, "a run", period), open_ledger(ws) as ledger:
        _claim_ledger(ws, ledger)
        notes = publisher.heal(ws, ledger) if publisher else ()
        ledger.check_can_run(period)
        result = _calculate(ws, period, ledger)
        if strict and result.held_reps:
            raise IcmError(*_strict_messages(result))
        pause("before-commit")
        run_id = ledger.commit_run(result, Audit.current(by), checkpoint=pause, snapshot=pack(result))
        workflow.withdraw_submissions(ledger, period)
        pause("after-commit")
        committed = CommittedRun(run_id, _run_number(ledger, period, run_id), period, "draft", result)
        out_dir = None
        if publisher is not None:
            out_dir, published = publisher.publish(ws, committed, pause)
            notes += published
            for note in published:
                ledger.add_note(run_id, note)
    return RunOutcome(run=committed, out_dir=out_dir, notes=notes)


def close(workspace: Workspace | Path | str, period: str, *, by: str | None = None, force: bool = False,
          reason: str | None = None, publisher: Publisher | None = None) -> CloseOutcome:
    """Lock the month's last run; warn (and record both) when inputs changed since it ran.

    Once workflow users exist, the run must have been approved by a second person,
    unless `force` is given with who (`by`) and why (`reason`), which is recorded.
    """
    ws = open_workspace(workspace)
    _period_ok(period)
    with _writing(ws, "the close", period), open_ledger(ws) as ledger:
        _claim_ledger(ws, ledger)
        notes = publisher.heal(ws, ledger) if publisher else ()
        ledger.check_can_close(period)
        last = ledger.latest_run(period)
        workflow.close_permission(ledger, period, last.id, by=by, force=force, reason=reason)
        now = current_inputs(ws, ledger.inputs(last.id))
        done = ledger.close(period, Audit.current(by), inputs_now=now)
        number = _run_number(ledger, period, done.run.id)
    warnings = ()
    if done.changed:
        warnings = (f"inputs changed since run {number} of {period} was calculated: "
                    + "; ".join(done.changed)
                    + f". {period} is closed with run {number} as reviewed (both fingerprints are "
                    "recorded); the changes flow into the next month's run",)
    return CloseOutcome(period=period, run_id=done.run.id, run_number=number, warnings=warnings, notes=notes)


def dry_run(workspace: Workspace | Path | str, period: str, *,
            extra_transactions: pd.DataFrame | None = None) -> RunResult:
    """Calculate a month against the ledger's closed months, writing nothing.

    `extra_transactions` (rows in the transactions table's columns) are added to the
    month's data: a what-if that the same engine prices.
    """
    ws = open_workspace(workspace)
    _period_ok(period)
    with open_ledger(ws) as ledger:
        return _calculate(ws, period, ledger, extra_transactions=extra_transactions, dry=True)


def committed_run(workspace: Workspace | Path | str, period: str, run_id: int | None = None) -> CommittedRun:
    """A committed run as kept by the ledger (the month's current run by default); never recalculated."""
    ws = open_workspace(workspace)
    _period_ok(period)
    with open_ledger(ws) as ledger:
        return _committed(ws, ledger, period, run_id)


def inputs_changed_since(workspace: Workspace | Path | str, run: CommittedRun) -> tuple[str, ...]:
    """What changed in the inputs since a committed run read them, in words (empty: nothing)."""
    ws = open_workspace(workspace)
    ran = {f.path: f.sha256 for f in run.result.inputs}
    now = {f.path: f.sha256 for f in current_inputs(ws, run.result.inputs)}
    return changes(ran, now)


def history(workspace: Workspace | Path | str) -> pd.DataFrame:
    """Every run, close and workflow action, oldest first, with per-month run numbers."""
    with open_ledger(workspace) as ledger:
        trail = ledger.history()
        actions = workflow.events(ledger)
    if len(trail):
        trail.insert(trail.columns.get_loc("run_id") + 1, "run", trail["run_id"].map(_run_numbers(trail)))
    if len(actions):
        trail = pd.concat([trail, actions], ignore_index=True).sort_values("at", kind="stable", ignore_index=True)
    return trail


def diff(workspace: Workspace | Path | str, period: str) -> DiffOutcome:
    """Open month: its last two committed runs. Closed month: the closed run vs a dry re-run today."""
    ws = open_workspace(workspace)
    _period_ok(period)
    with open_ledger(ws) as ledger:
        found = ledger.runs(period)
        if not found:
            raise UsageError(f"{period} has no runs yet; run it first")
        last = found[-1]
        notes: tuple[str, ...] = ()
        same_files = False
        if last.status == "closed":
            before = ledger.lines(period, last.id)
            result = _calculate(ws, period, ledger, dry=True)
            after = result.register
            labels = (f"closed run {len(found)} of {period}", "a dry re-run on today's inputs (nothing written)")
            if result.fingerprint != (last.close_fingerprint or last.fingerprint):
                notes = ("the inputs changed since the close",)
        elif len(found) < 2:
            before = after = ledger.lines(period, last.id)
            labels = (f"run 1 of {period}", f"run 1 of {period}")
            notes = (f"{period} has one run so far: nothing to compare yet (diff shows what a re-run changed)",)
        else:
            prev = found[-2]
            before, after = ledger.lines(period, prev.id), ledger.lines(period, last.id)
            labels = (f"run {len(found) - 1} of {period}", f"run {len(found)} of {period}")
            same_files = prev.fingerprint == last.fingerprint
    changes = compare_registers(before, after)
    if same_files:  # then a change can only come from the ledger itself
        notes = ("both runs read the same input files" + (": what changed came from the ledger (adjustments "
                                                          "accepted in inquiries)" if len(changes) else ""),)
    return DiffOutcome(period=period, before=labels[0], after=labels[1], changes=changes,
                       total_before=int(before["amount"].sum()) if len(before) else 0,
                       total_after=int(after["amount"].sum()) if len(after) else 0, notes=notes)


def compare_registers(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Per (rep_id, line): amounts before and after, where they differ."""
    key = ["rep_id", "line"]

    def amounts(frame: pd.DataFrame) -> pd.DataFrame:
        if not len(frame):
            return pd.DataFrame({"rep_id": [], "line": [], "amount": pd.Series([], dtype="Int64")})
        out = frame.groupby(key, sort=False)["amount"].sum().reset_index()
        out["amount"] = out["amount"].astype("Int64")
        return out

    merged = amounts(before).merge(amounts(after), on=key, how="outer", suffixes=("_before", "_after"), sort=False)
    merged = merged.rename(columns={"amount_before": "before", "amount_after": "after"})
    merged["before"] = merged["before"].astype("Int64")
    merged["after"] = merged["after"].astype("Int64")
    merged["change"] = merged["after"].fillna(0) - merged["before"].fillna(0)
    merged["status"] = "changed"
    merged.loc[merged["before"].isna(), "status"] = "new"
    merged.loc[merged["after"].isna(), "status"] = "gone"
    differs = (merged["change"] != 0) | (merged["status"] != "changed")
    out = merged[differs].sort_values(key, kind="stable", ignore_index=True)
    return out[["rep_id", "line", "before", "after", "change", "status"]]


# -- inputs and their fingerprints -----------------------------------------------------------


def current_inputs(ws: Workspace, ran: tuple[InputFile, ...]) -> tuple[InputFile, ...]:
    """Today's sha256 of every file a run reads: the files it read, and run inputs added since.

    A run reads the plans and the run tables (reps, transactions, ...), so only those
    count; a territory table such as `accounts` never makes a close warn.
    """
    now: dict[str, InputFile] = {}
    for f in ran:
        path = ws.root / f.path
        if path.is_file():
            now[f.path] = InputFile(f.name, f.path, f.rows, file_sha256(path))
    known = {f.path for f in ran}
    candidates = [p for p in sorted(ws.data_dir.glob("*"))
                  if p.suffix.lower() in DATA_SUFFIXES and p.stem in DEFAULT_TABLES]
    candidates += [p for p in sorted(ws.plans_dir.glob("*"))
                   if p.suffix.lower() in PLAN_SUFFIXES and not _is_scenario_file(p)]
    for path in candidates:
        rel = path.relative_to(ws.root).as_posix()
        if rel not in known and path.is_file():
            now[rel] = InputFile(path.stem, rel, 0, file_sha256(path))
    return tuple(now.values())


def _is_scenario_file(path: Path) -> bool:
    try:
        return is_scenario(load_yaml(path).data)
    except IcmError:
        return False


# -- helpers ---------------------------------------------------------------------------------


def _calculate(ws: Workspace, period: str, ledger: Ledger, *, extra_transactions=None, loaded=None,
               dry: bool = False) -> RunResult:
    """The month against the ledger's closed months; `loaded` reuses inputs a check already read.

    A what-if with extra transactions, or a check that has its inputs, stays on pandas. A
    `dry` calculation (a diff or dry run: nothing is kept) leaves `out/credits/` as it was.
    """
    if ws.settings.engine == "dask" and extra_transactions is None and loaded is None:
        from compensation.engines.dask_engine import calculate_on_dask  # noqa: PLC0415 - the optional extra
        extra = workflow.ledger_adjustments(ledger)
        return calculate_on_dask(ws, period, prior_state(ledger.closed_rows(period), period, ws.calendar),
                                 lambda inputs: _with_adjustments(inputs, extra) if len(extra) else inputs,
                                 keep_detail=not dry)
    plan_set, inputs, problems = loaded or load(ws)
    extra = workflow.ledger_adjustments(ledger)
    if len(extra):
        inputs = _with_adjustments(inputs, extra)
    if extra_transactions is not None and len(extra_transactions):
        inputs = _with_transactions(inputs, extra_transactions)
    prior = prior_state(ledger.closed_rows(period), period, ws.calendar)
    return calculate(ws, period, plan_set, inputs, problems, prior)


def _with_adjustments(inputs: Inputs, extra: pd.DataFrame) -> Inputs:
    """Adjustments made in the ledger (accepted inquiries) join `data/adjustments` rows."""
    table = inputs.adjustments
    rows = extra.reindex(columns=table.columns)
    if "row" in rows:
        rows["row"] = pd.NA
    return replace(inputs, adjustments=pd.concat([table, rows], ignore_index=True))


def _with_transactions(inputs: Inputs, extra: pd.DataFrame) -> Inputs:
    """What-if rows join the transactions, in its columns and types."""
    table = inputs.transactions
    rows = extra.reindex(columns=table.columns)
    if "amount_cents" in table.columns and "amount_cents" not in extra.columns:  # exact cents, as loading gives
        rows["amount_cents"] = [round_decimal_cents(to_decimal(a)) for a in extra["amount"]]
    return replace(inputs, transactions=pd.concat([table, rows.astype(table.dtypes.to_dict(), errors="ignore")],
                                                  ignore_index=True))


def _committed(ws: Workspace, ledger: Ledger, period: str, run_id: int | None) -> CommittedRun:
    found = ledger.runs(period)
    if not found:
        raise UsageError(f"{period} has no run yet; run it first")
    info = ledger.latest_run(period) if run_id is None else next((r for r in found if r.id == run_id), None)
    if info is None:
        raise UsageError(f"{period} has no run with id {run_id}")
    result = unpack(ledger.snapshot(info.id), ws, ledger.inputs(info.id), info.id)
    return CommittedRun(info.id, _run_number(ledger, period, info.id), period, info.status, result)


def _run_number(ledger: Ledger, period: str, run_id: int) -> int:
    ids = [r.id for r in ledger.runs(period)]
    return ids.index(run_id) + 1 if run_id in ids else len(ids)


def _run_numbers(trail: pd.DataFrame) -> dict[int, int]:
    """Run id -> its number within its month ("run 2 of 2026-02")."""
    runs = trail[["run_id", "period"]].drop_duplicates("run_id").sort_values("run_id")
    return dict(zip(runs["run_id"], runs.groupby("period").cumcount() + 1, strict=True))


def _claim_ledger(ws: Workspace, ledger: Ledger) -> None:
    """Tie the ledger to this workspace's id, and refuse a ledger another workspace uses.

    The id lives in `.icm-workspace-id`, created at the first run, so it survives a move
    or a restore of the folder.
    """
    id_file = ws.root / WORKSPACE_ID_FILE
    mine = id_file.read_text().strip() if id_file.is_file() else None
    theirs = ledger.fact("workspace_id")
    if mine is None and theirs is not None and not ledger.is_local_to(ws.root):
        raise UsageError(
            f"ledger {ledger.shown} belongs to workspace {theirs}, and this workspace ({ws.root}) has no id yet: "
            f"point `ledger:` in {ws.root / 'icm.yaml'} at a ledger of its own, or, if this folder was restored "
            f"with that ledger, adopt it by writing {theirs} into {id_file}")
    if mine is None:
        mine = theirs or str(uuid.uuid4())
        id_file.write_text(mine + "\n")
    if theirs is None:
        ledger.set_fact("workspace_id", mine)
    elif theirs != mine:
        raise UsageError(
            f"ledger {ledger.shown} belongs to another workspace (id {theirs}; this one is {mine}): two workspaces "
            f"must not share a ledger. Point `ledger:` in {ws.root / 'icm.yaml'} at this workspace's own ledger; if "
            f"this ledger was restored for this workspace, adopt it by writing {theirs} into {id_file}")


@contextmanager
def _writing(ws: Workspace, what: str, period: str) -> Iterator[None]:
    """The workspace lock, and an OS failure (disk full, read-only) said in words."""
    try:
        with workspace_lock(ws.root, f"{what} of {period}", on_wait=_say):
            yield
    except OSError as err:
        where = err.filename or ws.root
        raise IcmError(f"{what} of {period} failed: {err.strerror or err} ({where}). Nothing more was committed "
                       "than the ledger shows (see history); free disk space or make the folder writable, "
                       "then try again") from None


def _problems_of(exceptions: pd.DataFrame) -> list[Problem]:
    out = []
    for row in exceptions.itertuples(index=False):
        out.append(Problem(severity=row.severity, table=row.table, reason=row.reason,
                           row=None if pd.isna(row.row) else int(row.row),
                           txn_id=None if pd.isna(row.txn_id) else row.txn_id,
                           rep_id=None if pd.isna(row.rep_id) else row.rep_id))
    return out


def _strict_messages(result: RunResult) -> list[str]:
    holds = result.exceptions[result.exceptions["severity"] == "hold"]
    messages = [f"{len(result.held_reps)} reps held in {result.period} (strict): nothing was written"]
    for row in holds.head(20).itertuples(index=False):
        where = f"{row.table}" + (f" row {row.row}" if pd.notna(row.row) else "")
        who = f"rep {row.rep_id}" if pd.notna(row.rep_id) else ""
        messages.append(f"  {where}: {who}: {row.reason}".replace(": :", ":"))
    if len(holds) > 20:
        messages.append(f"  ... and {len(holds) - 20} more")
    return messages


def _period_ok(period: str) -> None:
    try:
        month_index(period)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Pauser:
    """Test hook: stop at the stage named by ICM_TEST_PAUSE_AT until SIGUSR1 (or SIGKILL)."""

    def __init__(self, root: Path):
        self.stage = os.environ.get("ICM_TEST_PAUSE_AT") or None
        self.marker = Path(os.environ.get("ICM_TEST_PAUSE_FILE") or root / ".icm-paused")

    def __call__(self, stage: str) -> None:
        if self.stage != stage:
            return
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        try:
            self.marker.write_text(f"{stage} {os.getpid()}\n")
            print(f"ICM-PAUSED {stage}", file=sys.stderr, flush=True)
            signal.sigwait({signal.SIGUSR1})
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
