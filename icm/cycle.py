"""The payout cycle as the command drives it: lock, check, calculate, commit, render, swap.

The ledger is the record; `out/P/` is a rendering of the month's committed run. A run
renders into `out/.staging-P-<run>/` after the commit and then swaps it into place,
so a crash leaves either the old folder or the new one. Each folder carries
`.icm-run` (the run it shows); the next `run` or `close` re-renders a committed run
whose folder is missing or stale ("healing"), from the same inputs, which give the
same files.

`ICM_TEST_PAUSE_AT=<stage>` stops the process at a named stage (`before-commit`,
`mid-commit`, `after-commit`, `mid-render`, `before-move`): it writes
`ICM_TEST_PAUSE_FILE` (default `<ws>/.icm-paused`), prints `ICM-PAUSED <stage>` to
stderr and waits for SIGUSR1, so fault tests can SIGKILL it exactly there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from compensation.errors import IcmError, UsageError
from compensation.ledger import Audit, Ledger, RunInfo
from compensation.lock import workspace_lock
from compensation.results import InputFile, RunResult
from compensation.settings import Workspace

RUN_MARKER = ".icm-run"
DATA_SUFFIXES = (".csv", ".xlsx", ".parquet")
PLAN_SUFFIXES = (".yaml", ".yml")
STAGES = ("before-commit", "mid-commit", "after-commit", "mid-render", "before-move")


@dataclass(frozen=True)
class RunOutcome:
    """A committed and rendered run."""

    run_id: int
    result: RunResult
    out_dir: Path
    healed: tuple[str, ...] = ()


@dataclass(frozen=True)
class CloseOutcome:
    """A closed month; `warnings` says which inputs changed since its run."""

    period: str
    run_id: int
    warnings: tuple[str, ...] = ()
    healed: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiffOutcome:
    """What changed per rep and line between two versions of a month's register.

    `changes`: rep_id, line, before, after, change (cents; blank where a line is
    absent on one side), status (`changed`, `new`, `gone`), only rows that differ.
    """

    period: str
    before: str  # e.g. "run 4"
    after: str  # e.g. "run 6" or "a dry re-run on today's inputs"
    changes: pd.DataFrame
    total_before: int
    total_after: int
    notes: tuple[str, ...] = field(default=())


def run_period(ws: Workspace | Path, period: str, *, strict: bool = False,
               statements: bool = False, by: str | None = None,
               progress: Callable[[int, int], None] | None = None) -> RunOutcome:
    """Calculate an open month, replace its draft in the ledger and render `out/P/`."""
    ws = _workspace(ws)
    pause = _Pauser(ws.root)
    with workspace_lock(ws.root, f"icm run --period {period}", on_wait=_say):
        ledger = Ledger(ws.ledger_url)
        try:
            healed = heal(ws, ledger, skip_period=period)
            ledger.check_can_run(period)
            result = _calculate(ws, period, ledger)
            if strict and result.held_reps:
                raise IcmError(*_strict_messages(result))
            pause("before-commit")
            run_id = ledger.commit_run(result, Audit.current(by), checkpoint=pause)
            pause("after-commit")
            try:
                out_dir = publish(ws, result, run_id, statements=statements, pause=pause, progress=progress)
            except OSError as err:
                _sweep(ws)
                raise IcmError(
                    f"run {run_id} of {period} is committed, but writing out/{period} failed: "
                    f"{err}. out/{period} still shows the previous run; fix the cause (e.g. free "
                    "disk space) and run `icm run` or `icm close` to render it") from None
        finally:
            ledger.dispose()
    return RunOutcome(run_id=run_id, result=result, out_dir=out_dir, healed=healed)


def close_period(ws: Workspace | Path, period: str, *, by: str | None = None) -> CloseOutcome:
    """Lock the month's last run; warn (and record both) when inputs changed since it ran."""
    ws = _workspace(ws)
    with workspace_lock(ws.root, f"icm close --period {period}", on_wait=_say):
        ledger = Ledger(ws.ledger_url)
        try:
            healed = heal(ws, ledger)
            ledger.check_can_close(period)
            run = ledger.latest_run(period)
            now = current_inputs(ws, ledger.inputs(run.id))
            done = ledger.close(period, Audit.current(by), inputs_now=now)
        finally:
            ledger.dispose()
    warnings = ()
    if done.changed:
        warnings = (f"inputs changed since run {done.run.id} was calculated: "
                    + "; ".join(done.changed)
                    + f". {period} is closed with run {done.run.id} as reviewed (both "
                    "fingerprints are recorded); the changes flow into the next month's run",)
    return CloseOutcome(period=period, run_id=done.run.id, warnings=warnings, healed=healed)


def dry_run(ws: Workspace | Path, period: str) -> RunResult:
    """Calculate a month against the ledger's closed months, writing nothing."""
    ws = _workspace(ws)
    ledger = Ledger(ws.ledger_url)
    try:
        _period_ok(period)
        return _calculate(ws, period, ledger)
    finally:
        ledger.dispose()


def history(ws: Workspace | Path) -> pd.DataFrame:
    """Every run and close, oldest first (see `Ledger.history`)."""
    ws = _workspace(ws)
    ledger = Ledger(ws.ledger_url)
    try:
        return ledger.history()
    finally:
        ledger.dispose()


def diff(ws: Workspace | Path, period: str) -> DiffOutcome:
    """Open month: its last two runs. Closed month: the closed run vs a dry re-run today."""
    ws = _workspace(ws)
    _period_ok(period)
    ledger = Ledger(ws.ledger_url)
    try:
        found = ledger.runs(period)
        if not found:
            raise UsageError(f"{period} has no runs; run it first (icm run --period {period})")
        last = found[-1]
        notes: tuple[str, ...] = ()
        if last.status == "closed":
            before = ledger.lines(period, last.id)
            result = _calculate(ws, period, ledger)
            after = result.register
            labels = (f"closed run {last.id}", "a dry re-run on today's inputs (nothing written)")
            if result.fingerprint != (last.close_fingerprint or last.fingerprint):
                notes = ("the inputs changed since the close",)
        else:
            if len(found) < 2:
                raise UsageError(f"{period} has one run (run {last.id}): nothing to compare yet; "
                                 "diff shows what a re-run changed")
            prev = found[-2]
            before, after = ledger.lines(period, prev.id), ledger.lines(period, last.id)
            labels = (f"run {prev.id}", f"run {last.id}")
            if prev.fingerprint == last.fingerprint:
                notes = ("both runs read the same inputs",)
    finally:
        ledger.dispose()
    return DiffOutcome(period=period, before=labels[0], after=labels[1],
                       changes=compare_registers(before, after),
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

    merged = amounts(before).merge(amounts(after), on=key, how="outer",
                                   suffixes=("_before", "_after"), sort=False)
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


# -- rendering and healing --------------------------------------------------------------


def publish(ws: Workspace, result: RunResult, run_id: int, *, statements: bool = False,
            pause: Callable[[str], None] | None = None,
            progress: Callable[[int, int], None] | None = None) -> Path:
    """Render a committed run into a staging folder, then swap it into `out/P/`."""
    from reports import render_run

    pause = pause or (lambda stage: None)
    out = ws.out_dir
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".staging-{result.period}-{run_id}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    paused = []

    def on_progress(*args) -> None:
        if not paused:
            paused.append(True)
            pause("mid-render")
        if progress is not None and len(args) == 2:
            progress(*args)

    render_run(result, staging, statements=statements, progress=on_progress, run_id=run_id)
    if not paused:
        pause("mid-render")
    (staging / RUN_MARKER).write_text(f"{run_id}\n")
    pause("before-move")
    target = out / result.period
    old = out / f".old-{result.period}-{run_id}"
    if target.exists():
        if old.exists():
            shutil.rmtree(old)
        target.rename(old)
    staging.rename(target)
    if old.exists():
        shutil.rmtree(old)
    return target


def rendered_run(ws: Workspace, period: str) -> int | None:
    """The run `out/P/` shows, or None when missing or unmarked."""
    try:
        return int((ws.out_dir / period / RUN_MARKER).read_text().strip())
    except (OSError, ValueError):
        return None


def heal(ws: Workspace, ledger: Ledger, skip_period: str | None = None) -> tuple[str, ...]:
    """Re-render the newest committed run when a crash kept its files out of `out/`.

    Only the newest run can be unrendered: every run or close heals before it acts.
    Returns what it did, for the command to print.
    """
    _sweep(ws)
    found = ledger.runs()
    if not found:
        return ()
    last: RunInfo = max(found, key=lambda r: r.id)
    period = last.period
    if rendered_run(ws, period) == last.id or (period == skip_period and last.status != "closed"):
        return ()
    try:
        result = _calculate(ws, period, ledger)
    except IcmError as err:
        return (f"out/{period} does not show run {last.id} and cannot be re-rendered: {err}",)
    if result.fingerprint != last.fingerprint:
        return (f"out/{period} does not show run {last.id} (an earlier command stopped before "
                "its files were in place) and the inputs changed since, so it was not "
                f"re-rendered; re-run {period} while it is open to refresh it",)
    statements = (ws.out_dir / period / "statements").is_dir()
    publish(ws, result, last.id, statements=statements)
    return (f"re-rendered out/{period} from run {last.id} (an earlier command stopped "
            "before its files were in place)",)


def _sweep(ws: Workspace) -> None:
    """Remove staging and old folders a crash left behind."""
    if not ws.out_dir.is_dir():
        return
    for leftover in ws.out_dir.iterdir():
        if leftover.is_dir() and leftover.name.startswith((".staging-", ".old-")):
            shutil.rmtree(leftover, ignore_errors=True)


# -- inputs at close ----------------------------------------------------------------------


def current_inputs(ws: Workspace, ran: tuple[InputFile, ...]) -> tuple[InputFile, ...]:
    """Today's sha256 of every file the run read, plus input files that appeared since."""
    now: dict[str, InputFile] = {}
    for f in ran:
        path = ws.root / f.path
        if path.is_file():
            now[f.path] = InputFile(f.name, f.path, f.rows, _sha256(path))
    candidates = [p for p in sorted(ws.data_dir.glob("*")) if p.suffix.lower() in DATA_SUFFIXES]
    candidates += [p for p in sorted(ws.plans_dir.glob("*")) if p.suffix.lower() in PLAN_SUFFIXES]
    known = {f.path for f in ran}
    for path in candidates:
        rel = path.relative_to(ws.root).as_posix()
        if rel not in known and path.is_file():
            now[rel] = InputFile(path.stem, rel, 0, _sha256(path))
    return tuple(now.values())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- helpers ----------------------------------------------------------------------------


def _calculate(ws: Workspace, period: str, ledger: Ledger) -> RunResult:
    from compensation import pipeline

    return pipeline.calculate(ws, period, ledger.prior_state(period))


def _strict_messages(result: RunResult) -> list[str]:
    holds = result.exceptions[result.exceptions["severity"] == "hold"]
    messages = [f"{len(result.held_reps)} reps held in {result.period} (--strict): nothing "
                "was written"]
    for row in holds.head(20).itertuples(index=False):
        where = f"{row.table}" + (f" row {row.row}" if pd.notna(row.row) else "")
        who = f"rep {row.rep_id}" if pd.notna(row.rep_id) else ""
        messages.append(f"  {where}: {who}: {row.reason}".replace(": :", ":"))
    if len(holds) > 20:
        messages.append(f"  ... and {len(holds) - 20} more")
    return messages


def _period_ok(period: str) -> None:
    from compensation.periods import month_index

    try:
        month_index(period)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _workspace(ws: Workspace | Path | str) -> Workspace:
    if isinstance(ws, Workspace):
        return ws
    from compensation.planfile import load_workspace

    return load_workspace(Path(ws))


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
