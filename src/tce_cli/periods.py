"""Reporting periods: quarters of the English local-government financial year (Q1 = Apr-Jun).

Canonical label ``2026-27 Q2`` (1 Jul to 30 Sep 2026). Also accepted: ``2026-27Q2``,
``2026/27 Q2``, ``2026-2027 Q2`` and explicit calendar quarters ``2026 CQ3`` (Jul-Sep 2026).
A bare "Q2" with no year is refused: it is ambiguous between financial and calendar quarters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from tce_cli.errors import PeriodError

_FY = re.compile(r"^\s*(\d{4})\s*[-/]\s*(\d{2}|\d{4})\s*Q([1-4])\s*$", re.IGNORECASE)
_CQ = re.compile(r"^\s*(\d{4})\s*CQ([1-4])\s*$", re.IGNORECASE)

_HINT = (
    "Write the quarter of the financial year like 2026-27 Q2 (Jul-Sep 2026), "
    "or a calendar quarter like 2026 CQ3."
)


@dataclass(frozen=True, order=True)
class Period:
    """One reporting quarter with explicit start and end dates."""

    start: date
    end: date
    label: str

    @property
    def slug(self) -> str:
        """Label without spaces, used in store partition names (``2026-27Q2``)."""
        return self.label.replace(" ", "")

    @property
    def is_financial(self) -> bool:
        return "CQ" not in self.label

    @property
    def time_period(self) -> str:
        """EES six-digit time period for financial years (``202627``), or the calendar year."""
        if self.is_financial:
            fy = self.financial_year_start
            return f"{fy}{(fy + 1) % 100:02d}"
        return str(self.start.year)

    @property
    def time_identifier(self) -> str:
        """EES time identifier (``Financial year Q2`` or ``Calendar year Q3``)."""
        quarter = self.label[-1]
        return f"{'Financial' if self.is_financial else 'Calendar'} year Q{quarter}"

    @property
    def financial_year_start(self) -> int:
        return self.start.year if self.start.month >= 4 else self.start.year - 1

    def previous(self, n: int = 1) -> Period:
        """The quarter ``n`` quarters before this one, in the same labelling scheme."""
        return _shift(self, -n)

    def next(self, n: int = 1) -> Period:
        return _shift(self, n)

    def __str__(self) -> str:
        return self.label


def _quarter_dates(year: int, first_month: int) -> tuple[date, date]:
    start = date(year, first_month, 1)
    month_after = first_month + 3
    nxt = date(year + (month_after - 1) // 12, (month_after - 1) % 12 + 1, 1)
    return start, nxt - timedelta(days=1)


def financial_quarter(fy_start: int, quarter: int) -> Period:
    """Quarter ``quarter`` (1-4) of the financial year starting 1 April ``fy_start``."""
    first_month = 4 + 3 * (quarter - 1)
    year = fy_start + (first_month - 1) // 12
    start, end = _quarter_dates(year, (first_month - 1) % 12 + 1)
    return Period(start, end, f"{fy_start}-{(fy_start + 1) % 100:02d} Q{quarter}")


def calendar_quarter(year: int, quarter: int) -> Period:
    """Calendar quarter ``quarter`` of ``year`` (CQ1 = Jan-Mar)."""
    start, end = _quarter_dates(year, 1 + 3 * (quarter - 1))
    return Period(start, end, f"{year} CQ{quarter}")


def _shift(period: Period, n: int) -> Period:
    quarter = int(period.label[-1])
    if period.is_financial:
        index = period.financial_year_start * 4 + quarter - 1 + n
        return financial_quarter(index // 4, index % 4 + 1)
    index = period.start.year * 4 + quarter - 1 + n
    return calendar_quarter(index // 4, index % 4 + 1)


def parse_period(text: str) -> Period:
    """Parse a period label; raise PeriodError with a hint when it is not a quarter we know."""
    match = _FY.match(text)
    if match:
        first, second, quarter = int(match[1]), match[2], int(match[3])
        expected = (first + 1) % 100 if len(second) == 2 else first + 1
        if int(second) != expected:
            raise PeriodError(f"Period '{text}': the years are not consecutive.", hint=_HINT)
        if not 1990 <= first <= 2100:
            raise PeriodError(f"Period '{text}': year {first} is out of range.", hint=_HINT)
        return financial_quarter(first, quarter)
    match = _CQ.match(text)
    if match:
        return calendar_quarter(int(match[1]), int(match[2]))
    raise PeriodError(f"Period '{text}' is not a quarter label tce understands.", hint=_HINT)


def period_from_slug(slug: str) -> Period:
    """Inverse of Period.slug (store partition names)."""
    return parse_period(slug)


def quarter_containing(day: date) -> Period:
    """The financial quarter that ``day`` falls in."""
    fy = day.year if day.month >= 4 else day.year - 1
    quarter = ((day.month - 4) % 12) // 3 + 1
    return financial_quarter(fy, quarter)


def latest_ended_by(day: date) -> Period:
    """The most recent financial quarter that had ended on or before ``day``."""
    current = quarter_containing(day)
    return current if day == current.end else current.previous()


# --- working days ------------------------------------------------------------------------

_ONE_OFF = {
    date(1995, 5, 8): date(1995, 5, 1),  # VE day 50th anniversary: the early May holiday moved
    date(2020, 5, 8): date(2020, 5, 4),  # VE day 75th anniversary: the early May holiday moved
    date(2002, 6, 4): date(2002, 5, 27),  # Golden Jubilee: the spring holiday moved
    date(2012, 6, 4): date(2012, 5, 28),  # Diamond Jubilee: the spring holiday moved
    date(2022, 6, 2): date(2022, 5, 30),  # Platinum Jubilee: the spring holiday moved
}
"""Regular holidays moved to another day that year (new date -> the date it replaced)."""
_EXTRA = frozenset(
    {
        date(1999, 12, 31),  # Millennium
        date(2002, 6, 3),  # Golden Jubilee
        date(2011, 4, 29),  # Royal wedding
        date(2012, 6, 5),  # Diamond Jubilee
        date(2022, 6, 3),  # Platinum Jubilee
        date(2022, 9, 19),  # State funeral of Queen Elizabeth II
        date(2023, 5, 8),  # Coronation of King Charles III
    }
)
"""One-off bank holidays (gov.uk)."""


def _easter(year: int) -> date:
    """Easter Sunday (Gregorian calendar; the anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def _monday_on_or_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


def _last_monday(year: int, month: int) -> date:
    last = (date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1)) - timedelta(days=1)
    return last - timedelta(days=last.weekday())


@cache
def bank_holidays(year: int) -> frozenset[date]:
    """England and Wales bank holidays in ``year``, by the rules gov.uk publishes.

    New Year's Day, Christmas Day and Boxing Day move to the next weekday(s) when they fall at
    a weekend; Good Friday and Easter Monday; the first and last Mondays of May and the last
    Monday of August; with the one-off and moved holidays of 1995-2023. A one-off holiday
    announced after this version of tce is not known to it.
    """
    first = date(year, 1, 1)
    new_year = first if first.weekday() < 5 else _monday_on_or_after(first)
    easter = _easter(year)
    days = {
        new_year,
        easter - timedelta(days=2),
        easter + timedelta(days=1),
        _monday_on_or_after(date(year, 5, 1)),
        _last_monday(year, 5),
        _last_monday(year, 8),
    }
    christmas = {  # by the weekday of 25 December
        4: (25, 28),  # Fri: Boxing Day (Sat) moves to Mon 28
        5: (27, 28),  # Sat: Mon 27 and Tue 28
        6: (26, 27),  # Sun: Mon 26 (Boxing Day) and Tue 27
    }.get(date(year, 12, 25).weekday(), (25, 26))
    days |= {date(year, 12, d) for d in christmas}
    for moved, regular in _ONE_OFF.items():
        if moved.year == year:
            days = (days - {regular}) | {moved}
    return frozenset(days | {d for d in _EXTRA if d.year == year})


def is_working_day(day: date) -> bool:
    """Monday to Friday and not an England and Wales bank holiday."""
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (see :func:`is_working_day`)."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            left -= 1
    return current


def working_days_after(end: date, day: date) -> int:
    """Working days after ``end`` up to and including ``day`` (0 when ``day`` is not later)."""
    count, current = 0, end
    while current < day:
        current += timedelta(days=1)
        count += is_working_day(current)
    return count
