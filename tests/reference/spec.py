"""The plain data of a workspace, as the reference model reads it (no engine types).

The generator builds these records and writes them as icm.yaml, plans/*.yaml and
data/*.csv; the model reads the records. Amounts are exact `Fraction`s in currency
units; dates are `datetime.date`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

Where = tuple[tuple[str, tuple[str, ...]], ...]  # ((column, (allowed values...)), ...)
FAR = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class Tiers:
    tiers: tuple[tuple[Fraction, Fraction], ...]  # (from, rate); from is a fraction of quota or an amount
    method: str = "retroactive"
    basis: str = "attainment"


@dataclass(frozen=True)
class Curve:
    weight: Fraction
    points: tuple[tuple[Fraction, Fraction], ...]
    cap: Fraction | None = None


@dataclass(frozen=True)
class Component:
    id: str
    period: str = "year"
    where: Where = ()
    credit: str = "direct"
    multipliers: tuple[tuple[Where, Fraction], ...] = ()
    quota: str | None = None
    tiers: Tiers | None = None
    curve: Curve | None = None
    cap: Fraction | None = None
    gate: tuple[str, Fraction] | None = None  # (component id, min attainment)

    @property
    def quota_key(self) -> str:
        return self.quota or self.id


@dataclass(frozen=True)
class Bonus:
    id: str
    component: str
    min_attainment: Fraction
    per: str
    amount: Fraction


@dataclass(frozen=True)
class Spif:
    id: str
    where: Where
    per_transaction: Fraction
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True)
class Draw:
    amount: Fraction
    periods: int
    recoverable: bool = True


@dataclass(frozen=True)
class Plan:
    id: str
    components: tuple[Component, ...]
    currency: str = "EUR"
    payout_frequency: str = "monthly"
    target_incentive: Fraction | None = None
    bonuses: tuple[Bonus, ...] = ()
    spifs: tuple[Spif, ...] = ()
    draw: Draw | None = None
    clawback_days: int | None = None

    def component(self, cid: str) -> Component | None:
        return next((c for c in self.components if c.id == cid), None)

    def lines(self) -> list[tuple[str, str, str]]:
        """(line id, kind, attainment period kind) in register order."""
        return ([(c.id, "component", c.period) for c in self.components]
                + [(b.id, "bonus", b.per) for b in self.bonuses] + [(s.id, "spif", "year") for s in self.spifs])


@dataclass(frozen=True)
class Assignment:
    rep_id: str
    name: str
    plan: str
    start: dt.date
    end: dt.date = FAR
    manager_id: str | None = None
    target_incentive: Fraction | None = None

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Txn:
    txn_id: str
    date: dt.date
    amount: Fraction
    currency: str
    rep_id: str
    type: str
    product: str
    reverses: str | None = None

    def column(self, name: str) -> str | None:
        return {"type": self.type, "product": self.product, "currency": self.currency,
                "rep_id": self.rep_id}.get(name)


@dataclass(frozen=True)
class CreditRow:
    txn_id: str
    rep_id: str
    share: Fraction
    role: str = "split"


@dataclass(frozen=True)
class QuotaRow:
    rep_id: str
    component: str
    period: str
    amount: Fraction


@dataclass(frozen=True)
class Adjustment:
    rep_id: str
    month: str
    amount: Fraction
    reason: str


@dataclass(frozen=True)
class World:
    """Everything a workspace holds: settings, plans and tables."""

    plans: tuple[Plan, ...]
    assignments: tuple[Assignment, ...]
    txns: tuple[Txn, ...]
    credits: tuple[CreditRow, ...] = ()
    quotas: tuple[QuotaRow, ...] = ()
    fx: dict[tuple[str, str], Fraction] = field(default_factory=dict)  # (month, currency) -> rate
    adjustments: tuple[Adjustment, ...] = ()
    base_currency: str = "EUR"
    fiscal_year_start: int = 1

    def plan(self, plan_id: str) -> Plan:
        return next(p for p in self.plans if p.id == plan_id)


def matches(where: Where, txn: Txn) -> bool:
    """Every key must match; a tuple means one of (values compared as text)."""
    return all(txn.column(col) in allowed for col, allowed in where)
