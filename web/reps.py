"""Rep and manager pages: months, the statement page, explain, PDF, what-if, plan acceptance.

Figures and sentences come from the committed run through `reports.statements` (the
same text as the PDF statement); what-if prices a prospective deal with
`compensation.cycle.dry_run`, which writes nothing.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from datetime import date

import pandas as pd
from starlette.responses import Response
from starlette.routing import Route

from compensation import cycle, workflow
from compensation.errors import UsageError
from compensation.explain import explain_rep
from compensation.money import cents_to_decimal
from compensation.periods import month_index
from reports.liability import held_by_deal
from web import data
from web.pages import EVERYONE, STAFF, page, redirect, render
from web.plans import current_plan

REP_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
TYPES = ("new", "expansion", "renewal")
_PDFS: OrderedDict = OrderedDict()
_PDF_LOCK = threading.Lock()


def routes() -> list[Route]:
    """Rep and manager routes."""
    return [
        Route("/me", me, methods=["GET"]),
        Route("/reps/{rep_id}", rep_home, methods=["GET"]),
        Route("/reps/{rep_id}/periods/{period}", statement, methods=["GET"]),
        Route("/reps/{rep_id}/periods/{period}/explain", explain, methods=["GET"]),
        Route("/periods/{period}/statements/{rep_id}.pdf", statement_pdf, methods=["GET"]),
        Route("/reps/{rep_id}/whatif", whatif, methods=["GET", "POST"]),
        Route("/reps/{rep_id}/plan", plan, methods=["GET"]),
        Route("/reps/{rep_id}/plan/accept", accept_plan, methods=["POST"]),
    ]


@page("rep", "manager")
def me(request, session, form):
    """A rep's or manager's own page."""
    return redirect(f"/reps/{session.user.rep_id}")


def _rep_id(request) -> str:
    rep_id = request.path_params["rep_id"]
    if not REP_ID_RE.match(rep_id):
        raise data.NotFound()
    return rep_id


def _may_see(state, session, rep_id: str) -> list[str]:
    """The months the user may open for this rep (403 when none could ever be theirs)."""
    found = data.months(state)
    if session.user.role in STAFF:
        return [m["period"] for m in found]
    allowed = [m["period"] for m in found if m["closed"]
               and rep_id in (data.visible_reps(state, session, m["period"]) or set())]
    today = date.today().strftime("%Y-%m")
    if not allowed and rep_id not in (data.visible_reps(state, session, today) or set()):
        raise data.Denied()
    return allowed


@page(*EVERYONE)
def rep_home(request, session, form):
    """A rep's months: paid and year to date; a manager also sees their team."""
    state = request.app.state.icm
    rep_id = _rep_id(request)
    periods = _may_see(state, session, rep_id)
    rows = []
    for period in periods:
        result = data.committed(state, period).result
        mine = result.register[result.register["rep_id"] == rep_id]
        ytd = _ytd(result, rep_id)
        if len(mine) or ytd:
            rows.append({"period": period, "paid": int(mine["amount"].sum()), "ytd": ytd,
                         "closed": period in data.closed_months(state)})
    team = []
    if session.user.rep_id == rep_id and session.user.role == "manager" and periods:
        latest = periods[0]
        result = data.committed(state, latest).result
        paid = result.register.groupby("rep_id")["amount"].sum()
        names = data.names(state)
        below = data.visible_reps(state, session, latest) - {rep_id}
        team = [{"rep_id": r, "name": names.get(r, r), "paid": int(paid.get(r, 0)), "period": latest}
                for r in sorted(below)]
    plan_info = current_plan(state, rep_id)
    accepted = None
    if plan_info:
        accepted = workflow.acknowledged(state.ledger).get((rep_id, plan_info["id"], plan_info["version"]))
    inquiries = workflow.inquiry_list(state.ledger, {rep_id})
    return render(request, "rep_home.html", rep_id=rep_id, name=data.names(state).get(rep_id, rep_id),
                  months=rows, team=team, plan=plan_info, accepted=accepted, inquiries=inquiries[:10])


def _ytd(result, rep_id: str) -> dict | None:
    ytd = getattr(result, "year_to_date", None)
    if ytd is None or not len(ytd):
        return None
    row = ytd[ytd["rep_id"] == rep_id]
    return {k: int(row.iloc[0][k]) for k in ("earned", "paid", "balance")} if len(row) else None


@page(*EVERYONE)
def statement(request, session, form):
    """The month for one rep: paid, year to date, what is held, each line and why."""
    from reports.statements import iter_statements

    state = request.app.state.icm
    rep_id, period = _rep_id(request), request.path_params["period"]
    data.check_rep(state, session, rep_id, period)
    run = data.committed(state, period)
    result = run.result
    found = list(iter_statements(result, [rep_id], run_id=str(run.run_id)))
    context = found[0].context if found else None
    holds = result.exceptions[result.exceptions["rep_id"] == rep_id].to_dict("records")
    settle = result.settlement[result.settlement["rep_id"] == rep_id]
    owed = int(settle.iloc[0]["balance_after"]) if len(settle) else 0
    credits = result.credits[(result.credits["rep_id"] == rep_id)]
    held = held_by_deal(result, rep_id).to_dict("records")
    return render(request, "statement.html", rep_id=rep_id, period=period, run=run, s=context,
                  name=data.names(state).get(rep_id, rep_id), ytd=_ytd(result, rep_id), holds=holds,
                  owed=owed, txn_count=len(credits), closed=period in data.closed_months(state),
                  held=held, held_total=sum(int(r["held"]) for r in held))


@page(*EVERYONE)
def explain(request, session, form):
    """`icm explain` of the committed run, as a page."""
    state = request.app.state.icm
    rep_id, period = _rep_id(request), request.path_params["period"]
    data.check_rep(state, session, rep_id, period)
    run = data.committed(state, period)
    text = explain_rep(run.result, rep_id)
    blocks, current = [], None
    for line in text.splitlines():
        if not line.startswith(" ") or current is None:
            current = {"head": line.strip(), "lines": []}
            blocks.append(current)
        else:
            current["lines"].append({"text": line.strip(), "depth": (len(line) - len(line.lstrip())) // 2})
    return render(request, "explain.html", rep_id=rep_id, period=period, run=run, blocks=blocks,
                  name=data.names(state).get(rep_id, rep_id))


@page(*EVERYONE)
def statement_pdf(request, session, form):
    """The PDF statement, rendered on demand from the committed run and cached per run."""
    from reports.statements import iter_statements, render_pdfs

    state = request.app.state.icm
    rep_id, period = _rep_id(request), request.path_params["period"]
    data.check_rep(state, session, rep_id, period)
    run = data.committed(state, period)
    key = (state.ledger.url, run.run_id, rep_id)
    if rep_id not in set(run.result.register["rep_id"]):
        raise data.NotFound()
    with _PDF_LOCK:  # one rendering at a time: the statement engine's fonts are per process, not per thread
        pdf = _PDFS.get(key)
        if pdf is None:
            made = list(render_pdfs(iter_statements(run.result, [rep_id], run_id=str(run.run_id)), total=1,
                                    workspace_templates=state.ws.templates_dir, workers=1))
            pdf = _PDFS[key] = made[0][1]
            while len(_PDFS) > 64:
                _PDFS.popitem(last=False)
    return Response(pdf, media_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="{rep_id}-{period}.pdf"'})


def _deal(form, rep_id: str, currency: str) -> pd.DataFrame:
    amount = workflow.parse_amount(str(form.get("amount") or ""), "the deal amount")
    if amount is None or amount <= 0:
        raise UsageError("give the deal amount, more than 0 (e.g. 25000)")
    kind = str(form.get("type") or "")
    if kind not in TYPES:
        raise UsageError(f"pick the deal type: {', '.join(TYPES)}")
    try:
        when = date.fromisoformat(str(form.get("date") or ""))
    except ValueError:
        raise UsageError("give the close date as YYYY-MM-DD") from None
    return pd.DataFrame({"txn_id": ["WHAT-IF"], "date": [pd.Timestamp(when)],
                         "amount": [float(cents_to_decimal(amount))], "currency": [currency],
                         "rep_id": [rep_id], "account_id": ["(prospect)"], "type": [kind],
                         "product": [str(form.get("product") or "").strip()[:60] or pd.NA]})


@page(*EVERYONE)
def whatif(request, session, form):
    """A prospective deal priced by the engine in a dry run: nothing is written."""
    state = request.app.state.icm
    rep_id = _rep_id(request)
    _may_see(state, session, rep_id)
    month = data.open_month(state) or date.today().strftime("%Y-%m")
    plan_info = current_plan(state, rep_id)
    currency = plan_info["plan"].currency if plan_info else state.ws.settings.base_currency
    outcome = None
    if request.method == "POST":
        deal = _deal(form, rep_id, currency)
        period = deal["date"].iloc[0].strftime("%Y-%m")
        if month_index(period) < month_index(month):
            raise UsageError(f"{period} is closed; a prospective deal closes in {month} or later")
        outcome = _compare(cycle.dry_run(state.ws, period), cycle.dry_run(state.ws, period, extra_transactions=deal),
                           rep_id)
        outcome["period"] = period
    return render(request, "whatif.html", rep_id=rep_id, name=data.names(state).get(rep_id, rep_id),
                  month=month, types=TYPES, outcome=outcome, form=dict(form or {}), currency=currency)


def _compare(before, after, rep_id: str) -> dict:
    def lines(result):
        reg = result.register[result.register["rep_id"] == rep_id]
        return {r["line"]: r for r in reg.to_dict("records")}

    b, a = lines(before), lines(after)
    rows = []
    for line in dict.fromkeys([*b, *a]):
        x, y = b.get(line, {}), a.get(line, {})
        rows.append({"line": line, "before": x.get("amount"), "after": y.get("amount"),
                     "change": int(y.get("amount") or 0) - int(x.get("amount") or 0),
                     "att_before": x.get("attainment"), "att_after": y.get("attainment")})
    paid_b = sum(int(r.get("amount") or 0) for r in b.values())
    paid_a = sum(int(r.get("amount") or 0) for r in a.values())
    held = sorted(set(after.exceptions.loc[after.exceptions["rep_id"] == rep_id, "reason"]))
    return {"rows": rows, "paid_before": paid_b, "paid_after": paid_a, "change": paid_a - paid_b, "held": held}


@page(*EVERYONE)
def plan(request, session, form):
    """The rep's plan in plain words, and whether they accepted this version."""
    state = request.app.state.icm
    rep_id = _rep_id(request)
    _may_see(state, session, rep_id)
    info = current_plan(state, rep_id)
    if info is None:
        raise data.NotFound()
    accepted = workflow.acknowledged(state.ledger).get((rep_id, info["id"], info["version"]))
    return render(request, "plan.html", rep_id=rep_id, info=info, accepted=accepted,
                  mine=session.user.rep_id == rep_id, name=data.names(state).get(rep_id, rep_id))


@page("rep", "manager")
def accept_plan(request, session, form):
    """Only the rep themself accepts, the version they were shown."""
    state = request.app.state.icm
    rep_id = _rep_id(request)
    if session.user.rep_id != rep_id:
        raise data.Denied()
    info = current_plan(state, rep_id)
    if info is None:
        raise data.NotFound()
    if str(form.get("version") or "") != info["version"]:
        raise UsageError("the plan changed since you opened it; read it again before accepting")
    workflow.acknowledge(state.ledger, by=session.user, plan_id=info["id"], plan_version=info["version"])
    return redirect(f"/reps/{rep_id}/plan")

