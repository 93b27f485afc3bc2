"""Trends: which quarters are shown, and quarters without data shown as x, never 0."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from tce_cli.periods import parse_period
from tce_cli.report import build_pack, render_markdown
from tce_cli.report.pack import Pack
from tce_cli.report.publish import PublishedTable
from tce_cli.report.trends import window_periods
from test_report_support import Rec, write_store

WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CHANGE = "Change on previous quarter"


def _quarters(labels: list[str]) -> dict[str, list[Rec]]:
    """One open child per quarter, plus a second child in the last quarter."""
    out = {}
    for label in labels:
        p = parse_period(label)
        out[label] = [Rec("a", "gmp", date(2024, 1, 1), la="E08000001", age=14)]
        out[label][0].start = p.start.replace(year=p.start.year - 1)
    out[labels[-1]].append(Rec("b", "gmp", parse_period(labels[-1]).start))
    return out


def _table(pack: Pack, id: str) -> PublishedTable:
    return next(t for s in pack.sections for t in s.tables if t.id == id)


def _row(table: PublishedTable, prefix: str) -> list[str]:
    return [c.text for c in next(r for r in table.rows if r.label.startswith(prefix)).cells]


def test_window_is_the_last_eight_quarters_from_the_store_start() -> None:
    p = parse_period("2026-27 Q2")
    stored = [parse_period(x) for x in ("2023-24 Q1", "2026-27 Q2")]
    labels = [q.label for q in window_periods(p, stored)]
    assert labels == [
        "2024-25 Q3",
        "2024-25 Q4",
        "2025-26 Q1",
        "2025-26 Q2",
        "2025-26 Q3",
        "2025-26 Q4",
        "2026-27 Q1",
        "2026-27 Q2",
    ]
    later = [parse_period("2026-27 Q1"), p]
    assert [q.label for q in window_periods(p, later)] == ["2026-27 Q1", "2026-27 Q2"]


def test_missing_quarter_is_x_and_change_is_x(tmp_path: Path) -> None:
    store = write_store(tmp_path / "s", _quarters(["2025-26 Q4", "2026-27 Q2"]))
    pack = build_pack(store, parse_period("2026-27 Q2"), suppression=False, generated_at=WHEN)
    trend = _table(pack, "trends")
    assert trend.columns == ("2025-26 Q4", "2026-27 Q1", "2026-27 Q2", CHANGE)
    assert _row(trend, "M01") == ["1", "x", "2", "x"]
    assert _row(trend, "M06") == ["0.0", "x", "0.0", "x"]
    assert all(r.cells[1].text == "x" for r in trend.rows)
    headline = _table(pack, "headline")
    assert headline.columns[:2] == ("2026-27 Q2", "2026-27 Q1")
    assert _row(headline, "M01") == ["2", "x", "x"]
    coverage = _table(pack, "coverage-status")
    # the default manifest extract date (14 Oct 2026) is late for 2025-26 Q4
    assert [c.text for c in coverage.rows[0].cells] == ["late", "x", "submitted"]


def test_trend_keeps_eight_quarters_and_change_on_previous(tmp_path: Path) -> None:
    labels = [parse_period("2026-27 Q2").previous(n).label for n in range(9, -1, -1)]
    store = write_store(tmp_path / "s", _quarters(labels))
    pack = build_pack(store, parse_period("2026-27 Q2"), suppression=False, generated_at=WHEN)
    trend = _table(pack, "trends")
    assert trend.columns == (*labels[-8:], CHANGE)
    assert _row(trend, "M01") == ["1"] * 7 + ["2", "+1"]
    assert _row(_table(pack, "headline"), "M01") == ["2", "1", "+1"]


def test_suppressed_trend_values_are_c_and_not_plotted(tmp_path: Path) -> None:
    store = write_store(tmp_path / "s", _quarters(["2026-27 Q1", "2026-27 Q2"]))
    pack = build_pack(store, parse_period("2026-27 Q2"), generated_at=WHEN)
    trend = _table(pack, "trends")
    assert _row(trend, "M01") == ["c", "c", "c"]
    assert _row(_table(pack, "headline"), "M01") == ["c", "c", "c"]
    text = render_markdown(pack)
    assert "Children open at quarter end: nothing to plot" in text
    assert 'title "Children open at quarter end"' not in text  # both quarters are c
