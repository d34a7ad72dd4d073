"""One modelled draw, written as transactions and quotas, paid by `icm run`: the same figures."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from compensation import cycle
from compensation.periods import Calendar
from compensation.planfile import load_plan
from icm.cli import app
from modelling.attainment import Assumptions, Marginal
from modelling.check import write_draw
from modelling.montecarlo import credit
from modelling.population import from_workspace, synthetic
from modelling.pricing import SpifModel, price

CAL = Calendar()


def demo_ae_plan():
    path = resources.files("plans").joinpath("demo", "ae.yaml")
    return load_plan(path)


def one_draw(plan, reps=12, seed=5):
    pop = synthetic(plan, "ae-2026", reps, 60000, {"new_business": 1_000_000.44, "renewals": 400_000}, 2026)
    assumptions = Assumptions(("new_business", "renewals"),
                              {"new_business": Marginal("lognormal", 1.0, 0.35),
                               "renewals": Marginal("normal", 0.9, 0.3)},
                              np.array([[1.0, 0.5], [0.5, 1.0]]), 0.3)
    rng = np.random.default_rng(seed)
    credited = credit(rng, plan, pop, assumptions, 1)
    spif = SpifModel("new_business", 3_000_000.0, 0.2, 1.0)
    counts = {"platform_spif": spif.draw(rng, credited["new_business"].sum(axis=2))}
    return pop, credited, counts


def test_one_draw_through_icm_run_pays_what_the_model_says(tmp_path):
    plan = demo_ae_plan()
    pop, credited, counts = one_draw(plan)
    whole = {c: np.rint(v[0]).astype(np.int64) for c, v in credited.items()}
    spifs = {s: np.asarray(v[0], dtype=np.int64) for s, v in counts.items()}
    assert spifs["platform_spif"].sum() > 0  # the draw exercises the SPIF too
    write_draw(tmp_path, plan, pop, whole, spifs, CAL)

    result = CliRunner().invoke(app, ["run", str(tmp_path), "--period", "2026-12"])
    assert result.exit_code == 0, result.output
    register = cycle.committed_run(tmp_path, "2026-12").result.register
    assert register["kind"].isin(["component", "bonus", "spif"]).all()
    ran = register.groupby(["rep_id", "line"])["earned_to_date"].sum().astype("int64")

    # The model's exact path on the population as the written workspace holds it.
    ws = cycle.open_workspace(tmp_path)
    plan_set, inputs, _ = cycle.load(ws)
    written = from_workspace(plan, "ae-2026", inputs.reps, inputs.quotas, plan_set.plans, CAL, 2026)
    assert list(written.rep_ids) == list(pop.rep_ids)
    exact = price(plan, written, {c: v[None] for c, v in whole.items()},
                  {s: v[None].astype(float) for s, v in spifs.items()}, CAL, exact=True)
    modelled = pd.Series({(rep, line): int(values[0, r]) for line, values in exact.lines.items()
                          for r, rep in enumerate(written.rep_ids)}).sort_index()
    modelled = modelled[modelled.index.isin(ran.index) | (modelled != 0)]
    pd.testing.assert_series_equal(modelled, ran.reindex(modelled.index).fillna(0).astype("int64"),
                                   check_names=False)
    assert int(ran.sum()) == int(sum(v.sum() for v in exact.lines.values()))

    # The Monte Carlo's float path on the unrounded draw: within a cent per line period.
    floated = price(plan, pop, credited, counts, CAL)
    for line, values in floated.lines.items():
        assert np.abs(values[0] - exact.lines[line][0]).max() <= 4 + 1e-6, line
