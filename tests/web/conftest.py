"""A tiny workspace with users, served by a real `icm serve` on 127.0.0.1 (SQLite or PostgreSQL).

January is closed, February has a draft run. Users: one per role; rep A01 and A02
report to manager M01; rep B01 reports to nobody. Ada (A01) has one inquiry on January.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from compensation import cycle, workflow

os.environ["ICM_PASSWORD_HASH"] = "cheap"  # argon2id at its cheapest: tests log in hundreds of times
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PASSWORD = "test-password-4711"
USERS = {
    "finance": ("fin@altamira.example", None),
    "approver": ("appr@altamira.example", None),
    "manager": ("marta@altamira.example", "M01"),
    "rep": ("ada@altamira.example", "A01"),
    "other_rep": ("carla@altamira.example", "B01"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_ledger(tag: str) -> str | None:
    """A fresh PostgreSQL schema of its own, or None without ICM_TEST_POSTGRES_URL."""
    base = os.environ.get("ICM_TEST_POSTGRES_URL")
    if not base:
        return None
    import sqlalchemy as sa

    from compensation.ledger import engine_url

    schema = f"icm_web_{tag}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    engine = sa.create_engine(engine_url(base))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def make_workspace(root: Path, ledger: str | None = None) -> Path:
    """Copy the fixture workspace, close January, run February, add one user per role."""
    shutil.copytree(HERE / "workspace", root)
    if ledger:
        (root / "icm.yaml").write_text(f"ledger: '{ledger}'\n")
    cycle.run(root, "2026-01", by="setup")
    cycle.close(root, "2026-01", by="setup")
    cycle.run(root, "2026-02", by="setup")
    with cycle.open_ledger(root) as led:
        for role, (email, rep) in USERS.items():
            workflow.add_user(led, email, role.replace("other_", ""), PASSWORD, rep)
    return root


@dataclass
class Server:
    url: str
    workspace: Path
    log: Path
    process: subprocess.Popen

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=60)

    def login(self, who: str, password: str = PASSWORD) -> httpx.Client:
        """A client signed in as one of USERS (by role key)."""
        client = self.client()
        response = sign_in(client, USERS[who][0], password)
        assert response.status_code == 303, response.text[:500]
        return client


def sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf": token})


def csrf_of(client: httpx.Client, path: str = "/inquiries") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def start_server(workspace: Path, log: Path) -> Server:
    """`icm serve` in a subprocess on a free port; waits until it answers."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = log.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "icm", "serve", str(workspace), "--port", str(port)],
                               stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"icm serve exited: {log.read_text()}")
        try:
            if httpx.get(url + "/login", timeout=2).status_code == 200:
                return Server(url, workspace, log, process)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"icm serve did not start: {log.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A served workspace on SQLite, with Ada's inquiry on January."""
    root = make_workspace(tmp_path_factory.mktemp("web") / "ws")
    with cycle.open_ledger(root) as led:
        ada = next(u for u in workflow.list_users(led) if u.rep_id == "A01")
        workflow.raise_inquiry(led, by=ada, rep_id="A01", period="2026-01", subject_kind="transaction",
                               subject="T002", category="missing credit", text="T002 split is wrong")
    server = start_server(root, root.parent / "serve.log")
    yield server
    stop_server(server)
