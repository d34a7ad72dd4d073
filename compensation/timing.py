"""Payment timing (issue 17): pay on cash, holdbacks, releases and forfeits.

Component lines earn and true up as always; timing only decides when what they earn is
paid. Each rep's held balance is kept by key: (line, source, ref, attainment_period),
where source `cash` has ref = the deal's txn_id (a cancellation counts for its
original) and the credited attainment period, and source `holdback` has ref = the
month it was held and a `due` month. Every run recomputes, per key, the cumulative
amount withheld (W), released (R) and forfeited (F), as rule 8 recomputes earnings:

- cash: W = round(cash share x E x c / C), E the period's earned to date, c the deal's
  credited value in the period and C the period's; R = round(W x paid / amount), paid
  being the deal's payments dated up to the run month. Periods of earlier fiscal years
  are not recomputed: their W is what the ledger holds.
- holdback: W = round(holdback share x this run's positive component line amount), held
  in the key of the run month; R = W from the run whose month reaches `due`.
- a leaver (last assignment ended by the run month): payments after the end date and
  holdbacks due after it no longer count; the plan's `held_on_leaving` then pays what
  is held (R = W) or forfeits it (F = W - R).

What changed since the closed months (the ledger's sums) is this run's flow. The
register shows new withholding on `held` (<= 0) and what becomes payable on `release`
(>= 0), gross per key; a key whose W or R went down (a cancellation, a refund, lower
earnings) shows only the change of its balance. `forfeit` records the forfeited total
with amount 0.00. All money is integer cents.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from fractions import Fraction

import numpy as np
import pandas as pd

from compensation.errors import Problem
from compensation.money import product_cents
from compensation.periods import Calendar, month_index, month_indexes, month_name
from compensation.plan import Payment, Plan

KEY = ["rep_id", "line", "source", "ref", "attainment_period"]
FLOW_COLUMNS = (*KEY, "due", "withheld", "released", "forfeited")
TIMING_LINES = ("held", "release", "forfeit")
TIMING_COLUMNS = (*KEY, "due", "balance_before", "withheld", "released", "forfeited", "held", "release",
                  "balance_after")


def empty_flows() -> pd.DataFrame:
    """Ledger flows with no rows: the prior state before any timing was recorded."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("withheld", "released", "forfeited") else object)
                         for c in FLOW_COLUMNS})


def empty_timing() -> pd.DataFrame:
    """A run's timing frame with no rows."""
    return pd.DataFrame({c: pd.Series(dtype=object if c in (*KEY, "due") else "int64") for c in TIMING_COLUMNS})


def round_half_up(value: Fraction) -> int:
    """Exact value -> integer, half away from zero (rule 10)."""
    whole = (abs(value.numerator) * 2 + value.denominator) // (2 * value.denominator)
    return whole if value >= 0 else -whole


def timed_components(plans: Mapping[str, Plan]) -> dict[tuple[str, str], Payment]:
    """(plan_id, component id) -> its payment timing, for components not paid 100% at booking."""
    return {(pid, c.id): c.payment for pid, p in plans.items() for c in p.components if c.payment.at_booking != 1}


def due_month(payment: Payment, held_month: int, calendar: Calendar) -> int:
    """The month whose run releases a holdback held in `held_month`."""
    if payment.release == "quarter":
        return int(calendar.quarter_last_month(held_month))
    if payment.release == "year":
        return calendar.fiscal_year_first_month(calendar.fiscal_year(held_month)) + 11
    return held_month + int(payment.release)


# -- payments -------------------------------------------------------------------------------------


def check_payments(payments: pd.DataFrame, txns: pd.DataFrame, credits: pd.DataFrame, fx: pd.DataFrame,
                   current: pd.DataFrame, base_currency: str, known: Collection[str]) -> tuple[pd.DataFrame, list]:
    """Payments in cents of their transaction's currency: txn_id, date, month, cents.

    Row problems: an unknown txn_id (a notice), a missing FX rate, and payments of one
    transaction adding up to more than its amount (holds the transaction's reps, and its
    payments are left out until fixed).
    """
    out = pd.DataFrame({"txn_id": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]"),
                        "month": pd.Series(dtype="int64"), "cents": pd.Series(dtype="int64")})
    if payments is None or not len(payments):
        return out, []
    problems: list[Problem] = []
    by_id = txns.set_index("txn_id")
    reps_of = _reps_of(txns, credits)
    pay = payments.copy()
    unknown = ~pay["txn_id"].isin(by_id.index)
    for row in pay[unknown].itertuples():
        problems.append(Problem.notice(
            "payments", f"txn_id '{row.txn_id}' is not in transactions; correct the txn_id or add the transaction",
            row=row.row, txn_id=row.txn_id))
    pay = pay[~unknown]
    owner = pay["txn_id"].map(by_id["rep_id"])
    plan_ccy = owner.map(current["currency"]) if "currency" in current else pd.Series(None, index=pay.index)
    txn_ccy = pay["txn_id"].map(by_id["currency"]).fillna(plan_ccy).fillna(base_currency)
    pay_ccy = pay["currency"].fillna(txn_ccy) if "currency" in pay else txn_ccy
    month = month_indexes(pay["date"].to_numpy())
    rates = {(month_index(p), c): r for p, c, r in zip(fx["period"], fx["currency"], fx["rate"], strict=True)}

    def rate(ccy, m):
        return 1.0 if ccy == base_currency else rates.get((m, ccy))

    num = np.array([rate(c, m) if c != t else 1.0 for c, t, m in zip(pay_ccy, txn_ccy, month, strict=True)],
                   dtype=object)
    den = np.array([rate(t, m) if c != t else 1.0 for c, t, m in zip(pay_ccy, txn_ccy, month, strict=True)],
                   dtype=object)
    missing = np.array([n is None or d is None for n, d in zip(num, den, strict=True)], dtype=bool)
    for row, ccy, t, m in zip(pay[missing].itertuples(), pay_ccy[missing], txn_ccy[missing], month[missing],
                              strict=True):
        need = ", ".join(c for c in dict.fromkeys((ccy, t)) if c != base_currency)
        for rep in reps_of.get(row.txn_id, ()):
            problems.append(Problem.hold(
                "payments", f"no fx rate for {need} in {month_name(m)} to convert the payment of {row.txn_id} "
                f"into {t}; add a row to fx (period {month_name(m)})", row=row.row, txn_id=row.txn_id, rep_id=rep))
    keep = ~missing
    cents = product_cents(pay["amount"].to_numpy(float)[keep], num[keep].astype(float),
                          divisor=den[keep].astype(float))
    out = pd.DataFrame({"txn_id": pay["txn_id"].to_numpy(dtype=object)[keep], "date": pay["date"].to_numpy()[keep],
                        "month": month[keep].astype(np.int64), "cents": cents, "row": pay["row"].to_numpy()[keep]})
    amount = product_cents(by_id["amount"].to_numpy(float))
    amount_of = dict(zip(by_id.index, amount, strict=True))
    total = out.groupby("txn_id")["cents"].sum()
    over = [t for t, c in total.items() if c > amount_of[t] > 0 or (amount_of[t] <= 0 < c)]
    for txn in over:
        rows = out.loc[out["txn_id"] == txn, "row"]
        for row in rows:
            for rep in reps_of.get(txn, ()) or (None,):
                make = Problem.hold if rep in known else Problem.notice
                problems.append(make(
                    "payments", f"payments of {txn} add up to {_money(total[txn])}, more than its amount "
                    f"{_money(amount_of[txn])}; correct the payments (a refund is a negative payment)",
                    row=row, txn_id=txn, rep_id=rep))
    out = out[~out["txn_id"].isin(over)].drop(columns="row").reset_index(drop=True)
    return out, problems


def _reps_of(txns: pd.DataFrame, credits: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """The reps a transaction affects: its owner and its credits rows."""
    pairs = list(zip(txns["txn_id"], txns["rep_id"], strict=True))
    pairs += list(zip(credits["txn_id"], credits["rep_id"], strict=True))
    out: dict[str, list[str]] = {}
    for txn, rep in pairs:
        if isinstance(rep, str) and rep not in out.setdefault(txn, []):
            out[txn].append(rep)
    return {k: tuple(v) for k, v in out.items()}


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(int(cents)) // 100}.{abs(int(cents)) % 100:02d}"


# -- the stage ---------------------------------------------------------------------------------------


def paying_reps(current: pd.DataFrame, plans: Mapping[str, Plan], window) -> set[str]:
    """Reps whose plan pays this month: monthly plans always, quarterly ones in a quarter's last month."""
    quarter_end = window.calendar.is_quarter_end(window.run_month)
    return {r for r, pid in zip(current.index, current["plan_id"], strict=True)
            if quarter_end or plans[pid].payout_frequency != "quarterly"}


def waiting_reps(prior_flows: pd.DataFrame, pays_now: Collection[str]) -> set[str]:
    """Reps with a held balance from closed months, among those whose plan pays this month."""
    if not len(prior_flows):
        return set()
    bal = prior_flows.assign(b=prior_flows["withheld"] - prior_flows["released"] - prior_flows["forfeited"])
    owing = bal.groupby("rep_id")["b"].apply(lambda b: (b != 0).any())
    return set(owing.index[owing.to_numpy(dtype=bool)]) & set(pays_now)


def timing(line_periods: pd.DataFrame, cash: pd.DataFrame, payments: pd.DataFrame, amounts: Mapping[str, int],
           prior_flows: pd.DataFrame, reps: Collection[str], assignments: pd.DataFrame,
           plans: Mapping[str, Plan], window) -> pd.DataFrame:
    """Every held key: its balance before, this run's flows and the balance after.

    `cash` is `cash_credits` (summed over every partition), `amounts` each deal's amount in
    cents (the deals of `cash`, of the ledger's cash keys and of the payments). Keys of
    `reps` are recomputed; other reps' balances are carried unchanged (no flows).
    """
    reps = set(reps)
    carried = _carried(prior_flows, reps)
    prior = _prior_sums(prior_flows, reps)
    timed = timed_components(plans)
    if not timed and not len(prior):
        return carried
    leaving = _leavers(assignments, plans, reps, window)
    cash = _cash(line_periods, cash, payments, amounts, prior, reps, timed, leaving, window)
    hold = _holdback(line_periods, prior, reps, timed, leaving, window)
    keys = pd.concat([cash, hold], ignore_index=True)
    if not len(keys):
        return carried
    keys = keys.merge(prior.drop(columns="due"), on=KEY, how="left")
    for c in ("W0", "R0", "F0"):
        keys[c] = keys[c].fillna(0).astype("int64")
    # Leavers: the plan pays what is still held, or forfeits it.
    policy = keys["rep_id"].map({r: p for r, (_end, p) in leaving.items()})
    keys["W"] = keys["W"].astype("int64")
    keys["R"] = np.where((policy == "pay").to_numpy(), keys["W"], keys["R"]).astype("int64")
    keys["F"] = np.where((policy == "forfeit").to_numpy(), keys["W"] - keys["R"], 0).astype("int64")
    dw, dr, df = (keys[a] - keys[b] for a, b in (("W", "W0"), ("R", "R0"), ("F", "F0")))
    gross = (dw >= 0) & (dr >= 0)
    change = dw - dr
    out = keys[KEY + ["due"]].copy()
    out["balance_before"] = keys["W0"] - keys["R0"] - keys["F0"]
    out["withheld"], out["released"], out["forfeited"] = dw, dr, df
    out["held"] = np.where(gross, -dw, np.minimum(-change, 0)).astype("int64")
    out["release"] = np.where(gross, dr, np.maximum(-change, 0)).astype("int64")
    out["balance_after"] = keys["W"] - keys["R"] - keys["F"]
    moving = (out[["balance_before", "withheld", "released", "forfeited", "balance_after"]] != 0).any(axis=1)
    out = pd.concat([out[moving], carried], ignore_index=True).sort_values(KEY, kind="stable", ignore_index=True)
    for c in TIMING_COLUMNS[6:]:
        out[c] = out[c].astype("int64")
    return out[list(TIMING_COLUMNS)]


def _carried(prior_flows: pd.DataFrame, reps: set[str]) -> pd.DataFrame:
    """Balances of reps the run does not pay (held, or not paid this month), unchanged."""
    others = prior_flows[~prior_flows["rep_id"].isin(reps)] if len(prior_flows) else empty_flows()
    if not len(others):
        return empty_timing()
    sums = _prior_sums(others, set(others["rep_id"]))
    balance = (sums["W0"] - sums["R0"] - sums["F0"]).astype("int64")
    out = sums[KEY + ["due"]].assign(balance_before=balance, withheld=0, released=0, forfeited=0, held=0, release=0,
                                     balance_after=balance)
    return out[balance != 0][list(TIMING_COLUMNS)].reset_index(drop=True)


def _prior_sums(prior_flows: pd.DataFrame, reps: set[str]) -> pd.DataFrame:
    flows = prior_flows[prior_flows["rep_id"].isin(reps)] if len(prior_flows) else empty_flows()
    sums = flows.groupby(KEY, as_index=False, dropna=False).agg(
        W0=("withheld", "sum"), R0=("released", "sum"), F0=("forfeited", "sum"), due=("due", "last"))
    return sums


def _leavers(assignments, plans, reps, window) -> dict[str, tuple[pd.Timestamp, str]]:
    """Reps whose last assignment ended by the run month: (end date, held_on_leaving of its plan)."""
    last = assignments[assignments["rep_id"].isin(reps)].sort_values(["rep_id", "start"]).groupby("rep_id").tail(1)
    gone = last[last["end"] <= window.last_day]
    return {r: (end, plans[p].held_on_leaving) for r, end, p in zip(gone["rep_id"], gone["end"], gone["plan_id"],
                                                                     strict=True)}


CASH_COLUMNS = ("rep_id", "plan_id", "line", "attainment_period", "ref", "c")


def cash_credits(comp_credits: pd.DataFrame, lines: pd.DataFrame, plans: Mapping[str, Plan],
                 calendar: Calendar) -> pd.DataFrame:
    """Credited cents per (rep, plan, cash-paid component, attainment period, deal), and each deal's amount.

    What pay on cash needs of the transactions, summed where they are (a partition);
    sums of several partitions add up. The deal of a cancellation is its original.
    """
    shares = {k for k, p in timed_components(plans).items() if p.cash > 0}
    empty = pd.DataFrame({c: pd.Series(dtype="int64" if c in ("c", "amount") else object)
                          for c in (*CASH_COLUMNS, "amount")})
    if not shares or not len(comp_credits):
        return empty
    keyed = pd.Series(list(zip(comp_credits["plan_id"], comp_credits["line"], strict=True)), dtype=object)
    cc = comp_credits[keyed.isin(list(shares)).to_numpy()]
    if not len(cc):
        return empty
    kinds = {(pid, line): plans[pid].component(line).attainment_period for pid, line in shares}
    period = np.array([calendar.period_of(kinds[(pid, ln)], int(m)) for pid, ln, m in zip(
        cc["plan_id"], cc["line"], cc["month"], strict=True)], dtype=object)
    at = cc["line_idx"].to_numpy()
    per = pd.DataFrame({"rep_id": cc["rep_id"].to_numpy(), "plan_id": cc["plan_id"].to_numpy(),
                        "line": cc["line"].to_numpy(), "attainment_period": period,
                        "ref": lines["credit_key"].to_numpy(dtype=object)[at],
                        "c": cc["credited"].to_numpy(dtype=np.int64),
                        "amount": product_cents(lines["orig_amount"].to_numpy(dtype=float)[at])})
    return per.groupby(list(CASH_COLUMNS[:-1]), as_index=False, sort=False).agg(
        c=("c", "sum"), amount=("amount", "first"))


def add_cash(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """`cash_credits` of several partitions added up."""
    frame = pd.concat(parts, ignore_index=True)
    return frame.groupby(list(CASH_COLUMNS[:-1]), as_index=False, sort=False).agg(
        c=("c", "sum"), amount=("amount", "first"))


def _cash(line_periods, cash, payments, amounts, prior, reps, timed, leaving, window):
    """Cash keys: W recomputed for the run's attainment periods, the ledger's for earlier years; R from payments."""
    shares = {k: Fraction(p.cash) for k, p in timed.items() if p.cash > 0}
    rows = []
    per = cash[cash["rep_id"].isin(reps)] if shares and len(cash) else cash.iloc[:0]
    if len(per):
        comp = line_periods[line_periods["kind"] == "component"]
        totals = comp.groupby(["rep_id", "line", "attainment_period"], as_index=False).agg(
            E=("earned_to_date", "sum"), C=("credited", "sum"))
        per = per.merge(totals, on=["rep_id", "line", "attainment_period"], how="left")
        for r in per.itertuples(index=False):
            e, total = int(0 if pd.isna(r.E) else r.E), int(0 if pd.isna(r.C) else r.C)
            w = 0 if total == 0 else round_half_up(shares[(r.plan_id, r.line)] * e * int(r.c) / total)
            rows.append((r.rep_id, r.line, "cash", r.ref, r.attainment_period, w))
    recomputed = pd.DataFrame(rows, columns=[*KEY, "W"]).groupby(KEY, as_index=False)["W"].sum()
    recomputed["W"] = recomputed["W"].astype("int64")
    # Keys the ledger holds: outside this fiscal year they keep their W; inside, they are recomputed.
    old = prior[prior["source"] == "cash"]
    in_window = old["attainment_period"].isin(window.all_periods())
    frozen = old[~in_window.to_numpy()][KEY].assign(W=old.loc[~in_window.to_numpy(), "W0"].to_numpy())
    gone = old[in_window.to_numpy()][KEY].merge(recomputed[KEY], how="left", indicator=True)
    gone = gone[gone["_merge"] == "left_only"].drop(columns="_merge").assign(W=0)
    keys = pd.concat([recomputed, frozen, gone], ignore_index=True)
    if not len(keys):
        return keys.assign(R=pd.Series(dtype="int64"), due="")
    paid = _paid_fraction(keys, payments, amounts, leaving, window)
    keys["R"] = [round_half_up(Fraction(int(w)) * f) for w, f in zip(keys["W"], paid, strict=True)]
    keys["W"] = keys["W"].astype("int64")
    keys["R"] = keys["R"].astype("int64")
    keys["due"] = ""
    return keys


def deal_amounts(transactions: pd.DataFrame, cash: pd.DataFrame) -> dict[str, int]:
    """Amount in cents of each deal timing may look at: those of `cash`, and the given transactions."""
    amounts = dict(zip(transactions["txn_id"], product_cents(transactions["amount"].to_numpy(float)), strict=True))
    amounts.update(zip(cash["ref"], cash["amount"].astype("int64"), strict=True))
    return amounts


def _paid_fraction(keys, payments, amount, leaving, window) -> list[Fraction]:
    """Per key: the share of its deal paid by the cut-off (run month end, or the leaver's end date), in [0, 1]."""
    if payments is None or not len(payments):
        return [Fraction(0)] * len(keys)
    counted = payments[payments["date"] <= window.last_day]
    by_deal = counted.groupby("txn_id")["cents"].sum().to_dict()
    dated = {t: g for t, g in counted.groupby("txn_id")} if leaving else {}
    out = []
    for rep, deal in zip(keys["rep_id"], keys["ref"], strict=True):
        if rep in leaving and deal in dated:
            paid = int(dated[deal].loc[dated[deal]["date"] <= leaving[rep][0], "cents"].sum())
        else:
            paid = int(by_deal.get(deal, 0))
        total = int(amount.get(deal, 0))
        if total <= 0:
            out.append(Fraction(1) if paid > 0 else Fraction(0))
            continue
        out.append(min(Fraction(1), max(Fraction(0), Fraction(paid, total))))
    return out


def _holdback(line_periods, prior, reps, timed, leaving, window) -> pd.DataFrame:
    """Holdback keys: this run's new one per (rep, component) and the ledger's; released once due."""
    rows = []
    held_in = window.period
    comp = line_periods[line_periods["kind"] == "component"]
    shares = {k: p for k, p in timed.items() if p.holdback > 0}
    if shares and len(comp):
        # The month's line amount, whatever the period; the plan of its recomputed rows.
        amounts = comp.groupby(["rep_id", "line"], as_index=False).agg(plan_id=("plan_id", "last"),
                                                                       amount=("amount", "sum"))
        for r in amounts.itertuples(index=False):
            payment = shares.get((r.plan_id, r.line))
            if payment is None or r.amount <= 0 or r.rep_id not in reps:
                continue
            w = round_half_up(Fraction(payment.holdback) * int(r.amount))
            rows.append((r.rep_id, r.line, "holdback", held_in, "", month_name(
                due_month(payment, window.run_month, window.calendar)), w))
    new = pd.DataFrame(rows, columns=[*KEY, "due", "W"])
    old = prior[(prior["source"] == "holdback") & (prior["ref"] != held_in)]
    old = old[KEY + ["due"]].assign(W=old["W0"].to_numpy())
    keys = pd.concat([new, old], ignore_index=True)
    if not len(keys):
        return keys.assign(R=pd.Series(dtype="int64"))
    as_of = np.array([month_index(leaving[r][0].strftime("%Y-%m")) if r in leaving else window.run_month
                      for r in keys["rep_id"]], dtype=np.int64)
    due = np.array([month_index(d) for d in keys["due"]], dtype=np.int64)
    keys["W"] = keys["W"].astype("int64")
    keys["R"] = np.where(due <= as_of, keys["W"], 0).astype("int64")
    return keys


# -- what the register and the settlement see ----------------------------------------------------------


def timing_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """Per rep: `held` (<= 0), `release` (>= 0) and `forfeit` (amount 0, `forfeited` the total) when non-zero."""
    if not len(frame):
        return pd.DataFrame({"rep_id": pd.Series(dtype=object), "line": pd.Series(dtype=object),
                             "amount": pd.Series(dtype="int64"), "forfeited": pd.Series(dtype="int64"),
                             "kind": pd.Series(dtype=object)})
    sums = frame.groupby("rep_id", sort=True)[["held", "release", "forfeited"]].sum()
    parts = []
    for line, column in (("held", "held"), ("release", "release"), ("forfeit", "forfeited")):
        s = sums[sums[column] != 0]
        amount = s[column] if line != "forfeit" else 0
        parts.append(pd.DataFrame({"rep_id": s.index.to_numpy(dtype=object), "line": line,
                                   "amount": np.asarray(amount if line != "forfeit" else np.zeros(len(s)),
                                                        dtype=np.int64),
                                   "forfeited": s["forfeited"].to_numpy(dtype=np.int64) if line == "forfeit"
                                   else np.zeros(len(s), dtype=np.int64)}))
    out = pd.concat(parts, ignore_index=True)
    return out.assign(kind=out["line"])


def net_by_rep(frame: pd.DataFrame) -> pd.Series:
    """What timing adds to each rep's pay this run: held + release (cents)."""
    if not len(frame):
        return pd.Series(dtype="int64")
    return (frame["held"] + frame["release"]).groupby(frame["rep_id"]).sum().astype("int64")


def flows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows the ledger stores for a run: keys with a flow."""
    if not len(frame):
        return empty_flows()
    moved = frame[(frame[["withheld", "released", "forfeited"]] != 0).any(axis=1)]
    return moved[list(FLOW_COLUMNS)].reset_index(drop=True)


def explain_timing(frame: pd.DataFrame, rep_id: str) -> list[str]:
    """`icm explain` lines: each held key's balance before, flows and balance after, then the lines."""
    mine = frame[frame["rep_id"] == rep_id]
    if not len(mine):
        return []
    out = ["", "payment timing (held balances; the settlement's earned includes held and release):"]
    for k in mine.itertuples(index=False):
        what = (f"cash {k.ref} ({k.attainment_period}, released as the customer pays)" if k.source == "cash"
                else f"holdback of {k.ref} (due {k.due})")
        out.append(f"  {k.line} {what}: held before {_money(k.balance_before)}, withheld {_money(k.withheld)}, "
                   f"released {_money(k.released)}, forfeited {_money(k.forfeited)} -> held after "
                   f"{_money(k.balance_after)}")
    held, release, forfeited = (int(mine[c].sum()) for c in ("held", "release", "forfeited"))
    out.append(f"held {_money(held)}, release {_money(release)}"
               + (f", forfeit 0.00 (forfeited {_money(forfeited)})" if forfeited else ""))
    return out
