"""benchmarks/run_scale.py at a small size: it runs `icm run` and the floor, and its
last line reports positive figures (no timing assertions)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
LAST_LINE = re.compile(
    r"run_s=(?P<run_s>[0-9.]+) floor_s=(?P<floor_s>[0-9.]+) "
    r"ratio=(?P<ratio>[0-9.]+) peak_mib=(?P<peak_mib>[0-9.]+)"
)


def test_small_scale_run_prints_the_figures(tmp_path):
    cache = tmp_path / "cache"
    args = [sys.executable, str(REPO / "benchmarks" / "run_scale.py"),
            "--reps", "50", "--txns", "2000", "--cache", str(cache), "--repeat", "1"]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    match = LAST_LINE.fullmatch(last)
    assert match, last
    assert all(float(v) > 0 for v in match.groupdict().values())
    workspace = next(cache.glob("reps50_txns2000_seed*"))
    transactions = (workspace / "data" / "transactions.csv").read_text().splitlines()
    assert transactions[0] == "txn_id,date,amount,rep_id,type"
    assert len(transactions) == 2001
    # The run used a fresh folder of its own and removed it; the cached data stay.
    assert not any((workspace / "runs").iterdir())
    # A second call reuses the cache instead of generating again.
    again = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "generated" not in again.stdout
