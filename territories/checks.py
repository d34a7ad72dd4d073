"""The one home of the accounts checks and of `icm validate`'s territory part.

Cell checks (a blank account_id, a negative potential or workload, a latitude outside
+-90, a longitude outside +-180, a bad locked flag) come from the core's reader and its
accounts schema (`compensation.tables.read_table`); the checks across rows live here:
a duplicate account_id, an owner missing from reps, a locked account without an owner.
`validate_territory_inputs(ws)` runs them all and loads every scenario file in
`plans/`, so `icm validate` catches what would otherwise stop `icm align`.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from compensation import messages
from compensation.errors import IcmError, Problem
from compensation.planfile import is_scenario, load_yaml, plan_files
from compensation.tables import read_table
from territories.scenario import load_scenario


def check_accounts(accounts: pd.DataFrame, known: Collection[str],
                   ) -> tuple[pd.DataFrame, list[Problem]]:
    """Unique account_id (first row kept); an owner missing from reps is blanked."""
    problems: list[Problem] = []
    ids = accounts["account_id"]
    dup = ids.duplicated(keep=False) & ids.notna()
    if dup.any():
        for value, rows in accounts[dup].groupby("account_id", sort=False)["row"]:
            listed = messages.rows_text(rows)
            problems += [Problem.notice(
                "accounts", f"account_id '{value}' is given in {listed} of accounts; keep one",
                row=row) for row in rows]
        accounts = accounts[~ids.duplicated(keep="first") | ids.isna()].reset_index(drop=True)
    owner = accounts["rep_id"]
    unknown = owner.notna() & ~owner.isin(list(known))
    if unknown.any():
        problems += [Problem.notice("accounts", messages.unknown_account_owner(rep), row=row, rep_id=rep)
            for row, rep in zip(accounts["row"][unknown], owner[unknown], strict=True)]
        accounts = accounts.assign(rep_id=owner.where(~unknown, None))
    locked = accounts["locked"].fillna(False).astype(bool) & accounts["rep_id"].isna()
    problems += [Problem.notice("accounts", "locked account has no rep_id to stay with; give "
                                "it a rep_id or clear locked", row=row)
                 for row in accounts["row"][locked]]
    return accounts, problems


def read_accounts(ws, required: bool = True):
    """(reps, accounts, problems, files) through the core's reader plus `check_accounts`."""
    reps, problems, reps_file = read_table(ws, "reps")
    accounts, found, accounts_file = read_table(ws, "accounts", required=required,
                                                known_reps=set(reps["rep_id"]))
    problems = list(problems) + list(found)
    if accounts is not None:
        accounts, found = check_accounts(accounts, set(reps["rep_id"]))
        problems += found
    return reps, accounts, problems, (reps_file, accounts_file)


def validate_territory_inputs(ws) -> list[Problem]:
    """Every accounts problem as a value; a bad scenario file raises IcmError (file:line)."""
    errors = []
    for path in plan_files(ws.plans_dir):
        try:
            doc = load_yaml(path, ws.root)
        except IcmError as exc:
            errors += exc.messages
            continue
        if is_scenario(doc.data) and ("alignment" in doc.data or "quotas" in doc.data):
            try:
                load_scenario(path, ws.root)
            except IcmError as exc:
                errors += exc.messages
    if errors:
        raise IcmError(*errors)
    _, accounts, problems, _ = read_accounts(ws, required=False)
    if accounts is None:
        return []
    return [p for p in problems if p.table == "accounts"]
