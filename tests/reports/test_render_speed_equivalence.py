"""The Arrow-built files keep their exact text on nasty data (issue 20 item 5).

Expected text is written by hand: negative, zero, -1 cent and huge money, <NA>, float
attainment (`repr` in the workbook, six decimals half up in CSV), formula-looking names,
`&`, `<`, control characters, NUL, unicode and empty strings.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from compensation.money import format_cents
from compensation.results import EXCEPTION_COLUMNS
from reports.liability import _csv as liability_text_csv
from reports.payroll import payroll_csv
from reports.register import exceptions_csv, money_array, payouts_csv
from reports.workbook import _float_text, _Sheet

HEADER = "period,rep_id,name,line,credited,quota,attainment,earned_to_date,paid_to_date,amount,currency\n"


def _register() -> pd.DataFrame:
    return pd.DataFrame({
        "period": ["2026-12", "2026-12", "2026-12", "2026-12"],
        "rep_id": ["-9009", "R&2", "@r", "\x00a"],
        "name": ['=HYPERLINK("http://x","y")', "A <b> & Co\x01", 'Zoë "Z", 日本', "\x00b"],
        "line": ["new_business", "", "\tspif", "-1e5"],
        "credited": pd.array([-1, None, -999_999_999_999, 100], dtype="Int64"),
        "quota": pd.array([0, None, 1, 99], dtype="Int64"),
        "attainment": [1.0, np.nan, 0.1234565, -0.0000005],
        "earned_to_date": pd.array([9_000_000_000_000_000, 5, 0, -100], dtype="Int64"),
        "paid_to_date": pd.array([None, -5, 0, 1], dtype="Int64"),
        "amount": pd.array([-200_000, 0, 240_000, -99], dtype="Int64"),
        "currency": ["EUR", None, "EUR", "EUR"],
        "kind": ["component", "draw", "spif", "component"],
        "plan_id": ["p", "p", "p", "p"],
    })


def test_payouts_csv_on_nasty_rows():
    assert payouts_csv(_register()).decode("utf-8") == HEADER + (
        '2026-12,-9009,"\'=HYPERLINK(""http://x"",""y"")",new_business,-0.01,0.00,1.000000,'
        "90000000000000.00,,-2000.00,EUR\n"
        "2026-12,R&2,A <b> & Co\x01,,,,,0.05,-0.05,0.00,\n"
        "2026-12,'@r,\"Zoë \"\"Z\"\", 日本\",'\tspif,-9999999999.99,0.01,0.123457,0.00,0.00,2400.00,EUR\n"
        "2026-12,\x00a,\x00b,-1e5,1.00,0.99,-0.000001,-1.00,0.01,-0.99,EUR\n"
    )


def test_liability_style_csv_uses_the_same_money_text():
    frame = pd.DataFrame({"name": ["+SUM(A1)", "-12.5", None],
                          "debit": pd.array([None, -1, 123_456_789], dtype="Int64")})
    assert liability_text_csv(frame, ("name", "debit"), ("debit",)) == (
        b"name,debit\n'+SUM(A1),\n-12.5,-0.01\n,1234567.89\n")


def test_payroll_csv_defuses_and_skips_reps_not_paid():
    register = _register()
    reps = pd.DataFrame({"rep_id": ["-9009", "R&2", "@r", "\x00a"],
                         "name": ["=1+1", "Ann", "Zoë", "Nul"],
                         "email": ["a@x", "-b@x", "c@x, d@x", ""]})
    assert payroll_csv(register, reps, "2026-12").decode("utf-8") == (
        "rep_id,name,email,period,currency,amount\n"
        "'@r,Zoë,\"c@x, d@x\",2026-12,EUR,2400.00\n"
    )


def test_exceptions_csv_rows_and_blanks():
    frame = pd.DataFrame({"period": ["2026-12", "2026-12"], "severity": ["hold", ""],
                          "table": ["transactions", None], "row": [3, None],
                          "txn_id": ["=cmd|' /C calc'!A0", "T,1"], "rep_id": [None, "-7"],
                          "reason": ['say "why"', "line\nbreak"]}, columns=list(EXCEPTION_COLUMNS))
    assert exceptions_csv(frame).decode() == (
        "period,severity,table,row,txn_id,rep_id,reason\n"
        "2026-12,hold,transactions,3,'=cmd|' /C calc'!A0,,\"say \"\"why\"\"\"\n"
        "2026-12,,,,\"T,1\",-7,\"line\nbreak\"\n"
    )


def test_workbook_rows_are_typed_escaped_and_skip_blanks():
    wb = Workbook(write_only=True)
    sheet = _Sheet(wb, "S", [(c, k, 10) for c, k in (
        ("text", "text"), ("other", "text"), ("money", "money"), ("pct", "percent"), ("n", "int"))])
    sheet.append_columns([
        np.array(['=HYPERLINK("x")', "A <b> & Co\x01", "\x00\x0b", "日本 ∑ 😀", "\x00a", "\x00b"], dtype=object),
        np.array(["-9009", "", None, "'q", "x", "x"], dtype=object),
        pd.array([-1, None, 9_000_000_000_000_000, 0, None, None], dtype="Int64").to_numpy(),
        np.array([1.0, np.nan, 0.1234565, 1e-05, np.inf, np.nan]),
        np.array([3.0, None, 2.5, np.inf, None, None], dtype=object),
    ])
    m, p = sheet.style_ids["money"], sheet.style_ids["percent"]
    text = '" t="inlineStr"><is><t xml:space="preserve">'
    end = "</t></is></c>"
    assert b"".join(sheet.xml).decode("utf-8") == (
        f'<row r="2"><c r="A2{text}=HYPERLINK("x"){end}<c r="B2{text}-9009{end}'
        f'<c r="C2" s="{m}"><v>-0.01</v></c><c r="D2" s="{p}"><v>1.0</v></c><c r="E2"><v>3</v></c></row>'
        f'<row r="3"><c r="A3{text}A &lt;b&gt; &amp; Co{end}</row>'
        f'<row r="4"><c r="C4" s="{m}"><v>90000000000000.00</v></c><c r="D4" s="{p}"><v>0.1234565</v></c>'
        f'<c r="E4"><v>2</v></c></row>'
        f'<row r="5"><c r="A5{text}日本 ∑ 😀{end}<c r="B5{text}\'q{end}<c r="C5" s="{m}"><v>0.00</v></c>'
        f'<c r="D5" s="{p}"><v>1e-05</v></c></row>'
        f'<row r="6"><c r="A6{text}a{end}<c r="B6{text}x{end}</row>'
        f'<row r="7"><c r="A7{text}b{end}<c r="B7{text}x{end}</row>'
    )
    assert sheet.rows == 7
    wb.save(io.BytesIO())  # closes the write-only sheet


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-(9 * 10**16), 9 * 10**16)), max_size=20))
def test_money_text_is_format_cents(cents):
    text = money_array(pd.array(cents, dtype="Int64")).to_pylist()
    assert text == [None if c is None else format_cents(c) for c in cents]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=20))
def test_workbook_percent_text_is_python_repr(values):
    floats = np.array(values, dtype="float64")
    blank = ~np.isfinite(floats)
    text = _float_text(floats, blank).to_pylist()
    assert text == [None if not np.isfinite(v) else repr(float(v)) for v in values]
