"""All checks on one agency file, computed in one pass into one findings frame.

Row rules are Polars expressions evaluated together over the mapped frame; file rules are
computed from the reader's structure report and column statistics. Nothing is capped.
"""

from __future__ import annotations

import polars as pl

from tce_cli.checks.file import (
    FileFinding,
    Tally,
    add_tallies,
    columns,
    completeness,
    structure,
    tally,
)
from tce_cli.checks.rows import (
    CROSS_ROW_CODES,
    RowCheck,
    RowContext,
    repeat_keys,
    row_checks,
    with_repeats,
)
from tce_cli.findings import FINDING_COLUMNS, RULES, empty_findings, findings_schema
from tce_cli.mapping import Mapping
from tce_cli.periods import Period
from tce_cli.read import ReadInfo
from tce_cli.schema import load_schema
from tce_cli.transform import ROW, Resolution, raw

__all__ = [
    "CROSS_ROW_CODES",
    "FileFinding",
    "RowCheck",
    "Tally",
    "add_tallies",
    "cross_row_columns",
    "cross_row_findings",
    "one_row",
    "file_findings",
    "finish",
    "row_checks",
    "row_context",
    "row_findings",
    "run_checks",
    "tally",
]


def run_checks(
    mapped: pl.DataFrame,
    *,
    info: ReadInfo,
    mapping: Mapping,
    resolution: Resolution,
    period: Period,
    source_file: str,
    counts: Tally | None = None,
) -> pl.DataFrame:
    """Every finding for one file: row rules over ``mapped`` (blank rows already removed)
    plus file-level rules. Columns as in ``findings.FINDING_COLUMNS``. ``counts``: the
    tally of ``mapped``, if already taken."""
    ctx = row_context(mapping, resolution, period)
    counts = counts if counts is not None else tally(mapped, resolution)
    checks = row_checks(ctx)
    parts = [
        row_findings(mapped, one_row(checks), ctx),
        cross_row_findings(mapped.select(cross_row_columns(ctx)), checks, ctx),
        file_findings(info, mapping, resolution, period, counts),
    ]
    return finish(parts, mapping.agency.id, source_file)


def row_context(mapping: Mapping, resolution: Resolution, period: Period) -> RowContext:
    return RowContext(
        schema=load_schema(),
        mapping=mapping,
        period=period,
        present=frozenset(resolution.columns),
        columns={
            name: (cols[0] if len(cols) == 1 else "flag columns") if cols else "constant"
            for name, cols in resolution.columns.items()
        },
    )


def one_row(checks: list[RowCheck]) -> list[RowCheck]:
    """The rules that look at one row at a time (they can run on any part of a file)."""
    return [c for c in checks if c.code not in CROSS_ROW_CODES]


def cross_row_columns(ctx: RowContext) -> list[str]:
    """The mapped columns the rules comparing rows read (see ``cross_row_findings``)."""
    names = {ROW, *([raw("record_id")] if ctx.has("record_id") else [])}
    for key, counts in repeat_keys(ctx).values():
        for expr in (*key, counts):
            names.update(expr.meta.root_names())
    return sorted(names)


def cross_row_findings(
    frame: pl.DataFrame, checks: list[RowCheck], ctx: RowContext
) -> pl.DataFrame:
    """The findings of the rules among ``checks`` that compare rows, over ``frame``: every
    data row of the file, with the ``cross_row_columns``."""
    cross = [c for c in checks if c.code in CROSS_ROW_CODES]
    if not cross or frame.height == 0:
        return row_findings(frame, [], ctx)
    return row_findings(with_repeats(frame, ctx), cross, ctx)


def file_findings(
    info: ReadInfo, mapping: Mapping, resolution: Resolution, period: Period, counts: Tally
) -> pl.DataFrame:
    """The file-level findings: structure, columns, completeness and timeliness."""
    schema = load_schema()
    found = [
        *structure(info, {c: f for f, cols in resolution.columns.items() for c in cols}),
        *columns(mapping, resolution, schema, info.header_row),
        *completeness(counts, mapping, resolution, schema, period),
    ]
    return _file_frame(found)


def finish(parts: list[pl.DataFrame], agency: str, source_file: str) -> pl.DataFrame:
    """Row and file findings together, with agency, file, severity and hint."""
    found = (
        pl.concat([p for p in parts if p.height], how="vertical")
        if any(p.height for p in parts)
        else empty_findings()
    )
    return _decorate(found, agency, source_file)


def row_findings(mapped: pl.DataFrame, checks: list[RowCheck], ctx: RowContext) -> pl.DataFrame:
    """The findings of row rules ``checks`` over ``mapped`` (source_row .. message)."""
    columns = ("source_row", "record_id", "field", "code", "message")
    if not checks or mapped.height == 0:
        return empty_findings().select(columns)
    record_id = pl.col(raw("record_id")) if ctx.has("record_id") else pl.lit(None, pl.String)
    # One lazy branch per rule, run as one query: each branch reads only the columns its rule
    # needs and builds messages only for the rows that fail. Eager operations on the mapped
    # frame would first re-align its columns' chunks, copying the whole frame every time.
    lf = mapped.lazy()
    frames = [
        lf.filter(check.fails.fill_null(False)).select(
            pl.col(ROW).cast(pl.Int64).alias("source_row"),
            record_id.alias("record_id"),
            pl.lit(check.field, dtype=pl.String).alias("field"),
            pl.lit(check.code.value, dtype=pl.String).alias("code"),
            check.message.cast(pl.String).alias("message"),
        )
        for check in checks
    ]
    # In-memory engine: Polars 2.1's streaming engine panics on some of these branches
    # (a filter followed by pl.format over the integer counts of the rhi-counts-order rule).
    return pl.concat(frames, how="vertical").collect(engine="in-memory")


def _file_frame(found: list[FileFinding]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source_row": [f.source_row for f in found],
            "record_id": [None] * len(found),
            "field": [f.field for f in found],
            "code": [f.code.value for f in found],
            "message": [f.message for f in found],
        },
        schema={
            k: findings_schema()[k] for k in ("source_row", "record_id", "field", "code", "message")
        },
    )


def _decorate(found: pl.DataFrame, agency: str, source_file: str) -> pl.DataFrame:
    severity = {r.code.value: r.severity.value for r in RULES.values()}
    hints = {r.code.value: r.hint for r in RULES.values()}
    return found.with_columns(
        pl.lit(agency).alias("agency"),
        pl.lit(source_file).alias("source_file"),
        pl.col("code").replace_strict(severity, return_dtype=pl.String).alias("severity"),
        pl.col("code").replace_strict(hints, return_dtype=pl.String).alias("hint"),
    ).select(FINDING_COLUMNS)
