"""The Starlette application: login and logout, security headers and the route table.

What every page shares (sessions, CSRF, roles, rendering) is in `web.pages`.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from compensation import workflow
from compensation.errors import IcmError
from compensation.settings import Workspace
from web import finance, inquiries, reps
from web.pages import COOKIE, CSP, EVERYONE, HERE, LOGIN_COOKIE, STAFF, State, page, redirect, render, set_cookie

# -- login and logout ---------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    """The login form; it carries a CSRF token bound to a short-lived cookie (double submit)."""
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", login_csrf=token, error=None,
                      next=_safe_next(request.query_params.get("next")))
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
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
    set_cookie(request, response, COOKIE, token)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _login_again(request: Request, message: str, status: int) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status, login_csrf=token, error=message, next="")
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
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
