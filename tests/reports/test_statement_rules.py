"""Statements of the later rules: what is still held (pay on cash), and tables of amounts per deal."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from compensation import cycle
from reports.rendering import render_statements
from tests import cyclekit
from tests.compensation.test_golden import run_steps

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _text(path: Path) -> str:
    return re.sub(r"[ \n\u00a0\u202f]+", " ", "\n".join(p.extract_text() for p in PdfReader(path).pages))


def _workspace(tmp_path: Path, case: str) -> Path:
    ws = tmp_path / case
    shutil.copytree(GOLDEN / case, ws, ignore=shutil.ignore_patterns("expected", "steps.yaml"))
    return ws


@pytest.mark.slow
def test_a_statement_lists_what_is_still_held_by_deal(tmp_path):
    """Half on booking, half on cash: in month 1 the other 5,000.00 waits for the customer."""
    ws = _workspace(tmp_path, "20_half_on_cash")
    assert cyclekit.run(ws, "2026-01", "--statements").exit_code == 0
    pdf = next((ws / "out" / "2026-01" / "statements").glob("*.pdf"))
    text = _text(pdf)
    assert "Still held" in text and "when the customer pays" in text
    assert "Total €5,000.00" in text, text


@pytest.mark.slow
def test_a_statement_renders_a_per_transaction_amount_table(tmp_path):
    """Golden case 14 run by its own steps; March's statement of the committed run."""
    case = GOLDEN / "14_per_transaction_amounts_cancelled"
    ws = _workspace(tmp_path, case.name)
    months = run_steps(case, ws)
    kept = cycle.committed_run(ws, months[-1])
    render_statements(kept.result, ws / "out" / months[-1], reps=["A01"], run_id=kept.run_id)
    text = _text(ws / "out" / months[-1] / "statements" / "A01.pdf")
    # the rule in words instead of a cumulative tier chart, and the register's figures to the cent
    assert "Fixed amounts per transaction" in text, text
    assert "Deal bonus" in text and "-€250.00" in text and "€690.00" in text, text
