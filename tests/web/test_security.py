"""Security of the served app: CSRF, injection, sessions, cookies, throttling, logs."""

from __future__ import annotations

import re
from contextlib import closing

from compensation import cycle, workflow
from tests.web.conftest import PASSWORD, USERS, csrf_of, sign_in


def _inquiries(served) -> list[dict]:
    with cycle.open_ledger(served.workspace) as led:
        return workflow.inquiry_list(led)


def test_no_state_change_without_a_valid_csrf_token(served):
    with closing(served.login("rep")) as ada:
        form = {"rep_id": "A01", "period": "2026-01", "kind": "month", "category": "other", "text": "hello"}
        before = len(_inquiries(served))
        for token in (None, "forged-token", csrf_of(served.login("manager"))):
            data = form if token is None else {**form, "csrf": token}
            response = ada.post("/inquiries", data=data)
            assert response.status_code == 403 and "security token" in response.text
        assert len(_inquiries(served)) == before
        # the login form too: no token, no login
        with served.client() as fresh:
            fresh.get("/login")
            response = fresh.post("/login", data={"email": USERS["rep"][0], "password": PASSWORD})
            assert response.status_code == 403 and "icm_session" not in response.headers.get("set-cookie", "")


def test_inquiry_text_and_data_are_never_html(served):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with closing(served.login("rep")) as ada:
        response = ada.post("/inquiries", data={"rep_id": "A01", "period": "2026-01", "kind": "line",
                                                "subject": payload, "category": "other", "text": payload,
                                                "csrf": csrf_of(ada)})
        assert response.status_code == 303
        page = ada.get(response.headers["location"]).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    with closing(served.login("finance")) as fin:
        queue = fin.get("/inquiries")
        assert "<img src=x" not in queue.text and "&lt;img src=x onerror=alert(1)&gt;" in queue.text
        headers = queue.headers
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"


def test_session_cookie_is_random_httponly_lax_renewed_and_ends_at_logout(served):
    with served.client() as client:
        first = sign_in(client, USERS["finance"][0], PASSWORD)
        cookie = first.headers["set-cookie"]
        assert "icm_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        old = client.cookies["icm_session"]
        sign_in(client, USERS["finance"][0], PASSWORD)
        new = client.cookies["icm_session"]
        assert new != old and len(new) >= 40
        with served.client() as thief:  # the replaced id is dead
            thief.cookies.set("icm_session", old)
            assert thief.get("/periods").status_code == 303
        assert client.get("/periods").status_code == 200
        client.post("/logout", data={"csrf": csrf_of(client, "/periods")})
        with served.client() as thief:
            thief.cookies.set("icm_session", new)
            assert thief.get("/periods").status_code == 303


def test_disabling_a_user_ends_their_session_at_once(served, tmp_path):
    with cycle.open_ledger(served.workspace) as led:
        workflow.add_user(led, "temp@altamira.example", "approver", PASSWORD)
    with served.client() as client:
        assert sign_in(client, "temp@altamira.example", PASSWORD).status_code == 303
        assert client.get("/periods").status_code == 200
        with cycle.open_ledger(served.workspace) as led:
            workflow.disable_user(led, "temp@altamira.example")
        assert client.get("/periods").status_code == 303


def test_failed_logins_are_throttled_and_passwords_never_logged(served):
    secret = "Wr0ng-Secret-Password-93317"
    with served.client() as client:
        codes = [sign_in(client, "appr@altamira.example", secret).status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
        assert "too many failed logins" in sign_in(client, "appr@altamira.example", PASSWORD).text
    log = served.log.read_text()
    assert "POST /login" in log  # the access log is on, and still holds no password
    assert secret not in log and PASSWORD not in log
    with cycle.open_ledger(served.workspace) as led:  # let the other tests log in again
        with led.engine.begin() as conn:
            conn.execute(workflow.login_failures.delete())


def test_open_redirects_are_refused(served):
    with served.client() as client:
        page = client.get("/login", params={"next": "//evil.example/x"})
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        response = client.post("/login", data={"email": USERS["finance"][0], "password": PASSWORD, "csrf": token,
                                               "next": "https://evil.example/"})
        assert response.headers["location"] == "/"
