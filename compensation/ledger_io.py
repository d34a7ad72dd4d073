"""Moving frames in and out of the ledger's tables fast, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
import pandas as pd
import sqlalchemy as sa

from compensation.ledger_schema import MONEY_COLUMNS, run_inputs
from compensation.results import InputFile

MAX_PARAMETERS = 999  # per statement: the least any SQLite build allows


def with_columns(frame: pd.DataFrame, columns: tuple[str, ...], **constants) -> pd.DataFrame:
    """The stored columns of a frame; missing optional columns become blank."""
    out = {}
    for col in columns:
        if col in constants:
            out[col] = constants[col]
        elif col in frame.columns:
            out[col] = frame[col]
        else:
            out[col] = None
    return pd.DataFrame(out, index=frame.index, copy=False)  # read only: no need to copy the columns


def native(series: pd.Series, column: str) -> list:
    """A column as Python values for the driver: NA -> None, cents -> int, text -> str.

    Whole columns go through numpy's `tolist` (a C loop); only NA is patched row by row.
    Whole cents in numpy or as Python ints, and text that is all str, have no NA to look for.
    """
    if column in MONEY_COLUMNS:
        numbers = series
        if column == "quota":  # a split quota is unrounded float cents: stored to the cent, half up
            numbers = np.floor(pd.to_numeric(series, errors="coerce") + 0.5)
        cents = _whole_cents(numbers)
        if cents is not None:
            return cents.tolist()
        values = numbers.astype("Int64").to_numpy(dtype="int64", na_value=0).tolist()
    elif column == "attainment":
        values = series.to_numpy(dtype="float64", na_value=np.nan).tolist()
    elif column == "draw_active":
        return series.fillna(False).astype(bool).tolist()
    elif series.dtype == object and pd.api.types.infer_dtype(series, skipna=False) == "string":
        return series.tolist()
    else:
        values = None
    mask = series.isna().to_numpy()
    if mask.all():
        return [None] * len(series)
    if values is None:  # text, maybe with NA or values that are not str
        values = series.tolist()
        if pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
            values = [v if isinstance(v, str) else str(v) for v in values]
    if mask.any():
        values = [None if missing else value for value, missing in zip(values, mask.tolist(), strict=True)]
    return values


def _whole_cents(numbers: pd.Series) -> np.ndarray | None:
    """The column as int64 when it plainly holds whole numbers and no NA (what `Int64` would give), else None."""
    if not isinstance(numbers.dtype, np.dtype):  # Int64 and other pandas types: converted as they always were
        return None
    values = numbers.to_numpy()
    if values.dtype.kind == "i":
        return values
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) == "integer":
        return values.astype(np.int64)  # Python ints as they are; too big for int64 raises, as Int64 does
    if values.dtype.kind == "f" and (np.abs(values) < 2.0 ** 63).all():  # NaN and infinities fail
        whole = values.astype(np.int64)
        if (whole == values).all():
            return whole
    return None


def bulk_insert(conn, table: sa.Table, frame: pd.DataFrame, run_id: int,
                 seq: bool = False) -> None:
    """Insert a frame straight through the driver: COPY on PostgreSQL, multi-row INSERTs otherwise.

    SQLAlchemy's per-row parameter handling costs more than the database itself at
    100k+ rows, so the rows go to the DBAPI as tuples; on SQLite each INSERT carries as
    many rows as 999 parameters allow (per-statement work is paid once per batch). A
    column with no value in any row is left out (it is NULL): sqlite3 binds None slowly.
    """
    n = len(frame)
    if n == 0:
        return
    columns = {"run_id": [run_id] * n}
    if seq:
        columns["seq"] = list(range(n))
    for name in frame.columns:
        values = native(frame[name], name)
        if values[0] is not None or values.count(None) < n:
            columns[name] = values
    rows = zip(*columns.values(), strict=True)
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    cols = ", ".join(quote(c) for c in columns)
    dbapi = conn.connection.dbapi_connection
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        with dbapi.cursor() as cur, cur.copy(f"COPY {quote(table.name)} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    row_marks = "(" + ", ".join([mark] * len(columns)) + ")"
    per = max(1, MAX_PARAMETERS // len(columns))
    full, rest = divmod(n, per)
    batches = (list(itertools.chain.from_iterable(itertools.islice(rows, per))) for _ in range(full))
    cur = dbapi.cursor()
    try:
        cur.executemany(f"INSERT INTO {quote(table.name)} ({cols}) VALUES {', '.join([row_marks] * per)}", batches)
        if rest:
            cur.executemany(f"INSERT INTO {quote(table.name)} ({cols}) VALUES {row_marks}", rows)
    finally:
        cur.close()


def cheap_blob_toast(conn) -> None:
    """On PostgreSQL, store this transaction's large values with lz4 when the server has it.

    A run's snapshot is zstd Parquet already; PostgreSQL's default (pglz) spends about
    0.4 s per 15 MB trying to shrink it again. Reading is the same either way.
    """
    if conn.dialect.name != "postgresql":
        return
    lz4 = conn.execute(sa.text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                               "WHERE name = 'default_toast_compression'")).scalar()
    if lz4:  # PostgreSQL 14+ built with lz4
        conn.execute(sa.text("SET LOCAL default_toast_compression = 'lz4'"))


def insert_inputs(conn, run_id: int, stage: str, files: Iterable[InputFile]) -> None:
    """Record the files a run read (stage "run") or found at its close ("close")."""
    rows = [{"run_id": run_id, "stage": stage, "name": f.name, "path": f.path,
             "rows": int(f.rows) if f.rows is not None else None, "sha256": f.sha256}
            for f in files]
    if rows:
        conn.execute(run_inputs.insert(), rows)


def changes(ran: dict[str, str], now: dict[str, str]) -> tuple[str, ...]:
    """What differs between two path -> sha256 maps, in words."""
    out = []
    for path in sorted(set(ran) | set(now)):
        if path not in now:
            out.append(f"{path} was removed")
        elif path not in ran:
            out.append(f"{path} is new")
        elif ran[path] != now[path]:
            out.append(f"{path} changed (sha256 {ran[path][:12]} at run, {now[path][:12]} now)")
    return tuple(out)


def frame(conn, query) -> pd.DataFrame:
    """A query's rows as a frame, money as nullable Int64 cents."""
    result = conn.execute(query)
    out = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for col in out.columns:
        if col in MONEY_COLUMNS:
            out[col] = pd.array(out[col].tolist(), dtype="Int64") if len(out) else pd.Series([], dtype="Int64")
        elif col == "attainment":
            out[col] = out[col].astype("float64")
    return out


def empty(query) -> pd.DataFrame:
    """An empty frame with a query's columns."""
    return pd.DataFrame({c.name: pd.Series([], dtype="Int64" if c.name in MONEY_COLUMNS else object)
                         for c in query.selected_columns})
