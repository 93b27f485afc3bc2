"""Build tables of cells from child-level frames: cross-tabulations and per-area columns.

Loops here run over categories and columns of small aggregate tables, never over children.
Every count gets the same :class:`CellKey` wherever it appears, and each table states its own
equations (margins) for disclosure control.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from tce_cli.report.cohorts import Cohort, PeriodData
from tce_cli.report.model import (
    GM,
    NOT_RECORDED,
    Cell,
    CellKey,
    Chart,
    Count,
    Equation,
    Median,
    Rate,
    Row,
    Table,
    make_key,
)
from tce_cli.report.vocab import Dim

Tally = dict[tuple[str, ...], int]


def tally(
    frame: pl.DataFrame,
    dims: Sequence[Dim],
    *,
    where: pl.Expr | None = None,
    weight: str | None = None,
) -> Tally:
    """Children (rows of a child frame) or the sum of ``weight``, per combination of ``dims``."""
    rows = frame.lazy()  # lazily, so only the columns used are filtered
    if where is not None:
        rows = rows.filter(where)
    for dim in dims:
        if dim.explode:
            rows = rows.explode(dim.column).filter(pl.col(dim.column).is_not_null())
    agg = pl.len() if weight is None else pl.col(weight).sum()
    if not dims:
        return {(): int(rows.select(agg).collect().item() or 0)}
    grouped = rows.group_by([d.column for d in dims]).agg(agg.alias("n")).collect()
    return {tuple(str(v) for v in row[:-1]): int(row[-1] or 0) for row in grouped.iter_rows()}


def categories(dim: Dim, frames: Sequence[pl.DataFrame]) -> list[str]:
    """The dimension's categories, then any others found (sorted), then 'Not recorded'."""
    found: set[str] = set()
    for frame in frames:
        series = frame.get_column(dim.column)
        if dim.explode:
            series = series.explode()
        found |= {str(v) for v in series.drop_nulls().unique().to_list()}
    extra = sorted(found - set(dim.categories) - {NOT_RECORDED})
    tail = [NOT_RECORDED] if NOT_RECORDED in found else []
    return [*dim.categories, *extra, *tail]


def cell_key(
    period: str,
    measure: str,
    coords: Sequence[tuple[Dim, str]],
    extra: tuple[tuple[str, str], ...] = (),
) -> CellKey:
    """Key of the cell at ``coords`` ((dimension, category) pairs; totals drop out)."""
    geography = GM
    parts: list[tuple[str, str]] = []
    for dim, value in coords:
        if dim.geography:
            geography = value
        elif value != dim.total:
            parts.append((dim.name, value))
    return make_key(period, measure, geography, (*parts, *extra))


def grid(
    frame: pl.DataFrame,
    period: str,
    measure: str,
    rows: Dim,
    cols: Dim | None = None,
    *,
    id: str,
    title: str,
    where: pl.Expr | None = None,
    weight: str | None = None,
    value_label: str = "Children",
    note: str = "",
    charts: tuple[Chart, ...] = (),
) -> Table:
    """Cross-tabulate children by ``rows`` (and ``cols``) with total row and column."""
    dims = [rows] if cols is None else [rows, cols]
    counts: Tally = {}
    for subset in _subsets(dims):
        for combo, value in tally(frame, subset, where=where, weight=weight).items():
            counts[_full(dims, subset, combo)] = value
    row_labels = [*categories(rows, [frame]), rows.total]
    col_labels = [value_label] if cols is None else [*categories(cols, [frame]), cols.total]
    keys: dict[tuple[str, str], CellKey] = {}
    out_rows = []
    for r in row_labels:
        cells: list[Cell] = []
        for c in col_labels:
            coords = [(rows, r)] if cols is None else [(rows, r), (cols, c)]
            keys[r, c] = cell_key(period, measure, coords)
            value = counts.get(tuple(v for _, v in coords), 0)
            cells.append(Count(keys[r, c], value))
        out_rows.append(Row(r, tuple(cells), total=r == rows.total))
    equations = _grid_equations(keys, row_labels, col_labels, rows, cols)
    columns = tuple(col_labels)
    return Table(id, title, rows.name, columns, tuple(out_rows), equations, note, charts)


def _subsets(dims: list[Dim]) -> list[list[Dim]]:
    if len(dims) == 1:
        return [dims, []]
    return [dims, [dims[0]], [dims[1]], []]


def _full(dims: list[Dim], subset: list[Dim], combo: tuple[str, ...]) -> tuple[str, ...]:
    values = dict(zip([d.name for d in subset], combo, strict=True))
    return tuple(values.get(d.name, d.total) for d in dims)


def _grid_equations(
    keys: dict[tuple[str, str], CellKey],
    row_labels: list[str],
    col_labels: list[str],
    rows: Dim,
    cols: Dim | None,
) -> tuple[Equation, ...]:
    eqs: list[Equation] = []
    inner_rows, inner_cols = row_labels[:-1], col_labels[:-1]
    if cols is not None and cols.additive:
        for r in row_labels:
            eqs.append(Equation(keys[r, cols.total], tuple(keys[r, c] for c in inner_cols)))
    if rows.additive:
        for c in col_labels:
            eqs.append(Equation(keys[rows.total, c], tuple(keys[r, c] for r in inner_rows)))
    return tuple(eqs)


@dataclass(frozen=True)
class Col:
    """A count column: children of ``cohort`` (matching ``where``), or the sum of ``weight``."""

    label: str
    measure: str
    cohort: Cohort
    where: pl.Expr | None = None
    weight: str | None = None
    parts: tuple[tuple[str, str], ...] = ()
    per_agency_type: bool = False


@dataclass(frozen=True)
class RateCol:
    """A percentage column: count column ``num`` over count column ``den`` (indexes)."""

    label: str
    measure: str
    num: int
    den: int


@dataclass(frozen=True)
class MedianCol:
    """The median of ``column`` over the children of ``cohort``; ``n`` indexes their count."""

    label: str
    measure: str
    cohort: Cohort
    column: str
    n: int


Column = Col | RateCol | MedianCol


def by_rows(
    data: PeriodData,
    rows: Dim,
    columns: Sequence[Column],
    *,
    id: str,
    title: str,
    note: str = "",
    charts: tuple[Chart, ...] = (),
) -> Table:
    """One row per category of ``rows`` plus a total row; one column per indicator."""
    period = data.period.label
    frames = [_frame(data, c) for c in columns if isinstance(c, Col)]
    row_labels = [*categories(rows, frames), rows.total]
    grid_cells: dict[int, dict[str, Cell]] = {}
    for j, col in enumerate(columns):
        grid_cells[j] = _column(data, period, rows, row_labels, col, grid_cells)
    out_rows = tuple(
        Row(r, tuple(grid_cells[j][r] for j in range(len(columns))), total=r == rows.total)
        for r in row_labels
    )
    eqs: tuple[Equation, ...] = ()
    if rows.additive:
        eqs = tuple(
            _sum_equation(grid_cells[j], row_labels)
            for j, col in enumerate(columns)
            if isinstance(col, Col)
        )
    headings = tuple(c.label for c in columns)
    return Table(id, title, rows.name, headings, out_rows, eqs, note, charts)


def _frame(data: PeriodData, col: Col) -> pl.DataFrame:
    return data.by_agency_type(col.cohort) if col.per_agency_type else data.children(col.cohort)


def _column(
    data: PeriodData,
    period: str,
    rows: Dim,
    row_labels: list[str],
    col: Column,
    done: dict[int, dict[str, Cell]],
) -> dict[str, Cell]:
    if isinstance(col, RateCol):
        return {
            r: Rate(
                cell_key(period, col.measure, [(rows, r)]),
                den=_count(done[col.den][r]),
                num=_count(done[col.num][r]),
            )
            for r in row_labels
        }
    if isinstance(col, MedianCol):
        return _median_column(data, period, rows, row_labels, col, done)
    frame = _frame(data, col)
    by_row = tally(frame, [rows], where=col.where, weight=col.weight)
    # The per-agency-type frame has a row per child and agency type: count children for the
    # total (its flag columns mean the same on the child frame: true for any record).
    whole = data.children(col.cohort) if col.per_agency_type else frame
    by_row[(rows.total,)] = tally(whole, [], where=col.where, weight=col.weight)[()]
    return {
        r: Count(cell_key(period, col.measure, [(rows, r)], col.parts), by_row.get((r,), 0))
        for r in row_labels
    }


def _median_column(
    data: PeriodData,
    period: str,
    rows: Dim,
    row_labels: list[str],
    col: MedianCol,
    done: dict[int, dict[str, Cell]],
) -> dict[str, Cell]:
    counts = done[col.n]
    source = data.children(col.cohort)
    medians = source.group_by(rows.column).agg(pl.col(col.column).median())
    found = {str(k): v for k, v in medians.iter_rows()}
    found[rows.total] = source.get_column(col.column).median()
    out: dict[str, Cell] = {}
    for r in row_labels:
        value = found.get(r)
        number = float(value) if isinstance(value, int | float) else None
        out[r] = Median(cell_key(period, col.measure, [(rows, r)]), number, _count(counts[r]))
    return out


def _count(cell: Cell) -> Count:
    if not isinstance(cell, Count):
        raise TypeError("a rate or median must refer to a count column")
    return cell


def _sum_equation(cells: dict[str, Cell], row_labels: list[str]) -> Equation:
    keys = [_count(cells[r]).key for r in row_labels]
    return Equation(keys[-1], tuple(keys[:-1]))


def gm_count(
    data: PeriodData,
    measure: str,
    cohort: Cohort,
    *,
    where: pl.Expr | None = None,
    weight: str | None = None,
    parts: tuple[tuple[str, str], ...] = (),
) -> Count:
    """The Greater Manchester total of a count (the headline and trend value)."""
    value = tally(data.children(cohort), [], where=where, weight=weight)[()]
    return Count(make_key(data.period.label, measure, GM, parts), value)


def gm_rate(data: PeriodData, measure: str, num: Count, den: Count) -> Rate:
    """The Greater Manchester percentage ``num / den``."""
    return Rate(make_key(data.period.label, measure), den=den, num=num)
