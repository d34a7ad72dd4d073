"""Contiguous territories: the connected warm start, the flow MILP from it, enumeration."""

import itertools

import numpy as np
import pandas as pd
import pytest

from territories.align import align
from territories.contiguity import (
    adjacency_for,
    broken_territories,
    components,
    flow_start,
    with_contiguity,
)
from territories.example import book, synthetic
from territories.growth import connected_start, graph, pieces
from territories.instance import InfeasibleError, build_instance
from territories.model import activities, build_model

from .conftest import grid, make_accounts, make_reps, scenario


def frame(ids, edges):
    return pd.DataFrame({"account_id": [ids[i] for i, _ in edges],
                         "neighbour_id": [ids[j] for _, j in edges]})


def test_warm_start_on_a_line_is_the_only_balanced_connected_plan():
    # A owns five of six equal accounts on a path: at 0% balance only AAA|BBB is connected
    ids, edges = grid(1, 6)
    accounts = make_accounts([10] * 6, ["A", "A", "A", "A", "A", "B"])
    sc = scenario(balance={"potential": "0%"}, contiguity=True)
    inst = build_instance(make_reps(["A", "B"]), accounts, sc)
    choice, violated = connected_start(inst, adjacency_for(inst, frame(ids, edges)), 5.0)
    assert violated == 0
    assert choice.tolist() == [0, 0, 0, 1, 1, 1]


def test_warm_start_is_connected_balanced_and_a_point_of_the_flow_model():
    rng = np.random.default_rng(3)
    ids, edges = grid(4, 5)
    pot = rng.integers(5, 30, 20).astype(float)
    owners = ["A"] * 12 + ["B"] * 5 + ["C"] * 3  # A far above its share, C far below
    accounts = make_accounts(pot, owners)
    sc = scenario(balance={"potential": "20%"}, contiguity=True)
    inst = build_instance(make_reps(["A", "B", "C"]), accounts, sc)
    adj = adjacency_for(inst, frame(ids, edges))
    choice, violated = connected_start(inst, adj, 5.0)
    assert violated == 0
    fair = pot.sum() / 3
    loads = np.bincount(choice, weights=pot, minlength=3)
    assert ((loads <= fair * 1.2 + 1e-9) & (loads >= fair * 0.8 - 1e-9)).all()
    assert all(components(20, adj, np.flatnonzero(choice == r)) == 1 for r in range(3))
    # the warm start's roots and flows satisfy every row of the MILP
    model = with_contiguity(inst, build_model(inst, np.arange(20)), adj)
    x = flow_start(inst, model, choice, graph(20, adj))
    act = activities(model, x)
    assert (act >= model.row_lo - 1e-7).all() and (act <= model.row_hi + 1e-7).all()
    assert ((x >= model.lower) & (x <= model.upper)).all()
    assert x[model.layout["flow"]["y0"]:model.layout["flow"]["f0"]].sum() == 3  # one root each


def test_split_territory_keeps_its_largest_piece():
    ids, edges = grid(1, 7)
    g = graph(7, edges)
    members = np.array([0, 1, 2, 4, 5, 6])
    inside = np.zeros(7, bool)
    inside[members] = True
    inside_pieces = pieces(g, members, inside)
    assert [sorted(p) for p in inside_pieces] == [[0, 1, 2], [4, 5, 6]]
    # B's territory is split in two by A's account 4: B keeps 0-3, its piece 5-6 joins A
    accounts = make_accounts([10, 10, 10, 10, 10, 10, 10], ["B", "B", "B", "B", "A", "B", "B"])
    sc = scenario(balance={"potential": "50%"}, contiguity=True)
    inst = build_instance(make_reps(["A", "B"]), accounts, sc)
    choice, violated = connected_start(inst, edges, 5.0)
    assert violated == 0 and broken_territories(
        pd.DataFrame({"rep_id": choice}), edges) == []
    assert choice.tolist() == [1, 1, 1, 1, 0, 0, 0]


def _enumerate(pot, owners, reps_ids, edges, tol, locked=()):
    """Least potential moved over every connected plan within the balance tolerance."""
    n, m = len(pot), len(reps_ids)
    combos = np.array(list(itertools.product(range(m), repeat=n)))
    for i in locked:
        combos = combos[combos[:, i] == reps_ids.index(owners[i])]
    loads = np.stack([(combos == r) @ np.asarray(pot, float) for r in range(m)], axis=1)
    fair = sum(pot) / m
    ok = ((loads <= fair * (1 + tol) + 1e-9) & (loads >= fair * (1 - tol) - 1e-9)).all(axis=1)
    cur = np.array([reps_ids.index(o) for o in owners])
    moved = ((combos != cur) * np.asarray(pot, float)).sum(axis=1)
    best = None
    for k in np.flatnonzero(ok)[np.argsort(moved[ok], kind="stable")]:
        if all(components(n, edges, np.flatnonzero(combos[k] == r)) <= 1 for r in range(m)):
            best = moved[k]
            break
    return best


@pytest.mark.parametrize("pot,owners,tol,locked", [
    ([9, 4, 7, 3, 8, 6, 2, 5, 9], ["A"] * 6 + ["B", "C", "C"], 0.25, ()),
    ([5, 5, 5, 5, 30, 5, 5, 5, 5], ["A", "B", "C"] * 3, 0.4, (4,)),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9], ["C"] * 9, 0.2, ()),
])
def test_solve_equals_enumeration_on_a_3x3_grid(pot, owners, tol, locked):
    ids, edges = grid(3, 3)
    reps_ids = ["A", "B", "C"]
    lock = np.zeros(9, bool)
    lock[list(locked)] = True
    accounts = make_accounts(pot, owners, locked=lock)
    sc = scenario(balance={"potential": f"{tol:.0%}"}, contiguity=True)
    result = align(make_reps(reps_ids), accounts, sc, adjacency=frame(ids, edges))
    assert result.objective == pytest.approx(_enumerate(pot, owners, reps_ids, edges, tol, locked))
    assert result.status == "optimal"
    assert broken_territories(result.assignments, edges) == []
    for i in locked:
        assert result.assignments["rep_id"].iloc[i] == owners[i]


def test_delaunay_100_accounts_4_reps_gets_a_connected_plan_fast():
    reps, accounts = book(synthetic(100, 7), 4, 0, 7)
    sc = scenario(balance={"potential": "10%"}, contiguity=True, objective="disruption",
                  solver={"time_limit": 4, "gap": 0.01})
    first = []
    result = align(reps, accounts, sc, on_first=first.append)
    inst = build_instance(reps, accounts, sc)
    edges = adjacency_for(inst, None)
    assert broken_territories(result.assignments, edges) == []
    share = result.territories["potential"] / (accounts["potential"].sum() / 4) - 1
    assert share.abs().max() <= 0.10 + 1e-9
    assert first and first[0] < 3.0
    assert result.bound <= result.objective


def test_contiguity_that_no_plan_can_keep_is_reported_as_such():
    # on the path 10-10-5-5 only {0,2}/{1,3}-like splits give both reps 15: none is connected
    ids, edges = grid(1, 4)
    accounts = make_accounts([10, 10, 5, 5], ["A", "A", "B", "B"])
    sc = scenario(balance={"potential": "0%"}, contiguity=True)
    with pytest.raises(InfeasibleError, match="no plan keeps every territory in one piece"):
        align(make_reps(["A", "B"]), accounts, sc, adjacency=frame(ids, edges))
    # without contiguity the same book has a plan
    loose = align(make_reps(["A", "B"]), accounts, scenario(balance={"potential": "0%"}))
    assert loose.objective == 15


def test_balance_objective_equals_enumeration_on_a_2x4_grid():
    # the largest deviation from the fair share over every connected plan of three reps
    ids, edges = grid(2, 4)
    pot = [8, 3, 5, 9, 2, 7, 4, 6]
    owners = ["A"] * 4 + ["B"] * 3 + ["C"]
    sc = scenario(objective="balance", balance={"potential": "60%"}, contiguity=True)
    result = align(make_reps(["A", "B", "C"]), make_accounts(pot, owners), sc,
                   adjacency=frame(ids, edges))
    fair = sum(pot) / 3
    best = min(
        max(abs(np.asarray(pot, float)[np.array(c) == r].sum() / fair - 1) for r in range(3))
        for c in itertools.product(range(3), repeat=8)
        if all(components(8, edges, np.flatnonzero(np.array(c) == r)) <= 1 for r in range(3)))
    assert result.objective == pytest.approx(best, abs=1e-9)
    assert broken_territories(result.assignments, edges) == []


def test_a_blank_or_unknown_neighbour_is_one_message_with_its_row():
    from compensation.errors import IcmError

    ids, edges = grid(1, 3)
    inst = build_instance(make_reps(["A", "B"]), make_accounts([10] * 3, ["A", "A", "B"]),
                          scenario(contiguity=True))
    blank = frame(ids, edges).astype(object)
    blank.loc[1, "neighbour_id"] = None
    with pytest.raises(IcmError, match=r"adjacency.csv:3: neighbour_id is blank"):
        adjacency_for(inst, blank)
    unknown = frame(ids, edges)
    unknown.loc[0, "account_id"] = "A9"
    with pytest.raises(IcmError, match=r"adjacency.csv:2: account A9 is not in accounts"):
        adjacency_for(inst, unknown)
