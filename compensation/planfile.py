"""Plan files, scenario files and `icm.yaml`: YAML read safely, with a line for every key.

This module owns the boundary between the user's YAML and the pydantic models of
`compensation.plan` and `compensation.settings`: it parses a file without ever running a
tag, keeps the line of every key and list item, and turns every validation failure into
`file:line: message` written in the user's words (tier 2, component 'renewals', ...),
with the fix. All the problems of all plan files are reported at once.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compensation.errors import IcmError, Located
from compensation.plan import RESERVED_LINES, Plan, parse_amount, parse_percent
from compensation.results import InputFile
from compensation.settings import Settings, Workspace

SETTINGS_FILE = "icm.yaml"
PLAN_SUFFIXES = (".yaml", ".yml")

# The only tags a file may carry (implicitly, as resolved by the parser, or written out):
# plain scalars, mappings and lists. Anything else could construct objects.
_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


# --- YAML with lines ---------------------------------------------------------------


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML file: plain data plus the 1-based line of every key and list item."""

    data: Any
    source: str
    lines: Mapping[tuple, int] = field(default_factory=dict, repr=False)

    def line_of(self, *keys) -> int:
        """The line of the deepest key or index along `keys` that exists (else the top)."""
        for n in range(len(keys), 0, -1):
            line = self.lines.get(tuple(keys[:n]))
            if line is not None:
                return line
        return self.lines.get((), 1)

    def get(self, *keys, default=None):
        """The value at `keys`, or `default` when any step is missing or of another shape."""
        node = self.data
        for key in keys:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return default
        return node


def relative_source(path: Path, root: Path | None) -> str:
    """`path` as the user knows it: relative to the workspace when it lies inside it."""
    path = Path(path)
    if root is not None:
        try:
            return path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def load_yaml(path: Path, root: Path | None = None) -> YamlDoc:
    """Parse one YAML file into plain data with lines; any tag or bad syntax is an IcmError."""
    path = Path(path)
    source = relative_source(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IcmError.at(source, None, "file not found") from None
    except UnicodeDecodeError:
        raise IcmError.at(source, None, "not a UTF-8 text file; save it as UTF-8") from None
    except OSError as exc:
        raise IcmError.at(source, None, f"cannot read the file: {exc.strerror}") from None
    return parse_yaml(text, source)


def parse_yaml(text: str, source: str) -> YamlDoc:
    """Parse YAML text (see `load_yaml`); `source` names it in messages."""
    yaml = YAML(typ="rt", pure=True)
    try:
        node = yaml.compose(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "cannot be parsed"
        raise IcmError.at(source, line, f"not valid YAML: {problem}") from None
    except YAMLError as exc:
        raise IcmError.at(source, None, f"not valid YAML: {exc}") from None
    lines: dict[tuple, int] = {}
    if node is None:
        return YamlDoc(None, source, lines)
    lines[()] = node.start_mark.line + 1
    data = _Builder(yaml.constructor, source, lines).build(node, ())
    return YamlDoc(data, source, lines)


@dataclass
class _Builder:
    """Walks the composed node tree: checks tags, builds plain data, records lines."""

    constructor: Any
    source: str
    lines: dict[tuple, int]

    def fail(self, node: Node, message: str) -> IcmError:
        return IcmError.at(self.source, node.start_mark.line + 1, message)

    def build(self, node: Node, path: tuple, depth: int = 0) -> Any:
        if depth > 100:
            raise self.fail(node, "nested too deeply (or a recursive alias); simplify the file")
        tag = str(node.tag)
        if tag == _CORE + "merge":
            raise self.fail(node, "merge keys (<<) are not supported; write the keys out")
        if tag not in _ALLOWED_TAGS:
            shown = "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag
            raise self.fail(node, f"tag '{shown}' is not allowed: a plan file holds plain data "
                                  "only (text, numbers, dates, lists, mappings); remove the tag")
        if isinstance(node, MappingNode):
            out: dict = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, path, depth + 1)
                if isinstance(key, dict | list):
                    raise self.fail(key_node, "a key must be a plain word, not a list or mapping")
                if key in out:
                    raise self.fail(key_node, f"duplicate key '{key}'; keep only one")
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, (*path, key), depth + 1)
            return out
        if isinstance(node, SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.lines[(*path, i)] = item.start_mark.line + 1
                items.append(self.build(item, (*path, i), depth + 1))
            return items
        assert isinstance(node, ScalarNode)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (ValueError, YAMLError):
            if tag == _CORE + "timestamp":
                raise self.fail(node, f"'{node.value}' is not a valid date; write dates as "
                                      "YYYY-MM-DD, e.g. 2026-04-01") from None
            raise self.fail(node, f"'{node.value}' cannot be read; quote it if it is text") \
                from None
        return _plain(value)


def _plain(value: Any) -> Any:
    """Ruamel's scalar subclasses -> int / float / str / bool / date / datetime / None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, value.hour, value.minute,
                        value.second, value.microsecond, value.tzinfo)
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    return str(value)


# --- plans ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSet:
    """Every plan of a workspace (in file-name order), its scenario files and plan inputs."""

    plans: dict[str, Plan]
    scenarios: tuple[Path, ...] = ()
    files: tuple[InputFile, ...] = ()


def is_scenario(data: Any) -> bool:
    """A scenario file has a top-level `alignment:` or `quotas:` and no `components:`."""
    if not isinstance(data, dict) or "components" in data:
        return False
    return "alignment" in data or "quotas" in data


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
        errors.append(_unknown_key(doc, ("source",), Plan))
        payload.pop("source")
    try:
        plan = Plan.model_validate(payload)
    except ValidationError as exc:
        found = [e for e in exc.errors() if e["loc"] or e["type"] != "value_error" or not errors]
        # (plan-level reference errors were already reported above, with their lines)
        errors.extend(translate_errors(doc, found, Plan))
        return None, _dedupe(errors)
    if errors:
        return None, _dedupe(errors)
    return plan.model_copy(update={"source": doc.source}), []


def _dedupe(errors: list[Located]) -> list[Located]:
    seen: dict[Located, None] = {}
    for e in errors:
        seen.setdefault(e, None)
    return sorted(seen, key=lambda e: e.line or 0)


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
                    f"id '{line_id}' of {_subject(doc, (section, i))} is reserved for register "
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
        f"{_subject(doc, loc)} refers to component '{wanted}', which this plan does not have"
        f"{_suggest(wanted, ids, 'the components are')}",
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
        raise IcmError(*_dedupe(translate_errors(doc, exc.errors(), Settings))) from None
    return Workspace(root=root, settings=settings)


# --- validation errors in the user's words --------------------------------------------

_EXAMPLES = {
    "id": "ae-2026", "name": "Account Executive FY2026",
    "components": "[{id: ..., commission: ...}]",
    "from": "100%", "rate": "8%", "tiers": "[{from: 0%, rate: 5%}]", "weight": "30%",
    "points": "[[0%, 0%], [100%, 100%]]", "component": "new_business", "min_attainment": "100%",
    "per": "quarter", "amount": "2000", "per_transaction": "250", "periods": "3",
    "window_days": "90", "where": "{product: Platform}", "factor": "1.5",
}
_SHAPES = {
    "tier": "{from: 100%, rate: 8%}", "component": "{id: new_business, commission: {tiers: [...]}}",
    "bonus": "{id: q_kicker, component: new_business, min_attainment: 100%, per: quarter, "
             "amount: 2000}",
    "SPIF": "{id: platform_spif, where: {product: Platform}, per_transaction: 250}",
    "multiplier": "{where: {product: Platform}, factor: 1.5}",
    "draw": "{amount: 3000, recoverable: true, periods: 3}", "clawback": "{window_days: 90}",
    "effective": "{from: 2026-01-01, to: 2026-12-31}",
    "gate": "{component: new_business, min_attainment: 50%}",
    "measure": "{where: {type: new}}", "commission": "{tiers: [{from: 0%, rate: 5%}]}",
    "payout_curve": "{weight: 30%, points: [[0%, 0%], [100%, 100%]]}",
}
_ITEM_NAMES = {"components": "component", "bonuses": "bonus", "spifs": "SPIF",
               "tiers": "tier", "points": "point", "multipliers": "multiplier"}


def translate_errors(doc: YamlDoc, errors: list, model: type[BaseModel]) -> list[Located]:
    """Pydantic's errors as user messages, without the echoes of an error already given.

    A misspelt key is reported once, as unknown with its suggestion, not also as the
    missing key it was meant to be; a list is not "too short" because an item failed.
    """
    suggested = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            container = _model_at(model, tuple(err["loc"][:-1]))
            names = _field_names(container) if container else []
            for name in difflib.get_close_matches(str(err["loc"][-1]), names, n=1, cutoff=0.6):
                suggested.add((*err["loc"][:-1], name))
    kept = []
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "missing" and loc in suggested:
            continue
        if err["type"] == "too_short" and isinstance(err.get("input"), list | tuple) and len(
                err["input"]) >= (err.get("ctx") or {}).get("min_length", 0):
            continue
        kept.append(translate_error(doc, err, model))
    return kept


def translate_error(doc: YamlDoc, err: Mapping[str, Any], model: type[BaseModel]) -> Located:
    """One pydantic error -> `Located` message naming the key, its container and the fix."""
    loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    line = doc.line_of(*loc)
    key = loc[-1] if loc else None
    parent = loc[:-1]
    where = _subject(doc, parent, model)
    value = doc.get(*loc)
    field_kind = _field_kind(model, loc)
    if "tiers" in loc and doc.get(*loc[:loc.index("tiers")], "basis") == "amount":
        field_kind = "amount"  # with basis: amount, a tier's `from` is a currency amount

    def at(message: str) -> Located:
        return Located(message, doc.source, line)

    if kind == "extra_forbidden":
        return _unknown_key(doc, loc, model)
    if kind == "missing":
        line = doc.line_of(*parent)
        if isinstance(key, int):  # a fixed-length list (a curve point) is too short
            what = _subject(doc, parent, model)
            if parent[-2:-1] == ("points",):
                return at(f"{what} must be a pair [attainment, payout], e.g. [100%, 100%]")
            return at(f"{what} needs more entries")
        example = _EXAMPLES.get(str(key))
        hint = f", e.g. {key}: {example}" if example else ""
        return at(f"missing key '{key}' in {where}; add it{hint}")
    if not isinstance(key, str):  # an item of a list: the whole item has the wrong shape
        what = _subject(doc, loc, model)
        if len(loc) > 2 and loc[-3] == "points" and field_kind == "percent":
            label = "attainment" if key == 0 else "payout"
            curve = _subject(doc, loc[:-2], model)
            return at(f"{label} {_show(value)} of point {loc[-2] + 1} in {curve} is not a "
                      "percentage; write it as 8% or 0.08")
        pair_error = kind in ("too_short", "too_long", "tuple_type", "list_type")
        if pair_error and parent[-1:] == ("points",):
            return at(f"{what} must be a pair [attainment, payout], e.g. [100%, 100%]")
        if kind in ("model_type", "dict_type", "model_attributes_type"):
            shape = _SHAPES.get(what.split(" ")[0])
            return at(f"{what} must be a mapping of keys" + (f" such as {shape}" if shape else ""))
        if field_kind in ("percent", "amount"):
            return at(_bad_number(what, value, field_kind, err))
        if kind == "value_error":
            return _value_error(doc, loc, where, err)
        return at(f"{what} is not valid: {_plain_text(err)}")
    name = f"{key} {_show(value)}" if _is_scalar(value) else f"'{key}'"
    if value is None:
        example = _EXAMPLES.get(key)
        hint = f", e.g. {key}: {example}" if example else ""
        return at(f"'{key}' in {where} is empty; give it a value{hint}")
    if kind == "literal_error":
        options = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return at(f"{_show(value)} is not allowed for '{key}' in {where}; use one of: {options}")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return at(_out_of_range(key, value, where, kind, ctx, field_kind))
    if field_kind in ("percent", "amount") and kind in (
            "value_error", "decimal_parsing", "decimal_type", "finite_number"):
        return at(_bad_number(f"{name} in {where}", value, field_kind, err))
    if kind.startswith("date_") or kind.startswith("datetime_"):
        return at(f"{name} in {where} is not a date; write it as YYYY-MM-DD, e.g. 2026-04-01")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        example = _EXAMPLES.get(key, "3")
        return at(f"{name} in {where} must be a whole number, e.g. {key}: {example}")
    if kind in ("bool_parsing", "bool_type"):
        return at(f"{name} in {where} must be true or false")
    if kind == "string_type":
        if not _is_scalar(value):
            return at(f"'{key}' in {where} must be text, not a list or mapping")
        quoted = _show(value).strip("'")
        return at(f"{name} in {where} must be text; put it in quotes, e.g. {key}: '{quoted}'")
    if kind in ("tuple_type", "list_type"):
        example = _EXAMPLES.get(key)
        hint = f", e.g. {key}: {example}" if example else ""
        return at(f"'{key}' in {where} must be a list{hint}")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        shape = _SHAPES.get(key)
        hint = f", e.g. {key}: {shape}" if shape else ""
        return at(f"'{key}' in {where} must be a mapping of keys{hint}")
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        item = _ITEM_NAMES.get(key, "entry")
        return at(f"'{key}' in {where} needs at least {n} {item}{'s' if n != 1 else ''}")
    if kind == "too_long":
        return at(f"'{key}' in {where} has too many entries (at most {ctx.get('max_length')})")
    if kind == "value_error":
        return _value_error(doc, loc, where, err)
    return at(f"'{key}' in {where} is not valid: {_plain_text(err)}")


def _unknown_key(doc: YamlDoc, loc: tuple, model: type[BaseModel]) -> Located:
    key = loc[-1]
    container = _model_at(model, loc[:-1])
    names = _field_names(container) if container else []
    where = _subject(doc, loc[:-1], model)
    if names:
        close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(names)})"
    else:
        hint = ""
    return Located(f"unknown key '{key}' in {where}{hint}", doc.source, doc.line_of(*loc))


def _value_error(doc: YamlDoc, loc: tuple, where: str, err: Mapping[str, Any]) -> Located:
    """Our validators' own sentences, placed on the line of the item they name."""
    text = _plain_text(err)
    line = doc.line_of(*loc)
    key = loc[-1] if loc else None
    if key in ("tiers", "points"):
        match = re.match(r"(?:the )?(first|tier|point) ?(\d+)?", text)
        if match:
            index = 0 if match.group(1) == "first" else int(match.group(2) or 1) - 1
            line = doc.line_of(*loc, index)
        return Located(f"{_subject(doc, loc[:-2])}: {text}", doc.source, line)
    joint = " " if text.startswith(("has ", "is ", "must ")) else ": "
    if isinstance(key, str) and _is_scalar(doc.get(*loc)):
        return Located(f"{key} {_show(doc.get(*loc))} in {where}{joint}{text}", doc.source, line)
    if isinstance(key, str) and doc.get(*loc) is not None:
        return Located(f"'{key}' in {where}{joint}{text}", doc.source, line)
    subject = _subject(doc, loc) if loc else "the plan"
    return Located(f"{subject}{joint}{text}", doc.source, line)


def _out_of_range(key, value, where: str, kind: str, ctx: Mapping, field_kind: str) -> str:
    words = {"greater_than": "more than", "greater_than_equal": "at least",
             "less_than": "less than", "less_than_equal": "at most"}[kind]
    limit = next(iter(ctx.values()), None)
    percent = field_kind == "percent"
    shown_limit = _percent(limit) if percent else str(limit)
    message = f"{key} {_show(value)} in {where} is out of range: it must be {words} {shown_limit}"
    bare_number = isinstance(value, int | float) and not isinstance(value, bool)
    if percent and bare_number and abs(value) > 1:
        message += f" (percentages are written {value}% or {Decimal(repr(value)) / 100})"
    return message


def _bad_number(what: str, value, field_kind: str, err: Mapping[str, Any]) -> str:
    if field_kind == "percent":
        return f"{what} is not a percentage; write it as 8% or 0.08"
    return f"{what} is not a number; write a plain number such as 2500 or 2500.50"


def _plain_text(err: Mapping[str, Any]) -> str:
    error = (err.get("ctx") or {}).get("error")
    if error is not None:
        return str(error)
    return str(err.get("msg", "")).removeprefix("Value error, ")


def _percent(value) -> str:
    if value is None:
        return "?"
    number = (Decimal(str(value)) * 100).normalize()
    return f"{number:f}%"


def _show(value) -> str:
    if isinstance(value, str):
        return f"'{value}'" if not value.strip().endswith("%") else value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "(empty)"
    return str(value)


def _is_scalar(value) -> bool:
    return not isinstance(value, dict | list)


def _suggest(wanted: str, options: list[str], listing: str) -> str:
    close = difflib.get_close_matches(wanted, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" ({listing}: {', '.join(options)})" if options else ""


def _subject(doc: YamlDoc, loc: tuple, model: type[BaseModel] = Plan) -> str:
    """The user's name for the thing at `loc`: tier 2, component 'renewals', draw, ..."""
    if not loc:
        return SETTINGS_FILE if model is Settings else "the plan"
    head = loc[-1]
    if isinstance(head, int):
        section = loc[-2] if len(loc) > 1 else ""
        item = _ITEM_NAMES.get(section, "item")
        item_id = doc.get(*loc, "id")
        if section in ("components", "bonuses", "spifs") and isinstance(item_id, str):
            return f"{item} '{item_id}'"
        if section in ("multipliers",):
            return f"{item} {head + 1} of {_subject(doc, loc[:-3], model)}"
        return f"{item} {head + 1}"
    if head in ("components", "bonuses", "spifs", "tiers", "points", "multipliers"):
        return _subject(doc, loc[:-1], model)
    if len(loc) == 1:
        return str(head)
    return f"{head} of {_subject(doc, loc[:-1], model)}"


# --- walking the models along a loc ----------------------------------------------------


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items() if name != "source"]


def _find_field(model: type[BaseModel], key) -> FieldInfo | None:
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f
    return None


def _unwrap(annotation):
    """Strip Optional and Annotated; returns (bare type, metadata list)."""
    metadata: list = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            args = typing.get_args(annotation)
            annotation, metadata = args[0], metadata + list(args[1:])
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation, metadata
            annotation = args[0]
        else:
            return annotation, metadata


def _step(annotation, key):
    """The annotation one step down `key` (a field of a model, or an index of a tuple)."""
    bare, _ = _unwrap(annotation)
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        f = _find_field(bare, key)
        return None if f is None else _with_meta(f)
    if typing.get_origin(bare) in (tuple, list) and isinstance(key, int):
        args = typing.get_args(bare)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        return args[key] if key < len(args) else None
    return None


def _with_meta(f: FieldInfo):
    return typing.Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation


def _annotation_at(model: type[BaseModel], loc: tuple):
    annotation: Any = model
    for key in loc:
        annotation = _step(annotation, key)
        if annotation is None:
            return None
    return annotation


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    annotation = _annotation_at(model, loc)
    bare, _ = _unwrap(annotation) if annotation is not None else (None, [])
    return bare if isinstance(bare, type) and issubclass(bare, BaseModel) else None


def _field_kind(model: type[BaseModel], loc: tuple) -> str:
    """'percent', 'amount' or 'other' for the value at `loc`."""
    annotation = _annotation_at(model, loc)
    if annotation is None:
        return "other"
    _, metadata = _unwrap(annotation)
    funcs = {getattr(m, "func", None) for m in metadata}
    if parse_percent in funcs:
        return "percent"
    if parse_amount in funcs:
        return "amount"
    return "other"
