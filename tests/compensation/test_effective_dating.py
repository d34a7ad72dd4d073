"""Effective-dated `reps` rows (SPEC section 3; rules 1, 5, 8, 9, 12) through `compensation.cycle`.

A rep may have several `reps` rows: a plan change, a manager change, a new target
incentive, a leaver (end_date) and a rehire (a second row after a gap). Each test
writes a small workspace in tmp_path, runs and closes months with `compensation.cycle`, and reads
`out/P/payouts.csv` and `out/P/exceptions.csv`. Every figure is worked out by hand from
the SPEC rules in the comments beside it.
"""

from __future__ import annotations

import re
from pathlib import Path

from compensation import cycle
from tests.compensation.test_rules import (
    amounts,
    close,
    exceptions,
    holds,
    plan,
    register,
    reps_csv,
    row,
    run,
    txns_csv,
    write_ws,
)

REPS_TI = "rep_id,name,plan,start_date,end_date,target_incentive"
REPS_MGR = "rep_id,name,plan,start_date,end_date,manager_id"
TXNS_REV = "txn_id,date,amount,currency,rep_id,type,reverses"


def figures(ws: Path, period: str, rep_id: str, line: str) -> tuple[str, ...]:
    """credited, quota, attainment, earned_to_date, paid_to_date, amount of one register row."""
    r = row(ws, period, rep_id, line)
    return tuple(r[c] for c in ("credited", "quota", "attainment", "earned_to_date", "paid_to_date", "amount"))


def notices(ws: Path, period: str) -> list[tuple[str, str, str]]:
    return [(e["table"], e["txn_id"], e["rep_id"]) for e in exceptions(ws, period) if e["severity"] == "notice"]


# ----------------------------------------------------------------------- 1. plan change

# Both plans pay `nb` on new business against the annual quota (same tiers), so the
# line's attainment keeps accumulating over the year across the plan change. Renewals
# pay `legacy` on the H1 plan and `renewals` on the H2 plan: which one a renewal pays
# shows which assignment it credited.
PLAN_H1 = plan(
    "ae-h1",
    """
    - id: nb
      measure: {where: {type: new}}
      commission: {tiers: [{from: 0%, rate: 5%}, {from: 100%, rate: 8%}]}
    - id: legacy
      measure: {where: {type: renewal}}
      attainment_period: month
      commission: {tiers: [{from: 0%, rate: 2%}]}
""",
    "draw: {amount: 1000, recoverable: true, periods: 1}",
)
PLAN_H2 = plan(
    "ae-h2",
    """
    - id: nb
      measure: {where: {type: new}}
      commission: {tiers: [{from: 0%, rate: 5%}, {from: 100%, rate: 8%}]}
    - id: renewals
      measure: {where: {type: renewal}}
      attainment_period: month
      commission: {tiers: [{from: 0%, rate: 3%}]}
""",
    "draw: {amount: 1500, recoverable: true, periods: 1}",
)


def test_plan_change_credits_by_date_accumulates_lines_and_restarts_the_draw_only_on_a_new_plan(tmp_path):
    ws = write_ws(
        tmp_path,
        {"h1": PLAN_H1, "h2": PLAN_H2},
        reps=reps_csv(
            "A01,Ada,ae-h1,2026-01-01,2026-03-31,50000",
            "A01,Ada,ae-h2,2026-04-01,2026-04-30,60000",  # plan change: the draw restarts
            "A01,Ada,ae-h2,2026-05-01,,70000",  # target change only: the draw does not
            header=REPS_TI,
        ),
        transactions=txns_csv(
            "T1,2026-01-20,10000,EUR,A01,new",
            "T2,2026-03-10,40000,EUR,A01,new",
            "R1,2026-03-31,10000,EUR,A01,renewal",  # last day of ae-h1
            "R2,2026-04-01,10000,EUR,A01,renewal",  # first day of ae-h2
            "T3,2026-06-15,60000,EUR,A01,new",
        ),
        quotas="rep_id,component,period,amount\nA01,nb,2026,100000",
    )
    # January (ae-h1's draw, 1 period): nb 10,000 x 5% = 500; pay max(500, 1,000) = 1,000:
    # draw line 500, balance owed 500.
    run(ws, "2026-01")
    assert amounts(ws, "2026-01") == {("A01", "nb"): "500.00", ("A01", "legacy"): "0.00", ("A01", "draw"): "500.00"}
    close(ws, "2026-01")
    # March (February is skipped; the draw is over): nb YTD 50,000 x 5% = 2,500 - 500 paid =
    # 2,000; R1, dated in ae-h1, pays legacy 10,000 x 2% = 200; net 2,200 - 500 = 1,700, paid.
    run(ws, "2026-03")
    assert amounts(ws, "2026-03") == {
        ("A01", "nb"): "2000.00", ("A01", "legacy"): "200.00", ("A01", "recovery"): "-500.00"}
    close(ws, "2026-03")
    # April (ae-h2: a new plan id, so its draw starts): nb earned 2,500, paid 2,500; R2, dated
    # in ae-h2, pays renewals 10,000 x 3% = 300 (legacy has nothing left to pay: no row);
    # pay max(300, 1,500) = 1,500: draw line 1,200, balance owed 1,200. Without the restart
    # the draw would have ended in January and April would pay 300.
    run(ws, "2026-04")
    assert amounts(ws, "2026-04") == {
        ("A01", "nb"): "0.00", ("A01", "renewals"): "300.00", ("A01", "draw"): "1200.00"}
    assert figures(ws, "2026-04", "A01", "nb") == ("50000.00", "100000.00", "0.500000", "2500.00", "2500.00", "0.00")
    close(ws, "2026-04")
    # May (a new target incentive on the same plan): the draw's one period was April, so no
    # floor: net 0 - 1,200 = -1,200, pay 0, carry_forward 1,200 (a restart would pay 1,500).
    run(ws, "2026-05")
    assert amounts(ws, "2026-05") == {
        ("A01", "nb"): "0.00", ("A01", "renewals"): "0.00", ("A01", "recovery"): "-1200.00",
        ("A01", "carry_forward"): "1200.00"}
    close(ws, "2026-05")
    # June: nb YTD 50,000 + 60,000 = 110,000 = 110% of the annual quota, across both plans:
    # 110,000 x 8% = 8,800 - 2,500 paid = 6,300; net 6,300 - 1,200 = 5,100, paid.
    run(ws, "2026-06")
    assert amounts(ws, "2026-06") == {
        ("A01", "nb"): "6300.00", ("A01", "renewals"): "0.00", ("A01", "recovery"): "-1200.00"}
    assert figures(ws, "2026-06", "A01", "nb") == (
        "110000.00", "100000.00", "1.100000", "8800.00", "2500.00", "6300.00")


# ---------------------------------------------------------------------- 2. manager change

FLAT = plan(
    "flat",
    """
    - id: bookings
      commission: {tiers: [{from: 0%, rate: 5%}]}
""",
)
TEAM = plan(
    "team",
    """
    - id: team_bookings
      measure: {credit: team}
      commission: {tiers: [{from: 0%, rate: 1%}]}
""",
)


def test_manager_change_moves_team_credit_on_the_change_date(tmp_path):
    ws = write_ws(
        tmp_path,
        {"flat": FLAT, "team": TEAM},
        reps=reps_csv(
            "M01,Marco,team,2026-01-01,,",
            "N01,Nina,team,2026-01-01,,",
            "A01,Ada,flat,2026-01-01,2026-03-15,M01",
            "A01,Ada,flat,2026-03-16,,N01",
            header=REPS_MGR,
        ),
        transactions=txns_csv(
            "T1,2026-02-10,100000,EUR,A01,new",
            "T2,2026-03-15,20000,EUR,A01,new",  # last day under M01
            "T3,2026-03-16,30000,EUR,A01,new",  # first day under N01
        ),
    )
    # February: A01 100,000 x 5% = 5,000; M01's team 100,000 x 1% = 1,000; N01 nothing yet.
    run(ws, "2026-02")
    assert amounts(ws, "2026-02") == {
        ("A01", "bookings"): "5000.00", ("M01", "team_bookings"): "1000.00", ("N01", "team_bookings"): "0.00"}
    close(ws, "2026-02")
    # March: A01's own line runs on across the change: 150,000 x 5% = 7,500 - 5,000 = 2,500.
    # M01 keeps T1 and gets T2: 120,000 x 1% = 1,200 - 1,000 = 200. N01 gets only T3:
    # 30,000 x 1% = 300.
    run(ws, "2026-03")
    assert figures(ws, "2026-03", "A01", "bookings") == ("150000.00", "", "", "7500.00", "5000.00", "2500.00")
    assert figures(ws, "2026-03", "M01", "team_bookings") == ("120000.00", "", "", "1200.00", "1000.00", "200.00")
    assert figures(ws, "2026-03", "N01", "team_bookings") == ("30000.00", "", "", "300.00", "0.00", "300.00")
    assert exceptions(ws, "2026-03") == []


# ------------------------------------------------------------------ 3. target change

CSM = plan(
    "csm",
    """
    - id: renewals
      attainment_period: quarter
      payout_curve: {weight: 40%, points: [[0%, 0%], [100%, 100%], [150%, 200%]]}
""",
    "target_incentive: 50000",
)


def test_target_change_mid_quarter_sums_each_assignments_prorated_target(tmp_path):
    ws = write_ws(
        tmp_path,
        {"csm": CSM},
        reps=reps_csv("A01,Ada,csm,2026-01-01,2026-05-20,", "A01,Ada,csm,2026-05-21,,80000", header=REPS_TI),
        transactions=txns_csv(
            "T1,2026-02-10,100000,EUR,A01,renewal",
            "T2,2026-04-10,60000,EUR,A01,renewal",
            "T3,2026-06-10,60000,EUR,A01,renewal",
        ),
        quotas="rep_id,component,period,amount\nA01,renewals,2026-Q1,100000\nA01,renewals,2026-Q2,100000",
    )
    # Q1 (plan default TI 50,000 all quarter): 50,000 x 40% x 1/4 = 5,000 at 100% = 5,000.
    run(ws, "2026-03")
    assert figures(ws, "2026-03", "A01", "renewals") == (
        "100000.00", "100000.00", "1.000000", "5000.00", "0.00", "5000.00")
    close(ws, "2026-03")
    # Q2 has 91 days: TI 50,000 from 04-01 to 05-20 (50 days), 80,000 from 05-21 (41 days).
    # Target = 50,000 x 40% x 1/4 x 50/91 + 80,000 x 40% x 1/4 x 41/91 = 578,000 / 91
    # = 6,351.648... (the whole quarter's target, known already in May).
    # May: 60,000 / 100,000 = 60% -> curve 60%: 578,000 x 0.6 / 91 = 3,810.989 -> 3,810.99.
    # earned_to_date adds Q1 (5,000) and Q2; paid_to_date is Q1's 5,000.
    run(ws, "2026-05")
    assert figures(ws, "2026-05", "A01", "renewals") == (
        "60000.00", "100000.00", "0.600000", "8810.99", "5000.00", "3810.99")
    close(ws, "2026-05")
    # June: 120,000 / 100,000 = 120% -> curve 100% + 20% x 2 = 140%:
    # 578,000 x 1.4 / 91 = 8,892.307... -> 8,892.31; minus May's 3,810.99 = 5,081.32.
    run(ws, "2026-06")
    assert figures(ws, "2026-06", "A01", "renewals") == (
        "120000.00", "100000.00", "1.200000", "13892.31", "8810.99", "5081.32")


# --------------------------------------------------------------------------- 4. leaver

LEAVER_PLAN = plan(
    "ae",
    """
    - id: bookings
      measure: {where: {type: new}}
      commission: {tiers: [{from: 0%, rate: 5%}]}
    - id: renewals
      measure: {where: {type: renewal}}
      attainment_period: quarter
      payout_curve: {weight: 50%, points: [[0%, 0%], [100%, 100%], [200%, 200%]]}
""",
    "target_incentive: 60000\nclawback: {window_days: 30}",
)


def _leaver(tmp_path: Path, *txns: str) -> Path:
    return write_ws(
        tmp_path,
        {"ae": LEAVER_PLAN},
        reps=reps_csv("A01,Ada,ae,2026-04-01,2026-05-20", "B01,Bruno,ae,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-04-10,100000,EUR,A01,renewal,",
            "T2,2026-05-05,20000,EUR,A01,new,",
            "T3,2026-05-25,30000,EUR,A01,new,",  # after A01's end date: credits nothing
            "TB,2026-05-10,10000,EUR,B01,new,",
            *txns,
            header=TXNS_REV,
        ),
        quotas="rep_id,component,period,amount\nA01,renewals,2026-Q2,100000\nB01,renewals,2026,400000",
    )


def test_leaver_gets_a_prorated_target_and_lines_only_when_money_moves(tmp_path):
    # C1 on 2026-06-10 is 36 days after T2 (2026-05-05): outside the 30-day window.
    ws = _leaver(tmp_path, "C1,2026-06-10,-20000,EUR,A01,cancellation,T2")
    # May: A01 is assigned 04-01..05-20, 50 of Q2's 91 days: target 60,000 x 50% x 1/4 x 50/91
    # = 375,000 / 91 = 4,120.879 -> at 100% attainment 4,120.88. bookings 20,000 x 5% = 1,000
    # (T3 of 05-25 is after the end date: a notice). B01: 10,000 x 5% = 500; renewals 0 of a
    # 100,000 quarter quota (annual 400,000 / 4).
    run(ws, "2026-05")
    assert figures(ws, "2026-05", "A01", "renewals") == (
        "100000.00", "100000.00", "1.000000", "4120.88", "0.00", "4120.88")
    assert amounts(ws, "2026-05") == {
        ("A01", "bookings"): "1000.00", ("A01", "renewals"): "4120.88",
        ("B01", "bookings"): "500.00", ("B01", "renewals"): "0.00"}
    assert notices(ws, "2026-05") == [("transactions", "T3", "A01")]
    assert holds(ws, "2026-05") == []
    close(ws, "2026-05")
    # June: nothing moves for A01, who is no longer assigned (C1 is outside the clawback
    # window: a notice, it credits nothing): no lines at all.
    run(ws, "2026-06")
    assert {r["rep_id"] for r in register(ws, "2026-06")} == {"B01"}
    assert notices(ws, "2026-06") == [("transactions", "T3", "A01"), ("transactions", "C1", "A01")]
    close(ws, "2026-06")
    # July: a late deal dated 2026-05-15, inside her assignment, moves money: bookings
    # (20,000 + 10,000) x 5% = 1,500 - 1,000 paid = 500. renewals is unchanged (Q2 earned and
    # paid 4,120.88) and has no Q3 figures, as A01 is not assigned in Q3.
    with (ws / "data" / "transactions.csv").open("a") as handle:
        handle.write("T4,2026-05-15,10000,EUR,A01,new,\n")
    run(ws, "2026-07")
    assert amounts(ws, "2026-07") == {
        ("A01", "bookings"): "500.00", ("A01", "renewals"): "0.00",
        ("B01", "bookings"): "0.00", ("B01", "renewals"): "0.00"}
    assert figures(ws, "2026-07", "A01", "renewals") == ("", "", "", "4120.88", "4120.88", "0.00")


def test_leaver_is_clawed_back_by_a_cancellation_inside_the_window(tmp_path):
    """SPEC rule 2: a cancellation credits the original's reps, on its own date, within the window.

    Money moves after A01 left, so A01 gets lines again: T2 (paid 1,000 in May) is cancelled on
    2026-06-01, 27 days later. bookings: year 2026 credited 20,000 - 20,000 = 0, earned 0 -
    1,000 paid = -1,000; renewals unchanged (Q2 earned 4,120.88, paid 4,120.88: a 0.00 row).
    net -1,000, no draw: pay 0, carry_forward +1,000, and A01 owes 1,000 (recovered from any
    later pay, e.g. after a rehire).
    """
    ws = _leaver(tmp_path, "C2,2026-06-01,-20000,EUR,A01,cancellation,T2")
    run(ws, "2026-05")
    close(ws, "2026-05")
    run(ws, "2026-06")
    assert amounts(ws, "2026-06") == {
        ("A01", "bookings"): "-1000.00", ("A01", "renewals"): "0.00", ("A01", "carry_forward"): "1000.00",
        ("B01", "bookings"): "0.00", ("B01", "renewals"): "0.00"}
    assert figures(ws, "2026-06", "A01", "bookings") == ("0.00", "", "", "0.00", "1000.00", "-1000.00")
    assert notices(ws, "2026-06") == [("transactions", "T3", "A01")]


# --------------------------------------------------------------------------- 5. rehire

TIERED = plan(
    "ae",
    """
    - id: nb
      commission: {tiers: [{from: 0%, rate: 5%}, {from: 100%, rate: 8%}]}
""",
)


def test_rehire_is_paid_from_the_new_start_and_the_gap_credits_nothing(tmp_path):
    ws = write_ws(
        tmp_path,
        {"ae": TIERED},
        reps=reps_csv(
            "A01,Ada,ae,2026-01-01,2026-03-31",
            "A01,Ada,ae,2026-06-01,",  # back after two months away
            "B01,Bruno,ae,2026-01-01,",
        ),
        transactions=txns_csv(
            "T1,2026-02-10,60000,EUR,A01,new",
            "T2,2026-04-15,30000,EUR,A01,new",  # in the gap: credits nothing
            "T3,2026-06-01,50000,EUR,A01,new",  # the day A01 is back
            "TB,2026-02-10,10000,EUR,B01,new",
        ),
        quotas="rep_id,component,period,amount\nA01,nb,2026,100000\nB01,nb,2026,100000",
    )
    # February: A01 60,000 / 100,000 = 60% -> 5%: 3,000. B01 10,000 x 5% = 500.
    run(ws, "2026-02")
    assert amounts(ws, "2026-02") == {("A01", "nb"): "3000.00", ("B01", "nb"): "500.00"}
    close(ws, "2026-02")
    # April: A01 is away and nothing moves: no lines; T2 is a notice that holds nobody.
    run(ws, "2026-04")
    assert amounts(ws, "2026-04") == {("B01", "nb"): "0.00"}
    assert notices(ws, "2026-04") == [("transactions", "T2", "A01")]
    assert holds(ws, "2026-04") == []
    close(ws, "2026-04")
    # June: the year's line runs on across both assignments, T2 left out: 60,000 + 50,000 =
    # 110,000 = 110% -> 8% on all: 8,800 - 3,000 paid = 5,800 (with T2, 140,000 would give 11,200).
    run(ws, "2026-06")
    assert figures(ws, "2026-06", "A01", "nb") == (
        "110000.00", "100000.00", "1.100000", "8800.00", "3000.00", "5800.00")
    assert notices(ws, "2026-06") == [("transactions", "T2", "A01")]


# --------------------------------------------------------------------- 6. overlapping rows


def test_overlapping_rows_hold_the_rep_and_strict_writes_nothing(tmp_path):
    ws = write_ws(
        tmp_path,
        {"flat": FLAT},
        reps=reps_csv(
            "A01,Ada,flat,2026-01-01,2026-06-30",
            "B01,Bruno,flat,2026-01-01,",
            "A01,Ada,flat,2026-06-30,",  # starts on the last day of row 2: one day of overlap
        ),
        transactions=txns_csv("T1,2026-01-10,1000,EUR,A01,new", "T2,2026-01-10,2000,EUR,B01,new"),
    )
    result = run(ws, "2026-01", "--strict", code=2)
    assert "Traceback" not in result.output
    assert not (ws / "out" / "2026-01").exists()
    assert cycle.history(ws).empty
    # Without --strict: A01 is held (no lines), B01 is paid 2,000 x 5% = 100.
    run(ws, "2026-01")
    assert amounts(ws, "2026-01") == {("B01", "bookings"): "100.00"}
    held = holds(ws, "2026-01")
    assert [(e["table"], e["rep_id"]) for e in held] == [("reps", "A01")]
    assert re.search(r"\brows? 2\b.*\b4\b", held[0]["reason"]), held[0]["reason"]
