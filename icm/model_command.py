"""`icm model`: parse options, call `modelling`, print the comparison with Rich."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()

WorkspaceArg = Annotated[Path, typer.Argument(help="Workspace folder.")]
ScenarioOpt = Annotated[Path | None, typer.Option(
    "--scenario", "-s", help="Scenario YAML with a model: block (plans/model-ae.yaml).")]
DrawsOpt = Annotated[int | None, typer.Option("--draws", help="Number of draws (default: the scenario's).", min=1)]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed (default: the scenario's).")]
ReplayOpt = Annotated[int | None, typer.Option(
    "--replay", help="Re-run this fiscal year's closed months with each candidate, on a scratch ledger.")]
LandingOpt = Annotated[bool, typer.Option("--landing", help="Forecast this year's cost from its closed months.")]


def register(app: typer.Typer) -> None:
    """Add `model` to the `icm` app."""
    app.command("model")(model_command)


def _money(cents: float) -> str:
    return f"{cents / 100:,.0f}"


def model_command(workspace: WorkspaceArg = Path("."), scenario: ScenarioOpt = None, draws: DrawsOpt = None,
                  seed: SeedOpt = None, replay: ReplayOpt = None, landing: LandingOpt = False):
    """Plan modelling: cost candidate plans by Monte Carlo, replay them on past data, forecast the year."""
    from compensation.errors import UsageError

    if landing:
        return _landing(workspace, scenario, draws, seed)
    if scenario is None:
        raise UsageError("icm model needs --scenario plans/FILE.yaml (a file with a model: block), or --landing")
    if replay is not None:
        return _replay(workspace, scenario, replay)
    from modelling.model import run_model
    from modelling.outputs import write_model

    with Progress(TextColumn("modelling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("draws", total=None)
        result = run_model(workspace, scenario, draws=draws, seed=seed,
                           progress=lambda n, total: bar.update(task, advance=n, total=total))
    table = Table("", *[c.name for c in result.candidates],
                  title=f"Plan modelling {result.scenario.stem}: {result.year}, {result.candidates[0].draws} draws")
    s = result.summary()
    table.add_row("plan / role", *[f"{p} / {r}" for p, r in zip(s["plan"], s["role"], strict=True)])
    table.add_row("reps", *[str(v) for v in s["reps"]])
    for label, col in (("expected cost", "expected_cost"), ("P10", "p10"), ("P50", "p50"), ("P90", "p90")):
        table.add_row(label, *[f"{v:,.0f}" for v in s[col]])
    table.add_row("cost of sales", *[f"{v:.2%}" for v in s["cost_of_sales"]])
    for x in (50, 100, 150):
        table.add_row(f"pay per rep at {x}%", *[f"{v:,.0f}" for v in s[f"pay_at_{x}"]])
    table.add_row("reps above quota", *[f"{v:.1%}" for v in s["share_above_quota"]])
    table.add_row("top decile / median pay", *[f"{v:.2f}x" for v in s["top_decile_vs_median"]])
    console.print(table)
    for c in result.candidates:
        for note in c.notes:
            console.print(f"[dim]{c.name}: {note}[/]")
    folder = write_model(result, result.root / "out")
    console.print(f"Wrote {folder}/ (model.xlsx, model.png)")


def _replay(workspace: Path, scenario: Path, year: int) -> None:
    from compensation import cycle
    from compensation.outputs import atomic_folder
    from modelling.replay import replay
    from modelling.scenario import load_scenario

    ws = cycle.open_workspace(workspace)
    plan_set, _, _ = cycle.load(ws)
    loaded = load_scenario(scenario, ws, plan_set.plans)
    runs = [replay(ws, year, name="in force")]
    with Progress(TextColumn("replaying {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("", total=len(loaded.candidates))
        for cand in loaded.candidates:
            bar.update(task, description=cand.name)
            runs.append(replay(ws, year, {cand.role: cand.plan}, name=cand.name))
            bar.advance(task)
    table = Table("candidate", "months", "replayed", "ledger", "difference", "lines that differ",
                  title=f"Replay of {year} ({runs[0].periods[0]}..{runs[0].periods[-1]})")
    for r in runs:
        table.add_row(r.name, str(len(r.periods)), _money(r.total), _money(r.actual_total),
                      _money(r.total - r.actual_total), "none (exact)" if r.exact else str(len(r.compared)))
    console.print(table)
    import pandas as pd

    target = ws.root / "out" / "model" / f"{loaded.stem}-replay-{year}"
    with atomic_folder(target) as staging:
        frame = pd.concat([r.lines.assign(candidate=r.name) for r in runs], ignore_index=True)
        frame.to_csv(staging / "replay.csv", index=False)
    console.print(f"Wrote {target}/replay.csv")


def _landing(workspace: Path, scenario: Path | None, draws: int | None, seed: int | None) -> None:
    from compensation import cycle
    from modelling.landing import landing
    from modelling.scenario import load_scenario

    ws = cycle.open_workspace(workspace)
    loaded = None
    if scenario is not None:
        plan_set, _, _ = cycle.load(ws)
        loaded = load_scenario(scenario, ws, plan_set.plans)
    n = draws or (loaded.spec.draws if loaded else 2000)
    with console.status("forecasting the year"):
        result = landing(ws, draws=n, seed=seed if seed is not None else (loaded.spec.seed if loaded else 0),
                         scenario=loaded)
    table = Table(show_header=False, title=f"Landing of {result.year} (closed to {result.last_closed}, {n} draws)",
                  title_justify="left")
    table.add_row("paid to date", _money(result.paid_to_date))
    for label, q in (("P10", 0.1), ("P50", 0.5), ("P90", 0.9)):
        table.add_row(f"year-end cost {label}", _money(result.quantile(q)))
    console.print(table)
