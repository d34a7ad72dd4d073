"""A committed run kept whole, so it can be rendered again without recalculating.

Each frame of a `RunResult` is stored as a Parquet blob (zstd) beside the run's rows in
the ledger, in the same transaction; the plans are stored as JSON. `unpack` rebuilds
the very `RunResult` that was committed: rendering it gives the same files.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from compensation.errors import IcmError
from compensation.plan import Plan
from compensation.results import InputFile, RunResult
from compensation.settings import Workspace

FRAMES = ("register", "line_periods", "credits", "settlement", "reps", "exceptions", "year_to_date", "timing")
OPTIONAL = ("timing",)  # added later (issue 17): runs kept before it render without held balances


def pack(result: RunResult) -> dict[str, bytes]:
    """The parts to store for a run: one Parquet blob per frame, plus `plans` as JSON."""
    parts = {name: _parquet(getattr(result, name)) for name in FRAMES}
    plans = {pid: plan.model_dump(mode="json", by_alias=True) for pid, plan in result.plans.items()}
    parts["plans"] = json.dumps(plans, sort_keys=True).encode()
    parts["period"] = result.period.encode()
    return parts


def unpack(parts: dict[str, bytes], workspace: Workspace, inputs: tuple[InputFile, ...], run_id: int) -> RunResult:
    """The committed `RunResult` from its stored parts."""
    missing = [name for name in (*FRAMES, "plans", "period") if name not in parts and name not in OPTIONAL]
    if missing:
        raise IcmError(f"run {run_id} was stored before runs were kept whole (it lacks {', '.join(missing)}); "
                       "run its month again to render it")
    plans = {pid: Plan.model_validate(data) for pid, data in json.loads(parts["plans"]).items()}
    frames = {name: _frame(parts[name]) for name in FRAMES if name in parts}
    return RunResult(workspace=workspace, period=parts["period"].decode(), plans=plans, inputs=inputs, **frames)


def _parquet(frame: pd.DataFrame) -> bytes:
    """One frame as zstd Parquet; repeated text (rep, line, period, type) goes in as dictionaries.

    Converting a million Python strings per column dominates the cost, so columns with few
    distinct values are encoded once per distinct value; they read back as the same text.
    """
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object and len(column) > 1000:
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
            if len(uniques) * 20 < len(column):
                column = pd.Categorical.from_codes(codes, categories=uniques.astype(object))
        columns[name] = column
    table = pa.Table.from_pandas(pd.DataFrame(columns, copy=False), preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", compression_level=1, write_statistics=False)
    return sink.getvalue()


def _frame(data: bytes) -> pd.DataFrame:
    frame = pq.read_table(io.BytesIO(data)).to_pandas()
    for name in frame.columns:  # dictionaries written for speed read back as plain text
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame
