"""compensation.workflow: users, sessions, throttling, inquiries, adjustments, close permission."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from compensation import workflow
from compensation.errors import UsageError

PASSWORD = "correct horse battery"


def test_users_are_stored_with_argon2_hashes_only(ledger):
    user = workflow.add_user(ledger, "Ada@Altamira.example", "rep", PASSWORD, "A01")
    assert (user.email, user.role, user.rep_id, user.active) == ("ada@altamira.example", "rep", "A01", True)
    with ledger.engine.connect() as conn:
        stored = conn.execute(sa.select(workflow.users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert [u.email for u in workflow.list_users(ledger)] == ["ada@altamira.example"]
    assert workflow.has_users(ledger)


@pytest.mark.parametrize("args, message", [
    (("not-an-email", "rep", PASSWORD, "A01"), "is not an email address"),
    (("x@y.example", "boss", PASSWORD, None), "role 'boss' is not one of finance, approver, manager, rep"),
    (("x@y.example", "rep", PASSWORD, None), "a rep needs --rep REP_ID"),
    (("x@y.example", "finance", "short", None), "at least 10 characters"),
])
def test_bad_users_are_refused_with_a_clear_message(ledger, args, message):
    with pytest.raises(UsageError, match=message):
        workflow.add_user(ledger, *args)


def test_duplicate_user_is_refused(ledger):
    workflow.add_user(ledger, "f@x.example", "finance", PASSWORD)
    with pytest.raises(UsageError, match="user f@x.example exists already"):
        workflow.add_user(ledger, "F@X.example", "approver", PASSWORD)


def test_login_session_logout_and_disable(ledger):
    workflow.add_user(ledger, "f@x.example", "finance", PASSWORD)
    assert workflow.login(ledger, "f@x.example", "wrong password!", "1.2.3.4") is None
    token, session = workflow.login(ledger, "F@x.example", PASSWORD, "1.2.3.4")
    assert session.user.role == "finance" and len(session.csrf) >= 40
    with ledger.engine.connect() as conn:
        keys = conn.execute(sa.select(workflow.sessions.c.key)).scalars().all()
    assert token not in keys and len(keys) == 1  # only the sha256 of the id is stored
    assert workflow.session(ledger, token).csrf == session.csrf
    workflow.logout(ledger, token)
    assert workflow.session(ledger, token) is None
    token, _ = workflow.login(ledger, "f@x.example", PASSWORD, "1.2.3.4")
    workflow.disable_user(ledger, "f@x.example")
    assert workflow.session(ledger, token) is None
    assert workflow.login(ledger, "f@x.example", PASSWORD, "1.2.3.4") is None
    assert workflow.session(ledger, "forged-token") is None


def test_idle_sessions_expire(ledger):
    workflow.add_user(ledger, "f@x.example", "finance", PASSWORD)
    token, _ = workflow.login(ledger, "f@x.example", PASSWORD, "c")
    with ledger.engine.begin() as conn:
        conn.execute(workflow.sessions.update().values(
            seen_at=workflow._now() - workflow.SESSION_IDLE - timedelta(minutes=1)))
    assert workflow.session(ledger, token) is None


def test_failed_logins_are_throttled_per_email(ledger):
    workflow.add_user(ledger, "f@x.example", "finance", PASSWORD)
    for _ in range(workflow.THROTTLE_MAX):
        assert workflow.login(ledger, "f@x.example", "nope nope nope", "c1") is None
    with pytest.raises(UsageError, match="too many failed logins"):
        workflow.login(ledger, "f@x.example", PASSWORD, "c2")
    # another account from another address is not affected
    workflow.add_user(ledger, "a@x.example", "approver", PASSWORD)
    assert workflow.login(ledger, "a@x.example", PASSWORD, "c3") is not None


def test_inquiry_lifecycle_and_adjustment(ledger):
    finance = workflow.add_user(ledger, "f@x.example", "finance", PASSWORD)
    rep = workflow.add_user(ledger, "ada@x.example", "rep", PASSWORD, "A01")
    number = workflow.raise_inquiry(ledger, by=rep, rep_id="A01", period="2026-01", subject_kind="transaction",
                                    subject="T002", category="missing credit", text="T002 is missing",
                                    amount="1,250.50")
    row, thread = workflow.inquiry(ledger, number)
    assert (row["status"], row["amount"], thread) == ("submitted", 125050, [])
    with pytest.raises(UsageError, match="cannot be moved to resolved by you"):
        workflow.answer(ledger, number, by=rep, text="done", status="resolved", resolution="accepted")
    workflow.answer(ledger, number, by=finance, text="Which order form?", status="pending_information")
    workflow.answer(ledger, number, by=rep, text="Order form OF-77")  # answering moves it back to review
    assert workflow.inquiry(ledger, number)[0]["status"] == "in_review"
    with pytest.raises(UsageError, match="resolve an inquiry as accepted or denied"):
        workflow.answer(ledger, number, by=finance, text="ok", status="resolved")
    workflow.answer(ledger, number, by=finance, text="Credit confirmed", status="resolved",
                    resolution="accepted", adjustment="925.10")
    row, thread = workflow.inquiry(ledger, number)
    assert (row["status"], row["resolution"]) == ("resolved", "accepted")
    assert [m["status"] for m in thread] == ["pending_information", "in_review", "resolved"]
    assert row["adjustment"]["amount"] == 92510 and row["adjustment"]["period"] == "2026-01"
    adj = workflow.ledger_adjustments(ledger)
    assert adj.to_dict("records") == [{"rep_id": "A01", "period": "2026-01", "amount": "925.10",
                                       "reason": f"inquiry {number}: Credit confirmed"}]
    workflow.answer(ledger, number, by=rep, text="Thanks", status="closed")
    assert workflow.inquiry(ledger, number)[0]["status"] == "closed"
    actions = workflow.events(ledger)["action"].tolist()
    assert actions == ["user added", "user added", "inquiry raised", "inquiry", "inquiry", "inquiry", "adjust",
                       "inquiry"]


def test_inquiry_queue_sorted_by_age_then_amount(ledger):
    rep = workflow.add_user(ledger, "ada@x.example", "rep", PASSWORD, "A01")
    ids = [workflow.raise_inquiry(ledger, by=rep, rep_id="A01", period="2026-01", subject_kind="month",
                                  subject=None, category="other", text=f"q{i}", amount=amount)
           for i, amount in enumerate(["10", "500", None])]
    with ledger.engine.begin() as conn:  # the first two were raised at the same moment
        conn.execute(workflow.inquiries.update().where(workflow.inquiries.c.id.in_(ids[:2]))
                     .values(created_at=workflow._now() - timedelta(days=3)))
    assert [r["id"] for r in workflow.inquiry_list(ledger)] == [ids[1], ids[0], ids[2]]
    assert workflow.inquiry_list(ledger, {"B01"}) == []


@pytest.mark.parametrize("text, message", [("12,5x", "is not a number"), ("1e20", "out of range")])
def test_bad_amounts(text, message):
    with pytest.raises(UsageError, match=message):
        workflow.parse_amount(text)


def test_close_permission_off_without_users_and_forced_close_recorded(ledger):
    workflow.close_permission(ledger, "2026-01", 1, by=None, force=False, reason=None)  # no users: allowed
    workflow.add_user(ledger, "f@x.example", "finance", PASSWORD)
    with pytest.raises(UsageError, match=r"the current run of 2026-01 \(ledger run id 1\) is not approved"):
        workflow.close_permission(ledger, "2026-01", 1, by=None, force=False, reason=None)
    with pytest.raises(UsageError, match="needs --by NAME and --reason TEXT"):
        workflow.close_permission(ledger, "2026-01", 1, by="cfo", force=True, reason=" ")
    workflow.close_permission(ledger, "2026-01", 1, by="cfo", force=True, reason="payroll deadline")
    last = workflow.events(ledger).iloc[-1]
    assert (last["user"], last["action"], last["period"], last["run_id"], last["detail"]) == (
        "cfo", "forced close", "2026-01", 1, "payroll deadline")
