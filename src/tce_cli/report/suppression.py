"""Statistical disclosure control (domain §4): primary and secondary suppression of counts.

Primary: every count from 1 to ``threshold`` is suppressed; true zeros are kept.

Secondary: a reader knows every published equation (a total equals the sum of its parts: row and
column totals, the Greater Manchester total of the local authorities, rows read = accepted +
rejected). Two rules run until nothing changes:

1. *Margin rule.* An equation with exactly one suppressed cell gives that cell away, so the
   next-smallest non-zero published cell of the same equation (a part before the total) is
   suppressed too.
2. *Audit.* Equations can also be combined (two rows minus a column...). The audit solves the
   system exactly (rational Gaussian elimination) and, for any suppressed cell whose value is
   still determined, suppresses the smallest published non-zero cell of one of its equations.

The functions are generic over hashable cell keys so property tests can use small tables.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Constraint(Generic[K]):
    """``total`` equals the sum of ``parts``."""

    total: K
    parts: tuple[K, ...]

    @property
    def cells(self) -> tuple[K, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class Suppressed(Generic[K]):
    """Which cells are suppressed, and why."""

    primary: frozenset[K]
    margin: frozenset[K]
    audit: frozenset[K]
    unprotected: frozenset[K]

    @property
    def cells(self) -> frozenset[K]:
        return self.primary | self.margin | self.audit


def suppress(
    values: Mapping[K, int], constraints: Sequence[Constraint[K]], threshold: int
) -> Suppressed[K]:
    """Suppress counts 1..threshold, then enough other cells that none can be worked out.

    Args:
        values: every published count by key; iteration order breaks ties (first wins).
        constraints: the published equations between those counts.
        threshold: the largest count suppressed as a primary cell.
    """
    order = {key: i for i, key in enumerate(values)}
    eqs = [c for c in constraints if all(k in values for k in c.cells)]
    primary = {k for k, v in values.items() if 1 <= v <= threshold}
    hidden = set(primary)
    margin: set[K] = set()
    audit: set[K] = set()
    while True:
        margin |= _margin_rule(values, eqs, hidden, order)
        exposed = recoverable(values, eqs, hidden)
        if not exposed:
            return Suppressed(frozenset(primary), frozenset(margin), frozenset(audit), frozenset())
        first = min(exposed, key=order.__getitem__)
        extra = _protect(first, values, eqs, hidden, order)
        if extra is None:
            return Suppressed(
                frozenset(primary), frozenset(margin), frozenset(audit), frozenset(exposed)
            )
        hidden.add(extra)
        audit.add(extra)


def _margin_rule(
    values: Mapping[K, int], eqs: Sequence[Constraint[K]], hidden: set[K], order: Mapping[K, int]
) -> set[K]:
    added: set[K] = set()
    changed = True
    while changed:
        changed = False
        for eq in eqs:
            if sum(k in hidden for k in eq.cells) != 1:
                continue
            pick = _smallest(eq, values, hidden, order)
            if pick is not None:
                hidden.add(pick)
                added.add(pick)
                changed = True
    return added


def _smallest(
    eq: Constraint[K], values: Mapping[K, int], hidden: set[K], order: Mapping[K, int]
) -> K | None:
    candidates = [k for k in eq.cells if k not in hidden and values[k] > 0]
    if not candidates:
        return None
    return min(candidates, key=lambda k: (values[k], k == eq.total, order[k]))


def _protect(
    cell: K,
    values: Mapping[K, int],
    eqs: Sequence[Constraint[K]],
    hidden: set[K],
    order: Mapping[K, int],
) -> K | None:
    """Choose one more cell to suppress so that ``cell`` stops being determined."""
    own = [eq for eq in eqs if cell in eq.cells]
    linked = [eq for eq in eqs if any(k in hidden for k in eq.cells)]
    for group in (own, linked):
        picks = [p for eq in group if (p := _smallest(eq, values, hidden, order)) is not None]
        if picks:
            return min(picks, key=lambda k: (values[k], order[k]))
    return None


def recoverable(
    values: Mapping[K, int], constraints: Sequence[Constraint[K]], hidden: set[K] | frozenset[K]
) -> set[K]:
    """Suppressed cells whose value follows exactly from the published cells and equations.

    A hidden cell x_k is determined when the unit vector e_k lies in the row space of the
    equations' coefficients restricted to hidden cells; in reduced row echelon form that means
    some basis row is exactly e_k.
    """
    order = {k: i for i, k in enumerate(values)}
    unknowns = sorted(
        {k for c in constraints for k in c.cells if k in hidden}, key=order.__getitem__
    )
    index = {k: i for i, k in enumerate(unknowns)}
    basis: dict[int, dict[int, Fraction]] = {}
    for c in constraints:
        row: dict[int, Fraction] = {}
        for k in c.parts:
            if k in index:
                row[index[k]] = row.get(index[k], Fraction(0)) + 1
        if c.total in index:
            row[index[c.total]] = row.get(index[c.total], Fraction(0)) - 1
        _insert(basis, {i: v for i, v in row.items() if v})
    return {unknowns[p] for p, r in basis.items() if len(r) == 1}


def _insert(basis: dict[int, dict[int, Fraction]], row: dict[int, Fraction]) -> None:
    """Add ``row`` to a reduced row echelon basis keyed by pivot column."""
    for pivot, prow in basis.items():
        factor = row.get(pivot)
        if factor:
            _axpy(row, prow, -factor)
    if not row:
        return
    pivot = min(row)
    scale = row[pivot]
    row = {i: v / scale for i, v in row.items()}
    for prow in basis.values():
        factor = prow.get(pivot)
        if factor:
            _axpy(prow, row, -factor)
    basis[pivot] = row


def _axpy(target: dict[int, Fraction], source: dict[int, Fraction], factor: Fraction) -> None:
    for i, v in source.items():
        new = target.get(i, Fraction(0)) + factor * v
        if new:
            target[i] = new
        else:
            target.pop(i, None)
