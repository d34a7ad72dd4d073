"""The `icm` command: parses options, calls the parts, prints. Nothing else lives here.

Every command runs inside `_handled`: bad input (`IcmError`) prints one clear message
and exits 2; anything unexpected prints a one-line internal error and exits 1
(set ICM_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from compensation.errors import IcmError

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


def _workspace(path: Path):
    from compensation.planfile import load_workspace

    return load_workspace(path)


@app.command()
def init(directory: Annotated[Path, typer.Argument(help="Folder to create.")]):
    """Create an empty workspace with template plans and header-only data files."""
    from compensation.workspace import init_workspace

    created = init_workspace(directory)
    console.print(
        f"Created workspace [bold]{directory}[/] ({len(created)} files). "
        f"Next: add data, then `icm validate {directory}`."
    )


@app.command()
def validate(
    workspace: Workspace = Path("."),
    strict: Annotated[bool, typer.Option(help="Row problems are errors (exit 2).")] = False,
):
    """Check plans, scenario files and tables without running anything."""
    from compensation.validate import validate_workspace
    from territories.scenario import load_scenario

    ws = _workspace(workspace)
    report = validate_workspace(ws)
    for path in report.scenarios:
        load_scenario(path, ws.root)
    console.print(
        f"{len(report.plans)} plans, {len(report.scenarios)} scenario files, {report.rows} data rows checked."
    )
    _print_problems(report.problems)
    if strict and any(p.severity == "hold" for p in report.problems):
        raise IcmError(f"{sum(p.severity == 'hold' for p in report.problems)} row problems hold reps (--strict)")


def _print_problems(problems) -> None:
    if not problems:
        console.print("[green]No data problems.[/]")
        return
    from rich.table import Table

    holds = sum(p.severity == "hold" for p in problems)
    table = Table(
        "severity",
        "table",
        "row",
        "txn_id",
        "rep_id",
        "reason",
        title=f"{len(problems)} data problems ({holds} hold a rep)",
    )
    for p in problems[:50]:
        table.add_row(p.severity, p.table, str(p.row or ""), p.txn_id or "", p.rep_id or "", p.reason)
    console.print(table)
    if len(problems) > 50:
        console.print(f"... and {len(problems) - 50} more (see out/PERIOD/exceptions.csv after a run)")


@app.command()
def run(
    workspace: Workspace = Path("."),
    period: Period = ...,
    strict: Annotated[bool, typer.Option(help="Holds are errors: exit 2 and write nothing.")] = False,
    statements: Annotated[bool, typer.Option(help="Also render PDF statements.")] = False,
    by: Annotated[str | None, typer.Option(help="Who runs it, for the audit trail (default: OS user).")] = None,
):
    """Calculate an open month, replace its draft in the ledger and write out/PERIOD/."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from icm.cycle import run_period

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(f"run {period}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, description="statements", completed=done, total=total)

        outcome = run_period(_workspace(workspace), period, strict=strict, statements=statements, by=by,
                             progress=progress)
    _say_healed(outcome.healed)
    result = outcome.result
    paid = result.register.groupby("rep_id")["amount"].sum()
    console.print(
        f"Run {outcome.run_id} of {period}: {len(paid)} reps, total paid "
        f"{_money(int(paid.sum()))} ; {len(result.exceptions)} exceptions "
        f"({len(result.held_reps)} reps held). Files in {outcome.out_dir}"
    )


def _say_healed(healed) -> None:
    for period in healed:
        err_console.print(
            f"[yellow]note:[/] re-rendered out/{period} from its committed run "
            "(an earlier command stopped before writing it)"
        )


def _money(cents: int) -> str:
    from compensation.money import format_cents

    return format_cents(cents)


@app.command()
def close(
    workspace: Workspace = Path("."),
    period: Period = ...,
    by: Annotated[str | None, typer.Option(help="Who closes it (default: OS user).")] = None,
):
    """Lock the month's last run: closed months never change."""
    from icm.cycle import close_period

    outcome = close_period(_workspace(workspace), period, by=by)
    _say_healed(outcome.healed)
    console.print(f"Closed {period} (run {outcome.run_id}).")
    for warning in getattr(outcome, "warnings", ()):
        err_console.print(f"[yellow]warning:[/] {warning}")


@app.command()
def explain(
    workspace: Workspace = Path("."),
    period: Period = ...,
    rep: Annotated[str, typer.Option("--rep", "-r", help="rep_id to explain.")] = ...,
):
    """Print the full calculation trace of one rep's month (a dry run: nothing is written)."""
    from compensation.explain import explain_rep
    from icm.cycle import dry_run

    result = dry_run(_workspace(workspace), period)
    console.print(explain_rep(result, rep), highlight=False, markup=False, soft_wrap=True)


@app.command()
def statements(
    workspace: Workspace = Path("."),
    period: Period = ...,
    rep: Annotated[list[str] | None, typer.Option("--rep", "-r", help="Only these rep_ids (repeatable).")] = None,
):
    """Render PDF statements of the month's committed run into out/PERIOD/statements/."""
    from rich.progress import Progress

    from compensation.ledger import Ledger
    from icm.cycle import dry_run
    from reports import render_statements

    ws = _workspace(workspace)
    ledger = Ledger(ws.ledger_url)
    try:
        run_info = ledger.latest_run(period)
    finally:
        ledger.dispose()
    if run_info is None:
        raise IcmError(f"{period} has no run yet; run `icm run {workspace} --period {period}` first")
    result = dry_run(ws, period)
    if result.fingerprint != run_info.fingerprint:
        raise IcmError(
            f"the inputs changed since run {run_info.id} of {period}, so its statements cannot be rendered "
            f"from them; {'run the month again' if run_info.status != 'closed' else 'restore the inputs of the close'} "
            f"(see `icm diff {workspace} --period {period}`)"
        )
    unknown = sorted(set(rep or ()) - set(result.register["rep_id"]))
    if unknown:
        raise IcmError(f"no lines for rep {', '.join(unknown)} in {period}; check --rep")
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("statements", total=None)
        written = render_statements(
            result,
            ws.out_dir / period,
            reps=rep,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            run_id=run_info.id,
        )
    console.print(f"{len(written)} statements of run {run_info.id} in {ws.out_dir / period / 'statements'}")


def main() -> None:
    """Console-script entry point."""
    app()


def _register_parts() -> None:
    """Add the parts' face modules' commands; wrap every command in `_handled` once."""
    from icm import audit_commands, demo_command, territory_commands

    for module in (audit_commands, territory_commands, demo_command):
        module.register(app)
    for command in app.registered_commands:
        command.callback = _handled(command.callback)


_register_parts()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
