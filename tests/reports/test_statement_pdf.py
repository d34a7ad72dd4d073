"""The PDF side of statements: templates stay inside their folder, unchanged statements are reused,
the batch renderer pickles for remote workers."""

import os
import pickle

import pytest

from compensation.errors import IcmError
from reports import pdf
from reports.statement_content import build_statements
from reports.statements import render_statement_batch, render_statements
from tests.reports.sample import register_rows
from tests.reports.test_statements import full_result, pdf_text


def test_template_include_through_a_symlink_out_of_the_folder_is_refused(tmp_path):
    ws = tmp_path / "ws"
    templates = ws / "templates"
    templates.mkdir(parents=True)
    secret = tmp_path / "hostname"
    secret.write_text("secret-host-name\n")
    os.symlink(secret, templates / "leak.html")
    (templates / "statement.html").write_text("<p>{% include 'leak.html' %}</p>")
    pdf._ENGINES.clear()
    with pytest.raises(IcmError, match=r"leak.html: template path leaves the templates folder"):
        render_statements(full_result(ws), tmp_path / "out", reps=["B2"], cache=False)
    (templates / "statement.html").write_text("<p>{% include '../hostname' %}</p>")
    pdf._ENGINES.clear()
    with pytest.raises(IcmError, match=r"leaves the templates folder"):
        render_statements(full_result(ws), tmp_path / "out", reps=["B2"], cache=False)
    (templates / "statement.html").unlink()
    os.symlink(secret, templates / "statement.css")  # the stylesheet override is confined too
    pdf._ENGINES.clear()
    with pytest.raises(IcmError, match=r"statement.css: template path leaves"):
        render_statements(full_result(ws), tmp_path / "out", reps=["B2"], cache=False)
    pdf._ENGINES.clear()


def test_a_symlink_inside_the_folder_is_fine(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "real.html").write_text("inside")
    os.symlink(templates / "real.html", templates / "alias.html")
    env = pdf.template_environment(templates)
    assert env.from_string("{% include 'alias.html' %}").render() == "inside"


def test_rerun_reuses_unchanged_statements_and_renders_changed_ones(tmp_path):
    ws = tmp_path / "ws"
    stats = {}
    umask = os.umask(0o022)
    try:
        first = render_statements(full_result(ws), tmp_path / "run1", stats=stats)
    finally:
        os.umask(umask)
    assert stats == {"rendered": 3, "reused": 0}
    cached = sorted(p.name for p in (ws / "out" / ".statement-cache").iterdir())
    assert len(cached) == 3 and all(name.endswith(".pdf") for name in cached)
    register = register_rows()
    register.loc[(register.rep_id == "B2") & (register.line == "draw"), "amount"] = 550_001
    second = render_statements(full_result(ws, register=register), tmp_path / "run2", stats=stats)
    assert stats == {"rendered": 1, "reused": 2}
    assert [p.read_bytes() for p in first if p.stem != "B2"] == [p.read_bytes() for p in second if p.stem != "B2"]
    assert "€5,500.01" in pdf_text(tmp_path / "run2" / "statements" / "B2.pdf")
    assert (ws / "out" / ".statement-cache" / cached[0]).stat().st_mode & 0o777 == 0o644  # the umask's


def test_batch_renderer_is_a_pure_picklable_function(tmp_path):
    statements = build_statements(full_result(tmp_path))[1:]
    call = pickle.loads(pickle.dumps((render_statement_batch, statements, None)))
    out = call[0](*call[1:])
    assert [rep for rep, _ in out] == ["B2", "M1"]
    assert all(data.startswith(b"%PDF-") for _, data in out)
