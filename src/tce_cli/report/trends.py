"""The headline table (change on the previous quarter) and trends over up to 8 quarters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tce_cli.periods import Period
from tce_cli.report.measures import Measure
from tce_cli.report.model import Cell, Change, Chart, Count, Rate, Row, Symbol, Table

TREND_QUARTERS = 8
CHARTED = ("M01", "M03", "M05", "M08")
"""Measures whose trend is drawn as a line chart."""

Window = Sequence[tuple[Period, Mapping[str, Count | Rate] | None]]
"""Each quarter with its headline values by measure id (None: no data in the store)."""


def window_periods(period: Period, stored: Sequence[Period]) -> list[Period]:
    """The last ``TREND_QUARTERS`` quarters up to ``period``, from the store's first quarter on.

    Quarters inside the window that the store lacks stay in the list (shown as ``x``).
    """
    same_scheme = [p for p in stored if p.is_financial == period.is_financial]
    first = min(same_scheme, default=period).start
    quarters = [period.previous(n) for n in range(TREND_QUARTERS - 1, -1, -1)]
    return [q for q in quarters if q.start >= first]


def _values(measures: Sequence[Measure], values: Mapping[str, Count | Rate] | None) -> list[Cell]:
    found = values or {}
    return [found.get(m.id, Symbol("x")) for m in measures]


def _label(m: Measure) -> str:
    return f"{m.id} {m.headline_label or m.title}"


def headline_tables(measures: Sequence[Measure], window: Window) -> tuple[Table, Table]:
    """(headline table, trend table) for the last quarter of ``window``."""
    shown = [m for m in measures if m.headline is not None or m.unavailable]
    by_quarter = [_values(shown, values) for _, values in window]
    period = window[-1][0]
    previous = by_quarter[-2] if len(window) > 1 else [Symbol("x")] * len(shown)
    changes = [
        _change(m, now, before)
        for m, now, before in zip(shown, by_quarter[-1], previous, strict=True)
    ]
    rows = tuple(
        Row(_label(m), (by_quarter[-1][i], previous[i], changes[i])) for i, m in enumerate(shown)
    )
    missing = [f"{m.id} {m.title}: {m.unavailable}" for m in shown if m.unavailable]
    change_label = "Change on previous quarter"
    headline = Table(
        "headline",
        f"Headline measures, {period.label}",
        "Measure",
        (period.label, period.previous().label, change_label),
        rows,
        note="Change is in children for counts and in percentage points for percentages "
        "(worked out before rounding). " + " ".join(missing),
    )
    trend_rows = tuple(
        Row(_label(m), (*(values[i] for values in by_quarter), changes[i]))
        for i, m in enumerate(shown)
    )
    charts = tuple(
        Chart("line", m.headline_label or m.title, "Children", i, span=len(window))
        for i, m in enumerate(shown)
        if m.id in CHARTED
    )
    trend = Table(
        "trends",
        f"Headline measures over the last {len(window)} quarter(s)",
        "Measure",
        (*(q.label for q, _ in window), change_label),
        trend_rows,
        note="x = no data in the store for that quarter (never shown as 0).",
        charts=charts,
    )
    return headline, trend


def _change(m: Measure, now: Cell, before: Cell) -> Cell:
    return Change(_value(now), _value(before)) if m.headline else Symbol("x")


def _value(cell: Cell) -> Count | Rate | Symbol:
    if isinstance(cell, Count | Rate | Symbol):
        return cell
    return Symbol("x")
