from __future__ import annotations

from datetime import date

import pytest

from tce_cli.errors import PeriodError
from tce_cli.periods import parse_period


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
