"""What the store keeps for the report, so a pack does not work out every earlier quarter again.

A pack needs every earlier quarter's headline values (the headline table and the trends), the
report quarter's children collapsed to one row each per cohort (with their re-referrals, which
look back at every earlier quarter's closed episodes) and each agency's change on the previous
quarter. Working those out reads each quarter's rows, so ``tce harmonise`` works them out for
the period it writes and keeps them, written in the same all-or-nothing step as the rows:

* ``period=<slug>/headlines.json``: the headline values (before disclosure control) and the
  change rows of :func:`~tce_cli.cycle.compare.period_changes` (aggregate numbers only);
* ``period=<slug>/children.parquet`` and ``children-by-agency-type.parquet``: the child
  frames of :meth:`~tce_cli.report.cohorts.PeriodData.kept_frames` (one row per child, or per
  child and agency type, and cohort; keyed by a hash of the pseudonymised person key, never
  holding identifiers; their SHA-256s are in ``headlines.json``).

``tce report`` uses what is kept for a quarter only when it was worked out from exactly what
the store now holds. ``headlines.json`` records a fingerprint of

* the code that works it out (tce's version, its source and the framework schema, and the
  Polars version),
* and every stored quarter up to and including that one (re-referrals look back at earlier
  quarters): its ``manifest.json``, which names every agency's input files by their SHA-256,
  the mapping's SHA-256, tce's version and the run's time.

Resubmitting a quarter makes what is kept for it and for every later quarter stale, and the
run works those out again (so does the first run after tce is upgraded, for the quarters of
the latest trend window). The report works out anything stale or missing from the rows, as it
did before anything was kept: a missing, damaged or stale file is never an error, it only
costs time.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from tce_cli import __version__
from tce_cli.cycle.compare import (
    CHANGE_SCHEMA,
    Snapshot,
    Snapshots,
    period_changes,
    snapshot_from_store,
    snapshot_of,
    stored_agencies,
)
from tce_cli.periods import Period
from tce_cli.report.cohorts import PeriodData
from tce_cli.report.measures import all_measures
from tce_cli.report.model import CellKey, Count, Rate
from tce_cli.report.rerefs import History
from tce_cli.report.store_read import (
    HIVE,
    MANIFEST,
    StoreInfo,
    scan_files,
    scan_rows,
    store_schema,
    stored_periods,
)
from tce_cli.report.trends import window_periods
from tce_cli.safe_io import Writer
from tce_cli.store import PARQUET_OPTIONS, PendingPeriod, Store

FILE = "headlines.json"
CHILDREN = "children.parquet"
BY_AGENCY_TYPE = "children-by-agency-type.parquet"
FORMAT = 3
Values = Mapping[str, Count | Rate]
"""Measure id -> its headline value for one quarter (measures with a headline only)."""


@dataclass(frozen=True)
class Kept:
    """What the store keeps for one quarter and the report would otherwise work out."""

    values: Values
    changes: pl.DataFrame
    """:func:`~tce_cli.cycle.compare.period_changes` of the quarter (default thresholds)."""
    children: pl.DataFrame
    by_agency_type: pl.DataFrame
    """The quarter's child frames (:meth:`~tce_cli.report.cohorts.PeriodData.kept_frames`)."""

    def period_data(self, period: Period) -> PeriodData:
        """The quarter's data, from the kept child frames."""
        return PeriodData.from_kept(period, self.children, self.by_agency_type)


def headline_values(data: PeriodData) -> dict[str, Count | Rate]:
    """Every measure's headline value for ``data``'s quarter."""
    return {m.id: m.headline(data) for m in all_measures() if m.headline is not None}


def kept_values(store: StoreInfo, period: Period) -> Values | None:
    """The headline values kept for ``period``, or None when there are none or they are stale."""
    kept = _load(store, period)
    return None if kept is None else _values(kept)


def kept_quarter(store: StoreInfo, period: Period) -> Kept | None:
    """Everything kept for ``period``, or None when anything is missing, damaged or stale."""
    kept = _load(store, period)
    values = None if kept is None else _values(kept)
    if kept is None or values is None:
        return None
    try:
        frames = []
        for name in (CHILDREN, BY_AGENCY_TYPE):
            data = (store.period_dir(period) / name).read_bytes()
            if hashlib.sha256(data).hexdigest() != kept["sha256"][name]:
                return None
            frames.append(pl.read_parquet(io.BytesIO(data)))
        changes = pl.DataFrame(kept["changes"], schema=CHANGE_SCHEMA)
    except (OSError, KeyError, TypeError, ValueError, pl.exceptions.PolarsError):
        return None
    return Kept(values, changes, *frames)


def _load(store: StoreInfo, period: Period) -> dict[str, Any] | None:
    """The period's ``headlines.json`` if it is current (None when missing, damaged or stale)."""
    kept = _read(store, period)
    wanted = fingerprint(store.root, period)
    return kept if wanted is not None and kept.get("fingerprint") == wanted else None


def _read(store: StoreInfo, period: Period) -> dict[str, Any]:
    """The period's ``headlines.json`` in this format ({} when missing or damaged)."""
    try:
        kept = json.loads((store.period_dir(period) / FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return kept if isinstance(kept, dict) and kept.get("format") == FORMAT else {}


def _values(kept: Mapping[str, Any]) -> Values | None:
    try:
        values = {str(k): _decode(v) for k, v in kept["values"].items()}
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    ids = {m.id for m in all_measures() if m.headline is not None}
    return values if set(values) == ids else None


def summarise(pending: PendingPeriod) -> dict[str, Writer]:
    """The kept files to write with a run (a :data:`tce_cli.store.Summariser`).

    For the period the run writes, and for every other stored quarter in the latest trend
    window whose kept files the run makes stale (the later ones) or that are stale already
    (e.g. kept by an older tce), so the next pack reads them instead of the rows. Nothing
    when anything goes wrong (an unreadable earlier quarter, say): that only costs the report
    time, and the run itself goes on.
    """
    period = pending.period
    stored = tuple(sorted({*stored_periods(pending.root), period}))
    store = StoreInfo(pending.root, stored, pseudonymised=True)
    scheme = [p for p in stored if p.is_financial == period.is_financial]
    written = (period, pending.manifest)
    stamps = {q: fingerprint(pending.root, q, pending=written) for q in scheme}
    window = window_periods(scheme[-1], scheme)
    todo = [
        q
        for q in scheme
        if stamps[q] is not None
        and (q == period or (q in window and _read(store, q).get("fingerprint") != stamps[q]))
    ]
    if not todo:
        return {}
    history = History(store, [p for p in scheme if p <= todo[-1]])
    agencies, snapshot = _pending_snapshots(pending)
    files: dict[str, Writer] = {}
    try:
        for q in todo:
            rows = _rows(pending) if q == period else scan_rows(store, [q])
            data = PeriodData(q, rows, history, headline_only=False)
            changes = period_changes(Store(pending.root), q, agencies=agencies, snapshot=snapshot)
            kept = Kept(headline_values(data), changes, *data.kept_frames())
            files |= _writers(q, stamps[q], kept)
            data.release()
    except Exception:  # noqa: BLE001 - kept files only save the report time: never fail a run
        return {}
    return files


def _pending_snapshots(
    pending: PendingPeriod,
) -> tuple[Callable[[Period], list[str]], Snapshots]:
    """The agencies and returns of each period as the run leaves the store."""
    store = Store(pending.root)
    manifest = json.loads(pending.manifest)
    ids = {p.parent.name.removeprefix("agency=") for p in pending.kept} | set(pending.frames)

    def agencies(q: Period) -> list[str]:
        return sorted(ids) if q == pending.period else stored_agencies(store, q)

    def snapshot(q: Period, agency_id: str) -> Snapshot | None:
        if q == pending.period and agency_id in pending.frames:
            return snapshot_of(q, agency_id, pending.frames[agency_id], manifest)
        return snapshot_from_store(store, q, agency_id)

    return agencies, snapshot


def _writers(period: Period, stamp: str | None, kept: Kept) -> dict[str, Writer]:
    frames = {}
    for name, frame in ((CHILDREN, kept.children), (BY_AGENCY_TYPE, kept.by_agency_type)):
        buffer = io.BytesIO()
        frame.write_parquet(buffer, **PARQUET_OPTIONS)
        frames[name] = buffer.getvalue()
    payload = {
        "format": FORMAT,
        "period": period.label,
        "fingerprint": stamp,
        "values": {k: _encode(v) for k, v in sorted(kept.values.items())},
        "changes": kept.changes.to_dicts(),
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in frames.items()},
    }
    base = f"period={period.slug}"
    text = (json.dumps(payload, indent=2) + "\n").encode("utf-8")
    files = {f"{base}/{FILE}": _bytes_writer(text)}
    return files | {f"{base}/{name}": _bytes_writer(data) for name, data in frames.items()}


def _bytes_writer(data: bytes) -> Writer:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


def _rows(pending: PendingPeriod) -> pl.LazyFrame:
    """The period's rows as the run leaves them, like :func:`store_read.scan_rows` gives them."""
    schema = store_schema()
    names = [*schema, *HIVE]
    frames = [scan_files(list(pending.kept)).select(names)]
    for agency, frame in sorted(pending.frames.items()):
        columns = [
            pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
            for c, t in schema.items()
        ]
        hive = [pl.lit(pending.period.slug).alias("period"), pl.lit(agency).alias("agency")]
        frames.append(frame.lazy().select(*columns, *hive))
    return pl.concat(frames)


# --- fingerprints ------------------------------------------------------------------------


def fingerprint(
    root: Path, period: Period, *, pending: tuple[Period, bytes] | None = None
) -> str | None:
    """What ``period``'s headline values are worked out from (None: cannot be told).

    ``pending``: a period and the ``manifest.json`` a run is about to write for it.
    """
    written = {pending[0]: pending[1]} if pending else {}
    quarters = sorted({*stored_periods(root), *written})
    parts: list[Any] = [FORMAT, code_fingerprint()]
    for q in quarters:
        if q.start > period.start or q.is_financial != period.is_financial:
            continue
        try:
            manifest = written.get(q) or (root / f"period={q.slug}" / MANIFEST).read_bytes()
        except OSError:  # a store from before manifests: nothing tells its versions apart
            return None
        parts.append([q.slug, hashlib.sha256(manifest).hexdigest()])
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


@cache
def code_fingerprint() -> str:
    """A hash of tce's version, code and framework schema, and the Polars version (any change
    makes kept files stale: the values depend on the measures, the comparison, the schema and
    the code lists; the child frames are keyed by a Polars hash)."""
    package = Path(__file__).resolve().parent.parent
    files = [*sorted(package.glob("**/*.py")), *sorted(package.glob("data/*.yaml"))]
    digest = hashlib.sha256(f"{__version__} polars {pl.__version__}".encode())
    for path in files:
        digest.update(path.relative_to(package).as_posix().encode("utf-8"))
        digest.update(path.read_bytes())
    return digest.hexdigest()


# --- JSON --------------------------------------------------------------------------------


def _encode(cell: Count | Rate) -> dict[str, Any]:
    if isinstance(cell, Count):
        return {"key": list(cell.key), "count": cell.value}
    return {
        "key": list(cell.key),
        "den": _encode(cell.den),
        "num": None if cell.num is None else _encode(cell.num),
        "share": cell.share,
    }


def _decode(data: Any) -> Count | Rate:
    key = CellKey(*(str(part) for part in data["key"]))
    if "count" in data:
        value = data["count"]
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("a count is a whole number")
        return Count(key, value)
    den, num, share = _decode(data["den"]), data["num"], data["share"]
    if not isinstance(den, Count) or not (share is None or isinstance(share, int | float)):
        raise TypeError("a rate has a count below it and a number or null share")
    top = None if num is None else _decode(num)
    if top is not None and not isinstance(top, Count):
        raise TypeError("a rate's numerator is a count")
    return Rate(key, den, top, None if share is None else float(share))
