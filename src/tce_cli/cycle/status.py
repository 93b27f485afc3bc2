"""Where each agency's return for a period stands: submitted (how often), on time, late or
missing, with its outstanding and acknowledged findings; plus cross-agency consistency.

Read from the store only (``manifest.json`` and the dated manifests under ``manifests/``)
and the mappings folder (which agencies are expected, and each one's extract lag).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from tce_cli.config import Thresholds
from tce_cli.cycle.consistency import CONFLICT_SCHEMA, cross_agency_conflicts
from tce_cli.errors import MappingError, StoreError
from tce_cli.findings import RULES, Family, FindingCode
from tce_cli.periods import Period, add_working_days

DEFAULT_LAG = 20
"""Working days after the period end by which the extract is due (DQ22)."""
ON_TIME, LATE, MISSING, AWAITING = "on time", "late", "missing", "awaiting"


@dataclass(frozen=True)
class AgencyStatus:
    """One agency's return for the period."""

    agency_id: str
    agency_name: str
    agency_type: str
    has_mapping: bool
    state: str
    """``on time``, ``late``, ``missing`` (past the deadline) or ``awaiting`` (not yet due)."""
    deadline: date
    submissions: int
    """Harmonise runs for this agency and period (1 = submitted once, 3 = resubmitted twice)."""
    latest_submission: str | None = None
    extract_date: str | None = None
    rows_read: int | None = None
    rows_accepted: int | None = None
    rows_rejected: int | None = None
    errors: int | None = None
    queries: int | None = None
    acknowledged: int | None = None
    stale_acknowledgements: int | None = None
    period_queries: int | None = None
    findings_by_code: dict[str, int] = field(default_factory=dict)
    acknowledged_by_code: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["deadline"] = self.deadline.isoformat()
        return out


@dataclass(frozen=True)
class PeriodStatus:
    """Every expected or submitting agency for one period, and cross-agency conflicts."""

    period: Period
    store: Path
    lag_working_days: int
    deadline: date
    agencies: tuple[AgencyStatus, ...]
    consistency: pl.DataFrame
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what ``tce status --format json`` prints)."""
        states = [a.state for a in self.agencies]
        return {
            "period": self.period.label,
            "store": str(self.store),
            "deadline": self.deadline.isoformat(),
            "lag_working_days": self.lag_working_days,
            "counts": {s: states.count(s) for s in (ON_TIME, LATE, MISSING, AWAITING)},
            "agencies": [a.to_dict() for a in self.agencies],
            "consistency": self.consistency.to_dicts(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Expected:
    name: str
    type: str
    lag: int


def _expected(mappings_dir: Path | None, notes: list[str]) -> dict[str, _Expected]:
    from tce_cli.mapping import load_mapping

    if mappings_dir is None or not mappings_dir.is_dir():
        if mappings_dir is not None:
            notes.append(f"No mappings folder at {mappings_dir}: only agencies in the store.")
        return {}
    out: dict[str, _Expected] = {}
    for path in sorted([*mappings_dir.glob("*.yaml"), *mappings_dir.glob("*.yml")]):
        try:
            m = load_mapping(path)
        except MappingError as exc:
            notes.append(f"Skipped an invalid mapping: {exc.message}")
            continue
        out[m.agency.id] = _Expected(
            m.agency.name, m.agency.type, m.options.extract_lag_working_days
        )
    return out


def _history_counts(paths: list[Path], notes: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in paths:
        try:
            agencies = json.loads(path.read_text("utf-8")).get("agencies", {})
        except (OSError, ValueError, AttributeError):
            notes.append(f"Skipped a damaged run manifest: {path.name}")
            continue
        for agency_id in agencies if isinstance(agencies, dict) else {}:
            counts[agency_id] = counts.get(agency_id, 0) + 1
    return counts


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _period_codes() -> frozenset[str]:
    return frozenset(r.code.value for r in RULES.values() if r.family is Family.PERIOD)


def _submitted(
    agency_id: str,
    entry: dict[str, Any],
    expected: _Expected | None,
    period: Period,
    submissions: int,
) -> AgencyStatus:
    lag = expected.lag if expected else DEFAULT_LAG
    deadline = add_working_days(period.end, lag)
    extract = entry.get("extract_date") or str(entry.get("submitted_at") or "")[:10] or None
    try:
        when = date.fromisoformat(extract) if extract else None
    except ValueError:
        when = None
    severity = entry.get("findings_by_severity") or {}
    codes: dict[str, int] = dict(entry.get("findings_by_code") or {})
    acknowledged: dict[str, int] = dict(entry.get("acknowledged_by_code") or {})
    return AgencyStatus(
        agency_id=agency_id,
        agency_name=str(entry.get("agency_name") or (expected.name if expected else agency_id)),
        agency_type=str(entry.get("agency_type") or (expected.type if expected else "")),
        has_mapping=expected is not None,
        state=LATE if when is not None and when > deadline else ON_TIME,
        deadline=deadline,
        submissions=max(submissions, 1),
        latest_submission=entry.get("submitted_at"),
        extract_date=entry.get("extract_date"),
        rows_read=_int(entry.get("rows_read")),
        rows_accepted=_int(entry.get("rows_accepted")),
        rows_rejected=_int(entry.get("rows_rejected")),
        errors=_int(severity.get("error", 0)),
        queries=_int(severity.get("query", 0)),
        acknowledged=sum(v for v in acknowledged.values() if isinstance(v, int)),
        stale_acknowledgements=_int(codes.get(FindingCode.STALE_ACKNOWLEDGEMENT.value, 0)),
        period_queries=sum(v for c, v in codes.items() if c in _period_codes()),
        findings_by_code=codes,
        acknowledged_by_code=acknowledged,
    )


def period_status(
    store_root: Path,
    period: Period,
    *,
    mappings_dir: Path | None,
    today: date,
    thresholds: Thresholds | None = None,
) -> PeriodStatus:
    """The status of every agency with a mapping in ``mappings_dir`` or a return in the
    store for ``period``, sorted by agency id.

    An agency with no return is ``missing`` once its deadline (period end + its mapping's
    ``extract_lag_working_days``, default 20 working days) has passed on ``today``, else
    ``awaiting``. A return is ``late`` when its extract date (else its submission date) is
    after the deadline.

    Raises:
        StoreError: the store's manifest for the period is damaged.
    """
    from tce_cli.store import Store

    notes: list[str] = []
    expected = _expected(mappings_dir, notes)
    store = Store(store_root)
    have = period in store.periods()
    manifest = store.manifest(period) if have else {}
    entries: dict[str, Any] = dict(manifest.get("agencies") or {})
    history = _history_counts(store.history(period), notes)
    if not have:
        notes.append(f"The store '{store_root}' has no returns for {period.label}.")
    agencies = []
    for agency_id in sorted(set(expected) | set(entries)):
        exp = expected.get(agency_id)
        entry = entries.get(agency_id)
        if isinstance(entry, dict):
            agencies.append(_submitted(agency_id, entry, exp, period, history.get(agency_id, 0)))
            continue
        if exp is None:
            notes.append(f"Skipped a damaged manifest entry for {agency_id}.")
            continue
        deadline = add_working_days(period.end, exp.lag)
        agencies.append(
            AgencyStatus(
                agency_id=agency_id,
                agency_name=exp.name,
                agency_type=exp.type,
                has_mapping=True,
                state=MISSING if today > deadline else AWAITING,
                deadline=deadline,
                submissions=0,
            )
        )
    consistency = pl.DataFrame(schema=CONFLICT_SCHEMA)
    if have:
        try:
            consistency = cross_agency_conflicts(store, period, thresholds=thresholds)
        except (pl.exceptions.PolarsError, OSError, StoreError):
            notes.append("Cross-agency consistency not checked: a partition cannot be read.")
    return PeriodStatus(
        period=period,
        store=store_root,
        lag_working_days=DEFAULT_LAG,
        deadline=add_working_days(period.end, DEFAULT_LAG),
        agencies=tuple(agencies),
        consistency=consistency,
        notes=tuple(notes),
    )


__all__ = ["AgencyStatus", "PeriodStatus", "period_status"]
