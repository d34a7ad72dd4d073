"""Issue 16 arithmetic: per-transaction tables, hybrid tiers, quota weights and proration, conditions."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from compensation import cycle
from compensation.measure import quotas_for, where_mask
from compensation.periods import Calendar
from compensation.plan import Commission, Component, Plan
from compensation.proration import QuotaSplit, month_presence
from compensation.rate_tables import transaction_earning
from compensation.tiers import commission

BANDS = [{"from": 0, "rate": "1%"}, {"from": 1000, "rate": "2%"}, {"from": 3000, "rate": "3%"},
         {"from": 8000, "rate": "5%"}]


def per_txn(**extra) -> Commission:
    return Commission.model_validate({"per": "transaction", "tiers": BANDS, **extra})


def earn(rule: Commission, value: str, *, band=None, share=1.0, num=1.0, den=1.0) -> Decimal:
    """Exact cents one credit of `value` (currency) earns."""
    cents = int(Decimal(value) * 100)
    return transaction_earning(cents, float(Decimal(value)) if band is None else band, share, num, den, rule)


def test_split_across_bands_each_transaction_on_its_own():
    rule = per_txn(method="split")
    assert [earn(rule, v) for v in ("200", "1500", "4500")] == [Decimal(200), Decimal(2000), Decimal(9500)]


def test_the_same_table_cumulatively_on_the_quarter_total():
    rule = Commission.model_validate({"method": "marginal", "basis": "amount", "tiers": BANDS})
    assert commission(np.array([620000]), np.array([np.nan]), rule).tolist() == [14600]


def test_step_pays_the_band_rate_on_the_whole_value():
    rule = per_txn(method="step")
    assert [earn(rule, v) for v in ("999.99", "1000", "8000")] == [Decimal("999.99"), Decimal(2000),
                                                                   Decimal(40000)]


def test_amount_tables_step_and_split_with_a_top():
    step = per_txn(tiers=[{"from": 0, "amount": 0}, {"from": 10000, "amount": 500}])
    assert earn(step, "9999.99") == 0 and earn(step, "10000") == 50000
    split = per_txn(method="split", band_by="quantity",
                    tiers=[{"from": 0, "amount": 100}, {"from": 10, "to": 30, "amount": 400}])
    # 100 x 10/10 + 400 x 15/20; above the top the last band pays nothing more.
    assert earn(split, "1", band=25.0) == 40000 and earn(split, "1", band=99.0) == 50000
    assert earn(split, "1", band=25.0, share=0.4) == 16000


def test_a_partial_cancellation_reverses_its_share_of_the_original():
    rule = per_txn(method="split")
    original = earn(rule, "4500")
    assert original == 9500 and earn(rule, "4500", num=-2250.0, den=4500.0) == -4750
    third = earn(rule, "4500", num=-1500.0, den=4500.0)
    assert third.quantize(Decimal("0.000001")) == Decimal("-3166.666667")


def test_open_top_step_amount_table_pays_its_amount():
    rule = per_txn(tiers=[{"from": 0, "amount": 10}, {"from": 1000, "amount": 20}])
    assert earn(rule, "1000000") == 2000


def test_hybrid_is_retroactive_below_the_threshold_and_marginal_above():
    rule = Commission.model_validate({"method": "hybrid", "retroactive_to": "100%", "tiers": [
        {"from": "0%", "rate": "2%"}, {"from": "50%", "rate": "4%"}, {"from": "100%", "rate": "6%"},
        {"from": "150%", "rate": "8%"}]})
    credited = np.array([4_000_000, 8_000_000, 12_000_000, 16_000_000, -1_000_000])
    earned = commission(credited, np.full(5, 10_000_000.0), rule)
    assert earned.tolist() == [80_000, 320_000, 520_000, 780_000, -20_000]


def test_decelerated_table_pays_the_rate_below_the_threshold():
    rule = Commission.model_validate({"method": "marginal", "accelerator": {"from": "100%", "min_attainment": 1},
                                      "tiers": [{"from": 0, "rate": "5%"}, {"from": 1, "rate": "6%"},
                                                {"from": "125%", "rate": "7%"}]})
    flat = rule.decelerated()
    assert [t.rate for t in flat.tiers] == [Decimal("0.05")] * 3 and flat.accelerator is None
    assert commission(np.array([15_000_000]), np.array([10_000_000.0]), flat).tolist() == [750_000]
    assert commission(np.array([15_000_000]), np.array([10_000_000.0]), rule).tolist() == [825_000]


def _component(**extra) -> Component:
    return Component.model_validate({"id": "nb", "commission": {"tiers": [{"from": 0, "rate": "1%"}]}, **extra})


def _requests(periods):
    return pd.DataFrame({"rep_id": "A", "quota_key": "nb", "attainment_period": periods})


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=10**13))
def test_even_weights_reproduce_the_even_split_exactly(cents):
    calendar = Calendar()
    quotas = pd.DataFrame({"rep_id": ["A"], "component": ["nb"], "period": ["2026"], "amount": [cents / 100]})
    periods = ["2026-Q1", "2026-Q3", "2026-01", "2026-11", "2026"]
    even = quotas_for(_requests(periods), quotas, calendar)
    for weights in ({"Q1": "25%", "Q2": "25%", "Q3": "25%", "Q4": "25%"}, None):
        comp = _component(quota_weights=weights)
        split = QuotaSplit(comp, calendar, {})
        assert quotas_for(_requests(periods), quotas, calendar, share=split.share).tolist() == even.tolist()


def test_weights_split_a_year_row_and_months_take_a_third_of_their_quarter():
    calendar = Calendar()
    comp = _component(quota_weights={"Q1": "20%", "Q2": "20%", "Q3": "20%", "Q4": "40%"})
    quotas = pd.DataFrame({"rep_id": ["A"], "component": ["nb"], "period": ["2026"], "amount": [100000.0]})
    got = quotas_for(_requests(["2026-Q4", "2026-12", "2026"]), quotas, calendar,
                     share=QuotaSplit(comp, calendar, {}).share)
    assert got.tolist() == [4_000_000.0, 4_000_000 / 3, 10_000_000.0]


def test_proration_by_months_uses_the_fifteenth_and_by_days_counts_days():
    from datetime import date
    start_16 = [(date(2026, 3, 16), date(2262, 1, 1))]
    assert month_presence(start_16, 2026 * 12 + 2, "months") == 0
    assert month_presence([(date(2026, 3, 15), date(2262, 1, 1))], 2026 * 12 + 2, "months") == 1
    assert month_presence(start_16, 2026 * 12 + 2, "days") == Fraction(16, 31)
    calendar = Calendar()
    comp = _component(quota_weights={"Q1": "20%", "Q2": "20%", "Q3": "20%", "Q4": "40%"}, quota_proration="months")
    split = QuotaSplit(comp, calendar, {"A": [(date(2026, 3, 1), date(2262, 1, 1))]})
    assert split.share("A", 2026 * 12, 2026 * 12 + 11, 2026 * 12, 2026 * 12 + 11) == Fraction(13, 15)
    assert split.presence("A", 2026 * 12, 2026 * 12 + 2) == Fraction(1, 3)


def test_conditions_compare_numbers_dates_and_lists():
    frame = pd.DataFrame({
        "amount": [500.0, 1000.0, 49999.99, 50000.0, np.nan],
        "product": ["Platform", "Legacy", None, "Platform", "Add-on"],
        "close_date": ["2026-03-31", "2026-04-01", "2026-06-30", "2026-07-01", "not a date"],
    })
    comp = Component.model_validate({"id": "x", "commission": {"tiers": [{"from": 0, "rate": "1%"}]}, "measure": {
        "where": {"amount": {">=": 1000, "<": 50000}}}})
    assert where_mask(frame, comp.measure.where).tolist() == [False, True, True, False, False]
    window = Component.model_validate({**comp.model_dump(by_alias=True), "measure": {"where": {
        "close_date": {"from": "2026-04-01", "to": "2026-06-30"}, "product": {"not_in": ["Legacy"]}}}})
    assert where_mask(frame, window.measure.where).tolist() == [False, False, True, False, False]
    between = Component.model_validate({**comp.model_dump(by_alias=True), "measure": {"where": {
        "amount": {"between": [500, 1000]}, "product": {"in": ["Platform", "Legacy"]}}}})
    assert where_mask(frame, between.measure.where).tolist() == [True, True, False, False, False]


def test_a_plan_with_conditions_is_stored_and_loaded_back_the_same():
    plan = Plan.model_validate({"id": "p", "name": "P", "components": [{
        "id": "nb", "from": "2026-04-01", "quota_weights": {"Q1": "10%", "Q2": "20%", "Q3": "30%", "Q4": "40%"},
        "measure": {"where": {"amount": {">": 10, "<=": "20.5"}, "d": {"from": "2026-01-01"}, "t": ["a", "b"]}},
        "commission": {"per": "transaction", "method": "split", "tiers": [
            {"from": 0, "amount": 1}, {"from": 10, "to": 20, "amount": 2}]}}]})
    stored = json.loads(json.dumps(plan.model_dump(mode="json", by_alias=True)))
    assert Plan.model_validate(stored) == plan


def _workspace(root: Path, plan: str, transactions: str, quotas: str = "") -> Path:
    (root / "plans").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "plans" / "p.yaml").write_text(plan)
    (root / "data" / "reps.csv").write_text("rep_id,name,plan,start_date,end_date\nA,Ann,p,2026-01-01,\n")
    (root / "data" / "transactions.csv").write_text("txn_id,date,amount,currency,rep_id,type\n" + transactions)
    if quotas:
        (root / "data" / "quotas.csv").write_text("rep_id,component,period,amount\n" + quotas)
    return root


def _earned(result, line: str) -> int:
    lp = result.line_periods
    return int(lp.loc[lp["line"] == line, "earned_to_date"].sum())


def test_per_transaction_earnings_are_exact_and_rounded_once(tmp_path):
    plan = ("id: p\nname: P\ncomponents:\n  - id: deals\n    commission:\n      per: transaction\n"
            "      tiers: [{from: 0, rate: 0.5%}]\n")
    txns = "".join(f"T{i},2026-01-1{i},1.01,EUR,A,new\n" for i in range(3))  # 0.00505 each: 0.01515 in all
    result = cycle.dry_run(_workspace(tmp_path, plan, txns), "2026-01")
    assert _earned(result, "deals") == 2


def test_accelerator_on_another_component_over_its_period(tmp_path):
    plan = ("id: p\nname: P\ncomponents:\n  - id: renewals\n    attainment_period: quarter\n"
            "    measure: {where: {type: renewal}}\n"
            "    commission: {tiers: [{from: 0, rate: 1%}]}\n"
            "  - id: new_business\n    attainment_period: quarter\n    measure: {where: {type: new}}\n"
            "    commission:\n      method: marginal\n"
            "      accelerator: {from: 100%, min_attainment: 50%, over: period, component: renewals}\n"
            "      tiers: [{from: 0, rate: 5%}, {from: 100%, rate: 10%}]\n")
    quotas = "A,renewals,2026-Q1,10000\nA,new_business,2026-Q1,10000\n"
    low = _workspace(tmp_path / "low", plan, "T1,2026-01-10,12000,EUR,A,new\nT2,2026-01-11,4999.99,EUR,A,renewal\n",
                     quotas)
    high = _workspace(tmp_path / "high", plan, "T1,2026-01-10,12000,EUR,A,new\nT2,2026-01-11,5000,EUR,A,renewal\n",
                      quotas)
    assert _earned(cycle.dry_run(low, "2026-01"), "new_business") == 60_000
    assert _earned(cycle.dry_run(high, "2026-01"), "new_business") == 70_000


def test_a_cancellation_in_another_currency_month_reverses_exactly_what_its_original_earned(tmp_path):
    plan = ("id: p\nname: P\ncomponents:\n  - id: deals\n    commission:\n      per: transaction\n"
            "      tiers: [{from: 0, rate: 1%}, {from: 1150, rate: 2%}]\n")
    txns = "T1,2026-01-10,1000,GBP,A,new\n"
    root = _workspace(tmp_path, plan, txns)
    (root / "data" / "fx.csv").write_text("period,currency,rate\n2026-01,GBP,1.10\n2026-02,GBP,1.20\n")
    assert _earned(cycle.dry_run(root, "2026-01"), "deals") == 1_100  # 1,100.00 EUR x 1%
    with (root / "data" / "transactions.csv").open("a") as f:
        f.write("T2,2026-02-10,-1000,GBP,A,cancellation\n")
    text = (root / "data" / "transactions.csv").read_text().replace("type\n", "type,reverses\n")
    (root / "data" / "transactions.csv").write_text(text.replace("A,new\n", "A,new,\n").replace(
        "A,cancellation\n", "A,cancellation,T1\n"))
    result = cycle.dry_run(root, "2026-02")
    lp = result.line_periods
    assert int(lp.loc[lp["line"] == "deals", "credited"].sum()) == -10_000  # 1,100 - 1,200 credited
    assert _earned(result, "deals") == 0  # the 1% band of the original, at January's rate


def test_a_band_by_cell_that_is_not_a_number_holds_the_rep(tmp_path):
    plan = ("id: p\nname: P\ncomponents:\n  - id: units\n    commission:\n      per: transaction\n"
            "      band_by: quantity\n      tiers: [{from: 0, amount: 10}, {from: 5, amount: 50}]\n")
    root = _workspace(tmp_path, plan, "")
    (root / "data" / "transactions.csv").write_text(
        "txn_id,date,amount,currency,rep_id,type,quantity\nT1,2026-01-10,100,EUR,A,new,7\nT2,2026-01-11,100,EUR,A,new,\n")
    result = cycle.dry_run(root, "2026-01")
    holds = result.exceptions[result.exceptions["severity"] == "hold"]
    assert holds[["txn_id", "rep_id", "reason"]].values.tolist() == [[
        "T2", "A", "'quantity' is not a number, and it chooses the band of component 'units'; fill in the column"]]
    assert result.register.empty


def test_a_late_deal_that_meets_the_accelerator_condition_pays_in_the_next_open_month(tmp_path):
    plan = ("id: p\nname: P\ncomponents:\n  - id: nb\n    attainment_period: quarter\n    commission:\n"
            "      method: marginal\n      tiers: [{from: 0%, rate: 5%}, {from: 100%, rate: 6%}]\n"
            "      accelerator: {from: 100%, min_attainment: 100%}\n")
    quotas = "A,nb,2026-Q1,100000\nA,nb,2026-Q2,100000\nA,nb,2026-Q3,100000\n"
    root = _workspace(tmp_path, plan, "T1,2026-02-10,80000,EUR,A,new\nT2,2026-05-10,115000,EUR,A,new\n", quotas)
    june = cycle.run(root, "2026-06").result.register
    # Year to date 195,000 against 200,000: Q2's 15,000 above quota pays 5%.
    assert june.loc[june["line"] == "nb", "amount"].tolist() == [4_000_00 + 5_750_00]
    cycle.close(root, "2026-06")
    with (root / "data" / "transactions.csv").open("a") as f:
        f.write("T3,2026-03-20,10000,EUR,A,new\n")  # late, into the closed Q1
    july = cycle.run(root, "2026-07").result.register
    # Q1 +500; Q2 now 205,000 against 200,000: 5,000 + 900 = 5,900, +150 on what June paid.
    assert july.loc[july["line"] == "nb", "amount"].tolist() == [500_00 + 150_00]
