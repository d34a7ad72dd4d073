"""Committing a run fast (issue 20, item 5) without losing a value.

The snapshot encodes each large column the cheap way for what it holds (a unique id as
plain text, repeated text as a dictionary, unique numbers byte-stream-split) and writes
its Parquet on a background thread inside the run's transaction; the ledger inserts rows
in multi-row batches and leaves out a column with no value. These tests hold the values,
the dtypes and the all-or-nothing commit to what they were.
"""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from compensation import ledger_io, snapshot
from compensation.codes import object_codes
from compensation.snapshot import pack, unpack
from tests.compensation.test_ledger import AUDIT, make_result

N = 3000  # above the 1,000 rows from which columns are sampled and dictionary-encoded
REPS = ("R1", "R2", "R3", None, "R5", np.nan, "R7")


def credits_frame() -> pd.DataFrame:
    """Unique, repeated and missing text; unique and repeated numbers; dates, flags, NA cents."""
    i = np.arange(N)
    return pd.DataFrame({
        "txn_id": [f"T{k:07d}" for k in i],
        "rep_id": [REPS[k % 7] for k in i],
        "note": [f"deal {k}" if k % 2 else None for k in i],
        "empty": [None] * N,
        "amount": i * 1.25 + 0.01,
        "share": np.where(i % 3 == 0, 0.5, 1.0),
        "credited": i.astype("int64") * 101 - 7,
        "cents": pd.array([None if k % 5 == 0 else k for k in i], dtype="Int64"),
        "date": pd.Timestamp("2026-01-01") + pd.to_timedelta(i % 365, unit="D"),
        "flag": i % 4 == 0,
    })


def test_pack_round_trips_unique_repeated_and_missing_values_exactly():
    frame = credits_frame()
    result = replace(make_result("2026-01", [("A", "nb", "component", "2026", 1_00, 0)]), credits=frame)
    back = unpack(pack(result), result.workspace, result.inputs, 1).credits
    assert dict(back.dtypes.astype(str)) == {
        "txn_id": "object", "rep_id": "object", "note": "object", "empty": "object", "amount": "float64",
        "share": "float64", "credited": "int64", "cents": "Int64", "date": "datetime64[ns]", "flag": "bool"}
    assert back["txn_id"].tolist()[:2] == ["T0000000", "T0000001"] and back["txn_id"].is_unique
    assert back["rep_id"].tolist()[:8] == ["R1", "R2", "R3", None, "R5", None, "R7", "R1"]
    assert back["note"].tolist()[:4] == [None, "deal 1", None, "deal 3"]
    assert back["empty"].tolist() == [None] * N
    assert back["amount"].tolist()[2999] == 3748.76 and back["credited"].sum() == 101 * N * (N - 1) // 2 - 7 * N
    assert back["cents"].isna().sum() == 600 and int(back["cents"].sum()) == N * (N - 1) // 2 - 5 * 599 * 600 // 2
    assert back["date"].iloc[364] == pd.Timestamp("2026-12-31") and back["flag"].sum() == 750
    pd.testing.assert_frame_equal(back.drop(columns=["rep_id", "note", "empty"]),
                                  frame.drop(columns=["rep_id", "note", "empty"]))


def test_unique_columns_skip_the_dictionary_and_repeated_ones_keep_it():
    encodings = {}
    meta = pq.ParquetFile(io.BytesIO(snapshot._write(*snapshot._arrow(credits_frame())))).metadata.row_group(0)
    for k in range(meta.num_columns):
        encodings[meta.column(k).path_in_schema] = set(meta.column(k).encodings)
    assert "RLE_DICTIONARY" not in encodings["txn_id"] and "RLE_DICTIONARY" in encodings["rep_id"]
    assert "BYTE_STREAM_SPLIT" in encodings["amount"] and "BYTE_STREAM_SPLIT" in encodings["credited"]
    assert "RLE_DICTIONARY" in encodings["share"] and "RLE_DICTIONARY" in encodings["date"]


def test_rows_in_several_batches_with_a_column_of_no_value_are_stored_exactly(ledger):
    lines = [(f"R{k:04d}", "nb", "component", "2026", 10_00 + k, k % 3) for k in range(200)]
    result = make_result("2026-01", lines)
    result.line_periods["detail"] = None  # no value anywhere: the column is left out of the INSERT
    result.line_periods["quota"] = pd.array([50_00 if k % 2 else None for k in range(200)], dtype="Int64")
    run_id = ledger.commit_run(result, AUDIT, snapshot=pack(result))
    stored = ledger.line_periods("2026-01", run_id)
    assert len(stored) == 200 and stored["detail"].tolist() == [None] * 200
    assert stored["amount"].tolist() == [10_00 + k - k % 3 for k in range(200)]
    assert stored["quota"].tolist()[:3] == [pd.NA, 50_00, pd.NA] and stored["quota"].isna().sum() == 100
    assert ledger.lines("2026-01", run_id)["amount"].sum() == sum(10_00 + k - k % 3 for k in range(200))
    kept = unpack(ledger.snapshot(run_id), result.workspace, result.inputs, run_id)
    pd.testing.assert_frame_equal(kept.line_periods, result.line_periods)


def test_a_snapshot_that_fails_to_write_commits_nothing(ledger, monkeypatch):
    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(snapshot, "_write", broken)
    result = make_result("2026-01", [("A", "nb", "component", "2026", 1_00, 0)])
    with pytest.raises(OSError, match="disk full"):
        ledger.commit_run(result, AUDIT, snapshot=pack(result))
    assert ledger.runs() == [] and ledger.line_periods("2026-01").empty


# -- text factorized by object, cents and text handed to the driver without a look at every row --------


def _pool_column(pool: list, n: int, last_late: bool = False) -> np.ndarray:
    """n rows drawn from a few shared objects; with `last_late` the last object first appears near the end."""
    picks = np.random.default_rng(3).integers(0, len(pool) - last_late, n)
    if last_late:
        picks[n - 5] = len(pool) - 1
    column = np.empty(n, dtype=object)
    column[:] = [pool[k] for k in picks]
    return column


@pytest.mark.parametrize("column", [
    _pool_column(["R1", "R2", None, "é", "日本", "😀", ""], N),
    _pool_column(["a", "".join(["a"]), np.nan, None, pd.NA, "b"], N),  # equal text in two objects; three NAs
    _pool_column([1, 1.0, True, 2, "2"], N),  # equal across types, as pandas judges
    _pool_column(["x", "y", "late"], N, last_late=True),
    _pool_column([None], N), _pool_column([np.nan], N), _pool_column(["only"], N),
    np.array([f"t{k % 3}" for k in range(N)], dtype=object),  # text made anew in every row
    np.array([f"v{k % 900}" for k in range(N)], dtype=object),  # many values
], ids=["shared", "equal-objects-and-nas", "mixed-types", "last-late", "none", "nan", "one", "fresh", "many"])
def test_factorizing_by_object_gives_exactly_what_pandas_gives(column):
    codes, uniques = object_codes(column)
    expected_codes, expected_uniques = pd.factorize(column, use_na_sentinel=True)
    assert codes.tolist() == expected_codes.tolist()
    assert [(type(u), u) for u in uniques] == [(type(u), u) for u in expected_uniques]


def test_numbers_that_barely_repeat_are_split_and_numbers_that_repeat_keep_the_dictionary():
    i = np.arange(N)
    frame = pd.DataFrame({"amount": (i % (N - 5)) * 0.25, "cents": (i % 50) * 100})  # 5 repeats; 50 values
    _, dictionary, split = snapshot._arrow(frame)
    assert split == {"amount": "BYTE_STREAM_SPLIT"} and dictionary == ["cents"]


def test_blank_and_unicode_text_round_trip_exactly():
    frame = pd.DataFrame({
        "none": [None] * N, "nan": np.array([np.nan] * N, dtype=object),
        "text": _pool_column(["é", "日本", "😀", "", None], N), "type": _pool_column(["credit", "debit"], N)})
    back = snapshot._frame(snapshot._write(*snapshot._arrow(frame)))
    assert back["none"].tolist() == [None] * N and back["nan"].tolist() == [None] * N
    assert back["text"].tolist() == frame["text"].tolist() and back["type"].tolist() == frame["type"].tolist()


@pytest.mark.parametrize(("column", "values", "expected"), [
    ("amount", pd.Series([10**15 + 1, -5], dtype="int64"), [10**15 + 1, -5]),
    ("amount", pd.Series([10**15 + 1, np.int64(2)], dtype=object), [10**15 + 1, 2]),
    ("amount", pd.array([10**15, None], dtype="Int64"), [10**15, None]),
    ("amount", pd.Series([None, 3], dtype=object), [None, 3]),
    ("earned", pd.Series([100.0, -0.0, 2.0**60]), [100, 0, 2**60]),
    ("quota", pd.Series([1.5, 2.4999, np.nan]), [2, 2, None]),
    ("quota", pd.Series([np.nan, np.nan]), [None, None]),
    ("attainment", pd.Series([0.5, np.nan]), [0.5, None]),
    ("draw_active", pd.array([True, None], dtype="boolean"), [True, False]),
    ("rep_id", pd.Series(["é", "日本", "😀"], dtype=object), ["é", "日本", "😀"]),
    ("rep_id", pd.Series(["a", None, np.nan, 7], dtype=object), ["a", None, None, "7"]),
    ("detail", pd.Series([np.nan, None], dtype=object), [None, None]),
])
def test_columns_reach_the_driver_as_plain_python_values(column, values, expected):
    out = ledger_io.native(pd.Series(values), column)
    assert out == expected and [type(v) for v in out] == [type(v) for v in expected]


def test_money_that_is_not_whole_cents_is_still_refused():
    with pytest.raises(TypeError):
        ledger_io.native(pd.Series([1.5]), "amount")
    with pytest.raises(OverflowError):
        ledger_io.native(pd.Series([2**63], dtype=object), "amount")


def test_cents_near_the_limit_and_unicode_are_stored_exactly(ledger):
    lines = [(f"R{k:03d}-é日😀", "nb", "component", "2026", 10**15 + k, k) for k in range(300)]
    result = make_result("2026-01", lines)
    result.line_periods["earned_to_date"] = result.line_periods["earned_to_date"].astype(object)  # Python ints
    result.line_periods["quota"] = [k + 0.5 if k % 3 else None for k in range(300)]  # float cents, half up
    run_id = ledger.commit_run(result, AUDIT, snapshot=pack(result))
    stored = ledger.line_periods("2026-01", run_id)
    assert stored["rep_id"].tolist() == [f"R{k:03d}-é日😀" for k in range(300)]
    assert stored["earned_to_date"].tolist() == [10**15 + k for k in range(300)]
    assert stored["quota"].tolist()[:4] == [pd.NA, 2, 3, pd.NA] and stored["amount"].tolist()[:2] == [10**15] * 2
