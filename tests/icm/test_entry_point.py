"""The `icm` entry point: the command loads with the cyclic collector paused, then runs with it on,
in a process tuned for million-row columns."""

import ctypes
import gc
import os
import subprocess
import sys
from importlib.metadata import entry_points

import icm.__main__ as entry
import icm.cli


def test_the_console_script_is_the_entry_point():
    assert entry_points(group="console_scripts")["icm"].value == "icm.__main__:main"


def test_the_command_runs_with_the_collector_on_and_what_it_loaded_frozen(monkeypatch):
    seen = {}
    monkeypatch.setattr(icm.cli, "main", lambda: seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count()))
    try:
        entry.main()
    finally:
        gc.unfreeze()
    assert seen["enabled"] is True
    assert seen["frozen"] > 10_000  # pandas, pyarrow, SQLAlchemy and pydantic: far more objects than this


def test_the_command_keeps_numpy_off_huge_pages_and_freed_memory_for_reuse():
    # A fresh interpreter: numpy reads NUMPY_MADVISE_HUGEPAGE once, when it loads.
    probe = ("import sys, types\n"
             "import icm.__main__ as entry\n"
             "sys.modules['icm.cli'] = types.SimpleNamespace(main=lambda: None)  # the command itself: not needed\n"
             "entry.main()\n"
             "from numpy._core import multiarray\n"
             "print('huge pages', multiarray._set_madvise_hugepage(True))\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip().endswith("huge pages False")


def test_freed_memory_is_kept_through_glibc_where_there_is_one(monkeypatch):
    calls = []

    class Libc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(entry.ctypes, "CDLL", lambda name: Libc())
    monkeypatch.setattr(entry.sys, "platform", "linux")
    entry._keep_freed_memory()
    assert calls == [(-3, 32 << 20), (-1, 128 << 20)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD (malloc.h)
    calls.clear()
    monkeypatch.setattr(entry.sys, "platform", "darwin")
    entry._keep_freed_memory()
    assert calls == []
    if sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "mallopt"):
        monkeypatch.undo()
        assert ctypes.CDLL(None).mallopt(entry._M_MMAP_THRESHOLD, 32 << 20) == 1  # this glibc takes the values
