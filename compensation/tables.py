"""Input tables (SPEC section 3): find, read, check and coerce each table of `data/`.

A table is `data/NAME.csv`, `data/NAME.xlsx` or `data/NAME.parquet`. Every format goes
through one path: each cell first becomes the text a CSV would hold (CSV is read as text;
XLSX and Parquet cells are written out as text), then every column is checked and coerced
by its kind, vectorised with pyarrow compute and pandas. So the three formats give the same
frames, and a problem reads the same whatever the file.

Structural faults (a missing or unreadable file, missing columns, two files for one table)
raise `IcmError`. A bad row is dropped and returned as a `Problem`; `load_inputs` adds the
checks that need several tables (unknown reps, duplicate txn_ids, overlapping reps rows,
credit shares, cancellations). Everything downstream may trust the frames' types:
text as `object` str (missing: None), dates `datetime64[ns]`, numbers float64, `row` int64
(the spreadsheet row, header = 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from compensation.errors import HOLD, NOTICE, IcmError, Located, Problem
from compensation.results import InputFile
from compensation.settings import Workspace

FORMATS = ("csv", "xlsx", "parquet")
DEFAULT_TABLES = ("reps", "transactions", "quotas", "credits", "fx", "adjustments")
REQUIRED_TABLES = frozenset({"reps", "transactions"})

REP_ID_PATTERN = r"[A-Za-z0-9._-]+"
_NUMBER = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_TRUE = ("true", "yes", "y", "1")
_FALSE = ("false", "no", "n", "0")
# Open-ended ranges are often written with a far-future date that datetime64[ns] cannot hold.
_OPEN_END = pd.Timestamp.max.normalize()
# Credit shares are compared in integer units of 1e-12: exact for every share written with
# up to 12 decimals (1e-6 could not tell 0.3333333 + 0.3333333 + 0.3333334 from 0.999999).
SHARE_UNITS = 10**12


@dataclass(frozen=True)
class Column:
    """One column of a table: its kind decides how cells are checked and coerced.

    kind: text | rep (a rep_id) | upper (a code, upper-cased) | date | number |
    period (month, quarter or year) | month | bool.
    """

    name: str
    kind: str = "text"
    required: bool = False
    default: float | bool | None = None
    rule: str | None = None  # a key of RULES, for numbers


def _cols(*spec: str | tuple) -> tuple[Column, ...]:
    return tuple(Column(s) if isinstance(s, str) else Column(*s) for s in spec)


SCHEMAS: dict[str, tuple[Column, ...]] = {
    "reps": _cols(
        ("rep_id", "rep", True), ("name", "text", True), ("plan", "text", True),
        ("start_date", "date", True), ("end_date", "date"), "email", "manager_id",
        ("target_incentive", "number", False, None, "not_negative"), "territory", "region",
        ("capacity", "number", False, 1.0, "positive"), ("lat", "number", False, None, "lat"),
        ("lon", "number", False, None, "lon"), "locale",
    ),
    "transactions": _cols(
        ("txn_id", "text", True), ("date", "date", True), ("amount", "number", True),
        ("currency", "upper"), ("rep_id", "rep"), "account_id", "type", "product", "reverses",
    ),
    "credits": _cols(
        ("txn_id", "text", True), ("rep_id", "rep", True),
        ("share", "number", True, None, "share"), "role",
    ),
    "quotas": _cols(
        ("rep_id", "rep", True), ("component", "text", True), ("period", "period", True),
        ("amount", "number", True, None, "quota"),
    ),
    "fx": _cols(
        ("period", "month", True), ("currency", "upper", True),
        ("rate", "number", True, None, "rate"),
    ),
    "adjustments": _cols(
        ("rep_id", "rep", True), ("period", "month", True), ("amount", "number", True),
        ("reason", "text", True),
    ),
    "accounts": _cols(
        ("account_id", "text", True), ("potential", "number", True, None, "not_negative"),
        ("workload", "number", False, 1.0, "not_negative"), "region",
        ("lat", "number", False, None, "lat"), ("lon", "number", False, None, "lon"),
        ("rep_id", "rep"), ("last_year", "number"), ("locked", "bool", False, False),
    ),
}

# Range rules for numbers: (is the value allowed, how to say it is not).
RULES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "share": (lambda v: (v > 0) & (v <= 1),
              "share {v} is outside (0, 1]; write a fraction of the transaction, e.g. 0.6 for 60%"),
    "quota": (lambda v: v > 0,
              "quota amount {v} is not more than 0; give a positive quota or delete the row"),
    "rate": (lambda v: v > 0,
             "fx rate {v} is not more than 0; write what 1 unit of the currency is worth "
             "in the base currency, e.g. 1.15"),
    "positive": (lambda v: v > 0, "{col} {v} is not more than 0; leave it blank for 1"),
    "not_negative": (lambda v: v >= 0, "{col} {v} is negative; write 0 or more"),
    "lat": (lambda v: (v >= -90) & (v <= 90), "lat {v} is not a latitude (-90 to 90)"),
    "lon": (lambda v: (v >= -180) & (v <= 180), "lon {v} is not a longitude (-180 to 180)"),
}


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
    accounts: pd.DataFrame = field(default_factory=lambda: empty_table("accounts"))


# ---------------------------------------------------------------- finding and hashing


def table_path(ws: Workspace, name: str) -> Path | None:
    """The one file holding table `name`, None if there is none; two of them is an error."""
    found = [p for p in (ws.data_dir / f"{name}.{ext}" for ext in FORMATS) if p.is_file()]
    if len(found) > 1:
        names = " and ".join(_rel(ws, p) for p in found)
        raise IcmError.at(_rel(ws, found[0]), None,
                          f"table '{name}' is given twice ({names}); keep one file and "
                          "delete or rename the other")
    return found[0] if found else None


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in chunks so a large file never sits in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _rel(ws: Workspace, path: Path) -> str:
    try:
        return path.relative_to(ws.root).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- reading cells as text


def _read_text_table(path: Path, source: str) -> tuple[list[str], dict[str, pa.ChunkedArray]]:
    """Header names and each column's cells as text (null for a missing cell)."""
    readers = {".csv": _read_csv, ".xlsx": _read_xlsx, ".parquet": _read_parquet}
    try:
        return readers[path.suffix](path, source)
    except IcmError:
        raise
    except UnicodeDecodeError as exc:
        raise IcmError.at(source, None, f"is not UTF-8 text ({exc.reason}); save it as "
                          "'CSV UTF-8' or as .xlsx") from exc
    except (pa.ArrowInvalid, OSError, ValueError, KeyError, TypeError) as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise IcmError.at(source, None, "is not UTF-8 text; save it as 'CSV UTF-8' or "
                              "as .xlsx") from exc
        raise IcmError.at(source, None, f"cannot be read ({_first_line(exc)}); check that it "
                          f"is a valid {path.suffix[1:].upper()} file") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _read_csv(path: Path, source: str) -> tuple[list[str], dict[str, pa.ChunkedArray]]:
    import pyarrow.csv as pacsv

    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
    if not first.strip():
        raise IcmError.at(source, 1, "has no header row; the first line must name the columns")
    delimiter = _sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter))
    names = _header_names(header, source)
    # pyarrow's own reader (the engine of pd.read_csv(engine="pyarrow")) with every column as
    # text; blank lines are kept so row numbers stay those a spreadsheet shows.
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                          ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False,
                                             quoted_strings_can_be_null=False),
    )
    return names, {n: table.column(n) for n in names}


def _sniff_delimiter(header_line: str) -> str:
    """Comma, unless the header plainly uses semicolons or tabs (European Excel exports)."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] and counts[","] == 0 else ","


def _header_names(header: list, source: str) -> list[str]:
    names = []
    for i, cell in enumerate(header):
        text = "" if cell is None else str(cell).strip()
        names.append(text or f"\0blank{i + 1}")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen and not name.startswith("\0"):
            raise IcmError.at(source, 1, f"column '{name}' appears twice in the header "
                              f"(columns {seen[name] + 1} and {i + 1}); rename or delete one")
        seen.setdefault(name, i)
    return names


def _read_xlsx(path: Path, source: str) -> tuple[list[str], dict[str, pa.ChunkedArray]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book[path.stem] if path.stem in book.sheetnames else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(c is None or str(c).strip() == "" for c in header):
            raise IcmError.at(source, 1, "has no header row; row 1 of the first sheet must "
                              "name the columns")
        while header and (header[-1] is None or str(header[-1]).strip() == ""):
            header = header[:-1]
        names = _header_names(list(header), source)
        width = len(names)
        cells: list[list[str | None]] = [[] for _ in names]
        for values in rows:
            values = tuple(values[:width]) + (None,) * (width - len(values))
            for column, value in zip(cells, values, strict=True):
                column.append(_cell_text(value))
    finally:
        book.close()
    return names, {n: pa.chunked_array([pa.array(c, pa.string())]) for n, c in zip(names, cells,
                                                                                    strict=True)}


def _cell_text(value) -> str | None:
    """An XLSX cell as the text a CSV would hold: real numbers and dates become ISO text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return np.format_float_positional(value, trim="-")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _read_parquet(path: Path, source: str) -> tuple[list[str], dict[str, pa.ChunkedArray]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    names = _header_names(table.column_names, source)
    return names, {n: _arrow_text(table.column(i), n, source) for i, n in enumerate(names)}


def _arrow_text(column: pa.ChunkedArray, name: str, source: str) -> pa.ChunkedArray:
    """A typed Parquet column as text: numbers as written, dates as YYYY-MM-DD."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _arrow_text(column.cast(kind.value_type), name, source)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.cast(pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_floating(kind):
        return column.cast(pa.string())
    if pa.types.is_date(kind):
        return pc.strftime(column.cast(pa.date32()).cast(pa.timestamp("s")), format="%Y-%m-%d")
    if pa.types.is_timestamp(kind):
        text = pc.strftime(column.cast(pa.timestamp("s", kind.tz)), format="%Y-%m-%d %H:%M:%S")
        return pc.replace_substring_regex(text, pattern=" 00:00:00$", replacement="")
    raise IcmError.at(source, None, f"column '{name}' has type {kind}; store it as text, "
                      "numbers or dates")


# ---------------------------------------------------------------- checking and coercing


def _cleaned(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cells trimmed, blanks as null."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _to_objects(column: pa.ChunkedArray) -> np.ndarray:
    """Text as an object array of str with None for missing.

    Columns with repeated values (currency, type, product, plan, and a rep_id owning many
    transactions) share one str object per value, which keeps 10 million rows in memory;
    only columns of distinct ids (txn_id) get one object per cell.
    """
    n = len(column)
    if n == 0:
        return np.empty(0, dtype=object)
    sample = column.slice(0, 65536)
    if len(pc.unique(sample)) > 0.95 * len(sample):  # ids: nothing to share
        return column.to_numpy(zero_copy_only=False).astype(object, copy=False)
    encoded = pc.dictionary_encode(column).combine_chunks()
    values = np.append(encoded.dictionary.to_numpy(zero_copy_only=False).astype(object), None)
    codes = encoded.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)
    return values[codes]


def _matches(column: pa.ChunkedArray, pattern: str) -> np.ndarray:
    """Whole-cell regex match per cell; null cells count as matching (blank is checked apart)."""
    hits = pc.match_substring_regex(column, pattern=f"^(?:{pattern})$")
    return hits.fill_null(True).to_numpy(zero_copy_only=False)


@dataclass
class _Checked:
    """One column coerced, with its bad cells: positions and one message each."""

    values: object
    bad: list[tuple[np.ndarray, list[str]]] = field(default_factory=list)

    def flag(self, mask: np.ndarray, message: Callable[[str], str],
             raw: Callable[[], np.ndarray]) -> None:
        """Record the cells of `mask`; `raw` gives the cell texts, built only when needed."""
        where = np.flatnonzero(mask)
        if where.size:
            texts: dict = {}
            cells = raw()[where]
            self.bad.append((where, [texts[v] if v in texts else texts.setdefault(v, message(v))
                                     for v in cells]))


def _check_column(col: Column, text: pa.ChunkedArray | None, n: int) -> _Checked:
    """Coerce one column's cleaned text by its kind; flag the cells that do not fit."""
    if text is None:
        return _Checked(_absent(col, n))
    raw = None  # the object array of cells, built once where messages need it

    def cells() -> np.ndarray:
        nonlocal raw
        if raw is None:
            raw = text.to_numpy(zero_copy_only=False).astype(object, copy=False)
        return raw

    blank = pc.is_null(text).to_numpy(zero_copy_only=False)
    result: _Checked
    if col.kind in ("text", "rep", "upper"):
        if col.kind == "upper":
            text = pc.utf8_upper(text)
        result = _Checked(_to_objects(text))
        if col.kind == "rep":
            ok = _matches(text, REP_ID_PATTERN)
            result.flag(~ok, lambda v: _rep_id_message(col.name, v), cells)
    elif col.kind == "number":
        ok = _matches(text, _NUMBER)
        numbers = pc.if_else(pa.chunked_array(_split_like(ok, text)), text,
                             pa.scalar(None, pa.string()))
        values = numbers.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        result = _Checked(values)
        result.flag(~ok, lambda v: _number_message(col.name, v), cells)
        if col.rule:
            allowed, template = RULES[col.rule]
            with np.errstate(invalid="ignore"):
                out = ok & ~blank & ~allowed(values)
            result.flag(out, lambda v: template.format(col=col.name, v=v), cells)
        if col.default is not None:
            result.values = np.where(blank, col.default, values)
    elif col.kind == "date":
        shape, dates = _parse_dates(text)
        bad = ~blank & np.isnat(dates)
        if col.name == "end_date":
            # 9999-12-31 and the like: an open end beyond what datetime64[ns] can hold.
            odd = np.flatnonzero(bad & shape)
            far = [int(v[:4]) >= _OPEN_END.year for v in cells()[odd]]
            bad[odd[np.array(far, dtype=bool)]] = False
        result = _Checked(dates)
        result.flag(bad, lambda v: _date_message(col.name, v), cells)
    elif col.kind in ("period", "month"):
        values = cells()
        # Few distinct periods: normalise each once, then map.
        lookup = {u: _normal_period(u, col.kind) for u in pd.unique(values[~blank])}
        out = pd.Series(values, dtype=object).map(lookup).to_numpy(dtype=object)
        invalid = ~blank & pd.isna(out)
        out[blank | invalid] = None
        result = _Checked(out)
        result.flag(invalid, lambda v: _period_message(col.name, v, col.kind), cells)
    elif col.kind == "bool":
        lowered = pc.utf8_lower(text)
        is_true = pc.is_in(lowered, pa.array(_TRUE)).to_numpy(zero_copy_only=False)
        is_false = pc.is_in(lowered, pa.array(_FALSE)).to_numpy(zero_copy_only=False)
        result = _Checked(np.where(blank, bool(col.default), is_true))
        result.flag(~blank & ~is_true & ~is_false,
                    lambda v: f"{col.name} '{v}' is not true or false; write true or false",
                    cells)
    else:  # pragma: no cover - SCHEMAS only uses the kinds above
        raise ValueError(col.kind)
    if col.required:
        result.flag(blank, lambda v: f"{col.name} is blank; fill it in or delete the row",
                    lambda: np.full(n, None, dtype=object))
    return result


def _parse_dates(text: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each cell is shaped YYYY-MM-DD (null: yes), and its datetime64[ns] (NaT: none).

    A column repeating its dates (a year of transactions holds 365) is checked and parsed
    once per distinct text.
    """

    def parse(cells) -> tuple[np.ndarray, np.ndarray]:
        as_pandas = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([cells]) if isinstance(
            cells, pa.Array) else cells))
        return _matches(cells, _ISO_DATE), pd.to_datetime(
            as_pandas, format="%Y-%m-%d", errors="coerce").to_numpy(dtype="datetime64[ns]")

    sample = text.slice(0, 65536)
    if len(text) < 4096 or len(pc.unique(sample)) * 2 > len(sample):
        return parse(text)
    encoded = pc.dictionary_encode(text).combine_chunks()
    shape, dates = parse(encoded.dictionary)
    codes = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy(zero_copy_only=False)
    return (np.append(shape, True)[codes],
            np.append(dates, np.datetime64("NaT", "ns"))[codes])


def _split_like(mask: np.ndarray, like: pa.ChunkedArray) -> list[pa.Array]:
    """A numpy mask cut into the chunk sizes of `like`, for pyarrow element-wise calls."""
    out, start = [], 0
    for chunk in like.chunks:
        out.append(pa.array(mask[start:start + len(chunk)]))
        start += len(chunk)
    return out or [pa.array(mask)]


def _absent(col: Column, n: int):
    if col.kind == "number":
        return np.full(n, np.nan if col.default is None else col.default, dtype=np.float64)
    if col.kind == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if col.kind == "bool":
        return np.full(n, bool(col.default), dtype=bool)
    return np.full(n, None, dtype=object)


# ---------------------------------------------------------------- messages


def _rep_id_message(column: str, value: str) -> str:
    fixed = re.sub(r"[^A-Za-z0-9._-]+", "-", value).strip("-") or "R1"
    return (f"{column} '{value}' may use only letters, digits, '.', '_' and '-'; "
            f"rename it, e.g. '{fixed}'")


def _number_message(column: str, value: str) -> str:
    base = f"{column} '{value}' is not a decimal number"
    text = value.replace(" ", "").replace("\u00a0", "")
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", text):
        return f"{base} (no thousands separators); write {text.replace(',', '')}"
    if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d+", text):
        return f"{base} (no thousands separators, '.' for decimals); write " \
               f"{text.replace('.', '').replace(',', '.')}"
    if re.fullmatch(r"[+-]?\d+,\d+", text):
        return f"{base} (use '.' for decimals); write {text.replace(',', '.')}"
    if re.fullmatch(_NUMBER + "%", text):
        try:
            return f"{base}; write it as a fraction, {_plain(Decimal(text[:-1]) / 100)}"
        except InvalidOperation:  # pragma: no cover - the regex admits only numbers
            pass
    stripped = re.sub(r"[^\d.+-]", "", text)
    if stripped and stripped != text and re.fullmatch(_NUMBER, stripped):
        return f"{base}; write {stripped} (digits and '.' only)"
    return f"{base}; write it like 1006.30 (digits, '.' for decimals)"


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _date_message(column: str, value: str) -> str:
    base = f"{column} '{value}' is not YYYY-MM-DD"
    text = value.strip()
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if m and int(m[1]) >= _OPEN_END.year:
        return f"{column} '{value}' is too far in the future (the last year is " \
               f"{_OPEN_END.year - 1}); correct it"
    if m:
        return f"{column} '{value}' is not a date of the calendar; correct it"
    guess = _guess_date(text)
    return f"{base}; write {guess}" if guess else f"{base}; write it like 2026-02-03"


def _guess_date(text: str) -> str | None:
    """The ISO date a user most likely meant (day first for d/m/y, as in Europe)."""
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?", text)
    candidates = []
    if m:
        candidates.append((int(m[1]), int(m[2]), int(m[3])))
    m = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", text)
    if m:
        first, second, year = int(m[1]), int(m[2]), int(m[3])
        candidates += [(year, second, first), (year, first, second)]
    for year, month, day in candidates:
        try:
            return dt.date(year, month, day).isoformat()
        except ValueError:
            continue
    return None


def _normal_period(value, kind: str = "period") -> str | None:
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


def _period_message(column: str, value: str, kind: str) -> str:
    if kind == "month":
        guess = None
        if guess is None and (m := re.fullmatch(r"(\d{4})-(\d{2})-\d{2}", str(value).strip())):
            guess = f"{m[1]}-{m[2]}"
        what = "a month"
        hint = f"write {guess}" if guess else "write it as YYYY-MM, e.g. 2026-03"
        return f"{column} '{value}' is not {what}; {hint}"
    if m := re.fullmatch(r"(\d{4})-(\d{2})-\d{2}", str(value).strip()):
        return f"{column} '{value}' is not a month, quarter or year; write {m[1]}-{m[2]}"
    return (f"{column} '{value}' is not a month, quarter or year; write 2026-03, 2026-Q1 "
            "or 2026")


# ---------------------------------------------------------------- one table


def empty_table(name: str) -> pd.DataFrame:
    """A table with no rows and every column of its schema, typed as loaded."""
    columns = {"row": pd.Series(dtype="int64")}
    for col in SCHEMAS[name]:
        columns[col.name] = pd.Series(_absent(col, 0))
    return pd.DataFrame(columns)


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
            raise IcmError.at(f"data/{name}.csv", None,
                              f"the {name} table is missing; add data/{name}.csv (or .xlsx or "
                              f".parquet) with the columns {columns} (* = required)")
        return None, [], None
    source = _rel(ws, path)
    header, cells = _read_text_table(path, source)
    renamed, header_problems = _match_header(name, header, source)
    n = len(next(iter(cells.values()))) if cells else 0
    rows = np.arange(2, n + 2, dtype=np.int64)
    cleaned = {h: _cleaned(cells[h]) for h in header}
    for h in header:
        if h.startswith("\0"):
            if pc.any(pc.is_valid(cleaned[h])).as_py():
                raise IcmError.at(source, 1, f"column {h[6:]} has values but no header; name "
                                  "it in row 1 or delete the column")
            del cleaned[h]
    header = [h for h in header if not h.startswith("\0")]
    # Wholly blank lines (a trailing line, a spacer) are not rows of data.
    filled = np.zeros(n, dtype=bool)
    for h in header:
        filled |= pc.is_valid(cleaned[h]).to_numpy(zero_copy_only=False)
    if not filled.all():
        keep = pa.array(filled)
        cleaned = {h: c.filter(keep) for h, c in cleaned.items()}
        rows, n = rows[filled], int(filled.sum())

    frame: dict[str, object] = {"row": rows}
    bad: list[tuple[str, np.ndarray, list[str]]] = []
    by_name = {renamed[h]: h for h in header}
    for col in schema:
        checked = _check_column(col, cleaned.get(by_name.get(col.name)), n)
        frame[col.name] = checked.values
        bad += [(col.name, where, texts) for where, texts in checked.bad]
    for h in header:
        if renamed[h] not in frame:
            frame[renamed[h]] = _to_objects(cleaned[h])
    # Columns stay separate blocks: consolidating a million rows of text is a copy for nothing.
    table = pd.DataFrame(frame, copy=False)
    for check in ROW_CHECKS.get(name, ()):
        bad += check(table)

    problems = list(header_problems)
    drop = np.zeros(n, dtype=bool)
    if bad:
        known = _known_set(name, table, known_reps)
        entries = []
        for _column, where, texts in bad:
            drop[where] = True
            entries += zip(where.tolist(), texts, strict=True)
        entries.sort(key=lambda e: e[0])
        problems += _row_problems(name, table, entries, known)
        table = table.loc[~drop].reset_index(drop=True)
    return table, problems, InputFile(name, source, n, file_sha256(path))


def _match_header(name: str, header: list[str], source: str,
                  ) -> tuple[dict[str, str], list[Problem]]:
    """Map header names to column names (known ones case-insensitively).

    Every missing required column is reported at once, with did-you-mean for near misses.
    """
    schema = SCHEMAS[name]
    known = {c.name for c in schema}
    renamed: dict[str, str] = {}
    for h in header:
        key = h.lower().replace(" ", "_")
        renamed[h] = key if key in known else h
    present = set(renamed.values())
    if len(present) < len(renamed):
        clash = [h for h in header if list(renamed.values()).count(renamed[h]) > 1]
        raise IcmError.at(source, 1, f"columns {', '.join(repr(c) for c in clash)} name the "
                          "same column; keep one")
    spare = [h for h in header if renamed[h] not in known and not h.startswith("\0")]
    messages, problems = [], []
    for col in schema:
        if col.name in present:
            continue
        lowered = {h.lower(): h for h in spare}
        near = [lowered[m] for m in difflib.get_close_matches(col.name, lowered, n=1, cutoff=0.6)]
        if col.required:
            hint = f" (did you mean '{near[0]}'? rename that header to {col.name})" if near \
                else f"; add it to the header row (required: {_required_list(schema)})"
            messages.append(Located(f"missing required column '{col.name}'{hint}", source, 1))
        elif near:
            problems.append(Problem.notice(
                name, f"column '{near[0]}' is not a {name} column (did you mean "
                f"'{col.name}'?); it is kept as an extra column, rename it to use it",
                row=1))
    if messages:
        raise IcmError(*messages)
    return renamed, problems


def _required_list(schema: Iterable[Column]) -> str:
    return ", ".join(c.name for c in schema if c.required)


def _known_set(name: str, table: pd.DataFrame, known_reps: Collection[str] | None):
    if name == "reps":
        return _valid_reps(table["rep_id"])
    return known_reps


def _valid_reps(values: pd.Series) -> set[str]:
    ids = values.dropna()
    return set(ids[ids.str.fullmatch(REP_ID_PATTERN)].unique())


def _row_problems(name: str, table: pd.DataFrame, entries: list[tuple[int, str]],
                  known: Collection[str] | None) -> list[Problem]:
    """A Problem per bad cell: hold when the row names a known rep, else a notice."""
    has_txn = "txn_id" in table.columns and name in ("transactions", "credits")
    rows = table["row"].to_numpy()
    reps = table["rep_id"].to_numpy() if "rep_id" in table.columns else None
    txns = table["txn_id"].to_numpy() if has_txn else None
    out = []
    for pos, message in entries:
        rep = reps[pos] if reps is not None else None
        if rep is not None and not re.fullmatch(REP_ID_PATTERN, rep):
            rep_known = False
        elif known is None:
            rep_known = rep is not None
        else:
            rep_known = rep in known
        out.append(Problem(HOLD if rep_known else NOTICE, name, message, int(rows[pos]),
                           txns[pos] if txns is not None else None, rep))
    return out


def _check_rep_dates(table: pd.DataFrame) -> list[tuple[str, np.ndarray, list[str]]]:
    """A reps row must not end before it starts."""
    start, end = table["start_date"], table["end_date"]
    wrong = np.flatnonzero((end < start).to_numpy())
    texts = [f"end_date {_day(end.iloc[i])} is before start_date {_day(start.iloc[i])}; "
             "correct one of them" for i in wrong]
    return [("end_date", wrong, texts)] if wrong.size else []


def _day(value) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


ROW_CHECKS: dict[str, tuple[Callable[[pd.DataFrame], list], ...]] = {
    "reps": (_check_rep_dates,),
}


# ---------------------------------------------------------------- all tables together


def load_inputs(ws: Workspace, tables: Iterable[str] = DEFAULT_TABLES,
                ) -> tuple[Inputs, list[Problem]]:
    """Read the input tables and run the checks that need several of them.

    `reps` is always read (severity depends on it); `reps` and `transactions` are
    required when asked for, the others optional (empty when absent). Problems never raise.
    """
    wanted = set(tables) | {"reps"}
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    files: list[InputFile] = []

    reps, found, record = read_table(ws, "reps", required=True)
    known = set(reps["rep_id"]) | {p.rep_id for p in found if p.severity == HOLD and p.rep_id}
    problems += found
    files.append(record)
    frames["reps"], found = check_reps(reps, known)
    problems += found

    for name in ("transactions", "credits", "quotas", "fx", "adjustments", "accounts"):
        if name not in wanted:
            continue
        frame, found, record = read_table(ws, name, required=name in REQUIRED_TABLES,
                                          known_reps=known)
        problems += found
        if record is not None:
            files.append(record)
        frames[name] = frame if frame is not None else empty_table(name)

    for name in ("quotas", "adjustments"):
        if name in frames:
            frames[name], found = _drop_unknown_reps(frames[name], name, known)
            problems += found
    if "fx" in frames:
        frames["fx"], found = _drop_duplicates(frames["fx"], "fx", ["period", "currency"],
                                               "fx rate for {currency} in {period}")
        problems += found
    if "accounts" in frames:
        frames["accounts"], found = check_accounts(frames["accounts"], known)
        problems += found
    if "transactions" in frames:
        txn_problems = [p for p in problems if p.table == "transactions"]
        credit_problems = [p for p in problems if p.table == "credits"]
        credits = frames.get("credits", empty_table("credits"))
        frames["transactions"], credits, found = check_transactions(
            frames["transactions"], credits, known,
            left_out={p.txn_id for p in txn_problems if p.txn_id},
            broken_credits={p.txn_id for p in credit_problems if p.txn_id})
        problems += found
        if "credits" in frames:
            frames["credits"] = credits

    inputs = Inputs(
        **{n: frames.get(n, empty_table(n)) for n in DEFAULT_TABLES},
        files=tuple(files),
        accounts=frames.get("accounts", empty_table("accounts")),
    )
    return inputs, problems


def _problem(table: str, reason: str, row, known: Collection[str], *, rep=None,
             txn=None) -> Problem:
    make = Problem.hold if rep is not None and rep in known else Problem.notice
    return make(table, reason, row=row, txn_id=txn, rep_id=rep)


def check_reps(reps: pd.DataFrame, known: Collection[str]) -> tuple[pd.DataFrame, list[Problem]]:
    """Overlapping date ranges of one rep: hold the rep, leave both rows out.

    Also a notice for a manager_id that is no rep (team credit stops there).
    """
    problems: list[Problem] = []
    several = reps[reps["rep_id"].duplicated(keep=False)]
    drop: set[int] = set()
    # Only reps with several rows (effective-dated changes) can overlap: a handful.
    for rep_id, rows in several.sort_values(["rep_id", "start_date", "row"]).groupby("rep_id"):
        spans = list(rows[["row", "start_date", "end_date"]].itertuples(index=False))
        for i, a in enumerate(spans):
            for b in spans[i + 1:]:
                a_end = _OPEN_END if pd.isna(a.end_date) else a.end_date
                b_end = _OPEN_END if pd.isna(b.end_date) else b.end_date
                if b.start_date <= a_end and a.start_date <= b_end:
                    first, second = sorted((a, b), key=lambda s: s.row)
                    problems.append(Problem.hold(
                        "reps",
                        f"rows {first.row} and {second.row} of reps overlap "
                        f"({_span(first)} and {_span(second)}); end the earlier row the day "
                        "before the later one starts",
                        row=first.row, rep_id=rep_id))
                    drop |= {a.row, b.row}
    if drop:
        reps = reps[~reps["row"].isin(drop)].reset_index(drop=True)
    managers = reps["manager_id"]
    stray = reps[managers.notna() & ~managers.isin(list(known))]
    for row, rep, manager in stray[["row", "rep_id", "manager_id"]].itertuples(index=False):
        problems.append(Problem.notice(
            "reps", f"manager_id '{manager}' is not a rep_id in reps; team credit stops at "
            f"{rep}: add the manager to reps or correct manager_id", row=row, rep_id=rep))
    return reps, problems


def _span(row) -> str:
    return f"{_day(row.start_date)}..{_day(row.end_date)}"


def _drop_unknown_reps(frame: pd.DataFrame, table: str, known: Collection[str],
                       ) -> tuple[pd.DataFrame, list[Problem]]:
    """Rows naming a rep_id missing from reps: a notice each, the row left out."""
    ids = frame["rep_id"]
    unknown = ids.notna() & ~ids.isin(list(known))
    if not unknown.any():
        return frame, []
    has_txn = "txn_id" in frame.columns
    problems = [
        Problem.notice(table, f"rep_id '{rep}' is not in reps; add the rep to reps or correct "
                       "the rep_id", row=row, rep_id=rep, txn_id=txn if has_txn else None)
        for row, rep, txn in zip(frame["row"][unknown], ids[unknown],
                                 frame["txn_id"][unknown] if has_txn else ids[unknown],
                                 strict=True)
    ]
    return frame[~unknown].reset_index(drop=True), problems


def _drop_duplicates(frame: pd.DataFrame, table: str, keys: list[str], what: str,
                     ) -> tuple[pd.DataFrame, list[Problem]]:
    """Rows repeating a key that must be unique: a notice each, all of them left out."""
    dup = frame.duplicated(keys, keep=False)
    if not dup.any():
        return frame, []
    problems = []
    for key, rows in frame[dup].groupby(keys, sort=False)["row"]:
        values = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        listed = _rows_text(rows)
        for row in rows:
            problems.append(Problem.notice(
                table, f"{what.format(**values)} is given in {listed} of {table}; keep one",
                row=row))
    return frame[~dup].reset_index(drop=True), problems


def _rows_text(rows: Iterable[int]) -> str:
    rows = [str(int(r)) for r in rows]
    return "rows " + (", ".join(rows[:-1]) + " and " + rows[-1] if len(rows) > 1 else rows[0])


def check_accounts(accounts: pd.DataFrame, known: Collection[str],
                   ) -> tuple[pd.DataFrame, list[Problem]]:
    """Unique account_id; an owner missing from reps is blanked (the account stays)."""
    accounts, problems = _drop_duplicates(accounts, "accounts", ["account_id"],
                                          "account_id '{account_id}'")
    owner = accounts["rep_id"]
    unknown = owner.notna() & ~owner.isin(list(known))
    if unknown.any():
        problems += [Problem.notice(
            "accounts", f"rep_id '{rep}' is not in reps; the account is treated as unowned: "
            "add the rep to reps or correct the rep_id", row=row, rep_id=rep)
            for row, rep in zip(accounts["row"][unknown], owner[unknown], strict=True)]
        accounts = accounts.assign(rep_id=owner.where(~unknown, None))
    return accounts, problems


def check_transactions(txns: pd.DataFrame, credits: pd.DataFrame, known: Collection[str], *,
                       left_out: Collection[str] = (), broken_credits: Collection[str] = (),
                       ) -> tuple[pd.DataFrame, pd.DataFrame, list[Problem]]:
    """Cross-checks of transactions and credits (rules 1, 2 and 12).

    `left_out`: txn_ids of transactions rows already dropped for a bad cell;
    `broken_credits`: txn_ids of credits rows dropped for a bad cell (their split is
    incomplete, so the transaction cannot be credited).
    """
    known = set(known)
    problems: list[Problem] = []
    owner_of = txns["rep_id"]

    # Duplicate txn_id: every row with that id is left out, each owner held.
    present = pd.Index(txns["txn_id"])  # hashed once; unique in a clean file
    dup = (pd.Series(False, index=txns.index) if present.is_unique
           else txns["txn_id"].duplicated(keep=False))
    if dup.any():
        listed = txns[dup].groupby("txn_id")["row"].agg(_rows_text)
        for row, txn, rep in txns.loc[dup, ["row", "txn_id", "rep_id"]].itertuples(index=False):
            problems.append(_problem(
                "transactions", f"txn_id '{txn}' is used by {listed[txn]} of transactions; "
                "give each transaction its own txn_id", row, known, rep=rep, txn=txn))
        txns = txns[~dup].reset_index(drop=True)
        present = pd.Index(txns["txn_id"])  # unique now: hashed lookups, no million-item set
    left_out = {t for t in set(left_out) | set(listed.index if dup.any() else ())
                if t not in present}

    # Owners that are no rep: a notice, the transaction left out.
    owner_of = txns["rep_id"]
    stray = owner_of.notna() & ~owner_of.isin(list(known))
    if stray.any():
        problems += [Problem.notice(
            "transactions", f"rep_id '{rep}' is not in reps; add the rep to reps or correct "
            "the rep_id", row=row, txn_id=txn, rep_id=rep)
            for row, txn, rep in txns.loc[stray, ["row", "txn_id", "rep_id"]].itertuples(
                index=False)]
        left_out |= set(txns.loc[stray, "txn_id"])
        txns = txns[~stray].reset_index(drop=True)
        present = pd.Index(txns["txn_id"])

    # Credits of transactions that were left out, or that do not exist.
    cid = credits["txn_id"]
    orphan = cid.isin(list(left_out)) if left_out else pd.Series(False, index=cid.index)
    if orphan.any():
        problems += [_problem(
            "credits", f"transaction '{txn}' was left out (see its problem in transactions); "
            "its credits wait until it is fixed", row, known, rep=rep, txn=txn)
            for row, txn, rep in credits.loc[orphan, ["row", "txn_id", "rep_id"]].itertuples(
                index=False)]
    missing = ~orphan & (~cid.isin(present) if len(cid) else False)
    if missing.any():
        problems += [Problem.notice(
            "credits", f"txn_id '{txn}' is not in transactions; correct the txn_id or add the "
            "transaction", row=row, txn_id=txn, rep_id=rep)
            for row, txn, rep in credits.loc[missing, ["row", "txn_id", "rep_id"]].itertuples(
                index=False)]
    credits = credits[~(orphan | missing)].reset_index(drop=True)

    # Non-overlay shares must sum to exactly 1, compared in integer units.
    split = credits["role"].fillna("").str.strip().str.lower() != "overlay"
    units = np.rint(credits["share"].to_numpy() * SHARE_UNITS).astype(np.int64)
    totals = pd.Series(np.where(split, units, 0)).groupby(credits["txn_id"].to_numpy()).sum()
    wrong = set(totals.index[totals != SHARE_UNITS])
    # A transaction whose credits rows were partly dropped cannot be credited as meant.
    bad_txns = wrong | {t for t in broken_credits if t in present}
    if bad_txns:
        affected = credits[credits["txn_id"].isin(list(bad_txns))]
        rows_of = affected.groupby("txn_id")["row"].agg(_rows_text)
        reasons = {}
        for txn in bad_txns:
            where = f"credits {rows_of[txn]}" if txn in rows_of.index else "credits"
            if txn in wrong:
                total = _units_text(int(totals[txn]))
                reasons[txn] = (f"shares of txn_id '{txn}' that are not overlay sum to {total} "
                                f"({where}); make them add up to exactly 1")
            else:
                reasons[txn] = (f"credits rows of txn_id '{txn}' have problems (see credits); "
                                "fix them so the split is complete")
        for row, txn, rep in affected[["row", "txn_id", "rep_id"]].itertuples(index=False):
            problems.append(_problem("credits", reasons[txn], row, known, rep=rep, txn=txn))
        gone = txns["txn_id"].isin(list(bad_txns))
        for row, txn, rep in txns.loc[gone, ["row", "txn_id", "rep_id"]].itertuples(index=False):
            problems.append(_problem(
                "transactions", f"transaction '{txn}' is left out until its credits are fixed: "
                + reasons[txn], row, known, rep=rep, txn=txn))
        credits = credits[~credits["txn_id"].isin(list(bad_txns))].reset_index(drop=True)
        txns = txns[~gone].reset_index(drop=True)
        left_out |= bad_txns

    credits, found = _drop_unknown_reps(credits, "credits", known)
    problems += found

    # A cancellation must name a transaction that was loaded.
    reverses = txns["reverses"]
    named = reverses.notna().to_numpy()
    dangling = named.copy()
    if named.any():
        dangling[named] = ~reverses[named].isin(txns["txn_id"]).to_numpy()
    if dangling.any():
        for row, txn, rep, orig in txns.loc[
                dangling, ["row", "txn_id", "rep_id", "reverses"]].itertuples(index=False):
            why = ("was left out (see its problem)" if orig in left_out
                   else "is not a txn_id in transactions")
            problems.append(_problem(
                "transactions", f"reverses '{orig}', which {why}; correct reverses or fix the "
                "original transaction", row, known, rep=rep, txn=txn))
        txns = txns[~dangling].reset_index(drop=True)
    return txns, credits, problems


def _units_text(units: int) -> str:
    return _plain(Decimal(units) / SHARE_UNITS)
