"""Checking and coercing one column of cell texts by its kind, vectorised.

Each column of `compensation.schema` becomes a typed array (see the schema's table of
kinds) plus its bad cells: positions and one message each, worded by
`compensation.messages`. Work is done with pyarrow compute and numpy over the whole
column; messages are built only for the cells that need one, once per distinct text.
Money is parsed from its decimal text to integer cents without passing through float
wherever float could be off by a cent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from compensation import messages
from compensation.schema import (
    CENTS_SUFFIX,
    FALSE_WORDS,
    ISO_DATE_PATTERN,
    MONEY_LIMIT,
    NUMBER_PATTERN,
    OPEN_END,
    REP_ID_PATTERN,
    RULES,
    TRUE_WORDS,
    Column,
    absent,
)

# Below 10^11 units a float is within 0.002 cent of its decimal text: when it lies within
# 0.01 cent of a whole cent, that cent is what exact half-up rounding of the text gives.
_FLOAT_EXACT_BELOW = 1e11
_NEAR_WHOLE_CENT = 0.01


@dataclass
class Checked:
    """One column coerced, with its bad cells: positions and one message each.

    `extra` holds columns derived from this one (a money column's exact cents).
    """

    values: object
    bad: list[tuple[np.ndarray, list[str]]] = field(default_factory=list)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def flag(self, mask: np.ndarray, message: Callable[[str], str],
             raw: Callable[[], np.ndarray]) -> None:
        """Record the cells of `mask`; `raw` gives the cell texts, built only when needed."""
        where = np.flatnonzero(mask)
        if where.size:
            texts: dict = {}
            cells = raw()[where]
            self.bad.append((where, [texts[v] if v in texts else texts.setdefault(v, message(v))
                                     for v in cells]))


def cleaned(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cells trimmed, blanks as null."""
    if not any(_may_need_cleaning(chunk) for chunk in column.chunks):
        return column  # most files: nothing to trim, nothing blank, and trimming costs a copy
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _may_need_cleaning(chunk: pa.Array) -> bool:
    """Whether a cell of `chunk` is empty or null, or its first or last byte may be white space.

    Read from the offsets and edge bytes alone; any byte outside printable ASCII counts
    (control characters, or part of a character that may be Unicode space), so a yes may
    be wrong but a no is sure.
    """
    if chunk.type != pa.string() or chunk.null_count or len(chunk) == 0:
        return len(chunk) > 0
    offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset:chunk.offset + len(chunk) + 1]
    starts, ends = offsets[:-1], offsets[1:]
    if (ends <= starts).any():
        return True
    data = np.frombuffer(chunk.buffers()[2], np.uint8)
    edges = np.concatenate([np.take(data, starts), np.take(data, ends - 1)])
    return bool(edges.min() <= 0x20 or edges.max() >= 0x7F)  # only printable ASCII is sure


def to_objects(column: pa.ChunkedArray) -> np.ndarray:
    """Text as an object array of str with None for missing.

    Columns with repeated values (currency, type, product, plan, and a rep_id owning many
    transactions) share one str object per value, which keeps 10 million rows in memory;
    only columns of distinct ids (txn_id) get one object per cell.
    """
    return _objects(column, repeated(column))


def repeated(column: pa.ChunkedArray) -> pa.DictionaryArray | None:
    """The column dictionary-encoded when it repeats its values; None for ids (all distinct) or no cells."""
    sample = column.slice(0, 65536)
    if len(pc.unique(sample)) >= 0.95 * len(sample):
        return None
    return pc.dictionary_encode(column).combine_chunks()


def _objects(column: pa.ChunkedArray, encoded: pa.DictionaryArray | None) -> np.ndarray:
    """`to_objects` of a column `repeated` has already looked at."""
    if encoded is None:  # ids: nothing to share
        return column.to_numpy(zero_copy_only=False).astype(object, copy=False)
    return per_cell(encoded, encoded.dictionary.to_numpy(zero_copy_only=False).astype(object), None)


def per_cell(encoded: pa.DictionaryArray, per_value: np.ndarray, null) -> np.ndarray:
    """Values found once per distinct text, spread to the cells; `null` for null cells."""
    codes = encoded.indices.fill_null(len(per_value)).to_numpy(zero_copy_only=False)
    return np.append(per_value, np.array([null], dtype=per_value.dtype))[codes]


def matches(column: pa.ChunkedArray | pa.Array, pattern: str) -> np.ndarray:
    """Whole-cell regex match per cell; null cells count as matching (blank is checked apart)."""
    hits = pc.match_substring_regex(column, pattern=f"^(?:{pattern})$")
    return hits.fill_null(True).to_numpy(zero_copy_only=False)


def check_column(col: Column, text: pa.ChunkedArray | None, n: int) -> Checked:
    """Coerce one column's cleaned text by its kind; flag the cells that do not fit."""
    if text is None:
        result = Checked(absent(col, n))
        if col.kind == "money" and col.required:
            result.extra[col.name + CENTS_SUFFIX] = np.zeros(n, dtype=np.int64)
        return result
    raw = None  # the object array of cells, built once where messages need it

    def cells() -> np.ndarray:
        nonlocal raw
        if raw is None:
            raw = text.to_numpy(zero_copy_only=False).astype(object, copy=False)
        return raw

    blank = pc.is_null(text).to_numpy(zero_copy_only=False)
    if col.kind in ("text", "rep", "upper"):
        result = _text(col, text, cells)
    elif col.kind == "id":
        result = Checked(pd.arrays.ArrowExtensionArray(text))
    elif col.kind in ("number", "money"):
        result = _number(col, text, blank, cells)
    elif col.kind == "date":
        result = _date(col, text, blank, cells)
    elif col.kind in ("period", "month"):
        result = _period(col, blank, cells)
    elif col.kind == "bool":
        result = _bool(col, text, blank, cells)
    else:  # pragma: no cover - the schema only uses the kinds above
        raise ValueError(col.kind)
    if col.required:
        result.flag(blank, lambda v: messages.blank(col.name), lambda: np.empty(n, dtype=object))
    return result


def _text(col: Column, text: pa.ChunkedArray, cells) -> Checked:
    if col.kind == "upper":
        text = pc.utf8_upper(text)
    encoded = repeated(text)
    result = Checked(_objects(text, encoded))
    if col.kind == "rep":
        # Rep ids repeat (a rep owns many transactions): match each distinct id once.
        ok = (matches(text, REP_ID_PATTERN) if encoded is None
              else per_cell(encoded, matches(encoded.dictionary, REP_ID_PATTERN), True))
        result.flag(~ok, lambda v: messages.rep_id(col.name, v), cells)
    return result


def _number(col: Column, text: pa.ChunkedArray, blank: np.ndarray, cells) -> Checked:
    values = _all_numbers(text, blank)
    if values is not None:
        ok = np.ones(len(text), dtype=bool)
    else:  # some cell is no number: find which by the pattern
        ok = matches(text, NUMBER_PATTERN)
        numbers = pc.if_else(pa.chunked_array(_split_like(ok, text)), text, pa.scalar(None, pa.string()))
        values = numbers.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    result = Checked(values)
    result.flag(~ok, lambda v: messages.number(col.name, v), cells)
    if col.kind == "money":
        cents, too_large = _cents(values, ok & ~blank, cells)
        result.flag(too_large, lambda v: messages.money_too_large(col.name, v), cells)
        ok = ok & ~too_large
        if col.required:
            result.extra[col.name + CENTS_SUFFIX] = cents
    if col.rule:
        with np.errstate(invalid="ignore"):
            out = ok & ~blank & ~RULES[col.rule](values)
        result.flag(out, lambda v: messages.rule(col.rule, col.name, v), cells)
    if col.default is not None:
        result.values = np.where(blank, col.default, values)
    return result


def _all_numbers(text: pa.ChunkedArray, blank: np.ndarray) -> np.ndarray | None:
    """Every cell's float when each cell is a number or blank, else None; no regex run.

    Pyarrow's parser reads a finite float only from text `NUMBER_PATTERN` matches (beyond
    it, it reads only spellings of nan and inf): a clean cast with every cell finite
    means every cell matches.
    """
    try:
        values = text.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    except pa.ArrowInvalid:
        return None
    return values if (np.isfinite(values) | blank).all() else None


def _cents(values: np.ndarray, numeric: np.ndarray, cells) -> tuple[np.ndarray, np.ndarray]:
    """Exact cents of each numeric cell (half up), and the cells at or above `MONEY_LIMIT`.

    Whole cents below 10^11 units come from the float (exact there); the rest (large
    amounts, fractions of a cent) are parsed as Decimal from their text.
    """
    with np.errstate(invalid="ignore", over="ignore"):  # 1e308 * 100: inf, left to the Decimal path
        scaled = values * 100
        whole = np.rint(scaled)
        fast = numeric & (np.abs(values) < _FLOAT_EXACT_BELOW) & (np.abs(scaled - whole) < _NEAR_WHOLE_CENT)
    cents = np.zeros(len(values), dtype=np.int64)
    cents[fast] = whole[fast].astype(np.int64)
    too_large = np.zeros(len(values), dtype=bool)
    slow = np.flatnonzero(numeric & ~fast)
    if slow.size:
        for i, cell in zip(slow.tolist(), cells()[slow], strict=True):
            amount = Decimal(cell)
            if abs(amount) >= MONEY_LIMIT:
                too_large[i] = True
            else:
                cents[i] = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return cents, too_large


def _date(col: Column, text: pa.ChunkedArray, blank: np.ndarray, cells) -> Checked:
    shape, dates = _parse_dates(text)
    bad = ~blank & np.isnat(dates)
    if col.name == "end_date":
        # 9999-12-31 and the like: an open end beyond what datetime64[ns] can hold.
        odd = np.flatnonzero(bad & shape)
        far = [int(v[:4]) >= OPEN_END.year for v in cells()[odd]]
        bad[odd[np.array(far, dtype=bool)]] = False
    result = Checked(dates)
    result.flag(bad, lambda v: messages.date(col.name, v), cells)
    return result


def _period(col: Column, blank: np.ndarray, cells) -> Checked:
    values = cells()
    # Few distinct periods: normalise each once, then map.
    lookup = {u: normal_period(u, col.kind) for u in pd.unique(values[~blank])}
    out = pd.Series(values, dtype=object).map(lookup).to_numpy(dtype=object)
    invalid = ~blank & pd.isna(out)
    out[blank | invalid] = None
    result = Checked(out)
    result.flag(invalid, lambda v: messages.period(col.name, v, col.kind), cells)
    return result


def _bool(col: Column, text: pa.ChunkedArray, blank: np.ndarray, cells) -> Checked:
    lowered = pc.utf8_lower(text)
    is_true = pc.is_in(lowered, pa.array(TRUE_WORDS)).to_numpy(zero_copy_only=False)
    is_false = pc.is_in(lowered, pa.array(FALSE_WORDS)).to_numpy(zero_copy_only=False)
    result = Checked(np.where(blank, bool(col.default), is_true))
    result.flag(~blank & ~is_true & ~is_false, lambda v: messages.not_true_or_false(col.name, v), cells)
    return result


def _parse_dates(text: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each cell is shaped YYYY-MM-DD (null: yes), and its datetime64[ns] (NaT: none).

    A column repeating its dates (a year of transactions holds 365) is checked and parsed
    once per distinct text.
    """

    def parse(cells) -> tuple[np.ndarray, np.ndarray]:
        chunked = pa.chunked_array([cells]) if isinstance(cells, pa.Array) else cells
        as_pandas = pd.Series(pd.arrays.ArrowExtensionArray(chunked))
        return matches(cells, ISO_DATE_PATTERN), pd.to_datetime(
            as_pandas, format="%Y-%m-%d", errors="coerce").to_numpy(dtype="datetime64[ns]")

    sample = text.slice(0, 65536)
    if len(text) < 4096 or len(pc.unique(sample)) * 2 > len(sample):
        return parse(text)
    encoded = pc.dictionary_encode(text).combine_chunks()
    shape, dates = parse(encoded.dictionary)
    return per_cell(encoded, shape, True), per_cell(encoded, dates, np.datetime64("NaT", "ns"))


def _split_like(mask: np.ndarray, like: pa.ChunkedArray) -> list[pa.Array]:
    """A numpy mask cut into the chunk sizes of `like`, for pyarrow element-wise calls."""
    out, start = [], 0
    for chunk in like.chunks:
        out.append(pa.array(mask[start:start + len(chunk)]))
        start += len(chunk)
    return out or [pa.array(mask)]


def normal_period(value, kind: str = "period") -> str | None:
    """`2026-3` -> `2026-03`, `2026 q1` -> `2026-Q1`, `2026` -> `2026`; else None.

    With kind `month`, anything but a month is None.
    """
    text = str(value).strip().upper()
    # Excel turns a typed 2026-03 into the date 2026-03-01: the first of a month is that month.
    if m := re.fullmatch(r"(\d{4})[-/.](\d{1,2})(?:[-/.]0?1)?", text):
        return f"{m[1]}-{int(m[2]):02d}" if 1 <= int(m[2]) <= 12 else None
    if kind == "month":
        return None
    if m := re.fullmatch(r"(\d{4})[-/.]?Q([1-4])|Q([1-4])[-/]?(\d{4})", text.replace(" ", "")):
        year, quarter = (m[1], m[2]) if m[1] else (m[4], m[3])
        return f"{year}-Q{quarter}"
    if re.fullmatch(r"\d{4}", text):
        return text
    return None


def rows_of(column: pd.Series, rows: np.ndarray | None = None):
    """The cells of `column` at positions `rows` (all of them for None), for `frame_of`.

    A numpy array, or for an Arrow-backed column (kind `id`) an Arrow-backed array, so
    its text is never turned into Python objects.
    """
    if isinstance(column.dtype, pd.ArrowDtype):
        return column.array if rows is None else column.array.take(rows)
    values = column.to_numpy()
    return values if rows is None else values[rows]


def arrow_text(column: pd.Series) -> pa.Array:
    """A text column as one Arrow string array: an Arrow-backed column's own data, else converted."""
    if isinstance(column.dtype, pd.ArrowDtype):
        values = pa.array(column.array)  # one array, or chunks
        return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pa.array(column.to_numpy(dtype=object), pa.string(), from_pandas=True)


def frame_of(columns: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The arrays as a frame, without a copy, each object array kept an object column.

    Given bare object arrays, pandas scans those of missing cells (a blank `reverses` or
    `via_rep_id` column) for dates to infer: tens of milliseconds a million rows. Arrow-
    backed arrays (`rows_of`) stay as they are.
    """
    return pd.DataFrame({name: pd.Series(values, dtype=object, copy=False) if values.dtype == object else values
                         for name, values in columns.items()}, copy=False)
