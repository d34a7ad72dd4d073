"""The cycle end to end on a PostgreSQL ledger: golden cases, SIGKILL mid-commit, two processes.

Needs `ICM_TEST_POSTGRES_URL` (e.g. postgresql://icm:icm@localhost:5432/icm_test): each
test gets a schema of its own, dropped afterwards. Without the URL the tests skip, except
under `CI=true`, where a missing server is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.compensation.test_golden import CASES, run_steps

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"


@pytest.fixture
def pg_url():
    base = os.environ.get("ICM_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("ICM_TEST_POSTGRES_URL is not set under CI=true: the PostgreSQL ledger is untested")
        pytest.skip("ICM_TEST_POSTGRES_URL is not set")
    import sqlalchemy as sa

    from compensation.ledger import engine_url

    schema = f"icm_e2e_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(engine_url(base))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        engine.dispose()


def on_postgres(case: Path, ws: Path, url: str) -> Path:
    shutil.copytree(case, ws, ignore=shutil.ignore_patterns("expected", "steps.yaml", "data_*"))
    settings = ws / "icm.yaml"
    before = settings.read_text() if settings.exists() else ""
    settings.write_text(before + f"ledger: '{url}'\n")
    return ws


def tables_in(url: str) -> int:
    import sqlalchemy as sa

    from compensation.ledger import engine_url

    engine = sa.create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "select count(*) from information_schema.tables where table_schema = current_schema()").scalar()
    finally:
        engine.dispose()


# SPEC's twelve worked examples (the later rules' cases exercise the engine, not the backend).
SPEC_CASES = [c for c in CASES if int(c.name[:2]) <= 12]


@pytest.mark.slow
@pytest.mark.parametrize("case", SPEC_CASES, ids=[c.name for c in SPEC_CASES])
def test_golden_case_on_postgres(case, tmp_path, pg_url):
    ws = on_postgres(case, tmp_path / "ws", pg_url)
    months = run_steps(case, ws)
    assert not (ws / "icm.db").exists(), "the ledger went to SQLite, not PostgreSQL"
    assert tables_in(pg_url) > 0
    for expected in sorted((case / "expected").glob("*.csv")):
        if expected.name.endswith(".exceptions.csv"):
            continue
        assert expected.stem in months
        assert (ws / "out" / expected.stem / "payouts.csv").read_bytes() == expected.read_bytes(), expected


def icm(ws: Path, *args: str, pause: str | None = None, lock_timeout: str = "0.5") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ICM_LOCK_TIMEOUT": lock_timeout}
    env.pop("ICM_TEST_PAUSE_AT", None)
    if pause:
        env["ICM_TEST_PAUSE_AT"] = pause
    return subprocess.Popen([sys.executable, "-m", "icm", *args[:1], str(ws), *args[1:]], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(proc: subprocess.Popen, prefix: str) -> str:
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(prefix) or prefix in line:
            return line
    proc.wait()
    raise AssertionError(f"exit {proc.returncode} before {prefix!r}: {''.join(seen)}")


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out + err


def history(ws: Path) -> list[tuple]:
    from compensation import cycle

    frame = cycle.history(ws)
    return [tuple(r) for r in frame[["action", "period", "run_id"]].itertuples(index=False)]


def test_sigkill_mid_commit_leaves_the_postgres_ledger_as_before(tmp_path, pg_url):
    case = GOLDEN / "04_true_up_december"
    ws = on_postgres(case, tmp_path / "ws", pg_url)
    assert finish(icm(ws, "run", "--period", "2026-11"))[0] == 0
    assert finish(icm(ws, "close", "--period", "2026-11"))[0] == 0
    before = history(ws)
    proc = icm(ws, "run", "--period", "2026-12", pause="mid-commit")
    assert "ICM-PAUSED mid-commit" in wait_for(proc, "ICM-PAUSED")
    proc.kill()
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert history(ws) == before  # the half-done transaction was rolled back by the server
    assert not (ws / "out" / "2026-12").exists()
    code, output = finish(icm(ws, "run", "--period", "2026-12"))
    assert code == 0, output
    assert (ws / "out" / "2026-12" / "payouts.csv").read_bytes() == (case / "expected" / "2026-12.csv").read_bytes()
    assert [h[0] for h in history(ws)] == [h[0] for h in before] + ["run"]


def test_a_second_process_waits_for_the_first_on_one_postgres_ledger(tmp_path, pg_url):
    case = GOLDEN / "04_true_up_december"
    ws = on_postgres(case, tmp_path / "ws", pg_url)
    first = icm(ws, "run", "--period", "2026-11", pause="before-commit")
    wait_for(first, "ICM-PAUSED")
    second = icm(ws, "close", "--period", "2026-11", lock_timeout="120")
    wait_for(second, "waiting up to")
    first.send_signal(signal.SIGUSR1)
    assert finish(first)[0] == 0
    code, output = finish(second)
    assert code == 0, output
    assert [h[0] for h in history(ws)] == ["run", "close"]
    assert finish(icm(ws, "run", "--period", "2026-12"))[0] == 0
    assert (ws / "out" / "2026-12" / "payouts.csv").read_bytes() == (case / "expected" / "2026-12.csv").read_bytes()


def test_two_workspaces_cannot_share_one_postgres_ledger(tmp_path, pg_url):
    case = GOLDEN / "04_true_up_december"
    one = on_postgres(case, tmp_path / "one", pg_url)
    two = on_postgres(case, tmp_path / "two", pg_url)
    assert finish(icm(one, "run", "--period", "2026-11"))[0] == 0
    before = history(one)
    code, output = finish(icm(two, "run", "--period", "2026-11"))
    assert code == 2, output
    assert "Traceback" not in output
    assert "belongs to workspace" in output
    assert history(one) == before
