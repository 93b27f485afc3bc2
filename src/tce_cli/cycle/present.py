"""Rich presenters for the quarterly cycle (validate / harmonise extras, status, ack)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
from rich.markup import escape

from tce_cli import console
from tce_cli.findings import RULES, Family, FindingCode

if TYPE_CHECKING:
    from tce_cli.cycle.status import PeriodStatus
    from tce_cli.pipeline import FileResult

_CYCLE_FAMILIES = (Family.PERIOD, Family.ACKNOWLEDGEMENT)
_STATE_COLOUR = {"on time": "green", "late": "yellow", "missing": "red", "awaiting": "cyan"}


def cycle_codes() -> list[str]:
    """Codes shown with their full message (aggregate text, never ids or values)."""
    return [r.code.value for r in RULES.values() if r.family in _CYCLE_FAMILIES]


def show_review(f: FileResult, *, label: str = "") -> None:
    """Period-over-period queries and stale acknowledgements with their messages, the
    acknowledged count, and the review's notes (on stderr)."""
    out = console.stdout
    prefix = f"{label}: " if label else ""
    codes = cycle_codes()
    order = pl.col("code").replace_strict({c: i for i, c in enumerate(codes)}, default=None)
    shown = f.findings.filter(pl.col("code").is_in(codes)).sort(order, "field", maintain_order=True)
    for code, message in shown.select("code", "message").iter_rows():
        colour = "yellow" if RULES[FindingCode(code)].severity.value == "query" else "cyan"
        out.print(f"{prefix}[{colour}]{code}[/]: {escape(message)}")
    if f.acknowledged.height:
        by_code = ", ".join(f"{c} {n}" for c, n in f.acknowledged_by_code().items())
        out.print(
            f"{prefix}acknowledged: {f.acknowledged.height} ({by_code}); not counted "
            "against the agency"
        )
    for note in f.notes:
        console.info(f"{prefix}{note}")


def show_status(status: PeriodStatus) -> None:
    """The status table, the deadline, and cross-agency conflicts (aggregate)."""
    from rich import box
    from rich.table import Table

    out = console.stdout
    table = Table(
        title=f"Returns for {status.period.label}",
        caption="runs: harmonise runs for the period (2 or more = resubmitted); last run in "
        "UTC; ack'd: acknowledged queries (not in queries)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    table.add_column("agency", no_wrap=True)
    table.add_column("state", no_wrap=True)
    for name in ("runs", "last run", "extracted", "read", "rejected", "errors", "queries"):
        table.add_column(name, justify="left" if name in ("last run", "extracted") else "right")
    table.add_column("ack'd", justify="right")
    for a in status.agencies:
        colour = _STATE_COLOUR.get(a.state, "white")
        table.add_row(
            a.agency_id,
            f"[{colour}]{a.state}[/]",
            str(a.submissions),
            _when(a.latest_submission),
            a.extract_date or "",
            *[
                "" if v is None else str(v)
                for v in (a.rows_read, a.rows_rejected, a.errors, a.queries, a.acknowledged)
            ],
        )
    out.print(table)
    out.print(
        f"On time = extracted within {status.lag_working_days} working days of "
        f"{status.period.end:%d/%m/%Y} (by {status.deadline:%d/%m/%Y}), unless a mapping "
        "sets another lag."
    )
    for a in status.agencies:
        if a.period_queries:
            out.print(
                f"{a.agency_id}: {_count(a.period_queries, 'query', 'queries')} against last "
                "quarter (tce validate FILE --store shows them)."
            )
        if a.stale_acknowledgements:
            out.print(
                f"{a.agency_id}: {_count(a.stale_acknowledgements, 'stale acknowledgement')} "
                "to remove from its acknowledgements file."
            )
    _show_conflicts(status.consistency)
    for note in status.notes:
        console.info(note)


def _show_conflicts(consistency: pl.DataFrame) -> None:
    from rich import box
    from rich.table import Table

    conflicts = consistency.filter(pl.col("conflicts") > 0)
    if conflicts.height == 0:
        console.stdout.print("Cross-agency consistency: no conflicts between agencies' returns.")
        return
    table = Table(
        title="Cross-agency consistency (counts of children, never which)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for name in ("rule", "DQ", "agencies"):
        table.add_column(name, no_wrap=True)
    table.add_column("in common", justify="right")
    table.add_column("conflicting", justify="right")
    for row in conflicts.iter_rows(named=True):
        table.add_row(
            row["code"],
            row["dq"],
            f"{row['agency_a']} / {row['agency_b']}",
            str(row["children_in_common"]),
            str(row["conflicts"]),
        )
    console.stdout.print(table)


def _when(iso: str | None) -> str:
    """``2026-11-25T09:00:00Z`` as ``25 Nov 09:00`` (UTC): the table has little room."""
    from datetime import datetime

    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).strftime("%d %b %H:%M")
    except ValueError:
        return iso


def _count(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"
