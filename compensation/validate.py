"""`icm validate`: every structural check and every row check, without calculating."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compensation.assignments import build_assignments
from compensation.errors import Problem
from compensation.plan import Plan
from compensation.planfile import load_plans
from compensation.settings import Workspace
from compensation.tables import load_inputs


@dataclass(frozen=True)
class ValidationReport:
    """What `icm validate` found: plans, scenario files, rows read and row problems."""

    plans: dict[str, Plan]
    scenarios: tuple[Path, ...]
    rows: int
    problems: list[Problem]


def validate_workspace(ws: Workspace) -> ValidationReport:
    """Load plans and tables: structural errors raise IcmError, row problems are returned."""
    plan_set = load_plans(ws)
    inputs, problems = load_inputs(ws)
    _, plan_problems = build_assignments(inputs.reps, plan_set.plans)
    rows = sum(f.rows for f in inputs.files)
    return ValidationReport(dict(plan_set.plans), tuple(plan_set.scenarios), rows, list(problems) + plan_problems)
