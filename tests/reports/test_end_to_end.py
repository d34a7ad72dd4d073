"""The reports of real runs: golden case 6 (cancellation, carry-forward, recovery) via `compensation.cycle`."""

import re
import shutil
from pathlib import Path

from pypdf import PdfReader

from tests import cyclekit

CASE = Path(__file__).resolve().parents[1] / "golden" / "06_cancellation_carry_forward"


def icm(verb, ws, _period_flag, period, *flags):
    """A cycle step as the command would take it, through `compensation.cycle`."""
    result = cyclekit.run(ws, period, *flags) if verb == "run" else cyclekit.close(ws, period)
    assert result.exit_code == 0, f"{verb} {period}: {result.output}"


def text(path: Path) -> str:
    raw = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return re.sub(r"[ \n\u00a0\u202f]+", " ", raw)


def test_statements_workbook_and_payroll_of_real_runs(tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(CASE, ws, ignore=shutil.ignore_patterns("expected", "steps.yaml"))
    icm("run", ws, "--period", "2026-02")
    icm("close", ws, "--period", "2026-02")
    icm("run", ws, "--period", "2026-04", "--statements")
    april = ws / "out" / "2026-04"
    assert (april / "payouts.csv").read_bytes() == (CASE / "expected" / "2026-04.csv").read_bytes()
    assert (april / "payroll.csv").read_text() == "rep_id,name,email,period,currency,amount\n"
    assert (april / "payouts.xlsx").is_file()
    page = text(april / "statements" / "A01.pdf")
    for expected in ["Ada Rossi", "April 2026", "Bookings", "-€2,000.00", "Carry-forward",
                     "Total paid this month €0.00", "BALANCE OWED €2,000.00",
                     "T1", "T2", "C1", "cancels T1", "Total €10,000.00",
                     "5% on all €10,000.00 credited."]:
        assert expected in page, expected

    icm("close", ws, "--period", "2026-04")
    icm("run", ws, "--period", "2026-05", "--statements")
    may = ws / "out" / "2026-05"
    assert (may / "payroll.csv").read_text() == (
        "rep_id,name,email,period,currency,amount\nA01,Ada Rossi,,2026-05,EUR,1000.00\n")
    page = text(may / "statements" / "A01.pdf")
    for expected in ["May 2026", "€3,000.00", "Recovery", "-€2,000.00",
                     "Recovers the €2,000.00 you owed from earlier months",
                     "Total paid this month €1,000.00", "Total €70,000.00"]:
        assert expected in page, expected


def test_workbook_has_totals_and_year_to_date_from_the_ledger(tmp_path):
    import openpyxl

    ws = tmp_path / "acme"
    shutil.copytree(CASE, ws, ignore=shutil.ignore_patterns("expected", "steps.yaml"))
    icm("run", ws, "--period", "2026-02")
    icm("close", ws, "--period", "2026-02")
    icm("run", ws, "--period", "2026-04")
    book = openpyxl.load_workbook(ws / "out" / "2026-04" / "payouts.xlsx")
    register = list(book["Register"].iter_rows(values_only=True))
    assert register[-1][0] == "Total EUR" and register[-2] == (None,) * len(register[0])
    assert register[-1][9] == sum(r[9] for r in register[1:-2])
    summary = list(book["Summary"].iter_rows(values_only=True))
    header = summary[0]
    a01 = dict(zip(header, summary[1], strict=True))
    # February paid 2,500.00; T1's cancellation leaves 10,000 x 5% = 500.00 earned: 2,000.00 owed
    assert (a01["earned year to date"], a01["paid year to date"], a01["balance owed"]) == (500.0, 2500.0, 2000.0)
    assert summary[-1][0] == "Total EUR"
