"""Checks of rows and of tables together (SPEC rules 1, 2 and 12), after each cell is typed.

Each check takes typed frames and returns the frames without the rows it leaves out,
plus a `Problem` per row: a hold when the row names a known rep, else a notice (it
holds nobody). The wording is `compensation.messages`'; nothing here raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from compensation import messages
from compensation.codes import object_codes
from compensation.coerce import arrow_text
from compensation.errors import HOLD, NOTICE, Problem
from compensation.schema import OPEN_END, REP_ID_PATTERN, SHARE_UNITS


def problem(table: str, reason: str, row, known: Collection[str], *, rep=None, txn=None) -> Problem:
    """A hold when `rep` is a known rep, else a notice."""
    make = Problem.hold if rep is not None and rep in known else Problem.notice
    return make(table, reason, row=row, txn_id=txn, rep_id=rep)


# ---------------------------------------------------------------- one table's rows


def check_rep_dates(table: pd.DataFrame) -> list[tuple[str, np.ndarray, list[str]]]:
    """A reps row must not end before it starts."""
    start, end = table["start_date"], table["end_date"]
    wrong = np.flatnonzero((end < start).to_numpy())
    texts = [messages.end_before_start(messages.day(end.iloc[i]), messages.day(start.iloc[i]))
             for i in wrong]
    return [("end_date", wrong, texts)] if wrong.size else []


# Checks of one table's typed rows, by table: (column, positions, messages) per failure.
ROW_CHECKS: dict[str, tuple[Callable[[pd.DataFrame], list], ...]] = {
    "reps": (check_rep_dates,),
}


def valid_reps(values: pd.Series) -> set[str]:
    """The rep_ids of a column that are well formed."""
    ids = values.dropna()
    return set(ids[ids.str.fullmatch(REP_ID_PATTERN)].unique())


def row_problems(name: str, table: pd.DataFrame, entries: list[tuple[int, str]],
                 known: Collection[str] | None) -> list[Problem]:
    """A Problem per (position, message): hold when the row names a known rep, else a notice.

    `known` None: every well-formed rep_id counts as known.
    """
    has_txn = "txn_id" in table.columns and name in ("transactions", "credits")
    rows = table["row"].to_numpy()
    reps = table["rep_id"].to_numpy() if "rep_id" in table.columns else None
    txns = table["txn_id"].to_numpy(dtype=object, na_value=None) if has_txn else None
    out = []
    for pos, message in entries:
        rep = reps[pos] if reps is not None else None
        if rep is not None and not re.fullmatch(REP_ID_PATTERN, rep):
            rep_known = False
        elif known is None:
            rep_known = rep is not None
        else:
            rep_known = rep in known
        out.append(Problem(HOLD if rep_known else NOTICE, name, message, int(rows[pos]),
                           txns[pos] if txns is not None else None, rep))
    return out


# ---------------------------------------------------------------- tables together


def check_reps(reps: pd.DataFrame, known: Collection[str]) -> tuple[pd.DataFrame, list[Problem]]:
    """Overlapping date ranges of one rep: hold the rep, leave both rows out.

    Also a notice for a manager_id that is no rep (team credit stops there).
    """
    problems: list[Problem] = []
    several = reps[reps["rep_id"].duplicated(keep=False)]
    drop: set[int] = set()
    # Only reps with several rows (effective-dated changes) can overlap: a handful.
    for rep_id, rows in several.sort_values(["rep_id", "start_date", "row"]).groupby("rep_id"):
        spans = list(rows[["row", "start_date", "end_date"]].itertuples(index=False))
        for i, a in enumerate(spans):
            for b in spans[i + 1:]:
                a_end = OPEN_END if pd.isna(a.end_date) else a.end_date
                b_end = OPEN_END if pd.isna(b.end_date) else b.end_date
                if b.start_date <= a_end and a.start_date <= b_end:
                    first, second = sorted((a, b), key=lambda s: s.row)
                    problems.append(Problem.hold(
                        "reps", messages.reps_overlap(first.row, second.row, _span(first), _span(second)),
                        row=first.row, rep_id=rep_id))
                    drop |= {a.row, b.row}
    if drop:
        reps = reps[~reps["row"].isin(drop)].reset_index(drop=True)
    managers = reps["manager_id"]
    stray = reps[managers.notna() & ~managers.isin(list(known))]
    for row, rep, manager in stray[["row", "rep_id", "manager_id"]].itertuples(index=False):
        problems.append(Problem.notice("reps", messages.stray_manager(manager, rep), row=row, rep_id=rep))
    return reps, problems


def _span(row) -> str:
    return f"{messages.day(row.start_date)}..{messages.day(row.end_date)}"


def drop_unknown_reps(frame: pd.DataFrame, table: str, known: Collection[str],
                      ) -> tuple[pd.DataFrame, list[Problem]]:
    """Rows naming a rep_id missing from reps: a notice each, the row left out."""
    ids = frame["rep_id"]
    unknown = ids.notna() & ~ids.isin(list(known))
    if not unknown.any():
        return frame, []
    has_txn = "txn_id" in frame.columns
    problems = [
        Problem.notice(table, messages.unknown_rep(rep), row=row, rep_id=rep,
                       txn_id=txn if has_txn else None)
        for row, rep, txn in zip(frame["row"][unknown], ids[unknown],
                                 frame["txn_id"][unknown] if has_txn else ids[unknown],
                                 strict=True)
    ]
    return frame[~unknown].reset_index(drop=True), problems


def drop_duplicates(frame: pd.DataFrame, table: str, keys: list[str], what: str,
                    ) -> tuple[pd.DataFrame, list[Problem]]:
    """Rows repeating a key that must be unique: a notice each, all of them left out.

    `what` names the key, formatted with the row's key values: "fx rate for {currency}".
    """
    dup = frame.duplicated(keys, keep=False)
    if not dup.any():
        return frame, []
    problems = []
    for key, rows in frame[dup].groupby(keys, sort=False)["row"]:
        values = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        listed = messages.rows_text(rows)
        for row in rows:
            problems.append(Problem.notice(
                table, messages.duplicate_key(what.format(**values), listed, table), row=row))
    return frame[~dup].reset_index(drop=True), problems


def check_transactions(txns: pd.DataFrame, credits: pd.DataFrame, known: Collection[str], *,
                       left_out: Collection[str] = (), broken_credits: Collection[str] = (),
                       ) -> tuple[pd.DataFrame, pd.DataFrame, list[Problem]]:
    """Cross-checks of transactions and credits (rules 1, 2 and 12).

    `left_out`: txn_ids of transactions rows already dropped for a bad cell;
    `broken_credits`: txn_ids of credits rows dropped for a bad cell (their split is
    incomplete, so the transaction cannot be credited). Every transaction kept is
    credited to someone: its owner, its credits rows, or (a cancellation) its original's.
    """
    known = set(known)
    problems: list[Problem] = []

    # Duplicate txn_id: every row with that id is left out, each owner held.
    present = pd.Index(txns["txn_id"])
    dup = (pd.Series(False, index=txns.index) if _all_distinct(txns["txn_id"])
           else txns["txn_id"].duplicated(keep=False))
    if dup.any():
        listed = txns[dup].groupby("txn_id")["row"].agg(messages.rows_text)
        for row, txn, rep in txns.loc[dup, ["row", "txn_id", "rep_id"]].itertuples(index=False):
            problems.append(problem("transactions", messages.duplicate_txn(txn, listed[txn]), row, known,
                                    rep=rep, txn=txn))
        txns = txns[~dup].reset_index(drop=True)
        present = pd.Index(txns["txn_id"])  # unique now: hashed lookups, no million-item set
    left_out = {t for t in set(left_out) | set(listed.index if dup.any() else ())
                if t not in present}

    # Owners that are no rep: a notice, the transaction left out. The owners are hashed
    # once, which also tells the rows that have none (a missing owner is no stray).
    codes, owners = object_codes(txns["rep_id"].to_numpy(dtype=object))
    stray = (codes >= 0) & np.append(~pd.Index(owners).isin(list(known)), False)[codes]
    # Only rows with neither owner nor original can be credited to nobody: usually none.
    unowned = ((codes < 0) & txns["reverses"].isna().to_numpy()).any()
    if stray.any():
        problems += [Problem.notice("transactions", messages.unknown_rep(rep), row=row, txn_id=txn, rep_id=rep)
                     for row, txn, rep in txns.loc[stray, ["row", "txn_id", "rep_id"]].itertuples(index=False)]
        left_out |= set(txns.loc[stray, "txn_id"])
        txns = txns[~stray].reset_index(drop=True)
        present = pd.Index(txns["txn_id"])

    credits, found = _credits_of_missing(credits, present, left_out, known)
    problems += found
    txns, credits, found, bad_txns = _check_shares(txns, credits, present, broken_credits, known)
    problems += found
    left_out |= bad_txns

    credits, found = drop_unknown_reps(credits, "credits", known)
    problems += found
    if unowned:
        txns, found = _drop_uncredited(txns, credits)
        problems += found
        left_out |= {p.txn_id for p in found}
    txns, found = _drop_dangling_reverses(txns, left_out, known)
    return txns, credits, problems + found


def _all_distinct(ids: pd.Series) -> bool:
    """Whether no id repeats: one comparison pass when the ids rise strictly, else one hash pass.

    Exports mostly come in txn_id order. Arrow-backed ids (kind `id`) are judged in Arrow,
    which compares UTF-8 bytes: the order of Python's str (by code point). A missing id is
    left to pandas' duplicated.
    """
    if not isinstance(ids.dtype, pd.ArrowDtype):
        present = pd.Index(ids)
        present.is_monotonic_increasing  # noqa: B018 - a strictly rising index knows it is unique
        return present.is_unique
    values = arrow_text(ids)
    if values.null_count:
        return False
    return (len(values) < 2 or pc.all(pc.less(values[:-1], values[1:])).as_py()
            or len(pc.unique(values)) == len(values))


def _credits_of_missing(credits: pd.DataFrame, present: pd.Index, left_out: set[str],
                        known: Collection[str]) -> tuple[pd.DataFrame, list[Problem]]:
    """Credits rows of transactions that were left out, or that do not exist."""
    problems: list[Problem] = []
    cid = credits["txn_id"]
    orphan = cid.isin(list(left_out)) if left_out else pd.Series(False, index=cid.index)
    if orphan.any():
        problems += [problem("credits", messages.credits_wait(txn), row, known, rep=rep, txn=txn)
                     for row, txn, rep in credits.loc[orphan, ["row", "txn_id", "rep_id"]].itertuples(
                         index=False)]
    missing = ~orphan & (~cid.isin(present) if len(cid) else False)
    if missing.any():
        problems += [Problem.notice("credits", messages.credits_of_unknown_txn(txn), row=row, txn_id=txn,
                                    rep_id=rep)
                     for row, txn, rep in credits.loc[missing, ["row", "txn_id", "rep_id"]].itertuples(
                         index=False)]
    return credits[~(orphan | missing)].reset_index(drop=True), problems


def _check_shares(txns: pd.DataFrame, credits: pd.DataFrame, present: pd.Index,
                  broken_credits: Collection[str], known: Collection[str],
                  ) -> tuple[pd.DataFrame, pd.DataFrame, list[Problem], set[str]]:
    """Non-overlay shares must sum to exactly 1, compared in integer units.

    A transaction whose split is wrong, or whose credits rows were partly dropped, is left
    out with all its credits rows. Returns the txn_ids left out.
    """
    split = credits["role"].fillna("").str.strip().str.lower() != "overlay"
    units = np.rint(credits["share"].to_numpy() * SHARE_UNITS).astype(np.int64)
    totals = pd.Series(np.where(split, units, 0)).groupby(credits["txn_id"].to_numpy()).sum()
    wrong = set(totals.index[totals != SHARE_UNITS])
    bad_txns = wrong | {t for t in broken_credits if t in present}
    if not bad_txns:
        return txns, credits, [], set()
    problems: list[Problem] = []
    affected = credits[credits["txn_id"].isin(list(bad_txns))]
    rows_of = affected.groupby("txn_id")["row"].agg(messages.rows_text)
    reasons = {}
    for txn in bad_txns:
        if txn in wrong:
            where = f"credits {rows_of[txn]}" if txn in rows_of.index else "credits"
            reasons[txn] = messages.shares_not_one(txn, messages.shares_total(int(totals[txn])), where)
        else:
            reasons[txn] = messages.broken_split(txn)
    for row, txn, rep in affected[["row", "txn_id", "rep_id"]].itertuples(index=False):
        problems.append(problem("credits", reasons[txn], row, known, rep=rep, txn=txn))
    gone = txns["txn_id"].isin(list(bad_txns))
    for row, txn, rep in txns.loc[gone, ["row", "txn_id", "rep_id"]].itertuples(index=False):
        problems.append(problem("transactions", messages.txn_waits_for_credits(txn, reasons[txn]), row, known,
                                rep=rep, txn=txn))
    credits = credits[~credits["txn_id"].isin(list(bad_txns))].reset_index(drop=True)
    return txns[~gone].reset_index(drop=True), credits, problems, bad_txns


def _drop_uncredited(txns: pd.DataFrame, credits: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """A transaction with no rep_id, no credits rows and nothing it reverses credits nobody.

    It would vanish from every report (an XLSX merged rep_id cell leaves all but the first
    row blank): a notice (there is no rep to hold), the transaction left out.
    """
    lost = txns["rep_id"].isna() & txns["reverses"].isna()
    if lost.any():
        lost &= ~txns["txn_id"].isin(credits["txn_id"])
    if not lost.any():
        return txns, []
    problems = [Problem.notice("transactions", messages.credited_to_nobody(txn), row=row, txn_id=txn)
                for row, txn in txns.loc[lost, ["row", "txn_id"]].itertuples(index=False)]
    return txns[~lost].reset_index(drop=True), problems


def _drop_dangling_reverses(txns: pd.DataFrame, left_out: set[str], known: Collection[str],
                            ) -> tuple[pd.DataFrame, list[Problem]]:
    """A cancellation must name a transaction that was loaded."""
    reverses = txns["reverses"]
    named = reverses.notna().to_numpy()
    dangling = named.copy()
    if named.any():
        dangling[named] = ~reverses[named].isin(txns["txn_id"]).to_numpy()
    if not dangling.any():
        return txns, []
    problems = [problem("transactions", messages.dangling_reverse(orig, orig in left_out), row, known,
                        rep=rep, txn=txn)
                for row, txn, rep, orig in txns.loc[
                    dangling, ["row", "txn_id", "rep_id", "reverses"]].itertuples(index=False)]
    return txns[~dangling].reset_index(drop=True), problems
