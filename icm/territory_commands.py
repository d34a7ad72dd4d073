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


def _progress():
    """A Rich status line fed by the solver's events: incumbent, bound, gap, time."""
    from territories.blocks import Event

    status = console.status("aligning: building the model")

    def on_event(event: Event) -> None:
        where = f"block {event.block + 1}/{event.blocks}"
        if event.stage == "start":
            status.update(f"aligning: start plans ready at {event.seconds:.1f} s; solving")
        elif event.stage == "plan":
            status.update(f"aligning {where}: plan {event.objective:,.2f}, bound "
                          f"{event.bound:,.2f}, gap {event.gap:.2%} at {event.seconds:.1f} s")
        else:
            status.update(f"aligning: {where} done at {event.seconds:.1f} s")

    def on_first(seconds: float) -> None:
        console.print(f"first feasible plan after {seconds:.1f} s")
    return status, on_event, on_first


def align_command(scenario: Scenarios, workspace: WorkspaceArg = Path("."),
                  frontier: Annotated[bool, typer.Option(
                      "--frontier", help="Also sweep balance tolerance against moved share and "
                      "travel: writes frontier.csv and frontier.png.")] = False):
    """Assign every account to one rep by optimisation (balance, disruption, distance, mix)."""
    from territories.outputs import summary_text
    from territories.workspace import align_workspace

    status, on_event, on_first = _progress()
    with status:
        run = align_workspace(_workspace(workspace), list(scenario), frontier=frontier,
                              on_event=on_event, on_first=on_first)
    for stem, result in run.results.items():
        head = Table(show_header=False, title=f"Alignment {stem}", title_justify="left")
        for label, value in summary_text(result):
            head.add_row(label, value)
        console.print(head)
        t = result.territories
        names = result.assignments.groupby("rep_id")["name"].agg(
            lambda s: ", ".join(s.dropna().astype(str).head(3)))
        table = Table("rep", "region", "accounts", "potential", "fair share", "deviation",
                      "before", "workload", "mean km", "largest accounts")
        biggest = (result.assignments.sort_values("potential", ascending=False)
                   .groupby("rep_id").head(2).groupby("rep_id")["name"]
                   .agg(lambda s: ", ".join(s.dropna().astype(str))))
        for row in t.itertuples(index=False):
            table.add_row(str(row.rep_id), str(row.region or ""), str(int(row.accounts)),
                          f"{row.potential:,.0f}", f"{row.fair_potential:,.0f}",
                          f"{row.deviation:+.1%}", f"{row.deviation_before:+.1%}",
                          f"{row.workload:,.1f}",
                          "" if row.mean_km != row.mean_km else f"{row.mean_km:,.0f}",
                          biggest.get(row.rep_id, names.get(row.rep_id, "")))
        console.print(table)
        console.print(f"Wrote {run.folders[stem]}/ (assignments.csv, territories.csv, "
                      "alignment.xlsx, map.png, map.html)")
    if run.compare is not None:
        cmp = Table("", *run.compare["scenario"], title="Scenarios side by side")
        c = run.compare
        cmp.add_row("status", *c["status"])
        cmp.add_row("objective", *c["objective"])
        cmp.add_row("moved", *[f"{v:.2%}" for v in c["moved_share"]])
        cmp.add_row("largest deviation, potential",
                    *[f"{v:.2%}" for v in c["max_deviation_potential"]])
        cmp.add_row("largest deviation, workload",
                    *[f"{v:.2%}" for v in c["max_deviation_workload"]])
        cmp.add_row("mean km to rep home", *["" if v != v else f"{v:,.0f}" for v in c["mean_km"]])
        cmp.add_row("gap", *[f"{v:.2%}" for v in c["gap"]])
        cmp.add_row("solve time", *[f"{v:.1f} s" for v in c["solve_s"]])
        console.print(cmp)
        console.print(f"Wrote {workspace / 'out' / 'alignment' / 'compare.csv'}")
    if run.frontier is not None:
        f = Table("tolerance", "status", "moved", "mean km", "largest deviation", "",
                  title=f"Trade-off curve ({len(run.frontier.points)} plans, "
                        f"{run.frontier.seconds:.0f} s)")
        for row in run.frontier.points.itertuples(index=False):
            f.add_row(f"{row.balance_potential:.1%}", str(row.status),
                      "" if row.moved_share != row.moved_share else f"{row.moved_share:.2%}",
                      "" if row.mean_km != row.mean_km else f"{row.mean_km:,.0f}",
                      "" if row.max_deviation != row.max_deviation else f"{row.max_deviation:.2%}",
                      "<- this scenario" if row.chosen else "")
        console.print(f)
        console.print(f"Wrote {workspace / 'out' / 'alignment'}/frontier.csv and frontier.png")


def quotas_command(scenario: Scenario, workspace: WorkspaceArg = Path("."),
                   alignment: Annotated[str | None, typer.Option(
                       "--alignment", help="Which alignment feeds the quotas: the STEM of "
                       "out/alignment/STEM/ after a comparison.")] = None):
    """Turn the company target into rep quotas; writes out/quotas/quotas.csv."""
    from territories.quotas import summary_text
    from territories.workspace import quotas_workspace

    result, path, basis = quotas_workspace(_workspace(workspace), scenario, alignment)
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
    console.print(f"Wrote {path} ({len(result.quotas[result.quotas['amount_cents'] != 0])} rows) "
                  f"from {basis}; copy it to data/quotas.csv for icm run.")
