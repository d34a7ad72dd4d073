"""Faults with real processes: SIGKILL at each stage of a run, lock contention, bad ledgers.

A child process runs the cycle with the stand-in engine of tests/test_cycle.py and
`ICM_TEST_PAUSE_AT=<stage>`; it reports `ICM-PAUSED <stage>` on stderr and waits for
SIGUSR1, so the test kills or releases it exactly there (no sleeps).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from compensation import cycle
from compensation.ledger import Ledger
from compensation.prior import prior_state
from tests.compensation.test_cycle import PUBLISHER, ROWS, install_fakes, make_workspace, payouts, run, write_earned

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from pathlib import Path
import tests.compensation.test_cycle as t
t.install_fakes()
from compensation import cycle
from compensation.errors import IcmError
from compensation.settings import Settings, Workspace
ws = Workspace(root=Path(sys.argv[1]), settings=Settings())
try:
    if sys.argv[2] == "run":
        print("run", t.run(ws, sys.argv[3]).run_id, flush=True)
    else:
        print("closed", cycle.close(ws, sys.argv[3], publisher=t.PUBLISHER).run_id, flush=True)
except IcmError as err:
    print(err, file=sys.stderr, flush=True)
    sys.exit(2)
"""


def child(ws, action, period, *, pause=None, timeout="0.3"):
    env = {**os.environ, "PYTHONPATH": str(REPO), "ICM_LOCK_TIMEOUT": timeout}
    env.pop("ICM_TEST_PAUSE_AT", None)
    if pause:
        env["ICM_TEST_PAUSE_AT"] = pause
    return subprocess.Popen([sys.executable, "-c", CHILD, str(ws.root), action, period],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for_line(proc, prefix: str) -> str:
    """Read the child's stderr until a line starts with `prefix` (EOF fails with its output)."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(prefix):
            return line
    proc.wait()
    raise AssertionError(f"child ended (exit {proc.returncode}) before {prefix!r}: {''.join(seen)}")


def snapshot(ws):
    led = Ledger(ws.ledger_url)
    try:
        prior = prior_state(led.closed_rows("2026-03"), "2026-03", ws.calendar)
        return {
            "runs": [(r.id, r.period, r.status, r.total_paid) for r in led.runs()],
            "history": led.history(),
            "lines": led.lines("2026-02"),
            "line_periods": led.line_periods("2026-02"),
            "paid": prior.paid, "balances": prior.balances,
        }
    finally:
        led.dispose()


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], pd.DataFrame):
            pd.testing.assert_frame_equal(a[key], b[key])
        else:
            assert a[key] == b[key], key


@pytest.fixture
def ws(tmp_path, monkeypatch):
    install_fakes(monkeypatch.setattr)
    monkeypatch.setenv("ICM_LOCK_TIMEOUT", "0.3")
    monkeypatch.delenv("ICM_TEST_PAUSE_AT", raising=False)
    ws = make_workspace(tmp_path / "acme", ROWS)
    run(ws, "2026-01")
    cycle.close(ws, "2026-01", publisher=PUBLISHER)
    run(ws, "2026-02")  # the draft a killed re-run must not damage
    return ws


OLD_FEB = "rep_id,line,amount\nA,nb,15000\nB,nb,0\n"
NEW_FEB = "rep_id,line,amount\nA,nb,20000\nB,nb,0\n"


@pytest.mark.parametrize("stage", cycle.STAGES)
def test_sigkill_at_each_stage(ws, stage):
    before = snapshot(ws)
    write_earned(ws.root, ROWS.replace("A,2026-02,25000", "A,2026-02,30000"))
    proc = child(ws, "run", "2026-02", pause=stage)
    assert wait_for_line(proc, "ICM-PAUSED").split() == ["ICM-PAUSED", stage]
    proc.kill()
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    # out/ never shows a half-written month, whatever the stage
    assert payouts(ws, "2026-02") == OLD_FEB
    after = snapshot(ws)
    if stage in ("before-commit", "mid-commit"):
        assert_same(after, before)  # the ledger is exactly as before the run
        heal_expected = ()
    else:
        # committed: the run is whole in the ledger, its files come with the next command
        assert after["runs"][:-1] == [(1, "2026-01", "closed", 10500),
                                      (2, "2026-02", "superseded", 15000)]
        assert after["runs"][-1] == (3, "2026-02", "draft", 20000)
        pd.testing.assert_frame_equal(after["paid"], before["paid"])
        heal_expected = ("re-rendered out/2026-02 (files) from run 2 of 2026-02, kept in the ledger: an earlier "
                         "command stopped before its files were in place",)
    # the kernel released the lock: the next command neither waits nor fails
    closed = cycle.close(ws, "2026-02", publisher=PUBLISHER)
    assert closed.notes == heal_expected
    assert payouts(ws, "2026-02") == (OLD_FEB if not heal_expected else NEW_FEB)
    assert sorted(p.name for p in ws.out_dir.iterdir()) == ["2026-01", "2026-02"]


def test_second_process_waits_for_the_lock_then_runs(ws):
    first = child(ws, "run", "2026-02", pause="before-commit")
    wait_for_line(first, "ICM-PAUSED")
    second = child(ws, "close", "2026-02", timeout="60")
    waiting = wait_for_line(second, "waiting up to 60 s")
    assert f"'a run of 2026-02' (pid {first.pid}, user " in waiting
    first.send_signal(signal.SIGUSR1)
    out1, err1 = first.communicate(timeout=60)
    out2, err2 = second.communicate(timeout=60)
    assert (first.returncode, out1) == (0, "run 3\n"), err1
    assert (second.returncode, out2) == (0, "closed 3\n"), err2
    assert [tuple(r) for r in cycle.history(ws)[["action", "run_id"]].values.tolist()] == [
        ("run", 1), ("close", 1), ("run", 2), ("run", 3), ("close", 3)]


def test_second_process_gives_up_naming_the_holder(ws):
    cycle.close(ws, "2026-02", publisher=PUBLISHER)  # then hold the workspace with a March run
    holder = child(ws, "run", "2026-03", pause="mid-commit")
    wait_for_line(holder, "ICM-PAUSED")
    before = snapshot(ws)
    second = child(ws, "run", "2026-03", timeout="0.3")
    _, err = second.communicate(timeout=60)
    assert second.returncode == 2
    assert (f"is busy: 'a run of 2026-03' (pid {holder.pid}, user " in err
            and "waited 0.3 s (set ICM_LOCK_TIMEOUT to wait longer)" in err), err
    holder.kill()
    holder.communicate()
    assert_same(snapshot(ws), before)


def _icm(*args, env=None):
    full_env = {**os.environ, "ICM_LOCK_TIMEOUT": "0.3", **(env or {})}
    return subprocess.run([sys.executable, "-m", "icm", *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_corrupt_sqlite_ledger_exits_2_with_a_clear_message(tmp_path):
    ws = tmp_path / "acme"
    ws.mkdir()
    (ws / "icm.db").write_bytes(b"PK\x03\x04 not a database at all " * 200)
    done = _icm("history", str(ws))
    assert done.returncode == 2, done.stderr
    assert "is not a readable SQLite database (file is not a database)" in done.stderr
    assert "Traceback" not in done.stderr


def test_locked_sqlite_ledger_exits_2_with_a_clear_message(ws):
    holder = sqlite3.connect(ws.root / "icm.db")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        done = _icm("history", str(ws.root))
    finally:
        holder.rollback()
        holder.close()
    assert done.returncode == 2, done.stderr
    assert "is locked by another program (database is locked)" in done.stderr
    assert "Traceback" not in done.stderr


def test_newer_schema_ledger_exits_2(ws):
    with sqlite3.connect(ws.root / "icm.db") as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    done = _icm("history", str(ws.root))
    assert done.returncode == 2, done.stderr
    assert "was written by a newer icm (ledger schema version 99" in done.stderr


def test_history_command_lists_runs_and_closes(ws):
    done = _icm("history", str(ws.root), env={"COLUMNS": "250"})
    assert done.returncode == 0, done.stderr
    rows = [[cell.strip() for cell in line.split("│")[1:-1]]
            for line in done.stdout.splitlines() if line.startswith("│")]
    assert [row[1:5] + row[9:10] for row in rows] == [
        ["run", "2026-01", "1", "closed", "105.00"], ["close", "2026-01", "1", "closed", "105.00"],
        ["run", "2026-02", "1", "draft", "150.00"]]


@pytest.mark.parametrize("stage", ["mid-commit", "before-move"])
def test_sigkill_through_the_icm_command(tmp_path, stage):
    """The real engine and renderer: a killed `icm run` never leaves a half-written month."""
    import shutil

    golden = REPO / "tests" / "golden" / "06_cancellation_carry_forward"
    root = tmp_path / "acme"
    shutil.copytree(golden, root, ignore=shutil.ignore_patterns("expected", "steps.yaml"))
    assert _icm("run", str(root), "--period", "2026-02").returncode == 0
    before = (root / "out" / "2026-02" / "payouts.csv").read_bytes()
    tx = root / "data" / "transactions.csv"
    tx.write_text(tx.read_text() + "T9,2026-02-20,1000.00,EUR,A01,new,\n")
    env = {**os.environ, "ICM_TEST_PAUSE_AT": stage, "ICM_LOCK_TIMEOUT": "0.3"}
    proc = subprocess.Popen([sys.executable, "-m", "icm", "run", str(root), "--period", "2026-02"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    wait_for_line(proc, "ICM-PAUSED")
    proc.kill()
    proc.communicate()
    assert (root / "out" / "2026-02" / "payouts.csv").read_bytes() == before
    runs = [(r.id, r.status) for r in Ledger(f"sqlite:///{root / 'icm.db'}").runs()]
    assert runs == ([(1, "draft")] if stage == "mid-commit" else [(1, "superseded"), (2, "draft")])
    done = _icm("close", str(root), "--period", "2026-02")
    assert done.returncode == 0, done.stderr
    after = (root / "out" / "2026-02" / "payouts.csv").read_text()
    assert ("2550.00" in after) == (stage == "before-move")
