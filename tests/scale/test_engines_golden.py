"""Both engines give byte-identical payouts, payroll and exceptions on every golden case (issue 20).

The cases are `tests/compensation/test_golden.py`'s; each runs once per engine, its steps
(runs and closes) in order, and every month's files are compared.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.compensation.test_golden import CASES, run_steps
from tests.scale.conftest import use_dask

COMPARED = ("payouts.csv", "payroll.csv", "exceptions.csv")
# Quick on every run: cancellations, per-transaction tables, pay on cash. The rest are slow (CI runs them).
QUICK = {"06_cancellation_carry_forward", "14_per_transaction_amounts_cancelled", "21_half_on_cash_cancelled"}
PARAMS = [pytest.param(c, id=c.name, marks=() if c.name in QUICK else pytest.mark.slow) for c in CASES]


def run_case(case: Path, ws: Path) -> list[str]:
    shutil.copytree(case, ws, ignore=shutil.ignore_patterns("expected", "steps.yaml", "data_*"))
    return run_steps(case, ws)


@pytest.mark.parametrize("case", PARAMS)
def test_engines_agree(case: Path, tmp_path: Path, dask_scheduler: str):
    months = run_case(case, tmp_path / "pandas")
    ws = tmp_path / "dask"
    shutil.copytree(case, ws, ignore=shutil.ignore_patterns("expected", "steps.yaml", "data_*"))
    use_dask(ws, dask_scheduler)
    assert run_steps(case, ws) == months
    for month in months:
        for name in COMPARED:
            pandas_file = tmp_path / "pandas" / "out" / month / name
            dask_file = ws / "out" / month / name
            assert dask_file.read_bytes() == pandas_file.read_bytes(), f"{case.name} {month}/{name}"
        # The credit detail was written by the workers, as Parquet.
        assert sorted(p.suffix for p in (ws / "out" / "credits" / month).iterdir()) != []
