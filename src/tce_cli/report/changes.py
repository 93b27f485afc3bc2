"""The pack's "Change on previous quarter" table: each agency's return against its last one.

Built from :func:`tce_cli.cycle.compare.period_changes` (the same comparison that raises the
period-over-period queries in validate and harmonise). Counts go through disclosure control
like every other count; the shares behind distribution shifts are left out, since a share
can reveal a small count.
"""

from __future__ import annotations

import polars as pl

from tce_cli.periods import Period
from tce_cli.report.model import Cell, Count, Row, Symbol, Table, Text, make_key
from tce_cli.report.quality import AGENCY

_MEASURES = (
    ("rows_read", "Rows read", "PQ.rows_read"),
    ("children_open_at_end", "Children open at end", "PQ.children_open_at_end"),
    ("new_episodes", "New episodes", "PQ.new_episodes"),
)


def change_table(changes: pl.DataFrame, period: Period) -> Table:
    """One row per agency: each count last quarter and this quarter, and the queries raised."""
    before = period.previous()
    columns = tuple(
        f"{title}, {q.label}" for _, title, _ in _MEASURES for q in (before, period)
    ) + ("Queries raised",)
    rows = []
    for agency_id in sorted(set(changes["agency_id"].to_list())):
        mine = changes.filter(pl.col("agency_id") == agency_id)
        name = str(mine["agency_name"][0] or agency_id)
        cells: list[Cell] = []
        for measure, _, key in _MEASURES:
            found = mine.filter(pl.col("measure") == measure)
            for side, q in (("previous", before), ("current", period)):
                value = found[side][0] if found.height else None
                cells.append(
                    Symbol("x")
                    if value is None
                    else Count(make_key(q.label, key, parts=((AGENCY, name),)), int(value))
                )
        flagged = mine.filter(pl.col("flagged"))
        raised = sorted(
            {f"{c} ({f})" if f else c for c, f in flagged.select("code", "field").iter_rows()}
        )
        cells.append(Text("; ".join(raised) or "none"))
        rows.append(Row(name, tuple(cells)))
    return Table(
        id="period-changes",
        title=f"Each agency's return, {before.label} and {period.label}",
        stub="Agency",
        columns=columns,
        rows=tuple(rows),
        note="x: no return that quarter. Queries are raised when a count changes by more than "
        "the threshold in tce.toml (default 50%, on a base of at least 20), when children open "
        "last quarter are missing without a closure, when a field's completeness drops, or "
        "when the mix of codes in a field shifts sharply.",
    )
