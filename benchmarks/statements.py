"""Statement rendering speed: icm's renderer vs naive WeasyPrint, per page, first renders only.

    python benchmarks/statements.py --reps 200 [--workers 2] [--baseline-reps 40]

icm: a fresh `python` process (process start and imports counted) builds the synthetic
run, then `reports.statements.render_statements` builds every statement's content, lays
statements out in batches (one WeasyPrint document each, CSS parsed and fonts loaded once
per worker), writes each rep's PDF and fills the cache; the cache starts empty, so every
statement is a first render. Naive: one fresh `HTML(...).write_pdf()` per statement, same
HTML, CSS and fonts, in a fresh process too, on the first --baseline-reps statements,
once in one process and once spread over --workers processes. A profile of one batch
then shows where the time per page goes. The last line is
`icm_s_per_page= naive_s_per_page= naive2_s_per_page= ratio= ratio_same_workers= pages=`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
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
from reports.statements import AssetFetcher, build_statements, stylesheet_text, template_environment  # noqa: E402

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


def synthetic_run(n: int, seed: int = 7, root: Path | None = None) -> RunResult:
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
    year = pd.DataFrame({"rep_id": reps, "earned": register.groupby("rep_id", sort=False)["earned_to_date"].sum()
                         .to_numpy(), "paid": pay, "balance": 0})
    return RunResult(workspace=Workspace(root or Path(tempfile.mkdtemp(prefix="icm-bench-ws-")), Settings()),
                     year_to_date=year,
                     period="2026-03", plans={"ae-2026": Plan.model_validate(PLAN)},
                     register=register, line_periods=line_periods, credits=credits,
                     settlement=settlement, reps=rep_frame, exceptions=exceptions)


def naive_one(statement) -> int:
    """Fresh `HTML(...).write_pdf()` for one statement: same HTML, CSS and fonts, defaults; its pages."""
    import io

    from pypdf import PdfReader
    from weasyprint import CSS, HTML

    document = template_environment(None).get_template("document.html")
    fetcher = AssetFetcher()
    html = document.render(statements=[statement], title=statement.title)
    pdf = HTML(string=html, url_fetcher=fetcher).write_pdf(
        stylesheets=[CSS(string=stylesheet_text(None), url_fetcher=fetcher)])
    return len(PdfReader(io.BytesIO(pdf)).pages)


def child(mode: str, reps: int, workers: int, count: int, out: str) -> None:
    """The timed process: `icm` renders every statement; `naive` renders `count` one by one."""
    result = synthetic_run(reps, root=Path(out) / f"ws-{mode}")
    if mode == "icm":
        from reports.statements import render_statements

        stats: dict = {}
        paths = render_statements(result, Path(out), workers=workers, stats=stats)
        from pypdf import PdfReader

        pages = sum(len(PdfReader(p).pages) for p in paths)
        print(json.dumps({"pages": pages, "rendered": stats["rendered"], "reused": stats["reused"]}))
        return
    statements = build_statements(result, [f"R{i:05d}" for i in range(count)])
    if workers <= 1:
        pages = sum(naive_one(s) for s in statements)
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            pages = sum(pool.map(naive_one, statements))
    print(json.dumps({"pages": pages}))


def timed(*args: str) -> tuple[float, dict]:
    """Wall seconds of a fresh process running `child(*args)`, and what it printed."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                          check=True)
    return time.perf_counter() - start, json.loads(done.stdout.strip().splitlines()[-1])


def profile(reps: int = 20) -> dict[str, float]:
    """CPU seconds per page of one warm batch, by stage: parse, layout, write (and naive's per-document extra)."""
    from weasyprint import HTML

    from reports import pdf

    statements = build_statements(synthetic_run(reps))
    engine = pdf._engine(None)
    engine.render_batch(statements[:2])
    clock = time.process_time
    t = clock()
    html = engine.html(statements[2:])
    parsed = HTML(string=html, url_fetcher=engine.fetcher)
    t_parse = clock() - t
    t = clock()
    document = parsed.render(stylesheets=[engine.css], font_config=engine.font_config)
    t_layout = clock() - t
    t = clock()
    document.write_pdf()
    t_write = clock() - t
    pages = len(document.pages)
    t = clock()
    naive_pages = sum(naive_one(s) for s in statements[2:])
    t_naive = clock() - t
    return {"parse": t_parse / pages, "layout": t_layout / pages, "write": t_write / pages,
            "naive": t_naive / naive_pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-reps", type=int, default=40)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, reps, workers, count, out = args.child
        child(mode, int(reps), int(workers), int(count), out)
        return

    out = tempfile.mkdtemp(prefix="icm-bench-")
    t_icm, icm = timed("icm", str(args.reps), str(args.workers), "0", out)
    assert icm["reused"] == 0, "the cache must start empty: first renders only"
    icm_per_page = t_icm / icm["pages"]
    print(f"icm: {args.reps} statements, {icm['pages']} pages in {t_icm:.1f} s with {args.workers} workers, "
          f"process start included -> {out}")
    count = min(args.baseline_reps, args.reps)
    t_naive, naive = timed("naive", str(count), "1", str(count), out)
    t_naive2, naive2 = timed("naive", str(count), str(args.workers), str(count), out)
    naive_per_page, naive2_per_page = t_naive / naive["pages"], t_naive2 / naive2["pages"]
    print(f"naive: {count} statements, {naive['pages']} pages in {t_naive:.1f} s in one process, "
          f"{t_naive2:.1f} s over {args.workers} processes")
    cost = profile()
    floor = cost["layout"] + cost["write"]
    print("cpu s per page of a warm batch: " + ", ".join(f"{k} {v:.4f}" for k, v in cost.items())
          + f"; WeasyPrint's own layout and paint ({floor:.4f}) are paid per page by any renderer, so per "
          f"CPU second icm can beat naive by at most {cost['naive'] / floor:.2f}x, and by at most "
          f"{args.workers * cost['naive'] / floor:.2f}x in wall time against one naive process")
    print(f"icm_s_per_page={icm_per_page:.4f} naive_s_per_page={naive_per_page:.4f} "
          f"naive2_s_per_page={naive2_per_page:.4f} ratio={naive_per_page / icm_per_page:.2f} "
          f"ratio_same_workers={naive2_per_page / icm_per_page:.2f} pages={icm['pages']}")


if __name__ == "__main__":
    main()
