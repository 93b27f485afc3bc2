"""File-level checks: structure (from the reader), columns, completeness and timeliness.

These give one finding per file (or per column / per row for structure), with the header row
as the source row where a column is concerned.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from tce_cli.findings import FindingCode as C
from tce_cli.mapping import Mapping
from tce_cli.periods import Period, add_working_days
from tce_cli.read import ReadInfo
from tce_cli.schema import IDENTIFIER_PRIORITY, FieldType, Schema
from tce_cli.transform import Resolution, raw


@dataclass(frozen=True)
class FileFinding:
    code: C
    field: str | None
    message: str
    source_row: int | None = None


def structure(info: ReadInfo, read_by: dict[str, str]) -> Iterator[FileFinding]:
    """Problems the reader saw: headers, ragged and blank rows, no data.

    ``read_by`` maps a source column to the framework field read from it: a duplicated header
    that a field reads is attributed to that field (and blocks the file at harmonise).
    """
    for name in info.duplicate_headers:
        yield FileFinding(
            C.DUPLICATE_HEADER,
            read_by.get(name),
            f"The header '{name}' appears more than once.",
            info.header_row,
        )
    for position in info.blank_headers:
        yield FileFinding(
            C.BLANK_HEADER, None, f"Column {position} has no header.", info.header_row
        )
    for row, cells in info.ragged_rows:
        yield FileFinding(
            C.RAGGED_ROW,
            None,
            f"Row has {cells} cells; the header has {len(info.original_headers)}.",
            row,
        )
    for row in info.blank_rows:
        yield FileFinding(C.BLANK_ROW, None, "Row is blank and was skipped.", row)
    if info.n_rows - len(info.blank_rows) == 0:
        yield FileFinding(C.NO_ROWS, None, "The file has a header but no data rows.")


def columns(
    mapping: Mapping, resolution: Resolution, schema: Schema, header_row: int
) -> Iterator[FileFinding]:
    """Required fields unmapped, mapped columns not found, file columns left unmapped."""
    for name, expected in resolution.missing.items():
        wanted = " / ".join(f"'{c}'" for c in expected)
        yield FileFinding(
            C.MISSING_COLUMN,
            name,
            f"Column {wanted} for {schema.field(name).label} is not in the file.",
            header_row,
        )
    for f in schema.mappable_fields:
        if f.required == "Y" and f.name not in mapping.fields:
            yield FileFinding(
                C.MISSING_COLUMN, f.name, f"Required field {f.label} is not mapped.", header_row
            )
    if not any(f in mapping.fields for f, _ in IDENTIFIER_PRIORITY):
        yield FileFinding(
            C.MISSING_COLUMN,
            "person_key",
            "No identifier (NHS number, UPN, LA child id, agency id) is mapped.",
            header_row,
        )
    for column in resolution.unmapped:
        yield FileFinding(
            C.UNMAPPED_COLUMN,
            None,
            f"Column '{column}' is not mapped and not in the ignore list.",
            header_row,
        )


Tally = dict[str, Any]
"""Counts over a file's mapped rows that the file-level checks need (see ``tally``)."""

N = "_n"
EXTRACT = "_extract"


def tally(mapped: pl.DataFrame, resolution: Resolution) -> Tally:
    """Counts over ``mapped``: rows, filled cells per mapped field, unknown ethnicities and
    sexes, and the latest extract date. Tallies of pieces of a file add up (``add_tallies``)
    to the tally of the whole file."""
    exprs = [
        pl.len().alias(N),
        *[pl.col(raw(f)).is_not_null().sum().alias(f) for f in resolution.columns],
        *_share("ethnicity", ["NOBT", "REFU"], resolution),
        *_share("sex", ["U"], resolution),
        *(
            [pl.col("extract_date").max().alias(EXTRACT)]
            if "extract_date" in resolution.columns
            else []
        ),
    ]
    # lazy: an eager select would first copy the frame to align its chunks
    return mapped.lazy().select(*exprs).collect().row(0, named=True)


def add_tallies(tallies: list[Tally]) -> Tally:
    """The tally of the rows of all ``tallies`` together."""
    out: Tally = {}
    for t in tallies:
        for k, v in t.items():
            if k == EXTRACT:
                out[k] = max((x for x in (out.get(k), v) if x is not None), default=None)
            else:
                out[k] = out.get(k, 0) + v
    return out


def filled_percent(counts: Tally, names: list[str]) -> dict[str, float]:
    """% of rows with each of ``names`` filled in, to one decimal place."""
    n = counts[N]
    if n == 0 or not names:
        return {name: 0.0 for name in names}
    rounded = pl.Series([100 * (counts[name] / n) for name in names], dtype=pl.Float64).round(1)
    return {name: float(v) for name, v in zip(names, rounded, strict=True)}


def completeness(
    counts: Tally, mapping: Mapping, resolution: Resolution, schema: Schema, period: Period
) -> Iterator[FileFinding]:
    """Fill rates below threshold; too many unknown ethnicities or sexes; late extract."""
    n = counts[N]
    if n == 0 or not resolution.columns:  # no rows, or no mapped column found
        return
    stats = {k: (v / n if k not in (N, EXTRACT) else v) for k, v in counts.items()}
    for name in resolution.columns:
        f = schema.field(name)
        threshold = mapping.options.completeness.get(name, f.completeness)
        rate = 100 * (stats[name] or 0.0)
        if threshold is not None and f.type is not FieldType.BOOLEAN and rate < threshold:
            yield FileFinding(
                C.LOW_COMPLETENESS,
                name,
                f"{f.label} is filled in for {rate:.1f}% of rows "
                f"(the framework expects at least {threshold:g}%).",
            )
    if (stats.get("_share_ethnicity") or 0) > 0.05:
        yield FileFinding(
            C.ETHNICITY_NOT_OBTAINED,
            "ethnicity",
            f"Ethnicity is refused or not obtained for "
            f"{100 * stats['_share_ethnicity']:.1f}% of rows (over 5%).",
        )
    if (stats.get("_share_sex") or 0) > 0.02:
        yield FileFinding(
            C.SEX_UNKNOWN,
            "sex",
            f"Sex is unknown for {100 * stats['_share_sex']:.1f}% of rows (over 2%).",
        )
    extract = stats.get(EXTRACT)
    deadline = add_working_days(period.end, mapping.options.extract_lag_working_days)
    if extract is not None and extract > deadline:
        yield FileFinding(
            C.EXTRACT_LATE,
            "extract_date",
            f"Extracted {extract:%d/%m/%Y}, after the deadline {deadline:%d/%m/%Y} "
            f"({mapping.options.extract_lag_working_days} working days after "
            f"{period.label} ended).",
        )


def _share(name: str, codes: list[str], resolution: Resolution) -> list[pl.Expr]:
    if name not in resolution.columns:
        return []
    return [pl.col(name).is_in(codes).fill_null(False).sum().alias(f"_share_{name}")]
