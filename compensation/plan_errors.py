"""Pydantic validation errors in the user's words: `file:line: message`, with the fix.

`translate_errors` turns what pydantic reports against `compensation.plan` or
`compensation.settings` models into one `Located` message per problem, naming the key
by the user's names for things (tier 2, component 'renewals', the draw), with an example
of what is valid and "did you mean" for a misspelt key. Scenario files use it too.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from compensation.errors import Located
from compensation.plan import Plan, parse_amount, parse_percent
from compensation.settings import Settings
from compensation.yamlsafe import YamlDoc

SETTINGS_FILE = "icm.yaml"


def dedupe(errors: list[Located]) -> list[Located]:
    """Each message once, in line order."""
    seen: dict[Located, None] = {}
    for e in errors:
        seen.setdefault(e, None)
    return sorted(seen, key=lambda e: e.line or 0)


_EXAMPLES = {
    "id": "ae-2026", "name": "Account Executive FY2026",
    "components": "[{id: ..., commission: ...}]",
    "from": "100%", "rate": "8%", "tiers": "[{from: 0%, rate: 5%}]", "weight": "30%",
    "points": "[[0%, 0%], [100%, 100%]]", "component": "new_business", "min_attainment": "100%",
    "per": "quarter", "amount": "2000", "per_transaction": "250", "periods": "3",
    "window_days": "90", "where": "{product: Platform}", "factor": "1.5",
    "retroactive_to": "100%", "band_by": "quantity", "quota_proration": "months",
    "quota_weights": "{Q1: 20%, Q2: 20%, Q3: 20%, Q4: 40%}",
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
    "accelerator": "{from: 100%, min_attainment: 100%}",
    "quota_weights": "{Q1: 20%, Q2: 20%, Q3: 20%, Q4: 40%}",
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
    where = subject(doc, parent, model)
    value = doc.get(*loc)
    field_kind = _field_kind(model, loc)
    if "tiers" in loc and loc[-1] != "tiers" and doc.get(*loc[:loc.index("tiers")], "basis") == "amount":
        field_kind = "amount"  # with basis: amount, a tier's `from` is a currency amount

    def at(message: str) -> Located:
        return Located(message, doc.source, line)

    if kind == "extra_forbidden":
        return unknown_key(doc, loc, model)
    if kind == "missing":
        line = doc.line_of(*parent)
        if isinstance(key, int):  # a fixed-length list (a curve point) is too short
            what = subject(doc, parent, model)
            if parent[-2:-1] == ("points",):
                return at(f"{what} must be a pair [attainment, payout], e.g. [100%, 100%]")
            return at(f"{what} needs more entries")
        example = _EXAMPLES.get(str(key))
        hint = f", e.g. {key}: {example}" if example else ""
        return at(f"missing key '{key}' in {where}; add it{hint}")
    if not isinstance(key, str):  # an item of a list: the whole item has the wrong shape
        what = subject(doc, loc, model)
        if len(loc) > 2 and loc[-3] == "points" and field_kind == "percent":
            label = "attainment" if key == 0 else "payout"
            curve = subject(doc, loc[:-2], model)
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


def unknown_key(doc: YamlDoc, loc: tuple, model: type[BaseModel]) -> Located:
    """`unknown key 'rte' in tier 2 (did you mean 'rate'?)`, or the allowed keys."""
    key = loc[-1]
    container = _model_at(model, loc[:-1])
    names = _field_names(container) if container else []
    where = subject(doc, loc[:-1], model)
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
        return Located(f"{subject(doc, loc[:-2])}: {text}", doc.source, line)
    joint = " " if text.startswith(("has ", "is ", "must ")) else ": "
    if isinstance(key, str) and _is_scalar(doc.get(*loc)):
        return Located(f"{key} {_show(doc.get(*loc))} in {where}{joint}{text}", doc.source, line)
    if isinstance(key, str) and doc.get(*loc) is not None:
        return Located(f"'{key}' in {where}{joint}{text}", doc.source, line)
    who = subject(doc, loc) if loc else "the plan"
    return Located(f"{who}{joint}{text}", doc.source, line)


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


def suggest(wanted: str, options: list[str], listing: str) -> str:
    """` (did you mean 'x'?)` for a near miss, else the options listed."""
    close = difflib.get_close_matches(wanted, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" ({listing}: {', '.join(options)})" if options else ""


def subject(doc: YamlDoc, loc: tuple, model: type[BaseModel] = Plan) -> str:
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
            return f"{item} {head + 1} of {subject(doc, loc[:-3], model)}"
        return f"{item} {head + 1}"
    if head in ("components", "bonuses", "spifs", "tiers", "points", "multipliers"):
        return subject(doc, loc[:-1], model)
    if len(loc) == 1:
        return str(head)
    return f"{head} of {subject(doc, loc[:-1], model)}"


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
