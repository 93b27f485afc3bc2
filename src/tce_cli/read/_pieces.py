"""Read a large CSV file a piece at a time, for work that needs only one piece's rows at once.

``tce validate`` (without a store to compare with) checks each row on its own, bar two rules
that need a few columns of every row, so it need not hold a file's rows all together: the
grid of a 1M-row export alone takes ~0.65 GB. The file is first read as plain lines, exactly
as for a whole read (_csv.plan_csv); that gives the records, each record's cells and where
each line of the file starts inside a quoted value, so the records can then be parsed in the
same pieces of about 32 MB (see _chunks), joined where a quoted value spans a cut. The
decisions a whole read makes from the whole file are made the same way:

- the header: from the first 50 records, as a whole read does; the first piece is made at
  least that long;
- columns with no header, or beyond the header: a whole read keeps them only if they hold
  data. Every piece carries every column and ``CsvPieces.info`` names the kept ones at the end;
- trailing blank rows: a whole read drops them. The blank rows are listed at the end, once
  the last row with data is known.

A file the pieces cannot read exactly as a whole read would (text converted to UTF-8 in
memory, quoting that Polars cannot be trusted with, a header row past the first piece, pieces
that do not line up with the line read) gets None from ``open_pieces`` or raises
``PieceMismatch`` while being read; the caller then reads it whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tce_cli.read import _chunks, _lines
from tce_cli.read._csv import (
    CsvPlan,
    Records,
    breaks_inside,
    parse_records,
    plan_csv,
    records,
    trim,
)
from tce_cli.read._model import ROW_COLUMN, ReadInfo
from tce_cli.read._sniff import UTF8_BOM
from tce_cli.read._table import HEADER_SCAN_ROWS, _duplicates, column_names, detect_header

ROW = pl.col(ROW_COLUMN)


class PieceMismatch(Exception):
    """The pieces cannot give what a whole read would: read the file whole instead."""


@dataclass(frozen=True)
class _Group:
    """Consecutive pieces of the line read parsed together: ``pieces`` of them, holding
    ``count`` records from the 0-based record ``first``."""

    pieces: int
    first: int
    count: int


@dataclass
class _Seen:
    """What the pieces read so far showed about the whole file."""

    blank: list[pl.Series] = field(default_factory=list)
    ragged: list[pl.DataFrame] = field(default_factory=list)
    has_data: list[bool] = field(default_factory=list)
    last: int = -1
    """0-based index of the last record with data (-1: none yet)."""
    inside: dict[str, int] | None = None
    done: bool = False


class CsvPieces:
    """A CSV file read a piece at a time (see the module docstring).

    ``frames()`` gives the data rows piece by piece (blank rows left out), as a whole read
    would give them, with every column; ``info()``, once ``frames()`` has run to its end,
    what a whole read reports about the file.

    Raises:
        PieceMismatch: the header row given is past the first piece, or the first piece
            does not hold the records the line read counted.
    """

    def __init__(
        self,
        path: Path,
        plan: CsvPlan,
        found: Records,
        groups: list[_Group],
        header_row: int | None,
    ) -> None:
        self.path = path
        # The numbers kept per line are not needed again (~50 bytes a line): let them go.
        plan = dataclasses.replace(plan, lines=_lines.Lines(pl.DataFrame(), False, ()))
        self._plan, self._found, self._groups = plan, found, groups
        parsed = self._parse(groups[0], b"".join(_first_pieces(path, plan.eol, groups[0].pieces)))
        cells = parsed.drop(ROW_COLUMN)
        head = pl.DataFrame(cells.head(HEADER_SCAN_ROWS).rows(), schema=cells.schema, orient="row")
        self._first_breaks = breaks_inside(cells) if plan.breaks else None
        first = trim(parsed, strip_all=found.strip_all).rechunk()
        del parsed, cells
        stripped = first.drop(ROW_COLUMN)
        if header_row is None:
            h = detect_header(stripped.head(HEADER_SCAN_ROWS).rows())
        elif header_row <= groups[0].count:
            h = header_row - 1
        else:
            raise PieceMismatch(f"{path.name}: the header row is past the first piece")
        self._h = h
        self._width = int(found.cells[h])
        self._header = stripped.row(h)
        written = head if h < head.height else stripped
        self._original = tuple(v or "" for v in written.row(h)[: self._width])
        everything = [True] * found.width
        self._names, _ = column_names(self._header, everything, found.width, self._width)
        self._first: pl.DataFrame | None = first  # parsed once: the first frames() uses it
        self._seen = _Seen()

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the pieces carry; ``info().columns`` are those a whole read keeps."""
        return tuple(self._names)

    @property
    def duplicate_headers(self) -> tuple[str, ...]:
        return _duplicates(self._header[: self._width])

    def frames(self) -> Iterator[pl.DataFrame]:
        """The non-blank data rows, a piece at a time: ``_row`` and every column (text).
        May be run again (the file is read again).

        Raises:
            PieceMismatch: a piece does not hold the records the line read counted.
        """
        self._seen = seen = _Seen(has_data=[False] * self._found.width)
        groups = iter(self._groups)
        group: _Group | None = next(groups)
        joined: list[bytes] = []
        for piece in _chunks.pieces(self.path, self._plan.eol):
            if group is None:
                raise PieceMismatch(f"{self.path.name}: the file changed since the first read")
            joined.append(piece)
            del piece  # not held while the caller works on the rows
            if len(joined) < group.pieces:
                continue
            if group.first == 0 and self._first is not None:
                frame, self._first = self._first, None
                found = self._first_breaks
            else:
                frame = self._parse(group, b"".join(joined))
                found = breaks_inside(frame.drop(ROW_COLUMN)) if self._plan.breaks else None
                frame = trim(frame, strip_all=self._found.strip_all).rechunk()
            joined.clear()
            if found is not None:
                seen.inside = {k: v + (seen.inside or {}).get(k, 0) for k, v in found.items()}
            yield self._data_rows(frame, group, seen)
            del frame
            group = next(groups, None)
        if joined or group is not None:
            raise PieceMismatch(f"{self.path.name}: the file changed since the first read")
        seen.done = True

    def info(self) -> ReadInfo:
        """What a whole read reports about the file (after ``frames()`` has run to its end).

        Raises:
            PieceMismatch: a whole read would fail (every cell empty, or a header row given
                past the last row with data) or name the kept columns differently.
        """
        seen, h, width = self._seen, self._h, self._width
        if not seen.done or seen.last < h:
            raise PieceMismatch(f"{self.path.name}: no data after the header")
        names, keep = column_names(self._header, seen.has_data, self._found.width, width)
        if names != [self._names[i] for i in keep]:
            raise PieceMismatch(f"{self.path.name}: the kept columns are named differently")
        blank = pl.concat(seen.blank) if seen.blank else pl.Series(ROW_COLUMN, [], pl.Int64)
        ragged = pl.concat(seen.ragged) if seen.ragged else pl.DataFrame()
        plan = self._plan
        return ReadInfo(
            path=self.path,
            format="csv",
            encoding=plan.encoding,
            delimiter=plan.delimiter,
            line_endings=plan.line_endings_less(seen.inside),
            sheet=None,
            header_row=h + 1,
            columns=tuple(names),
            original_headers=self._original,
            duplicate_headers=self.duplicate_headers,
            blank_headers=tuple(i + 1 for i, v in enumerate(self._header[:width]) if v is None),
            ragged_rows=tuple((int(r), int(c)) for r, c in ragged.iter_rows()),
            blank_rows=tuple(r for r in blank.to_list() if r <= seen.last + 1),
            n_rows=seen.last - h,
        )

    def _parse(self, group: _Group, data: bytes) -> pl.DataFrame:
        """The group's records as written (untrimmed), numbered as in the whole file."""
        if group.first == 0 and self._plan.encoding == "utf-8-sig":
            # The pieces come without the file's BOM, and Polars drops one more at the start
            # of what it parses, as it does for the whole file: give it back, so a file that
            # starts with two BOMs keeps the second in its first header, as a whole read does.
            data = UTF8_BOM + data
        try:
            frame = parse_records(data, self._plan, self._found, first=group.first + 1)
        except pl.exceptions.PolarsError as exc:
            raise PieceMismatch(f"{self.path.name}: a piece could not be parsed") from exc
        if frame.height != group.count:
            raise PieceMismatch(f"{self.path.name}: a piece holds other records than counted")
        return frame

    def _data_rows(self, frame: pl.DataFrame, group: _Group, seen: _Seen) -> pl.DataFrame:
        """Note what the group's records show about the file; return its non-blank data rows."""
        h, width = self._h, self._width
        filled = pl.any_horizontal(pl.exclude(ROW_COLUMN).is_not_null()).alias("_filled")
        frame = frame.with_columns(filled)
        hits = frame.get_column("_filled").arg_true()
        if hits.len():
            seen.last = group.first + int(hits[-1])
        start = max(0, h + 1 - group.first)
        data = frame.slice(start)
        used = data.select(pl.exclude(ROW_COLUMN, "_filled").is_not_null().any()).row(0)
        seen.has_data = [a or bool(b) for a, b in zip(seen.has_data, used, strict=True)]
        seen.blank.append(data.filter(~pl.col("_filled")).get_column(ROW_COLUMN))
        cells = self._found.cells.slice(group.first + start, data.height).alias("_cells")
        seen.ragged.append(
            data.select(ROW, cells, pl.col("_filled"))
            .filter((pl.col("_cells") != width) & pl.col("_filled"))
            .drop("_filled")
        )
        return data.filter(pl.col("_filled")).select(
            ROW, *(pl.col(f"c{i}").alias(n) for i, n in enumerate(self._names))
        )


def open_pieces(
    path: Path, head: bytes, *, encoding: str | None, delimiter: str | None, header_row: int | None
) -> CsvPieces | None:
    """The file read a piece at a time, or None when it should be read whole: it is one
    piece anyway, its text is converted in memory, its quoting needs Python's csv module,
    or its header row is past the first piece.

    Raises:
        InputFileError: as a whole read (undecodable bytes, an empty file, too many cells).
    """
    plan = plan_csv(path, head, encoding=encoding, delimiter=delimiter)
    if not isinstance(plan.source, Path):
        return None
    found = records(plan)
    if found is None:
        return None
    groups = _groups(plan.lines.piece_lines, found)
    if len(groups) < 2:
        return None
    try:
        return CsvPieces(path, plan, found, groups, header_row)
    except PieceMismatch:
        return None


def _first_pieces(path: Path, eol: str, n: int) -> Iterator[bytes]:
    for i, piece in enumerate(_chunks.pieces(path, eol)):
        if i == n:
            return
        yield piece


def _groups(piece_lines: tuple[int, ...], found: Records) -> list[_Group]:
    """Join pieces so each group starts at a record and the first holds the header scan."""
    groups: list[_Group] = []
    pieces = line = record = first = 0
    inside = found.inside
    starts = None if inside is None else (~inside).cast(pl.Int64).cum_sum()
    for n in piece_lines:
        pieces += 1
        line += n
        at_record = inside is None or line >= len(inside) or not inside[line]
        record = line if starts is None else int(starts[line - 1])
        short = not groups and record - first < HEADER_SCAN_ROWS
        if at_record and not short:
            groups.append(_Group(pieces, first, record - first))
            pieces, first = 0, record
    if pieces:
        groups.append(_Group(pieces, first, record - first))
    return groups
