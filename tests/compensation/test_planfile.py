"""compensation.planfile: YAML with lines, plan and settings validation in the user's words."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from compensation.errors import IcmError
from compensation.plan import RESERVED_LINES, Plan
from compensation.planfile import (
    load_plan,
    load_plans,
    load_workspace,
    load_yaml,
)
from compensation.settings import Settings, Workspace

FIXTURES = Path(__file__).parent / "fixtures"

BASE = """\
id: ae
name: AE
components:
  - id: new_business
    commission:
      tiers:
        - {from: 0%, rate: 5%}
        - {from: 100%, rate: 8%}
"""


def write_plan(root: Path, text: str, name: str = "ae.yaml") -> Path:
    path = root / "plans" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(root: Path, text: str) -> str:
    path = write_plan(root, text)
    with pytest.raises(IcmError) as exc:
        load_plan(path, root)
    return str(exc.value)


def workspace(root: Path) -> Workspace:
    return Workspace(root=root, settings=Settings())


# --- the SPEC section 4 example -------------------------------------------------------


def test_spec_example_plan_loads_with_exact_values(tmp_path):
    path = write_plan(tmp_path, (FIXTURES / "spec_plan.yaml").read_text())
    plan = load_plan(path, tmp_path)
    assert plan.source == "plans/ae.yaml"
    assert (plan.id, plan.name, plan.currency) == ("ae-2026", "Account Executive FY2026", "EUR")
    assert plan.effective.from_ == date(2026, 1, 1) and plan.effective.to == date(2026, 12, 31)
    assert plan.target_incentive == Decimal("60000")
    nb, renewals = plan.components
    assert nb.measure.where == {"type": ("new", "expansion")}
    assert nb.measure.multipliers[0].where == {"product": ("Platform",)}
    assert nb.measure.multipliers[0].factor == Decimal("1.5")
    tiers = nb.commission.tiers
    assert [t.from_ for t in tiers] == [Decimal("0"), Decimal("1"), Decimal("1.5")]
    assert [t.rate for t in tiers] == [Decimal("0.05"), Decimal("0.08"), Decimal("0.10")]
    assert nb.cap == Decimal("150000")
    assert renewals.measure.value == "amount" and renewals.measure.credit == "direct"
    assert renewals.attainment_period == "quarter"
    assert renewals.payout_curve.weight == Decimal("0.3")
    assert renewals.payout_curve.points[3] == (Decimal("1.5"), Decimal("2"))
    assert renewals.payout_curve.cap == Decimal("2")
    assert renewals.gate.component == "new_business"
    assert renewals.gate.min_attainment == Decimal("0.5")
    bonus = plan.bonuses[0]
    assert (bonus.id, bonus.per, bonus.amount, bonus.min_attainment) == (
        "q_kicker", "quarter", Decimal("2000"), Decimal("1"))
    spif = plan.spifs[0]
    assert spif.per_transaction == Decimal("250")
    assert (spif.from_, spif.to) == (date(2026, 4, 1), date(2026, 6, 30))
    draw = plan.draw
    assert (draw.amount, draw.recoverable, draw.periods) == (Decimal("3000"), True, 3)
    assert plan.clawback.window_days == 90


def test_percent_forms_are_equal(tmp_path):
    as_percent = load_plan(write_plan(tmp_path, BASE), tmp_path)
    as_fraction = load_plan(write_plan(
        tmp_path, BASE.replace("5%", "0.05").replace("8%", "0.08").replace("100%", "1"), "b.yaml"),
        tmp_path)
    assert as_percent.components == as_fraction.components
    assert as_fraction.components[0].commission.tiers[1].rate == Decimal("0.08")


# --- load_yaml ------------------------------------------------------------------------


def test_load_yaml_plain_data_and_lines(tmp_path):
    path = tmp_path / "plans" / "x.yaml"
    path.parent.mkdir()
    path.write_text("a: 2026-04-01\nb:\n  - 1\n  - 0.08\n  - {c: '7', d: 8%}\n")
    doc = load_yaml(path, tmp_path)
    assert doc.source == "plans/x.yaml"
    assert doc.data == {"a": date(2026, 4, 1), "b": [1, 0.08, {"c": "7", "d": "8%"}]}
    assert [type(x) for x in doc.data["b"][:2]] == [int, float]
    assert type(doc.data) is dict and type(doc.data["b"]) is list
    assert doc.line_of("b", 2, "d") == 5
    assert doc.line_of("b", 1) == 4
    assert doc.line_of("b", 2, "missing", "deeper") == 5
    assert doc.line_of("nothing") == 1
    assert load_yaml(path).source == path.as_posix()


def test_python_tag_is_refused(tmp_path):
    text = "id: ae\nname: !!python/object/apply:os.system ['echo hi']\n"
    assert error_of(tmp_path, text) == (
        "plans/ae.yaml:2: tag '!!python/object/apply:os.system' is not allowed: a plan file "
        "holds plain data only (text, numbers, dates, lists, mappings); remove the tag")


def test_custom_tag_is_refused(tmp_path):
    assert error_of(tmp_path, BASE + "draw: !money 3000\n").startswith(
        "plans/ae.yaml:9: tag '!money' is not allowed")


def test_python_object_tag_on_mapping_is_refused(tmp_path):
    text = BASE + "clawback: !!python/object:collections.OrderedDict {window_days: 9}\n"
    assert error_of(tmp_path, text).startswith(
        "plans/ae.yaml:9: tag '!!python/object:collections.OrderedDict' is not allowed")


def test_unparseable_yaml_names_file_and_line(tmp_path):
    assert error_of(tmp_path, "id: [ae\nname: AE\n") == (
        "plans/ae.yaml:2: not valid YAML: expected ',' or ']', but got ':'")


def test_duplicate_key_is_an_error(tmp_path):
    assert error_of(tmp_path, BASE + "name: again\n") == (
        "plans/ae.yaml:9: duplicate key 'name'; keep only one")


def test_impossible_date_is_an_error(tmp_path):
    assert error_of(tmp_path, BASE + "effective: {from: 2026-13-01}\n") == (
        "plans/ae.yaml:9: '2026-13-01' is not a valid date; write dates as YYYY-MM-DD, "
        "e.g. 2026-04-01")


# --- plan errors ----------------------------------------------------------------------


def test_unknown_key_with_did_you_mean(tmp_path):
    text = BASE.replace("{from: 100%, rate: 8%}", "{from: 100%, rte: 8%}")
    assert error_of(tmp_path, text) == (
        "plans/ae.yaml:8: unknown key 'rte' in tier 2 (did you mean 'rate'?)")


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(tmp_path):
    # The plan's keys grow with the language: the message lists them as the model declares them.
    allowed = [f.alias or name for name, f in Plan.model_fields.items() if name != "source"]
    assert allowed[:11] == ["id", "name", "currency", "effective", "payout_frequency", "target_incentive",
                            "components", "bonuses", "spifs", "draw", "clawback"]
    assert error_of(tmp_path, BASE + "colour: blue\n") == (
        f"plans/ae.yaml:9: unknown key 'colour' in the plan (allowed: {', '.join(allowed)})")


def test_unknown_keys_are_named_in_their_container(tmp_path):
    text = """\
id: ae
name: AE
components:
  - id: renewals
    measure: {where: {type: renewal}, credt: team, multipliers: [{where: {a: b}, factr: 2}]}
    payout_curve: {weight: 30%, points: [[0%, 0%], [100%, 100%]], cpa: 200%}
    gate: {component: renewals, min_atainment: 50%}
bonuses:
  - {id: q_kicker, component: renewals, min_attainment: 100%, per: quarter, amount: 2000, pr: 1}
spifs:
  - {id: s1, per_transaction: 250, form: 2026-04-01}
draw: {amount: 3000, periods: 3, recoverabel: true}
"""
    assert error_of(tmp_path, text).splitlines() == [
        "plans/ae.yaml:5: unknown key 'factr' in multiplier 1 of component 'renewals' "
        "(did you mean 'factor'?)",
        "plans/ae.yaml:5: unknown key 'credt' in measure of component 'renewals' "
        "(did you mean 'credit'?)",
        "plans/ae.yaml:6: unknown key 'cpa' in payout_curve of component 'renewals' "
        "(did you mean 'cap'?)",
        "plans/ae.yaml:7: unknown key 'min_atainment' in gate of component 'renewals' "
        "(did you mean 'min_attainment'?)",
        "plans/ae.yaml:9: unknown key 'pr' in bonus 'q_kicker' (did you mean 'per'?)",
        "plans/ae.yaml:11: unknown key 'form' in SPIF 's1' (did you mean 'from'?)",
        "plans/ae.yaml:12: unknown key 'recoverabel' in draw (did you mean 'recoverable'?)",
    ]


def test_tiers_out_of_order(tmp_path):
    text = BASE.replace("{from: 100%, rate: 8%}", "{from: 0%, rate: 8%}")
    assert error_of(tmp_path, text) == (
        "plans/ae.yaml:8: component 'new_business': tier 2 starts at or below tier 1; "
        "order tiers by 'from'")


def test_tiers_not_starting_at_zero(tmp_path):
    text = BASE.replace("{from: 0%, rate: 5%}", "{from: 10%, rate: 5%}")
    assert error_of(tmp_path, text) == (
        "plans/ae.yaml:7: component 'new_business': the first tier must start at 0 (from: 0%)")


CURVE = """\
id: sdr
name: SDR
components:
  - id: meetings
    payout_curve:
      weight: {weight}
      points: [[0%, 0%], [100%, 100%]]
"""


def test_weight_out_of_range(tmp_path):
    assert error_of(tmp_path, CURVE.format(weight="130%")) == (
        "plans/ae.yaml:6: weight 130% in payout_curve of component 'meetings' is out of range: "
        "it must be at most 100%")


def test_weight_written_as_a_bare_number_above_one(tmp_path):
    assert error_of(tmp_path, CURVE.format(weight="30")) == (
        "plans/ae.yaml:6: weight 30 in payout_curve of component 'meetings' is out of range: "
        "it must be at most 100% (percentages are written 30% or 0.3)")


def test_weight_that_is_not_a_percentage(tmp_path):
    assert error_of(tmp_path, CURVE.format(weight="high")) == (
        "plans/ae.yaml:6: weight 'high' in payout_curve of component 'meetings' is not a "
        "percentage; write it as 8% or 0.08")


def test_rate_below_zero_and_bad_point(tmp_path):
    text = BASE.replace("rate: 8%", "rate: -8%") + (
        "  - id: r\n    payout_curve: {weight: 10%, points: [[0%, 0%], [50%]]}\n")
    assert error_of(tmp_path, text).splitlines() == [
        "plans/ae.yaml:8: rate -8% in tier 2 is out of range: it must be at least 0%",
        "plans/ae.yaml:10: point 2 must be a pair [attainment, payout], e.g. [100%, 100%]",
    ]


def test_gate_on_a_missing_component(tmp_path):
    text = BASE + "  - id: renewals\n    payout_curve: {weight: 30%, points: [[0, 0], [1, 1]]}\n" \
        "    gate: {component: new_busines, min_attainment: 50%}\n"
    assert error_of(tmp_path, text) == (
        "plans/ae.yaml:11: gate of component 'renewals' refers to component 'new_busines', "
        "which this plan does not have (did you mean 'new_business'?)")


def test_bonus_on_a_missing_component(tmp_path):
    text = BASE + "bonuses:\n  - id: kicker\n    component: renewals\n" \
        "    min_attainment: 100%\n    per: quarter\n    amount: 2000\n"
    assert error_of(tmp_path, text) == (
        "plans/ae.yaml:11: bonus 'kicker' refers to component 'renewals', which this plan does "
        "not have (the components are: new_business)")


def test_duplicate_ids_within_a_plan(tmp_path):
    text = BASE + "spifs:\n  - {id: new_business, per_transaction: 100}\n"
    assert error_of(tmp_path, text) == (
        "plans/ae.yaml:10: duplicate id 'new_business' (first used on line 4): component, bonus "
        "and SPIF ids must be unique within a plan; rename one")


def test_reserved_line_id(tmp_path):
    text = BASE + "bonuses:\n  - {id: draw, component: new_business, min_attainment: 1, " \
        "per: year, amount: 10}\n"
    assert RESERVED_LINES[:4] == ("adjustment", "recovery", "draw", "carry_forward")
    assert error_of(tmp_path, text) == (
        "plans/ae.yaml:10: id 'draw' of bonus 'draw' is reserved for register lines "
        f"({', '.join(RESERVED_LINES)}); choose another id")


def test_missing_required_keys(tmp_path):
    assert error_of(tmp_path, "currency: EUR\n").splitlines() == [
        "plans/ae.yaml:1: missing key 'id' in the plan; add it, e.g. id: ae-2026",
        "plans/ae.yaml:1: missing key 'name' in the plan; add it, e.g. name: Account Executive "
        "FY2026",
        "plans/ae.yaml:1: missing key 'components' in the plan; add it, e.g. components: "
        "[{id: ..., commission: ...}]",
    ]


def test_missing_key_in_a_tier(tmp_path):
    text = BASE.replace("{from: 100%, rate: 8%}", "{from: 100%}")
    assert error_of(tmp_path, text) == (
        "plans/ae.yaml:8: missing key 'rate' in tier 2; add it, e.g. rate: 8%")


def test_plan_id_with_bad_characters(tmp_path):
    assert error_of(tmp_path, BASE.replace("id: ae", "id: ae 2026", 1)) == (
        "plans/ae.yaml:1: id 'ae 2026' in the plan has characters that are not allowed; use only "
        "letters, digits, '.', '_' and '-'")


def test_component_needs_one_way_to_pay(tmp_path):
    assert error_of(tmp_path, BASE + "  - id: renewals\n    quota: r\n") == (
        "plans/ae.yaml:9: component 'renewals': a component needs exactly one of 'commission' "
        "or 'payout_curve'")


def test_bad_values_in_plain_words(tmp_path):
    text = BASE + """\
payout_frequency: weekly
draw: 3000
clawback: {window_days: ninety}
spifs:
  - {id: s1, per_transaction: 250, from: 2026-04-01, to: soon}
  - {id: s2, per_transaction: 250, from: 2026-04-01, to: 2026-03-01}
target_incentive: lots
currency: eur
"""
    message = error_of(tmp_path, text)
    assert message.splitlines() == [
        "plans/ae.yaml:9: 'weekly' is not allowed for 'payout_frequency' in the plan; use one of: "
        "monthly, quarterly",
        "plans/ae.yaml:10: 'draw' in the plan must be a mapping of keys, e.g. draw: "
        "{amount: 3000, recoverable: true, periods: 3}",
        "plans/ae.yaml:11: window_days 'ninety' in clawback must be a whole number, e.g. "
        "window_days: 90",
        "plans/ae.yaml:13: to 'soon' in SPIF 's1' is not a date; write it as YYYY-MM-DD, "
        "e.g. 2026-04-01",
        "plans/ae.yaml:14: SPIF 's2': 'to' (2026-03-01) is before 'from' (2026-04-01); swap them",
        "plans/ae.yaml:15: target_incentive 'lots' in the plan is not a number; write a plain "
        "number such as 2500 or 2500.50",
        "plans/ae.yaml:16: currency 'eur' in the plan is not a currency code; write three capital "
        "letters such as EUR or USD",
    ]
    assert "Input should" not in message and "pydantic" not in message


def test_plan_file_that_is_not_a_mapping(tmp_path):
    assert error_of(tmp_path, "- just\n- a list\n") == (
        "plans/ae.yaml:1: a plan file must be a mapping of keys (id, name, components, ...); "
        "start from a template made by `icm init`")


# --- load_plans -------------------------------------------------------------------------


def test_load_plans_in_file_name_order_with_inputs(tmp_path):
    write_plan(tmp_path, BASE.replace("id: ae", "id: zeta", 1), "a.yaml")
    write_plan(tmp_path, BASE.replace("id: ae", "id: alpha", 1), "b.yaml")
    plans = load_plans(workspace(tmp_path))
    assert list(plans.plans) == ["zeta", "alpha"]
    assert plans.plans["alpha"].source == "plans/b.yaml"
    first = plans.files[0]
    assert (first.name, first.path, first.rows) == ("plan:zeta", "plans/a.yaml", 8)
    raw = (tmp_path / "plans" / "a.yaml").read_bytes()
    assert first.sha256 == hashlib.sha256(raw).hexdigest()
    assert plans.scenarios == ()


def test_duplicate_plan_ids_across_files(tmp_path):
    write_plan(tmp_path, BASE, "a.yaml")
    write_plan(tmp_path, "# copy\n" + BASE, "b.yaml")
    with pytest.raises(IcmError) as exc:
        load_plans(workspace(tmp_path))
    assert str(exc.value) == (
        "plans/b.yaml:2: plan id 'ae' is also used by plans/a.yaml; give each plan its own id")


def test_errors_of_all_plan_files_are_reported_together(tmp_path):
    write_plan(tmp_path, BASE.replace("rate: 8%", "rte: 8%"), "a.yaml")
    write_plan(tmp_path, "id: [\n", "b.yaml")
    write_plan(tmp_path, BASE.replace("id: ae", "id: ok", 1), "c.yaml")
    write_plan(tmp_path, CURVE.format(weight="130%"), "d.yaml")
    with pytest.raises(IcmError) as exc:
        load_plans(workspace(tmp_path))
    assert [m.source for m in exc.value.messages] == [
        "plans/a.yaml", "plans/b.yaml", "plans/d.yaml"]
    assert str(exc.value.messages[0]) == (
        "plans/a.yaml:8: unknown key 'rte' in tier 2 (did you mean 'rate'?)")


def test_scenario_files_are_recognised_and_left_alone(tmp_path):
    write_plan(tmp_path, BASE, "ae.yaml")
    write_plan(tmp_path, "alignment:\n  objective: whatever\n  unknown: 1\n", "align.yaml")
    write_plan(tmp_path, "quotas: {year: 2027}\n", "q.yml")
    (tmp_path / "plans" / "notes.txt").write_text("not yaml: [")
    plans = load_plans(workspace(tmp_path))
    assert list(plans.plans) == ["ae"]
    assert [p.name for p in plans.scenarios] == ["align.yaml", "q.yml"]
    assert [f.name for f in plans.files] == ["plan:ae"]


def test_a_plan_with_alignment_and_components_is_a_plan(tmp_path):
    write_plan(tmp_path, BASE + "alignment: {}\n")
    with pytest.raises(IcmError, match=r"plans/ae.yaml:9: unknown key 'alignment' in the plan"):
        load_plans(workspace(tmp_path))


# --- load_workspace ---------------------------------------------------------------------


def test_missing_workspace(tmp_path):
    missing = tmp_path / "acme"
    with pytest.raises(IcmError) as exc:
        load_workspace(missing)
    assert str(exc.value) == f"no workspace at {missing}; create one with `icm init {missing}`"


def test_workspace_without_settings_uses_defaults(tmp_path):
    ws = load_workspace(tmp_path)
    assert ws.root == tmp_path and ws.settings == Settings()
    (tmp_path / "icm.yaml").write_text("# nothing set\n")
    assert load_workspace(tmp_path).settings == Settings()


def test_workspace_settings_are_read(tmp_path):
    (tmp_path / "icm.yaml").write_text(
        "base_currency: USD\nfiscal_year_start: 4\nlocale: it\nledger: sqlite:///db/icm.db\n")
    ws = load_workspace(tmp_path)
    assert (ws.settings.base_currency, ws.settings.fiscal_year_start, ws.settings.locale) == (
        "USD", 4, "it")
    assert ws.ledger_url == "sqlite:///" + str((tmp_path / "db" / "icm.db").resolve())


def test_workspace_settings_errors(tmp_path):
    (tmp_path / "icm.yaml").write_text(
        "base_curency: USD\nfiscal_year_start: 13\nlocale: fr\nrounding: [up]\n")
    with pytest.raises(IcmError) as exc:
        load_workspace(tmp_path)
    assert str(exc.value).splitlines() == [
        "icm.yaml:1: unknown key 'base_curency' in icm.yaml (did you mean 'base_currency'?)",
        "icm.yaml:2: fiscal_year_start 13 in icm.yaml is out of range: it must be at most 12",
        "icm.yaml:3: 'fr' is not allowed for 'locale' in icm.yaml; use one of: en, it",
        "icm.yaml:4: ['up'] is not allowed for 'rounding' in icm.yaml; use one of: half_up",
    ]


def test_example_plans_shipped_in_fixtures_are_independent_of_the_cwd(tmp_path, monkeypatch):
    shutil.copy(FIXTURES / "spec_plan.yaml", tmp_path / "ae.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_plan(Path("ae.yaml")).source == "ae.yaml"


def test_empty_values_points_and_text_in_plain_words(tmp_path):
    text = """\
id: 2026
name: [a, b]
components:
  - id: renewals
    payout_curve: {weight: 30%, points: [[0%, 0%], [100%, lots]]}
clawback: {window_days: }
"""
    message = error_of(tmp_path, text)
    assert message.splitlines() == [
        "plans/ae.yaml:1: id 2026 in the plan must be text; put it in quotes, e.g. id: '2026'",
        "plans/ae.yaml:2: 'name' in the plan must be text, not a list or mapping",
        "plans/ae.yaml:5: payout 'lots' of point 2 in payout_curve of component 'renewals' is "
        "not a percentage; write it as 8% or 0.08",
        "plans/ae.yaml:6: 'window_days' in clawback is empty; give it a value, e.g. "
        "window_days: 90",
    ]


def test_a_symlinked_plans_folder_is_still_named_inside_the_workspace(tmp_path):
    shared = tmp_path / "shared"  # plans kept elsewhere and linked in, as teams share them
    write_plan(shared, BASE)
    root = tmp_path / "ws"
    root.mkdir()
    (root / "plans").symlink_to(shared / "plans", target_is_directory=True)
    plans = load_plans(workspace(root))
    assert [(f.name, f.path) for f in plans.files] == [("plan:ae", "plans/ae.yaml")]
