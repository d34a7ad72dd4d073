"""`icm demo [DIR]`: build the demo company, run and close its twelve months, summarise.

The data come from `demo_company`; each month goes through the same
`compensation.cycle.run` / `close` as `icm run` and `icm close`, so the demo's
ledger, `out/` folders and statements are exactly what a real cycle produces.

PDF statements dominate the time: the twelve months calculate, commit and render
their CSVs and workbooks in well under a minute, while one month's ~60 statements (~130
pages) take about 45 CPU seconds and the year's ~700 about 460 (measured on a shared
2-core machine). So the demo renders statements for December only unless asked for
every month (`--statements all`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from compensation.errors import IcmError
from compensation.money import format_cents
from icm.web_commands import add_demo_users, demo_instructions

if TYPE_CHECKING:
    from demo_company.year import MonthSummary

DEFAULT_DIR = Path("icm-demo")
TOP_EARNERS = 5


def register(app: typer.Typer) -> None:
    """Add `icm demo` to the command."""

    @app.command()
    def demo(
        directory: Annotated[Path, typer.Argument(help="Folder to create; must not exist or be empty.")] = DEFAULT_DIR,
        statements: Annotated[
            str,
            typer.Option(
                help="PDF statements for: last (December), all (every month), none.",
                case_sensitive=False,
            ),
        ] = "last",
    ):
        """Create a sample company (calendar 2026), run and close its twelve months."""
        from demo_company.year import MONTHS, STATEMENTS, build_and_run  # only `icm demo` pays for it

        if statements not in STATEMENTS:
            raise IcmError(f"--statements {statements}: expected one of {', '.join(STATEMENTS)}")
        console = Console()
        started = time.perf_counter()
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total} months"), TimeElapsedColumn(),
                            console=console, transient=False)
        with progress:
            task = progress.add_task("Running the 2026 payout cycle", total=len(MONTHS))

            def on_month(period: str, step: str) -> None:
                if step == "done":
                    progress.advance(task)
                else:
                    progress.update(task, description=f"{'Running' if step == 'run' else 'Closing'} {period}")

            months, paid = build_and_run(directory, statements=statements, on_month=on_month)
            progress.update(task, description="2026 closed")
        print_summary(console, directory, months, paid, time.perf_counter() - started)
        # Users turn approvals on, so they are added once the year is closed.
        console.print(demo_instructions(directory, add_demo_users(directory)), highlight=False)


def print_summary(
    console: Console,
    directory: Path,
    months: list[MonthSummary],
    paid: pd.DataFrame,
    elapsed: float,
) -> None:
    """The short Rich summary: paid per month, top earners, exceptions, where files are."""
    table = Table(title="Altamira Software, 2026 payouts (EUR)", title_justify="left")
    table.add_column("month")
    table.add_column("reps paid", justify="right")
    table.add_column("total paid", justify="right")
    table.add_column("exceptions", justify="right")
    for m in months:
        table.add_row(m.period, str(m.reps_paid), format_cents(m.total_cents), str(len(m.exceptions)))
    table.add_row("[bold]2026[/]", "", f"[bold]{format_cents(sum(m.total_cents for m in months))}[/]", "")
    console.print(table)

    year = paid.groupby(["rep_id", "name"], as_index=False)["amount"].sum()
    top = year.sort_values(["amount", "rep_id"], ascending=[False, True]).head(TOP_EARNERS)
    earners = Table(title=f"Top {TOP_EARNERS} earners", title_justify="left")
    earners.add_column("rep_id")
    earners.add_column("name")
    earners.add_column("paid in 2026", justify="right")
    for row in top.itertuples(index=False):
        earners.add_row(row.rep_id, row.name, format_cents(int(row.amount)))
    console.print(earners)

    # A problem stays listed in every later run until fixed: count each one once.
    frames = [m.exceptions for m in months if len(m.exceptions)]
    if frames:
        year_exc = pd.concat(frames).drop(columns="period").drop_duplicates()
        holds = int((year_exc["severity"] == "hold").sum())
        console.print(
            f"Exceptions: {len(year_exc)} distinct ({holds} holds, "
            f"{len(year_exc) - holds} notices), e.g. {year_exc.iloc[0]['reason']}; "
            "see out/<month>/exceptions.csv."
        )
    else:
        console.print("Exceptions: none.")
    pdfs = sorted({str(m.out_dir / "statements") for m in months if (m.out_dir / "statements").is_dir()})
    where_pdfs = f"PDF statements in {', '.join(pdfs)}" if pdfs else "no PDF statements rendered"
    console.print(
        f"\nWorkspace: [bold]{directory}[/] (plans/, data/, ledger icm.db)\n"
        f"Each month's payouts.csv, payouts.xlsx, payroll.csv and exceptions.csv are in "
        f"{directory / 'out'}/<month>/; {where_pdfs}\n"
        f"Done in {elapsed:.0f} s. Try: icm explain {directory} --period 2026-12 --rep R009",
        highlight=False,
    )
