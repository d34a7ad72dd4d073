"""The Dask engine (issue 20): a month's per-transaction stages on Dask partitions.

The transactions are read where the workers are, one slice at a time: a CSV in byte
ranges cut at record ends, Parquet (a file or `data/transactions/*.parquet`) by row
group, in file-name order. Three passes over the slices:

1. scan: type every cell (`tables.typed_rows`, the pandas engine's checks), and send back
   the row problems, a 64-bit hash per txn_id and the few rows a table-wide check can
   touch (cancellations, no or unknown owner, named by credits);
2. look up (only when needed): rows whose txn_id hash repeats, originals of
   cancellations, the deals payments and held cash name. The driver then runs
   `table_checks.check_transactions` on those rows alone: every other row passes each
   check, so the verdicts are the pandas engine's;
3. credit: each slice, less the rows the checks left out and with the originals it
   borrows from, goes through `partition.credit_partition`; the sums are added up on the
   workers and the credit detail written by them as Parquet under `out/credits/PERIOD/`.

The driver then runs the per-rep stages (`pipeline.calculate_credited`) on the sums.
"""

from __future__ import annotations

import atexit
import csv
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from distributed import Client, LocalCluster

from compensation.assignments import build_assignments
from compensation.engines.partition import Credited, combine, credit_partition
from compensation.errors import HOLD, IcmError, Problem
from compensation.outputs import atomic_folder, scratch_folder
from compensation.pipeline import RunWindow, calculate_credited, credit_detail
from compensation.planfile import load_plans
from compensation.readers import (
    RawTable,
    _arrow_csv,
    _arrow_text,
    _sniff_delimiter,
    file_sha256,
    header_names,
    read_text_table,
    relative,
    table_path,
)
from compensation.results import InputFile, PriorState, RunResult
from compensation.settings import Workspace
from compensation.table_checks import check_transactions
from compensation.tables import DEFAULT_TABLES, Inputs, load_inputs, read_table, typed_rows

# Credit detail up to this many rows is also kept in the run (statements, explain); above, only as Parquet.
DETAIL_IN_RUN = 1_000_000
PART_BYTES = 12 << 20  # a CSV slice: about 250,000 rows of a typical transactions file
TABLE = "transactions"


@dataclass(frozen=True)
class Part:
    """One slice of the transactions: a byte range of a CSV, a row group of a Parquet file, or a file."""

    path: str
    source: str  # as problems name it: data/transactions.csv
    first_row: int  # row number (as the exceptions count) of the slice's first row
    kind: str  # csv | parquet | file
    start: int = 0  # csv: byte range; parquet: row group
    end: int = 0
    names: tuple[str, ...] = ()
    delimiter: str = ","


@dataclass(frozen=True)
class Context:
    """What every slice needs: small tables and plans, scattered to the workers once."""

    credits: pd.DataFrame
    reps: pd.DataFrame
    fx: pd.DataFrame
    assignments: pd.DataFrame
    plans: dict
    window: RunWindow
    base_currency: str
    known: frozenset[str]
    credit_ids: frozenset[str]


@dataclass(frozen=True)
class Scan:
    """What pass 1 sends back of a slice."""

    problems: list[Problem]
    rows: int
    hashes: np.ndarray
    notable: pd.DataFrame


def calculate_on_dask(ws: Workspace, period: str, prior: PriorState,
                      adjust: Callable[[Inputs], Inputs] = lambda inputs: inputs, *,
                      keep_detail: bool = True) -> RunResult:
    """Calculate a month with the transactions on Dask partitions; the same result as the pandas engine.

    The workers write the credit detail to `out/credits/P/`; with `keep_detail` False (a dry
    re-run) they write it to a scratch folder that is removed, and `out/` is left as it was.
    """
    plan_set = load_plans(ws)
    inputs, problems = load_inputs(ws, [t for t in DEFAULT_TABLES if t != TABLE])
    inputs = adjust(inputs)
    window = RunWindow.of(period, ws.calendar)
    assignments, _ = build_assignments(inputs.reps, plan_set.plans)
    known = set(inputs.reps["rep_id"]) | {p.rep_id for p in problems if p.table == "reps" and p.severity == HOLD}
    parts, files = transaction_parts(ws)
    with connect(ws.settings.scheduler) as client:
        ctx = Context(inputs.credits, inputs.reps, inputs.fx, assignments, dict(plan_set.plans), window,
                      ws.settings.base_currency, frozenset(known), frozenset(inputs.credits["txn_id"]))
        [ctx_f] = client.scatter([ctx], broadcast=True)
        scans = client.gather(client.map(scan_part, parts, ctx=ctx_f, pure=False))
        read_problems = [p for s in scans for p in s.problems]
        files = [replace(f, rows=sum(s.rows for s, part in zip(scans, parts, strict=True) if part.source == f.path))
                 for f in files]
        left_out = {p.txn_id for p in read_problems if p.txn_id}
        broken = {p.txn_id for p in problems if p.table == "credits" and p.txn_id}
        reduced = _reduced(client, parts, scans, ctx_f, _deal_ids(inputs, prior) | left_out | broken)
        del scans  # the txn_id hashes: 8 bytes a row
        kept, credits, found = check_transactions(reduced, inputs.credits, known, left_out=left_out,
                                                  broken_credits=broken)
        dropped = np.setdiff1d(reduced["row"].to_numpy(dtype=np.int64), kept["row"].to_numpy(dtype=np.int64))
        originals = kept[kept["txn_id"].isin(list(kept["reverses"].dropna())).to_numpy()]
        ctx = replace(ctx, credits=credits)
        [ctx_f] = client.scatter([ctx], broadcast=True)
        detail_folder = atomic_folder if keep_detail else scratch_folder
        with detail_folder(ws.out_dir / "credits" / period) as staging:
            # No reference to a slice's result outlives its addition: the workers free each one once added.
            credited, detail, count = client.gather(_tree_sum(client, [
                client.submit(credit_part, part, i, ctx_f, dropped, originals, str(staging), pure=False)
                for i, part in enumerate(parts)]))
            if count <= DETAIL_IN_RUN:  # small enough for statements and explain to read from the run
                detail = _read_detail(staging, detail)
    paid_ids = _deal_ids(inputs, prior)
    deals = kept[kept["txn_id"].isin(list(paid_ids)).to_numpy()] if paid_ids else kept.iloc[:0]
    inputs = replace(inputs, files=(*inputs.files[:1], *files, *inputs.files[1:]), credits=credits)
    all_problems = [*problems, *read_problems, *found]
    return calculate_credited(ws, period, plan_set, inputs, _named(all_problems, parts), prior, credited,
                              detail, deals)


# -- the cluster ----------------------------------------------------------------------------


@contextmanager
def connect(address: str | None) -> Iterator[Client]:
    """A client of the scheduler at `address`, or of this process's LocalCluster sized to the machine.

    The LocalCluster is started once and kept until the process exits, so the month's
    calculation and its statements use the same workers.
    """
    if address:
        try:
            client = Client(address, timeout=dask.config.get("distributed.comm.timeouts.connect"))
        except OSError as err:
            raise IcmError(f"cannot reach the Dask scheduler at {address} ({err}); start it (dask scheduler) "
                           "or leave --scheduler out to use this machine") from None
        with client:
            yield client
        return
    if "cluster" not in _LOCAL:
        workers = max(1, min(os.cpu_count() or 1, 8))
        _LOCAL["cluster"] = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
        atexit.register(_LOCAL["cluster"].close)
    with Client(_LOCAL["cluster"]) as client:
        yield client


_LOCAL: dict[str, LocalCluster] = {}


def _tree_sum(client: Client, futures: list):
    """Add the slices' sums pairwise on the workers: the driver receives one `Credited`."""
    while len(futures) > 1:
        level, futures = futures, []
        while level:
            futures.append(client.submit(_add, *level[:2], pure=False))
            del level[:2]
    return futures[0]


def _add(*parts: tuple[Credited, pd.DataFrame, int]) -> tuple[Credited, pd.DataFrame, int]:
    return combine([p[0] for p in parts]), parts[0][1], sum(p[2] for p in parts)


def _read_detail(folder: Path, empty: pd.DataFrame) -> pd.DataFrame:
    """The credit detail the workers wrote, in partition order."""
    frames = [pd.read_parquet(path) for path in sorted(Path(folder).glob("part-*.parquet"))]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else empty


# -- the slices ------------------------------------------------------------------------------


def transaction_parts(ws: Workspace) -> tuple[list[Part], list[InputFile]]:
    """The slices of the transactions, in file-name then row order, and the files they come from."""
    folder = ws.data_dir / TABLE
    if folder.is_dir() and table_path(ws, TABLE) is None:
        paths = sorted(folder.glob("*.parquet"))
        if not paths:
            raise IcmError.at(relative(ws, folder), None, "holds no .parquet files; put the transactions there "
                              "as data/transactions/*.parquet (or use data/transactions.csv)")
    else:
        path = table_path(ws, TABLE)
        if path is None:
            read_table_error(ws)
        paths = [path]
    parts: list[Part] = []
    files = []
    offset = 0
    for path in paths:
        source = relative(ws, path)
        files.append(InputFile(TABLE, source, 0, file_sha256(path)))
        if path.suffix == ".csv":
            parts += _csv_parts(path, source)
        elif path.suffix == ".parquet":
            meta = pq.ParquetFile(path).metadata
            first = 2 + offset
            for group in range(max(meta.num_row_groups, 1)):
                parts.append(Part(str(path), source, first, "parquet", group))
                first += meta.row_group(group).num_rows if meta.num_row_groups else 0
            # Rows of a folder are numbered on from file to file while checked; `_named` gives
            # each problem its file and its row within it back.
            offset = first - 2 if len(paths) > 1 else 0
        else:
            parts.append(Part(str(path), source, 2, "file"))
    return parts, files


def read_table_error(ws: Workspace) -> None:
    """The pandas engine's message for a missing transactions table."""
    read_table(ws, TABLE, required=True)


def _csv_parts(path: Path, source: str) -> list[Part]:
    """Byte ranges of a CSV cut at record ends (a newline outside quotes), with their first row."""
    with path.open("rb") as handle:
        first_line = handle.readline()
    text = first_line.decode("utf-8-sig", errors="replace")
    if not text.strip():
        read_text_table(path, source)  # the reader's own message for a file without a header
    delimiter = _sniff_delimiter(text)
    names = tuple(header_names(next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter)), source))
    size = path.stat().st_size
    cuts, records = _record_ends(path, len(first_line), size)
    parts = []
    start, row = len(first_line), 2
    for end, count in zip(cuts, records, strict=True):
        if end > start:
            parts.append(Part(str(path), source, row, "csv", start, end, names, delimiter))
        start, row = end, row + count
    return parts


def _record_ends(path: Path, start: int, size: int, chunk: int = 8 << 20) -> tuple[list[int], list[int]]:
    """Cut points about `PART_BYTES` apart, each just after a record's newline, and the records before each."""
    cuts, counts = [], []
    inside = 0  # quote parity carried over chunk edges
    next_cut = start + PART_BYTES
    count = 0
    with path.open("rb") as handle:
        handle.seek(start)
        pos = start
        while block := handle.read(chunk):
            data = np.frombuffer(block, dtype=np.uint8)
            quotes = data == 34
            newline = np.flatnonzero(data == 10)
            if quotes.any():
                parity = (np.cumsum(quotes, dtype=np.uint8) + inside) & 1
                newline = newline[parity[newline] == 0]
                inside = int(parity[-1])
            ends = pos + newline + 1
            while len(ends) and ends[-1] >= next_cut:
                at = int(np.searchsorted(ends, next_cut))
                cuts.append(int(ends[at]))
                counts.append(count + at + 1)
                count = -(at + 1)
                next_cut = int(ends[at]) + PART_BYTES
            count += len(ends)
            pos += len(block)
    if not cuts or cuts[-1] < size:
        cuts.append(size)
        counts.append(count + (0 if size == 0 else 1))
    return cuts, counts


def read_part(part: Part, known) -> tuple[pd.DataFrame, list[Problem], int]:
    """A slice's rows, typed and checked cell by cell as `read_table` does."""
    if part.kind == "csv":
        with open(part.path, "rb") as handle:
            header = handle.readline()  # the reader skips a header line
            handle.seek(part.start)
            data = header + handle.read(part.end - part.start)
        names = list(part.names)
        try:
            table = _arrow_csv(io.BytesIO(data), names, part.delimiter, block_size=len(data) + 1)
        except Exception:  # noqa: BLE001 - the whole file's reader says what and where
            read_text_table(Path(part.path), part.source)
            raise
        raw = RawTable(names, {n: table.column(n) for n in names})
    elif part.kind == "parquet":
        raw = _parquet_group(part)
    else:
        raw = read_text_table(Path(part.path), part.source)
    return typed_rows(TABLE, raw, part.source, known, first_row=part.first_row)


def _parquet_group(part: Part) -> RawTable:
    handle = pq.ParquetFile(part.path)
    table = handle.read_row_group(part.start) if handle.metadata.num_row_groups else handle.read()
    names = header_names(table.column_names, part.source)
    return RawTable(names, {n: _arrow_text(table.column(i), n, part.source) for i, n in enumerate(names)})


def scan_part(part: Part, ctx: Context) -> Scan:
    """Pass 1: row problems, txn_id hashes and the rows table-wide checks can touch."""
    table, problems, n = read_part(part, ctx.known)
    ids = table["txn_id"].to_numpy(dtype=object)
    hashes = pd.util.hash_array(ids) if len(ids) else np.empty(0, np.uint64)
    owner = table["rep_id"]
    notable = (owner.isna() | ~owner.isin(list(ctx.known)) | table["reverses"].notna()
               | table["txn_id"].isin(list(ctx.credit_ids)))
    return Scan(problems, n, hashes, table[notable.to_numpy()])


def lookup_part(part: Part, ctx: Context, repeated: np.ndarray, wanted: frozenset[str]) -> pd.DataFrame:
    """Pass 2: rows whose txn_id hash repeats or whose txn_id is wanted."""
    table, _, _ = read_part(part, ctx.known)
    ids = table["txn_id"].to_numpy(dtype=object)
    hit = np.isin(pd.util.hash_array(ids), repeated) if len(repeated) and len(ids) else np.zeros(len(ids), bool)
    if wanted:
        hit |= table["txn_id"].isin(list(wanted)).to_numpy()
    return table[hit]


def credit_part(part: Part, number: int, ctx: Context, dropped: np.ndarray, originals: pd.DataFrame,
                staging: str) -> tuple[Credited, pd.DataFrame, int]:
    """Pass 3: credit and measure a slice; write its credit detail; return its sums."""
    table, _, _ = read_part(part, ctx.known)
    if len(dropped):
        table = table[~np.isin(table["row"].to_numpy(dtype=np.int64), dropped)]
    borrow = originals[~originals["txn_id"].isin(table["txn_id"]).to_numpy()] if len(originals) else originals
    txns = pd.concat([table, borrow], ignore_index=True) if len(borrow) else table.reset_index(drop=True)
    credited, lines, comp_credits = credit_partition(txns, ctx.credits, ctx.reps, ctx.fx, ctx.assignments, ctx.plans,
                                                     ctx.window, ctx.base_currency, lookup=len(borrow))
    detail = credit_detail(comp_credits, lines, ctx.window.calendar, ctx.plans)
    detail.to_parquet(Path(staging) / f"part-{number:05d}.parquet", index=False)
    return credited, detail.iloc[:0], len(detail)


# -- the driver's share ------------------------------------------------------------------------


def _deal_ids(inputs: Inputs, prior: PriorState) -> set[str]:
    wanted = set(inputs.payments["txn_id"]) if len(inputs.payments) else set()
    if len(prior.held):
        wanted |= set(prior.held.loc[prior.held["source"] == "cash", "ref"])
    return wanted


def _reduced(client: Client, parts: list[Part], scans: list[Scan], ctx_f, named: set[str]) -> pd.DataFrame:
    """The rows a table-wide check can touch, in file then row order; every other row passes them all.

    Those the scan kept, rows whose txn_id repeats, and rows named: originals of
    cancellations, `named` (deals of payments and held cash, txn_ids a problem left out).
    """
    hashes = np.concatenate([s.hashes for s in scans]) if scans else np.empty(0, np.uint64)
    values, counts = np.unique(hashes, return_counts=True)
    repeated = values[counts > 1]
    del hashes, values, counts
    notable = pd.concat([s.notable for s in scans], ignore_index=True)
    wanted = set(notable["reverses"].dropna()) | named
    found = []
    if len(repeated) or wanted:
        found = client.gather(client.map(lookup_part, parts, ctx=ctx_f, repeated=repeated,
                                         wanted=frozenset(wanted), pure=False))
    rows = pd.concat([notable, *found], ignore_index=True)
    return rows.drop_duplicates("row").sort_values("row", kind="stable").reset_index(drop=True)


def _named(problems: list[Problem], parts: list[Part]) -> list[Problem]:
    """Problems of a folder of Parquet files: the file as the table, the row within the file."""
    sources = list(dict.fromkeys(p.source for p in parts))
    if len(sources) < 2:
        return problems
    firsts = [min(p.first_row for p in parts if p.source == s) for s in sources]
    out = []
    for problem in problems:
        if problem.table != TABLE or problem.row is None:
            out.append(problem)
            continue
        k = int(np.searchsorted(firsts, problem.row, side="right")) - 1
        out.append(replace(problem, table=f"{TABLE}/{Path(sources[k]).name}", row=problem.row - firsts[k] + 2))
    return out


# -- statements on the same workers ----------------------------------------------------------


def render_on_workers(render_batch: Callable[[list, Path | None], list], statements: list,
                      workspace_templates: Path | None, scheduler: str | None,
                      batch_size: int = 64) -> Iterator[tuple[str, bytes]]:
    """(rep_id, PDF) per statement, laid out on the Dask workers in batches, in input order.

    `render_batch` is `reports.pdf.render_statement_batch`, given by the caller (a
    top-level function: the workers import it by name; `compensation` never imports `reports`).
    """
    with connect(scheduler) as client:
        batches = [statements[i:i + batch_size] for i in range(0, len(statements), batch_size)]
        futures = client.map(render_batch, batches, workspace_templates=workspace_templates, pure=False)
        for future in futures:
            yield from future.result()
