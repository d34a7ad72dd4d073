"""The register files: `payouts.csv` and `exceptions.csv`, exactly as SPEC section 6 writes them.

These are the machine-readable record finance reconciles against payroll, so the bytes
are fixed: columns in SPEC order, money `-2000.00`, attainment with six decimals
(`1.083333`, half up), blanks for missing figures, LF line endings, UTF-8, minimal
quoting. The same frame always gives the same bytes. Rows keep the engine's order.
Text that came from data is defused against spreadsheet formulas (`defused_text`).
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd

from compensation.money import product_cents
from compensation.results import EXCEPTION_COLUMNS, REGISTER_COLUMNS

MONEY_COLUMNS = ("credited", "quota", "earned_to_date", "paid_to_date", "amount")
# What a spreadsheet reads as the start of a formula, and numbers that only look like one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"


def _fixed_text(units: np.ndarray, missing: np.ndarray, decimals: int, index) -> pd.Series:
    """Integer units of 10**-decimals -> `-12.345678` text, blank where missing (vectorised)."""
    scale = 10**decimals
    magnitude = np.abs(units)
    whole = pd.Series(magnitude // scale).astype(str)
    frac = pd.Series(magnitude % scale).astype(str).str.zfill(decimals)
    sign = pd.Series(np.where(units < 0, "-", ""))
    text = (sign + whole + "." + frac).to_numpy(dtype=object)
    text[missing] = ""
    return pd.Series(text, index=index, dtype=object)


def money_text(cents: pd.Series) -> pd.Series:
    """Int64 cents -> `-2000.00` text, blank where <NA>."""
    values = pd.array(cents, dtype="Int64")
    units = np.asarray(values.fillna(0).to_numpy(dtype=np.int64))
    return _fixed_text(units, np.asarray(values.isna()), 2, cents.index)


def attainment_text(attainment: pd.Series) -> pd.Series:
    """Fraction -> six decimals, half up on the decimal text of the float; blank where NaN."""
    values = pd.to_numeric(attainment, errors="coerce").astype("float64").to_numpy()
    missing = ~np.isfinite(values)
    micro = np.zeros(len(values), dtype=np.int64)
    if (~missing).any():
        # product_cents scales by 100 and rounds half up exactly; x 10,000 more gives 1e-6 units.
        micro[~missing] = product_cents(values[~missing], np.full((~missing).sum(), 10_000.0))
    return _fixed_text(micro, missing, 6, attainment.index)


def _plain_text(column: pd.Series) -> pd.Series:
    """Text cells: blank for missing values, `str` otherwise."""
    mask = column.isna().to_numpy()
    text = column.astype(object).to_numpy(copy=True)
    text[mask] = ""
    return pd.Series([str(v) for v in text], index=column.index, dtype=object)


def defused_text(column: pd.Series) -> pd.Series:
    """Text that came from data, safe to open in a spreadsheet.

    A cell a spreadsheet would read as a formula (leading `=`, `+`, `-`, `@`, tab or
    carriage return) gets a leading `'`, unless it is a plain number such as `-9009`,
    which is data, not a formula.
    """
    codes, uniques = pd.factorize(_plain_text(column), sort=False)  # columns repeat: judge each value once
    text = pd.Series(uniques, dtype=object)
    risky = text.str.startswith(_FORMULA_START) & ~text.str.fullmatch(_PLAIN_NUMBER)
    return pd.Series(text.where(~risky, "'" + text).to_numpy(dtype=object)[codes], index=column.index,
                     dtype=object)


def _csv_bytes(columns: tuple[str, ...], frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    writer.writerows(frame[list(columns)].itertuples(index=False, name=None))
    return buffer.getvalue().encode("utf-8")


def register_text(register: pd.DataFrame) -> pd.DataFrame:
    """The register as the text cells of payouts.csv (helper columns dropped)."""
    out = pd.DataFrame(index=register.index)
    for column in REGISTER_COLUMNS:
        if column in MONEY_COLUMNS:
            out[column] = money_text(register[column])
        elif column == "attainment":
            out[column] = attainment_text(register[column])
        else:
            out[column] = defused_text(register[column])
    return out


def payouts_csv(register: pd.DataFrame) -> bytes:
    """`payouts.csv` bytes (SPEC section 6) from `RunResult.register`, in the engine's order."""
    return _csv_bytes(REGISTER_COLUMNS, register_text(register))


def exceptions_csv(exceptions: pd.DataFrame) -> bytes:
    """`exceptions.csv` bytes: period, severity, table, row, txn_id, rep_id, reason."""
    out = pd.DataFrame(index=exceptions.index)
    for column in EXCEPTION_COLUMNS:
        values = (exceptions[column] if column in exceptions
                  else pd.Series(pd.NA, index=exceptions.index))
        if column == "row":
            rows = pd.to_numeric(values, errors="coerce").astype("Int64")
            out[column] = _plain_text(rows)
        else:
            out[column] = defused_text(values)
    return _csv_bytes(EXCEPTION_COLUMNS, out)
