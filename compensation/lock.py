"""The workspace lock: one command that writes the ledger or `out/` at a time.

An advisory `fcntl` lock on `<workspace>/.icm.lock`, released by the kernel when the
holder exits, even on SIGKILL, so a crash never leaves a stale lock. The holder writes
its pid, user and command into the file; a second command waits up to
`ICM_LOCK_TIMEOUT` seconds (default 10) and then says who holds the workspace.
"""

from __future__ import annotations

import fcntl
import getpass
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from compensation.errors import UsageError

LOCK_NAME = ".icm.lock"
DEFAULT_TIMEOUT = 10.0
_POLL = 0.05


def lock_timeout() -> float:
    """`ICM_LOCK_TIMEOUT` in seconds (default 10; 0 means do not wait)."""
    raw = os.environ.get("ICM_LOCK_TIMEOUT")
    if raw is None or raw.strip() == "":
        return DEFAULT_TIMEOUT
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise UsageError(f"ICM_LOCK_TIMEOUT='{raw}' is not a number of seconds") from None


@contextmanager
def workspace_lock(root: Path, command: str | None = None, timeout: float | None = None,
                   on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the workspace for the duration of the block; UsageError when it stays busy.

    `on_wait(message)` is called once when the lock is busy and the command starts waiting.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a workspace folder")
    path = root / LOCK_NAME
    wait = lock_timeout() if timeout is None else timeout
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if on_wait is not None and wait > 0:
                    on_wait(f"waiting up to {wait:g} s for {root}: {_holder(path)}")
                    on_wait = None
                if time.monotonic() >= deadline:
                    raise UsageError(
                        f"{root} is busy: {_holder(path)}; waited {wait:g} s "
                        "(set ICM_LOCK_TIMEOUT to wait longer)") from None
                time.sleep(_POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _describe(command).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _describe(command: str | None) -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry (containers)
        user = f"uid {os.getuid()}"
    cmd = command or "an unnamed task"
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"pid={os.getpid()}\nuser={user}\ncommand={cmd}\nsince={started}\n"


def _holder(path: Path) -> str:
    """Who holds the lock, from what the holder wrote."""
    try:
        fields = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    except OSError:
        fields = {}
    if not fields.get("pid"):
        return "another process holds it"
    return (f"'{fields.get('command', 'a task')}' (pid {fields['pid']}, user "
            f"{fields.get('user', '?')}, since {fields.get('since', '?')}) holds it")
