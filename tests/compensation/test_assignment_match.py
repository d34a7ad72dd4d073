"""`match_by_date`'s fast paths (one assignment per rep: no search; several: a sorted search)
pair every line exactly as the plain join on rep_id and date range does."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from compensation.assignments import _match_by_merge, match_by_date

DAY = np.datetime64("2026-01-01", "D")


def test_a_line_dated_before_a_reps_only_assignment_matches_nothing():
    assignments = pd.DataFrame({"rep_id": ["A", "B"], "start": pd.to_datetime(["2026-03-01", "2026-01-01"]),
                                "end": pd.to_datetime(["2026-12-31", "2026-06-30"])})
    reps = np.array(["A", "A", "B", "B", "C"], dtype=object)
    dates = pd.to_datetime(["2026-02-28", "2026-03-01", "2026-06-30", "2026-07-01", "2026-05-01"]).to_numpy()
    at, which = match_by_date(reps, dates, assignments)
    assert at.tolist() == [1, 2]
    assert which.tolist() == [0, 1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(1, 40), min_size=1, max_size=3), min_size=1, max_size=6),
       st.lists(st.tuples(st.integers(0, 7), st.integers(-5, 200)), max_size=40), st.randoms())
def test_fast_paths_pair_lines_as_the_join_does(spans, lines, random):
    rows = []
    for rep, lengths in enumerate(spans):  # back-to-back assignments with gaps of a day or more
        day = 10 + rep * 7
        for length in lengths:
            rows.append((f"R{rep}", DAY + day, DAY + day + length - 1))
            day += length + 1 + (length % 3)
    random.shuffle(rows)
    assignments = pd.DataFrame(rows, columns=["rep_id", "start", "end"]).astype(
        {"start": "datetime64[ns]", "end": "datetime64[ns]"})
    reps = np.array([f"R{r}" for r, _ in lines], dtype=object)  # R6 and R7 may hold nothing
    dates = np.array([DAY + d for _, d in lines], dtype="datetime64[ns]")
    fast = match_by_date(reps, dates, assignments)
    plain = _match_by_merge(reps, dates.view(np.int64), assignments)
    order = np.lexsort((plain[1], plain[0]))
    assert fast[0].tolist() == plain[0][order].tolist()
    assert fast[1].tolist() == plain[1][order].tolist()
