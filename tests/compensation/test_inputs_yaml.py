"""compensation.yamlsafe: hostile YAML is refused quickly, with file:line (issue 15 defect 4)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from compensation import yamlsafe
from compensation.errors import IcmError
from compensation.planfile import is_scenario, load_plans
from compensation.settings import Settings, Workspace
from compensation.yamlsafe import parse_yaml


def alias_bomb(levels: int = 6, width: int = 9) -> str:
    """The 'billion laughs' plan: each level lists `width` aliases of the level below."""
    lines = ["id: bomb", "l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(20)
def test_alias_bomb_is_refused_fast_with_its_line(tmp_path: Path):
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "bomb.yaml").write_text(alias_bomb(), encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(IcmError) as caught:
        load_plans(Workspace(tmp_path, Settings()))
    assert time.perf_counter() - start < 3
    # Copies so far: l1 90, l2 819, l3 7,380; l4 (line 6) passes 10,000.
    assert str(caught.value) == (
        "plans/bomb.yaml:6: aliases (*name) copy more than 10,000 values into this file; "
        "write the repeated part out, or nest fewer aliases")


def test_aliases_within_the_bound_are_plain_copies_with_lines(monkeypatch):
    doc = parse_yaml("std: &std [{from: 0%, rate: 5%}]\nother: *std\n", "plans/a.yaml")
    assert doc.data == {"std": [{"from": "0%", "rate": "5%"}], "other": [{"from": "0%", "rate": "5%"}]}
    assert doc.data["std"] is not doc.data["other"]
    assert doc.line_of("other") == 2
    monkeypatch.setattr(yamlsafe, "MAX_ALIAS_VALUES", 50)
    big = "base: &b [" + ", ".join(["x"] * 49) + "]\ncopy: *b\n"  # the list and its 49 items
    assert len(parse_yaml(big, "plans/big.yaml").data["copy"]) == 49
    with pytest.raises(IcmError, match="plans/big.yaml:2: aliases"):
        parse_yaml(big.replace("x]", "x, y]"), "plans/big.yaml")


def test_long_lists_without_aliases_are_not_limited(monkeypatch):
    monkeypatch.setattr(yamlsafe, "MAX_ALIAS_VALUES", 50)
    text = "where: [" + ", ".join(f"A{i}" for i in range(200)) + "]\n"
    assert len(parse_yaml(text, "plans/a.yaml").data["where"]) == 200


@pytest.mark.timeout(20)
def test_five_thousand_nested_brackets_are_an_error_with_the_line(tmp_path: Path):
    (tmp_path / "plans").mkdir()
    text = "id: deep\nname: Deep\nl: " + "[" * 5000 + "]" * 5000 + "\n"
    (tmp_path / "plans" / "deep.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(IcmError) as caught:
        load_plans(Workspace(tmp_path, Settings()))
    assert str(caught.value) == (
        "plans/deep.yaml:3: nested more than 100 levels deep; a plan needs a handful: look for "
        "unclosed brackets or runaway indentation")


def test_deep_block_nesting_is_an_error_with_the_line():
    text = "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v\n"
    with pytest.raises(IcmError) as caught:
        parse_yaml(text, "plans/deep.yaml")
    assert str(caught.value).startswith("plans/deep.yaml:100: nested more than 100 levels deep")


def test_brackets_in_quoted_text_and_comments_do_not_count():
    text = "name: '" + "[" * 300 + "'\nnote: x  # " + "{" * 300 + "\n"
    assert parse_yaml(text, "plans/a.yaml").data == {"name": "[" * 300, "note": "x"}


def test_recursive_alias_is_an_error_not_a_recursion():
    with pytest.raises(IcmError) as caught:
        parse_yaml("a: &a [1, *a]\n", "plans/r.yaml")
    assert str(caught.value).startswith("plans/r.yaml:1: ")


@pytest.mark.parametrize("key", ["alignment", "quotas", "model"])
def test_scenario_files_are_recognised_by_their_top_level_key(key):
    assert is_scenario({key: {}, "name": "x"})
    assert not is_scenario({key: {}, "components": []})
    assert not is_scenario({"id": "x", "components": []})
