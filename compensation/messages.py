"""The wording of input-table problems, apart from the checks that find them.

Every message names the cell or rows, says what is wrong and how to fix it, in a
finance user's words: `amount '1,006.30' is not a decimal number (no thousands
separators); write 1006.30`. Checks in `compensation.coerce`, `compensation.tables` and
`compensation.table_checks` call these functions; territories reuses them for accounts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

import pandas as pd

from compensation.schema import MONEY_LIMIT, NUMBER_PATTERN, OPEN_END, SHARE_UNITS

# Range rules of `schema.RULES`, worded; {col} is the column, {v} the cell as written.
RULE_MESSAGES: dict[str, str] = {
    "share": "share {v} is outside (0, 1]; write a fraction of the transaction, e.g. 0.6 for 60%",
    "quota": "quota amount {v} is not more than 0; give a positive quota or delete the row",
    "rate": "fx rate {v} is not more than 0; write what 1 unit of the currency is worth "
            "in the base currency, e.g. 1.15",
    "positive": "{col} {v} is not more than 0; leave it blank for 1",
    "not_negative": "{col} {v} is negative; write 0 or more",
    "lat": "lat {v} is not a latitude (-90 to 90)",
    "lon": "lon {v} is not a longitude (-180 to 180)",
}


# ---------------------------------------------------------------- cells


def blank(column: str) -> str:
    """A required cell left empty."""
    return f"{column} is blank; fill it in or delete the row"


def formula_without_value(column: str, formula: str) -> str:
    """An XLSX formula cell whose file holds no computed value (written by a script)."""
    return (f"{column} is a formula ({formula}) that the file holds no value for; open the "
            "file in Excel and save it, so the computed values are stored")


def rule(name: str, column: str, value: str) -> str:
    """A number outside the range its column allows (`schema.RULES`)."""
    return RULE_MESSAGES[name].format(col=column, v=value)


def not_true_or_false(column: str, value: str) -> str:
    """A bool cell that is neither true nor false."""
    return f"{column} '{value}' is not true or false; write true or false"


def rep_id(column: str, value: str) -> str:
    """A rep_id with characters outside `[A-Za-z0-9._-]`, with a cleaned suggestion."""
    fixed = re.sub(r"[^A-Za-z0-9._-]+", "-", value).strip("-") or "R1"
    return (f"{column} '{value}' may use only letters, digits, '.', '_' and '-'; "
            f"rename it, e.g. '{fixed}'")


_EXCEL_ERRORS = ("#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#SPILL!", "#CALC!")


def excel_error(column: str, value: str) -> str | None:
    """A formula's error value (#DIV/0!, #N/A, ...) as Excel stored it, else None."""
    if value.strip().upper() not in _EXCEL_ERRORS:
        return None
    return f"{column} is the Excel error {value.strip()}; correct the formula in the file and save it again"


def number(column: str, value: str) -> str:
    """A cell that is not a plain decimal number, with the number the user most likely meant."""
    if error := excel_error(column, value):
        return error
    base = f"{column} '{value}' is not a decimal number"
    text = value.replace(" ", "").replace("\u00a0", "")
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", text):
        return f"{base} (no thousands separators); write {text.replace(',', '')}"
    if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d+", text):
        return f"{base} (no thousands separators, '.' for decimals); write " \
               f"{text.replace('.', '').replace(',', '.')}"
    if re.fullmatch(r"[+-]?\d+,\d+", text):
        return f"{base} (use '.' for decimals); write {text.replace(',', '.')}"
    if re.fullmatch(NUMBER_PATTERN + "%", text):
        try:
            return f"{base}; write it as a fraction, {plain(Decimal(text[:-1]) / 100)}"
        except InvalidOperation:  # pragma: no cover - the regex admits only numbers
            pass
    stripped = re.sub(r"[^\d.+-]", "", text)
    if stripped and stripped != text and re.fullmatch(NUMBER_PATTERN, stripped):
        return f"{base}; write {stripped} (digits and '.' only)"
    return f"{base}; write it like 1006.30 (digits, '.' for decimals)"


def money_too_large(column: str, value: str) -> str:
    """An amount at or beyond 10^15, where cents would no longer be exact."""
    return (f"{column} {value} is too large: amounts must be below {MONEY_LIMIT:,} to be paid "
            "exact to the cent; check the figure (a misplaced decimal point?) or split it")


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 0.6, 1006.3, 1."""
    return format(value.normalize(), "f")


def shares_total(units: int) -> str:
    """A sum of shares counted in `SHARE_UNITS`, as written: 0.9, 1.0000001."""
    return plain(Decimal(units) / SHARE_UNITS)


def date(column: str, value: str) -> str:
    """A cell that is not an ISO date, with the date the user most likely meant."""
    if error := excel_error(column, value):
        return error
    base = f"{column} '{value}' is not YYYY-MM-DD"
    text = value.strip()
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if m and int(m[1]) >= OPEN_END.year:
        return f"{column} '{value}' is too far in the future (the last year is " \
               f"{OPEN_END.year - 1}); correct it"
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


def period(column: str, value: str, kind: str) -> str:
    """A cell that is not a month (or quarter or year, where those are allowed)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-\d{2}", str(value).strip())
    if kind == "month":
        hint = f"write {m[1]}-{m[2]}" if m else "write it as YYYY-MM, e.g. 2026-03"
        return f"{column} '{value}' is not a month; {hint}"
    if m:
        return f"{column} '{value}' is not a month, quarter or year; write {m[1]}-{m[2]}"
    return (f"{column} '{value}' is not a month, quarter or year; write 2026-03, 2026-Q1 "
            "or 2026")


def day(value) -> str:
    """A date cell as YYYY-MM-DD ('' when missing)."""
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def rows_text(rows: Iterable[int]) -> str:
    """`row 4`, `rows 4 and 9`, `rows 4, 9 and 12`."""
    rows = [str(int(r)) for r in rows]
    return ("rows " + ", ".join(rows[:-1]) + " and " + rows[-1]) if len(rows) > 1 else "row " + rows[0]


# ---------------------------------------------------------------- files and headers


def table_missing(name: str, columns: str) -> str:
    """A required table with no file."""
    return (f"the {name} table is missing; add data/{name}.csv (or .xlsx or .parquet) with the "
            f"columns {columns} (* = required)")


def table_given_twice(name: str, files: str) -> str:
    """Two files (e.g. .csv and .xlsx) for one table."""
    return f"table '{name}' is given twice ({files}); keep one file and delete or rename the other"


def not_utf8(reason: str | None = None) -> str:
    """A text file in another encoding."""
    why = f" ({reason})" if reason else ""
    return f"is not UTF-8 text{why}; save it as 'CSV UTF-8' or as .xlsx"


def unreadable(kind: str) -> str:
    """A file no reader can make sense of; never the library's own words."""
    return f"cannot be read; check that it is a valid {kind} file (save it again from Excel)"


def wrong_cell_count(line: int, cells: int, width: int) -> str:
    """A CSV line with more or fewer cells than the header."""
    return (f"line {line} has {cells} cells where the header has {width}; quote cells that "
            "hold the delimiter or a line break, or remove the extra cells")


def unclosed_quote(line: int) -> str:
    """A CSV quote that runs to the end of the file."""
    return (f"a quoted cell opened on line {line} is never closed; add the closing quote (\") "
            "or remove the opening one")


def no_header(fmt: str) -> str:
    """A file whose first row names no columns."""
    if fmt == "xlsx":
        return "has no header row; row 1 of the first sheet must name the columns"
    return "has no header row; the first line must name the columns"


def duplicate_header(name: str, first: int, second: int) -> str:
    """A header naming one column twice."""
    return (f"column '{name}' appears twice in the header (columns {first} and {second}); "
            "rename or delete one")


def headerless_values(position: str) -> str:
    """A column with values but no name in the header."""
    return f"column {position} has values but no header; name it in row 1 or delete the column"


def same_column(names: Iterable[str]) -> str:
    """Headers that differ only in case or spaces."""
    return f"columns {', '.join(repr(c) for c in names)} name the same column; keep one"


def reserved_column(name: str) -> str:
    """A header using the name of a derived exact-cents column."""
    return (f"column '{name}' has a name icm uses for exact cents; rename it (e.g. "
            f"'{name.removesuffix('_cents')}_in_cents')")


def missing_column(name: str, near: str | None, required: str) -> str:
    """A required column absent from the header, with did-you-mean."""
    if near:
        return f"missing required column '{name}' (did you mean '{near}'? rename that header to {name})"
    return f"missing required column '{name}'; add it to the header row (required: {required})"


def near_column(table: str, found: str, name: str) -> str:
    """An extra column whose name is close to an optional column's."""
    return (f"column '{found}' is not a {table} column (did you mean '{name}'?); it is kept as "
            "an extra column, rename it to use it")


def unsupported_type(name: str, kind) -> str:
    """A Parquet column of a type that is not text, number or date."""
    return f"column '{name}' has type {kind}; store it as text, numbers or dates"


# ---------------------------------------------------------------- rows and tables together


def end_before_start(end: str, start: str) -> str:
    """A reps row ending before it starts."""
    return f"end_date {end} is before start_date {start}; correct one of them"


def reps_overlap(first: int, second: int, first_span: str, second_span: str) -> str:
    """Two reps rows of one rep whose date ranges overlap."""
    return (f"rows {first} and {second} of reps overlap ({first_span} and {second_span}); end "
            "the earlier row the day before the later one starts")


def stray_manager(manager: str, rep: str) -> str:
    """A manager_id that is no rep."""
    return (f"manager_id '{manager}' is not a rep_id in reps; team credit stops at {rep}: add "
            "the manager to reps or correct manager_id")


def unknown_rep(rep: str) -> str:
    """A rep_id missing from reps."""
    return f"rep_id '{rep}' is not in reps; add the rep to reps or correct the rep_id"


def unknown_account_owner(rep: str) -> str:
    """An account owner missing from reps (the account stays, unowned)."""
    return (f"rep_id '{rep}' is not in reps; the account is treated as unowned: add the rep to "
            "reps or correct the rep_id")


def duplicate_key(what: str, rows: str, table: str) -> str:
    """A key that must be unique, repeated on several rows."""
    return f"{what} is given in {rows} of {table}; keep one"


def duplicate_txn(txn: str, rows: str) -> str:
    """A txn_id used by several transactions."""
    return f"txn_id '{txn}' is used by {rows} of transactions; give each transaction its own txn_id"


def credits_wait(txn: str) -> str:
    """Credits of a transaction that was left out."""
    return (f"transaction '{txn}' was left out (see its problem in transactions); its credits "
            "wait until it is fixed")


def credits_of_unknown_txn(txn: str) -> str:
    """Credits naming a txn_id that is not in transactions."""
    return f"txn_id '{txn}' is not in transactions; correct the txn_id or add the transaction"


def shares_not_one(txn: str, total: str, where: str) -> str:
    """Non-overlay shares of a transaction not summing to 1."""
    return (f"shares of txn_id '{txn}' that are not overlay sum to {total} ({where}); make them "
            "add up to exactly 1")


def broken_split(txn: str) -> str:
    """A transaction some of whose credits rows were left out."""
    return f"credits rows of txn_id '{txn}' have problems (see credits); fix them so the split is complete"


def txn_waits_for_credits(txn: str, reason: str) -> str:
    """A transaction left out because its credits are wrong."""
    return f"transaction '{txn}' is left out until its credits are fixed: {reason}"


def credited_to_nobody(txn: str) -> str:
    """A transaction with no owner, no credits rows and nothing it reverses."""
    return (f"transaction '{txn}' has no rep_id and no credits rows, so nobody would be credited; "
            "fill in rep_id (a merged cell in Excel leaves all but its first row blank) or add "
            "credits rows for it")


def dangling_reverse(original: str, left_out: bool) -> str:
    """A cancellation whose original is missing or was left out."""
    why = "was left out (see its problem)" if left_out else "is not a txn_id in transactions"
    return f"reverses '{original}', which {why}; correct reverses or fix the original transaction"
