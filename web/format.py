"""How figures look on the web pages: money with separators, percentages, dates, labels."""

from __future__ import annotations

from datetime import UTC, datetime

from compensation.money import cents_to_decimal

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


def money(cents, sign: bool = False) -> str:
    """Integer cents as `1,234.56` (`-` when blank); `sign` adds `+` to positive changes."""
    if cents is None or cents != cents or str(cents) == "<NA>":
        return "-"
    text = f"{cents_to_decimal(int(cents)):,}"
    return f"+{text}" if sign and int(cents) > 0 else text


def pct(value, decimals: int = 1) -> str:
    """A fraction as `83.3%` (`-` when blank)."""
    if value is None or value != value or str(value) == "<NA>":
        return "-"
    return f"{float(value) * 100:.{decimals}f}%"


def when(value) -> str:
    """A timestamp in UTC, to the minute."""
    if value is None or value != value:
        return ""
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def month(period: str) -> str:
    """`2026-02` as `February 2026`."""
    try:
        return f"{MONTHS[int(period[5:7]) - 1]} {period[:4]}"
    except (ValueError, IndexError, TypeError):
        return str(period)


def label(value) -> str:
    """`pending_information` as `Pending information`."""
    text = str(value or "").replace("_", " ")
    return text[:1].upper() + text[1:]
