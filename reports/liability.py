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
    reps = _sorted_ids(t["rep_id"], s["rep_id"])
    settled = _rows_of(s, reps, ("currency", "pay", "balance_after"))
    info = _rows_of(result.reps, reps, ("name", "currency"))
    after = t["balance_after"].to_numpy()
    flows = {"held_start": t["balance_before"], "held": -t["held"], "released": t["release"],
             "forfeited": t["forfeited"], "held_end": after,
             "holdback_end": np.where(t["source"] == "holdback", after, 0),
             "cash_pending_end": np.where(t["source"] == "cash", after, 0)}
    known = t["rep_id"].notna().to_numpy()  # as groupby: a row without a rep counts for nobody
    at = reps.get_indexer(t["rep_id"][known])
    money = {c: _sums(at, len(reps), np.asarray(flow)[known]) for c, flow in flows.items()}
    money["payable"] = settled["pay"].fillna(0).to_numpy(dtype=np.int64)
    money["draw_balance"] = settled["balance_after"].fillna(0).to_numpy(dtype=np.int64)
    money["net_liability"] = money["held_end"] + money["payable"] - money["draw_balance"]
    currency = settled["currency"].fillna(info["currency"]).to_numpy(dtype=object)
    codes, currencies = pd.factorize(currency, sort=True)  # as groupby: sorted; a rep without one is in no total
    counted = codes >= 0
    totals = {c: _sums(codes[counted], len(currencies), values[counted]) for c, values in money.items()}
    out = pd.DataFrame({"period": result.period, "rep_id": reps, "name": info["name"].to_numpy(dtype=object),
                        "currency": currency, **money})
    totals = pd.DataFrame({"currency": currencies, **totals}).assign(period=result.period, rep_id="", name="Total")
    return pd.concat([out, totals[list(LIABILITY_COLUMNS)]], ignore_index=True)


def _sums(at: np.ndarray, size: int, values: np.ndarray) -> np.ndarray:
    """Exact int64 sums of `values` by their position `at` in 0..size-1."""
    total = np.zeros(size, dtype=np.int64)
    np.add.at(total, at, values.astype(np.int64))
    return total


def _sorted_ids(*columns: pd.Series) -> pd.Index:
    """`sorted(set(...))` of the ids in these columns, without the sort when they already come in order."""
    ids = pd.Index(pd.unique(np.concatenate([c.to_numpy(dtype=object) for c in columns])), dtype=object)
    if not ids.hasnans and ids.is_monotonic_increasing:
        return ids
    return pd.Index(sorted(set().union(*columns)), dtype=object)


def _rows_of(frame: pd.DataFrame, reps: pd.Index, columns: tuple[str, ...]) -> dict[str, pd.Series]:
    """`frame.set_index("rep_id").reindex(reps)[columns]`: each rep's row, <NA> for a rep not in the frame."""
    rows = pd.Index(frame["rep_id"]).get_indexer(reps)
    return {c: pd.Series(frame[c].array.take(rows, allow_fill=True)) for c in columns}


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
    s = result.settlement
    t = result.timing
    currencies = pd.unique(reg["currency"])
    currencies = sorted(currencies[pd.notna(currencies)])
    # Each register line's and settlement's currency as its place in `currencies` (-1: none), found once.
    line_currency = pd.Index(currencies, dtype=object).get_indexer(reg["currency"])
    settled_currency = pd.Index(currencies, dtype=object).get_indexer(s["currency"])
    kind = pd.Categorical(reg["kind"])  # each distinct kind is judged once
    earned_line = kind.isin(EARNED_KINDS)
    timing_line = kind.isin(("held", "release"))
    settling_line = kind.isin(("recovery", "draw", "carry_forward"))
    growth = s["balance_after"] - s["balance_before"]
    rows = []
    for code, currency in enumerate(currencies):
        mine = line_currency == code
        amount = reg["amount"][mine].astype("int64").to_numpy()
        earned = int(amount[earned_line[mine]].sum())
        timing = int(amount[timing_line[mine]].sum())
        settled_lines = int(amount[settling_line[mine]].sum())
        pay = int(amount.sum())
        draws = int(growth[settled_currency == code].sum())
        top_up = settled_lines - draws  # non-recoverable draw paid beyond what the rep owes back
        forfeited = int(t["forfeited"][t["rep_id"].isin(reg["rep_id"][mine])].sum())
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
