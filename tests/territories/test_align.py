import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from territories import blocks as blocks_mod
from territories.align import InfeasibleError, NoSolutionError, align
from territories.solvers import Solve

from .conftest import brute_force, make_accounts, make_reps, scenario


@pytest.mark.parametrize("solver", ["highs", "cbc"])
@pytest.mark.parametrize("objective,extra", [
    ("disruption", {"balance": {"potential": "25%"}}),
    ("disruption", {"balance": {"potential": "40%", "workload": "50%"}, "max_moved": "60%"}),
    ("distance", {"balance": {"potential": "40%"}}),
    ("distance", {"max_moved": "30%"}),
    ("balance", {}),
    ("balance", {"balance": {"workload": "60%"}}),
])
def test_optimal_against_enumeration(tiny, solver, objective, extra):
    reps, accounts = tiny
    sc = scenario(objective=objective, solver={"name": solver, "gap": 0, "time_limit": 30},
                  **extra)
    expected = brute_force(reps, accounts, sc)
    result = align(reps, accounts, sc)
    assert result.objective == pytest.approx(expected, abs=1e-6)
    assert result.status == "optimal"


def test_disruption_exact_figures(tiny):
    reps, accounts = tiny
    # fair share 160/3 = 53.33; +-25% -> [40, 66.67]. R1 holds 120 and must shed >= 53.33:
    # moving A0 (50) is not enough, A0+A3... the cheapest is A1 (40) + A2 (30) = 70 -> R1 50.
    result = align(reps, accounts, scenario(balance={"potential": "25%"}))
    assert result.objective == pytest.approx(brute_force(reps, accounts, scenario(
        balance={"potential": "25%"})))
    a = result.assignments.set_index("account_id")
    loads = a.groupby("rep_id")["potential"].sum()
    assert ((loads >= 40 - 1e-9) & (loads <= 160 / 3 * 1.25 + 1e-9)).all()
    assert a.loc[a["moved"], "potential"].sum() == pytest.approx(result.objective)
    t = result.territories.set_index("rep_id")
    assert t["accounts"].sum() == 6
    assert t.loc["R1", "deviation"] == pytest.approx(t.loc["R1", "potential"] / (160 / 3) - 1)


def test_every_constraint_honoured():
    accounts = make_accounts([30, 25, 20, 25, 30, 15, 20, 35],
                             ["N1", "N1", "N1", "N2", "S1", "S1", "N1", "S2"],
                             region=["N"] * 4 + ["S"] * 4, workload=[1, 2, 1, 1, 3, 1, 1, 1],
                             locked=[False] * 6 + [True, False])
    reps = make_reps(["N1", "N2", "S1", "S2"], region=["N", "N", "S", "S"])
    sc = scenario(balance={"potential": "35%", "workload": "80%"}, same_region=True,
                  max_moved="50%", capacity={"accounts": 3})
    result = align(reps, accounts, sc)
    assert result.objective == brute_force(reps, accounts, sc)
    a = result.assignments.set_index("account_id")
    # A6 is locked to N1 (region N) although it is in S: locked wins over same_region
    assert a.loc["A6", "rep_id"] == "N1" and not a.loc["A6", "moved"]
    region_of = dict(zip(reps["rep_id"], reps["region"], strict=True))
    others = a.drop(index="A6")
    assert (others["rep_id"].map(region_of) == others["region"]).all()
    t = result.territories.set_index("rep_id")
    assert (t["accounts"] <= 3).all()
    assert (t["deviation"].abs() <= 0.35 + 1e-9).all()
    assert (t["workload_deviation"].abs() <= 0.80 + 1e-9).all()
    assert result.moved_share <= 0.5 + 1e-9
    assert len(a) == 8 and a["rep_id"].notna().all()


def test_capacity_scales_fair_share():
    accounts = make_accounts([10] * 6, ["A", "A", "A", "B", "B", "B"])
    reps = make_reps(["A", "B"], capacity=[2, 1])
    result = align(reps, accounts, scenario(balance={"potential": "0%"}))
    t = result.territories.set_index("rep_id")
    assert t.loc["A", "potential"] == 40 and t.loc["B", "potential"] == 20
    assert t.loc["A", "fair_potential"] == 40
    assert result.objective == 10  # one account of 10 moves from B to A


def test_rep_with_capacity_zero_gets_nothing():
    accounts = make_accounts([10, 20, 30], ["A", "B", "B"])
    reps = make_reps(["A", "B"], capacity=[1, 0])
    result = align(reps, accounts, scenario())
    assert set(result.assignments["rep_id"]) == {"A"}
    assert result.assignments["moved"].tolist() == [False, True, True]


def test_unowned_accounts_are_not_moves():
    accounts = make_accounts([10, 10], ["A", None])
    reps = make_reps(["A", "B"])
    result = align(reps, accounts, scenario(balance={"potential": "0%"}))
    assert result.assignments["rep_id"].tolist() == ["A", "B"]
    assert result.assignments["moved"].tolist() == [False, False]
    assert result.objective == 0


# infeasibility ------------------------------------------------------------------------


def test_account_larger_than_allowed_maximum():
    accounts = make_accounts([107, 97, 98, 98], ["A", "B", "C", "D"])
    reps = make_reps(["A", "B", "C", "D"])
    with pytest.raises(InfeasibleError) as exc:
        align(reps, accounts, scenario(balance={"potential": "2%"}))
    assert str(exc.value) == (
        "balance 2% on potential is infeasible: account A0 alone (potential 107) is 7% above "
        "the fair share 100 of rep A, the largest it can go to (at most 102)")


def test_region_that_cannot_be_split():
    accounts = make_accounts([60, 60, 40, 40], ["A", "A", "B", "B"], region=["N", "N", "S", "S"])
    reps = make_reps(["A", "B"], region=["N", "S"])
    with pytest.raises(InfeasibleError) as exc:
        align(reps, accounts, scenario(balance={"potential": "10%"}, same_region=True))
    assert exc.value.messages[0].message == (
        "balance 10% on potential is infeasible in region N: its accounts hold potential 120 "
        "but its 1 rep(s) can carry at most 110 (fair share +10%)")
    assert "in region S" in exc.value.messages[1].message


def test_max_moved_below_what_balance_forces():
    accounts = make_accounts([30, 30, 20, 10, 10], ["A", "A", "A", "A", "B"])
    reps = make_reps(["A", "B"])
    with pytest.raises(InfeasibleError) as exc:
        align(reps, accounts, scenario(balance={"potential": "10%"}, max_moved="10%"))
    # A holds 90 of 100, its maximum is 55: at least 35 must move
    assert str(exc.value) == ("max_moved 10% is infeasible: at least potential 35 (35% of 100) "
                              "must change owner to meet the other limits")


def test_penalised_slack_names_the_broken_limit():
    # 10+10+10 over two reps: fair 15, +-10% allows 13.5..16.5 but loads are multiples of 10
    accounts = make_accounts([10, 10, 10], ["A", "A", "B"])
    reps = make_reps(["A", "B"])
    with pytest.raises(InfeasibleError) as exc:
        align(reps, accounts, scenario(balance={"potential": "10%"}))
    lines = [m.message for m in exc.value.messages]
    assert lines[0] == "the constraints cannot all hold; the closest plan breaks 2 limit(s):"
    assert len(lines) == 3
    joined = "\n".join(lines[1:])
    assert "balance_potential_hi[" in joined and "balance_potential_lo[" in joined
    assert ("balance_potential_hi[A]: balance 10% on potential breaks for rep A: the closest "
            "plan gives it potential 20, 3.5 (21.2%) above its maximum 16.5") in lines
    assert "potential 10, 3.5 (25.9%) below its minimum 13.5" in joined


def test_locked_to_unknown_rep():
    accounts = make_accounts([10, 10], ["A", "X"], locked=[False, True])
    reps = make_reps(["A", "B"])
    with pytest.raises(InfeasibleError, match="account A1 is locked to X, who is not in reps"):
        align(reps, accounts, scenario())


def test_region_without_reps():
    accounts = make_accounts([10, 10], ["A", "A"], region=["N", "E"])
    reps = make_reps(["A"], region=["N"])
    with pytest.raises(InfeasibleError, match="account A1 is in region E, which has no rep"):
        align(reps, accounts, scenario(same_region=True))


def test_no_solution_in_time_says_what_was_tried(tiny, monkeypatch):
    reps, accounts = tiny
    monkeypatch.setattr(blocks_mod, "run_model",
                        lambda *a, **k: Solve(None, "none", np.nan, np.nan, 1.0))
    monkeypatch.setattr(blocks_mod, "violation", lambda *a: 1.0)  # the repaired start fails too
    with pytest.raises(NoSolutionError) as exc:
        align(reps, accounts, scenario(balance={"potential": "25%"},
                                       solver={"time_limit": 5, "gap": "1%"}))
    assert str(exc.value).startswith("no alignment found within 5 s: tried highs (gap 1.00%) "
                                     "on 1 block(s) of at most 6 accounts")


# properties ----------------------------------------------------------------------------


@st.composite
def instances(draw):
    n = draw(st.integers(2, 6))
    m = draw(st.integers(1, 3))
    pot = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
    owners = draw(st.lists(st.sampled_from([f"R{i}" for i in range(m)] + [None]),
                           min_size=n, max_size=n))
    regions = draw(st.lists(st.sampled_from(["N", "S"]), min_size=n, max_size=n))
    rep_regions = draw(st.lists(st.sampled_from(["N", "S"]), min_size=m, max_size=m))
    tol = draw(st.sampled_from([None, "10%", "30%", "60%"]))
    moved = draw(st.sampled_from([None, "20%", "50%"]))
    objective = draw(st.sampled_from(["disruption", "balance"]))
    same = draw(st.booleans())
    accounts = make_accounts(pot, owners, region=regions)
    reps = make_reps([f"R{i}" for i in range(m)], region=rep_regions)
    balance = {"potential": tol} if tol else {}
    sc = scenario(balance=balance, max_moved=moved, objective=objective, same_region=same)
    return reps, accounts, sc


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_random_instances_match_enumeration(case):
    reps, accounts, sc = case
    expected = brute_force(reps, accounts, sc) if accounts["potential"].sum() > 0 else None
    if accounts["potential"].sum() == 0:
        return
    try:
        result = align(reps, accounts, sc)
    except InfeasibleError:
        assert expected is None
        return
    assert expected is not None
    assert result.objective == pytest.approx(expected, abs=1e-6)
    a = result.assignments
    assert len(a) == len(accounts) and a["rep_id"].notna().all()
    if sc.same_region:
        region_of = dict(zip(reps["rep_id"], reps["region"], strict=True))
        assert (a["rep_id"].map(region_of) == a["region"]).all()
    if sc.balance.potential is not None:
        assert (result.territories["deviation"].abs() <= sc.balance.potential + 1e-9).all()
    if sc.max_moved is not None:
        assert result.moved_share <= sc.max_moved + 1e-9


def test_result_is_not_stored_on_anything(tiny):
    reps, accounts = tiny
    before = accounts.copy()
    align(reps, accounts, scenario(balance={"potential": "25%"}))
    pd.testing.assert_frame_equal(accounts, before)


def test_capacity_total_of_a_region():
    accounts = make_accounts([1] * 5, ["A"] * 5, region=["N"] * 5)
    reps = make_reps(["A", "B"], region=["N", "S"])
    with pytest.raises(InfeasibleError) as exc:
        align(reps, accounts, scenario(same_region=True, capacity={"accounts": 4}))
    assert str(exc.value) == ("capacity 4 accounts per unit of capacity is infeasible in region "
                              "N: it has 5 accounts but its 1 rep(s) can carry at most 4")
