"""Each calculation rule of SPEC section 5 with its edges, through `compensation.cycle`.

Every test builds a tiny workspace in tmp_path (plan YAML + CSV tables), runs and closes
months with `compensation.cycle`, and reads `out/P/payouts.csv` and `out/P/exceptions.csv`. Figures
are exact; the arithmetic behind each is in the test's docstring or comments.
"""

from __future__ import annotations

import csv
import re
import textwrap
from pathlib import Path

import pytest

from tests import cyclekit

# ---------------------------------------------------------------------------- helpers

QUOTAS_HEADER = "rep_id,component,period,amount\n"


def write_ws(root: Path, plans: dict[str, str], **tables: str) -> Path:
    """A workspace at `root`: `plans` maps file stem -> YAML text, tables map name -> CSV text.

    A missing `quotas` table is written header-only; `icm_yaml=` writes icm.yaml.
    """
    (root / "plans").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    settings = tables.pop("icm_yaml", None)
    if settings:
        (root / "icm.yaml").write_text(textwrap.dedent(settings).strip() + "\n")
    for stem, text in plans.items():
        (root / "plans" / f"{stem}.yaml").write_text(textwrap.dedent(text).strip() + "\n")
    tables.setdefault("quotas", QUOTAS_HEADER)
    for name, text in tables.items():
        write_table(root, name, text)
    return root


def write_table(root: Path, name: str, text: str) -> None:
    (root / "data" / f"{name}.csv").write_text(textwrap.dedent(text).strip() + "\n")


def run(ws: Path, period: str, *extra: str, code: int = 0):
    result = cyclekit.run(ws, period, *extra)
    assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
    return result


def close(ws: Path, period: str):
    result = cyclekit.close(ws, period)
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def register(ws: Path, period: str) -> list[dict[str, str]]:
    return read_csv(ws / "out" / period / "payouts.csv")


def exceptions(ws: Path, period: str) -> list[dict[str, str]]:
    return read_csv(ws / "out" / period / "exceptions.csv")


def amounts(ws: Path, period: str) -> dict[tuple[str, str], str]:
    """(rep_id, line) -> amount text. Lines that repeat (adjustments) are joined with '+'."""
    out: dict[tuple[str, str], str] = {}
    for r in register(ws, period):
        key = (r["rep_id"], r["line"])
        out[key] = f"{out[key]}+{r['amount']}" if key in out else r["amount"]
    return out


def row(ws: Path, period: str, rep_id: str, line: str) -> dict[str, str]:
    rows = [r for r in register(ws, period) if r["rep_id"] == rep_id and r["line"] == line]
    assert len(rows) == 1, f"expected one {rep_id}/{line} row in {period}, got {rows}"
    return rows[0]


def paid_reps(ws: Path, period: str) -> set[str]:
    return {r["rep_id"] for r in register(ws, period)}


def holds(ws: Path, period: str) -> list[dict[str, str]]:
    return [e for e in exceptions(ws, period) if e["severity"] == "hold"]


def plan(plan_id: str, components: str, extra: str = "", currency: str = "EUR") -> str:
    """Plan YAML with the given components block (a YAML list, indented by 2)."""
    return (
        f"id: {plan_id}\nname: Plan {plan_id}\ncurrency: {currency}\n"
        f"components:\n{textwrap.indent(textwrap.dedent(components).strip(), '  ')}\n"
        f"{textwrap.dedent(extra).strip()}\n"
    )


FLAT = plan(
    "flat",
    """
    - id: bookings
      commission: {tiers: [{from: 0%, rate: 5%}]}
""",
)
TIERED_YEAR = plan(
    "ae",
    """
    - id: new_business
      commission: {tiers: [{from: 0%, rate: 5%}, {from: 100%, rate: 8%}]}
""",
)
TIERED_QUARTER = plan(
    "ae",
    """
    - id: new_business
      attainment_period: quarter
      commission: {tiers: [{from: 0%, rate: 5%}, {from: 100%, rate: 8%}]}
""",
)


def reps_csv(*rows: str, header: str = "rep_id,name,plan,start_date,end_date") -> str:
    return "\n".join((header, *rows))


def txns_csv(*rows: str, header: str = "txn_id,date,amount,currency,rep_id,type") -> str:
    return "\n".join((header, *rows))


# ---------------------------------------------------------------------------- rule 3: quotas


def test_missing_or_zero_quota_holds_only_that_rep(tmp_path):
    """A01 has a quota; B01 none; C01 a zero quota: B01 and C01 are held, A01 is paid."""
    ws = write_ws(
        tmp_path,
        {"ae": TIERED_YEAR},
        reps=reps_csv(
            "A01,Ada,ae,2026-01-01,", "B01,Bruno,ae,2026-01-01,", "C01,Carla,ae,2026-01-01,"
        ),
        transactions=txns_csv(
            "T1,2026-01-10,50000,EUR,A01,new",
            "T2,2026-01-10,50000,EUR,B01,new",
            "T3,2026-01-10,50000,EUR,C01,new",
        ),
        quotas="rep_id,component,period,amount\nA01,new_business,2026,100000\nC01,new_business,2026,0",
    )
    result = run(ws, "2026-01")
    assert re.search(r"\b2 reps held", result.output), result.output
    assert paid_reps(ws, "2026-01") == {"A01"}
    assert row(ws, "2026-01", "A01", "new_business")["amount"] == "2500.00"
    held = holds(ws, "2026-01")
    assert {e["rep_id"] for e in held} == {"B01", "C01"}
    assert all(e["period"] == "2026-01" for e in held)
    run(ws, "2026-01", "--strict", code=2)


def test_flat_rate_component_needs_no_quota(tmp_path):
    ws = write_ws(
        tmp_path,
        {"flat": FLAT},
        reps=reps_csv("A01,Ada,flat,2026-01-01,"),
        transactions=txns_csv("T1,2026-01-10,12345.67,EUR,A01,new"),
    )
    run(ws, "2026-01")
    r = row(ws, "2026-01", "A01", "bookings")
    assert (r["credited"], r["quota"], r["attainment"], r["amount"]) == (
        "12345.67",
        "",
        "",
        "617.28",
    )
    assert exceptions(ws, "2026-01") == []


def test_annual_quota_is_split_evenly_for_a_quarter(tmp_path):
    """Quota 400,000 for 2026 -> 100,000 for Q1; 120,000 credited = 120% -> 8% x 120,000."""
    ws = write_ws(
        tmp_path,
        {"ae": TIERED_QUARTER},
        reps=reps_csv("A01,Ada,ae,2026-01-01,"),
        transactions=txns_csv("T1,2026-02-10,120000,EUR,A01,new"),
        quotas="rep_id,component,period,amount\nA01,new_business,2026,400000",
    )
    run(ws, "2026-02")
    r = row(ws, "2026-02", "A01", "new_business")
    assert (r["quota"], r["attainment"], r["amount"]) == ("100000.00", "1.200000", "9600.00")


# ---------------------------------------------------------------------------- rule 6: gates

GATED = plan(
    "gated",
    """
    - id: new_business
      measure: {where: {type: new}}
      commission: {tiers: [{from: 0%, rate: 5%}, {from: 100%, rate: 8%}]}
    - id: renewals
      measure: {where: {type: renewal}}
      commission: {tiers: [{from: 0%, rate: 10%}]}
      gate: {component: new_business, min_attainment: 50%}
""",
)


def test_gate_closes_again_after_a_cancellation_and_reopens(tmp_path):
    ws = write_ws(
        tmp_path,
        {"gated": GATED},
        reps=reps_csv("A01,Ada,gated,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-01-10,60000,EUR,A01,new,",
            "T2,2026-01-12,10000,EUR,A01,renewal,",
            "C1,2026-02-10,-20000,EUR,A01,cancellation,T1",
            "T3,2026-03-10,20000,EUR,A01,new,",
            header="txn_id,date,amount,currency,rep_id,type,reverses",
        ),
        quotas="rep_id,component,period,amount\nA01,new_business,2026,100000",
    )
    run(ws, "2026-01")  # 60% >= 50%: gate open
    assert amounts(ws, "2026-01") == {
        ("A01", "new_business"): "3000.00",
        ("A01", "renewals"): "1000.00",
    }
    close(ws, "2026-01")
    run(ws, "2026-02")  # cancellation takes T1's type: 40% < 50%, renewals back to 0 earned
    assert amounts(ws, "2026-02") == {
        ("A01", "new_business"): "-1000.00",
        ("A01", "renewals"): "-1000.00",
        ("A01", "carry_forward"): "2000.00",
    }
    assert row(ws, "2026-02", "A01", "renewals")["earned_to_date"] == "0.00"
    close(ws, "2026-02")
    run(ws, "2026-03")  # 60% again: the full to-date renewals are due; owed 2,000 recovered
    assert amounts(ws, "2026-03") == {
        ("A01", "new_business"): "1000.00",
        ("A01", "renewals"): "1000.00",
        ("A01", "recovery"): "-2000.00",
    }


# ---------------------------------------------------------------------------- rule 5: curves

MONTHLY_CURVE = plan(
    "sdr",
    """
    - id: pipeline
      attainment_period: month
      payout_curve: {weight: 100%, points: [[0%, 0%], [100%, 100%], [200%, 200%]]}
""",
    "target_incentive: 60000",
)


def test_rep_leaving_mid_month_gets_a_prorated_curve_target(tmp_path):
    """Annual quota 120,000 / 12 = 10,000 for March; target 5,000 x 10/31 = 1,612.90."""
    ws = write_ws(
        tmp_path,
        {"sdr": MONTHLY_CURVE},
        reps=reps_csv("A01,Ada,sdr,2026-01-01,2026-03-10"),
        transactions=txns_csv("T1,2026-03-05,10000,EUR,A01,new"),
        quotas="rep_id,component,period,amount\nA01,pipeline,2026,120000",
    )
    run(ws, "2026-03")
    r = row(ws, "2026-03", "A01", "pipeline")
    assert (r["quota"], r["attainment"], r["earned_to_date"], r["amount"]) == (
        "10000.00",
        "1.000000",
        "1612.90",
        "1612.90",
    )


def test_target_change_at_a_quarter_boundary(tmp_path):
    """Q1 at TI 40,000: 5,000 x 100%; Q2 at TI 60,000: 7,500 x 50% = 3,750; June pays 8,750."""
    curve = plan(
        "csm",
        """
        - id: renewals
          attainment_period: quarter
          payout_curve: {weight: 50%, points: [[0%, 0%], [100%, 100%], [200%, 200%]]}
    """,
        "target_incentive: 50000",
    )
    ws = write_ws(
        tmp_path,
        {"csm": curve},
        reps=reps_csv(
            "A01,Ada,csm,2026-01-01,2026-03-31,40000",
            "A01,Ada,csm,2026-04-01,,60000",
            header="rep_id,name,plan,start_date,end_date,target_incentive",
        ),
        transactions=txns_csv(
            "T1,2026-02-10,100000,EUR,A01,renewal", "T2,2026-05-10,50000,EUR,A01,renewal"
        ),
        quotas="rep_id,component,period,amount\nA01,renewals,2026,400000",
    )
    run(ws, "2026-06")
    r = row(ws, "2026-06", "A01", "renewals")
    assert (r["credited"], r["attainment"], r["earned_to_date"], r["amount"]) == (
        "50000.00",
        "0.500000",
        "8750.00",
        "8750.00",
    )


def test_plan_change_mid_year_keeps_the_line_across_assignments(tmp_path):
    """H1 plan pays 5% a month, H2 plan 10%: March 500 (closed), August 1,000 more."""
    h1 = plan(
        "ae-h1",
        """
        - id: nb
          attainment_period: month
          commission: {tiers: [{from: 0%, rate: 5%}]}
    """,
    )
    h2 = plan(
        "ae-h2",
        """
        - id: nb
          attainment_period: month
          commission: {tiers: [{from: 0%, rate: 10%}]}
    """,
    )
    ws = write_ws(
        tmp_path,
        {"h1": h1, "h2": h2},
        reps=reps_csv("A01,Ada,ae-h1,2026-01-01,2026-06-30", "A01,Ada,ae-h2,2026-07-01,"),
        transactions=txns_csv("T1,2026-03-10,10000,EUR,A01,new", "T2,2026-08-10,10000,EUR,A01,new"),
    )
    run(ws, "2026-03")
    assert amounts(ws, "2026-03") == {("A01", "nb"): "500.00"}
    close(ws, "2026-03")
    run(ws, "2026-08")
    r = row(ws, "2026-08", "A01", "nb")
    assert (r["credited"], r["earned_to_date"], r["paid_to_date"], r["amount"]) == (
        "10000.00",
        "1500.00",
        "500.00",
        "1000.00",
    )


# ------------------------------------------------------------------ rule 12: data problems


def test_overlapping_reps_rows_hold_the_rep_naming_both_rows(tmp_path):
    ws = write_ws(
        tmp_path,
        {"flat": FLAT},
        reps=reps_csv(
            "A01,Ada,flat,2026-01-01,2026-06-30",
            "A01,Ada,flat,2026-06-01,",
            "B01,Bruno,flat,2026-01-01,",
        ),
        transactions=txns_csv("T1,2026-01-10,1000,EUR,A01,new", "T2,2026-01-10,1000,EUR,B01,new"),
    )
    run(ws, "2026-01", "--strict", code=2)
    assert not (ws / "out" / "2026-01" / "payouts.csv").exists()
    run(ws, "2026-01")
    assert amounts(ws, "2026-01") == {("B01", "bookings"): "50.00"}
    held = holds(ws, "2026-01")
    assert [(e["table"], e["rep_id"]) for e in held] == [("reps", "A01")]
    named = held[0]["row"] + " " + held[0]["reason"]
    assert re.search(r"\b2\b", named) and re.search(r"\b3\b", named), named


def test_duplicate_txn_id_holds_its_rep(tmp_path):
    ws = write_ws(
        tmp_path,
        {"flat": FLAT},
        reps=reps_csv("A01,Ada,flat,2026-01-01,", "B01,Bruno,flat,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-01-10,1000,EUR,A01,new",
            "T1,2026-01-11,1000,EUR,A01,new",
            "T2,2026-01-10,1000,EUR,B01,new",
        ),
    )
    run(ws, "2026-01")
    assert paid_reps(ws, "2026-01") == {"B01"}
    assert {(e["table"], e["txn_id"], e["rep_id"]) for e in holds(ws, "2026-01")} >= {
        ("transactions", "T1", "A01")
    }


def test_unknown_rep_is_a_notice_that_holds_nobody(tmp_path):
    ws = write_ws(
        tmp_path,
        {"flat": FLAT},
        reps=reps_csv("A01,Ada,flat,2026-01-01,"),
        transactions=txns_csv("T1,2026-01-10,1000,EUR,A01,new", "T2,2026-01-10,1000,EUR,ZZ9,new"),
    )
    run(ws, "2026-01", "--strict")
    assert amounts(ws, "2026-01") == {("A01", "bookings"): "50.00"}
    problems = exceptions(ws, "2026-01")
    assert [(e["severity"], e["txn_id"], e["rep_id"]) for e in problems] == [
        ("notice", "T2", "ZZ9")
    ]
    assert problems[0]["row"] == "3"


# ---------------------------------------------------------------------------- rule 8: true-up


def test_late_deal_into_a_closed_quarter_is_paid_in_the_next_open_month(tmp_path):
    """Q1: 40,000 (2,000 paid, closed); April 10,000 (500, closed); a 20,000 Feb deal
    arrives: Q1 60,000 = 120% -> 4,800 - 2,000 = 2,800; Q2 unchanged. May pays 2,800."""
    ws = write_ws(
        tmp_path,
        {"ae": TIERED_QUARTER},
        reps=reps_csv("A01,Ada,ae,2026-01-01,"),
        transactions=txns_csv("T1,2026-01-10,40000,EUR,A01,new", "T2,2026-04-10,10000,EUR,A01,new"),
        quotas=QUOTAS_HEADER + "A01,new_business,2026-Q1,50000\nA01,new_business,2026-Q2,50000",
    )
    run(ws, "2026-01")
    close(ws, "2026-01")
    run(ws, "2026-04")
    assert amounts(ws, "2026-04") == {("A01", "new_business"): "500.00"}
    close(ws, "2026-04")
    write_table(
        ws,
        "transactions",
        txns_csv(
            "T1,2026-01-10,40000,EUR,A01,new",
            "T2,2026-04-10,10000,EUR,A01,new",
            "T3,2026-02-20,20000,EUR,A01,new",
        ),
    )
    run(ws, "2026-05")
    r = row(ws, "2026-05", "A01", "new_business")
    assert (
        r["credited"],
        r["attainment"],
        r["earned_to_date"],
        r["paid_to_date"],
        r["amount"],
    ) == ("10000.00", "0.200000", "5300.00", "2500.00", "2800.00")


def test_skipped_months_flow_into_the_next_run(tmp_path):
    """Jan 60,000 paid 3,000; no runs in Feb/Mar; April sees 110,000 = 110% -> 8,800 - 3,000."""
    ws = write_ws(
        tmp_path,
        {"ae": TIERED_YEAR},
        reps=reps_csv("A01,Ada,ae,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-01-10,60000,EUR,A01,new",
            "T2,2026-02-15,30000,EUR,A01,new",
            "T3,2026-04-10,20000,EUR,A01,new",
        ),
        quotas=QUOTAS_HEADER + "A01,new_business,2026,100000",
    )
    run(ws, "2026-01")
    close(ws, "2026-01")
    run(ws, "2026-04")
    r = row(ws, "2026-04", "A01", "new_business")
    assert (
        r["credited"],
        r["attainment"],
        r["earned_to_date"],
        r["paid_to_date"],
        r["amount"],
    ) == ("110000.00", "1.100000", "8800.00", "3000.00", "5800.00")


# ---------------------------------------------------------------------------- rule 1: crediting


def test_split_overlay_and_credits_that_do_not_sum_to_one(tmp_path):
    """T1: A01 60% + B01 40% + overlay C01 100%. T2's split sums to 0.8: A01 and B01 held."""
    ws = write_ws(
        tmp_path,
        {"flat": FLAT},
        reps=reps_csv(
            "A01,Ada,flat,2026-01-01,", "B01,Bruno,flat,2026-01-01,", "C01,Carla,flat,2026-01-01,"
        ),
        transactions=txns_csv("T1,2026-01-10,100000,EUR,A01,new", "T2,2026-01-11,1000,EUR,A01,new"),
        credits="txn_id,rep_id,share,role\nT1,A01,0.6,split\nT1,B01,0.4,split\nT1,C01,1,overlay\n"
        "T2,A01,0.5,split\nT2,B01,0.3,split",
    )
    run(ws, "2026-01")
    assert amounts(ws, "2026-01") == {("C01", "bookings"): "5000.00"}
    assert row(ws, "2026-01", "C01", "bookings")["credited"] == "100000.00"
    held = holds(ws, "2026-01")
    assert {e["txn_id"] for e in held} == {"T2"}
    assert {(e["table"], e["rep_id"]) for e in held} >= {("credits", "A01"), ("credits", "B01")}


TEAM = plan(
    "team",
    """
    - id: team_bookings
      measure: {credit: team}
      commission: {tiers: [{from: 0%, rate: 1%}]}
""",
)


def test_team_credit_follows_the_manager_chain_on_each_transaction_date(tmp_path):
    """A01 reports to M01 until March, to N01 from April; both managers report to D01."""
    ws = write_ws(
        tmp_path,
        {"flat": FLAT, "team": TEAM},
        reps=reps_csv(
            "D01,Dora,team,2026-01-01,,",
            "M01,Marco,team,2026-01-01,,D01",
            "N01,Nina,team,2026-01-01,,D01",
            "A01,Ada,flat,2026-01-01,2026-03-31,M01",
            "A01,Ada,flat,2026-04-01,,N01",
            header="rep_id,name,plan,start_date,end_date,manager_id",
        ),
        transactions=txns_csv(
            "T1,2026-02-10,100000,EUR,A01,new",
            "T2,2026-05-10,50000,EUR,A01,new",
            "T3,2026-05-12,10000,EUR,M01,new",
        ),
    )
    run(ws, "2026-05")
    credited = {
        (r["rep_id"], r["line"]): (r["credited"], r["amount"]) for r in register(ws, "2026-05")
    }
    assert credited == {
        ("A01", "bookings"): ("150000.00", "7500.00"),
        ("D01", "team_bookings"): ("160000.00", "1600.00"),
        ("M01", "team_bookings"): ("110000.00", "1100.00"),
        ("N01", "team_bookings"): ("50000.00", "500.00"),
    }


def test_multipliers_first_match_wins(tmp_path):
    """Platform+new: 1.5 (not 1.2, not 1.8); Core+new: 1.2; renewal: 1. 37,000 x 10%."""
    mult = plan(
        "mult",
        """
        - id: bookings
          measure:
            multipliers:
              - {where: {product: Platform}, factor: 1.5}
              - {where: {type: new}, factor: 1.2}
          commission: {tiers: [{from: 0%, rate: 10%}]}
    """,
    )
    ws = write_ws(
        tmp_path,
        {"mult": mult},
        reps=reps_csv("A01,Ada,mult,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-01-10,10000,EUR,A01,new,Platform",
            "T2,2026-01-10,10000,EUR,A01,new,Core",
            "T3,2026-01-10,10000,EUR,A01,renewal,Core",
            header="txn_id,date,amount,currency,rep_id,type,product",
        ),
    )
    run(ws, "2026-01")
    r = row(ws, "2026-01", "A01", "bookings")
    assert (r["credited"], r["amount"]) == ("37000.00", "3700.00")


def test_fx_missing_rate_holds_the_rep_and_cross_rates_convert(tmp_path):
    """C01's plan is in USD: 1,000 GBP x 1.15 / 0.90 = 1,277.78 USD, x 5% = 63.89."""
    usd = FLAT.replace("id: flat", "id: flat-usd").replace("currency: EUR", "currency: USD")
    ws = write_ws(
        tmp_path,
        {"flat": FLAT, "usd": usd},
        reps=reps_csv(
            "A01,Ada,flat,2026-01-01,",
            "B01,Bruno,flat,2026-01-01,",
            "C01,Carla,flat-usd,2026-01-01,",
        ),
        transactions=txns_csv(
            "T1,2026-01-10,1000,JPY,A01,new",
            "T2,2026-01-10,1000,EUR,B01,new",
            "T3,2026-01-10,1000,GBP,C01,new",
        ),
        fx="period,currency,rate\n2026-01,GBP,1.15\n2026-01,USD,0.90",
    )
    run(ws, "2026-01")
    assert paid_reps(ws, "2026-01") == {"B01", "C01"}
    r = row(ws, "2026-01", "C01", "bookings")
    assert (r["credited"], r["amount"], r["currency"]) == ("1277.78", "63.89", "USD")
    assert [(e["txn_id"], e["rep_id"]) for e in holds(ws, "2026-01")] == [("T1", "A01")]


# ---------------------------------------------------------------------------- rule 2: cancellations


def test_cancellation_window_is_inclusive_and_outside_it_is_a_notice(tmp_path):
    """Window 30 days: B01's cancellation on day 30 reverses; A01's on day 55 does not."""
    windowed = FLAT + "clawback: {window_days: 30}\n"
    ws = write_ws(
        tmp_path,
        {"flat": windowed},
        reps=reps_csv("A01,Ada,flat,2026-01-01,", "B01,Bruno,flat,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-01-05,50000,EUR,A01,new,",
            "C1,2026-03-01,-50000,EUR,A01,cancellation,T1",
            "T2,2026-01-05,50000,EUR,B01,new,",
            "C2,2026-02-04,-50000,EUR,B01,cancellation,T2",
            header="txn_id,date,amount,currency,rep_id,type,reverses",
        ),
    )
    run(ws, "2026-03")
    assert amounts(ws, "2026-03") == {("A01", "bookings"): "2500.00", ("B01", "bookings"): "0.00"}
    assert [(e["severity"], e["txn_id"]) for e in exceptions(ws, "2026-03")] == [("notice", "C1")]


def test_spif_is_clawed_back_with_its_deal(tmp_path):
    """SPIF 250 per Platform deal x share; cancelling T1 takes back 250 and its 5%."""
    spif = FLAT.replace(
        "components:",
        "spifs:\n  - {id: platform_spif, where: {product: Platform}, "
        "per_transaction: 250}\ncomponents:",
    )
    ws = write_ws(
        tmp_path,
        {"flat": spif},
        reps=reps_csv("A01,Ada,flat,2026-01-01,", "B01,Bruno,flat,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-01-10,10000,EUR,A01,new,Platform,",
            "T2,2026-01-11,10000,EUR,A01,new,Platform,",
            "C1,2026-02-10,-10000,EUR,A01,cancellation,,T1",
            header="txn_id,date,amount,currency,rep_id,type,product,reverses",
        ),
        credits="txn_id,rep_id,share,role\nT2,A01,0.5,split\nT2,B01,0.5,split",
    )
    run(ws, "2026-01")
    assert amounts(ws, "2026-01") == {
        ("A01", "bookings"): "750.00",
        ("A01", "platform_spif"): "375.00",
        ("B01", "bookings"): "250.00",
        ("B01", "platform_spif"): "125.00",
    }
    close(ws, "2026-01")
    run(ws, "2026-02")
    a = amounts(ws, "2026-02")
    assert (a[("A01", "bookings")], a[("A01", "platform_spif")], a[("A01", "carry_forward")]) == (
        "-500.00",
        "-250.00",
        "750.00",
    )
    assert row(ws, "2026-02", "A01", "platform_spif")["earned_to_date"] == "125.00"


# ---------------------------------------------------------------------------- rules 4, 7, 11: pay


def test_quarterly_payout_frequency_pays_only_in_the_quarters_last_month(tmp_path):
    quarterly = FLAT.replace("components:", "payout_frequency: quarterly\ncomponents:")
    ws = write_ws(
        tmp_path,
        {"flat": quarterly},
        reps=reps_csv("A01,Ada,flat,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-01-10,10000,EUR,A01,new",
            "T2,2026-02-10,10000,EUR,A01,new",
            "T3,2026-03-10,10000,EUR,A01,new",
            "T4,2026-04-10,10000,EUR,A01,new",
        ),
    )
    for month in ("2026-01", "2026-02"):
        run(ws, month)
        assert register(ws, month) == []
        close(ws, month)
    run(ws, "2026-03")
    r = row(ws, "2026-03", "A01", "bookings")
    assert (r["earned_to_date"], r["paid_to_date"], r["amount"]) == ("1500.00", "0.00", "1500.00")
    close(ws, "2026-03")
    run(ws, "2026-04")
    assert register(ws, "2026-04") == []


def test_bonus_is_due_once_on_first_reaching_per_quarter(tmp_path):
    bonus = TIERED_QUARTER.replace("{from: 100%, rate: 8%}", "{from: 100%, rate: 5%}") + (
        "bonuses:\n  - {id: q_kicker, component: new_business, min_attainment: 100%,"
        " per: quarter, amount: 2000}\n"
    )
    ws = write_ws(
        tmp_path,
        {"ae": bonus},
        reps=reps_csv("A01,Ada,ae,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-01-10,60000,EUR,A01,new",
            "T2,2026-02-10,50000,EUR,A01,new",
            "T3,2026-03-10,10000,EUR,A01,new",
            "T4,2026-04-10,100000,EUR,A01,new",
        ),
        quotas=QUOTAS_HEADER + "A01,new_business,2026-Q1,100000\nA01,new_business,2026-Q2,100000",
    )
    got = {}
    for month in ("2026-01", "2026-02", "2026-03", "2026-04"):
        run(ws, month)
        got[month] = amounts(ws, month).get(("A01", "q_kicker"), "0.00")
        close(ws, month)
    assert got == {"2026-01": "0.00", "2026-02": "2000.00", "2026-03": "0.00", "2026-04": "2000.00"}


def test_cap_limits_earnings_per_attainment_period(tmp_path):
    """10% capped at 5,000 a quarter: Q1 80,000 -> 5,000; Q2 30,000 -> 3,000."""
    capped = plan(
        "capped",
        """
        - id: bookings
          attainment_period: quarter
          commission: {tiers: [{from: 0%, rate: 10%}]}
          cap: 5000
    """,
    )
    ws = write_ws(
        tmp_path,
        {"capped": capped},
        reps=reps_csv("A01,Ada,capped,2026-01-01,"),
        transactions=txns_csv("T1,2026-02-10,80000,EUR,A01,new", "T2,2026-05-10,30000,EUR,A01,new"),
    )
    run(ws, "2026-06")
    r = row(ws, "2026-06", "A01", "bookings")
    assert (r["credited"], r["earned_to_date"], r["amount"]) == ("30000.00", "8000.00", "8000.00")


def test_marginal_tiers_pay_each_band_at_its_rate(tmp_path):
    """Quota 200,000; 250,000 credited: 100,000 x 2% + 100,000 x 4% + 50,000 x 6% = 9,000."""
    marginal = plan(
        "m",
        """
        - id: new_business
          commission:
            method: marginal
            tiers: [{from: 0%, rate: 2%}, {from: 50%, rate: 4%}, {from: 100%, rate: 6%}]
    """,
    )
    ws = write_ws(
        tmp_path,
        {"m": marginal},
        reps=reps_csv("A01,Ada,m,2026-01-01,"),
        transactions=txns_csv("T1,2026-01-10,250000,EUR,A01,new"),
        quotas=QUOTAS_HEADER + "A01,new_business,2026,200000",
    )
    run(ws, "2026-01")
    r = row(ws, "2026-01", "A01", "new_business")
    assert (r["attainment"], r["amount"]) == ("1.250000", "9000.00")


def test_amount_basis_tiers_need_no_quota(tmp_path):
    """Tiers from 0 and from 50,000 (currency): retroactive 10% x 60,000; marginal 2,500 + 1,000."""
    basis = plan(
        "b",
        """
        - id: retro
          commission: {basis: amount, tiers: [{from: 0, rate: 5%}, {from: 50000, rate: 10%}]}
        - id: marg
          commission:
            basis: amount
            method: marginal
            tiers: [{from: 0, rate: 5%}, {from: 50000, rate: 10%}]
    """,
    )
    ws = write_ws(
        tmp_path,
        {"b": basis},
        reps=reps_csv("A01,Ada,b,2026-01-01,"),
        transactions=txns_csv("T1,2026-01-10,60000,EUR,A01,new"),
    )
    run(ws, "2026-01")
    assert [
        (r["line"], r["quota"], r["attainment"], r["amount"]) for r in register(ws, "2026-01")
    ] == [("retro", "", "", "6000.00"), ("marg", "", "", "3500.00")]
    assert exceptions(ws, "2026-01") == []


def test_adjustments_are_paid_once_and_a_new_row_in_a_closed_month_holds(tmp_path):
    ws = write_ws(
        tmp_path,
        {"flat": FLAT},
        reps=reps_csv("A01,Ada,flat,2026-01-01,", "B01,Bruno,flat,2026-01-01,"),
        transactions=txns_csv("T1,2026-01-10,1000,EUR,A01,new", "T2,2026-01-10,1000,EUR,B01,new"),
        adjustments="rep_id,period,amount,reason\nA01,2026-01,-20.00,correction\n"
        "A01,2026-02,150.50,dispute settled\nA01,2026-02,10,parking",
    )
    run(ws, "2026-01")
    assert amounts(ws, "2026-01") == {
        ("A01", "bookings"): "50.00",
        ("A01", "adjustment"): "-20.00",
        ("B01", "bookings"): "50.00",
    }
    adj = row(ws, "2026-01", "A01", "adjustment")
    assert (adj["credited"], adj["earned_to_date"], adj["paid_to_date"]) == ("", "", "")
    close(ws, "2026-01")
    run(ws, "2026-02")
    assert amounts(ws, "2026-02") == {
        ("A01", "bookings"): "0.00",
        ("A01", "adjustment"): "150.50+10.00",
        ("B01", "bookings"): "0.00",
    }
    write_table(
        ws,
        "adjustments",
        "rep_id,period,amount,reason\nA01,2026-01,-20.00,correction\n"
        "A01,2026-02,150.50,dispute settled\nA01,2026-02,10,parking\nA01,2026-01,99,forgotten",
    )
    run(ws, "2026-02")
    assert paid_reps(ws, "2026-02") == {"B01"}
    held = holds(ws, "2026-02")
    assert [(e["table"], e["row"], e["rep_id"]) for e in held] == [("adjustments", "5", "A01")]
    assert "2026-01 is closed" in held[0]["reason"]


# ---------------------------------------------------------------------------- month order (SPEC 6)


def _simple(tmp_path: Path) -> Path:
    return write_ws(
        tmp_path,
        {"flat": FLAT},
        reps=reps_csv("A01,Ada,flat,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-01-10,1000,EUR,A01,new",
            "T2,2026-02-10,1000,EUR,A01,new",
            "T3,2026-03-10,1000,EUR,A01,new",
        ),
    )


def test_running_after_an_open_earlier_month_is_refused_and_changes_nothing(tmp_path):
    ws = _simple(tmp_path)
    run(ws, "2026-01")
    before = (ws / "out" / "2026-01" / "payouts.csv").read_bytes()
    result = run(ws, "2026-02", code=2)
    assert "2026-01" in result.output and "Traceback" not in result.output
    assert not (ws / "out" / "2026-02").exists()
    assert (ws / "out" / "2026-01" / "payouts.csv").read_bytes() == before
    close(ws, "2026-01")
    run(ws, "2026-02")
    assert amounts(ws, "2026-02") == {("A01", "bookings"): "50.00"}


def test_running_a_closed_month_or_before_a_later_run_is_refused(tmp_path):
    ws = _simple(tmp_path)
    run(ws, "2026-01")
    close(ws, "2026-01")
    assert "2026-01" in run(ws, "2026-01", code=2).output
    run(ws, "2026-03")
    assert "2026-03" in run(ws, "2026-02", code=2).output
    assert not (ws / "out" / "2026-02").exists()
    rerun = run(ws, "2026-03")  # an open month is re-runnable
    assert rerun.exit_code == 0 and amounts(ws, "2026-03") == {("A01", "bookings"): "100.00"}


@pytest.mark.parametrize(
    "value,expected", [("1006.30", "50.32"), ("1013.30", "50.67"), ("-1006.30", "-50.32")]
)
def test_half_up_rounding_away_from_zero(tmp_path, value, expected):
    ws = write_ws(
        tmp_path,
        {"flat": FLAT},
        reps=reps_csv("A01,Ada,flat,2026-01-01,"),
        transactions=txns_csv(f"T1,2026-01-10,{value},EUR,A01,new"),
    )
    run(ws, "2026-01")
    assert row(ws, "2026-01", "A01", "bookings")["earned_to_date"] == expected


def test_adjustment_dated_in_a_skipped_month_is_paid_once(tmp_path):
    """February has no run: its adjustment flows into March (rule 8) and never again."""
    ws = write_ws(
        tmp_path,
        {"flat": FLAT},
        reps=reps_csv("A01,Ada,flat,2026-01-01,"),
        transactions=txns_csv("T1,2026-01-10,1000,EUR,A01,new"),
        adjustments="rep_id,period,amount,reason\nA01,2026-02,100,expenses",
    )
    run(ws, "2026-01")
    close(ws, "2026-01")
    run(ws, "2026-03")
    assert amounts(ws, "2026-03") == {("A01", "bookings"): "0.00", ("A01", "adjustment"): "100.00"}
    close(ws, "2026-03")
    run(ws, "2026-04")
    assert amounts(ws, "2026-04") == {("A01", "bookings"): "0.00"}


def test_register_rows_follow_rep_then_plan_order(tmp_path):
    """Rows: rep_id, then components, bonuses, SPIFs in plan order, then adjustment, draw."""
    ordered = plan(
        "ord",
        """
        - id: zeta
          measure: {where: {type: new}}
          commission: {tiers: [{from: 0%, rate: 5%}]}
        - id: alpha
          measure: {where: {type: renewal}}
          commission: {tiers: [{from: 0%, rate: 5%}]}
        """,
        """
        bonuses:
          - {id: kick, component: zeta, min_attainment: 10%, per: year, amount: 100}
        spifs:
          - {id: a_spif, where: {product: Platform}, per_transaction: 50}
        draw: {amount: 5000, recoverable: true, periods: 2}
        """,
    )
    ws = write_ws(
        tmp_path,
        {"ord": ordered},
        reps=reps_csv("B01,Bruno,ord,2026-01-01,", "A01,Ada,ord,2026-01-01,"),
        transactions=txns_csv(
            "T1,2026-01-10,20000,EUR,B01,new,Platform",
            "T2,2026-01-10,20000,EUR,A01,new,Platform",
            "T3,2026-01-11,1000,EUR,A01,renewal,Core",
            header="txn_id,date,amount,currency,rep_id,type,product",
        ),
        quotas=QUOTAS_HEADER + "A01,zeta,2026,100000\nB01,zeta,2026,100000",
        adjustments="rep_id,period,amount,reason\nA01,2026-01,25,expenses",
    )
    run(ws, "2026-01")
    rows = [(r["rep_id"], r["line"], r["amount"]) for r in register(ws, "2026-01")]
    assert rows == [
        ("A01", "zeta", "1000.00"),
        ("A01", "alpha", "50.00"),
        ("A01", "kick", "100.00"),
        ("A01", "a_spif", "50.00"),
        ("A01", "adjustment", "25.00"),
        ("A01", "draw", "3775.00"),
        ("B01", "zeta", "1000.00"),
        ("B01", "alpha", "0.00"),
        ("B01", "kick", "100.00"),
        ("B01", "a_spif", "50.00"),
        ("B01", "draw", "3850.00"),
    ]
