"""Plan modelling on the demo company's closed year: replay to the cent, the shipped scenario, the landing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from compensation import cycle
from icm.cli import app
from modelling.landing import landing
from modelling.model import run_model
from modelling.replay import replay

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_replay_of_2026_equals_the_ledger_to_the_cent(demo_year):
    folder, _, paid = demo_year
    result = replay(folder, 2026)
    assert result.periods == tuple(f"2026-{m:02d}" for m in range(1, 13))
    assert result.exact, result.compared.head(10)
    assert result.total == result.actual_total == int(paid["amount"].sum())
    assert len(result.lines) == len(result.actual) > 1000


def test_a_variant_replays_differently_only_where_its_role_is_paid(demo_year):
    folder, _, _ = demo_year
    plans, _, _ = cycle.load(cycle.open_workspace(folder))
    ae = plans.plans["ae-2026"]
    richer = ae.model_copy(update={"bonuses": ()})
    result = replay(folder, 2026, {"ae-2026": richer}, name="no kicker")
    changed = result.compared
    assert not result.exact and result.total < result.actual_total
    assert set(changed["line"]) <= {"q_kicker", "recovery", "carry_forward", "draw"}
    ae_reps = set(cycle.committed_run(folder, "2026-12").result.register.query("plan_id == 'ae-2026'")["rep_id"])
    assert set(changed["rep_id"]) <= ae_reps | {"R032", "R023"}


def test_the_shipped_scenario_prints_and_writes_the_comparison(demo_year):
    folder, _, _ = demo_year
    done = CliRunner().invoke(app, ["model", str(folder), "--scenario", "plans/model-ae.yaml", "--draws", "300"])
    assert done.exit_code == 0, done.output
    assert "Plan modelling model-ae" in done.output and "accelerator 12%" in done.output
    out = folder / "out" / "model" / "model-ae"
    assert sorted(p.name for p in out.iterdir()) == ["model.png", "model.xlsx"]
    book = load_workbook(out / "model.xlsx")
    assert book.sheetnames == ["Summary", "Per role", "Deciles", "Assumptions"]
    summary = [row for row in book["Summary"].iter_rows(values_only=True)]
    assert [r[0] for r in summary[1:]] == ["current", "accelerator 12%", "lower base, no kicker"]
    assert (out / "model.png").read_bytes()[:4] == b"\x89PNG"


def test_fitted_model_of_the_current_plan_is_near_what_2026_paid(demo_year):
    folder, _, _ = demo_year
    result = run_model(folder, folder / "plans" / "model-ae.yaml", draws=400)
    current, accelerated, leaner = result.candidates
    assert current.reps == 37 and result.year == 2026
    actual = cycle.committed_run(folder, "2026-12").result.line_periods
    ae = set(cycle.committed_run(folder, "2026-12").result.register.query("plan_id == 'ae-2026'")["rep_id"])
    earned = actual[actual["rep_id"].isin(ae) & actual["kind"].isin(["component", "bonus", "spif"])]
    paid = float(earned["earned_to_date"].sum())
    assert current.quantile(0.02) < paid < current.quantile(0.98)
    assert accelerated.expected > current.expected > leaner.expected
    assert accelerated.pay_at[1.5] > current.pay_at[1.5] > leaner.pay_at[1.5]


def test_landing_of_a_closed_year_is_what_was_paid(demo_year):
    folder, _, paid = demo_year
    result = landing(folder, draws=50)
    assert result.paid_to_date == int(paid["amount"].sum())
    assert np.ptp(result.cost) == 0  # nothing left to draw
    assert abs(result.quantile(0.5) / result.paid_to_date - 1) < 0.001


def test_benchmark_prints_its_figures():
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "model_scale.py"), "--draws", "40",
                           "--reps", "200"], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("draws=40 reps=200 seconds=")


def test_landing_after_one_quarter_brackets_the_year(demo_year, tmp_path):
    folder, _, paid = demo_year
    for part in ("icm.yaml", "plans", "data"):
        source = folder / part
        if source.is_dir():
            shutil.copytree(source, tmp_path / part)
        else:
            shutil.copy(source, tmp_path / part)
    quarter = ("2026-01", "2026-02", "2026-03")
    for period in quarter:
        cycle.run(tmp_path, period)
        cycle.close(tmp_path, period)
    result = landing(tmp_path, draws=400, seed=3)
    assert result.last_closed == "2026-03"
    assert result.paid_to_date == int(paid[paid["period"].isin(quarter)]["amount"].sum())
    assert result.paid_to_date < result.quantile(0.1) < result.quantile(0.5) < result.quantile(0.9)
    year = int(paid["amount"].sum())
    assert 0.75 * year < result.quantile(0.5) < 1.25 * year
