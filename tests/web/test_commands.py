"""`icm users add|list|disable` and the demo users, through the `icm` app in-process."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from compensation import cycle, workflow
from icm.cli import app
from icm.web_commands import add_demo_users, demo_instructions
from tests.web.conftest import HERE

runner = CliRunner()


def test_users_add_list_disable(tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(HERE / "workspace", ws)
    added = runner.invoke(app, ["users", "add", str(ws), "--email", "Fin@Altamira.example", "--role", "finance"],
                          input="a-long-password\n")
    assert added.exit_code == 0 and "Added fin@altamira.example (finance)." in added.output
    by_env = runner.invoke(app, ["users", "add", str(ws), "--email", "ada@altamira.example", "--role", "rep",
                                 "--rep", "A01", "--password-env", "ICM_PW"], env={"ICM_PW": "another-password"})
    assert by_env.exit_code == 0, by_env.output
    listed = runner.invoke(app, ["users", "list", str(ws)])
    assert "2 users" in listed.output and "ada@altamira.example" in listed.output and "A01" in listed.output
    bad = runner.invoke(app, ["users", "add", str(ws), "--email", "x@altamira.example", "--role", "rep"],
                        input="a-long-password\n")
    assert bad.exit_code == 2 and "a rep needs --rep REP_ID" in bad.output
    gone = runner.invoke(app, ["users", "disable", str(ws), "--email", "ada@altamira.example"])
    assert gone.exit_code == 0
    with cycle.open_ledger(ws) as led:
        assert [(u.email, u.active) for u in workflow.list_users(led)] == [
            ("ada@altamira.example", False), ("fin@altamira.example", True)]
        assert workflow.login(led, "fin@altamira.example", "a-long-password", "t") is not None
    missing = runner.invoke(app, ["users", "disable", str(ws), "--email", "nobody@altamira.example"])
    assert missing.exit_code == 2 and "no user nobody@altamira.example" in missing.output


def test_demo_users_one_per_role(tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(HERE / "workspace", ws)
    users = add_demo_users(ws)
    assert [role for _, role, _ in users] == ["finance", "approver", "manager (M01)", "rep (A01)"]
    text = demo_instructions(ws, users)
    assert f"icm serve {ws}" in text and "rep@altamira.example" in text and "demo-rep-2026-x" in text
