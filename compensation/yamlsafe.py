"""Safe YAML: plain data with the line of every key, from text nobody has to trust.

A plan, scenario or settings file is parsed without ever running a tag (only plain
scalars, mappings and lists are allowed), and without letting the file make the parser
do unbounded work: nesting is limited, and aliases (`*name`) may not copy more than
`MAX_ALIAS_VALUES` values into the data (a 646-byte "billion laughs" file would otherwise
take gigabytes). Every refusal is an `IcmError` naming the file and line.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compensation.errors import IcmError

# A real plan nests a handful of levels and holds a few hundred values.
MAX_DEPTH = 100
MAX_ALIAS_VALUES = 10_000

# The only tags a file may carry (implicitly, as resolved by the parser, or written out):
# plain scalars, mappings and lists. Anything else could construct objects.
_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")
_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


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
        for inside, folder in ((path, Path(root)), (path.resolve(), Path(root).resolve())):
            try:  # as given first: a symlinked plans/ or data/ is still the workspace's
                return inside.relative_to(folder).as_posix()
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
    yaml.max_depth = MAX_DEPTH
    too_deep = (f"nested more than {MAX_DEPTH} levels deep; a plan needs a handful: "
                "look for unclosed brackets or runaway indentation")
    deep = _deep_line(text)  # the scanner would take seconds on thousands of brackets
    if deep is not None:
        raise IcmError.at(source, deep, too_deep)
    try:
        node = yaml.compose(io.StringIO(text))
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise IcmError.at(source, mark.line + 1 if mark else None, too_deep) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "cannot be parsed"
        raise IcmError.at(source, line, f"not valid YAML: {problem}") from None
    except YAMLError as exc:
        raise IcmError.at(source, None, f"not valid YAML: {_first_line(exc)}") from None
    except RecursionError:  # the scanner's own recursion, before any depth could be counted
        raise IcmError.at(source, _deep_line(text), too_deep) from None
    lines: dict[tuple, int] = {}
    if node is None:
        return YamlDoc(None, source, lines)
    lines[()] = node.start_mark.line + 1
    data = _Builder(yaml.constructor, source, lines).build(node, (), 0, lines[()])
    return YamlDoc(data, source, lines)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _deep_line(text: str) -> int | None:
    """The line where brackets first open more than MAX_DEPTH deep, if any.

    Quoted text and comments on a line are skipped; a file whose brackets never nest that
    deep costs one pass over its characters.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        for char in _QUOTED.sub("", line):
            if char == "#":
                break
            depth += (char in "[{") - (char in "]}")
            if depth > MAX_DEPTH:
                return number
    return None


@dataclass
class _Builder:
    """Walks the composed node tree: checks tags, builds plain data, records lines.

    Aliases share one node, so the tree is a graph: `seen` tells a node built before
    (an alias use) and `copied` counts the values that alias uses put in the data.
    """

    constructor: Any
    source: str
    lines: dict[tuple, int]
    seen: set[int] = field(default_factory=set)
    copied: int = 0
    alias_line: int | None = None  # where the outermost alias being expanded is used

    def fail(self, node: Node, message: str) -> IcmError:
        return IcmError.at(self.source, node.start_mark.line + 1, message)

    def build(self, node: Node, path: tuple, depth: int, line: int) -> Any:
        """Plain data for `node`, found at `line` of the file (its key's or item's line)."""
        if depth > MAX_DEPTH:
            raise self.fail(node, "nested too deeply (or a recursive alias); simplify the file")
        outermost = self.alias_line is None and id(node) in self.seen
        if outermost:
            self.alias_line = line
        self.seen.add(id(node))
        if self.alias_line is not None:
            self.copied += 1
            if self.copied > MAX_ALIAS_VALUES:
                raise IcmError.at(self.source, self.alias_line,
                                  f"aliases (*name) copy more than {MAX_ALIAS_VALUES:,} values "
                                  "into this file; write the repeated part out, or nest fewer "
                                  "aliases")
        value = self._value(node, path, depth, line)
        if outermost:
            self.alias_line = None
        return value

    def _value(self, node: Node, path: tuple, depth: int, line: int) -> Any:
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
                key_line = key_node.start_mark.line + 1
                key = self.build(key_node, path, depth + 1, key_line)
                if isinstance(key, dict | list):
                    raise self.fail(key_node, "a key must be a plain word, not a list or mapping")
                if key in out:
                    raise self.fail(key_node, f"duplicate key '{key}'; keep only one")
                self.lines[(*path, key)] = key_line
                out[key] = self.build(value_node, (*path, key), depth + 1, key_line)
            return out
        if isinstance(node, SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                # An alias item is its anchor's node, marked where the anchor is: say the list's line.
                item_line = line if id(item) in self.seen else item.start_mark.line + 1
                self.lines[(*path, i)] = item_line
                items.append(self.build(item, (*path, i), depth + 1, item_line))
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
