"""Engines: who runs the per-transaction stages of a month.

`pandas` (the default) runs them in this process on the whole table; `dask` runs them
on Dask partitions (`compensation.engines.dask_engine`, needs the `dask` extra). Both
hand their sums to `compensation.pipeline.calculate_credited`: one implementation of
every rule. This package imports no Dask: `compensation` works without it.
"""

from __future__ import annotations

ENGINES = ("pandas", "dask")
