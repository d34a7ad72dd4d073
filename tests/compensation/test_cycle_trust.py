"""The month's guarantees a finance team relies on, on the real engine (issue 15 defects).

Each test failed before its fix: a false "inputs changed" warning on every close, a
garbled heal that dropped the statements, an internal error on a read-only or full
disk, a forgotten in-memory ledger, two workspaces silently sharing one ledger, and
statements deleted by a re-run without a word.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compensation import cycle
from compensation.errors import IcmError, UsageError
from reports import publish
from reports.publish import Publisher

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "06_cancellation_carry_forward"


@pytest.fixture
def acme(tmp_path, monkeypatch):
    monkeypatch.setenv("ICM_LOCK_TIMEOUT", "0.2")
    monkeypatch.delenv("ICM_TEST_PAUSE_AT", raising=False)
    root = tmp_path / "acme"
    shutil.copytree(GOLDEN, root, ignore=shutil.ignore_patterns("expected", "steps.yaml"))
    return root


def test_close_does_not_warn_when_nothing_changed_even_with_territory_tables(acme):
    (acme / "data" / "accounts.csv").write_text("account_id,name,region,potential,lat,lon,current_rep\n")
    cycle.run(acme, "2026-02", publisher=Publisher())
    closed = cycle.close(acme, "2026-02", publisher=Publisher())
    assert closed.warnings == ()
    assert cycle.diff(acme, "2026-02").notes == ()
    assert cycle.history(acme)["note"].isna().all()


def test_a_failed_render_is_healed_with_its_statements_and_said_once(acme, monkeypatch):
    cycle.run(acme, "2026-02", publisher=Publisher(statements=True))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(acme / "out"))

    monkeypatch.setattr(publish, "render_run", disk_full)
    with pytest.raises(IcmError, match=r"run 2 of 2026-02 is committed, but writing out/2026-02 failed: No space "
                                       r"left on device \(.*out\)"):
        cycle.run(acme, "2026-02", publisher=Publisher(statements=True))
    monkeypatch.undo()
    closed = cycle.close(acme, "2026-02", publisher=Publisher())
    assert closed.notes == ("re-rendered out/2026-02 (files and statements) from run 2 of 2026-02, kept in the "
                            "ledger: an earlier command stopped before its files were in place",)
    assert (acme / "out" / "2026-02" / "statements" / "A01.pdf").is_file()
    assert publish.rendered_run(cycle.open_workspace(acme), "2026-02") == closed.run_id


def test_a_read_only_workspace_is_a_clear_error_and_commits_nothing(acme, monkeypatch):
    def read_only(root, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(root / ".icm.lock"))

    monkeypatch.setattr(cycle, "workspace_lock", read_only)
    with pytest.raises(IcmError, match=r"a run of 2026-02 failed: Permission denied \(.*\.icm\.lock\)\. "
                                       r"Nothing more was committed than the ledger shows"):
        cycle.run(acme, "2026-02", publisher=Publisher())
    monkeypatch.undo()
    assert cycle.history(acme).empty


def test_an_in_memory_ledger_is_refused_in_icm_yaml(acme):
    (acme / "icm.yaml").write_text('ledger: "sqlite://"\n')
    with pytest.raises(IcmError, match=r"icm.yaml:1: .*in-memory ledger forgets every run"):
        cycle.run(acme, "2026-02")


def test_two_workspaces_cannot_share_one_ledger(acme, tmp_path):
    shared = tmp_path / "shared.db"
    other = tmp_path / "other"
    shutil.copytree(acme, other)
    for ws in (acme, other):
        (ws / "icm.yaml").write_text(f"ledger: sqlite:///{shared}\n")
    cycle.run(acme, "2026-02")
    mine = (acme / ".icm-workspace-id").read_text().strip()
    with pytest.raises(UsageError, match=rf"ledger .* belongs to workspace {mine}.*adopt it by writing {mine}"):
        cycle.run(other, "2026-02")
    (other / ".icm-workspace-id").write_text("another-id\n")
    with pytest.raises(UsageError, match="belongs to another workspace"):
        cycle.run(other, "2026-02")
    # a move keeps the id with the folder: the moved workspace is still the ledger's own
    moved = tmp_path / "moved"
    acme.rename(moved)
    assert cycle.run(moved, "2026-02").run.run_number == 2


def test_rerun_without_statements_says_the_old_pdfs_are_gone(acme):
    cycle.run(acme, "2026-02", publisher=Publisher(statements=True))
    outcome = cycle.run(acme, "2026-02", publisher=Publisher())
    (note,) = outcome.notes
    assert note.startswith("out/2026-02 no longer has the 1 PDF statements of the previous run")
    assert note in cycle.history(acme)["note"].iloc[-1]


def test_statements_render_the_committed_run_after_inputs_changed(acme, monkeypatch):
    cycle.run(acme, "2026-02", publisher=Publisher())
    tx = acme / "data" / "transactions.csv"
    tx.write_text(tx.read_text() + "T9,2026-02-20,1000.00,EUR,A01,new,\n")
    kept = cycle.committed_run(acme, "2026-02")
    assert cycle.inputs_changed_since(acme, kept)[0].startswith("data/transactions.csv changed")
    assert kept.result.total_paid() == 2500_00  # what was committed, not today's 2,550.00
