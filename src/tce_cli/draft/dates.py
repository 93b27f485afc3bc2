"""Date format inference: which strftime formats read a column, decided from its values.

Day-first or month-first is decided from the data: a first part above 12 means day-first, a
second part above 12 means month-first; when neither occurs the UK order (day first) is assumed
and said so. Two-digit years, month names, dotted dates and Excel serial numbers are tried too.
A format only counts a value when the date it reads is plausible (transform.PLAUSIBLE_YEARS),
so ``03/05/10`` is not taken as the year 10 by ``%d/%m/%Y``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tce_cli.transform import EXCEL_EPOCH, PLAUSIBLE_YEARS

ISO = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d")
DAY_FIRST = (
    "%d/%m/%Y",
    "%d/%m/%y",
    "%d-%m-%Y",
    "%d-%m-%y",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
)
MONTH_FIRST = tuple(
    f.replace("%d", "%D").replace("%m", "%d").replace("%D", "%m") for f in DAY_FIRST
)
NAMED = ("%d-%b-%y", "%d-%b-%Y", "%d %b %Y", "%d %b %y", "%d %B %Y", "%d-%B-%Y")
SERIAL = "Excel serial"
MIN_SHARE = 0.05
"""A format reading fewer of a column's cells than this is left out (a typo to report, such as
one two-digit year among four-digit ones), unless it is the only format."""
_NUMERIC = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}"
DATE_SHAPE = r"^\s*(\d{1,4}[/.\- ][0-9A-Za-z]{1,9}[/.\- ]\d{2,4}|\d{5}(\.0+)?)(\s|T|$)"
"""Text that looks like a date or an Excel serial (used to decide whether to try formats)."""


@dataclass(frozen=True)
class DateInference:
    """The formats that read a date column, with the share of values each reads."""

    formats: tuple[str, ...]
    """strftime formats to write into the mapping, most values first."""
    shares: tuple[tuple[str, float], ...]
    """(format or 'Excel serial', share of filled values it reads), in the same order."""
    filled: int
    unreadable: int
    order: str
    """'day-first', 'month-first', 'day-first (assumed)' or '' when no numeric dates."""
    left_out: tuple[tuple[str, int], ...] = ()
    """(format, cells it reads) of formats too rare to keep; tce will report those cells."""

    @property
    def readable_share(self) -> float:
        return 1 - self.unreadable / self.filled if self.filled else 0.0


def _order(values: pl.DataFrame) -> str:
    parts = values.select(
        pl.col("v").str.extract(_NUMERIC, 1).cast(pl.Int64, strict=False).alias("a"),
        pl.col("v").str.extract(_NUMERIC, 2).cast(pl.Int64, strict=False).alias("b"),
    )
    if parts["a"].is_null().all():
        return ""
    first_big = bool((parts["a"] > 12).any())
    second_big = bool((parts["b"] > 12).any())
    if second_big and not first_big:
        return "month-first"
    return "day-first" if first_big else "day-first (assumed)"


def _readers(order: str) -> dict[str, pl.Expr]:
    lo, hi = PLAUSIBLE_YEARS
    text = pl.col("v")
    numeric = MONTH_FIRST if order == "month-first" else DAY_FIRST
    exprs = {f: text.str.strptime(pl.Date, f, strict=False) for f in (*ISO, *numeric, *NAMED)}
    serial = text.str.extract(r"^(\d{5})(?:\.0+)?$", 1).cast(pl.Int64, strict=False)
    exprs[SERIAL] = pl.lit(EXCEL_EPOCH) + pl.duration(days=serial)
    return {k: e.dt.year().is_between(lo, hi).fill_null(False) for k, e in exprs.items()}


def infer_date_formats(series: pl.Series, order: str | None = None) -> DateInference:
    """Choose formats greedily: each next format is the one reading most still-unread rows.

    ``order`` forces 'day-first' or 'month-first' (default: decided from the values).
    """
    text = series.cast(pl.String).str.strip_chars()
    counts = text.filter(text.is_not_null() & (text != "")).value_counts(name="n")
    counts = counts.rename({counts.columns[0]: "v"})
    filled = int(counts["n"].sum()) if counts.height else 0
    if not filled:
        return DateInference((), (), 0, 0, "")
    order = order or _order(counts)
    readers = _readers(order)
    hits = counts.select(pl.col("n"), **readers)
    names = list(readers)
    unread = pl.Series([True] * hits.height)
    chosen: list[tuple[str, float]] = []
    left_out: list[tuple[str, int]] = []
    while names:
        gains = [int(hits.filter(unread & hits[name])["n"].sum()) for name in names]
        best = max(gains)
        if best == 0:
            break
        name = names[gains.index(best)]
        if chosen and best < MIN_SHARE * filled:
            left_out.append((name, best))
        else:
            chosen.append((name, round(best / filled, 4)))
        unread = unread & ~hits[name]
        names.remove(name)
    unreadable = int(hits.filter(unread)["n"].sum())
    formats = tuple(f for f, _ in chosen if f != SERIAL)
    return DateInference(formats, tuple(chosen), filled, unreadable, order, tuple(left_out))


def describe(inference: DateInference) -> str:
    """One line for a YAML comment: which formats read how much (counts only, no values)."""
    parts = [f"{name} {share:.0%}" for name, share in inference.shares]
    text = f"dates in {inference.filled} filled cells: " + (", ".join(parts) or "none readable")
    if inference.unreadable:
        text += f"; {inference.unreadable} unreadable"
    for fmt, n in inference.left_out:
        text += f"; {fmt} left out (reads only {n})"
    if inference.order:
        text += f"; {inference.order}"
    return text
