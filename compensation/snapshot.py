"""A committed run kept whole, so it can be rendered again without recalculating.

Each frame of a `RunResult` is stored as a Parquet blob (zstd) beside the run's rows in
the ledger, in the same transaction (the blobs are written on a background thread while
the rows go in); the plans are stored as JSON. `unpack` rebuilds the very `RunResult`
that was committed: rendering it gives the same files.
"""

from __future__ import annotations

import ctypes
import io
import json
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from compensation.errors import IcmError
from compensation.plan import Plan
from compensation.results import InputFile, RunResult
from compensation.settings import Workspace

FRAMES = ("register", "line_periods", "credits", "settlement", "reps", "exceptions", "year_to_date", "timing")
SAMPLE = 2000  # rows looked at to tell a unique column (an id, an amount) from repeated values
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
    picks = _picks(len(frame))
    for name in frame.columns:
        column = frame[name]
        repeats = _repeats(column.iloc[picks]) if picks is not None else SAMPLE
        if column.dtype == object and picks is not None and repeats:
            codes, uniques = _factorize(column.to_numpy(), picks)
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


def _picks(rows: int) -> np.ndarray | None:
    """2,000 rows picked at random (the same for every column) from a frame of over 1,000, else None."""
    return np.unique(np.random.default_rng(0).integers(0, rows, SAMPLE)) if rows > 1000 else None


def _repeats(sample: pd.Series) -> int:
    """How many sampled rows repeat a value: none, and the column is (nearly) unique.

    A column with under a twentieth as many values as rows (the dictionary's bar) repeats
    within such a sample but for odds of about e^-40; a miss costs speed, never data.
    """
    return len(sample) - sample.nunique(dropna=False)


def _factorize(values: np.ndarray, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize` of an object array, hashing each distinct object once rather than every row.

    A text column with few values usually holds a few Python objects, each repeated many
    times. Their addresses (what an object array stores) factorize as integers, several
    times faster than text; the objects found, in order of first appearance, are then
    factorized as values, so the codes and uniques are exactly pd.factorize's. When the
    sample holds many objects (many values, or text made anew in each row), hashing their
    addresses saves little and the values are factorized directly.
    """
    values = np.ascontiguousarray(values)
    addresses = np.frombuffer((ctypes.c_void_p * len(values)).from_address(values.ctypes.data), dtype=np.intp)
    sampled = pd.unique(addresses[picks])
    if len(sampled) * 20 >= len(picks):
        return pd.factorize(values, use_na_sentinel=True)
    if len(sampled) == 1 and (addresses == sampled[0]).all():  # one object in every row (a blank column)
        codes, uniques = pd.factorize(values[:1], use_na_sentinel=True)
        return np.full(len(values), codes[0], dtype=np.int8), uniques
    by_address, objects = pd.factorize(addresses)
    # Codes count up as objects first appear, so the running maximum rises exactly at first
    # appearances, all of them by the last object's first row.
    end = np.argmax(by_address == len(objects) - 1) + 1
    first = np.searchsorted(np.maximum.accumulate(by_address[:end]), np.arange(len(objects)))
    codes, uniques = pd.factorize(values[first], use_na_sentinel=True)
    return codes.astype(np.min_scalar_type(-len(uniques) - 1))[by_address], uniques  # small codes: no copy later


def _frame(data: bytes) -> pd.DataFrame:
    frame = pq.read_table(io.BytesIO(data)).to_pandas()
    # Dictionaries written for speed, and Arrow text (a transaction's id), read back as plain text.
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype | pd.StringDtype | pd.ArrowDtype):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame
