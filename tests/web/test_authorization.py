"""Every route x every role against a real `icm serve`: who gets in, who gets 403 or 404.

POSTs send forms that pass authorisation but fail validation (400), so the table
changes nothing; "in" means the request got past authorisation (2xx, 3xx or 400).
"""

from __future__ import annotations

import pytest

from tests.web.conftest import USERS, csrf_of
from web.app import routes

ROLES = tuple(USERS)
STAFF = {"finance", "approver"}
ALL = set(ROLES)
A01_SEERS = STAFF | {"rep", "manager"}  # Ada herself and her manager

# (method, route path, concrete path, form, roles allowed in); everyone else gets 403 or 404.
CASES = [
    ("GET", "/", "/", None, ALL),
    ("GET", "/periods", "/periods", None, STAFF),
    ("POST", "/periods/run", "/periods/run", {"period": ""}, {"finance"}),
    ("GET", "/periods/{period}", "/periods/2026-02", None, STAFF),
    ("GET", "/periods/{period}/register", "/periods/2026-01/register?rep=A0", None, STAFF),
    ("POST", "/periods/{period}/submit", "/periods/2026-02/submit", {"run_id": ""}, {"finance"}),
    ("POST", "/periods/{period}/approve", "/periods/2026-02/approve", {"submission_id": ""}, {"approver"}),
    ("POST", "/periods/{period}/reject", "/periods/2026-02/reject", {"submission_id": ""}, {"approver"}),
    ("GET", "/audit", "/audit", None, STAFF),
    ("GET", "/me", "/me", None, {"rep", "manager", "other_rep"}),
    ("GET", "/reps/{rep_id}", "/reps/A01", None, A01_SEERS),
    ("GET", "/reps/{rep_id}", "/reps/B01", None, STAFF | {"other_rep"}),
    ("GET", "/reps/{rep_id}/periods/{period}", "/reps/A01/periods/2026-01", None, A01_SEERS),
    ("GET", "/reps/{rep_id}/periods/{period}", "/reps/A02/periods/2026-01", None, STAFF | {"manager"}),
    ("GET", "/reps/{rep_id}/periods/{period}", "/reps/A01/periods/2026-02", None, STAFF),  # a draft
    ("GET", "/reps/{rep_id}/periods/{period}/explain", "/reps/A01/periods/2026-01/explain", None, A01_SEERS),
    ("GET", "/reps/{rep_id}/periods/{period}/explain", "/reps/B01/periods/2026-01/explain", None,
     STAFF | {"other_rep"}),
    ("GET", "/periods/{period}/statements/{rep_id}.pdf", "/periods/2026-01/statements/A01.pdf", None, A01_SEERS),
    ("GET", "/periods/{period}/statements/{rep_id}.pdf", "/periods/2026-02/statements/A01.pdf", None, STAFF),
    ("GET", "/reps/{rep_id}/whatif", "/reps/A01/whatif", None, A01_SEERS),
    ("POST", "/reps/{rep_id}/whatif", "/reps/A01/whatif", {"amount": ""}, A01_SEERS),
    ("GET", "/reps/{rep_id}/plan", "/reps/A01/plan", None, A01_SEERS),
    ("POST", "/reps/{rep_id}/plan/accept", "/reps/A01/plan/accept", {"version": "old"}, {"rep"}),
    ("GET", "/inquiries", "/inquiries", None, ALL),
    ("POST", "/inquiries", "/inquiries", {"rep_id": "A01", "period": "2026-01", "category": "other", "text": ""},
     {"rep", "manager"}),
    ("GET", "/inquiries/new", "/inquiries/new?rep=A01&period=2026-01", None, {"rep", "manager"}),
    ("GET", "/inquiries/{number:int}", "/inquiries/1", None, A01_SEERS),
    ("POST", "/inquiries/{number:int}/answer", "/inquiries/1/answer", {"text": ""}, {"finance", "rep", "manager"}),
]
IN = {200, 303, 400}


def test_every_route_is_in_the_table():
    table = {(m, p) for m, p, *_ in CASES} | {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
    found = {(m, r.path) for r in routes() if hasattr(r, "methods") and r.methods
             for m in r.methods if m != "HEAD"}
    assert found == table


@pytest.fixture(scope="module")
def clients(served):
    made = {role: served.login(role) for role in ROLES}
    yield made
    for c in made.values():
        c.close()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, route, path, form, allowed", CASES, ids=[f"{c[0]} {c[2]}" for c in CASES])
def test_route_by_role(served, clients, role, method, route, path, form, allowed):
    client = clients[role]
    if method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, data={**form, "csrf": csrf_of(client)})
    if role in allowed:
        assert response.status_code in IN, response.text[:400]
    else:
        assert response.status_code in (403, 404), response.text[:400]
        assert "Ada Rossi" not in response.text and "Bruno Bianchi" not in response.text


@pytest.mark.parametrize("method, route, path, form, allowed", CASES, ids=[f"{c[0]} {c[2]}" for c in CASES])
def test_signed_out_gets_nothing(served, method, route, path, form, allowed):
    with served.client() as client:
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login")
        else:
            assert client.post(path, data=form).status_code == 401
