import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compensation.errors import IcmError
from compensation.periods import Calendar
from territories.outputs import quotas_csv
from territories.quotas import allocate, largest_remainder
from territories.scenario import QuotaScenario

from .conftest import make_accounts, make_reps


def quota(**kw) -> QuotaScenario:
    kw.setdefault("year", 2027)
    kw.setdefault("target", 1000)
    kw.setdefault("components", {"new_business": "100%"})
    return QuotaScenario.model_validate(kw)


def book():
    accounts = make_accounts([100, 200, 300, 400], ["A", "B", "C", "C"],
                             last_year=[50, 150, 100, 100])
    reps = make_reps(["A", "B", "C"])
    return reps, accounts


def totals(result):
    return result.quotas.groupby("rep_id")["amount_cents"].sum().to_dict()


def test_potential_shares_sum_exactly_with_over_assignment():
    reps, accounts = book()
    result = allocate(reps, accounts, accounts["rep_id"], quota(over_assignment="10%"))
    # 1,100.00 over potential 100/200/700
    assert totals(result) == {"A": 11000, "B": 22000, "C": 77000}
    assert result.total_cents == 110000


def test_largest_remainder_to_the_cent():
    reps, accounts = book()
    accounts = accounts.assign(potential=[1.0, 1.0, 1.0, 0.0])
    result = allocate(reps, accounts, accounts["rep_id"], quota(target=100))
    # 100.00 / 3: 33.34 + 33.33 + 33.33, the first remainder (tie) goes to the first rep
    assert totals(result) == {"A": 3334, "B": 3333, "C": 3333}


def test_history_and_blend():
    reps, accounts = book()
    hist = allocate(reps, accounts, accounts["rep_id"], quota(method="history"))
    assert totals(hist) == {"A": 12500, "B": 37500, "C": 50000}
    blend = allocate(reps, accounts, accounts["rep_id"],
                     quota(method="blend", blend={"potential": "60%", "history": "40%"}))
    # A: 0.6 * 0.1 + 0.4 * 0.125 = 0.11; B: 0.6 * 0.2 + 0.4 * 0.375 = 0.27; C: 0.62
    assert totals(blend) == {"A": 11000, "B": 27000, "C": 62000}


def test_optimise_respects_max_change_and_follows_potential():
    reps, accounts = book()
    accounts = accounts.assign(last_year=[50, 150, 0, 0])  # C's territory is new
    result = allocate(reps, accounts, accounts["rep_id"],
                      quota(method="optimise", max_change="30%", target=1000))
    # potential says A 100 and B 200, but last year's bookings cap them at 65 and 195
    # (+30%); C, with no history, takes the rest
    assert totals(result) == {"A": 6500, "B": 19500, "C": 74000}
    without = allocate(reps, accounts, accounts["rep_id"], quota(method="optimise"))
    assert totals(without) == {"A": 10000, "B": 20000, "C": 70000}


def test_optimise_max_change_infeasible():
    reps, accounts = book()
    with pytest.raises(IcmError, match="max_change 10% is infeasible: last year's bookings "
                                       "allow quotas between 360.00 and 440.00 in total, but "
                                       "the target with over-assignment is 1,000.00"):
        allocate(reps, accounts, accounts["rep_id"], quota(method="optimise", max_change="10%"))


def test_seasonality_components_and_ramp():
    reps, accounts = book()
    reps = reps.assign(start_date=pd.to_datetime(["2020-01-01", "2027-04-15", "2020-01-01"]))
    sc = quota(target=1000, components={"new_business": "70%", "renewals": "30%"},
               seasonality={"Q1": "20%", "Q2": "25%", "Q3": "25%", "Q4": "30%"},
               ramp=["50%"])
    result = allocate(reps, accounts, accounts["rep_id"], sc)
    q = result.quotas
    assert q["amount_cents"].sum() == 100000
    b = q[q["rep_id"] == "B"]
    # B starts in April at 50%: Q1 nothing, April half a month
    assert b.loc[b["period"] == "2027-Q1", "amount_cents"].tolist() == [0, 0]
    # B works 25%/3*(0.5+1+1) + 25% + 30% = 75.8333% of the year: 200 -> 151.67
    assert b["amount_cents"].sum() == 15167
    # the 48.33 freed goes to A and C pro rata (100:700)
    a_total = q.loc[q["rep_id"] == "A", "amount_cents"].sum()
    assert a_total == round(10000 + (20000 - 15166.67) * 100 / 800)
    # A's quarters follow seasonality exactly and components split 70/30
    a = q[q["rep_id"] == "A"].set_index(["component", "period"])["amount_cents"]
    assert a.sum() == a_total
    assert a[("new_business", "2027-Q4")] == round(a_total * 0.7 * 0.3)
    assert (result.reps.set_index("rep_id").loc["B", "ramp"]
            == pytest.approx(25 / 300 * 2.5 + 0.55))
    csv = quotas_csv(q).decode()
    assert "B,new_business,2027-Q1" not in csv  # zero rows left out
    assert csv.splitlines()[0] == "rep_id,component,period,amount"


def test_fiscal_year_and_flags():
    reps, accounts = book()
    accounts = accounts.assign(last_year=[300, 200, 250, 250])
    result = allocate(reps, accounts, accounts["rep_id"],
                      quota(method="history", seasonality={"Q1": "25%", "Q2": "25%",
                                                           "Q3": "25%", "Q4": "25%"}),
                      Calendar(4))
    flags = result.reps.set_index("rep_id")["flag"].to_dict()
    # A gets 30% of the target on 10% of the potential, B 20% on 20%, C 50% on 70%
    assert flags == {"A": "above 1.15x company ratio", "B": "", "C": "below 0.9x company ratio"}
    assert sorted(set(result.quotas["period"])) == ["2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"]


def test_unknown_owner_is_an_error():
    reps, accounts = book()
    owners = accounts["rep_id"].replace({"A": "Z"})
    with pytest.raises(IcmError, match="accounts are owned by Z, not in reps"):
        allocate(reps, accounts, owners, quota())


def test_largest_remainder_groups():
    out = largest_remainder(np.array([0.5, 0.5, 1.7, 1.3]), np.array([0, 0, 1, 1]),
                            {0: 1, 1: 3})
    assert out.tolist() == [1, 0, 2, 1]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=8),
       st.integers(1, 10_000_000), st.sampled_from(["0%", "10%", "12.5%"]),
       st.booleans())
def test_quotas_always_sum_exactly_and_follow_potential(pots, target, over, seasonal):
    if sum(pots) == 0:
        pots = pots[:-1] + [1]
    ids = [f"R{i}" for i in range(len(pots))]
    accounts = make_accounts(pots, ids)
    reps = make_reps(ids)
    sc = quota(target=target / 100, over_assignment=over,
               components={"a": "30%", "b": "70%"},
               seasonality={"Q1": "10%", "Q2": "20%", "Q3": "30%", "Q4": "40%"} if seasonal
               else None)
    result = allocate(reps, accounts, accounts["rep_id"], sc)
    assert result.quotas["amount_cents"].sum() == result.total_cents
    per_rep = result.quotas.groupby("rep_id")["amount_cents"].sum().reindex(ids)
    ideal = np.array(pots) / sum(pots) * result.total_cents
    assert (np.abs(per_rep.to_numpy() - ideal) < 1).all()
    assert (result.quotas["amount_cents"] >= 0).all()


def ramp_book():
    # A and B full year; C starts 2027-01-01 with a 50% ramp for 6 months (effective 0.75)
    accounts = make_accounts([100, 100, 200], ["A", "B", "C"], last_year=[100, 200, 0])
    reps = make_reps(["A", "B", "C"], start=["2020-01-01", "2020-01-01", "2027-01-01"])
    return reps, accounts


def test_ramp_reduction_goes_only_to_reps_with_headroom():
    accounts = make_accounts([100, 100, 200], ["A", "B", "C"], last_year=[240, 400, 0])
    reps = make_reps(["A", "B", "C"], start=["2020-01-01", "2020-01-01", "2027-01-01"])
    sc = quota(method="potential", target=1000, max_change="30%", ramp=["50%"] * 6)
    result = allocate(reps, accounts, accounts["rep_id"], sc)
    # shares 250 / 250 / 500; C carries 500 x 0.75 = 375, freeing 125. Pro rata: 62.5 each,
    # but A's cap is 240 x 1.3 = 312: A takes 62 (to 312), B takes the other 63 (to 313).
    assert totals(result) == {"A": 31200, "B": 31300, "C": 37500}
    without = allocate(reps, accounts, accounts["rep_id"], quota(
        method="potential", target=1000, ramp=["50%"] * 6))
    assert totals(without) == {"A": 31250, "B": 31250, "C": 37500}


def test_ramp_with_no_headroom_names_reps_and_shortfall():
    accounts = make_accounts([100, 100, 200], ["A", "B", "C"], last_year=[200, 200, 0])
    reps = make_reps(["A", "B", "C"], start=["2020-01-01", "2020-01-01", "2027-01-01"])
    sc = quota(method="potential", target=1000, max_change="30%", ramp=["50%"] * 6)
    # caps 260 each: room 10 + 10 = 20 for 125 freed
    with pytest.raises(IcmError, match=r"max_change 30% leaves no room for the ramp reduction "
                                       r"of C: 105.00 of quota cannot go to anyone, because A, "
                                       r"B would exceed last year's bookings x 1.3"):
        allocate(reps, accounts, accounts["rep_id"], sc)


def test_new_hire_not_flagged_for_its_ramp():
    accounts = make_accounts([100, 100, 100], ["A", "B", "C"])
    reps = make_reps(["A", "B", "C"], start=["2020-01-01", "2020-01-01", "2027-01-01"])
    result = allocate(reps, accounts, accounts["rep_id"],
                      quota(target=900, ramp=["0%"] * 6))
    summary = result.reps.set_index("rep_id")
    # C works half the year: 150 on 100 potential is its full rate for half a year
    assert summary.loc["C", "quota_cents"] == 15000
    assert summary.loc["C", "flag"] == ""
