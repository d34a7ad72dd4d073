"""What every page shares: templates, the app's state, rendering, and the `page` guard.

Every page goes through `page(...)`: it loads the server-side session from the
`icm_session` cookie (a random id; the ledger keeps only its sha256), refuses roles that
may not use the route (403), checks the CSRF token of every POST (form field `csrf` or
header `X-CSRF-Token`) and runs the view in a worker thread, since views call the
ledger and the engine synchronously. Views return a response or raise `Denied` /
`NotFound`; `IcmError` becomes a page saying what is wrong, never a traceback.
"""

from __future__ import annotations

import functools
import hmac
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from compensation import workflow
from compensation.errors import IcmError
from compensation.ledger import Ledger
from compensation.settings import Workspace
from web import format as fmt
from web.data import Denied, NotFound

HERE = Path(__file__).resolve().parent
COOKIE = "icm_session"
LOGIN_COOKIE = "icm_login"
EVERYONE = ("finance", "approver", "manager", "rep")
STAFF = ("finance", "approver")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def templates() -> Environment:
    """Jinja2 with autoescape on for every template: data and inquiry text are never HTML."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=fmt.money, pct=fmt.pct, when=fmt.when, month=fmt.month, label=fmt.label)
    return env


class State:
    """What the app shares between requests: the workspace, its ledger and caches."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.ledger = Ledger(ws.ledger_url)
        self.env = templates()
        self.cache: dict = {}


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """Render a template with the session's user and CSRF token."""
    state: State = request.app.state.icm
    session = getattr(request.state, "session", None)
    html = state.env.get_template(template).render(
        request=request, session=session, user=session.user if session else None,
        csrf=session.csrf if session else "", path=request.url.path, **context)
    return HTMLResponse(html, status_code=status)


def redirect(url: str) -> RedirectResponse:
    """See other (303): after a POST, the browser GETs the next page."""
    return RedirectResponse(url, status_code=303)


def page(*roles: str):
    """Wrap a sync view `fn(request, session, form)`: session, role, CSRF, errors, thread."""

    def wrap(fn):
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            state: State = request.app.state.icm
            token = request.cookies.get(COOKIE)
            session = await run_in_threadpool(workflow.session, state.ledger, token)
            if session is None:
                if request.method == "GET":
                    return redirect(f"/login?next={request.url.path}")
                return render(request, "error.html", 401, title="Signed out",
                              message="Your session has ended; sign in again.")
            request.state.session = session
            form = None
            if request.method == "POST":
                form = await request.form()
                sent = form.get("csrf") or request.headers.get("x-csrf-token") or ""
                if not hmac.compare_digest(str(sent), session.csrf):
                    return render(request, "error.html", 403, title="Form expired",
                                  message="This form is no longer valid (missing or wrong security token). "
                                          "Reload the page and try again.")
            if session.user.role not in roles:
                return _denied(request)
            try:
                return await run_in_threadpool(fn, request, session, form)
            except Denied:
                return _denied(request)
            except NotFound:
                return render(request, "error.html", 404, title="Not found",
                              message="There is nothing here for you.")
            except IcmError as err:
                return render(request, "error.html", 400, title="That did not work", message=str(err))

        endpoint.roles = roles
        return endpoint

    return wrap


def _denied(request: Request) -> HTMLResponse:
    return render(request, "error.html", 403, title="Not yours",
                  message="You do not have access to this page.")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None):
    """An HttpOnly, SameSite=Lax cookie (Secure over https)."""
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
