"""`icm` and `python -m icm`: the command, with its process tuned for million-row columns.

Importing the command loads pandas, pyarrow, SQLAlchemy and pydantic: hundreds of
thousands of long-lived objects that the collector would otherwise scan over and over
while they load (about 0.15 s of every command). They are frozen once loaded, so later
collections skip them too.

A run makes and drops columns of a million rows many times over. Fresh memory costs a
page fault per page touched, so the process keeps what it frees for reuse
(`_keep_freed_memory`), and numpy does not ask for huge pages, whose faults zero 2 MiB at
a time and may stall to compact memory: on the 1M benchmark the two together take a run
from about 2.46 s to 2.30 s (docs/performance.md).
"""

import ctypes
import gc
import os
import sys

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def main() -> None:
    """Run the command line: load the command with the collector paused, then run it."""
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")  # read once, when numpy loads
    _keep_freed_memory()
    gc.disable()
    try:
        from icm.cli import main as run_command
    finally:
        gc.freeze()
        gc.enable()
    run_command()


def _keep_freed_memory() -> None:
    """Ask glibc to serve large blocks from its heap and keep freed memory there for reuse.

    By default a block of a few MiB is mapped afresh and unmapped when freed, so each new
    column faults its pages in again. Elsewhere than Linux with glibc nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest threshold
    mallopt(_M_TRIM_THRESHOLD, 128 << 20)  # at most this much freed memory held back (`icm web` runs for long)


if __name__ == "__main__":
    main()
