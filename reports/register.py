"""The register files: `payouts.csv` and `exceptions.csv`, exactly as SPEC section 6 writes them.

These are the machine-readable record finance reconciles against payroll, so the bytes
are fixed: columns in SPEC order, money `-2000.00`, attainment with six decimals
(`1.083333`, half up), blanks for missing figures, LF line endings, UTF-8, minimal
quoting. The same frame always gives the same bytes. Rows keep the engine's order.
Text that came from data is defused against spreadsheet formulas (`defused_array`).

This module is also the one place for cell text: money, fixed decimals, plain and defused
text, and CSV bytes, used by every CSV and the workbook. Text is built column-wise with
Arrow's C kernels (`pyarrow.compute`) as string arrays, null for a blank, because a register
of 10,000 reps must render in a fraction of a second: no per-value Python on the hot path
(only each distinct value that starts like a formula is judged in Python).
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from compensation.money import product_cents
from compensation.results import EXCEPTION_COLUMNS, REGISTER_COLUMNS

MONEY_COLUMNS = ("credited", "quota", "earned_to_date", "paid_to_date", "amount")
# What a spreadsheet reads as the start of a formula, and numbers that only look like one.
_FORMULA_START = "^[=+\\-@\t\r]"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _csv_specials() -> tuple[bytes, str]:
    """The characters that make Python's csv.writer quote a field (minimal, LF lines): as bytes, and as an RE2 class.

    Asked of the csv module itself, because Python versions differ (a lone CR, for one).
    """
    chars, quoted = b"", ""
    for char, pattern in ((",", ","), ('"', '"'), ("\n", "\\n"), ("\r", "\\r")):
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\n").writerow([f"a{char}b", "c"])
        if buffer.getvalue().startswith('"'):
            chars, quoted = chars + char.encode("ascii"), quoted + pattern
    return chars, f"[{quoted}]"


_CSV_SPECIAL_BYTES, _CSV_SPECIAL = _csv_specials()
_FORMULA_BYTE = np.zeros(256, dtype=bool)  # by first byte: _FORMULA_START's characters (all ASCII)
_FORMULA_BYTE[list(b"=+-@\t\r")] = True


def _fixed_text(units: np.ndarray, missing: np.ndarray, decimals: int) -> pa.Array:
    """Integer units of 10**-decimals -> `-12.345678` text, null where missing.

    The digits of |units|, padded to one more than `decimals`, get the point inserted; a sign
    only where negative (most money is not).
    """
    if len(units) > 1 and not missing.any() and units.min() == units.max():
        # One figure throughout (a column of zeros, say): its text once, repeated.
        return pa.repeat(_fixed_text(units[:1], missing[:1], decimals)[0], len(units))
    digits = pc.cast(pa.array(np.abs(units), mask=missing), pa.string())
    digits = pc.ascii_lpad(digits, width=decimals + 1, padding="0")  # digits are ASCII: byte kernels
    text = pc.binary_replace_slice(digits, start=-decimals, stop=-decimals, replacement=".")
    negative = units < 0
    if negative.any():
        text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    return text


def money_array(cents) -> pa.Array:
    """Cents (ints, <NA> blank) -> `-2000.00` text, null where missing: the one money text of every file.

    Cell text arrays carry blanks as nulls: joins drop them (CSV) or skip the cell (workbook).
    """
    values = pd.array(cents, dtype="Int64")
    units = values.to_numpy(dtype=np.int64, na_value=0)
    return _fixed_text(units, np.asarray(values.isna()), 2)



def attainment_array(attainment) -> pa.Array:
    """Fraction -> six decimals, half up on the decimal text of the float; null where NaN."""
    values = pd.to_numeric(pd.Series(attainment), errors="coerce").astype("float64").to_numpy()
    missing = ~np.isfinite(values)
    micro = np.zeros(len(values), dtype=np.int64)
    if (~missing).any():
        # product_cents scales by 100 and rounds half up exactly; x 10,000 more gives 1e-6 units.
        micro[~missing] = product_cents(values[~missing], np.full((~missing).sum(), 10_000.0))
    return _fixed_text(micro, missing, 6)



def plain_array(column) -> pa.Array:
    """Text cells: null for missing values, `str` of the value otherwise.

    Strings and integers convert in Arrow (the same text as `str`); anything else
    (floats, whose Arrow text differs from `str`, dates, mixed objects) goes value by value.
    """
    try:
        array = pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = None
    if array is not None and (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
                              or pa.types.is_integer(array.type)):
        return pc.cast(array, pa.string())
    if array is not None and pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    values = pd.Series(column, dtype=object)
    mask = values.isna().to_numpy()
    return pa.array([None if m else str(v) for v, m in zip(values.tolist(), mask, strict=True)], pa.string())


def utf8_buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string array's offsets (one more than its length) and the UTF-8 bytes they index: views, no copy."""
    _, offsets, data = text.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64 if pa.types.is_large_string(text.type) else np.int32)
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    return offsets[text.offset:text.offset + len(text) + 1], data


def defused_array(column) -> pa.Array:
    """Text that came from data, safe to open in a spreadsheet.

    A cell a spreadsheet would read as a formula (leading `=`, `+`, `-`, `@`, tab or
    carriage return) gets a leading `'`, unless it is a plain number such as `-9009`,
    which is data, not a formula.
    """
    text = plain_array(column)
    offsets, data = utf8_buffers(text)
    starts = offsets[:-1][offsets[1:] > offsets[:-1]]
    if not _FORMULA_BYTE[data[starts]].any():  # no cell starts like a formula (most columns): no regex
        return text
    risky = pc.match_substring_regex(text, _FORMULA_START)
    if not pc.any(risky).as_py():
        return text
    # Few values start like a formula: judge each distinct one with Python's regex (Unicode digits).
    candidates = pc.unique(pc.filter(text, risky)).to_pylist()
    formulas = pa.array([v for v in candidates if not _PLAIN_NUMBER.fullmatch(v)], pa.string())
    defuse = pc.is_in(text, value_set=formulas)
    return pc.if_else(defuse, pc.binary_join_element_wise("'", text, ""), text)



def _may_need_quotes(text: pa.Array) -> bool:
    """Whether a cell's bytes may hold a character csv.writer quotes for (a byte scan; null cells count too)."""
    if not isinstance(text, pa.Array) or not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return True
    offsets, data = utf8_buffers(text)
    values = data[offsets[0]:offsets[-1]].tobytes()
    return any(char in values for char in _CSV_SPECIAL_BYTES)


def joined_text(lines: pa.Array) -> memoryview:
    """The UTF-8 bytes of a string array's values end to end: a view of its data buffer, no copy."""
    if lines.null_count:
        raise ValueError("a text row is missing")
    if not len(lines):
        return memoryview(b"")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64 if pa.types.is_large_string(lines.type)
                            else np.int32)
    start, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return memoryview(lines.buffers()[2].slice(start, end - start))


def csv_bytes(columns: tuple[str, ...], cells: dict[str, pa.Array]) -> bytes:
    """Header and rows, byte for byte as csv.writer writes them (minimal quoting, LF), from text arrays.

    A null cell is blank; fields with a comma, quote or newline are quoted, quotes doubled.
    """
    header = ",".join(columns) + "\n"
    if not len(cells[columns[0]]):
        return header.encode("utf-8")
    quoted = []
    for column in columns:
        text = cells[column]
        special = pc.match_substring_regex(text, _CSV_SPECIAL) if _may_need_quotes(text) else None
        if special is not None and pc.any(special).as_py():
            wrapped = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
            text = pc.if_else(special, wrapped, text)
        quoted.append(text)
    quoted[-1] = pc.binary_join_element_wise(quoted[-1], "\n", "", null_handling="replace")  # ends each line
    lines = pc.binary_join_element_wise(*quoted, ",", null_handling="replace")
    return header.encode("utf-8") + joined_text(lines)


def register_text(register: pd.DataFrame) -> dict[str, pa.Array]:
    """The register as the text cells of payouts.csv (helper columns dropped)."""
    out = {}
    for column in REGISTER_COLUMNS:
        if column in MONEY_COLUMNS:
            out[column] = money_array(register[column])
        elif column == "attainment":
            out[column] = attainment_array(register[column])
        else:
            out[column] = defused_array(register[column])
    return out


def payouts_csv(register: pd.DataFrame) -> bytes:
    """`payouts.csv` bytes (SPEC section 6) from `RunResult.register`, in the engine's order."""
    return csv_bytes(REGISTER_COLUMNS, register_text(register))


def exceptions_csv(exceptions: pd.DataFrame) -> bytes:
    """`exceptions.csv` bytes: period, severity, table, row, txn_id, rep_id, reason."""
    out = {}
    for column in EXCEPTION_COLUMNS:
        values = (exceptions[column] if column in exceptions
                  else pd.Series(pd.NA, index=exceptions.index, dtype=object))
        if column == "row":
            out[column] = plain_array(pd.to_numeric(values, errors="coerce").astype("Int64"))
        else:
            out[column] = defused_array(values)
    return csv_bytes(EXCEPTION_COLUMNS, out)
