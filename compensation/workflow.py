"""The people side of the ledger: users, sessions, approvals, inquiries, plan acceptances.

Everything a person does around a month (log in, submit a run for approval, approve
or reject it, raise and answer an inquiry, accept a plan) is stored here, in tables of
its own (`wf_*`, own `MetaData`) on the ledger's engine: the same SQLite file or
PostgreSQL database as the runs, created on first use. Each action writes one row of
`wf_events`, the workflow audit trail `icm history` shows beside runs and closes.

The cycle calls four hooks: `close_permission` (once users exist, a month closes only
when its latest run is approved, or with `force`, `by` and `reason`, recorded),
`withdraw_submissions` (a re-run withdraws a pending submission), `ledger_adjustments`
(adjustments accepted on inquiries, merged with `data/adjustments` by the run) and
`events`. Session ids and passwords are never stored: only their sha256 / argon2 hash.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import pandas as pd
import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from argon2.exceptions import Argon2Error

from compensation.errors import UsageError
from compensation.ledger import CLOSED, Ledger, runs
from compensation.money import format_cents, round_decimal_cents
from compensation.periods import month_index

ROLES = ("finance", "approver", "manager", "rep")
CATEGORIES = ("missing credit", "wrong amount", "wrong quota", "split or crediting", "plan question", "other")
SUBJECTS = ("month", "line", "transaction")
STATUSES = ("submitted", "in_review", "pending_information", "resolved", "closed")
SESSION_IDLE = timedelta(hours=8)
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_MAX = 5  # failed logins per email (or 4x per client address) in the window
MIN_PASSWORD = 10
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

metadata = sa.MetaData()


def _id(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, primary_key=True, autoincrement=True)


def _at(name: str = "at", nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


users = sa.Table(
    "wf_users", metadata, _id("id"),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("role", sa.String(12), nullable=False),
    sa.Column("rep_id", sa.String(200)),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    _at("created_at"),
)
sessions = sa.Table(
    "wf_sessions", metadata,
    sa.Column("key", sa.String(64), primary_key=True),  # sha256 of the cookie's session id
    sa.Column("user_id", sa.Integer, sa.ForeignKey("wf_users.id"), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    _at("created_at"), _at("seen_at"),
)
login_failures = sa.Table(
    "wf_login_failures", metadata, _id("id"),
    sa.Column("email", sa.String(254), nullable=False, index=True),
    sa.Column("client", sa.String(64), nullable=False, index=True),
    _at(),
)
submissions = sa.Table(
    "wf_submissions", metadata, _id("id"),
    sa.Column("period", sa.String(7), nullable=False, index=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # pending|approved|rejected|withdrawn
    sa.Column("submitted_by", sa.String(254), nullable=False),
    _at("submitted_at"),
    sa.Column("decided_by", sa.String(254)),
    _at("decided_at", nullable=True),
    sa.Column("reason", sa.Text),
)
inquiries = sa.Table(
    "wf_inquiries", metadata, _id("id"),
    sa.Column("rep_id", sa.String(200), nullable=False, index=True),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("subject_kind", sa.String(12), nullable=False),
    sa.Column("subject", sa.String(200)),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger),  # cents the rep says are at stake (queue order)
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("resolution", sa.String(12)),  # accepted|denied
    sa.Column("raised_by", sa.String(254), nullable=False),
    _at("created_at"), _at("updated_at"),
)
messages = sa.Table(
    "wf_inquiry_messages", metadata, _id("id"),
    sa.Column("inquiry_id", sa.Integer, sa.ForeignKey("wf_inquiries.id"), nullable=False, index=True),
    sa.Column("author", sa.String(254), nullable=False),
    sa.Column("status", sa.String(24)),  # the status this message moved the inquiry to
    sa.Column("text", sa.Text, nullable=False),
    _at(),
)
adjustments = sa.Table(
    "wf_adjustments", metadata, _id("id"),
    sa.Column("inquiry_id", sa.Integer, sa.ForeignKey("wf_inquiries.id")),
    sa.Column("rep_id", sa.String(200), nullable=False),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),  # cents
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(254), nullable=False),
    _at("created_at"),
)
acknowledgements = sa.Table(
    "wf_acknowledgements", metadata, _id("id"),
    sa.Column("rep_id", sa.String(200), nullable=False, index=True),
    sa.Column("plan_id", sa.String(200), nullable=False),
    sa.Column("plan_version", sa.String(64), nullable=False),
    sa.Column("user", sa.String(254), nullable=False),
    _at(),
)
wf_events = sa.Table(
    "wf_events", metadata, _id("id"), _at(),
    sa.Column("user", sa.String(254), nullable=False),
    sa.Column("action", sa.String(24), nullable=False),
    sa.Column("period", sa.String(7)),
    sa.Column("run_id", sa.Integer),
    sa.Column("detail", sa.Text),
)

_READY: weakref.WeakSet = weakref.WeakSet()


@dataclass(frozen=True)
class User:
    """A person who logs in; `rep_id` ties a rep or manager to their `reps` row."""

    id: int
    email: str
    role: str
    rep_id: str | None
    active: bool


@dataclass(frozen=True)
class Session:
    """A live server-side session: its user and the CSRF token every form must carry."""

    user: User
    csrf: str


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _engine(ledger: Ledger) -> sa.Engine:
    """The ledger's engine with the workflow tables created (once per engine)."""
    engine = ledger.engine
    if engine not in _READY:
        ledger._ensure_schema()
        with ledger._guard():
            metadata.create_all(engine, checkfirst=True)
        _READY.add(engine)
    return engine


def _event(conn, user: str, action: str, period: str | None = None, run_id: int | None = None,
           detail: str | None = None) -> None:
    conn.execute(wf_events.insert().values(at=_now(), user=user, action=action, period=period,
                                           run_id=run_id, detail=detail))


def _user(row) -> User:
    return User(row.id, row.email, row.role, row.rep_id, bool(row.active))


# -- users and passwords ----------------------------------------------------------------


def _hasher():
    """argon2id with the library's defaults; `ICM_PASSWORD_HASH=cheap` (tests only) uses its cheapest profile."""
    if os.environ.get("ICM_PASSWORD_HASH") == "cheap":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


def add_user(ledger: Ledger, email: str, role: str, password: str, rep_id: str | None = None,
             *, by: str = "icm users add") -> User:
    """Create a user; the password is stored as an argon2 hash only."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise UsageError(f"'{email}' is not an email address; give --email like name@example.com")
    if role not in ROLES:
        raise UsageError(f"role '{role}' is not one of {', '.join(ROLES)}; give --role")
    if role in ("rep", "manager") and not rep_id:
        raise UsageError(f"a {role} needs --rep REP_ID (their row in data/reps)")
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    with ledger._guard(), _engine(ledger).begin() as conn:
        if conn.execute(sa.select(users.c.id).where(users.c.email == email)).first():
            raise UsageError(f"user {email} exists already; `icm users list` shows every user")
        new_id = conn.execute(users.insert().values(
            email=email, role=role, rep_id=rep_id or None, password_hash=_hasher().hash(password),
            active=True, created_at=_now())).inserted_primary_key[0]
        _event(conn, by, "user added", detail=f"{email} as {role}" + (f" for {rep_id}" if rep_id else ""))
    return User(int(new_id), email, role, rep_id or None, True)


def list_users(ledger: Ledger) -> list[User]:
    """Every user, active or not, by email."""
    with ledger._guard(), _engine(ledger).connect() as conn:
        return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.email))]


def has_users(ledger: Ledger) -> bool:
    """Approvals are on once any user exists."""
    if not ledger.exists():
        return False
    with ledger._guard(), _engine(ledger).connect() as conn:
        return conn.execute(sa.select(users.c.id).limit(1)).first() is not None


def disable_user(ledger: Ledger, email: str, *, by: str = "icm users disable") -> User:
    """Switch a user off and end their sessions at once."""
    email = email.strip().lower()
    with ledger._guard(), _engine(ledger).begin() as conn:
        row = conn.execute(sa.select(users).where(users.c.email == email)).first()
        if row is None:
            raise UsageError(f"no user {email}; `icm users list` shows every user")
        conn.execute(users.update().where(users.c.id == row.id).values(active=False))
        conn.execute(sessions.delete().where(sessions.c.user_id == row.id))
        _event(conn, by, "user disabled", detail=email)
    return User(row.id, row.email, row.role, row.rep_id, False)


def login(ledger: Ledger, email: str, password: str, client: str) -> tuple[str, Session] | None:
    """Check a password and open a session: (session id for the cookie, session) or None.

    Refuses with a UsageError while the email or the client address has too many
    recent failures (throttling); every failure is recorded, a success clears them.
    """
    email = (email or "").strip().lower()[:254]
    client = (client or "unknown")[:64]
    engine = _engine(ledger)
    since = _now() - THROTTLE_WINDOW
    with ledger._guard(), engine.begin() as conn:
        count = sa.select(sa.func.count()).select_from(login_failures).where(login_failures.c.at > since)
        by_email = conn.execute(count.where(login_failures.c.email == email)).scalar()
        by_client = conn.execute(count.where(login_failures.c.client == client)).scalar()
    if by_email >= THROTTLE_MAX or by_client >= 4 * THROTTLE_MAX:
        raise UsageError(f"too many failed logins; wait {int(THROTTLE_WINDOW.total_seconds() // 60)} minutes "
                         "and try again, or ask finance to check your account")
    with ledger._guard(), engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.email == email)).first()
    hasher = _hasher()
    try:
        ok = row is not None and hasher.verify(row.password_hash, password)
    except Argon2Error:
        ok = False
    if row is None:
        hasher.hash(password)  # same cost whether the email exists or not
    if not ok or not row.active:
        with ledger._guard(), engine.begin() as conn:
            conn.execute(login_failures.insert().values(email=email, client=client, at=_now()))
        return None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with ledger._guard(), engine.begin() as conn:
        conn.execute(login_failures.delete().where(login_failures.c.email == email))
        conn.execute(sessions.insert().values(key=_key(token), user_id=row.id, csrf=csrf,
                                              created_at=_now(), seen_at=_now()))
    return token, Session(_user(row), csrf)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session(ledger: Ledger, token: str | None) -> Session | None:
    """The live session of a cookie's session id (idle ones expire), or None."""
    if not token or len(token) > 100:
        return None
    key = _key(token)
    with ledger._guard(), _engine(ledger).begin() as conn:
        row = conn.execute(sa.select(sessions, users).join(users, users.c.id == sessions.c.user_id)
                           .where(sessions.c.key == key)).first()
        if row is None:
            return None
        if not row.active or _aware(row.seen_at) < _now() - SESSION_IDLE:
            conn.execute(sessions.delete().where(sessions.c.key == key))
            return None
        conn.execute(sessions.update().where(sessions.c.key == key).values(seen_at=_now()))
    return Session(User(row.user_id, row.email, row.role, row.rep_id, True), row.csrf)


def logout(ledger: Ledger, token: str | None) -> None:
    """End a session at once."""
    if token:
        with ledger._guard(), _engine(ledger).begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.key == _key(token)))


# -- approvals ----------------------------------------------------------------------------


def submissions_of(ledger: Ledger, period: str) -> list[dict]:
    """A month's submissions, newest first."""
    with ledger._guard(), _engine(ledger).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(submissions).where(submissions.c.period == period).order_by(submissions.c.id.desc()))]


def submit(ledger: Ledger, period: str, run_id: int, *, by: User) -> int:
    """Finance puts a month's current draft run up for approval."""
    if by.role != "finance":
        raise UsageError("only a finance user submits a run for approval")
    latest = ledger.latest_run(period)
    if latest is None or latest.id != run_id or latest.status != "draft":
        raise UsageError(f"run {run_id} is not the current draft of {period}; reload the page and submit "
                         "the run it shows")
    with ledger._guard(), _engine(ledger).begin() as conn:
        pending = conn.execute(sa.select(submissions.c.id).where(
            submissions.c.period == period, submissions.c.status == "pending")).first()
        if pending:
            raise UsageError(f"{period} is already submitted for approval")
        new_id = conn.execute(submissions.insert().values(
            period=period, run_id=run_id, status="pending", submitted_by=by.email,
            submitted_at=_now())).inserted_primary_key[0]
        _event(conn, by.email, "submit", period, run_id, "submitted for approval")
    return int(new_id)


def decide(ledger: Ledger, submission_id: int, *, by: User, approve: bool, reason: str | None = None) -> dict:
    """An approver approves or rejects (with a reason) a pending submission of another user."""
    if by.role != "approver":
        raise UsageError("only an approver approves or rejects a submission")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise UsageError("a rejection needs a reason, so finance knows what to fix")
    with ledger._guard(), _engine(ledger).begin() as conn:
        row = conn.execute(sa.select(submissions).where(submissions.c.id == submission_id)).first()
        if row is None or row.status != "pending":
            raise UsageError("this submission is no longer pending (withdrawn by a re-run, or decided)")
        if row.submitted_by == by.email:
            raise UsageError("you submitted this run: a different approver must approve it "
                             "(segregation of duties)")
        status = "approved" if approve else "rejected"
        conn.execute(submissions.update().where(submissions.c.id == row.id).values(
            status=status, decided_by=by.email, decided_at=_now(), reason=reason or None))
        _event(conn, by.email, "approve" if approve else "reject", row.period, row.run_id,
               reason or "approved")
    return {**row._mapping, "status": status}


def withdraw_submissions(ledger: Ledger, period: str) -> None:
    """A re-run replaces the submitted draft: its pending submission is withdrawn."""
    if not ledger.exists():
        return
    with ledger._guard(), _engine(ledger).begin() as conn:
        pending = conn.execute(sa.select(submissions).where(
            submissions.c.period == period, submissions.c.status == "pending")).all()
        for row in pending:
            conn.execute(submissions.update().where(submissions.c.id == row.id).values(
                status="withdrawn", decided_at=_now(), reason="a new run replaced the submitted run"))
            _event(conn, "icm", "withdraw", period, row.run_id, "a re-run withdrew the submission")


def close_permission(ledger: Ledger, period: str, run_id: int, *, by: str | None, force: bool,
                     reason: str | None) -> None:
    """Once users exist, refuse to close a month whose latest run is not approved (unless forced)."""
    if not has_users(ledger):
        return
    with ledger._guard(), _engine(ledger).begin() as conn:
        approved = conn.execute(sa.select(submissions.c.id).where(
            submissions.c.period == period, submissions.c.run_id == run_id,
            submissions.c.status == "approved")).first()
        if approved:
            return
        if not force:
            raise UsageError(f"the current run of {period} (ledger run id {run_id}) is not approved: submit it "
                             "and have an approver "
                             "approve it in the web workspace (icm serve), or close anyway with "
                             "--force --by NAME --reason TEXT (recorded in the history)")
        if not (by or "").strip() or not (reason or "").strip():
            raise UsageError("a forced close needs --by NAME and --reason TEXT: both are recorded")
        _event(conn, by.strip(), "forced close", period, run_id, reason.strip())


# -- inquiries ----------------------------------------------------------------------------


def parse_amount(text: str | None, what: str = "amount") -> int | None:
    """A money amount typed by a person (`1,250.50` or `1250.5`) as cents, or None when blank."""
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{what} '{text[:40]}' is not a number; write it like 1250.00") from None
    if not value.is_finite() or abs(value) >= Decimal(10) ** 12:
        raise UsageError(f"{what} '{text[:40]}' is out of range")
    return round_decimal_cents(value)


def raise_inquiry(ledger: Ledger, *, by: User, rep_id: str, period: str, subject_kind: str,
                  subject: str | None, category: str, text: str, amount: str | None = None) -> int:
    """A rep or manager questions a line, a transaction or a whole month."""
    month_index(period)
    if subject_kind not in SUBJECTS:
        raise UsageError(f"an inquiry is about one of {', '.join(SUBJECTS)}")
    if category not in CATEGORIES:
        raise UsageError(f"pick a category: {', '.join(CATEGORIES)}")
    text = (text or "").strip()
    if not text:
        raise UsageError("say what looks wrong: the inquiry text is empty")
    cents = parse_amount(amount, "the amount at stake")
    with ledger._guard(), _engine(ledger).begin() as conn:
        new_id = conn.execute(inquiries.insert().values(
            rep_id=rep_id, period=period, subject_kind=subject_kind,
            subject=(subject or "").strip()[:200] or None, category=category, text=text[:5000],
            amount=cents, status="submitted", raised_by=by.email, created_at=_now(),
            updated_at=_now())).inserted_primary_key[0]
        _event(conn, by.email, "inquiry raised", period, None, f"inquiry {new_id} for {rep_id}: {category}")
    return int(new_id)


def inquiry_list(ledger: Ledger, rep_ids: set[str] | None = None) -> list[dict]:
    """Inquiries (of `rep_ids` only when given), open ones first, then oldest and largest first."""
    query = sa.select(inquiries)
    if rep_ids is not None:
        query = query.where(inquiries.c.rep_id.in_(sorted(rep_ids)))
    with ledger._guard(), _engine(ledger).connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for r in rows:
        r["created_at"], r["updated_at"] = _aware(r["created_at"]), _aware(r["updated_at"])
    return sorted(rows, key=lambda r: (r["status"] in ("resolved", "closed"), r["created_at"],
                                       -abs(r["amount"] or 0)))


def inquiry(ledger: Ledger, inquiry_id: int) -> tuple[dict, list[dict]] | None:
    """One inquiry and its conversation, or None."""
    with ledger._guard(), _engine(ledger).connect() as conn:
        row = conn.execute(sa.select(inquiries).where(inquiries.c.id == inquiry_id)).first()
        if row is None:
            return None
        thread = [dict(m._mapping) for m in conn.execute(
            sa.select(messages).where(messages.c.inquiry_id == inquiry_id).order_by(messages.c.id))]
        adj = conn.execute(sa.select(adjustments).where(adjustments.c.inquiry_id == inquiry_id)).first()
    out = dict(row._mapping)
    out["adjustment"] = dict(adj._mapping) if adj else None
    return out, thread


_MOVES = {  # who may move an inquiry from which status to which
    ("finance", "in_review"): {"submitted", "pending_information"},
    ("finance", "pending_information"): {"submitted", "in_review"},
    ("finance", "resolved"): {"submitted", "in_review", "pending_information"},
    ("finance", "closed"): {"resolved"},
    ("requester", "in_review"): {"pending_information"},
    ("requester", "closed"): {"resolved"},
}


def answer(ledger: Ledger, inquiry_id: int, *, by: User, text: str, status: str | None = None,
           resolution: str | None = None, adjustment: str | None = None) -> None:
    """Add a message and maybe move the inquiry; accepting may create an adjustment.

    Finance moves it through review, asks for information, resolves it (accepted or
    denied) and closes it; the requester answers a question (back to review) and may
    close a resolved inquiry. An accepted inquiry's adjustment is dated in the earliest
    month not yet closed and is paid by that month's next run.
    """
    text = (text or "").strip()
    found = inquiry(ledger, inquiry_id)
    if found is None:
        raise UsageError(f"no inquiry {inquiry_id}")
    row, _ = found
    actor = "finance" if by.role == "finance" else "requester"
    if status and status != row["status"]:
        if row["status"] not in _MOVES.get((actor, status), set()):
            raise UsageError(f"an inquiry that is {row['status'].replace('_', ' ')} cannot be moved to "
                             f"{status.replace('_', ' ')} by you")
    elif actor == "requester" and row["status"] == "pending_information":
        status = "in_review"  # the rep answered the question
    else:
        status = None
    if not text and not status:
        raise UsageError("write a message or pick a new status")
    if status == "resolved" and resolution not in ("accepted", "denied"):
        raise UsageError("resolve an inquiry as accepted or denied")
    cents = parse_amount(adjustment, "the adjustment") if status == "resolved" and resolution == "accepted" \
        else None
    if cents is not None and not text:
        raise UsageError("an adjustment needs a reason: write it in the message (the rep's statement shows it)")
    with ledger._guard(), _engine(ledger).begin() as conn:
        now = _now()
        conn.execute(messages.insert().values(inquiry_id=inquiry_id, author=by.email, status=status,
                                              text=text[:5000] or f"moved to {(status or '').replace('_', ' ')}",
                                              at=now))
        values = {"updated_at": now}
        if status:
            values["status"] = status
        if status == "resolved":
            values["resolution"] = resolution
        conn.execute(inquiries.update().where(inquiries.c.id == inquiry_id).values(**values))
        detail = f"inquiry {inquiry_id}" + (f" -> {status}" if status else ": message")
        if status == "resolved":
            detail += f" ({resolution})"
        _event(conn, by.email, "inquiry", row["period"], None, detail)
        if cents:
            period = first_open_month(conn, row["period"])
            conn.execute(adjustments.insert().values(
                inquiry_id=inquiry_id, rep_id=row["rep_id"], period=period, amount=cents,
                reason=f"inquiry {inquiry_id}: {text[:300]}", created_by=by.email, created_at=now))
            _event(conn, by.email, "adjust", period, None,
                   f"{format_cents(cents)} for {row['rep_id']} from inquiry {inquiry_id}")


def first_open_month(conn, fallback: str) -> str:
    """The earliest month not yet closed: the month after the last closed one, else `fallback`."""
    closed = [p for (p,) in conn.execute(sa.select(runs.c.period).where(runs.c.status == CLOSED).distinct())]
    if not closed:
        return fallback
    last = max(closed, key=month_index)
    year, month = int(last[:4]), int(last[5:7])
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def ledger_adjustments(ledger: Ledger) -> pd.DataFrame:
    """Adjustments accepted on inquiries: rep_id, period, amount (Decimal text), reason."""
    columns = ["rep_id", "period", "amount", "reason"]
    if not ledger.exists():
        return pd.DataFrame(columns=columns)
    with ledger._guard(), _engine(ledger).connect() as conn:
        rows = conn.execute(sa.select(adjustments).order_by(adjustments.c.id)).all()
    return pd.DataFrame([(r.rep_id, r.period, format_cents(r.amount), r.reason) for r in rows], columns=columns)


# -- plan acceptance and the audit trail --------------------------------------------------


def acknowledge(ledger: Ledger, *, by: User, plan_id: str, plan_version: str) -> None:
    """A rep accepts the plan version they read."""
    if by.role not in ("rep", "manager") or not by.rep_id:
        raise UsageError("only the rep the plan is for accepts it")
    with ledger._guard(), _engine(ledger).begin() as conn:
        conn.execute(acknowledgements.insert().values(rep_id=by.rep_id, plan_id=plan_id, plan_version=plan_version,
                                                      user=by.email, at=_now()))
        _event(conn, by.email, "plan accepted", None, None, f"{by.rep_id} accepted {plan_id} ({plan_version[:12]})")


def acknowledged(ledger: Ledger) -> dict[tuple[str, str, str], datetime]:
    """(rep_id, plan_id, plan_version) -> when it was accepted."""
    with ledger._guard(), _engine(ledger).connect() as conn:
        return {(r.rep_id, r.plan_id, r.plan_version): _aware(r.at)
                for r in conn.execute(sa.select(acknowledgements).order_by(acknowledgements.c.id))}


def events(ledger: Ledger) -> pd.DataFrame:
    """The workflow audit trail: at, user, action, period, run_id, detail (oldest first)."""
    columns = ["at", "user", "action", "period", "run_id", "detail"]
    if not ledger.exists():
        return pd.DataFrame(columns=columns)
    with ledger._guard(), _engine(ledger).connect() as conn:
        rows = conn.execute(sa.select(*[wf_events.c[c] for c in columns]).order_by(wf_events.c.id)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)  # `at` as the ledger's own history has it
