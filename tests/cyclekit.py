"""Driving months through `compensation.cycle` in tests, as a library caller would.

`run` / `close` return a `Step` with the exit code the command would give (0, or the
error's code) and a one-line text of what happened, so the core's tests never import
the `icm` command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compensation import cycle
from compensation.errors import IcmError
from reports.publish import Publisher


@dataclass(frozen=True)
class Step:
    """What one call did: 0 or the error's exit code, a text, and the outcome value."""

    exit_code: int
    output: str
    outcome: object = None
    exception: BaseException | None = None


def run(ws: Path, period: str, *flags: str, by: str | None = None) -> Step:
    """Run a month with rendering; `--strict` and `--statements` as the command takes them."""
    try:
        outcome = cycle.run(ws, period, strict="--strict" in flags, by=by,
                            publisher=Publisher(statements="--statements" in flags))
    except IcmError as err:
        return Step(err.exit_code, str(err), exception=err)
    result = outcome.result
    text = (f"Run {outcome.run.run_number} of {period}: {result.reps_paid()} reps paid; "
            f"{len(result.exceptions)} exceptions ({len(result.held_reps)} reps held)")
    return Step(0, text, outcome)


def close(ws: Path, period: str, by: str | None = None) -> Step:
    """Close a month (healing with the standard publisher, like the command)."""
    try:
        outcome = cycle.close(ws, period, by=by, publisher=Publisher())
    except IcmError as err:
        return Step(err.exit_code, str(err), exception=err)
    return Step(0, f"Closed {period}; " + " ".join(outcome.warnings), outcome)
