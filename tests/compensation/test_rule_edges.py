"""Rule edges with exact figures: SPIF date windows, the clawback window's last day, quotas
summed from shorter periods, a curve past its last point, a fiscal year starting in April,
and a cancellation after a plan change.

Each test writes a small workspace, runs and closes months through the core's cycle and
reads the committed register (money in cents).
"""

from __future__ import annotations

from pathlib import Path

from tests.reference.test_reference import engine_close, engine_register

REPS = "rep_id,name,plan,start_date,end_date\nA01,Ada Rossi,p1,2026-01-01,\n"
FLAT = """id: p1
name: Flat
currency: EUR
components:
  - id: bookings
    commission: {tiers: [{from: 0%, rate: 5%}]}
"""


def workspace(root: Path, plans: dict[str, str], **tables: str) -> Path:
    (root / "plans").mkdir(parents=True)
    (root / "data").mkdir()
    for name, text in plans.items():
        (root / "plans" / f"{name}.yaml").write_text(text)
    tables.setdefault("reps", REPS)
    for name, text in tables.items():
        if name == "icm":
            (root / "icm.yaml").write_text(text)
        else:
            (root / "data" / f"{name}.csv").write_text(text)
    return root


def run(root: Path, month: str) -> dict[tuple[str, str], tuple[int, int | None, int | None]]:
    """(rep_id, line) -> (amount, earned_to_date, paid_to_date) in cents of the month's run."""
    reg = engine_register(root, month)
    return {(r.rep_id, r.line): (int(r.amount), _int(r.earned_to_date), _int(r.paid_to_date))
            for r in reg.itertuples(index=False)}


def exceptions(root: Path, month: str) -> list[tuple[str, str, str]]:
    from compensation import cycle

    result = cycle.dry_run(root, month)
    return [(r.severity, r.table, r.txn_id) for r in result.exceptions.itertuples(index=False)]


def _int(value):
    import pandas as pd

    return None if pd.isna(value) else int(value)


def test_spif_window_counts_its_first_and_last_day_and_not_the_days_around(tmp_path):
    plan = FLAT + ("spifs:\n  - {id: april_spif, where: {product: Platform}, per_transaction: 250,"
                   " from: 2026-04-01, to: 2026-04-30}\n")
    txns = ("txn_id,date,amount,currency,rep_id,type,product\n"
            "T1,2026-03-31,1000.00,EUR,A01,new,Platform\nT2,2026-04-01,1000.00,EUR,A01,new,Platform\n"
            "T3,2026-04-30,1000.00,EUR,A01,new,Platform\nT4,2026-05-01,1000.00,EUR,A01,new,Platform\n"
            "T5,2026-04-15,1000.00,EUR,A01,new,Core\n")
    ws = workspace(tmp_path / "ws", {"p1": plan}, transactions=txns)
    lines = run(ws, "2026-05")
    assert lines[("A01", "april_spif")] == (50000, 50000, 0)  # T2 and T3 only: 2 x 250.00
    assert lines[("A01", "bookings")] == (25000, 25000, 0)  # 5,000 x 5%


def test_clawback_window_includes_its_last_day_and_not_the_day_after(tmp_path):
    plan = FLAT + "clawback: {window_days: 30}\n"
    txns = ("txn_id,date,amount,currency,rep_id,type,reverses\n"
            "T1,2026-01-10,10000.00,EUR,A01,new,\nT2,2026-01-10,10000.00,EUR,A01,new,\n"
            "C1,2026-02-09,-10000.00,EUR,A01,cancellation,T1\n"  # day 30: inside, reverses T1
            "C2,2026-02-10,-10000.00,EUR,A01,cancellation,T2\n")  # day 31: outside, a notice
    ws = workspace(tmp_path / "ws", {"p1": plan}, transactions=txns)
    assert run(ws, "2026-01")[("A01", "bookings")] == (100000, 100000, 0)
    engine_close(ws, "2026-01")
    feb = run(ws, "2026-02")
    assert feb[("A01", "bookings")] == (-50000, 50000, 100000)
    assert feb[("A01", "carry_forward")] == (50000, None, None)
    assert exceptions(ws, "2026-02") == [("notice", "transactions", "C2")]


def test_quota_of_a_quarter_and_a_year_is_the_sum_of_shorter_rows(tmp_path):
    plan = """id: p1
name: Tiers
currency: EUR
components:
  - id: nb
    attainment_period: quarter
    commission: {tiers: [{from: 0%, rate: 5%}, {from: 100%, rate: 8%}]}
  - id: yr
    quota: yr
    attainment_period: year
    commission: {tiers: [{from: 0%, rate: 1%}, {from: 50%, rate: 2%}]}
"""
    quotas = ("rep_id,component,period,amount\nA01,nb,2026-01,30000\nA01,nb,2026-02,30000\nA01,nb,2026-03,40000\n"
              "A01,yr,2026-Q1,50000\nA01,yr,2026-Q2,50000\nA01,yr,2026-Q3,50000\nA01,yr,2026-Q4,70000\n")
    txns = "txn_id,date,amount,currency,rep_id,type\nT1,2026-02-10,110000.00,EUR,A01,new\n"
    ws = workspace(tmp_path / "ws", {"p1": plan}, transactions=txns, quotas=quotas)
    lines = run(ws, "2026-03")
    assert lines[("A01", "nb")] == (880000, 880000, 0)  # Q1 quota 100,000: 110% -> 8% of 110,000
    assert lines[("A01", "yr")] == (220000, 220000, 0)  # year quota 220,000: 50% reaches 2% on 110,000
    reg = engine_register(ws, "2026-03")
    row = reg[reg["line"] == "yr"].iloc[0]
    assert (int(row["quota"]), round(float(row["attainment"]), 6)) == (22000000, 0.5)


def test_curve_past_its_last_point_without_cap_continues_the_last_slope(tmp_path):
    plan = """id: p1
name: Curve
currency: EUR
target_incentive: 60000
components:
  - id: pipeline
    attainment_period: month
    payout_curve:
      weight: 100%
      points: [[0%, 0%], [100%, 100%], [150%, 200%]]
"""
    quotas = "rep_id,component,period,amount\nA01,pipeline,2026,120000\n"  # 10,000 a month
    txns = "txn_id,date,amount,currency,rep_id,type\nT1,2026-03-10,25000.00,EUR,A01,new\n"
    ws = workspace(tmp_path / "ws", {"p1": plan}, transactions=txns, quotas=quotas)
    # 250%: 200% + (250% - 150%) x 2 = 400% of the month's target 5,000 = 20,000.00
    assert run(ws, "2026-03")[("A01", "pipeline")] == (2000000, 2000000, 0)


def test_fiscal_year_from_april_trues_up_to_march_and_starts_afresh_in_april(tmp_path):
    plan = """id: p1
name: Fiscal
currency: EUR
components:
  - id: nb
    attainment_period: year
    commission: {tiers: [{from: 0%, rate: 5%}, {from: 100%, rate: 8%}]}
  - id: q
    attainment_period: quarter
    commission: {tiers: [{from: 0%, rate: 1%}]}
bonuses:
  - {id: q_kicker, component: nb, min_attainment: 30%, per: quarter, amount: 1000}
"""
    quotas = "rep_id,component,period,amount\nA01,nb,2026,100000\nA01,nb,2027,100000\n"
    txns = ("txn_id,date,amount,currency,rep_id,type\nT0,2025-04-20,40000.00,EUR,A01,new\n"
            "T1,2026-02-10,50000.00,EUR,A01,new\nT2,2026-03-05,20000.00,EUR,A01,new\n"
            "T3,2026-04-15,30000.00,EUR,A01,new\n")
    ws = workspace(tmp_path / "ws", {"p1": plan}, transactions=txns, quotas=quotas,
                   icm="fiscal_year_start: 4\n", reps=REPS.replace("2026-01-01", "2025-04-01"))
    feb = run(ws, "2026-02")  # FY2026 = 2025-04..2026-03; 2026-Q4 = Jan..Mar 2026
    assert feb[("A01", "nb")] == (450000, 450000, 0)  # 90,000 = 90% -> 5%
    assert feb[("A01", "q")] == (90000, 90000, 0)  # 2026-Q1 (Apr-Jun 2025) 400.00 + 2026-Q4 500.00
    # quarter quota 25,000 (the year's / 4): 2026-Q1 at 160% and 2026-Q4 at 200% each earn it
    assert feb[("A01", "q_kicker")] == (200000, 200000, 0)
    engine_close(ws, "2026-02")
    mar = run(ws, "2026-03")
    assert mar[("A01", "nb")] == (430000, 880000, 450000)  # 110,000 = 110% -> 8%: 8,800 - 4,500
    assert mar[("A01", "q")] == (20000, 110000, 90000)
    assert mar.get(("A01", "q_kicker"), (0,))[0] == 0  # already earned in both quarters (a 0 row may be left out)
    engine_close(ws, "2026-03")
    apr = run(ws, "2026-04")  # FY2027 begins: only its periods are recomputed
    assert apr[("A01", "nb")] == (150000, 150000, 0)  # 30,000 of 100,000 -> 5%
    assert apr[("A01", "q")] == (30000, 30000, 0)
    assert apr[("A01", "q_kicker")] == (100000, 100000, 0)  # 2027-Q1: 30,000 of 25,000


def test_cancellation_after_a_plan_change_reverses_the_original_plans_lines(tmp_path):
    old = FLAT.replace("rate: 5%", "rate: 10%").replace("bookings", "old_c") + (
        "spifs:\n  - {id: old_spif, where: {product: Platform}, per_transaction: 100}\n")
    new = FLAT.replace("id: p1", "id: p2").replace("bookings", "new_c") + (
        "spifs:\n  - {id: new_spif, where: {product: Platform}, per_transaction: 300}\n")
    reps = ("rep_id,name,plan,start_date,end_date\nA01,Ada Rossi,p1,2026-01-01,2026-02-28\n"
            "A01,Ada Rossi,p2,2026-03-01,\n")
    txns = ("txn_id,date,amount,currency,rep_id,type,product,reverses\n"
            "T1,2026-02-10,10000.00,EUR,A01,new,Platform,\n"
            "C1,2026-03-10,-10000.00,EUR,A01,cancellation,Platform,T1\n")
    ws = workspace(tmp_path / "ws", {"p1": old, "p2": new}, reps=reps, transactions=txns)
    feb = run(ws, "2026-02")
    assert (feb[("A01", "old_c")], feb[("A01", "old_spif")]) == ((100000, 100000, 0), (10000, 10000, 0))
    engine_close(ws, "2026-02")
    mar = run(ws, "2026-03")
    assert mar.get(("A01", "old_c")) == (-100000, 0, 100000)  # engine: old_c untouched (no row)
    assert mar.get(("A01", "old_spif")) == (-10000, 0, 10000)
    assert mar.get(("A01", "new_c"), (0, 0, 0))[0] == 0  # engine: -500.00 on the new plan
    assert mar.get(("A01", "new_spif"), (0, 0, 0))[0] == 0  # engine: -300.00, a SPIF never earned
    assert mar[("A01", "carry_forward")] == (110000, None, None)


def test_curve_target_counts_a_later_row_of_the_period_already_in_reps(tmp_path):
    plan = """id: csm
name: CSM
currency: EUR
target_incentive: 50000
components:
  - id: renewals
    attainment_period: quarter
    payout_curve:
      weight: 40%
      points: [[0%, 0%], [100%, 100%], [150%, 200%]]
"""
    reps = ("rep_id,name,plan,start_date,end_date,target_incentive\nA01,Ada Rossi,csm,2026-01-01,2026-05-20,\n"
            "A01,Ada Rossi,csm,2026-05-21,,80000\n")
    quotas = "rep_id,component,period,amount\nA01,renewals,2026,400000\n"
    txns = "txn_id,date,amount,currency,rep_id,type\nT1,2026-04-10,60000.00,EUR,A01,renewal\n"
    ws = workspace(tmp_path / "ws", {"csm": plan}, reps=reps, transactions=txns, quotas=quotas)
    # Q2 target = 578,000 / 91 (docs/effective-dating.md); 60% attainment pays 60% of it
    assert run(ws, "2026-04")[("A01", "renewals")] == (381099, 381099, 0)
