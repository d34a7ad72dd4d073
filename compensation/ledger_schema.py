"""The ledger's tables: what a run, a close and the audit trail store.

Schema version 2 adds `run_snapshots` (the committed run kept whole) and `ledger_facts`
(the workspace id); version-1 ledgers gain both tables on first use. `held_flows`
(payment timing, issue 17) is created on first use of a ledger that lacks it.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 2

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

# A committed run kept whole (issue: render again without recalculating): one Parquet
# blob per frame of the RunResult, plus the plans as JSON. Dropped with superseded drafts.
run_snapshots = sa.Table(
    "run_snapshots", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("part", sa.String(40), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# Payment timing (issue 17): per run, what each held key withheld, released and forfeited
# (cents). A key's balance is the sum over closed runs; it carries across fiscal years.
held_flows = sa.Table(
    "held_flows", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("rep_id", sa.String(200), nullable=False),
    sa.Column("line", sa.String(200), nullable=False),
    sa.Column("source", sa.String(12), nullable=False),
    sa.Column("ref", sa.String(200), nullable=False),
    sa.Column("attainment_period", sa.String(10), nullable=False),
    sa.Column("due", sa.String(7), nullable=False),
    sa.Column("withheld", sa.BigInteger, nullable=False),
    sa.Column("released", sa.BigInteger, nullable=False),
    sa.Column("forfeited", sa.BigInteger, nullable=False),
)

# Small facts about the ledger itself, e.g. the id of the workspace it belongs to.
ledger_facts = sa.Table(
    "ledger_facts", metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
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
HELD_FLOW_COLUMNS = ("rep_id", "line", "source", "ref", "attainment_period", "due", "withheld", "released",
                     "forfeited")
MONEY_COLUMNS = {"withheld", "released", "forfeited",
                 "credited", "quota", "earned_to_date", "paid_to_date", "paid_before", "amount",
          "earned", "balance_before", "net", "floor", "pay", "balance_after"}
