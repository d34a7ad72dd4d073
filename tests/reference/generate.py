"""Random small workspaces for the reference check: hypothesis strategies and file writers.

A `Case` is a `World` plus the months to run (each closed, except perhaps the last).
Every value is a finite decimal, so the files say exactly what the model reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from hypothesis import strategies as st

from tests.reference.calendar import Fiscal, month_name
from tests.reference.spec import (
    FAR,
    Adjustment,
    Assignment,
    Bonus,
    Component,
    CreditRow,
    Curve,
    Draw,
    Plan,
    QuotaRow,
    Spif,
    Tiers,
    Txn,
    World,
)

F = Fraction
FIRST, LAST = dt.date(2026, 1, 1), dt.date(2026, 6, 30)
MONTHS = [f"2026-{m:02d}" for m in range(1, 7)]
WHERE = {"nb": (("type", ("new", "expansion")),), "ren": (("type", ("renewal",)),), "all": ()}
RATES = [F("0.9"), F("1.1"), F("1.15"), F("1.3333"), F("0.8765")]


@dataclass(frozen=True)
class Case:
    world: World
    months: tuple[str, ...]
    close_last: bool


def pct(n: int) -> Fraction:
    return F(n, 100)


@st.composite
def tiers(draw) -> Tiers:
    basis = draw(st.sampled_from(["attainment", "attainment", "amount"]))
    n = draw(st.integers(1, 3))
    steps = sorted(draw(st.lists(st.integers(1, 15), min_size=n - 1, max_size=n - 1, unique=True)))
    starts = [F(0)] + [pct(10 * s) if basis == "attainment" else F(5000 * s) for s in steps]
    rates = [pct(draw(st.integers(0, 12))) + F(draw(st.sampled_from([0, 5])), 1000) for _ in starts]
    return Tiers(tuple(zip(starts, rates, strict=True)), draw(st.sampled_from(["retroactive", "marginal"])), basis)


@st.composite
def curve(draw, weight: Fraction) -> Curve:
    xs = sorted(draw(st.lists(st.integers(1, 20), min_size=1, max_size=3, unique=True)))
    ys = sorted(draw(st.lists(st.integers(0, 30), min_size=len(xs), max_size=len(xs))))
    points = ((F(0), F(0)),) + tuple((pct(10 * x), pct(10 * y)) for x, y in zip(xs, ys, strict=True))
    cap = draw(st.sampled_from([None, None, pct(150), pct(200)]))
    return Curve(weight, points, cap)


@st.composite
def plan(draw, plan_id: str, kinds: dict[str, str], weights: dict[str, Fraction], clawback) -> Plan:
    ids = draw(st.lists(st.sampled_from(sorted(kinds)), min_size=1, max_size=2, unique=True))
    comps = []
    for cid in ids:
        team = draw(st.sampled_from(["direct", "direct", "team"]))
        mult = draw(st.sampled_from([(), ((( ("product", ("Platform",)),), pct(150)),),
                                     ((( ("product", ("Core",)),), F("0.75")),)]))
        pay_curve = draw(st.booleans())
        comps.append(Component(
            cid, kinds[cid], WHERE[cid], team, mult,
            tiers=None if pay_curve else draw(tiers()),
            curve=draw(curve(weights[cid])) if pay_curve else None,
            cap=draw(st.sampled_from([None, None, F(1500), F(20000)]))))
    if len(comps) == 2 and comps[0].period == comps[1].period and draw(st.booleans()):
        comps[1] = Component(**{**comps[1].__dict__, "gate": (comps[0].id, pct(draw(st.integers(2, 12)) * 10))})
    bonuses = ()
    if draw(st.booleans()):
        bonuses = (Bonus("kicker", comps[0].id, pct(10 * draw(st.integers(3, 12))),
                         draw(st.sampled_from(["month", "quarter", "year"])), F(draw(st.integers(1, 20)) * 100)),)
    spifs = ()
    if draw(st.booleans()):
        start = draw(st.sampled_from([None, dt.date(2026, 2, 1), dt.date(2026, 3, 15)]))
        end = draw(st.sampled_from([None, dt.date(2026, 4, 30), dt.date(2026, 5, 31)]))
        spifs = (Spif("platform_spif", (("product", ("Platform",)),), F(draw(st.integers(1, 5)) * 50), start, end),)
    draw_ = None
    if draw(st.booleans()):
        draw_ = Draw(F(draw(st.integers(5, 30)) * 100), draw(st.integers(1, 3)), draw(st.booleans()))
    return Plan(plan_id, tuple(comps), draw(st.sampled_from(["EUR", "EUR", "USD"])),
                draw(st.sampled_from(["monthly", "monthly", "quarterly"])),
                F(draw(st.integers(3, 12)) * 10000), bonuses, spifs, draw_, clawback)


def day(draw, lo: dt.date, hi: dt.date) -> dt.date:
    return lo + dt.timedelta(days=draw(st.integers(0, (hi - lo).days)))


@st.composite
def cases(draw) -> Case:
    fiscal_start = draw(st.sampled_from([1, 1, 4]))
    kinds = {cid: draw(st.sampled_from(["month", "quarter", "year"])) for cid in WHERE}
    weights = {cid: pct(draw(st.integers(1, 10)) * 10) for cid in WHERE}
    clawback = draw(st.sampled_from([None, 30, 90]))
    plans = [draw(plan(f"p{i + 1}", kinds, weights, clawback)) for i in range(draw(st.integers(1, 2)))]
    plan_ids = [p.id for p in plans]
    rep_ids = ["A01", "B02", "C03"][:draw(st.integers(2, 3))]
    assignments = []
    for i, rep in enumerate(rep_ids):
        manager = draw(st.sampled_from([None] + rep_ids[:i])) if i else None
        ti = draw(st.sampled_from([None, F(48000)]))
        start = draw(st.sampled_from([dt.date(2025, 10, 1), FIRST, dt.date(2026, 2, 15)]))
        first_plan = draw(st.sampled_from(plan_ids))
        if draw(st.booleans()):
            change = day(draw, max(start, dt.date(2026, 1, 20)) + dt.timedelta(days=25), dt.date(2026, 6, 1))
            gap = draw(st.sampled_from([0, 0, 20]))
            assignments.append(Assignment(rep, f"Rep {rep}", first_plan, start,
                                          change - dt.timedelta(days=1 + gap), manager, ti))
            assignments.append(Assignment(rep, f"Rep {rep}", draw(st.sampled_from(plan_ids)), change, FAR,
                                          draw(st.sampled_from([None] + rep_ids[:i])) if i else None,
                                          draw(st.sampled_from([None, F(72000)]))))
        else:
            assignments.append(Assignment(rep, f"Rep {rep}", first_plan, start, FAR, manager, ti))
    txns, credits = [], []
    for n in range(draw(st.integers(2, 9))):
        t = Txn(f"T{n + 1}", day(draw, dt.date(2026, 1, 1), LAST), F(draw(st.integers(1000, 6_000_000)), 100),
                draw(st.sampled_from(["EUR", "EUR", "USD", "GBP"])), draw(st.sampled_from(rep_ids)),
                draw(st.sampled_from(["new", "renewal", "expansion"])), draw(st.sampled_from(["Platform", "Core"])))
        txns.append(t)
        if len(rep_ids) >= 2 and draw(st.integers(0, 3)) == 0:
            a, b = draw(st.lists(st.sampled_from(rep_ids), min_size=2, max_size=2, unique=True))
            share = draw(st.integers(1, 99))
            credits += [CreditRow(t.txn_id, a, pct(share)), CreditRow(t.txn_id, b, pct(100 - share))]
            rest = [r for r in rep_ids if r not in (a, b)]
            if rest and draw(st.booleans()):
                credits.append(CreditRow(t.txn_id, rest[0], F(1), "overlay"))
    for t in list(txns):
        if draw(st.integers(0, 3)) == 0:
            when = t.date + dt.timedelta(days=draw(st.integers(0, 120)))
            if when <= LAST:
                txns.append(Txn(f"C{t.txn_id}", when, -t.amount, t.currency, t.rep_id, "cancellation",
                                t.product, t.txn_id))
    quotas = []
    fiscal = Fiscal(fiscal_start)
    years = sorted({fiscal.name("year", m) for m in range(2025 * 12 + 9, 2026 * 12 + 6)})
    for rep in rep_ids:
        for cid in WHERE:
            grain = draw(st.sampled_from(["year", "quarter", "month"]))
            yearly = F(draw(st.integers(5, 40)) * 12000)
            for year in years:
                lo, hi = fiscal.bounds(year)
                names = sorted({fiscal.name(grain, m) for m in range(lo, hi + 1)})
                quotas += [QuotaRow(rep, cid, n, yearly * {"year": 1, "quarter": F(1, 4), "month": F(1, 12)}[grain])
                           for n in names]
    fx = {(m, cur): draw(st.sampled_from(RATES)) for m in MONTHS for cur in ("USD", "GBP")}
    adjustments = [Adjustment(draw(st.sampled_from(rep_ids)), draw(st.sampled_from(MONTHS)),
                              F(draw(st.integers(-300000, 300000)), 100), f"adj {n}")
                   for n in range(draw(st.integers(0, 2)))]
    world = World(tuple(plans), tuple(assignments), tuple(txns), tuple(credits), tuple(quotas), fx,
                  tuple(adjustments), "EUR", fiscal_start)
    months = tuple(sorted(draw(st.lists(st.sampled_from(MONTHS), min_size=1, max_size=4, unique=True))))
    return Case(world, months, draw(st.booleans()))


def dec(value: Fraction) -> str:
    """An exact decimal text of a fraction whose denominator divides a power of ten."""
    d = Decimal(value.numerator) / Decimal(value.denominator)
    assert Fraction(d) == value, value
    return format(d.normalize(), "f")


def _where(where) -> str:
    return "{" + ", ".join(f"{col}: [{', '.join(vals)}]" for col, vals in where) + "}"


def plan_yaml(p: Plan) -> str:
    out = [f"id: {p.id}", f"name: Plan {p.id}", f"currency: {p.currency}",
           f"payout_frequency: {p.payout_frequency}", f"target_incentive: {dec(p.target_incentive)}", "components:"]
    for c in p.components:
        out += [f"  - id: {c.id}", f"    attainment_period: {c.period}", "    measure:",
                f"      credit: {c.credit}"]
        if c.where:
            out.append(f"      where: {_where(c.where)}")
        if c.multipliers:
            out.append("      multipliers: [" + ", ".join(
                f"{{where: {_where(w)}, factor: {dec(f)}}}" for w, f in c.multipliers) + "]")
        if c.tiers:
            out += ["    commission:", f"      method: {c.tiers.method}", f"      basis: {c.tiers.basis}",
                    "      tiers: [" + ", ".join(f"{{from: {dec(f)}, rate: {dec(r)}}}" for f, r in c.tiers.tiers) + "]"]
        else:
            out += ["    payout_curve:", f"      weight: {dec(c.curve.weight)}",
                    "      points: [" + ", ".join(f"[{dec(x)}, {dec(y)}]" for x, y in c.curve.points) + "]"]
            if c.curve.cap is not None:
                out.append(f"      cap: {dec(c.curve.cap)}")
        if c.cap is not None:
            out.append(f"    cap: {dec(c.cap)}")
        if c.gate:
            out.append(f"    gate: {{component: {c.gate[0]}, min_attainment: {dec(c.gate[1])}}}")
    if p.bonuses:
        out.append("bonuses:")
        out += [f"  - {{id: {b.id}, component: {b.component}, min_attainment: {dec(b.min_attainment)}, "
                f"per: {b.per}, amount: {dec(b.amount)}}}" for b in p.bonuses]
    if p.spifs:
        out.append("spifs:")
        for s in p.spifs:
            dates = "".join(f", {k}: {v.isoformat()}" for k, v in (("from", s.start), ("to", s.end)) if v)
            out.append(f"  - {{id: {s.id}, where: {_where(s.where)}, "
                       f"per_transaction: {dec(s.per_transaction)}{dates}}}")
    if p.draw:
        out.append(f"draw: {{amount: {dec(p.draw.amount)}, recoverable: {str(p.draw.recoverable).lower()}, "
                   f"periods: {p.draw.periods}}}")
    if p.clawback_days is not None:
        out.append(f"clawback: {{window_days: {p.clawback_days}}}")
    return "\n".join(out) + "\n"


def write(world: World, root: Path) -> Path:
    """Write the world as a workspace folder (icm.yaml, plans/, data/)."""
    (root / "plans").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "icm.yaml").write_text(f"base_currency: {world.base_currency}\n"
                                   f"fiscal_year_start: {world.fiscal_year_start}\n")
    for p in world.plans:
        (root / "plans" / f"{p.id}.yaml").write_text(plan_yaml(p))

    def table(name: str, header: str, rows) -> None:
        (root / "data" / f"{name}.csv").write_text("\n".join([header, *rows]) + "\n")

    def opt(v) -> str:
        return "" if v is None else dec(v) if isinstance(v, Fraction) else str(v)

    table("reps", "rep_id,name,plan,start_date,end_date,manager_id,target_incentive",
          [f"{a.rep_id},{a.name},{a.plan},{a.start},{'' if a.end == FAR else a.end},{opt(a.manager_id)},"
           f"{opt(a.target_incentive)}" for a in world.assignments])
    table("transactions", "txn_id,date,amount,currency,rep_id,type,product,reverses",
          [f"{t.txn_id},{t.date},{dec(t.amount)},{t.currency},{t.rep_id},{t.type},{t.product},{t.reverses or ''}"
           for t in world.txns])
    table("credits", "txn_id,rep_id,share,role",
          [f"{c.txn_id},{c.rep_id},{dec(c.share)},{c.role}" for c in world.credits])
    table("quotas", "rep_id,component,period,amount",
          [f"{q.rep_id},{q.component},{q.period},{dec(q.amount)}" for q in world.quotas])
    table("fx", "period,currency,rate", [f"{m},{c},{dec(r)}" for (m, c), r in sorted(world.fx.items())])
    table("adjustments", "rep_id,period,amount,reason",
          [f"{a.rep_id},{a.month},{dec(a.amount)},{a.reason}" for a in world.adjustments])
    return root


def month_names(first: int, last: int) -> list[str]:
    return [month_name(m) for m in range(first, last + 1)]
