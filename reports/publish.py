"""Publishing a committed run: `out/P/` as a rendering of what the ledger holds.

A run is rendered into a staging folder after its commit and swapped into place
(`compensation.outputs`), so a crash leaves either the old folder or the new one. Each
folder carries `.icm-run` (the run it shows). Before rendering, a `.publishing-P-RUN`
note records whether statements were asked for; if a crash or a failed render keeps the
files out of place, the next run or close ("healing") re-renders the committed run from
the ledger's snapshot, never recalculating it, with the same choice of statements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compensation.cycle import CommittedRun, committed_run
from compensation.errors import IcmError
from compensation.ledger import Ledger
from compensation.outputs import STAGING_PREFIX, swap_into_place, sweep
from compensation.settings import Workspace
from reports.rendering import render_run

RUN_MARKER = ".icm-run"
PENDING_PREFIX = ".publishing-"


@dataclass(frozen=True)
class Publisher:
    """Renders committed runs into `out/P/`; `statements` adds one PDF per rep."""

    statements: bool = False
    progress: Callable[[int, int], None] | None = None

    def publish(self, ws: Workspace, run: CommittedRun,
                pause: Callable[[str], None] = lambda stage: None) -> tuple[Path, tuple[str, ...]]:
        """Render `run` and swap it into `out/P/`; notes say what the user should know."""
        period = run.period
        previous = _statement_count(ws.out_dir / period)
        pending = _pending(ws, period, run.run_id)
        try:
            pending.parent.mkdir(parents=True, exist_ok=True)
            pending.write_text("statements\n" if self.statements else "files\n")
            target = _render(ws, run, self.statements, pause, self.progress)
        except OSError as err:
            sweep(ws.out_dir)
            raise IcmError(
                f"{run.label} is committed, but writing out/{period} failed: {err.strerror or err} "
                f"({err.filename or ws.out_dir}). out/{period} still shows the previous run; free disk space or "
                "make the folder writable, then run or close the month again to render it") from None
        pending.unlink(missing_ok=True)
        notes: tuple[str, ...] = ()
        if previous and not self.statements:
            notes = (f"out/{period} no longer has the {previous} PDF statements of the previous run: they "
                     f"showed another run; render {run.label}'s statements when needed",)
        return target, notes

    def heal(self, ws: Workspace, ledger: Ledger) -> tuple[str, ...]:
        """Re-render the newest committed run when a crash kept its files out of `out/`.

        Only the newest run can be unrendered: every run or close heals before it acts.
        """
        sweep(ws.out_dir)
        found = ledger.runs()
        if not found:
            return ()
        last = max(found, key=lambda r: r.id)
        if rendered_run(ws, last.period) == last.id:
            _clear_pending(ws, last.period)
            return ()
        pending = _pending(ws, last.period, last.id)
        if pending.exists():  # the interrupted render said what it was asked for
            statements = pending.read_text().strip() == "statements"
        else:  # stopped before rendering began: keep what the folder had
            statements = (ws.out_dir / last.period / "statements").is_dir()
        try:
            run = committed_run(ws, last.period, last.id)
        except IcmError as err:
            return (f"out/{last.period} does not show its committed run {last.id} and cannot be re-rendered: {err}",)
        _render(ws, run, statements, lambda stage: None, None)
        pending.unlink(missing_ok=True)
        what = "files and statements" if statements else "files"
        return (f"re-rendered out/{last.period} ({what}) from {run.label}, kept in the ledger: an earlier "
                "command stopped before its files were in place",)


def rendered_run(ws: Workspace, period: str) -> int | None:
    """The run `out/P/` shows, or None when missing or unmarked."""
    try:
        return int((ws.out_dir / period / RUN_MARKER).read_text().strip())
    except (OSError, ValueError):
        return None


def _render(ws: Workspace, run: CommittedRun, statements: bool, pause: Callable[[str], None],
            progress: Callable[[int, int], None] | None) -> Path:
    out = ws.out_dir
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f"{STAGING_PREFIX}{run.period}-{run.run_id}"
    if staging.exists():
        sweep(out)
    staging.mkdir()
    paused: list[bool] = []

    def on_progress(*args) -> None:
        if not paused:
            paused.append(True)
            pause("mid-render")
        if progress is not None and len(args) == 2:
            progress(*args)

    render_run(run.result, staging, statements=statements, progress=on_progress, run_id=run.run_id)
    if not paused:
        pause("mid-render")
    (staging / RUN_MARKER).write_text(f"{run.run_id}\n")
    pause("before-move")
    target = out / run.period
    swap_into_place(staging, target, out / f".old-{run.period}-{run.run_id}")
    return target


def _pending(ws: Workspace, period: str, run_id: int) -> Path:
    return ws.out_dir / f"{PENDING_PREFIX}{period}-{run_id}"


def _clear_pending(ws: Workspace, period: str) -> None:
    if ws.out_dir.is_dir():
        for note in ws.out_dir.glob(f"{PENDING_PREFIX}{period}-*"):
            note.unlink(missing_ok=True)


def _statement_count(folder: Path) -> int:
    statements = folder / "statements"
    return len(list(statements.glob("*.pdf"))) if statements.is_dir() else 0
