import numpy as np
import pytest

from compensation.periods import Calendar, month_index, month_name


def test_fiscal_quarters_named_by_the_year_they_end():
    cal = Calendar(fiscal_year_start=4)
    assert cal.period_of("quarter", month_index("2025-04")) == "2026-Q1"
    assert [month_name(m) for m in cal.bounds("2026-Q1")] == ["2025-04", "2025-06"]
    assert [month_name(m) for m in cal.bounds("2026")] == ["2025-04", "2026-03"]
    months = np.array([month_index("2026-03"), month_index("2026-04")])
    assert cal.periods_of("year", months).tolist() == ["2026", "2027"]


def test_calendar_year_and_periods_begun():
    cal = Calendar()
    assert cal.periods_begun("quarter", month_index("2026-05")) == ["2026-Q1", "2026-Q2"]
    assert cal.periods_begun("month", month_index("2026-02")) == ["2026-01", "2026-02"]
    assert cal.is_quarter_end(month_index("2026-03")) and not cal.is_quarter_end(month_index("2026-04"))


@pytest.mark.parametrize("text", ["2026-13", "2026-3", "March", "2026-Q5"])
def test_bad_months(text):
    with pytest.raises(ValueError):
        month_index(text)


def test_quarter_last_month_follows_the_fiscal_year():
    cal = Calendar(fiscal_year_start=4)
    months = np.array([month_index(m) for m in ("2025-04", "2025-06", "2025-07", "2026-03")])
    assert [month_name(m) for m in cal.quarter_last_month(months)] == ["2025-06", "2025-06", "2025-09", "2026-03"]
    assert (cal.quarter_number(months[:2]) == cal.quarter_number(months[0])).all()


def test_in_fiscal_year_with_april_start():
    from compensation.periods import Calendar

    months = ["2026-03", "2026-04", "2027-03", "2027-04", None]
    assert Calendar(4).in_fiscal_year(months, 2027).tolist() == [False, True, True, False, False]
    assert Calendar(1).in_fiscal_year(months, 2026).tolist() == [True, True, False, False, False]
