"""The load's shortcuts give what the long way gives: cleaning, numbers, rep ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from compensation import coerce
from compensation.crediting import _take_original_columns
from compensation.schema import Column
from compensation.table_checks import _all_distinct


def _long_way(column: pa.ChunkedArray) -> pa.ChunkedArray:
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


@pytest.mark.parametrize("cells", [
    ["a", "b"], ["a ", "b"], [" a", "b"], ["a", ""], ["a", None], ["x\u00a0"], ["\u2003x"],
    ["é"], ["x\x1f"], ["~x", "!"], [" "], [],
])
def test_cleaning_matches_trimming_whole_and_sliced(cells):
    whole = pa.array(cells, pa.string())
    for column in (pa.chunked_array([whole], pa.string()), pa.chunked_array([whole.slice(1)], pa.string()),
                   pa.chunked_array([whole, whole], pa.string())):
        assert coerce.cleaned(column).equals(_long_way(column))


@pytest.mark.parametrize("cells", [
    ["1", "2.5", None], ["+1", "-.5", "1e3"], ["nan", "1"], ["inf"], ["-Infinity"], ["1e400"],
    ["x", "1"], ["1,5"], ["0x10"],
])
def test_numbers_read_as_the_pattern_says(cells, monkeypatch):
    text = coerce.cleaned(pa.chunked_array([pa.array(cells, pa.string())]))
    col = Column("amount", "money", required=True)
    fast = coerce.check_column(col, text, len(cells))
    monkeypatch.setattr(coerce, "_all_numbers", lambda text, blank: None)
    slow = coerce.check_column(col, text, len(cells))
    np.testing.assert_array_equal(fast.values, slow.values)
    np.testing.assert_array_equal(fast.extra["amount_cents"], slow.extra["amount_cents"])
    assert [(w.tolist(), m) for w, m in fast.bad] == [(w.tolist(), m) for w, m in slow.bad]


def test_repeated_rep_ids_are_matched_once_each():
    cells = ["A1", "B 2", None, "A1"] * 5000
    text = coerce.cleaned(pa.chunked_array([pa.array(cells, pa.string())]))
    checked = coerce.check_column(Column("rep_id", "rep"), text, len(cells))
    assert checked.values.tolist() == cells
    (where, found), = checked.bad
    assert where.tolist() == list(range(1, len(cells), 4))
    assert len(set(found)) == 1 and "B 2" in found[0]


@pytest.mark.parametrize("arrow_ids", [True, False])
def test_a_cancellation_borrows_from_the_first_row_with_its_original_id(arrow_ids):
    ids = ["T1", "T2", "T1", "C1", "C2", "C3"]  # T1 twice (an original and a lookup row): the first one counts
    txns = pd.DataFrame({
        "txn_id": pd.array(ids, dtype=pd.ArrowDtype(pa.string())) if arrow_ids else np.array(ids, dtype=object),
        "reverses": np.array([None, None, None, "T1", "T9", "T2"], dtype=object),
    })
    own, source, is_cancel = _take_original_columns(np.arange(6), txns)
    assert own.tolist() == [0, 1, 2, 3, 5]  # C2 reverses no loaded transaction: left out
    assert source.tolist() == [0, 1, 2, 0, 1]
    assert is_cancel.tolist() == [False, False, False, True, True]


@pytest.mark.parametrize("ids", [["T1", "T2", "T3"], ["T3", "T1", "T2"], ["T1", "T3", "T1"], ["T2", "T2"],
                                 [], ["b", "é", "a"], ["a", "é", "b"]])
def test_distinct_ids_are_told_as_pandas_tells_them(ids):
    want = not pd.Series(ids, dtype=object).duplicated(keep=False).any()
    assert _all_distinct(pd.Series(ids, dtype=object)) == want
    assert _all_distinct(pd.Series(ids, dtype=pd.ArrowDtype(pa.string()))) == want


def test_a_missing_arrow_id_is_left_to_pandas():
    assert not _all_distinct(pd.Series(["T1", None], dtype=pd.ArrowDtype(pa.string())))
