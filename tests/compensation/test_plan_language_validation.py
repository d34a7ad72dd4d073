"""Issue 16: every new plan key's mistakes are one `file:line: message`, with did-you-mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from compensation.planfile import load_yaml, plan_from_doc

HEAD = "id: ae\nname: AE\ncomponents:\n  - id: nb\n"
TIERS = "      tiers:\n        - {from: 0, rate: 1%}\n        - {from: 100%, rate: 2%}\n"
FLAT = "    commission: {tiers: [{from: 0, rate: 1%}]}\n"

CASES = {
    "amount_key_misspelt": (
        "    commission:\n      per: transaction\n      tiers:\n        - {from: 0, rate: 1%}\n"
        "        - {from: 1000, amout: 20}\n",
        "plans/ae.yaml:9: unknown key 'amout' in tier 2 (did you mean 'amount'?)"),
    "per_misspelt": (
        "    commission:\n      pre: transaction\n      tiers:\n        - {from: 0, rate: 1%}\n",
        "plans/ae.yaml:6: unknown key 'pre' in commission of component 'nb' (did you mean 'per'?)"),
    "per_value": (
        "    commission:\n      per: transactions\n      tiers:\n        - {from: 0, rate: 1%}\n",
        "plans/ae.yaml:6: 'transactions' is not allowed for 'per' in commission of component 'nb'; "
        "use one of: period, transaction"),
    "split_amounts_without_top": (
        "    commission:\n      per: transaction\n      method: split\n      tiers:\n"
        "        - {from: 0, amount: 10}\n        - {from: 1000, amount: 20}\n",
        "plans/ae.yaml:5: 'commission' in component 'nb': an amount table split across bands needs a top to "
        "its last band: add 'to' to tier 2, e.g. {from: 1000, to: ..., amount: 20}"),
    "rates_and_amounts_mixed": (
        "    commission:\n      per: transaction\n      tiers:\n        - {from: 0, amount: 10}\n"
        "        - {from: 1000, rate: 2%}\n",
        "plans/ae.yaml:9: component 'nb': tier 2 has 'rate' but tier 1 has 'amount': a table pays rates or "
        "fixed amounts, not both"),
    "rate_and_amount": (
        "    commission:\n      tiers:\n        - {from: 0, amount: 10, rate: 1%}\n",
        "plans/ae.yaml:7: tier 1: a tier pays either a 'rate' or a fixed 'amount', not both; keep one"),
    "to_before_last": (
        "    commission:\n      basis: amount\n      tiers:\n        - {from: 0, to: 500, rate: 1%}\n"
        "        - {from: 1000, rate: 2%}\n",
        "plans/ae.yaml:8: component 'nb': tier 1 has 'to' but is not the last tier: a tier ends where the "
        "next begins; only the last may have 'to'"),
    "band_by_cumulative": (
        "    commission:\n      band_by: quantity\n      tiers:\n        - {from: 0, rate: 1%}\n",
        "plans/ae.yaml:5: 'commission' in component 'nb': 'band_by' needs per: transaction (a cumulative "
        "table's band is chosen by the period's total)"),
    "per_transaction_on_attainment": (
        "    commission:\n      per: transaction\n      basis: attainment\n"
        "      tiers:\n        - {from: 0, rate: 1%}\n",
        "plans/ae.yaml:5: 'commission' in component 'nb': a per-transaction table chooses its band by "
        "the transaction's value, not by attainment; remove 'basis' (or write basis: amount)"),
    "hybrid_without_threshold": (
        "    commission:\n      method: hybrid\n" + TIERS,
        "plans/ae.yaml:5: 'commission' in component 'nb': method hybrid needs 'retroactive_to': the tier "
        "start up to which tiers are retroactive, e.g. retroactive_to: 100%"),
    "hybrid_threshold_not_a_tier": (
        "    commission:\n      method: hybrid\n      retroactive_to: 90%\n" + TIERS,
        "plans/ae.yaml:5: 'commission' in component 'nb': retroactive_to 90% is not the 'from' of a tier "
        "after the first; use one of: 100%"),
    "accelerator_not_a_tier": (
        "    commission:\n      accelerator: {from: 90%, min_attainment: 100%}\n" + TIERS,
        "plans/ae.yaml:5: 'commission' in component 'nb': the accelerator starts at 90%, which is not the "
        "'from' of a tier after the first; use one of: 100%"),
    "accelerator_key_misspelt": (
        "    commission:\n      accelerator: {from: 100%, min_atainment: 100%}\n" + TIERS,
        "plans/ae.yaml:6: unknown key 'min_atainment' in accelerator of commission of component 'nb' "
        "(did you mean 'min_attainment'?)"),
    "accelerator_component_missing": (
        "    commission:\n      accelerator: {from: 100%, min_attainment: 100%, component: nbb}\n" + TIERS,
        "plans/ae.yaml:6: accelerator of commission of component 'nb' refers to component 'nbb', which this "
        "plan does not have (did you mean 'nb'?)"),
    "weights_not_100": (
        "    quota_weights: {Q1: 20%, Q2: 20%, Q3: 20%, Q4: 30%}\n" + FLAT,
        "plans/ae.yaml:5: 'quota_weights' in component 'nb': the weights sum to 90%; they must sum to 100%"),
    "weights_key": (
        "    quota_weights: {Q1: 20%, Q2: 20%, Q3: 20%, Q5: 40%}\n" + FLAT,
        "plans/ae.yaml:5: 'quota_weights' in component 'nb': 'Q5' is not a quarter or a month (did you mean "
        "'Q4'?); weights are per quarter (Q1..Q4) or per month (jan..dec), not both"),
    "proration_value": (
        "    quota_proration: day\n" + FLAT,
        "plans/ae.yaml:5: 'day' is not allowed for 'quota_proration' in component 'nb'; use one of: none, "
        "days, months"),
    "proration_key_misspelt": (
        "    quota_prorate: days\n" + FLAT,
        "plans/ae.yaml:5: unknown key 'quota_prorate' in component 'nb' (did you mean 'quota_proration'?)"),
    "where_comparison_misspelt": (
        "    measure:\n      where:\n        amount: {'>==': 100}\n" + FLAT,
        "plans/ae.yaml:6: 'where' in measure of component 'nb': unknown comparison '>==' for column 'amount' "
        "(did you mean '>='?)"),
    "where_between_one_number": (
        "    measure:\n      where:\n        amount: {between: [100]}\n" + FLAT,
        "plans/ae.yaml:6: 'where' in measure of component 'nb': 'between' of the condition on 'amount' must "
        "be two numbers, e.g. between: [10, 50]"),
    "component_dates_swapped": (
        "    from: 2026-06-01\n    to: 2026-04-01\n" + FLAT,
        "plans/ae.yaml:4: component 'nb': 'to' (2026-04-01) is before 'from' (2026-06-01); swap them"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_new_key_mistakes_are_located_messages(tmp_path: Path, name: str):
    body, expected = CASES[name]
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "ae.yaml").write_text(HEAD + body)
    plan, errors = plan_from_doc(load_yaml(tmp_path / "plans" / "ae.yaml", tmp_path))
    assert plan is None
    assert [str(e) for e in errors] == [expected]


def test_a_valid_plan_with_every_new_key_loads(tmp_path: Path):
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "ae.yaml").write_text(HEAD + (
        "    from: 2026-04-01\n    to: 2026-06-30\n"
        "    quota_weights: {jan: 5%, feb: 5%, mar: 10%, apr: 5%, may: 5%, jun: 10%, jul: 5%, aug: 5%,"
        " sep: 10%, oct: 10%, nov: 10%, dec: 20%}\n"
        "    quota_proration: days\n"
        "    measure:\n      where:\n        amount: {'>=': 1000, '<': 50000}\n        product: {not_in: [Legacy]}\n"
        "        close_date: {from: 2026-01-01, to: 2026-12-31}\n"
        "    commission:\n      method: hybrid\n      retroactive_to: 100%\n"
        "      accelerator: {from: 100%, min_attainment: 100%}\n" + TIERS))
    plan, errors = plan_from_doc(load_yaml(tmp_path / "plans" / "ae.yaml", tmp_path))
    assert errors == []
    comp = plan.components[0]
    assert str(comp.measure.where["amount"]) == ">= 1000 and < 50000"
    assert comp.measure.where["product"].not_in == ("Legacy",)
    assert comp.quota_weights["dec"] == comp.quota_weights["nov"] * 2
    assert comp.accelerator_component == "nb" and plan.needs_quota("nb")
