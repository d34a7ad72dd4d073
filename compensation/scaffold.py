"""A new, empty workspace with template plans and header-only data tables (`icm init`).

The templates are package data (`plans/templates/*.yaml`), read through
`importlib.resources` so that an installed (non-editable) package works too.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from compensation.errors import IcmError

SETTINGS_TEXT = """\
# icm workspace settings. Every key is optional: the values shown are the defaults.
# Remove the '#' in front of a key to change it. Reference: docs/plan-language.md.

# base_currency: EUR          # the currency fx rates are quoted in (data/fx.csv)
# fiscal_year_start: 1        # month (1-12) in which the fiscal year starts
# ledger: sqlite:///icm.db    # SQLAlchemy URL; a relative SQLite path is inside the workspace
# locale: en                  # language of PDF statements: en | it
# rounding: half_up           # money is rounded to the cent, half away from zero
"""

# Header-only tables (SPEC section 3): required columns first, then the optional ones.
DATA_HEADERS = {
    "reps": ("rep_id", "name", "plan", "start_date", "end_date", "email", "manager_id",
             "target_incentive", "territory", "region", "locale"),
    "transactions": ("txn_id", "date", "amount", "currency", "rep_id", "account_id", "type",
                     "product", "reverses"),
    "quotas": ("rep_id", "component", "period", "amount"),
    "credits": ("txn_id", "rep_id", "share", "role"),
    "fx": ("period", "currency", "rate"),
    "adjustments": ("rep_id", "period", "amount", "reason"),
}


def template_plans() -> dict[str, str]:
    """The shipped template plans: file name -> YAML text, by name."""
    folder = resources.files("plans").joinpath("templates")
    return {
        item.name: item.read_text(encoding="utf-8")
        for item in sorted(folder.iterdir(), key=lambda i: i.name)
        if item.is_file() and item.name.endswith(".yaml")
    }


def init_workspace(target: Path) -> list[Path]:
    """Create an empty workspace in `target` (new or empty); returns the files written."""
    target = Path(target)
    if target.exists():
        if not target.is_dir():
            raise IcmError(f"{target} exists and is a file; choose a new folder for the workspace")
        if any(target.iterdir()):
            raise IcmError(f"{target} exists and is not empty; choose a new or empty folder "
                           "for the workspace")
    templates = template_plans()
    if not templates:
        raise IcmError("the icm package has no template plans (plans/templates); reinstall icm")
    created: list[Path] = []

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        created.append(path)

    try:
        write(target / "icm.yaml", SETTINGS_TEXT)
        for name, text in templates.items():
            write(target / "plans" / name, text)
        for table, columns in DATA_HEADERS.items():
            write(target / "data" / f"{table}.csv", ",".join(columns) + "\n")
        (target / "out").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IcmError(f"cannot create the workspace in {target}: {exc.strerror}") from None
    return created
