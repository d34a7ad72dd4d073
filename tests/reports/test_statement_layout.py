"""Rendered statements never overprint: no two glyphs of different words share ink, in either locale.

pdfplumber gives every glyph's box; glyphs next to each other in the content stream are
one word (kerning may tuck them together), any other pair whose boxes overlap is text
printed over text: a long email running into the Currency label, a header too wide for
its column.
"""

from pathlib import Path

import numpy as np
import pdfplumber
import pytest

from reports.statements import render_statements
from tests.reports.sample import register_rows, reps
from tests.reports.test_statements import full_result

LONG_NAME = "Maximiliana Alessandra Bartolomeo-Castiglione della Valle d'Aosta"
LONG_EMAIL = "maximiliana.alessandra.bartolomeo-castiglione@subsidiary.altamira-holdings.example"


def collisions(path: Path) -> list[tuple[int, str, str, float, float]]:
    """(page, glyph, glyph, x, y) for every pair of glyphs of different words whose boxes overlap."""
    found = []
    with pdfplumber.open(path) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            chars = [c for c in page.chars if c["text"].strip()]
            if not chars:
                continue
            x0, x1 = np.array([c["x0"] for c in chars]), np.array([c["x1"] for c in chars])
            top, bottom = np.array([c["top"] for c in chars]), np.array([c["bottom"] for c in chars])
            wide = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
            tall = np.minimum(bottom[:, None], bottom[None]) - np.maximum(top[:, None], top[None])
            height = np.minimum((bottom - top)[:, None], (bottom - top)[None])
            order = np.arange(len(chars))
            hit = (wide > 1.0) & (tall > 0.3 * height) & (np.abs(order[:, None] - order[None]) > 1)
            for a, b in zip(*np.nonzero(np.triu(hit, 1)), strict=True):
                found.append((number, chars[a]["text"], chars[b]["text"], round(chars[a]["x0"]),
                              round(chars[a]["top"])))
    return found


def test_collisions_are_found_on_overprinted_text(tmp_path):
    from weasyprint import HTML

    path = tmp_path / "over.pdf"
    HTML(string="<p style='position:absolute;top:0'>overprinted words</p>"
                "<p style='position:absolute;top:1px;left:4px'>printed again</p>").write_pdf(path)
    assert collisions(path)


@pytest.fixture(scope="module")
def long_statements(tmp_path_factory):
    out = tmp_path_factory.mktemp("layout")
    register = register_rows()
    register["name"] = register["name"].where(register["rep_id"] == "M1", LONG_NAME)
    people = reps()
    people["name"] = people["name"].where(people["rep_id"] == "M1", LONG_NAME)
    people["email"] = LONG_EMAIL
    people["locale"] = ["it", "en", "it"]  # A1 and M1 in Italian, B2 in English
    result = full_result(out / "ws", register=register, reps=people)
    return render_statements(result, out, cache=False)


def test_long_names_and_emails_do_not_overprint_in_either_locale(long_statements):
    assert [p.stem for p in long_statements] == ["A1", "B2", "M1"]
    for path in long_statements:
        assert collisions(path) == [], path.stem
        with pdfplumber.open(path) as pdf:
            glyphs = "".join(c["text"] for c in pdf.pages[0].chars)
        assert "@subsidiary" in glyphs.replace("\n", "")  # the email is shown (wrapped), not cut
