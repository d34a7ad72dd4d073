"""Issue 16 rules against an independent model in exact fractions, on random workspaces.

Per-transaction tables (rates or fixed amounts, step or split, by credited value or by a
`band_by` column, split credits, partial cancellations), hybrid tiers and quota weights
with proration are each restated here from the documented arithmetic, with `Fraction`s
and no engine code, and compared with the engine to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from compensation import cycle
from compensation.measure import quotas_for
from compensation.periods import Calendar
from compensation.plan import Commission, Component
from compensation.proration import QuotaSplit
from compensation.tiers import commission
from tests.reference.money import cents

RATES = ["0%", "1%", "2.5%", "3%", "5%", "7.25%", "10%"]


@dataclass(frozen=True)
class Table:
    """A per-transaction table: (from, pays) bands, `top` of the last, step or split, by value or column."""

    bands: tuple[tuple[int, Fraction], ...]
    amounts: bool
    split: bool
    top: int | None
    band_by: str | None

    def yaml(self) -> str:
        pays = "amount" if self.amounts else "rate"
        rows = []
        for i, (start, value) in enumerate(self.bands):
            shown = str(value) if self.amounts else f"{float(value * 100):g}%"
            top = f", to: {self.top}" if self.top is not None and i == len(self.bands) - 1 else ""
            rows.append(f"        - {{from: {start}{top}, {pays}: {shown}}}\n")
        by = f"      band_by: {self.band_by}\n" if self.band_by else ""
        return (f"      per: transaction\n      method: {'split' if self.split else 'step'}\n{by}"
                "      tiers:\n" + "".join(rows))

    def parts(self, band: Fraction) -> list[Fraction]:
        """The part of `band` in each band; the first takes a negative, the last ends at `top`."""
        out = []
        for i, (low, _) in enumerate(self.bands):
            high = self.bands[i + 1][0] if i + 1 < len(self.bands) else self.top
            upper = band if high is None else min(band, Fraction(high))
            out.append(upper if i == 0 else max(Fraction(0), upper - low))
        return out

    def earning(self, base: int, band: Fraction, share: Fraction) -> Fraction:
        """Cents one original credit earns: `base` its credited cents, `band` what chooses the band."""
        index = max((i for i, (low, _) in enumerate(self.bands) if low <= band), default=0)
        if self.amounts:
            if band <= 0:
                return Fraction(0)
            if not self.split:
                return self.bands[index][1] * 100 * share
            widths = [(self.bands[i + 1][0] if i + 1 < len(self.bands) else self.top) - low
                      for i, (low, _) in enumerate(self.bands)]
            return sum((amount * part / width for (_, amount), part, width in
                        zip(self.bands, self.parts(band), widths, strict=False)), Fraction(0)) * 100 * share
        if not self.split:
            return base * self.bands[index][1]
        rated = sum((rate * part for (_, rate), part in zip(self.bands, self.parts(band), strict=False)), Fraction(0))
        if self.band_by is None:
            return rated * 100
        return base * rated / band if band > 0 else base * self.bands[0][1]


@st.composite
def tables(draw) -> Table:
    n = draw(st.integers(2, 4))
    starts = [0] + sorted(draw(st.lists(st.integers(1, 60_000), min_size=n - 1, max_size=n - 1, unique=True)))
    amounts = draw(st.booleans())
    split = draw(st.booleans())
    band_by = draw(st.sampled_from([None, "quantity"]))
    if band_by:
        starts = [0] + sorted(draw(st.lists(st.integers(1, 60), min_size=n - 1, max_size=n - 1, unique=True)))
    if amounts:
        pays = [Fraction(draw(st.integers(0, 2000))) for _ in starts]
    else:
        pays = [Fraction(draw(st.sampled_from(RATES)).rstrip("%")) / 100 for _ in starts]
    top = None
    if (amounts and split) or draw(st.booleans()):
        top = starts[-1] + draw(st.integers(1, 30 if band_by else 40_000))
    top = top if (split or top is None) else None
    return Table(tuple(zip(starts, pays, strict=True)), amounts, split, top, band_by)


@st.composite
def deals(draw):
    """Originals (cents, quantity, A's share) and cancellations (which original, cents cancelled)."""
    originals = draw(st.lists(st.tuples(st.integers(100, 9_000_000), st.integers(0, 80),
                                        st.sampled_from([None, Fraction(1, 4), Fraction(1, 2), Fraction(3, 5)])),
                              min_size=1, max_size=5))
    cancels = draw(st.lists(st.tuples(st.integers(0, len(originals) - 1), st.integers(1, 100)), max_size=2,
                            unique_by=lambda c: c[0]))
    return originals, [(i, max(1, originals[i][0] * pct // 100)) for i, pct in cancels]


def write(root: Path, table: Table, originals, cancels) -> None:
    (root / "plans").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "plans" / "p.yaml").write_text("id: p\nname: P\ncomponents:\n  - id: deals\n    commission:\n"
                                           + table.yaml())
    (root / "data" / "reps.csv").write_text("rep_id,name,plan,start_date,end_date\nA,Ann,p,2026-01-01,\n"
                                            "B,Bob,p,2026-01-01,\n")
    rows = ["txn_id,date,amount,currency,rep_id,type,quantity,reverses"]
    credits = ["txn_id,rep_id,share,role"]
    for i, (amount, quantity, share) in enumerate(originals):
        rows.append(f"T{i},2026-01-{i + 10},{amount / 100:.2f},EUR,A,new,{quantity},")
        if share is not None:
            credits += [f"T{i},A,{float(share)},split", f"T{i},B,{float(1 - share)},split"]
    for j, (i, amount) in enumerate(cancels):
        rows.append(f"C{j},2026-02-{j + 10},-{amount / 100:.2f},EUR,A,cancellation,,T{i}")
    (root / "data" / "transactions.csv").write_text("\n".join(rows) + "\n")
    (root / "data" / "credits.csv").write_text("\n".join(credits) + "\n")


def reference(table: Table, originals, cancels) -> dict[str, int]:
    earned = {"A": Fraction(0), "B": Fraction(0)}
    by_original = {}
    for i, (amount, quantity, share) in enumerate(originals):
        for rep, part in (("A", Fraction(1)),) if share is None else (("A", share), ("B", 1 - share)):
            base = cents(Fraction(amount, 100) * part)
            band = Fraction(quantity) if table.band_by else Fraction(base, 100)
            by_original[i, rep] = table.earning(base, band, part)
            earned[rep] += by_original[i, rep]
    for i, amount in cancels:
        for (k, rep), value in by_original.items():
            if k == i:
                earned[rep] -= value * Fraction(amount, originals[i][0])
    return {rep: cents(value / 100) for rep, value in earned.items()}


@given(tables(), deals())
def test_per_transaction_tables_match_the_reference(tmp_path_factory, table, data):
    originals, cancels = data
    root = tmp_path_factory.mktemp("ws")
    write(root, table, originals, cancels)
    lp = cycle.dry_run(root, "2026-03").line_periods
    got = {rep: int(lp.loc[(lp["rep_id"] == rep) & (lp["line"] == "deals"), "earned_to_date"].sum())
           for rep in ("A", "B")}
    assert got == reference(table, originals, cancels), table.yaml()


@given(st.lists(st.sampled_from(["1%", "2%", "4%", "6%", "8%"]), min_size=3, max_size=4),
       st.integers(1, 2), st.integers(-2_000_000, 40_000_000), st.integers(100_000, 20_000_000))
def test_hybrid_tiers_match_the_reference(rates, threshold, credited, quota):
    starts = [Fraction(0), Fraction(1, 2), Fraction(1), Fraction(3, 2)][:len(rates)]
    threshold = min(threshold, len(rates) - 1)
    rule = Commission.model_validate({"method": "hybrid", "retroactive_to": str(float(starts[threshold])),
                                      "tiers": [{"from": str(float(s)), "rate": r}
                                                for s, r in zip(starts, rates, strict=False)]})
    exact_rates = [Fraction(r.rstrip("%")) / 100 for r in rates]
    position = Fraction(credited, quota)
    below = max((i for i in range(threshold) if starts[i] <= position), default=0)
    edges = [s * quota for s in starts]
    want = min(Fraction(credited), edges[threshold]) * exact_rates[below]
    for k in range(threshold, len(rates)):
        high = edges[k + 1] if k + 1 < len(edges) else Fraction(credited)
        want += max(Fraction(0), min(Fraction(credited), high) - edges[k]) * exact_rates[k]
    got = commission(np.array([credited]), np.array([float(quota)]), rule)
    assert got.tolist() == [cents(want / 100)]


MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


@given(st.sampled_from(["quarters", "months", None]), st.lists(st.integers(0, 9), min_size=12, max_size=12),
       st.sampled_from(["days", "months", "none"]), st.integers(0, 364), st.integers(0, 364),
       st.sampled_from(["2026", "2026-Q2", "2026-Q4", "2026-03", "2026-11"]))
def test_quota_weights_and_proration_match_the_reference(grain, raw, how, start_day, length, period):
    if grain == "quarters":
        raw = raw[:4]
    if grain is not None and sum(raw) == 0:
        raw = [1] * len(raw)
    total = sum(raw)
    weights = None
    if grain is not None:
        names = ["Q1", "Q2", "Q3", "Q4"] if grain == "quarters" else MONTHS
        # Whole-percent weights summing to exactly 100%: the last one takes the remainder.
        percents = [w * 100 // total for w in raw[:-1]]
        percents.append(100 - sum(percents))
        weights = {n: f"{p}%" for n, p in zip(names, percents, strict=False)}
    comp = Component.model_validate({"id": "nb", "commission": {"tiers": [{"from": 0, "rate": "1%"}]},
                                     "quota_weights": weights, "quota_proration": how})
    start = date(2026, 1, 1) + timedelta(days=start_day)
    end = min(date(2026, 12, 31), start + timedelta(days=length))
    calendar = Calendar()
    split = QuotaSplit(comp, calendar, {"A": [(start, end)]})
    quotas = pd.DataFrame({"rep_id": ["A"], "component": ["nb"], "period": ["2026"], "amount": [123456.78]})
    requests = pd.DataFrame({"rep_id": ["A"], "quota_key": ["nb"], "attainment_period": [period]})
    got = quotas_for(requests, quotas, calendar, share=split.share)[0]

    def month_weight(m: int) -> Fraction:
        if weights is None:
            return Fraction(1, 12)
        if grain == "quarters":
            return Fraction(weights[f"Q{m // 3 + 1}"].rstrip("%")) / 100 / 3
        return Fraction(weights[MONTHS[m]].rstrip("%")) / 100

    def presence(m: int) -> Fraction:
        first = date(2026, m + 1, 1)
        last = (date(2026, m + 2, 1) if m < 11 else date(2027, 1, 1)) - timedelta(days=1)
        if how == "none":
            return Fraction(1)
        if how == "months":
            return Fraction(int(start <= first.replace(day=15) <= end))
        return Fraction(max(0, (min(end, last) - max(start, first)).days + 1), last.day)

    first, last = calendar.bounds(period)
    months = [m - 2026 * 12 for m in range(first, last + 1)]
    want = Fraction(12345678) * sum(month_weight(m) * presence(m) for m in months)
    assert abs(got - float(want)) <= 1e-6 * max(1.0, float(want))
