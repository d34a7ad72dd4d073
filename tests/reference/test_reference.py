"""The engine against the reference model, line by line to the cent, on random workspaces.

Each example writes a small workspace (plans, reps with assignment changes, splits,
overlays, team credit, FX, multipliers, cancellations, quotas at several grains,
adjustments), runs and closes months through the core's cycle, and compares every
register line of every run with `tests.reference.cycle.Reference`.
`HYPOTHESIS_PROFILE=ci` runs more examples with shrinking (see tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import given

from tests.reference.cycle import Reference, Row
from tests.reference.generate import Case, cases, plan_yaml, write
from tests.reference.money import text


def engine_register(root: Path, month: str) -> pd.DataFrame:
    """Run a month through the core's cycle (no rendering) and return the committed register."""
    try:
        from compensation import cycle
    except ImportError:  # before the cycle moved into the core
        from icm import cycle

        return cycle.run_period(root, month).result.register
    return cycle.run(root, month).result.register


def engine_close(root: Path, month: str) -> None:
    try:
        from compensation import cycle
    except ImportError:
        from icm import cycle

        cycle.close_period(root, month)
        return
    cycle.close(root, month)


def cents_or_none(value) -> int | None:
    return None if pd.isna(value) else int(value)


def engine_rows(register: pd.DataFrame) -> list[Row]:
    return [Row(r.rep_id, r.line, int(r.amount), cents_or_none(r.earned_to_date), cents_or_none(r.paid_to_date),
                cents_or_none(r.credited)) for r in register.itertuples(index=False)]


def compare(expected: list[Row], actual: list[Row]) -> list[str]:
    """Differences between two registers, in words (empty when they agree to the cent).

    Reps and adjustment amounts must match exactly; a line present on one side only must
    be 0.00 (a line of an earlier plan with nothing moving may be left out); figures of
    lines on both sides must match.
    """
    problems = []
    exp_reps, act_reps = {r.rep_id for r in expected}, {r.rep_id for r in actual}
    if exp_reps != act_reps:
        problems.append(f"reps paid: expected {sorted(exp_reps)}, engine {sorted(act_reps)}")
    for rep in sorted(exp_reps & act_reps):
        adj_e = sorted(r.amount for r in expected if r.rep_id == rep and r.line == "adjustment")
        adj_a = sorted(r.amount for r in actual if r.rep_id == rep and r.line == "adjustment")
        if adj_e != adj_a:
            problems.append(f"{rep} adjustment: expected {adj_e}, engine {adj_a}")
        exp = {r.line: r for r in expected if r.rep_id == rep and r.line != "adjustment"}
        act = {r.line: r for r in actual if r.rep_id == rep and r.line != "adjustment"}
        for line in sorted(exp.keys() | act.keys()):
            e, a = exp.get(line), act.get(line)
            if e is None or a is None:
                only = e or a
                if only.amount:
                    side = "expected only" if a is None else "engine only"
                    problems.append(f"{rep} {line}: {side}: {describe(only)}")
                continue
            if (e.amount, e.earned_to_date, e.paid_to_date) != (a.amount, a.earned_to_date, a.paid_to_date) or (
                    e.credited is not None and a.credited is not None and e.credited != a.credited):
                problems.append(f"{rep} {line}: expected {describe(e)}, engine {describe(a)}")
    return problems


def describe(r: Row) -> str:
    fig = [f"amount {text(r.amount)}"]
    for name in ("earned_to_date", "paid_to_date", "credited"):
        v = getattr(r, name)
        if v is not None:
            fig.append(f"{name} {text(v)}")
    return ", ".join(fig)


def check_case(case: Case) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = write(case.world, Path(tmp) / "ws")
        model = Reference(case.world)
        for i, month in enumerate(case.months):
            expected = model.run(month).rows
            actual = engine_rows(engine_register(root, month))
            problems = compare(expected, actual)
            if problems:
                keep = os.environ.get("ICM_REFERENCE_KEEP")
                if keep:  # a folder to copy the failing workspace to, for a look by hand
                    shutil.copytree(root, Path(keep) / f"case-{os.getpid()}-{id(case)}")
                files = "\n".join(f"--- {p.relative_to(root)}\n{p.read_text()}" for p in sorted(root.rglob("*"))
                                  if p.is_file() and p.suffix in (".csv", ".yaml")
                                  and p.parent.name in ("data", "plans", "ws"))
                raise AssertionError(f"run {month} (runs {list(case.months)}):\n  " + "\n  ".join(problems)
                                     + f"\n{files}")
            if i + 1 < len(case.months) or case.close_last:
                model.close(month)
                engine_close(root, month)


@given(cases())
def test_engine_matches_the_reference_model(case):
    check_case(case)


def test_plan_yaml_is_what_the_generator_meant():
    """The writer's YAML for a known plan (the generator's output format stays readable)."""
    from fractions import Fraction as F

    from tests.reference.spec import Component, Plan, Tiers

    p = Plan("p1", (Component("nb", "quarter", (("type", ("new",)),), tiers=Tiers(((F(0), F(5, 100)),))),),
             target_incentive=F(60000))
    assert plan_yaml(p) == (
        "id: p1\nname: Plan p1\ncurrency: EUR\npayout_frequency: monthly\ntarget_incentive: 60000\n"
        "components:\n  - id: nb\n    attainment_period: quarter\n    measure:\n      credit: direct\n"
        "      where: {type: [new]}\n    commission:\n      method: retroactive\n      basis: attainment\n"
        "      tiers: [{from: 0, rate: 0.05}]\n")
