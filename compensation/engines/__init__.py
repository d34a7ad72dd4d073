"""Engines: who runs the per-transaction stages of a month.

`pandas` (the default) runs them in this process on the whole table; `dask` runs them
on Dask partitions (`compensation.engines.dask_engine`, needs the `dask` extra). Both
hand their sums to `compensation.pipeline.calculate_credited`: one implementation of
every rule. This package imports no Dask: `compensation` works without it.
"""

from __future__ import annotations

from pathlib import Path

from compensation.errors import UsageError
from compensation.planfile import load_workspace
from compensation.settings import Workspace

ENGINES = ("pandas", "dask")


def with_engine(workspace, engine: str | None = None, scheduler: str | None = None):
    """The workspace with `engine` / `scheduler` replacing its `icm.yaml` keys (command-line options win)."""
    if engine is None and scheduler is None:
        return workspace
    if engine is not None and engine not in ENGINES:
        raise UsageError(f"--engine {engine}: choose one of {', '.join(ENGINES)}")
    ws = workspace if isinstance(workspace, Workspace) else load_workspace(Path(workspace))
    update = {"engine": engine or ("dask" if scheduler else ws.settings.engine)}
    if scheduler is not None:
        update["scheduler"] = scheduler
    return type(ws)(ws.root, ws.settings.model_copy(update=update))
