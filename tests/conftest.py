"""Shared fixtures. Keep this small: each part's fixtures live beside its tests."""

from __future__ import annotations

import os

import pytest

from demo_company.year import build_and_run


def _postgres_url(worker: str) -> str | None:
    """The test server with a schema of its own per xdist worker (parallel runs never meet)."""
    base = os.environ.get("ICM_TEST_POSTGRES_URL")
    if not base:
        return None
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3Dicm_{worker}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request, tmp_path):
    """A fresh, empty ledger URL on SQLite and, with ICM_TEST_POSTGRES_URL, on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'icm.db'}"
        return
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = _postgres_url(worker_id)
    if url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but ICM_TEST_POSTGRES_URL is not set: .ci/run should have started PostgreSQL")
        pytest.skip("ICM_TEST_POSTGRES_URL is not set")
    import sqlalchemy as sa

    from compensation.ledger import engine_url

    engine = sa.create_engine(engine_url(url))
    schema = f"icm_{worker_id}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    yield url


@pytest.fixture
def ledger(ledger_url):
    """An open, empty ledger at `ledger_url`, disposed after the test."""
    from compensation.ledger import Ledger

    opened = Ledger(ledger_url)
    yield opened
    opened.dispose()


# Hypothesis profiles. `default` (what CI runs): few, fixed examples so property files stay
# within their time budget; `ci` (HYPOTHESIS_PROFILE=ci): more examples, shrinking on.
def _hypothesis_profiles() -> None:
    from hypothesis import HealthCheck, Phase, settings

    slow = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
    settings.register_profile("default", max_examples=8, derandomize=True, deadline=None,
                              suppress_health_check=slow, phases=[Phase.explicit, Phase.generate])
    settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=slow,
                              phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


_hypothesis_profiles()


@pytest.fixture(scope="session")
def demo_year(tmp_path_factory):
    """The demo company's year, run and closed once per session: (folder, months, paid)."""
    target = tmp_path_factory.mktemp("demo") / "icm-demo"
    months, paid = build_and_run(target, statements="none")
    return target, months, paid
