"""The input tables of SPEC section 3, declared: one `Column` per column, by name.

A column's `kind` decides how its cells are checked and coerced (`compensation.coerce`);
`rule` names a range check of `RULES`. Loaded frames are typed by kind:

| kind | dtype | missing |
|---|---|---|
| text, rep, upper | object (str) | None |
| id | string[pyarrow] (`pd.ArrowDtype(pa.string())`) | null |
| date | datetime64[ns] | NaT |
| number | float64 | NaN (or the default) |
| money | float64 in currency units; a required one also `NAME_cents`, int64 exact cents | NaN |
| period, month | object (str: `2026-03`, `2026-Q1`, `2026`) | None |
| bool | bool | the default |

Every frame also has `row` (int64): the row number a spreadsheet shows (header = 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["text", "id", "rep", "upper", "date", "number", "money", "period", "month", "bool"]

DEFAULT_TABLES = ("reps", "transactions", "quotas", "credits", "fx", "adjustments", "payments")
REQUIRED_TABLES = frozenset({"reps", "transactions"})

REP_ID_PATTERN = r"[A-Za-z0-9._-]+"
NUMBER_PATTERN = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
ISO_DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
TRUE_WORDS = ("true", "yes", "y", "1")
FALSE_WORDS = ("false", "no", "n", "0")
# Open-ended ranges are often written with a far-future date that datetime64[ns] cannot hold.
OPEN_END = pd.Timestamp.max.normalize()
# Credit shares are compared in integer units of 1e-12: exact for every share written with
# up to 12 decimals (1e-6 could not tell 0.3333333 + 0.3333333 + 0.3333334 from 0.999999).
SHARE_UNITS = 10**12
# Money is exact below 10^15 currency units: 10^17 cents sit well inside int64.
MONEY_LIMIT = 10**15
CENTS_SUFFIX = "_cents"


@dataclass(frozen=True)
class Column:
    """One column of an input table."""

    name: str
    kind: Kind = "text"
    required: bool = False
    default: float | bool | None = None  # what a blank or absent cell becomes
    rule: str | None = None  # a key of RULES: the range a number must lie in


def text(name: str, *, required: bool = False) -> Column:
    """A free-text column (also usable in `where` filters)."""
    return Column(name, "text", required)


SCHEMAS: dict[str, tuple[Column, ...]] = {
    "reps": (
        Column("rep_id", "rep", required=True),
        text("name", required=True),
        text("plan", required=True),
        Column("start_date", "date", required=True),
        Column("end_date", "date"),
        text("email"),
        text("manager_id"),
        Column("target_incentive", "money", rule="not_negative"),
        text("territory"),
        text("region"),
        Column("capacity", "number", default=1.0, rule="positive"),
        Column("lat", "number", rule="lat"),
        Column("lon", "number", rule="lon"),
        text("locale"),
    ),
    "transactions": (
        # A million distinct ids stay Arrow text from the file to the run's snapshot: as
        # Python str they would be a million objects made, hashed and turned back.
        Column("txn_id", "id", required=True),
        Column("date", "date", required=True),
        Column("amount", "money", required=True),
        Column("currency", "upper"),
        Column("rep_id", "rep"),
        text("account_id"),
        text("type"),
        text("product"),
        text("reverses"),
    ),
    "credits": (
        text("txn_id", required=True),
        Column("rep_id", "rep", required=True),
        Column("share", "number", required=True, rule="share"),
        text("role"),
    ),
    "quotas": (
        Column("rep_id", "rep", required=True),
        text("component", required=True),
        Column("period", "period", required=True),
        Column("amount", "money", required=True, rule="quota"),
    ),
    "fx": (
        Column("period", "month", required=True),
        Column("currency", "upper", required=True),
        Column("rate", "number", required=True, rule="rate"),
    ),
    "adjustments": (
        Column("rep_id", "rep", required=True),
        Column("period", "month", required=True),
        Column("amount", "money", required=True),
        text("reason", required=True),
    ),
    # Customer payments against transactions (issue 17: pay on cash); refunds are negative.
    "payments": (
        text("txn_id", required=True),
        Column("date", "date", required=True),
        Column("amount", "money", required=True),
        Column("currency", "upper"),
    ),
    "accounts": (
        text("account_id", required=True),
        Column("potential", "number", required=True, rule="not_negative"),
        Column("workload", "number", default=1.0, rule="not_negative"),
        text("region"),
        Column("lat", "number", rule="lat"),
        Column("lon", "number", rule="lon"),
        Column("rep_id", "rep"),
        Column("last_year", "number"),
        Column("locked", "bool", default=False),
    ),
}

# Range rules for numbers: which values are allowed (the wording is in `messages.RULE_MESSAGES`).
RULES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "share": lambda v: (v > 0) & (v <= 1),
    "quota": lambda v: v > 0,
    "rate": lambda v: v > 0,
    "positive": lambda v: v > 0,
    "not_negative": lambda v: v >= 0,
    "lat": lambda v: (v >= -90) & (v <= 90),
    "lon": lambda v: (v >= -180) & (v <= 180),
}


def required_names(name: str) -> list[str]:
    """The required columns of table `name`, in schema order."""
    return [c.name for c in SCHEMAS[name] if c.required]


def absent(col: Column, n: int) -> np.ndarray:
    """The values of a column the file does not have: its default, else missing."""
    if col.kind in ("number", "money"):
        return np.full(n, np.nan if col.default is None else col.default, dtype=np.float64)
    if col.kind == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if col.kind == "bool":
        return np.full(n, bool(col.default), dtype=bool)
    return np.empty(n, dtype=object)  # None in every cell; np.full with None is many times slower


def empty_table(name: str) -> pd.DataFrame:
    """A table with no rows and every column of its schema, typed as loaded."""
    columns = {"row": pd.Series(dtype="int64")}
    for col in SCHEMAS[name]:
        columns[col.name] = pd.Series(absent(col, 0))
        if col.kind == "money" and col.required:
            columns[col.name + CENTS_SUFFIX] = pd.Series(dtype="int64")
    return pd.DataFrame(columns)
