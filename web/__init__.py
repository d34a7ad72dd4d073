"""The web workspace: approvals, statements and inquiries in the browser (`icm serve`).

A face over `compensation.cycle`, `compensation.workflow` and `reports`: it holds no
rule and no step of the cycle. Server-rendered (Starlette, Jinja2 with autoescape,
a vendored htmx); nothing is fetched from elsewhere. `web.app.create_app` builds it.
"""
