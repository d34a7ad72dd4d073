"""Inquiries: a rep or manager questions a line, a transaction or a month; finance answers.

Who sees an inquiry is who sees its rep in its month (`web.data`); anyone else gets a
404, so ids cannot be probed.
"""

from __future__ import annotations

from starlette.routing import Route

from compensation import workflow
from web import data
from web.pages import EVERYONE, STAFF, page, redirect, render


def routes() -> list[Route]:
    """Inquiry routes."""
    return [
        Route("/inquiries", queue, methods=["GET"]),
        Route("/inquiries", create, methods=["POST"]),
        Route("/inquiries/new", new, methods=["GET"]),
        Route("/inquiries/{number:int}", detail, methods=["GET"]),
        Route("/inquiries/{number:int}/answer", answer, methods=["POST"]),
    ]


def _reps_seen(state, session) -> set[str] | None:
    """Reps whose inquiries the user sees (None: all), over every month they may open."""
    if session.user.role in STAFF:
        return None
    seen = {session.user.rep_id} if session.user.rep_id else set()
    for period in data.closed_months(state):
        seen |= data.visible_reps(state, session, period) or set()
    return seen


@page(*EVERYONE)
def queue(request, session, form):
    """Finance: every inquiry, open ones first, oldest and largest first. Others: their own."""
    state = request.app.state.icm
    rows = workflow.inquiry_list(state.ledger, _reps_seen(state, session))
    names = data.names(state)
    for r in rows:
        r["name"] = names.get(r["rep_id"], r["rep_id"])
    return render(request, "inquiries.html", rows=rows)


@page("rep", "manager")
def new(request, session, form):
    """The form to raise an inquiry on a month, a line or a transaction."""
    state = request.app.state.icm
    q = request.query_params
    rep_id = q.get("rep") or session.user.rep_id
    period = q.get("period") or (data.closed_months(state) or [""])[0]
    data.check_rep(state, session, rep_id, period)
    kind = q.get("kind") if q.get("kind") in workflow.SUBJECTS else "month"
    return render(request, "inquiry_new.html", rep_id=rep_id, period=period, kind=kind,
                  subject=q.get("subject", "")[:200], categories=workflow.CATEGORIES,
                  name=data.names(state).get(rep_id, rep_id))


@page("rep", "manager")
def create(request, session, form):
    """Raise the inquiry (only on a rep and month the user may see)."""
    state = request.app.state.icm
    rep_id, period = str(form.get("rep_id") or ""), str(form.get("period") or "")
    data.check_rep(state, session, rep_id, period)
    number = workflow.raise_inquiry(
        state.ledger, by=session.user, rep_id=rep_id, period=period,
        subject_kind=str(form.get("kind") or "month"), subject=str(form.get("subject") or ""),
        category=str(form.get("category") or ""), text=str(form.get("text") or ""),
        amount=str(form.get("amount") or ""))
    return redirect(f"/inquiries/{number}")


def _visible(state, session, number: int):
    found = workflow.inquiry(state.ledger, number)
    if found is None:
        raise data.NotFound()
    row, thread = found
    seen = _reps_seen(state, session)
    if seen is not None and row["rep_id"] not in seen:
        raise data.NotFound()
    return row, thread


@page(*EVERYONE)
def detail(request, session, form):
    """An inquiry with its conversation and the answer form."""
    state = request.app.state.icm
    row, thread = _visible(state, session, request.path_params["number"])
    return render(request, "inquiry.html", q=row, thread=thread, name=data.names(state).get(row["rep_id"]),
                  open_month=data.open_month(state))


@page("finance", "rep", "manager")
def answer(request, session, form):
    """Finance moves the inquiry (and may adjust); the requester answers or closes it."""
    state = request.app.state.icm
    number = request.path_params["number"]
    _visible(state, session, number)
    workflow.answer(state.ledger, number, by=session.user, text=str(form.get("text") or ""),
                    status=str(form.get("status") or "") or None,
                    resolution=str(form.get("resolution") or "") or None,
                    adjustment=str(form.get("adjustment") or "") or None)
    return redirect(f"/inquiries/{number}")
