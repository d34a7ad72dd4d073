"""The payout cycle (icm/cycle.py): lock, order, commit, staged rendering, healing, audit.

The calculation and the renderer are stand-ins here (`install_fakes`): a tiny,
deterministic engine over `data/earned.csv` (rep_id, period, earned cumulative cents,
optional hold reason) and a renderer writing `payouts.csv`. They keep these tests about
the cycle's mechanics; the end-to-end tests at the bottom use the real engine.
"""

from __future__ import annotations

import errno
import getpass
import hashlib
from pathlib import Path

import pandas as pd
import pytest

import icm.cycle as cycle
from compensation.errors import IcmError, UsageError
from compensation.ledger import Ledger
from compensation.results import InputFile
from compensation.settings import Settings, Workspace
from tests.compensation.test_ledger import make_result


def fake_calculate(ws: Workspace, period: str, ledger: Ledger):
    """Year-to-date earnings from data/earned.csv, trued up against closed months."""
    prior = ledger.prior_state(period)
    path = ws.data_dir / "earned.csv"
    data = pd.read_csv(path, dtype=str, keep_default_na=False)
    data = data[data["period"] == period]
    paid = {(r.rep_id, r.line, r.attainment_period): int(r.amount)
            for r in prior.paid.itertuples(index=False)}
    year = period[:4]
    lines, exceptions = [], []
    for row in data.itertuples(index=False):
        if getattr(row, "hold", ""):
            exceptions.append((period, "hold", "earned", 2, None, row.rep_id, row.hold))
            continue
        lines.append((row.rep_id, "nb", "component", year, int(row.earned),
                      paid.get((row.rep_id, "nb", year), 0)))
    raw = path.read_bytes()
    inputs = (InputFile("earned", "data/earned.csv", raw.count(b"\n"),
                        hashlib.sha256(raw).hexdigest()),)
    return make_result(period, lines, exceptions=exceptions, inputs=inputs, root=ws.root)


def fake_render(result, target_dir, *, statements=False, reps=None, progress=None, run_id=None):
    """payouts.csv (rep_id, line, amount) and, with statements, one text file per rep."""
    target_dir = Path(target_dir)
    reg = result.register[["rep_id", "line", "amount"]]
    (target_dir / "payouts.csv").write_text(reg.to_csv(index=False, lineterminator="\n"))
    if progress:
        progress("payouts.csv")
    (target_dir / "exceptions.csv").write_text(result.exceptions.to_csv(index=False))
    if statements:
        (target_dir / "statements").mkdir()
        for rep in reg["rep_id"].unique():
            (target_dir / "statements" / f"{rep}.txt").write_text(rep)


def install_fakes(patch=None) -> None:
    """Put the stand-ins in place (monkeypatch.setattr in tests, plain setattr in children)."""
    import reports

    setter = patch or setattr
    setter(cycle, "_calculate", fake_calculate)
    if patch:
        patch(reports, "render_run", fake_render, raising=False)
    else:
        reports.render_run = fake_render


def make_workspace(root: Path, rows: str) -> Workspace:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "plans").mkdir(exist_ok=True)
    write_earned(root, rows)
    return Workspace(root=root, settings=Settings())


def write_earned(root: Path, rows: str) -> None:
    (root / "data" / "earned.csv").write_text("rep_id,period,earned,hold\n" + rows)


ROWS = "A,2026-01,10000,\nB,2026-01,500,\nA,2026-02,25000,\nB,2026-02,500,\n"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    install_fakes(monkeypatch.setattr)
    monkeypatch.setenv("ICM_LOCK_TIMEOUT", "0.2")
    monkeypatch.delenv("ICM_TEST_PAUSE_AT", raising=False)
    return make_workspace(tmp_path / "acme", ROWS)


def payouts(ws, period) -> str:
    return (ws.out_dir / period / "payouts.csv").read_text()


def test_run_commits_and_renders_in_place(ws):
    outcome = cycle.run_period(ws, "2026-01", by="carol")
    assert outcome.out_dir == ws.out_dir / "2026-01"
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,10000\nB,nb,500\n"
    assert cycle.rendered_run(ws, "2026-01") == outcome.run_id
    assert [p.name for p in ws.out_dir.iterdir()] == ["2026-01"]  # no staging left
    hist = cycle.history(ws)
    assert hist[["action", "period", "by", "total_paid"]].values.tolist() == [
        ["run", "2026-01", "carol", 10500]]


def test_true_up_over_the_cycle_and_month_order(ws):
    cycle.run_period(ws, "2026-01")
    with pytest.raises(UsageError, match="cannot run 2026-02: 2026-01 has runs and is not closed"):
        cycle.run_period(ws, "2026-02")
    closed = cycle.close_period(ws, "2026-01", by="dave")
    assert closed.warnings == ()
    cycle.run_period(ws, "2026-02")
    # February pays the year-to-date earnings less what January's close paid
    assert payouts(ws, "2026-02") == "rep_id,line,amount\nA,nb,15000\nB,nb,0\n"
    with pytest.raises(UsageError, match="^2026-01 is closed"):
        cycle.run_period(ws, "2026-01")
    assert cycle.history(ws)["action"].tolist() == ["run", "close", "run"]


def test_same_inputs_give_identical_files_and_rerun_replaces_the_draft(ws):
    first = cycle.run_period(ws, "2026-01")
    before = payouts(ws, "2026-01")
    second = cycle.run_period(ws, "2026-01")
    assert second.run_id > first.run_id and payouts(ws, "2026-01") == before
    write_earned(ws.root, ROWS.replace("A,2026-01,10000", "A,2026-01,12000"))
    cycle.run_period(ws, "2026-01")
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,12000\nB,nb,500\n"


def test_strict_with_holds_writes_nothing(ws):
    write_earned(ws.root, ROWS + "C,2026-01,1,missing quota\n")
    with pytest.raises(IcmError,
                       match=r"1 reps held in 2026-01 \(--strict\): nothing was written") as err:
        cycle.run_period(ws, "2026-01", strict=True)
    assert "earned row 2: rep C: missing quota" in str(err.value)
    assert cycle.history(ws).empty and not ws.out_dir.exists()
    outcome = cycle.run_period(ws, "2026-01")  # without --strict the others are paid
    assert outcome.result.held_reps == frozenset({"C"})


def test_diff_open_month_between_last_two_runs(ws):
    with pytest.raises(UsageError, match="2026-01 has no runs"):
        cycle.diff(ws, "2026-01")
    first = cycle.run_period(ws, "2026-01")
    with pytest.raises(UsageError, match=f"2026-01 has one run \\(run {first.run_id}\\)"):
        cycle.diff(ws, "2026-01")
    write_earned(ws.root, "A,2026-01,12000,\nC,2026-01,700,\n")
    second = cycle.run_period(ws, "2026-01")
    out = cycle.diff(ws, "2026-01")
    assert (out.before, out.after) == (f"run {first.run_id}", f"run {second.run_id}")
    assert out.changes.astype(object).where(out.changes.notna(), None).values.tolist() == [
        ["A", "nb", 10000, 12000, 2000, "changed"],
        ["B", "nb", 500, None, -500, "gone"],
        ["C", "nb", None, 700, 700, "new"],
    ]
    assert (out.total_before, out.total_after) == (10500, 12700)


def test_diff_closed_month_against_a_dry_rerun(ws):
    run = cycle.run_period(ws, "2026-01")
    cycle.close_period(ws, "2026-01")
    same = cycle.diff(ws, "2026-01")
    assert same.changes.empty and same.before == f"closed run {run.run_id}"
    assert same.after == "a dry re-run on today's inputs (nothing written)"
    write_earned(ws.root, ROWS.replace("B,2026-01,500", "B,2026-01,800"))
    changed = cycle.diff(ws, "2026-01")
    assert changed.changes[["rep_id", "before", "after", "change"]].values.tolist() == [
        ["B", 500, 800, 300]]
    assert changed.notes == ("the inputs changed since the close",)
    assert len(cycle.history(ws)) == 2  # nothing written


def test_close_warns_when_inputs_changed_since_the_run(ws):
    run = cycle.run_period(ws, "2026-01")
    write_earned(ws.root, ROWS.replace("A,2026-01,10000", "A,2026-01,99999"))
    (ws.data_dir / "adjustments.csv").write_text("rep_id,period,amount,reason\n")
    closed = cycle.close_period(ws, "2026-01")
    assert closed.run_id == run.run_id
    (warning,) = closed.warnings
    assert warning.startswith(f"inputs changed since run {run.run_id} was calculated: "
                              "data/adjustments.csv is new; data/earned.csv changed (sha256 ")
    assert "2026-01 is closed with run" in warning
    note = cycle.history(ws)["note"].tolist()[-1]
    assert "data/earned.csv changed" in note
    # the closed month keeps what was reviewed
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,10000\nB,nb,500\n"


def test_disk_full_during_render_keeps_the_commit_and_heals_next_time(ws, monkeypatch):
    cycle.run_period(ws, "2026-01")
    write_earned(ws.root, ROWS.replace("A,2026-01,10000", "A,2026-01,11000"))

    def full(result, target_dir, **kw):
        (Path(target_dir) / "payouts.csv").write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    import reports

    monkeypatch.setattr(reports, "render_run", full)
    with pytest.raises(IcmError, match=r"is committed, but writing out/2026-01 failed: "
                                       r"\[Errno 28\] No space left on device"):
        cycle.run_period(ws, "2026-01")
    # the ledger has the new run; out/ still shows the previous one, untouched
    latest = Ledger(ws.ledger_url).latest_run("2026-01")
    assert latest.total_paid == 11500
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,10000\nB,nb,500\n"
    assert cycle.rendered_run(ws, "2026-01") != latest.id
    monkeypatch.setattr(reports, "render_run", fake_render)
    closed = cycle.close_period(ws, "2026-01")
    assert closed.healed == (f"re-rendered out/2026-01 from run {latest.id} (an earlier command "
                             "stopped before its files were in place)",)
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,11000\nB,nb,500\n"
    assert sorted(p.name for p in ws.out_dir.iterdir()) == ["2026-01"]


def test_heal_refuses_when_inputs_changed_since_the_unrendered_run(ws):
    run = cycle.run_period(ws, "2026-01")
    (ws.out_dir / "2026-01" / cycle.RUN_MARKER).unlink()
    write_earned(ws.root, ROWS.replace("A,2026-01,10000", "A,2026-01,1"))
    (msg,) = cycle.heal(ws, Ledger(ws.ledger_url))
    assert msg.startswith(f"out/2026-01 does not show run {run.run_id}")
    assert "inputs changed since" in msg


def test_lock_held_by_another_command(ws):
    from compensation.lock import workspace_lock

    with workspace_lock(ws.root, "icm close --period 2026-01"):
        with pytest.raises(UsageError, match=r"is busy: 'icm close --period 2026-01' \(pid \d+, "
                                             r"user .+, since .+\) holds it; waited 0.2 s"):
            cycle.run_period(ws, "2026-01")
    assert cycle.run_period(ws, "2026-01").run_id == 1


def test_bad_period_is_a_usage_error(ws):
    with pytest.raises(UsageError, match="'2026-1' is not a month"):
        cycle.run_period(ws, "2026-1")


# -- end to end, through the `icm` command and the real engine ----------------------------

GOLDEN = Path(__file__).parent / "golden" / "06_cancellation_carry_forward"


@pytest.fixture
def acme(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("ICM_LOCK_TIMEOUT", "0.2")
    monkeypatch.delenv("ICM_TEST_PAUSE_AT", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    root = tmp_path / "acme"
    shutil.copytree(GOLDEN, root, ignore=shutil.ignore_patterns("expected", "steps.yaml"))
    return root


def icm(*args):
    from typer.testing import CliRunner

    from icm.cli import app

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
    assert "inputs changed since run 1 was calculated: data/transactions.csv changed" in \
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
    prior = Ledger(f"sqlite:///{acme / 'icm.db'}").prior_state("2026-04")
    assert prior.paid_adjustments.to_dict("records") == [
        {"rep_id": "A01", "period": "2026-02", "amount": 150_00, "reason": "Q4 spiff correction"}]
    assert icm("run", acme, "--period", "2026-04").exit_code == 0
    april = (acme / "out" / "2026-04" / "payouts.csv").read_text()
    assert "adjustment" not in april  # already paid by February's close
    adj.write_text(adj.read_text() + "A01,2026-02,20.00,forgotten\n")
    assert icm("run", acme, "--period", "2026-04").exit_code == 0
    exceptions = (acme / "out" / "2026-04" / "exceptions.csv").read_text()
    assert "2026-02 is closed; date it in 2026-04" in exceptions
