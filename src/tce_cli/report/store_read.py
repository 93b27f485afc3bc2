"""Read the harmonised store (docs/store-contract.md): periods, manifests and lazy row scans.

The Parquet files are scanned lazily with hive partitioning: the partition columns come out as
``period`` (the period slug) and ``agency`` and never clash with the ``agency_id`` column stored
inside each file. Filtering on ``period`` prunes whole folders before any file is opened.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tce_cli.errors import PeriodError, StoreError
from tce_cli.periods import Period, period_from_slug
from tce_cli.schema import FieldType, load_schema, polars_dtype

STORE_META = ".tce-store.json"
LOCK = ".lock"
MANIFEST = "manifest.json"
PROVENANCE = {"agency_id": "string", "source_file": "string", "source_row": "integer"}

REQUIRED_COLUMNS = (
    "person_key",
    "record_id",
    "agency_id",
    "submitting_agency_type",
    "local_authority_code",
    "episode_start_date",
    "open_at_period_end",
    "new_in_period",
    "closed_in_period",
)
"""Columns without which no measure can be computed (checked in every file's footer)."""

_HARMONISE_HINT = "Run 'tce harmonise FILES --period P --store DIR' first, or pass --store DIR."


@dataclass(frozen=True)
class StoreInfo:
    """What the report needs to know about a store before scanning it."""

    root: Path
    periods: tuple[Period, ...]
    pseudonymised: bool

    def period_dir(self, period: Period) -> Path:
        return self.root / f"period={period.slug}"

    def has(self, period: Period) -> bool:
        return period in self.periods


def open_store(root: Path) -> StoreInfo:
    """Check the store folder and list its periods.

    Raises:
        StoreError: the folder is missing, holds no periods, is being written or is unreadable.
    """
    if not root.is_dir():
        raise StoreError(f"Store folder '{root}' does not exist.", hint=_HARMONISE_HINT)
    if (root / LOCK).exists():
        raise StoreError(
            f"The store '{root}' is being written (it has a {LOCK} file).",
            hint=f"Wait for 'tce harmonise' to finish; if none is running, delete {root / LOCK}.",
        )
    periods = stored_periods(root)
    if not periods:
        raise StoreError(f"Store folder '{root}' holds no periods.", hint=_HARMONISE_HINT)
    return StoreInfo(root, periods, _pseudonymised(root, periods))


def stored_periods(root: Path) -> tuple[Period, ...]:
    """The periods the store at ``root`` holds data for, in order."""
    return tuple(sorted(_periods(root)))


def _periods(root: Path) -> Iterable[Period]:
    for child in root.glob("period=*"):
        if not child.is_dir():
            continue
        has_data = (child / MANIFEST).is_file() or any(child.glob("agency=*/*.parquet"))
        if not has_data:
            continue
        try:
            yield period_from_slug(child.name.removeprefix("period="))
        except PeriodError:
            continue


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(
            f"Cannot read {path} ({type(exc).__name__}).",
            hint="The store may be damaged: re-run 'tce harmonise' for that period.",
        ) from None
    if not isinstance(data, dict):
        raise StoreError(f"{path} is not a JSON object.", hint="Re-run 'tce harmonise'.")
    return data


def _pseudonymised(root: Path, periods: tuple[Period, ...]) -> bool:
    """False if the store or any period's manifest says so, or if nothing says either way."""
    flags: list[Any] = []
    if (root / STORE_META).is_file():
        flags.append(_read_json(root / STORE_META).get("pseudonymised"))
    for period in periods:
        manifest = root / f"period={period.slug}" / MANIFEST
        if manifest.is_file():
            flags.append(_read_json(manifest).get("pseudonymised", True))
    return bool(flags) and all(flag is True for flag in flags)


def load_manifest(store: StoreInfo, period: Period) -> dict[str, Any] | None:
    """The period's manifest.json, or None when the period has none."""
    path = store.period_dir(period) / MANIFEST
    return _read_json(path) if path.is_file() else None


def period_files(store: StoreInfo, periods: Iterable[Period]) -> list[Path]:
    """The accepted-rows Parquet files of ``periods``, sorted."""
    files: list[Path] = []
    for period in periods:
        files.extend(sorted(store.period_dir(period).glob("agency=*/*.parquet")))
    return files


def store_schema() -> dict[str, pl.DataType]:
    """Column -> dtype of the store's Parquet files, from the framework schema."""
    schema = load_schema()
    columns = {f.name: polars_dtype(f.type) for f in schema.shared_fields}
    columns |= {d.name: polars_dtype(d.type) for d in schema.derived}
    columns |= {name: polars_dtype(FieldType(kind)) for name, kind in PROVENANCE.items()}
    columns["query_codes"] = pl.List(pl.String())
    return columns


def scan_rows(store: StoreInfo, periods: Iterable[Period]) -> pl.LazyFrame:
    """Lazily scan the stored rows of ``periods`` (an empty frame when there are none).

    Raises:
        StoreError: a file lacks a column every measure needs, or is not Parquet.
    """
    return scan_files(period_files(store, periods))


HIVE = {"period": pl.String(), "agency": pl.String()}
"""The partition columns a scan adds (period slug, agency id)."""


def scan_files(files: list[Path]) -> pl.LazyFrame:
    """Lazily scan stored Parquet ``files`` (see :func:`scan_rows`)."""
    schema = store_schema()
    if not files:
        return pl.LazyFrame(schema={**schema, **HIVE})
    for path in files:
        _check_columns(path)
    return pl.scan_parquet(
        files,
        hive_partitioning=True,
        hive_schema=HIVE,
        schema=schema,
        missing_columns="insert",
        extra_columns="ignore",
        cast_options=pl.ScanCastOptions(integer_cast="upcast"),
    )


def _check_columns(path: Path) -> None:
    try:
        names = set(pl.read_parquet_schema(path))
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise StoreError(
            f"Cannot read {path} ({type(exc).__name__}).",
            hint="The store may be damaged: re-run 'tce harmonise' for that period.",
        ) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise StoreError(
            f"{path} lacks the column(s) {', '.join(missing)}.",
            hint="The store was written by an older tce: re-run 'tce harmonise' for that period.",
        )
