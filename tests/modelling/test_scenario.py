"""Modelling scenario files: recognised as scenarios, variants merged, errors as file:line."""

from __future__ import annotations

from importlib import resources

import pytest

from compensation.errors import IcmError
from compensation.planfile import is_scenario, load_plan, load_plans, load_workspace
from modelling.scenario import load_scenario

AE = resources.files("plans").joinpath("demo", "ae.yaml").read_text(encoding="utf-8")


@pytest.fixture()
def ws(tmp_path):
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "ae.yaml").write_text(AE, encoding="utf-8")
    return load_workspace(tmp_path)


def scenario(ws, text: str):
    path = ws.root / "plans" / "model.yaml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path, ws, load_plans(ws).plans)


def test_model_files_are_scenarios_and_never_plans(ws):
    assert is_scenario({"model": {}})
    scenario(ws, "model:\n  candidates: [{name: now, plan: ae-2026}]\n")
    found = load_plans(ws)
    assert list(found.plans) == ["ae-2026"]
    assert [p.name for p in found.scenarios] == ["model.yaml"]


def test_variant_overrides_keys_by_id(ws):
    s = scenario(ws, """model:
  candidates:
    - {name: now, plan: ae-2026}
    - name: rich
      plan: ae-2026
      changes:
        target_incentive: 70000
        bonuses: []
        spifs: null
        components:
          - id: new_business
            commission:
              tiers: [{from: 0%, rate: 6%}, {from: 100%, rate: 12%}]
""")
    now, rich = (c.plan for c in s.candidates)
    assert [c.role for c in s.candidates] == ["ae-2026", "ae-2026"]
    assert [float(t.rate) for t in rich.component("new_business").commission.tiers] == [0.06, 0.12]
    assert rich.component("new_business").cap == now.component("new_business").cap  # untouched keys stay
    assert rich.component("renewals") == now.component("renewals")
    assert rich.bonuses == () and rich.spifs == () and len(now.bonuses) == 1
    assert int(rich.target_incentive) == 70000


def test_errors_name_the_scenario_line(ws):
    with pytest.raises(IcmError) as err:
        scenario(ws, "model:\n  draws: 10\n  sed: 4\n  candidates: [{name: now, plan: ae-2026}]\n")
    assert str(err.value) == ("plans/model.yaml:3: unknown key 'sed' in model (did you mean 'seed'?)")
    with pytest.raises(IcmError) as err:
        scenario(ws, "model:\n  candidates:\n    - {name: now, plan: ae-2025}\n")
    assert str(err.value).startswith("plans/model.yaml:3: candidate 'now': no plan with id 'ae-2025' (did you mean")


def test_variant_errors_point_at_the_changed_key(ws):
    text = """model:
  candidates:
    - name: bad
      plan: ae-2026
      changes:
        components:
          - id: new_business
            commission:
              tiers: [{from: 0%, rate: lots}]
"""
    with pytest.raises(IcmError) as err:
        scenario(ws, text)
    message = str(err.value)
    assert message.startswith("plans/model.yaml:9: candidate 'bad' (variant of ae-2026): ")
    assert "'lots'" in message


def test_quantiles_are_checked(ws):
    with pytest.raises(IcmError) as err:
        scenario(ws, """model:
  attainment:
    components:
      new_business: {quantiles: {10%: 120%, 90%: 80%}}
  candidates: [{name: now, plan: ae-2026}]
""")
    assert "plans/model.yaml:4:" in str(err.value)
    assert "must not fall" in str(err.value)


def test_plan_files_in_a_subfolder_are_candidates(ws):
    (ws.root / "plans" / "variants").mkdir()
    (ws.root / "plans" / "variants" / "fast.yaml").write_text(AE.replace("id: ae-2026", "id: ae-fast"))
    s = scenario(ws, "model:\n  candidates: [{name: fast, file: plans/variants/fast.yaml, role: ae-2026}]\n")
    assert s.candidates[0].plan.id == "ae-fast" and s.candidates[0].role == "ae-2026"
    assert list(load_plans(ws).plans) == ["ae-2026"]
    assert load_plan(ws.root / "plans" / "variants" / "fast.yaml").id == "ae-fast"
