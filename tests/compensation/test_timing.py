"""Payment timing (issue 17): cash, holdbacks, leavers, payment problems and the liability report.

Workspaces are written per test and driven through `compensation.cycle` without
rendering; figures are exact cents worked out by hand in each docstring.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from compensation import cycle
from compensation.explain import explain_rep
from compensation.plan import Payment
from reports.liability import held_by_deal, journal_frame, liability_frame

REPS = "rep_id,name,plan,start_date,end_date\nA01,Ada Rossi,p-2026,2026-01-01,{end}\n"
TXNS = "txn_id,date,amount,currency,rep_id,type,reverses\n"


def workspace(root: Path, payment: str, txns: str, payments: str | None = None, *, end: str = "",
              extra_plan: str = "", fx: str | None = None, attainment: str = "year") -> Path:
    """A one-rep workspace on a flat 5% commission with the given `payment:` block."""
    (root / "plans").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "plans" / "p.yaml").write_text(
        "id: p-2026\nname: P\ncurrency: EUR\nclawback: {window_days: 120}\n" + extra_plan
        + f"components:\n  - id: bookings\n    attainment_period: {attainment}\n"
        "    commission: {tiers: [{from: 0%, rate: 5%}]}\n" + (f"    payment: {payment}\n" if payment else ""))
    (root / "data" / "reps.csv").write_text(REPS.format(end=end))
    (root / "data" / "transactions.csv").write_text(TXNS + txns)
    if payments is not None:
        (root / "data" / "payments.csv").write_text("txn_id,date,amount,currency\n" + payments)
    if fx is not None:
        (root / "data" / "fx.csv").write_text("period,currency,rate\n" + fx)
    return root


def run_months(ws: Path, months: list[str]) -> dict[str, object]:
    """Run and close each month in order; the results by month."""
    out = {}
    for month in months:
        out[month] = cycle.run(ws, month).result
        cycle.close(ws, month)
    return out


def lines(result, rep: str = "A01") -> dict[str, int]:
    """{line: amount cents} of one rep in a run's register."""
    reg = result.register[result.register["rep_id"] == rep]
    return {line: int(a) for line, a in zip(reg["line"], reg["amount"], strict=True)}


def held_end(result, rep: str = "A01") -> int:
    t = result.timing
    return int(t.loc[t["rep_id"] == rep, "balance_after"].sum())


# -- the plan language ----------------------------------------------------------------------------


def test_payment_shares_must_add_up_to_100_percent():
    assert Payment(cash="50%").at_booking == Payment(booking="50%", cash="0.5").at_booking
    with pytest.raises(ValidationError, match="booking, cash and holdback add up to 90%; make them add up to 100%"):
        Payment(booking="50%", cash="40%")
    with pytest.raises(ValidationError, match="cash and holdback add up to 120%"):
        Payment(cash="70%", holdback="50%")


def test_a_bad_payment_block_names_the_file_and_line(tmp_path):
    ws = workspace(tmp_path / "ws", "{booking: 60%, cash: 60%}", "T1,2026-01-10,1000,EUR,A01,new,\n")
    with pytest.raises(Exception, match=r"plans/p\.yaml:\d+: .*add up to 120%"):
        cycle.run(ws, "2026-01")


# -- cash ---------------------------------------------------------------------------------------------


def test_cash_releases_follow_partial_payments_and_refunds(tmp_path):
    """Deal 100,000 -> 5,000; 70% on cash (3,500 held). Jan pays 1,500. Feb: 40,000 paid
    (1,400 released). Mar: a refund of 10,000 re-withholds 350, which the rep owes (carry_forward).
    Apr: the rest (70,000) releases 2,450, less the 350 recovered."""
    ws = workspace(tmp_path / "ws", "{cash: 70%}", "T1,2026-01-10,100000,EUR,A01,new,\n",
                   "T1,2026-02-05,40000,\nT1,2026-03-09,-10000,\nT1,2026-04-20,70000,\n")
    months = run_months(ws, ["2026-01", "2026-02", "2026-03", "2026-04"])
    assert lines(months["2026-01"]) == {"bookings": 500000, "held": -350000}
    assert lines(months["2026-02"]) == {"bookings": 0, "release": 140000}
    assert lines(months["2026-03"]) == {"bookings": 0, "held": -35000, "carry_forward": 35000}
    assert lines(months["2026-04"]) == {"bookings": 0, "release": 245000, "recovery": -35000}
    assert [held_end(months[m]) for m in months] == [350000, 210000, 245000, 0]


def test_a_payment_dated_in_a_closed_month_is_released_in_the_next_run(tmp_path):
    """The February payment arrives after February closed: March releases it (2,500)."""
    ws = workspace(tmp_path / "ws", "{cash: 50%}", "T1,2026-01-10,100000,EUR,A01,new,\n", "")
    run_months(ws, ["2026-01", "2026-02"])
    (ws / "data" / "payments.csv").write_text("txn_id,date,amount,currency\nT1,2026-02-20,100000,\n")
    march = cycle.run(ws, "2026-03").result
    assert lines(march) == {"bookings": 0, "release": 250000}
    assert held_end(march) == 0


def test_payment_currency_is_converted_at_the_payment_months_rate(tmp_path):
    """A GBP deal of 10,000 (fx 1.20 in Jan: 12,000 EUR credited, 600 commission, 300 on cash)
    paid 5,000 EUR in March at GBP 1.25: 4,000 GBP, 40% of the deal, releases 120."""
    ws = workspace(tmp_path / "ws", "{cash: 50%}", "T1,2026-01-10,10000,GBP,A01,new,\n", "T1,2026-03-02,5000,EUR\n",
                   fx="2026-01,GBP,1.20\n2026-02,GBP,1.22\n2026-03,GBP,1.25\n")
    months = run_months(ws, ["2026-01", "2026-03"])
    assert lines(months["2026-01"]) == {"bookings": 60000, "held": -30000}
    assert lines(months["2026-03"]) == {"bookings": 0, "release": 12000}


def test_payment_problems_hold_only_the_affected_rep(tmp_path):
    """An unknown txn_id is a notice; payments above the deal's amount hold its rep, not B01."""
    ws = workspace(tmp_path / "ws", "{cash: 50%}",
                   "T1,2026-01-10,1000,EUR,A01,new,\nT2,2026-01-12,1000,EUR,B01,new,\n",
                   "T1,2026-01-20,600,\nT1,2026-01-25,600,\nT9,2026-01-25,10,\n")
    with (ws / "data" / "reps.csv").open("a") as f:
        f.write("B01,Bea Neri,p-2026,2026-01-01,\n")
    result = cycle.run(ws, "2026-01").result
    exc = result.exceptions
    assert list(zip(exc["severity"], exc["row"], exc["txn_id"], exc["rep_id"], strict=True)) == [
        ("hold", 2, "T1", "A01"), ("hold", 3, "T1", "A01"), ("notice", 4, "T9", None)]
    assert "payments of T1 add up to 1200.00, more than its amount 1000.00" in exc["reason"].iloc[0]
    assert set(result.register["rep_id"]) == {"B01"}


def test_pending_cash_carries_into_the_next_fiscal_year(tmp_path):
    """A December deal (2,000 commission, 1,000 on cash) paid in February 2027 releases 1,000 then."""
    ws = workspace(tmp_path / "ws", "{cash: 50%}", "T1,2026-12-10,40000,EUR,A01,new,\n", "T1,2027-02-10,40000,\n")
    months = run_months(ws, ["2026-12", "2027-01", "2027-02"])
    assert lines(months["2026-12"]) == {"bookings": 200000, "held": -100000}
    assert lines(months["2027-01"]) == {"bookings": 0}
    assert held_end(months["2027-01"]) == 100000
    assert lines(months["2027-02"]) == {"bookings": 0, "release": 100000}


# -- holdbacks -----------------------------------------------------------------------------------------


def test_holdback_released_n_months_later_or_in_the_next_run_if_skipped(tmp_path):
    """25% held for 2 months. Jan 1,000 -> 250 held, due March; March is skipped: April releases it."""
    ws = workspace(tmp_path / "ws", "{holdback: 25%, release: 2}",
                   "T1,2026-01-10,20000,EUR,A01,new,\nT2,2026-04-10,40000,EUR,A01,new,\n", attainment="month")
    months = run_months(ws, ["2026-01", "2026-02", "2026-04"])
    assert lines(months["2026-01"]) == {"bookings": 100000, "held": -25000}
    assert lines(months["2026-02"]) == {"bookings": 0}
    assert lines(months["2026-04"]) == {"bookings": 200000, "held": -50000, "release": 25000}


def test_holdback_with_year_release_waits_for_the_fiscal_years_last_month(tmp_path):
    ws = workspace(tmp_path / "ws", "{holdback: 10%, release: year}", "T1,2026-02-10,10000,EUR,A01,new,\n")
    months = run_months(ws, ["2026-02", "2026-11", "2026-12"])
    assert lines(months["2026-02"]) == {"bookings": 50000, "held": -5000}
    assert lines(months["2026-11"]) == {"bookings": 0}
    assert lines(months["2026-12"]) == {"bookings": 0, "release": 5000}


# -- leavers ------------------------------------------------------------------------------------------------


def test_a_leaver_is_paid_what_is_held_when_the_plan_says_pay(tmp_path):
    """Held at leaving: 500 holdback and 1,200 cash (the March payment, after the end date, is ignored)."""
    ws = workspace(tmp_path / "ws", "{booking: 50%, cash: 40%, holdback: 10%}",
                   "T1,2026-01-10,100000,EUR,A01,new,\n", "T1,2026-01-30,40000,\nT1,2026-03-05,60000,\n",
                   end="2026-02-20")
    months = run_months(ws, ["2026-01", "2026-02", "2026-03"])
    assert lines(months["2026-01"]) == {"bookings": 500000, "held": -250000, "release": 80000}
    assert lines(months["2026-02"]) == {"bookings": 0, "release": 170000}
    assert held_end(months["2026-02"]) == 0
    assert "A01" not in set(months["2026-03"].register["rep_id"])


def test_a_leaver_forfeits_holdback_and_pending_cash_alike(tmp_path):
    """Same deal, forfeit policy: 1,700 forfeited (500 holdback + 1,200 cash); nothing paid."""
    ws = workspace(tmp_path / "ws", "{booking: 50%, cash: 40%, holdback: 10%}",
                   "T1,2026-01-10,100000,EUR,A01,new,\n", "T1,2026-01-30,40000,\n", end="2026-02-20",
                   extra_plan="held_on_leaving: forfeit\n")
    months = run_months(ws, ["2026-01", "2026-02"])
    feb = months["2026-02"]
    assert lines(feb) == {"bookings": 0, "forfeit": 0}
    row = feb.register[feb.register["line"] == "forfeit"].iloc[0]
    assert (int(row["earned_to_date"]), int(row["paid_to_date"])) == (170000, 170000)
    assert held_end(feb) == 0
    assert explain_rep(feb, "A01").splitlines()[-4] == "held 0.00, release 0.00, forfeit 0.00 (forfeited 1700.00)"
    total = liability_frame(feb).set_index("name").loc["Total"]
    assert (int(total["held_start"]), int(total["forfeited"]), int(total["held_end"])) == (170000, 170000, 0)


# -- the liability report and the journal -------------------------------------------------------------------


def test_liability_reconciles_and_the_journal_balances(tmp_path):
    """held_start + held - released - forfeited = held_end for every row, every month; debits = credits."""
    ws = workspace(tmp_path / "ws", "{booking: 40%, cash: 40%, holdback: 20%, release: quarter}",
                   "T1,2026-01-10,100000,EUR,A01,new,\nT2,2026-02-10,50000,EUR,A01,new,\n"
                   "C2,2026-03-03,-50000,EUR,A01,cancellation,T2\n",
                   "T1,2026-02-15,30000,\nT1,2026-03-15,70000,\nT2,2026-02-20,10000,\n")
    months = run_months(ws, ["2026-01", "2026-02", "2026-03"])
    for result in months.values():
        frame = liability_frame(result)
        assert (frame["held_start"] + frame["held"] - frame["released"] - frame["forfeited"]
                == frame["held_end"]).all()
        journal = journal_frame(result)
        assert int(journal["debit"].fillna(0).sum()) == int(journal["credit"].fillna(0).sum())
    march = months["2026-03"]
    # T2 cancelled: its pending cash (800 of 1,000) is dropped; T1 fully paid; Q1 holdbacks released.
    assert held_end(march) == 0
    total = liability_frame(march).set_index("name").loc["Total"]
    assert int(total["payable"]) == sum(lines(march).values())


def test_statements_table_of_what_is_still_held(tmp_path):
    ws = workspace(tmp_path / "ws", "{booking: 50%, cash: 30%, holdback: 20%}",
                   "T1,2026-01-10,100000,EUR,A01,new,\nT2,2026-01-20,20000,EUR,A01,new,\n", "T1,2026-01-25,50000,\n")
    result = cycle.run(ws, "2026-01").result
    table = held_by_deal(result, "A01")
    assert table.to_dict("records") == [
        {"line": "bookings", "source": "cash", "ref": "T1", "release": "when paid", "held": 75000},
        {"line": "bookings", "source": "cash", "ref": "T2", "release": "when paid", "held": 30000},
        {"line": "bookings", "source": "holdback", "ref": "2026-01", "release": "2026-03", "held": 120000},
    ]
