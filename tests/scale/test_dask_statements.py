"""Statements laid out on the Dask workers: the same PDFs as in one process, from the committed run."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from pypdf import PdfReader

from compensation import cycle
from compensation.engines.dask_engine import render_on_workers
from reports.pdf import render_statement_batch
from reports.statement_content import build_statements
from tests import cyclekit
from tests.scale.conftest import use_dask

CASE = Path(__file__).resolve().parents[1] / "golden" / "07_split_overlay"


def test_statements_render_on_the_workers_as_in_one_process(tmp_path, dask_scheduler):
    ws = tmp_path / "ws"
    shutil.copytree(CASE, ws, ignore=shutil.ignore_patterns("expected", "steps.yaml", "data_*"))
    month = "2026-03"
    assert cyclekit.run(ws, month).exit_code == 0
    statements = list(build_statements(cycle.committed_run(ws, month).result))
    assert len(statements) >= 2
    here = render_statement_batch(statements, None)
    there = list(render_on_workers(render_statement_batch, statements, None, dask_scheduler, batch_size=1))
    assert [r for r, _ in there] == [s.rep_id for s in statements]
    # Same pages and words (the bytes differ by font subset names, as two renders in one process do).
    assert [text(pdf) for _, pdf in there] == [text(pdf) for _, pdf in here]
    assert all("Statement" in text(pdf) or "statement" in text(pdf) for _, pdf in there)


def text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\f".join(page.extract_text() for page in reader.pages)


def test_a_dask_run_lays_its_statements_out_on_the_workers(tmp_path, dask_scheduler):
    pandas_ws, dask_ws = tmp_path / "pandas", tmp_path / "dask"
    for ws in (pandas_ws, dask_ws):
        shutil.copytree(CASE, ws, ignore=shutil.ignore_patterns("expected", "steps.yaml", "data_*"))
    use_dask(dask_ws, dask_scheduler)
    month = "2026-03"
    for ws in (pandas_ws, dask_ws):
        assert cyclekit.run(ws, month, "--statements").exit_code == 0
    pdfs = {ws: sorted((ws / "out" / month / "statements").glob("*.pdf")) for ws in (pandas_ws, dask_ws)}
    assert [p.name for p in pdfs[dask_ws]] == [p.name for p in pdfs[pandas_ws]] != []
    # The same statements, credited transactions included (a small run keeps its detail).
    for theirs, ours in zip(pdfs[pandas_ws], pdfs[dask_ws], strict=True):
        assert text(ours.read_bytes()) == text(theirs.read_bytes())
