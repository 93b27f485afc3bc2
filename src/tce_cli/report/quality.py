"""Data quality, data maturity and submission coverage, from the period manifests.

Scores (0-100) per agency and quarter:
* completeness: the mean, over the required fields the manifest lists, of % of rows populated;
* validity: % of rows read that were accepted (no error finding);
* timeliness: 100 when the extract is dated within 20 working days (Monday to Friday, not
  England and Wales bank holidays) after the quarter end, less 5 points per working day later;
* maturity: the mean of the three.
A submission is late when its extract is dated more than 20 working days after the quarter end.
Percentages and scores are shown only when the agency's rows read are published and >= 10.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from statistics import fmean
from typing import Any

from tce_cli.periods import Period, working_days_after
from tce_cli.report.model import (
    Cell,
    Change,
    Count,
    Equation,
    Number,
    Rate,
    Row,
    Symbol,
    Table,
    Text,
    make_key,
)

LATE_WORKING_DAYS = 20
AGENCY = "Agency"
ALL_AGENCIES = "All agencies"


@dataclass(frozen=True)
class Submission:
    """One agency's entry in a period manifest (only what the pack shows)."""

    agency_id: str
    name: str
    rows_read: int | None
    rows_accepted: int | None
    rows_rejected: int | None
    errors: int | None
    queries: int | None
    completeness: dict[str, float] = field(default_factory=dict)
    validity: float | None = None
    extract_date: date | None = None
    working_days: int | None = None
    mapping: str = ""
    submitted_at: str = ""
    files: tuple[str, ...] = ()

    @property
    def late(self) -> bool:
        return self.working_days is not None and self.working_days > LATE_WORKING_DAYS

    def scores(self) -> dict[str, float | None]:
        """Completeness, validity, timeliness and overall maturity scores (0-100)."""
        completeness = fmean(self.completeness.values()) if self.completeness else None
        timeliness = None
        if self.working_days is not None:
            timeliness = float(max(0, 100 - 5 * max(0, self.working_days - LATE_WORKING_DAYS)))
        validity = self.validity
        if validity is None and self.rows_read and self.rows_accepted is not None:
            validity = 100.0 * self.rows_accepted / self.rows_read
        parts = [s for s in (completeness, validity, timeliness) if s is not None]
        overall = fmean(parts) if parts else None
        return {
            "Completeness": completeness,
            "Validity": validity,
            "Timeliness": timeliness,
            "Maturity": overall,
        }


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def submissions(manifest: Mapping[str, Any] | None, period: Period) -> dict[str, Submission]:
    """The agencies of a period manifest by agency id (empty when there is no manifest)."""
    agencies = (manifest or {}).get("agencies")
    out: dict[str, Submission] = {}
    if not isinstance(agencies, dict):
        return out
    for agency_id, entry in sorted(agencies.items()):
        if not isinstance(entry, dict):
            continue
        by_severity = entry.get("findings_by_severity")
        by_severity = by_severity if isinstance(by_severity, dict) else {}
        counted = bool(by_severity) or "findings_by_severity" in entry
        extract = _date(entry.get("extract_date"))
        completeness = entry.get("completeness") or {}
        out[agency_id] = Submission(
            agency_id=str(agency_id),
            name=str(entry.get("agency_name") or agency_id),
            rows_read=_int(entry.get("rows_read")),
            rows_accepted=_int(entry.get("rows_accepted")),
            rows_rejected=_int(entry.get("rows_rejected")),
            errors=_int(by_severity.get("error", 0)) if counted else None,
            queries=_int(by_severity.get("query", 0)) if counted else None,
            completeness={str(k): v for k, v in completeness.items() if _float(v) is not None},
            validity=_float(entry.get("validity")),
            extract_date=extract,
            working_days=None if extract is None else working_days_after(period.end, extract),
            mapping=str(entry.get("mapping") or ""),
            submitted_at=str(entry.get("submitted_at") or ""),
            files=tuple(
                str(i.get("file")) for i in entry.get("inputs") or [] if isinstance(i, dict)
            ),
        )
    return out


Quarters = Sequence[tuple[Period, dict[str, Submission] | None]]
"""(quarter, its submissions or None when the store lacks the quarter), oldest first."""


def agency_names(quarters: Quarters) -> dict[str, str]:
    """Agency id -> name (from the latest manifest naming it), sorted by name."""
    names: dict[str, str] = {}
    for _, subs in quarters:
        for agency_id, sub in (subs or {}).items():
            names[agency_id] = sub.name
    return dict(sorted(names.items(), key=lambda item: (item[1].casefold(), item[0])))


def _key(period: Period, measure: str, name: str, *more: tuple[str, str]) -> Any:
    return make_key(period.label, measure, parts=((AGENCY, name), *more))


def _count(period: Period, measure: str, name: str, value: int | None) -> Cell:
    return Symbol("x") if value is None else Count(_key(period, measure, name), value)


def coverage_tables(quarters: Quarters) -> list[Table]:
    """Submission status and rows accepted, agency x quarter."""
    names = agency_names(quarters)
    labels = tuple(q.label for q, _ in quarters)
    status_rows, count_rows = [], []
    for agency_id, name in names.items():
        statuses: list[Cell] = []
        counts: list[Cell] = []
        for period, subs in quarters:
            sub = None if subs is None else subs.get(agency_id)
            statuses.append(_status(subs, sub))
            value = None if sub is None else sub.rows_accepted
            counts.append(_count(period, "DQ.rows_accepted", name, value))
        status_rows.append(Row(name, tuple(statuses)))
        count_rows.append(Row(name, tuple(counts)))
    note = (
        f"late = extract dated more than {LATE_WORKING_DAYS} working days after the quarter "
        "end; missing = no submission that quarter; x = quarter not in the store."
    )
    return [
        Table(
            "coverage-status",
            "Submission status by agency and quarter",
            AGENCY,
            labels,
            tuple(status_rows),
            note=note,
        ),
        Table(
            "coverage-rows",
            "Rows accepted by agency and quarter",
            AGENCY,
            labels,
            tuple(count_rows),
            note="x = no submission, or quarter not in the store.",
        ),
    ]


def _status(subs: dict[str, Submission] | None, sub: Submission | None) -> Cell:
    if subs is None:
        return Symbol("x")
    if sub is None:
        return Text("missing")
    return Text("late" if sub.late else "submitted")


_COUNTS = (
    ("Rows read", "DQ.rows_read", "rows_read"),
    ("Rows accepted", "DQ.rows_accepted", "rows_accepted"),
    ("Rows rejected", "DQ.rows_rejected", "rows_rejected"),
    ("Errors", "DQ.errors", "errors"),
    ("Queries", "DQ.queries", "queries"),
)


def quality_table(period: Period, subs: dict[str, Submission]) -> Table:
    """Rows, findings, validity, completeness and timeliness per agency this quarter."""
    ordered = sorted(subs.values(), key=lambda s: (s.name.casefold(), s.agency_id))
    columns = (
        *(c[0] for c in _COUNTS),
        "% valid",
        "Mean completeness %",
        "Extract date",
        "Working days after quarter end",
        "Status",
    )
    rows, equations = [], []
    for sub in ordered:
        counts = [_count(period, m, sub.name, getattr(sub, attr)) for _, m, attr in _COUNTS]
        rows.append(Row(sub.name, (*counts, *_quality_extras(period, sub))))
        if all(isinstance(c, Count) for c in counts[:3]):
            keys = [c.key for c in counts[:3] if isinstance(c, Count)]
            equations.append(Equation(keys[0], (keys[1], keys[2])))
    totals: list[Cell] = []
    for j, (_, measure, _) in enumerate(_COUNTS):
        parts = [r.cells[j] for r in rows]
        if parts and all(isinstance(c, Count) for c in parts):
            key = make_key(period.label, measure, parts=((AGENCY, ALL_AGENCIES),))
            totals.append(Count(key, sum(c.value for c in parts if isinstance(c, Count))))
            equations.append(Equation(key, tuple(c.key for c in parts if isinstance(c, Count))))
        else:
            totals.append(Symbol("x"))
    rows.append(Row(ALL_AGENCIES, (*totals, *([Symbol("z")] * 5)), total=True))
    return Table(
        "quality",
        f"Data quality by agency, {period.label}",
        AGENCY,
        columns,
        tuple(rows),
        tuple(equations),
    )


def _quality_extras(period: Period, sub: Submission) -> tuple[Cell, ...]:
    extract = sub.extract_date.isoformat() if sub.extract_date else "x"
    days: Cell = Symbol("x") if sub.working_days is None else Number(sub.working_days)
    return (
        _score(period, sub, "Validity", "DQ.validity_pct"),
        _score(period, sub, "Completeness", "DQ.completeness_pct"),
        Text(extract),
        days,
        Text("late" if sub.late else "on time"),
    )


def _score(period: Period, sub: Submission, part: str, measure: str) -> Cell:
    """A score of ``sub``; suppressed with its rows read (and rows accepted, which validity and
    maturity reveal)."""
    value = sub.scores()[part]
    read = _count(period, "DQ.rows_read", sub.name, sub.rows_read)
    accepted = _count(period, "DQ.rows_accepted", sub.name, sub.rows_accepted)
    if value is None or not isinstance(read, Count):
        return Symbol("x")
    num = accepted if isinstance(accepted, Count) and part in ("Validity", "Maturity") else None
    return Rate(_key(period, measure, sub.name), den=read, num=num, share=value)


def completeness_table(period: Period, subs: dict[str, Submission], order: Sequence[str]) -> Table:
    """% of rows populated, agency x required field."""
    fields = sorted(
        {f for s in subs.values() for f in s.completeness},
        key=lambda f: (order.index(f) if f in order else len(order), f),
    )
    rows = []
    for sub in sorted(subs.values(), key=lambda s: (s.name.casefold(), s.agency_id)):
        read = _count(period, "DQ.rows_read", sub.name, sub.rows_read)
        rows.append(Row(sub.name, tuple(_field_score(period, sub, read, f) for f in fields)))
    return Table(
        "completeness",
        f"Completeness of required fields (% of rows), {period.label}",
        AGENCY,
        tuple(fields),
        tuple(rows),
    )


def _field_score(period: Period, sub: Submission, read: Cell, name: str) -> Cell:
    value = sub.completeness.get(name)
    if value is None or not isinstance(read, Count):
        return Symbol("x")
    return Rate(
        _key(period, "DQ.completeness_pct", sub.name, ("Field", name)), den=read, share=value
    )


def maturity_tables(quarters: Quarters) -> list[Table]:
    """Maturity score per agency over the quarters, and this quarter's component scores."""
    names = agency_names(quarters)
    period, current = quarters[-1]
    rows = []
    for agency_id, name in names.items():
        cells = [_maturity(q, subs, agency_id, "Maturity") for q, subs in quarters]
        previous = cells[-2] if len(cells) > 1 else Symbol("x")
        rows.append(Row(name, (*cells, Change(_rate(cells[-1]), _rate(previous)))))
    over_time = Table(
        "maturity",
        "Data maturity score (0-100) by agency and quarter",
        AGENCY,
        (*(q.label for q, _ in quarters), "Change on previous quarter"),
        tuple(rows),
        note="x = no submission that quarter.",
    )
    return [over_time, _components(quarters, names)]


COMPONENTS = ("Completeness", "Validity", "Timeliness", "Maturity")


def _components(quarters: Quarters, names: dict[str, str]) -> Table:
    """This quarter's component scores, each with its change on the previous quarter."""
    period, current = quarters[-1]
    before_period, before = quarters[-2] if len(quarters) > 1 else (period.previous(), None)
    rows = []
    for agency_id, name in names.items():
        if not current or agency_id not in current:
            continue
        cells: list[Cell] = []
        for part in COMPONENTS:
            now = _maturity(period, current, agency_id, part)
            then = _maturity(before_period, before, agency_id, part)
            cells += [now, Change(_rate(now), _rate(then))]
        rows.append(Row(name, tuple(cells)))
    columns = tuple(c for part in COMPONENTS for c in (part, f"{part}: change"))
    title = f"Data maturity components (0-100), {period.label}, and change on previous quarter"
    return Table("maturity-parts", title, AGENCY, columns, tuple(rows))


def _maturity(
    period: Period, subs: dict[str, Submission] | None, agency_id: str, part: str
) -> Cell:
    sub = None if subs is None else subs.get(agency_id)
    if sub is None:
        return Symbol("x")
    shared = {"Validity": "DQ.validity_pct", "Completeness": "DQ.completeness_pct"}
    return _score(period, sub, part, shared.get(part, f"DQ.{part.lower()}_score"))


def _rate(cell: Cell) -> Rate | Symbol:
    return cell if isinstance(cell, Rate | Symbol) else Symbol("x")
