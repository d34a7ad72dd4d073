"""Issue 16: `explain` shows each new rule's arithmetic: band, rate, proration, condition met or not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compensation import cycle
from compensation.explain import explain_rep

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def explained(tmp_path: Path, case: str, month: str, rep: str, data: str | None = None) -> str:
    ws = tmp_path / "ws"
    shutil.copytree(GOLDEN / case, ws, ignore=shutil.ignore_patterns("expected", "steps.yaml", "data_*"))
    if data:
        for src in (GOLDEN / case / data).iterdir():
            shutil.copy(src, ws / "data" / src.name)
    return explain_rep(cycle.dry_run(ws, month), rep)


@pytest.mark.parametrize(("case", "month", "rep", "data", "lines"), [
    ("13_per_transaction_rates", "2026-03", "A01", None, [
        "  rates per transaction (split across bands), band chosen by its credited value: from 0: 1% | "
        "from 1,000: 2% | from 3,000: 3% | from 8,000: 5%",
        "      1,000 x 1% + 2,000 x 2% + 1,500 x 3% of band value 4,500 = 95.00",
        "    credited 6,200.00 / quota - = attainment -; 1,000.00 x 1% + 2,000.00 x 2% + 3,200.00 x 3% "
        "-> earned to date 146.00",
    ]),
    ("14_per_transaction_amounts_cancelled", "2026-03", "A01", "data_march", [
        "      band value 25: (100.00 x 10/10 + 400.00 x 15/20) x share 1; cancels 6,000/12,000 of its original "
        "= -200.00",
        "      band 2 (from 5,000): 12,000.00 x 4%; cancels 6,000/12,000 of its original = -240.00",
        "      band value 8: 100.00 x 8/10 x share 0.6 = 48.00",
    ]),
    ("15_gated_accelerator", "2026-09", "A01", None, [
        "    credited 200,000.00 / quota 100,000.00 = attainment 200%; 100,000.00 x 5% + 25,000.00 x 6% + "
        "75,000.00 x 7%; accelerator condition met -> earned to date 11,750.00",
    ]),
    ("15_gated_accelerator", "2026-09", "B02", None, [
        "    credited 150,000.00 / quota 100,000.00 = attainment 150%; 100,000.00 x 5% + 25,000.00 x 5% + "
        "25,000.00 x 5%; accelerator condition NOT met: tiers from 100% pay the tier below -> earned to date 7,500.00",
    ]),
    ("16_prorated_seasonal_quota", "2026-03", "A01", None, [
        "    credited 10,000.00 / quota 86,666.67 = attainment 11.5385%; tier 1 rate 5% x 10,000.00; quota "
        "prorated: the rep counts for 13/15 of the period -> earned to date 500.00",
    ]),
    ("17_hybrid_tiers", "2026-01", "C03", None, [
        "    credited 120,000.00 / quota 100,000.00 = attainment 120%; 100,000.00 x 4% (retroactive) + "
        "20,000.00 x 6% -> earned to date 5,200.00",
    ]),
])
def test_explain_shows_the_new_rules(tmp_path, case, month, rep, data, lines):
    text = explain_rep_lines = explained(tmp_path, case, month, rep, data).splitlines()
    for line in lines:
        assert line in text, "\n".join(explain_rep_lines)
