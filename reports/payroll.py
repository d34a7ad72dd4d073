"""`payroll.csv`: what payroll pays, one row per rep paid more than 0 this period.

The amount is the sum of the rep's register lines, so payroll reconciles to the register
to the cent. The file is opened in spreadsheets, so a text cell that a spreadsheet would
read as a formula gets a leading `'` (`reports.register.defused_array`, as in every CSV).
"""

from __future__ import annotations

import pandas as pd

from reports.register import csv_bytes, defused_array, money_array

PAYROLL_COLUMNS = ("rep_id", "name", "email", "period", "currency", "amount")


def payroll_frame(register: pd.DataFrame, reps: pd.DataFrame, period: str) -> pd.DataFrame:
    """Per rep: the register total (cents), with name and email; only totals above 0."""
    if register.empty:
        totals = pd.DataFrame({"rep_id": pd.Series(dtype=object),
                               "currency": pd.Series(dtype=object),
                               "amount": pd.Series(dtype="int64")})
    else:
        by_rep = register.groupby("rep_id", sort=False)  # two plain reductions: half the time of .agg(...)
        totals = pd.DataFrame({"currency": by_rep["currency"].first(), "amount": by_rep["amount"].sum()}).reset_index()
    totals = totals[totals["amount"].astype("int64") > 0]
    people = reps.drop_duplicates("rep_id")[["rep_id", "name", "email"]]
    out = totals.merge(people, on="rep_id", how="left", sort=False)
    if "name" in register:
        first_names = register.drop_duplicates("rep_id").set_index("rep_id")["name"]
        out["name"] = out["name"].fillna(out["rep_id"].map(first_names))
    out["period"] = period
    out["amount"] = out["amount"].astype("int64")
    return out[list(PAYROLL_COLUMNS)].reset_index(drop=True)


def payroll_csv(register: pd.DataFrame, reps: pd.DataFrame, period: str) -> bytes:
    """`payroll.csv` bytes: rep_id, name, email, period, currency, amount (`2400.00`)."""
    frame = payroll_frame(register, reps, period)
    return csv_bytes(PAYROLL_COLUMNS, {c: money_array(frame[c]) if c == "amount" else defused_array(frame[c])
                                       for c in PAYROLL_COLUMNS})
