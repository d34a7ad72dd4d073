"""Plan files and `icm.yaml`: from safe YAML to validated plans and settings.

Reading YAML safely is `compensation.yamlsafe`'s job, putting pydantic's errors in the
user's words is `compensation.plan_errors`'; this module finds the plan files of a
workspace, skips scenario files, checks what a model cannot see alone (duplicate and
reserved ids, gates and bonuses on missing components) and reports the problems of all
plan files at once. `load_yaml`, `YamlDoc`, `relative_source` and `translate_errors` stay
importable from here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from compensation.errors import IcmError, Located
from compensation.plan import RESERVED_LINES, Plan
from compensation.plan_errors import (
    SETTINGS_FILE,
    dedupe,
    subject,
    suggest,
    translate_error,
    translate_errors,
    unknown_key,
)
from compensation.results import InputFile
from compensation.settings import Settings, Workspace
from compensation.yamlsafe import YamlDoc, load_yaml, parse_yaml, relative_source

__all__ = [
    "PLAN_SUFFIXES", "SCENARIO_KEYS", "SETTINGS_FILE", "PlanSet", "YamlDoc", "is_scenario",
    "load_plan", "load_plans", "load_workspace", "load_yaml", "parse_yaml", "plan_files",
    "plan_from_doc", "relative_source", "translate_error", "translate_errors",
]

PLAN_SUFFIXES = (".yaml", ".yml")
# Top-level keys of the scenario files of `icm align`, `icm quotas` and `icm model` (SPEC 2).
SCENARIO_KEYS = ("alignment", "quotas", "model")


# --- plans ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSet:
    """Every plan of a workspace (in file-name order), its scenario files and plan inputs."""

    plans: dict[str, Plan]
    scenarios: tuple[Path, ...] = ()
    files: tuple[InputFile, ...] = ()


def is_scenario(data: Any) -> bool:
    """Whether a file is a scenario (align, quotas or model): a `SCENARIO_KEYS` key, no `components:`.

    The plan loader only recognises scenario files, to skip them.
    """
    if not isinstance(data, dict) or "components" in data:
        return False
    return any(key in data for key in SCENARIO_KEYS)


def plan_files(plans_dir: Path) -> list[Path]:
    """The YAML files directly in `plans/`, by name (subfolders and hidden files skipped)."""
    if not plans_dir.is_dir():
        return []
    return sorted(
        (p for p in plans_dir.iterdir()
         if p.is_file() and p.suffix.lower() in PLAN_SUFFIXES and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def load_plan(path: Path, root: Path | None = None) -> Plan:
    """Load and validate one plan file; every problem of the file in one IcmError."""
    plan, errors = plan_from_doc(load_yaml(path, root))
    if errors:
        raise IcmError(*errors)
    return plan


def load_plans(ws: Workspace) -> PlanSet:
    """Load every plan in `plans/`; the errors of all files are raised together."""
    plans: dict[str, Plan] = {}
    origin: dict[str, str] = {}
    scenarios: list[Path] = []
    files: list[InputFile] = []
    errors: list[Located] = []
    for path in plan_files(ws.plans_dir):
        try:
            doc = load_yaml(path, ws.root)
        except IcmError as exc:
            errors.extend(exc.messages)
            continue
        if is_scenario(doc.data):
            scenarios.append(path)
            continue
        plan, problems = plan_from_doc(doc)
        if problems:
            errors.extend(problems)
            continue
        if plan.id in plans:
            errors.append(Located(
                f"plan id '{plan.id}' is also used by {origin[plan.id]}; give each plan its own id",
                doc.source, doc.line_of("id")))
            continue
        plans[plan.id] = plan
        origin[plan.id] = doc.source
        raw = path.read_bytes()
        files.append(InputFile(name=f"plan:{plan.id}", path=doc.source,
                               rows=raw.count(b"\n"), sha256=hashlib.sha256(raw).hexdigest()))
    if errors:
        raise IcmError(*errors)
    return PlanSet(plans=plans, scenarios=tuple(scenarios), files=tuple(files))


def plan_from_doc(doc: YamlDoc) -> tuple[Plan | None, list[Located]]:
    """Validate a parsed plan file: (plan, []) or (None, every problem found)."""
    data = doc.data
    if not isinstance(data, dict):
        return None, [Located("a plan file must be a mapping of keys (id, name, components, "
                              "...); start from a template made by `icm init`",
                              doc.source, doc.line_of())]
    errors = _reference_problems(doc)
    payload = dict(data)
    if "source" in payload:  # a model field filled by the loader, not a plan key
        errors.append(unknown_key(doc, ("source",), Plan))
        payload.pop("source")
    try:
        plan = Plan.model_validate(payload)
    except ValidationError as exc:
        found = [e for e in exc.errors() if e["loc"] or e["type"] != "value_error" or not errors]
        # (plan-level reference errors were already reported above, with their lines)
        errors.extend(translate_errors(doc, found, Plan))
        return None, dedupe(errors)
    if errors:
        return None, dedupe(errors)
    return plan.model_copy(update={"source": doc.source}), []


def _reference_problems(doc: YamlDoc) -> list[Located]:
    """Duplicate or reserved ids, gates and bonuses on missing components, with their lines."""
    errors: list[Located] = []
    first_line: dict[str, int] = {}
    component_ids = [c.get("id") for c in _items(doc, "components") if isinstance(c.get("id"), str)]
    for section in ("components", "bonuses", "spifs"):
        for i, item in enumerate(_items(doc, section)):
            line_id = item.get("id")
            if not isinstance(line_id, str):
                continue
            line = doc.line_of(section, i, "id")
            if line_id in RESERVED_LINES:
                errors.append(Located(
                    f"id '{line_id}' of {subject(doc, (section, i))} is reserved for register "
                    f"lines ({', '.join(RESERVED_LINES)}); choose another id", doc.source, line))
            elif line_id in first_line:
                errors.append(Located(
                    f"duplicate id '{line_id}' (first used on line {first_line[line_id]}): "
                    "component, bonus and SPIF ids must be unique within a plan; rename one",
                    doc.source, line))
            else:
                first_line[line_id] = line
    for i, comp in enumerate(_items(doc, "components")):
        gate = comp.get("gate")
        if isinstance(gate, dict) and isinstance(gate.get("component"), str):
            errors.extend(_missing_component(
                doc, ("components", i, "gate"), gate["component"], component_ids))
        commission = comp.get("commission")
        accelerator = commission.get("accelerator") if isinstance(commission, dict) else None
        if isinstance(accelerator, dict) and isinstance(accelerator.get("component"), str):
            errors.extend(_missing_component(
                doc, ("components", i, "commission", "accelerator"), accelerator["component"], component_ids))
    for i, bonus in enumerate(_items(doc, "bonuses")):
        if isinstance(bonus.get("component"), str):
            errors.extend(_missing_component(
                doc, ("bonuses", i), bonus["component"], component_ids))
    return errors


def _items(doc: YamlDoc, section: str) -> list[dict]:
    items = doc.get(section)
    return [x if isinstance(x, dict) else {} for x in items] if isinstance(items, list) else []


def _missing_component(doc: YamlDoc, loc: tuple, wanted: str, ids: list[str]) -> list[Located]:
    if wanted in ids:
        return []
    return [Located(
        f"{subject(doc, loc)} refers to component '{wanted}', which this plan does not have"
        f"{suggest(wanted, ids, 'the components are')}",
        doc.source, doc.line_of(*loc, "component"))]


# --- workspace -----------------------------------------------------------------------


def load_workspace(path: Path) -> Workspace:
    """A workspace folder and its optional `icm.yaml` settings."""
    root = Path(path)
    if not root.is_dir():
        raise IcmError(f"no workspace at {root}; create one with `icm init {root}`")
    settings_path = root / SETTINGS_FILE
    if not settings_path.exists():
        return Workspace(root=root, settings=Settings())
    doc = load_yaml(settings_path, root)
    if doc.data is None:
        return Workspace(root=root, settings=Settings())
    if not isinstance(doc.data, dict):
        raise IcmError.at(doc.source, doc.line_of(),
                          "icm.yaml must be a mapping of settings such as base_currency: EUR")
    try:
        settings = Settings.model_validate(doc.data)
    except ValidationError as exc:
        raise IcmError(*dedupe(translate_errors(doc, exc.errors(), Settings))) from None
    return Workspace(root=root, settings=settings)
