"""Read CSV bytes into a grid of raw text cells, one row per record, with each row's cell count.

Polars parses the records; a second, cheap read of the file as plain lines tells how the
file uses quotes, how many cells each record has, the line endings, and which columns may
need stripping (see _lines). A file whose quoting Polars would misread (a quote opening
mid-value, text after a closing quote) is parsed by Python's csv module instead, which
reads leniently, as Excel does; it is slower but such files are rare.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tce_cli.errors import InputFileError
from tce_cli.read import _lines, _sniff
from tce_cli.read._model import Grid

MAX_COLUMNS = 16_384  # Excel's limit; more cells in a row means a wrong delimiter
_SLACK = 8  # extra columns parsed beyond the widest sampled record, so rare long rows fit


@dataclass(frozen=True)
class CsvMeta:
    """What was detected about a CSV file's text."""

    encoding: str
    delimiter: str
    line_endings: str | None


def read_csv_grid(
    path: Path, raw: bytes, *, encoding: str | None, delimiter: str | None
) -> tuple[Grid, CsvMeta]:
    """Decode, sniff and parse a CSV file into a grid of raw cells.

    Raises:
        InputFileError: undecodable bytes, an empty file, or quoting that never closes.
    """
    data, used = _sniff.to_utf8(path, raw, encoding)
    data = _sniff.strip_nuls(data)
    if not data[:4096].strip() and not data.strip():
        raise empty_file(path)
    eol = "\n" if b"\n" in data else "\r"
    sample = _sniff.text_sample(data)
    delim = _sniff.normalise_delimiter(delimiter) if delimiter else _sniff.sniff_delimiter(sample)
    width = _sample_width(sample, delim)
    lines = _lines.read_lines(data, eol)
    counts = _line_ending_counts(data, lines, eol)
    if counts["CR"] and eol == "\n":  # bare CRs among LFs: outside quotes they end rows
        data = _sniff.lone_cr_to_lf(data)
        lines = _lines.read_lines(data, eol)
    odd_breaks = counts["CR"] > 0 or (eol == "\r" and b"\n" in data)
    grid = _polars_grid(data, lines, delim, eol, width, odd_breaks)
    if grid is None:
        grid = _python_grid(path, data, delim, width)
    label = _sniff.line_ending_label(counts)
    if label == "mixed" and b'"' in data:
        label = _sniff.line_ending_label(_outside_quotes(counts, grid.frame))
    return grid, CsvMeta(encoding=used, delimiter=delim, line_endings=label)


def empty_file(path: Path) -> InputFileError:
    """Return the error for a file with nothing in it."""
    return InputFileError(
        f"{path.name} is empty.", hint="Check you exported the right file and that it has data."
    )


def _sample_width(sample: str, delim: str) -> int:
    widest = max(_sniff.sample_cell_counts(sample, delim), default=1)
    _check_width(widest)
    return widest + _SLACK


def _check_width(widest: int) -> None:
    if widest > MAX_COLUMNS:
        raise InputFileError(
            f"A row has {widest:,} cells, more than Excel's {MAX_COLUMNS:,} columns.",
            hint="The delimiter is probably wrong: pass --delimiter (, ; | or tab).",
        )


def _line_ending_counts(data: bytes, lines: pl.DataFrame, eol: str) -> dict[str, int]:
    """Count CRLF, bare LF and bare CR line breaks in the whole file (quotes ignored).

    Polars drops one CR before each LF it splits on, so the CRs left inside the lines are
    the bare ones; every other CR belongs to a CRLF.
    """
    if eol == "\r":
        return {"CRLF": 0, "LF": 0, "CR": data.count(b"\r")}
    n_lf = lines.height - (0 if data.endswith(b"\n") else 1)
    if b"\r" not in data:
        return {"CRLF": 0, "LF": n_lf, "CR": 0}
    trailing = 1 if data.endswith(b"\r") else 0
    bare = int(lines["line"].str.count_matches("\r", literal=True).sum()) + trailing
    crlf = data.count(b"\r") - bare
    return {"CRLF": crlf, "LF": n_lf - crlf, "CR": bare}


def _polars_grid(
    data: bytes,
    lines: pl.DataFrame,
    delim: str,
    eol: str,
    width: int,
    odd_breaks: bool,
) -> Grid | None:
    """Parse with Polars; return None when Polars cannot be trusted (the caller falls back).

    ``odd_breaks`` says the file has line breaks that are not row ends (bare CRs, or LFs in
    a CR file), which may sit at the edge of a value and so need stripping.
    """
    quoting = _lines.scan_quoting(data, lines, delim)
    if quoting.mode == "broken":
        return None
    quote = None if quoting.mode == "literal" else '"'
    frame = _parse(data, delim, eol, width, quote)
    for _ in range(3):
        if frame is None:
            return None
        cells = _lines.cell_counts(lines, frame, quoting, delim)
        if cells is None:
            return None
        top = cells.max()
        widest = top if isinstance(top, int) and top > 0 else 1
        _check_width(widest)
        if widest <= width:
            frame = frame.select(frame.columns[:widest])
            plain = lines.height == frame.height and not odd_breaks
            strip = _lines.columns_to_strip(data, lines, frame, delim, plain_lines=plain)
            return Grid(frame=frame, cells=cells, strip=strip)
        width = widest
        frame = _parse(data, delim, eol, width, quote)
    return None


def _parse(data: bytes, delim: str, eol: str, width: int, quote: str | None) -> pl.DataFrame | None:
    """Parse every record as text; None if Polars refuses the file."""
    try:
        return pl.read_csv(
            data,
            has_header=False,
            schema={f"c{i}": pl.String for i in range(width)},
            separator=delim,
            eol_char=eol,
            quote_char=quote,
            null_values=[""],  # quoted empty cells ("") too
            missing_columns="insert",
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None


def _outside_quotes(counts: dict[str, int], frame: pl.DataFrame) -> dict[str, int]:
    """Subtract the line breaks inside quoted values from the whole-file counts."""
    crlf = int(_lines.count_in_values(frame, "\r\n").sum())
    inside = {
        "CRLF": crlf,
        "LF": int(_lines.count_in_values(frame, "\n").sum()) - crlf,
        "CR": int(_lines.count_in_values(frame, "\r").sum()) - crlf,
    }
    return {kind: counts[kind] - inside[kind] for kind in counts}


def _python_grid(path: Path, data: bytes, delim: str, width: int) -> Grid:
    """Read leniently with Python's csv module, as Excel would, for files Polars would misread.

    The records are written back out with standard quoting and that text is parsed as usual,
    so the frame, cell counts and row numbers come out exactly as for a clean file (record
    for record). Slower than the normal path, but only malformed files take it.

    Raises:
        InputFileError: a quoted value runs to the end of the file.
    """
    out = io.StringIO()
    last = _rewrite(data, delim, out)
    if last and data.count(b'"') % 2 and any("\n" in v or "\r" in v for v in last[1]):
        raise InputFileError(
            f"{path.name}: the quoted value that starts in row {last[0]} is never closed.",
            hint='A quote mark (") inside a quoted value must be doubled (""). Fix that row.',
        )
    fixed = out.getvalue().encode("utf-8")
    lines = _lines.read_lines(fixed, "\n")
    grid = _polars_grid(fixed, lines, delim, "\n", width, odd_breaks=True)
    if grid is None:  # pragma: no cover - standard quoting always parses
        raise InputFileError(
            f"{path.name} could not be read as CSV.", hint="Open it in Excel and save it again."
        )
    return grid


def _rewrite(data: bytes, delim: str, out: io.StringIO) -> tuple[int, list[str]] | None:
    """Copy every record to ``out`` in standard quoting; return the last (number, cells)."""
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    last: tuple[int, list[str]] | None = None

    def remember(rows: Iterator[list[str]]) -> Iterator[list[str]]:
        nonlocal last
        for number, row in enumerate(rows, start=1):
            last = (number, row)
            yield row

    try:
        reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delim)
        writer = csv.writer(out, delimiter=delim, lineterminator="\r\n")
        writer.writerows(remember(reader))
    finally:
        csv.field_size_limit(limit)
    return last
