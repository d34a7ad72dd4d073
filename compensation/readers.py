"""Reading input files: every format as the text a CSV would hold, cell by cell.

A table is `data/NAME.csv`, `data/NAME.xlsx` or `data/NAME.parquet`. Each reader returns
the header and every column's cells as text (null for a missing cell), so the three
formats go through the same checks and a problem reads the same whatever the file.
A file that cannot be read is an `IcmError` in our words, never a library's message.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import mmap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from compensation import messages
from compensation.errors import IcmError
from compensation.settings import Workspace
from compensation.yamlsafe import relative_source

FORMATS = ("csv", "xlsx", "parquet")
BLANK_HEADER = "\0blank"  # the name given to a column with no header: `\0blank3`


@dataclass(frozen=True)
class RawTable:
    """A file's header and cells as text; `formulas` lists XLSX formula cells without a value.

    `formulas[column][i]` is the formula of data row `i` (0-based) whose file stores no
    computed value: such a cell reads as blank, but is not.
    """

    names: list[str]
    cells: dict[str, pa.ChunkedArray]
    formulas: dict[str, dict[int, str]] = field(default_factory=dict)


def table_path(ws: Workspace, name: str) -> Path | None:
    """The one file holding table `name`, None if there is none; two of them is an error."""
    found = [p for p in (ws.data_dir / f"{name}.{ext}" for ext in FORMATS) if p.is_file()]
    if len(found) > 1:
        names = " and ".join(relative(ws, p) for p in found)
        raise IcmError.at(relative(ws, found[0]), None, messages.table_given_twice(name, names))
    return found[0] if found else None


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in chunks so a large file never sits in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def relative(ws: Workspace, path: Path) -> str:
    """`path` as the user knows it: relative to the workspace when inside it."""
    return relative_source(path, ws.root)


def read_text_table(path: Path, source: str) -> RawTable:
    """Header names and each column's cells as text (null for a missing cell)."""
    readers = {".csv": _read_csv, ".xlsx": _read_xlsx, ".parquet": _read_parquet}
    kind = path.suffix[1:].upper()
    try:
        return readers[path.suffix](path, source)
    except IcmError:
        raise
    except UnicodeDecodeError as exc:
        raise IcmError.at(source, None, messages.not_utf8(exc.reason)) from exc
    except Exception as exc:  # noqa: BLE001 - the boundary: any library failure is an unreadable file
        if "utf8" in str(exc).lower():
            raise IcmError.at(source, None, messages.not_utf8()) from exc
        raise IcmError.at(source, None, messages.unreadable(kind)) from exc


def header_names(header: list, source: str) -> list[str]:
    """Trimmed header names; a blank one is `BLANK_HEADER` + its position; no name twice."""
    names = []
    for i, cell in enumerate(header):
        text = "" if cell is None else str(cell).strip()
        names.append(text or f"{BLANK_HEADER}{i + 1}")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen and not name.startswith(BLANK_HEADER):
            raise IcmError.at(source, 1, messages.duplicate_header(name, seen[name] + 1, i + 1))
        seen.setdefault(name, i)
    return names


# ---------------------------------------------------------------- CSV


def _read_csv(path: Path, source: str) -> RawTable:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
    if not first.strip():
        raise IcmError.at(source, 1, messages.no_header("csv"))
    delimiter = _sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter))
    names = header_names(header, source)
    try:
        table = _arrow_csv(path, names, delimiter, quoted=_has_quote(path))
    except pa.ArrowInvalid as exc:
        if "utf8" in str(exc).lower():
            raise IcmError.at(source, None, messages.not_utf8()) from exc
        if "straddl" not in str(exc):
            raise IcmError.at(source, None, _csv_fault(path, delimiter, len(names))) from exc
        # A cell longer than a block (1 MB) with quotes inside: read the file as one block.
        table = _arrow_csv(path, names, delimiter, block_size=path.stat().st_size + 1)
    return RawTable(names, {n: table.column(n) for n in names})


def _has_quote(path: Path) -> bool:
    """Whether the file has a `"` at all: only a quoted cell can hold a line break."""
    if path.stat().st_size == 0:
        return False
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(b'"') >= 0


def _arrow_csv(path: Path, names: list[str], delimiter: str, block_size: int | None = None, *,
               quoted: bool = True) -> pa.Table:
    """Pyarrow's reader with every column as text; blank lines kept so row numbers hold.

    Line breaks inside cells make pyarrow find record ends serially; a file without
    quotes has none, so its blocks are split and parsed in parallel (twice as fast).
    """
    read = pacsv.ReadOptions(column_names=names, skip_rows=1)
    if block_size is not None:
        read.block_size = min(block_size, 2**31 - 1)
    return pacsv.read_csv(
        path,
        read_options=read,
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted,
                                          ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False,
                                             quoted_strings_can_be_null=False),
    )


def _csv_fault(path: Path, delimiter: str, width: int) -> str:
    """What is wrong where, found by Python's csv module once pyarrow has refused the file."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        start = 1
        try:
            for record in reader:
                if record and len(record) != width and start > 1:
                    return messages.wrong_cell_count(start, len(record), width)
                start = reader.line_num + 1
        except csv.Error:
            return messages.unclosed_quote(start)
    return messages.unreadable("CSV")


def _sniff_delimiter(header_line: str) -> str:
    """Comma, unless the header plainly uses semicolons or tabs (European Excel exports)."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] and counts[","] == 0 else ","


# ---------------------------------------------------------------- XLSX


def _read_xlsx(path: Path, source: str) -> RawTable:
    names, cells, blanks = _xlsx_values(path, source)
    # A formula whose file stores no value (written by a script, never opened in Excel)
    # reads as blank: look for formulas only where cells read blank.
    formulas = _xlsx_formulas(path, names, cells) if blanks else {}
    columns = {n: pa.chunked_array([pa.array(c, pa.string())]) for n, c in zip(names, cells, strict=True)}
    return RawTable(names, columns, formulas)


def _sheet(book, path: Path):
    """The sheet named like the table (`transactions`), else the first."""
    return book[path.stem] if path.stem in book.sheetnames else book.worksheets[0]


def _xlsx_values(path: Path, source: str) -> tuple[list[str], list[list[str | None]], int]:
    """Header, each column's cells as text, and how many cells are blank."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = _sheet(book, path).iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(c is None or str(c).strip() == "" for c in header):
            raise IcmError.at(source, 1, messages.no_header("xlsx"))
        while header and (header[-1] is None or str(header[-1]).strip() == ""):
            header = header[:-1]
        names = header_names(list(header), source)
        width = len(names)
        cells: list[list[str | None]] = [[] for _ in names]
        blanks = 0
        for values in rows:
            values = tuple(values[:width]) + (None,) * (width - len(values))
            for column, value in zip(cells, values, strict=True):
                column.append(_cell_text(value))
            blanks += values.count(None)
    finally:
        book.close()
    return names, cells, blanks


def _xlsx_formulas(path: Path, names: list[str], cells: list[list[str | None]],
                   ) -> dict[str, dict[int, str]]:
    """Formula cells that read blank (no stored value): {column: {data row index: formula}}."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    found: dict[str, dict[int, str]] = {}
    try:
        width = len(names)
        for i, values in enumerate(_sheet(book, path).iter_rows(min_row=2, values_only=True)):
            for j, value in enumerate(values[:width]):
                formula = _formula_text(value)
                if formula is not None and i < len(cells[j]) and cells[j][i] is None:
                    found.setdefault(names[j], {})[i] = formula
    finally:
        book.close()
    return found


def _formula_text(value) -> str | None:
    if isinstance(value, str):
        return value if value.startswith("=") and len(value) > 1 else None
    text = getattr(value, "text", None)  # openpyxl's ArrayFormula
    return text if isinstance(text, str) else None


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


# ---------------------------------------------------------------- Parquet


def _read_parquet(path: Path, source: str) -> RawTable:
    table = pq.read_table(path)
    names = header_names(table.column_names, source)
    return RawTable(names, {n: _arrow_text(table.column(i), n, source) for i, n in enumerate(names)})


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
    raise IcmError.at(source, None, messages.unsupported_type(name, kind))
