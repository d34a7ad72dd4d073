"""Benchmark: committing a run, i.e. `snapshot.pack` and `Ledger.commit_run` (issue 20, item 5).

    python benchmarks/commit_run.py [--repeat 5] [--url postgresql://...]

The RunResult of `icm run` of 2026-12 on the cached 10k reps / 1M transactions workspace
(made by `benchmarks/run_scale.py`) is calculated once with `dry_run` and pickled under
benchmarks/.cache/, so later calls start in a second. Then, `--repeat` times, it times
`pack(result)` and `commit_run` back to back, as `icm run` calls them, into a fresh ledger:
a new SQLite file in a temporary workspace, or the PostgreSQL database at `--url` (its
public schema is dropped first: give it a database of its own). It prints the medians and
the snapshot's size in bytes; the last line is
`pack_s=... commit_s=... total_s=... snapshot_bytes=...`.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa

from compensation.cycle import dry_run
from compensation.ledger import Audit, Ledger, engine_url
from compensation.results import RunResult
from compensation.snapshot import FRAMES, pack, unpack

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
WORKSPACE = CACHE / "reps10000_txns1000000_seed7"
PICKLE = CACHE / "commit_run_result_2026-12.pickle"
PERIOD = "2026-12"


def result() -> RunResult:
    """The month's RunResult, from the pickle when there is one."""
    if PICKLE.exists():
        with PICKLE.open("rb") as fh:
            return pickle.load(fh)
    if not (WORKSPACE / ".complete").exists():
        sys.exit(f"{WORKSPACE} is missing: make it with python benchmarks/run_scale.py --reps 10000 "
                 "--txns 1000000 --repeat 1")
    with tempfile.TemporaryDirectory() as tmp:
        ws = _workspace(Path(tmp))
        started = time.perf_counter()
        out = dry_run(ws, PERIOD)
        print(f"calculated {PERIOD} in {time.perf_counter() - started:.1f} s", flush=True)
    with PICKLE.open("wb") as fh:
        pickle.dump(out, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def _workspace(root: Path) -> Path:
    """A workspace sharing the cached data and plans, with its own (empty) ledger."""
    (root / "icm.yaml").write_text((WORKSPACE / "icm.yaml").read_text())
    (root / "data").symlink_to(WORKSPACE / "data", target_is_directory=True)
    (root / "plans").symlink_to(WORKSPACE / "plans", target_is_directory=True)
    return root


def _fresh_ledger(url: str | None, tmp: Path) -> Ledger:
    """An empty ledger with its schema made, so only the commit is timed."""
    if url is None:
        ledger = Ledger(f"sqlite:///{tmp / 'ledger.db'}")
    else:
        engine = sa.create_engine(engine_url(url))
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        ledger = Ledger(url)
    ledger._ensure_schema()
    return ledger


def time_commit(run: RunResult, repeat: int, url: str | None) -> tuple[list[float], list[float], Mapping]:
    """Seconds of `pack` and of `commit_run` as `cycle.run` calls them, each into a fresh ledger.

    `pack` hands Parquet writing to a background thread: what is left of it when the
    ledger stores the blobs counts in the commit.
    """
    packs, commits, parts = [], [], {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            ledger = _fresh_ledger(url, Path(tmp))
            try:
                started = time.perf_counter()
                parts = pack(run)
                packed = time.perf_counter()
                ledger.commit_run(run, Audit.current("bench"), snapshot=parts)
                packs.append(packed - started)
                commits.append(time.perf_counter() - packed)
            finally:
                ledger.dispose()
    return packs, commits, parts


def check_round_trip(run: RunResult, parts: dict[str, bytes]) -> None:
    """The snapshot gives back the frames' values and dtypes: a fast pack that loses data is no win.

    (Object columns of Python ints come back as int64, as they always have.)
    """
    back = unpack(parts, run.workspace, run.inputs, 1)
    for name in FRAMES:
        want, got = getattr(run, name).reset_index(drop=True), getattr(back, name)
        for col in want.columns:
            same_type = want[col].dtype == got[col].dtype or want[col].dtype == object
            if not same_type or not want[col].astype(object).equals(got[col].astype(object)):
                sys.exit(f"snapshot of {name}.{col} does not round-trip")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", help="a PostgreSQL ledger URL to commit into (its public schema is DROPPED)")
    args = parser.parse_args(argv)
    run = result()
    print("rows: " + ", ".join(f"{name}={len(getattr(run, name))}" for name in FRAMES))
    pack_times, commit_times, parts = time_commit(run, args.repeat, args.url)
    check_round_trip(run, parts)
    sizes = {name: len(data) for name, data in parts.items()}
    print("snapshot bytes: " + ", ".join(f"{name}={size}" for name, size in sizes.items()))
    pack_s, commit_s = statistics.median(pack_times), statistics.median(commit_times)
    total_s = statistics.median(p + c for p, c in zip(pack_times, commit_times, strict=True))
    print("pack_s=" + ",".join(f"{t:.3f}" for t in pack_times) + " commit_s="
          + ",".join(f"{t:.3f}" for t in commit_times))
    print(f"pack_s={pack_s:.3f} commit_s={commit_s:.3f} total_s={total_s:.3f} "
          f"snapshot_bytes={sum(sizes.values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
