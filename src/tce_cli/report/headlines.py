"""Headline values kept in the store, so a pack does not work out every earlier quarter again.

The headline table and the trends need every quarter's headline values (before disclosure
control). Working them out reads the quarter's rows (about a second per million rows), so
``tce harmonise`` works out the values of the period it writes and keeps them in
``period=<slug>/headlines.json``, written in the same all-or-nothing step as the rows.

``tce report`` uses a quarter's kept values only when they were worked out from exactly what
the store now holds. The file records a fingerprint of

* the code that works them out (tce's version, its report modules and the framework schema),
* and every stored quarter up to and including that one (re-referrals look back at earlier
  quarters): its ``manifest.json``, which names every agency's input files by their SHA-256,
  the mapping's SHA-256, tce's version and the run's time.

Resubmitting a quarter makes its own kept values and every later quarter's stale, and the
run works them out again (so does the first run after tce is upgraded, for the quarters of the
latest trend window). Stale or missing values are worked out from the rows by the report, as it
always does for the quarter it reports on: a missing, damaged or stale file is never an error,
it only costs time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from tce_cli import __version__
from tce_cli.errors import StoreError
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
from tce_cli.store import PendingPeriod

FILE = "headlines.json"
FORMAT = 1
Values = Mapping[str, Count | Rate]
"""Measure id -> its headline value for one quarter (measures with a headline only)."""


def headline_values(data: PeriodData) -> dict[str, Count | Rate]:
    """Every measure's headline value for ``data``'s quarter."""
    return {m.id: m.headline(data) for m in all_measures() if m.headline is not None}


def kept_values(store: StoreInfo, period: Period) -> Values | None:
    """The values kept for ``period``, or None when there are none or they are stale."""
    path = store.period_dir(period) / FILE
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(kept, dict) or kept.get("format") != FORMAT:
            return None
        wanted = fingerprint(store.root, period)
        if wanted is None or kept.get("fingerprint") != wanted:
            return None
        values = {str(k): _decode(v) for k, v in kept["values"].items()}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    ids = {m.id for m in all_measures() if m.headline is not None}
    return values if set(values) == ids else None


def summarise(pending: PendingPeriod) -> dict[str, Writer]:
    """``headlines.json`` files to write with a run (a :data:`tce_cli.store.Summariser`).

    For the period the run writes, and for every other stored quarter in the latest trend
    window whose kept values the run makes stale (the later ones) or that are stale already
    (e.g. kept by an older tce), so the next pack reads them instead of the rows. Nothing
    (which only costs the report time) when the store cannot be read.
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
        and (q == period or (q in window and _kept_stamp(store, q) != stamps[q]))
    ]
    if not todo:
        return {}
    history = History(store, [p for p in scheme if p <= todo[-1]])
    files: dict[str, Writer] = {}
    try:
        for q in todo:
            rows = _rows(pending) if q == period else scan_rows(store, [q])
            data = PeriodData(q, rows, history, headline_only=True)
            files[f"period={q.slug}/{FILE}"] = _writer(q, stamps[q], headline_values(data))
            data.release()
    except (pl.exceptions.PolarsError, StoreError):
        return {}
    return files


def _kept_stamp(store: StoreInfo, period: Period) -> object:
    try:
        kept = json.loads((store.period_dir(period) / FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return kept.get("fingerprint") if isinstance(kept, dict) else None


def _writer(period: Period, stamp: str | None, values: Values) -> Writer:
    payload = {
        "format": FORMAT,
        "period": period.label,
        "fingerprint": stamp,
        "values": {k: _encode(v) for k, v in sorted(values.items())},
    }
    data = (json.dumps(payload, indent=2) + "\n").encode("utf-8")

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
    """A hash of tce's version and of the code and schema the values are worked out with."""
    package = Path(__file__).resolve().parent.parent
    files = [
        *sorted(package.glob("report/**/*.py")),
        *sorted(package.glob("data/*.yaml")),
        package / "periods.py",
        package / "schema.py",
    ]
    digest = hashlib.sha256(__version__.encode("utf-8"))
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
