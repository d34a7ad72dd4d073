import datetime as dt
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest

from compensation.errors import IcmError, Problem
from compensation.settings import Settings, Workspace
from compensation.tables import empty_table, load_inputs, read_table

REPS = """rep_id,name,plan,start_date,end_date,manager_id,target_incentive
A1,Ann,ae,2026-01-01,,,60000
B2,Bob,ae,2026-01-01,,A1,
"""
TXNS = """txn_id,date,amount,rep_id,type
T1,2026-01-05,1006.30,A1,new
"""


def workspace(tmp_path: Path, **tables: str) -> Workspace:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    tables = {"reps": REPS, "transactions": TXNS} | tables
    for name, text in tables.items():
        (data / f"{name}.csv").write_text(text, encoding="utf-8")
    return Workspace(tmp_path, Settings())


def hold(table, row, reason, txn=None, rep=None):
    return Problem("hold", table, reason, row, txn, rep)


def notice(table, row, reason, txn=None, rep=None):
    return Problem("notice", table, reason, row, txn, rep)


# ------------------------------------------------------------------ row problems

ROW_CASES = [
    ("transactions", "txn_id,date,amount,rep_id\nT1,2026-01-05,10,A1\nT2,03/02/2026,10,A1\n",
     hold("transactions", 3, "date '03/02/2026' is not YYYY-MM-DD; write 2026-02-03", "T2", "A1")),
    ("transactions", "txn_id,date,amount,rep_id\nT1,2026-02-30,10,A1\n",
     hold("transactions", 2, "date '2026-02-30' is not a date of the calendar; correct it",
          "T1", "A1")),
    ("transactions", "txn_id,date,amount,rep_id\nT1,9999-12-31,10,A1\n",
     hold("transactions", 2, "date '9999-12-31' is too far in the future (the last year is "
          "2261); correct it", "T1", "A1")),
    ("transactions", "txn_id,date,amount,rep_id\nT1,2026-01-05,\"1,006.30\",A1\n",
     hold("transactions", 2, "amount '1,006.30' is not a decimal number (no thousands "
          "separators); write 1006.30", "T1", "A1")),
    ("transactions", "txn_id,date,amount,rep_id\nT1,2026-01-05,\"1006,30\",ZZ\n",
     notice("transactions", 2, "amount '1006,30' is not a decimal number (use '.' for "
            "decimals); write 1006.30", "T1", "ZZ")),
    ("transactions", "txn_id,date,amount,rep_id\nT1,2026-01-05,abc,A1\n",
     hold("transactions", 2, "amount 'abc' is not a decimal number; write it like 1006.30 "
          "(digits, '.' for decimals)", "T1", "A1")),
    ("transactions", "txn_id,date,amount,rep_id\nT1,,10,B2\n",
     hold("transactions", 2, "date is blank; fill it in or delete the row", "T1", "B2")),
    ("transactions", "txn_id,date,amount,rep_id\nT1,2026-01-05,10,../x\n",
     notice("transactions", 2, "rep_id '../x' may use only letters, digits, '.', '_' and '-'; "
            "rename it, e.g. '..-x'", "T1", "../x")),
    ("credits", "txn_id,rep_id,share\nT1,A1,1.2\n",
     hold("credits", 2, "share 1.2 is outside (0, 1]; write a fraction of the transaction, "
          "e.g. 0.6 for 60%", "T1", "A1")),
    ("credits", "txn_id,rep_id,share\nT1,A1,0\n",
     hold("credits", 2, "share 0 is outside (0, 1]; write a fraction of the transaction, "
          "e.g. 0.6 for 60%", "T1", "A1")),
    ("credits", "txn_id,rep_id,share\nT1,A1,60%\n",
     hold("credits", 2, "share '60%' is not a decimal number; write it as a fraction, 0.6",
          "T1", "A1")),
    ("quotas", "rep_id,component,period,amount\nA1,nb,2026,0\n",
     hold("quotas", 2, "quota amount 0 is not more than 0; give a positive quota or delete "
          "the row", rep="A1")),
    ("quotas", "rep_id,component,period,amount\nA1,nb,2026-13,5\n",
     hold("quotas", 2, "period '2026-13' is not a month, quarter or year; write 2026-03, "
          "2026-Q1 or 2026", rep="A1")),
    ("quotas", "rep_id,component,period,amount\nB2,nb,2026-03-15,5\n",
     hold("quotas", 2, "period '2026-03-15' is not a month, quarter or year; write 2026-03",
          rep="B2")),
    ("fx", "period,currency,rate\n2026-01,GBP,-1.15\n",
     notice("fx", 2, "fx rate -1.15 is not more than 0; write what 1 unit of the currency is "
            "worth in the base currency, e.g. 1.15")),
    ("fx", "period,currency,rate\n2026-Q1,GBP,1.15\n",
     notice("fx", 2, "period '2026-Q1' is not a month; write it as YYYY-MM, e.g. 2026-03")),
    ("adjustments", "rep_id,period,amount,reason\nA1,2026-02,100,\n",
     hold("adjustments", 2, "reason is blank; fill it in or delete the row", rep="A1")),
    ("reps", REPS + "C3,Cy,ae,2026-03-01,2026-02-01,,\n",
     hold("reps", 4, "end_date 2026-02-01 is before start_date 2026-03-01; correct one of "
          "them", rep="C3")),
    ("reps", REPS + "../x,Eve,ae,2026-01-01,,,\n",
     notice("reps", 4, "rep_id '../x' may use only letters, digits, '.', '_' and '-'; "
            "rename it, e.g. '..-x'", rep="../x")),
]


@pytest.mark.parametrize(("table", "text", "expected"), ROW_CASES)
def test_row_problem_drops_the_row_with_its_number_and_message(tmp_path, table, text, expected):
    ws = workspace(tmp_path, **{table: text})
    frame, problems, _ = read_table(ws, table, known_reps={"A1", "B2"})
    assert problems == [expected]
    assert expected.row not in set(frame["row"])


def test_every_bad_cell_of_a_row_is_reported(tmp_path):
    text = "txn_id,date,amount,rep_id\nT1,x,y,A1\nT2,2026-01-02,5,A1\n"
    ws = workspace(tmp_path, transactions=text)
    frame, problems, _ = read_table(ws, "transactions", known_reps={"A1"})
    assert [(p.row, p.reason.split(" ")[0]) for p in problems] == [(2, "date"), (2, "amount")]
    assert frame["txn_id"].tolist() == ["T2"]


def test_blank_lines_keep_spreadsheet_row_numbers(tmp_path):
    text = "txn_id,date,amount,rep_id\nT1,2026-01-05,10,A1\n\n,,,\nT2,2026-13-01,10,A1\n"
    frame, problems, record = read_table(workspace(tmp_path, transactions=text), "transactions")
    assert frame["row"].tolist() == [2]
    assert [p.row for p in problems] == [5]
    assert record.rows == 2


# ------------------------------------------------------------------ structure


def test_missing_columns_are_reported_together_with_the_file_and_did_you_mean(tmp_path):
    ws = workspace(tmp_path, reps="rep_id,Nmae,start date,plann\nA1,Ann,2026-01-01,ae\n")
    # 'start date' matches start_date (case and spaces are forgiven); the others are missing
    with pytest.raises(IcmError) as info:
        read_table(ws, "reps")
    assert str(info.value) == (
        "data/reps.csv:1: missing required column 'name' (did you mean 'Nmae'? rename that "
        "header to name)\n"
        "data/reps.csv:1: missing required column 'plan' (did you mean 'plann'? rename that "
        "header to plan)")


def test_missing_column_without_near_miss_lists_required_columns(tmp_path):
    ws = workspace(tmp_path, quotas="rep_id,component,amount\n")
    with pytest.raises(IcmError, match=r"^data/quotas.csv:1: missing required column "
                       r"'period'; add it to the header row \(required: rep_id, component, "
                       r"period, amount\)$"):
        read_table(ws, "quotas")


def test_two_files_for_one_table_is_an_error_naming_both(tmp_path):
    ws = workspace(tmp_path)
    (tmp_path / "data" / "reps.parquet").write_bytes(b"")
    with pytest.raises(IcmError) as info:
        load_inputs(ws)
    assert "data/reps.csv and data/reps.parquet" in str(info.value)


def test_missing_required_table_says_what_to_add(tmp_path):
    ws = workspace(tmp_path)
    (tmp_path / "data" / "transactions.csv").unlink()
    with pytest.raises(IcmError, match=r"^data/transactions.csv: the transactions table is "
                       r"missing; add data/transactions.csv \(or .xlsx or .parquet\)"):
        load_inputs(ws)


def test_missing_optional_table_is_an_empty_typed_frame(tmp_path):
    inputs, problems = load_inputs(workspace(tmp_path))
    assert problems == []
    assert inputs.quotas.empty and list(inputs.quotas.columns) == [
        "row", "rep_id", "component", "period", "amount", "amount_cents"]
    assert inputs.quotas["amount"].dtype == np.float64
    assert [f.path for f in inputs.files] == ["data/reps.csv", "data/transactions.csv"]
    assert inputs.files[1].rows == 1 and len(inputs.files[1].sha256) == 64


def test_unreadable_file_is_an_error(tmp_path):
    ws = workspace(tmp_path)
    (tmp_path / "data" / "transactions.csv").write_bytes(
        "txn_id,date,amount,rep_id\nT1,2026-01-05,10,Andr\xe9\n".encode("latin-1"))
    with pytest.raises(IcmError, match=r"^data/transactions.csv: is not UTF-8 text"):
        read_table(ws, "transactions")


def test_duplicate_header_is_an_error(tmp_path):
    ws = workspace(tmp_path, transactions="txn_id,date,amount,date\n")
    with pytest.raises(IcmError, match="column 'date' appears twice"):
        read_table(ws, "transactions")


# ------------------------------------------------------------------ types and formats


def test_types_after_load(tmp_path):
    text = ("txn_id,date,amount,rep_id,currency,region,score\n"
            "T1,2026-01-05,1006.30,A1,gbp,NA,007\n"
            "T2,2026-01-06,-5,,,,\n")
    frame, problems, _ = read_table(workspace(tmp_path, transactions=text), "transactions")
    assert problems == []
    assert frame["amount"].tolist() == [1006.3, -5.0]
    assert frame["amount"].dtype == np.float64
    assert frame["date"].dtype == "datetime64[ns]"
    assert frame["row"].dtype == np.int64
    # ids and extra columns stay text ("NA" is a region, "007" keeps its zeros)
    assert frame["region"].tolist() == ["NA", None]
    assert frame["score"].tolist() == ["007", None]
    assert frame["rep_id"].tolist() == ["A1", None]
    assert frame["currency"].tolist() == ["GBP", None]
    # a transaction's id stays Arrow text (kind `id`): no Python object per row
    assert frame["txn_id"].dtype == pd.ArrowDtype(pa.string())
    assert frame["txn_id"].tolist() == ["T1", "T2"]


def test_reps_defaults_and_open_end(tmp_path):
    text = REPS + "C3,Cy,ae,2026-01-01,9999-12-31,,\n"
    frame, problems, _ = read_table(workspace(tmp_path, reps=text), "reps")
    assert problems == []
    assert frame["capacity"].tolist() == [1.0, 1.0, 1.0]
    assert frame["end_date"].isna().all()
    assert frame["target_incentive"].tolist()[0] == 60000.0


def test_periods_are_normalised(tmp_path):
    text = ("rep_id,component,period,amount\nA1,nb,2026-3,1\nA1,nb,2026 q2,1\nA1,nb,2026,1\n"
            "A1,nb,2026-04-01,1\n")
    frame, problems, _ = read_table(workspace(tmp_path, quotas=text), "quotas")
    assert problems == []
    assert frame["period"].tolist() == ["2026-03", "2026-Q2", "2026", "2026-04"]


def test_accounts_types(tmp_path):
    text = "account_id,potential,locked,rep_id\nX1,100,TRUE,A1\nX2,50,,\nX3,5,maybe,\n"
    frame, problems, _ = read_table(workspace(tmp_path, accounts=text), "accounts")
    assert frame["locked"].tolist() == [True, False]
    assert frame["workload"].tolist() == [1.0, 1.0]
    assert problems == [notice("accounts", 4, "locked 'maybe' is not true or false; write "
                               "true or false")]


CSV_TXNS = ("txn_id,date,amount,rep_id,type,note\n"
            "T1,2026-01-05,1006.30,A1,new,first\n"
            "T2,2026-02-01,-250,B2,cancellation,\n"
            "T3,2026-02-03,0.1,A1,new,x\n")


def _expected_frame(tmp_path):
    frame, problems, _ = read_table(workspace(tmp_path / "csv", transactions=CSV_TXNS),
                                    "transactions")
    assert problems == []
    return frame


def test_xlsx_gives_the_same_frame_as_csv(tmp_path):
    (tmp_path / "csv").mkdir()
    expected = _expected_frame(tmp_path)
    ws = workspace(tmp_path)
    (tmp_path / "data" / "transactions.csv").unlink()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["txn_id", "date", "amount", "rep_id", "type", "note"])
    sheet.append(["T1", dt.datetime(2026, 1, 5), 1006.3, "A1", "new", "first"])
    sheet.append(["T2", "2026-02-01", -250, "B2", "cancellation", None])
    sheet.append(["T3", dt.date(2026, 2, 3), 0.1, "A1", "new", "x"])
    book.save(tmp_path / "data" / "transactions.xlsx")
    frame, problems, record = read_table(ws, "transactions")
    assert problems == []
    assert record.path == "data/transactions.xlsx"
    pd.testing.assert_frame_equal(frame, expected)


def test_xlsx_problem_rows_are_sheet_rows(tmp_path):
    ws = workspace(tmp_path)
    (tmp_path / "data" / "transactions.csv").unlink()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["txn_id", "date", "amount", "rep_id"])
    sheet.append(["T1", dt.date(2026, 1, 5), 5, "A1"])
    sheet.append([])
    sheet.append(["T2", "5 Jan", 5, "A1"])
    book.save(tmp_path / "data" / "transactions.xlsx")
    frame, problems, _ = read_table(ws, "transactions", known_reps={"A1"})
    assert problems == [hold("transactions", 4, "date '5 Jan' is not YYYY-MM-DD; write it "
                             "like 2026-02-03", "T2", "A1")]


def test_parquet_gives_the_same_frame_as_csv(tmp_path):
    (tmp_path / "csv").mkdir()
    expected = _expected_frame(tmp_path)
    ws = workspace(tmp_path)
    (tmp_path / "data" / "transactions.csv").unlink()
    pd.DataFrame({
        "txn_id": ["T1", "T2", "T3"],
        "date": pd.to_datetime(["2026-01-05", "2026-02-01", "2026-02-03"]),
        "amount": [1006.3, -250.0, 0.1],
        "rep_id": ["A1", "B2", "A1"],
        "type": ["new", "cancellation", "new"],
        "note": ["first", None, "x"],
    }).to_parquet(tmp_path / "data" / "transactions.parquet")
    frame, problems, _ = read_table(ws, "transactions")
    assert problems == []
    pd.testing.assert_frame_equal(frame, expected)


# ------------------------------------------------------------------ cross-table checks


def test_overlapping_reps_rows_hold_the_rep_and_leave_both_rows_out(tmp_path):
    reps = REPS + ("C3,Cy,ae,2026-01-01,2026-06-30,,\n"
                   "C3,Cy,ae2,2026-06-01,,,\n"
                   "D4,Di,ae,2026-01-01,2026-06-30,,\n"
                   "D4,Di,ae2,2026-07-01,,,\n")
    inputs, problems = load_inputs(workspace(tmp_path, reps=reps))
    assert problems == [hold("reps", 4, "rows 4 and 5 of reps overlap (2026-01-01..2026-06-30 "
                             "and 2026-06-01..); end the earlier row the day before the later "
                             "one starts", rep="C3")]
    assert inputs.reps["row"].tolist() == [2, 3, 6, 7]


CREDIT_TXNS = """txn_id,date,amount,rep_id
T1,2026-01-05,300,A1
T2,2026-01-05,300,A1
"""


def test_credit_shares_summing_exactly_to_one_pass(tmp_path):
    credits = ("txn_id,rep_id,share,role\n"
               "T1,A1,0.3333333,\nT1,B2,0.3333333,\nT1,A1,0.3333334,\nT1,B2,1,overlay\n")
    inputs, problems = load_inputs(workspace(tmp_path, transactions=CREDIT_TXNS,
                                             credits=credits))
    assert problems == []
    assert inputs.credits["share"].tolist() == [0.3333333, 0.3333333, 0.3333334, 1.0]
    assert inputs.transactions["txn_id"].tolist() == ["T1", "T2"]


def test_credit_shares_summing_to_0_999999_hold_every_rep_and_drop_the_txn(tmp_path):
    credits = "txn_id,rep_id,share,role\nT1,A1,0.5,\nT1,B2,0.499999,\nT2,A1,1,\n"
    inputs, problems = load_inputs(workspace(tmp_path, transactions=CREDIT_TXNS,
                                             credits=credits))
    reason = ("shares of txn_id 'T1' that are not overlay sum to 0.999999 (credits rows 2 and "
              "3); make them add up to exactly 1")
    assert problems == [
        hold("credits", 2, reason, "T1", "A1"),
        hold("credits", 3, reason, "T1", "B2"),
        hold("transactions", 2, "transaction 'T1' is left out until its credits are fixed: "
             + reason, "T1", "A1"),
    ]
    assert inputs.transactions["txn_id"].tolist() == ["T2"]
    assert inputs.credits["txn_id"].tolist() == ["T2"]


def test_duplicate_txn_ids_leave_every_copy_out(tmp_path):
    txns = "txn_id,date,amount,rep_id\nT1,2026-01-05,1,A1\nT2,2026-01-05,1,B2\nT1,2026-01-06,2,B2\n"
    inputs, problems = load_inputs(workspace(tmp_path, transactions=txns))
    reason = ("txn_id 'T1' is used by rows 2 and 4 of transactions; give each transaction its "
              "own txn_id")
    assert problems == [hold("transactions", 2, reason, "T1", "A1"),
                        hold("transactions", 4, reason, "T1", "B2")]
    assert inputs.transactions["txn_id"].tolist() == ["T2"]


def test_unknown_reps_are_notices_and_rows_are_left_out(tmp_path):
    txns = "txn_id,date,amount,rep_id\nT1,2026-01-05,1,A1\nT2,2026-01-05,1,ZZ\n"
    quotas = "rep_id,component,period,amount\nZZ,nb,2026,100\nA1,nb,2026,100\n"
    adjustments = "rep_id,period,amount,reason\nQQ,2026-01,5,bonus\n"
    credits = "txn_id,rep_id,share\nT1,A1,0.5\nT1,YY,0.5\nT9,A1,1\n"
    inputs, problems = load_inputs(workspace(tmp_path, transactions=txns, quotas=quotas,
                                             adjustments=adjustments, credits=credits))
    assert problems == [
        notice("quotas", 2, "rep_id 'ZZ' is not in reps; add the rep to reps or correct the "
               "rep_id", rep="ZZ"),
        notice("adjustments", 2, "rep_id 'QQ' is not in reps; add the rep to reps or correct "
               "the rep_id", rep="QQ"),
        notice("transactions", 3, "rep_id 'ZZ' is not in reps; add the rep to reps or correct "
               "the rep_id", "T2", "ZZ"),
        notice("credits", 4, "txn_id 'T9' is not in transactions; correct the txn_id or add "
               "the transaction", "T9", "A1"),
        notice("credits", 3, "rep_id 'YY' is not in reps; add the rep to reps or correct the "
               "rep_id", "T1", "YY"),
    ]
    assert inputs.transactions["txn_id"].tolist() == ["T1"]
    assert inputs.credits["row"].tolist() == [2]
    assert inputs.quotas["rep_id"].tolist() == ["A1"]
    assert inputs.adjustments.empty


def test_reverses_an_unknown_txn_holds_the_cancellation_owner(tmp_path):
    txns = ("txn_id,date,amount,rep_id,reverses\nT1,2026-01-05,100,A1,\n"
            "C1,2026-02-05,-100,A1,T1\nC2,2026-02-05,-100,B2,T7\n")
    inputs, problems = load_inputs(workspace(tmp_path, transactions=txns))
    assert problems == [hold("transactions", 4, "reverses 'T7', which is not a txn_id in "
                             "transactions; correct reverses or fix the original transaction",
                             "C2", "B2")]
    assert inputs.transactions["txn_id"].tolist() == ["T1", "C1"]


def test_credits_of_a_dropped_transaction_hold_their_reps(tmp_path):
    txns = "txn_id,date,amount,rep_id\nT1,bad,100,A1\n"
    credits = "txn_id,rep_id,share\nT1,B2,1\n"
    inputs, problems = load_inputs(workspace(tmp_path, transactions=txns, credits=credits))
    assert problems[1] == hold("credits", 2, "transaction 'T1' was left out (see its problem "
                               "in transactions); its credits wait until it is fixed",
                               "T1", "B2")
    assert inputs.credits.empty


def test_problem_in_a_reps_row_holds_the_rep_and_keeps_its_transactions(tmp_path):
    reps = REPS + "C3,Cy,ae,2026-13-01,,,\n"
    txns = "txn_id,date,amount,rep_id\nT1,2026-01-05,100,C3\n"
    inputs, problems = load_inputs(workspace(tmp_path, reps=reps, transactions=txns))
    assert [(p.severity, p.table, p.rep_id) for p in problems] == [("hold", "reps", "C3")]
    assert inputs.transactions["rep_id"].tolist() == ["C3"]


def test_fx_rate_given_twice_is_left_out(tmp_path):
    fx = "period,currency,rate\n2026-01,GBP,1.15\n2026-01,gbp,1.16\n2026-02,GBP,1.1\n"
    inputs, problems = load_inputs(workspace(tmp_path, fx=fx))
    reason = "fx rate for GBP in 2026-01 is given in rows 2 and 3 of fx; keep one"
    assert problems == [notice("fx", 2, reason), notice("fx", 3, reason)]
    assert inputs.fx["rate"].tolist() == [1.1]


def test_extra_columns_are_kept_as_text_and_near_misses_noticed(tmp_path):
    text = "txn_id,date,amount,rep_id,prodcut,segment\nT1,2026-01-05,10,A1,Platform,12\n"
    frame, problems, _ = read_table(workspace(tmp_path, transactions=text), "transactions")
    assert frame["segment"].tolist() == ["12"]
    assert frame["prodcut"].tolist() == ["Platform"]
    assert frame["product"].tolist() == [None]
    assert problems == [notice("transactions", 1, "column 'prodcut' is not a transactions "
                               "column (did you mean 'product'?); it is kept as an extra "
                               "column, rename it to use it")]


def test_empty_table_matches_loaded_types(tmp_path):
    frame, _, _ = read_table(workspace(tmp_path, credits="txn_id,rep_id,share,role\n"), "credits")
    pd.testing.assert_frame_equal(frame, empty_table("credits"))
