"""Workspace settings (`icm.yaml`) and the workspace's folders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from compensation.periods import Calendar


class JournalAccounts(BaseModel):
    """`journal_accounts` in `icm.yaml`: the general-ledger accounts `journal.csv` posts to (issue 17)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    expense: str = "Commission expense"
    payable: str = "Accrued commissions payable"
    held: str = "Commissions held back"
    draws: str = "Draws recoverable from reps"


class Settings(BaseModel):
    """`icm.yaml`: every key optional."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_currency: str = "EUR"
    fiscal_year_start: int = Field(default=1, ge=1, le=12)
    ledger: str = "sqlite:///icm.db"
    locale: Literal["en", "it"] = "en"
    rounding: Literal["half_up"] = "half_up"
    # Who runs the per-transaction stages (issue 20): `dask` needs the dask extra; `scheduler`
    # is a Dask scheduler address (none: a LocalCluster sized to the machine).
    engine: Literal["pandas", "dask"] = "pandas"
    scheduler: str | None = None

    @field_validator("ledger")
    @classmethod
    def _kept_ledger(cls, url: str) -> str:
        """A workspace's ledger is the system of record: an in-memory one would forget every run."""
        if url.strip() in ("sqlite://", "sqlite:///:memory:", "sqlite:///") or ":memory:" in url:
            raise ValueError("an in-memory ledger forgets every run; give a file (sqlite:///icm.db) or a "
                             "PostgreSQL URL (postgresql://user@host/db)")
        return url
    journal_accounts: JournalAccounts = Field(default_factory=JournalAccounts)


@dataclass(frozen=True)
class Workspace:
    """A workspace folder and its settings; paths derive from `root`."""

    root: Path
    settings: Settings

    @property
    def plans_dir(self) -> Path:
        return self.root / "plans"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def out_dir(self) -> Path:
        return self.root / "out"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @cached_property
    def calendar(self) -> Calendar:
        return Calendar(self.settings.fiscal_year_start)

    @property
    def ledger_url(self) -> str:
        """The ledger URL with a relative SQLite path resolved against the workspace."""
        url = self.settings.ledger
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
            return prefix + str((self.root / url[len(prefix) :]).resolve())
        return url
