"""Finance and approver pages: months, a month's review, approval, the audit trail.

Runs, closes and diffs go through `compensation.cycle`; publishing through
`reports.publish.Publisher`. Approving closes the month and publishes statements.
"""

from __future__ import annotations

import pandas as pd
from starlette.routing import Route

from compensation import cycle, workflow
from compensation.errors import UsageError
from compensation.periods import month_index
from web import data
from web.pages import STAFF, page, redirect, render

REGISTER_ROWS = 300
NOTES = {
    "ran": "The month was calculated and stored as a draft.",
    "submitted": "Submitted for approval. A different approver must approve it.",
    "approved": "Approved. The month is closed and statements are published to reps.",
    "rejected": "Rejected. Finance has been given the reason.",
}


def routes() -> list[Route]:
    """Finance and approver routes."""
    return [
        Route("/periods", periods, methods=["GET"]),
        Route("/periods/run", run_month, methods=["POST"]),
        Route("/periods/{period}", month, methods=["GET"]),
        Route("/periods/{period}/register", register, methods=["GET"]),
        Route("/periods/{period}/submit", submit, methods=["POST"]),
        Route("/periods/{period}/approve", approve, methods=["POST"]),
        Route("/periods/{period}/reject", reject, methods=["POST"]),
        Route("/audit", audit, methods=["GET"]),
    ]


@page(*STAFF)
def periods(request, session, form):
    """Every month with its state, the next month to run, who has not accepted their plan."""
    state = request.app.state.icm
    found = data.months(state)
    for m in found:
        subs = workflow.submissions_of(state.ledger, m["period"])
        m["submission"] = subs[0] if subs and subs[0]["run_id"] == m["run"].id else None
    queue = [q for q in workflow.inquiry_list(state.ledger) if q["status"] not in ("resolved", "closed")]
    return render(request, "periods.html", months=found, next_month=data.open_month(state) or "",
                  pending=plan_acceptance(state), open_inquiries=len(queue),
                  note=NOTES.get(request.query_params.get("note")))


def plan_acceptance(state) -> list[dict]:
    """Reps (with a login) who have not accepted their current plan version."""
    from web.plans import current_plan

    done = workflow.acknowledged(state.ledger)
    out = []
    for user in workflow.list_users(state.ledger):
        if user.role not in ("rep", "manager") or not user.rep_id or not user.active:
            continue
        plan = current_plan(state, user.rep_id)
        if plan is None:
            continue
        accepted = done.get((user.rep_id, plan["id"], plan["version"]))
        out.append({"rep_id": user.rep_id, "email": user.email, "plan": plan["id"], "accepted": accepted})
    return sorted(out, key=lambda r: (r["accepted"] is not None, r["rep_id"]))


@page("finance")
def run_month(request, session, form):
    """Calculate (or re-calculate) a month; a re-run withdraws a pending submission."""
    from reports.publish import Publisher

    period = str(form.get("period") or "").strip()
    try:
        month_index(period)
    except ValueError as err:
        raise UsageError(str(err)) from None
    cycle.run(request.app.state.icm.ws, period, by=session.user.email, publisher=Publisher(statements=False))
    return redirect(f"/periods/{period}?note=ran")


def _previous_closed(state, period: str):
    closed = [m for m in data.months(state) if m["closed"] and month_index(m["period"]) < month_index(period)]
    return closed[0]["run"] if closed else None


@page(*STAFF)
def month(request, session, form):
    """A month's review: totals against the last closed month, exceptions, register, diff, approval."""
    state = request.app.state.icm
    period = data.valid_period(request.path_params["period"])
    run = data.committed(state, period)
    info = state.ledger.run(run.run_id)
    before = _previous_closed(state, period)
    result = run.result
    exceptions = result.exceptions.sort_values(["severity", "rep_id"], kind="stable", na_position="last")
    diff = None
    if info.status != "closed" and len(state.ledger.runs(period)) > 1:
        diff = cycle.diff(state.ws, period)
    subs = workflow.submissions_of(state.ledger, period)
    current = subs[0] if subs and subs[0]["run_id"] == run.run_id else None
    lines = sorted(set(result.register["line"]))
    return render(request, "period.html", period=period, run=run, info=info, before=before,
                  exceptions=exceptions.to_dict("records"), diff=diff,
                  diff_rows=diff.changes.to_dict("records") if diff is not None else [],
                  submission=current, submissions=subs, lines=lines,
                  table=_register_rows(result.register, "", ""),
                  note=NOTES.get(request.query_params.get("note")))


def _register_rows(register: pd.DataFrame, rep: str, line: str) -> dict:
    frame = register
    if rep:
        text = rep.lower()
        frame = frame[frame["rep_id"].str.lower().str.contains(text, regex=False)
                      | frame["name"].fillna("").str.lower().str.contains(text, regex=False)]
    if line:
        frame = frame[frame["line"] == line]
    return {"rows": frame.head(REGISTER_ROWS).to_dict("records"), "count": len(frame),
            "total": int(frame["amount"].sum()) if len(frame) else 0, "rep": rep, "line": line}


@page(*STAFF)
def register(request, session, form):
    """The register filtered by rep and line (an htmx partial, or a full table page)."""
    state = request.app.state.icm
    period = data.valid_period(request.path_params["period"])
    run = data.committed(state, period)
    q = request.query_params
    table = _register_rows(run.result.register, q.get("rep", "").strip()[:100], q.get("line", "").strip()[:200])
    return render(request, "_register.html", period=period, table=table, run=run)


@page("finance")
def submit(request, session, form):
    """Finance submits the month's current run, by its run id."""
    state = request.app.state.icm
    period = data.valid_period(request.path_params["period"])
    try:
        run_id = int(form.get("run_id") or 0)
    except ValueError:
        raise UsageError("the form named no run; reload the page") from None
    workflow.submit(state.ledger, period, run_id, by=session.user)
    return redirect(f"/periods/{period}?note=submitted")


def _submission_id(form) -> int:
    try:
        return int(form.get("submission_id") or 0)
    except ValueError:
        raise UsageError("the form named no submission; reload the page") from None


@page("approver")
def approve(request, session, form):
    """Approve, then close the month through the cycle and publish statements to reps."""
    from reports.publish import Publisher

    state = request.app.state.icm
    period = data.valid_period(request.path_params["period"])
    number = _submission_id(form)
    if number not in {s["id"] for s in workflow.submissions_of(state.ledger, period)}:
        raise UsageError("this submission belongs to another month; reload the page")
    workflow.decide(state.ledger, number, by=session.user, approve=True)
    publisher = Publisher(statements=True)
    cycle.close(state.ws, period, by=session.user.email, publisher=publisher)
    publisher.publish(state.ws, cycle.committed_run(state.ws, period))  # statements out to reps
    return redirect(f"/periods/{period}?note=approved")


@page("approver")
def reject(request, session, form):
    """Send the run back to finance with a reason."""
    state = request.app.state.icm
    period = data.valid_period(request.path_params["period"])
    workflow.decide(state.ledger, _submission_id(form), by=session.user, approve=False,
                    reason=str(form.get("reason") or ""))
    return redirect(f"/periods/{period}?note=rejected")


@page(*STAFF)
def audit(request, session, form):
    """Every run, close and workflow action, newest first."""
    trail = cycle.history(request.app.state.icm.ws)
    rows = []
    numbers = {}  # ledger run id -> its number within the month ("run 2 of 2026-02")
    if "run" in trail:
        known = trail.dropna(subset=["run_id", "run"])
        numbers = dict(zip(known["run_id"].astype(int), known["run"].astype(int), strict=True))
    for r in trail.iloc[::-1].head(500).to_dict("records"):
        who = r.get("user") if isinstance(r.get("user"), str) else r.get("by")
        detail = r.get("detail") if isinstance(r.get("detail"), str) else r.get("note")
        number = numbers.get(int(r["run_id"])) if r.get("run_id") == r.get("run_id") and r.get("run_id") else None
        rows.append({"at": r.get("at"), "who": who, "action": r.get("action"), "period": r.get("period"),
                     "run": number, "detail": detail if isinstance(detail, str) else "",
                     "paid": r.get("total_paid") if r.get("action") in ("run", "close") else None})
    return render(request, "audit.html", rows=rows)
