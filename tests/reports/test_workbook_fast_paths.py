"""The workbook's shortcuts give what the general path gives.

`summary_frame` in NumPy gives the pandas frame (drop_duplicates, groupby sum, groupby first,
unstack); text with nothing to escape skips the escaping kernels; parts deflated in pieces on two
threads make a zip that every reader opens, with the same bytes inside.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from reports.register import plain_array
from reports.workbook import _ILLEGAL_XML, _escaped_text, summary_frame, write_workbook
from tests.reports.sample import sample_result

_COLUMNS = ("rep_id", "line", "kind", "amount", "attainment", "name")
_LINE = st.fixed_dictionaries({
    "rep_id": st.sampled_from(["A1", "B2", "C3", None]),
    "line": st.sampled_from(["new_business", "renewals", "draw", None]),
    "kind": st.sampled_from(["component", "component", "draw", None]),
    "amount": st.one_of(st.none(), st.integers(-(10**12), 10**12)),
    "attainment": st.sampled_from([np.nan, 0.0, 1.25, -0.5, np.inf]),
    "name": st.sampled_from(["Ann", "Ben", None]),
})


def _pandas_summary(register: pd.DataFrame, year: pd.DataFrame, components: list[str]) -> pd.DataFrame:
    """The frame summary_frame built with pandas before it moved to NumPy."""
    out = register.drop_duplicates("rep_id")[["rep_id", "name", "plan_id", "currency"]].set_index("rep_id")
    out["paid"] = register.groupby("rep_id", sort=False)["amount"].sum()
    year = year.set_index("rep_id")
    for column, source in (("earned_ytd", "earned"), ("paid_ytd", "paid"), ("balance_owed", "balance")):
        out[column] = year[source].reindex(out.index) if len(year) else pd.NA
    comp_rows = register[register["kind"] == "component"]
    attainment = comp_rows.groupby(["rep_id", "line"], sort=False)["attainment"].first().unstack()
    for component in [c for c in components if c in attainment.columns]:
        out[component] = attainment[component].reindex(out.index)
    return out.reset_index()


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=12), st.booleans())
def test_summary_frame_is_the_pandas_frame(lines, with_year):
    register = pd.DataFrame(lines, columns=list(_COLUMNS))
    register = register.assign(plan_id="p", currency="EUR", amount=pd.array(register["amount"], dtype="Int64"),
                               attainment=register["attainment"].astype("float64"))
    year = pd.DataFrame({"rep_id": ["B2", "A1"], "earned": [5, 7], "paid": [1, 2], "balance": [0, -3]})
    year = year if with_year else year.iloc[:0]
    plan = SimpleNamespace(components=[SimpleNamespace(id=c) for c in ("renewals", "new_business", "team")])
    frame, components = summary_frame(SimpleNamespace(register=register, year_to_date=year, plans={"p": plan}))
    expected = _pandas_summary(register, year, ["renewals", "new_business", "team"])
    assert components == [c for c in ("renewals", "new_business") if c in expected.columns]
    assert list(frame.columns) == list(expected.columns)
    for column in expected.columns:
        assert frame[column].dtype == expected[column].dtype, column
        assert _values(frame[column]) == _values(expected[column]), column


def _values(column: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in column.astype(object)]


_TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("ab &<>\x00\x01\x0b\t\n\r\x1f\x7fé日😀")),
                                     max_size=6))


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=10))
def test_text_without_anything_to_escape_is_the_escaped_text(values):
    column = np.array(values, dtype=object)
    text = pc.replace_substring_regex(plain_array(column), _ILLEGAL_XML, "")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = pc.replace_substring(text, char, entity)
    assert _escaped_text(column).to_pylist() == text.to_pylist()


def test_workbook_zip_reads_back_in_every_reader(tmp_path):
    result = sample_result(tmp_path)
    path = write_workbook(result, tmp_path / "payouts.xlsx", run_id="7")
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every CRC and size checks out
        names = archive.namelist()
        sheet = archive.read("xl/worksheets/sheet1.xml")
    assert {"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml"} <= set(names)
    assert sheet.count(b"<row ") == len(result.register) + 2 and sheet.endswith(b"</worksheet>")
    wb = load_workbook(io.BytesIO(path.read_bytes()))
    assert wb.sheetnames[0] == "Register" and wb["Register"]["A2"].value == result.register["period"].iloc[0]
    big = replace(result, register=pd.concat([result.register] * 3000, ignore_index=True))
    path = write_workbook(big, tmp_path / "big.xlsx")  # ~3 MB of Register rows in one part
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert archive.read("xl/worksheets/sheet1.xml").count(b"<row ") == len(big.register) + 2
