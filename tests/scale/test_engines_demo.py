"""The demo company's year on the Dask engine: every month's files as the pandas engine wrote them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compensation import cycle
from demo_company.year import MONTHS, RUN_BY
from reports.publish import Publisher
from tests.scale.conftest import use_dask

COMPARED = ("payouts.csv", "payroll.csv", "exceptions.csv")


@pytest.mark.slow
def test_demo_year_is_identical_on_dask(demo_year, tmp_path: Path, dask_scheduler: str):
    pandas_ws, _, _ = demo_year
    ws = tmp_path / "demo"
    ws.mkdir()
    shutil.copy(pandas_ws / "icm.yaml", ws / "icm.yaml")
    shutil.copytree(pandas_ws / "plans", ws / "plans")
    shutil.copytree(pandas_ws / "data", ws / "data")
    use_dask(ws, dask_scheduler)
    differ = []
    for period in MONTHS:
        cycle.run(ws, period, by=RUN_BY, publisher=Publisher())
        cycle.close(ws, period, by=RUN_BY)
        differ += [f"{period}/{name}" for name in COMPARED
                   if (ws / "out" / period / name).read_bytes() != (pandas_ws / "out" / period / name).read_bytes()]
    assert differ == []
    # The Dask run kept the month's credit detail as Parquet written by the workers.
    assert any((ws / "out" / "credits" / MONTHS[-1]).glob("part-*.parquet"))
