"""Pricing drawn credit through a plan: exact SPEC-style figures, float path pinned to the engine."""

from __future__ import annotations

from importlib import resources

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from compensation.periods import Calendar
from compensation.plan import Commission
from compensation.planfile import load_plan
from compensation.tiers import commission, commission_unrounded
from modelling.population import synthetic
from modelling.pricing import _half_up, price, sub_periods

CAL = Calendar()
PLAN = load_plan(resources.files("plans").joinpath("demo", "ae.yaml"))


def one_rep(new_business, renewals, spifs=0.0):
    pop = synthetic(PLAN, "ae-2026", 1, 60000, {"new_business": 1_000_000, "renewals": 400_000}, 2026)
    credited = {"new_business": np.array([[new_business]], dtype=float),
                "renewals": np.array([[renewals]], dtype=float)}
    counts = {"platform_spif": np.array([[spifs]])}
    return {exact: price(PLAN, pop, credited, counts, CAL, exact=exact) for exact in (False, True)}


def test_sub_periods_follow_the_kicker():
    assert sub_periods(PLAN) == {"new_business": 4, "renewals": 4}


def test_a_year_of_one_rep_in_cents():
    # 110% of 1,000,000 at the 8% tier; kickers in Q2, Q3, Q4 (120%, 100%, 140% of 250,000);
    # renewals at 50/100/120/200% of 100,000 on a 3,750 target (curve capped at 150%); 3 SPIFs.
    for priced in one_rep([20_000_000, 30_000_000, 25_000_000, 35_000_000],
                          [5_000_000, 10_000_000, 12_000_000, 20_000_000], 3).values():
        assert {k: int(v[0, 0]) for k, v in priced.lines.items()} == {
            "new_business": 8_800_000, "renewals": 1_387_500, "q_kicker": 600_000, "platform_spif": 75_000}
        assert priced.attainment["new_business"][0, 0] == 1.1


def test_the_gate_holds_renewals_below_twenty_percent():
    for priced in one_rep([5_000_000, 5_000_000, 4_000_000, 5_000_000], [10_000_000] * 4).values():
        assert int(priced.lines["renewals"][0, 0]) == 0
        assert int(priced.lines["new_business"][0, 0]) == 1_140_000  # 190,000 (19% of quota) at 6%
        assert int(priced.lines["q_kicker"][0, 0]) == 0


def test_the_cap_holds_commission():
    for priced in one_rep([100_000_000] * 4, [10_000_000] * 4).values():
        assert int(priced.lines["new_business"][0, 0]) == 15_000_000  # 4,000,000 x 10% capped at 150,000


tiers = st.lists(st.integers(1, 300), min_size=1, max_size=3, unique=True).map(sorted)


@given(st.lists(st.integers(-5_000_000, 400_000_000), min_size=1, max_size=30),
       st.integers(1_000_000, 200_000_000), tiers, st.sampled_from(["retroactive", "marginal"]),
       st.sampled_from(["attainment", "amount"]))
def test_float_commission_is_the_engine_within_a_cent(credited, quota, froms, method, basis):
    scale = 10_000 if basis == "amount" else 1
    rule = Commission(method=method, basis=basis, tiers=[{"from": 0, "rate": "5%"}] + [
        {"from": f"{f * scale}" if basis == "amount" else f"{f}%", "rate": f"{5 + i * 2.5}%"}
        for i, f in enumerate(froms)])
    credited = np.array(credited, dtype=np.int64)
    quota = np.full(len(credited), float(quota))
    engine = commission(credited, quota, rule)
    ours = _half_up(commission_unrounded(credited.astype(float), quota, rule))
    assert np.abs(ours - engine).max() <= 1
