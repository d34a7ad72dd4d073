"""The whole month in the browser's HTTP: inquiry, adjustment, re-run, approval by another person, close.

Runs against a real `icm serve` on SQLite and, with ICM_TEST_POSTGRES_URL, on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from compensation import cycle, workflow
from tests.web.conftest import REPO, csrf_of, make_workspace, postgres_ledger, start_server, stop_server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request, tmp_path):
    ledger = None
    if request.param == "postgres":
        ledger = postgres_ledger("cycle")
        if ledger is None:
            if os.environ.get("CI") == "true":
                pytest.fail("ICM_TEST_POSTGRES_URL is not set under CI")
            pytest.skip("ICM_TEST_POSTGRES_URL is not set")
    served = start_server(make_workspace(tmp_path / "ws", ledger), tmp_path / "serve.log")
    yield served
    stop_server(served)


def _post(client, path, form, page="/inquiries"):
    return client.post(path, data={**form, "csrf": csrf_of(client, page)})


def _lines(ws, period):
    with cycle.open_ledger(ws) as led:
        return led.lines(period)


@pytest.mark.slow
def test_inquiry_to_adjustment_to_approved_close(server):
    ws = server.workspace
    ada, fin, appr = server.login("rep"), server.login("finance"), server.login("approver")
    # a rep questions a January transaction from her statement
    assert "T002" in ada.get("/reps/A01/periods/2026-01").text
    made = _post(ada, "/inquiries", {"rep_id": "A01", "period": "2026-01", "kind": "transaction",
                                     "subject": "T002", "category": "missing credit", "amount": "925.10",
                                     "text": "T002 should count at 100%"})
    assert made.status_code == 303
    number = int(made.headers["location"].rsplit("/", 1)[1])
    # finance accepts it as an adjustment, dated in the earliest month not closed
    answered = _post(fin, f"/inquiries/{number}/answer", {"text": "Agreed: split corrected", "status": "resolved",
                                                          "resolution": "accepted", "adjustment": "925.10"})
    assert answered.status_code == 303
    assert "925.10" in ada.get(f"/inquiries/{number}").text
    # the next run of February pays it
    assert _post(fin, "/periods/run", {"period": "2026-02"}, "/periods").status_code == 303
    lines = _lines(ws, "2026-02")
    adj = lines[(lines["rep_id"] == "A01") & (lines["line"] == "adjustment")]
    assert adj["amount"].tolist() == [92510]
    assert int(lines.loc[lines["rep_id"] == "A01", "amount"].sum()) == 136500 + 92510
    # finance submits the run; a re-run withdraws the submission
    page = fin.get("/periods/2026-02").text
    run_id = re.search(r'name="run_id" value="(\d+)"', page).group(1)
    assert _post(fin, "/periods/2026-02/submit", {"run_id": run_id}, "/periods").status_code == 303
    assert _post(fin, "/periods/run", {"period": "2026-02"}, "/periods").status_code == 303
    with cycle.open_ledger(ws) as led:
        assert [s["status"] for s in workflow.submissions_of(led, "2026-02")] == ["withdrawn"]
    page = fin.get("/periods/2026-02").text
    run_id = re.search(r'name="run_id" value="(\d+)"', page).group(1)
    assert _post(fin, "/periods/2026-02/submit", {"run_id": run_id}, "/periods").status_code == 303
    sub = re.search(r'name="submission_id" value="(\d+)"', appr.get("/periods/2026-02").text).group(1)
    # finance cannot approve; the month stays open until a different approver approves
    assert _post(fin, "/periods/2026-02/approve", {"submission_id": sub}, "/periods").status_code == 403
    assert ada.get("/reps/A01/periods/2026-02").status_code == 404  # drafts are not for reps
    assert _post(appr, "/periods/2026-02/approve", {"submission_id": sub}, "/periods").status_code == 303
    with cycle.open_ledger(ws) as led:
        assert led.latest_run("2026-02").status == "closed"
        assert [s["status"] for s in workflow.submissions_of(led, "2026-02")] == ["approved", "withdrawn"]
    assert (ws / "out" / "2026-02" / "statements" / "A01.pdf").is_file()
    statement = ada.get("/reps/A01/periods/2026-02").text
    assert "Agreed: split corrected" in statement and "2,290.10" in statement
    pdf = ada.get("/periods/2026-02/statements/A01.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # the audit trail, in the browser and in `icm history`
    audit = fin.get("/audit").text
    for action in ("submit", "approve", "adjust", "withdraw", "close"):
        assert f">{action}<" in audit
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    history = subprocess.run([sys.executable, "-m", "icm", "history", str(ws)], capture_output=True, text=True,
                             env=env, cwd=REPO)
    assert history.returncode == 0, history.stderr
    assert "approve" in history.stdout and "appr@altamira.example" in history.stdout


@pytest.mark.slow
def test_icm_close_needs_approval_once_users_exist(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}

    def icm(*args):
        return subprocess.run([sys.executable, "-m", "icm", *args], capture_output=True, text=True, env=env,
                              cwd=REPO)

    refused = icm("close", str(ws), "--period", "2026-02")
    assert refused.returncode == 2 and "is not approved" in refused.stderr and "Traceback" not in refused.stderr
    assert icm("close", str(ws), "--period", "2026-02", "--force", "--by", "cfo").returncode == 2
    forced = icm("close", str(ws), "--period", "2026-02", "--force", "--by", "cfo", "--reason", "payroll cut-off")
    assert forced.returncode == 0, forced.stderr
    history = icm("history", str(ws))
    assert "forced close" in history.stdout and "payroll cut-off" in history.stdout
