"""What a mapping does to a sample export (``tce mapping check MAPPING --sample FILE``): the
share of rows each field fills, the values it does not recode, dates and counts it cannot read.

The sample is read and mapped by the same code as ``tce validate`` (pipeline's reader,
transform.resolve and transform.apply_mapping); code values are recoded by transform's own
expressions, so what is reported here is exactly what validation will see.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from tce_cli.draft.model import shown
from tce_cli.mapping import FieldSpec, Mapping
from tce_cli.periods import Period
from tce_cli.schema import FieldType, load_schema
from tce_cli.transform import INVALID, ROW, apply_mapping, field_exprs, raw, resolve


def sample_coverage(mapping: Mapping, sample: Path, *, period: Period) -> dict[str, Any]:
    """Map ``sample`` with ``mapping`` and say how well each field is filled and recoded.

    Raises:
        InputFileError: the sample cannot be read.
    """
    from tce_cli.pipeline import _read

    table = _read(sample, mapping, sheet=None, encoding=None)
    info = table.info
    resolution = resolve(mapping, list(info.columns))
    blank = pl.Series(ROW, info.blank_rows, dtype=pl.Int64)
    frame = table.frame.lazy().filter(~pl.col(ROW).is_in(blank.implode()))
    mapped = apply_mapping(frame, mapping, resolution, period).collect()
    schema = load_schema()
    fields = []
    for name in schema.field_names:
        if name not in resolution.columns:
            continue
        spec = mapping.fields[name]
        fields.append(_field(name, spec, resolution.columns[name], mapped, schema.field(name).type))
    return {
        "sample": sample.name,
        "mapping": mapping.agency.id,
        "header_row": info.header_row,
        "rows": mapped.height,
        "fields": fields,
        "missing_columns": {k: list(v) for k, v in resolution.missing.items()},
        "unmapped_columns": list(resolution.unmapped),
    }


def _field(
    name: str, spec: FieldSpec, cols: tuple[str, ...], mapped: pl.DataFrame, ftype: FieldType
) -> dict[str, Any]:
    filled = mapped.select(pl.col(raw(name)).is_not_null().mean()).item() if mapped.height else 0
    out: dict[str, Any] = {
        "field": name,
        "columns": list(cols),
        "filled_share": round(float(filled or 0), 4),
    }
    if ftype in (FieldType.CODE, FieldType.CODE_LIST) and not spec.flags and cols:
        out["not_recoded"] = _not_recoded(name, spec, mapped)
    elif ftype in (FieldType.DATE, FieldType.INTEGER):
        unread = mapped.select((pl.col(raw(name)).is_not_null() & pl.col(name).is_null()).sum())
        out["unreadable"] = int(unread.item())
    return out


def _not_recoded(name: str, spec: FieldSpec, mapped: pl.DataFrame) -> list[dict[str, Any]]:
    """Distinct values (pieces, for split fields) the mapping leaves unrecoded, with rows."""
    text = mapped.get_column(raw(name)).drop_nulls()
    if spec.split is not None:
        text = text.str.split(spec.split).explode().str.strip_chars()
    text = text.filter(text.is_not_null() & (text != ""))
    counts = text.value_counts(name="rows").rename({text.name: raw(name)})
    single = spec.model_copy(update={"split": None, "take": None, "default": None})
    recoded = counts.with_columns(field_exprs(name, single, (), load_schema()))
    value = pl.col(name)
    bad = value.list.contains(INVALID) if recoded.schema[name] == pl.List else value == INVALID
    rows = recoded.filter(bad).sort(["rows", raw(name)], descending=[True, False])
    return [
        {"value": shown(v), "rows": int(n)} for v, n in rows.select(raw(name), "rows").iter_rows()
    ]
