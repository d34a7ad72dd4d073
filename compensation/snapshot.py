"""A committed run kept whole, so it can be rendered again without recalculating.

Each frame of a `RunResult` is stored as a Parquet blob (zstd) beside the run's rows in
the ledger, in the same transaction (the blobs are written on a background thread while
the rows go in); the plans are stored as JSON. `unpack` rebuilds the very `RunResult`
that was committed: rendering it gives the same files.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from compensation.codes import SAMPLE, object_codes, sample_rows
from compensation.errors import IcmError
from compensation.plan import Plan
from compensation.results import InputFile, RunResult
from compensation.settings import Workspace

FRAMES = ("register", "line_periods", "credits", "settlement", "reps", "exceptions", "year_to_date", "timing")
OPTIONAL = ("timing",)  # added later (issue 17): runs kept before it render without held balances


def pack(result: RunResult) -> Parts:
    """The parts to store for a run: one Parquet blob per frame, plus `plans` as JSON.

    The frames are turned into Arrow tables here; their Parquet is written on a
    background thread (it releases the GIL), so it overlaps the ledger's row inserts.
    """
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="icm-snapshot")
    try:
        parts: dict[str, bytes | Future[bytes]] = {
            name: writer.submit(_write, *_arrow(getattr(result, name))) for name in FRAMES}
    finally:
        writer.shutdown(wait=False)  # the thread ends once the blobs are written
    plans = {pid: plan.model_dump(mode="json", by_alias=True) for pid, plan in result.plans.items()}
    parts["plans"] = json.dumps(plans, sort_keys=True).encode()
    parts["period"] = result.period.encode()
    return Parts(parts)


class Parts(Mapping[str, bytes]):
    """A run's stored parts, some maybe still being written: reading one waits for it.

    The ledger reads them last, inside the transaction that stores the run's rows, so a
    failed write rolls the whole run back like any other error.
    """

    def __init__(self, parts: dict[str, bytes | Future[bytes]]):
        self._parts = parts

    def __getitem__(self, name: str) -> bytes:
        part = self._parts[name]
        return part.result() if isinstance(part, Future) else part

    def __iter__(self) -> Iterator[str]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)


def unpack(parts: Mapping[str, bytes], workspace: Workspace, inputs: tuple[InputFile, ...], run_id: int) -> RunResult:
    """The committed `RunResult` from its stored parts."""
    missing = [name for name in (*FRAMES, "plans", "period") if name not in parts and name not in OPTIONAL]
    if missing:
        raise IcmError(f"run {run_id} was stored before runs were kept whole (it lacks {', '.join(missing)}); "
                       "run its month again to render it")
    plans = {pid: Plan.model_validate(data) for pid, data in json.loads(parts["plans"]).items()}
    frames = {name: _frame(parts[name]) for name in FRAMES if name in parts}
    return RunResult(workspace=workspace, period=parts["period"].decode(), plans=plans, inputs=inputs, **frames)



def _arrow(frame: pd.DataFrame) -> tuple[pa.Table, list[str], dict[str, str]]:
    """A frame as an Arrow table, with the columns to dictionary-encode and the ones to byte-stream-split.

    Converting a million Python strings dominates the cost, so text with few distinct
    values (rep, line, period, type) goes in as dictionaries, encoded once per distinct
    value; it reads back as the same text. A column whose sample repeats nothing (a
    transaction id) would not shrink as a dictionary: text is written plain without
    counting its values. Numbers whose sample barely repeats (an id, an amount) are
    byte-stream-split, which zstd packs fast and small; building their dictionary only
    to outgrow it costs more.
    """
    columns, dictionary, split = {}, [], {}
    picks = sample_rows(len(frame))
    for name in frame.columns:
        column = frame[name]
        repeats = _repeats(column.iloc[picks]) if picks is not None else SAMPLE
        if column.dtype == object and picks is not None and repeats:
            codes, uniques = object_codes(column.to_numpy(), picks)
            if len(uniques) * 20 < len(column):
                column = pd.Categorical.from_codes(codes, categories=uniques.astype(object))
        columns[name] = column
        if column.dtype.kind in "iuf" and repeats * 100 < SAMPLE:
            split[name] = "BYTE_STREAM_SPLIT"
        elif repeats:
            dictionary.append(name)
    return pa.Table.from_pandas(pd.DataFrame(columns, copy=False), preserve_index=False), dictionary, split


def _write(table: pa.Table, dictionary: list[str], split: dict[str, str]) -> bytes:
    """A table as zstd Parquet bytes.

    The sink is Arrow's own buffer: a Python file would take the GIL for each of a
    thousand writes, each a wait while the ledger's inserts hold it.
    """
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", compression_level=1, write_statistics=False,
                   use_dictionary=dictionary, column_encoding=split)
    return sink.getvalue().to_pybytes()


def _repeats(sample: pd.Series) -> int:
    """How many sampled rows repeat a value: none, and the column is (nearly) unique.

    A column with under a twentieth as many values as rows (the dictionary's bar) repeats
    within such a sample but for odds of about e^-40; a miss costs speed, never data.
    """
    return len(sample) - sample.nunique(dropna=False)


def _frame(data: bytes) -> pd.DataFrame:
    frame = pq.read_table(io.BytesIO(data)).to_pandas()
    # Dictionaries written for speed, and Arrow text (a transaction's id), read back as plain text.
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype | pd.StringDtype | pd.ArrowDtype):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame
