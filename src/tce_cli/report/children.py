"""Collapse one period's stored rows to one row per child, grouping and sorting on integers.

The rules are in :mod:`tce_cli.report.cohorts`; this module computes them quickly on big stores:

* rows are grouped by a 64-bit hash of ``person_key`` (``_h1``, :mod:`tce_cli.keyhash`). A
  second, independent hash (``_h2``) must be the same on all rows of a group; if not, two keys
  share a hash and the period is grouped by the ``person_key`` text instead;
* the representative order (LA children's social care first, latest start, agency id; then the
  record id) is one integer, ``_order``, for all but the record id. A narrow frame of integers
  and flags is sorted by child and ``_order``, so a child's first row is its representative and
  ``arg_max`` of the missing count picks, among the records reporting the most, the
  representative one. Children with two rows of equal ``_order`` are sorted on the record id
  too;
* yes/no conditions are ``any`` over the child's rows; the sets of codes (exploitation types,
  disruption actions, agency types) are one yes/no per label, turned into a sorted list;
* the values taken from one chosen row are carried in the sorted frame and labelled once per
  child, not once per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from tce_cli.keyhash import H1, H2
from tce_cli.report.model import NOT_RECORDED
from tce_cli.report.vocab import labels

POS, ORDER = "_pos", "_order"
COHORT_FLAGS = ("open_at_period_end", "new_in_period", "closed_in_period")
MAX_LABELS = 62
"""A set of codes with more distinct labels is collected as lists (slower) rather than bits."""


def order_key(agencies: Sequence[str]) -> pl.Expr:
    """``_order``: sorts like (agency type is not LA_CSC, start descending, agency id), nulls last.

    ``agencies``: the period's agency ids, sorted (an id's rank is its place in that list).
    """
    bits = max(1, len(agencies).bit_length())
    if bits > 28:  # 2 + 33 + bits must fit in 63 bits
        raise ValueError("too many agencies in one period")
    not_csc = (pl.col("submitting_agency_type") != "LA_CSC").cast(pl.Int64).fill_null(2)
    days = pl.col("episode_start_date").cast(pl.Int64)
    start = (2**31 - 1 - days).fill_null(2**32)  # a date is an Int32 day number
    rank = pl.col("agency_id").replace_strict(
        {a: i for i, a in enumerate(agencies)}, default=len(agencies), return_dtype=pl.Int64
    )
    return (not_csc * (1 << (33 + bits)) + start * (1 << bits) + rank).alias(ORDER)


@dataclass(frozen=True)
class CodeSet:
    """The distinct labels of a child's codes in ``column`` (lists of codes, or one code)."""

    name: str
    column: str
    labels: tuple[str, ...]
    """Distinct labels found, sorted; label i is bit i of the child's mask."""
    codes: tuple[tuple[str | None, int], ...]
    """(code, label index); a null code (one-code columns only) is 'Not recorded'."""
    listed: bool

    @classmethod
    def found(cls, name: str, values: pl.Series, code_list: str) -> CodeSet:
        """The set of labels of ``values`` (a column of one period's rows)."""
        listed = isinstance(values.dtype, pl.List)
        codes = values.explode() if listed else values
        names = labels(code_list)
        label_of: dict[str | None, str] = {
            c: names.get(c, c) for c in codes.drop_nulls().unique().to_list()
        }
        if not listed and codes.has_nulls():
            label_of[None] = NOT_RECORDED
        ordered = tuple(sorted(set(label_of.values())))
        pairs = tuple((c, ordered.index(v)) for c, v in label_of.items())
        return cls(name, str(values.name), ordered, pairs, listed)

    @property
    def bitwise(self) -> bool:
        return len(self.labels) <= MAX_LABELS

    def bit_columns(self) -> list[str]:
        return [f"_{self.name}{i}" for i in range(len(self.labels))]

    def row_flags(self) -> list[pl.Expr]:
        """One yes/no per label: the row holds a code with that label."""
        column = pl.col(self.column)
        out = []
        for i, bit in enumerate(self.bit_columns()):
            codes = [c for c, j in self.codes if j == i]
            if self.listed:
                hits = [column.list.contains(pl.lit(c, pl.String)) for c in codes]
            else:
                known = [c for c in codes if c is not None]
                hits = [column.is_in(known)] + [column.is_null()] * (None in codes)
            out.append(pl.any_horizontal(hits).fill_null(False).alias(bit))
        return out

    def index(self) -> pl.Expr:
        """The label index of a one-code column's value."""
        known = {c: i for c, i in self.codes if c is not None}
        index = pl.col(self.column).replace_strict(known, default=None, return_dtype=pl.UInt32)
        missing = [i for c, i in self.codes if c is None]
        return index.fill_null(missing[0]) if missing else index

    def mask(self) -> pl.Expr:
        """The child's labels as bits (from the per-label ``any``)."""
        bits = [pl.col(b).cast(pl.Int64) * (1 << i) for i, b in enumerate(self.bit_columns())]
        return pl.sum_horizontal(bits) if bits else pl.lit(0, pl.Int64)

    def lists(self, masks: pl.Series) -> pl.Series:
        """The sorted labels of each mask."""
        wanted = masks.unique().to_list()
        table = pl.DataFrame(
            {
                "m": pl.Series(wanted, dtype=pl.Int64),
                self.name: [[v for i, v in enumerate(self.labels) if m >> i & 1] for m in wanted],
            },
            schema={"m": pl.Int64, self.name: pl.List(pl.String)},
        )
        frame = masks.rename("m").cast(pl.Int64).to_frame()
        return frame.join(table, on="m", how="left", maintain_order="left").get_column(self.name)

    def collected(self) -> pl.Expr:
        """The child's distinct codes, for a set too big for bits."""
        column = pl.col(self.column)
        codes = (
            column.list.explode(keep_nulls=False, empty_as_null=False) if self.listed else column
        )
        return codes.unique().alias(self.name)

    def labelled(self) -> pl.Expr:
        """:meth:`collected` codes as sorted distinct labels."""
        names = {c: self.labels[i] for c, i in self.codes if c is not None}
        element = pl.element().replace_strict(names, default=None, return_dtype=pl.String)
        if not self.listed:
            element = element.fill_null(NOT_RECORDED)
        return pl.col(self.name).list.eval(element.drop_nulls()).list.unique().list.sort()


def ordered(narrow: pl.DataFrame, key: str) -> pl.DataFrame:
    """``narrow`` sorted by child, then ``_order``, then (where ``_order`` ties) ``record_id``.

    Two stable one-column sorts (``_order``, then the child) order the rows; only children
    with tied rows are then re-sorted on the record id, in place, so the frame stays sorted by
    child and each child's rows are one slice. The record id is dropped.
    """
    by_order = narrow.select(pl.arg_sort_by(ORDER, maintain_order=True)).to_series()
    keys = narrow.select(pl.col(key).gather(by_order))
    place = by_order.gather(keys.select(pl.arg_sort_by(key, maintain_order=True)).to_series())
    sorted_keys = narrow.select(pl.col(key, ORDER).gather(place)).with_row_index("_at")
    same = (pl.col(key) == pl.col(key).shift()) & (pl.col(ORDER) == pl.col(ORDER).shift())
    tied = sorted_keys.filter(same).get_column(key).unique()
    if tied.len():
        at = sorted_keys.filter(pl.col(key).is_in(tied.implode()))
        record = narrow.get_column("record_id").gather(place.gather(at.get_column("_at")))
        moved = (
            at.with_columns(record.alias("_record"))
            .sort([key, ORDER, "_record"], nulls_last=True, maintain_order=True)
            .get_column("_at")
        )
        place = place.scatter(at.get_column("_at"), place.gather(moved))
    rows = narrow.drop("record_id").select(pl.all().gather(place))
    return rows.with_columns(pl.col(key).set_sorted())


def clashes(rows: pl.DataFrame) -> bool:
    """Whether two person keys share ``_h1`` (rows sorted by ``_h1``; their ``_h2`` differ)."""
    same = pl.col(H1) == pl.col(H1).shift()
    return bool(rows.select((same & (pl.col(H2) != pl.col(H2).shift())).any()).item())
