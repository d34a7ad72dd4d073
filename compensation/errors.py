"""Errors and problems: the two ways bad input is reported.

Structural problems (an invalid plan, a missing column, an unreadable file, a command
used out of order) raise an `IcmError`; the command prints it and exits 2.
Row-level problems never raise: they are `Problem` values collected by each stage and
become the exceptions report, holding only the reps they affect.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Located:
    """One message with where it came from (`file:line: message`)."""

    message: str
    source: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.source, self.line) if p is not None)
        return f"{where}: {self.message}" if where else self.message


class IcmError(Exception):
    """Bad input or usage: exit code 2, one clear message, no traceback.

    Carries one or more located messages so a whole file's problems are reported at once.
    """

    exit_code = 2

    def __init__(self, *messages: Located | str):
        self.messages = tuple(m if isinstance(m, Located) else Located(m) for m in messages)
        super().__init__("\n".join(str(m) for m in self.messages))

    @classmethod
    def at(cls, source: str | None, line: int | None, message: str) -> IcmError:
        """Shorthand for an error with a single located message."""
        return cls(Located(message, source, line))


class UsageError(IcmError):
    """A command used in a way the ledger or workspace does not allow (period order, locks)."""


HOLD = "hold"
NOTICE = "notice"


@dataclass(frozen=True)
class Problem:
    """A row-level data problem: one row of `exceptions.csv`.

    `severity` is `hold` when it stops `rep_id` from being paid this run, `notice`
    when it holds nobody. `row` is the spreadsheet row number (header is row 1).
    """

    severity: str
    table: str
    reason: str
    row: int | None = None
    txn_id: str | None = None
    rep_id: str | None = None

    @classmethod
    def hold(cls, table: str, reason: str, *, row=None, txn_id=None, rep_id=None) -> Problem:
        return cls(HOLD, table, reason, _int_or_none(row), _str_or_none(txn_id), _str_or_none(rep_id))

    @classmethod
    def notice(cls, table: str, reason: str, *, row=None, txn_id=None, rep_id=None) -> Problem:
        return cls(NOTICE, table, reason, _int_or_none(row), _str_or_none(txn_id), _str_or_none(rep_id))


def _int_or_none(value) -> int | None:
    try:
        return None if value is None or value != value else int(value)
    except (TypeError, ValueError):
        return None


def _str_or_none(value) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    return text if text and text != "<NA>" else None
