"""`out/model/STEM/`: the comparison as a workbook (`model.xlsx`) and a chart (`model.png`).

Written through `compensation.outputs.atomic_folder`: a reader sees the previous folder
or the new one. Text cells are always text, never formulas (candidate names come from
a file anyone may edit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from compensation.outputs import atomic_folder
from modelling.model import ModelResult
from modelling.montecarlo import CURVE_X


def write_model(result: ModelResult, out_root: Path) -> Path:
    """Write model.xlsx and model.png into out/model/STEM/; returns the folder."""
    target = Path(out_root) / "model" / result.scenario.stem
    with atomic_folder(target) as staging:
        workbook(result, staging / "model.xlsx")
        chart(result, staging / "model.png")
    return target


def per_role(result: ModelResult) -> pd.DataFrame:
    """Expected cost per candidate and line, in total and per rep (currency units)."""
    rows = []
    for c in result.candidates:
        for line, cents in c.line_cost.items():
            rows.append({"role": c.role, "candidate": c.name, "line": line, "expected_cost": cents / 100,
                         "per_rep": cents / 100 / max(c.reps, 1), "reps": c.reps})
        rows.append({"role": c.role, "candidate": c.name, "line": "total", "expected_cost": c.expected / 100,
                     "per_rep": c.expected / 100 / max(c.reps, 1), "reps": c.reps})
    return pd.DataFrame(rows)


def deciles(result: ModelResult) -> pd.DataFrame:
    """Per candidate and decile of rep-years: the decile's upper pay and attainment, and its mean pay."""
    rows = []
    for c in result.candidates:
        pay = c.sample_pay.ravel() / 100
        att = c.sample_attainment.ravel()
        order = np.argsort(pay, kind="stable")
        for d, part in enumerate(np.array_split(order, 10), start=1):
            if not len(part):
                continue
            rows.append({"candidate": c.name, "decile": d, "pay_up_to": float(pay[part].max()),
                         "mean_pay": float(pay[part].mean()), "mean_attainment": float(np.nanmean(att[part])),
                         "share_of_cost": float(pay[part].sum() / pay.sum()) if pay.sum() else np.nan})
    return pd.DataFrame(rows)


def workbook(result: ModelResult, path: Path) -> None:
    """Summary, Per role, Deciles and Assumptions sheets."""
    from openpyxl import Workbook

    wb = Workbook()
    sheets = (("Summary", result.summary()), ("Per role", per_role(result)), ("Deciles", deciles(result)),
              ("Assumptions", assumption_rows(result)))
    for i, (title, frame) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = title
        _sheet(ws, frame)
    wb.save(path)


def assumption_rows(result: ModelResult) -> pd.DataFrame:
    """The scenario's settings and each candidate's notes (fitted spreads, reps left out)."""
    spec = result.scenario.spec
    rows = [("scenario", result.scenario.source), ("year", str(result.year)), ("draws", str(spec.draws)),
            ("seed", str(spec.seed))]
    for c in result.candidates:
        rows += [(f"{c.name}: note", note) for note in c.notes]
    return pd.DataFrame(rows, columns=["item", "value"])


def _sheet(ws, frame: pd.DataFrame) -> None:
    """Header and rows; text is always text, never a formula."""
    from openpyxl.cell.cell import Cell

    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        values = []
        for v in row:
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and v != v:
                v = None
            if isinstance(v, str):
                cell = Cell(ws, value=v)
                cell.data_type = "s"
                v = cell
            values.append(v)
        ws.append(values)
    for i, name in enumerate(frame.columns, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(12, len(str(name)) + 2)


def chart(result: ModelResult, path: Path) -> None:
    """The chart: payout curves over the attainment drawn, and the cost distributions.

    Left: each candidate's pay per rep against attainment over the attainment histogram.
    Right: the candidates' yearly cost distributions overlaid.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    hist = left.twinx()
    first = result.candidates[0]
    att = first.sample_attainment.ravel()
    hist.hist(np.clip(att[np.isfinite(att)], 0, 2) * 100, bins=40, color="0.85", zorder=0)
    hist.set_ylabel(f"rep-years ({first.plan.components[0].id} attainment)")
    left.set_zorder(hist.get_zorder() + 1)
    left.patch.set_visible(False)
    for c in result.candidates:
        left.plot(CURVE_X * 100, c.curve / 100, label=c.name)
        right.hist(c.cost / 100, bins=50, alpha=0.45, label=c.name)
    left.set_xlabel("attainment of every component (%)")
    left.set_ylabel("pay per rep per year")
    left.set_title("Payout curve over the attainment drawn")
    left.legend(loc="upper left")
    right.set_xlabel("total cost per year")
    right.set_ylabel("draws")
    right.set_title(f"Cost distribution ({first.draws} draws)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
