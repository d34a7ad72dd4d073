"""Files `icm align` and `icm quotas` write, each atomically (temp file, then rename).

`out/alignment/`: assignments.csv, territories.csv (SPEC section 7), alignment.xlsx,
map.png; with several scenarios one folder per scenario stem plus compare.csv.
`out/quotas/quotas.csv` is written by `write_quotas`.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from compensation.money import format_cents
from territories.align import AlignmentResult

COMPARE_COLUMNS = ("scenario", "status", "objective", "objective_value", "gap", "moved_pct",
                   "max_deviation_potential", "max_deviation_workload", "distance_km",
                   "solve_s")


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _csv_bytes(header, rows) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _fixed(values, decimals: int) -> list[str]:
    return ["" if v != v else f"{v:.{decimals}f}" for v in np.asarray(values, dtype=float)]


def assignments_csv(result: AlignmentResult) -> bytes:
    """account_id, rep_id, moved (`true`/`false`), one row per account."""
    a = result.assignments
    moved = np.where(a["moved"].to_numpy(dtype=bool), "true", "false")
    return _csv_bytes(("account_id", "rep_id", "moved"),
                      zip(a["account_id"], a["rep_id"], moved, strict=True))


def territories_csv(result: AlignmentResult) -> bytes:
    """rep_id, accounts, potential, workload, deviation (= potential / fair share - 1)."""
    t = result.territories
    return _csv_bytes(("rep_id", "accounts", "potential", "workload", "deviation"),
                      zip(t["rep_id"], t["accounts"].astype(int), _fixed(t["potential"], 2),
                          _fixed(t["workload"], 2), _fixed(t["deviation"], 6), strict=True))


def summary_rows(result: AlignmentResult) -> list[tuple[str, str]]:
    """The headline figures, as label and text."""
    rows = [("status", result.status), ("objective", result.objective_name),
            ("objective value", f"{result.objective:,.2f}" if result.objective_name != "balance"
             else f"{result.objective:.2%} largest deviation"),
            ("gap", f"{result.gap:.2%}" + (" (points)" if result.objective_name == "balance"
                                           else "")),
            ("solve time", f"{result.seconds:.1f} s"), ("solver", result.solver),
            ("blocks", str(result.blocks)),
            ("moved", f"{result.moved_share:.1%} of potential, "
                      f"{int(result.assignments['moved'].sum())} accounts")]
    if result.distance_km is not None:
        rows.append(("distance", f"{result.distance_km:,.0f} km (workload-weighted)"))
    rows += [("note", n) for n in result.notes]
    return rows


def _sheet(ws, header, rows) -> None:
    """Rows into a worksheet; text is always text (never a formula)."""
    ws.append(list(header))
    for row in rows:
        ws.append([None if (isinstance(v, float) and v != v) else v for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(12, len(str(name)) + 2)


def alignment_xlsx(result: AlignmentResult) -> bytes:
    """Summary, per-rep figures, moved accounts, and every account before and after."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    _sheet(ws, ("item", "value"), summary_rows(result))
    t = result.territories
    reps = wb.create_sheet("Reps")
    _sheet(reps, ("rep_id", "region", "accounts", "potential", "fair share", "deviation",
                  "potential before", "deviation before", "workload", "workload deviation"),
           zip(t["rep_id"], t["region"].fillna(""), t["accounts"].astype(int),
               t["potential"].round(2), t["fair_potential"].round(2), t["deviation"].round(6),
               t["potential_before"].round(2), t["deviation_before"].round(6),
               t["workload"].round(2), t["workload_deviation"].round(6), strict=True))
    a = result.assignments
    moved = a[a["moved"]]
    mv = wb.create_sheet("Moved accounts")
    _sheet(mv, ("account_id", "region", "potential", "workload", "from", "to"),
           zip(moved["account_id"], moved["region"].fillna(""), moved["potential"],
               moved["workload"], moved["previous_rep_id"].fillna(""), moved["rep_id"],
               strict=True))
    ba = wb.create_sheet("Before and after")
    _sheet(ba, ("account_id", "region", "potential", "workload", "rep before", "rep after",
                "moved"),
           zip(a["account_id"], a["region"].fillna(""), a["potential"], a["workload"],
               a["previous_rep_id"].fillna(""), a["rep_id"], a["moved"].astype(bool),
               strict=True))
    for sheet in wb.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def map_png(result: AlignmentResult) -> bytes | None:
    """Before and after side by side: accounts coloured by rep, sized by potential."""
    a = result.assignments
    if a[["lat", "lon"]].isna().any().any():
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    reps = sorted(set(a["rep_id"]) | set(a["previous_rep_id"].dropna()))
    palette = matplotlib.colormaps["tab20"]
    colour = {r: palette(i % 20) for i, r in enumerate(reps)}
    pot = a["potential"].to_numpy(dtype=float)
    size = 6 + 80 * (pot / pot.max() if pot.max() > 0 else np.zeros_like(pot))
    fig = Figure(figsize=(13, 6), dpi=100)
    for k, (col, title) in enumerate((("previous_rep_id", "Before"), ("rep_id", "After"))):
        ax = fig.add_subplot(1, 2, k + 1)
        owner = a[col]
        colours = [colour.get(r, (0.7, 0.7, 0.7, 1.0)) if isinstance(r, str) else
                   (0.7, 0.7, 0.7, 1.0) for r in owner]
        ax.scatter(a["lon"], a["lat"], s=size, c=colours, alpha=0.75, linewidths=0)
        if k == 1 and a["moved"].any():
            m = a[a["moved"]]
            ax.scatter(m["lon"], m["lat"], s=size[a["moved"].to_numpy()], facecolors="none",
                       edgecolors="black", linewidths=0.6, label="moved")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_title(title if k == 0 else f"After ({result.moved_share:.1%} of potential moved)")
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
    fig.suptitle(f"Alignment: {result.objective_name}, accounts coloured by rep, sized by "
                 "potential")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def write_alignment(result: AlignmentResult, target: Path) -> list[Path]:
    """Every alignment file of one scenario into `target`; returns the paths written."""
    files = {"assignments.csv": assignments_csv(result),
             "territories.csv": territories_csv(result),
             "alignment.xlsx": alignment_xlsx(result),
             "map.png": map_png(result)}
    written = []
    for name, data in files.items():
        if data is None:
            continue
        atomic_write(target / name, data)
        written.append(target / name)
    return written


def compare_frame(results: dict[str, AlignmentResult]) -> pd.DataFrame:
    """One row per scenario: moved %, largest deviation per metric, distance, solve time."""
    rows = []
    for stem, r in results.items():
        t = r.territories
        rows.append({
            "scenario": stem, "status": r.status, "objective": r.objective_name,
            "objective_value": r.objective, "gap": r.gap, "moved_pct": r.moved_share * 100,
            "max_deviation_potential": float(t["deviation"].abs().max()),
            "max_deviation_workload": float(t["workload_deviation"].abs().max()),
            "distance_km": r.distance_km if r.distance_km is not None else np.nan,
            "solve_s": r.seconds,
        })
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def compare_csv(frame: pd.DataFrame) -> bytes:
    """compare.csv: `compare_frame` with fixed decimals."""
    rows = zip(frame["scenario"], frame["status"], frame["objective"],
               _fixed(frame["objective_value"], 6), _fixed(frame["gap"], 6),
               _fixed(frame["moved_pct"], 2), _fixed(frame["max_deviation_potential"], 6),
               _fixed(frame["max_deviation_workload"], 6), _fixed(frame["distance_km"], 1),
               _fixed(frame["solve_s"], 2), strict=True)
    return _csv_bytes(COMPARE_COLUMNS, rows)


def quotas_csv(quotas: pd.DataFrame) -> bytes:
    """rep_id, component, period, amount (cents as `1234.50`); zero rows left out."""
    q = quotas[quotas["amount_cents"] != 0]
    return _csv_bytes(("rep_id", "component", "period", "amount"),
                      zip(q["rep_id"], q["component"], q["period"],
                          [format_cents(c) for c in q["amount_cents"]], strict=True))
