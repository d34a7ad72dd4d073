"""Rep statements: one PDF per rep per month, from jinja2 HTML rendered by WeasyPrint.

`build_statements` turns a RunResult into one context per rep (figures already
formatted in the rep's locale); `render_statements` lays statements out in batches,
each batch as ONE WeasyPrint document (one style cascade, one font subsetting), splits
the batch's PDF into per-rep files with pypdf, and spreads batches over worker
processes. That is what makes 5,000 statements minutes instead of an hour.

Security: templates (the package's and a workspace's `templates/` overrides) are
rendered in a sandbox with autoescape forced on (`{% autoescape %}` blocks are refused,
`|safe` marks nothing safe); the URL fetcher serves only the package's own assets
(`icm-asset:` URLs) and refuses `file:`, `http(s):`, `data:` and everything else; file
names come only from rep_ids matching `[A-Za-z0-9._-]+` that stay inside the folder.
A rep's statement shows only credit lines whose rep_id is that rep: the rep's own
credits transaction by transaction, team roll-up credit as one row per team member
(name, rep_id, number of transactions, credited total) and nothing else of another rep.
No table lists more than TABLE_ROWS rows; the rest is one "and N more transactions
totalling X" row (a rep's own table lists the latest and sums the earlier ones), so every
table still adds up to the total it shows.
"""

from __future__ import annotations

import atexit
import io
import logging
import math
import mimetypes
import os
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import ChoiceLoader, FileSystemLoader, TemplateError, TemplateSyntaxError, nodes
from jinja2.ext import Extension
from jinja2.lexer import TOKEN_BLOCK_BEGIN, TOKEN_NAME, Token, TokenStream
from jinja2.sandbox import ImmutableSandboxedEnvironment
from weasyprint.urls import URLFetcher, URLFetcherResponse, URLFetchingError

from compensation.errors import IcmError
from compensation.periods import month_index
from compensation.plan import Component, Plan
from compensation.results import RunResult
from reports.i18n import LINE_NAMES, Formatter, pick_locale

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
ASSETS_DIR = PACKAGE_DIR / "assets"
ASSET_SCHEME = "icm-asset:"
REP_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
EARNING_KINDS = ("component", "bonus", "spif")
BATCH_SIZE = 50
TABLE_ROWS = 200  # rows a credited-transactions table lists before summarising
LOG = logging.getLogger(__name__)


# ---------------------------------------------------------------- file names and assets


def statement_path(folder: Path, rep_id: str) -> Path | None:
    """`folder/REP_ID.pdf`, or None when rep_id is not a safe file name (SPEC's rep_id rule)."""
    if not isinstance(rep_id, str) or not REP_ID_RE.match(rep_id) or set(rep_id) == {"."}:
        return None
    path = folder / f"{rep_id}.pdf"
    if path.resolve().parent != folder.resolve():
        return None
    return path


class AssetFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves only the package's assets; everything else is refused.

    Refused URLs are remembered in `refused` (tests and logs); WeasyPrint then renders
    without the resource. No opener is ever used: nothing leaves the process.
    """

    def __init__(self, assets_dir: Path = ASSETS_DIR):
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)
        self.assets_dir = assets_dir.resolve()
        self.refused: list[str] = []

    def fetch(self, url: str, headers=None):
        """Serve an `icm-asset:` URL from the package's assets; refuse anything else."""
        path = self._asset(url)
        if path is None:
            self.refused.append(url)
            raise URLFetchingError(f"refused to fetch {url!r}: statements use only icm assets")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".ttf":
            mime = "font/ttf"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})

    def open(self, url, data=None, timeout=None):
        """Never use urllib's openers (file, http, ftp, data): only `fetch`."""
        return self.fetch(url.full_url if hasattr(url, "full_url") else url)

    def __call__(self, url: str):
        """WeasyPrint calls the fetcher itself; same as `fetch`."""
        return self.fetch(url)

    def _asset(self, url: str) -> Path | None:
        if not isinstance(url, str) or not url.startswith(ASSET_SCHEME):
            return None
        name = url[len(ASSET_SCHEME):].split("?")[0].split("#")[0].lstrip("/")
        parts = name.split("/")
        if not name or any(p in ("", ".", "..") or not REP_ID_RE.match(p) for p in parts):
            return None
        path = (self.assets_dir / name).resolve()
        if not path.is_relative_to(self.assets_dir) or not path.is_file():
            return None
        return path


# ---------------------------------------------------------------- templates


class _NoAutoescapeBlocks(Extension):
    """Refuse `{% autoescape ... %}` so no template can turn escaping off."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        previous = None
        for token in stream:
            if (previous is not None and previous.type == TOKEN_BLOCK_BEGIN
                    and token.type == TOKEN_NAME and token.value == "autoescape"):
                raise TemplateSyntaxError("templates may not use {% autoescape %}: statements "
                                          "are always escaped", token.lineno, stream.name,
                                          stream.filename)
            previous = token
            yield token

    def parse(self, parser) -> nodes.Node:  # pragma: no cover - registers no tags
        raise NotImplementedError


def template_environment(workspace_templates: Path | None = None) -> ImmutableSandboxedEnvironment:
    """Sandboxed jinja2 environment, autoescape on for every template incl. overrides."""
    loaders = []
    if workspace_templates is not None and workspace_templates.is_dir():
        loaders.append(FileSystemLoader(str(workspace_templates)))
    loaders.append(FileSystemLoader(str(TEMPLATES_DIR)))
    env = ImmutableSandboxedEnvironment(loader=ChoiceLoader(loaders), autoescape=True,
                                        extensions=[_NoAutoescapeBlocks])
    env.filters["safe"] = lambda value: value  # data stays escaped whatever a template says
    return env


def stylesheet_text(workspace_templates: Path | None = None) -> str:
    """The workspace's `templates/statement.css` if present, else the package's."""
    override = workspace_templates / "statement.css" if workspace_templates else None
    if override is not None and override.is_file():
        return override.read_text(encoding="utf-8")
    return (TEMPLATES_DIR / "statement.css").read_text(encoding="utf-8")


# ---------------------------------------------------------------- statement contexts


@dataclass(frozen=True)
class Statement:
    """One rep's statement: where it goes and everything the template shows, formatted."""

    rep_id: str
    locale: str
    title: str
    context: dict = field(repr=False)


def _none(value):
    """None for every flavour of missing (None, NA, NaN, NaT); the value otherwise."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _title(line_id: str) -> str:
    text = line_id.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _curve_value(points, cap, attainment: float) -> float:
    """Payout fraction at `attainment` on a curve (linear; last slope continues unless capped)."""
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    if attainment <= xs[0]:
        value = ys[0]
    else:
        value = ys[-1]
        for (x0, y0), (x1, y1) in zip(zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True),
                                      strict=False):
            if attainment <= x1:
                value = y0 + (y1 - y0) * (attainment - x0) / (x1 - x0)
                break
        else:
            x0, y0, x1, y1 = xs[-2], ys[-2], xs[-1], ys[-1]
            value = y1 + (y1 - y0) * (attainment - x1) / (x1 - x0)
    if cap is not None:
        value = min(value, float(cap))
    return max(value, 0.0)


def _text_width(text: str, size: float) -> float:
    """Approximate advance of `text` in the statement font (for centring SVG labels).

    SVG `text-anchor` makes WeasyPrint paint each label in its own transparency group,
    which bloats every PDF; labels are placed from this estimate instead.
    """
    return len(text) * size * 0.6


def _needed_cents(threshold: Decimal, credited: int) -> int:
    return int((threshold - Decimal(credited)).to_integral_value(rounding=ROUND_CEILING))


def _tier_chart(component: Component, fmt: Formatter, credited, quota, attainment):
    tiers = component.commission.tiers
    by_amount = component.commission.basis == "amount"
    if by_amount:
        position = float(credited or 0) / 100
        starts = [float(t.from_) for t in tiers]
        quota_pos = None
    else:
        if attainment is None:
            return None
        position = float(attainment)
        starts = [float(t.from_) for t in tiers]
        quota_pos = 1.0
    top = max(starts[-1] * 1.25 if starts[-1] > 0 else 1.0, position * 1.08,
              1.2 if not by_amount else 0.0)
    x0, width = 4.0, 620.0
    scale = width / top
    fills = ["#dbe4ef", "#c3d3e6", "#a9c0dc", "#8eabd0", "#7597c4"]
    bands = []
    for i, tier in enumerate(tiers):
        start = float(tier.from_)
        end = float(tiers[i + 1].from_) if i + 1 < len(tiers) else top
        tick = fmt.amount(tier.from_) if by_amount else fmt.percent(start, 0)
        x = round(x0 + start * scale, 1)
        tick_x = x if i == 0 else round(x - _text_width(tick, 8) / 2, 1)
        bands.append({"x": x, "w": round((end - start) * scale, 1), "tick_x": tick_x,
                      "label": fmt.rate(tier.rate), "tick": tick, "fill": fills[i % len(fills)]})
    marker = x0 + min(max(position, 0.0), top) * scale
    return {"kind": "tiers", "width": 640, "height": 54, "x0": x0, "bands": bands,
            "quota_x": None if quota_pos is None else round(x0 + quota_pos * scale, 1),
            "fill_w": round(max(marker - x0, 0.0), 1), "marker_x": round(marker, 1),
            "marker_label": fmt.money(credited) if by_amount else fmt.percent(position)}


def _curve_chart(component: Component, fmt: Formatter, attainment):
    if attainment is None:
        return None
    curve = component.payout_curve
    xs = [float(p[0]) for p in curve.points]
    top_x = max(xs[-1] * 1.15, float(attainment) * 1.08)
    sample = sorted(set(xs + [top_x]))
    ys = [_curve_value(curve.points, curve.cap, x) for x in sample]
    here = _curve_value(curve.points, curve.cap, float(attainment))
    top_y = max(max(ys), here, 1.0) * 1.1
    x0, x1, y0, y1 = 40.0, 630.0, 100.0, 12.0

    def px(x):
        return round(x0 + (x1 - x0) * x / top_x, 1)

    def py(y):
        return round(y0 - (y0 - y1) * y / top_y, 1)

    grid_values = sorted({0.0, 1.0, max(ys)})
    return {
        "kind": "curve", "width": 640, "height": 118, "x0": x0, "x1": x1, "y0": y0,
        "points": " ".join(f"{px(x)},{py(y)}" for x, y in zip(sample, ys, strict=True)),
        "grid": [{"y": py(v), "label": label, "x": round(x0 - 4 - _text_width(label, 7.5), 1)}
                 for v in grid_values for label in [fmt.percent(v, 0)]],
        "ticks": [{"x": px(x), "label": label, "tx": round(px(x) - _text_width(label, 7.5) / 2, 1)}
                  for x in xs for label in [fmt.percent(x, 0)]],
        "marker_x": px(min(float(attainment), top_x)), "marker_y": py(here),
        "marker_label": f"{fmt.percent(attainment)} → {fmt.percent(here)}",
    }


def _component_sentences(component: Component, plan: Plan, fmt: Formatter, row, att_by_line):
    """Why the component pays what it pays, and what the next tier needs."""
    s = fmt.sentences
    credited, quota, attainment = (_none(row["credited"]), _none(row["quota"]),
                                   _none(row["attainment"]))
    explain, nxt = [], None
    if component.gate is not None:
        gate = component.gate
        now = att_by_line.get(gate.component)
        if now is None or now < float(gate.min_attainment):
            explain.append(s["gate_closed"].format(component=_title(gate.component),
                                                   min=fmt.rate(gate.min_attainment),
                                                   now=fmt.percent(now) if now is not None
                                                   else "–"))
    if component.commission is not None:
        com = component.commission
        tiers = com.tiers
        credited_text = fmt.money(credited or 0)
        by_amount = com.basis == "amount"
        position = None
        if by_amount:
            position = Decimal(int(credited or 0)) / 100
        elif attainment is not None:
            position = Decimal(repr(float(attainment)))
        if len(tiers) == 1:
            explain.append(s["flat"].format(rate=fmt.rate(tiers[0].rate), credited=credited_text))
        elif com.method == "marginal":
            rates = " / ".join(fmt.rate(t.rate) for t in tiers)
            explain.append(s["tier_marginal"].format(credited=credited_text, rates=rates))
        elif position is not None:
            current = [t for t in tiers if t.from_ <= position][-1]
            key = "tier_retro_amount" if by_amount else "tier_retro"
            explain.append(s[key].format(
                attainment=fmt.percent(attainment), credited=credited_text,
                rate=fmt.rate(current.rate),
                tier_from=fmt.amount(current.from_) if by_amount else fmt.rate(current.from_)))
        if position is not None and len(tiers) > 1:
            upcoming = [t for t in tiers if t.from_ > position]
            if upcoming:
                t = upcoming[0]
                threshold = t.from_ * 100 if by_amount else (
                    t.from_ * Decimal(int(quota)) if quota is not None else None)
                if threshold is not None:
                    nxt = s["next_tier"].format(
                        needed=fmt.money(_needed_cents(threshold, int(credited or 0))),
                        rate=fmt.rate(t.rate),
                        tier_from=fmt.amount(t.from_) if by_amount else fmt.rate(t.from_))
            else:
                nxt = s["top_tier"]
    elif component.payout_curve is not None and attainment is not None:
        curve = component.payout_curve
        payout = _curve_value(curve.points, curve.cap, float(attainment))
        explain.append(s["curve"].format(attainment=fmt.percent(attainment),
                                         payout=fmt.percent(payout)))
        position = Decimal(repr(float(attainment)))
        upcoming = [p for p in curve.points if p[0] > position and p[1] > 0]
        capped = curve.cap is not None and payout >= float(curve.cap)
        if upcoming and not capped and quota is not None:
            x, y = upcoming[0]
            if curve.cap is not None:
                y = min(y, curve.cap)
            nxt = s["next_point"].format(
                needed=fmt.money(_needed_cents(x * Decimal(int(quota)), int(credited or 0))),
                target=fmt.rate(x), payout=fmt.rate(y))
        elif capped or not upcoming:
            nxt = s["curve_max"] if capped else None
    if not explain:
        explain.append(s["component"].format(component=_title(component.id)))
    return explain, nxt


def _other_sentence(kind: str, line: str, plan: Plan | None, fmt: Formatter, amount,
                    settle_row, reason: str | None) -> str:
    s = fmt.sentences
    if kind == "bonus" and plan is not None:
        bonus = next((b for b in plan.bonuses if b.id == line), None)
        if bonus is not None:
            return s["bonus"].format(amount=fmt.amount(bonus.amount), per=s[f"per_{bonus.per}"],
                                     component=_title(bonus.component),
                                     min=fmt.rate(bonus.min_attainment))
    if kind == "spif" and plan is not None:
        spif = next((p for p in plan.spifs if p.id == line), None)
        if spif is not None:
            window = ""
            if spif.from_ is not None and spif.to is not None:
                window = s["spif_window"].format(start=fmt.date(spif.from_), end=fmt.date(spif.to))
            return s["spif"].format(amount=fmt.amount(spif.per_transaction), window=window)
    if kind == "adjustment":
        return s["adjustment"].format(reason=reason or "")
    if kind == "recovery":
        return s["recovery"].format(amount=fmt.money(-int(amount or 0)))
    net = settle_row.get("net") if settle_row is not None else None
    if kind == "draw":
        floor = settle_row.get("floor") if settle_row is not None else None
        recoverable = plan is None or plan.draw is None or plan.draw.recoverable
        return s["draw"].format(net=fmt.money(net if net is not None else 0),
                                floor=fmt.money(floor if floor is not None else 0),
                                recoverable=s["draw_recoverable"] if recoverable else "")
    if kind == "carry_forward":
        return s["carry_forward"].format(net=fmt.money(net if net is not None else 0))
    return ""


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _none(v) for k, v in row.items()} for row in frame.to_dict("records")]


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


def _credit_tables(credits: pd.DataFrame, keys: list[str],
                   names: dict) -> dict[tuple, CreditTable]:
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


def build_statements(result: RunResult, reps: Collection[str] | None = None, *,
                     run_id: str | None = None) -> list[Statement]:
    """One Statement per rep with register lines (in register order), `reps` only if given."""
    return list(iter_statements(result, reps, run_id=run_id))


def statement_reps(result: RunResult, reps: Collection[str] | None = None) -> list[str]:
    """The reps that get a statement: those with register lines (only `reps` if given)."""
    ids = dict.fromkeys(result.register["rep_id"].tolist())
    return [r for r in ids if reps is None or r in set(reps)]


def iter_statements(result: RunResult, reps: Collection[str] | None = None, *,
                    run_id: str | None = None) -> Iterator[Statement]:
    """Statements one by one, so rendering can start before the last one is built."""
    wanted = set(statement_reps(result, reps))
    register = result.register[result.register["rep_id"].isin(wanted)]
    info = result.reps.drop_duplicates("rep_id", keep="last").set_index("rep_id")
    names = info["name"].to_dict() if "name" in info else {}
    rep_info_of = info.to_dict("index")
    settle_of = (result.settlement.drop_duplicates("rep_id", keep="last")
                 .set_index("rep_id").to_dict("index"))
    credits = result.credits[result.credits["rep_id"].isin(wanted)]
    period_key = "attainment_period" if "attainment_period" in credits else "line"
    tables = _credit_tables(credits, ["rep_id", "line", period_key], names)
    lp_of = _grouped(result.line_periods[result.line_periods["rep_id"].isin(wanted)],
                     ["rep_id"])
    run_month = month_index(result.period)
    calendar = result.workspace.calendar
    default_locale = result.workspace.settings.locale
    fingerprint = result.fingerprint

    for (rep_id,), records in _grouped(register, ["rep_id"]).items():
        first = records[0]
        rep_info = rep_info_of.get(rep_id) or {}
        locale = pick_locale(_none(rep_info.get("locale")), default_locale)
        currency = str(first["currency"])
        fmt = Formatter(locale, currency)
        labels = fmt.labels
        plan_id = first.get("plan_id") or _none(rep_info.get("plan_id"))
        plan = result.plans.get(plan_id) if plan_id else None
        settle_row = settle_of.get(rep_id)
        rep_lp = lp_of.get((rep_id,), [])
        att_by_line = {r["line"]: r["attainment"] for r in records
                       if r["kind"] == "component" and r["attainment"] is not None}
        reasons = iter([c.get("detail") for c in rep_lp if c.get("kind") == "adjustment"])
        component_ids = {c.id for c in plan.components} if plan is not None else set()

        lines, components = [], []
        for r in records:
            kind, line = r["kind"], r["line"]
            name = (_title(line) if kind in EARNING_KINDS
                    else LINE_NAMES[locale].get(line, _title(line)))
            component = plan.component(line) if kind == "component" and line in component_ids \
                else None
            if component is not None:
                explain, nxt = _component_sentences(component, plan, fmt, r, att_by_line)
                why = explain[0]
            else:
                reason = next(reasons, None) if kind == "adjustment" else None
                why = _other_sentence(kind, line, plan, fmt, r["amount"], settle_row,
                                      None if reason is None else str(reason))
                explain, nxt = [why], None
            lines.append({"name": name, "amount": fmt.money(r["amount"] or 0), "why": why})
            if kind != "component":
                continue
            current_period = (calendar.period_of(component.attainment_period, run_month)
                              if component is not None else None)
            chart = None
            if component is not None and component.commission is not None:
                chart = _tier_chart(component, fmt, r["credited"], r["quota"], r["attainment"])
            elif component is not None:
                chart = _curve_chart(component, fmt, r["attainment"])
            key = current_period if period_key == "attainment_period" else line
            table = tables.get((rep_id, line, key), _NO_CREDITS)
            txn_rows = [_txn_row(t, fmt) for t in table.direct]
            team_rows = [{"member": f"{t['name']} ({t['via_rep_id']})" if t["name"]
                          else t["via_rep_id"],
                          "count": fmt.number(t["count"], 0), "credited": fmt.money(t["credited"])}
                         for t in table.team]
            calc = [{
                "period": fmt.period(str(c["attainment_period"])),
                "credited": fmt.money(c.get("credited")), "quota": fmt.money(c.get("quota")),
                "attainment": fmt.percent(c.get("attainment")),
                "earned_to_date": fmt.money(c.get("earned_to_date")),
                "paid_before": fmt.money(c.get("paid_before")), "amount": fmt.money(c["amount"]),
            } for c in rep_lp if c.get("line") == line]
            components.append({
                "name": name, "amount": fmt.money(r["amount"] or 0),
                "credited": fmt.money(r["credited"]), "quota": fmt.money(r["quota"]),
                "attainment": fmt.percent(r["attainment"]),
                "period_label": fmt.period(current_period) if current_period else "",
                "explain": explain, "next": nxt, "chart": chart, "calc": calc,
                "txns": txn_rows, "txns_more": _more(table.direct_more, fmt, "earlier_transactions"),
                "txns_total": fmt.money(table.direct_total) if table.direct_total is not None
                else "",
                "team": team_rows, "team_more": _more(table.team_more, fmt, "more_transactions"),
                "team_total": fmt.money(table.team_total) if table.team_total is not None else "",
                "both": bool(txn_rows) and bool(team_rows),
                "txn_total": fmt.money(table.total) if table.total is not None else "",
            })

        paid = sum(int(r["amount"] or 0) for r in records)
        earned = [r["earned_to_date"] for r in records
                  if r["kind"] in EARNING_KINDS and r["earned_to_date"] is not None]
        earned_ytd = sum(int(v) for v in earned)
        balance = int(_none(settle_row.get("balance_after")) or 0) if settle_row else 0
        footer_bits = [f"{labels['footer_generated']} · {labels['period']} {result.period}"]
        if run_id:
            footer_bits.append(f"{labels['footer_run']} {run_id}")
        footer_bits.append(f"{labels['footer_inputs']} {fingerprint}")
        rep_name = str(first["name"]) if first.get("name") is not None else rep_id
        context = {
            "labels": labels, "locale": locale, "period": result.period,
            "period_label": fmt.period(result.period), "currency": currency,
            "rep": {"rep_id": rep_id, "name": rep_name, "email": _none(rep_info.get("email"))},
            "plan": {"id": plan_id or "", "name": plan.name if plan is not None else plan_id},
            "summary": {"paid": fmt.money(paid), "earned_ytd": fmt.money(earned_ytd),
                        "balance": fmt.money(max(balance, 0)), "owed": balance > 0,
                        "balance_note": labels["balance_note_owed" if balance > 0
                                               else "balance_note_none"]},
            "lines": lines, "components": components, "footer": " · ".join(footer_bits),
        }
        yield Statement(rep_id, locale, f"{labels['title']} {result.period} {rep_name}", context)


# ---------------------------------------------------------------- rendering


class _Engine:
    """Per-process rendering state: templates, parsed CSS, fonts, fetcher (built once)."""

    def __init__(self, workspace_templates: Path | None):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        self.env = template_environment(workspace_templates)
        self.fetcher = AssetFetcher()
        self.font_config = FontConfiguration()
        self.css = CSS(string=stylesheet_text(workspace_templates), url_fetcher=self.fetcher,
                       font_config=self.font_config)
        self.document = _template(self.env, "document.html")
        _template(self.env, "statement.html")  # report a broken override before rendering

    def html(self, statements: list[Statement]) -> str:
        try:
            return self.document.render(statements=statements, title="icm statements")
        except TemplateError as err:
            raise IcmError.at(getattr(err, "filename", None) or "templates",
                              getattr(err, "lineno", None),
                              f"statement template failed: {err}") from None

    def render_batch(self, statements: list[Statement]) -> list[tuple[str, bytes, int]]:
        """Lay the batch out as one document, split it per statement: (rep_id, pdf, pages)."""
        from pypdf import PdfReader, PdfWriter
        from weasyprint import HTML

        document = HTML(string=self.html(statements), url_fetcher=self.fetcher).render(
            stylesheets=[self.css], font_config=self.font_config)
        starts: dict[int, int] = {}
        for number, page in enumerate(document.pages):
            for anchor in page.anchors:
                if anchor.startswith("statement-"):
                    starts.setdefault(int(anchor.removeprefix("statement-")), number)
        pdf = document.write_pdf()
        reader = PdfReader(io.BytesIO(pdf))
        bounds = [starts[i] for i in range(len(statements))] + [len(reader.pages)]
        out = []
        for i, statement in enumerate(statements):
            writer = PdfWriter()
            for number in range(bounds[i], bounds[i + 1]):
                writer.add_page(reader.pages[number])
            writer.add_metadata({"/Title": statement.title, "/Creator": "icm"})
            buffer = io.BytesIO()
            writer.write(buffer)
            out.append((statement.rep_id, buffer.getvalue(), bounds[i + 1] - bounds[i]))
        return out


def _template(env: ImmutableSandboxedEnvironment, name: str):
    """Load a template; a syntax error is bad input (`file:line: message`), not a crash."""
    try:
        return env.get_template(name)
    except TemplateSyntaxError as err:
        raise IcmError.at(err.filename or name, err.lineno, err.message or str(err)) from None


_ENGINES: dict[tuple[int, str], _Engine] = {}
atexit.register(_ENGINES.clear)  # drop fontconfig handles before the interpreter tears down


def _engine(workspace_templates: Path | None) -> _Engine:
    key = (os.getpid(), str(workspace_templates))
    if key not in _ENGINES:
        _ENGINES[key] = _Engine(workspace_templates)
    return _ENGINES[key]


def _render_batch(statements: list[Statement], workspace_templates: Path | None):
    """Render one batch in this process; also returns the CPU seconds it took."""
    start = time.process_time()
    items = _engine(workspace_templates).render_batch(statements)
    return items, time.process_time() - start


def _pool_context():
    """Workers start from a clean fork server with this module preloaded.

    Plain fork would copy the caller's threads' locks (Rich's refresh thread, loggers,
    database pools); spawn would re-import WeasyPrint in every worker.
    """
    if "forkserver" in get_all_start_methods():
        context = get_context("forkserver")
        context.set_forkserver_preload(["reports.statements"])
        return context
    return get_context("spawn")


def _chunks(items: Iterable[Statement], size: int) -> Iterator[list[Statement]]:
    chunk: list[Statement] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def render_pdfs(statements: Iterable[Statement], *, total: int | None = None,
                workspace_templates: Path | None = None, workers: int | None = None,
                batch_size: int = BATCH_SIZE,
                progress: Callable[[int, int], None] | None = None,
                stats: dict | None = None) -> Iterator[tuple[str, bytes, int]]:
    """Yield (rep_id, pdf bytes, pages) per statement; batches are spread over processes.

    `statements` may be a generator (give `total`): batches go to the workers as soon as
    they are built, so building contexts overlaps with rendering. `stats["cpu"]` (when
    given) adds up the CPU seconds the batches took in whichever process ran them.
    """
    stats = stats if stats is not None else {}
    stats.setdefault("cpu", 0.0)
    if total is None:
        statements = list(statements)
        total = len(statements)
    if not total:
        return
    workers = workers or min(os.cpu_count() or 1, 8)
    # Even batches, at least one per worker, each no bigger than batch_size.
    count = max(math.ceil(total / batch_size), min(workers, math.ceil(total / 8)))
    batches = _chunks(statements, math.ceil(total / count))
    done = 0
    if progress:
        progress(0, total)
    if workers <= 1 or count == 1:
        for batch in batches:
            items, cpu = _render_batch(batch, workspace_templates)
            stats["cpu"] += cpu
            for item in items:
                done += 1
                yield item
            if progress:
                progress(done, total)
        return
    stats["pool"] = True
    with ProcessPoolExecutor(max_workers=min(workers, count),
                             mp_context=_pool_context()) as pool:
        futures = [pool.submit(_render_batch, batch, workspace_templates) for batch in batches]
        for future in as_completed(futures):
            items, cpu = future.result()
            stats["cpu"] += cpu
            for item in items:
                done += 1
                yield item
            if progress:
                progress(done, total)


def render_statements(result: RunResult, target_dir: Path, reps: Collection[str] | None = None,
                      progress: Callable[[int, int], None] | None = None, *,
                      run_id: str | None = None, workers: int | None = None) -> list[Path]:
    """Write `target_dir/statements/REP_ID.pdf` for each rep with lines (only `reps` if given).

    Reps whose rep_id is not a safe file name get no file (the engine holds them anyway).
    """
    folder = Path(target_dir) / "statements"
    folder.mkdir(parents=True, exist_ok=True)
    rep_ids = []
    for rep_id in statement_reps(result, reps):
        if statement_path(folder, rep_id) is None:
            LOG.warning("no statement for rep_id %r: not a valid file name", rep_id)
        else:
            rep_ids.append(rep_id)
    written = {}
    for rep_id, pdf, _pages in render_pdfs(
            iter_statements(result, rep_ids, run_id=run_id), total=len(rep_ids),
            workspace_templates=result.workspace.templates_dir, workers=workers,
            progress=progress):
        path = statement_path(folder, rep_id)
        path.write_bytes(pdf)
        written[rep_id] = path
    return [written[r] for r in rep_ids if r in written]
