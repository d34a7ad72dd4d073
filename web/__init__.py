"""The web workspace: approvals, statements and inquiries in the browser (`icm serve`).

A face over `compensation.cycle`, `compensation.workflow` and `reports`: it holds no
rule and no step of the cycle. Server-rendered (Starlette, Jinja2 with autoescape,
a vendored htmx); nothing is fetched from elsewhere.
"""

from __future__ import annotations


def create_app(workspace):
    """The Starlette app for a workspace (a path or a loaded `Workspace`)."""
    from compensation.cycle import open_workspace
    from web.app import create_app as _create

    return _create(open_workspace(workspace))


__all__ = ["create_app"]
