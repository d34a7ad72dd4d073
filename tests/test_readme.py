"""The README is true: its Quick start has two lines, and its walk-through runs as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _bash_blocks(section: str) -> list[str]:
    return [re.sub(r"^ {3}", "", block, flags=re.M) for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_quick_start_is_two_command_lines():
    (block,) = _bash_blocks(_section("Quick start"))
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].startswith("pip install -e .") and "icm demo" in lines[0]
    assert "pytest" in lines[1] and "test" in lines[1]


@pytest.mark.slow
def test_the_payout_cycle_walk_through_runs_as_written(demo_year, tmp_path):
    """Every command of "One payout cycle, step by step", in order, in a shell, exits 0."""
    shutil.copytree(demo_year[0], tmp_path / "icm-demo", ignore=shutil.ignore_patterns("out", "icm.db*"))
    script = "set -euo pipefail\n" + "\n".join(_bash_blocks(_section("One payout cycle, step by step")))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "COLUMNS": "200", "ICM_LOCK_TIMEOUT": "5"}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    acme = tmp_path / "acme"
    assert (acme / "out" / "2026-02" / "payouts.csv").is_file()
    assert (acme / "out" / "2026-01" / "statements" / "R009.pdf").is_file()
    assert "Closed 2026-02" in done.stdout and "nothing to compare yet" in done.stdout + done.stderr
