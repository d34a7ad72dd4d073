"""Quota splitting and proration (issue 16): seasonal weights, and reps who join or leave.

A quota row is spread over its months: evenly, or by the component's `quota_weights`
(a quarter's weight shared evenly by its three months). The quota of an attainment
period is the part of each row's months that falls inside the period. With
`quota_proration`, each month counts only for the share of it the rep is assigned to a
plan that has the component: `days` counts assigned days of the month, `months` counts
the whole month when the rep is assigned on its 15th (the mid-month convention).
Fractions stay exact (`Fraction`); the quota itself is never rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

import pandas as pd

from compensation.periods import Calendar, month_first_day, month_last_day
from compensation.plan import MONTH_KEYS, Component, Plan

MID_MONTH = 15


def month_weight(comp: Component, calendar: Calendar, month: int) -> Fraction:
    """The weight of a month index in its fiscal year: 1/12, or from `quota_weights`."""
    weights = comp.quota_weights
    if not weights:
        return Fraction(1, 12)
    if next(iter(weights)).startswith("Q"):
        quarter = f"Q{(month - calendar.fiscal_year_first_month(calendar.fiscal_year(month))) // 3 + 1}"
        return Fraction(weights.get(quarter, 0)) / 3
    return Fraction(weights.get(MONTH_KEYS[month % 12], 0))


def month_presence(spans: list[tuple[date, date]], month: int, how: str) -> Fraction:
    """The share of a month that counts for a rep assigned over `spans` (inclusive dates)."""
    first, last = month_first_day(month), month_last_day(month)
    if how == "months":
        mid = first.replace(day=MID_MONTH)
        return Fraction(int(any(start <= mid <= end for start, end in spans)))
    days = sum(max(0, (min(end, last) - max(start, first)).days + 1) for start, end in spans)
    return Fraction(min(days, last.day), last.day)


@dataclass(frozen=True)
class QuotaSplit:
    """How one component's quota rows are split and prorated, for each rep."""

    comp: Component
    calendar: Calendar
    spans: Mapping[str, list[tuple[date, date]]]
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, comp: Component, assignments: pd.DataFrame, plans: Mapping[str, Plan],
           calendar: Calendar) -> QuotaSplit:
        """The rep's presence is their assignments to plans that have a component of this id."""
        with_line = [pid for pid, p in plans.items() if any(c.id == comp.id for c in p.components)]
        mine = assignments[assignments["plan_id"].isin(with_line)]
        spans: dict[str, list[tuple[date, date]]] = {}
        for rep, start, end in zip(mine["rep_id"], mine["start"].dt.date, mine["end"].dt.date, strict=True):
            spans.setdefault(rep, []).append((start, end))
        return cls(comp, calendar, spans)

    def bare(self, month: int) -> Fraction:
        """A month's weight (worked out once per month)."""
        if ("weight", month) not in self.memo:
            self.memo["weight", month] = month_weight(self.comp, self.calendar, month)
        return self.memo["weight", month]

    def weight(self, rep_id: str, month: int) -> Fraction:
        """A month's weight, times the rep's presence in it when prorating."""
        w = self.bare(month)
        if self.comp.quota_proration == "none" or not w:
            return w
        return w * month_presence(self.spans.get(rep_id, []), month, self.comp.quota_proration)

    def share(self, rep_id: str, row_first: int, row_last: int, first: int, last: int) -> Fraction | None:
        """For `measure.quotas_for`; reps with the same assignment dates share one computation."""
        spans = tuple(self.spans.get(rep_id, ())) if self.comp.quota_proration != "none" else ()
        key = (spans, int(row_first), int(row_last), int(first), int(last))
        if key not in self.memo:
            self.memo[key] = self._share(rep_id, *key[1:])
        return self.memo[key]

    def _share(self, rep_id: str, row_first: int, row_last: int, first: int, last: int) -> Fraction | None:
        """For `measure.quotas_for`: the share of a quota row (its months) the period takes.

        The weight of the row's months inside the period (times presence when prorating) over
        the weight of all the row's months; None when the row weighs nothing.
        """
        months = range(int(row_first), int(row_last) + 1)
        total = sum((self.bare(m) for m in months), Fraction(0))
        if not total:
            return None
        return sum((self.weight(rep_id, m) for m in months if int(first) <= m <= int(last)), Fraction(0)) / total

    def presence(self, rep_id: str, first: int, last: int) -> Fraction:
        """The share of the period's weight the rep is present for (1 without proration)."""
        key = ("presence", tuple(self.spans.get(rep_id, ())), int(first), int(last))
        if key not in self.memo:
            months = range(int(first), int(last) + 1)
            total = sum((self.bare(m) for m in months), Fraction(0))
            kept = sum((self.weight(rep_id, m) for m in months), Fraction(0))
            self.memo[key] = kept / total if total else Fraction(1)
        return self.memo[key]


def splits_quota(comp: Component) -> bool:
    """Whether the component's quotas need a `QuotaSplit` (else the even split of rule 3)."""
    return comp.quota_weights is not None or comp.quota_proration != "none"

