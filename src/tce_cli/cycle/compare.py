"""Period-over-period: compare an agency's return with its previous quarter in the store.

Each agency's return is reduced to a :class:`Snapshot` (rows read, the accepted rows'
aggregate measures, completeness from the manifest); two snapshots give a tidy frame of
changes, one row per measure, with the threshold applied and whether it is flagged. Flagged
rows become query findings (family ``period-over-period``) with plain-English messages that
hold aggregate numbers only, never ids.

Measures (thresholds from ``tce.toml`` ``[thresholds]``, see :class:`~tce_cli.config.Thresholds`):

- ``rows_read`` (``row-count-change``): the return's rows, rise or fall over
  ``period_change_pct`` (default 50%);
- ``children_open_at_end``, ``new_episodes`` (``measure-change``): same threshold;
- ``children_disappeared`` (``children-disappeared``): children (person_key) open at the end
  of the previous quarter and absent from this return, so with no closure recorded, as a share
  over ``disappeared_pct`` (default 20%); only when both quarters' keys come from one key;
- ``completeness`` per field (``completeness-drop``): a fall of more than
  ``completeness_drop_points`` (default 10) percentage points;
- ``distribution`` per field (``distribution-shift``): total variation distance between the
  two quarters' code mixes over ``distribution_tvd`` (default 0.3) for sex, ethnicity major
  group, risk level and primary exploitation type.

Nothing is flagged when the previous quarter's base is under ``period_min_base`` (default 20):
small numbers swing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from tce_cli.config import Thresholds
from tce_cli.findings import RULES, FindingCode, empty_findings
from tce_cli.keyhash import H1, H2, hashes
from tce_cli.periods import Period

if TYPE_CHECKING:
    from tce_cli.harmonise import HarmonisedFile
    from tce_cli.store import Store

DISTRIBUTION_FIELDS: tuple[str, ...] = (
    "sex",
    "ethnicity_major_group",
    "risk_level",
    "primary_exploitation_type",
)
_LABELS = {
    "sex": "sex",
    "ethnicity_major_group": "ethnicity (major group)",
    "risk_level": "risk level",
    "primary_exploitation_type": "primary exploitation type",
}
MEASURES: tuple[tuple[str, FindingCode], ...] = (
    ("rows_read", FindingCode.ROW_COUNT_CHANGE),
    ("children_open_at_end", FindingCode.MEASURE_CHANGE),
    ("new_episodes", FindingCode.MEASURE_CHANGE),
    ("children_disappeared", FindingCode.CHILDREN_DISAPPEARED),
    ("completeness", FindingCode.COMPLETENESS_DROP),
    ("distribution", FindingCode.DISTRIBUTION_SHIFT),
)
_ORDER = {m: i for i, (m, _) in enumerate(MEASURES)}
CHANGE_SCHEMA: dict[str, pl.DataType] = {
    "agency_id": pl.String(),
    "agency_name": pl.String(),
    "period": pl.String(),
    "previous_period": pl.String(),
    "measure": pl.String(),
    "field": pl.String(),
    "previous": pl.Float64(),
    "current": pl.Float64(),
    "change": pl.Float64(),
    "change_pct": pl.Float64(),
    "threshold": pl.Float64(),
    "flagged": pl.Boolean(),
    "code": pl.String(),
    "detail": pl.String(),
}
"""Columns of :func:`compare` and :func:`period_changes` (see :func:`compare`)."""
_COLUMNS = ["person_key", "open_at_period_end", "new_in_period", *DISTRIBUTION_FIELDS]


@dataclass(frozen=True)
class Snapshot:
    """One agency's return for one quarter, reduced to what the comparison needs."""

    agency_id: str
    agency_name: str
    period: Period
    rows_read: int
    accepted: pl.DataFrame
    """Accepted rows in store columns (at least person_key, the flags and code fields)."""
    completeness: Mapping[str, float] = field(default_factory=dict)


def snapshot_from_store(store: Store, period: Period, agency_id: str) -> Snapshot | None:
    """The agency's stored return for ``period`` (None when the store has none)."""
    if period not in store.periods() or agency_id not in store.agencies(period):
        return None
    frame = pl.read_parquet(store.partition_path(period, agency_id), columns=_COLUMNS)
    return snapshot_of(period, agency_id, frame, store.manifest(period))


def snapshot_of(
    period: Period, agency_id: str, frame: pl.DataFrame, manifest: Mapping[str, Any]
) -> Snapshot:
    """The snapshot of an agency's stored rows (``frame``) and its period's ``manifest``."""
    entry: Mapping[str, Any] = manifest.get("agencies", {}).get(agency_id, {})
    rows = entry.get("rows_read")
    return Snapshot(
        agency_id=agency_id,
        agency_name=str(entry.get("agency_name") or agency_id),
        period=period,
        rows_read=rows if isinstance(rows, int) else frame.height,
        accepted=frame.select(_COLUMNS),
        completeness=dict(entry.get("completeness") or {}),
    )


def snapshot_from_files(files: Sequence[HarmonisedFile]) -> Snapshot:
    """The snapshot of one agency's files in this run (accepted rows as they would be stored)."""
    from tce_cli.harmonise import manifest_entry

    first = files[0].result
    entry = manifest_entry(files, None)
    return Snapshot(
        agency_id=first.mapping.agency.id,
        agency_name=first.mapping.agency.name,
        period=first.period,
        rows_read=int(entry["rows_read"]),
        accepted=pl.concat([h.accepted.select(_COLUMNS) for h in files]),
        completeness=dict(entry["completeness"]),
    )


# --- comparing ---------------------------------------------------------------------------


def _row(measure: str, code: FindingCode, **values: Any) -> dict[str, Any]:
    return {"measure": measure, "code": code.value, **values}


KEY = "_key"


def _keyed(prev: Snapshot, cur: Snapshot) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both snapshots' rows with ``_key``, who the row is about: a 64-bit hash of person_key
    (quick to count and match), or person_key itself if two keys share a hash (checked with a
    second hash; null stays null)."""
    person = pl.col("person_key")
    frames = [s.accepted.with_columns(hashes(person)) for s in (prev, cur)]
    both = pl.concat([f.filter(person.is_not_null()).select(H1, H2) for f in frames])
    groups = both.group_by(H1).agg((pl.col(H2).min() != pl.col(H2).max()).alias("_clash"))
    key = person if groups.get_column("_clash").any() else pl.col(H1)
    key = pl.when(person.is_not_null()).then(key).alias(KEY)
    return frames[0].with_columns(key), frames[1].with_columns(key)


def _counts(snap: Snapshot, keyed: pl.DataFrame) -> dict[str, int]:
    return {
        "rows_read": snap.rows_read,
        "children_open_at_end": keyed.filter(pl.col("open_at_period_end"))
        .get_column(KEY)
        .drop_nulls()
        .n_unique(),
        "new_episodes": int(keyed.get_column("new_in_period").sum()),
    }


def _count_rows(
    prev: Snapshot, cur: Snapshot, keyed: tuple[pl.DataFrame, pl.DataFrame], t: Thresholds
) -> list[dict[str, Any]]:
    before, after = _counts(prev, keyed[0]), _counts(cur, keyed[1])
    out = []
    for measure, code in MEASURES[:3]:
        p, c = before[measure], after[measure]
        pct = round(100.0 * (c - p) / p, 1) if p else None
        flagged = pct is not None and p >= t.period_min_base and abs(pct) > t.period_change_pct
        out.append(
            _row(
                measure,
                code,
                previous=float(p),
                current=float(c),
                change=float(c - p),
                change_pct=pct,
                threshold=t.period_change_pct,
                flagged=flagged,
            )
        )
    return out


def _disappeared(keyed: tuple[pl.DataFrame, pl.DataFrame], t: Thresholds) -> dict[str, Any]:
    prev, cur = keyed
    was_open = prev.filter(pl.col("open_at_period_end")).select(KEY).drop_nulls().unique()
    now = cur.select(KEY).drop_nulls().unique()
    gone = was_open.join(now, on=KEY, how="anti").height
    base = was_open.height
    share = round(100.0 * gone / base, 1) if base else None
    return _row(
        "children_disappeared",
        FindingCode.CHILDREN_DISAPPEARED,
        previous=float(base),
        current=float(gone),
        change=float(gone),
        change_pct=share,
        threshold=t.disappeared_pct,
        flagged=share is not None and base >= t.period_min_base and share > t.disappeared_pct,
    )


def _completeness(prev: Snapshot, cur: Snapshot, t: Thresholds) -> list[dict[str, Any]]:
    out = []
    for name in sorted(set(prev.completeness) & set(cur.completeness)):
        p, c = float(prev.completeness[name]), float(cur.completeness[name])
        flagged = prev.rows_read >= t.period_min_base and p - c > t.completeness_drop_points
        out.append(
            _row(
                "completeness",
                FindingCode.COMPLETENESS_DROP,
                field=name,
                previous=p,
                current=c,
                change=round(c - p, 1),
                threshold=t.completeness_drop_points,
                flagged=flagged,
            )
        )
    return out


def _shares(frame: pl.DataFrame) -> dict[str, tuple[int, dict[str, float]]]:
    """Field -> (rows with a value, each value's share of them), all fields in one pass."""
    counts = frame.select(
        pl.col(name).drop_nulls().value_counts(name="n").implode() for name in DISTRIBUTION_FIELDS
    ).row(0, named=True)
    out = {}
    for name, pairs in counts.items():
        total = sum(p["n"] for p in pairs)
        out[name] = (total, {str(p[name]): p["n"] / total for p in pairs})
    return out


def _distributions(prev: Snapshot, cur: Snapshot, t: Thresholds) -> list[dict[str, Any]]:
    out = []
    before, after = _shares(prev.accepted), _shares(cur.accepted)
    for name in DISTRIBUTION_FIELDS:
        (n_prev, p), (n_cur, c) = before[name], after[name]
        if not p or not c:
            continue
        codes = sorted(set(p) | set(c))
        tvd = 0.5 * sum(abs(p.get(k, 0.0) - c.get(k, 0.0)) for k in codes)
        big = sorted(codes, key=lambda k: (-abs(p.get(k, 0.0) - c.get(k, 0.0)), k))[:3]
        detail = "; ".join(
            f"{k} {100 * p.get(k, 0.0):.0f}% -> {100 * c.get(k, 0.0):.0f}%" for k in big
        )
        flagged = min(n_prev, n_cur) >= t.period_min_base and tvd > t.distribution_tvd
        out.append(
            _row(
                "distribution",
                FindingCode.DISTRIBUTION_SHIFT,
                field=name,
                previous=float(n_prev),
                current=float(n_cur),
                change=round(tvd, 3),
                threshold=t.distribution_tvd,
                flagged=flagged,
                detail=detail,
            )
        )
    return out


def compare(
    previous: Snapshot,
    current: Snapshot,
    *,
    thresholds: Thresholds | None = None,
    keys_comparable: bool = True,
) -> pl.DataFrame:
    """Every measure of ``current`` against ``previous``: one row per measure (and field).

    Columns (:data:`CHANGE_SCHEMA`): agency_id, agency_name, period, previous_period,
    measure, field (completeness and distribution), previous, current, change, change_pct,
    threshold, flagged, code (the finding code the measure raises), detail.

    - counts (rows_read, children_open_at_end, new_episodes): previous and current values,
      change = difference, change_pct = % change;
    - children_disappeared: previous = children open at the end of the previous quarter,
      current = how many of them are absent now, change_pct = that as a %;
    - completeness: % filled in each quarter, change in points;
    - distribution: previous / current = rows with a value; change = total variation
      distance (0-1); detail = the three codes whose shares moved most.

    ``keys_comparable`` is False when the two quarters' person keys were made with different
    keys (children_disappeared is then left out).
    """
    t = thresholds or Thresholds()
    keyed = _keyed(previous, current)
    rows = _count_rows(previous, current, keyed, t)
    if keys_comparable:
        rows.append(_disappeared(keyed, t))
    rows += _completeness(previous, current, t) + _distributions(previous, current, t)
    common = {
        "agency_id": current.agency_id,
        "agency_name": current.agency_name,
        "period": current.period.label,
        "previous_period": previous.period.label,
    }
    frame = pl.DataFrame([{**common, **r} for r in rows], schema=CHANGE_SCHEMA)
    return frame


def stored_agencies(store: Store, period: Period) -> list[str]:
    """The agencies with a return stored for ``period`` (none when the store lacks it)."""
    return store.agencies(period) if period in store.periods() else []


Snapshots = Callable[[Period, str], Snapshot | None]
"""(period, agency id) -> that agency's return for the period, or None."""


def period_changes(
    store: Store,
    period: Period,
    *,
    thresholds: Thresholds | None = None,
    agencies: Callable[[Period], Sequence[str]] | None = None,
    snapshot: Snapshots | None = None,
) -> pl.DataFrame:
    """Agency-level changes between ``period`` and the quarter before it, for the pack.

    One row per agency and measure (see :func:`compare` for the columns), for each agency
    with a return in both quarters; an agency with a return in only one of them gets a
    single ``rows_read`` row with the other side null (new, or missing this quarter).
    Aggregate only: no person keys, record ids or rows. Empty when the store has neither
    quarter. ``agencies`` and ``snapshot`` replace the store's (e.g. for a run not yet
    written).
    """
    before = period.previous()

    def stored(q: Period) -> Sequence[str]:
        return stored_agencies(store, q)

    def read(q: Period, agency_id: str) -> Snapshot | None:
        return snapshot_from_store(store, q, agency_id)

    listed, take = agencies or stored, snapshot or read
    frames = []
    for agency_id in sorted(set(listed(period)) | set(listed(before))):
        prev, cur = take(before, agency_id), take(period, agency_id)
        if prev is not None and cur is not None:
            frames.append(compare(prev, cur, thresholds=thresholds))
        else:
            frames.append(_one_sided(prev, cur, period, before))
    if not frames:
        return pl.DataFrame(schema=CHANGE_SCHEMA)
    out = pl.concat(frames)
    order = pl.col("measure").replace_strict(_ORDER, return_dtype=pl.Int32)
    return out.sort(["agency_id", order, "field"], nulls_last=False)


def _one_sided(
    prev: Snapshot | None, cur: Snapshot | None, period: Period, before: Period
) -> pl.DataFrame:
    snap = cur or prev
    assert snap is not None
    row = {
        "agency_id": snap.agency_id,
        "agency_name": snap.agency_name,
        "period": period.label,
        "previous_period": before.label,
        "measure": "rows_read",
        "previous": float(prev.rows_read) if prev else None,
        "current": float(cur.rows_read) if cur else None,
        "flagged": False,
        "code": FindingCode.ROW_COUNT_CHANGE.value,
    }
    return pl.DataFrame([row], schema=CHANGE_SCHEMA)


# --- findings ----------------------------------------------------------------------------


def _label(name: str) -> str:
    from tce_cli.schema import load_schema

    if name in _LABELS:
        return _LABELS[name]
    try:
        return load_schema().field(name).label or name
    except KeyError:
        return name


def _message(row: Mapping[str, Any]) -> str:
    before = row["previous_period"]
    prev, cur, pct = row["previous"], row["current"], row["change_pct"]
    measure = row["measure"]
    direction = "down" if (pct or 0) < 0 else "up"
    if measure == "rows_read":
        more = "fewer" if cur < prev else "more"
        return (
            f"This return has {cur:,.0f} rows, {abs(pct):.0f}% {more} than the {prev:,.0f} in "
            f"{before} (a change of more than {row['threshold']:g}% is queried)."
        )
    if measure == "children_open_at_end":
        return (
            f"{cur:,.0f} children are open at the end of the quarter, {direction} "
            f"{abs(pct):.0f}% from {prev:,.0f} at the end of {before}."
        )
    if measure == "new_episodes":
        return (
            f"{cur:,.0f} episodes started in the quarter, {direction} {abs(pct):.0f}% from "
            f"{prev:,.0f} in {before}."
        )
    if measure == "children_disappeared":
        return (
            f"{cur:,.0f} of the {prev:,.0f} children open at the end of {before} ({pct:.0f}%) "
            "are not in this return, and no closure was recorded for them."
        )
    label = _label(str(row["field"]))
    if measure == "completeness":
        return (
            f"{label[:1].upper() + label[1:]} is filled in for {cur:.1f}% of rows, down "
            f"{prev - cur:.1f} points from {prev:.1f}% in {before}."
        )
    return (
        f"The mix of {label} changed sharply since {before} (total variation distance "
        f"{row['change']:.2f}; over {row['threshold']:g} is queried): {row['detail']}."
    )


def change_findings(changes: pl.DataFrame, *, agency: str, source_file: str) -> pl.DataFrame:
    """Query findings for the flagged rows of ``changes`` (file-level: no row, no id)."""
    flagged = changes.filter(pl.col("flagged"))
    if flagged.height == 0:
        return empty_findings()
    rows = []
    for row in flagged.iter_rows(named=True):
        rule = RULES[FindingCode(row["code"])]
        rows.append(
            {
                "agency": agency,
                "source_file": source_file,
                "source_row": None,
                "record_id": None,
                "field": row["field"],
                "code": rule.code.value,
                "severity": rule.severity.value,
                "message": _message(row),
                "hint": rule.hint,
            }
        )
    return pl.DataFrame(rows, schema=empty_findings().schema)


__all__ = [
    "CHANGE_SCHEMA",
    "DISTRIBUTION_FIELDS",
    "Snapshot",
    "change_findings",
    "compare",
    "period_changes",
    "snapshot_from_files",
    "snapshot_from_store",
    "snapshot_of",
    "stored_agencies",
]
