"""Summarise a table read from a file: what was detected, and how full each column is."""

from __future__ import annotations

from typing import Any

import polars as pl

from tce_cli.read._model import ROW_COLUMN, RawTable

MAX_LISTED_VALUES = 12


def profile_table(table: RawTable, *, sheets: list[str] | None = None) -> dict[str, Any]:
    """Describe ``table`` as plain data (JSON-ready): detection results and column profiles.

    Each column gets its count of filled cells, fill percentage and count of distinct
    values; columns with at most 12 distinct values also list them with their counts
    (most common first).

    Args:
        table: the table read by ``read_table``.
        sheets: the workbook's sheet names, when the file is a workbook.
    """
    info = table.info
    return {
        "file": str(info.path),
        "format": info.format,
        "encoding": info.encoding,
        "delimiter": info.delimiter,
        "line_endings": info.line_endings,
        "sheet": info.sheet,
        "sheets": sheets,
        "header_row": info.header_row,
        "n_rows": info.n_rows,
        "original_headers": list(info.original_headers),
        "duplicate_headers": list(info.duplicate_headers),
        "blank_headers": list(info.blank_headers),
        "blank_rows": list(info.blank_rows),
        "ragged_rows": [{"row": row, "cells": cells} for row, cells in info.ragged_rows],
        "columns": _columns(table.frame),
    }


def _columns(frame: pl.DataFrame) -> list[dict[str, Any]]:
    names = [c for c in frame.columns if c != ROW_COLUMN]
    if not names:
        return []
    filled = frame.select(pl.col(names).count()).row(0)
    distinct = frame.select(pl.col(names).drop_nulls().n_unique()).row(0)
    out = []
    for name, n_filled, n_distinct in zip(names, filled, distinct, strict=True):
        out.append(
            {
                "name": name,
                "filled": n_filled,
                "fill_pct": round(100 * n_filled / frame.height, 1) if frame.height else 0.0,
                "distinct": n_distinct,
                "values": _values(frame[name]) if n_distinct <= MAX_LISTED_VALUES else None,
            }
        )
    return out


def _values(series: pl.Series) -> list[dict[str, Any]]:
    counts = series.drop_nulls().value_counts(name="count")
    ordered = counts.sort(["count", series.name], descending=[True, False])
    return [{"value": v, "count": n} for v, n in ordered.iter_rows()]
