"""Values that flow through the report: cell keys, cells before suppression, tables and sections.

A table holds *cells*, not text. Count cells carry a :class:`CellKey` that names the published
quantity (period, measure, geography, breakdown, breakdown value) the same way in every table and
in ``measures.csv``: when two tables show the same number they share the key, so disclosure
control can treat it as one cell and it is suppressed everywhere or nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

GM = "Greater Manchester"
TOTAL = "Total"
NOT_RECORDED = "Not recorded"
CROSS = " × "


class CellKey(NamedTuple):
    """Names one published quantity (the tidy ``measures.csv`` row it becomes)."""

    period: str
    measure: str
    geography: str
    breakdown: str
    value: str


def make_key(
    period: str, measure: str, geography: str = GM, parts: tuple[tuple[str, str], ...] = ()
) -> CellKey:
    """Build a key; ``parts`` are (breakdown name, value) pairs, totals already left out."""
    if not parts:
        return CellKey(period, measure, geography, TOTAL, TOTAL)
    names = CROSS.join(name for name, _ in parts)
    values = CROSS.join(value for _, value in parts)
    return CellKey(period, measure, geography, names, values)


@dataclass(frozen=True)
class Count:
    """A count of children (or of episodes, records, findings) that disclosure control sees."""

    key: CellKey
    value: int


@dataclass(frozen=True)
class Rate:
    """A percentage ``num / den``, or a given ``share`` (a score) that depends on the counts.

    Published only when ``den`` and ``num`` (if any) are published and ``den >= 10``.
    """

    key: CellKey
    den: Count
    num: Count | None = None
    share: float | None = None

    @property
    def value(self) -> float | None:
        if self.share is not None:
            return self.share
        if self.num is None or not self.den.value:
            return None
        return 100.0 * self.num.value / self.den.value


@dataclass(frozen=True)
class Median:
    """A median (e.g. episode length in days) of ``n`` children; shown only when ``n >= 10``."""

    key: CellKey
    value: float | None
    n: Count


@dataclass(frozen=True)
class Change:
    """Change between two quarters of a count (difference) or a rate (percentage points)."""

    current: Count | Rate | Symbol
    previous: Count | Rate | Symbol


@dataclass(frozen=True)
class Symbol:
    """A GSS symbol: ``x`` not available, ``z`` not applicable."""

    symbol: Literal["x", "z"]


@dataclass(frozen=True)
class Text:
    """Plain text (labels, statuses)."""

    text: str


@dataclass(frozen=True)
class Number:
    """A plain number that is not about children (e.g. days late); never suppressed."""

    value: float


Cell = Count | Rate | Median | Change | Symbol | Text | Number


@dataclass(frozen=True)
class Equation:
    """``total`` equals the sum of ``parts``: a reader can do this arithmetic."""

    total: CellKey
    parts: tuple[CellKey, ...]


@dataclass(frozen=True)
class Chart:
    """A chart of one column across the rows (bar) or one row across the columns (line).

    ``span``: plot only the first ``span`` columns of a line (e.g. the quarters, not a change).
    """

    kind: Literal["bar", "line"]
    title: str
    y_label: str
    index: int
    span: int | None = None


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Cell, ...]
    total: bool = False


@dataclass(frozen=True)
class Table:
    """One published table: a stub column of row labels, then one column per heading."""

    id: str
    title: str
    stub: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    equations: tuple[Equation, ...] = ()
    note: str = ""
    charts: tuple[Chart, ...] = ()


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    sheet: str
    intro: str
    tables: tuple[Table, ...] = field(default_factory=tuple)


def counts_in(cell: Cell) -> tuple[Count, ...]:
    """The Count cells a cell shows or is computed from (all of them need disclosure control)."""
    if isinstance(cell, Count):
        return (cell,)
    if isinstance(cell, Rate):
        return (cell.den,) if cell.num is None else (cell.num, cell.den)
    if isinstance(cell, Median):
        return (cell.n,)
    if isinstance(cell, Change):
        return counts_in(cell.current) + counts_in(cell.previous)
    return ()
