"""All checks on one agency file, computed in one pass into one findings frame.

Row rules are Polars expressions evaluated together over the mapped frame; file rules are
computed from the reader's structure report and column statistics. Nothing is capped.
"""

from __future__ import annotations

import polars as pl

from tce_cli.checks.file import FileFinding, columns, completeness, structure
from tce_cli.checks.rows import RowCheck, RowContext, row_checks
from tce_cli.findings import FINDING_COLUMNS, RULES, empty_findings, findings_schema
from tce_cli.mapping import Mapping
from tce_cli.periods import Period
from tce_cli.read import ReadInfo
from tce_cli.schema import load_schema
from tce_cli.transform import ROW, Resolution, raw

__all__ = ["run_checks", "RowCheck", "FileFinding"]


def run_checks(
    mapped: pl.DataFrame,
    *,
    info: ReadInfo,
    mapping: Mapping,
    resolution: Resolution,
    period: Period,
    source_file: str,
) -> pl.DataFrame:
    """Every finding for one file: row rules over ``mapped`` (blank rows already removed)
    plus file-level rules. Columns as in ``findings.FINDING_COLUMNS``."""
    schema = load_schema()
    ctx = RowContext(
        schema=schema,
        mapping=mapping,
        period=period,
        present=frozenset(resolution.columns),
        columns={
            name: (cols[0] if len(cols) == 1 else "flag columns") if cols else "constant"
            for name, cols in resolution.columns.items()
        },
    )
    parts = [_row_findings(mapped, row_checks(ctx), ctx)]
    file_findings = [
        *structure(info, {c: f for f, cols in resolution.columns.items() for c in cols}),
        *columns(mapping, resolution, schema, info.header_row),
        *completeness(mapped, mapping, resolution, schema, period),
    ]
    parts.append(_file_frame(file_findings))
    found = (
        pl.concat([p for p in parts if p.height], how="vertical")
        if any(p.height for p in parts)
        else empty_findings()
    )
    return _decorate(found, mapping.agency.id, source_file)


def _row_findings(mapped: pl.DataFrame, checks: list[RowCheck], ctx: RowContext) -> pl.DataFrame:
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
