"""The ledger with hand-built runs: month order, prior state, drafts, closes, audit."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from compensation.errors import IcmError, UsageError
from compensation.ledger import Audit, Ledger, engine_url
from compensation.ledger_schema import SCHEMA_VERSION
from compensation.periods import Calendar
from compensation.plan import Plan
from compensation.prior import prior_state
from compensation.results import EXCEPTION_COLUMNS, InputFile, RunResult
from compensation.settings import Settings, Workspace

AUDIT = Audit(by="alice", icm_version="9.9.9", at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def prior_of(ledger: Ledger, period: str):
    """The engine's prior state from the ledger's closed rows (calendar fiscal year)."""
    return prior_state(ledger.closed_rows(period), period, Calendar(1))


def tiny_plan(plan_id: str) -> Plan:
    """A one-component flat plan: enough for a stored run to name its plan."""
    return Plan.model_validate({"id": plan_id, "name": plan_id, "currency": "EUR", "components": [
        {"id": "nb", "commission": {"tiers": [{"from": 0, "rate": "0.05"}]}}]})


def make_result(period: str, lines, *, balances=None, exceptions=(), inputs=None,
                root: Path = Path("."), plan_id: str = "ae") -> RunResult:
    """A RunResult from rule-8 rows (rep, line, kind, attainment_period, earned, paid_before).

    amount = earned - paid_before; register lines sum the rows per (rep, line);
    `balances` gives each rep's balance_after (default 0).
    """
    lp = pd.DataFrame(lines, columns=["rep_id", "line", "kind", "attainment_period",
                                      "earned_to_date", "paid_before"])
    lp["credited"] = pd.array([None] * len(lp), dtype="Int64")
    lp["quota"] = pd.array([None] * len(lp), dtype="Int64")
    lp["attainment"] = float("nan")
    lp["amount"] = (lp["earned_to_date"] - lp["paid_before"]).astype("int64")
    lp["detail"] = [f"{k} {ap}" for k, ap in zip(lp["kind"], lp["attainment_period"], strict=True)]
    reg = (lp.groupby(["rep_id", "line", "kind"], sort=False)
           .agg(earned_to_date=("earned_to_date", "sum"), paid_to_date=("paid_before", "sum"),
                amount=("amount", "sum")).reset_index())
    reg.insert(0, "period", period)
    reg["name"] = "Rep " + reg["rep_id"]
    reg["credited"] = pd.array([100_000_00] * len(reg), dtype="Int64")
    reg["quota"] = pd.array([None] * len(reg), dtype="Int64")
    reg["attainment"] = float("nan")
    reg["currency"] = "EUR"
    reg["plan_id"] = plan_id
    for col in ("earned_to_date", "paid_to_date", "amount"):
        reg[col] = reg[col].astype("Int64")
    pay = reg.groupby("rep_id")["amount"].sum()
    balances = balances or {}
    settlement = pd.DataFrame({
        "rep_id": pay.index, "earned": pay.to_numpy(), "balance_before": 0,
        "net": pay.to_numpy(), "floor": 0, "pay": pay.to_numpy(),
        "balance_after": [balances.get(r, 0) for r in pay.index], "draw_active": False,
        "plan_id": plan_id, "currency": "EUR",
    })
    exc = pd.DataFrame(list(exceptions), columns=list(EXCEPTION_COLUMNS))
    if inputs is None:
        inputs = (InputFile("transactions", "data/transactions.csv", 3, sha("t")),
                  InputFile(f"plan:{plan_id}", f"plans/{plan_id}.yaml", 1, sha("p")))
    return RunResult(
        workspace=Workspace(root=root, settings=Settings()), period=period,
        plans={plan_id: tiny_plan(plan_id)}, register=reg, line_periods=lp, credits=pd.DataFrame(),
        settlement=settlement, reps=pd.DataFrame(), exceptions=exc, inputs=tuple(inputs),
    )


def run_and_close(ledger, period, lines, **kw):
    run_id = ledger.commit_run(make_result(period, lines, **kw), AUDIT)
    ledger.close(period, AUDIT)
    return run_id


def test_empty_ledger_has_nothing_prior(ledger):
    prior = prior_of(ledger, "2026-01")
    assert prior.closed_months == frozenset()
    assert prior.paid.empty and prior.balances.empty and prior.paid_adjustments.empty
    assert ledger.history().empty
    assert ledger.lines("2026-01").empty


def test_prior_state_sums_closed_runs_only(ledger):
    run_and_close(ledger, "2026-01", [("A", "nb", "component", "2026-Q1", 500_00, 0),
                                      ("B", "nb", "component", "2026-Q1", 120_00, 0)],
                  balances={"A": 0, "B": 300_00})
    run_and_close(ledger, "2026-02", [("A", "nb", "component", "2026-Q1", 800_00, 500_00),
                                      ("A", "adjustment", "adjustment", "2026-02", 75_00, 0)],
                  balances={"A": 40_00})
    # an open draft of March never counts
    march = [("A", "nb", "component", "2026-Q1", 9_999_00, 800_00)]
    ledger.commit_run(make_result("2026-03", march), AUDIT)
    prior = prior_of(ledger, "2026-03")
    assert prior.closed_months == frozenset({"2026-01", "2026-02"})
    paid = prior.paid.set_index(["rep_id", "line", "attainment_period"])["amount"].to_dict()
    assert paid == {("A", "nb", "2026-Q1"): 800_00, ("B", "nb", "2026-Q1"): 120_00,
                    ("A", "adjustment", "2026-02"): 75_00}
    assert prior.paid["amount"].dtype == "int64"
    # B was not in February's run: its balance is the one after January
    assert prior.balances.to_dict("records") == [{"rep_id": "A", "balance": 40_00},
                                                 {"rep_id": "B", "balance": 300_00}]
    assert prior.paid_adjustments.to_dict("records") == [
        {"rep_id": "A", "period": "2026-02", "amount": 75_00, "reason": "adjustment 2026-02"}]
    # February's own prior state sees January only
    feb = prior_of(ledger, "2026-02")
    assert feb.closed_months == frozenset({"2026-01"})
    assert int(feb.paid["amount"].sum()) == 620_00


def test_balances_cross_fiscal_years(ledger):
    run_and_close(ledger, "2025-12", [("A", "nb", "component", "2025", 10_00, 0)],
                  balances={"A": 2_000_00})
    prior = prior_of(ledger, "2026-01")
    assert prior.balances.to_dict("records") == [{"rep_id": "A", "balance": 2_000_00}]
    assert prior.closed_months == frozenset({"2025-12"})


def test_rerun_replaces_the_draft(ledger):
    first = ledger.commit_run(make_result("2026-01", [("A", "nb", "component", "2026", 100_00, 0)]),
                              AUDIT)
    second = ledger.commit_run(make_result("2026-01", [("A", "nb", "component", "2026", 130_00, 0),
                                                       ("B", "nb", "component", "2026", 5_00, 0)]),
                               AUDIT)
    assert second > first
    assert [(r.id, r.status) for r in ledger.runs("2026-01")] == [(first, "superseded"),
                                                                  (second, "draft")]
    current = ledger.lines("2026-01")
    assert current[["rep_id", "line", "amount"]].values.tolist() == [["A", "nb", 130_00],
                                                                     ["B", "nb", 5_00]]
    # the superseded run keeps its register lines (diff, audit) but not its rule-8 detail
    assert ledger.lines("2026-01", run_id=first)["amount"].tolist() == [100_00]
    assert ledger.line_periods("2026-01", run_id=first).empty
    assert len(ledger.line_periods("2026-01")) == 2
    assert ledger.latest_run("2026-01").total_paid == 135_00
    hist = ledger.history()
    assert hist["action"].tolist() == ["run", "run"]
    assert hist["note"].tolist()[1] == f"superseded run {first}"


def test_month_order(ledger):
    ledger.commit_run(make_result("2025-12", [("A", "nb", "component", "2025", 1_00, 0)]), AUDIT)
    # an open month of the previous fiscal year blocks the next one
    with pytest.raises(UsageError, match="cannot run 2026-01: 2025-12 has runs and is not closed"):
        ledger.check_can_run("2026-01")
    ledger.close("2025-12", AUDIT)
    with pytest.raises(UsageError, match="^2025-12 is closed"):
        ledger.check_can_run("2025-12")
    with pytest.raises(UsageError, match="^2025-12 is closed"):
        ledger.commit_run(make_result("2025-12", [("A", "nb", "component", "2025", 1_00, 0)]),
                          AUDIT)
    ledger.check_can_run("2026-02")  # skipping a month is allowed
    ledger.commit_run(make_result("2026-02", [("A", "nb", "component", "2026", 1_00, 0)]), AUDIT)
    with pytest.raises(UsageError, match="cannot run 2026-01: 2026-02 already has runs"):
        ledger.check_can_run("2026-01")
    with pytest.raises(UsageError, match="cannot close 2026-01: 2026-02 already has runs"):
        ledger.check_can_close("2026-01")
    with pytest.raises(UsageError,
                       match="cannot close 2026-03: 2026-02 has runs and is not closed"):
        ledger.check_can_close("2026-03")
    with pytest.raises(UsageError, match="not a month"):
        ledger.check_can_run("2026-13")
    ledger.close("2026-02", AUDIT)
    with pytest.raises(UsageError, match="^2026-02 is closed"):
        ledger.close("2026-02", AUDIT)
    with pytest.raises(UsageError, match="^2026-03 has no run to close; run it first"):
        ledger.check_can_close("2026-03")
    assert [r.status for r in ledger.runs()] == ["closed", "closed"]


def test_refused_run_changes_nothing(ledger):
    run_and_close(ledger, "2026-01", [("A", "nb", "component", "2026", 10_00, 0)])
    before = (ledger.history(), ledger.lines("2026-01"))
    with pytest.raises(UsageError):
        ledger.commit_run(make_result("2026-01", [("A", "nb", "component", "2026", 99_00, 0)]),
                          AUDIT)
    pd.testing.assert_frame_equal(ledger.history(), before[0])
    pd.testing.assert_frame_equal(ledger.lines("2026-01"), before[1])


def test_failure_inside_the_commit_leaves_the_previous_draft(ledger):
    first = ledger.commit_run(make_result("2026-01", [("A", "nb", "component", "2026", 10_00, 0)]),
                              AUDIT)

    def crash(stage):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        ledger.commit_run(make_result("2026-01", [("A", "nb", "component", "2026", 99_00, 0)]),
                          AUDIT, checkpoint=crash)
    assert [(r.id, r.status) for r in ledger.runs()] == [(first, "draft")]
    assert ledger.lines("2026-01")["amount"].tolist() == [10_00]
    assert len(ledger.line_periods("2026-01")) == 1
    assert len(ledger.history()) == 1


def test_audit_trail_and_inputs(ledger):
    result = make_result("2026-01", [("A", "nb", "component", "2026", 10_00, 0),
                                     ("B", "nb", "component", "2026", 0, 0)],
                         exceptions=[("2026-01", "hold", "quotas", 4, None, "C", "missing quota"),
                                     ("2026-01", "notice", "transactions", 9, "T9", None, "x")])
    run_id = ledger.commit_run(result, AUDIT)
    info = ledger.run(run_id)
    assert (info.created_by, info.icm_version, info.plan_ids) == ("alice", "9.9.9", ("ae",))
    assert (info.total_paid, info.reps_paid, info.holds, info.notices) == (10_00, 1, 1, 1)
    assert info.fingerprint == result.fingerprint
    assert ledger.inputs(run_id) == tuple(sorted(result.inputs, key=lambda f: f.path))
    closer = Audit(by="bob", icm_version="9.9.9", at=datetime(2026, 3, 2, tzinfo=UTC))
    done = ledger.close("2026-01", closer, inputs_now=result.inputs)
    assert not done.inputs_changed
    assert (done.run.status, done.run.closed_by) == ("closed", "bob")
    assert done.run.close_fingerprint == result.fingerprint
    hist = ledger.history()
    assert hist[["action", "period", "run_id", "by", "status"]].values.tolist() == [
        ["run", "2026-01", run_id, "alice", "closed"],
        ["close", "2026-01", run_id, "bob", "closed"]]


def test_close_with_changed_inputs_warns_and_records_both(ledger):
    result = make_result("2026-01", [("A", "nb", "component", "2026", 10_00, 0)])
    run_id = ledger.commit_run(result, AUDIT)
    now = (InputFile("transactions", "data/transactions.csv", 4, sha("t2")),
           InputFile("plan:ae", "plans/ae.yaml", 1, sha("p")),
           InputFile("adjustments", "data/adjustments.csv", 1, sha("a")))
    done = ledger.close("2026-01", AUDIT, inputs_now=now)
    assert done.changed == (
        "data/adjustments.csv is new",
        f"data/transactions.csv changed (sha256 {sha('t')[:12]} at run, {sha('t2')[:12]} now)",
    )
    assert done.run.fingerprint == result.fingerprint
    assert done.run.close_fingerprint not in (None, result.fingerprint)
    at_close = {f.path: f.sha256 for f in ledger.inputs(run_id, "close")}
    assert at_close["data/transactions.csv"] == sha("t2")
    assert {f.path: f.sha256 for f in ledger.inputs(run_id)}["data/transactions.csv"] == sha("t")
    assert ledger.history()["note"].tolist()[-1].startswith("inputs changed since the run: ")
    # the closed run's lines are what was reviewed
    assert ledger.lines("2026-01")["amount"].tolist() == [10_00]


def test_bulk_line_periods_round_trip(ledger):
    n = 25_000  # more than two insert chunks
    lines = [(f"R{i:05d}", "nb", "component", "2026", i, 0) for i in range(n)]
    run_id = ledger.commit_run(make_result("2026-01", lines), AUDIT)
    lp = ledger.line_periods("2026-01")
    assert len(lp) == n and int(lp["amount"].sum()) == n * (n - 1) // 2
    assert ledger.lines("2026-01", run_id)["rep_id"].tolist()[:3] == ["R00000", "R00001", "R00002"]
    ledger.close("2026-01", AUDIT)
    assert int(prior_of(ledger, "2026-02").paid["amount"].sum()) == n * (n - 1) // 2


def test_newer_schema_version_is_refused(ledger_url):
    led = Ledger(ledger_url)
    led.commit_run(make_result("2026-01", [("A", "nb", "component", "2026", 1_00, 0)]), AUDIT)
    with led.engine.begin() as conn:
        conn.execute(sa.text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION + 1})
    led.dispose()
    with pytest.raises(IcmError, match=rf"written by a newer icm \(ledger schema version "
                       rf"{SCHEMA_VERSION + 1}; this icm reads up to {SCHEMA_VERSION}\)"):
        Ledger(ledger_url).history()


def test_corrupt_sqlite_file_is_a_clear_error(tmp_path):
    path = tmp_path / "icm.db"
    path.write_bytes(b"this is not a database, it is a spreadsheet someone saved over it" * 100)
    with pytest.raises(IcmError,
                       match=r"is not a readable SQLite database \(file is not a database\)"):
        Ledger(f"sqlite:///{path}").history()


def test_read_only_use_creates_no_sqlite_file(tmp_path):
    led = Ledger(f"sqlite:///{tmp_path / 'icm.db'}")
    assert prior_of(led, "2026-01").closed_months == frozenset()
    led.check_can_run("2026-01")
    assert led.history().empty and led.runs() == []
    assert not (tmp_path / "icm.db").exists()


def test_postgres_urls_use_psycopg3():
    assert engine_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert engine_url("postgres://h/db") == "postgresql+psycopg://h/db"
    assert engine_url("postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"
    assert engine_url("sqlite:///x.db") == "sqlite:///x.db"


def test_unusable_url_is_a_clear_error():
    with pytest.raises(IcmError, match="ledger URL 'nonsense' is not valid"):
        Ledger("nonsense")
