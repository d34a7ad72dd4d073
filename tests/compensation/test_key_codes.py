"""Integer-code helpers stand in for pandas' factorize and merges: same codes, same matches."""

import numpy as np
import pandas as pd
import pytest

from compensation.codes import object_codes, positions_of, run_codes


def test_run_codes_equal_factorize_on_runs_gaps_and_missing():
    values = np.array(["b", "b", "a", "a", None, None, "b", np.nan, np.nan, "c"], dtype=object)
    codes, uniques = run_codes(values)
    want_codes, want_uniques = pd.factorize(values)
    assert codes.tolist() == want_codes.tolist()
    assert list(uniques) == list(want_uniques)
    assert [len(x) for x in run_codes(np.empty(0, dtype=object))] == [0, 0]


def test_positions_of_matches_a_left_merge():
    left = pd.DataFrame({"rep_id": ["r1", "r2", "r1", "r3"], "line": ["a", "a", "b", "a"]})
    right = pd.DataFrame({"rep_id": ["r1", "r1", "r2"], "line": ["b", "a", "b"], "v": [1, 2, 3]})
    at = positions_of(left, right, ["rep_id", "line"])
    merged = left.merge(right, on=["rep_id", "line"], how="left")
    got = np.where(at >= 0, right["v"].to_numpy()[np.maximum(at, 0)], -1)
    assert got.tolist() == merged["v"].fillna(-1).astype(int).tolist()



@pytest.mark.parametrize("distinct", [1, 3, 5_000, 50_000])
def test_object_codes_equal_factorize_for_shared_and_fresh_objects(distinct):
    rng = np.random.default_rng(distinct)
    ids = np.array([f"R{i:05d}" for i in range(distinct)] + [None], dtype=object)
    shared = ids[rng.integers(0, len(ids), 50_000)]  # one str object per id, as loaded columns hold
    fresh = np.array([None if v is None else "".join(v) for v in shared], dtype=object)  # a new str per cell
    for values in (shared, fresh):
        codes, uniques = object_codes(values)
        want_codes, want_uniques = pd.factorize(values)
        assert codes.tolist() == want_codes.tolist()
        assert list(uniques) == list(want_uniques)
