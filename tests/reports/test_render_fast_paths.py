"""The shortcuts of the CSV renderers give the general path's text exactly.

A constant money column is formatted once and repeated; a column is scanned for the bytes
csv.writer quotes for, and for a first byte that starts a formula, before any regex runs;
reps already in order are not sorted again; a rep listed once in `reps` is looked up without
dropping duplicates first.
"""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from compensation.money import format_cents
from reports.liability import _sorted_ids
from reports.payroll import payroll_csv
from reports.register import csv_bytes, defused_array, money_array, plain_array

# Characters that matter to quoting and defusing, and some that do not.
_TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from(list('=+-@\t\r\n,"\'.e0123456789 aZé日😀')), max_size=6))


def test_a_constant_money_column_is_the_general_text_repeated():
    for cents in ([0] * 5, [-1] * 3, [9_000_000_000_000_000] * 2, [-123_456] * 4, [0, 0, None], [None, None], [7]):
        values = pd.array(cents, dtype="Int64")
        one_by_one = [money_array(values[i:i + 1]).to_pylist()[0] for i in range(len(values))]
        assert money_array(values).to_pylist() == one_by_one == [None if c is None else format_cents(c) for c in cents]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=8))
def test_csv_bytes_is_what_csv_writer_writes(rows):
    expected = io.StringIO(newline="")
    csv.writer(expected, lineterminator="\n").writerows([("a", "b"), *[["" if v is None else v for v in row]
                                                                       for row in rows]])
    cells = {name: plain_array(pd.Series([row[i] for row in rows], dtype=object)) for i, name in enumerate("ab")}
    assert csv_bytes(("a", "b"), cells) == expected.getvalue().encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=8))
def test_defused_text_prefixes_exactly_the_formula_looking_cells(values):
    plain_number = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
    expected = [v if v is None or not re.match("[=+\\-@\t\r]", v) or plain_number.fullmatch(v) else "'" + v
                for v in values]
    assert defused_array(pd.Series(values, dtype=object)).to_pylist() == expected


def test_rep_ids_come_sorted_whether_or_not_they_arrive_in_order():
    for first, second in ((["A1", "B2"], ["B2", "C3"]), (["C3", "A1"], ["B2", "A1"]), ([], ["Z", "a", "B"]), ([], [])):
        ids = _sorted_ids(pd.Series(first, dtype=object), pd.Series(second, dtype=object))
        assert ids.tolist() == sorted(set(first) | set(second))
        assert ids.dtype == object


def test_payroll_takes_a_reps_first_row_and_falls_back_to_the_register_name():
    register = pd.DataFrame({"rep_id": ["B2", "A1", "C3"], "name": ["Reg B", "Reg A", "=Reg C"],
                             "currency": ["EUR", "EUR", "USD"], "amount": pd.array([100, 250, 5], dtype="Int64")})
    for people in (pd.DataFrame({"rep_id": ["A1", "B2", "A1"], "name": ["Ann", None, "Later Ann"],
                                 "email": ["a@x", "b@x", "later@x"]}),
                   pd.DataFrame({"rep_id": ["A1", "B2"], "name": ["Ann", None], "email": ["a@x", "b@x"]})):
        assert payroll_csv(register, people, "2026-03").decode() == (
            "rep_id,name,email,period,currency,amount\n"
            "B2,Reg B,b@x,2026-03,EUR,1.00\n"
            "A1,Ann,a@x,2026-03,EUR,2.50\n"
            "C3,'=Reg C,,2026-03,USD,0.05\n"
        )
