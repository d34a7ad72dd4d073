"""`where` conditions (issue 16): numeric bounds, one of / none of, and date windows on a column.

A plan writes them as a mapping under a column of `where`; `compensation.plan` parses
them into `Condition`s and `compensation.measure` tests transactions against them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

# The words of a `where` condition and the field each sets (issue 16: richer `where`).
CONDITION_WORDS = {">=": "ge", ">": "gt", "<=": "le", "<": "lt", "between": "between", "in": "one_of",
                   "not_in": "not_in", "not in": "not_in", "from": "from_", "to": "to"}


@dataclass(frozen=True)
class Condition:
    """A test of one transaction column: numeric bounds, one of / none of, a date window.

    Written as a mapping, e.g. `amount: {">=": 10000, "<": 50000}`, `seats: {between: [10, 50]}`,
    `product: {not_in: [Legacy]}`, `close_date: {from: 2026-04-01, to: 2026-06-30}`.
    """

    ge: Decimal | None = None
    gt: Decimal | None = None
    le: Decimal | None = None
    lt: Decimal | None = None
    one_of: tuple[str, ...] | None = None
    not_in: tuple[str, ...] = ()
    from_: date | None = None
    to: date | None = None

    @classmethod
    def parse(cls, column: str, spec: dict) -> Condition:
        if not spec:
            raise ValueError(f"the condition on '{column}' is empty; write e.g. {column}: {{\">=\": 1000}}")
        fields: dict = {}
        for word, wanted in spec.items():
            name = CONDITION_WORDS.get(str(word))
            if name is None:
                close = difflib.get_close_matches(str(word), list(CONDITION_WORDS), n=1, cutoff=0.5)
                hint = f"did you mean '{close[0]}'?" if close else "use one of: " + ", ".join(CONDITION_WORDS)
                raise ValueError(f"unknown comparison '{word}' for column '{column}' ({hint})")
            if name in ("one_of", "not_in"):
                items = wanted if isinstance(wanted, list | tuple) else [wanted]
                fields[name] = tuple(str(v) for v in items)
            elif name in ("from_", "to"):
                if isinstance(wanted, str):  # a stored plan's ISO text
                    try:
                        wanted = date.fromisoformat(wanted)
                    except ValueError:
                        pass
                if not isinstance(wanted, date):
                    raise ValueError(f"'{word}' of the condition on '{column}' must be a date such as 2026-04-01")
                fields[name] = wanted
            elif name == "between":
                if not isinstance(wanted, list | tuple) or len(wanted) != 2:
                    raise ValueError(f"'between' of the condition on '{column}' must be two numbers, "
                                     "e.g. between: [10, 50]")
                fields["ge"], fields["le"] = (_condition_number(column, word, v) for v in wanted)
            else:
                fields[name] = _condition_number(column, word, wanted)
        low, high = fields.get("ge", fields.get("gt")), fields.get("le", fields.get("lt"))
        if low is not None and high is not None and high < low:
            raise ValueError(f"the condition on '{column}' can never hold: its upper bound {high} is below {low}")
        if fields.get("from_") and fields.get("to") and fields["to"] < fields["from_"]:
            raise ValueError(f"the window on '{column}' ends ({fields['to']}) before it starts ({fields['from_']}); "
                             "swap them")
        return cls(**fields)

    def as_yaml(self) -> dict:
        """The condition in the words of the plan language."""
        out: dict = {word: str(getattr(self, name)) for word, name in CONDITION_WORDS.items()
                     if name in ("ge", "gt", "le", "lt", "from_", "to") and getattr(self, name) is not None}
        if self.one_of is not None:
            out["in"] = list(self.one_of)
        if self.not_in:
            out["not_in"] = list(self.not_in)
        return out

    @property
    def numeric(self) -> bool:
        return any(v is not None for v in (self.ge, self.gt, self.le, self.lt))

    def __str__(self) -> str:
        parts = [f"{word} {getattr(self, name)}" for word, name in ((">=", "ge"), (">", "gt"), ("<=", "le"),
                                                                  ("<", "lt"), ("from", "from_"), ("to", "to"))
                 if getattr(self, name) is not None]
        if self.one_of is not None:
            parts.append("one of " + ", ".join(self.one_of))
        if self.not_in:
            parts.append("not " + ", ".join(self.not_in))
        return " and ".join(parts)


def _condition_number(column: str, word, value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"'{word}' of the condition on '{column}' must be a number, e.g. \"{word}\": 1000")
    text = value.strip().replace("_", "") if isinstance(value, str) else repr(value) if isinstance(value, float) \
        else value
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{word}' of the condition on '{column}' must be a number, "
                         f"not {value!r}") from None
