"""What the pipeline hands to the ledger, the reports and `explain`.

Bulk data are pandas frames, never mutated after the stage that made them returns.
Money columns hold int64 cents (nullable `Int64` where a figure can be blank);
`compensation.money.format_cents` / `cents_to_decimal` turn them into text or Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from compensation.digest import fingerprint
from compensation.plan import Plan
from compensation.settings import Workspace
from compensation.timing import empty_flows, empty_timing

# payouts.csv columns, in order (SPEC section 6).
REGISTER_COLUMNS = (
    "period",
    "rep_id",
    "name",
    "line",
    "credited",
    "quota",
    "attainment",
    "earned_to_date",
    "paid_to_date",
    "amount",
    "currency",
)
EXCEPTION_COLUMNS = ("period", "severity", "table", "row", "txn_id", "rep_id", "reason")


@dataclass(frozen=True)
class InputFile:
    """One input file the run read: for the audit trail and the workbook's Inputs sheet."""

    name: str  # table or plan id, e.g. "transactions" or "plan:ae-2026"
    path: str  # relative to the workspace
    rows: int
    sha256: str


@dataclass(frozen=True)
class PriorState:
    """What the ledger knows before a run: closed months' payments and balances.

    `paid`: rep_id, line, attainment_period, amount (cents) summed over closed runs.
    `balances`: rep_id, balance (cents owed by the rep after its latest closed month
    before the run month; positive = the rep owes).
    `paid_adjustments`: rep_id, period, amount (cents), reason of adjustments paid by closes.
    `year_paid`: rep_id, pay (cents) paid by closed months of the run's fiscal year.
    """

    closed_months: frozenset[str] = frozenset()
    paid: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {
                "rep_id": pd.Series(dtype=object),
                "line": pd.Series(dtype=object),
                "attainment_period": pd.Series(dtype=object),
                "amount": pd.Series(dtype="int64"),
            }
        )
    )
    balances: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"rep_id": pd.Series(dtype=object), "balance": pd.Series(dtype="int64")})
    )
    paid_adjustments: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {
                "rep_id": pd.Series(dtype=object),
                "period": pd.Series(dtype=object),
                "amount": pd.Series(dtype="int64"),
                "reason": pd.Series(dtype=object),
            }
        )
    )
    year_paid: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"rep_id": pd.Series(dtype=object), "pay": pd.Series(dtype="int64")})
    )
    # Payment timing flows of closed runs (issue 17): compensation.timing.FLOW_COLUMNS, all years.
    held: pd.DataFrame = field(default_factory=empty_flows)


@dataclass(frozen=True)
class RunResult:
    """One calculated month.

    register: payouts.csv rows (REGISTER_COLUMNS plus `kind`: component|bonus|spif|
      adjustment|recovery|draw|carry_forward, and `plan_id`), sorted as SPEC says; money
      in cents (Int64, blank = <NA>), attainment float (NaN = blank).
    line_periods: the rule-8 detail behind each register line: rep_id, line, kind,
      attainment_period, credited, quota, attainment, earned_to_date, paid_before,
      amount (cents), detail (tier/curve arithmetic or adjustment reason).
    credits: credited transactions per rep and component: rep_id, plan_id, line,
      attainment_period, txn_id, date, account_id, type, product, share, multiplier,
      fx_rate, credited (cents), reverses (txn_id or <NA>), via_rep_id (team roll-up
      source, <NA> for direct credit).
    settlement: one row per paid rep: rep_id, earned, balance_before, net, floor, pay,
      balance_after, draw_active (bool), plan_id, currency (cents).
    reps: one row per rep in the run: rep_id, name, email, plan_id, currency, locale.
    exceptions: EXCEPTION_COLUMNS.
    year_to_date: one row per paid rep: rep_id, earned, paid, balance (cents) over the
      fiscal year to the run month: earned by every line and adjustment, paid by the
      closed months and this run, and the balance owed by the rep after this run.
    timing: held balances by key (compensation.timing.TIMING_COLUMNS): rep_id, line,
      source (holdback|cash), ref (deal txn_id or month held), attainment_period, due,
      balance_before, withheld, released, forfeited, held, release, balance_after (cents).
    """

    workspace: Workspace
    period: str
    plans: Mapping[str, Plan]
    register: pd.DataFrame
    line_periods: pd.DataFrame
    credits: pd.DataFrame
    settlement: pd.DataFrame
    reps: pd.DataFrame
    exceptions: pd.DataFrame
    inputs: tuple[InputFile, ...] = ()
    year_to_date: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({c: pd.Series(dtype=object if c == "rep_id" else "int64")
                                              for c in ("rep_id", "earned", "paid", "balance")})
    )
    timing: pd.DataFrame = field(default_factory=empty_timing)

    @property
    def fingerprint(self) -> str:
        """sha256 over every input file's sha256: identifies the inputs of the run."""
        return fingerprint({f.path: f.sha256 for f in self.inputs})

    @property
    def held_reps(self) -> frozenset[str]:
        """Reps with a hold in the exceptions: not paid this run."""
        held = self.exceptions[self.exceptions["severity"] == "hold"]["rep_id"].dropna()
        return frozenset(held)

    def total_paid(self) -> int:
        """Sum of the register's amounts (cents)."""
        return int(self.register["amount"].sum())

    def reps_paid(self) -> int:
        """Reps whose lines sum to a payment above zero: the one definition of "reps paid"."""
        if not len(self.register):
            return 0
        return int((self.register.groupby("rep_id")["amount"].sum() > 0).sum())
