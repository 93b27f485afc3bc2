from __future__ import annotations

from datetime import date

import pytest

from tce_cli.errors import PeriodError
from tce_cli.periods import (
    add_working_days,
    bank_holidays,
    is_working_day,
    parse_period,
    working_days_after,
)


@pytest.mark.parametrize("text", ["2026-27 Q2", "2026-27Q2", "2026/27 Q2", "2026-2027 Q2"])
def test_financial_quarter_labels(text: str) -> None:
    p = parse_period(text)
    assert (p.label, p.start, p.end) == ("2026-27 Q2", date(2026, 7, 1), date(2026, 9, 30))
    assert p.time_period == "202627" and p.time_identifier == "Financial year Q2"


def test_q4_is_next_calendar_year() -> None:
    p = parse_period("2025-26 Q4")
    assert (p.start, p.end) == (date(2026, 1, 1), date(2026, 3, 31))
    assert p.next().label == "2026-27 Q1"
    assert p.previous(4).label == "2024-25 Q4"


def test_calendar_quarter() -> None:
    p = parse_period("2026 CQ3")
    assert (p.start, p.end) == (date(2026, 7, 1), date(2026, 9, 30))
    assert p.time_identifier == "Calendar year Q3"


@pytest.mark.parametrize("text", ["Q2", "2026-28 Q2", "2026 Q2", "", "2026-27 Q5"])
def test_ambiguous_or_bad_labels_are_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


# England and Wales bank holidays as gov.uk lists them (gov.uk/bank-holidays).
GOV_UK = {
    2020: "01-01 04-10 04-13 05-08 05-25 08-31 12-25 12-28",
    2022: "01-03 04-15 04-18 05-02 06-02 06-03 08-29 09-19 12-26 12-27",
    2023: "01-02 04-07 04-10 05-01 05-08 05-29 08-28 12-25 12-26",
    2024: "01-01 03-29 04-01 05-06 05-27 08-26 12-25 12-26",
    2025: "01-01 04-18 04-21 05-05 05-26 08-25 12-25 12-26",
    2026: "01-01 04-03 04-06 05-04 05-25 08-31 12-25 12-28",
    2027: "01-01 03-26 03-29 05-03 05-31 08-30 12-27 12-28",
}


@pytest.mark.parametrize("year", sorted(GOV_UK))
def test_bank_holidays_are_gov_uks(year: int) -> None:
    want = {date.fromisoformat(f"{year}-{d}") for d in GOV_UK[year].split()}
    assert bank_holidays(year) == want


def test_working_days_skip_weekends_and_bank_holidays() -> None:
    # 2025-26 Q3 ends on Wed 31 Dec 2025: Thu 1 Jan 2026 is a bank holiday
    assert add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 2)
    assert add_working_days(date(2025, 12, 31), 20) == date(2026, 1, 29)
    assert working_days_after(date(2025, 12, 31), date(2026, 1, 29)) == 20
    # 2025-26 Q4 ends on Tue 31 Mar 2026: Good Friday 3 and Easter Monday 6 April
    assert add_working_days(date(2026, 3, 31), 20) == date(2026, 4, 30)
    assert working_days_after(date(2026, 3, 31), date(2026, 4, 6)) == 2
    assert working_days_after(date(2026, 9, 30), date(2026, 9, 1)) == 0
    assert not is_working_day(date(2026, 12, 28)) and is_working_day(date(2026, 12, 29))
