"""Outputs of icm align: names shown, numbers stored as numbers, umask, linear workbook."""

import os

import pandas as pd
import pytest
from openpyxl import load_workbook

from compensation.errors import IcmError
from territories.align import InfeasibleError, align
from territories.outputs import (
    alignment_xlsx,
    assignments_csv,
    compare_csv,
    compare_frame,
    write_alignment,
)

from .conftest import make_accounts, make_reps, scenario


@pytest.fixture
def result():
    accounts = make_accounts([50, 40, 30, 20], ["R1", "R1", "R1", "R2"],
                             lat=[45.0, 45.1, 44.0, 44.2], lon=[9.0, 9.2, 11.0, 11.3])
    accounts["name"] = ["Milano", "=HYPERLINK(\"x\")", "Verona", None]
    reps = make_reps(["R1", "R2"], lat=[45.0, 44.0], lon=[9.0, 11.0])
    return align(reps, accounts, scenario(balance={"potential": "30%"}))


def test_names_are_shown_and_spec_columns_stay_first(result):
    lines = assignments_csv(result).decode().splitlines()
    assert lines[0] == "account_id,rep_id,moved,name,previous_rep_id,km"
    assert lines[1].startswith("A0,R1,false,Milano,R1,0.0")
    wb = load_workbook(io_bytes(alignment_xlsx(result)))
    ba = wb["Before and after"]
    assert [c.value for c in ba[1]][:3] == ["account_id", "name", "region"]
    assert ba["B2"].value == "Milano"
    # text from data is never a formula
    assert ba["B3"].value == "=HYPERLINK(\"x\")" and ba["B3"].data_type == "s"


def io_bytes(data):
    import io
    return io.BytesIO(data)


def test_summary_stores_numbers_and_the_scenario(result):
    wb = load_workbook(io_bytes(alignment_xlsx(result)))
    rows = {r[0].value: r[1].value for r in wb["Summary"].iter_rows(min_row=2) if r[0].value}
    # moving A2 (30) to R2 leaves 90 / 50 around the fair 70 (+-30%: 49 to 91)
    assert isinstance(rows["objective value"], int | float) and rows["objective value"] == 30
    assert isinstance(rows["moved"], float) and rows["moved"] == pytest.approx(30 / 140)
    assert rows["scenario balance.potential"] == pytest.approx(0.3)
    assert rows["scenario objective"] == "disruption"
    assert rows["scenario solver.time_limit"] == 30


def test_compare_csv_is_fractions_throughout(result):
    text = compare_csv(compare_frame({"a": result})).decode().splitlines()
    header = text[0].split(",")
    row = dict(zip(header, text[1].split(","), strict=True))
    assert row["moved_share"] == f"{30 / 140:.6f}"
    assert row["gap"] == "0.000000" and float(row["max_deviation_potential"]) <= 0.3
    assert "moved_pct" not in header and "distance_km" not in header
    assert float(row["mean_km"]) > 0


def test_files_follow_the_umask(result, tmp_path):
    old = os.umask(0o022)
    try:
        written = write_alignment(result, tmp_path / "out")
    finally:
        os.umask(old)
    assert {p.name for p in written} == {"assignments.csv", "territories.csv", "alignment.xlsx",
                                         "map.png", "map.html"}
    assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in written)


def test_map_html_is_self_contained(result):
    page = (write_alignment(result, result_dir := __import__("pathlib").Path(
        __import__("tempfile").mkdtemp())) and (result_dir / "map.html").read_text())
    assert "<script>" in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "Milano" in page and "R1" in page
    assert '"before":' in page and '"after":' in page and '"home":' in page
    assert "<\\/" not in page or "</script>" in page
    # data cannot close the script: the payload escapes "</"
    assert page.count("</script>") == 1


def test_workbook_rows_are_appended_without_rescanning_the_sheet(monkeypatch):
    """Each row is appended; looking up the sheet's last row per row (`ws[ws.max_row]`) made it quadratic."""
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    from territories.outputs import _sheet

    lookups = []
    original = Worksheet.max_row
    monkeypatch.setattr(Worksheet, "max_row", property(lambda ws: lookups.append(1) or original.fget(ws)))
    ws = Workbook().active
    rows = [(f"A{i}", "=1+1" if i % 100 == 0 else "x", float(i)) for i in range(8000)]
    _sheet(ws, ("a", "b", "c"), rows)
    assert len(lookups) < 10
    monkeypatch.undo()
    assert ws["B2"].value == "=1+1" and ws["B2"].data_type == "s" and ws.max_row == 8001


def test_too_big_accounts_say_how_many_more():
    # 840 over 12 reps: fair share 70, at most 73.5; eight accounts of 100 cannot fit
    accounts = make_accounts([100] * 8 + [1] * 40, ["R0"] * 48)
    reps = make_reps([f"R{i}" for i in range(12)])
    with pytest.raises(InfeasibleError) as exc:
        align(reps, accounts, scenario(balance={"potential": "5%"}))
    lines = [m.message for m in exc.value.messages]
    assert sum("alone" in line for line in lines) == 5
    assert "and 3 more accounts too large for every rep they can go to: A5, A6, A7" in lines


def test_quotas_need_a_choice_after_a_comparison(tmp_path):
    from territories.workspace import current_owners

    class Ws:
        root = tmp_path
        out_dir = tmp_path / "out"
    for stem in ("fair", "near"):
        (Ws.out_dir / "alignment" / stem).mkdir(parents=True)
        pd.DataFrame({"account_id": ["A0"], "rep_id": ["R1" if stem == "fair" else "R2"],
                      "moved": ["false"]}).to_csv(
            Ws.out_dir / "alignment" / stem / "assignments.csv", index=False)
    accounts = make_accounts([10], ["R1"])
    with pytest.raises(IcmError, match="holds several alignments \\(fair, near\\); choose one "
                                       "with --alignment STEM"):
        current_owners(Ws, accounts)
    owners, basis = current_owners(Ws, accounts, "near")
    assert owners.tolist() == ["R2"] and basis == "out/alignment/near/assignments.csv"
    with pytest.raises(IcmError, match="no alignment 'far'"):
        current_owners(Ws, accounts, "far")
