from dataclasses import replace
from decimal import Decimal

import pandas as pd
from openpyxl import load_workbook

from reports.payroll import payroll_csv, payroll_frame
from reports.register import payouts_csv
from reports.rendering import render_run
from reports.workbook import iter_formula_cells, write_workbook
from tests.reports.sample import register_rows, reps, sample_result

EVIL = '=HYPERLINK("http://x","y")'


def evil_result(root):
    register = register_rows()
    register.loc[register["rep_id"] == "B2", "name"] = EVIL
    register.loc[register["rep_id"] == "A1", "name"] = "-2+3"
    people = reps()
    people.loc[people["rep_id"] == "B2", "name"] = EVIL
    people.loc[people["rep_id"] == "B2", "email"] = "@cmd|' /C calc'!A0"
    people.loc[people["rep_id"] == "A1", "name"] = "-2+3"
    return sample_result(root, register=register, reps=people)


def test_payroll_csv_rows_and_formula_defusing(tmp_path):
    result = evil_result(tmp_path)
    text = payroll_csv(result.register, result.reps, result.period).decode()
    assert text == (
        "rep_id,name,email,period,currency,amount\n"
        "A1,'-2+3,anna.rossi@acme.example,2026-03,EUR,24125.00\n"
        "B2,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'@cmd|' /C calc'!A0,2026-03,EUR,3000.00\n"
        "M1,Maria Bianchi,,2026-03,EUR,8750.00\n"
    )


def test_payroll_total_equals_register_total_and_skips_unpaid():
    result = sample_result()
    frame = payroll_frame(result.register, result.reps, result.period)
    assert int(frame["amount"].sum()) == result.total_paid() == 3_587_500
    zero = result.register.copy()
    zero.loc[zero["rep_id"] == "M1", "amount"] = 0
    frame = payroll_frame(zero, result.reps, result.period)
    assert frame["rep_id"].tolist() == ["A1", "B2"]
    empty = payroll_csv(result.register.iloc[0:0], result.reps, result.period)
    assert empty == b"rep_id,name,email,period,currency,amount\n"


def test_workbook_types_totals_and_no_formulas(tmp_path):
    # Year to date comes from the ledger (RunResult.year_to_date), not from this month's lines.
    year = pd.DataFrame({"rep_id": ["A1", "B2", "M1"], "earned": [4622500, 300000, 1375000],
                         "paid": [4000000, 300000, 1200000], "balance": [0, 550000, 0]})  # cents
    result = replace(evil_result(tmp_path), year_to_date=year)
    path = write_workbook(result, tmp_path / "payouts.xlsx", run_id="=1+1")
    assert list(iter_formula_cells(path)) == []
    wb = load_workbook(path)
    assert wb.sheetnames == ["Register", "Summary", "Exceptions", "Inputs"]

    reg = wb["Register"]
    assert reg.freeze_panes == "A2"
    assert reg.auto_filter.ref == "A1:K11"
    header = [c.value for c in reg[1]]
    assert header == ["period", "rep_id", "name", "line", "credited", "quota", "attainment",
                      "earned_to_date", "paid_to_date", "amount", "currency"]
    rows = list(reg.iter_rows(min_row=2))
    assert len(rows) == 12  # ten lines, a blank row, a "Total EUR" row computed by icm (no formula)
    assert rows[-1][0].value == "Total EUR" and rows[-1][9].value == sum(r[9].value or 0 for r in rows[:10])
    rows = rows[:10]
    first = rows[0]
    assert [c.value for c in first[:4]] == ["2026-03", "A1", "-2+3", "new_business"]
    assert first[4].value == 520000 and first[4].data_type == "n"
    assert first[4].number_format == "#,##0.00;-#,##0.00"
    assert abs(first[6].value - 520000 / 480000) < 1e-15 and first[6].number_format == "0.0%"
    assert first[9].value == 21600
    evil = rows[6][2]
    assert evil.value == EVIL and evil.data_type == "s"
    amounts = [row[9].value for row in rows]
    assert all(isinstance(v, int | float) for v in amounts)
    assert sum(Decimal(str(v)) for v in amounts) == Decimal("35875")
    assert rows[4][4].value is None  # blank credited on the adjustment line

    summary = wb["Summary"]
    values = [[c.value for c in row] for row in summary.iter_rows()]
    assert values[0] == ["rep_id", "name", "plan", "currency", "paid", "earned year to date",
                         "paid year to date", "balance owed", "attainment new_business", "attainment renewals",
                         "attainment team_revenue"]
    assert values[1][:8] == ["A1", "-2+3", "ae-2026", "EUR", 24125, 46225, 40000, 0]
    assert values[2][:8] == ["B2", EVIL, "ae-2026", "EUR", 3000, 3000, 3000, 5500]
    assert values[3][4:8] == [8750, 13750, 12000, 0] and values[3][10] == 1.15
    assert values[-1][:8] == ["Total EUR", None, None, None, 35875, 62975, 55000, 5500]

    exc = [[c.value for c in row] for row in wb["Exceptions"].iter_rows()]
    assert exc[1] == ["2026-03", "notice", "transactions", 7, "T0999", "ZZ", "unknown rep 'ZZ'"]

    inputs = [[c.value for c in row] for row in wb["Inputs"].iter_rows()]
    assert inputs[1] == ["transactions", "data/transactions.csv", 12, "ab" * 32]
    assert ["input fingerprint", None, None, result.fingerprint] in inputs
    run_row = next(r for r in inputs if r[0] == "run id")
    assert run_row[3] == "=1+1"


def test_render_run_writes_every_file(tmp_path):
    result = sample_result(tmp_path)
    paths = render_run(result, tmp_path / "stage")
    assert sorted(p.name for p in paths) == ["exceptions.csv", "journal.csv", "liability.csv", "payouts.csv",
                                             "payouts.xlsx", "payroll.csv"]
    stage = tmp_path / "stage"
    assert (stage / "payouts.csv").read_bytes() == payouts_csv(result.register)
    payroll = pd.read_csv(stage / "payroll.csv", dtype=str)
    register = pd.read_csv(stage / "payouts.csv", dtype=str)
    as_cents = lambda s: s.map(lambda v: int(Decimal(v) * 100)).sum()  # noqa: E731
    assert as_cents(payroll["amount"]) == as_cents(register["amount"]) == 3_587_500
    assert not (stage / "statements").exists()
