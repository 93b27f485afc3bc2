"""Turn checked agency files into store partitions: framework fields, derived fields,
pseudonyms, provenance; rejected rows with their reasons; one manifest entry per agency.

Minimisation happens here: the frame handed to the store is built by selecting the store's
columns, so identifiers, date of birth, full postcode, names and notes cannot reach it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from tce_cli.checks.file import EXTRACT
from tce_cli.checks.identifiers import postcode_district
from tce_cli.config import Thresholds
from tce_cli.errors import StoreError
from tce_cli.findings import Severity
from tce_cli.periods import Period
from tce_cli.pipeline import FileResult
from tce_cli.pseudonymise import available_identifiers, person_key_exprs
from tce_cli.schema import AGE_BANDS, FieldType, load_schema, polars_dtype
from tce_cli.store import Partition, Store, store_schema
from tce_cli.transform import INVALID, ROW

NOT_PSEUDONYMISED_KEY = b"tce --no-pseudonymise: NOT A SECRET, local testing only!"
"""Key used with --no-pseudonymise so keys keep their shape; the store is marked as such."""


@dataclass(frozen=True)
class HarmonisedFile:
    """One file's accepted rows (store columns) and rejected rows, with what the manifest needs
    of its mapped rows: ``result.rows`` is emptied once these are taken, so a run over many
    files holds the store columns of each, not every file's mapped text."""

    result: FileResult
    accepted: pl.DataFrame
    rejected: pl.DataFrame
    sha256: str
    mapped_rows: int
    completeness: dict[str, float]
    latest_extract: date | None

    @property
    def counts(self) -> tuple[int, int, int]:
        return self.result.rows_read, self.accepted.height, self.rejected.height


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def harmonise_file(result: FileResult, *, key: bytes) -> HarmonisedFile:
    """Accepted rows in store columns, and rejected rows with codes and messages."""
    rejected_rows = result.rejected_rows()
    accepted = _store_frame(result, key, rejected_rows)
    rejected = _rejected_frame(result, rejected_rows)
    read, n_acc, n_rej = result.rows_read, accepted.height, rejected.height
    if read != n_acc + n_rej:
        raise StoreError(
            f"{result.path.name}: {read} rows read but {n_acc} accepted + {n_rej} rejected; "
            "nothing was written.",
            hint="This is a bug in tce; please report it with the file's layout (not its data).",
        )
    found = result.counts.get(EXTRACT)  # the checks' tally already holds the latest date
    latest = found if isinstance(found, date) else None
    return HarmonisedFile(
        result=dataclasses.replace(result, mapped=result.rows.clear()),
        accepted=accepted,
        rejected=rejected,
        sha256=file_sha256(result.path),
        mapped_rows=result.rows.height,
        completeness=result.completeness(),
        latest_extract=latest,
    )


def _store_frame(result: FileResult, key: bytes, rejected: pl.Series) -> pl.DataFrame:
    schema = load_schema()
    mapped = result.rows.lazy().filter(~pl.col(ROW).is_in(rejected.implode()))
    present = set(result.resolution.columns)
    ids = available_identifiers(present)
    key_expr, basis_expr = person_key_exprs(key, ids)
    queries = (
        result.findings.lazy()
        .filter((pl.col("severity") == Severity.QUERY.value) & pl.col("source_row").is_not_null())
        .group_by("source_row")
        .agg(pl.col("code").unique().sort().alias("query_codes"))
    )
    p, agency = result.period, result.mapping.agency
    columns: list[pl.Expr] = []
    for f in schema.shared_fields:
        if f.name in present and f.name not in ("person_key", "age_at_period_end"):
            value = pl.col(f.name)
            if f.type is FieldType.CODE_LIST:
                value = value.list.filter(pl.element() != INVALID)
            columns.append(value.cast(polars_dtype(f.type)).alias(f.name))
    lf = mapped.with_columns(key_expr, basis_expr).select(
        pl.col(ROW).alias("source_row"),
        pl.col("person_key"),
        pl.col("person_key_basis"),
        *columns,
        *_system_columns(result, present),
    )
    # A mapped column missing from the file rejects every row, but the derived fields still
    # need their inputs: typed nulls stand in for shared fields the file does not have.
    have = set(lf.collect_schema().names())
    absent = [
        pl.lit(None, dtype=polars_dtype(f.type)).alias(f.name)
        for f in schema.shared_fields
        if f.name not in have
    ]
    lf = lf.with_columns(absent).with_columns(_derived(p))
    lf = lf.join(queries, on="source_row", how="left")
    lf = lf.with_columns(
        pl.col("query_codes").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        pl.lit(agency.id).alias("agency_id"),
        pl.lit(result.path.name).alias("source_file"),
    )
    expected = store_schema()
    names = set(lf.collect_schema().names())
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in expected.items() if c not in names]
    return lf.with_columns(missing).select(list(expected)).collect()


def _system_columns(result: FileResult, present: set[str]) -> list[pl.Expr]:
    agency = result.mapping.agency
    out = [
        pl.lit(load_schema().version).alias("schema_version"),
        pl.lit(result.period.label).alias("reporting_period"),
        pl.lit(agency.type).alias("submitting_agency_type"),
        pl.lit(agency.org_code).alias("submitting_org_code"),
        (pl.col("_age") if "_age" in result.rows.columns else pl.lit(None, pl.Int64))
        .cast(pl.Int64)
        .alias("age_at_period_end"),
    ]
    if "home_postcode" in present:
        out.append(postcode_district(pl.col("home_postcode")).alias("home_postcode_district"))
    return out


def _derived(p: Period) -> list[pl.Expr]:
    schema = load_schema()
    age = pl.col("age_at_period_end")
    band = pl.lit(None, dtype=pl.String)
    for label, lo, hi in reversed(AGE_BANDS):
        band = pl.when(age.is_between(lo, hi)).then(pl.lit(label)).otherwise(band)
    start, end = pl.col("episode_start_date"), pl.col("episode_end_date")
    return [
        band.alias("age_band"),
        pl.col("ethnicity")
        .replace_strict(schema.ethnicity_major_groups, default=None, return_dtype=pl.String)
        .alias("ethnicity_major_group"),
        pl.col("local_authority_code")
        .replace_strict(schema.la_dfe_codes, default=None, return_dtype=pl.String)
        .alias("la_dfe_code"),
        pl.lit(p.start).alias("period_start"),
        pl.lit(p.end).alias("period_end"),
        ((start <= pl.lit(p.end)) & (end.is_null() | (end > pl.lit(p.end))))
        .fill_null(False)
        .alias("open_at_period_end"),
        start.is_between(pl.lit(p.start), pl.lit(p.end)).fill_null(False).alias("new_in_period"),
        end.is_between(pl.lit(p.start), pl.lit(p.end)).fill_null(False).alias("closed_in_period"),
        pl.lit(False).alias("cross_agency_known"),
    ]


def _rejected_frame(result: FileResult, rejected: pl.Series) -> pl.DataFrame:
    """One row per rejected source row: the agency's record id, row, codes and messages."""
    rows = pl.DataFrame({"source_row": rejected.cast(pl.Int64)})
    per_row = (
        result.findings.filter(pl.col("source_row").is_not_null())
        .sort("severity", "code")
        .group_by("source_row", maintain_order=True)
        .agg(
            pl.col("record_id").drop_nulls().first(),
            pl.col("code").unique(maintain_order=True).str.join("; ").alias("codes"),
            pl.col("message").str.join(" | ").alias("messages"),
        )
    )
    file_level = result.blocking_errors()
    whole_file = "; ".join(sorted(set(file_level["code"].to_list())))
    out = rows.join(per_row, on="source_row", how="left").with_columns(
        pl.lit(result.mapping.agency.id).alias("agency_id"),
        pl.lit(result.path.name).alias("source_file"),
    )
    if whole_file:
        out = out.with_columns(
            pl.concat_str(
                [pl.lit(whole_file), pl.col("codes")], separator="; ", ignore_nulls=True
            ).alias("codes"),
            pl.col("messages").fill_null("The whole file was rejected (see file-level findings)."),
        )
    return out.select(
        "agency_id", "source_file", "source_row", "record_id", "codes", "messages"
    ).sort("source_row")


def mark_cross_agency(frames: Sequence[pl.DataFrame], others: pl.DataFrame) -> list[pl.DataFrame]:
    """Set ``cross_agency_known`` where a person_key appears for 2+ agency types in the period
    (this run's agencies plus ``others``: person_key/agency type pairs already in the store)."""
    # Lazy throughout: eager steps on these many-chunked frames would copy them to align.
    pairs = (
        pl.concat(
            [f.lazy().select("person_key", "submitting_agency_type") for f in [*frames, others]]
        )
        .drop_nulls()
        .unique()
    )
    multi = pairs.group_by("person_key").len().filter(pl.col("len") >= 2).select("person_key")
    keys = multi.collect()["person_key"].implode()
    return [
        f.lazy()
        .with_columns(pl.col("person_key").is_in(keys).alias("cross_agency_known"))
        .collect()
        for f in frames
    ]


def manifest_entry(files: Sequence[HarmonisedFile], mapping_path: Path | None) -> dict[str, Any]:
    """The agency's manifest entry (docs/store-contract.md) for the files of one run."""
    first = files[0].result
    agency, period = first.mapping.agency, first.period
    codes: Counter[str] = Counter()
    sev: Counter[str] = Counter()
    acknowledged: Counter[str] = Counter()
    for h in files:
        codes.update(h.result.findings["code"].to_list())
        sev.update(h.result.findings["severity"].to_list())
        acknowledged.update(h.result.acknowledged["code"].to_list())
    read = sum(h.result.rows_read for h in files)
    accepted = sum(h.accepted.height for h in files)
    extract = _latest_extract(files)
    return {
        "agency_name": agency.name,
        "agency_type": agency.type,
        "org_code": agency.org_code,
        "mapping": mapping_path.name if mapping_path else "",
        "mapping_sha256": file_sha256(mapping_path) if mapping_path else "",
        "extract_date": extract.isoformat() if extract else None,
        "inputs": [
            {
                "file": h.result.path.name,
                "sha256": h.sha256,
                "rows_read": h.result.rows_read,
                "rows_accepted": h.accepted.height,
                "rows_rejected": h.rejected.height,
            }
            for h in files
        ],
        "rows_read": read,
        "rows_accepted": accepted,
        "rows_rejected": read - accepted,
        "findings_by_code": dict(sorted(codes.items())),
        "findings_by_severity": dict(sorted(sev.items())),
        "acknowledged_by_code": dict(sorted(acknowledged.items())),
        "completeness": _completeness(files),
        "validity": round(100 * accepted / read, 1) if read else None,
        "timeliness_days": (extract - period.end).days if extract else None,
    }


def _latest_extract(files: Sequence[HarmonisedFile]) -> date | None:
    return max((h.latest_extract for h in files if h.latest_extract), default=None)


def _completeness(files: Sequence[HarmonisedFile]) -> dict[str, float]:
    total = sum(h.mapped_rows for h in files)
    if not total:
        return {}
    schema = load_schema()
    required = [f.name for f in schema.mappable_fields if f.required == "Y"]
    out: dict[str, float] = {}
    for name in required:
        filled = sum(h.completeness.get(name, 0.0) * h.mapped_rows for h in files)
        out[name] = round(filled / total, 1)
    return out


def build_partitions(files: Sequence[HarmonisedFile], others: pl.DataFrame) -> list[Partition]:
    """Group this run's files by agency into store partitions, cross-agency flags set."""
    by_agency: dict[str, list[HarmonisedFile]] = {}
    for h in files:
        by_agency.setdefault(h.result.mapping.agency.id, []).append(h)
    ids = sorted(by_agency)
    accepted = mark_cross_agency(
        [pl.concat([h.accepted for h in by_agency[a]]) for a in ids], others
    )
    return [
        Partition(
            agency_id=a,
            frame=frame,
            manifest_entry=manifest_entry(by_agency[a], by_agency[a][0].result.mapping_path),
            rejected=pl.concat([h.rejected for h in by_agency[a]]),
        )
        for a, frame in zip(ids, accepted, strict=True)
    ]


@dataclass(frozen=True)
class HarmoniseOutcome:
    store_root: Path
    period: Period
    files: tuple[HarmonisedFile, ...]

    def summary(self) -> dict[str, Any]:
        return {
            "store": str(self.store_root),
            "period": self.period.label,
            "files": [
                {
                    "file": h.result.path.name,
                    "agency": h.result.mapping.agency.id,
                    "rows_read": h.counts[0],
                    "rows_accepted": h.counts[1],
                    "rows_rejected": h.counts[2],
                    "findings_by_code": h.result.counts_by_code(),
                    "acknowledged_by_code": h.result.acknowledged_by_code(),
                    "notes": list(h.result.notes),
                }
                for h in self.files
            ],
        }


def run_harmonise(
    paths: Sequence[Path],
    *,
    period: Period,
    store_root: Path,
    mapping_path: Path | None,
    mappings_dir: Path,
    key: bytes,
    key_fingerprint: str | None,
    today: date,
    generated_at: datetime,
    thresholds: Thresholds | None = None,
) -> HarmoniseOutcome:
    """Check every file, build each agency's partition and write them all-or-nothing.

    Before writing, each agency's return is compared with its previous quarter in the store
    and its acknowledgements applied (tce_cli.cycle.review).
    """
    from tce_cli.cycle.review import previous_in, review_harmonised
    from tce_cli.pipeline import check_file, mapping_chooser
    from tce_cli.report.headlines import summarise

    harmonised = []
    choose = mapping_chooser(mapping_path, mappings_dir)
    for path in paths:
        chosen_path, mapping = choose(path)
        result = check_file(
            path, mapping=mapping, mapping_path=chosen_path, period=period, today=today
        )
        harmonised.append(harmonise_file(result, key=key))
    harmonised = review_harmonised(
        harmonised,
        previous=previous_in(store_root, key_fingerprint),
        acks_fallback=mappings_dir,
        thresholds=thresholds or Thresholds(),
    )
    store = Store(store_root)
    run_agencies = {h.result.mapping.agency.id for h in harmonised}
    with store.lock():  # re-entrant: other agencies are read and the run written under one lock
        others = _other_agencies(store, period, run_agencies)
        partitions = build_partitions(harmonised, others)
        store.write_run(
            period,
            partitions,
            generated_at=generated_at,
            key_fingerprint=key_fingerprint,
            summarise=summarise,
        )
    return HarmoniseOutcome(store_root, period, tuple(harmonised))


def _other_agencies(store: Store, period: Period, skip: set[str]) -> pl.DataFrame:
    """person_key / agency type pairs already stored for ``period`` by other agencies."""
    empty = pl.DataFrame(schema={"person_key": pl.String, "submitting_agency_type": pl.String})
    others = [a for a in store.agencies(period) if a not in skip]
    if period not in store.periods() or not others:
        return empty
    return (
        store.scan(period, agencies=others)  # this run's own partitions are replaced unread
        .select("person_key", "submitting_agency_type")
        .collect()
    )


def run_from_pseudonymised(
    paths: Sequence[Path],
    *,
    period: Period,
    store_root: Path,
    key_fingerprint: str | None,
    generated_at: datetime,
) -> list[Partition]:
    """Load Parquet files an agency exported from its own store (``tce export --format
    parquet``) into this store: no identifiers or key needed, only the same key fingerprint.

    The file's embedded provenance must match the period and (when given, else the store's)
    key fingerprint; its rows must meet the store contract (person_key 64 hex, no personal
    fields). Each agency in the file replaces its partition for the period.
    """
    import json

    from tce_cli.errors import InputFileError
    from tce_cli.export import PROVENANCE_KEY
    from tce_cli.report.headlines import summarise

    store = Store(store_root)
    frames: list[pl.DataFrame] = []
    entries: dict[str, dict[str, Any]] = {}
    fingerprints: set[str | None] = set()
    for path in paths:
        not_export = InputFileError(
            f"'{path.name}' is not a pseudonymised export made by 'tce export'.",
            hint="Ask the agency for 'tce export --period P --format parquet' output.",
        )
        try:
            meta = json.loads(pl.read_parquet_metadata(path)[PROVENANCE_KEY])
            frame = pl.read_parquet(path)
        except (KeyError, ValueError, OSError, pl.exceptions.PolarsError):
            raise not_export from None
        if not isinstance(meta, dict):
            raise not_export
        frame = _loaded_frame(path, frame)
        if meta.get("period") != period.label or not meta.get("pseudonymised"):
            raise InputFileError(
                f"'{path.name}' holds {meta.get('period')} "
                f"{'pseudonymised' if meta.get('pseudonymised') else 'NOT pseudonymised'} data; "
                f"this run is for {period.label} and needs pseudonymised data.",
                hint="Check --period, and that the agency ran harmonise with the shared key.",
            )
        fingerprint = meta.get("key_fingerprint")
        fingerprints.add(fingerprint if isinstance(fingerprint, str) else None)
        frames.append(frame)
        entries |= _loaded_entries(meta.get("manifest"))
    marker = store.marker()
    expected = key_fingerprint or (marker.key_fingerprint if marker else None)
    found = fingerprints.pop() if len(fingerprints) == 1 else None
    if found is None or (expected is not None and found != expected):
        raise InputFileError(
            "The files were pseudonymised with a different key from this store's "
            f"({found or 'several keys'} vs {expected}).",
            hint="Every agency must use the partnership's one key (check its fingerprint).",
        )
    combined = pl.concat(frames, how="diagonal_relaxed")
    ids = sorted(set(combined["agency_id"].to_list()))
    with store.lock():
        others = _other_agencies(store, period, set(ids))
        accepted = mark_cross_agency(
            [combined.filter(pl.col("agency_id") == a) for a in ids], others
        )
        parts = [
            Partition(a, frame, _loaded_entry(entries.get(a), frame), _NO_REJECTED)
            for a, frame in zip(ids, accepted, strict=True)
        ]
        store.write_run(
            period, parts, generated_at=generated_at, key_fingerprint=found, summarise=summarise
        )
    return parts


def _loaded_frame(path: Path, frame: pl.DataFrame) -> pl.DataFrame:
    """Check a file from another agency against the store contract before anything else.

    Raises:
        InputFileError: it breaks the contract (personal fields, unhashed keys, wrong
            columns) or has rows without an agency id.
    """
    from tce_cli.errors import InputFileError
    from tce_cli.store import AGENCY_ID_PATTERN, conform_frame

    hint = "Ask the agency to re-export with 'tce export --period P --format parquet'."
    try:
        conformed = conform_frame(frame)
    except StoreError as exc:
        raise InputFileError(f"'{path.name}' is not a valid tce export: {exc}", hint=hint) from None
    ids = conformed["agency_id"]
    if ids.null_count() or not ids.str.contains(AGENCY_ID_PATTERN).all():
        raise InputFileError(
            f"'{path.name}' has rows without a valid agency_id (lower-case letters, digits "
            "and hyphens).",
            hint=hint,
        )
    return conformed


def _loaded_entries(manifest: Any) -> dict[str, dict[str, Any]]:
    """The agencies' manifest entries embedded in an export (malformed ones are dropped)."""
    agencies = manifest.get("agencies") if isinstance(manifest, dict) else None
    if not isinstance(agencies, dict):
        return {}
    return {str(k): v for k, v in agencies.items() if isinstance(v, dict)}


_NO_REJECTED = pl.DataFrame(
    schema={
        "agency_id": pl.String,
        "source_file": pl.String,
        "source_row": pl.Int64,
        "record_id": pl.String,
        "codes": pl.String,
        "messages": pl.String,
    }
)


def _loaded_entry(entry: dict[str, Any] | None, frame: pl.DataFrame) -> dict[str, Any]:
    """The agency's own manifest entry, with rows as loaded here (its rejected rows stay with
    the agency, which fixes and resubmits them)."""
    base = dict(entry or {})
    n = frame.height
    return {
        "agency_name": base.get("agency_name", frame["agency_id"][0]),
        "agency_type": base.get("agency_type", frame["submitting_agency_type"][0]),
        "org_code": base.get("org_code", frame["submitting_org_code"][0]),
        "mapping": base.get("mapping", ""),
        "mapping_sha256": base.get("mapping_sha256", ""),
        "extract_date": base.get("extract_date"),
        "inputs": [
            {
                "file": f"pseudonymised export ({base.get('rows_rejected', 0)} rows "
                "rejected at the agency)",
                "sha256": "",
                "rows_read": n,
                "rows_accepted": n,
                "rows_rejected": 0,
            }
        ],
        "rows_read": n,
        "rows_accepted": n,
        "rows_rejected": 0,
        "findings_by_code": base.get("findings_by_code", {}),
        "findings_by_severity": base.get("findings_by_severity", {}),
        "acknowledged_by_code": base.get("acknowledged_by_code", {}),
        "completeness": base.get("completeness", {}),
        "validity": base.get("validity"),
        "timeliness_days": base.get("timeliness_days"),
    }
