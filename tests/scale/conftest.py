"""One small Dask cluster for the whole suite (in this process: no worker start-up per test)."""

from __future__ import annotations

from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def dask_scheduler():
    """The address of a session-wide LocalCluster: 2 in-process workers of 1 thread each."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def use_dask(ws: Path, scheduler: str) -> None:
    """Point a workspace's icm.yaml at the Dask engine and the session's scheduler."""
    settings = ws / "icm.yaml"
    text = settings.read_text() if settings.exists() else ""
    settings.write_text(text.rstrip("\n") + f"\nengine: dask\nscheduler: {scheduler}\n")
