"""The values the readers return: a frame of text cells plus what was detected about the file."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

Format = Literal["csv", "xlsx"]

ROW_COLUMN = "_row"
"""Name of the column holding each row's source row number, as Excel shows it."""


@dataclass(frozen=True)
class ReadInfo:
    """What the reader detected about one file.

    Row numbers are 1-based and count rows as Excel shows them: a CSV record with a quoted
    line break is one row. Column positions are 1-based within the table read.
    """

    path: Path
    format: Format
    encoding: str | None
    delimiter: str | None
    line_endings: str | None
    sheet: str | None
    header_row: int
    columns: tuple[str, ...]
    original_headers: tuple[str, ...]
    duplicate_headers: tuple[str, ...]
    blank_headers: tuple[int, ...]
    ragged_rows: tuple[tuple[int, int], ...]
    blank_rows: tuple[int, ...]
    n_rows: int


@dataclass(frozen=True)
class RawTable:
    """A file read as text: every data column is ``pl.String``, plus ``_row`` (``pl.Int64``)."""

    frame: pl.DataFrame
    info: ReadInfo


@dataclass(frozen=True)
class Grid:
    """Every row of a file as raw text cells, before the header is chosen.

    ``frame`` has columns ``c0..cN`` (``pl.String``), one row per source row starting at
    row 1; a CSV grid also has ``_row`` (the record number) and is already ``stripped``
    (cells trimmed, empty -> null), with ``head`` holding its first rows as written.
    ``cells`` holds each row's cell count (CSV only: it tells a short row from one with
    empty trailing cells). ``breaks`` counts the line breaks inside values (CSV with mixed
    line endings only).
    """

    frame: pl.DataFrame
    cells: pl.Series | None
    stripped: bool = False
    head: pl.DataFrame | None = None
    breaks: dict[str, int] | None = None

    def with_cells(self, cells: pl.Series) -> Grid:
        return dataclasses.replace(self, cells=cells)
