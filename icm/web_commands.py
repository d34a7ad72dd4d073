"""`icm serve` and `icm users add|list|disable`: the web workspace and its users."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from compensation import workflow
from compensation.cycle import open_ledger, open_workspace
from compensation.errors import UsageError

console = Console()
err_console = Console(stderr=True)
WorkspaceArg = Annotated[Path, typer.Argument(help="Workspace folder.")]
users_app = typer.Typer(name="users", help="Web workspace users: add, list, disable.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `serve` and the `users` group to the `icm` app."""
    app.command("serve")(serve_command)
    app.add_typer(users_app, name="users")


def serve_command(
    workspace: WorkspaceArg = Path("."),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
):
    """Serve the web workspace: approvals, statements, inquiries (on the workspace's ledger)."""
    try:
        import uvicorn

        from web.app import create_app
    except ImportError as err:
        raise UsageError(f"the web workspace needs its extras: pip install 'icm[web]' ({err})") from None
    ws = open_workspace(workspace)
    with open_ledger(ws) as ledger:
        users = workflow.list_users(ledger)
    app = create_app(ws)
    console.print(f"icm web workspace for {ws.root} on http://{host}:{port}/ "
                  f"({len(users)} users; Ctrl+C stops it)", highlight=False)
    if not users:
        console.print("No users yet: add one with `icm users add WS --email E --role finance`.")
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=True, server_header=False)


def _password(env: str | None) -> str:
    if env:
        value = os.environ.get(env)
        if not value:
            raise UsageError(f"environment variable {env} is not set or empty; set it or pipe the password on stdin")
        return value
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Again: "):
            raise UsageError("the two passwords differ; try again")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("add")
def add_command(
    workspace: WorkspaceArg = Path("."),
    email: Annotated[str, typer.Option(help="The user's email (their login).")] = ...,
    role: Annotated[str, typer.Option(help="finance | approver | manager | rep")] = ...,
    rep: Annotated[str | None, typer.Option(help="The rep_id of a rep or manager (their row in data/reps).")] = None,
    password_env: Annotated[str | None, typer.Option(
        help="Read the password from this environment variable (default: stdin).")] = None,
):
    """Add a user; the password is read from stdin (or --password-env) and stored as an argon2 hash."""
    password = _password(password_env)
    with open_ledger(workspace) as ledger:
        user = workflow.add_user(ledger, email, role, password, rep)
    console.print(f"Added {user.email} ({user.role}{', ' + user.rep_id if user.rep_id else ''}).", highlight=False)


@users_app.command("list")
def list_command(workspace: WorkspaceArg = Path(".")):
    """Show every user with role, rep and whether they can log in."""
    with open_ledger(workspace) as ledger:
        users = workflow.list_users(ledger)
    table = Table("email", "role", "rep", "active", title=f"{len(users)} users")
    for u in users:
        table.add_row(u.email, u.role, u.rep_id or "", "yes" if u.active else "no")
    console.print(table)


@users_app.command("disable")
def disable_command(
    workspace: WorkspaceArg = Path("."),
    email: Annotated[str, typer.Option(help="The user to switch off.")] = ...,
):
    """Switch a user off: their sessions end at once."""
    with open_ledger(workspace) as ledger:
        user = workflow.disable_user(ledger, email)
    console.print(f"Disabled {user.email}; their sessions have ended.", highlight=False)


DEMO_USERS = (  # for `icm demo` only: printed passwords, meant for trying the workspace
    ("finance@altamira.example", "finance", None, "demo-finance-2026"),
    ("approver@altamira.example", "approver", None, "demo-approver-2026"),
)


def add_demo_users(workspace) -> list[tuple[str, str, str]]:
    """One demo user per role: a rep with a manager, and that manager, from the demo's `reps`.

    Returns (email, role, password) for `demo_instructions`; call it after the demo closed its months.
    """
    from compensation.tables import read_table

    ws = open_workspace(workspace)
    reps, _, _ = read_table(ws, "reps")
    managed = reps[reps["manager_id"].notna() & reps["manager_id"].isin(reps["rep_id"])]
    rep_id = str(managed.iloc[0]["rep_id"])
    manager_id = str(managed.iloc[0]["manager_id"])
    people = (*DEMO_USERS, ("manager@altamira.example", "manager", manager_id, "demo-manager-2026"),
              ("rep@altamira.example", "rep", rep_id, "demo-rep-2026-x"))
    with open_ledger(ws) as ledger:
        for email, role, rep, password in people:
            workflow.add_user(ledger, email, role, password, rep, by="icm demo")
    return [(email, f"{role} ({rep})" if rep else role, password) for email, role, rep, password in people]


def demo_instructions(workspace: Path, users: list[tuple[str, str, str]]) -> str:
    """What `icm demo` prints about the web workspace."""
    lines = [f"Web workspace: icm serve {workspace}  then open http://127.0.0.1:8000/",
             "Demo users (passwords for this demo only):"]
    lines += [f"  {role:<16} {email:<28} {password}" for email, role, password in users]
    return "\n".join(lines)
