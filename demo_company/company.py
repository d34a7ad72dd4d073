"""The demo company behind `icm demo`: a fixed-seed workspace for calendar 2026.

Altamira Software sells in two EMEA regions: a VP, two regional directors, four
sales managers and about fifty account executives, SDRs and customer success
managers. This module only generates data and writes the workspace (icm.yaml, the
plans shipped in `plans/demo/`, and the input tables under `data/`); running and
closing the months is the command's job.

The year has the events a comp admin meets: split deals and SDR overlays
(`credits.csv`), UK accounts billed in GBP with monthly rates (`fx.csv`),
cancellations inside the 90-day clawback window and one outside it (the year's
only exceptions, deliberate: notices that hold nobody), a leaver, an SDR promoted to
account executive (two `reps` rows), a mid-year hire on a recoverable draw, and a few
adjustments with reasons. Quotas are
set from each rep's simulated volume and a performance draw, so attainment spreads
realistically around 100%.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

DEMO_SEED = 2026
YEAR = 2026
COMPANY = "Altamira Software"
EMAIL_DOMAIN = "altamira.example"
YEAR_START = np.datetime64("2026-01-01")
YEAR_END = np.datetime64("2026-12-31")

# GBP -> EUR, one rate per month of 2026 (1 GBP is worth `rate` EUR).
GBP_RATES = (
    1.1612,
    1.1587,
    1.1655,
    1.1702,
    1.1684,
    1.1731,
    1.1768,
    1.1722,
    1.1695,
    1.1741,
    1.1810,
    1.1786,
)

# The story's people, by rep_id (see `_people`).
LEAVER = "R023"  # AE, Iberia & France, leaves 2026-06-30
PROMOTED = "R032"  # SDR in the same team, AE from 2026-07-01, takes the leaver's accounts
HIRE = "R064"  # AE, UK & Ireland, starts 2026-05-18
LEAVER_END = dt.date(2026, 6, 30)
PROMOTION = dt.date(2026, 7, 1)
HIRE_START = dt.date(2026, 5, 18)

PRODUCTS = np.array(["Platform", "Analytics", "Connect"])
PRODUCT_WEIGHTS = np.array([0.35, 0.40, 0.25])
HOLIDAYS = np.array(["2026-01-01", "2026-12-25"], dtype="datetime64[D]")
# Deals close late in the quarter.
MONTH_WEIGHTS = np.tile([0.8, 0.95, 1.45], 4)

_NAMES = {
    "IT": (
        [
            "Marco",
            "Giulia",
            "Luca",
            "Francesca",
            "Alessandro",
            "Chiara",
            "Matteo",
            "Sara",
            "Davide",
            "Elena",
            "Federico",
            "Valentina",
            "Simone",
            "Martina",
            "Andrea",
            "Paola",
            "Stefano",
            "Laura",
            "Riccardo",
            "Silvia",
        ],
        [
            "Rossi",
            "Bianchi",
            "Romano",
            "Colombo",
            "Ricci",
            "Marino",
            "Greco",
            "Bruno",
            "Gallo",
            "Conti",
            "De Luca",
            "Mancini",
            "Costa",
            "Giordano",
            "Rizzo",
            "Lombardi",
            "Moretti",
            "Barbieri",
            "Fontana",
            "Caruso",
        ],
    ),
    "ES": (
        [
            "Javier",
            "Lucía",
            "Carlos",
            "Marta",
            "Pablo",
            "Elena",
            "Sergio",
            "Carmen",
            "Álvaro",
            "Nuria",
            "Diego",
            "Irene",
        ],
        [
            "García",
            "Fernández",
            "López",
            "Martínez",
            "Sánchez",
            "Pérez",
            "Gómez",
            "Díaz",
            "Navarro",
            "Ruiz",
            "Moreno",
            "Castro",
        ],
    ),
    "FR": (
        ["Julien", "Camille", "Thomas", "Chloé", "Nicolas", "Manon", "Antoine", "Léa"],
        ["Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre", "Girard", "Roux"],
    ),
    "PT": (["João", "Inês", "Tiago", "Beatriz"], ["Silva", "Santos", "Ferreira", "Oliveira"]),
    "GB": (
        [
            "Oliver",
            "Charlotte",
            "James",
            "Amelia",
            "Harry",
            "Sophie",
            "George",
            "Emily",
            "Jack",
            "Olivia",
            "William",
            "Grace",
            "Thomas",
            "Lucy",
            "Daniel",
            "Hannah",
        ],
        [
            "Smith",
            "Jones",
            "Taylor",
            "Brown",
            "Wilson",
            "Evans",
            "Thomas",
            "Roberts",
            "Walker",
            "Wright",
            "Hughes",
            "Green",
            "Hall",
            "Clarke",
            "Harrison",
            "Turner",
        ],
    ),
    "IE": (["Ciarán", "Aoife", "Seán", "Niamh"], ["Murphy", "Kelly", "O'Sullivan", "Byrne"]),
    "DE": (
        [
            "Lukas",
            "Anna",
            "Jonas",
            "Lena",
            "Felix",
            "Marie",
            "Maximilian",
            "Sophie",
            "Paul",
            "Laura",
            "Tobias",
            "Katharina",
        ],
        [
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Meyer",
            "Wagner",
            "Becker",
            "Hoffmann",
            "Schulz",
            "Koch",
            "Richter",
        ],
    ),
    "NL": (["Daan", "Emma", "Sem", "Julia"], ["de Jong", "Jansen", "de Vries", "Bakker"]),
    "SE": (
        ["Erik", "Astrid", "Lars", "Ingrid", "Nils", "Freja"],
        ["Andersson", "Johansson", "Karlsson", "Nilsson", "Lindqvist", "Berg"],
    ),
}

# Managers' teams: (manager territory, region, countries of the team, currency).
_TEAMS = (
    ("Italy", "EMEA-South", ("IT",), "EUR"),
    ("Iberia & France", "EMEA-South", ("ES", "FR", "PT"), "EUR"),
    ("UK & Ireland", "EMEA-North", ("GB", "IE"), "GBP"),
    ("DACH & Nordics", "EMEA-North", ("DE", "NL", "SE"), "EUR"),
)
_TEAM_SHAPE = {"ae": 9, "sdr": 3, "csm": 2}
PLAN_OF = {"ae": "ae-2026", "sdr": "sdr-2026", "csm": "csm-2026", "mgr": "mgr-2026"}

_ADJUSTMENTS = (  # rep_id, period, amount, reason
    ("R009", "2026-03", 1500.00, "Spot award: Rossi Logistica multi-year win"),
    ("R034", "2026-06", -420.00, "Correction: 2025 December commission paid twice"),
    ("R038", "2026-09", 750.00, "Territory transfer true-up (accounts moved to the new hire)"),
    ("R004", "2026-11", 2000.00, "President's Club incentive"),
)


_MONEY_COLUMNS = {
    "transactions": ("amount",),
    "payments": ("amount",),
    "quotas": ("amount",),
    "adjustments": ("amount",),
    "accounts": ("potential", "last_year"),
}


@dataclass(frozen=True)
class DemoCompany:
    """The generated tables, as frames in the form they are written to `data/`."""

    reps: pd.DataFrame
    transactions: pd.DataFrame
    credits: pd.DataFrame
    quotas: pd.DataFrame
    fx: pd.DataFrame
    adjustments: pd.DataFrame
    accounts: pd.DataFrame
    payments: pd.DataFrame


def write_demo_workspace(root: Path, *, seed: int = DEMO_SEED) -> DemoCompany:
    """Generate the demo company and write it as a workspace at `root`.

    `root` is created if missing; existing files of the same names are overwritten
    (the command refuses a non-empty folder before calling this).
    """
    root = Path(root)
    company = generate(seed)
    (root / "plans").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "icm.yaml").write_text(
        f"# {COMPANY}: the icm demo workspace (calendar {YEAR}).\n"
        "base_currency: EUR\nfiscal_year_start: 1\nledger: sqlite:///icm.db\nlocale: en\n",
        encoding="utf-8",
    )
    for name, text in demo_plan_texts().items():
        (root / "plans" / name).write_text(text, encoding="utf-8")
    for name in ("reps", "transactions", "credits", "quotas", "fx", "adjustments", "accounts", "payments"):
        frame = getattr(company, name)
        money = [c for c in _MONEY_COLUMNS.get(name, ()) if c in frame]
        frame = frame.assign(**{c: frame[c].map("{:.2f}".format) for c in money})
        frame.to_csv(root / "data" / f"{name}.csv", index=False, lineterminator="\n")
    return company


def demo_plan_texts() -> dict[str, str]:
    """The demo plans shipped as package data (`plans/demo/*.yaml`), by file name."""
    folder = resources.files("plans").joinpath("demo")
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    }


def generate(seed: int = DEMO_SEED) -> DemoCompany:
    """All tables of the demo company; the same seed gives the same tables."""
    rng = np.random.default_rng(seed)
    people = _people(rng)
    txns, credits, accounts = _transactions(rng, people)
    txns, credits = _with_cancellations(rng, people, txns, credits)
    fx = pd.DataFrame(
        {"period": [f"{YEAR}-{m:02d}" for m in range(1, 13)], "currency": "GBP", "rate": GBP_RATES}
    )
    quotas = _quotas(rng, people, txns, credits, fx)
    reps = _reps_table(people)
    adjustments = pd.DataFrame(_ADJUSTMENTS, columns=["rep_id", "period", "amount", "reason"])
    txns = txns.drop(columns=["_currency_rate"])
    payments = _payments(np.random.default_rng(seed + PAYMENTS_SEED), people, txns)
    return DemoCompany(reps, txns, credits, quotas, fx, adjustments, accounts, payments)


# ---------------------------------------------------------------------------- payments

PAYMENTS_SEED = 17  # its own stream: adding payments changes none of the other tables


def _payments(rng, people: pd.DataFrame, txns: pd.DataFrame) -> pd.DataFrame:
    """Customer payments of the CSMs' expansions, paid half on cash (issue 17).

    Each invoice is paid 30-90 days after the deal (a business day), except one paid
    only 60% and one never paid. Payments dated after the demo year stay in the table:
    their cash is still pending at the year's close.
    """
    csm = set(people.loc[people["role"] == "csm", "rep_id"])
    deals = txns[(txns["type"] == "expansion") & txns["rep_id"].isin(csm)].reset_index(drop=True)
    delay = rng.integers(30, 91, size=len(deals)).astype("timedelta64[D]")
    dates = np.busday_offset(pd.to_datetime(deals["date"]).to_numpy().astype("datetime64[D]") + delay, 0,
                             roll="forward", holidays=HOLIDAYS)
    early = np.flatnonzero(pd.to_datetime(deals["date"]) < pd.Timestamp(f"{YEAR}-07-01"))
    partial, unpaid = rng.choice(early, size=2, replace=False)
    amount = deals["amount"].to_numpy(dtype=float).copy()
    amount[partial] = np.round(amount[partial] * 0.6, 2)
    keep = np.arange(len(deals)) != unpaid
    return pd.DataFrame({
        "txn_id": deals["txn_id"].to_numpy()[keep],
        "date": pd.to_datetime(dates[keep]).date,
        "amount": amount[keep],
        "currency": deals["currency"].to_numpy()[keep],
    }).sort_values(["date", "txn_id"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------- people


def _people(rng: np.random.Generator) -> pd.DataFrame:
    """One row per person (the promoted SDR appears once, with `role` sdr)."""
    used: set[str] = set()

    def name_from(countries: tuple[str, ...]) -> tuple[str, str]:
        while True:
            country = countries[int(rng.integers(len(countries)))]
            first, last = _NAMES[country]
            name = f"{first[int(rng.integers(len(first)))]} {last[int(rng.integers(len(last)))]}"
            if name not in used:
                used.add(name)
                return name, country

    rows: list[dict] = []

    def add(role, manager, territory, region, countries, currency, ti, start):
        name, country = name_from(countries)
        rows.append(
            {
                "rep_id": f"R{len(rows) + 1:03d}",
                "name": name,
                "role": role,
                "manager_id": manager,
                "territory": territory,
                "region": region,
                "country": country,
                "currency": currency,
                "target_incentive": ti,
                "start_date": start,
            }
        )
        return rows[-1]["rep_id"]

    def hire_date() -> dt.date:
        return dt.date(int(rng.integers(2018, 2026)), int(rng.integers(1, 13)), 1)

    vp = add("mgr", None, "EMEA", "EMEA", ("GB", "DE", "FR"), "EUR", 110000, dt.date(2019, 3, 1))
    directors = {
        region: add("mgr", vp, region, region, countries, "EUR", 75000, hire_date())
        for region, countries in (("EMEA-South", ("IT", "ES")), ("EMEA-North", ("DE", "GB")))
    }
    managers = [
        add("mgr", directors[region], terr, region, countries, cur, 50000, hire_date())
        for terr, region, countries, cur in _TEAMS
    ]
    for manager, (terr, region, countries, cur) in zip(managers, _TEAMS, strict=True):
        for role, count in _TEAM_SHAPE.items():
            for _ in range(count):
                ti = {
                    "ae": int(rng.integers(10, 15)) * 5000,
                    "sdr": int(rng.integers(18, 23)) * 1000,
                    "csm": int(rng.integers(22, 27)) * 1000,
                }[role]
                add(role, manager, terr, region, countries, cur, ti, hire_date())
    people = pd.DataFrame(rows)
    # A few Italian-speaking reps in the Italy team would rather read Italian statements.
    people["locale"] = np.where(people["country"] == "IT", "it", "en")
    people["end_date"] = None
    people.loc[people["rep_id"] == LEAVER, "end_date"] = LEAVER_END
    # The mid-year hire joins the UK team.
    uk_manager = managers[2]
    hire = dict(rows[0])
    name, country = name_from(("GB",))
    hire.update(
        rep_id=HIRE,
        name=name,
        role="ae",
        manager_id=uk_manager,
        territory="UK & Ireland",
        region="EMEA-North",
        country=country,
        currency="GBP",
        target_incentive=55000,
        start_date=HIRE_START,
        locale="en",
        end_date=None,
    )
    people = pd.concat([people, pd.DataFrame([hire])], ignore_index=True)
    assert people.loc[people["rep_id"] == LEAVER, "role"].item() == "ae"
    assert people.loc[people["rep_id"] == PROMOTED, "role"].item() == "sdr"
    people["email"] = [_email(n) for n in people["name"]]
    return people


def _email(name: str) -> str:
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    first, *rest = ascii_name.lower().replace("'", "").split(" ")
    return f"{first}.{''.join(rest).replace(' ', '')}@{EMAIL_DOMAIN}"


def _reps_table(people: pd.DataFrame) -> pd.DataFrame:
    """`reps.csv`: one row per assignment; the promoted SDR has two."""
    reps = people.assign(plan=people["role"].map(PLAN_OF))
    promoted = reps["rep_id"] == PROMOTED
    as_ae = reps[promoted].assign(
        plan=PLAN_OF["ae"], start_date=PROMOTION, end_date=None, target_incentive=50000
    )
    reps.loc[promoted, "end_date"] = PROMOTION - dt.timedelta(days=1)
    reps = pd.concat([reps, as_ae], ignore_index=True).sort_values(
        ["rep_id", "start_date"], kind="stable"
    )
    reps["manager_id"] = reps["manager_id"].fillna("")
    columns = [
        "rep_id",
        "name",
        "plan",
        "start_date",
        "end_date",
        "email",
        "manager_id",
        "target_incentive",
        "territory",
        "region",
        "locale",
    ]
    return reps[columns].reset_index(drop=True)


# ---------------------------------------------------------------------- transactions


def _business_days(
    rng: np.random.Generator,
    n: int,
    first: np.datetime64,
    last: np.datetime64,
    seasonal: bool = True,
) -> np.ndarray:
    """`n` weekdays in [first, last], weighted to quarter ends when `seasonal`."""
    days = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
    days = days[np.is_busday(days, holidays=HOLIDAYS)]
    if n == 0 or days.size == 0:
        return np.array([], dtype="datetime64[D]")
    months = days.astype("datetime64[M]").astype(int) % 12
    weights = MONTH_WEIGHTS[months] if seasonal else np.ones(days.size)
    return np.sort(rng.choice(days, size=n, p=weights / weights.sum()))


def _amounts(rng: np.random.Generator, n: int, median: float, sigma: float) -> np.ndarray:
    """Lognormal deal sizes rounded to whole currency units, some with 50 cents."""
    values = np.round(median * rng.lognormal(0.0, sigma, size=n))
    return values + np.where(rng.random(n) < 0.15, 0.5, 0.0)


def _interval(person: pd.Series) -> tuple[np.datetime64, np.datetime64]:
    start = max(np.datetime64(person["start_date"]), YEAR_START)
    end = (
        YEAR_END
        if person["end_date"] is None or pd.isna(person["end_date"])
        else np.datetime64(person["end_date"])
    )
    return start, end


def _transactions(rng, people):
    """New logos, renewals and expansions per seller; SDR overlays and split deals."""
    frames: list[pd.DataFrame] = []
    account_rows: list[pd.DataFrame] = []
    next_account = [1]

    def accounts_for(owner: str, region: str, n: int, arr_median: float, sigma: float, cur: str):
        ids = [f"ACC{next_account[0] + i:05d}" for i in range(n)]
        next_account[0] += n
        arr = _amounts(rng, n, arr_median, sigma) if arr_median else np.zeros(n)
        month = rng.integers(1, 13, size=n)
        frame = pd.DataFrame(
            {
                "account_id": ids,
                "rep_id": owner,
                "region": region,
                "arr": arr,
                "renewal_month": month,
                "currency": cur,
            }
        )
        account_rows.append(frame)
        return frame

    def frame(dates, amounts, owner, accounts, kind, products, cur):
        return pd.DataFrame(
            {
                "date": dates,
                "amount": amounts,
                "currency": cur,
                "rep_id": owner,
                "account_id": accounts,
                "type": kind,
                "product": products,
            }
        )

    ae_pools: dict[str, pd.DataFrame] = {}
    for person in people.itertuples(index=False):
        if person.role not in ("ae", "csm"):
            continue
        start, end = _interval(person._asdict())
        cur, owner = person.currency, person.rep_id
        gbp = cur == "GBP"
        scale = 0.86 if gbp else 1.0  # a deal of 25,000 EUR is about 21,500 GBP
        frac = (end - start).astype(int) / 365.0
        if person.role == "ae":
            n_new = rng.poisson(22 * frac * rng.uniform(0.75, 1.3))
            new_accounts = accounts_for(owner, person.region, n_new, 0, 0, cur)["account_id"]
            pool = ae_pools[owner] = accounts_for(owner, person.region, 28, 11000 * scale, 0.5, cur)
            n_exp = rng.poisson(9 * frac)
            products = rng.choice(PRODUCTS, size=n_new, p=PRODUCT_WEIGHTS)
            sizes = _amounts(rng, n_new, 24000 * scale, 0.55) * np.where(
                products == "Platform", 1.4, 1.0
            )
            frames.append(
                frame(
                    _business_days(rng, n_new, start, end),
                    np.round(sizes),
                    owner,
                    new_accounts.to_numpy(),
                    "new",
                    products,
                    cur,
                )
            )
            frames.append(
                frame(
                    _business_days(rng, n_exp, start, end),
                    _amounts(rng, n_exp, 7000 * scale, 0.5),
                    owner,
                    rng.choice(pool["account_id"], size=n_exp),
                    "expansion",
                    rng.choice(PRODUCTS[1:], size=n_exp),
                    cur,
                )
            )
        else:
            pool = accounts_for(owner, person.region, 55, 6500 * scale, 0.45, cur)
            n_exp = rng.poisson(18 * frac)
            frames.append(
                frame(
                    _business_days(rng, n_exp, start, end),
                    _amounts(rng, n_exp, 8000 * scale, 0.5),
                    owner,
                    rng.choice(pool["account_id"], size=n_exp),
                    "expansion",
                    rng.choice(PRODUCTS[1:], size=n_exp),
                    cur,
                )
            )
        renewals = _renewals(rng, pool, start, end)
        frames.append(renewals)

    # The leaver's book renews with the promoted rep from July.
    leaver_pool = ae_pools[LEAVER]
    late = leaver_pool["renewal_month"] > PROMOTION.month - 1
    leaver_pool = leaver_pool.assign(rep_id=np.where(late, PROMOTED, LEAVER))
    frames.append(_renewals(rng, leaver_pool[late], np.datetime64(PROMOTION), YEAR_END))
    account_rows.append(leaver_pool[late].assign(rep_id=PROMOTED))
    promoted = people[people["rep_id"] == PROMOTED].iloc[0]
    n_new = rng.poisson(11 * rng.uniform(0.9, 1.2))
    products = rng.choice(PRODUCTS, size=n_new, p=PRODUCT_WEIGHTS)
    frames.append(
        frame(
            _business_days(rng, n_new, np.datetime64(PROMOTION), YEAR_END),
            np.round(_amounts(rng, n_new, 20000, 0.5)),
            PROMOTED,
            accounts_for(PROMOTED, promoted["region"], n_new, 0, 0, "EUR")["account_id"].to_numpy(),
            "new",
            products,
            "EUR",
        )
    )

    txns = pd.concat([f for f in frames if len(f)], ignore_index=True)
    txns = txns.sort_values(["date", "rep_id", "account_id"], kind="stable").reset_index(drop=True)
    accounts = _accounts(rng, pd.concat(account_rows, ignore_index=True), txns)
    credits = _credits(rng, people, txns)
    return txns, credits, accounts


def _accounts(rng, pools: pd.DataFrame, txns: pd.DataFrame) -> pd.DataFrame:
    """`accounts.csv` for `icm align`/`icm quotas`: every account, with its year-end owner.

    `last_year` is the installed base (ARR, in EUR) before 2026; new logos have none.
    """
    eur = np.where(txns["currency"] == "GBP", GBP_RATES[-1], 1.0) * txns["amount"]
    booked = pd.Series(eur).groupby(txns["account_id"].to_numpy()).sum()
    last = pools.drop_duplicates("account_id", keep="last").set_index("account_id")
    owner = txns.groupby("account_id")["rep_id"].last().combine_first(last["rep_id"])
    region = last["region"].reindex(owner.index)
    last_year = (last["arr"] * np.where(last["currency"] == "GBP", GBP_RATES[-1], 1.0)).reindex(
        owner.index
    )
    base = np.maximum(
        last_year.fillna(0.0).to_numpy(), booked.reindex(owner.index).fillna(0.0).to_numpy()
    )
    return (
        pd.DataFrame(
            {
                "account_id": owner.index,
                "potential": np.round(base * rng.uniform(1.5, 4.0, len(owner)), -2),
                "workload": 1,
                "region": region.to_numpy(),
                "rep_id": owner.to_numpy(),
                "last_year": np.round(last_year.fillna(0.0).to_numpy(), 2),
            }
        )
        .sort_values("account_id")
        .reset_index(drop=True)
    )


def _renewals(rng, pool: pd.DataFrame, start, end) -> pd.DataFrame:
    """One renewal per account in its renewal month (if the owner is assigned then)."""
    first_of = np.array(
        [np.datetime64(f"{YEAR}-{m:02d}-01") for m in pool["renewal_month"]], dtype="datetime64[D]"
    )
    dates = first_of + rng.integers(0, 27, size=len(pool))
    dates = np.busday_offset(dates, 0, roll="forward", holidays=HOLIDAYS)
    keep = (dates >= start) & (dates <= end) & (rng.random(len(pool)) < 0.92)  # 8% churn
    uplift = np.round(pool["arr"].to_numpy() * rng.uniform(0.97, 1.08, size=len(pool)))
    return pd.DataFrame(
        {
            "date": dates[keep],
            "amount": uplift[keep],
            "currency": pool["currency"].to_numpy()[keep],
            "rep_id": pool["rep_id"].to_numpy()[keep],
            "account_id": pool["account_id"].to_numpy()[keep],
            "type": "renewal",
            "product": rng.choice(PRODUCTS, size=int(keep.sum()), p=PRODUCT_WEIGHTS),
        }
    )


def _credits(rng, people: pd.DataFrame, txns: pd.DataFrame) -> pd.DataFrame:
    """Split deals between two AEs of a team, and SDR overlays on sourced new logos.

    Only people with one assignment all year take part, so every credit row finds
    its rep assigned on the deal's date; the SDR promoted in July sources deals until
    the end of May.
    """
    stable = people[
        people["end_date"].isna()
        & (people["rep_id"] != PROMOTED)
        & (pd.to_datetime(people["start_date"]) < pd.Timestamp(YEAR_START))
    ]
    team_of = people.set_index("rep_id")["manager_id"]
    stable_aes = stable[stable["role"] == "ae"].groupby("manager_id")["rep_id"].apply(list)
    sdrs = stable[stable["role"] == "sdr"].groupby("manager_id")["rep_id"].apply(list)
    txns["txn_id"] = [f"T{YEAR}-{i + 1:05d}" for i in range(len(txns))]
    new = txns[(txns["type"] == "new") & txns["rep_id"].isin(stable["rep_id"])]
    rows = []
    for txn in new.itertuples(index=False):
        team = team_of[txn.rep_id]
        split = rng.random() < 0.08
        overlay = rng.random() < 0.40
        if split:
            mate = rng.choice([r for r in stable_aes[team] if r != txn.rep_id])
            share = (0.6, 0.4) if rng.random() < 0.6 else (0.5, 0.5)
            rows += [
                (txn.txn_id, txn.rep_id, share[0], "split"),
                (txn.txn_id, mate, share[1], "split"),
            ]
        elif overlay:
            rows.append((txn.txn_id, txn.rep_id, 1.0, "owner"))
        if overlay:
            team_sdrs = list(sdrs[team])
            if team == team_of[PROMOTED] and txn.date < pd.Timestamp(f"{YEAR}-06-01"):
                team_sdrs.append(PROMOTED)
            rows.append((txn.txn_id, rng.choice(team_sdrs), 1.0, "overlay"))
    return pd.DataFrame(rows, columns=["txn_id", "rep_id", "share", "role"])


def _with_cancellations(rng, people, txns, credits):
    """Fourteen new logos cancelled within the clawback window, one 125 days later.

    Cancelled deals are from reps with one assignment all year, dated so that the
    cancellation falls in 2026.
    """
    stable = people[
        people["end_date"].isna()
        & (people["rep_id"] != PROMOTED)
        & (pd.to_datetime(people["start_date"]) < pd.Timestamp(YEAR_START))
    ]["rep_id"]
    split_ids = set(credits.loc[credits["role"] == "split", "txn_id"])
    dates = txns["date"].to_numpy().astype("datetime64[D]")
    eligible = txns[
        (txns["type"] == "new")
        & txns["rep_id"].isin(stable)
        & ~txns["txn_id"].isin(credits.loc[credits["rep_id"] == PROMOTED, "txn_id"])
        & (dates <= np.datetime64(f"{YEAR}-09-15"))
    ]
    inside = eligible.sample(n=14, random_state=rng.integers(1 << 31))
    outside_pool = eligible[
        (eligible["date"] <= pd.Timestamp(f"{YEAR}-07-31"))
        & ~eligible["txn_id"].isin(inside["txn_id"])
        & ~eligible["txn_id"].isin(credits["txn_id"])
        & ~eligible["txn_id"].isin(split_ids)
    ]
    outside = outside_pool.sample(n=1, random_state=rng.integers(1 << 31))
    lag = np.concatenate([rng.integers(12, 85, size=len(inside)), [125]])
    originals = pd.concat([inside, outside])
    cancel_dates = np.busday_offset(
        originals["date"].to_numpy().astype("datetime64[D]") + lag.astype("timedelta64[D]"),
        0,
        roll="backward",
        holidays=HOLIDAYS,
    )
    cancels = originals.assign(
        date=cancel_dates,
        amount=-originals["amount"],
        type="cancellation",
        reverses=originals["txn_id"].to_numpy(),
    )
    txns = pd.concat([txns.assign(reverses=""), cancels], ignore_index=True)
    txns["date"] = pd.to_datetime(txns["date"]).dt.date
    txns = txns.sort_values(["date", "txn_id"], kind="stable").reset_index(drop=True)
    # Number every transaction in date order; cancellations point at the new ids.
    is_cancel = txns["reverses"] != ""
    new_ids = pd.Series([f"T{YEAR}-{i + 1:05d}" for i in range(len(txns))], index=txns.index)
    renumber = dict(zip(txns.loc[~is_cancel, "txn_id"], new_ids[~is_cancel], strict=True))
    txns["reverses"] = txns["reverses"].map(lambda r: renumber.get(r, ""))
    txns["txn_id"] = new_ids
    credits = credits.assign(txn_id=credits["txn_id"].map(renumber))
    rate = np.where(
        txns["currency"] == "GBP",
        np.array(GBP_RATES)[pd.to_datetime(txns["date"]).dt.month.to_numpy() - 1],
        1.0,
    )
    txns["_currency_rate"] = rate
    columns = [
        "txn_id",
        "date",
        "amount",
        "currency",
        "rep_id",
        "account_id",
        "type",
        "product",
        "reverses",
        "_currency_rate",
    ]
    credits = credits.sort_values(["txn_id", "role", "rep_id"], kind="stable").reset_index(
        drop=True
    )
    return txns[columns], credits


# ---------------------------------------------------------------------------- quotas


def _quotas(rng, people, txns, credits, fx) -> pd.DataFrame:
    """Quotas from each rep's simulated credit divided by a performance draw.

    AEs with a full year get one annual new-business row; the leaver, the promoted rep
    and the hire get quarterly rows for the quarters they hold the AE plan. Renewal,
    SDR, CSM retention and managers' retention quotas are quarterly; managers'
    bookings quotas are annual.
    """
    credited = _approximate_credits(txns, credits)
    # AEs' new business counts Platform deals at 1.2 (the plan's multiplier).
    ae_platform = (
        credited["rep_id"].map(people.set_index("rep_id")["role"]).eq("ae")
        & credited["product"].eq("Platform")
        & credited["type"].isin(["new", "expansion"])
    )
    credited["eur"] = credited["eur"] * np.where(
        ae_platform
        | credited["rep_id"].eq(PROMOTED)
        & credited["product"].eq("Platform")
        & credited["type"].eq("new"),
        1.2,
        1.0,
    )
    quarter = pd.to_datetime(credited["date"]).dt.quarter
    credited = credited.assign(quarter=quarter)
    role = people.set_index("rep_id")["role"]
    perf = pd.Series(
        np.clip(rng.lognormal(0.0, 0.2, size=len(people)), 0.6, 1.6), index=people["rep_id"]
    )
    rows: list[tuple[str, str, str, float]] = []

    def quota(value: float, performance: float, floor: float, step: float) -> float:
        return max(floor, round(value / performance / step) * step)

    def by_quarter(frame: pd.DataFrame) -> pd.Series:
        return frame.groupby("quarter")["eur"].sum().reindex(range(1, 5), fill_value=0.0)

    promoted_q = {1: "sdr", 2: "sdr", 3: "ae", 4: "ae"}
    for rep_id in people["rep_id"]:
        mine = credited[credited["rep_id"] == rep_id]
        p = perf[rep_id]
        new_biz = mine[mine["type"].isin(["new", "expansion"])]
        renewal = mine[mine["type"] == "renewal"]
        kind = role[rep_id]
        if kind in ("ae", "sdr") or rep_id == PROMOTED:
            ae_quarters = [q for q in range(1, 5) if rep_id != PROMOTED or promoted_q[q] == "ae"]
            if rep_id == LEAVER:
                ae_quarters = [1, 2]
            if rep_id == HIRE:
                ae_quarters = [2, 3, 4]
            if kind == "ae" and rep_id not in (LEAVER, HIRE):
                rows.append(
                    (
                        rep_id,
                        "new_business",
                        f"{YEAR}",
                        quota(new_biz["eur"].sum(), p, 100000, 5000),
                    )
                )
            elif kind == "ae" or rep_id == PROMOTED:
                nb = by_quarter(new_biz)
                for q in ae_quarters:
                    rows.append(
                        (rep_id, "new_business", f"{YEAR}-Q{q}", quota(nb[q], p, 25000, 5000))
                    )
            if kind == "ae" or rep_id == PROMOTED:
                rn = by_quarter(renewal)
                for q in ae_quarters:
                    rows.append(
                        (
                            rep_id,
                            "renewals",
                            f"{YEAR}-Q{q}",
                            quota(rn[q], p * rng.uniform(0.9, 1.1), 10000, 1000),
                        )
                    )
            if kind == "sdr":
                sourced = by_quarter(mine[mine["type"] == "new"])
                for q in range(1, 5):
                    if rep_id == PROMOTED and promoted_q[q] != "sdr":
                        continue
                    rows.append(
                        (
                            rep_id,
                            "sourced_bookings",
                            f"{YEAR}-Q{q}",
                            quota(sourced[q], p, 50000, 5000),
                        )
                    )
        elif kind == "csm":
            rn = by_quarter(renewal)
            for q in range(1, 5):
                rows.append(
                    (
                        rep_id,
                        "retention",
                        f"{YEAR}-Q{q}",
                        quota(rn[q], np.clip(p, 0.85, 1.15), 10000, 1000),
                    )
                )
        else:  # managers, directors, VP: team roll-up
            team = _subtree(people, rep_id)
            theirs = credited[credited["rep_id"].isin(team)]
            team_new = theirs[theirs["type"].isin(["new", "expansion"])]["eur"].sum()
            rows.append(
                (
                    rep_id,
                    "team_bookings",
                    f"{YEAR}",
                    quota(team_new, np.clip(p, 0.8, 1.25), 500000, 50000),
                )
            )
            rn = by_quarter(theirs[theirs["type"] == "renewal"])
            for q in range(1, 5):
                rows.append(
                    (
                        rep_id,
                        "team_retention",
                        f"{YEAR}-Q{q}",
                        quota(rn[q], np.clip(p, 0.9, 1.1), 50000, 5000),
                    )
                )
    out = pd.DataFrame(rows, columns=["rep_id", "component", "period", "amount"])
    out["amount"] = out["amount"].round(2)
    return out


def _approximate_credits(txns: pd.DataFrame, credits: pd.DataFrame) -> pd.DataFrame:
    """Credited EUR per (txn, rep), close enough to set quotas (no windows, no multipliers)."""
    base = txns[txns["type"] != "cancellation"].copy()
    base["eur"] = base["amount"] * base["_currency_rate"]
    columns = ["txn_id", "rep_id", "date", "type", "product", "eur"]
    owned = base[~base["txn_id"].isin(credits["txn_id"])][columns]
    split = credits.merge(base[["txn_id", "date", "type", "product", "eur"]], on="txn_id")
    split["eur"] = split["eur"] * split["share"]
    return pd.concat([owned, split[columns]], ignore_index=True)


def _subtree(people: pd.DataFrame, rep_id: str) -> list[str]:
    """Everyone whose manager chain reaches `rep_id`."""
    children = people.groupby("manager_id")["rep_id"].apply(list).to_dict()
    out, todo = [], [rep_id]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
