"""The worked examples of the contract as golden workspaces, compared byte for byte.

Each folder under tests/golden/ is a workspace plus `steps.yaml` and `expected/P.csv`
(see tests/golden/README.md). The engine is driven through `compensation.cycle`, as a library caller would.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests import cyclekit

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
CASES = sorted(p for p in GOLDEN.iterdir() if (p / "steps.yaml").is_file())
EXCEPTIONS_HEADER = "period,severity,table,row,txn_id,rep_id,reason\n"




def diff(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(keepends=True),
        actual.splitlines(keepends=True),
        fromfile=f"expected/{name}",
        tofile=f"out/{name}",
    )
    return "".join(lines) or f"(texts differ only in bytes: {expected!r} vs {actual!r})"


def run_steps(case: Path, ws: Path) -> list[str]:
    """Run the case's steps in `ws`; return the months that were run, in order."""
    steps = YAML(typ="safe").load((case / "steps.yaml").read_text())
    months = []
    for step in steps:
        if "data" in step:
            for src in (case / step["data"]).iterdir():
                shutil.copy(src, ws / "data" / src.name)
            continue
        verb = "run" if "run" in step else "close"
        month = str(step[verb])
        if verb == "run":
            result = cyclekit.run(ws, month, *(["--strict"] if step.get("strict") else []))
        else:
            result = cyclekit.close(ws, month)
        assert result.exit_code == 0, f"{verb} {month} exited {result.exit_code}: {result.output}"
        if verb == "run":
            months.append(month)
    return months


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path, tmp_path: Path):
    ws = tmp_path / "ws"
    shutil.copytree(case, ws, ignore=shutil.ignore_patterns("expected", "steps.yaml", "data_*"))
    months = run_steps(case, ws)
    expected_files = sorted((case / "expected").glob("*.csv"))
    assert expected_files, f"{case.name} has no expected files"
    problems = []
    for expected_file in expected_files:
        if expected_file.name.endswith(".exceptions.csv"):
            continue
        month = expected_file.stem
        assert month in months, f"expected/{expected_file.name} but no run of {month}"
        actual = (ws / "out" / month / "payouts.csv").read_bytes()
        wanted = expected_file.read_bytes()
        if actual != wanted:
            problems.append(diff(wanted.decode(), actual.decode(), f"{month}/payouts.csv"))
        exc_file = case / "expected" / f"{month}.exceptions.csv"
        exc_wanted = exc_file.read_bytes() if exc_file.exists() else EXCEPTIONS_HEADER.encode()
        exc_actual = (ws / "out" / month / "exceptions.csv").read_bytes()
        if exc_actual != exc_wanted:
            problems.append(
                diff(exc_wanted.decode(), exc_actual.decode(), f"{month}/exceptions.csv")
            )
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_every_worked_example_has_a_case():
    """SPEC section 8 has twelve worked examples, folders 01..12; later numbers are later rules' cases."""
    numbers = sorted(int(c.name[:2]) for c in CASES)
    assert set(range(1, 13)) <= set(numbers)
    assert len(numbers) == len(set(numbers)), "two cases share a number"
