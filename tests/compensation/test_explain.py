"""`explain`: the trace shows the SPEC's arithmetic, figure by figure (a dry run of the month)."""

import shutil
from pathlib import Path

from compensation import cycle
from compensation.errors import IcmError
from compensation.explain import explain_rep
from tests.cyclekit import Step

GOLDEN = Path(__file__).parent.parent / "golden"


def explain(tmp_path: Path, case: str, period: str, rep: str):
    ws = tmp_path / case
    shutil.copytree(GOLDEN / case, ws)
    try:
        return Step(0, explain_rep(cycle.dry_run(ws, period), rep))
    except IcmError as err:
        return Step(err.exit_code, str(err))


def test_marginal_bands_are_spelled_out(tmp_path):
    # SPEC example 2: 5,000 + 1,600 + 1,000 = 7,600.00
    done = explain(tmp_path, "02_marginal_tiers", "2026-01", "A01")
    assert done.exit_code == 0, done.output
    assert (
        "credited 130,000.00 / quota 100,000.00 = attainment 130%; "
        "100,000.00 x 5% + 20,000.00 x 8% + 10,000.00 x 10% -> earned to date 7,600.00"
    ) in done.output
    assert "line new_business: earned to date 7,600.00 - paid to date 0.00 = 7,600.00" in done.output
    assert "paid this month: 7600.00 EUR" in done.output


def test_retroactive_tier_and_credit_lines(tmp_path):
    # SPEC example 1: 130,000 at the 120% tier's 10% = 13,000.00
    done = explain(tmp_path, "01_retroactive_tiers", "2026-01", "A01")
    assert done.exit_code == 0, done.output
    assert "tier 3 rate 10% x 130,000.00 -> earned to date 13,000.00" in done.output
    assert "x share 1 x multiplier 1 x fx 1 = 130,000.00" in done.output


def test_curve_target_and_position(tmp_path):
    # SPEC example 10: target 5,000 x 14/28 = 2,500.00 at 100%
    done = explain(tmp_path, "10_curve_proration_start", "2026-02", "A01")
    assert done.exit_code == 0, done.output
    assert "target 2,500.00 x curve(100%) 100% -> earned to date 2,500.00" in done.output


def test_unknown_rep_exits_2_without_a_traceback(tmp_path):
    done = explain(tmp_path, "01_retroactive_tiers", "2026-01", "ZZ9")
    assert done.exit_code == 2
    assert "rep 'ZZ9' is not in reps; check --rep" in done.output
