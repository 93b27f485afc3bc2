"""The quarterly measures (domain §8.3), each defined once: id, title, definition and functions.

A measure's ``tables`` function returns the tables it publishes for the report quarter, each with
the id of the pack section it belongs in; its ``headline`` function returns its headline value
(a Greater Manchester count or percentage) for any quarter, which feeds the headline table and
the trends. Both read a :class:`~tce_cli.report.cohorts.PeriodData` (lazy scan of the store).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tce_cli.report.cohorts import PeriodData
from tce_cli.report.model import Count, Rate, Table

Placed = tuple[str, Table]
"""(section id, table)."""


@dataclass(frozen=True)
class Measure:
    """One measure of the framework."""

    id: str
    title: str
    definition: str
    tables: Callable[[PeriodData], list[Placed]] | None = None
    headline: Callable[[PeriodData], Count | Rate] | None = None
    headline_label: str = ""
    indicators: dict[str, str] = field(default_factory=dict)
    unavailable: str = ""


def all_measures() -> tuple[Measure, ...]:
    """Every measure in id order (M01-M17)."""
    from tce_cli.report.measures import caseload, safeguarding, vulnerability

    found = (*caseload.MEASURES, *safeguarding.MEASURES, *vulnerability.MEASURES)
    return tuple(sorted(found, key=lambda m: m.id))


__all__ = ["Measure", "Placed", "all_measures"]
