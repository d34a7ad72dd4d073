"""Invariants of the payout cycle, property-tested with hypothesis through the `icm` command.

- register lines sum to what each rep is paid, and every line with figures has
  amount = earned_to_date - paid_to_date, paid_to_date being what closed months paid
  (checked along the way of the spreading test, which runs the same cycles);
- spreading the same transactions over more or fewer monthly runs never changes the
  year-end sum of component, bonus, SPIF and adjustment lines (nor, without a draw and
  without negative earnings, the total paid);
- the same inputs give byte-identical payouts.csv.

Workspaces are tiny (two reps, a handful of transactions) to keep the suite fast.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.compensation.test_rules import (
    close,
    read_csv,
    register,
    run,
    txns_csv,
    write_ws,
)

pytestmark = pytest.mark.slow

PLAN = """
id: mix
name: Mixed plan
currency: EUR
components:
  - id: new_business
    measure:
      where: {type: new}
      multipliers: [{where: {product: Platform}, factor: 1.25}]
    attainment_period: quarter
    commission:
      tiers: [{from: 0%, rate: 3%}, {from: 100%, rate: 7%}]
  - id: renewals
    measure: {where: {type: renewal}}
    attainment_period: quarter
    commission:
      method: marginal
      tiers: [{from: 0%, rate: 2%}, {from: 50%, rate: 4%}]
    gate: {component: new_business, min_attainment: 30%}
  - id: expansion_curve
    measure: {where: {type: expansion}}
    attainment_period: month
    payout_curve:
      weight: 20%
      points: [[0%, 0%], [50%, 20%], [100%, 100%], [150%, 180%]]
      cap: 180%
bonuses:
  - {id: q_kicker, component: new_business, min_attainment: 100%, per: quarter, amount: 500}
spifs:
  - {id: platform_spif, where: {product: Platform, type: new}, per_transaction: 100}
target_incentive: 24000
"""
DRAW = "draw: {amount: 800, recoverable: true, periods: 2}\n"
REPS = "rep_id,name,plan,start_date,end_date\nA01,Ada,mix,2026-01-01,\nB01,Bruno,mix,2026-02-10,\n"
QUOTAS = (
    "rep_id,component,period,amount\n"
    "A01,new_business,2026,200000\nA01,renewals,2026,60000\nA01,expansion_curve,2026,120000\n"
    "B01,new_business,2026,160000\nB01,renewals,2026-Q1,10000\nB01,renewals,2026-Q2,12000\n"
    "B01,renewals,2026-Q3,12000\nB01,renewals,2026-Q4,12000\nB01,expansion_curve,2026,96000\n"
)
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
COMPONENT_KINDS = {
    "new_business",
    "renewals",
    "expansion_curve",
    "q_kicker",
    "platform_spif",
    "adjustment",
}
# No shrinking (each example is a few icm runs) and no example database: fast, repeatable.
FAST = settings(
    max_examples=6,
    deadline=None,
    database=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)

# A transaction: (rep, month 1-6, day, amount in cents, type, product). B01 starts 2026-02-10.
txn = st.tuples(
    st.sampled_from(["A01", "B01"]),
    st.integers(2, 6),
    st.integers(10, 28),
    st.integers(1, 6_000_000),
    st.sampled_from(["new", "renewal", "expansion"]),
    st.sampled_from(["Platform", "Core"]),
)
adjustment = st.tuples(st.sampled_from(["A01", "B01"]), st.integers(3, 6), st.integers(1, 50_000))


def money(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


def transactions_text(txns, cancel: set[int]) -> str:
    rows = []
    for i, (rep, month, day, cents, kind, product) in enumerate(txns):
        rows.append(
            f"T{i},2026-{month:02d}-{day:02d},{money(cents)},EUR,{rep},{kind},{product},"
        )
        if i in cancel:  # cancelled in the next month, well within any window
            rows.append(
                f"C{i},2026-{month + 1:02d}-05,-{money(cents)},EUR,{rep},cancellation,,T{i}"
            )
    return txns_csv(*rows, header="txn_id,date,amount,currency,rep_id,type,product,reverses")


def build(root: Path, txns, adjustments, cancel=frozenset(), draw=False) -> Path:
    adj = "rep_id,period,amount,reason\n" + "".join(
        f"{rep},2026-{m:02d},{c // 100}.{c % 100:02d},bonus {i}\n"
        for i, (rep, m, c) in enumerate(adjustments)
    )
    return write_ws(
        root,
        {"mix": PLAN + (DRAW if draw else "")},
        reps=REPS,
        quotas=QUOTAS,
        transactions=transactions_text(txns, set(cancel)),
        adjustments=adj,
    )


def cycle(ws: Path, months: list[str]) -> list[list[dict[str, str]]]:
    """Run and close each month in order (the last one is run only); return each register."""
    registers = []
    for i, month in enumerate(months):
        run(ws, month)
        registers.append(register(ws, month))
        if i < len(months) - 1:
            close(ws, month)
    return registers


def cents(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    whole, frac = text.lstrip("-").split(".")
    return sign * (int(whole) * 100 + int(frac))


def line_sums(registers) -> dict[str, int]:
    """Sum of component, bonus, SPIF and adjustment lines per rep over all runs."""
    out: dict[str, int] = defaultdict(int)
    for reg in registers:
        for r in reg:
            if r["line"] in COMPONENT_KINDS:
                out[r["rep_id"]] += cents(r["amount"])
    return dict(out)


def paid_totals(registers) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for reg in registers:
        for r in reg:
            out[r["rep_id"]] += cents(r["amount"])
    return dict(out)


def schedule(subset: list[int]) -> list[str]:
    return [MONTHS[m] for m in sorted(set(subset))] + ["2026-12"]


@FAST
@given(
    txns=st.lists(txn, min_size=1, max_size=6),
    adjustments=st.lists(adjustment, max_size=2),
    cancel=st.sets(st.integers(0, 5), max_size=2),
    months=st.lists(st.integers(1, 10), min_size=1, max_size=2),
    draw=st.booleans(),
)
def test_register_invariants_and_spreading_runs(txns, adjustments, cancel, months, draw):
    """A few runs (each closed) vs one December run of the same inputs.

    In every run: lines sum to what the rep is paid (never below 0), and each line with
    figures has amount = earned_to_date - paid_to_date, paid_to_date being what the closed
    runs paid on that line. At year end both schedules have the same sum of component,
    bonus, SPIF and adjustment lines; without a draw and without cancellations (earnings
    only grow) the same total paid too. Only renewals and expansions are cancelled: a
    bonus is due on first reaching, so cancelling a new deal may rightly leave a bonus
    paid in one schedule and not in the other.
    """
    cancel = {i for i in cancel if i < len(txns) and txns[i][4] != "new"}
    with tempfile.TemporaryDirectory() as tmp:
        ws = build(Path(tmp) / "few", txns, adjustments, cancel, draw)
        runs = schedule(months)
        few = cycle(ws, runs)
        check_register_invariants(ws, runs, few)
        once = cycle(build(Path(tmp) / "once", txns, adjustments, cancel, draw), ["2026-12"])
        assert line_sums(few) == line_sums(once)
        if not cancel and not draw:
            assert paid_totals(few) == paid_totals(once)


def check_register_invariants(ws: Path, runs: list[str], registers) -> None:
    paid_so_far: dict[tuple[str, str], int] = defaultdict(int)
    for month, reg in zip(runs, registers, strict=True):
        per_rep: dict[str, int] = defaultdict(int)
        for r in reg:
            per_rep[r["rep_id"]] += cents(r["amount"])
            if r["earned_to_date"]:
                assert cents(r["amount"]) == cents(r["earned_to_date"]) - cents(
                    r["paid_to_date"]
                ), r
                assert cents(r["paid_to_date"]) == paid_so_far[(r["rep_id"], r["line"])], (month, r)
        assert all(total >= 0 for total in per_rep.values()), (month, per_rep)
        for r in reg:
            paid_so_far[(r["rep_id"], r["line"])] += cents(r["amount"])
        payroll = ws / "out" / month / "payroll.csv"
        if payroll.exists() and "rep_id" in payroll.read_text().partition("\n")[0].split(","):
            paid_reps = {rep for rep, total in per_rep.items() if total > 0}
            assert {p["rep_id"] for p in read_csv(payroll)} == paid_reps


def test_spreading_over_every_month_matches_a_single_run(tmp_path):
    """Every month from January to June, then December, against one December run."""
    txns = [
        ("A01", 2, 14, 9_000_000, "new", "Platform"),
        ("B01", 3, 11, 2_500_000, "renewal", "Core"),
        ("A01", 5, 20, 12_345_677, "new", "Core"),
        ("B01", 4, 10, 1_000_001, "expansion", "Platform"),
        ("A01", 6, 12, 4_400_000, "renewal", "Core"),
    ]
    adjustments = [("A01", 4, 12_550), ("B01", 6, 99)]
    every = cycle(build(tmp_path / "every", txns, adjustments), MONTHS[:6] + ["2026-12"])
    once = cycle(build(tmp_path / "once", txns, adjustments), ["2026-12"])
    assert line_sums(every) == line_sums(once)
    assert paid_totals(every) == paid_totals(once)


@settings(FAST, max_examples=5)
@given(txns=st.lists(txn, min_size=1, max_size=6), cancel=st.sets(st.integers(0, 5), max_size=2))
def test_same_inputs_give_byte_identical_payouts(txns, cancel):
    """Two workspaces with the same inputs (fresh ledgers, other paths): the same bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        first = build(Path(tmp) / "a", txns, [], cancel)
        run(first, "2026-06")
        second = Path(tmp) / "b"
        shutil.copytree(first, second, ignore=shutil.ignore_patterns("out", "*.db"))
        run(second, "2026-06")
        assert (second / "out" / "2026-06" / "payouts.csv").read_bytes() == (
            first / "out" / "2026-06" / "payouts.csv"
        ).read_bytes()


def test_rerunning_an_open_month_gives_the_same_bytes(tmp_path):
    txns = [
        ("A01", 2, 14, 9_000_000, "new", "Platform"),
        ("B01", 3, 11, 2_500_000, "renewal", "Core"),
    ]
    ws = build(tmp_path, txns, [("A01", 4, 12_550)], {1})
    run(ws, "2026-06")
    before = (ws / "out" / "2026-06" / "payouts.csv").read_bytes()
    run(ws, "2026-06")
    assert (ws / "out" / "2026-06" / "payouts.csv").read_bytes() == before
