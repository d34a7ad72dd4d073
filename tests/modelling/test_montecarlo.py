"""The Monte Carlo: reproducible, and exact where nothing is random."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from compensation.periods import Calendar
from compensation.planfile import load_plan
from modelling import montecarlo
from modelling.attainment import Assumptions, Marginal
from modelling.population import synthetic
from modelling.pricing import SpifModel

CAL = Calendar()
PLAN = load_plan(resources.files("plans").joinpath("demo", "ae.yaml"))
POP = synthetic(PLAN, "ae-2026", 20, 60000, {"new_business": 1_000_000, "renewals": 400_000}, 2026)
SPIFS = {"platform_spif": SpifModel("new_business", 3_000_000.0, 0.1, 1.0)}


def assumptions(spread: float, period_spread: float, rho: float = 0.3) -> Assumptions:
    return Assumptions(("new_business", "renewals"),
                       {"new_business": Marginal("lognormal", 1.1, spread),
                        "renewals": Marginal("normal", 1.0, spread)},
                       np.array([[1.0, rho], [rho, 1.0]]), period_spread)


def test_without_spread_every_draw_costs_the_same():
    no_spifs = PLAN.model_copy(update={"spifs": ()})
    result = montecarlo.simulate("flat", no_spifs, POP, assumptions(0.0, 0.0), {}, CAL, 50, 1)
    # Every rep at 110%: 8% of 1,100,000 = 88,000; four kickers; renewals at 100% of a 3,750 target per quarter.
    assert np.all(result.cost == 20 * (88_000_00 + 8_000_00 + 15_000_00))
    assert result.quantile(0.1) == result.quantile(0.9)
    assert result.above_quota == 1.0
    assert result.pay_at[1.0] == 80_000_00 + 8_000_00 + 15_000_00  # 100% reaches the 8% tier
    assert result.pay_at[0.5] == 30_000_00 + 0
    assert result.cost_of_sales == pytest.approx((88_000 + 8_000 + 15_000) / (1_100_000 + 400_000), rel=1e-12)


def test_same_seed_same_figures_whatever_the_threads(monkeypatch):
    a = montecarlo.simulate("a", PLAN, POP, assumptions(0.25, 0.3), SPIFS, CAL, 300, 7)
    monkeypatch.setattr(montecarlo, "WORKERS", 1)
    monkeypatch.setattr(montecarlo, "CHUNK", 20 * 40)
    b = montecarlo.simulate("b", PLAN, POP, assumptions(0.25, 0.3), SPIFS, CAL, 300, 7)
    c = montecarlo.simulate("c", PLAN, POP, assumptions(0.25, 0.3), SPIFS, CAL, 300, 8)
    assert a.cost.shape == (300,)
    assert not np.array_equal(a.cost, c.cost)
    # Same chunking, same numbers; a different chunking draws differently but lands close.
    monkeypatch.setattr(montecarlo, "WORKERS", 2)
    d = montecarlo.simulate("d", PLAN, POP, assumptions(0.25, 0.3), SPIFS, CAL, 300, 7)
    np.testing.assert_array_equal(b.cost, d.cost)
    assert abs(a.expected / b.expected - 1) < 0.03


def test_more_spread_more_top_heavy_pay():
    narrow = montecarlo.simulate("n", PLAN, POP, assumptions(0.05, 0.1), SPIFS, CAL, 200, 3)
    wide = montecarlo.simulate("w", PLAN, POP, assumptions(0.4, 0.3), SPIFS, CAL, 200, 3)
    assert wide.top_decile_vs_median > narrow.top_decile_vs_median > 1
    assert wide.quantile(0.9) - wide.quantile(0.1) > narrow.quantile(0.9) - narrow.quantile(0.1)
    assert 0 < narrow.line_cost["platform_spif"] < narrow.line_cost["new_business"]
