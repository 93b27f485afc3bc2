"""Vectorised checks on a CSV file read as plain lines: quoting, cell counts, padding.

Polars parses CSV records fast but cannot say how many cells a record had (``1,2`` and
``1,2,`` give the same row), and it splits records at a quote in the middle of unquoted
text, which Excel treats as an ordinary character. Reading the file a second time as one
string per line is cheap; string expressions on those lines then tell how the file uses
quotes and how many cells each record has, without a Python loop over rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import polars as pl

LINE = pl.col("line")
_Q = '"'
_UNICODE_SPACE = r"[\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def read_lines(data: bytes, eol: str) -> pl.DataFrame:
    """Read the file as physical lines, one string each (quotes ignored, line break dropped).

    Polars drops one CR before each LF it splits on; the NUL separator never occurs (NULs
    are stripped first), so each line is a single field.
    """
    return pl.read_csv(
        data,
        has_header=False,
        schema={"line": pl.String},
        separator="\x00",
        eol_char=eol,
        quote_char=None,
        empty_string_is_null=False,
        raise_if_empty=False,
    )


@dataclass(frozen=True)
class Quoting:
    """How a file uses quotes.

    ``mode`` is "none" (no quote character), "literal" (quotes occur but never open a field,
    so they are ordinary characters), "rfc" (every line fits RFC 4180 quoting) or "broken"
    (anything else, such as a quote opening mid-value: Polars would split records where
    Excel does not). For "rfc": ``inside`` flags lines that start inside a quoted value,
    ``quotes`` counts each line's quotes, and ``escaped`` flags lines holding ``""``: an
    escaped quote inside a value (or an empty quoted cell).
    """

    mode: Literal["none", "literal", "rfc", "broken"]
    inside: pl.Series | None = None
    quotes: pl.Series | None = None
    escaped: pl.Series | None = None


def scan_quoting(data: bytes, lines: pl.DataFrame, delim: str) -> Quoting:
    """Work out how the file uses quotes (see Quoting).

    Whether a line starts inside a quoted value follows from the parity of the quotes
    before it. Each line holding a quote (or inside a quoted value) must then match the
    RFC 4180 pattern for where it starts and ends: quoted fields whose quotes are doubled
    inside, unquoted fields with no quote at all.
    """
    if _Q.encode() not in data:
        return Quoting("none")
    has = lines.select(LINE.str.contains(_Q, literal=True)).to_series()
    first = LINE.str.starts_with(_Q) | LINE.str.contains(delim + _Q, literal=True)
    stats = lines.filter(has).select(  # most lines of most files have no quote
        LINE.str.count_matches(_Q, literal=True).cast(pl.Int64).alias("quotes"),
        first.alias("opens"),
        LINE.str.contains('""', literal=True).alias("escaped"),  # or an empty cell
    )
    if not stats["opens"].any():
        return Quoting("literal")
    where = has.arg_true()
    quotes = pl.repeat(0, lines.height, dtype=pl.Int64, eager=True).scatter(where, stats["quotes"])
    escaped = pl.repeat(False, lines.height, eager=True).scatter(where, stats["escaped"])
    after = (quotes.cum_sum() % 2 == 1).alias("after")
    inside = after.shift(1, fill_value=False).alias("before")
    if not _fits_rfc(lines.with_columns(quotes.alias("quotes"), inside, after), delim):
        return Quoting("broken")
    return Quoting("rfc", inside=inside, quotes=quotes, escaped=escaped)


def _fits_rfc(lines: pl.DataFrame, delim: str) -> bool:
    """Check lines with quotes (or inside quoted values) against RFC 4180, by where they
    start and end: outside or inside a quoted value. A line that starts and ends inside
    may close that value, hold whole fields, and open the next one."""
    esc = re.escape(delim)
    d = f"[{esc}]"
    field = f'(?:"(?:[^"]|"")*"|[^"{esc}]*)'
    quoted = '(?:[^"]|"")*'
    patterns = {
        (False, False): f"^{field}(?:{d}{field})*$",
        (False, True): f'^(?:{field}{d})*"{quoted}$',
        (True, False): f'^{quoted}"(?:{d}{field})*$',
        (True, True): f'^{quoted}(?:"(?:{d}{field})*{d}"{quoted})?$',
    }
    before, after = pl.col("before"), pl.col("after")
    todo = lines.filter((pl.col("quotes") > 0) | before | after)
    for (start, end), pattern in patterns.items():
        part = todo.filter((before == start) & (after == end))
        if part.height and not part.select(LINE.str.contains(pattern).all()).item():
            return False
    return True


def cell_counts(
    lines: pl.DataFrame, frame: pl.DataFrame, quoting: Quoting, delim: str
) -> pl.Series | None:
    """Count each record's cells; None if the lines do not line up with Polars' records.

    For a record on one line, lengths are enough: the line is its values plus one byte per
    delimiter plus two quotes per quoted value plus one per doubled quote, so
    cells = line length - value lengths - quotes in line + quotes in values + 1. Every line
    fits RFC 4180 (scan_quoting checked), so values hold quotes only where the line holds
    "", and only those rows need their values scanned. Records on several lines have their
    delimiters counted instead.
    """
    line_len = lines["line"].str.len_bytes().cast(pl.Int64)
    value_len = frame.select(
        pl.sum_horizontal(pl.all().str.len_bytes().fill_null(0)).cast(pl.Int64)
    ).to_series()
    if quoting.inside is None or quoting.quotes is None or quoting.escaped is None:
        if lines.height != frame.height:
            return None
        return (line_len - value_len + 1).alias("cells")
    starts = (~quoting.inside).arg_true()
    if starts.len() != frame.height:
        return None
    ends = pl.concat([starts.slice(1), pl.Series([lines.height], dtype=starts.dtype)])
    multi = (ends - starts) > 1
    cells = (line_len - quoting.quotes).gather(starts) - value_len + 1
    rows = (quoting.escaped.gather(starts) & ~multi).arg_true()
    if rows.len():
        cells = cells.scatter(rows, cells.gather(rows) + _in_values(frame, _Q, rows))
    rows = multi.arg_true()
    if rows.len():
        cells = cells.scatter(rows, _delimited(lines, frame, quoting.inside, rows, delim))
    return cells.alias("cells")


def _in_values(frame: pl.DataFrame, needle: str, rows: pl.Series) -> pl.Series:
    """Count ``needle`` inside the values of the given rows (row numbers, ascending)."""
    if rows.len() > 0.5 * frame.height:  # picking most rows costs more than scanning all
        return count_in_values(frame, needle).gather(rows)
    mask = pl.repeat(False, frame.height, eager=True).scatter(rows, True)
    return count_in_values(frame.filter(mask), needle)


def _delimited(
    lines: pl.DataFrame, frame: pl.DataFrame, inside: pl.Series, rows: pl.Series, delim: str
) -> pl.Series:
    """Count cells of the given records: delimiters on their lines minus those in values."""
    record = ((~inside).cast(pl.Int64).cum_sum() - 1).alias("record")
    wanted = rows.cast(pl.Int64).implode()
    picked = lines.with_columns(record).filter(pl.col("record").is_in(wanted))
    per_record = (
        picked.group_by("record")
        .agg(LINE.str.count_matches(delim, literal=True).sum().cast(pl.Int64).alias("delims"))
        .sort("record")
    )
    return per_record["delims"] - _in_values(frame, delim, rows) + 1


def count_in_values(frame: pl.DataFrame, needle: str) -> pl.Series:
    """Count ``needle`` inside each row's values."""
    expr = pl.sum_horizontal(pl.all().str.count_matches(needle, literal=True).fill_null(0))
    return frame.select(expr.cast(pl.Int64)).to_series()


def columns_to_strip(
    data: bytes, lines: pl.DataFrame, frame: pl.DataFrame, delim: str, *, plain_lines: bool
) -> tuple[str, ...] | None:
    """Name the columns that may hold cells with surrounding whitespace (None: maybe all).

    Spaces are looked for per column, cheaply. Rarer whitespace (tabs, NBSP, line breaks
    inside values) is looked for in the whole file; if present, every column is stripped.
    """
    if not plain_lines or _odd_spaces(data, lines, delim):
        return None
    edges = pl.all().str.starts_with(" ") | pl.all().str.ends_with(" ")
    flags = frame.select(edges.any()).row(0)
    return tuple(c for c, hit in zip(frame.columns, flags, strict=True) if hit)


def _odd_spaces(data: bytes, lines: pl.DataFrame, delim: str) -> bool:
    """Tell whether the file holds whitespace other than spaces and line breaks."""
    controls = [b"\x0b", b"\x0c"] + ([b"\t"] if delim != "\t" else [])
    if any(c in data for c in controls):
        return True
    if data.isascii():
        return False
    wide = lines.filter(LINE.str.len_bytes() != LINE.str.len_chars())
    return bool(wide.select(LINE.str.contains(_UNICODE_SPACE).any()).item())
