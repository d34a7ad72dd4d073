"""The payout cycle (compensation.cycle): lock, order, commit, staged rendering, healing, audit.

The calculation and the renderer are stand-ins here (`install_fakes`): a tiny,
deterministic engine over `data/earned.csv` (rep_id, period, earned cumulative cents,
optional hold reason) and a renderer writing `payouts.csv`. They keep these tests about
the cycle's mechanics; the end-to-end tests at the bottom use the real engine.
"""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import pandas as pd
import pytest

from compensation import cycle
from compensation.errors import IcmError, UsageError
from compensation.ledger import Ledger
from compensation.prior import prior_state
from compensation.results import InputFile
from compensation.settings import Settings, Workspace
from reports import publish
from tests.compensation.test_ledger import make_result


def fake_calculate(ws: Workspace, period: str, ledger: Ledger, **_):
    """Year-to-date earnings from data/earned.csv, trued up against closed months."""
    prior = prior_state(ledger.closed_rows(period), period, ws.calendar)
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
    setter = patch or setattr
    setter(cycle, "_calculate", fake_calculate)
    setter(publish, "render_run", fake_render)


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


PUBLISHER = publish.Publisher()


def run(ws, period, **kw):
    return cycle.run(ws, period, publisher=PUBLISHER, **kw)


def payouts(ws, period) -> str:
    return (ws.out_dir / period / "payouts.csv").read_text()


def test_run_commits_and_renders_in_place(ws):
    outcome = run(ws, "2026-01", by="carol")
    assert outcome.out_dir == ws.out_dir / "2026-01"
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,10000\nB,nb,500\n"
    assert publish.rendered_run(ws, "2026-01") == outcome.run_id
    assert [p.name for p in ws.out_dir.iterdir()] == ["2026-01"]  # no staging left
    hist = cycle.history(ws)
    assert hist[["action", "period", "by", "total_paid"]].values.tolist() == [
        ["run", "2026-01", "carol", 10500]]


def test_true_up_over_the_cycle_and_month_order(ws):
    run(ws, "2026-01")
    with pytest.raises(UsageError, match="cannot run 2026-02: 2026-01 has runs and is not closed"):
        run(ws, "2026-02")
    closed = cycle.close(ws, "2026-01", by="dave", publisher=PUBLISHER)
    assert closed.warnings == ()
    run(ws, "2026-02")
    # February pays the year-to-date earnings less what January's close paid
    assert payouts(ws, "2026-02") == "rep_id,line,amount\nA,nb,15000\nB,nb,0\n"
    with pytest.raises(UsageError, match="^2026-01 is closed"):
        run(ws, "2026-01")
    assert cycle.history(ws)["action"].tolist() == ["run", "close", "run"]


def test_same_inputs_give_identical_files_and_rerun_replaces_the_draft(ws):
    first = run(ws, "2026-01")
    before = payouts(ws, "2026-01")
    second = run(ws, "2026-01")
    assert second.run_id > first.run_id and payouts(ws, "2026-01") == before
    same = cycle.diff(ws, "2026-01")
    assert same.changes.empty and same.notes == ("both runs read the same input files",)
    write_earned(ws.root, ROWS.replace("A,2026-01,10000", "A,2026-01,12000"))
    run(ws, "2026-01")
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,12000\nB,nb,500\n"


def test_strict_with_holds_writes_nothing(ws):
    write_earned(ws.root, ROWS + "C,2026-01,1,missing quota\n")
    with pytest.raises(IcmError,
                       match=r"1 reps held in 2026-01 \(strict\): nothing was written") as err:
        run(ws, "2026-01", strict=True)
    assert "earned row 2: rep C: missing quota" in str(err.value)
    assert cycle.history(ws).empty and not ws.out_dir.exists()
    outcome = run(ws, "2026-01")  # without --strict the others are paid
    assert outcome.result.held_reps == frozenset({"C"})


def test_diff_open_month_between_last_two_runs(ws):
    with pytest.raises(UsageError, match="2026-01 has no runs"):
        cycle.diff(ws, "2026-01")
    first = run(ws, "2026-01")
    only = cycle.diff(ws, "2026-01")  # one run: nothing to compare, and no error to stop a script
    assert only.changes.empty and only.notes[0].startswith("2026-01 has one run so far")
    write_earned(ws.root, "A,2026-01,12000,\nC,2026-01,700,\n")
    second = run(ws, "2026-01")
    out = cycle.diff(ws, "2026-01")
    assert (out.before, out.after) == ("run 1 of 2026-01", "run 2 of 2026-01")
    assert second.run_id == first.run_id + 1
    assert out.changes.astype(object).where(out.changes.notna(), None).values.tolist() == [
        ["A", "nb", 10000, 12000, 2000, "changed"],
        ["B", "nb", 500, None, -500, "gone"],
        ["C", "nb", None, 700, 700, "new"],
    ]
    assert (out.total_before, out.total_after) == (10500, 12700)


def test_diff_closed_month_against_a_dry_rerun(ws):
    run(ws, "2026-01")
    cycle.close(ws, "2026-01", publisher=PUBLISHER)
    same = cycle.diff(ws, "2026-01")
    assert same.changes.empty and same.before == "closed run 1 of 2026-01"
    assert same.after == "a dry re-run on today's inputs (nothing written)"
    write_earned(ws.root, ROWS.replace("B,2026-01,500", "B,2026-01,800"))
    changed = cycle.diff(ws, "2026-01")
    assert changed.changes[["rep_id", "before", "after", "change"]].values.tolist() == [
        ["B", 500, 800, 300]]
    assert changed.notes == ("the inputs changed since the close",)
    assert len(cycle.history(ws)) == 2  # nothing written


def test_close_warns_when_inputs_changed_since_the_run(ws):
    first = run(ws, "2026-01")
    write_earned(ws.root, ROWS.replace("A,2026-01,10000", "A,2026-01,99999"))
    (ws.data_dir / "adjustments.csv").write_text("rep_id,period,amount,reason\n")
    closed = cycle.close(ws, "2026-01", publisher=PUBLISHER)
    assert closed.run_id == first.run_id
    (warning,) = closed.warnings
    assert warning.startswith("inputs changed since run 1 of 2026-01 was calculated: "
                              "data/adjustments.csv is new; data/earned.csv changed (sha256 ")
    assert "2026-01 is closed with run" in warning
    note = cycle.history(ws)["note"].tolist()[-1]
    assert "data/earned.csv changed" in note
    # the closed month keeps what was reviewed
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,10000\nB,nb,500\n"


def test_disk_full_during_render_keeps_the_commit_and_heals_next_time(ws, monkeypatch):
    run(ws, "2026-01")
    write_earned(ws.root, ROWS.replace("A,2026-01,10000", "A,2026-01,11000"))

    def full(result, target_dir, **kw):
        (Path(target_dir) / "payouts.csv").write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(publish, "render_run", full)
    with pytest.raises(IcmError, match=r"run 2 of 2026-01 is committed, but writing out/2026-01 failed: "
                                       r"No space left on device"):
        run(ws, "2026-01")
    # the ledger has the new run; out/ still shows the previous one, untouched
    latest = Ledger(ws.ledger_url).latest_run("2026-01")
    assert latest.total_paid == 11500
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,10000\nB,nb,500\n"
    assert publish.rendered_run(ws, "2026-01") != latest.id
    monkeypatch.setattr(publish, "render_run", fake_render)
    closed = cycle.close(ws, "2026-01", publisher=PUBLISHER)
    assert closed.notes == ("re-rendered out/2026-01 (files) from run 2 of 2026-01, kept in the ledger: an "
                            "earlier command stopped before its files were in place",)
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,11000\nB,nb,500\n"
    assert sorted(p.name for p in ws.out_dir.iterdir()) == ["2026-01"]


def test_heal_renders_the_kept_run_even_when_inputs_changed_since(ws):
    run(ws, "2026-01")
    (ws.out_dir / "2026-01" / publish.RUN_MARKER).unlink()
    write_earned(ws.root, ROWS.replace("A,2026-01,10000", "A,2026-01,1"))
    (msg,) = PUBLISHER.heal(ws, Ledger(ws.ledger_url))
    assert msg.startswith("re-rendered out/2026-01 (files) from run 1 of 2026-01, kept in the ledger")
    # the committed figures, not today's inputs: healing never recalculates
    assert payouts(ws, "2026-01") == "rep_id,line,amount\nA,nb,10000\nB,nb,500\n"


def test_committed_run_is_kept_whole_and_read_back_without_recalculating(ws, monkeypatch):
    outcome = run(ws, "2026-01")
    monkeypatch.setattr(cycle, "_calculate", lambda *a, **k: pytest.fail("recalculated"))
    kept = cycle.committed_run(ws, "2026-01")
    assert kept.run_id == outcome.run_id and kept.label == "run 1 of 2026-01"
    for name in ("register", "line_periods", "settlement", "exceptions"):
        pd.testing.assert_frame_equal(getattr(kept.result, name).reset_index(drop=True),
                                      getattr(outcome.result, name).reset_index(drop=True), check_dtype=False)
    assert kept.result.fingerprint == outcome.result.fingerprint


def test_lock_held_by_another_command(ws):
    from compensation.lock import workspace_lock

    with workspace_lock(ws.root, "icm close --period 2026-01"):
        with pytest.raises(UsageError, match=r"is busy: 'icm close --period 2026-01' \(pid \d+, "
                                             r"user .+, since .+\) holds it; waited 0.2 s"):
            run(ws, "2026-01")
    assert run(ws, "2026-01").run_id == 1


def test_bad_period_is_a_usage_error(ws):
    with pytest.raises(UsageError, match="'2026-1' is not a month"):
        run(ws, "2026-1")
