"""Files `icm align` and `icm quotas` write; folders go through the core's `atomic_folder`.

`out/alignment/`: assignments.csv, territories.csv (SPEC section 7 columns first),
alignment.xlsx, map.png, map.html; with several scenarios one folder per scenario stem
plus compare.csv; with `--frontier`, frontier.csv and frontier.png. Files are plain
`open()` writes inside the staging folder, so they follow the umask.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from compensation.money import format_cents
from territories.align import AlignmentResult
from territories.maps import map_html, map_png

COMPARE_COLUMNS = ("scenario", "status", "objective", "objective_value", "bound", "bound_kind",
                   "gap", "moved_share", "max_deviation_potential", "max_deviation_workload",
                   "mean_km", "p95_km", "first_plan_s", "solve_s")


def csv_bytes(header, rows) -> bytes:
    """CSV text of a header and rows, as UTF-8 bytes."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _fixed(values, decimals: int) -> list[str]:
    return ["" if v != v else f"{v:.{decimals}f}" for v in np.asarray(values, dtype=float)]


def _text(values) -> list[str]:
    return ["" if v is None or v != v else str(v) for v in values]


def assignments_csv(result: AlignmentResult) -> bytes:
    """account_id, rep_id, moved (SPEC), then name, previous_rep_id and km to the rep's home."""
    a = result.assignments
    moved = np.where(a["moved"].to_numpy(dtype=bool), "true", "false")
    return csv_bytes(("account_id", "rep_id", "moved", "name", "previous_rep_id", "km"),
                     zip(a["account_id"], a["rep_id"], moved, _text(a["name"]),
                         _text(a["previous_rep_id"]), _fixed(a["km"], 1), strict=True))


def territories_csv(result: AlignmentResult) -> bytes:
    """rep_id, accounts, potential, workload, deviation (SPEC), then mean km from home."""
    t = result.territories
    return csv_bytes(("rep_id", "accounts", "potential", "workload", "deviation", "mean_km"),
                     zip(t["rep_id"], t["accounts"].astype(int), _fixed(t["potential"], 2),
                         _fixed(t["workload"], 2), _fixed(t["deviation"], 6),
                         _fixed(t["mean_km"], 1), strict=True))


def summary_rows(result: AlignmentResult) -> list[tuple[str, object, str]]:
    """Headline figures as (label, value, unit); values stay numbers for the workbook."""
    balance = result.objective_name == "balance"
    rows: list[tuple[str, object, str]] = [
        ("status", result.status, ""), ("objective", result.objective_name, ""),
        ("objective value", result.objective, "largest deviation" if balance else
         {"disruption": "potential moved", "distance": "workload x km"}.get(
             result.objective_name, "weighted")),
        ("bound", result.bound, result.bound_kind),
        ("gap", result.gap, "points of deviation" if balance else "fraction of the objective"),
        ("time to first plan", result.first_seconds, "s"),
        ("solve time", result.seconds, "s"), ("solver", result.solver, ""),
        ("blocks", result.blocks, ""),
        ("pairs in the model", result.pairs, f"of {result.full_pairs} allowed"),
        ("moved", result.moved_share, "share of potential"),
        ("moved accounts", int(result.assignments["moved"].sum()), "accounts")]
    if result.mean_km is not None:
        rows += [("mean km to rep home", result.mean_km, "km"),
                 ("95th percentile km to rep home", result.p95_km, "km")]
    rows += [("note", n, "") for n in result.notes]
    return rows


def summary_text(result: AlignmentResult) -> list[tuple[str, str]]:
    """The headline figures as text, for the terminal."""
    out = []
    for label, value, unit in summary_rows(result):
        if label in ("gap", "moved") and isinstance(value, float):
            text = (f"{value * 100:.2f} points" if unit.startswith("points")
                    else f"{value:.2%}" + (" of potential" if label == "moved" else ""))
        elif label == "objective value" and unit == "largest deviation":
            text = f"{value:.2%} largest deviation"
        elif isinstance(value, float):
            text = f"{value:,.1f} {unit}".strip() if unit in ("s", "km") else f"{value:,.2f}"
            text += f" ({unit})" if unit not in ("s", "km", "") else ""
        elif value is None:
            text = "-"
        else:
            text = f"{value} {unit}".strip() if label != "note" else str(value)
        out.append((label, text))
    return out


def settings_rows(result: AlignmentResult) -> list[tuple[str, object, str]]:
    """The scenario's settings, flattened (`balance.potential`, `solver.time_limit`, ...)."""
    if result.scenario is None:
        return []
    rows = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif value is not None:
            rows.append((prefix, value if isinstance(value, int | float) else str(value), ""))
    walk("", result.scenario.model_dump())
    return rows


def _sheet(ws, header, rows) -> None:
    """Rows appended in order (linear time); text is always text, never a formula."""
    from openpyxl.cell.cell import Cell

    ws.append(list(header))
    for row in rows:
        values = []
        for v in row:
            if isinstance(v, float) and v != v:
                v = None
            elif isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, str) and v.startswith("="):
                cell = Cell(ws, value=v)
                cell.data_type = "s"
                v = cell
            values.append(v)
        ws.append(values)
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(12, len(str(name)) + 2)


def alignment_xlsx(result: AlignmentResult) -> bytes:
    """Summary and settings, per-rep figures, moved accounts, every account before and after."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    _sheet(ws, ("item", "value", "unit"),
           summary_rows(result) + [("", None, "")] + [("scenario " + k, v, u)
                                                      for k, v, u in settings_rows(result)])
    for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        for cell in row:
            label = ws.cell(cell.row, 1).value or ""
            if label in ("gap", "moved") or label.startswith("scenario balance"):
                cell.number_format = "0.00%"
            elif isinstance(cell.value, float):
                cell.number_format = "#,##0.00"
    t = result.territories
    reps = wb.create_sheet("Reps")
    _sheet(reps, ("rep_id", "region", "accounts", "potential", "fair share", "deviation",
                  "potential before", "deviation before", "workload", "workload deviation",
                  "mean km"),
           zip(t["rep_id"], t["region"].fillna(""), t["accounts"].astype(int),
               t["potential"].round(2), t["fair_potential"].round(2), t["deviation"].round(6),
               t["potential_before"].round(2), t["deviation_before"].round(6),
               t["workload"].round(2), t["workload_deviation"].round(6), t["mean_km"].round(1),
               strict=True))
    a = result.assignments
    names = a["name"].fillna("")
    moved = a["moved"].to_numpy(dtype=bool)
    mv = wb.create_sheet("Moved accounts")
    _sheet(mv, ("account_id", "name", "region", "potential", "workload", "from", "to", "km"),
           zip(a["account_id"][moved], names[moved], a["region"].fillna("")[moved],
               a["potential"][moved], a["workload"][moved],
               a["previous_rep_id"].fillna("")[moved], a["rep_id"][moved],
               a["km"][moved].round(1), strict=True))
    ba = wb.create_sheet("Before and after")
    _sheet(ba, ("account_id", "name", "region", "potential", "workload", "rep before",
                "rep after", "moved", "km"),
           zip(a["account_id"], names, a["region"].fillna(""), a["potential"], a["workload"],
               a["previous_rep_id"].fillna(""), a["rep_id"], a["moved"].astype(bool),
               a["km"].round(1), strict=True))
    for sheet in wb.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_alignment(result: AlignmentResult, folder: Path) -> list[Path]:
    """Every alignment file of one scenario into `folder` (a staging folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"assignments.csv": assignments_csv(result),
             "territories.csv": territories_csv(result),
             "alignment.xlsx": alignment_xlsx(result),
             "map.png": map_png(result),
             "map.html": map_html(result)}
    written = []
    for name, data in files.items():
        if data is None:
            continue
        (folder / name).write_bytes(data)
        written.append(folder / name)
    return written


def compare_frame(results: dict[str, AlignmentResult]) -> pd.DataFrame:
    """One row per scenario; shares and gaps are fractions, distances km, times seconds."""
    rows = []
    for stem, r in results.items():
        t = r.territories
        rows.append({
            "scenario": stem, "status": r.status, "objective": r.objective_name,
            "objective_value": r.objective, "bound": r.bound, "bound_kind": r.bound_kind,
            "gap": r.gap, "moved_share": r.moved_share,
            "max_deviation_potential": float(t["deviation"].abs().max()),
            "max_deviation_workload": float(t["workload_deviation"].abs().max()),
            "mean_km": r.mean_km if r.mean_km is not None else np.nan,
            "p95_km": r.p95_km if r.p95_km is not None else np.nan,
            "first_plan_s": r.first_seconds if r.first_seconds is not None else np.nan,
            "solve_s": r.seconds,
        })
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def compare_csv(frame: pd.DataFrame) -> bytes:
    """compare.csv: `compare_frame` with fixed decimals (fractions to 6 places)."""
    rows = zip(frame["scenario"], frame["status"], frame["objective"],
               _fixed(frame["objective_value"], 6), _fixed(frame["bound"], 6),
               frame["bound_kind"], _fixed(frame["gap"], 6), _fixed(frame["moved_share"], 6),
               _fixed(frame["max_deviation_potential"], 6),
               _fixed(frame["max_deviation_workload"], 6), _fixed(frame["mean_km"], 1),
               _fixed(frame["p95_km"], 1), _fixed(frame["first_plan_s"], 2),
               _fixed(frame["solve_s"], 2), strict=True)
    return csv_bytes(COMPARE_COLUMNS, rows)


def quotas_csv(quotas: pd.DataFrame) -> bytes:
    """rep_id, component, period, amount (cents as `1234.50`); zero rows left out."""
    q = quotas[quotas["amount_cents"] != 0]
    return csv_bytes(("rep_id", "component", "period", "amount"),
                     zip(q["rep_id"], q["component"], q["period"],
                         [format_cents(c) for c in q["amount_cents"]], strict=True))
