"""The December RunResult of the cached 10k reps / 1M transactions workspace, for the stage benchmarks.

`benchmarks/run_scale.py` makes the workspace; the first call calculates the month with
`dry_run` (about 8 s) and pickles it under benchmarks/.cache/, later calls read the pickle.
Delete the pickle after changing the calculation, or the benchmarks time an old result.
"""

from __future__ import annotations

import pickle
import sys
import tempfile
import time
from pathlib import Path

from compensation.cycle import dry_run
from compensation.results import RunResult

CACHE = Path(__file__).resolve().parent / ".cache"
WORKSPACE = CACHE / "reps10000_txns1000000_seed7"
PERIOD = "2026-12"
PICKLE = CACHE / f"run_result_{PERIOD}.pickle"


def december_result() -> RunResult:
    """The month's RunResult, from the pickle when there is one."""
    if PICKLE.exists():
        with PICKLE.open("rb") as fh:
            return pickle.load(fh)
    if not (WORKSPACE / ".complete").exists():
        sys.exit(f"{WORKSPACE} is missing: make it with python benchmarks/run_scale.py --reps 10000 "
                 "--txns 1000000 --repeat 1")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        out = dry_run(workspace_copy(Path(tmp)), PERIOD)
        print(f"calculated {PERIOD} in {time.perf_counter() - started:.1f} s", flush=True)
    with PICKLE.open("wb") as fh:
        pickle.dump(out, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def workspace_copy(root: Path) -> Path:
    """A workspace at `root` sharing the cached data and plans, with its own (empty) ledger."""
    (root / "icm.yaml").write_text((WORKSPACE / "icm.yaml").read_text())
    (root / "data").symlink_to(WORKSPACE / "data", target_is_directory=True)
    (root / "plans").symlink_to(WORKSPACE / "plans", target_is_directory=True)
    return root
