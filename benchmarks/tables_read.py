"""Load time of generated transactions: `python benchmarks/tables_read.py [ROWS] [DIR]`.

Writes a workspace with 200 reps and ROWS transactions (default 1,000,000) as CSV, then
times `read_table(ws, "transactions")` and `load_inputs(ws)`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from compensation.settings import Settings, Workspace
from compensation.tables import load_inputs, read_table


def write_workspace(root: Path, rows: int, seed: int = 7) -> Workspace:
    rng = np.random.default_rng(seed)
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    reps = [f"R{i:03d}" for i in range(200)]
    pd.DataFrame({"rep_id": reps, "name": [f"Rep {r}" for r in reps], "plan": "ae-2026",
                  "start_date": "2026-01-01"}).to_csv(data / "reps.csv", index=False)
    days = pd.date_range("2026-01-01", "2026-12-31").strftime("%Y-%m-%d").to_numpy()
    cents = rng.integers(100, 10_000_000, rows)
    amounts = np.char.add(np.char.add((cents // 100).astype(str), "."),
                          np.char.zfill((cents % 100).astype(str), 2))
    frame = pd.DataFrame({
        "txn_id": np.char.add("T", np.arange(rows).astype(str)),
        "date": days[rng.integers(0, len(days), rows)],
        "amount": amounts,
        "currency": "EUR",
        "rep_id": np.array(reps)[rng.integers(0, len(reps), rows)],
        "account_id": np.char.add("A", rng.integers(0, 20_000, rows).astype(str)),
        "type": np.array(["new", "renewal", "expansion"])[rng.integers(0, 3, rows)],
        "product": np.array(["Platform", "Add-on"])[rng.integers(0, 2, rows)],
        "reverses": "",
    })
    frame.to_csv(data / "transactions.csv", index=False)
    return Workspace(root, Settings())


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    root = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="icm-bench-"))
    ws = write_workspace(root, rows)
    size = (ws.data_dir / "transactions.csv").stat().st_size
    start = time.perf_counter()
    frame, problems, _ = read_table(ws, "transactions", known_reps=None)
    read = time.perf_counter() - start
    start = time.perf_counter()
    inputs, problems = load_inputs(ws)
    load = time.perf_counter() - start
    print(f"{rows:,} transactions ({size / 1e6:.0f} MB): read_table {read:.2f} s, "
          f"load_inputs {load:.2f} s, {len(inputs.transactions):,} rows, "
          f"{len(problems)} problems")


if __name__ == "__main__":
    main()
