"""Vectorised checks on a CSV file read as plain lines: quoting, cell counts, padding.

Polars parses CSV records fast but cannot say how many cells a record had (``1,2`` and
``1,2,`` give the same row), and it splits records at a quote in the middle of unquoted
text, which Excel treats as an ordinary character. Reading the file as one string per line,
piece by piece, gives a few numbers per line (quotes, delimiters) without holding the file's
text: only the lines that hold a quote keep theirs. Expressions on those numbers then tell
how the file uses quotes and how many cells each record has, without a Python loop over rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from tce_cli.read import _chunks, _sniff
from tce_cli.read._sniff import Probe

LINE = pl.col("line")
TEXT = pl.col("text")
_Q = '"'
_UNICODE_SPACE = r"[\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


@dataclass(frozen=True)
class Lines:
    """Per physical line (quotes ignored, line break dropped): ``delims`` (delimiters on the
    line), ``quotes`` (quote characters), ``opens`` (a quote at the start of the line or just
    after a delimiter) and ``text`` (the line itself, for lines holding a quote; null
    otherwise). ``odd_spaces`` says whether a line holds whitespace other than spaces, tabs
    and line breaks (no-break and other Unicode spaces). ``piece_lines`` counts the lines of
    each piece read (see _chunks.pieces), so a second read in the same pieces can tell which
    lines each piece holds."""

    stats: pl.DataFrame
    odd_spaces: bool
    piece_lines: tuple[int, ...] = ()

    @property
    def height(self) -> int:
        return self.stats.height


def read_lines(source: Path | bytes, eol: str, delim: str, found: Probe | None = None) -> Lines:
    """Read the file as physical lines and keep a few numbers per line (see Lines).

    Reads the file in pieces: its text is never held whole. Polars drops one CR before each
    LF it splits on; the NUL separator never occurs (NULs are stripped first), so each line
    is a single field. Polars refuses bytes that are not UTF-8 (PolarsError). ``found``, if
    given, is filled in with what the bytes hold (see _sniff.Probe), so the file is read once.
    """
    parts = []
    counts = []
    for piece in _chunks.pieces(source, eol):
        stats = (
            pl.read_csv(
                piece,
                has_header=False,
                schema={"line": pl.String},
                separator="\x00",
                eol_char=eol,
                quote_char=None,
                empty_string_is_null=False,
                raise_if_empty=False,
            )
            .lazy()
            .select(LINE.fill_null(""))
            .select(_stats(delim, quotes=b'"' in piece, ascii=piece.isascii(), crs=b"\r" in piece))
            .collect(engine="in-memory")
        )
        if found is not None:
            sums = stats.select(pl.col("len", "crs").sum()).row(0)
            _sniff.count_piece(found, piece, eol, stats.height, *sums)
        parts.append(stats.drop("len", "crs"))
        counts.append(stats.height)
    if not parts:
        empty = pl.DataFrame(schema={"line": pl.String}).select(_stats(delim))
        parts.append(empty.drop("len", "crs"))
    stats = pl.concat(parts, rechunk=True)
    odd = bool(stats["odd"].any())
    return Lines(stats=stats.drop("odd"), odd_spaces=odd, piece_lines=tuple(counts))


def _stats(
    delim: str, *, quotes: bool = False, ascii: bool = True, crs: bool = False
) -> list[pl.Expr]:
    """The numbers kept per line (see Lines), plus ``len`` and ``crs`` (CRs left in the line)
    for counting line breaks; each computed only when the piece holds what it counts."""
    zero = pl.lit(0, dtype=pl.Int64)
    columns = [
        LINE.str.count_matches(delim, literal=True).cast(pl.Int64).alias("delims"),
        LINE.str.len_bytes().cast(pl.Int64).alias("len"),
        (LINE.str.count_matches("\r", literal=True).cast(pl.Int64) if crs else zero).alias("crs"),
    ]
    if quotes:
        count = LINE.str.count_matches(_Q, literal=True).cast(pl.Int64)
        opens = LINE.str.starts_with(_Q) | LINE.str.contains(delim + _Q, literal=True)
        columns += [
            count.alias("quotes"),
            (opens & (count > 0)).alias("opens"),
            pl.when(count > 0).then(_own(LINE)).alias("text"),
        ]
    else:
        columns += [
            zero.alias("quotes"),
            pl.lit(False).alias("opens"),
            pl.lit(None, dtype=pl.String).alias("text"),
        ]
    if ascii:
        columns.append(pl.lit(False).alias("odd"))
    else:
        wide = LINE.str.len_bytes() != LINE.str.len_chars()
        columns.append((wide & LINE.str.contains(_UNICODE_SPACE)).alias("odd"))
    return columns


def _own(text: pl.Expr) -> pl.Expr:
    """The same strings in a buffer of their own. Polars' strings are views into a shared
    buffer, so keeping a few lines of a piece would otherwise keep the whole piece's text."""
    return pl.concat_str([text, pl.lit("#")]).str.head(-1)


@dataclass(frozen=True)
class Quoting:
    """How a file uses quotes.

    ``mode`` is "none" (no quote character), "literal" (quotes occur but never open a field,
    so they are ordinary characters), "rfc" (every line fits RFC 4180 quoting) or "broken"
    (anything else, such as a quote opening mid-value: Polars would split records where
    Excel does not). For "rfc", ``inside`` flags the lines that start inside a quoted value
    and ``after`` those that end inside one.
    """

    mode: Literal["none", "literal", "rfc", "broken"]
    inside: pl.Series | None = None
    after: pl.Series | None = None


def scan_quoting(lines: Lines, delim: str) -> Quoting:
    """Work out how the file uses quotes (see Quoting).

    Whether a line starts inside a quoted value follows from the parity of the quotes
    before it. Each line holding a quote must then match the RFC 4180 pattern for where it
    starts and ends: quoted fields whose quotes are doubled inside, unquoted fields with no
    quote at all (a line without a quote always fits).
    """
    stats = lines.stats
    if not (stats["quotes"] > 0).any():
        return Quoting("none")
    if not stats["opens"].any():
        return Quoting("literal")
    after = (stats["quotes"].cum_sum() % 2 == 1).alias("after")
    inside = after.shift(1, fill_value=False).alias("before")
    if not _fits_rfc(stats.select(TEXT).with_columns(inside, after), delim):
        return Quoting("broken")
    return Quoting("rfc", inside=inside, after=after)


def _fits_rfc(lines: pl.DataFrame, delim: str) -> bool:
    """Check lines with quotes against RFC 4180, by where they start and end: outside or
    inside a quoted value. A line that starts and ends inside may close that value, hold
    whole fields, and open the next one."""
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
    todo = lines.filter(TEXT.is_not_null())
    for (start, end), pattern in patterns.items():
        part = todo.filter((before == start) & (after == end))
        if part.height and not part.select(TEXT.str.contains(pattern).all()).item():
            return False
    return True


def cell_counts(lines: Lines, quoting: Quoting, delim: str, records: int) -> pl.Series | None:
    """Count each record's cells; None if the lines do not line up with Polars' records.

    A record's cells are one more than its delimiters outside quoted values. Lines without
    a quote have all their delimiters outside (or, within a quoted value spanning lines,
    all inside); on lines with quotes the quoted values are cut out first, closing or
    opening the one the line starts or ends inside.
    """
    stats = lines.stats
    if quoting.inside is None or quoting.after is None:
        if lines.height != records:
            return None
        return (stats["delims"] + 1).alias("cells")
    if int((~quoting.inside).sum()) != records:
        return None
    inside, after = pl.col("before"), pl.col("after")
    closed = pl.when(inside).then(pl.lit(_Q) + TEXT).otherwise(TEXT) + pl.when(after).then(
        pl.lit(_Q)
    ).otherwise(pl.lit(""))
    outside = closed.str.replace_all('"(?:[^"]|"")*"', "").str.count_matches(delim, literal=True)
    per_line = (
        pl.when(TEXT.is_not_null())
        .then(outside.cast(pl.Int64))
        .when(inside)
        .then(pl.lit(0, dtype=pl.Int64))
        .otherwise(pl.col("delims"))
    )
    record = ((~inside).cast(pl.Int64).cum_sum() - 1).alias("record")
    frame = stats.with_columns(quoting.inside, quoting.after)
    multi = int((quoting.inside).sum()) > 0
    counted = frame.select(record, per_line.alias("delims"))
    if multi:
        counted = counted.group_by("record", maintain_order=True).agg(pl.col("delims").sum())
    return (counted["delims"] + 1).alias("cells")


def count_in_values(frame: pl.DataFrame, needle: str) -> pl.Series:
    """Count ``needle`` inside each row's values."""
    expr = pl.sum_horizontal(pl.all().str.count_matches(needle, literal=True).fill_null(0))
    return frame.select(expr.cast(pl.Int64)).to_series()


def padded_columns(frame: pl.DataFrame) -> list[str]:
    """Name the columns holding a cell that starts or ends with a space."""
    edges = pl.all().str.starts_with(" ") | pl.all().str.ends_with(" ")
    flags = frame.select(edges.any()).row(0)
    return [c for c, hit in zip(frame.columns, flags, strict=True) if hit]
