"""`icm history` and `icm diff`: the auditor's view of the ledger, as Rich tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from compensation import cycle
from compensation.money import format_cents

# Piped or captured output is not cut to 80 columns: an auditor's log keeps every field.
console = Console() if Console().is_terminal else Console(width=200)


def register(app: typer.Typer) -> None:
    """Add the audit commands to the `icm` app."""
    app.command("history")(history_command)
    app.command("diff")(diff_command)


def history_command(
    workspace: Annotated[Path, typer.Argument(help="Workspace folder.")] = Path("."),
):
    """List every run and close: when, who, icm version, inputs fingerprint, total paid."""
    frame = cycle.history(workspace)
    if frame.empty:
        console.print("The ledger has no runs yet.")
        return
    table = Table("when (UTC)", "action", "period", "run", "status", "by", "icm",
                  "inputs", "plans", "total paid", "reps paid", "held", "note",
                  title=f"Ledger history of {workspace}")
    for row in frame.itertuples(index=False):
        run_row = pd.notna(getattr(row, "fingerprint", None))
        table.add_row(
            pd.Timestamp(row.at).strftime("%Y-%m-%d %H:%M:%S"), row.action, _text(row.period),
            _run_label(row), _text(row.status), _text(row.by), _text(row.icm_version),
            row.fingerprint[:12] if run_row else "", _text(row.plan_ids).replace(",", ", "),
            format_cents(int(row.total_paid)) if run_row else "",
            str(int(row.reps_paid)) if run_row else "", str(int(row.holds)) if run_row else "",
            _text(row.note) or _text(getattr(row, "detail", None)),
        )
    console.print(table)


def diff_command(
    workspace: Annotated[Path, typer.Argument(help="Workspace folder.")] = Path("."),
    period: Annotated[str, typer.Option("--period", "-p", help="Month, e.g. 2026-03.")] = ...,
):
    """Per rep and line, what changed between a month's last two runs (closed: vs today)."""
    outcome = cycle.diff(workspace, period)
    console.print(f"{period}: {outcome.before} -> {outcome.after}")
    for note in outcome.notes:
        console.print(f"note: {note}")
    if outcome.changes.empty:
        console.print("No line changed.")
    else:
        table = Table("rep_id", "line", "before", "after", "change", "status",
                      title=f"{len(outcome.changes)} lines changed")
        for row in outcome.changes.itertuples(index=False):
            table.add_row(row.rep_id, row.line, _money(row.before), _money(row.after),
                          _money(row.change, signed=True), row.status)
        console.print(table)
    change = outcome.total_after - outcome.total_before
    console.print(f"Total paid: {format_cents(outcome.total_before)} -> "
                  f"{format_cents(outcome.total_after)} ({'+' if change > 0 else ''}"
                  f"{format_cents(change)})")


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _run_label(row) -> str:
    """Runs are numbered per month; workflow actions may name no run."""
    number = getattr(row, "run", None)
    return "" if number is None or pd.isna(number) else str(int(number))


def _money(cents, signed: bool = False) -> str:
    if cents is None or pd.isna(cents):
        return ""
    text = format_cents(int(cents))
    return f"+{text}" if signed and int(cents) > 0 else text
