"""Statement rendering speed: icm's batched renderer vs a naive per-statement baseline.

    python benchmarks/statements.py --reps 500 [--workers 2] [--baseline-reps 40]

icm: statements laid out in batches as one WeasyPrint document each (CSS parsed once, fonts
subset once per batch), split per rep with pypdf, batches spread over worker processes.
Naive baseline: the same HTML, CSS and fonts, default options, one process, a fresh
`HTML(...).write_pdf()` per statement (on the first --baseline-reps statements; the figure
is per page). The last line is `icm_s_per_page= naive_s_per_page= ratio= pages=`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compensation.plan import Plan  # noqa: E402
from compensation.results import RunResult  # noqa: E402
from compensation.settings import Settings, Workspace  # noqa: E402
from reports.statements import (  # noqa: E402
    AssetFetcher,
    build_statements,
    iter_statements,
    render_pdfs,
    stylesheet_text,
    template_environment,
)

PLAN = {
    "id": "ae-2026", "name": "Account Executive FY2026", "currency": "EUR",
    "target_incentive": 60000,
    "components": [
        {"id": "new_business", "measure": {"where": {"type": ["new", "expansion"]}},
         "commission": {"tiers": [{"from": "0%", "rate": "5%"}, {"from": "100%", "rate": "8%"},
                                  {"from": "150%", "rate": "10%"}]}},
        {"id": "renewals", "measure": {"where": {"type": "renewal"}},
         "attainment_period": "quarter",
         "payout_curve": {"weight": "30%", "points": [["0%", "0%"], ["50%", "0%"],
                                                      ["100%", "100%"], ["150%", "200%"]]}},
    ],
}


def synthetic_run(n: int, seed: int = 7) -> RunResult:
    """N reps on one plan, two components, three credited deals each (about one page each)."""
    rng = np.random.default_rng(seed)
    reps = np.array([f"R{i:05d}" for i in range(n)], dtype=object)
    names = np.array([f"Rep {i:05d}" for i in range(n)], dtype=object)
    deals = rng.integers(2_000_000, 20_000_000, size=(n, 3))
    renewal = rng.integers(0, 6_000_000, size=n)
    credited_nb = deals.sum(axis=1)
    quota_nb = np.full(n, 48_000_000)
    att_nb = credited_nb / quota_nb
    rate = np.where(att_nb >= 1.5, 0.10, np.where(att_nb >= 1.0, 0.08, 0.05))
    e2d_nb = np.round(credited_nb * rate).astype(np.int64)
    paid_nb = (e2d_nb * 0.6).astype(np.int64)
    att_rn = renewal / 6_000_000
    curve = np.interp(att_rn, [0, 0.5, 1.0, 1.5], [0, 0, 1.0, 2.0])
    e2d_rn = np.round(450_000 * curve).astype(np.int64)
    register = pd.DataFrame({
        "period": "2026-03",
        "rep_id": np.repeat(reps, 2), "name": np.repeat(names, 2),
        "line": np.tile(["new_business", "renewals"], n),
        "credited": pd.array(np.column_stack([credited_nb, renewal]).ravel(), dtype="Int64"),
        "quota": pd.array(np.column_stack([quota_nb, np.full(n, 6_000_000)]).ravel(),
                          dtype="Int64"),
        "attainment": np.column_stack([att_nb, att_rn]).ravel(),
        "earned_to_date": pd.array(np.column_stack([e2d_nb, e2d_rn]).ravel(), dtype="Int64"),
        "paid_to_date": pd.array(np.column_stack([paid_nb, np.zeros(n, int)]).ravel(),
                                 dtype="Int64"),
        "currency": "EUR", "kind": "component", "plan_id": "ae-2026",
    })
    register["amount"] = register["earned_to_date"] - register["paid_to_date"]
    credits = pd.DataFrame({
        "rep_id": np.repeat(reps, 4), "plan_id": "ae-2026",
        "line": np.tile(["new_business"] * 3 + ["renewals"], n),
        "attainment_period": np.tile(["2026"] * 3 + ["2026-Q1"], n),
        "txn_id": [f"T{i:07d}" for i in range(4 * n)],
        "date": pd.to_datetime(np.tile(["2026-01-15", "2026-02-10", "2026-03-05", "2026-03-20"],
                                       n)),
        "account_id": [f"ACC-{i:06d}" for i in range(4 * n)],
        "type": np.tile(["new", "expansion", "new", "renewal"], n),
        "product": "Core", "share": 1.0, "multiplier": 1.0, "fx_rate": 1.0,
        "credited": np.column_stack([deals, renewal]).ravel().astype(np.int64),
        "reverses": pd.NA, "via_rep_id": pd.NA,
    })
    line_periods = register[["rep_id", "line", "kind", "credited", "quota", "attainment",
                             "earned_to_date", "amount"]].copy()
    line_periods["attainment_period"] = np.tile(["2026", "2026-Q1"], n)
    line_periods["paid_before"] = register["paid_to_date"]
    line_periods["detail"] = ""
    pay = register.groupby("rep_id", sort=False)["amount"].sum().to_numpy()
    settlement = pd.DataFrame({"rep_id": reps, "earned": pay, "balance_before": 0, "net": pay,
                               "floor": 0, "pay": pay, "balance_after": 0, "draw_active": False,
                               "plan_id": "ae-2026", "currency": "EUR"})
    rep_frame = pd.DataFrame({"rep_id": reps, "name": names, "email": pd.NA,
                              "plan_id": "ae-2026", "currency": "EUR",
                              "locale": np.where(np.arange(n) % 2, "it", "en")})
    exceptions = pd.DataFrame({c: pd.Series(dtype=object) for c in
                               ("period", "severity", "table", "row", "txn_id", "rep_id",
                                "reason")})
    return RunResult(workspace=Workspace(Path(tempfile.gettempdir()) / "icm-bench-ws",
                                         Settings()),
                     period="2026-03", plans={"ae-2026": Plan.model_validate(PLAN)},
                     register=register, line_periods=line_periods, credits=credits,
                     settlement=settlement, reps=rep_frame, exceptions=exceptions)


def naive(statements, count: int) -> tuple[float, int]:
    """Fresh `HTML(...).write_pdf()` per statement: same HTML, CSS and fonts, defaults."""
    from pypdf import PdfReader
    from weasyprint import CSS, HTML

    env = template_environment(None)
    document = env.get_template("document.html")
    css = stylesheet_text(None)
    pages = 0
    start = time.perf_counter()
    for statement in statements[:count]:
        fetcher = AssetFetcher()
        html = document.render(statements=[statement], title=statement.title)
        pdf = HTML(string=html, url_fetcher=fetcher).write_pdf(
            stylesheets=[CSS(string=css, url_fetcher=fetcher)])
        pages += len(PdfReader(__import__("io").BytesIO(pdf)).pages)
    return time.perf_counter() - start, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-reps", type=int, default=40)
    args = parser.parse_args()

    result = synthetic_run(args.reps)
    out = Path(tempfile.mkdtemp(prefix="icm-bench-"))
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    pages = 0
    stats: dict = {}
    for rep_id, pdf, n_pages in render_pdfs(iter_statements(result), total=args.reps,
                                            workers=args.workers, stats=stats):
        (out / f"{rep_id}.pdf").write_bytes(pdf)
        pages += n_pages
    t_icm = time.perf_counter() - t0
    # The parent's own CPU (contexts, writing files) plus the batches' CPU in the workers.
    cpu_icm = time.process_time() - cpu0 + (stats["cpu"] if stats.get("pool") else 0.0)
    icm_per_page = t_icm / pages
    print(f"icm: {args.reps} statements, {pages} pages in {t_icm:.1f} s "
          f"with {args.workers} workers -> {out}")
    statements = build_statements(result, [f"R{i:05d}" for i in range(args.baseline_reps)])

    count = min(args.baseline_reps, len(statements))
    cpu0 = time.process_time()
    t_naive, naive_pages = naive(statements, count)
    cpu_naive = time.process_time() - cpu0
    naive_per_page = t_naive / naive_pages
    print(f"naive: {count} statements, {naive_pages} pages in {t_naive:.1f} s")
    print(f"cpu seconds per page: icm {cpu_icm / pages:.4f} (all processes), "
          f"naive {cpu_naive / naive_pages:.4f}")
    print(f"icm_s_per_page={icm_per_page:.4f} naive_s_per_page={naive_per_page:.4f} "
          f"ratio={naive_per_page / icm_per_page:.1f} pages={pages}")


if __name__ == "__main__":
    main()
