"""Scale benchmark: `icm run` of the last month against the floor of reading the data.

    python benchmarks/run_scale.py --reps 10000 --txns 1000000

Generates (once, cached under benchmarks/.cache/) a workspace with one two-component
plan (a marginal yearly commission on new business and a quarterly payout curve on
renewals), `reps`, `quotas` and `transactions` for calendar 2026. Then it times, each
as a fresh subprocess:

- `icm run WS --period 2026-12` on a fresh ledger (a new run folder whose `data/` and
  `plans/` link to the cached ones), which recomputes the whole year (rule 8);
- the floor: a Python process that imports pandas, reads the same transactions CSV
  with the pyarrow engine and sums amount by rep and type.

The last line printed is `run_s=... floor_s=... ratio=... peak_mib=...`, where
peak_mib is the peak resident memory of the `icm run` process.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PERIOD = "2026-12"
PLAN = """\
id: bench-2026
name: Scale benchmark plan
currency: EUR
effective: {from: 2026-01-01, to: 2026-12-31}
target_incentive: 50000
components:
  - id: new_business
    measure: {where: {type: new}}
    attainment_period: year
    commission:
      method: marginal
      tiers:
        - {from: 0%, rate: 4%}
        - {from: 100%, rate: 7%}
        - {from: 150%, rate: 9%}
  - id: renewals
    measure: {where: {type: renewal}}
    attainment_period: quarter
    payout_curve:
      weight: 30%
      points: [[0%, 0%], [50%, 0%], [100%, 100%], [150%, 200%]]
      cap: 200%
"""
FLOOR = """\
import sys
import pandas as pd
frame = pd.read_csv(sys.argv[1], engine="pyarrow")
sums = frame.groupby(["rep_id", "type"])["amount"].sum()
print(len(frame), len(sums), round(float(sums.sum()), 2))
"""


def generate(root: Path, reps: int, txns: int, seed: int) -> None:
    """Write the benchmark workspace at `root`, vectorised (10M rows in well under a minute)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    (root / "plans").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "icm.yaml").write_text("base_currency: EUR\n", encoding="utf-8")
    (root / "plans" / "bench.yaml").write_text(PLAN, encoding="utf-8")

    def ids(prefix: str, n: int, width: int) -> pa.Array:
        digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0")
        return pc.binary_join_element_wise(prefix, digits, "")

    def write(name: str, table: pa.Table) -> None:
        path = root / "data" / f"{name}.csv"
        path.write_text(",".join(table.column_names) + "\n", encoding="utf-8")
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        with pa.OSFile(str(path), "ab") as sink:
            pacsv.write_csv(table, sink, write_options=options)

    rep_ids = ids("R", reps, 7)
    write(
        "reps",
        pa.table(
            {
                "rep_id": rep_ids,
                "name": pc.binary_join_element_wise("Rep ", rep_ids, ""),
                "plan": pa.array(np.full(reps, "bench-2026")),
                "start_date": pa.array(np.full(reps, np.datetime64("2024-01-01", "D"))),
            }
        ),
    )

    # Transactions: every rep gets a share, dates spread over the year, 60% new.
    owner = rng.integers(0, reps, size=txns)
    days = rng.integers(0, 365, size=txns).astype("timedelta64[D]")
    date = np.datetime64("2026-01-01", "D") + days
    is_new = rng.random(txns) < 0.6
    cents = (
        np.where(
            is_new,
            rng.lognormal(np.log(2_000_000), 0.6, txns),
            rng.lognormal(np.log(800_000), 0.4, txns),
        )
        .round()
        .astype(np.int64)
    )
    kind = np.where(is_new, "new", "renewal")
    write(
        "transactions",
        pa.table(
            {
                "txn_id": ids("T", txns, 9),
                "date": pa.array(date),
                "amount": pa.array(cents / 100.0),
                "rep_id": pc.take(rep_ids, pa.array(owner)),
                "type": pa.array(kind),
            }
        ),
    )

    # Quotas: each rep's own volume over a performance draw, so attainment spreads
    # around 100% and every tier and curve segment is exercised.
    perf = np.clip(rng.lognormal(0.0, 0.25, reps), 0.5, 2.0)
    new_sum = np.bincount(owner[is_new], weights=cents[is_new], minlength=reps)
    quarter = (date.astype("datetime64[M]").astype(np.int64) % 12) // 3
    ren = ~is_new
    ren_sum = np.bincount(owner[ren] * 4 + quarter[ren], weights=cents[ren], minlength=reps * 4)
    annual = np.maximum(np.round(new_sum / perf / 100_000) * 1000, 1000.0)
    quarterly = np.maximum(np.round(ren_sum / np.repeat(perf, 4) / 100_000) * 1000, 1000.0)
    q_names = np.array(["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"])
    write(
        "quotas",
        pa.table(
            {
                "rep_id": pa.concat_arrays(
                    [rep_ids, pc.take(rep_ids, pa.array(np.repeat(np.arange(reps), 4)))]
                ),
                "component": pa.array(
                    np.concatenate([np.full(reps, "new_business"), np.full(reps * 4, "renewals")])
                ),
                "period": pa.array(np.concatenate([np.full(reps, "2026"), np.tile(q_names, reps)])),
                "amount": pa.array(np.concatenate([annual, quarterly])),
            }
        ),
    )


def cached_workspace(cache: Path, reps: int, txns: int, seed: int) -> Path:
    """The cached workspace for these sizes, generated on first use."""
    root = cache / f"reps{reps}_txns{txns}_seed{seed}"
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        generate(root, reps, txns, seed)
        (root / ".complete").write_text("ok\n")
        print(f"generated {root} in {time.perf_counter() - started:.1f} s", flush=True)
    return root


def fresh_run_folder(cached: Path) -> Path:
    """A new workspace folder sharing the cached data and plans: a fresh ledger and out/."""
    run = cached / "runs" / f"{os.getpid()}-{time.time_ns()}"
    run.mkdir(parents=True)
    shutil.copy(cached / "icm.yaml", run / "icm.yaml")
    (run / "data").symlink_to(cached / "data", target_is_directory=True)
    (run / "plans").symlink_to(cached / "plans", target_is_directory=True)
    return run


def timed(args: list[str], label: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(
            f"{label} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}\n"
        )
        raise SystemExit(1)
    print(
        f"{label}: {elapsed:.2f} s  {(done.stdout.strip().splitlines() or [''])[-1]}",
        flush=True,
    )
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--txns", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the icm run here")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (ledger, out/)")
    args = parser.parse_args(argv)

    cached = cached_workspace(args.cache.resolve(), args.reps, args.txns, args.seed)
    csv_path = cached / "data" / "transactions.csv"
    with open(csv_path, "rb") as fh:  # warm the page cache so both timings read from memory
        while fh.read(1 << 24):
            pass
    run = fresh_run_folder(cached)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    os.environ.update(env)
    try:
        icm = (
            [sys.executable, "-m", "icm"]
            if not args.profile
            else [sys.executable, "-m", "cProfile", "-o", str(args.profile.resolve()), "-m", "icm"]
        )
        run_s = timed([*icm, "run", str(run), "--period", PERIOD], "icm run")
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        floor_s = timed([sys.executable, "-c", FLOOR, str(csv_path)], "floor")
    finally:
        if not args.keep:
            shutil.rmtree(run, ignore_errors=True)
    print(f"reps={args.reps} txns={args.txns} workspace={run if args.keep else cached}")
    print(
        f"run_s={run_s:.2f} floor_s={floor_s:.2f} ratio={run_s / floor_s:.2f} "
        f"peak_mib={peak_mib:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
