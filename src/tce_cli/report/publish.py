"""Apply disclosure control to every table and turn cells into published text and numbers.

All counts of all tables go through one suppression run, so a number shown in two tables is
suppressed in both or neither. Rates and medians follow their counts (domain §4): a percentage
is ``c`` when its numerator or denominator is suppressed or its denominator is below 10; a
median is ``c`` when it describes fewer than 10 children. GSS symbols are carried as text:
``c`` suppressed, ``x`` not available, ``z`` not applicable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tce_cli.report.model import (
    Cell,
    CellKey,
    Change,
    Chart,
    Count,
    Median,
    Number,
    Rate,
    Section,
    Symbol,
    Table,
    counts_in,
)
from tce_cli.report.suppression import Constraint, Suppressed, suppress

MIN_DENOMINATOR = 10
Kind = Literal["count", "percent", "median", "number", "change", "symbol", "text"]


@dataclass(frozen=True)
class Shown:
    """A published cell: its text, and its number when it has one (never for symbols)."""

    text: str
    number: float | None = None
    kind: Kind = "text"


@dataclass(frozen=True)
class PublishedRow:
    label: str
    cells: tuple[Shown, ...]
    total: bool = False


@dataclass(frozen=True)
class PublishedTable:
    id: str
    title: str
    stub: str
    columns: tuple[str, ...]
    rows: tuple[PublishedRow, ...]
    note: str = ""
    charts: tuple[Chart, ...] = ()


@dataclass(frozen=True)
class PublishedSection:
    id: str
    title: str
    sheet: str
    intro: str
    tables: tuple[PublishedTable, ...]


@dataclass(frozen=True)
class SuppressionLog:
    """How many cells were suppressed, by rule."""

    enabled: bool
    threshold: int
    counts: int
    primary: int
    margin: int
    audit: int
    rates_linked: int
    rates_small: int
    medians: int
    unprotected: int

    def lines(self) -> list[tuple[str, int]]:
        """(rule, number of cells) for the Notes."""
        if not self.enabled:
            return [("Suppression switched off (--no-suppression): nothing suppressed", 0)]
        t = self.threshold
        return [
            ("Counts published (distinct cells)", self.counts),
            (f"Primary: counts of 1 to {t} shown as c", self.primary),
            ("Secondary: next-smallest cell of a total with one suppressed cell", self.margin),
            ("Secondary: cells found recoverable by combining totals (exact audit)", self.audit),
            ("Percentages with a suppressed numerator or denominator", self.rates_linked),
            (f"Percentages with a denominator below {MIN_DENOMINATOR}", self.rates_small),
            (
                f"Medians of fewer than {MIN_DENOMINATOR} children or of a suppressed count",
                self.medians,
            ),
            ("Suppressed cells still recoverable (should be 0)", self.unprotected),
        ]


def collect(sections: Sequence[Section]) -> tuple[dict[CellKey, int], list[Constraint[CellKey]]]:
    """Every count cell (by key) and every equation of every table."""
    values: dict[CellKey, int] = {}
    constraints: list[Constraint[CellKey]] = []
    for table in (t for s in sections for t in s.tables):
        for row in table.rows:
            for cell in row.cells:
                for count in counts_in(cell):
                    known = values.setdefault(count.key, count.value)
                    if known != count.value:
                        raise RuntimeError(f"internal: {count.key} has two values ({table.id})")
        constraints.extend(Constraint(e.total, e.parts) for e in table.equations)
    return values, constraints


class Publisher:
    """Runs suppression once over all sections, then renders cells."""

    def __init__(self, sections: Sequence[Section], *, threshold: int, enabled: bool) -> None:
        self.sections = tuple(sections)
        self.values, self.constraints = collect(self.sections)
        self.threshold = threshold
        self.enabled = enabled
        empty: frozenset[CellKey] = frozenset()
        self.result: Suppressed[CellKey] = (
            suppress(self.values, self.constraints, threshold)
            if enabled
            else Suppressed(empty, empty, empty, empty)
        )
        self.hidden = self.result.cells

    def publish(self) -> tuple[PublishedSection, ...]:
        return tuple(
            PublishedSection(
                s.id, s.title, s.sheet, s.intro, tuple(self.table(t) for t in s.tables)
            )
            for s in self.sections
        )

    def table(self, t: Table) -> PublishedTable:
        rows = tuple(
            PublishedRow(r.label, tuple(self.shown(c) for c in r.cells), r.total) for r in t.rows
        )
        return PublishedTable(t.id, t.title, t.stub, t.columns, rows, t.note, t.charts)

    def shown(self, cell: Cell) -> Shown:
        """The published form of one cell."""
        if isinstance(cell, Count):
            if cell.key in self.hidden:
                return Shown("c", kind="symbol")
            return Shown(str(cell.value), float(cell.value), "count")
        if isinstance(cell, Rate):
            return self._rate(cell)
        if isinstance(cell, Median):
            return self._median(cell)
        if isinstance(cell, Change):
            return self._change(cell)
        if isinstance(cell, Symbol):
            return Shown(cell.symbol, kind="symbol")
        if isinstance(cell, Number):
            return Shown(_number(cell.value), cell.value, "number")
        return Shown(cell.text)

    def rate_reason(self, cell: Rate) -> str:
        """Why a rate is not shown: '' (shown), 'z', 'x', 'linked' or 'small'."""
        if cell.den.value == 0:
            return "z"
        if self.enabled:
            if cell.den.key in self.hidden or (
                cell.num is not None and cell.num.key in self.hidden
            ):
                return "linked"
            if cell.den.value < MIN_DENOMINATOR:
                return "small"
        return "x" if cell.value is None else ""

    def _rate(self, cell: Rate) -> Shown:
        reason = self.rate_reason(cell)
        if reason in ("z", "x"):
            return Shown(reason, kind="symbol")
        if reason:
            return Shown("c", kind="symbol")
        value = cell.value or 0.0
        return Shown(f"{value:.1f}", value, "percent")

    def median_hidden(self, cell: Median) -> bool:
        small = cell.n.value < MIN_DENOMINATOR or cell.n.key in self.hidden
        return self.enabled and cell.n.value > 0 and small

    def _median(self, cell: Median) -> Shown:
        if cell.n.value == 0:
            return Shown("z", kind="symbol")
        if self.median_hidden(cell):
            return Shown("c", kind="symbol")
        if cell.value is None:
            return Shown("x", kind="symbol")
        return Shown(_number(cell.value), cell.value, "median")

    def _change(self, cell: Change) -> Shown:
        now, before = self.shown(cell.current), self.shown(cell.previous)
        if now.number is None or before.number is None:
            symbols = {now.text, before.text}
            return Shown(next((s for s in ("c", "z") if s in symbols), "x"), kind="symbol")
        diff = now.number - before.number
        if now.kind == "percent":
            return Shown("0.0" if round(diff, 1) == 0 else f"{diff:+.1f}", diff, "change")
        return Shown("0" if diff == 0 else f"{diff:+.0f}", diff, "change")

    def log(self) -> SuppressionLog:
        rates = {c.key: c for c in self._all_cells() if isinstance(c, Rate)}
        medians = {c.key: c for c in self._all_cells() if isinstance(c, Median)}
        reasons = [self.rate_reason(r) for r in rates.values()]
        r = self.result
        return SuppressionLog(
            self.enabled,
            self.threshold,
            len(self.values),
            len(r.primary),
            len(r.margin),
            len(r.audit),
            reasons.count("linked"),
            reasons.count("small"),
            sum(self.median_hidden(m) for m in medians.values()),
            len(r.unprotected),
        )

    def _all_cells(self) -> list[Cell]:
        return [c for s in self.sections for t in s.tables for row in t.rows for c in row.cells]

    def tidy(self) -> dict[CellKey, str]:
        """Every keyed cell's published value as text (the ``value`` of measures.csv)."""
        out = {key: ("c" if key in self.hidden else str(v)) for key, v in self.values.items()}
        for cell in self._all_cells():
            if isinstance(cell, Rate | Median):
                out[cell.key] = self.shown(cell).text
        return out


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
