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

from compensation import snapshot
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
