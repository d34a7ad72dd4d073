"""Calendar months and fiscal quarters and years.

Months are calendar months written `2026-03`. Quarters (`2026-Q1`) and years (`2026`)
are fiscal, named by the calendar year in which the fiscal year ends: with
`fiscal_year_start: 4`, `2026-Q1` is 2025-04 to 2025-06 and `2026` is 2025-04 to 2026-03.
Internally a month is an integer index `year * 12 + (month - 1)` so that period
arithmetic vectorises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
YEAR_RE = re.compile(r"^(\d{4})$")
KINDS = ("month", "quarter", "year")


def month_index(text: str) -> int:
    """`2026-03` -> 2026*12 + 2; raises ValueError on anything else."""
    m = MONTH_RE.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"'{text}' is not a month; write it as YYYY-MM, e.g. 2026-03")
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def month_name(index: int) -> str:
    """Month index -> `2026-03`."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_first_day(index: int) -> date:
    """First calendar day of a month index."""
    return date(index // 12, index % 12 + 1, 1)


def month_last_day(index: int) -> date:
    """Last calendar day of a month index."""
    return month_first_day(index + 1) - timedelta(days=1)


def month_indexes(dates: np.ndarray) -> np.ndarray:
    """Month index of each datetime64 value (no NaT), looked up per day of their range.

    numpy's conversion to months works out a calendar date per value; a million dates
    span a few hundred days, each converted once.
    """
    days = np.asarray(dates, dtype="datetime64[ns]").astype("datetime64[D]").view(np.int64)
    if not len(days):
        return np.empty(0, dtype=np.int64)
    low, high = int(days.min()), int(days.max())
    if high - low > 200_000:  # centuries apart: convert each value
        return days.view("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    span = np.arange(low, high + 1).view("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    return span[days - low]


@dataclass(frozen=True)
class Calendar:
    """Fiscal calendar: maps months to fiscal quarters and years."""

    fiscal_year_start: int = 1

    def fiscal_year(self, month: int) -> int:
        """Fiscal year (named by the calendar year it ends in) of a month index."""
        year, mon = divmod(month, 12)
        return year + (1 if self.fiscal_year_start != 1 and mon + 1 >= self.fiscal_year_start else 0)

    def in_fiscal_year(self, months: pd.Series, fiscal_year: int) -> np.ndarray:
        """Whether each `YYYY-MM` month is in `fiscal_year`, judged once per distinct month."""
        names = pd.Series(months, dtype=object)
        of = {m: self.fiscal_year(month_index(m)) == fiscal_year for m in names.dropna().unique()}
        return names.map(of).eq(True).to_numpy(dtype=bool)  # a blank or unknown month: False

    def fiscal_year_first_month(self, fiscal_year: int) -> int:
        start = self.fiscal_year_start
        return (fiscal_year - (1 if start != 1 else 0)) * 12 + start - 1

    def period_of(self, kind: str, month: int) -> str:
        """Name of the attainment period of `kind` containing a month index."""
        if kind == "month":
            return month_name(month)
        fy = self.fiscal_year(month)
        if kind == "year":
            return f"{fy:04d}"
        quarter = (month - self.fiscal_year_first_month(fy)) // 3 + 1
        return f"{fy:04d}-Q{quarter}"

    def periods_of(self, kind: str, months: np.ndarray) -> np.ndarray:
        """Vectorised `period_of` over an array of month indexes."""
        months = np.asarray(months, dtype=np.int64)
        if kind == "month":
            uniq, inverse = np.unique(months, return_inverse=True)
            return np.array([month_name(m) for m in uniq], dtype=object)[inverse]
        shifted = months - (self.fiscal_year_start - 1)
        fy = shifted // 12 + (1 if self.fiscal_year_start != 1 else 0)
        if kind == "year":
            return fy.astype(str).astype(object)
        quarter = (shifted % 12) // 3 + 1
        return np.char.add(np.char.add(fy.astype(str), "-Q"), quarter.astype(str)).astype(object)

    def bounds(self, period: str) -> tuple[int, int]:
        """First and last month index of a month, fiscal quarter or fiscal year name."""
        if m := MONTH_RE.match(period):
            idx = month_index(period)
            return idx, idx
        if m := QUARTER_RE.match(period):
            first = self.fiscal_year_first_month(int(m.group(1))) + 3 * (int(m.group(2)) - 1)
            return first, first + 2
        if m := YEAR_RE.match(period):
            first = self.fiscal_year_first_month(int(m.group(1)))
            return first, first + 11
        raise ValueError(f"'{period}' is not a period; write 2026-03, 2026-Q1 or 2026")

    def periods_begun(self, kind: str, run_month: int) -> list[str]:
        """Attainment periods of `kind` in the run month's fiscal year begun by its end (rule 8)."""
        first = self.fiscal_year_first_month(self.fiscal_year(run_month))
        names: list[str] = []
        for month in range(first, run_month + 1):
            name = self.period_of(kind, month)
            if not names or names[-1] != name:
                names.append(name)
        return names

    def day_bounds(self, period: str) -> tuple[date, date]:
        first, last = self.bounds(period)
        return month_first_day(first), month_last_day(last)

    def quarter_number(self, months):
        """A running count of fiscal quarters: equal for the months of one quarter (vectorised)."""
        return (np.asarray(months) - (self.fiscal_year_start - 1)) // 3

    def quarter_last_month(self, months):
        """The last month index of each month's fiscal quarter (vectorised)."""
        return self.quarter_number(months) * 3 + 2 + (self.fiscal_year_start - 1)

    def is_quarter_end(self, month: int) -> bool:
        return (month - self.fiscal_year_first_month(self.fiscal_year(month))) % 3 == 2
