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
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from compensation.digest import fingerprint
from compensation.errors import IcmError, UsageError
from compensation.ledger_io import bulk_insert, changes, cheap_blob_toast, empty, frame, insert_inputs, with_columns
from compensation.ledger_schema import (
    CLOSED,
    DRAFT,
    HELD_FLOW_COLUMNS,
    LINE_PERIOD_COLUMNS,
    REGISTER_STORED,
    SCHEMA_VERSION,
    SETTLEMENT_COLUMNS,
    SUPERSEDED,
    events,
    held_flows,
    ledger_facts,
    line_periods,
    metadata,
    register_lines,
    run_inputs,
    run_snapshots,
    runs,
    schema_version,
    settlements,
)
from compensation.periods import month_index
from compensation.results import InputFile, RunResult

_PG_LOCK_KEY = 0x1C0_1ED6  # advisory lock id of ledger writes


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


@dataclass(frozen=True)
class ClosedRows:
    """Stored rows of closed runs, for the engine's prior state.

    line_periods: run_id, rep_id, line, kind, attainment_period, amount, detail;
    settlements: run_id, rep_id, pay, balance_after;
    held: run_id and HELD_FLOW_COLUMNS (payment timing, issue 17).
    """

    period_of_run: dict[int, str] = field(default_factory=dict)
    line_periods: pd.DataFrame = field(default_factory=pd.DataFrame)
    settlements: pd.DataFrame = field(default_factory=pd.DataFrame)
    held: pd.DataFrame = field(default_factory=pd.DataFrame)


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
                             "close it first")
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
            raise UsageError(f"{period} has no run to close; run it first")
        with self._guard(), conn:
            status = self._check_order(conn, period, "close")
            if period not in status:
                raise UsageError(f"{period} has no run to close; run it first")

    # -- what the engine needs --------------------------------------------------------

    def closed_rows(self, period: str) -> ClosedRows:
        """The stored rows of every closed run before `period`: what the engine trues up against."""
        idx = _month(period)
        conn = self._read()
        if conn is None:
            return ClosedRows()
        with self._guard(), conn:
            closed = [r for r in conn.execute(
                sa.select(runs.c.id, runs.c.period).where(runs.c.status == CLOSED)).all()
                if month_index(r.period) < idx]
            if not closed:
                return ClosedRows()
            ids = [r.id for r in closed]
            lp = frame(conn, sa.select(
                line_periods.c.run_id, line_periods.c.rep_id, line_periods.c.line,
                line_periods.c.kind, line_periods.c.attainment_period, line_periods.c.amount,
                line_periods.c.detail).where(line_periods.c.run_id.in_(ids)))
            st = frame(conn, sa.select(
                settlements.c.run_id, settlements.c.rep_id, settlements.c.pay, settlements.c.balance_after)
                .where(settlements.c.run_id.in_(ids)))
            held = frame(conn, sa.select(held_flows).where(held_flows.c.run_id.in_(ids)))
        return ClosedRows(period_of_run={r.id: r.period for r in closed}, line_periods=lp, settlements=st,
                          held=held)

    # -- writing ----------------------------------------------------------------------

    def commit_run(self, result: RunResult, audit: Audit,
                   checkpoint: Callable[[str], None] | None = None,
                   snapshot: Mapping[str, bytes] | None = None) -> int:
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
                conn.execute(held_flows.delete().where(held_flows.c.run_id.in_(old)))
                conn.execute(run_snapshots.delete().where(run_snapshots.c.run_id.in_(old)))
            run_id = conn.execute(runs.insert().values(
                period=period, status=DRAFT, created_at=audit.at, created_by=audit.by,
                icm_version=audit.icm_version, fingerprint=result.fingerprint,
                plan_ids=",".join(sorted(result.plans)),
                total_paid=int(register["amount"].sum()) if len(register) else 0,
                reps_paid=result.reps_paid(),
                holds=(int(exc.loc[severity == "hold", "rep_id"].dropna().nunique())
                       if len(exc) else 0),
                notices=int((severity == "notice").sum()),
            ).returning(runs.c.id)).scalar_one()
            insert_inputs(conn, run_id, "run", result.inputs)
            bulk_insert(conn, register_lines, with_columns(register, REGISTER_STORED, period=period),
                         run_id, seq=True)
            if checkpoint:
                checkpoint("mid-commit")
            bulk_insert(conn, line_periods, with_columns(result.line_periods, LINE_PERIOD_COLUMNS),
                         run_id)
            bulk_insert(conn, settlements, with_columns(result.settlement, SETTLEMENT_COLUMNS), run_id)
            moved = result.timing[(result.timing[["withheld", "released", "forfeited"]] != 0).any(axis=1)]
            bulk_insert(conn, held_flows, with_columns(moved, HELD_FLOW_COLUMNS), run_id)
            cheap_blob_toast(conn)
            for part, data in (snapshot or {}).items():
                conn.execute(run_snapshots.insert().values(run_id=run_id, part=part, data=data))
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
                raise UsageError(f"{period} has no run to close; run it first")
            ran = {r.path: r.sha256 for r in conn.execute(sa.select(run_inputs).where(
                run_inputs.c.run_id == row.id, run_inputs.c.stage == "run"))}
            now_files = tuple(inputs_now) if inputs_now is not None else None
            changed: tuple[str, ...] = ()
            close_fp = row.fingerprint
            if now_files is not None:
                now = {f.path: f.sha256 for f in now_files}
                changed = changes(ran, now)
                close_fp = fingerprint(now)
                insert_inputs(conn, row.id, "close", now_files)
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
            return frame(conn, query)[columns]

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
            return empty(query)
        conn = self._read()
        with self._guard(), conn:
            return frame(conn, query.where(register_lines.c.run_id == run_id)
                          .order_by(register_lines.c.seq))

    def line_periods(self, period: str, run_id: int | None = None) -> pd.DataFrame:
        """Rule-8 detail of a run (kept for drafts and closed runs, not superseded ones)."""
        run_id = self._pick(period, run_id)
        query = sa.select(*[line_periods.c[c] for c in LINE_PERIOD_COLUMNS])
        if run_id is None:
            return empty(query)
        conn = self._read()
        with self._guard(), conn:
            return frame(conn, query.where(line_periods.c.run_id == run_id).order_by(
                line_periods.c.rep_id, line_periods.c.line, line_periods.c.attainment_period))

    def settlement(self, period: str, run_id: int | None = None) -> pd.DataFrame:
        """Settlement rows (balances, draws) of a run (default: the month's current run)."""
        run_id = self._pick(period, run_id)
        query = sa.select(*[settlements.c[c] for c in SETTLEMENT_COLUMNS])
        if run_id is None:
            return empty(query)
        conn = self._read()
        with self._guard(), conn:
            return frame(conn, query.where(settlements.c.run_id == run_id)
                          .order_by(settlements.c.rep_id))

    def snapshot(self, run_id: int) -> dict[str, bytes]:
        """The parts a committed run was kept as (empty for runs stored before schema 2)."""
        conn = self._read()
        if conn is None:
            return {}
        with self._guard(), conn:
            rows = conn.execute(sa.select(run_snapshots.c.part, run_snapshots.c.data)
                                .where(run_snapshots.c.run_id == run_id)).all()
        return {r.part: bytes(r.data) for r in rows}

    def add_note(self, run_id: int, note: str) -> None:
        """Append a note to a run's audit event (e.g. what its rendering left out)."""
        self._ensure_schema()
        with self._guard(), self.engine.begin() as conn:
            row = conn.execute(sa.select(events.c.id, events.c.note).where(
                events.c.run_id == run_id, events.c.action == "run").order_by(events.c.id.desc())).first()
            if row is not None:
                text = f"{row.note}; {note}" if row.note else note
                conn.execute(events.update().where(events.c.id == row.id).values(note=text))

    def is_local_to(self, folder: Path) -> bool:
        """True for a SQLite file inside `folder`: a ledger that moves and restores with it."""
        if self._sqlite_path is None:
            return False
        try:
            self._sqlite_path.resolve().relative_to(Path(folder).resolve())
        except ValueError:
            return False
        return True

    def fact(self, key: str) -> str | None:
        """A stored fact about the ledger (e.g. `workspace_id`), or None."""
        conn = self._read()
        if conn is None:
            return None
        with self._guard(), conn:
            return conn.execute(sa.select(ledger_facts.c.value).where(ledger_facts.c.key == key)).scalar()

    def set_fact(self, key: str, value: str) -> None:
        """Record a fact once; an existing value is kept (the caller compares first)."""
        self._ensure_schema()
        with self._guard(), self.engine.begin() as conn:
            if conn.execute(sa.select(ledger_facts.c.value).where(ledger_facts.c.key == key)).scalar() is None:
                conn.execute(ledger_facts.insert().values(key=key, value=value))

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
