"""territories.checks: the one home of the accounts checks, as icm validate calls it."""

import pandas as pd
import pytest

from compensation.errors import IcmError
from compensation.planfile import load_workspace
from territories.checks import validate_territory_inputs


@pytest.fixture
def ws(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "plans").mkdir()
    pd.DataFrame({"rep_id": ["R1", "R2"], "name": ["a", "b"], "plan": "ae",
                  "start_date": "2024-01-01"}).to_csv(tmp_path / "data" / "reps.csv", index=False)
    return tmp_path


def accounts(ws, rows):
    pd.DataFrame(rows, columns=["account_id", "potential", "lat", "lon", "rep_id", "locked"]
                 ).to_csv(ws / "data" / "accounts.csv", index=False)


def test_negative_potential_and_bad_latitude_are_caught(ws):
    accounts(ws, [["A1", 100, 45, 9, "R1", ""], ["A2", -5, 45, 9, "R1", ""],
                  ["A3", 10, 123, 9, "R2", ""], ["A4", 10, 45, 200, "R2", ""]])
    problems = validate_territory_inputs(load_workspace(ws))
    assert [(p.table, p.row) for p in problems] == [("accounts", 3), ("accounts", 4),
                                                    ("accounts", 5)]
    reasons = [p.reason for p in problems]
    assert "potential -5 is negative" in reasons[0]
    assert "lat 123 is not a latitude (-90 to 90)" in reasons[1]
    assert "lon 200 is not a longitude (-180 to 180)" in reasons[2]


def test_duplicates_unknown_reps_and_locked_without_owner(ws):
    accounts(ws, [["A1", 100, 45, 9, "R1", ""], ["A1", 50, 45, 9, "R2", ""],
                  ["A2", 10, 45, 9, "R9", ""], ["A3", 10, 45, 9, "", "true"]])
    problems = validate_territory_inputs(load_workspace(ws))
    assert [(p.row, p.reason) for p in problems] == [
        (2, "account_id 'A1' is given in rows 2 and 3 of accounts; keep one"),
        (3, "account_id 'A1' is given in rows 2 and 3 of accounts; keep one"),
        (4, "rep_id 'R9' is not in reps; the account is treated as unowned: add the rep to "
            "reps or correct the rep_id"),
        (5, "locked account has no rep_id to stay with; give it a rep_id or clear locked"),
    ]


def test_clean_accounts_and_no_accounts_give_nothing(ws):
    assert validate_territory_inputs(load_workspace(ws)) == []
    accounts(ws, [["A1", 100, 45, 9, "R1", ""]])
    assert validate_territory_inputs(load_workspace(ws)) == []


def test_bad_scenario_raises_with_file_and_line(ws):
    (ws / "plans" / "s.yaml").write_text("alignment:\n  balance: {potential: 5%}\n"
                                         "  max_km: -3\n")
    with pytest.raises(IcmError, match=r"plans/s.yaml:3: "):
        validate_territory_inputs(load_workspace(ws))
