"""Reps and accounts as the optimisers need them (SPEC section 3, `reps` and `accounts`).

Takes the frames `compensation.tables` reads (or any frames with the SPEC columns),
applies the section 7 defaults (workload 1, capacity 1, a rep's region from its
accounts) and reports structural problems as `file:row: message`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from compensation.errors import IcmError, Located
from territories.checks import read_accounts

ACCOUNT_COLUMNS = ("account_id", "potential", "workload", "region", "lat", "lon", "rep_id",
                   "last_year", "locked")
REP_COLUMNS = ("rep_id", "region", "capacity", "lat", "lon", "start_date", "end_date")


def _text(series: pd.Series) -> pd.Series:
    """Ids and regions as stripped strings, blanks as None."""
    out = series.astype("object").where(series.notna(), None)
    out = out.map(lambda v: None if v is None else (str(v).strip() or None))
    return out.astype("object")


def _number(frame: pd.Series | None, default: float, index) -> pd.Series:
    if frame is None:
        return pd.Series(default, index=index, dtype="float64")
    return pd.to_numeric(frame, errors="coerce").astype("float64")


def _rows(frame: pd.DataFrame) -> pd.Series:
    if "row" in frame.columns:
        return frame["row"]
    return pd.Series(np.arange(len(frame)) + 2, index=frame.index)


def _errors(frame, mask, source, message) -> list[Located]:
    rows = _rows(frame)[mask]
    return [Located(message(i), source, int(rows[i])) for i in rows.index[:20]]


def prepare_accounts(accounts: pd.DataFrame, source: str = "data/accounts.csv") -> pd.DataFrame:
    """Accounts with every section 7 column typed; raises on unusable rows."""
    missing = [c for c in ("account_id", "potential") if c not in accounts.columns]
    if missing:
        raise IcmError.at(source, 1,
                          f"missing column {', '.join(missing)} (needed by align and quotas)")
    idx = accounts.index
    out = pd.DataFrame({"account_id": _text(accounts["account_id"])}, index=idx)
    out["potential"] = _number(accounts["potential"], 0.0, idx)
    out["workload"] = _number(accounts.get("workload"), 1.0, idx).fillna(1.0)
    for col in ("region", "rep_id"):
        out[col] = _text(accounts[col]) if col in accounts.columns else None
    for col in ("lat", "lon"):
        out[col] = _number(accounts.get(col), np.nan, idx)
    out["last_year"] = _number(accounts.get("last_year"), 0.0, idx).fillna(0.0)
    locked = accounts.get("locked")
    if locked is None:
        out["locked"] = False
    else:
        text = locked.astype("object").map(lambda v: str(v).strip().lower())
        out["locked"] = text.isin(["true", "1", "yes", "1.0"]).to_numpy()
    out["row"] = _rows(accounts).to_numpy()
    label = next((c for c in ("name", "city", "account_name") if c in accounts.columns), None)
    out["name"] = _text(accounts[label]) if label else None
    # Rows come checked from `territories.checks` (load_frames); frames built in code only
    # need to be usable, so the one check here is what no optimiser can take.
    bad = out["account_id"].isna() | out["potential"].isna() | (out["potential"] < 0)
    errors = _errors(accounts, bad, source, lambda i: "account_id must be given and potential "
                     "be a number of 0 or more")
    if errors:
        raise IcmError(*errors)
    return out.reset_index(drop=True)


def prepare_reps(reps: pd.DataFrame, accounts: pd.DataFrame | None = None,
                 source: str = "data/reps.csv") -> pd.DataFrame:
    """One row per rep_id (its latest `reps` row), sorted by rep_id.

    A rep without a `region` takes the most common region of the accounts it owns now.
    """
    if "rep_id" not in reps.columns:
        raise IcmError.at(source, 1, "missing column rep_id")
    frame = reps.copy()
    frame["rep_id"] = _text(frame["rep_id"])
    if "start_date" in frame:
        frame["_start"] = pd.to_datetime(frame["start_date"], errors="coerce")
    else:
        frame["_start"] = pd.NaT
    frame = frame[frame["rep_id"].notna()].sort_values(["rep_id", "_start"], kind="stable",
                                                        na_position="first")
    latest = frame.groupby("rep_id", sort=True).tail(1).set_index("rep_id").sort_index()
    idx = latest.index
    out = pd.DataFrame(index=idx)
    out["region"] = _text(latest["region"]) if "region" in latest else None
    out["capacity"] = _number(latest.get("capacity"), 1.0, idx).fillna(1.0)
    for col in ("lat", "lon"):
        out[col] = _number(latest.get(col), np.nan, idx)
    # a rep's hire date is its first row's start; later rows are effective-dated changes
    out["start_date"] = frame.groupby("rep_id", sort=True)["_start"].min().reindex(idx)
    out["end_date"] = (pd.to_datetime(latest["end_date"], errors="coerce")
                       if "end_date" in latest else pd.NaT)
    out["row"] = _rows(latest).to_numpy()
    bad = out["capacity"] < 0
    if bad.any():
        raise IcmError(*[Located(f"capacity of {r} must be 0 or more", source,
                                 int(out.at[r, "row"])) for r in out.index[bad]])
    if accounts is not None and out["region"].isna().any():
        owned = accounts.dropna(subset=["rep_id", "region"])
        if len(owned):
            mode = (owned.groupby(["rep_id", "region"]).size().reset_index(name="n")
                    .sort_values(["rep_id", "n", "region"], ascending=[True, False, True])
                    .drop_duplicates("rep_id").set_index("rep_id")["region"])
            out["region"] = out["region"].fillna(mode.reindex(out.index))
    out = out.reset_index()
    out["region"] = out["region"].astype("object").where(out["region"].notna(), None)
    return out


def load_frames(ws) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reps, accounts) of a workspace, prepared; checked by `territories.checks`.

    Unlike a payout run, alignment cannot skip a bad row (an account left out would stay
    unassigned, a rep left out would change every fair share): any row problem is an error.
    """
    reps_raw, accounts_raw, problems, (reps_file, accounts_file) = read_accounts(ws)
    files = {"reps": reps_file, "accounts": accounts_file}
    # an owner missing from reps is not fatal: the account is treated as unowned
    errors = [Located(p.reason, _source(files.get(p.table)), p.row) for p in problems
              if not (p.table == "accounts" and p.reason.endswith("correct the rep_id"))]
    if errors:
        raise IcmError(*errors)
    accounts = prepare_accounts(accounts_raw, _source(accounts_file))
    reps = prepare_reps(reps_raw, accounts, _source(reps_file))
    return reps, accounts


def _source(input_file) -> str:
    return getattr(input_file, "path", None) or "data"
