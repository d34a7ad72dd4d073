"""The `icm` entry point: the command loads with the cyclic collector paused, then runs with it on."""

import gc
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
