"""What the pages say, with exact figures: statement, what-if, plan acceptance, team, month review."""

from __future__ import annotations

import re
from contextlib import closing

from compensation import cycle, workflow
from tests.web.conftest import csrf_of


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_statement_page_has_the_statement_figures_and_sentences(served):
    with closing(served.login("rep")) as ada:
        page = _text(ada.get("/reps/A01/periods/2026-01").text)
    assert "Paid this month €3,025.00" in page
    assert "5% applies to all €60,500.00 credited, €60,500.00 × 5% = €3,025.00" in page
    assert "Earned this year 3,025.00" in page and "Paid this year 3,025.00" in page


def test_what_if_prices_a_deal_and_writes_nothing(served):
    with cycle.open_ledger(served.workspace) as led:
        before = [(r.id, r.status) for r in led.runs()]
    with closing(served.login("rep")) as ada:
        response = ada.post("/reps/A01/whatif", data={"amount": "40000", "type": "new", "date": "2026-02-20",
                                                      "csrf": csrf_of(ada)})
    page = _text(response.text)
    # Feb: 87,800 + 40,000 new = 127,800 credited; 5% of it minus January's 3,025.00 paid,
    # and Q1 reaches 127.8% of the 100,000 quarterly quota: the 2,000.00 kicker.
    assert "Paid without it 1,365.00" in page and "Paid with it 5,365.00 +4,000.00" in page
    assert "new_business 21.9% → 31.9% 1,365.00 3,365.00 +2,000.00" in page
    assert "q_kicker - → - - 2,000.00 +2,000.00" in page
    with cycle.open_ledger(served.workspace) as led:
        assert [(r.id, r.status) for r in led.runs()] == before
    with closing(served.login("rep")) as ada:
        closed = ada.post("/reps/A01/whatif", data={"amount": "10", "type": "new", "date": "2026-01-20",
                                                    "csrf": csrf_of(ada)})
    assert closed.status_code == 400 and "2026-01 is closed" in closed.text


def test_plan_acceptance_is_recorded_with_version_and_finance_sees_who_has_not(served):
    with closing(served.login("finance")) as fin:
        page = _text(fin.get("/periods").text)
    assert "A01 ada@altamira.example ae-2026 Not yet" in page
    with closing(served.login("rep")) as ada:
        plan = ada.get("/reps/A01/plan").text
        assert "Commission: from 0.0%: 5.00%; from 100.0%: 8.00%" in _text(plan)
        version = re.search(r'name="version" value="([0-9a-f]{64})"', plan).group(1)
        assert ada.post("/reps/A01/plan/accept", data={"version": version, "csrf": csrf_of(ada)}).status_code == 303
    with cycle.open_ledger(served.workspace) as led:
        assert ("A01", "ae-2026", version) in workflow.acknowledged(led)
    with closing(served.login("finance")) as fin:
        page = _text(fin.get("/periods").text)
    assert "A01 ada@altamira.example ae-2026 Not yet" not in page
    assert "B01 carla@altamira.example ae-2026 Not yet" in page


def test_manager_sees_the_chain_below_and_nobody_else(served):
    with closing(served.login("manager")) as marta:
        page = _text(marta.get("/reps/M01").text)
        assert "A01 Ada Rossi 3,025.00" in page and "A02 Bruno Bianchi 2,750.00" in page
        assert "B01" not in page and "Carla" not in page
        queue = _text(marta.get("/inquiries").text)
        assert "T002" in queue  # Ada's inquiry, raised on her team


def test_month_review_totals_against_the_last_closed_month(served):
    with closing(served.login("approver")) as appr:
        page = _text(appr.get("/periods/2026-02").text)
        assert "Total paid 5,588.00 -2,904.50 vs January 2026 (8,492.50)" in page
        assert "Not submitted yet." in page
        filtered = _text(appr.get("/periods/2026-02/register", params={"rep": "carla"}).text)
    assert "3 lines · total 3,350.00" in filtered and "Carla Conti adjustment" in filtered


def test_several_users_at_once(served):
    from concurrent.futures import ThreadPoolExecutor

    roles = ["finance", "approver", "manager", "rep", "other_rep"]
    clients = [served.login(role) for role in roles]
    paths = ["/periods/2026-02", "/periods", "/reps/M01", "/reps/A01/periods/2026-01", "/reps/B01"]
    try:
        with ThreadPoolExecutor(5) as pool:
            codes = list(pool.map(lambda pair: pair[0].get(pair[1]).status_code, zip(clients * 3, paths * 3,
                                                                                    strict=True)))
    finally:
        for c in clients:
            c.close()
    assert codes == [200] * 15
