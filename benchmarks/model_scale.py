"""Plan modelling at scale (issue 18): draws x reps through a three-component plan.

    python benchmarks/model_scale.py                       # 10,000 draws x 5,000 reps
    python benchmarks/model_scale.py --draws 200 --reps 500

The plan is the demo AE plan without its SPIF and draw: a yearly retroactive commission
(capped), a quarterly renewals curve gated on it and a quarterly kicker, costed per year
on the float path. Attainment is lognormal and correlated, quarters vary by 30%.
The last line is `draws= reps= seconds= rep_years_per_s= expected= p10= p90=`.
"""

from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np

from compensation.periods import Calendar
from compensation.planfile import load_plan
from modelling.attainment import Assumptions, Marginal
from modelling.montecarlo import simulate
from modelling.population import synthetic


def bench_plan():
    plan = load_plan(resources.files("plans").joinpath("demo", "ae.yaml"))
    return plan.model_copy(update={"spifs": (), "draw": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    plan = bench_plan()
    rng = np.random.default_rng(args.seed)
    quotas = rng.lognormal(np.log(900_000), 0.3, args.reps).round(-3)
    pop = synthetic(plan, "ae-2026", args.reps, 60_000, {"new_business": 900_000, "renewals": 350_000}, 2026)
    # Each rep's own quota: the population's arrays scaled per rep (yearly amounts split evenly).
    scale = (quotas / 900_000)[:, None]
    pop = pop.__class__(pop.role, pop.rep_ids, pop.target, {k: v * scale for k, v in pop.quotas.items()},
                        pop.year)
    assumptions = Assumptions(("new_business", "renewals"),
                              {"new_business": Marginal("lognormal", 0.98, 0.25),
                               "renewals": Marginal("lognormal", 1.0, 0.2)},
                              np.array([[1.0, 0.4], [0.4, 1.0]]), 0.3)
    done = [0]

    def tell(n: int) -> None:
        done[0] += n
        if done[0] % max(1, args.draws // 10) < n:
            print(f"  {done[0]:,} / {args.draws:,} draws  {time.perf_counter() - start:.1f} s", flush=True)

    start = time.perf_counter()
    result = simulate("bench", plan, pop, assumptions, {}, Calendar(), args.draws, args.seed, tell)
    seconds = time.perf_counter() - start
    rate = args.draws * args.reps / seconds
    print(f"draws={args.draws} reps={args.reps} seconds={seconds:.2f} rep_years_per_s={rate:,.0f} "
          f"expected={result.expected / 100:,.0f} p10={result.quantile(0.1) / 100:,.0f} "
          f"p90={result.quantile(0.9) / 100:,.0f}")


if __name__ == "__main__":
    main()
