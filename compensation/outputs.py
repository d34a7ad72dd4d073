"""Atomic output folders: a reader sees the old folder or the new one, never half of either.

Every part that writes a folder under `out/` (a month's renderings, territory
alignments, quotas, modelling) builds it in a hidden staging sibling and swaps it into
place with `atomic_folder`. Files follow the process umask, like any file a person
writes: nothing here creates owner-only files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STAGING_PREFIX = ".staging-"
OLD_PREFIX = ".old-"


@contextmanager
def atomic_folder(target: Path, tag: str | None = None) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces `target` whole.

    `tag` names the staging folder (default: the process id) so a crashed writer's
    leftovers can be recognised and swept by `sweep`. On an exception the staging folder
    is removed and `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    name = f"{target.name}-{tag if tag is not None else os.getpid()}"
    staging = target.parent / f"{STAGING_PREFIX}{name}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_into_place(staging, target, target.parent / f"{OLD_PREFIX}{name}")


@contextmanager
def scratch_folder(beside: Path) -> Iterator[Path]:
    """Yield an empty staging folder next to `beside` and remove it afterwards: files nobody keeps.

    A dry re-run on the Dask engine still needs a folder its workers can reach; it is
    named like a staging folder so `sweep` removes it if the process dies first.
    """
    beside = Path(beside)
    beside.parent.mkdir(parents=True, exist_ok=True)
    scratch = beside.parent / f"{STAGING_PREFIX}{beside.name}-dry-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def swap_into_place(staging: Path, target: Path, old: Path) -> None:
    """Move `staging` to `target`, keeping the previous `target` as `old` until the move is done."""
    if target.exists():
        if old.exists():
            shutil.rmtree(old)
        target.rename(old)
    staging.rename(target)
    if old.exists():
        shutil.rmtree(old)


def sweep(folder: Path) -> None:
    """Remove staging and old folders that a crashed writer left in `folder`."""
    if not Path(folder).is_dir():
        return
    for leftover in Path(folder).iterdir():
        if leftover.is_dir() and leftover.name.startswith((STAGING_PREFIX, OLD_PREFIX)):
            shutil.rmtree(leftover, ignore_errors=True)
