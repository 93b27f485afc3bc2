"""The harmonised store: Parquet partitions by period and agency, manifests, rejected rows.

Layout and columns are fixed by docs/store-contract.md. Writes are all-or-nothing: every file
of a run is staged inside the store first, then swapped in one by one (old files kept as
backups until the end), and on any failure the swapped files are put back, so the store is
left byte-for-byte as it was. One writer at a time (``.lock``); readers never see half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from tce_cli import __version__
from tce_cli.errors import StoreError
from tce_cli.periods import Period, parse_period
from tce_cli.safe_io import (
    STAGING_PREFIX,
    Writer,
    output_error,
    text_table,
    write_files_atomically,
)
from tce_cli.schema import SCHEMA_VERSION, Role, load_schema, polars_dtype

STORE_VERSION = 1
MARKER = ".tce-store.json"
LOCK = ".lock"
AGENCY_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""Agency ids name partitions and files: no dots or slashes, so never a path outside."""
_AGENCY_ID = re.compile(AGENCY_ID_PATTERN)
_PERSON_KEY = r"^[0-9a-f]{64}$"
PARQUET_OPTIONS: dict[str, Any] = {  # fixed, so the same frame gives the same bytes
    "compression": "zstd",
    "compression_level": 3,
    "statistics": True,
    "row_group_size": 131_072,
}
PROVENANCE: tuple[tuple[str, pl.DataType], ...] = (
    ("agency_id", pl.String()),
    ("source_file", pl.String()),
    ("source_row", pl.Int64()),
    ("query_codes", pl.List(pl.String())),
)


def store_schema() -> dict[str, pl.DataType]:
    """Columns of ``part-0.parquet`` in order: shared/system fields, derived, provenance."""
    schema = load_schema()
    columns = {f.name: polars_dtype(f.type) for f in schema.shared_fields}
    columns |= {d.name: polars_dtype(d.type) for d in schema.derived}
    return columns | dict(PROVENANCE)


def personal_columns() -> frozenset[str]:
    """Input-only fields that must never be written to the store (contract: NEVER stored)."""
    return frozenset(f.name for f in load_schema().fields if f.role is Role.INPUT)


# --- manifest models ---------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ManifestInput(_Model):
    """One input file of an agency's run."""

    file: str
    sha256: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int

    @model_validator(mode="after")
    def _adds_up(self) -> ManifestInput:
        if self.rows_read != self.rows_accepted + self.rows_rejected:
            raise ValueError(f"{self.file}: rows_read != rows_accepted + rows_rejected")
        return self


class ManifestEntry(_Model):
    """One agency's entry in a period's manifest (docs/store-contract.md)."""

    agency_name: str
    agency_type: str
    org_code: str
    mapping: str
    mapping_sha256: str
    submitted_at: str | None = None
    extract_date: str | None = None
    inputs: list[ManifestInput]
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    findings_by_code: dict[str, int] = {}
    findings_by_severity: dict[str, int] = {}
    acknowledged_by_code: dict[str, int] = {}
    completeness: dict[str, float] = {}
    validity: float | None = None
    timeliness_days: int | None = None

    @model_validator(mode="after")
    def _totals(self) -> ManifestEntry:
        for name in ("rows_read", "rows_accepted", "rows_rejected"):
            if getattr(self, name) != sum(getattr(i, name) for i in self.inputs):
                raise ValueError(f"{name} is not the sum over inputs")
        if self.rows_read != self.rows_accepted + self.rows_rejected:
            raise ValueError("rows_read != rows_accepted + rows_rejected")
        return self


class StoreMarker(_Model):
    """Contents of ``.tce-store.json``: what kind of store this is."""

    store_version: int = STORE_VERSION
    pseudonymised: bool
    key_fingerprint: str | None


@dataclass(frozen=True)
class Partition:
    """One agency's accepted rows, rejected rows and manifest entry for a period."""

    agency_id: str
    frame: pl.DataFrame
    manifest_entry: ManifestEntry | Mapping[str, Any]
    rejected: pl.DataFrame


@dataclass(frozen=True)
class PendingPeriod:
    """A period as a run is about to leave it: what work derived from its rows reads."""

    root: Path
    period: Period
    kept: tuple[Path, ...]
    """Other agencies' partitions of the period, which the run leaves as they are."""
    frames: Mapping[str, pl.DataFrame]
    """The run's accepted rows by agency id, in store columns."""
    manifest: bytes
    """The period's ``manifest.json`` as the run writes it."""


Summariser = Callable[[PendingPeriod], Mapping[str, Writer]]
"""Work out files derived from a period's rows, written in the same step as the rows."""


@dataclass(frozen=True)
class WriteResult:
    """What a run wrote (paths relative to the store root, sorted)."""

    period: Period
    agencies: tuple[str, ...]
    files: tuple[str, ...]


# --- the store ---------------------------------------------------------------------------


class Store:
    """A harmonised store folder (see docs/store-contract.md)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock_token: str | None = None

    # reading ----------------------------------------------------------------------------

    def marker(self) -> StoreMarker | None:
        """The store marker, or None when the folder is not (yet) a store."""
        path = self.root / MARKER
        if not path.is_file():
            return None
        try:
            marker = StoreMarker.model_validate_json(path.read_bytes())
        except ValidationError:
            raise StoreError(
                f"'{path}' is damaged.", hint="Restore it from a backup of the store."
            ) from None
        if marker.store_version != STORE_VERSION:
            raise StoreError(
                f"The store '{self.root}' has layout version {marker.store_version}; this tce "
                f"reads version {STORE_VERSION}.",
                hint="Use the tce version that wrote the store.",
            )
        return marker

    def periods(self) -> list[Period]:
        """Periods that hold at least one agency partition, oldest first."""
        found: list[Period] = []
        for folder in self.root.glob("period=*"):
            if folder.is_dir() and any(folder.glob("agency=*/part-0.parquet")):
                with contextlib.suppress(Exception):
                    found.append(parse_period(folder.name.removeprefix("period=")))
        return sorted(found)

    def agencies(self, period: Period) -> list[str]:
        """Agency ids with a partition in ``period``, sorted."""
        folder = self._period_dir(period)
        return sorted(
            p.parent.name.removeprefix("agency=") for p in folder.glob("agency=*/part-0.parquet")
        )

    def partition_path(self, period: Period, agency_id: str) -> Path:
        """Where an agency's accepted rows for a period live."""
        return self._period_dir(period) / f"agency={agency_id}" / "part-0.parquet"

    def scan(
        self, period: Period | None = None, *, agencies: Collection[str] | None = None
    ) -> pl.LazyFrame:
        """Lazily scan the partitions of one period, or of all periods (optionally only
        those of ``agencies``).

        Raises:
            StoreError: the store is empty or has no data for ``period`` (names those it
                has), or a partition is damaged.
        """
        periods = self.periods()
        wanted = periods if period is None else [p for p in periods if p == period]
        if not wanted:
            raise self._no_period(period, periods)
        files = [
            self.partition_path(p, a)
            for p in wanted
            for a in self.agencies(p)
            if agencies is None or a in agencies
        ]
        if not files:
            return pl.LazyFrame(schema=store_schema())
        for path in files:
            _check_partition(path)
        return pl.scan_parquet([str(f) for f in files], hive_partitioning=False)

    def manifest(self, period: Period) -> dict[str, Any]:
        """The period's merged manifest (all agencies run so far)."""
        path = self._period_dir(period) / "manifest.json"
        if not path.is_file():
            raise self._no_period(period, self.periods())
        try:
            loaded = json.loads(path.read_text("utf-8"))
        except ValueError:
            loaded = None
        if not isinstance(loaded, dict):
            raise StoreError(f"The manifest '{path}' is damaged.", hint=_RESTORE_HINT)
        return loaded

    def history(self, period: Period) -> list[Path]:
        """The dated manifests of every run for ``period``, oldest first."""
        return sorted((self._period_dir(period) / "manifests").glob("*.json"))

    def _period_dir(self, period: Period) -> Path:
        return self.root / f"period={period.slug}"

    def _no_period(self, period: Period | None, periods: Sequence[Period]) -> StoreError:
        if not periods:
            return StoreError(
                f"The store '{self.root}' holds no harmonised data yet.",
                hint="Run 'tce harmonise FILES --period P' first, or point --store at "
                "another store.",
            )
        have = ", ".join(p.label for p in periods)
        return StoreError(
            f"The store '{self.root}' has no data for {period}.",
            hint=f"Periods in the store: {have}.",
        )

    # locking ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's write lock (``.lock``) for the block; re-entrant in one Store.

        Raises:
            StoreError: another live tce run holds the lock, or the folder is not a store.
            OutputError: the folder cannot be created or written.
        """
        if self._lock_token is not None:
            yield
            return
        self._check_is_store_folder()
        token = self._acquire()
        self._lock_token = token
        try:
            self._remove_stale_staging()
            yield
        finally:
            self._lock_token = None
            self._release(token)

    def _check_is_store_folder(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(exc, self.root) from exc
        if self.marker() is None:
            others = [p.name for p in self.root.iterdir() if p.name not in (LOCK, MARKER)]
            if any(not n.startswith(STAGING_PREFIX) for n in others):
                raise StoreError(
                    f"'{self.root}' is not a tce store: it has other files and no {MARKER}.",
                    hint="Point --store at an empty or new folder, or at an existing store.",
                )

    def _acquire(self) -> str:
        path = self.root / LOCK
        token = uuid.uuid4().hex
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "token": token,
        }
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = _read_lock(path)
                if holder is not None and _lock_is_stale(holder) and _break_lock(path, holder):
                    continue
                raise _locked_error(path, holder) from None
            except OSError as exc:
                raise output_error(exc, path) from exc
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(info, handle)
            return token
        raise _locked_error(path, _read_lock(path))

    def _release(self, token: str) -> None:
        path = self.root / LOCK
        holder = _read_lock(path)
        if holder is not None and holder.get("token") == token:
            path.unlink(missing_ok=True)

    def _remove_stale_staging(self) -> None:
        for folder in self.root.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(folder, ignore_errors=True)

    # writing ----------------------------------------------------------------------------

    def write_partition(
        self,
        period: Period,
        agency_id: str,
        frame: pl.DataFrame,
        *,
        manifest_entry: ManifestEntry | Mapping[str, Any],
        rejected: pl.DataFrame,
        generated_at: datetime,
        key_fingerprint: str | None,
    ) -> WriteResult:
        """Replace one agency's partition for ``period`` (see :meth:`write_run`)."""
        part = Partition(agency_id, frame, manifest_entry, rejected)
        return self.write_run(
            period, [part], generated_at=generated_at, key_fingerprint=key_fingerprint
        )

    def write_run(
        self,
        period: Period,
        partitions: Sequence[Partition],
        *,
        generated_at: datetime,
        key_fingerprint: str | None,
        summarise: Summariser | None = None,
    ) -> WriteResult:
        """Write a run's partitions, rejected rows and manifests all-or-nothing.

        Each agency's partition replaces its earlier one for the period (never duplicates);
        other agencies and periods are untouched. Takes the lock unless already held.

        Args:
            period: the reporting period.
            partitions: one per agency in this run.
            generated_at: the run's time (UTC); names the dated manifest.
            key_fingerprint: ``pseudonymise.key_fingerprint(key)``, or None for a run made
                with ``--no-pseudonymise``.
            summarise: adds files derived from the period's rows as the run leaves them
                (the report's kept headline values), written with the rest.

        Raises:
            StoreError: the frames break the store contract, the key or pseudonymisation
                differs from the store's, or the store is locked.
            OutputError: the store cannot be written (nothing is changed).
        """
        marker = StoreMarker(
            pseudonymised=key_fingerprint is not None, key_fingerprint=key_fingerprint
        )
        prepared = [_prepare(p) for p in partitions]
        ids = [p.agency_id for p, _ in prepared]
        if len(set(ids)) != len(ids):
            raise StoreError("The same agency appears twice in one run.", hint=_BUG_HINT)
        with self.lock():
            self._check_marker(marker)
            files, manifest = self._build(period, prepared, marker, generated_at)
            if summarise is not None:
                kept = [a for a in self.agencies(period) if a not in ids]
                pending = PendingPeriod(
                    self.root,
                    period,
                    tuple(self.partition_path(period, a) for a in kept),
                    {p.agency_id: p.frame for p, _ in prepared},
                    manifest,
                )
                files |= summarise(pending)
            write_files_atomically(self.root, files)
        return WriteResult(period, tuple(sorted(ids)), tuple(sorted(files)))

    def _check_marker(self, new: StoreMarker) -> None:
        old = self.marker()
        if old is None:
            return
        if old.pseudonymised != new.pseudonymised:
            kind = "pseudonymised" if old.pseudonymised else "NOT pseudonymised"
            raise StoreError(
                f"The store '{self.root}' is {kind}; this run cannot be mixed into it.",
                hint="Use a separate store for --no-pseudonymise test runs.",
            )
        if old.key_fingerprint != new.key_fingerprint:
            raise StoreError(
                f"The store '{self.root}' was written with another key "
                f"({old.key_fingerprint}; this run's key is {new.key_fingerprint}).",
                hint="Use the partnership's key (check 'tce keygen' was not re-run), or "
                "write to a new store.",
            )

    def _build(
        self,
        period: Period,
        prepared: Sequence[tuple[Partition, ManifestEntry]],
        marker: StoreMarker,
        generated_at: datetime,
    ) -> tuple[dict[str, Writer], bytes]:
        """The run's files, and the bytes of the period's merged ``manifest.json``."""
        stamp = generated_at.astimezone(UTC)
        iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        base = f"period={period.slug}"
        files: dict[str, Writer] = {MARKER: _json_writer(marker.model_dump(mode="json"))}
        manifest = self._merged_manifest(period, iso, marker)
        for part, entry in prepared:
            entry = entry.model_copy(update={"submitted_at": entry.submitted_at or iso})
            manifest["agencies"][part.agency_id] = entry.model_dump(mode="json")
            files[f"{base}/agency={part.agency_id}/part-0.parquet"] = _parquet_writer(part.frame)
            files[f"rejected/{base}/{part.agency_id}.csv"] = _csv_writer(part.rejected)
            single = {**manifest, "agencies": {part.agency_id: entry.model_dump(mode="json")}}
            name = self._history_name(period, stamp, part.agency_id, files)
            files[name] = _json_writer(single)
        manifest["agencies"] = dict(sorted(manifest["agencies"].items()))
        files[f"{base}/manifest.json"] = _json_writer(manifest)
        return files, _json_bytes(manifest)

    def _merged_manifest(self, period: Period, iso: str, marker: StoreMarker) -> dict[str, Any]:
        path = self._period_dir(period) / "manifest.json"
        agencies: dict[str, Any] = {}
        if path.is_file():
            try:
                agencies = dict(json.loads(path.read_text("utf-8"))["agencies"])
            except (ValueError, KeyError, TypeError):
                raise StoreError(f"The manifest '{path}' is damaged.", hint=_RESTORE_HINT) from None
        return {
            "tool_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "period": period.label,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "generated_at": iso,
            "pseudonymised": marker.pseudonymised,
            "key_fingerprint": marker.key_fingerprint,
            "agencies": agencies,
        }

    def _history_name(
        self, period: Period, stamp: datetime, agency_id: str, taken: Mapping[str, Any]
    ) -> str:
        folder = f"period={period.slug}/manifests"
        base = f"{stamp.strftime('%Y-%m-%dT%H%M%SZ')}-{agency_id}"
        name, n = f"{folder}/{base}.json", 1
        while name in taken or (self.root / name).exists():
            n += 1
            name = f"{folder}/{base}-{n}.json"
        return name


_BUG_HINT = "This is a bug in tce; please report it."
_RESTORE_HINT = "Restore it from a backup, or re-run every agency for this period."


def _prepare(part: Partition) -> tuple[Partition, ManifestEntry]:
    """Check a partition against the store contract; return it conformed with its entry."""
    if not _AGENCY_ID.fullmatch(part.agency_id):
        raise StoreError(f"'{part.agency_id}' is not a valid agency id.", hint=_BUG_HINT)
    try:
        entry = ManifestEntry.model_validate(part.manifest_entry)
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors()
        )
        raise StoreError(f"Manifest entry for {part.agency_id} is invalid: {where}.") from None
    frame = conform_frame(part.frame)
    leaked = sorted(personal_columns() & set(part.rejected.columns))
    if leaked:
        raise StoreError(
            f"Rejected rows for {part.agency_id} still hold personal fields: {', '.join(leaked)}.",
            hint=_BUG_HINT,
        )
    if frame.height != entry.rows_accepted or part.rejected.height != entry.rows_rejected:
        raise StoreError(
            f"Row counts for {part.agency_id} do not add up: {frame.height} accepted and "
            f"{part.rejected.height} rejected rows, manifest says {entry.rows_accepted} and "
            f"{entry.rows_rejected}.",
            hint=_BUG_HINT,
        )
    return Partition(part.agency_id, frame, entry, part.rejected), entry


def conform_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Select the contract's columns in order, sorted by source_file, source_row.

    All-null columns are cast to their contract dtype; every other column must already have
    it.

    Raises:
        StoreError: personal (input-only) columns, unknown or missing columns, wrong dtypes,
            or a person_key that is not 64 lower-case hex characters.
    """
    expected = store_schema()
    leaked = sorted(personal_columns() & set(frame.columns))
    if leaked:
        raise StoreError(f"Refusing to store personal fields: {', '.join(leaked)}.", hint=_BUG_HINT)
    extra = sorted(set(frame.columns) - set(expected))
    missing = [c for c in expected if c not in frame.columns]
    wrong = [
        f"{c} ({frame.schema[c]}, expected {t})"
        for c, t in expected.items()
        if c in frame.columns and frame.schema[c] != t and frame.schema[c] != pl.Null
    ]
    problems = [
        label + ", ".join(items)
        for label, items in (("unknown: ", extra), ("missing: ", missing), ("dtype: ", wrong))
        if items
    ]
    if problems:
        raise StoreError(
            "Frame does not match the store contract (" + "; ".join(problems) + ").",
            hint=_BUG_HINT,
        )
    out = frame.select([pl.col(c).cast(t) for c, t in expected.items()])
    bad_keys = out.select(
        (pl.col("person_key").is_not_null() & ~pl.col("person_key").str.contains(_PERSON_KEY))
        .sum()
        .alias("n")
    ).item()
    if bad_keys:
        raise StoreError(
            f"{bad_keys} person_key values are not 64 lower-case hex characters "
            "(an identifier may be leaking unhashed).",
            hint=_BUG_HINT,
        )
    return out.sort(["source_file", "source_row"], maintain_order=True).rechunk()


def _check_partition(path: Path) -> None:
    """Read a partition's footer, so a damaged or foreign file is named before any query.

    Raises:
        StoreError: the file is not Parquet (truncated, empty, replaced), or its columns or
            types are not the contract's.
    """
    try:
        found = pl.read_parquet_schema(path)
    except (OSError, pl.exceptions.PolarsError):
        raise StoreError(f"Cannot read '{path}': it is damaged.", hint=_RESTORE_HINT) from None
    wrong = [c for c, t in store_schema().items() if found.get(c) != t]
    if wrong:
        raise StoreError(
            f"'{path}' does not have the store's columns ({', '.join(wrong[:5])}"
            + (", ..." if len(wrong) > 5 else "")
            + ").",
            hint=_RESTORE_HINT,
        )


# --- staged writers and the transaction --------------------------------------------------


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    frame.write_parquet(path, **PARQUET_OPTIONS)


def _parquet_writer(frame: pl.DataFrame) -> Writer:
    return lambda path: _write_parquet(frame, path)


def _csv_writer(frame: pl.DataFrame) -> Writer:
    def write(path: Path) -> None:
        order = [c for c in ("source_file", "source_row") if c in frame.columns]
        lazy = frame.lazy().sort(order, maintain_order=True) if order else frame.lazy()
        text_table(lazy).collect().write_csv(path)

    return write


def _json_bytes(payload: Mapping[str, Any]) -> bytes:
    return (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _json_writer(payload: Mapping[str, Any]) -> Writer:
    data = _json_bytes(payload)

    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


# --- lock helpers ------------------------------------------------------------------------


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_is_stale(holder: Mapping[str, Any]) -> bool:
    pid = holder.get("pid")
    same_host = holder.get("host") == socket.gethostname()
    return isinstance(pid, int) and same_host and not _pid_alive(pid)


def _break_lock(path: Path, holder: Mapping[str, Any]) -> bool:
    """Remove a stale lock; False when another run replaced it meanwhile."""
    aside = path.with_name(f"{LOCK}.stale-{uuid.uuid4().hex}")
    try:
        os.rename(path, aside)  # atomic: of two runs breaking the same lock only one wins
    except FileNotFoundError:
        return True
    if _read_lock(aside) != dict(holder):  # took a fresh lock by mistake: put it back
        with contextlib.suppress(OSError):
            os.link(aside, path)
        aside.unlink(missing_ok=True)
        return False
    aside.unlink(missing_ok=True)
    return True


def _locked_error(path: Path, holder: Mapping[str, Any] | None) -> StoreError:
    if holder is None:
        who = "another tce run"
    else:
        who = f"another tce run (pid {holder.get('pid')}, since {holder.get('since')})"
    return StoreError(
        f"The store is being written by {who}.",
        hint=f"Wait for it to finish. If no tce run is active (e.g. it was killed on another "
        f"machine), delete '{path}' and try again.",
    )


__all__ = [
    "LOCK",
    "MARKER",
    "ManifestEntry",
    "ManifestInput",
    "Partition",
    "Store",
    "StoreMarker",
    "WriteResult",
    "conform_frame",
    "personal_columns",
    "store_schema",
]
