"""Scenario files for `icm align` and `icm quotas` (SPEC section 7).

A scenario file is YAML in `plans/` with a top-level `alignment:` and/or `quotas:` key.
This module owns their frozen models and turns every validation failure into
`plans/x.yaml:LINE: message`, with "did you mean" for misspelt keys.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from compensation.errors import IcmError
from compensation.planfile import load_yaml, relative_source, translate_errors


def parse_fraction(value: Any) -> float:
    """`10%` or `0.1` -> 0.1; a percentage may be written either way (SPEC section 4)."""
    if isinstance(value, bool):
        raise ValueError("expected a percentage such as 10% or 0.1")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                return float(Decimal(text[:-1].strip()) / 100)
            return float(Decimal(text))
        except InvalidOperation:
            pass
    raise ValueError(f"'{value}' is not a percentage; write it as 10% or 0.1")


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected an amount")
    try:
        return Decimal(str(value).replace("_", ""))
    except InvalidOperation:
        raise ValueError(f"'{value}' is not an amount") from None


Fraction = Annotated[float, BeforeValidator(parse_fraction), Field(ge=0)]
Amount = Annotated[Decimal, BeforeValidator(_parse_decimal)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Balance(_Frozen):
    """Allowed deviation from each rep's fair share, per metric."""

    potential: Fraction | None = None
    workload: Fraction | None = None


class Capacity(_Frozen):
    """Hard limits per unit of a rep's `capacity` (reps.capacity, default 1)."""

    accounts: Annotated[float, Field(gt=0)] | None = None
    workload: Annotated[float, Field(gt=0)] | None = None
    potential: Annotated[float, Field(gt=0)] | None = None


class SolverOptions(_Frozen):
    """Which MILP solver, and when to stop."""

    name: Literal["highs", "cbc"] = "highs"
    time_limit: Annotated[float, Field(gt=0)] = 60.0
    gap: Fraction = 0.005
    threads: Annotated[int, Field(ge=1)] | None = None


class Weights(_Frozen):
    """Prices of the `mix` objective.

    Per percentage point of potential moved, and per km of the workload-weighted mean
    distance from each account to its rep's home.
    """

    disruption: Annotated[float, Field(ge=0)] = 0.0
    distance: Annotated[float, Field(ge=0)] = 0.0


class AlignmentScenario(_Frozen):
    """The `alignment:` block."""

    balance: Balance = Balance()
    max_moved: Fraction | None = None
    objective: Literal["disruption", "distance", "balance", "mix"] = "disruption"
    weights: Weights | None = None
    max_km: Annotated[float, Field(gt=0)] | None = None
    contiguity: bool = False
    candidates: Annotated[int, Field(ge=1)] | None = None
    same_region: bool = False
    capacity: Capacity = Capacity()
    solver: SolverOptions = SolverOptions()

    @model_validator(mode="after")
    def _mix_needs_weights(self) -> AlignmentScenario:
        if self.objective == "mix" and (self.weights is None or not (
                self.weights.disruption or self.weights.distance)):
            raise ValueError("objective mix needs weights, e.g. weights: {disruption: 1, "
                             "distance: 0.05} (per point of potential moved, per km)")
        if self.weights is not None and self.objective != "mix":
            raise ValueError("weights apply only to objective: mix")
        return self


class QuotaScenario(_Frozen):
    """The `quotas:` block."""

    year: Annotated[int, Field(ge=1900, le=9999)]
    target: Amount
    over_assignment: Fraction = 0.0
    method: Literal["potential", "history", "blend", "optimise"] = "potential"
    blend: dict[Literal["potential", "history"], Fraction] | None = None
    components: dict[str, Fraction]
    seasonality: dict[Literal["Q1", "Q2", "Q3", "Q4"], Fraction] | None = None
    ramp: list[Annotated[float, BeforeValidator(parse_fraction), Field(ge=0, le=1)]] = []
    max_change: Fraction | None = None

    @model_validator(mode="after")
    def _consistent(self) -> QuotaScenario:
        if self.target <= 0:
            raise ValueError("target must be more than 0")
        if not self.components:
            raise ValueError("components needs at least one component, e.g. {new_business: 100%}")
        _sums_to_one(self.components, "components")
        if self.seasonality is not None:
            missing = [q for q in ("Q1", "Q2", "Q3", "Q4") if q not in self.seasonality]
            if missing:
                raise ValueError(f"seasonality is missing {', '.join(missing)}")
            _sums_to_one(self.seasonality, "seasonality")
        if self.method == "blend":
            if not self.blend:
                raise ValueError("method blend needs blend: {potential: 60%, history: 40%}")
            _sums_to_one(self.blend, "blend")
        return self


def _sums_to_one(shares: dict[str, float], what: str) -> None:
    total = sum(shares.values())
    if abs(total - 1) > 1e-9:
        raise ValueError(f"{what} must add up to 100%, not {total * 100:g}%")


class Scenario(_Frozen):
    """A whole scenario file; `source` is its path relative to the workspace."""

    alignment: AlignmentScenario | None = None
    quotas: QuotaScenario | None = None
    source: str = ""
    stem: str = ""


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_scenario(path: Path | str, root: Path | str) -> Scenario:
    """Read and validate one scenario file; every problem is `file:line: message`."""
    path, root = Path(path), Path(root)
    rel = relative_source(path, root)
    doc = load_yaml(path, root)
    data = _plain(doc.data)
    if not isinstance(data, dict) or not ({"alignment", "quotas"} & data.keys()):
        raise IcmError.at(rel, 1, "a scenario file needs a top-level 'alignment:' or 'quotas:' key")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        messages = translate_errors(doc, exc.errors(), Scenario)
        messages.sort(key=lambda m: m.line or 0)
        raise IcmError(*messages) from None
    return scenario.model_copy(update={"source": rel, "stem": path.stem})
