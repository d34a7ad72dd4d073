"""The demo company: its data, its plans, and the twelve-month cycle end to end.

The year is built once per session (`demo_year` in tests/conftest.py) through
`demo_company.year`, as `icm demo` does; the command's own output is tested on the
cheap paths (refusing a folder).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from compensation import cycle
from compensation.ledger import Ledger
from compensation.ledger_schema import CLOSED
from compensation.planfile import load_plans, load_workspace
from compensation.tables import load_inputs
from demo_company import company as demo
from icm.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def company() -> demo.DemoCompany:
    return demo.generate()


def test_same_seed_same_company(company):
    again = demo.generate()
    for name in ("reps", "transactions", "credits", "quotas", "fx", "adjustments", "accounts"):
        pd.testing.assert_frame_equal(getattr(company, name), getattr(again, name))


def test_company_has_the_story(company):
    reps, txns, credits = company.reps, company.transactions, company.credits
    people = reps.drop_duplicates("rep_id")
    assert 55 <= len(people) <= 70
    assert set(reps["plan"]) == {"ae-2026", "sdr-2026", "csm-2026", "mgr-2026"}
    # VP -> 2 directors -> 4 managers -> reps, in two regions.
    assert people["manager_id"].eq("").sum() == 1
    vp = people.loc[people["manager_id"].eq(""), "rep_id"].item()
    directors = people.loc[people["manager_id"] == vp, "rep_id"]
    assert len(directors) == 2
    assert people.loc[people["manager_id"].isin(directors), "plan"].eq("mgr-2026").sum() == 4
    assert {"EMEA-South", "EMEA-North"} <= set(people["region"])
    assert people["email"].str.fullmatch(r"[a-z.]+@altamira\.example").all()
    assert people["email"].is_unique
    assert (people["locale"] == "it").sum() >= 5
    # The leaver, the promotion (two rows, back to back) and the mid-year hire.
    assert reps.loc[reps["rep_id"] == demo.LEAVER, "end_date"].item() == dt.date(2026, 6, 30)
    promoted = reps[reps["rep_id"] == demo.PROMOTED]
    assert list(promoted["plan"]) == ["sdr-2026", "ae-2026"]
    assert list(promoted["end_date"])[0] == dt.date(2026, 6, 30)
    assert list(promoted["start_date"])[1] == dt.date(2026, 7, 1)
    assert reps.loc[reps["rep_id"] == demo.HIRE, "start_date"].item() == dt.date(2026, 5, 18)
    # A year of transactions: a few thousand, every type, two currencies, unique ids.
    assert 2000 <= len(txns) <= 5000
    assert txns["txn_id"].is_unique
    assert set(txns["type"]) == {"new", "renewal", "expansion", "cancellation"}
    assert set(txns["currency"]) == {"EUR", "GBP"}
    assert pd.to_datetime(txns["date"]).dt.year.eq(2026).all()
    assert list(company.fx["period"]) == [f"2026-{m:02d}" for m in range(1, 13)]
    # Cancellations reverse an earlier deal of the same owner, for minus its amount.
    cancels = txns[txns["type"] == "cancellation"]
    originals = txns.set_index("txn_id").loc[cancels["reverses"]]
    assert (cancels["amount"].to_numpy() == -originals["amount"].to_numpy()).all()
    assert (cancels["rep_id"].to_numpy() == originals["rep_id"].to_numpy()).all()
    lag = (
        (pd.to_datetime(cancels["date"]).to_numpy() - pd.to_datetime(originals["date"]).to_numpy())
        .astype("timedelta64[D]")
        .astype(int)
    )
    assert (lag > 0).all()
    assert (lag > 90).sum() == 1  # the one deliberate notice
    # Splits sum to 1 per deal; overlays come on top.
    split = credits[credits["role"] != "overlay"].groupby("txn_id")["share"].sum()
    assert (split == 1.0).all()
    assert (credits["role"] == "overlay").sum() > 100
    assert (credits["role"] == "split").sum() > 20
    assert len(company.adjustments) == 4 and company.adjustments["reason"].str.len().gt(10).all()


def test_every_component_that_needs_a_quota_has_one(company):
    quotas = company.quotas
    assert (quotas["amount"] > 0).all()
    assert set(quotas["period"]) == {"2026", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"}
    have = set(zip(quotas["rep_id"], quotas["component"], strict=True))
    needed = {
        "ae-2026": ("new_business", "renewals"),
        "sdr-2026": ("sourced_bookings",),
        "csm-2026": ("retention",),
        "mgr-2026": ("team_bookings", "team_retention"),
    }
    for row in company.reps.itertuples(index=False):
        for component in needed[row.plan]:
            assert (row.rep_id, component) in have, (row.rep_id, component)


def test_written_workspace_loads_without_problems(tmp_path):
    demo.write_demo_workspace(tmp_path / "ws")
    ws = load_workspace(tmp_path / "ws")
    plans = load_plans(ws)
    assert sorted(plans.plans) == ["ae-2026", "csm-2026", "mgr-2026", "sdr-2026"]
    _, problems = load_inputs(ws)
    assert problems == []
    result = runner.invoke(app, ["validate", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output


def test_demo_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["demo", str(tmp_path / "taken")])
    assert result.exit_code == 2
    assert "not empty" in result.output
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]


def _cents(series: pd.Series) -> pd.Series:
    return (series.astype(str).str.replace(".", "", regex=False)).astype("int64")


BASELINE = Path(__file__).resolve().parent.parent / "fixtures" / "demo_baseline"


def test_demo_runs_and_closes_the_year(demo_year):
    target, months, _ = demo_year
    year_exc = pd.concat([m.exceptions for m in months]).drop(columns="period").drop_duplicates()
    assert (len(year_exc), int((year_exc["severity"] == "hold").sum())) == (4, 0)
    ws = load_workspace(target)
    ledger = Ledger(ws.ledger_url)
    try:
        runs = [r for r in ledger.runs() if r.status == CLOSED]
        assert [r.period for r in runs] == [f"2026-{m:02d}" for m in range(1, 13)]
        year_total = 0
        for run in runs:
            lines = ledger.lines(run.period)
            assert int(lines["amount"].sum()) == run.total_paid
            settlement = ledger.settlement(run.period).set_index("rep_id")["pay"]
            per_rep = lines.groupby("rep_id")["amount"].sum()
            assert per_rep.astype("int64").to_dict() == settlement.astype("int64").to_dict()
            out = target / "out" / run.period
            payouts = pd.read_csv(out / "payouts.csv", dtype=str, keep_default_na=False)
            assert _cents(payouts["amount"]).sum() == run.total_paid
            payroll = pd.read_csv(out / "payroll.csv", dtype=str, keep_default_na=False)
            amount_col = next(c for c in payroll.columns if c in ("amount", "pay", "net_pay"))
            assert _cents(payroll[amount_col]).sum() == per_rep[per_rep > 0].sum()
            exceptions = pd.read_csv(out / "exceptions.csv", dtype=str, keep_default_na=False)
            assert set(exceptions["severity"]) <= {"notice"}, exceptions
            year_total += run.total_paid
        assert year_total > 0
        # CSMs are paid quarterly: only in the quarter's last month.
        csm = ws.root / "data" / "reps.csv"
        csm_ids = set(pd.read_csv(csm).query("plan == 'csm-2026'")["rep_id"])
        assert not csm_ids & set(ledger.lines("2026-01")["rep_id"])
        assert csm_ids <= set(ledger.lines("2026-03")["rep_id"])
    finally:
        ledger.dispose()
    assert any((target / "out" / "2026-12").glob("*.xlsx"))

    again = runner.invoke(app, ["demo", str(target)])
    assert again.exit_code == 2
    assert "not empty" in again.output


@pytest.mark.parametrize("month", [f"2026-{m:02d}" for m in range(1, 13)])
def test_demo_files_are_byte_identical_to_the_baseline(demo_year, month):
    """Refactoring never changes a figure: the registers match the saved baseline byte for byte."""
    target = demo_year[0]
    for name in ("payouts.csv", "payroll.csv", "exceptions.csv"):
        assert (target / "out" / month / name).read_bytes() == (BASELINE / month / name).read_bytes(), name


def test_year_to_date_counts_earlier_spifs_and_kickers(demo_year):
    """R010 in 2026-12 earned 143,284.05 over the year, a 1,500 Q2 SPIF included (not 141,784.05)."""
    kept = cycle.committed_run(demo_year[0], "2026-12")
    ytd = kept.result.year_to_date.set_index("rep_id").loc["R010"]
    assert (int(ytd["earned"]), int(ytd["paid"]), int(ytd["balance"])) == (143_284_05, 143_284_05, 0)


def test_reps_paid_is_one_figure_everywhere(demo_year):
    """The summary, the run message, history and payroll.csv count the same reps."""
    target, months, _ = demo_year
    history = cycle.history(target)
    runs = history[history["action"] == "run"].set_index("period")["reps_paid"]
    for m in months:
        payroll = pd.read_csv(target / "out" / m.period / "payroll.csv", dtype=str)
        assert m.reps_paid == len(payroll) == int(runs[m.period]), m.period


def test_default_folder_is_icm_demo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "icm-demo").mkdir()
    (tmp_path / "icm-demo" / "x").write_text("")
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 2
    assert "icm-demo" in result.output
    assert Path("icm-demo").exists()


def test_explain_groups_team_credit_and_lists_own_deals_in_date_order(demo_year):
    from compensation.explain import explain_rep

    result = cycle.dry_run(demo_year[0], "2026-12")
    manager = explain_rep(result, "R002").splitlines()
    team = [line for line in manager if line.strip().startswith("team credit via ")]
    assert len(team) >= 20 and len(manager) < 300
    blocks, dates = [], None
    for line in explain_rep(result, "R010").splitlines():
        if line.startswith("  ") and line.rstrip().endswith(":") and not line.startswith("   "):
            dates = []
            blocks.append(dates)
        elif dates is not None and line.startswith("    20"):
            dates.append(line.split()[0])
    assert sum(len(b) for b in blocks) > 10
    assert all(b == sorted(b) for b in blocks)
