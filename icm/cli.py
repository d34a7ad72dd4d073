"""The `icm` command: parses options, calls the parts, prints. Nothing else lives here.

Every command runs inside `_handled`: bad input (`IcmError`) prints one clear message
and exits 2; anything unexpected prints a one-line internal error and exits 1
(set ICM_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from compensation import cycle
from compensation.engines import with_engine
from compensation.errors import IcmError
from compensation.explain import explain_rep
from compensation.money import format_cents
from compensation.scaffold import init_workspace
from icm import audit_commands, demo_command, model_command, territory_commands, web_commands
from reports.publish import Publisher
from reports.rendering import render_statements

app = typer.Typer(
    name="icm",
    help="Incentive compensation: exact payouts from YAML plans; territory and quota planning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

Workspace = Annotated[Path, typer.Argument(help="Workspace folder.", show_default=True)]
Period = Annotated[str, typer.Option("--period", "-p", help="Month to process, e.g. 2026-03.")]


def _handled(fn):
    """Turn IcmError into exit 2 and unexpected errors into exit 1, never a raw traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except IcmError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("ICM_DEBUG"):
                traceback.print_exc()
            err_console.print(
                f"internal error: {type(exc).__name__}: {exc} (set ICM_DEBUG=1 for details)",
                highlight=False,
                markup=False,
            )
            raise typer.Exit(1) from None

    return wrapper


@app.command()
def init(directory: Annotated[Path, typer.Argument(help="Folder to create.")]):
    """Create an empty workspace with template plans and header-only data files."""
    created = init_workspace(directory)
    console.print(
        f"Created workspace [bold]{directory}[/] ({len(created)} files). "
        f"Next: add data, then `icm validate {directory}`."
    )


@app.command()
def validate(
    workspace: Workspace = Path("."),
    period: Annotated[str | None, typer.Option("--period", "-p", help="Also check what a run of this month "
                                               "would hold (quota coverage, adjustments into closed months).")] = None,
    strict: Annotated[bool, typer.Option(help="Row problems that hold a rep are errors (exit 2).")] = False,
):
    """Check plans, scenario files and tables (and, with --period, the month) without writing anything."""
    from modelling.scenario import check_model_scenarios  # the parts' checks load only for `icm validate`
    from territories.checks import validate_territory_inputs

    ws = cycle.open_workspace(workspace)
    report = cycle.check(ws, period)
    problems = list(report.problems) + validate_territory_inputs(ws)
    check_model_scenarios(ws, report.plans)
    month = f" for {period}" if period else ""
    console.print(f"{len(report.plans)} plans, {len(report.scenarios)} scenario files, "
                  f"{report.rows} data rows checked{month}.")
    _print_problems(problems)
    holds = sum(p.severity == "hold" for p in problems)
    if strict and holds:
        raise IcmError(f"{holds} row problems hold reps (--strict)")


def _print_problems(problems) -> None:
    if not problems:
        console.print("[green]No data problems.[/]")
        return
    holds = sum(p.severity == "hold" for p in problems)
    table = Table("severity", "table", "row", "txn_id", "rep_id", "reason",
                  title=f"{len(problems)} data problems ({holds} hold a rep)")
    for p in problems[:50]:
        table.add_row(p.severity, p.table, str(p.row or ""), p.txn_id or "", p.rep_id or "", p.reason)
    console.print(table)
    if len(problems) > 50:
        console.print(f"... and {len(problems) - 50} more (see out/PERIOD/exceptions.csv after a run)")


def _progress_bar():
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=err_console, transient=True)


@app.command()
def run(
    workspace: Workspace = Path("."),
    period: Period = ...,
    strict: Annotated[bool, typer.Option(help="Holds are errors: exit 2 and write nothing.")] = False,
    statements: Annotated[bool, typer.Option(help="Also render PDF statements.")] = False,
    by: Annotated[str | None, typer.Option(help="Who runs it, for the audit trail (default: OS user).")] = None,
    engine: Annotated[str | None, typer.Option(help="pandas (default) or dask (icm.yaml `engine:`).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address (default: a local cluster).")] = None,
):
    """Calculate an open month, replace its draft in the ledger and write out/PERIOD/."""
    workspace = with_engine(workspace, engine, scheduler)
    with _progress_bar() as bar:
        task = bar.add_task(f"run {period}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, description="statements", completed=done, total=total)

        outcome = cycle.run(workspace, period, strict=strict, by=by,
                            publisher=Publisher(statements=statements, progress=progress))
    _say_notes(outcome.notes)
    result = outcome.result
    console.print(
        f"Run {outcome.run.run_number} of {period}: {result.reps_paid()} reps paid, total paid "
        f"{format_cents(result.total_paid())}; {len(result.exceptions)} exceptions "
        f"({len(result.held_reps)} reps held). Files in {outcome.out_dir}"
    )


def _say_notes(notes) -> None:
    for note in notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)


@app.command()
def close(
    workspace: Workspace = Path("."),
    period: Period = ...,
    by: Annotated[str | None, typer.Option(help="Who closes it (default: OS user).")] = None,
    force: Annotated[bool, typer.Option(help="Close without approval (needs --by and --reason; recorded).")] = False,
    reason: Annotated[str | None, typer.Option(help="Why a month is closed without approval.")] = None,
):
    """Lock the month's last run: closed months never change."""
    outcome = cycle.close(workspace, period, by=by, force=force, reason=reason, publisher=Publisher())
    _say_notes(outcome.notes)
    console.print(f"Closed {period} (run {outcome.run_number} of {period}).")
    for warning in outcome.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


@app.command()
def explain(
    workspace: Workspace = Path("."),
    period: Period = ...,
    rep: Annotated[str, typer.Option("--rep", "-r", help="rep_id to explain.")] = ...,
):
    """Print the full calculation trace of one rep's month (a dry run: nothing is written)."""
    result = cycle.dry_run(workspace, period)
    console.print(explain_rep(result, rep), highlight=False, markup=False, soft_wrap=True)


@app.command()
def statements(
    workspace: Workspace = Path("."),
    period: Period = ...,
    rep: Annotated[list[str] | None, typer.Option("--rep", "-r", help="Only these rep_ids (repeatable).")] = None,
):
    """Render PDF statements of the month's committed run into out/PERIOD/statements/."""
    ws = cycle.open_workspace(workspace)
    committed = cycle.committed_run(ws, period)
    result = committed.result
    unknown = sorted(set(rep or ()) - set(result.register["rep_id"]))
    if unknown:
        raise IcmError(f"no lines for rep {', '.join(unknown)} in {committed.label}; check --rep")
    changed = cycle.inputs_changed_since(ws, committed)
    if changed:
        err_console.print(f"[yellow]note:[/] the inputs changed since {committed.label} ({'; '.join(changed)}); "
                          "these statements show the committed run as the ledger keeps it", highlight=False,
                          soft_wrap=True)
    with _progress_bar() as bar:
        task = bar.add_task("statements", total=None)
        written = render_statements(result, ws.out_dir / period, reps=rep, run_id=committed.run_id,
                                    progress=lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"{len(written)} statements of {committed.label} in {ws.out_dir / period / 'statements'}")


def main() -> None:
    """Console-script entry point.

    Once a command has finished (everything written, committed and closed), the process
    ends without the interpreter's teardown, which frees a million-row month object by
    object for a quarter of a second. While a thread or child process (a Dask cluster)
    is still alive, or a profiler or coverage tracer must write its data at exit, Python
    exits the usual way.
    """
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if (threading.active_count() > 1 or multiprocessing.active_children() or sys.gettrace() or sys.getprofile()
            or not isinstance(code, int | None)):
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def _register_parts() -> None:
    """Add the parts' face modules' commands; wrap every command in `_handled` once."""
    for module in (audit_commands, territory_commands, demo_command, model_command, web_commands):
        module.register(app)
    groups = [group.typer_instance for group in app.registered_groups]
    for command in [*app.registered_commands, *(c for g in groups for c in g.registered_commands)]:
        command.callback = _handled(command.callback)


_register_parts()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
