"""The `icm` command's contract, through the real Typer app: exit codes, output, files.

The core's behaviour is tested through `compensation.cycle` in tests/compensation; here
the face is: options reach the parts, results are printed, errors exit 2 without a
traceback, unexpected failures exit 1.
"""

from __future__ import annotations

import getpass
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compensation import cycle
from compensation.ledger import Ledger
from compensation.prior import prior_state
from icm.cli import app

# -- end to end, through the `icm` command and the real engine ----------------------------

GOLDEN = Path(__file__).parent.parent / "golden" / "06_cancellation_carry_forward"


@pytest.fixture
def acme(tmp_path, monkeypatch):
    monkeypatch.setenv("ICM_LOCK_TIMEOUT", "0.2")
    monkeypatch.delenv("ICM_TEST_PAUSE_AT", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    root = tmp_path / "acme"
    shutil.copytree(GOLDEN, root, ignore=shutil.ignore_patterns("expected", "steps.yaml"))
    return root


def icm(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_cycle_history_and_byte_identical_reruns(acme):
    expected = GOLDEN / "expected"
    for step in (("run", "2026-02"), ("close", "2026-02"), ("run", "2026-04"),
                 ("close", "2026-04"), ("run", "2026-05")):
        done = icm(step[0], acme, "--period", step[1], "--by", "finance")
        assert done.exit_code == 0, done.output
        if step[0] == "run":
            assert (acme / "out" / step[1] / "payouts.csv").read_bytes() == \
                (expected / f"{step[1]}.csv").read_bytes()
    first = (acme / "out" / "2026-05" / "payouts.csv").read_bytes()
    assert icm("run", acme, "--period", "2026-05").exit_code == 0
    assert (acme / "out" / "2026-05" / "payouts.csv").read_bytes() == first
    assert sorted(p.name for p in (acme / "out").iterdir()) == ["2026-02", "2026-04", "2026-05"]
    hist = cycle.history(acme)
    assert hist[["action", "period", "status", "by"]].values.tolist() == [
        ["run", "2026-02", "closed", "finance"], ["close", "2026-02", "closed", "finance"],
        ["run", "2026-04", "closed", "finance"], ["close", "2026-04", "closed", "finance"],
        ["run", "2026-05", "superseded", "finance"], ["run", "2026-05", "draft", getpass.getuser()]]
    assert hist["total_paid"].tolist() == [2500_00, 2500_00, 0, 0, 1000_00, 1000_00]
    led = Ledger(f"sqlite:///{acme / 'icm.db'}")
    inputs = {f.path for f in led.inputs(int(hist["run_id"].iloc[-1]))}
    assert {"data/transactions.csv", "data/reps.csv", "plans/flat.yaml"} <= inputs
    done = icm("history", acme)
    assert done.exit_code == 0 and "superseded" in done.output and "2026-05" in done.output


def test_cli_order_errors_exit_2(acme):
    assert icm("run", acme, "--period", "2026-02").exit_code == 0
    done = icm("run", acme, "--period", "2026-04")
    assert done.exit_code == 2
    assert "cannot run 2026-04: 2026-02 has runs and is not closed" in done.output
    assert icm("close", acme, "--period", "2026-02").exit_code == 0
    done = icm("run", acme, "--period", "2026-02")
    assert done.exit_code == 2 and "2026-02 is closed" in done.output
    assert "Traceback" not in done.output


def test_cli_diff_after_late_data(acme):
    assert icm("run", acme, "--period", "2026-02").exit_code == 0
    tx = acme / "data" / "transactions.csv"
    tx.write_text(tx.read_text() + "T9,2026-02-20,1000.00,EUR,A01,new,\n")
    assert icm("run", acme, "--period", "2026-02").exit_code == 0
    out = cycle.diff(acme, "2026-02")
    assert out.changes.values.tolist() == [["A01", "bookings", 2500_00, 2550_00, 50_00, "changed"]]
    done = icm("diff", acme, "--period", "2026-02")
    assert done.exit_code == 0, done.output
    assert "+50.00" in done.output and "2500.00 -> 2550.00" in done.output


def test_cli_close_warns_on_changed_inputs(acme):
    assert icm("run", acme, "--period", "2026-02").exit_code == 0
    tx = acme / "data" / "transactions.csv"
    tx.write_text(tx.read_text() + "T9,2026-02-20,1000.00,EUR,A01,new,\n")
    done = icm("close", acme, "--period", "2026-02")
    assert done.exit_code == 0, done.output
    assert "inputs changed since run 1 of 2026-02 was calculated: data/transactions.csv changed" in \
        " ".join(done.output.split())
    # the late deal flows into the next month as a delta (rule 8), never into February
    assert icm("run", acme, "--period", "2026-03").exit_code == 0
    march = (acme / "out" / "2026-03" / "payouts.csv").read_text().splitlines()
    assert march[1].split(",")[3:10] == ["bookings", "51000.00", "", "", "2550.00", "2500.00",
                                         "50.00"]


def test_adjustments_paid_once_and_late_rows_held(acme):
    adj = acme / "data" / "adjustments.csv"
    adj.write_text("rep_id,period,amount,reason\nA01,2026-02,150.00,Q4 spiff correction\n")
    assert icm("run", acme, "--period", "2026-02").exit_code == 0
    feb = (acme / "out" / "2026-02" / "payouts.csv").read_text()
    assert "2026-02,A01,Ada Rossi,adjustment,,,,,,150.00,EUR" in feb
    assert icm("close", acme, "--period", "2026-02").exit_code == 0
    led = Ledger(f"sqlite:///{acme / 'icm.db'}")
    prior = prior_state(led.closed_rows("2026-04"), "2026-04", cycle.open_workspace(acme).calendar)
    assert prior.paid_adjustments.to_dict("records") == [
        {"rep_id": "A01", "period": "2026-02", "amount": 150_00, "reason": "Q4 spiff correction"}]
    assert icm("run", acme, "--period", "2026-04").exit_code == 0
    april = (acme / "out" / "2026-04" / "payouts.csv").read_text()
    assert "adjustment" not in april  # already paid by February's close
    adj.write_text(adj.read_text() + "A01,2026-02,20.00,forgotten\n")
    assert icm("run", acme, "--period", "2026-04").exit_code == 0
    exceptions = (acme / "out" / "2026-04" / "exceptions.csv").read_text()
    assert "2026-02 is closed; date it in 2026-04" in exceptions


# -- every command's exit codes ---------------------------------------------------------------

WORKSPACE_COMMANDS = [
    ["validate"], ["run", "--period", "2026-02"], ["close", "--period", "2026-02"],
    ["explain", "--period", "2026-02", "--rep", "A01"], ["statements", "--period", "2026-02"],
    ["history"], ["diff", "--period", "2026-02"],
]


@pytest.mark.parametrize("command", WORKSPACE_COMMANDS, ids=[c[0] for c in WORKSPACE_COMMANDS])
def test_a_missing_workspace_exits_2_with_one_message(command, tmp_path):
    done = icm(command[0], tmp_path / "nowhere", *command[1:])
    assert done.exit_code == 2, done.output
    assert "no workspace at" in done.output and "Traceback" not in done.output


def test_an_unexpected_failure_exits_1_with_one_line(acme, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk controller on fire")

    monkeypatch.setattr(cycle, "run", broken)
    monkeypatch.delenv("ICM_DEBUG", raising=False)
    done = icm("run", acme, "--period", "2026-02")
    assert done.exit_code == 1
    assert " ".join(done.output.split()) == ("internal error: RuntimeError: disk controller on fire "
                                             "(set ICM_DEBUG=1 for details)")


def test_a_bad_plan_through_run_exits_2_without_a_traceback(acme):
    plan = acme / "plans" / "flat.yaml"
    plan.write_text(plan.read_text().replace("rate: 5%", "rte: 5%"))
    done = icm("run", acme, "--period", "2026-02")
    assert done.exit_code == 2
    assert "plans/flat.yaml:" in done.output and "did you mean 'rate'" in done.output
    assert "Traceback" not in done.output and not (acme / "out").exists()


def test_statements_render_the_committed_run_and_say_when_inputs_changed(acme):
    assert icm("run", acme, "--period", "2026-02").exit_code == 0
    tx = acme / "data" / "transactions.csv"
    tx.write_text(tx.read_text() + "T9,2026-02-20,1000.00,EUR,A01,new,\n")
    done = icm("statements", acme, "--period", "2026-02")
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert "the inputs changed since run 1 of 2026-02" in text
    assert "1 statements of run 1 of 2026-02" in text
    assert (acme / "out" / "2026-02" / "statements" / "A01.pdf").is_file()
    assert icm("statements", acme, "--period", "2026-03").exit_code == 2  # no run yet


def test_validate_strict_exits_2_on_holds_and_period_checks_quota_coverage(acme):
    assert icm("validate", acme).exit_code == 0
    (acme / "data" / "quotas.csv").write_text("rep_id,component,period,amount\n")
    plan = acme / "plans" / "flat.yaml"
    plan.write_text(plan.read_text().replace("- {from: 0%, rate: 5%}", "- {from: 0%, rate: 5%}\n"
                                             "        - {from: 100%, rate: 8%}"))
    assert icm("validate", acme).exit_code == 0  # no month: quota coverage is not checked
    done = icm("validate", acme, "--period", "2026-02")
    assert done.exit_code == 0 and "no quota for component" in " ".join(done.output.split())
    done = icm("validate", acme, "--period", "2026-02", "--strict")
    assert done.exit_code == 2 and "hold reps (--strict)" in done.output
    # and a run of that month holds exactly what validate reported
    run = icm("run", acme, "--period", "2026-02")
    assert run.exit_code == 0 and "(1 reps held)" in " ".join(run.output.split())


def test_align_and_quotas_through_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    ws = tmp_path / "terr"
    assert icm("init", ws).exit_code == 0
    (ws / "data" / "reps.csv").write_text(
        "rep_id,name,plan,start_date,end_date\nR1,Ann,ae-2026,2026-01-01,\nR2,Bob,ae-2026,2026-01-01,\n")
    (ws / "data" / "accounts.csv").write_text(
        "account_id,name,region,potential,lat,lon,current_rep\n"
        "A1,Alpha,N,100,45.0,9.0,R1\nA2,Beta,N,100,45.1,9.1,R1\nA3,Gamma,N,100,45.2,9.2,R2\nA4,Delta,N,100,45.3,9.3,R2\n")
    (ws / "plans" / "even.yaml").write_text("alignment:\n  objective: disruption\n  balance: {potential: 0.10}\n")
    done = icm("align", ws, "--scenario", "plans/even.yaml")
    assert done.exit_code == 0, done.output
    assignments = (ws / "out" / "alignment" / "assignments.csv").read_text().splitlines()
    assert assignments[0].startswith("account_id,rep_id")
    assert len(assignments) == 5
    assert icm("align", ws, "--scenario", "plans/missing.yaml").exit_code == 2


def test_validate_checks_modelling_scenarios_too(acme):
    (acme / "plans" / "model.yaml").write_text("model:\n  candidates:\n    - {plan: flat-2026}\n  drawz: 100\n")
    done = icm("validate", acme)
    assert done.exit_code == 2
    assert "plans/model.yaml:4: unknown key 'drawz' in model (did you mean 'draws'?)" in done.output
