"""The Dask engine's reading: CSV slices cut at record ends, a folder of Parquet files, the CLI options.

Each case runs the same month on both engines; payouts and payroll must be identical,
and row problems must name the rows the pandas engine names (for a folder of Parquet
files: the file and the row within it).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from compensation.engines import dask_engine
from icm.cli import app
from tests import cyclekit
from tests.scale.conftest import use_dask

PLAN = Path(__file__).resolve().parents[1] / "golden" / "06_cancellation_carry_forward" / "plans" / "flat.yaml"
HEADER = ["txn_id", "date", "amount", "currency", "rep_id", "type", "product", "reverses"]


def workspace(root: Path, rows: list[list[str]] | None) -> Path:
    (root / "plans").mkdir(parents=True)
    (root / "data").mkdir()
    shutil.copy(PLAN, root / "plans" / "flat.yaml")
    (root / "data" / "reps.csv").write_text("rep_id,name,plan,start_date,end_date\n"
                                            "A01,Ada Rossi,flat-2026,2026-01-01,\nA02,Bea Neri,flat-2026,2026-01-01,\n")
    if rows is not None:
        with open(root / "data" / "transactions.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows)
    return root


def files(ws: Path, period: str) -> dict[str, str]:
    return {name: (ws / "out" / period / name).read_text() for name in ("payouts.csv", "payroll.csv", "exceptions.csv")}


def rows_with_traps() -> list[list[str]]:
    """Many small rows: a quoted product spanning lines, bad cells, a duplicate id far apart, a cancellation."""
    rows = [["T1", "2026-02-10", "50000.00", "EUR", "A01", "new", "Suite\n(3 lines,\nquoted)", ""]]
    for i in range(2, 60):
        rows.append([f"T{i}", f"2026-03-{1 + i % 28:02d}", f"{100 * i}.25", "EUR", "A0" + str(1 + i % 2), "new",
                     "plain" if i % 7 else 'say "hi",\nthen', ""])
    rows[20][2] = "12,5x"  # a bad amount
    rows[30][0] = "T5"  # T5 again: both rows are left out
    rows.append(["C1", "2026-03-20", "-50000.00", "EUR", "A01", "cancellation", "", "T1"])
    return rows


def test_csv_slices_cut_at_record_ends_give_the_pandas_figures_and_rows(tmp_path, dask_scheduler, monkeypatch):
    rows = rows_with_traps()
    pandas_ws = workspace(tmp_path / "pandas", rows)
    dask_ws = workspace(tmp_path / "dask", rows)
    use_dask(dask_ws, dask_scheduler)
    monkeypatch.setattr(dask_engine, "PART_BYTES", 150)  # a slice every few rows, some inside quoted newlines
    parts, _ = dask_engine.transaction_parts(cyclekit.cycle.open_workspace(dask_ws))
    assert len(parts) > 10
    assert cyclekit.run(pandas_ws, "2026-03").exit_code == 0
    assert cyclekit.run(dask_ws, "2026-03").exit_code == 0
    expected = files(pandas_ws, "2026-03")
    assert files(dask_ws, "2026-03") == expected
    # The run records the same input files (rows and sha256), so closing it compares like for like.
    recorded = [cyclekit.cycle.committed_run(w, "2026-03").result.inputs for w in (pandas_ws, dask_ws)]
    assert recorded[0] == recorded[1]
    # The problems are there, on the rows a spreadsheet shows (header row 1, one row per record).
    assert ",transactions,22,T21," in expected["exceptions.csv"]
    assert expected["exceptions.csv"].count(",T5,") == 2


def test_a_folder_of_parquet_files_names_the_file_and_its_row(tmp_path, dask_scheduler):
    rows = rows_with_traps()
    pandas_ws = workspace(tmp_path / "pandas", rows)
    dask_ws = workspace(tmp_path / "dask", None)
    folder = dask_ws / "data" / "transactions"
    folder.mkdir()
    for name, part in (("part-a.parquet", rows[:25]), ("part-b.parquet", rows[25:])):
        columns = {h: pa.array([r[i] or None for r in part], pa.string()) for i, h in enumerate(HEADER)}
        pq.write_table(pa.table(columns), folder / name, row_group_size=7)
    use_dask(dask_ws, dask_scheduler)
    assert cyclekit.run(pandas_ws, "2026-03").exit_code == 0
    assert cyclekit.run(dask_ws, "2026-03").exit_code == 0
    want, got = files(pandas_ws, "2026-03"), files(dask_ws, "2026-03")
    assert got["payouts.csv"] == want["payouts.csv"]
    assert got["payroll.csv"] == want["payroll.csv"]
    # Row 22 of the whole is row 22 of part-a; row 32 (the second T5) is row 7 of part-b.
    assert ",transactions/part-a.parquet,22,T21," in got["exceptions.csv"]
    assert ",transactions/part-a.parquet,6,T5," in got["exceptions.csv"]
    assert ",transactions/part-b.parquet,7,T5," in got["exceptions.csv"]
    # The cancellation in part-b reversed T1 of part-a: A01 is paid only for March's own deals.
    assert (dask_ws / "out" / "credits" / "2026-03").is_dir()


def test_icm_run_takes_engine_and_scheduler(tmp_path, dask_scheduler):
    ws = workspace(tmp_path / "ws", rows_with_traps()[:10])
    done = CliRunner().invoke(app, ["run", str(ws), "--period", "2026-03", "--engine", "dask",
                                    "--scheduler", dask_scheduler])
    assert done.exit_code == 0, done.output
    assert any((ws / "out" / "credits" / "2026-03").glob("part-*.parquet"))
    bad = CliRunner().invoke(app, ["run", str(ws), "--period", "2026-03", "--engine", "spark"])
    assert bad.exit_code == 2
    assert "choose one of pandas, dask" in bad.output


def test_compensation_imports_without_dask():
    import subprocess
    import sys

    code = ("import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None; "
            "import compensation.cycle, compensation.pipeline, compensation.engines; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


def test_an_unreachable_scheduler_is_one_clear_message(tmp_path):
    import dask

    scheduler = "tcp://127.0.0.1:1"
    ws = workspace(tmp_path / "ws", rows_with_traps()[:5])
    use_dask(ws, scheduler)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = cyclekit.run(ws, "2026-03")
    assert result.exit_code == 2
    assert f"cannot reach the Dask scheduler at {scheduler}" in result.output


def test_a_dry_re_run_on_dask_leaves_the_kept_credit_detail_alone(tmp_path, dask_scheduler):
    """`diff` of a closed month and `dry_run` recalculate on the workers but keep nothing they wrote."""
    from compensation import cycle

    ws = workspace(tmp_path / "ws", rows_with_traps()[:10])
    use_dask(ws, dask_scheduler)
    cycle.run(ws, "2026-03")
    cycle.close(ws, "2026-03")
    kept = ws / "out" / "credits" / "2026-03"
    before = {p.name: p.read_bytes() for p in kept.glob("part-*.parquet")}
    assert before
    # Today's data pays A01 more for March: the closed run's files must not follow.
    with open(ws / "data" / "transactions.csv", "a", newline="") as handle:
        csv.writer(handle).writerow(["T99", "2026-03-25", "1000.00", "EUR", "A01", "new", "", ""])
    outcome = cycle.diff(ws, "2026-03")
    assert outcome.notes == ("the inputs changed since the close",)
    assert outcome.total_after - outcome.total_before == 5000  # the flat plan's 5% of 1,000.00, in cents
    assert cycle.dry_run(ws, "2026-03").register["amount"].sum() == outcome.total_after
    assert {p.name: p.read_bytes() for p in kept.glob("part-*.parquet")} == before
    assert sorted(p.name for p in kept.parent.iterdir()) == ["2026-03"]  # no scratch folder left behind
