"""Engine edges found while integrating (beyond the SPEC examples)."""

from tests.compensation.test_rules import FLAT, amounts, close, exceptions, reps_csv, run, txns_csv, write_ws


def test_quarterly_reps_adjustment_mid_quarter_waits_for_the_quarter_end(tmp_path):
    """A quarterly plan's payout period is the quarter: a February adjustment is paid in March, not held."""
    quarterly = FLAT.replace("components:", "payout_frequency: quarterly\ncomponents:")
    ws = write_ws(
        tmp_path,
        {"flat": quarterly},
        reps=reps_csv("A01,Ada,flat,2026-01-01,"),
        transactions=txns_csv("T1,2026-01-10,10000,EUR,A01,new"),
        adjustments="rep_id,period,amount,reason\nA01,2026-02,150.50,spot award",
    )
    for month in ("2026-01", "2026-02"):
        run(ws, month)
        close(ws, month)
    run(ws, "2026-03")
    # FLAT pays 5% of 10,000 = 500.00 for the quarter, plus the February adjustment.
    assert amounts(ws, "2026-03") == {("A01", "bookings"): "500.00", ("A01", "adjustment"): "150.50"}
    assert exceptions(ws, "2026-03") == []
    close(ws, "2026-03")
    run(ws, "2026-06")
    assert ("A01", "adjustment") not in amounts(ws, "2026-06")


def test_rehire_on_the_same_plan_does_not_restart_the_draw(tmp_path):
    """Rule 9: a draw restarts only when the plan id changes, not after a gap on the same plan."""
    with_draw = FLAT.replace("components:", "draw: {amount: 1000, recoverable: false, periods: 2}\ncomponents:")
    ws = write_ws(
        tmp_path,
        {"flat": with_draw},
        reps=reps_csv("A01,Ada,flat,2026-01-01,2026-01-31", "A01,Ada,flat,2026-03-01,"),
        transactions=txns_csv("T1,2026-03-10,2000,EUR,A01,new"),
    )
    run(ws, "2026-01")
    # January: earned 0, draw 1,000 (non-recoverable, period 1 of 2).
    assert amounts(ws, "2026-01") == {("A01", "bookings"): "0.00", ("A01", "draw"): "1000.00"}
    close(ws, "2026-01")
    run(ws, "2026-03")
    # March is the span's 3rd month (January started it): no draw, 5% of 2,000 = 100.00.
    assert amounts(ws, "2026-03") == {("A01", "bookings"): "100.00"}
