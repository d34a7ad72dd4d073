"""Statements render a committed run: figures, sentences, YTD from the ledger, escaping, tables."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from compensation.errors import IcmError
from compensation.plan import Plan
from reports.pdf_assets import AssetFetcher
from reports.rendering import render_statements
from reports.statements import statement_path
from tests.reports.sample import AE_PLAN, MGR_PLAN, credits, line_periods, register_rows, reps, sample_result

NA = pd.NA


def pdf_text(path: Path) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return re.sub(r"[ \n\u00a0\u202f]+", " ", text)


def year_to_date() -> pd.DataFrame:
    """The ledger's year to date: A1 was paid a Q1 kicker in February that this month's lines do not show."""
    return pd.DataFrame({"rep_id": ["A1", "B2", "M1"], "earned": [4_837_500, 300_000, 1_375_000],
                         "paid": [4_737_500, 850_000, 1_375_000], "balance": [0, 550_000, 0]})


def full_lines(register: pd.DataFrame) -> pd.DataFrame:
    """Line periods as a real run keeps them: curve targets, gate flags, bonus period attainment."""
    lp = line_periods(register)
    lp["target"] = np.nan
    lp.loc[(lp.rep_id == "A1") & (lp.line == "renewals"), "target"] = 450_000.0  # 60,000 x 30% x 1/4
    lp.loc[(lp.rep_id == "M1") & (lp.line == "team_revenue"), "target"] = 1_000_000.0  # 40,000 x 100% x 1/4
    lp["gate_open"] = pd.array([NA] * len(lp), dtype="boolean")
    kicker = (lp.rep_id == "A1") & (lp.line == "q_kicker")
    lp["credited"] = lp["credited"].astype("Float64")
    lp["quota"] = lp["quota"].astype("Float64")
    lp.loc[kicker, ["credited", "quota", "attainment"]] = [13_000_000.0, 12_000_000.0, 13 / 12]
    return lp


def full_result(root: Path, **replace):
    register = replace.pop("register", register_rows())
    return sample_result(root, register=register, line_periods=replace.pop("line_periods", full_lines(register)),
                         year_to_date=replace.pop("year_to_date", year_to_date()), **replace)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("statements")
    result = full_result(out / "ws")
    paths = render_statements(result, out, run_id="run-42")
    return result, {p.stem: pdf_text(p) for p in paths}, paths


def test_one_pdf_per_rep_with_lines(rendered):
    _, texts, paths = rendered
    assert [p.name for p in paths] == ["A1.pdf", "B2.pdf", "M1.pdf"]
    assert all(p.parent.name == "statements" for p in paths)


def test_italian_statement_figures_and_labels(rendered):
    result, texts, _ = rendered
    a1 = texts["A1"]
    for expected in [
        "Estratto conto incentivi", "Marzo 2026", "Anna Rossi", "Account Executive FY2026",
        "Pagato questo mese".upper(), "24.125,00 €", "Maturato da inizio anno".upper(),
        "48.375,00 €", "Pagato da inizio anno".upper(), "47.375,00 €", "Saldo a debito".upper(),
        "21.600,00 €", "1.250,00 €", "2.000,00 €",
        "125,00 €", "150,00 €", "-1.000,00 €", "Recupero", "Rettifica",
        "Il raggiungimento del 108,3% rientra nello scaglione da 100%: l'aliquota 8% si applica a tutti i "
        "520.000,00 € accreditati, 520.000,00 € × 8% = 41.600,00 €.",
        "Obiettivo 60.000,00 € × 30% × 1/4 = 4.500,00 €: il raggiungimento del 75,0% ne paga il 50,0% "
        "secondo la curva di pagamento, 2.250,00 €.",
        "Pagato: il raggiungimento di New business (trimestre 2026-Q1) è 108,3% e arriva al 100% richiesto "
        "da questo bonus.",
        "Mancano 200.000,00 € di accreditato per lo scaglione con aliquota 10% (da 150%).",
        "Mancano 15.000,00 € di accreditato per raggiungere il 100%",
        "Bonus di 2.000,00 € maturato una volta per trimestre",
        "SPIF di 250,00 € per ogni transazione accreditata idonea datata dal 1 gen 2026 al",
        "20 gen 2026", "T2001", "ACC-ROSSI-2", "×1,5", "50%", "520.000,00 €",
        "Bonus e SPIF dell'anno", "Q kicker trimestre 2026-Q1 2.000,00 € 2.000,00 €",
        "Platform spif esercizio 2026 125,00 € 375,00 €", "Totale 2.375,00 €",
    ]:
        assert expected in a1, expected
    # Data is escaped, never markup: the adjustment reason shows its tags as text.
    assert "Rettifica: Referral prize <b>March</b>" in a1


def test_english_statements_default_locale_team_and_cancellations(rendered):
    _, texts, _ = rendered
    b2 = texts["B2"]  # no reps.locale: the workspace's (en)
    for expected in [
        "Incentive compensation statement", "March 2026", "€3,000.00", "€5,500.00",
        "-€2,500.00", "Draw", "recovered from future earnings",
        "€420,000.00 more credited reaches the 8% tier (from 100%).",
        "T1003", "cancels T1002", "-€50,000.00", "Total €60,000.00",
        "Your earnings after balances came to -€2,500.00, below the guaranteed draw of "
        "€3,000.00",
    ]:
        assert expected in b2, expected
    m1 = texts["M1"]
    for expected in [
        "Team revenue", "€575,000.00", "€500,000.00", "115.0%",
        "Target €40,000.00 × 100% × 1/4 = €10,000.00, so attainment of 115.0% pays 137.5% of it on the "
        "payout curve: €13,750.00.",
        "€25,000.00 more credited reaches 120% attainment, paying 150% of target.",
        "Anna Rossi (A1)", "Ben Carter (B2)", "Total €575,000.00", "€8,750.00",
    ]:
        assert expected in m1, expected


def test_no_other_reps_transactions(rendered):
    _, texts, _ = rendered
    assert "ACC-CARTER" not in texts["A1"] and "T1001" not in texts["A1"]
    assert "ACC-ROSSI" not in texts["B2"] and "T2001" not in texts["B2"]
    assert "Maria Bianchi" not in texts["A1"] + texts["B2"]


def test_hostile_names_and_rep_ids(tmp_path):
    register = register_rows()
    register = register[register["rep_id"] != "M1"]
    hostile = "<img src='file:///etc/hostname'>"
    register.loc[register["rep_id"] == "A1", "name"] = hostile
    register.loc[register["rep_id"] == "B2", "rep_id"] = "../B2"
    people = reps()
    people.loc[people["rep_id"] == "A1", "name"] = hostile
    result = full_result(tmp_path / "ws", register=register, reps=people)
    paths = render_statements(result, tmp_path / "out")
    assert paths == [tmp_path / "out" / "statements" / "A1.pdf"]
    assert not (tmp_path / "out" / "B2.pdf").exists()
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.pdf")) == ["A1.pdf"]
    text = pdf_text(paths[0])
    assert hostile in text  # shown as text, never an element that fetches a file


def test_statement_path_only_safe_rep_ids(tmp_path):
    assert statement_path(tmp_path, "R-01.a_b") == tmp_path / "R-01.a_b.pdf"
    for bad in ["../x", "..", ".", "a/b", "a\\b", "", "x y", "é", "/etc/passwd"]:
        assert statement_path(tmp_path, bad) is None, bad


def test_fetcher_serves_only_package_assets():
    fetcher = AssetFetcher()
    response = fetcher("icm-asset:fonts/DejaVuSans.ttf")
    assert response.read()[:4] == b"\x00\x01\x00\x00"
    for url in ["file:///etc/hostname", "http://example.com/x.css", "https://example.com/",
                "data:text/plain,hi", "icm-asset:../statements.py",
                "icm-asset:fonts/../../statements.py", "icm-asset:/etc/hostname",
                "icm-asset:fonts/missing.ttf"]:
        with pytest.raises(Exception, match="refused"):
            fetcher(url)
    assert len(fetcher.refused) == 8


def test_workspace_template_override_stays_escaped_and_sandboxed(tmp_path):
    ws = tmp_path / "ws"
    (ws / "templates").mkdir(parents=True)
    (ws / "templates" / "statement.html").write_text(
        "<h1>Custom {{ st.rep.name|safe }}</h1>"
        "<img src='file:///etc/hostname'><img src='http://127.0.0.1:9/x.png'>"
        "<p>{{ st.summary.paid }}</p>")
    register = register_rows()
    register = register[register["rep_id"] == "B2"].copy()
    register["name"] = "<b>Ben</b>"
    result = full_result(ws, register=register)
    from reports import pdf as st

    st._ENGINES.clear()
    [path] = render_statements(result, tmp_path / "out")
    text = pdf_text(path)
    assert "Custom <b>Ben</b>" in text and "€3,000.00" in text
    engine = next(iter(st._ENGINES.values()))
    assert "file:///etc/hostname" in engine.fetcher.refused
    assert "http://127.0.0.1:9/x.png" in engine.fetcher.refused

    (ws / "templates" / "statement.html").write_text(
        "line one\n{% autoescape false %}{{ st.rep.name }}{% endautoescape %}")
    st._ENGINES.clear()
    with pytest.raises(IcmError, match=r"statement.html:2: .*autoescape"):
        render_statements(result, tmp_path / "out2")
    st._ENGINES.clear()


@pytest.mark.slow
def test_batches_in_worker_processes_match_single_statement_pages(tmp_path):
    from reports.statements import build_statements, render_pdfs

    statements = build_statements(full_result(tmp_path))
    seen = []
    out = list(render_pdfs(statements * 2, workers=2, batch_size=3,
                           progress=lambda done, total: seen.append((done, total))))
    assert sorted(rep for rep, _, _ in out) == ["A1", "A1", "B2", "B2", "M1", "M1"]
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)
    names = {"A1": "Anna Rossi", "B2": "Ben Carter", "M1": "Maria Bianchi"}
    pages = {rep: n for rep, _, n in out}
    for i, (rep, pdf, n) in enumerate(out):
        path = tmp_path / f"{i}.pdf"
        path.write_bytes(pdf)
        assert len(PdfReader(path).pages) == n == pages[rep]
        text = pdf_text(path)
        assert names[rep] in text
        if rep != "M1":  # the manager's page names the team, nobody else's does
            assert all(other not in text for key, other in names.items() if key != rep)


def test_manager_sees_one_row_per_team_member_not_their_deals(rendered):
    _, texts, _ = rendered
    m1 = texts["M1"]
    # A1: 200,000 + 100,000 + 170,000 + 45,000 over 4 deals; B2: 60,000 + 50,000 - 50,000 over 3.
    for expected in [
        "Credited through your team", "TEAM MEMBER TRANSACTIONS CREDITED",
        "Anna Rossi (A1) 4 €515,000.00", "Ben Carter (B2) 3 €60,000.00", "Total €575,000.00",
    ]:
        assert expected in m1, expected
    for deal in ["T2001", "T1003", "ACC-ROSSI", "ACC-CARTER", "cancels"]:
        assert deal not in m1, deal


def test_credit_tables_cap_rows_and_still_add_up(monkeypatch, tmp_path):
    from reports import statement_content as st

    monkeypatch.setattr(st, "TABLE_ROWS", 1)
    contexts = {s.rep_id: s.context for s in st.build_statements(full_result(tmp_path))}
    [new_business, _] = contexts["A1"]["components"]
    # A1's own deals: the latest listed (T2003, 170,000.00), the two earlier summed.
    assert [t["txn_id"] for t in new_business["txns"]] == ["T2003"]
    assert new_business["txns_more"] == ("e altre 2 transazioni precedenti per un totale di "
                                         "350.000,00\xa0€")
    assert new_business["txns_total"] == "520.000,00\xa0€"
    [team] = contexts["M1"]["components"]
    assert team["team"] == [{"member": "Anna Rossi (A1)", "count": "4",
                             "credited": "€515,000.00"}]
    assert team["team_more"] == "and 3 more transactions totalling €60,000.00"
    assert team["team_total"] == "€575,000.00" and not team["both"]


@pytest.mark.slow
def test_long_transaction_table_lists_200_and_sums_the_rest(tmp_path):
    base = credits()
    b2 = base[(base["rep_id"] == "B2") & (base["line"] == "new_business")].iloc[[0]]
    many = b2.loc[b2.index.repeat(250)].reset_index(drop=True)
    many["txn_id"] = [f"T{3000 + i}" for i in range(250)]
    many["date"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(many.index // 3, unit="D")
    many["credited"] = 100_000 + many.index.to_numpy()  # 1,000.00 + i cents
    frame = pd.concat([base[base["rep_id"] != "B2"], many], ignore_index=True)
    result = full_result(tmp_path / "ws", credits=frame)
    [path] = render_statements(result, tmp_path / "out", reps=["B2"])
    text = pdf_text(path)
    # T3000..T3049 are summed: 50 x 1,000.00 + (0 + ... + 49) cents = 50,012.25.
    assert "T3049" not in text and "T3050" in text and "T3249" in text
    assert "and 50 earlier transactions totalling €50,012.25" in text
    # All 250: 250,000.00 + (0 + ... + 249) cents = 250,311.25.
    assert "Total €250,311.25" in text


def test_zero_kicker_and_closed_gate_say_why_in_plain_words(tmp_path):
    gated = {**AE_PLAN, "components": [AE_PLAN["components"][0],
                                       {**AE_PLAN["components"][1],
                                        "gate": {"component": "new_business", "min_attainment": "50%"}}]}
    plans = {"ae-2026": Plan.model_validate(gated), "mgr-2026": Plan.model_validate(MGR_PLAN)}
    register = register_rows()
    kicker = register[(register.rep_id == "A1") & (register.line == "q_kicker")].assign(
        rep_id="B2", name="Ben Carter", earned_to_date=pd.array([0], dtype="Int64"),
        paid_to_date=pd.array([0], dtype="Int64"), amount=pd.array([0], dtype="Int64"))
    at = register.index[(register.rep_id == "B2") & (register.line == "renewals")][0]
    register = pd.concat([register.loc[:at], kicker, register.loc[at + 1:]], ignore_index=True)
    lp = full_lines(register)
    b2_kicker = (lp.rep_id == "B2") & (lp.line == "q_kicker")
    lp.loc[b2_kicker, ["credited", "quota", "attainment"]] = [1_000_000.0, 12_000_000.0, 1 / 12]
    lp.loc[(lp.rep_id == "B2") & (lp.line == "renewals"), "gate_open"] = False
    result = sample_result(tmp_path / "ws", register=register, line_periods=lp, year_to_date=year_to_date())
    result = type(result)(**{**result.__dict__, "plans": plans})
    [path] = render_statements(result, tmp_path / "out", reps=["B2"])
    text = pdf_text(path)
    for expected in [
        "Not paid: new business attainment (quarter 2026-Q1) is 8.3%, below the 100% this bonus needs.",
        "Not paid: new business attainment 12.5% is below the 50% this component needs; once it gets there, "
        "everything earned to date is paid.",
    ]:
        assert expected in text, expected
    assert "CLOSED" not in text.upper().replace("DISCLOSED", "")


def test_statement_names_itself_by_content_not_by_run(tmp_path):
    from reports.statement_content import build_statements

    first = {s.rep_id: s.context["footer"] for s in build_statements(full_result(tmp_path), run_id="7")}
    again = {s.rep_id: s.context["footer"] for s in build_statements(full_result(tmp_path), run_id="8")}
    assert first == again and len(set(first.values())) == 3
    assert re.fullmatch(r"Generated by icm · Period 2026-03 · Statement [0-9a-f]{16}", first["B2"])
    register = register_rows()
    register.loc[(register.rep_id == "B2") & (register.line == "draw"), "amount"] = 550_001
    changed = {s.rep_id: s.context["footer"] for s in build_statements(full_result(tmp_path, register=register))}
    assert changed["B2"] != first["B2"] and changed["A1"] == first["A1"]
