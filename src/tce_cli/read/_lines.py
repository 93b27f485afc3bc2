"""Vectorised checks on a CSV file read as plain lines: quoting, cell counts, padding.

Polars parses CSV records fast but cannot say how many cells a record had (``1,2`` and
``1,2,`` give the same row), and it splits records at a quote in the middle of unquoted
text, which Excel treats as an ordinary character. Reading the file a second time as one
string per line is cheap; string expressions on those lines then tell how the file uses
quotes and how many cells each record has, without a Python loop over rows.
"""

from __future__ import annotations

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
    so they are ordinary characters), "rfc" (every quote opens, closes or doubles inside a
    quoted field) or "broken" (anything else; Polars cannot be trusted to split records).
    ``inside`` flags lines that start inside a quoted value; ``quotes`` counts each line's
    quotes and ``doubled`` flags lines holding ``""`` (both "rfc" only).
    """

    mode: Literal["none", "literal", "rfc", "broken"]
    inside: pl.Series | None = None
    quotes: pl.Series | None = None
    doubled: pl.Series | None = None


def scan_quoting(data: bytes, lines: pl.DataFrame, delim: str) -> Quoting:
    """Work out how the file uses quotes (see Quoting)."""
    if _Q.encode() not in data:
        return Quoting("none")
    stats = _quote_stats(lines, delim)
    if int(stats["open"].sum()) == 0:
        return Quoting("literal")
    quotes = stats["quotes"]
    after = (quotes.cum_sum() % 2 == 1).alias("inside")
    inside = after.shift(1, fill_value=False)
    doubled = stats["doubled"]
    picked = doubled.arg_true()
    if picked.len():  # judge lines with "" as if each "" were gone (escaped or empty cell)
        text = lines[picked].select(LINE.str.replace_all('""', "", literal=True))
        redo = _quote_stats(text, delim)
        stats = stats.with_columns(
            *(
                stats[c].scatter(picked, redo[c])
                for c in ("quotes", "open", "close", "first", "last")
            )
        )
    balanced = stats.with_columns(before=inside, after=after).select(_balanced())
    mode: Literal["rfc", "broken"] = "rfc" if balanced.to_series().all() else "broken"
    return Quoting(mode, inside=inside, quotes=quotes, doubled=doubled)


def _quote_stats(lines: pl.DataFrame, delim: str) -> pl.DataFrame:
    count = LINE.str.count_matches
    n = pl.Int64
    return lines.select(
        count(_Q, literal=True).cast(n).alias("quotes"),
        (count(delim + _Q, literal=True) + LINE.str.starts_with(_Q)).cast(n).alias("open"),
        count(_Q + delim, literal=True).cast(n).alias("close"),
        LINE.str.starts_with(_Q).alias("first"),
        LINE.str.ends_with(_Q).alias("last"),
        LINE.str.contains('""', literal=True).alias("doubled"),
    )


def _balanced() -> pl.Expr:
    """True where every quote in a line opens or closes a field, in matching numbers.

    A line that starts inside a quoted value counts a virtual opening quote; one that ends
    inside counts a virtual closing quote. A leading quote opens a field only when the line
    starts outside quotes; a trailing quote closes one only when the line ends outside.
    """
    before, after = pl.col("before"), pl.col("after")
    opens = pl.col("open") - (pl.col("first") & before) + before
    closes = pl.col("close") + (pl.col("last") & ~after) + after
    total = pl.col("quotes") + before + after
    return (opens == closes) & (2 * opens == total)


def cell_counts(
    lines: pl.DataFrame, frame: pl.DataFrame, quoting: Quoting, delim: str
) -> pl.Series | None:
    """Count each record's cells; None if the lines do not line up with Polars' records.

    For a record on one line without doubled quotes, lengths are enough: the line is its
    values plus one byte per delimiter plus two quotes per quoted value, so
    cells = line length - value lengths - quotes + 1. Other records (several lines, ""
    inside, or a count unlike the others) get their delimiters counted exactly.
    """
    line_len = lines["line"].str.len_bytes().cast(pl.Int64)
    value_len = frame.select(
        pl.sum_horizontal(pl.all().str.len_bytes().fill_null(0)).cast(pl.Int64)
    ).to_series()
    if quoting.inside is None or quoting.quotes is None or quoting.doubled is None:
        return (line_len - value_len + 1).alias("cells") if lines.height == frame.height else None
    starts = (~quoting.inside).arg_true()
    if starts.len() != frame.height:
        return None
    spans = pl.concat([starts, pl.Series([lines.height], dtype=starts.dtype)]).diff().drop_nulls()
    estimate = (line_len - quoting.quotes).gather(starts) - value_len + 1
    exact = quoting.doubled.gather(starts) | (spans > 1) | (estimate != estimate.mode().first())
    rows = exact.arg_true()
    if not rows.len():
        return estimate.alias("cells")
    return estimate.scatter(rows, _exact_cells(lines, frame, quoting.inside, rows, delim)).alias(
        "cells"
    )


def _exact_cells(
    lines: pl.DataFrame, frame: pl.DataFrame, inside: pl.Series, rows: pl.Series, delim: str
) -> pl.Series:
    """Count cells of the given records: delimiters on their lines minus those in values."""
    record = ((~inside).cum_sum() - 1).alias("record")
    picked = lines.with_columns(record).filter(pl.col("record").is_in(rows.implode()))
    per_record = (
        picked.group_by("record")
        .agg(LINE.str.count_matches(delim, literal=True).sum().cast(pl.Int64).alias("delims"))
        .sort("record")
    )
    in_values = count_in_values(frame[rows], delim)
    return per_record["delims"] - in_values + 1


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
