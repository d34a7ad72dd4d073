"""Exact money from the input to the register (issue 15 defect 10), end to end."""

from __future__ import annotations

import csv
from pathlib import Path

from tests import cyclekit

PLAN = """\
id: flat-2026
name: Flat FY2026
currency: EUR
components:
  - id: bookings
    commission:
      tiers:
        - {from: 0%, rate: 100%}
"""


def register(root: Path, deals: list[str]) -> list[dict[str, str]]:
    (root / "plans").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "plans" / "flat.yaml").write_text(PLAN)
    (root / "data" / "reps.csv").write_text("rep_id,name,plan,start_date\nA1,Ann,flat-2026,2026-01-01\n")
    (root / "data" / "quotas.csv").write_text("rep_id,component,period,amount\n")
    (root / "data" / "transactions.csv").write_text("txn_id,date,amount,rep_id\n" + "".join(
        f"T{i},2026-01-05,{amount},A1\n" for i, amount in enumerate(deals)))
    step = cyclekit.run(root, "2026-01")
    assert step.exit_code == 0, step.output
    with (root / "out" / "2026-01" / "payouts.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_small_deals_pay_to_the_cent(tmp_path):
    lines = register(tmp_path, ["1006.30", "0.01", "2.675"])
    assert [(r["line"], r["amount"]) for r in lines if r["line"] == "bookings"] == [("bookings", "1008.99")]


def test_deals_near_ten_to_the_fifteen_pay_to_the_cent(tmp_path):
    # The three deals add to exactly 999,999,999,999,767.00.
    lines = register(tmp_path, ["333333333333255.67", "333333333333255.66", "333333333333255.67"])
    assert [(r["line"], r["amount"]) for r in lines if r["line"] == "bookings"] == [
        ("bookings", "999999999999767.00")]
