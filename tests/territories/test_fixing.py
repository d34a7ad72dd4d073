"""Fix-and-resolve start, chain repair and transport pairs (issue 21, scale)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from territories.align import align
from territories.blocks import widened
from territories.chains import chain_repair
from territories.example import book, synthetic
from territories.fixing import fix_and_resolve, sub_model
from territories.instance import build_instance, metric_vector
from territories.model import activities, build_model, start_values
from territories.repair import loads, rounded, start_choice
from territories.solvers import lp_solve
from territories.transport import flow_pairs

from .conftest import make_accounts, make_reps, scenario


@pytest.fixture(scope="module")
def us_book():
    """600 US-like accounts, 20 reps in the biggest metros, nearest-rep owners."""
    return book(synthetic(600, 3), 20, 0, 3)


def keeps_every_limit(inst, choice) -> bool:
    block = np.arange(inst.n)
    for _, metric, side, _, bound in inst.limits:
        load = loads(inst, choice, block, metric)
        if side == "hi" and np.any(load > bound + 1e-6):
            return False
        if side == "lo" and np.any(load < bound - 1e-6):
            return False
    return True


def test_fix_and_resolve_keeps_every_limit_within_a_few_tenths_of_the_lp(us_book):
    reps, accounts = us_book
    inst = build_instance(reps, accounts, scenario(balance={"potential": "5%"},
                                                   objective="disruption"))
    block = np.arange(inst.n)
    model = build_model(inst, block, relax=True)
    lp = lp_solve(model, 30, None)
    assert lp.status == "optimal"
    assert not keeps_every_limit(inst, start_choice(inst, block))  # metros hold too much
    plan, objective = fix_and_resolve(inst, model, lp.values, lp.row_dual,
                                      start_choice(inst, block), 20, 0.01)
    assert keeps_every_limit(inst, plan)
    assert objective == pytest.approx(float(model.cost @ start_values(model, plan, inst)))
    gap = (objective - lp.objective) / objective
    assert 0 <= gap <= 0.01  # against the LP bound of the same model


def test_sub_model_shifts_every_row_by_the_fixed_accounts(us_book):
    reps, accounts = us_book
    inst = build_instance(reps, accounts, scenario(balance={"potential": "5%"}, max_moved="60%"))
    block = np.arange(inst.n)
    model = build_model(inst, block, relax=True)
    lp = lp_solve(model, 30, None)
    choice = rounded(inst, model.pair_acc, model.pair_rep, lp.values[: model.n_pairs],
                     start_choice(inst, block))
    free = block[::7]
    sub, cols = sub_model(model, choice, free)
    assert sub.integer[: sub.n_pairs].all() and set(sub.pair_acc) == set(free)
    # the whole plan's row activities = the free accounts' part + the fixed part (the shift)
    x = start_values(model, choice, inst)
    whole = activities(model, x)
    part = activities(sub, x[cols])
    kept = [i for i, name in enumerate(model.row_names)
            if not name.startswith("assign[") or name in set(sub.row_names)]
    finite = np.isfinite(sub.row_hi)
    shift = np.where(finite, model.row_hi[kept] - np.where(finite, sub.row_hi, 0), 0)
    assert np.allclose((part + shift)[finite], whole[kept][finite])
    assert "max_moved" in sub.row_names


def test_chain_moves_excess_through_a_full_rep():
    # A is 5 above its maximum; B is full; only C has room, and only B's accounts may go to C
    accounts = make_accounts([10, 10, 5, 10, 10, 5, 5, 0], ["A", "A", "A", "B", "B", "B", "C", "C"])
    reps = make_reps(["A", "B", "C"])
    inst = build_instance(reps, accounts, scenario(balance={"potential": "20%"}))
    ok = {0: "AB", 1: "AB", 2: "AB", 3: "BC", 4: "BC", 5: "BC", 6: "C", 7: "C"}
    pa = np.array([a for a, rs in ok.items() for _ in rs])
    pr = np.array(["ABC".index(r) for rs in ok.values() for r in rs])
    cost = np.where(pr == inst.cur[pa], 0.0, inst.pot[pa])
    choice = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    fair = metric_vector(inst, "potential").sum() / 3  # 55 / 3 each, so A (25) is above 22
    assert loads(inst, choice, np.arange(8), "potential")[0] > fair * 1.2
    fixed = chain_repair(inst, choice, np.arange(8), pa, pr, cost, seconds=5)
    assert keeps_every_limit(inst, fixed)
    # A sheds its 5 to B (A 20); B, now 30, must shed 8 to 15 and C has room: B's first 10
    # goes to C. Shedding one of A's 10s instead leaves B needing 13, which no account is
    assert fixed.tolist() == [0, 0, 1, 2, 1, 1, 2, 2]


def test_transport_pairs_make_the_restricted_lp_feasible(us_book):
    reps, accounts = us_book
    # 1%: tight enough that each account's two nearest reps cannot balance the book (at 5% they
    # can on this book with the libraries of today, and the test then proved nothing).
    sc = scenario(balance={"potential": "1%"}, objective="disruption", candidates=2)
    inst = build_instance(reps, accounts, sc)
    block = np.arange(inst.n)
    assert lp_solve(build_model(inst, block, relax=True), 10, None).status == "infeasible"
    acc, rep = flow_pairs(inst, block, start_choice(inst, block), 10)
    assert len(acc) and set(zip(acc, rep, strict=True)).isdisjoint(
        zip(inst.cand_acc[inst.cur[inst.cand_acc] == inst.cand_rep],
            inst.cand_rep[inst.cur[inst.cand_acc] == inst.cand_rep], strict=True))
    view, relaxed = widened(inst, block, True, time.perf_counter() + 30)
    assert relaxed is not None and relaxed[1].status == "optimal"
    # the flow's pairs were enough: k stayed 2, far from the full model's 12,000 pairs
    assert len(view.cand_acc) < len(inst.cand_acc) + len(acc) + 1 < inst.full_pairs / 2


def test_align_at_scale_reports_the_gap_against_the_lp_bound(us_book):
    reps, accounts = us_book
    sc = scenario(balance={"potential": "5%"}, objective="disruption", candidates=4,
                  solver={"time_limit": 20, "gap": "1%"})
    result = align(reps, accounts, sc)
    inst = build_instance(reps, accounts, sc)
    choice = result.assignments["rep_id"].map(
        {r: i for i, r in enumerate(reps["rep_id"])}).to_numpy()
    assert keeps_every_limit(inst, choice)
    assert result.bound_kind in ("full model LP", "restricted model LP")
    assert result.bound <= result.objective
    assert result.gap == pytest.approx((result.objective - result.bound) / result.objective)
    assert result.first_seconds is not None and result.first_seconds <= result.seconds
