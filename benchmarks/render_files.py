"""Rendering speed of `out/P/`'s files (issue 20 item 5), and a byte-for-byte guard.

    python benchmarks/render_files.py [--repeat 3] [--save-baseline | --check]

Takes the December RunResult of the cached 1M workspace (`december_run.december_result`:
calculated once, then read from its pickle). Then it times each piece of `reports.rendering.render_run`
(best of --repeat) and hashes every file it wrote; for `payouts.xlsx` each zip part is
hashed on its own (the zip's own bytes and docProps/core.xml carry the time of writing;
the latter is hashed without it). `--save-baseline` stores the
hashes; `--check` compares against the stored ones and exits 1 on any difference.
The last line is `render_s=... pieces=...`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from december_run import CACHE, december_result  # noqa: E402

from reports.liability import journal_csv, liability_csv  # noqa: E402
from reports.payroll import payroll_csv  # noqa: E402
from reports.register import exceptions_csv, payouts_csv  # noqa: E402
from reports.workbook import write_workbook  # noqa: E402

BASELINE = CACHE / "render_files_baseline.json"


def pieces(result, out: Path) -> dict:
    """Name -> a call rendering that file's bytes (the workbook writes into `out`)."""
    def workbook():
        return write_workbook(result, out / "payouts.xlsx").read_bytes()
    return {
        "payouts_csv": lambda: payouts_csv(result.register),
        "exceptions_csv": lambda: exceptions_csv(result.exceptions),
        "payroll_csv": lambda: payroll_csv(result.register, result.reps, result.period),
        "liability_csv": lambda: liability_csv(result),
        "journal_csv": lambda: journal_csv(result),
        "write_workbook": workbook,
    }


def digests(name: str, data: bytes, out: Path) -> dict[str, str]:
    """sha256 of a file, or of each part of the workbook package."""
    if name != "write_workbook":
        return {name: hashlib.sha256(data).hexdigest()}
    with zipfile.ZipFile(out / "payouts.xlsx") as archive:
        parts = {part: archive.read(part) for part in archive.namelist()}
    # docProps/core.xml stamps the time of writing: compare it without the stamps.
    parts["docProps/core.xml"] = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\\1",
                                        parts.get("docProps/core.xml", b""))
    return {f"payouts.xlsx:{part}": hashlib.sha256(data).hexdigest() for part, data in parts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--save-baseline", action="store_true", help="store the files' hashes")
    group.add_argument("--check", action="store_true", help="compare the files' hashes with the stored ones")
    args = parser.parse_args()
    result = december_result()
    print(f"register rows: {len(result.register)}, reps: {len(result.reps)}", flush=True)
    seconds, hashes = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for name, render in pieces(result, out).items():
            best = float("inf")
            for _ in range(max(1, args.repeat)):
                started = time.perf_counter()
                data = render()
                best = min(best, time.perf_counter() - started)
            seconds[name] = best
            hashes.update(digests(name, data, out))
            print(f"{name:15s} {best:7.3f} s  {len(data):>10,d} bytes", flush=True)
    status = 0
    if args.save_baseline:
        BASELINE.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"baseline saved: {BASELINE}")
    elif args.check:
        stored = json.loads(BASELINE.read_text(encoding="utf-8"))
        differ = sorted(k for k in stored.keys() | hashes.keys() if stored.get(k) != hashes.get(k))
        print("identical to the baseline" if not differ else "DIFFERENT: " + ", ".join(differ))
        status = 1 if differ else 0
    total = sum(seconds.values())
    print(f"render_s={total:.3f} pieces=" + ",".join(f"{k}:{v:.3f}" for k, v in seconds.items()))
    return status


if __name__ == "__main__":
    sys.exit(main())
