import numpy as np
import pandas as pd

from reports.register import attainment_array, exceptions_csv, money_array, payouts_csv

HEADER = ("period,rep_id,name,line,credited,quota,attainment,earned_to_date,paid_to_date,"
          "amount,currency\n")


def _register():
    return pd.DataFrame({
        "period": ["2026-03"] * 3,
        "rep_id": ["A1", "A1", "B2"],
        "name": ['Ann "Nan", Smith', "Ann", "Bé"],
        "line": ["new_business", "draw", "new_business"],
        "credited": pd.array([13_000_000, None, 5], dtype="Int64"),
        "quota": pd.array([12_000_000, None, None], dtype="Int64"),
        "attainment": [13 / 12, np.nan, np.nan],
        "earned_to_date": pd.array([-200_000, None, 0], dtype="Int64"),
        "paid_to_date": pd.array([0, None, 0], dtype="Int64"),
        "amount": pd.array([-200_000, 1, 0], dtype="Int64"),
        "currency": ["EUR", "EUR", "EUR"],
        "kind": ["component", "draw", "component"],
        "plan_id": ["ae", "ae", "ae"],
    })


def test_payouts_csv_exact_bytes():
    expected = (
        HEADER
        + '2026-03,A1,"Ann ""Nan"", Smith",new_business,130000.00,120000.00,1.083333,'
        "-2000.00,0.00,-2000.00,EUR\n"
        "2026-03,A1,Ann,draw,,,,,,0.01,EUR\n"
        "2026-03,B2,Bé,new_business,0.05,,,0.00,0.00,0.00,EUR\n"
    ).encode()
    frame = _register()
    assert payouts_csv(frame) == expected
    assert payouts_csv(frame.copy()) == expected  # byte-identical for the same frame


def test_payouts_csv_keeps_engine_order_and_handles_empty():
    frame = _register().iloc[::-1]
    lines = payouts_csv(frame).decode().splitlines()
    assert [line.split(",")[1] for line in lines[1:]] == ["B2", "A1", "A1"]
    empty = payouts_csv(_register().iloc[0:0])
    assert empty == HEADER.encode()


def test_attainment_six_decimals_half_up():
    values = pd.Series([0.0000005, 1.0000015, 0.1234565, -0.0000005, 2.0, np.nan])
    assert attainment_array(values).to_pylist() == [
        "0.000001", "1.000002", "0.123457", "-0.000001", "2.000000", None]


def test_money_text():
    cents = pd.Series(pd.array([-200_000, 5, -5, 0, None, 123_456_789], dtype="Int64"))
    assert money_array(cents).to_pylist() == ["-2000.00", "0.05", "-0.05", "0.00", None, "1234567.89"]


def test_exceptions_csv():
    frame = pd.DataFrame({
        "period": ["2026-03", "2026-03"],
        "severity": ["hold", "notice"],
        "table": ["transactions", "reps"],
        "row": pd.array([4, None], dtype="Int64"),
        "txn_id": ["T9", None],
        "rep_id": ["A1", None],
        "reason": ["credits for T9 sum to 0.9, not 1", "unknown rep 'Z'"],
    })
    assert exceptions_csv(frame) == (
        b"period,severity,table,row,txn_id,rep_id,reason\n"
        b"2026-03,hold,transactions,4,T9,A1,\"credits for T9 sum to 0.9, not 1\"\n"
        b"2026-03,notice,reps,,,,unknown rep 'Z'\n"
    )
