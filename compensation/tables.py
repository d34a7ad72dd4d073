"""Input tables (SPEC section 3): each table of `data/` read, checked once and typed.

This module is the one place to load inputs from: `read_table` reads one table
(`compensation.readers`), types every column by its declaration (`compensation.schema`,
`compensation.coerce`) and reports every bad cell at once; `load_inputs` adds the checks
that need several tables (`compensation.table_checks`). Structural faults (a missing or
unreadable file, missing columns, two files for one table) raise `IcmError`; a bad row
is left out and returned as a `Problem`. Everything downstream may trust the frames'
types (see `compensation.schema`).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from compensation import messages
from compensation.coerce import check_column, cleaned, frame_of, to_objects
from compensation.errors import HOLD, IcmError, Located, Problem
from compensation.readers import BLANK_HEADER, file_sha256, read_text_table, relative, table_path
from compensation.results import InputFile
from compensation.schema import (
    CENTS_SUFFIX,
    DEFAULT_TABLES,
    REP_ID_PATTERN,
    REQUIRED_TABLES,
    SCHEMAS,
    SHARE_UNITS,
    Column,
    empty_table,
)
from compensation.settings import Workspace
from compensation.table_checks import (
    ROW_CHECKS,
    check_reps,
    check_transactions,
    drop_duplicates,
    drop_unknown_reps,
    row_problems,
    valid_reps,
)

__all__ = [
    "DEFAULT_TABLES", "REP_ID_PATTERN", "REQUIRED_TABLES", "SCHEMAS", "SHARE_UNITS", "Column",
    "Inputs", "check_reps", "check_transactions", "empty_table",
    "file_sha256", "load_inputs", "read_table", "table_path",
]


@dataclass(frozen=True)
class Inputs:
    """The checked input tables of a workspace, with the files they came from."""

    reps: pd.DataFrame
    transactions: pd.DataFrame
    quotas: pd.DataFrame
    credits: pd.DataFrame
    fx: pd.DataFrame
    adjustments: pd.DataFrame
    files: tuple[InputFile, ...]
    payments: pd.DataFrame = field(default_factory=lambda: empty_table("payments"))


def read_table(ws: Workspace, name: str, required: bool = True, *,
               known_reps: Collection[str] | None = None,
               ) -> tuple[pd.DataFrame | None, list[Problem], InputFile | None]:
    """Read, check and coerce `data/NAME.*`.

    Returns the good rows, a Problem per bad cell (its row dropped) and the file's record.
    A missing optional table gives (None, [], None). `known_reps` decides severity: a
    problem is a hold when its row names one of them; without it (None) every valid rep_id
    counts as known, except in `reps` itself which knows its own.
    """
    schema = SCHEMAS[name]
    path = table_path(ws, name)
    if path is None:
        if required:
            columns = ", ".join(c.name + ("*" if c.required else "") for c in schema)
            raise IcmError.at(f"data/{name}.csv", None, messages.table_missing(name, columns))
        return None, [], None
    source = relative(ws, path)
    with ThreadPoolExecutor(1) as pool:
        # The file is hashed on another core while it is read and typed (hashlib frees the GIL).
        digest = pool.submit(file_sha256, path)
        table, problems, n = typed_rows(name, read_text_table(path, source), source, known_reps)
    return table, problems, InputFile(name, source, n, digest.result())


def typed_rows(name: str, raw, source: str, known_reps: Collection[str] | None = None, first_row: int = 2,
               ) -> tuple[pd.DataFrame, list[Problem], int]:
    """`read_table`'s checks on cells already read: the good rows, a Problem per bad cell, the row count.

    `first_row` is the row number of the first cell (2 under a header; more for a slice
    of a file read by the Dask engine).
    """
    schema = SCHEMAS[name]
    renamed, header_problems = _match_header(name, raw.names, source)
    n = len(next(iter(raw.cells.values()))) if raw.cells else 0
    rows = np.arange(first_row, n + first_row, dtype=np.int64)
    texts = {h: cleaned(raw.cells[h]) for h in raw.names}
    for h in raw.names:
        if h.startswith(BLANK_HEADER):
            if pc.any(pc.is_valid(texts[h])).as_py():
                raise IcmError.at(source, 1, messages.headerless_values(h[len(BLANK_HEADER):]))
            del texts[h]
    header = [h for h in raw.names if not h.startswith(BLANK_HEADER)]
    formulas = {renamed[h]: raw.formulas[h] for h in header if h in raw.formulas}
    # Wholly blank lines (a trailing line, a spacer) are not rows of data.
    filled = np.zeros(n, dtype=bool)
    for h in header:
        filled |= pc.is_valid(texts[h]).to_numpy(zero_copy_only=False)
    for cells in formulas.values():
        filled[list(cells)] = True
    if not filled.all():
        kept = np.flatnonzero(filled)
        keep = pa.array(filled)
        texts = {h: c.filter(keep) for h, c in texts.items()}
        # Formula rows are kept (filled): renumber them to their position among kept rows.
        formulas = {c: {int(np.searchsorted(kept, i)): f for i, f in cells.items()} for c, cells in formulas.items()}
        rows, n = rows[filled], int(filled.sum())

    frame: dict[str, object] = {"row": rows}
    bad: list[tuple[str, np.ndarray, list[str]]] = []
    by_name = {renamed[h]: h for h in header}
    for col in schema:
        checked = check_column(col, texts.get(by_name.get(col.name)), n)
        frame[col.name] = checked.values
        frame.update(checked.extra)
        bad += [(col.name, where, found) for where, found in checked.bad]
    for h in header:
        if renamed[h] not in frame:
            frame[renamed[h]] = to_objects(texts[h])
    # Columns stay separate blocks: consolidating a million rows of text is a copy for nothing.
    table = frame_of(frame)
    for check in ROW_CHECKS.get(name, ()):
        bad += check(table)
    bad = _formula_cells(bad, formulas)

    problems = list(header_problems)
    if bad:
        drop = np.zeros(n, dtype=bool)
        known = valid_reps(table["rep_id"]) if name == "reps" else known_reps
        entries = []
        for _column, where, found in bad:
            drop[where] = True
            entries += zip(where.tolist(), found, strict=True)
        entries.sort(key=lambda e: e[0])
        problems += row_problems(name, table, entries, known)
        table = table.loc[~drop].reset_index(drop=True)
    return table, problems, n


def _formula_cells(bad: list[tuple[str, np.ndarray, list[str]]], formulas: dict[str, dict[int, str]],
                   ) -> list[tuple[str, np.ndarray, list[str]]]:
    """Formula cells without a value: their own message instead of "is blank" (or nothing)."""
    if not formulas:
        return bad
    out = []
    for column, where, found in bad:
        cells = formulas.get(column, {})
        keep = [k for k, pos in enumerate(where.tolist()) if pos not in cells]
        if keep:
            out.append((column, where[keep], [found[k] for k in keep]))
    for column, cells in formulas.items():
        where = np.array(sorted(cells), dtype=np.int64)
        out.append((column, where, [messages.formula_without_value(column, cells[i]) for i in where.tolist()]))
    return out


def _match_header(name: str, header: list[str], source: str,
                  ) -> tuple[dict[str, str], list[Problem]]:
    """Map header names to column names (known ones case-insensitively).

    Every missing required column is reported at once, with did-you-mean for near misses.
    """
    schema = SCHEMAS[name]
    known = {c.name for c in schema}
    derived = {c.name + CENTS_SUFFIX for c in schema if c.kind == "money" and c.required}
    renamed: dict[str, str] = {}
    for h in header:
        key = h.lower().replace(" ", "_")
        renamed[h] = key if key in known else h
        if key in derived:
            raise IcmError.at(source, 1, messages.reserved_column(h))
    present = set(renamed.values())
    if len(present) < len(renamed):
        clash = [h for h in header if list(renamed.values()).count(renamed[h]) > 1]
        raise IcmError.at(source, 1, messages.same_column(clash))
    spare = [h for h in header if renamed[h] not in known and not h.startswith(BLANK_HEADER)]
    missing, problems = [], []
    for col in schema:
        if col.name in present:
            continue
        lowered = {h.lower(): h for h in spare}
        near = [lowered[m] for m in difflib.get_close_matches(col.name, lowered, n=1, cutoff=0.6)]
        if col.required:
            required = ", ".join(c.name for c in schema if c.required)
            missing.append(Located(messages.missing_column(col.name, near[0] if near else None, required),
                                   source, 1))
        elif near:
            problems.append(Problem.notice(name, messages.near_column(name, near[0], col.name), row=1))
    if missing:
        raise IcmError(*missing)
    return renamed, problems


def load_inputs(ws: Workspace, tables: Iterable[str] = DEFAULT_TABLES,
                ) -> tuple[Inputs, list[Problem]]:
    """Read the input tables and run the checks that need several of them.

    `reps` is always read (severity depends on it); `reps` and `transactions` are
    required when asked for, the others optional (empty when absent). Row problems never
    raise; the structural faults of all tables raise together, in one IcmError.
    """
    wanted = set(tables) | {"reps"}
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    files: list[InputFile] = []
    errors: list[Located] = []  # structural faults of every table, raised together

    def read(name: str, known_reps: Collection[str] | None):
        try:
            return read_table(ws, name, required=name in REQUIRED_TABLES, known_reps=known_reps)
        except IcmError as exc:
            errors.extend(exc.messages)
            return None, [], None

    reps, found, record = read("reps", None)
    known = set() if reps is None else (
        set(reps["rep_id"]) | {p.rep_id for p in found if p.severity == HOLD and p.rep_id})
    problems += found
    if reps is not None:
        files.append(record)
        frames["reps"], found = check_reps(reps, known)
        problems += found

    for name in ("transactions", "credits", "quotas", "fx", "adjustments", "payments"):
        if name not in wanted:
            continue
        frame, found, record = read(name, known)
        problems += found
        if record is not None:
            files.append(record)
        frames[name] = frame if frame is not None else empty_table(name)
    if errors:
        raise IcmError(*errors)

    for name in ("quotas", "adjustments"):
        if name in frames:
            frames[name], found = drop_unknown_reps(frames[name], name, known)
            problems += found
    if "fx" in frames:
        frames["fx"], found = drop_duplicates(frames["fx"], "fx", ["period", "currency"],
                                              "fx rate for {currency} in {period}")
        problems += found
    if "transactions" in frames:
        txn_problems = [p for p in problems if p.table == "transactions"]
        credit_problems = [p for p in problems if p.table == "credits"]
        credits = frames["credits"] if "credits" in frames else empty_table("credits")
        frames["transactions"], credits, found = check_transactions(
            frames["transactions"], credits, known,
            left_out={p.txn_id for p in txn_problems if p.txn_id},
            broken_credits={p.txn_id for p in credit_problems if p.txn_id})
        problems += found
        if "credits" in frames:
            frames["credits"] = credits

    inputs = Inputs(
        **{n: frames[n] if n in frames else empty_table(n) for n in DEFAULT_TABLES},
        files=tuple(files),
    )
    return inputs, problems
