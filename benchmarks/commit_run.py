"""Benchmark: committing a run, i.e. `snapshot.pack` and `Ledger.commit_run` (issue 20, item 5).

    python benchmarks/commit_run.py [--repeat 5] [--url postgresql://...]

The RunResult of `icm run` of 2026-12 on the cached 10k reps / 1M transactions workspace
comes from `december_run.december_result` (calculated once, then read from its pickle).
Then, `--repeat` times, it times
`pack(result)` and `commit_run` back to back, as `icm run` calls them, into a fresh ledger:
a new SQLite file in a temporary workspace, or the PostgreSQL database at `--url` (its
public schema is dropped first: give it a database of its own). It prints the medians and
the snapshot's size in bytes; the last line is
`pack_s=... commit_s=... total_s=... snapshot_bytes=...`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from december_run import december_result

from compensation.ledger import Audit, Ledger, engine_url
from compensation.results import RunResult
from compensation.snapshot import FRAMES, pack, unpack


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
    run = december_result()
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
