import functools

import numpy as np
import pandas as pd
import pytest
import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from compensation.planfile import load_workspace
from compensation.tables import read_table
from icm.territory_commands import register

runner = CliRunner()


@pytest.fixture
def app():
    from compensation.errors import IcmError

    app = typer.Typer()
    register(app)

    # the lead's icm/cli.py turns IcmError into exit 2; do the same here
    for command in app.registered_commands:
        inner = command.callback

        @functools.wraps(inner)
        def wrapped(*args, _inner=inner, **kwargs):
            try:
                return _inner(*args, **kwargs)
            except IcmError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None

        command.callback = wrapped
    return app


@pytest.fixture
def ws(tmp_path):
    rng = np.random.default_rng(5)
    n = 24
    (tmp_path / "data").mkdir()
    (tmp_path / "plans").mkdir()
    pd.DataFrame({
        "account_id": [f"AC{i:02d}" for i in range(n)],
        "potential": rng.integers(10, 60, n) * 1000,
        "region": ["N", "S"] * (n // 2),
        "lat": rng.uniform(44, 46, n).round(4), "lon": rng.uniform(8, 12, n).round(4),
        "rep_id": ["N1", "S1"] * (n // 2),
        "last_year": rng.integers(5, 40, n) * 1000,
        "locked": [""] * n,
    }).to_csv(tmp_path / "data" / "accounts.csv", index=False)
    pd.DataFrame({"rep_id": ["N1", "N2", "S1", "S2"], "name": list("abcd"), "plan": "ae",
                  "start_date": ["2024-01-01"] * 3 + ["2027-05-02"],
                  "region": ["N", "N", "S", "S"],
                  # N1 and S1 have no home: the centroid of their accounts is used
                  "lat": ["", 45.5, "", 44.5], "lon": ["", 9.0, "", 11.0],
                  }).to_csv(tmp_path / "data" / "reps.csv", index=False)
    (tmp_path / "plans" / "fair.yaml").write_text(
        "alignment:\n  balance: {potential: 25%}\n  same_region: true\n")
    (tmp_path / "plans" / "near.yaml").write_text(
        "alignment:\n  balance: {potential: 40%}\n  same_region: true\n  objective: distance\n")
    (tmp_path / "plans" / "tight.yaml").write_text(
        "alignment:\n  balance: {potential: 1%}\n  same_region: true\n  max_moved: 1%\n")
    (tmp_path / "plans" / "q.yaml").write_text(
        "quotas:\n  year: 2027\n  target: 1000000\n  over_assignment: 10%\n"
        "  components: {new_business: 70%, renewals: 30%}\n"
        "  seasonality: {Q1: 20%, Q2: 25%, Q3: 25%, Q4: 30%}\n  ramp: [25%, 50%, 75%]\n")
    return tmp_path


def test_align_writes_every_output(app, ws):
    result = runner.invoke(app, ["align", str(ws), "--scenario", "plans/fair.yaml"])
    assert result.exit_code == 0, result.output
    out = ws / "out" / "alignment"
    a = pd.read_csv(out / "assignments.csv", dtype=str)
    assert list(a.columns)[:3] == ["account_id", "rep_id", "moved"]  # SPEC columns first
    assert set(a["moved"]) <= {"true", "false"} and len(a) == 24
    t = pd.read_csv(out / "territories.csv")
    assert list(t.columns)[:5] == ["rep_id", "accounts", "potential", "workload", "deviation"]
    assert t["accounts"].sum() == 24 and (t["deviation"].abs() <= 0.25 + 1e-6).all()
    wb = load_workbook(out / "alignment.xlsx")
    assert wb.sheetnames == ["Summary", "Reps", "Moved accounts", "Before and after"]
    assert (out / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "status" in result.output and "optimal" in result.output


def test_several_scenarios_are_compared(app, ws):
    result = runner.invoke(app, ["align", str(ws), "-s", "plans/fair.yaml",
                                 "-s", "plans/near.yaml"])
    assert result.exit_code == 0, result.output
    out = ws / "out" / "alignment"
    assert (out / "fair" / "assignments.csv").is_file()
    assert (out / "near" / "territories.csv").is_file()
    compare = pd.read_csv(out / "compare.csv")
    assert compare["scenario"].tolist() == ["fair", "near"]
    assert compare.loc[1, "mean_km"] <= compare.loc[0, "mean_km"]
    assert "Scenarios side by side" in result.output


def test_infeasible_exits_2_with_the_reason(app, ws):
    result = runner.invoke(app, ["align", str(ws), "--scenario", "plans/tight.yaml"])
    assert result.exit_code == 2
    assert "is infeasible" in result.output


def test_quotas_round_trip_into_the_quotas_table(app, ws):
    assert runner.invoke(app, ["align", str(ws), "-s", "plans/fair.yaml"]).exit_code == 0
    result = runner.invoke(app, ["quotas", str(ws), "--scenario", "plans/q.yaml"])
    assert result.exit_code == 0, result.output
    text = (ws / "out" / "quotas" / "quotas.csv").read_text()
    (ws / "data" / "quotas.csv").write_text(text)
    table, problems, _ = read_table(load_workspace(ws), "quotas")
    assert problems == []
    assert round(table["amount"].sum(), 2) == 1_100_000.00
    assert set(table["period"]) == {"2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"}
    assert all(len(a.split(".")[1]) == 2 for a in text.splitlines()[1:] for a in [a.split(",")[3]])
    # S2 starts in May 2027: no Q1 quota rows
    s2 = table[table["rep_id"] == "S2"]
    assert "2027-Q1" not in set(s2["period"]) and len(s2) == 6
    assert "accounts owned per" in result.output


def test_bad_scenario_file_exits_2(app, ws):
    (ws / "plans" / "bad.yaml").write_text("alignment:\n  objective: fastest\n")
    result = runner.invoke(app, ["align", str(ws), "-s", "plans/bad.yaml"])
    assert result.exit_code == 2
    assert "plans/bad.yaml:2: 'fastest' is not allowed for 'objective' in alignment" in result.output


def test_bad_account_rows_stop_align(app, ws):
    path = ws / "data" / "accounts.csv"
    frame = pd.read_csv(path)
    frame.loc[1, "potential"] = -5
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["align", str(ws), "-s", "plans/fair.yaml"])
    assert result.exit_code == 2
    assert "data/accounts.csv:3: " in result.output and "potential" in result.output


def test_quotas_file_feeds_icm_run(app, ws):
    from icm.cli import app as icm_app

    assert runner.invoke(app, ["quotas", str(ws), "-s", "plans/q.yaml"]).exit_code == 0
    quotas = (ws / "out" / "quotas" / "quotas.csv").read_text()
    (ws / "data" / "quotas.csv").write_text(quotas)
    (ws / "plans" / "ae.yaml").write_text(
        "id: ae\nname: AE\ncurrency: EUR\neffective: {from: 2024-01-01, to: 2027-12-31}\n"
        "components:\n"
        "  - id: new_business\n    attainment_period: quarter\n"
        "    commission: {tiers: [{from: 0%, rate: 5%}, {from: 100%, rate: 8%}]}\n"
        "  - id: renewals\n    attainment_period: quarter\n"
        "    commission: {tiers: [{from: 0%, rate: 2%}, {from: 100%, rate: 3%}]}\n")
    pd.DataFrame({"txn_id": ["T1"], "date": ["2027-01-15"], "amount": [1000],
                  "rep_id": ["N1"], "type": ["new"]}).to_csv(ws / "data" / "transactions.csv",
                                                              index=False)
    result = runner.invoke(icm_app, ["run", str(ws), "--period", "2027-01"])
    assert result.exit_code == 0, result.output
    payouts = pd.read_csv(ws / "out" / "2027-01" / "payouts.csv", dtype=str)
    row = payouts[(payouts["rep_id"] == "N1") & (payouts["line"] == "new_business")].iloc[0]
    q = pd.read_csv(ws / "out" / "quotas" / "quotas.csv", dtype=str)
    expected = q[(q["rep_id"] == "N1") & (q["component"] == "new_business")
                 & (q["period"] == "2027-Q1")]["amount"].iloc[0]
    assert row["quota"] == expected
