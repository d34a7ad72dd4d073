"""compensation.workspace: `icm init` makes a workspace whose plans load."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from compensation.errors import IcmError
from compensation.planfile import load_plans, load_workspace
from compensation.scaffold import init_workspace, template_plans
from compensation.settings import Settings


def test_init_creates_a_workspace_whose_plans_load(tmp_path):
    target = tmp_path / "acme"
    created = init_workspace(target)
    assert [p.relative_to(target).as_posix() for p in created] == [
        "icm.yaml", "plans/ae.yaml", "plans/sdr.yaml",
        "data/reps.csv", "data/transactions.csv", "data/quotas.csv",
        "data/credits.csv", "data/fx.csv", "data/adjustments.csv",
    ]
    assert (target / "out").is_dir() and not any((target / "out").iterdir())
    ws = load_workspace(target)
    assert ws.settings == Settings()
    plans = load_plans(ws)
    assert list(plans.plans) == ["ae-2026", "sdr-2026"]
    ae = plans.plans["ae-2026"]
    assert [c.id for c in ae.components] == ["new_business", "renewals"]
    assert ae.components[0].commission.method == "retroactive"
    assert ae.components[1].gate.component == "new_business"
    assert [b.id for b in ae.bonuses] == ["q_kicker"]
    assert [s.id for s in ae.spifs] == ["platform_spif"]
    assert ae.draw.amount == Decimal("3000") and ae.clawback.window_days == 90
    sdr = plans.plans["sdr-2026"].components[0]
    assert sdr.attainment_period == "month" and sdr.payout_curve.weight == Decimal("1")


def test_init_writes_header_only_tables(tmp_path):
    init_workspace(tmp_path / "ws")
    data = tmp_path / "ws" / "data"
    assert (data / "reps.csv").read_text() == (
        "rep_id,name,plan,start_date,end_date,email,manager_id,target_incentive,territory,"
        "region,locale\n")
    assert (data / "transactions.csv").read_text() == (
        "txn_id,date,amount,currency,rep_id,account_id,type,product,reverses\n")
    assert (data / "quotas.csv").read_text() == "rep_id,component,period,amount\n"
    assert (data / "credits.csv").read_text() == "txn_id,rep_id,share,role\n"
    assert (data / "fx.csv").read_text() == "period,currency,rate\n"
    assert (data / "adjustments.csv").read_text() == "rep_id,period,amount,reason\n"


def test_init_settings_file_is_all_commented_defaults(tmp_path):
    init_workspace(tmp_path / "ws")
    lines = (tmp_path / "ws" / "icm.yaml").read_text().splitlines()
    keys = [m.group(1) for line in lines if (m := re.match(r"# (\w+): ", line))]
    assert keys == ["base_currency", "fiscal_year_start", "ledger", "locale", "rounding"]
    assert all(not line or line.startswith("#") for line in lines)


def test_init_into_an_existing_empty_folder(tmp_path):
    assert init_workspace(tmp_path)[0] == tmp_path / "icm.yaml"


def test_init_into_a_non_empty_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(IcmError) as exc:
        init_workspace(tmp_path)
    assert str(exc.value) == (
        f"{tmp_path} exists and is not empty; choose a new or empty folder for the workspace")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_onto_a_file_is_refused(tmp_path):
    target = tmp_path / "acme"
    target.write_text("")
    with pytest.raises(IcmError, match="exists and is a file"):
        init_workspace(target)


def test_templates_come_from_package_data():
    templates = template_plans()
    assert sorted(templates) == ["ae.yaml", "sdr.yaml"]
    assert templates["ae.yaml"].count("id: ae-2026") == 1
