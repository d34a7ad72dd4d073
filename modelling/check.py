"""One draw written as a workspace, so `icm run` can price it and pin the model.

Each rep's drawn credit per component and sub-period becomes one transaction on the
sub-period's first day (its attributes chosen to match that component's `where` and
no other component or multiplier); each SPIF count becomes that many 1.00 transactions
matching the SPIF, inside its window, with the rest of their sub-period's credit on the
remainder transaction. Quotas are written per component's period, as the population has
them. A December run of a fresh ledger then holds the year's earned-to-date per line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from compensation.errors import IcmError
from compensation.measure import where_mask
from compensation.money import product_cents
from compensation.periods import Calendar, month_first_day
from compensation.plan import Plan
from modelling.population import Population, period_names
from modelling.pricing import related_component, sub_periods

KINDS = {1: "year", 4: "quarter", 12: "month"}
FILLER = "modelled"


def write_draw(root: Path, plan: Plan, pop: Population, credited: dict[str, np.ndarray],
               spif_counts: dict[str, np.ndarray], calendar: Calendar) -> None:
    """Write a workspace at `root` whose run of the year's last month pays this draw.

    `credited`: per component, (reps, K) integer cents per sub-period; `spif_counts`:
    per SPIF, (reps,) whole counts.
    """
    root = Path(root)
    (root / "plans").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "icm.yaml").write_text(f"base_currency: {plan.currency}\nfiscal_year_start: {calendar.fiscal_year_start}\n"
                                   "ledger: sqlite:///icm.db\n", encoding="utf-8")
    data = plan.model_dump(mode="json", by_alias=True, exclude_none=True)
    (root / "plans" / f"{plan.id}.yaml").write_text(json.dumps(data, indent=1), encoding="utf-8")
    first = month_first_day(calendar.fiscal_year_first_month(pop.year))
    pd.DataFrame({"rep_id": pop.rep_ids, "name": pop.rep_ids, "plan": plan.id, "start_date": first.isoformat(),
                  "end_date": "", "target_incentive": [f"{t:.2f}" for t in pop.target]}).to_csv(
        root / "data" / "reps.csv", index=False)
    quota_rows = []
    for comp in plan.components:
        names = period_names(calendar, pop.year, comp.attainment_period)
        values = pop.quota(comp.quota_key, comp.attainment_period)
        for r, rep in enumerate(pop.rep_ids):
            quota_rows += [(rep, comp.quota_key, name, f"{values[r, k] / 100:.2f}") for k, name in enumerate(names)
                           if values[r, k] == values[r, k]]
    pd.DataFrame(quota_rows, columns=["rep_id", "component", "period", "amount"]).drop_duplicates(
        ["rep_id", "component", "period"]).to_csv(root / "data" / "quotas.csv", index=False)
    txns = _transactions(plan, pop, credited, spif_counts, calendar)
    txns.to_csv(root / "data" / "transactions.csv", index=False)


def _transactions(plan: Plan, pop: Population, credited, spif_counts, calendar: Calendar) -> pd.DataFrame:
    rows = []
    columns = sorted({k for c in plan.components for k in c.measure.where}
                     | {k for s in plan.spifs for k in s.where} | {"type", "product"})
    for comp_id, k in sub_periods(plan).items():
        comp = plan.component(comp_id)
        names = period_names(calendar, pop.year, KINDS[k])
        attrs = {c: FILLER for c in columns} | {key: values[0] for key, values in comp.measure.where.items()}
        unit = _credit_of(plan, comp_id, attrs)
        if unit != 100:
            raise IcmError(f"component '{comp_id}': a transaction it counts is also counted by another component "
                           "or scaled by a multiplier, so a draw cannot be written as transactions")
        remainder = np.asarray(credited[comp_id], dtype=np.int64).copy()
        for spif in plan.spifs:
            if related_component(plan, spif.where).id != comp_id:
                continue
            spif_attrs = {c: FILLER for c in columns} | {key: values[0] for key, values in spif.where.items()}
            day = pd.Timestamp(spif.from_ or month_first_day(calendar.fiscal_year_first_month(pop.year)))
            at = int(np.searchsorted([pd.Timestamp(calendar.day_bounds(n)[1]) for n in names], day))
            each = _credit_of(plan, comp_id, spif_attrs)
            for r, count in enumerate(np.asarray(spif_counts[spif.id], dtype=np.int64)):
                rows += [(pop.rep_ids[r], day, 1.0, spif_attrs)] * int(count)
                remainder[r, at] -= int(count) * each
        for r, rep in enumerate(pop.rep_ids):
            for j, name in enumerate(names):
                if remainder[r, j]:
                    day = pd.Timestamp(calendar.day_bounds(name)[0])
                    rows.append((rep, day, remainder[r, j] / 100, attrs))
    frame = pd.DataFrame({
        "txn_id": [f"M{i + 1:07d}" for i in range(len(rows))],
        "date": [r[1].date().isoformat() for r in rows],
        "amount": [f"{r[2]:.2f}" for r in rows],
        "currency": plan.currency,
        "rep_id": [r[0] for r in rows],
        "account_id": "ACC-MODEL",
    })
    for column in columns:
        frame[column] = [r[3][column] for r in rows]
    return frame


def _credit_of(plan: Plan, comp_id: str, attrs: dict) -> int:
    """Cents a 1.00 transaction with `attrs` credits to `comp_id`; -1 when another component counts it too."""
    row = pd.DataFrame({k: [v] for k, v in attrs.items()})
    for comp in plan.components:
        if comp.id != comp_id and comp.measure.credit == "direct" and where_mask(row, comp.measure.where)[0]:
            return -1
    comp = plan.component(comp_id)
    factor = next((float(m.factor) for m in comp.measure.multipliers if where_mask(row, m.where)[0]), 1.0)
    return int(product_cents([1.0], [factor])[0])
