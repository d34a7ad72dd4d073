"""`icm align` and `icm quotas`: parse options, call `territories`, print with Rich."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from compensation.money import format_cents

console = Console()

Scenarios = Annotated[list[Path], typer.Option(
    "--scenario", "-s", help="Scenario YAML with an alignment: block (repeat to compare).")]
Scenario = Annotated[Path, typer.Option(
    "--scenario", "-s", help="Scenario YAML with a quotas: block.")]
WorkspaceArg = Annotated[Path, typer.Argument(help="Workspace folder.")]


def register(app: typer.Typer) -> None:
    """Add `align` and `quotas` to the `icm` app."""
    app.command("align")(align_command)
    app.command("quotas")(quotas_command)


def _workspace(path: Path):
    from compensation.planfile import load_workspace

    return load_workspace(path)


def align_command(scenario: Scenarios, workspace: WorkspaceArg = Path(".")):
    """Assign every account to one rep by optimisation (balance, disruption, distance)."""
    from territories.outputs import summary_rows
    from territories.workspace import align_workspace

    run = align_workspace(_workspace(workspace), list(scenario))
    for stem, result in run.results.items():
        head = Table(show_header=False, title=f"Alignment {stem}", title_justify="left")
        for label, value in summary_rows(result):
            head.add_row(label, value)
        console.print(head)
        t = result.territories
        table = Table("rep", "region", "accounts", "potential", "fair share", "deviation",
                      "before", "workload")
        for row in t.itertuples(index=False):
            table.add_row(str(row.rep_id), str(row.region or ""), str(int(row.accounts)),
                          f"{row.potential:,.0f}", f"{row.fair_potential:,.0f}",
                          f"{row.deviation:+.1%}", f"{row.deviation_before:+.1%}",
                          f"{row.workload:,.1f}")
        console.print(table)
        console.print(f"Wrote {run.folders[stem]}/ (assignments.csv, territories.csv, "
                      "alignment.xlsx, map.png)")
    if run.compare is not None:
        cmp = Table("", *run.compare["scenario"], title="Scenarios side by side")
        c = run.compare
        cmp.add_row("status", *c["status"])
        cmp.add_row("objective", *c["objective"])
        cmp.add_row("moved", *[f"{v:.1f}%" for v in c["moved_pct"]])
        cmp.add_row("largest deviation, potential",
                    *[f"{v:.1%}" for v in c["max_deviation_potential"]])
        cmp.add_row("largest deviation, workload",
                    *[f"{v:.1%}" for v in c["max_deviation_workload"]])
        cmp.add_row("distance km", *["" if v != v else f"{v:,.0f}" for v in c["distance_km"]])
        cmp.add_row("gap", *[f"{v:.2%}" for v in c["gap"]])
        cmp.add_row("solve time", *[f"{v:.1f} s" for v in c["solve_s"]])
        console.print(cmp)
        console.print(f"Wrote {workspace / 'out' / 'alignment' / 'compare.csv'}")


def quotas_command(scenario: Scenario, workspace: WorkspaceArg = Path(".")):
    """Turn the company target into rep quotas; writes out/quotas/quotas.csv."""
    from territories.quotas import summary_text
    from territories.workspace import quotas_workspace

    result, path, basis = quotas_workspace(_workspace(workspace), scenario)
    head = Table(show_header=False, title="Quotas", title_justify="left")
    for label, value in summary_text(result) + [("accounts owned per", basis)]:
        head.add_row(label, value)
    console.print(head)
    table = Table("rep", "potential", "last year", "quota", "quota/potential", "vs company",
                  "ramp", "flag")
    for row in result.reps.itertuples(index=False):
        table.add_row(str(row.rep_id), f"{row.potential:,.0f}", f"{row.history:,.0f}",
                      format_cents(int(row.quota_cents)),
                      "" if row.ratio != row.ratio else f"{row.ratio:.4f}",
                      "" if row.vs_company != row.vs_company else f"{row.vs_company:.2f}x",
                      f"{row.ramp:.0%}", f"[yellow]{row.flag}[/]" if row.flag else "")
    console.print(table)
    console.print(f"Wrote {path} ({len(result.quotas[result.quotas['amount_cents'] != 0])} rows); "
                  "copy it to data/quotas.csv for icm run.")
