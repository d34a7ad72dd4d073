"""`icm align` and `icm quotas` over a workspace: read inputs, solve, write outputs.

The command face calls these and prints; they return what they produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from compensation.errors import IcmError
from territories.align import AlignmentResult, align
from territories.inputs import load_frames
from territories.outputs import (
    atomic_write,
    compare_csv,
    compare_frame,
    quotas_csv,
    write_alignment,
)
from territories.quotas import QuotaResult, allocate
from territories.scenario import Scenario, load_scenario


@dataclass(frozen=True)
class AlignmentRun:
    """Every scenario's result, where its files went, and the comparison (several only)."""

    results: dict[str, AlignmentResult]
    folders: dict[str, Path]
    compare: pd.DataFrame | None


def find_scenario(ws, name: str | Path) -> Path:
    """A scenario path as given, else relative to the workspace, else to `plans/`."""
    given = Path(name)
    for candidate in (given, ws.root / given, ws.plans_dir / given):
        if candidate.is_file():
            return candidate
    raise IcmError(f"scenario file {name} not found (looked in the current folder, the "
                   f"workspace and {ws.plans_dir})")


def read_scenario(ws, name: str | Path, block: str) -> Scenario:
    """Load a scenario file that must have the `block` (alignment or quotas)."""
    scenario = load_scenario(find_scenario(ws, name), ws.root)
    if getattr(scenario, block) is None:
        raise IcmError.at(scenario.source, 1, f"the scenario has no '{block}:' block")
    return scenario


def align_workspace(ws, scenario_files: list[str | Path]) -> AlignmentRun:
    """Solve every scenario; write `out/alignment/` (one folder per stem when several)."""
    if not scenario_files:
        raise IcmError("give at least one --scenario FILE (a YAML file with an alignment: block)")
    scenarios = [read_scenario(ws, f, "alignment") for f in scenario_files]
    stems = [s.stem for s in scenarios]
    if len(set(stems)) != len(stems):
        raise IcmError("two scenario files share a name "
                       f"({', '.join(s for s in stems if stems.count(s) > 1)}); their outputs "
                       "would overwrite each other in out/alignment/STEM/")
    reps, accounts = load_frames(ws)
    results: dict[str, AlignmentResult] = {}
    folders: dict[str, Path] = {}
    base = ws.out_dir / "alignment"
    for scenario in scenarios:
        try:
            result = align(reps, accounts, scenario.alignment)
        except IcmError as exc:
            prefix = f"{scenario.source}: " if len(scenarios) > 1 else ""
            raise type(exc)(*[f"{prefix}{m}" for m in exc.messages]) from None
        target = base if len(scenarios) == 1 else base / scenario.stem
        write_alignment(result, target)
        results[scenario.stem] = result
        folders[scenario.stem] = target
    compare = None
    if len(scenarios) > 1:
        compare = compare_frame(results)
        atomic_write(base / "compare.csv", compare_csv(compare))
    return AlignmentRun(results, folders, compare)


def current_owners(ws, accounts: pd.DataFrame) -> tuple[pd.Series, str]:
    """Each account's rep: `out/alignment/assignments.csv` when there is one, else rep_id."""
    path = ws.out_dir / "alignment" / "assignments.csv"
    if not path.is_file():
        return accounts["rep_id"], "accounts.rep_id"
    aligned = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"account_id", "rep_id"} <= set(aligned.columns):
        raise IcmError.at("out/alignment/assignments.csv", 1,
                          "needs account_id and rep_id columns; run icm align again")
    owners = accounts["account_id"].map(aligned.set_index("account_id")["rep_id"])
    missing = accounts.loc[owners.isna(), "account_id"]
    if len(missing):
        raise IcmError.at("out/alignment/assignments.csv", None,
                          f"{len(missing)} account(s) of data/accounts are not in the alignment "
                          f"(e.g. {missing.iloc[0]}); run icm align again")
    return owners, "out/alignment/assignments.csv"


def quotas_workspace(ws, scenario_file: str | Path) -> tuple[QuotaResult, Path, str]:
    """Allocate the scenario's quotas; write `out/quotas/quotas.csv`."""
    scenario = read_scenario(ws, scenario_file, "quotas")
    reps, accounts = load_frames(ws)
    owners, basis = current_owners(ws, accounts)
    try:
        result = allocate(reps, accounts, owners, scenario.quotas, ws.calendar)
    except IcmError as exc:
        raise type(exc)(*[f"{scenario.source}: {m}" if m.source is None else m
                          for m in exc.messages]) from None
    path = ws.out_dir / "quotas" / "quotas.csv"
    atomic_write(path, quotas_csv(result.quotas))
    return result, path, basis
