"""Geography-aware alignment: travel in the objective, max_km, compactness, contiguity."""

import itertools

import numpy as np
import pandas as pd
import pytest

from territories.align import align
from territories.contiguity import broken_territories, components
from territories.geo import albers, convex_hull, delaunay_edges, haversine_km, nearest

from .conftest import grid, make_accounts, make_reps, scenario


def line_book():
    # six accounts on a line of longitude at 45N, one degree apart (~78.7 km)
    lon = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    accounts = make_accounts([10, 10, 10, 10, 10, 10], ["A", "A", "B", "A", "B", "B"],
                             lat=[45.0] * 6, lon=lon)
    reps = make_reps(["A", "B"], lat=[45.0, 45.0], lon=[0.0, 5.0])
    return reps, accounts


def test_compactness_is_reported_in_real_km():
    reps, accounts = line_book()
    result = align(reps, accounts, scenario(objective="distance"))
    km = haversine_km(45.0, np.array([0, 1, 2, 3, 4, 5.0]), 45.0, np.array([0, 0, 0, 5, 5, 5.0]))
    assert result.mean_km == pytest.approx(km.mean())
    assert result.p95_km == pytest.approx(np.percentile(km, 95))
    assert result.assignments["rep_id"].tolist() == ["A", "A", "A", "B", "B", "B"]


def test_mix_trades_moves_for_travel():
    reps, accounts = line_book()
    pure = align(reps, accounts, scenario(objective="disruption",
                                          balance={"potential": "0%"}))
    # balanced already: disruption keeps the interleaved A3 and B2 ...
    assert pure.objective == 0 and pure.assignments["rep_id"].tolist() == list("AABABB")
    mix = align(reps, accounts, scenario(objective="mix", balance={"potential": "0%"},
                                         weights={"disruption": 0.0001, "distance": 1}))
    # ... the mix pays two moves (1/3 of potential) for the contiguous split
    assert mix.assignments["rep_id"].tolist() == ["A", "A", "A", "B", "B", "B"]
    assert mix.moved_share == pytest.approx(1 / 3) and mix.mean_km < pure.mean_km
    assert mix.objective == pytest.approx(0.0001 * 100 / 3 + mix.mean_km)


def test_max_km_removes_far_pairs():
    reps, accounts = line_book()
    result = align(reps, accounts, scenario(objective="disruption", max_km=250))
    # within 250 km: accounts 0-3 may go to A (<= 236 km), 2-5 to B
    assert result.assignments.loc[result.assignments["account_id"].isin(["A4", "A5"]),
                                  "rep_id"].tolist() == ["B", "B"]
    assert result.assignments.loc[result.assignments["account_id"] == "A0", "rep_id"].item() == "A"
    assert (result.assignments["km"] <= 250).all()


def test_disruption_ties_go_to_the_nearer_rep():
    # A must shed one of two equal accounts; B (near) and C (far) have room
    accounts = make_accounts([10, 10, 10, 0], ["A", "A", "A", "C"],
                             lat=[45.0, 45.0, 45.0, 45.0], lon=[0.0, 0.1, 0.2, 9.0])
    reps = make_reps(["A", "B", "C"], lat=[45.0, 45.0, 45.0], lon=[0.0, 0.5, 9.0])
    result = align(reps, accounts, scenario(objective="disruption",
                                            capacity={"potential": 20}))
    moved = result.assignments[result.assignments["moved"]]
    assert len(moved) == 1 and moved["rep_id"].item() == "B"


@pytest.mark.parametrize("pot,owners,tol", [
    ([10, 10, 10, 10, 10, 10], ["A", "B", "A", "B", "A", "B"], "0%"),
    ([30, 10, 20, 10, 20, 10], ["A", "A", "A", "B", "B", "C"], "30%"),
    ([5, 10, 15, 20, 25, 30], ["B", "B", "A", "A", "C", "C"], "40%"),
])
def test_contiguity_against_enumeration(pot, owners, tol):
    ids, edges = grid(2, 3)
    reps_ids = sorted(set(owners) | {"A", "B"})
    accounts = make_accounts(pot, owners)
    reps = make_reps(reps_ids)
    adjacency = pd.DataFrame({"account_id": [ids[i] for i, _ in edges],
                              "neighbour_id": [ids[j] for _, j in edges]})
    sc = scenario(balance={"potential": tol}, contiguity=True)
    result = align(reps, accounts, sc, adjacency=adjacency)
    fair = sum(pot) / len(reps_ids)
    t = float(tol.rstrip("%")) / 100
    best = None
    for combo in itertools.product(range(len(reps_ids)), repeat=len(pot)):
        choice = np.array(combo)
        loads = np.bincount(choice, weights=pot, minlength=len(reps_ids))
        if ((loads > fair * (1 + t) + 1e-9) | (loads < fair * (1 - t) - 1e-9)).any():
            continue
        if any(components(6, edges, np.flatnonzero(choice == r)) > 1
               for r in range(len(reps_ids)) if (choice == r).any()):
            continue
        moved = sum(p for p, o, c in zip(pot, owners, combo, strict=True) if reps_ids[c] != o)
        best = moved if best is None else min(best, moved)
    assert result.objective == pytest.approx(best)
    assert broken_territories(result.assignments, edges) == []


def test_geometry_helpers():
    x, y = albers(np.array([37.5, 45.5]), np.array([-96.0, -96.0]))
    assert x[0] == pytest.approx(0, abs=1e-6) and y[0] == pytest.approx(0, abs=1e-6)
    # equal area: a 1 x 1 degree cell keeps its spherical area (to the chord error)
    lat, lon = np.array([40, 40, 41, 41.0]), np.array([-80, -79, -79, -80.0])
    cx, cy = albers(lat, lon)
    area = 0.5 * abs(np.dot(cx, np.roll(cy, 1)) - np.dot(cy, np.roll(cx, 1)))
    sphere = 6371.0088 ** 2 * np.radians(1) * (np.sin(np.radians(41)) - np.sin(np.radians(40)))
    assert area == pytest.approx(sphere, rel=1e-3)
    hull = convex_hull(np.array([0, 1, 1, 0, 0.5]), np.array([0, 0, 1, 1, 0.5]))
    assert sorted(hull.tolist()) == [0, 1, 2, 3]
    edges = delaunay_edges(np.array([45, 45, 46, 46.0]), np.array([9, 10, 9, 10.0]))
    assert len(edges) == 5  # a square's four sides and one diagonal
    near = nearest(np.array([45.0]), np.array([9.0]), np.array([45, 50, 45.1]),
                   np.array([9, 9, 9.0]), 2)
    assert near.tolist() == [[0, 2]]


def test_a_small_example_book_still_staffs_every_region():
    """100 accounts and 4 reps over 4 regions: one rep each, every account owned in its region."""
    from territories.example import book, synthetic

    reps, accounts = book(synthetic(100, 7), 4, 4, 7)
    assert sorted(reps["region"]) == ["Midwest", "Northeast", "South", "West"]
    owner_region = accounts["rep_id"].map(reps.set_index("rep_id")["region"])
    assert (owner_region == accounts["region"]).all()
    with pytest.raises(ValueError, match="3 reps cannot cover 4 regions"):
        book(synthetic(100, 7), 3, 4, 7)
