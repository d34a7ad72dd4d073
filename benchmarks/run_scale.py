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

`--repeat N` (default 5) times N runs and N floors and reports the medians; `--engine
dask` runs the Dask engine (a LocalCluster, or `--scheduler ADDRESS`). Memory is the
peak, sampled every 0.1 s, of the resident memory summed over the `icm run` process and
all its descendants (a LocalCluster's scheduler and workers). `--stages` adds one
profiled run and prints each stage's share of it (read, credit, earn, settle, ledger,
render). `--parquet N` first writes the transactions as N Parquet files under
`data/transactions/` (in a sibling workspace) and runs on those.

The last line printed is `run_s=... floor_s=... ratio=... peak_mib=...` (medians).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
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


def timed(args: list[str], label: str) -> tuple[float, float]:
    """Run `args`; return wall seconds and the sampled peak of the process tree's resident MiB.

    The wall time is taken when the process ends (memory is sampled on another thread, so
    the figure is not rounded up to a sampling interval).
    """
    try:
        import psutil
    except ImportError:
        raise SystemExit("run_scale.py samples memory with psutil: pip install -e '.[bench]'") from None

    peak = 0
    done = threading.Event()

    def sample(root: psutil.Process) -> None:
        nonlocal peak
        while not done.is_set():
            total = 0
            try:
                for each in [root, *root.children(recursive=True)]:
                    try:
                        total += each.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            peak = max(peak, total)
            done.wait(0.05)

    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=sink, text=True)
        sampler = threading.Thread(target=sample, args=(psutil.Process(proc.pid),), daemon=True)
        sampler.start()
        out = proc.communicate()[0]
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.stderr.write(f"{label} failed (exit {proc.returncode}):\n{out}\n")
        raise SystemExit(1)
    print(f"{label}: {elapsed:.2f} s  peak {peak / 2**20:.0f} MiB  "
          f"{(out.strip().splitlines() or [''])[-1][:100]}", flush=True)
    return elapsed, peak / 2**20


STAGES = {  # stage -> functions whose cumulative time is the stage's (nested ones are not counted twice)
    "imports": ("_find_and_load",),
    "read": ("load_inputs", "scan_part"),
    "credit": ("credit_partition", "credit_detail"),
    "earn": ("earn_components", "earn_bonuses", "earn_spifs", "true_up"),
    "settle": ("timing", "settle", "register", "year_to_date", "check_payments"),
    "ledger": ("commit_run", "pack", "prior_state", "closed_rows"),
    "render": ("publish",),
}


def stage_shares(profile: Path) -> dict[str, float]:
    """Seconds per stage from a cProfile of `icm run` (cumulative time of each stage's functions).

    `imports` is the outermost module loading (Python, pandas, icm); the others are icm's
    own functions, the outermost call of each name.
    """
    import pstats

    stats = pstats.Stats(str(profile)).stats
    total = max(v[3] for v in stats.values())
    out = {}
    for stage, names in STAGES.items():
        ours = stage != "imports"
        out[stage] = sum(max((v[3] for (f, _, fn), v in stats.items() if fn == name and (
            not ours or ("compensation" in f or "reports" in f))), default=0.0) for name in names)
    out["other"] = max(total - sum(out.values()), 0.0)
    out["total"] = total
    return out


def parquet_workspace(cached: Path, files: int) -> Path:
    """A sibling workspace whose transactions are `files` Parquet files in data/transactions/."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    root = cached.parent / f"{cached.name}_parquet{files}"
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    (root / "data" / "transactions").mkdir(parents=True)
    for name in ("icm.yaml",):
        shutil.copy(cached / name, root / name)
    (root / "plans").symlink_to(cached / "plans", target_is_directory=True)
    for table in ("reps", "quotas"):
        (root / "data" / f"{table}.csv").symlink_to(cached / "data" / f"{table}.csv")
    reader = pacsv.open_csv(cached / "data" / "transactions.csv", convert_options=pacsv.ConvertOptions(
        column_types={"txn_id": "string", "rep_id": "string", "type": "string", "date": "date32"}))
    total = sum(1 for _ in open(cached / "data" / "transactions.csv", "rb")) - 1
    per_file = -(-total // files)
    batch, written, number = [], 0, 0
    for chunk in reader:
        batch.append(chunk)
        written += chunk.num_rows
        if written >= per_file:
            import pyarrow as pa
            pq.write_table(pa.Table.from_batches(batch), root / "data" / "transactions" / f"part-{number:04d}.parquet",
                           row_group_size=500_000)
            batch, written, number = [], 0, number + 1
    if batch:
        import pyarrow as pa
        pq.write_table(pa.Table.from_batches(batch), root / "data" / "transactions" / f"part-{number:04d}.parquet",
                       row_group_size=500_000)
    (root / ".complete").write_text("ok\n")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--txns", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    parser.add_argument("--repeat", type=int, default=5, help="runs (and floors) to take the median of")
    parser.add_argument("--engine", choices=("pandas", "dask"), default="pandas")
    parser.add_argument("--scheduler", help="Dask scheduler address (default: a LocalCluster)")
    parser.add_argument("--parquet", type=int, default=0, help="run on the transactions as N Parquet files")
    parser.add_argument("--stages", action="store_true", help="add a profiled run and print each stage's share")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the icm run here")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (ledger, out/)")
    args = parser.parse_args(argv)

    cached = cached_workspace(args.cache.resolve(), args.reps, args.txns, args.seed)
    csv_path = cached / "data" / "transactions.csv"
    if args.parquet:
        cached = parquet_workspace(cached, args.parquet)
    with open(csv_path, "rb") as fh:  # warm the page cache so both timings read from memory
        while fh.read(1 << 24):
            pass
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    os.environ.update(env)
    engine = ["--engine", args.engine] + (["--scheduler", args.scheduler] if args.scheduler else [])
    runs, peaks, floors = [], [], []
    for i in range(max(args.repeat, 1)):
        run = fresh_run_folder(cached)
        try:
            profile = ["-m", "cProfile", "-o", str(args.profile.resolve())] if args.profile and i == 0 else []
            icm = [sys.executable, *profile, "-m", "icm", "run", str(run), "--period", PERIOD, *engine]
            run_s, peak = timed(icm, f"icm run {i + 1} ({args.engine})")
            runs.append(run_s)
            peaks.append(peak)
        finally:
            if not args.keep:
                shutil.rmtree(run, ignore_errors=True)
        floors.append(timed([sys.executable, "-c", FLOOR, str(csv_path)], f"floor {i + 1}")[0])
    if args.stages:
        run = fresh_run_folder(cached)
        prof = run / "run.prof"
        try:
            timed([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "icm", "run", str(run), "--period",
                   PERIOD, *engine], "profiled run")
            shares = stage_shares(prof)
        finally:
            shutil.rmtree(run, ignore_errors=True)
        total = shares.pop("total")
        print("stage shares of the profiled run (cProfile adds overhead; shares, not seconds):")
        for stage, secs in shares.items():
            print(f"  {stage:<7} {secs:7.2f} s  {100 * secs / total:5.1f} %")
    run_s, floor_s, peak_mib = (statistics.median(v) for v in (runs, floors, peaks))
    print(f"reps={args.reps} txns={args.txns} engine={args.engine} repeat={len(runs)} workspace={cached}")
    print("runs_s=" + ",".join(f"{r:.2f}" for r in runs) + " floors_s=" + ",".join(f"{f:.2f}" for f in floors)
          + " peaks_mib=" + ",".join(f"{m:.0f}" for m in peaks) + f" load={os.getloadavg()[0]:.1f}")
    print(f"run_s={run_s:.2f} floor_s={floor_s:.2f} ratio={run_s / floor_s:.2f} peak_mib={peak_mib:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
