"""The Starlette application: sessions, CSRF, roles, security headers and the route table.

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
import secrets
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

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


# -- login and logout ---------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    """The login form; it carries a CSRF token bound to a short-lived cookie (double submit)."""
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", login_csrf=token, error=None,
                      next=_safe_next(request.query_params.get("next")))
    _set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


async def login_submit(request: Request) -> Response:
    """Check the password; a new session id every login (the old one, if any, ends)."""
    state: State = request.app.state.icm
    form = await request.form()
    sent, expected = str(form.get("csrf") or ""), request.cookies.get(LOGIN_COOKIE) or ""
    if not expected or not hmac.compare_digest(sent, expected):
        return render(request, "error.html", 403, title="Form expired",
                      message="The sign-in form expired. Reload the page and try again.")
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    client = request.client.host if request.client else "unknown"
    try:
        opened = await run_in_threadpool(workflow.login, state.ledger, email, password, client)
    except IcmError as err:
        return _login_again(request, str(err), 429)
    if opened is None:
        return _login_again(request, "Wrong email or password.", 401)
    await run_in_threadpool(workflow.logout, state.ledger, request.cookies.get(COOKIE))
    token, _ = opened
    response = redirect(_safe_next(str(form.get("next") or "")) or "/")
    _set_cookie(request, response, COOKIE, token)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _login_again(request: Request, message: str, status: int) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status, login_csrf=token, error=message, next="")
    _set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


@page(*EVERYONE)
def logout(request: Request, session, form) -> Response:
    """End the session at once and drop the cookie."""
    workflow.logout(request.app.state.icm.ledger, request.cookies.get(COOKIE))
    response = redirect("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


def _safe_next(value: str | None) -> str:
    """Only local paths: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return ""


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None):
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


@page(*EVERYONE)
def home(request: Request, session, form) -> Response:
    """Staff land on the months, reps and managers on their pay."""
    return redirect("/periods" if session.user.role in STAFF else "/me")


# -- the application ----------------------------------------------------------------------


class SecurityHeaders:
    """CSP (no inline script or style, nothing from elsewhere), no framing, no sniffing."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin"),
                            (b"cache-control", b"no-store")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def routes() -> list[Route]:
    """Every route of the app; each page endpoint carries the roles it admits (`endpoint.roles`)."""
    from web import finance, inquiries, reps

    return [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *finance.routes(), *reps.routes(), *inquiries.routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def create_app(ws: Workspace) -> Starlette:
    """The web workspace of one workspace folder, on its ledger (SQLite or PostgreSQL)."""
    app = Starlette(routes=routes(), middleware=[Middleware(SecurityHeaders)])
    app.state.icm = State(ws)
    return app
