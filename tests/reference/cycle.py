"""Rules 8 and 11 and the month cycle: recompute the fiscal year to date, true up, settle.

`Reference(world)` replays `run(month)` / `close(month)` as the engine's cycle does and
returns each run's register as `Row`s (money in cents).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from tests.reference.attainment import attainment, credited, quota
from tests.reference.calendar import Fiscal, first_day, last_day, month_index, month_of
from tests.reference.commission import capped, commission, needs_quota
from tests.reference.crediting import Credit, component_credits, credit_lines
from tests.reference.curves import curve_value, target
from tests.reference.incentives import bonus_earned, gate_month, spif_earned
from tests.reference.money import cents
from tests.reference.settle import Settlement, draw_active, settle
from tests.reference.spec import Assignment, Plan, World

Key = tuple[str, str, str]  # (rep_id, line, attainment period)


@dataclass(frozen=True)
class Row:
    rep_id: str
    line: str
    amount: int
    earned_to_date: int | None = None
    paid_to_date: int | None = None
    credited: int | None = None


@dataclass
class Draft:
    month: str
    rows: list[Row]
    line_periods: dict[Key, int]  # amount paid per key this run (paid reps only)
    settlements: dict[str, Settlement]
    adjustments: list[tuple[str, str, int, str]]
    held: set[str] = field(default_factory=set)


class Reference:
    """The payout cycle over one workspace, in exact arithmetic."""

    def __init__(self, world: World):
        self.world = world
        self.fiscal = Fiscal(world.fiscal_year_start)
        self.paid: dict[Key, int] = {}
        self.balances: dict[str, int] = {}
        self.paid_adjustments: set[tuple[str, str, int, str]] = set()
        self.closed: set[str] = set()
        self.draft: Draft | None = None

    def close(self, month: str) -> None:
        draft = self.draft
        assert draft is not None and draft.month == month
        for key, amount in draft.line_periods.items():
            self.paid[key] = self.paid.get(key, 0) + amount
        for rep_id, s in draft.settlements.items():
            self.balances[rep_id] = s.balance_after
        self.paid_adjustments |= set(draft.adjustments)
        self.closed.add(month)
        self.draft = None

    def run(self, month: str) -> Draft:
        w, fiscal = self.world, self.fiscal
        run = month_index(month)
        fy_first = fiscal.year_first_month(run)
        end = last_day(run)
        lines = credit_lines(w, end)
        credits = component_credits(w, lines)
        keys = self._candidates(credits, run, fy_first)
        held: set[str] = set()
        earned: dict[Key, int] = {}
        for key, governing in keys.items():
            value = self._earned(key, w.plan(governing.plan), credits, lines, run)
            if value is None:
                held.add(key[0])
            else:
                earned[key] = value
        current = self._current(run)
        by_rep: dict[str, dict[str, list[Key]]] = {}
        for key in keys:
            by_rep.setdefault(key[0], {}).setdefault(key[1], []).append(key)
        adjustments, adj_holds = self._adjustments(run, current)
        held |= adj_holds
        rows, line_periods, settlements, paid_adj = [], {}, {}, []
        for rep_id in sorted(current):
            cur = current[rep_id]
            plan = w.plan(cur.plan)
            quarterly = plan.payout_frequency == "quarterly"
            if rep_id in held or (quarterly and not fiscal.is_quarter_end(run)):
                continue
            lines_of = by_rep.get(rep_id, {})
            amounts = {k: earned[k] - self.paid.get(k, 0) for ks in lines_of.values() for k in ks}
            due = adjustments.get(rep_id, [])
            period_first = fiscal.period("quarter", run)[0] if quarterly else run
            active = cur.start <= end and cur.end >= first_day(period_first)
            if not (active or any(amounts.values()) or due):
                continue
            total = 0
            for line, ks in lines_of.items():
                ed = sum(earned[k] for k in ks)
                pd_ = sum(self.paid.get(k, 0) for k in ks)
                rows.append(Row(rep_id, line, ed - pd_, ed, pd_, self._credited_now(rep_id, line, ks, credits, run)))
                total += ed - pd_
            for adj in due:
                rows.append(Row(rep_id, "adjustment", adj[2]))
                total += adj[2]
                paid_adj.append(adj)
            line_periods.update(amounts)
            s = settle(plan, total, self.balances.get(rep_id, 0), draw_active(w, cur, run))
            settlements[rep_id] = s
            rows += [Row(rep_id, line, amount) for line, amount in s.lines()]
        self.draft = Draft(month, rows, line_periods, settlements, paid_adj, held)
        return self.draft

    # -- the keys a run recomputes (rule 8) and their earnings ------------------------------

    def _candidates(self, credits: list[Credit], run: int, fy_first: int) -> dict[Key, Assignment]:
        """Each (rep, line, period) of the fiscal year begun by the run month, with its governing row.

        An assignment counts for the periods it overlaps (and a cancellation's credit for
        the period it falls in); the latest-starting one governs.
        """
        fiscal, end = self.fiscal, last_day(run)
        found: dict[Key, Assignment] = {}

        def offer(key: Key, a: Assignment) -> None:
            if key not in found or found[key].start < a.start:
                found[key] = a

        for a in self.world.assignments:
            if a.start > end or a.end < first_day(fy_first):
                continue
            for line, _, kind in self.world.plan(a.plan).lines():
                for name in fiscal.periods_begun(kind, run):
                    lo, hi = fiscal.bounds(name)
                    if a.start <= last_day(hi) and a.end >= first_day(lo):
                        offer((a.rep_id, line, name), a)
        for c in credits:
            m = month_of(c.date)
            comp = self.world.plan(c.plan_id).component(c.line)
            if fy_first <= m <= run:
                offer((c.rep_id, c.line, fiscal.name(comp.period, m)), c.assignment)
        return found

    def _earned(self, key: Key, plan: Plan, credits, lines, run: int) -> int | None:
        """Rounded earned-to-date cents of one key, or None when a needed quota is missing."""
        rep_id, line, period = key
        w = self.world
        comp = plan.component(line)
        if comp is not None:
            q = quota(w, rep_id, comp.quota_key, period)
            if needs_quota(comp) and q is None:
                return None
            value = credited(credits, rep_id, line, period, self.fiscal, run)
            if comp.curve is not None:
                earned = capped(comp, target(w, rep_id, line, period) * 100 * curve_value(comp.curve, value / q))
            else:
                earned = commission(comp, value, q)
            if comp.gate is not None:
                gating = plan.component(comp.gate[0])
                g_period = self.fiscal.name(gating.period, gate_month(self.fiscal, period, run))
                att = attainment(w, credits, rep_id, gating.id, gating.quota_key, g_period, run)
                if att is None:
                    return None
                if att < comp.gate[1]:
                    earned = Fraction(0)
            return cents(earned / 100)
        bonus = next((b for b in plan.bonuses if b.id == line), None)
        if bonus is not None:
            target_comp = plan.component(bonus.component)
            att = attainment(w, credits, rep_id, target_comp.id, target_comp.quota_key, period, run)
            if att is None:
                return None
            return cents(bonus_earned(bonus, att) / 100)
        return cents(spif_earned(w.plan, lines, rep_id, line, period, self.fiscal) / 100)

    def _credited_now(self, rep_id: str, line: str, keys: list[Key], credits, run: int) -> int | None:
        """credited of the component's attainment period containing the run month (None for others)."""
        names = {k[2] for k in keys}
        for kind in ("month", "quarter", "year"):
            now = self.fiscal.name(kind, run)
            if now in names and any(self.world.plan(a.plan).component(line) is not None
                                    and self.world.plan(a.plan).component(line).period == kind
                                    for a in self.world.assignments if a.rep_id == rep_id):
                return credited(credits, rep_id, line, now, self.fiscal, run)
        return None

    def _current(self, run: int) -> dict[str, Assignment]:
        """Each rep's latest row started by the end of the run month."""
        out: dict[str, Assignment] = {}
        for a in self.world.assignments:
            if a.start <= last_day(run) and (a.rep_id not in out or out[a.rep_id].start < a.start):
                out[a.rep_id] = a
        return out

    def _adjustments(self, run: int, current: dict[str, Assignment]):
        """Due adjustment rows per rep; a row whose payout month is closed and unpaid holds the rep."""
        due: dict[str, list[tuple[str, str, int, str]]] = {}
        holds = set()
        for adj in self.world.adjustments:
            m = month_index(adj.month)
            if m > run or adj.rep_id not in current:
                continue
            key = (adj.rep_id, adj.month, cents(adj.amount), adj.reason)
            if key in self.paid_adjustments:
                continue
            quarterly = self.world.plan(current[adj.rep_id].plan).payout_frequency == "quarterly"
            settled_in = self.fiscal.period("quarter", m)[1] if quarterly else m
            if f"{settled_in // 12}-{settled_in % 12 + 1:02d}" in self.closed:
                holds.add(adj.rep_id)
            else:
                due.setdefault(adj.rep_id, []).append(key)
        return due, holds
