"""`payouts.xlsx`: the finance workbook (Register, Summary, Exceptions, Inputs).

Amounts are numbers with a money format, never text. No value from the data can become
a formula: data cells are written as typed SpreadsheetML (`inlineStr` text, numeric
`<v>`), so a name such as `=HYPERLINK(...)` stays a string; characters XML cannot carry
are dropped.

openpyxl (write-only mode) writes each sheet's frame: header, widths, styles, frozen
pane, filters. The data rows are built column-wise as Arrow string arrays (`pyarrow.compute`
kernels, one array of row XML per block) and spliced into the saved package, because
openpyxl's per-cell objects cost ~20 us each and 10,000 reps (~300,000 cells) must add
only a fraction of a second to a run.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from compensation.results import EXCEPTION_COLUMNS, REGISTER_COLUMNS, RunResult
from reports.liability import LIABILITY_COLUMNS, liability_frame
from reports.register import MONEY_COLUMNS, joined_text, money_array, plain_array, utf8_buffers

MONEY_FORMAT = "#,##0.00;-#,##0.00"
PERCENT_FORMAT = "0.0%"
EARNING_KINDS = ("component", "bonus", "spif")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F3A5F")
# What XML 1.0 cannot carry (openpyxl's ILLEGAL_CHARACTERS_RE), as an RE2 class for Arrow.
_ILLEGAL_XML = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"
# The bytes _escaped_text leaves alone (all but _ILLEGAL_XML's and & < >): deleting them leaves what it changes.
_XML_PLAIN_BYTES = bytes(b for b in range(256) if (b >= 0x20 or b in b"\t\n\r") and b not in b"&<>")


class _Sheet:
    """A sheet with typed columns (text, money in cents, percent, int) and a styled header."""

    def __init__(self, wb: Workbook, title: str, columns: list[tuple[str, str, float]],
                 *, freeze: bool = True):
        self.ws = wb.create_sheet(title)
        if freeze:
            self.ws.freeze_panes = "A2"  # write-only: must be set before the first row
        self.title = title
        self.kinds = [kind for _, kind, _ in columns]
        for i, (_, _, width) in enumerate(columns, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = width
        self.width = len(columns)
        self.rows = 1
        self.xml: list[memoryview] = []
        self.style_ids = {}
        for kind, fmt in (("money", MONEY_FORMAT), ("percent", PERCENT_FORMAT)):
            cell = WriteOnlyCell(self.ws, value=0)
            cell.number_format = fmt
            self.style_ids[kind] = cell.style_id  # registers the format in the stylesheet
        cells = []
        for name, _, _ in columns:
            cell = WriteOnlyCell(self.ws, value=name)
            cell.data_type = "s"
            cell.font = _HEADER_FONT
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(vertical="center")
            cells.append(cell)
        self.ws.append(cells)

    def append_columns(self, columns: list, kinds: list[str] | None = None) -> None:
        """Append rows given column-wise (money: int cents, <NA> blank) as one block of row XML."""
        count = len(columns[0]) if columns else 0
        if not count:
            return
        numbers = pc.cast(pa.array(np.arange(self.rows + 1, self.rows + 1 + count)), pa.string())
        pieces: list = ['<row r="', numbers, '">']
        for i, (kind, values) in enumerate(zip(kinds or self.kinds, columns, strict=False), start=1):
            pieces += _cells_xml(kind, values, get_column_letter(i), numbers, self.style_ids)
        pieces.append("</row>")
        merged = [pieces[0]]  # adjacent constant pieces as one: each piece costs a pass per row
        for piece in pieces[1:]:
            if isinstance(piece, str) and isinstance(merged[-1], str):
                merged[-1] += piece
            else:
                merged.append(piece)
        rows = pc.binary_join_element_wise(*merged, "", null_handling="replace")
        self.xml.append(joined_text(rows))  # a null cell is a blank: no <c> at all
        self.rows += count

    def finish(self, *, autofilter: bool = True) -> None:
        if autofilter and self.width:
            self.ws.auto_filter.ref = f"A1:{get_column_letter(self.width)}{self.rows}"


def _numbers(values) -> np.ndarray:
    """Float64 of a column (NaN where not a number)."""
    array = np.asarray(values)
    if array.dtype.kind in "fiu":
        return array.astype("float64")
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype("float64").to_numpy()


def _number_text(kind: str, values) -> pa.Array:
    """Money `-2000.00`, percent as Python's `repr` of the float (`1.0`), int as `12`; null for blanks."""
    if kind == "money":
        return money_array(values)
    floats = _numbers(values)
    blank = ~np.isfinite(floats)
    if kind == "int":
        return pc.cast(pa.array(np.where(blank, 0, np.round(floats)).astype("int64"), mask=blank), pa.string())
    return _float_text(floats, blank)


def _float_text(floats: np.ndarray, blank: np.ndarray) -> pa.Array:
    """Python's `repr` of each float (`1.0`, `0.1234565`, `1e-05`: Excel reads it back exactly), null if blank.

    Arrow's float text has repr's digits and layout for magnitudes in [1e-4, 1e9) but drops the
    `.0` of whole numbers (`1`); other magnitudes (zero, tiny, huge: rare) are repr'd one by one.
    """
    magnitude = np.abs(floats)
    arrow_ok = (magnitude >= 1e-4) & (magnitude < 1e9)
    text = pc.cast(pa.array(floats, mask=blank), pa.string())
    with np.errstate(invalid="ignore"):  # a signalling NaN only warns; it is blank anyway
        whole = pa.array(arrow_ok & (floats == np.trunc(floats)))
    text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    others = ~arrow_ok & ~blank
    if others.any():
        text = pc.replace_with_mask(text, pa.array(others), pa.array(list(map(repr, floats[others].tolist()))))
    return text


def _escaped_text(values) -> pa.Array:
    """Text for XML, null where missing: characters XML cannot carry dropped, `&`, `<`, `>` escaped.

    Most columns have none of these bytes (a byte scan; UTF-8 keeps ASCII bytes to ASCII): no kernel runs.
    """
    text = plain_array(values)
    offsets, data = utf8_buffers(text)
    if not data[offsets[0]:offsets[-1]].tobytes().translate(None, _XML_PLAIN_BYTES):
        return text
    text = pc.replace_substring_regex(text, _ILLEGAL_XML, "")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = pc.replace_substring(text, char, entity)
    return text


def _cells_xml(kind: str, values, column: str, numbers: pa.Array, style_ids) -> list:
    """One column's cells as pieces of the row's SpreadsheetML, built by Arrow kernels.

    A column with blanks (missing or empty) comes as one array of cells, null where blank, so the
    row drops the whole cell; a column without blanks comes as its pieces, joined into the row at once.
    """
    if kind in ("money", "percent", "int"):
        style = f' s="{style_ids[kind]}"' if kind in style_ids else ""
        text = _number_text(kind, values)
        pieces = [f'<c r="{column}', numbers, f'"{style}><v>', text, "</v></c>"]
    else:
        text = _escaped_text(values)
        empty = pc.equal(text, "")
        if pc.any(empty).as_py():
            text = pc.if_else(empty, pa.scalar(None, pa.string()), text)
        pieces = [f'<c r="{column}', numbers, '" t="inlineStr"><is><t xml:space="preserve">', text, "</t></is></c>"]
    return [pc.binary_join_element_wise(*pieces, "")] if text.null_count else pieces


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> part name inside the package."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target") for rel in rels}
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    out = {}
    for sheet in book.find("m:sheets", ns):
        target = targets[sheet.get(f"{{{ns['r']}}}id")]
        out[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return out


def _splice_rows(package: bytes, path: Path, sheets: list[_Sheet]) -> None:
    """Write the package to `path` with each sheet's prepared rows after its header row.

    A sheet part is streamed into the zip (head, row blocks, tail): its ~10 MB of rows are never copied.
    """
    tmp = path.with_name(path.name + ".tmp")
    marker = b"</sheetData>"
    with (zipfile.ZipFile(io.BytesIO(package)) as src,
          zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst):
        parts = _sheet_parts(src)
        rows = {parts[s.title]: s.xml for s in sheets if s.xml}
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename not in rows:
                dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
                continue
            head, found, tail = data.partition(marker)
            if not found:
                raise RuntimeError(f"{info.filename}: no sheetData to extend")
            blocks = (head, *rows[info.filename], marker + tail)
            with dst.open(info.filename, "w", force_zip64=sum(map(len, blocks)) > zipfile.ZIP64_LIMIT) as part:
                for block in blocks:
                    part.write(block)
    tmp.replace(path)


def summary_frame(result: RunResult) -> tuple[pd.DataFrame, list[str]]:
    """Per paid rep: paid this month, year to date from the ledger, attainment per component.

    Earned, paid and balance year to date come from `RunResult.year_to_date`: every line
    and adjustment of the fiscal year, what closed months paid plus this run, and the
    balance after this run (positive: the rep owes).
    """
    register = result.register
    # Reps in the order of their first line (as drop_duplicates); a line without a rep is in no group (as groupby).
    codes, reps = pd.factorize(register["rep_id"], use_na_sentinel=False)
    _, first = np.unique(codes, return_index=True)
    has_rep = pd.notna(reps.to_numpy())
    grouped = has_rep[codes]
    out = {"rep_id": reps.to_numpy()} | {c: register[c].to_numpy()[first] for c in ("name", "plan_id", "currency")}
    paid = np.zeros(len(reps), dtype=np.int64)
    np.add.at(paid, codes[grouped], register["amount"].to_numpy(dtype=np.int64, na_value=0)[grouped])
    out["paid"] = pd.arrays.IntegerArray(paid, ~has_rep)
    sources = {"earned_ytd": "earned", "paid_ytd": "paid", "balance_owed": "balance"}
    ytd = result.year_to_date
    year = ytd.set_index("rep_id")[list(sources.values())].reindex(reps) if len(ytd) else None
    for column, source in sources.items():
        out[column] = np.full(len(reps), pd.NA) if year is None else year[source].to_numpy()
    # The first attainment that is not NaN per rep and component line (as groupby's "first").
    comp = grouped & (register["kind"] == "component").to_numpy() & register["line"].notna().to_numpy()
    line_codes, lines = pd.factorize(register["line"].to_numpy()[comp])
    lines = pd.Index(lines)
    attainment = register["attainment"].to_numpy(dtype="float64", na_value=np.nan)[comp]
    known = ~np.isnan(attainment)
    keys = codes[comp][known] * len(lines) + line_codes[known]
    keys, at = np.unique(keys, return_index=True)
    table = np.full((len(reps), len(lines)), np.nan)
    table.flat[keys] = attainment[known][at]
    components: list[str] = []
    for plan in result.plans.values():
        components += [c.id for c in plan.components if c.id not in components and c.id in lines]
    for component in components:
        out[component] = table[:, lines.get_loc(component)]
    return pd.DataFrame(out), components


def _totals_rows(sheet: _Sheet, frame: pd.DataFrame, money: dict[int, str]) -> None:
    """"Total" rows after a blank row, one per currency: computed here, never a formula.

    `money` maps a sheet column position to the frame column it sums (cents).
    """
    sheet.finish()
    sheet.rows += 1
    currencies = frame["currency"].fillna("").astype(str).to_numpy()
    cents = {i: pd.to_numeric(frame[c]).fillna(0).to_numpy() for i, c in money.items()}
    for currency in sorted(set(currencies)):
        mine = currencies == currency
        label = f"Total {currency}".strip()
        columns, kinds = [], []
        for i in range(sheet.width):
            if i == 0:
                columns.append(np.array([label], dtype=object))
                kinds.append("text")
            elif i in money:
                columns.append(np.array([int(cents[i][mine].sum())], dtype=object))
                kinds.append("money")
            else:
                columns.append(np.array([None], dtype=object))
                kinds.append("text")
        sheet.append_columns(columns, kinds)


def write_workbook(result: RunResult, path: Path, *, run_id: str | None = None) -> Path:
    """Write `payouts.xlsx` for the run to `path`."""
    wb = Workbook(write_only=True)
    register = result.register
    sheets = []

    widths = {"period": 9, "rep_id": 12, "name": 24, "line": 18, "currency": 9}
    sheet = _Sheet(wb, "Register", [
        (c, "money" if c in MONEY_COLUMNS else "percent" if c == "attainment" else "text",
         widths.get(c, 15)) for c in REGISTER_COLUMNS])
    sheet.append_columns([register[c].to_numpy() for c in REGISTER_COLUMNS])
    _totals_rows(sheet, register, {REGISTER_COLUMNS.index("amount"): "amount"})
    sheets.append(sheet)

    summary, components = summary_frame(result)
    sheet = _Sheet(wb, "Summary", [
        ("rep_id", "text", 12), ("name", "text", 24), ("plan", "text", 16),
        ("currency", "text", 9), ("paid", "money", 14), ("earned year to date", "money", 18),
        ("paid year to date", "money", 18), ("balance owed", "money", 14),
    ] + [(f"attainment {c}", "percent", max(14, len(c) + 12)) for c in components])
    money = ("paid", "earned_ytd", "paid_ytd", "balance_owed")
    sheet.append_columns(
        [summary[c].to_numpy() for c in ("rep_id", "name", "plan_id", "currency", *money)]
        + [summary[c].to_numpy() for c in components])
    _totals_rows(sheet, summary, {4 + i: c for i, c in enumerate(money)})
    sheets.append(sheet)

    exceptions = result.exceptions
    sheet = _Sheet(wb, "Exceptions", [
        (c, "int" if c == "row" else "text", 60 if c == "reason" else 13)
        for c in EXCEPTION_COLUMNS])
    sheet.append_columns([exceptions[c].to_numpy() if c in exceptions else
                          np.full(len(exceptions), None) for c in EXCEPTION_COLUMNS])
    sheet.finish()
    sheets.append(sheet)

    if len(result.timing) or any(c.payment.at_booking != 1 for p in result.plans.values() for c in p.components):
        sheets += _timing_sheets(wb, result)

    sheet = _Sheet(wb, "Inputs", [("name", "text", 24), ("path", "text", 36),
                                  ("rows", "int", 10), ("sha256", "text", 68)])
    inputs = list(result.inputs)
    sheet.append_columns([np.array([getattr(f, a) for f in inputs], dtype=object)
                          for a in ("name", "path", "rows", "sha256")])
    facts = [("period", result.period), ("input fingerprint", result.fingerprint)]
    if run_id:
        facts.append(("run id", str(run_id)))
    sheet.rows += 1  # a blank row between the files and the run's facts
    sheet.append_columns([np.array([f[0] for f in facts], dtype=object),
                          np.full(len(facts), None), np.full(len(facts), None),
                          np.array([f[1] for f in facts], dtype=object)],
                         ["text", "text", "text", "text"])
    sheet.finish(autofilter=False)
    sheets.append(sheet)

    path.parent.mkdir(parents=True, exist_ok=True)
    package = io.BytesIO()
    wb.save(package)
    _splice_rows(package.getvalue(), path, sheets)
    return path


def _timing_sheets(wb: Workbook, result: RunResult) -> list[_Sheet]:
    """Holdbacks (held balances by key) and Liability (per rep and in total), issue 17."""
    t = result.timing
    columns = ["rep_id", "line", "source", "ref", "attainment_period", "due", "balance_before", "held", "release",
               "forfeited", "balance_after"]
    holdbacks = _Sheet(wb, "Holdbacks", [(c, "money" if c in columns[6:] else "text", 14) for c in columns])
    holdbacks.append_columns([(-t[c] if c == "held" else t[c]).to_numpy() for c in columns])
    holdbacks.finish()
    frame = liability_frame(result)
    liability = _Sheet(wb, "Liability", [(c, "money" if i >= 4 else "text", 24 if c == "name" else 14)
                                         for i, c in enumerate(LIABILITY_COLUMNS)])
    liability.append_columns([frame[c].to_numpy() for c in LIABILITY_COLUMNS])
    liability.finish()
    return [holdbacks, liability]


def iter_formula_cells(path: Path) -> Iterator[str]:
    """Coordinates of formula cells in a workbook (for checks: ours has none)."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    yield f"{ws.title}!{cell.coordinate}"
