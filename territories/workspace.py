"""`icm align` and `icm quotas` over a workspace: read inputs, solve, write outputs.

The command face calls these and prints; they return what they produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from compensation.errors import IcmError
from compensation.outputs import atomic_folder
from territories.align import AlignmentResult, align
from territories.frontier import Frontier, frontier_csv, frontier_png, sweep
from territories.inputs import load_frames
from territories.outputs import compare_csv, compare_frame, quotas_csv, write_alignment
from territories.quotas import QuotaResult, allocate
from territories.scenario import Scenario, load_scenario


@dataclass(frozen=True)
class AlignmentRun:
    """Every scenario's result, where its files went, the comparison and the frontier."""

    results: dict[str, AlignmentResult]
    folders: dict[str, Path]
    compare: pd.DataFrame | None
    frontier: Frontier | None = None


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


def read_adjacency(ws) -> pd.DataFrame | None:
    """data/adjacency.csv (account_id, neighbour_id) when there is one."""
    path = ws.root / "data" / "adjacency.csv"
    if not path.is_file():
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"account_id", "neighbour_id"} - set(frame.columns)
    if missing:
        raise IcmError.at("data/adjacency.csv", 1, f"missing column {', '.join(sorted(missing))}; "
                          "the table lists neighbouring accounts as account_id, neighbour_id")
    return frame


def align_workspace(ws, scenario_files: list[str | Path], *, frontier: bool = False,
                    on_event=None, on_first=None) -> AlignmentRun:
    """Solve every scenario; write `out/alignment/` (one folder per stem when several).

    With `frontier`, the first scenario's balance tolerance is swept (`territories.frontier`)
    and frontier.csv / frontier.png are written next to its plan.
    """
    if not scenario_files:
        raise IcmError("give at least one --scenario FILE (a YAML file with an alignment: block)")
    scenarios = [read_scenario(ws, f, "alignment") for f in scenario_files]
    stems = [s.stem for s in scenarios]
    if len(set(stems)) != len(stems):
        raise IcmError("two scenario files share a name "
                       f"({', '.join(s for s in stems if stems.count(s) > 1)}); their outputs "
                       "would overwrite each other in out/alignment/STEM/")
    reps, accounts = load_frames(ws)
    adjacency = read_adjacency(ws)
    results: dict[str, AlignmentResult] = {}
    for scenario in scenarios:
        try:
            results[scenario.stem] = align(reps, accounts, scenario.alignment,
                                           adjacency=adjacency, on_event=on_event,
                                           on_first=on_first)
        except IcmError as exc:
            prefix = f"{scenario.source}: " if len(scenarios) > 1 else ""
            raise type(exc)(*[f"{prefix}{m}" for m in exc.messages]) from None
    swept = sweep(reps, accounts, scenarios[0].alignment, results[stems[0]],
                  on_event=on_event) if frontier else None
    base = ws.out_dir / "alignment"
    folders = {s: base if len(scenarios) == 1 else base / s for s in stems}
    compare = compare_frame(results) if len(scenarios) > 1 else None
    with atomic_folder(base) as stage:
        for stem, result in results.items():
            write_alignment(result, stage if len(scenarios) == 1 else stage / stem)
        if compare is not None:
            (stage / "compare.csv").write_bytes(compare_csv(compare))
        if swept is not None:
            (stage / "frontier.csv").write_bytes(frontier_csv(swept))
            (stage / "frontier.png").write_bytes(frontier_png(swept))
    return AlignmentRun(results, folders, compare, swept)


def alignment_stems(ws) -> list[str]:
    """The alignments on disk: "" for out/alignment itself, else the scenario stems."""
    base = ws.out_dir / "alignment"
    stems = [""] if (base / "assignments.csv").is_file() else []
    if base.is_dir():
        stems += sorted(p.name for p in base.iterdir()
                        if p.is_dir() and (p / "assignments.csv").is_file())
    return stems


def current_owners(ws, accounts: pd.DataFrame, alignment: str | None = None,
                   ) -> tuple[pd.Series, str]:
    """Each account's rep from the chosen alignment, else accounts.rep_id when there is none.

    After a comparison there are several alignments: the user must choose one (`--alignment
    STEM`); quotas never pick one silently.
    """
    stems = alignment_stems(ws)
    if alignment is not None:
        if alignment not in stems:
            shown = ", ".join(s or "(the single run in out/alignment)" for s in stems) or "none"
            raise IcmError(f"no alignment '{alignment}' in out/alignment/; available: {shown}")
        chosen = alignment
    elif not stems:
        return accounts["rep_id"], "accounts.rep_id"
    elif len(stems) > 1 or stems[0]:
        named = [s for s in stems if s]
        raise IcmError("out/alignment/ holds several alignments "
                       f"({', '.join(named)}); choose one with --alignment STEM")
    else:
        chosen = ""
    rel = "out/alignment/" + (f"{chosen}/" if chosen else "") + "assignments.csv"
    aligned = pd.read_csv(ws.root / rel, dtype=str, keep_default_na=False)
    if not {"account_id", "rep_id"} <= set(aligned.columns):
        raise IcmError.at(rel, 1, "needs account_id and rep_id columns; run icm align again")
    owners = accounts["account_id"].map(aligned.set_index("account_id")["rep_id"])
    missing = accounts.loc[owners.isna(), "account_id"]
    if len(missing):
        raise IcmError.at(rel, None,
                          f"{len(missing)} account(s) of data/accounts are not in the alignment "
                          f"(e.g. {missing.iloc[0]}); run icm align again")
    return owners, rel


def quotas_workspace(ws, scenario_file: str | Path, alignment: str | None = None,
                     ) -> tuple[QuotaResult, Path, str]:
    """Allocate the scenario's quotas over the chosen alignment; write `out/quotas/quotas.csv`."""
    scenario = read_scenario(ws, scenario_file, "quotas")
    reps, accounts = load_frames(ws)
    owners, basis = current_owners(ws, accounts, alignment)
    try:
        result = allocate(reps, accounts, owners, scenario.quotas, ws.calendar)
    except IcmError as exc:
        raise type(exc)(*[f"{scenario.source}: {m}" if m.source is None else m
                          for m in exc.messages]) from None
    folder = ws.out_dir / "quotas"
    with atomic_folder(folder) as stage:
        (stage / "quotas.csv").write_bytes(quotas_csv(result.quotas))
    return result, folder / "quotas.csv", basis
