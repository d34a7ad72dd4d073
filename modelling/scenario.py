"""Modelling scenario files: a YAML file in `plans/` whose top-level key is `model:`.

It names the candidate plans (plan ids, plan files, or variants with keys overridden),
the population, the attainment assumptions and the number of draws and the seed. Every
validation failure is reported as `file:line: message`, like plans, including the
errors of a variant's merged plan (reported at the changed key's line).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from compensation.errors import IcmError, Located
from compensation.plan import Plan, parse_amount, parse_percent
from compensation.plan_errors import dedupe, suggest
from compensation.planfile import load_plan, load_yaml, plan_files, plan_from_doc, translate_errors
from compensation.settings import Workspace
from compensation.yamlsafe import YamlDoc

Pct = Annotated[float, BeforeValidator(lambda v: float(parse_percent(v)) if not isinstance(v, float) else v)]
Money = Annotated[Decimal, BeforeValidator(parse_amount)]


class Spec(BaseModel):
    """Frozen, unknown keys rejected (with "did you mean")."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Assumption(Spec):
    """One component's attainment over a year: mean and spread, or quantiles."""

    distribution: Literal["normal", "lognormal"] = "lognormal"
    mean: Pct | None = Field(default=None, gt=0)
    spread: Pct | None = Field(default=None, ge=0)
    quantiles: dict[str, Pct] | None = None

    @model_validator(mode="after")
    def _one_form(self):
        if self.quantiles is not None:
            if self.mean is not None or self.spread is not None:
                raise ValueError("give either quantiles or mean and spread, not both")
            points = self.quantile_points
            if len(points) < 2:
                raise ValueError("quantiles needs at least two points, e.g. {10%: 70%, 90%: 130%}")
            if any(not 0 < p < 1 for p, _ in points):
                raise ValueError("quantile levels must lie strictly between 0% and 100%")
            if any(b[1] < a[1] for a, b in zip(points, points[1:], strict=False)):
                raise ValueError("attainment must not fall as the quantile level rises")
        elif self.mean is None or self.spread is None:
            raise ValueError("give mean and spread (e.g. {mean: 100%, spread: 20%}) or quantiles "
                             "(e.g. {10%: 70%, 50%: 100%, 90%: 130%})")
        return self

    @property
    def quantile_points(self) -> list[tuple[float, float]]:
        """(level, attainment) pairs in level order."""
        try:
            return sorted((float(parse_percent(k)), float(v)) for k, v in (self.quantiles or {}).items())
        except ValueError as err:
            raise ValueError(f"quantile levels are percentages such as 10%: {err}") from None


class Attainment(Spec):
    """How attainment is drawn: fitted to the ledger's closed periods, or given per component."""

    fit: Literal["empirical", "lognormal"] | None = None
    components: dict[str, Assumption] = Field(default_factory=dict)
    correlation: Pct | Literal["fit"] | None = None
    period_spread: Pct | None = Field(default=None, ge=0)

    @field_validator("correlation")
    @classmethod
    def _correlation_range(cls, value):
        if isinstance(value, float) and not 0 <= value < 1:
            raise ValueError("correlation is between 0% and 99%")
        return value


class Candidate(Spec):
    """A plan to cost: a workspace plan id, a plan file, or either with keys changed."""

    name: str = Field(min_length=1)
    plan: str | None = None
    file: str | None = None
    role: str | None = None
    changes: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.plan is None) == (self.file is None):
            raise ValueError("a candidate needs exactly one of 'plan' (a plan id) or 'file' (a plan file)")
        return self


class Synthetic(Spec):
    """`count` reps of one role, each with the same yearly quotas and target incentive."""

    role: str
    count: int = Field(ge=1, le=1_000_000)
    target_incentive: Money = Field(ge=0)
    quotas: dict[str, Money]


class SyntheticPopulation(Spec):
    """`population: {synthetic: [...]}`: groups of identical reps per role."""

    synthetic: tuple[Synthetic, ...] = Field(min_length=1)


class ModelSpec(Spec):
    """The `model:` block."""

    year: int | None = Field(default=None, ge=1900, le=9999)
    draws: int = Field(default=1000, ge=1, le=1_000_000)
    seed: int = 0
    population: Literal["workspace"] | SyntheticPopulation = "workspace"
    attainment: Attainment = Field(default_factory=lambda: Attainment(fit="lognormal"))
    candidates: tuple[Candidate, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self):
        names = [c.name for c in self.candidates]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"candidate names must be unique: {', '.join(twice)}")
        if self.attainment.fit is None and self.attainment.correlation == "fit":
            raise ValueError("correlation: fit needs attainment fit: empirical or lognormal")
        return self


class ScenarioFile(Spec):
    """A whole scenario file: one `model:` block."""

    model: ModelSpec


@dataclass(frozen=True)
class CandidatePlan:
    """A resolved candidate: its plan and the role (a workspace plan id) whose reps it pays."""

    name: str
    role: str
    plan: Plan


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario: its spec, its resolved candidates and where it came from."""

    spec: ModelSpec
    candidates: tuple[CandidatePlan, ...]
    source: str
    stem: str
    doc: YamlDoc | None

    def line_of(self, *keys) -> int | None:
        return self.doc.line_of("model", *keys) if self.doc is not None else None


def load_scenario(path: Path | str, ws: Workspace, plans: dict[str, Plan]) -> Scenario:
    """Read, validate and resolve a `model:` file; every problem as `file:line: message`."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = ws.root / path
    doc = load_yaml(path, ws.root)
    if not isinstance(doc.data, dict) or "model" not in doc.data:
        raise IcmError.at(doc.source, 1, "a modelling scenario needs a top-level 'model:' key; see docs/modelling.md")
    try:
        spec = ScenarioFile.model_validate(doc.data).model
    except ValidationError as exc:
        raise IcmError(*dedupe(translate_errors(doc, exc.errors(), ScenarioFile))) from None
    errors: list[Located] = []
    resolved = []
    for i, cand in enumerate(spec.candidates):
        plan = _resolve(doc, i, cand, ws, plans, errors)
        if plan is not None:
            resolved.append(CandidatePlan(cand.name, cand.role or cand.plan or plan.id, plan))
    if errors:
        raise IcmError(*dedupe(errors))
    return Scenario(spec, tuple(resolved), doc.source, path.stem, doc)


def _resolve(doc: YamlDoc, i: int, cand: Candidate, ws: Workspace, plans: dict[str, Plan],
             errors: list[Located]) -> Plan | None:
    at = ("model", "candidates", i)
    if cand.plan is not None:
        base = plans.get(cand.plan)
        if base is None:
            errors.append(Located(f"candidate '{cand.name}': no plan with id '{cand.plan}'"
                                  f"{suggest(cand.plan, sorted(plans), 'the plans are')}",
                                  doc.source, doc.line_of(*at, "plan")))
            return None
    else:
        try:
            base = load_plan(ws.root / cand.file, ws.root)
        except IcmError as exc:
            errors.extend(exc.messages)
            return None
    if not cand.changes:
        return base
    data, lines = merge(base.model_dump(mode="json", by_alias=True, exclude_none=True), cand.changes,
                        doc, (*at, "changes"))
    lines[()] = doc.line_of(*at)
    plan, problems = plan_from_doc(YamlDoc(data, doc.source, lines))
    if problems:
        errors.extend(Located(f"candidate '{cand.name}' (variant of {base.id}): {p.message}", p.source, p.line)
                      for p in problems)
        return None
    return plan.model_copy(update={"source": f"{doc.source} (candidate {cand.name})"})


def merge(base: Any, changes: Any, doc: YamlDoc, at: tuple) -> tuple[Any, dict[tuple, int]]:
    """A plan's data with `changes` laid over it, and the scenario line of each changed key.

    Mappings merge key by key (`null` removes a key); lists of items with an `id`
    (components, bonuses, SPIFs) merge item by item, new ids appended; anything else
    is replaced.
    """
    lines: dict[tuple, int] = {}

    def walk(old: Any, new: Any, src: tuple, dst: tuple) -> Any:
        lines[dst] = doc.line_of(*at, *src)
        if isinstance(old, dict) and isinstance(new, dict):
            out = dict(old)
            for key, value in new.items():
                if value is None:
                    out.pop(key, None)
                else:
                    out[key] = walk(old.get(key), value, (*src, key), (*dst, key))
            return out
        if _by_id(old) and _by_id(new) and new:
            out = list(old)
            for j, item in enumerate(new):
                k = next((n for n, o in enumerate(out) if o["id"] == item["id"]), len(out))
                if k == len(out):
                    out.append({})
                out[k] = walk(out[k], item, (*src, j), (*dst, k))
            return out
        return new

    return walk(base, changes, (), ()), lines


def _by_id(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, dict) and "id" in x for x in value)


def check_model_scenarios(ws: Workspace, plans: dict[str, Plan]) -> int:
    """Validate every `model:` file in `plans/` (for `icm validate`); return how many were checked."""
    errors: list[Located] = []
    checked = 0
    for path in plan_files(ws.plans_dir):
        doc = load_yaml(path, ws.root)
        if isinstance(doc.data, dict) and "model" in doc.data and "components" not in doc.data:
            checked += 1
            try:
                load_scenario(path, ws, plans)
            except IcmError as exc:
                errors += exc.messages
    if errors:
        raise IcmError(*errors)
    return checked
