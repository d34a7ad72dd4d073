"""The `icm` process ends quickly (no interpreter teardown) yet keeps its output and exit code."""

from __future__ import annotations

import subprocess
import sys


def _icm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "icm", *args], capture_output=True, text=True, timeout=120)


def test_output_and_exit_codes_survive_the_quick_exit(tmp_path):
    made = _icm("init", str(tmp_path / "ws"))
    assert made.returncode == 0, made.stderr
    assert "Created workspace" in made.stdout and "icm validate" in made.stdout
    assert (tmp_path / "ws" / "icm.yaml").is_file()

    missing = _icm("run", str(tmp_path / "nowhere"), "--period", "2026-01")
    assert missing.returncode == 2
    assert "no workspace at" in missing.stderr and "icm init" in missing.stderr
