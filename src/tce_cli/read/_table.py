"""Turn a grid of raw cells into a table: find the header, name the columns, number the rows."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from tce_cli.errors import InputFileError
from tce_cli.read._model import ROW_COLUMN, Grid

HEADER_SCAN_ROWS = 50
# Numbers, dates, times and amounts: cells like these are data, not column names.
_NUMERIC = re.compile(r"^[\d\s.,:/%£$€+\-]+$")


@dataclass(frozen=True)
class Layout:
    """The table found in a grid: its frame and what ReadInfo reports about it."""

    frame: pl.DataFrame
    header_row: int
    columns: tuple[str, ...]
    original_headers: tuple[str, ...]
    duplicate_headers: tuple[str, ...]
    blank_headers: tuple[int, ...]
    ragged_rows: tuple[tuple[int, int], ...]
    blank_rows: tuple[int, ...]


def build_layout(grid: Grid, *, name: str, header_row: int | None) -> Layout:
    """Find the header in ``grid`` (or use ``header_row``) and build the data frame.

    Cells are stripped of surrounding whitespace and empty cells become null. Trailing blank
    rows are dropped; blank rows inside the data stay, and are listed.

    Raises:
        InputFileError: every cell is empty, or ``header_row`` is past the last row with data.
    """
    clean = grid.frame
    if not grid.stripped:
        clean = clean.with_columns(pl.exclude(ROW_COLUMN).str.strip_chars().replace("", None))
    cells = clean.drop(ROW_COLUMN, strict=False)
    filled = cells.select(pl.any_horizontal(pl.all().is_not_null())).to_series().arg_true()
    if filled.len() == 0:
        raise InputFileError(
            f"{name} has no data: every cell is empty.",
            hint="Check you exported the right file (or sheet) and that it has data.",
        )
    last = int(filled[-1])
    h = _header_index(cells, name, header_row, last)
    data = clean.slice(h + 1, last - h)
    body = data.drop(ROW_COLUMN, strict=False)
    width = _header_width(grid, cells, body, h)
    has_data = body.select(pl.all().is_not_null().any()).row(0) if body.height else ()
    names, keep = column_names(cells.row(h), has_data, body.width, width)
    rows = pl.col(ROW_COLUMN) if ROW_COLUMN in data.columns else _numbers(h + 2, data.height)
    frame = data.select(rows, *(pl.col(f"c{i}").alias(n) for i, n in zip(keep, names, strict=True)))
    # One chunk layout for all columns: frames whose columns are chunked differently (a
    # reader's many chunks next to a one-chunk _row) crash some Polars 2.1 streaming queries.
    if len({s.n_chunks() for s in frame.iter_columns()}) > 1:
        frame = frame.rechunk()
    blank = frame.filter(pl.all_horizontal(pl.exclude(ROW_COLUMN).is_null()))[ROW_COLUMN]
    written = grid.head if grid.head is not None and h < grid.head.height else grid.frame
    raw = written.drop(ROW_COLUMN, strict=False).row(h)[:width]
    headers = cells.row(h)[:width]
    return Layout(
        frame=frame,
        header_row=h + 1,
        columns=tuple(names),
        original_headers=tuple(v or "" for v in raw),
        duplicate_headers=_duplicates(headers),
        blank_headers=tuple(i + 1 for i, v in enumerate(headers) if v is None),
        ragged_rows=_ragged(grid, frame, h, width, blank),
        blank_rows=tuple(blank.to_list()),
    )


def _numbers(first: int, n: int) -> pl.Expr:
    return pl.int_range(first, first + n, dtype=pl.Int64).alias(ROW_COLUMN)


def _header_index(clean: pl.DataFrame, name: str, header_row: int | None, last: int) -> int:
    if header_row is None:
        return detect_header(clean.head(min(HEADER_SCAN_ROWS, last + 1)).rows())
    if header_row - 1 > last:
        raise InputFileError(
            f"Header row {header_row} is past the last row with data in {name} (row {last + 1}).",
            hint="Give the row number Excel shows for the header, or leave it out to detect it.",
        )
    return header_row - 1


def detect_header(rows: Sequence[Sequence[str | None]]) -> int:
    """Return the 0-based index of the header among the first rows of a table.

    Title rows ("Report run on ...", blank lines) are skipped: the header is the first row
    whose count of non-empty cells is close to the table's typical width (at least 60% of
    the median over rows with two or more cells) and whose cells are mostly distinct text
    (at least 60% distinct values that are not numbers or dates). If no row looks like
    text, the first wide row is used.
    """
    filled = [[v for v in row if v is not None] for row in rows]
    wide_counts = [len(f) for f in filled if len(f) >= 2]
    typical = statistics.median_high(wide_counts) if wide_counts else 1
    need = max(2, math.ceil(0.6 * typical)) if typical >= 2 else 1
    wide = [i for i, f in enumerate(filled) if len(f) >= need]
    if not wide:
        return 0
    return next((i for i in wide if _looks_like_header(filled[i])), wide[0])


def _looks_like_header(values: list[str]) -> bool:
    texts = {v.casefold() for v in values if not _NUMERIC.match(v)}
    return len(texts) >= 0.6 * len(values)


def _header_width(grid: Grid, clean: pl.DataFrame, data: pl.DataFrame, h: int) -> int:
    """Count the header's cells: its record's cell count (CSV), else up to the last used column."""
    if grid.cells is not None:
        return int(grid.cells[h])
    used = data.select(pl.all().is_not_null().any()).row(0) if data.height else ()
    header = clean.row(h)
    marks = [i for i, v in enumerate(header) if v is not None]
    marks += [i for i, hit in enumerate(used) if hit]
    return max(marks) + 1


def column_names(
    header: Sequence[str | None], has_data: Sequence[bool], columns: int, width: int
) -> tuple[list[str], list[int]]:
    """Name each kept column of ``columns``; keep blank-header and extra columns only if they
    hold data (``has_data``, by position; none if empty). ``width``: the header's cells."""
    names: list[str] = []
    keep: list[int] = []
    taken = {ROW_COLUMN}
    for i in range(columns):
        text = header[i] if i < width else None
        if text is None and not (i < len(has_data) and has_data[i]):
            continue
        base = text or f"({'blank' if i < width else 'extra'} column {i + 1})"
        names.append(_unique(base, taken))
        keep.append(i)
    return names, keep


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base} ({n})"
    taken.add(name)
    return name


def _duplicates(headers: Sequence[str | None]) -> tuple[str, ...]:
    counts = Counter(v for v in headers if v is not None)
    return tuple(v for v in counts if counts[v] > 1)


def _ragged(
    grid: Grid, frame: pl.DataFrame, h: int, width: int, blank: pl.Series
) -> tuple[tuple[int, int], ...]:
    """List (row, cells) for non-blank data rows whose cell count differs from the header's."""
    if grid.cells is None:
        return ()
    cells = grid.cells.slice(h + 1, frame.height).alias("cells")
    odd = (
        frame.select(ROW_COLUMN)
        .with_columns(cells)
        .filter((pl.col("cells") != width) & ~pl.col(ROW_COLUMN).is_in(blank.implode()))
    )
    return tuple((int(r), int(c)) for r, c in odd.iter_rows())
