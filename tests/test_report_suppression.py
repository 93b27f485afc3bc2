"""Disclosure control: primary and secondary suppression, rates, and attacks on a real pack."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tce_cli.periods import parse_period
from tce_cli.report import Constraint, build_pack, suppress
from tce_cli.report.model import Count, Rate, Row, Section, Table, make_key
from tce_cli.report.pack import Pack, compute_sections
from tce_cli.report.publish import PublishedTable, Publisher
from tce_cli.report.store_read import open_store
from test_report_support import P2, generated

WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
Cell = tuple[int, int]


def table_with_margins(
    body: Sequence[Sequence[int]],
) -> tuple[dict[Cell, int], list[Constraint[Cell]]]:
    """Cells (row, col) of ``body`` plus a total column and a total row, and their equations."""
    n, m = len(body), len(body[0])
    values: dict[Cell, int] = {}
    for i in range(n):
        for j in range(m):
            values[i, j] = body[i][j]
        values[i, m] = sum(body[i])
    for j in range(m + 1):
        values[n, j] = sum(values[i, j] for i in range(n))
    rows = [Constraint((i, m), tuple((i, j) for j in range(m))) for i in range(n + 1)]
    cols = [Constraint((n, j), tuple((i, j) for i in range(n))) for j in range(m + 1)]
    return values, rows + cols


def rank(matrix: list[list[Fraction]]) -> int:
    """Rank by plain Gaussian elimination (independent of the code under test)."""
    rows = [r[:] for r in matrix if any(r)]
    rank_, col = 0, 0
    width = len(rows[0]) if rows else 0
    while rank_ < len(rows) and col < width:
        pivot = next((i for i in range(rank_, len(rows)) if rows[i][col]), None)
        if pivot is None:
            col += 1
            continue
        rows[rank_], rows[pivot] = rows[pivot], rows[rank_]
        for i in range(len(rows)):
            if i != rank_ and rows[i][col]:
                f = rows[i][col] / rows[rank_][col]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[rank_], strict=True)]
        rank_ += 1
        col += 1
    return rank_


def _matrix(
    constraints: Sequence[Constraint[Hashable]], hidden: set[Hashable]
) -> tuple[list[Hashable], list[list[Fraction]]]:
    unknowns = sorted({k for c in constraints for k in c.cells if k in hidden}, key=repr)
    index = {k: j for j, k in enumerate(unknowns)}
    matrix = []
    for c in constraints:
        row = [Fraction(0)] * len(unknowns)
        for k in c.parts:
            if k in hidden:
                row[index[k]] += 1
        if c.total in hidden:
            row[index[c.total]] -= 1
        matrix.append(row)
    return unknowns, matrix


def determined(constraints: Sequence[Constraint[Hashable]], hidden: set[Hashable]) -> set[Hashable]:
    """Hidden cells whose value follows from the equations: dropping the cell's column from the
    coefficient matrix (over hidden cells) lowers its rank. Slow; for small tables."""
    unknowns, matrix = _matrix(constraints, hidden)
    full = rank(matrix)
    return {k for j, k in enumerate(unknowns) if rank([r[:j] + r[j + 1 :] for r in matrix]) < full}


def determined_fast(
    constraints: Sequence[Constraint[Hashable]], hidden: set[Hashable]
) -> set[Hashable]:
    """The same, by one dense reduction: a pivot whose row has no free column is fixed."""
    unknowns, matrix = _matrix(constraints, hidden)
    rows = [r for r in matrix if any(r)]
    pivots: list[int] = []
    top = 0
    for col in range(len(unknowns)):
        pivot = next((i for i in range(top, len(rows)) if rows[i][col]), None)
        if pivot is None:
            continue
        rows[top], rows[pivot] = rows[pivot], rows[top]
        rows[top] = [v / rows[top][col] for v in rows[top]]
        for i in range(len(rows)):
            if i != top and rows[i][col]:
                f = rows[i][col]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[top], strict=True)]
        pivots.append(col)
        top += 1
    free = set(range(len(unknowns))) - set(pivots)
    return {unknowns[col] for i, col in enumerate(pivots) if not any(rows[i][j] for j in free)}


def single_equation_leaks(
    values: Mapping[Hashable, int],
    constraints: Sequence[Constraint[Hashable]],
    hidden: set[Hashable],
) -> list[tuple[Hashable, int]]:
    """The arithmetic a reader does: a total minus the visible parts (or parts summed)."""
    leaks = []
    for c in constraints:
        gone = [k for k in c.cells if k in hidden]
        if len(gone) == 1:
            (k,) = gone
            if k == c.total:
                leaks.append((k, sum(values[p] for p in c.parts)))
            else:
                leaks.append((k, values[c.total] - sum(values[p] for p in c.parts if p != k)))
    return leaks


# --- the engine -----------------------------------------------------------------------------


def test_primary_suppresses_one_to_threshold_and_keeps_zeros() -> None:
    values = {i: i for i in range(9)}
    assert suppress(values, [], 5).cells == {1, 2, 3, 4, 5}
    assert suppress(values, [], 3).cells == {1, 2, 3}


def test_margin_rule_takes_the_next_smallest_part_not_the_total() -> None:
    values, eqs = table_with_margins([[3, 10, 40], [20, 30, 50]])
    result = suppress(values, eqs, 5)
    assert result.primary == {(0, 0)}
    assert (0, 1) in result.margin  # 10 is the next smallest in row 0 (not 53, the total)
    assert (1, 0) in result.margin  # 20 is the next smallest in column 0
    assert not single_equation_leaks(values, eqs, set(result.cells))
    assert not determined(eqs, set(result.cells))


def test_audit_catches_cells_recoverable_only_by_combining_totals() -> None:
    # Two blocks of small cells joined by one small cell at (1, 2): every row and column has
    # two or more suppressed cells, yet rows 0-1 minus columns 0-1 give the joining cell away.
    big = 50
    body = [
        [2, 3, big, big],
        [4, 2, 3, big],
        [big, big, 2, 4],
        [big, big, 3, 2],
    ]
    values, eqs = table_with_margins(body)
    primary = {k for k, v in values.items() if 1 <= v <= 5}
    assert not single_equation_leaks(values, eqs, primary)
    assert (1, 2) in determined(eqs, primary)  # margins alone do not protect it
    assert determined_fast(eqs, primary) == determined(eqs, primary)
    result = suppress(values, eqs, 5)
    assert result.audit
    assert not determined(eqs, set(result.cells))
    assert not result.unprotected


small_tables = st.integers(2, 5).flatmap(
    lambda n: st.integers(2, 5).flatmap(
        lambda m: st.lists(
            st.lists(
                st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 20, 40]), min_size=m, max_size=m
            ),
            min_size=n,
            max_size=n,
        )
    )
)


@settings(max_examples=300, deadline=None)
@given(body=small_tables, threshold=st.sampled_from([3, 5, 10]))
def test_no_suppressed_cell_can_be_recovered(body: list[list[int]], threshold: int) -> None:
    values, eqs = table_with_margins(body)
    primary = {k for k, v in values.items() if 1 <= v <= threshold}
    assert determined_fast(eqs, primary) == determined(eqs, primary)  # the two checks agree
    result = suppress(values, eqs, threshold)
    hidden = set(result.cells)
    visible = {k: v for k, v in values.items() if k not in hidden}
    assert not [v for v in visible.values() if 1 <= v <= threshold]
    assert not [k for k in hidden if values[k] == 0]  # true zeros are never suppressed
    for c in eqs:  # the stated rule: 0 or at least 2 suppressed cells in every margin
        assert sum(k in hidden for k in c.cells) != 1
    assert not single_equation_leaks(values, eqs, hidden)
    assert not determined(eqs, hidden)
    assert not result.unprotected


# --- a real pack ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated(tmp_path_factory.mktemp("gen") / "store")


@pytest.fixture(scope="module")
def sections(store: Path) -> list[Section]:
    return compute_sections(open_store(store), parse_period(P2), places_threshold=5)


@pytest.fixture(scope="module")
def publisher(sections: list[Section]) -> Publisher:
    return Publisher(sections, threshold=5, enabled=True)


@pytest.fixture(scope="module")
def pack(store: Path) -> Pack:
    return build_pack(store, parse_period(P2), generated_at=WHEN)


def _tables(pack: Pack) -> list[PublishedTable]:
    return [t for s in pack.sections for t in s.tables]


def test_no_published_count_is_between_1_and_5(pack: Pack) -> None:
    for table in _tables(pack):
        for row in table.rows:
            for cell in row.cells:
                if cell.kind == "count":
                    assert cell.number is not None and not 1 <= cell.number <= 5, table.id
    for row in pack.tidy:
        measure, text = row[4], row[7]
        if text.isdigit() and not measure.endswith("median_days"):
            assert not 1 <= int(text) <= 5, row
    assert pack.log.primary > 0 and pack.log.margin + pack.log.audit > 0


def test_no_suppressed_count_can_be_recovered_from_totals(publisher: Publisher) -> None:
    hidden = set(publisher.hidden)
    constraints = publisher.constraints
    assert not single_equation_leaks(publisher.values, constraints, hidden)  # type: ignore[arg-type]
    assert not determined_fast(constraints, hidden)  # type: ignore[arg-type]
    assert not publisher.result.unprotected


def test_the_arithmetic_on_published_grids_recovers_nothing(pack: Pack) -> None:
    grids = {"M01-la-type", "M03-la-source", "M05-la-reason", "M06-la-risk"}
    checked = 0
    for table in (t for t in _tables(pack) if t.id in grids):
        body = [[c.text for c in r.cells] for r in table.rows]
        lines = body + [list(col) for col in zip(*body, strict=True)]  # rows, then columns
        for line in lines:
            assert line.count("c") != 1, (table.id, line)
            checked += 1
    assert checked > 40


def test_a_number_shown_twice_is_suppressed_in_both_places(
    sections: list[Section], publisher: Publisher
) -> None:
    shown: dict[object, set[str]] = {}
    for table in (t for s in sections for t in s.tables):
        for row in table.rows:
            for cell in row.cells:
                if isinstance(cell, Count):
                    shown.setdefault(cell.key, set()).add(publisher.shown(cell).text)
    assert all(len(texts) == 1 for texts in shown.values())
    assert any(len(t) == 1 and "c" in t for t in shown.values())


def test_percentages_follow_their_counts(sections: list[Section], publisher: Publisher) -> None:
    rates = [
        c
        for s in sections
        for t in s.tables
        for r in t.rows
        for c in r.cells
        if isinstance(c, Rate)
    ]
    published = 0
    for rate in rates:
        text = publisher.shown(rate).text
        if text in ("c", "x", "z"):
            continue
        published += 1
        assert rate.den.value >= 10
        assert rate.den.key not in publisher.hidden
        assert rate.num is None or rate.num.key not in publisher.hidden
    assert published > 10
    assert "linked" in {publisher.rate_reason(r) for r in rates}


def test_rate_rules() -> None:
    def count(name: str, n: int) -> Count:
        return Count(make_key(P2, name), n)

    cases = {
        "shown": (count("a", 10), count("b", 20)),
        "small denominator": (count("c", 7), count("d", 8)),
        "suppressed numerator": (count("e", 3), count("f", 20)),
        "no denominator": (count("g", 0), count("h", 0)),
    }
    rows = tuple(
        Row(name, (num, den, Rate(make_key(P2, f"{name}.pct"), den=den, num=num)))
        for name, (num, den) in cases.items()
    )
    table = Table("t", "t", "case", ("num", "den", "%"), rows)
    publisher = Publisher([Section("s", "s", "s", "", (table,))], threshold=5, enabled=True)
    shown = {r.label: [c.text for c in r.cells] for r in publisher.table(table).rows}
    assert shown == {
        "shown": ["10", "20", "50.0"],
        "small denominator": ["7", "8", "c"],
        "suppressed numerator": ["c", "20", "c"],
        "no denominator": ["0", "0", "z"],
    }
    log = publisher.log()
    assert (log.rates_small, log.rates_linked, log.primary) == (1, 1, 1)


def test_no_suppression_shows_everything_and_is_stamped(store: Path) -> None:
    pack = build_pack(store, parse_period(P2), suppression=False, generated_at=WHEN)
    assert not any(row[7] == "c" for row in pack.tidy)
    assert any(s.startswith("NOT FOR PUBLICATION") for s in pack.stamps)


def test_threshold_is_configurable(store: Path) -> None:
    pack = build_pack(store, parse_period(P2), threshold=3, generated_at=WHEN)
    counts = [int(r[7]) for r in pack.tidy if r[7].isdigit() and not r[4].endswith("days")]
    assert not [v for v in counts if 1 <= v <= 3]
    assert [v for v in counts if v in (4, 5)]
