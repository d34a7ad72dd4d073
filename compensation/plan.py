"""The plan language (SPEC section 4) as frozen pydantic models.

A plan is data, never code. Percentages may be written `8%` or `0.08`; both become the
Decimal 0.08. Loading a file and turning validation errors into `file:line: message`
is `compensation.planfile`'s job; these models only say what is valid.
"""

from __future__ import annotations

import difflib
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    InstanceOf,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from compensation.conditions import Condition


def parse_percent(value):
    """`8%` -> Decimal('0.08'); 0.08 -> Decimal('0.08'); bools and junk are rejected."""
    if isinstance(value, bool):
        raise ValueError("expected a percentage such as 8% or 0.08")
    if isinstance(value, str):
        text = value.strip()
        try:
            return Decimal(text[:-1].strip()) / 100 if text.endswith("%") else Decimal(text)
        except InvalidOperation:
            raise ValueError(f"'{value}' is not a percentage; write it as 8% or 0.08") from None
    if isinstance(value, int | float):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return value


def parse_amount(value):
    """Numbers (and numeric text) -> Decimal via their decimal text, never via binary float."""
    if isinstance(value, bool):
        raise ValueError("expected a number")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip().replace("_", ""))
        except InvalidOperation:
            raise ValueError(f"'{value}' is not a number") from None
    return value


def parse_where(value):
    """`{type: new}` -> {'type': ('new',)}; lists mean one of; a mapping is a `Condition`."""
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of column: value or column: [values]")
    out = {}
    for key, wanted in value.items():
        if isinstance(wanted, dict | Condition):
            out[str(key)] = wanted if isinstance(wanted, Condition) else Condition.parse(str(key), wanted)
            continue
        items = wanted if isinstance(wanted, list | tuple) else [wanted]
        out[str(key)] = tuple(str(v) for v in items)
    return out


ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")


def check_id(value: str) -> str:
    """Ids name files, ledger lines and payroll rows: letters, digits, '.', '_' and '-' only."""
    if not ID_PATTERN.fullmatch(value):
        raise ValueError("has characters that are not allowed; use only letters, digits, '.', '_' and '-'")
    return value


def check_currency(value: str) -> str:
    """A three-letter ISO 4217 code such as EUR."""
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError("is not a currency code; write three capital letters such as EUR or USD")
    return value


Id = Annotated[str, AfterValidator(check_id)]
Currency = Annotated[str, AfterValidator(check_currency)]
Percent = Annotated[Decimal, BeforeValidator(parse_percent)]
Amount = Annotated[Decimal, BeforeValidator(parse_amount)]


def dump_where(where: dict) -> dict:
    """A filter as its plan text (lists, condition words), so a stored plan loads back the same."""
    return {column: c.as_yaml() if isinstance(c, Condition) else list(c) for column, c in where.items()}


Where = Annotated[dict[str, tuple[str, ...] | InstanceOf[Condition]], BeforeValidator(parse_where),
                  PlainSerializer(dump_where)]
PeriodKind = Literal["month", "quarter", "year"]


class Model(BaseModel):
    """Base of every plan model: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Multiplier(Model):
    """Scales the credited value of matching transactions; first match wins."""

    where: Where
    factor: Amount = Field(gt=0)


class Measure(Model):
    """What a component counts: a numeric column of the matching transactions."""

    value: str = "amount"
    where: Where = Field(default_factory=dict)
    credit: Literal["direct", "team"] = "direct"
    multipliers: tuple[Multiplier, ...] = ()


class Tier(Model):
    """A band: starts at `from`, pays a `rate` or a fixed `amount`; only the last may end at `to`.

    `from` is an attainment fraction, an amount with `basis: amount`, or a `band_by` value.
    """

    from_: Percent = Field(alias="from", ge=0)
    rate: Percent | None = Field(default=None, ge=0, le=1)
    amount: Amount | None = Field(default=None, ge=0)
    to: Percent | None = None

    @model_validator(mode="before")
    @classmethod
    def _rate_missing(cls, data):
        """Without `rate` or `amount`, the tier is missing its rate (as when `amount` did not exist)."""
        known = {"from", "from_", "rate", "amount", "to"}
        if isinstance(data, dict) and "rate" not in data and "amount" not in data and set(data) <= known:
            raise ValidationError.from_exception_data(
                "Tier", [InitErrorDetails(type="missing", loc=("rate",), input=data)])
        return data

    @model_validator(mode="after")
    def _rate_or_amount(self):
        if self.rate is not None and self.amount is not None:
            raise ValueError("a tier pays either a 'rate' or a fixed 'amount', not both; keep one")
        if self.to is not None and self.to <= self.from_:
            raise ValueError(f"'to' ({self.to}) must be above 'from' ({self.from_})")
        return self


def _method_word(value):
    """`step` and `split` (the words of per-transaction tables) are retroactive and marginal."""
    return {"step": "retroactive", "split": "marginal"}.get(value, value)


class Accelerator(Model):
    """Tiers from `from` on pay only while an attainment condition holds, else the tier below.

    The condition: `component`'s attainment (year to date by default) reaches `min_attainment`.
    """

    from_: Percent = Field(alias="from", gt=0)
    min_attainment: Percent = Field(ge=0)
    over: Literal["year_to_date", "period"] = "year_to_date"
    component: str | None = None


class Commission(Model):
    """A table of rates or fixed amounts: on the period's cumulative value, or per transaction."""

    per: Literal["period", "transaction"] = "period"
    method: Annotated[Literal["retroactive", "marginal", "hybrid"], BeforeValidator(_method_word)] = "retroactive"
    basis: Literal["attainment", "amount"] = "attainment"
    band_by: str | None = None
    retroactive_to: Percent | None = Field(default=None, gt=0)
    accelerator: Accelerator | None = None
    tiers: tuple[Tier, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _per_transaction_bands_are_amounts(cls, data):
        if isinstance(data, dict) and data.get("per") == "transaction" and "basis" not in data:
            return {**data, "basis": "amount"}
        return data

    @field_validator("tiers")
    @classmethod
    def _tiers_ordered(cls, tiers):
        if tiers[0].from_ != 0:
            raise ValueError("the first tier must start at 0 (from: 0%)")
        for i, (lo, hi) in enumerate(zip(tiers, tiers[1:], strict=False), start=2):
            if hi.from_ <= lo.from_:
                raise ValueError(f"tier {i} starts at or below tier {i - 1}; order tiers by 'from'")
            if lo.to is not None:
                raise ValueError(f"tier {i - 1} has 'to' but is not the last tier: a tier ends where the next "
                                 "begins; only the last may have 'to'")
        kinds = ["amount" if t.amount is not None else "rate" for t in tiers]
        for i, kind in enumerate(kinds[1:], start=2):
            if kind != kinds[0]:
                raise ValueError(f"tier {i} has '{kind}' but tier 1 has '{kinds[0]}': a table pays rates or "
                                 "fixed amounts, not both")
        return tiers

    @model_validator(mode="after")
    def _consistent(self):
        if self.per == "transaction" and self.basis != "amount":
            raise ValueError("a per-transaction table chooses its band by the transaction's value, not by "
                             "attainment; remove 'basis' (or write basis: amount)")
        if self.band_by is not None and self.per != "transaction":
            raise ValueError("'band_by' needs per: transaction (a cumulative table's band is chosen by the "
                             "period's total)")
        if self.pays_amounts and self.method == "marginal" and self.tiers[-1].to is None:
            raise ValueError(f"an amount table split across bands needs a top to its last band: add 'to' to "
                             f"tier {len(self.tiers)}, e.g. {{from: {self.tiers[-1].from_}, "
                             f"to: ..., amount: {self.tiers[-1].amount}}}")
        if self.method == "hybrid":
            if self.retroactive_to is None:
                raise ValueError("method hybrid needs 'retroactive_to': the tier start up to which tiers are "
                                 "retroactive, e.g. retroactive_to: 100%")
            if self.retroactive_to not in [t.from_ for t in self.tiers[1:]]:
                raise ValueError(f"retroactive_to {self._show(self.retroactive_to)} is not the 'from' of a tier "
                                 "after the first; use one of: " + self._starts())
            if self.per == "transaction" or self.pays_amounts:
                raise ValueError("method hybrid applies to a cumulative table of rates (per: period)")
        elif self.retroactive_to is not None:
            raise ValueError("'retroactive_to' needs method: hybrid")
        if self.accelerator is not None and self.accelerator.from_ not in [t.from_ for t in self.tiers[1:]]:
            raise ValueError(f"the accelerator starts at {self._show(self.accelerator.from_)}, which is not the "
                             "'from' of a tier after the first; use one of: " + self._starts())
        return self

    def _show(self, value: Decimal) -> str:
        """A tier start as the plan writes it: a percentage on attainment, else a number."""
        return f"{(value * 100).normalize():f}%" if self.basis == "attainment" else f"{value.normalize():f}"

    def _starts(self) -> str:
        return ", ".join(self._show(t.from_) for t in self.tiers[1:])

    @property
    def pays_amounts(self) -> bool:
        """A table of fixed amounts (else of rates)."""
        return self.tiers[0].amount is not None

    def decelerated(self) -> Commission:
        """The table when the accelerator's condition fails: its tiers pay the tier below it."""
        start = self.accelerator.from_
        below = max((t for t in self.tiers if t.from_ < start), key=lambda t: t.from_)
        tiers = tuple(t.model_copy(update={"rate": below.rate, "amount": below.amount}) if t.from_ >= start else t
                      for t in self.tiers)
        return self.model_copy(update={"tiers": tiers, "accelerator": None})


class PayoutCurve(Model):
    """Earned = target incentive x weight x curve(attainment), linear between points."""

    weight: Percent = Field(gt=0, le=1)
    points: tuple[tuple[Percent, Percent], ...] = Field(min_length=2)
    cap: Percent | None = Field(default=None, gt=0)

    @field_validator("points")
    @classmethod
    def _points_ordered(cls, points):
        if points[0][0] != 0:
            raise ValueError("the first point must be at 0% attainment, e.g. [0%, 0%]")
        for i, (lo, hi) in enumerate(zip(points, points[1:], strict=False), start=2):
            if hi[0] <= lo[0]:
                raise ValueError(f"point {i} is not after point {i - 1}; order points by attainment")
        if any(p[1] < 0 for p in points):
            raise ValueError("payout percentages cannot be negative")
        return points


QUARTER_KEYS = ("Q1", "Q2", "Q3", "Q4")
MONTH_KEYS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def parse_weights(value):
    """`{Q1: 20%, ...}` (fiscal quarters) or `{jan: 5%, ...}` (calendar months) summing to 100%."""
    if not isinstance(value, dict) or not value:
        raise ValueError("expected a mapping of quarter: weight, e.g. {Q1: 20%, Q2: 20%, Q3: 20%, Q4: 40%}")
    keys = [str(k) for k in value]
    if all(k.upper() in QUARTER_KEYS for k in keys):
        names = [k.upper() for k in keys]
    elif all(k.lower() in MONTH_KEYS for k in keys):
        names = [k.lower() for k in keys]
    else:
        bad = next((k for k in keys if k.upper() not in QUARTER_KEYS and k.lower() not in MONTH_KEYS), keys[0])
        close = difflib.get_close_matches(bad, [*QUARTER_KEYS, *MONTH_KEYS], n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close and close[0] != bad else ""
        raise ValueError(f"'{bad}' is not a quarter or a month{hint}; weights are per quarter (Q1..Q4) or "
                         "per month (jan..dec), not both")
    if len(set(names)) != len(names):
        raise ValueError("a quarter or month has two weights; keep one")
    weights = {}
    for name, raw in zip(names, value.values(), strict=True):
        weight = parse_percent(raw)
        if not isinstance(weight, Decimal) or weight < 0:
            raise ValueError(f"the weight of {name} must be a percentage of at least 0%, e.g. {name}: 25%")
        weights[name] = weight
    total = sum(weights.values(), Decimal(0))
    if total != 1:
        raise ValueError(f"the weights sum to {(total * 100).normalize():f}%; they must sum to 100%")
    return weights


class Gate(Model):
    """Holds a component at 0 until another component's attainment reaches a bar."""

    component: str
    min_attainment: Percent = Field(ge=0)


class Payment(Model):
    """When a component's earnings are paid (issue 17): at booking, on cash, or held back.

    `booking` left out is the rest of 100%; given, the three shares must add up to 100%.
    `release` says when a holdback is paid: `quarter` or `year` (the run of the fiscal
    quarter's or year's last month) or a number of months after it was held.
    """

    booking: Percent | None = Field(default=None, ge=0, le=1)
    cash: Percent = Field(default=Decimal(0), ge=0, le=1)
    holdback: Percent = Field(default=Decimal(0), ge=0, le=1)
    release: Literal["quarter", "year"] | Annotated[int, Field(ge=1)] = "quarter"

    @model_validator(mode="after")
    def _shares_sum(self):
        rest = 1 - self.cash - self.holdback
        if self.booking is None and rest < 0:
            raise ValueError(f"cash and holdback add up to {_pct(self.cash + self.holdback)}; "
                             "payment shares must add up to 100%")
        if self.booking is not None and self.booking + self.cash + self.holdback != 1:
            raise ValueError(f"booking, cash and holdback add up to {_pct(self.booking + self.cash + self.holdback)}; "
                             "make them add up to 100%")
        return self

    @property
    def at_booking(self) -> Decimal:
        return self.booking if self.booking is not None else 1 - self.cash - self.holdback


def _pct(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"


class Component(Model):
    """One paid component: what it measures, over which period, and how it pays."""

    id: Id
    measure: Measure = Field(default_factory=Measure)
    quota: str | None = None
    attainment_period: PeriodKind = "year"
    commission: Commission | None = None
    payout_curve: PayoutCurve | None = None
    cap: Amount | None = Field(default=None, ge=0)
    gate: Gate | None = None
    payment: Payment = Field(default_factory=Payment)
    quota_weights: Annotated[dict[str, Percent], BeforeValidator(parse_weights)] | None = None
    quota_proration: Literal["none", "days", "months"] = "none"
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _one_way_to_pay(self):
        if (self.commission is None) == (self.payout_curve is None):
            raise ValueError("a component needs exactly one of 'commission' or 'payout_curve'")
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.from_}); swap them")
        return self

    @property
    def accelerator_component(self) -> str | None:
        """The component whose attainment opens this component's accelerator, if it has one."""
        acc = self.commission.accelerator if self.commission else None
        return None if acc is None else acc.component or self.id

    @property
    def quota_key(self) -> str:
        return self.quota or self.id

    @property
    def pay_depends_on_attainment(self) -> bool:
        """A curve, or tiers above 0% on the attainment basis."""
        c = self.commission
        return self.payout_curve is not None or (c.basis == "attainment" and len(c.tiers) > 1)


class Bonus(Model):
    """A fixed amount, once per period, when a component's attainment reaches a bar."""

    id: Id
    component: str
    min_attainment: Percent = Field(ge=0)
    per: PeriodKind
    amount: Amount = Field(gt=0)


class Spif(Model):
    """A fixed amount per credited transaction matching `where` inside a date window."""

    id: Id
    where: Where = Field(default_factory=dict)
    per_transaction: Amount = Field(gt=0)
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _dates_ordered(self):
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.from_}); swap them")
        return self


class Draw(Model):
    """A guaranteed minimum for a new assignment's first payout periods."""

    amount: Amount = Field(gt=0)
    recoverable: bool = True
    periods: int = Field(ge=1)


class Clawback(Model):
    """How long after a deal a cancellation still reverses its credit."""

    window_days: int = Field(ge=0)


class Effective(Model):
    """The dates a plan is meant for (informational; reps rows decide assignment)."""

    from_: date = Field(alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _dates_ordered(self):
        if self.to and self.to < self.from_:
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.from_}); swap them")
        return self


class Plan(Model):
    """One compensation plan file; `source` is where it was read from (not a YAML key)."""

    id: Id
    name: str
    currency: Currency = "EUR"
    effective: Effective | None = None
    payout_frequency: Literal["monthly", "quarterly"] = "monthly"
    target_incentive: Amount | None = Field(default=None, ge=0)
    components: tuple[Component, ...] = Field(min_length=1)
    bonuses: tuple[Bonus, ...] = ()
    spifs: tuple[Spif, ...] = ()
    draw: Draw | None = None
    clawback: Clawback | None = None
    held_on_leaving: Literal["pay", "forfeit"] = "pay"  # what a leaver gets of what is still held
    source: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def _references(self):
        ids = [c.id for c in self.components]
        line_ids = ids + [b.id for b in self.bonuses] + [s.id for s in self.spifs]
        seen = set()
        for line_id in line_ids:
            if line_id in seen:
                raise ValueError(f"duplicate id '{line_id}': component, bonus and SPIF ids must be unique")
            if line_id in RESERVED_LINES:
                raise ValueError(f"'{line_id}' is reserved for register lines; choose another id")
            seen.add(line_id)
        for c in self.components:
            if c.gate and c.gate.component not in ids:
                raise ValueError(
                    f"component '{c.id}' is gated on '{c.gate.component}', which is not a component of this plan"
                )
        for c in self.components:
            if c.accelerator_component not in (None, *ids):
                raise ValueError(f"the accelerator of component '{c.id}' depends on '{c.accelerator_component}', "
                                 "which is not a component of this plan")
        for b in self.bonuses:
            if b.component not in ids:
                raise ValueError(f"bonus '{b.id}' refers to '{b.component}', which is not a component of this plan")
        return self

    def component(self, component_id: str) -> Component:
        return next(c for c in self.components if c.id == component_id)

    def needs_quota(self, component_id: str) -> bool:
        """Rule 3: a quota is needed where pay depends on attainment, a gate or a bonus."""
        return (
            self.component(component_id).pay_depends_on_attainment
            or any(c.gate and c.gate.component == component_id for c in self.components)
            or any(c.accelerator_component == component_id for c in self.components)
            or any(b.component == component_id for b in self.bonuses)
        )

    @property
    def line_ids(self) -> tuple[str, ...]:
        """Register line ids in plan order: components, bonuses, SPIFs."""
        return (
            tuple(c.id for c in self.components) + tuple(b.id for b in self.bonuses) + tuple(s.id for s in self.spifs)
        )


RESERVED_LINES = ("adjustment", "recovery", "draw", "carry_forward", "held", "release", "forfeit")
