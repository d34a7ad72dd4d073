"""The files of `out/P/` for one committed run: register, exceptions, payroll, workbook, statements.

Reads `compensation.results.RunResult` only; writes into the folder it is given (the
publisher's staging folder).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from compensation.results import RunResult
from reports.liability import journal_csv, liability_csv
from reports.payroll import payroll_csv
from reports.register import exceptions_csv, payouts_csv
from reports.workbook import write_workbook


def render_run(result: RunResult, target_dir: Path, *, statements: bool = False,
               reps: Collection[str] | None = None,
               progress: Callable[[int, int], None] | None = None,
               run_id: str | int | None = None) -> list[Path]:
    """Write every file of `out/P/` for the run into `target_dir`; return their paths."""
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    # The workbook is built on a second thread while the CSVs are: both spend most of their
    # time in Arrow kernels and zlib, which release the GIL. Leaving the block waits for it,
    # failed or not, so nothing writes into the folder after this returns.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="icm-workbook") as pool:
        workbook = pool.submit(write_workbook, result, target / "payouts.xlsx",
                               run_id=None if run_id is None else str(run_id))
        files = {
            "payouts.csv": payouts_csv(result.register),
            "exceptions.csv": exceptions_csv(result.exceptions),
            "payroll.csv": payroll_csv(result.register, result.reps, result.period),
            "liability.csv": liability_csv(result),
            "journal.csv": journal_csv(result),
        }
        written = []
        for name, data in files.items():
            path = target / name
            path.write_bytes(data)
            written.append(path)
    written.append(workbook.result())
    if statements:
        written += render_statements(result, target, reps=reps, progress=progress, run_id=run_id)
    return written


def render_statements(result: RunResult, target_dir: Path, reps: Collection[str] | None = None,
                      progress: Callable[[int, int], None] | None = None, *,
                      run_id: str | int | None = None) -> list[Path]:
    """Write `target_dir/statements/REP_ID.pdf` per rep (only `reps` when given)."""
    from reports import statements as statement_pdfs  # its templates and PDF stack load only when asked for

    return statement_pdfs.render_statements(result, Path(target_dir), reps, progress,
                                            run_id=None if run_id is None else str(run_id))
