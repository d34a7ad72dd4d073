"""What each rep's statement shows: one context per rep, every figure formatted in the rep's locale.

Built from a committed run's `RunResult` only, never recalculated. A rep's statement
shows only credit lines whose rep_id is that rep: the rep's own credits transaction by
transaction, team roll-up credit as one row per team member (name, rep_id, number of
transactions, credited total) and nothing else of another rep. No table lists more than
TABLE_ROWS rows; the rest is one "and N more transactions totalling X" row (a rep's own
table lists the latest and sums the earlier ones), so every table still adds up to the
total it shows. Year-to-date figures (earned, paid, balance) are the ledger's, from
`result.year_to_date`, so kickers and SPIFs paid in earlier months count.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from compensation.periods import month_index
from compensation.results import RunResult
from reports.charts import curve_chart, tier_chart
from reports.i18n import LINE_NAMES, Formatter, pick_locale
from reports.liability import held_by_deal
from reports.statement_text import (
    bonus_sentence,
    charts_cumulative_tiers,
    component_sentences,
    none,
    other_sentence,
    title,
)

EARNING_KINDS = ("component", "bonus", "spif")
TABLE_ROWS = 200  # rows a credited-transactions table lists before summarising
LABEL_CHARS = 48  # a name or email longer than this is shortened where space is fixed (page label)


@dataclass(frozen=True)
class Statement:
    """One rep's statement: where it goes and everything the template shows, formatted."""

    rep_id: str
    locale: str
    title: str
    context: dict = field(repr=False)


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """`text` cut to `limit` characters with an ellipsis, for places of fixed width."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def content_id(context: dict) -> str:
    """sha256 of a statement's content: names the statement and keys the PDF cache."""
    body = json.dumps(context, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: none(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _grouped(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, list[dict]]:
    """Rows as plain dicts (NA -> None) grouped by `keys`, in frame order: one pass."""
    out: dict[tuple, list[dict]] = {}
    for record in _records(frame):
        out.setdefault(tuple(record.get(k) for k in keys), []).append(record)
    return out


@dataclass(frozen=True)
class CreditTable:
    """One component's credited transactions on a statement, already cut to size.

    `direct`: the rep's own credit lines (date order, the latest TABLE_ROWS); `team`: one
    row per team member the roll-up credit came through (via_rep_id, name, count,
    credited); `*_more`: (transactions, cents) left out of a table, or None; totals in
    cents (None when the table is empty).
    """

    direct: list[dict] = field(default_factory=list)
    direct_more: tuple[int, int] | None = None
    direct_total: int | None = None
    team: list[dict] = field(default_factory=list)
    team_more: tuple[int, int] | None = None
    team_total: int | None = None

    @property
    def total(self) -> int | None:
        if self.direct_total is None and self.team_total is None:
            return None
        return (self.direct_total or 0) + (self.team_total or 0)


_NO_CREDITS = CreditTable()


def _cut(frame: pd.DataFrame, keys: list[str], keep_last: bool) -> tuple[pd.DataFrame, dict]:
    """Rows to list, at most TABLE_ROWS per group, and what the rest add up to.

    `keep_last` lists a group's last rows. Returns the listed rows and {group:
    (transactions, cents)} of the rows left out (`count`: transactions per row).
    """
    rank = frame.groupby(keys, sort=False, dropna=False).cumcount(ascending=not keep_last)
    shown = rank.to_numpy() < TABLE_ROWS
    rest = frame.loc[~shown].groupby(keys, sort=False, dropna=False)[["count", "credited"]].sum()
    more = {(k if isinstance(k, tuple) else (k,)): (int(n), int(c))
            for k, n, c in zip(rest.index, rest["count"], rest["credited"], strict=True)}
    return frame.loc[shown], more


def _sums(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, int]:
    sums = frame.groupby(keys, sort=False, dropna=False)["credited"].sum()
    return {(k if isinstance(k, tuple) else (k,)): int(v) for k, v in sums.items()}


def credit_tables(credits: pd.DataFrame, keys: list[str], names: dict) -> dict[tuple, CreditTable]:
    """CreditTable per (rep, line, period): own lines listed, team credit summed per member.

    A manager's statement would otherwise list every deal of the whole organisation
    (thousands of rows for a VP); one row per team member says what each brought.
    """
    team_mask = (credits["via_rep_id"].notna().to_numpy() if "via_rep_id" in credits
                 else np.zeros(len(credits), dtype=bool))
    direct = credits.loc[~team_mask].sort_values(["date", "txn_id"], kind="stable")
    direct = direct.assign(count=1)
    direct_listed, direct_more = _cut(direct, keys, keep_last=True)

    team = (credits.loc[team_mask]
            .groupby([*keys, "via_rep_id"], sort=False, dropna=False)["credited"]
            .agg(count="size", credited="sum").reset_index())
    team["name"] = team["via_rep_id"].map(names)
    team["sort_name"] = team["name"].fillna(team["via_rep_id"]).astype(str)
    team = team.sort_values([*keys, "sort_name", "via_rep_id"], kind="stable")
    team_listed, team_more = _cut(team, keys, keep_last=False)

    direct_total, team_total = _sums(direct, keys), _sums(team, keys)
    direct_of, team_of = _grouped(direct_listed, keys), _grouped(team_listed, keys)
    return {key: CreditTable(direct=direct_of.get(key, []), direct_more=direct_more.get(key),
                             direct_total=direct_total.get(key), team=team_of.get(key, []),
                             team_more=team_more.get(key), team_total=team_total.get(key))
            for key in dict.fromkeys([*direct_total, *team_total])}


def _txn_row(t: dict, fmt: Formatter) -> dict:
    reverses, share, multiplier = t.get("reverses"), t.get("share"), t.get("multiplier")
    return {
        "date": fmt.date(t.get("date")), "txn_id": t.get("txn_id") or "",
        "account": t.get("account_id") or "", "type": t.get("type") or "",
        "share": fmt.percent(share, 0) if share is not None else "",
        "multiplier": "×" + fmt.number(multiplier) if multiplier is not None else "",
        "credited": fmt.money(t.get("credited")),
        "cancel": fmt.labels["cancellation_of"].format(txn=reverses) if reverses else "",
    }


def _more(more: tuple[int, int] | None, fmt: Formatter, label: str) -> str:
    """A table's closing "and N more transactions totalling X" row, or "" when none."""
    if more is None:
        return ""
    count, cents = more
    return fmt.labels[label].format(count=fmt.number(count, 0), total=fmt.money(cents))


def statement_reps(result: RunResult, reps: Collection[str] | None = None) -> list[str]:
    """The reps that get a statement: those with register lines (only `reps` if given)."""
    ids = dict.fromkeys(result.register["rep_id"].tolist())
    return [r for r in ids if reps is None or r in set(reps)]


def build_statements(result: RunResult, reps: Collection[str] | None = None, *,
                     run_id: str | None = None) -> list[Statement]:
    """One Statement per rep with register lines (in register order), `reps` only if given."""
    return list(iter_statements(result, reps, run_id=run_id))


def _summary(ytd: dict | None, paid: int, settle_row: dict | None, fmt: Formatter) -> dict:
    """The cards: paid this month, and the ledger's year to date (earned, paid, balance owed)."""
    labels = fmt.labels
    if ytd is not None:
        balance = int(ytd.get("balance") or 0)
    else:  # a run kept before year-to-date figures existed: the settlement's balance only
        balance = int(none(settle_row.get("balance_after")) or 0) if settle_row else 0
    return {"paid": fmt.money(paid),
            "earned_ytd": fmt.money(ytd.get("earned")) if ytd is not None else "–",
            "paid_ytd": fmt.money(ytd.get("paid")) if ytd is not None else "–",
            "balance": fmt.money(max(balance, 0)), "owed": balance > 0,
            "balance_note": labels["balance_note_owed" if balance > 0 else "balance_note_none"]}


def _still_held(result: RunResult, rep_id: str, labels: dict, fmt: Formatter) -> dict:
    """What pay on cash and holdbacks still hold for the rep, by deal and expected release."""
    held = held_by_deal(result, rep_id)
    rows = [{"line": title(r["line"]), "source": labels[f"held_{r['source']}"], "ref": str(r["ref"]),
             "release": labels["held_when_paid"] if r["source"] == "cash" else fmt.period(str(r["release"])),
             "held": fmt.money(int(r["held"]))} for r in _records(held)]
    return {"rows": rows, "total": fmt.money(int(held["held"].sum()) if len(held) else 0)}


def _incentives_year(rep_lp: list[dict], fmt: Formatter) -> dict:
    """Bonuses and SPIFs paid this fiscal year, per line and attainment period (closed months + this run)."""
    rows, total = [], 0
    for r in rep_lp:
        if r.get("kind") not in ("bonus", "spif"):
            continue
        paid = int(r.get("paid_before") or 0) + int(r.get("amount") or 0)
        if paid == 0:
            continue
        total += paid
        rows.append({"name": title(r["line"]), "period": fmt.period(str(r["attainment_period"])),
                     "paid": fmt.money(paid), "this_month": fmt.money(r.get("amount") or 0)})
    return {"rows": rows, "total": fmt.money(total)}


def iter_statements(result: RunResult, reps: Collection[str] | None = None, *,
                    run_id: str | None = None) -> Iterator[Statement]:
    """Statements one by one, so rendering can start before the last one is built.

    `run_id` is accepted for callers that know it but is not printed: a statement names
    itself by its content (`content_id`), so an unchanged statement is the same PDF in
    every run of the month and can be reused from the cache.
    """
    wanted = set(statement_reps(result, reps))
    register = result.register[result.register["rep_id"].isin(wanted)]
    info = result.reps.drop_duplicates("rep_id", keep="last").set_index("rep_id")
    names = info["name"].to_dict() if "name" in info else {}
    rep_info_of = info.to_dict("index")
    settle_of = (result.settlement.drop_duplicates("rep_id", keep="last")
                 .set_index("rep_id").to_dict("index"))
    ytd_frame = getattr(result, "year_to_date", None)
    ytd_of = ({} if ytd_frame is None or not len(ytd_frame)
              else {r["rep_id"]: r for r in _records(ytd_frame.drop_duplicates("rep_id", keep="last"))})
    credits = result.credits[result.credits["rep_id"].isin(wanted)]
    period_key = "attainment_period" if "attainment_period" in credits else "line"
    tables = credit_tables(credits, ["rep_id", "line", period_key], names)
    lp_of = _grouped(result.line_periods[result.line_periods["rep_id"].isin(wanted)], ["rep_id"])
    run_month = month_index(result.period)
    calendar = result.workspace.calendar
    default_locale = result.workspace.settings.locale

    for (rep_id,), records in _grouped(register, ["rep_id"]).items():
        first = records[0]
        rep_info = rep_info_of.get(rep_id) or {}
        locale = pick_locale(none(rep_info.get("locale")), default_locale)
        currency = str(first["currency"])
        fmt = Formatter(locale, currency)
        labels = fmt.labels
        plan_id = first.get("plan_id") or none(rep_info.get("plan_id"))
        plan = result.plans.get(plan_id) if plan_id else None
        settle_row = settle_of.get(rep_id)
        rep_lp = lp_of.get((rep_id,), [])
        att_by_line = {r["line"]: r["attainment"] for r in records
                       if r["kind"] == "component" and r["attainment"] is not None}
        reasons = iter([c.get("detail") for c in rep_lp if c.get("kind") == "adjustment"])
        component_ids = {c.id for c in plan.components} if plan is not None else set()
        bonus_per = {b.id: b.per for b in plan.bonuses} if plan is not None else {}

        def current_row(line: str, kind: str, rep_lp=rep_lp) -> tuple[dict | None, str | None]:
            name = calendar.period_of(kind, run_month)
            return next((c for c in rep_lp if c.get("line") == line
                         and str(c.get("attainment_period")) == name), None), name

        lines, components = [], []
        for r in records:
            kind, line = r["kind"], r["line"]
            name = (title(line) if kind in EARNING_KINDS
                    else LINE_NAMES[locale].get(line, title(line)))
            component = plan.component(line) if kind == "component" and line in component_ids else None
            current, current_period = (current_row(line, component.attainment_period) if component is not None
                                       else (None, None))
            if component is not None:
                explain, nxt = component_sentences(component, fmt, r, current, att_by_line)
                why = explain[0]
            else:
                why = None
                if kind == "bonus" and line in bonus_per:
                    now, period = current_row(line, bonus_per[line])
                    why = bonus_sentence(plan, line, fmt, now, fmt.period(period))
                if why is None:
                    reason = next(reasons, None) if kind == "adjustment" else None
                    why = other_sentence(kind, line, plan, fmt, r["amount"], settle_row,
                                         None if reason is None else str(reason))
                explain, nxt = [why], None
            lines.append({"name": name, "amount": fmt.money(r["amount"] or 0), "why": why})
            if kind != "component":
                continue
            components.append(_component_context(component, fmt, r, name, explain, nxt, current_period,
                                                 rep_lp, tables, (rep_id, line, current_period
                                                                  if period_key == "attainment_period" else line)))

        paid = sum(int(r["amount"] or 0) for r in records)
        rep_name = str(first["name"]) if first.get("name") is not None else rep_id
        email = none(rep_info.get("email"))
        context = {
            "labels": labels, "locale": locale, "period": result.period,
            "period_label": fmt.period(result.period), "currency": currency,
            "rep": {"rep_id": rep_id, "name": rep_name, "email": None if email is None else str(email),
                    "short_name": shorten(rep_name)},
            "plan": {"id": plan_id or "", "name": plan.name if plan is not None else plan_id},
            "summary": _summary(ytd_of.get(rep_id), paid, settle_row, fmt),
            "lines": lines, "components": components, "incentives": _incentives_year(rep_lp, fmt),
            "held": _still_held(result, rep_id, labels, fmt),
        }
        ident = content_id(context)
        context["footer"] = (f"{labels['footer_generated']} · {labels['period']} {result.period} · "
                             f"{labels['statement_id']} {ident[:16]}")
        yield Statement(rep_id, locale, f"{labels['title']} {result.period} {rep_name}", context)


def _component_context(component, fmt: Formatter, r: dict, name: str, explain, nxt, current_period,
                       rep_lp: list[dict], tables: dict, table_key: tuple) -> dict:
    """One component's block: figures, chart, sentences, per-period calculation, credit tables."""
    line = r["line"]
    chart = None
    if component is not None and component.commission is not None:
        if charts_cumulative_tiers(component.commission):
            chart = tier_chart(component, fmt, r["credited"], r["quota"], r["attainment"])
    elif component is not None:
        chart = curve_chart(component, fmt, r["attainment"])
    table = tables.get(table_key, _NO_CREDITS)
    txn_rows = [_txn_row(t, fmt) for t in table.direct]
    team_rows = [{"member": f"{t['name']} ({t['via_rep_id']})" if t["name"] else t["via_rep_id"],
                  "count": fmt.number(t["count"], 0), "credited": fmt.money(t["credited"])}
                 for t in table.team]
    calc = [{
        "period": fmt.period(str(c["attainment_period"])),
        "credited": fmt.money(c.get("credited")), "quota": fmt.money(c.get("quota")),
        "attainment": fmt.percent(c.get("attainment")),
        "earned_to_date": fmt.money(c.get("earned_to_date")),
        "paid_before": fmt.money(c.get("paid_before")), "amount": fmt.money(c["amount"]),
    } for c in rep_lp if c.get("line") == line]
    return {
        "name": name, "amount": fmt.money(r["amount"] or 0),
        "credited": fmt.money(r["credited"]), "quota": fmt.money(r["quota"]),
        "attainment": fmt.percent(r["attainment"]),
        "period_label": fmt.period(current_period) if current_period else "",
        "explain": explain, "next": nxt, "chart": chart, "calc": calc,
        "txns": txn_rows, "txns_more": _more(table.direct_more, fmt, "earlier_transactions"),
        "txns_total": fmt.money(table.direct_total) if table.direct_total is not None else "",
        "team": team_rows, "team_more": _more(table.team_more, fmt, "more_transactions"),
        "team_total": fmt.money(table.team_total) if table.team_total is not None else "",
        "both": bool(txn_rows) and bool(team_rows),
        "txn_total": fmt.money(table.total) if table.total is not None else "",
    }
