"""The ledger: the system of record of runs, closes, register lines and balances.

A month is *open* while it has only draft runs and *closed* once its last run is
locked by `close`; closed months never change. Each `commit_run` stores a complete run
(register lines, the rule-8 line periods, settlement rows, the sha256 of every input)
in one transaction and supersedes the month's previous draft, whose register lines
stay for `diff` and the audit trail (its bulky line periods are dropped).
`prior_state` hands the engine what closed months paid; nothing else feeds a run.

SQLAlchemy Core with bulk inserts: a SQLite file by default, PostgreSQL through
psycopg 3 (`postgresql://` URLs are mapped to `postgresql+psycopg://`).
"""

from __future__ import annotations

import getpass
import itertools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from compensation.errors import IcmError, UsageError
from compensation.periods import month_index
from compensation.results import InputFile, PriorState, RunResult

SCHEMA_VERSION = 1
_PG_LOCK_KEY = 0x1C0_1ED6  # advisory lock id of ledger writes
CHUNK = 10_000  # rows per executemany batch: bounded memory, few round trips

DRAFT = "draft"
SUPERSEDED = "superseded"
CLOSED = "closed"

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(7), nullable=False, index=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("closed_by", sa.String(200)),
    sa.Column("icm_version", sa.String(40), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("close_fingerprint", sa.String(64)),
    sa.Column("plan_ids", sa.Text, nullable=False),
    sa.Column("total_paid", sa.BigInteger, nullable=False),
    sa.Column("reps_paid", sa.Integer, nullable=False),
    sa.Column("holds", sa.Integer, nullable=False),
    sa.Column("notices", sa.Integer, nullable=False),
)

# stage: "run" (what the run read) or "close" (the same files re-hashed at close).
run_inputs = sa.Table(
    "run_inputs", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("stage", sa.String(8), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer),
    sa.Column("sha256", sa.String(64), nullable=False),
)

register_lines = sa.Table(
    "register_lines", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("rep_id", sa.String(200), nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("line", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20)),
    sa.Column("plan_id", sa.String(200)),
    sa.Column("credited", sa.BigInteger),
    sa.Column("quota", sa.BigInteger),
    sa.Column("attainment", sa.Float),
    sa.Column("earned_to_date", sa.BigInteger),
    sa.Column("paid_to_date", sa.BigInteger),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3)),
)

line_periods = sa.Table(
    "line_periods", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("rep_id", sa.String(200), nullable=False),
    sa.Column("line", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20)),
    sa.Column("attainment_period", sa.String(10)),
    sa.Column("credited", sa.BigInteger),
    sa.Column("quota", sa.BigInteger),
    sa.Column("attainment", sa.Float),
    sa.Column("earned_to_date", sa.BigInteger),
    sa.Column("paid_before", sa.BigInteger),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("detail", sa.Text),
)

settlements = sa.Table(
    "settlements", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("rep_id", sa.String(200), nullable=False),
    sa.Column("plan_id", sa.String(200)),
    sa.Column("currency", sa.String(3)),
    sa.Column("earned", sa.BigInteger, nullable=False),
    sa.Column("balance_before", sa.BigInteger, nullable=False),
    sa.Column("net", sa.BigInteger, nullable=False),
    sa.Column("floor", sa.BigInteger, nullable=False),
    sa.Column("pay", sa.BigInteger, nullable=False),
    sa.Column("balance_after", sa.BigInteger, nullable=False),
    sa.Column("draw_active", sa.Boolean, nullable=False),
)

# The audit trail: one row per run and per close, in order.
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("action", sa.String(12), nullable=False),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
    sa.Column("icm_version", sa.String(40), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("note", sa.Text),
)

LINE_PERIOD_COLUMNS = (
    "rep_id", "line", "kind", "attainment_period", "credited", "quota", "attainment",
    "earned_to_date", "paid_before", "amount", "detail",
)
REGISTER_STORED = (
    "period", "rep_id", "name", "line", "kind", "plan_id", "credited", "quota", "attainment",
    "earned_to_date", "paid_to_date", "amount", "currency",
)
SETTLEMENT_COLUMNS = (
    "rep_id", "plan_id", "currency", "earned", "balance_before", "net", "floor", "pay",
    "balance_after", "draw_active",
)
_MONEY = {"credited", "quota", "earned_to_date", "paid_to_date", "paid_before", "amount",
          "earned", "balance_before", "net", "floor", "pay", "balance_after"}


def icm_version() -> str:
    """The installed icm version, for the audit trail."""
    try:
        from importlib.metadata import version

        return version("icm")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        return "0+unknown"


@dataclass(frozen=True)
class Audit:
    """Who acts and with what: recorded with every run and close."""

    by: str
    icm_version: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def current(cls, by: str | None = None) -> Audit:
        """`--by` when given, else the operating-system user."""
        return cls(by=by or _os_user(), icm_version=icm_version())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry (containers)
        return f"uid {os.getuid()}"


@dataclass(frozen=True)
class RunInfo:
    """One stored run (a row of `runs`)."""

    id: int
    period: str
    status: str
    created_at: datetime
    created_by: str
    closed_at: datetime | None
    closed_by: str | None
    icm_version: str
    fingerprint: str
    close_fingerprint: str | None
    plan_ids: tuple[str, ...]
    total_paid: int
    reps_paid: int
    holds: int
    notices: int


@dataclass(frozen=True)
class CloseResult:
    """What `close` did: the locked run and any input that changed since it ran."""

    run: RunInfo
    changed: tuple[str, ...] = ()  # "data/transactions.csv changed", "... is new", ...

    @property
    def inputs_changed(self) -> bool:
        """True when any input differs from what the run read."""
        return bool(self.changed)


def engine_url(url: str) -> str:
    """Map plain PostgreSQL URLs to the psycopg 3 driver that icm ships with."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _redact(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given
        return url


class Ledger:
    """The ledger behind one workspace. Every method is one short transaction."""

    def __init__(self, url: str):
        self.url = engine_url(url)
        self.shown = _redact(self.url)
        try:
            parsed = sa.engine.make_url(self.url)
        except sa_exc.ArgumentError as err:
            raise IcmError(f"ledger URL '{url}' is not valid: {err}") from None
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._sqlite_path = (
            Path(parsed.database)
            if self.is_sqlite and parsed.database not in (None, "", ":memory:") else None
        )
        kwargs: dict = {}
        if self.is_sqlite:
            # Wait a little for a SQLite file another program holds, then say so.
            kwargs["connect_args"] = {"timeout": _lock_timeout()}
        try:
            self.engine = sa.create_engine(self.url, **kwargs)
        except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as err:
            raise IcmError(f"ledger URL '{self.shown}' cannot be used: {err}") from None
        self._ready = False

    # -- schema -----------------------------------------------------------------------

    def exists(self) -> bool:
        """False for a SQLite file not created yet (read-only commands create nothing)."""
        return self._sqlite_path is None or self._sqlite_path.exists()

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self._guard():
            with self.engine.begin() as conn:
                tables = set(sa.inspect(conn).get_table_names())
                if "schema_version" in tables:
                    found = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
                    if found is not None and found > SCHEMA_VERSION:
                        raise IcmError(
                            f"ledger {self.shown} was written by a newer icm (ledger schema "
                            f"version {found}; this icm reads up to {SCHEMA_VERSION}): "
                            "upgrade icm to use it"
                        )
                metadata.create_all(conn)
                count = sa.select(sa.func.count()).select_from(schema_version)
                if conn.execute(count).scalar() == 0:
                    conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
        self._ready = True

    def _serialise(self, conn) -> None:
        """One writer at a time on a shared PostgreSQL ledger, even from two workspaces.

        (SQLite files are per workspace, serialised by the workspace lock.)
        """
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})

    def _guard(self):
        return _DatabaseErrors(self)

    def _read(self):
        """A connection for reading, or None when the ledger does not exist yet."""
        if not self.exists():
            return None
        self._ensure_schema()
        return self.engine.connect()

    def dispose(self) -> None:
        """Close the connection pool (a file handle on SQLite)."""
        self.engine.dispose()

    # -- month order (SPEC section 6) -------------------------------------------------

    def _month_status(self, conn) -> dict[str, str]:
        """Each month with runs: `closed` or `open`."""
        rows = conn.execute(sa.select(runs.c.period, runs.c.status).distinct()).all()
        status: dict[str, str] = {}
        for period, st in rows:
            if st == CLOSED:
                status[period] = CLOSED
            else:
                status.setdefault(period, "open")
        return status

    def _check_order(self, conn, period: str, action: str) -> dict[str, str]:
        idx = _month(period)
        status = self._month_status(conn)
        if status.get(period) == CLOSED:
            raise UsageError(f"{period} is closed; closed months never change "
                             "(late data and corrections flow into the next open month)")
        later = sorted(m for m in status if month_index(m) > idx)
        if later:
            raise UsageError(f"cannot {action} {period}: {later[-1]} already has runs "
                             "(months are run and closed in order)")
        open_before = sorted(m for m, st in status.items() if month_index(m) < idx and st != CLOSED)
        if open_before:
            m = open_before[0]
            raise UsageError(f"cannot {action} {period}: {m} has runs and is not closed; "
                             f"close it first (icm close --period {m})")
        return status

    def check_can_run(self, period: str) -> None:
        """Refuse a run out of month order or of a closed month (UsageError naming the month)."""
        _month(period)
        conn = self._read()
        if conn is None:
            return
        with self._guard(), conn:
            self._check_order(conn, period, "run")

    def check_can_close(self, period: str) -> None:
        """Refuse a close out of month order, of a closed month or of a month never run."""
        _month(period)
        conn = self._read()
        if conn is None:
            raise UsageError(f"{period} has no run to close; run it first "
                             f"(icm run --period {period})")
        with self._guard(), conn:
            status = self._check_order(conn, period, "close")
            if period not in status:
                raise UsageError(f"{period} has no run to close; run it first "
                                 f"(icm run --period {period})")

    # -- what the engine needs --------------------------------------------------------

    def prior_state(self, period: str) -> PriorState:
        """What closed months before `period` paid, and each rep's balance after them."""
        idx = _month(period)
        conn = self._read()
        if conn is None:
            return PriorState()
        with self._guard(), conn:
            closed = [r for r in conn.execute(
                sa.select(runs.c.id, runs.c.period).where(runs.c.status == CLOSED)).all()
                if month_index(r.period) < idx]
            if not closed:
                return PriorState()
            ids = [r.id for r in closed]
            period_of_run = {r.id: r.period for r in closed}
            lp = _frame(conn, sa.select(
                line_periods.c.run_id, line_periods.c.rep_id, line_periods.c.line,
                line_periods.c.kind, line_periods.c.attainment_period, line_periods.c.amount,
                line_periods.c.detail).where(line_periods.c.run_id.in_(ids)))
            st = _frame(conn, sa.select(
                settlements.c.run_id, settlements.c.rep_id, settlements.c.balance_after)
                .where(settlements.c.run_id.in_(ids)))
        prior = PriorState()
        paid = prior.paid
        if len(lp):
            paid = (lp.groupby(["rep_id", "line", "attainment_period"], dropna=False, sort=True)
                    ["amount"].sum().reset_index())
            paid["amount"] = paid["amount"].astype("int64")
        balances = prior.balances
        if len(st):
            st["period"] = st["run_id"].map(period_of_run)
            last = st.sort_values(["period", "run_id"]).groupby("rep_id", sort=True).tail(1)
            balances = pd.DataFrame({
                "rep_id": last["rep_id"].to_numpy(dtype=object),
                "balance": last["balance_after"].astype("int64").to_numpy(),
            }).sort_values("rep_id", ignore_index=True)
        adjustments = prior.paid_adjustments
        adj = lp[lp["kind"] == "adjustment"] if len(lp) else lp
        if len(adj):
            run_period = adj["run_id"].map(period_of_run)
            own = adj["attainment_period"].where(
                adj["attainment_period"].astype(str).str.fullmatch(r"\d{4}-\d{2}"), run_period)
            adjustments = pd.DataFrame({
                "rep_id": adj["rep_id"].to_numpy(dtype=object),
                "period": own.to_numpy(dtype=object),
                "amount": adj["amount"].astype("int64").to_numpy(),
                "reason": adj["detail"].to_numpy(dtype=object),
            }).sort_values(["period", "rep_id"], ignore_index=True, kind="stable")
        return PriorState(
            closed_months=frozenset(period_of_run.values()),
            paid=paid, balances=balances, paid_adjustments=adjustments,
        )

    # -- writing ----------------------------------------------------------------------

    def commit_run(self, result: RunResult, audit: Audit,
                   checkpoint: Callable[[str], None] | None = None) -> int:
        """Store a run of an open month, superseding its draft, in one transaction.

        `checkpoint("mid-commit")` is called inside the transaction once part of the
        rows are written (fault tests stop the process there).
        """
        period = result.period
        _month(period)
        exc = result.exceptions
        severity = exc["severity"] if len(exc) else pd.Series([], dtype=object)
        register = result.register
        self._ensure_schema()
        with self._guard(), self.engine.begin() as conn:
            self._serialise(conn)
            self._check_order(conn, period, "run")
            old = [r.id for r in conn.execute(
                sa.select(runs.c.id).where(runs.c.period == period, runs.c.status == DRAFT))]
            if old:
                conn.execute(runs.update().where(runs.c.id.in_(old)).values(status=SUPERSEDED))
                conn.execute(line_periods.delete().where(line_periods.c.run_id.in_(old)))
            paid_reps = register.groupby("rep_id")["amount"].sum() if len(register) else pd.Series()
            run_id = conn.execute(runs.insert().values(
                period=period, status=DRAFT, created_at=audit.at, created_by=audit.by,
                icm_version=audit.icm_version, fingerprint=result.fingerprint,
                plan_ids=",".join(sorted(result.plans)),
                total_paid=int(register["amount"].sum()) if len(register) else 0,
                reps_paid=int((paid_reps > 0).sum()),
                holds=(int(exc.loc[severity == "hold", "rep_id"].dropna().nunique())
                       if len(exc) else 0),
                notices=int((severity == "notice").sum()),
            ).returning(runs.c.id)).scalar_one()
            _insert_inputs(conn, run_id, "run", result.inputs)
            _bulk_insert(conn, register_lines, _with(register, REGISTER_STORED, period=period),
                         run_id, seq=True)
            if checkpoint:
                checkpoint("mid-commit")
            _bulk_insert(conn, line_periods, _with(result.line_periods, LINE_PERIOD_COLUMNS),
                         run_id)
            _bulk_insert(conn, settlements, _with(result.settlement, SETTLEMENT_COLUMNS), run_id)
            conn.execute(events.insert().values(
                at=audit.at, action="run", period=period, run_id=run_id, by=audit.by,
                icm_version=audit.icm_version, fingerprint=result.fingerprint,
                note=f"superseded run {', '.join(map(str, old))}" if old else None,
            ))
        return int(run_id)

    def close(self, period: str, audit: Audit,
              inputs_now: Iterable[InputFile] | None = None) -> CloseResult:
        """Lock the month's last run. `inputs_now`: the inputs re-hashed at close.

        When they differ from what the run read, the close still happens (the run is
        what was reviewed) and both fingerprints are recorded, with what changed.
        """
        _month(period)
        self.check_can_close(period)
        with self._guard(), self.engine.begin() as conn:
            self._serialise(conn)
            self._check_order(conn, period, "close")
            row = conn.execute(sa.select(runs).where(
                runs.c.period == period, runs.c.status == DRAFT).order_by(runs.c.id.desc())).first()
            if row is None:
                raise UsageError(f"{period} has no run to close; run it first "
                                 f"(icm run --period {period})")
            ran = {r.path: r.sha256 for r in conn.execute(sa.select(run_inputs).where(
                run_inputs.c.run_id == row.id, run_inputs.c.stage == "run"))}
            now_files = tuple(inputs_now) if inputs_now is not None else None
            changed: tuple[str, ...] = ()
            close_fp = row.fingerprint
            if now_files is not None:
                now = {f.path: f.sha256 for f in now_files}
                changed = _changes(ran, now)
                close_fp = _fingerprint(now)
                _insert_inputs(conn, row.id, "close", now_files)
            conn.execute(runs.update().where(runs.c.id == row.id).values(
                status=CLOSED, closed_at=audit.at, closed_by=audit.by,
                close_fingerprint=close_fp))
            note = ("inputs changed since the run: " + "; ".join(changed)) if changed else None
            conn.execute(events.insert().values(
                at=audit.at, action="close", period=period, run_id=row.id, by=audit.by,
                icm_version=audit.icm_version, fingerprint=close_fp, note=note))
        return CloseResult(run=self.run(row.id), changed=changed)

    # -- reading ----------------------------------------------------------------------

    def runs(self, period: str | None = None) -> list[RunInfo]:
        """Stored runs in order, optionally of one month."""
        conn = self._read()
        if conn is None:
            return []
        query = sa.select(runs).order_by(runs.c.id)
        if period is not None:
            query = query.where(runs.c.period == period)
        with self._guard(), conn:
            return [_run_info(r) for r in conn.execute(query)]

    def run(self, run_id: int) -> RunInfo:
        """One stored run by id."""
        conn = self._read()
        with self._guard(), conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise UsageError(f"the ledger has no run {run_id}")
        return _run_info(row)

    def latest_run(self, period: str | None = None) -> RunInfo | None:
        """The month's current run (its closed run or newest draft), or the newest run."""
        found = self.runs(period)
        live = [r for r in found if r.status != SUPERSEDED]
        return (live or found or [None])[-1]

    def history(self) -> pd.DataFrame:
        """The audit trail: every run and close with who, when, what it read and paid."""
        columns = ["at", "action", "period", "run_id", "status", "by", "icm_version",
                   "fingerprint", "plan_ids", "total_paid", "reps_paid", "holds", "note"]
        conn = self._read()
        if conn is None:
            return pd.DataFrame(columns=columns)
        query = (sa.select(events.c.at, events.c.action, events.c.period, events.c.run_id,
                           runs.c.status, events.c.by, events.c.icm_version,
                           events.c.fingerprint, runs.c.plan_ids, runs.c.total_paid,
                           runs.c.reps_paid, runs.c.holds, events.c.note)
                 .join(runs, runs.c.id == events.c.run_id).order_by(events.c.id))
        with self._guard(), conn:
            return _frame(conn, query)[columns]

    def inputs(self, run_id: int, stage: str = "run") -> tuple[InputFile, ...]:
        """The files a run read (`stage="run"`) or found at its close (`"close"`)."""
        conn = self._read()
        with self._guard(), conn:
            rows = conn.execute(sa.select(run_inputs).where(
                run_inputs.c.run_id == run_id, run_inputs.c.stage == stage)
                .order_by(run_inputs.c.path)).all()
        return tuple(InputFile(r.name, r.path, r.rows or 0, r.sha256) for r in rows)

    def lines(self, period: str, run_id: int | None = None) -> pd.DataFrame:
        """Register lines of a run (default: the month's current run), in register order."""
        run_id = self._pick(period, run_id)
        query = sa.select(*[register_lines.c[c] for c in REGISTER_STORED])
        if run_id is None:
            return _empty(query)
        conn = self._read()
        with self._guard(), conn:
            return _frame(conn, query.where(register_lines.c.run_id == run_id)
                          .order_by(register_lines.c.seq))

    def line_periods(self, period: str, run_id: int | None = None) -> pd.DataFrame:
        """Rule-8 detail of a run (kept for drafts and closed runs, not superseded ones)."""
        run_id = self._pick(period, run_id)
        query = sa.select(*[line_periods.c[c] for c in LINE_PERIOD_COLUMNS])
        if run_id is None:
            return _empty(query)
        conn = self._read()
        with self._guard(), conn:
            return _frame(conn, query.where(line_periods.c.run_id == run_id).order_by(
                line_periods.c.rep_id, line_periods.c.line, line_periods.c.attainment_period))

    def settlement(self, period: str, run_id: int | None = None) -> pd.DataFrame:
        """Settlement rows (balances, draws) of a run (default: the month's current run)."""
        run_id = self._pick(period, run_id)
        query = sa.select(*[settlements.c[c] for c in SETTLEMENT_COLUMNS])
        if run_id is None:
            return _empty(query)
        conn = self._read()
        with self._guard(), conn:
            return _frame(conn, query.where(settlements.c.run_id == run_id)
                          .order_by(settlements.c.rep_id))

    def _pick(self, period: str, run_id: int | None) -> int | None:
        if run_id is not None:
            return run_id
        latest = self.latest_run(period)
        return latest.id if latest else None


class _DatabaseErrors:
    """Turn database failures into one clear message (exit 2) instead of a traceback."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if err is None or not isinstance(err, sa_exc.DBAPIError | sa_exc.OperationalError):
            return False
        text = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        shown = self.ledger.shown
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            message = (f"ledger {shown} is locked by another program ({text}); "
                       "close it (e.g. a DB browser) and try again")
        elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
            message = (f"ledger {shown} is not a readable SQLite database ({text}); restore it "
                       "from a backup, or point `ledger` in icm.yaml at another file")
        elif isinstance(err, sa_exc.OperationalError | sa_exc.InterfaceError):
            message = f"cannot use ledger {shown}: {text}"
        else:
            return False
        raise IcmError(message) from None


def _lock_timeout() -> float:
    try:
        return max(0.0, float(os.environ.get("ICM_LOCK_TIMEOUT", "10")))
    except ValueError:
        return 10.0


def _month(period: str) -> int:
    try:
        return month_index(period)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _with(frame: pd.DataFrame, columns: tuple[str, ...], **constants) -> pd.DataFrame:
    """The stored columns of a frame; missing optional columns become blank."""
    out = {}
    for col in columns:
        if col in constants:
            out[col] = constants[col]
        elif col in frame.columns:
            out[col] = frame[col]
        else:
            out[col] = None
    return pd.DataFrame(out, index=frame.index)


def _native(series: pd.Series, column: str) -> list:
    """A column as Python values for the driver: NA -> None, cents -> int (vectorised)."""
    mask = series.isna()
    if column in _MONEY:
        values = series.astype("Int64").astype(object)
    elif column == "attainment":
        values = series.astype("float64").astype(object)
    elif column == "draw_active":
        return series.fillna(False).astype(bool).tolist()
    else:
        values = series.astype(object)
        text = ~mask & ~values.map(type).eq(str)
        if text.any():
            values = values.where(~text, values.astype(str))
    return values.where(~mask, None).tolist()


def _bulk_insert(conn, table: sa.Table, frame: pd.DataFrame, run_id: int,
                 seq: bool = False) -> None:
    """Insert a frame straight through the driver: COPY on PostgreSQL, executemany on SQLite.

    SQLAlchemy's per-row parameter handling costs more than the database itself at
    100k+ rows, so the rows go to the DBAPI as tuples, in chunks.
    """
    n = len(frame)
    if n == 0:
        return
    columns = {"run_id": [run_id] * n}
    if seq:
        columns["seq"] = list(range(n))
    columns.update({c: _native(frame[c], c) for c in frame.columns})
    names = list(columns)
    rows = zip(*(columns[k] for k in names), strict=True)
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    cols = ", ".join(quote(c) for c in names)
    dbapi = conn.connection.dbapi_connection
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        with dbapi.cursor() as cur, cur.copy(
                f"COPY {quote(table.name)} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(names))
    sql = f"INSERT INTO {quote(table.name)} ({cols}) VALUES ({marks})"
    cur = dbapi.cursor()
    try:
        while True:
            chunk = list(itertools.islice(rows, CHUNK))
            if not chunk:
                break
            cur.executemany(sql, chunk)
    finally:
        cur.close()


def _insert_inputs(conn, run_id: int, stage: str, files: Iterable[InputFile]) -> None:
    rows = [{"run_id": run_id, "stage": stage, "name": f.name, "path": f.path,
             "rows": int(f.rows) if f.rows is not None else None, "sha256": f.sha256}
            for f in files]
    if rows:
        conn.execute(run_inputs.insert(), rows)


def _fingerprint(files: dict[str, str]) -> str:
    """Same digest as `RunResult.fingerprint`, from path -> sha256."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(f"{path}\0{files[path]}\n".encode())
    return digest.hexdigest()


def _changes(ran: dict[str, str], now: dict[str, str]) -> tuple[str, ...]:
    out = []
    for path in sorted(set(ran) | set(now)):
        if path not in now:
            out.append(f"{path} was removed")
        elif path not in ran:
            out.append(f"{path} is new")
        elif ran[path] != now[path]:
            out.append(f"{path} changed (sha256 {ran[path][:12]} at run, {now[path][:12]} now)")
    return tuple(out)


def _frame(conn, query) -> pd.DataFrame:
    result = conn.execute(query)
    frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for col in frame.columns:
        if col in _MONEY:
            frame[col] = pd.array(frame[col].tolist(), dtype="Int64") if len(frame) else \
                pd.Series([], dtype="Int64")
        elif col == "attainment":
            frame[col] = frame[col].astype("float64")
    return frame


def _empty(query) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series([], dtype="Int64" if c.name in _MONEY else object)
                         for c in query.selected_columns})


def _run_info(row) -> RunInfo:
    return RunInfo(
        id=row.id, period=row.period, status=row.status, created_at=row.created_at,
        created_by=row.created_by, closed_at=row.closed_at, closed_by=row.closed_by,
        icm_version=row.icm_version, fingerprint=row.fingerprint,
        close_fingerprint=row.close_fingerprint,
        plan_ids=tuple(p for p in row.plan_ids.split(",") if p),
        total_paid=int(row.total_paid), reps_paid=int(row.reps_paid), holds=int(row.holds),
        notices=int(row.notices),
    )
