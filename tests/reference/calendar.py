"""Calendar months and fiscal periods (SPEC section 2) as month indexes and day bounds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


def month_index(period: str) -> int:
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


def month_of(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def month_name(index: int) -> str:
    return f"{index // 12}-{index % 12 + 1:02d}"


def first_day(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def last_day(index: int) -> dt.date:
    return first_day(index + 1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Fiscal:
    """Fiscal quarters and years for a `fiscal_year_start` month (1-12)."""

    start: int = 1

    def year_first_month(self, month: int) -> int:
        """Month index of the first month of the fiscal year containing `month`."""
        offset = (month - (self.start - 1)) % 12
        return month - offset

    def period(self, kind: str, month: int) -> tuple[int, int]:
        """(first month, last month) of the `kind` period containing `month`."""
        if kind == "month":
            return month, month
        first = self.year_first_month(month)
        if kind == "year":
            return first, first + 11
        q = (month - first) // 3
        return first + 3 * q, first + 3 * q + 2

    def name(self, kind: str, month: int) -> str:
        first, last = self.period(kind, month)
        if kind == "month":
            return month_name(month)
        year = (self.year_first_month(month) + 11) // 12  # the calendar year the fiscal year ends in
        if kind == "year":
            return str(year)
        return f"{year}-Q{(first - self.year_first_month(month)) // 3 + 1}"

    def bounds(self, name: str) -> tuple[int, int]:
        """(first, last) month index of a period name: `2026`, `2026-Q2` or `2026-03`."""
        if "-Q" in name:
            year, q = name.split("-Q")
            first = self._year_first(int(year)) + 3 * (int(q) - 1)
            return first, first + 2
        if "-" in name:
            m = month_index(name)
            return m, m
        first = self._year_first(int(name))
        return first, first + 11

    def _year_first(self, year: int) -> int:
        """First month of the fiscal year named `year` (it ends in calendar year `year`)."""
        return year * 12 + (self.start - 2) % 12 - 11

    def periods_begun(self, kind: str, run_month: int) -> list[str]:
        """The `kind` periods of the run month's fiscal year begun by the run month (rule 8)."""
        names = []
        for m in range(self.year_first_month(run_month), run_month + 1):
            n = self.name(kind, m)
            if n not in names:
                names.append(n)
        return names

    def is_quarter_end(self, month: int) -> bool:
        return self.period("quarter", month)[1] == month


def days_between(a: dt.date, b: dt.date) -> int:
    """Inclusive day count of [a, b] (0 when empty)."""
    return max(0, (b - a).days + 1)
