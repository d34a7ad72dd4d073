"""A hand-built RunResult for 2026-03: an Italian rep, an English rep on a draw, a manager.

Figures follow SPEC section 5 so the expected statement and workbook values are exact:
A1 (it) new_business 520,000.00 / 480,000.00 at 8% = 41,600.00 - 20,000.00 paid = 21,600.00;
renewals 75% of Q1 -> 50% of 4,500.00 = 2,250.00 - 1,000.00 = 1,250.00; q_kicker 2,000.00;
platform_spif 375.00 - 250.00 = 125.00; adjustment 150.00; recovery -1,000.00: paid 24,125.00.
B2 (workspace locale) new_business 60,000.00 at 5% = 3,000.00 - 5,500.00 = -2,500.00,
renewals 0.00, draw 5,500.00: paid 3,000.00. M1 team_revenue 575,000.00 / 500,000.00 = 115%
-> 137.5% of 10,000.00 = 13,750.00 - 5,000.00 = 8,750.00.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from compensation.plan import Plan
from compensation.results import InputFile, RunResult
from compensation.settings import Settings, Workspace

NA = pd.NA

AE_PLAN = {
    "id": "ae-2026", "name": "Account Executive FY2026", "currency": "EUR",
    "target_incentive": 60000,
    "components": [
        {"id": "new_business", "measure": {"where": {"type": ["new", "expansion"]},
                                           "multipliers": [{"where": {"product": "Platform"},
                                                            "factor": 1.5}]},
         "attainment_period": "year",
         "commission": {"method": "retroactive",
                        "tiers": [{"from": "0%", "rate": "5%"}, {"from": "100%", "rate": "8%"},
                                  {"from": "150%", "rate": "10%"}]}},
        {"id": "renewals", "measure": {"where": {"type": "renewal"}},
         "attainment_period": "quarter",
         "payout_curve": {"weight": "30%", "points": [["0%", "0%"], ["50%", "0%"],
                                                      ["100%", "100%"], ["150%", "200%"]],
                          "cap": "200%"}},
    ],
    "bonuses": [{"id": "q_kicker", "component": "new_business", "min_attainment": "100%",
                 "per": "quarter", "amount": 2000}],
    "spifs": [{"id": "platform_spif", "where": {"product": "Platform", "type": "new"},
               "per_transaction": 250, "from": "2026-01-01", "to": "2026-06-30"}],
    "draw": {"amount": 3000, "recoverable": True, "periods": 3},
    "clawback": {"window_days": 90},
}

MGR_PLAN = {
    "id": "mgr-2026", "name": "Sales Manager FY2026", "currency": "EUR", "target_incentive": 40000,
    "components": [
        {"id": "team_revenue", "measure": {"credit": "team"}, "attainment_period": "quarter",
         "payout_curve": {"weight": "100%", "points": [["0%", "0%"], ["100%", "100%"],
                                                       ["120%", "150%"]]}},
    ],
}


def _cents(values):
    return pd.array(values, dtype="Int64")


def register_rows():
    #  rep, name, line, kind, credited, quota, attainment, e2d, paid, amount, plan
    rows = [
        ("A1", "Anna Rossi", "new_business", "component", 52_000_000, 48_000_000,
         520_000 / 480_000, 4_160_000, 2_000_000, 2_160_000, "ae-2026"),
        ("A1", "Anna Rossi", "renewals", "component", 4_500_000, 6_000_000, 0.75,
         225_000, 100_000, 125_000, "ae-2026"),
        ("A1", "Anna Rossi", "q_kicker", "bonus", NA, NA, np.nan, 200_000, 0, 200_000, "ae-2026"),
        ("A1", "Anna Rossi", "platform_spif", "spif", NA, NA, np.nan, 37_500, 25_000, 12_500,
         "ae-2026"),
        ("A1", "Anna Rossi", "adjustment", "adjustment", NA, NA, np.nan, NA, NA, 15_000, "ae-2026"),
        ("A1", "Anna Rossi", "recovery", "recovery", NA, NA, np.nan, NA, NA, -100_000, "ae-2026"),
        ("B2", "Ben Carter", "new_business", "component", 6_000_000, 48_000_000, 60_000 / 480_000,
         300_000, 550_000, -250_000, "ae-2026"),
        ("B2", "Ben Carter", "renewals", "component", 0, 6_000_000, 0.0, 0, 0, 0, "ae-2026"),
        ("B2", "Ben Carter", "draw", "draw", NA, NA, np.nan, NA, NA, 550_000, "ae-2026"),
        ("M1", "Maria Bianchi", "team_revenue", "component", 57_500_000, 50_000_000, 1.15,
         1_375_000, 500_000, 875_000, "mgr-2026"),
    ]
    cols = ["rep_id", "name", "line", "kind", "credited", "quota", "attainment",
            "earned_to_date", "paid_to_date", "amount", "plan_id"]
    frame = pd.DataFrame(rows, columns=cols)
    out = pd.DataFrame({"period": "2026-03", "rep_id": frame.rep_id, "name": frame["name"],
                        "line": frame.line})
    for c in ("credited", "quota"):
        out[c] = _cents(frame[c].tolist())
    out["attainment"] = frame.attainment.astype(float)
    for c in ("earned_to_date", "paid_to_date", "amount"):
        out[c] = _cents(frame[c].tolist())
    out["currency"] = "EUR"
    out["kind"] = frame.kind
    out["plan_id"] = frame.plan_id
    return out


def line_periods(register: pd.DataFrame) -> pd.DataFrame:
    periods = {"new_business": "2026", "renewals": "2026-Q1", "q_kicker": "2026-Q1",
               "platform_spif": "2026", "team_revenue": "2026-Q1"}
    lp = register[register.kind.isin(["component", "bonus", "spif"])].copy()
    lp["attainment_period"] = lp.line.map(periods)
    lp["paid_before"] = lp.paid_to_date
    lp["detail"] = ""
    extra = register[register.kind == "adjustment"].copy()
    extra["attainment_period"] = "2026-03"
    extra["paid_before"] = _cents([NA] * len(extra))
    extra["detail"] = "Referral prize <b>March</b>"
    lp = pd.concat([lp, extra], ignore_index=True)
    return lp[["rep_id", "line", "kind", "attainment_period", "credited", "quota", "attainment",
               "earned_to_date", "paid_before", "amount", "detail"]].reset_index(drop=True)


def credits() -> pd.DataFrame:
    # rep, plan, line, period, txn, date, account, type, product, share, mult, credited,
    # reverses, via
    rows = [
        ("A1", "ae-2026", "new_business", "2026", "T2001", "2026-01-20", "ACC-ROSSI-1", "new",
         "Core", 1.0, 1.0, 20_000_000, NA, NA),
        ("A1", "ae-2026", "new_business", "2026", "T2002", "2026-02-10", "ACC-ROSSI-2", "new",
         "Platform", 1.0, 1.5, 15_000_000, NA, NA),
        ("A1", "ae-2026", "new_business", "2026", "T2003", "2026-03-05", "ACC-ROSSI-3", "new",
         "Platform", 0.5, 1.0, 17_000_000, NA, NA),
        ("A1", "ae-2026", "renewals", "2026-Q1", "T2004", "2026-03-12", "ACC-ROSSI-1", "renewal",
         "Core", 1.0, 1.0, 4_500_000, NA, NA),
        ("B2", "ae-2026", "new_business", "2026", "T1001", "2026-01-22", "ACC-CARTER-1", "new",
         "Core", 1.0, 1.0, 6_000_000, NA, NA),
        ("B2", "ae-2026", "new_business", "2026", "T1002", "2026-02-14", "ACC-CARTER-2", "new",
         "Core", 1.0, 1.0, 5_000_000, NA, NA),
        ("B2", "ae-2026", "new_business", "2026", "T1003", "2026-03-09", "ACC-CARTER-2",
         "cancellation", "Core", 1.0, 1.0, -5_000_000, "T1002", NA),
    ]
    team = [
        ("M1", "mgr-2026", "team_revenue", "2026-Q1", txn, day, acct, typ, prod, share, 1.0,
         cents, rev, via)
        for txn, day, acct, typ, prod, share, cents, rev, via in [
            ("T2001", "2026-01-20", "ACC-ROSSI-1", "new", "Core", 1.0, 20_000_000, NA, "A1"),
            ("T1001", "2026-01-22", "ACC-CARTER-1", "new", "Core", 1.0, 6_000_000, NA, "B2"),
            ("T2002", "2026-02-10", "ACC-ROSSI-2", "new", "Platform", 1.0, 10_000_000, NA, "A1"),
            ("T1002", "2026-02-14", "ACC-CARTER-2", "new", "Core", 1.0, 5_000_000, NA, "B2"),
            ("T2003", "2026-03-05", "ACC-ROSSI-3", "new", "Platform", 0.5, 17_000_000, NA, "A1"),
            ("T1003", "2026-03-09", "ACC-CARTER-2", "cancellation", "Core", 1.0, -5_000_000,
             "T1002", "B2"),
            ("T2004", "2026-03-12", "ACC-ROSSI-1", "renewal", "Core", 1.0, 4_500_000, NA, "A1"),
        ]
    ]
    cols = ["rep_id", "plan_id", "line", "attainment_period", "txn_id", "date", "account_id",
            "type", "product", "share", "multiplier", "credited", "reverses", "via_rep_id"]
    frame = pd.DataFrame(rows + team, columns=cols)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["credited"] = frame["credited"].astype("int64")
    frame["fx_rate"] = 1.0
    return frame


def settlement() -> pd.DataFrame:
    return pd.DataFrame({
        "rep_id": ["A1", "B2", "M1"],
        "earned": [2_512_500, -250_000, 875_000],
        "balance_before": [100_000, 0, 0],
        "net": [2_412_500, -250_000, 875_000],
        "floor": [0, 300_000, 0],
        "pay": [2_412_500, 300_000, 875_000],
        "balance_after": [0, 550_000, 0],
        "draw_active": [False, True, False],
        "plan_id": ["ae-2026", "ae-2026", "mgr-2026"],
        "currency": ["EUR", "EUR", "EUR"],
    })


def reps() -> pd.DataFrame:
    return pd.DataFrame({
        "rep_id": ["A1", "B2", "M1"],
        "name": ["Anna Rossi", "Ben Carter", "Maria Bianchi"],
        "email": ["anna.rossi@acme.example", "ben.carter@acme.example", NA],
        "plan_id": ["ae-2026", "ae-2026", "mgr-2026"],
        "currency": ["EUR", "EUR", "EUR"],
        "locale": ["it", NA, "en"],
    })


def exceptions() -> pd.DataFrame:
    return pd.DataFrame({
        "period": ["2026-03"], "severity": ["notice"], "table": ["transactions"],
        "row": _cents([7]), "txn_id": ["T0999"], "rep_id": ["ZZ"],
        "reason": ["unknown rep 'ZZ'"],
    })


def sample_result(root: Path | None = None, *, locale: str = "en", **replace) -> RunResult:
    """The sample run; `replace` swaps any frame (reps=..., register=...)."""
    register = register_rows()
    frames = {
        "register": register, "line_periods": line_periods(register), "credits": credits(),
        "settlement": settlement(), "reps": reps(), "exceptions": exceptions(),
    }
    frames.update(replace)
    plans = {p["id"]: Plan.model_validate(p) for p in (AE_PLAN, MGR_PLAN)}
    return RunResult(
        workspace=Workspace(root=root or Path("/nonexistent-ws"), settings=Settings(locale=locale)),
        period="2026-03",
        plans=plans,
        inputs=(
            InputFile("transactions", "data/transactions.csv", 12, "ab" * 32),
            InputFile("reps", "data/reps.csv", 3, "cd" * 32),
            InputFile("plan:ae-2026", "plans/ae.yaml", 1, "ef" * 32),
        ),
        **frames,
    )
