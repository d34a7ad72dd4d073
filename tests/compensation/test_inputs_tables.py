"""Input tables: defects of issue 15 (exact money, long CSV cells, XLSX formulas, lost txns)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compensation.coerce import check_column
from compensation.errors import IcmError, Problem
from compensation.schema import Column
from compensation.settings import Settings, Workspace
from compensation.tables import load_inputs, read_table

REPS = "rep_id,name,plan,start_date\nA1,Ann,ae,2026-01-01\nB2,Bob,ae,2026-01-01\n"


def workspace(tmp_path: Path, **tables: str) -> Workspace:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for name, text in ({"reps": REPS} | tables).items():
        (data / f"{name}.csv").write_text(text, encoding="utf-8")
    return Workspace(tmp_path, Settings())


def write_xlsx(path: Path, rows: list[list], merge: str | None = None) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    book.save(path)


# ------------------------------------------------------------------ defect 10: exact money


def test_amounts_parse_to_exact_cents_without_float(tmp_path):
    amounts = ["999999999999767.01", "123456789012.34", "1.005", "-0.005", "1e3", "0.1", "999999999999999.99"]
    text = "txn_id,date,amount,rep_id\n" + "".join(
        f"T{i},2026-01-05,{a},A1\n" for i, a in enumerate(amounts))
    frame, problems, _ = read_table(workspace(tmp_path, transactions=text), "transactions")
    assert problems == []
    assert frame["amount_cents"].dtype == np.int64
    # Half up, away from zero, from the text: float would make 1.005 -> 100 and the first 76704.
    assert frame["amount_cents"].tolist() == [
        99999999999976701, 12345678901234, 101, -1, 100000, 10, 99999999999999999]
    assert frame["amount"].dtype == np.float64  # units, as before, for the engine


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    *(st.decimals(min_value=-10**15 + 1, max_value=10**15 - 1, places=p) for p in (0, 2, 3, 6)),
    *(st.decimals(min_value=-1000, max_value=1000, places=p) for p in (2, 3))), min_size=1, max_size=30))
def test_cents_are_the_decimal_text_rounded_half_up(amounts):
    texts = [format(a, "f") for a in amounts]
    checked = check_column(Column("amount", "money", required=True), pa.chunked_array([pa.array(texts)]), len(texts))
    assert checked.bad == []
    expected = [int((a * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)) for a in amounts]
    assert checked.extra["amount_cents"].tolist() == expected


def test_deals_add_up_to_the_cent_at_a_trillion(tmp_path):
    deals = ["333333333333255.67", "333333333333255.66", "333333333333255.67"]
    text = "txn_id,date,amount,rep_id\n" + "".join(f"T{i},2026-01-05,{a},A1\n" for i, a in enumerate(deals))
    frame, _, _ = read_table(workspace(tmp_path, transactions=text), "transactions")
    exact = sum(Decimal(d) for d in deals)
    assert exact == Decimal("999999999999767.00")
    assert int(frame["amount_cents"].sum()) == int(exact * 100)
    assert round(frame["amount"].sum() * 100) != int(exact * 100)  # what float gave


def test_amount_of_ten_to_the_fifteen_holds_the_rep(tmp_path):
    text = ("txn_id,date,amount,rep_id\nT1,2026-01-05,1000000000000000,A1\n"
            "T2,2026-01-05,-1e15,B2\nT3,2026-01-05,10,A1\n")
    inputs, problems = load_inputs(workspace(tmp_path, transactions=text))
    too_large = ("is too large: amounts must be below 1,000,000,000,000,000 to be paid exact to the cent; "
                 "check the figure (a misplaced decimal point?) or split it")
    assert problems == [
        Problem("hold", "transactions", f"amount 1000000000000000 {too_large}", 2, "T1", "A1"),
        Problem("hold", "transactions", f"amount -1e15 {too_large}", 3, "T2", "B2"),
    ]
    assert inputs.transactions["txn_id"].tolist() == ["T3"]
    assert inputs.transactions["amount_cents"].tolist() == [1000]


def test_adjustment_and_quota_amounts_have_exact_cents(tmp_path):
    ws = workspace(tmp_path, transactions="txn_id,date,amount,rep_id\n",
                   adjustments="rep_id,period,amount,reason\nA1,2026-03,500000000000000.05,bonus\n",
                   quotas="rep_id,component,period,amount\nA1,nb,2026,250000.10\n")
    inputs, problems = load_inputs(ws)
    assert problems == []
    assert inputs.adjustments["amount_cents"].tolist() == [50000000000000005]
    assert inputs.quotas["amount_cents"].tolist() == [25000010]


def test_a_column_named_like_the_exact_cents_is_refused(tmp_path):
    ws = workspace(tmp_path, transactions="txn_id,date,amount,amount_cents,rep_id\nT1,2026-01-05,1,100,A1\n")
    with pytest.raises(IcmError) as caught:
        read_table(ws, "transactions")
    assert str(caught.value) == ("data/transactions.csv:1: column 'amount_cents' has a name icm uses for "
                                 "exact cents; rename it (e.g. 'amount_in_cents')")


# ------------------------------------------------------------------ defect 12: long CSV cells


def test_a_two_megabyte_quoted_cell_with_quotes_inside_loads(tmp_path):
    note = 'he said ""yes"", twice; ' * 100_000  # 2.4 MB: spans three of pyarrow's 1 MB blocks
    text = f'txn_id,date,amount,note,rep_id\nT1,2026-01-05,10,"{note}",A1\nT2,2026-01-06,20,short,A1\n'
    frame, problems, _ = read_table(workspace(tmp_path, transactions=text), "transactions")
    assert problems == []
    assert frame["txn_id"].tolist() == ["T1", "T2"]
    assert frame["note"][0] == note.replace('""', '"').strip()


def test_a_row_with_extra_cells_names_its_line_not_the_library(tmp_path):
    text = "txn_id,date,amount,rep_id\nT1,2026-01-05,10,A1\nT2,2026-01-05,1,006.30,A1\n"
    with pytest.raises(IcmError) as caught:
        read_table(workspace(tmp_path, transactions=text), "transactions")
    assert str(caught.value) == (
        "data/transactions.csv: line 3 has 5 cells where the header has 4; quote cells that hold the "
        "delimiter or a line break, or remove the extra cells")


def test_an_unclosed_quote_names_the_line_it_opens_on(tmp_path):
    text = 'txn_id,date,amount,rep_id\nT1,2026-01-05,10,A1\nT2,2026-01-05,"10,A1\nT3,2026-01-05,10,A1\n'
    with pytest.raises(IcmError) as caught:
        read_table(workspace(tmp_path, transactions=text), "transactions")
    assert str(caught.value) == (
        "data/transactions.csv: a quoted cell opened on line 3 is never closed; add the closing "
        "quote (\") or remove the opening one")


def test_a_file_that_is_no_spreadsheet_is_unreadable_in_our_words(tmp_path):
    ws = workspace(tmp_path)
    (tmp_path / "data" / "transactions.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(IcmError) as caught:
        read_table(ws, "transactions")
    assert str(caught.value) == ("data/transactions.xlsx: cannot be read; check that it is a valid XLSX "
                                 "file (save it again from Excel)")


# ------------------------------------------------------------------ defect 13: XLSX formulas


def test_a_formula_without_a_stored_value_says_so(tmp_path):
    ws = workspace(tmp_path)
    # openpyxl, like most scripts, writes formulas without their computed values.
    write_xlsx(tmp_path / "data" / "transactions.xlsx", [
        ["txn_id", "date", "amount", "rep_id", "product"],
        ["T1", "2026-01-05", "=2*500", "A1", "Platform"],
        ["T2", "2026-01-05", 30, "B2", '=UPPER("addon")'],
        ["T3", "2026-01-05", None, "A1", None],
    ])
    frame, problems, _ = read_table(ws, "transactions")
    save = "that the file holds no value for; open the file in Excel and save it, so the computed values are stored"
    assert problems == [
        Problem("hold", "transactions", f"amount is a formula (=2*500) {save}", 2, "T1", "A1"),
        Problem("hold", "transactions", f'product is a formula (=UPPER("addon")) {save}', 3, "T2", "B2"),
        Problem("hold", "transactions", "amount is blank; fill it in or delete the row", 4, "T3", "A1"),
    ]
    assert frame.empty


# ------------------------------------------------------------------ defect 3: credited to nobody


def test_a_transaction_without_rep_or_credits_is_a_notice(tmp_path):
    ws = workspace(
        tmp_path,
        transactions=("txn_id,date,amount,rep_id,reverses\nT1,2026-01-05,10,A1,\nT2,2026-01-06,20,,\n"
                      "T3,2026-01-07,30,,\nT4,2026-01-08,-10,,T1\nT5,2026-01-09,-20,,T2\n"),
        credits="txn_id,rep_id,share\nT3,B2,1\n")
    inputs, problems = load_inputs(ws)
    assert problems == [
        Problem("notice", "transactions", "transaction 'T2' has no rep_id and no credits rows, so nobody would "
                "be credited; fill in rep_id (a merged cell in Excel leaves all but its first row blank) or add "
                "credits rows for it", 3, "T2", None),
        Problem("notice", "transactions", "reverses 'T2', which was left out (see its problem); correct "
                "reverses or fix the original transaction", 6, "T5", None),
    ]
    # T3 is credited through credits, T4 through the transaction it cancels.
    assert inputs.transactions["txn_id"].tolist() == ["T1", "T3", "T4"]


def test_a_merged_rep_id_cell_in_xlsx_is_a_notice_per_row(tmp_path):
    ws = workspace(tmp_path)
    write_xlsx(tmp_path / "data" / "transactions.xlsx", [
        ["txn_id", "date", "amount", "rep_id"],
        ["T1", "2026-01-05", 10, "A1"],
        ["T2", "2026-01-06", 20, None],
        ["T3", "2026-01-07", 30, None],
    ], merge="D2:D4")
    inputs, problems = load_inputs(ws)
    assert [(p.severity, p.row, p.txn_id) for p in problems] == [("notice", 3, "T2"), ("notice", 4, "T3")]
    assert inputs.transactions["txn_id"].tolist() == ["T1"]


# ------------------------------------------------------------------ every table checked at once


def test_structural_faults_of_every_table_are_reported_together(tmp_path):
    ws = workspace(tmp_path, reps="rep_id,name,plan\nA1,Ann,ae\n",
                   transactions="txn_id,date,amont,rep_id\nT1,2026-01-05,10,A1\n",
                   fx="period,currency\n2026-01,USD\n")
    with pytest.raises(IcmError) as caught:
        load_inputs(ws)
    assert str(caught.value).splitlines() == [
        "data/reps.csv:1: missing required column 'start_date'; add it to the header row (required: rep_id, "
        "name, plan, start_date)",
        "data/transactions.csv:1: missing required column 'amount' (did you mean 'amont'? rename that header "
        "to amount)",
        "data/fx.csv:1: missing required column 'rate'; add it to the header row (required: period, currency, "
        "rate)",
    ]


def test_latin1_text_after_a_plain_header_is_not_utf8_in_our_words(tmp_path):
    ws = workspace(tmp_path)
    rows = b"".join(b"T%d,2026-01-05,10,A1,Tea\n" % i for i in range(5000))  # past the header's read
    (tmp_path / "data" / "transactions.csv").write_bytes(
        b"txn_id,date,amount,rep_id,product\n" + rows + b"T1,2026-01-05,10,A1,Caf\xe9\n")
    with pytest.raises(IcmError) as caught:
        read_table(ws, "transactions")
    assert str(caught.value) == "data/transactions.csv: is not UTF-8 text; save it as 'CSV UTF-8' or as .xlsx"


def test_an_excel_error_value_is_named_as_one(tmp_path):
    ws = workspace(tmp_path)
    write_xlsx(tmp_path / "data" / "transactions.xlsx", [
        ["txn_id", "date", "amount", "rep_id"],
        ["T1", "#N/A", "#DIV/0!", "A1"],
    ])
    _, problems, _ = read_table(ws, "transactions")
    assert [p.reason for p in problems] == [
        "date is the Excel error #N/A; correct the formula in the file and save it again",
        "amount is the Excel error #DIV/0!; correct the formula in the file and save it again",
    ]


def test_formula_rows_keep_their_row_numbers_past_blank_lines(tmp_path):
    ws = workspace(tmp_path)
    write_xlsx(tmp_path / "data" / "transactions.xlsx", [
        ["txn_id", "date", "amount", "rep_id"],
        [None, None, None, None],
        ["T1", "2026-01-05", 10, "A1"],
        [None, None, None, None],
        ["T2", "2026-01-05", "=B4", "B2"],
    ])
    frame, problems, _ = read_table(ws, "transactions")
    assert [(p.row, p.txn_id, p.reason[:30]) for p in problems] == [(5, "T2", "amount is a formula (=B4) that")]
    assert frame["row"].tolist() == [3]
