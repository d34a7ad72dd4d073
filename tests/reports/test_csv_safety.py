"""Every CSV a person opens is defused against spreadsheet formulas, and numbers stay numbers."""

from __future__ import annotations

import pandas as pd

from compensation.results import EXCEPTION_COLUMNS, REGISTER_COLUMNS
from reports.payroll import payroll_csv
from reports.register import exceptions_csv, payouts_csv


def _register(rep_id: str, name: str) -> pd.DataFrame:
    row = {c: pd.NA for c in REGISTER_COLUMNS}
    row.update(period="2026-01", rep_id=rep_id, name=name, line="new_business", amount=12345,
               earned_to_date=12345, paid_to_date=0, currency="EUR", kind="component")
    frame = pd.DataFrame([row])
    for c in ("credited", "quota", "earned_to_date", "paid_to_date", "amount"):
        frame[c] = frame[c].astype("Int64")
    frame["attainment"] = float("nan")
    return frame


def test_payouts_defuses_a_formula_name_and_keeps_a_numeric_rep_id():
    text = payouts_csv(_register("-9009", '=HYPERLINK("http://x","y")')).decode()
    assert text.splitlines()[1] == '2026-01,-9009,"\'=HYPERLINK(""http://x"",""y"")",new_business,,,,123.45,0.00,123.45,EUR'


def test_exceptions_defuses_a_formula_txn_id():
    exc = pd.DataFrame([{"period": "2026-01", "severity": "hold", "table": "transactions", "row": 3,
                         "txn_id": "=cmd|'/C calc'!A0", "rep_id": "@A01", "reason": "+bad"}],
                       columns=list(EXCEPTION_COLUMNS))
    line = exceptions_csv(exc).decode().splitlines()[1]
    assert line == "2026-01,hold,transactions,3,'=cmd|'/C calc'!A0,'@A01,'+bad"


def test_payroll_keeps_a_plain_negative_number_as_data():
    reps = pd.DataFrame({"rep_id": ["-9009"], "name": ["-Ada"], "email": ["ada@example.com"]})
    line = payroll_csv(_register("-9009", "-Ada"), reps, "2026-01").decode().splitlines()[1]
    assert line.split(",")[:2] == ["-9009", "'-Ada"]
