"""What the company owes its reps at the month's end: `liability.csv` and `journal.csv` (issue 17).

`liability_frame` lists per rep, and in total per currency: the held balance at the start,
what the month withheld, released and forfeited, the held balance at the end (by source:
holdback and cash pending), the month's payout (earned, due and not yet paid by payroll),
and the draw balance the rep owes. It reconciles by construction of the timing flows:
held_start + held - released - forfeited = held_end.

`journal_frame` turns the month into general-ledger lines (date, account, debit, credit,
memo), with the account names of `icm.yaml`'s `journal_accounts`:

    Dr expense   earned lines + any non-recoverable draw top-up
    Cr held      what timing withheld, net of releases (the held liability grows)
    Cr payable   the month's payout
    Dr draws     the growth of what reps owe (recoverable draws, negative carry-forward)
    Dr held / Cr expense   forfeited holdbacks and cash (never paid: the expense reverses)

Debits equal credits per currency; a negative figure moves to the other column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from compensation.periods import month_index, month_last_day
from compensation.results import RunResult
from reports.register import csv_bytes, defused_array, money_array

LIABILITY_COLUMNS = ("period", "rep_id", "name", "currency", "held_start", "held", "released", "forfeited",
                     "held_end", "holdback_end", "cash_pending_end", "payable", "draw_balance", "net_liability")
MONEY = LIABILITY_COLUMNS[4:]
JOURNAL_COLUMNS = ("date", "account", "debit", "credit", "memo")
EARNED_KINDS = ("component", "bonus", "spif", "adjustment")


def liability_frame(result: RunResult) -> pd.DataFrame:
    """Per rep (sorted) then one `Total` row per currency; money in int64 cents."""
    t = result.timing
    s = result.settlement
    reps = pd.Index(sorted(set(t["rep_id"]) | set(s["rep_id"])), dtype=object)  # one array, reused by reindex
    by_rep = t.assign(
        held_in=-t["held"], holdback_end=np.where(t["source"] == "holdback", t["balance_after"], 0),
        cash_end=np.where(t["source"] == "cash", t["balance_after"], 0),
    ).groupby("rep_id")[["balance_before", "held_in", "release", "forfeited", "balance_after", "holdback_end",
                         "cash_end"]].sum()
    by_rep = by_rep.reindex(reps, fill_value=0)
    settled = s.set_index("rep_id").reindex(reps)
    info = result.reps.set_index("rep_id").reindex(reps)
    currency = settled["currency"].fillna(info["currency"]) if len(reps) else pd.Series(dtype=object)
    out = pd.DataFrame({
        "period": result.period, "rep_id": reps, "name": info["name"].to_numpy(dtype=object),
        "currency": currency.to_numpy(dtype=object),
        "held_start": by_rep["balance_before"].to_numpy(), "held": by_rep["held_in"].to_numpy(),
        "released": by_rep["release"].to_numpy(), "forfeited": by_rep["forfeited"].to_numpy(),
        "held_end": by_rep["balance_after"].to_numpy(), "holdback_end": by_rep["holdback_end"].to_numpy(),
        "cash_pending_end": by_rep["cash_end"].to_numpy(),
        "payable": settled["pay"].fillna(0).to_numpy(dtype=np.int64) if len(reps) else [],
        "draw_balance": settled["balance_after"].fillna(0).to_numpy(dtype=np.int64) if len(reps) else [],
    })
    for c in MONEY[:-1]:
        out[c] = out[c].astype("int64")
    out["net_liability"] = out["held_end"] + out["payable"] - out["draw_balance"]
    totals = out.groupby("currency", sort=True)[list(MONEY)].sum().reset_index()
    totals = totals.assign(period=result.period, rep_id="", name="Total")
    return pd.concat([out, totals[list(LIABILITY_COLUMNS)]], ignore_index=True)[list(LIABILITY_COLUMNS)]


def liability_csv(result: RunResult) -> bytes:
    """`liability.csv` bytes (money as `-2000.00`; text from data defused against formulas)."""
    frame = liability_frame(result)
    return _csv(frame, LIABILITY_COLUMNS, MONEY)


def held_by_deal(result: RunResult, rep_id: str) -> pd.DataFrame:
    """What is still held for one rep: source, deal or month held, expected release, amount (cents).

    For statements and explain: cash by deal (released as the customer pays), holdbacks
    by the month they were held, with the month that releases them.
    """
    t = result.timing
    if not len(t):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "held" else object)
                             for c in ("line", "source", "ref", "release", "held")})
    mine = t[(t["rep_id"] == rep_id) & (t["balance_after"] != 0)]
    out = mine.groupby(["source", "ref", "line"], as_index=False, sort=True).agg(
        due=("due", "max"), held=("balance_after", "sum"))
    out = out[out["held"] != 0]
    out["release"] = np.where(out["source"] == "cash", "when paid", out["due"])
    return out[["line", "source", "ref", "release", "held"]].reset_index(drop=True)


def journal_frame(result: RunResult) -> pd.DataFrame:
    """The month's general-ledger lines: date, account, debit, credit (cents or <NA>), memo."""
    accounts = result.workspace.settings.journal_accounts
    date = month_last_day(month_index(result.period)).isoformat()
    reg = result.register
    rows = []
    for currency in sorted(set(reg["currency"].dropna())):
        lines = reg[reg["currency"] == currency]
        amount = lines["amount"].astype("int64")
        earned = int(amount[lines["kind"].isin(EARNED_KINDS)].sum())
        timing = int(amount[lines["kind"].isin(("held", "release"))].sum())
        settled_lines = int(amount[lines["kind"].isin(("recovery", "draw", "carry_forward"))].sum())
        pay = int(amount.sum())
        st = result.settlement[result.settlement["currency"] == currency]
        draws = int((st["balance_after"] - st["balance_before"]).sum())
        top_up = settled_lines - draws  # non-recoverable draw paid beyond what the rep owes back
        mine = result.timing[result.timing["rep_id"].isin(set(lines["rep_id"]))]
        forfeited = int(mine["forfeited"].sum())
        tag = f"{result.period} ({currency})"
        rows += [
            (accounts.expense, earned + top_up, f"commission expense {tag}"),
            (accounts.held, timing, f"commissions held back or awaiting cash, net of releases {tag}"),
            (accounts.payable, -pay, f"commissions payable through payroll {tag}"),
            (accounts.draws, draws, f"draw balances owed by reps {tag}"),
            (accounts.held, forfeited, f"held commissions forfeited by leavers {tag}"),
            (accounts.expense, -forfeited, f"forfeited commissions reverse their expense {tag}"),
        ]
    frame = pd.DataFrame([(date, acct, cents, memo) for acct, cents, memo in rows if cents != 0],
                         columns=["date", "account", "cents", "memo"])
    debit = frame["cents"].where(frame["cents"] > 0)
    credit = (-frame["cents"]).where(frame["cents"] < 0)
    return pd.DataFrame({"date": frame["date"], "account": frame["account"],
                         "debit": pd.array(debit, dtype="Int64"), "credit": pd.array(credit, dtype="Int64"),
                         "memo": frame["memo"]})


def journal_csv(result: RunResult) -> bytes:
    """`journal.csv` bytes: date, account, debit, credit, memo."""
    return _csv(journal_frame(result), JOURNAL_COLUMNS, ("debit", "credit"))


def _csv(frame: pd.DataFrame, columns, money) -> bytes:
    """Money as `-2000.00` (blank for <NA>), every other cell defused text, as payouts.csv writes them."""
    return csv_bytes(columns, {c: money_array(frame[c]) if c in money else defused_array(frame[c])
                               for c in columns})
