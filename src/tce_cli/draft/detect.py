"""Value-based column detection: what each column's values look like, and how well they fit
each framework field (NHS numbers passing Modulus 11, postcodes, dates, counts, codes).

One Polars ``select`` profiles every column at once; code lists are matched on each column's
distinct values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from tce_cli.checks.identifiers import nhs_test_range, nhs_valid, postcode_valid, upn_valid
from tce_cli.draft.dates import DATE_SHAPE, DateInference, infer_date_formats
from tce_cli.draft.values import Coding, Recode, column_coding, distinct_counts, matcher
from tce_cli.schema import FieldType, SchemaField

MAX_CODE_VALUES = 150
"""Columns with more distinct values than this are not matched against code lists."""
_INTEGER = r"^\d{1,3}(\.0+)?$"
_YES_NO = r"^(?i:y|n|yes|no|true|false|0|1|x|✓|-|\?|na|n/a|unknown|not known)$"
_ID = r"^[A-Za-z0-9_-]{1,40}$"
_LA_ID = r"^[A-Za-z0-9]{1,20}$"
_LSOA = r"^E01\d{6}$"
_WORDY = r"^\S+(\s+\S+){4,}$"


@dataclass
class ColumnProfile:
    """What one column's values look like (shares are of its filled cells)."""

    name: str
    filled: int
    distinct: int
    stats: dict[str, float]
    values: list[tuple[str, int]] | None
    """Distinct values with counts, when few enough to be a code column."""
    series: pl.Series
    _dates: DateInference | None = None
    _codes: dict[tuple[str, bool, bool], Coding] = field(default_factory=dict)
    _pieces: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    @property
    def unique_share(self) -> float:
        return self.distinct / self.filled if self.filled else 0.0

    def share(self, key: str) -> float:
        return self.stats.get(key, 0.0)

    @property
    def dates(self) -> DateInference:
        if self._dates is None:
            self._dates = infer_date_formats(self.series)
        return self._dates

    def date_share(self) -> float:
        if self.share("date_shape") < 0.3:
            return 0.0
        return self.dates.readable_share

    def pieces(self, split: str) -> list[tuple[str, int]]:
        """Distinct pieces of the column split on ``split``, with counts (cached)."""
        if split not in self._pieces:
            self._pieces[split] = distinct_counts(self.series, split)
        return self._pieces[split]

    def coding(self, name: str, multi: bool, *, fuzzy: bool = False) -> Coding:
        """How this column codes field ``name`` (scheme, separator, share recognised);
        ``fuzzy`` also counts similar spellings (slower: used once a column is chosen)."""
        key = (name, multi, fuzzy)
        if key not in self._codes:
            if self.values is None or not self.filled:
                self._codes[key] = Coding(None, None, 0.0)
            else:
                self._codes[key] = column_coding(
                    name, self.values, self.pieces, multi=multi, fuzzy=fuzzy
                )
        return self._codes[key]


def _clean(name: str) -> pl.Expr:
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def _share(cond: pl.Expr, filled: pl.Expr) -> pl.Expr:
    return cond.fill_null(False).sum() / pl.max_horizontal(filled, 1)


def _digits(name: str) -> pl.Expr:
    return _clean(name).str.replace_all(r"[\s-]", "")


def _squeezed(name: str) -> pl.Expr:
    return _clean(name).str.to_uppercase().str.replace_all(r"\s", "")


def _stat_exprs(name: str) -> dict[str, pl.Expr]:
    """Cheap statistics of every column (regular expressions only)."""
    text = _clean(name)
    filled = text.is_not_null().sum()
    return {
        "filled": filled,
        "distinct": text.drop_nulls().n_unique(),
        "nhs_shape": _share(_digits(name).str.contains(r"^\d{10}$"), filled),
        "postcode": _share(postcode_valid(_squeezed(name)), filled),
        "upn_shape": _share(_squeezed(name).str.contains(r"^[A-Z]\d{11}[0-9A-Z]$"), filled),
        "lsoa": _share(text.str.contains(_LSOA), filled),
        "integer": _share(text.str.contains(_INTEGER), filled),
        "yes_no": _share(text.str.contains(_YES_NO), filled),
        "id": _share(text.str.contains(_ID), filled),
        "la_id": _share(text.str.contains(_LA_ID), filled),
        "wordy": _share(text.str.contains(_WORDY), filled),
        "date_shape": _share(text.str.contains(DATE_SHAPE), filled),
        "long": _share(text.str.len_chars() > 40, filled),
    }


def _check_exprs(name: str, stats: dict[str, float]) -> dict[str, pl.Expr]:
    """Check-digit statistics, only for columns shaped like NHS numbers or UPNs."""
    filled = _clean(name).is_not_null().sum()
    out = {}
    if stats["nhs_shape"] > 0:
        digits = _digits(name)
        out["nhs"] = _share(nhs_valid(digits), filled)
        out["nhs_test"] = _share(nhs_valid(digits) & nhs_test_range(digits), filled)
    if stats["upn_shape"] > 0:
        out["upn"] = _share(upn_valid(_squeezed(name)), filled)
    return out


def _run(
    frame: pl.DataFrame, per_column: dict[str, dict[str, pl.Expr]]
) -> dict[str, dict[str, float]]:
    """Evaluate named expressions for every column in one select."""
    names = list(per_column)
    exprs = [e.alias(f"{i}\x00{k}") for i, n in enumerate(names) for k, e in per_column[n].items()]
    row: dict[str, Any] = frame.select(exprs).row(0, named=True) if exprs else {}
    out: dict[str, dict[str, float]] = {n: {} for n in names}
    for key, value in row.items():
        i, stat = key.split("\x00", 1)
        out[names[int(i)]][stat] = float(value or 0)
    return out


def profile_columns(frame: pl.DataFrame, columns: list[str]) -> dict[str, ColumnProfile]:
    """Profile every column of ``frame`` named in ``columns`` (two passes over the data)."""
    stats = _run(frame, {c: _stat_exprs(c) for c in columns})
    checks = _run(frame, {c: _check_exprs(c, stats[c]) for c in columns})
    profiles = {}
    for name in columns:
        s = {**stats[name], **checks[name]}
        distinct = int(s.pop("distinct"))
        filled = int(s.pop("filled"))
        series = frame[name]
        values = distinct_counts(series) if distinct <= MAX_CODE_VALUES else None
        profiles[name] = ColumnProfile(name, filled, distinct, s, values, series)
    return profiles


def value_fit(f: SchemaField, p: ColumnProfile) -> float:
    """How well a column's values fit field ``f`` (0 = not at all, 1 = perfectly)."""
    if not p.filled:
        return 0.0
    if f.type is FieldType.DATE:
        return p.date_share()
    if f.type is FieldType.INTEGER:
        return max(p.share("integer"), 0.5 * p.share("yes_no"))
    if f.type in (FieldType.CODE, FieldType.CODE_LIST):
        return p.coding(f.name, f.type is FieldType.CODE_LIST).share
    return _string_fit(f.name, p)


def _string_fit(name: str, p: ColumnProfile) -> float:
    not_text = 1 - max(p.share("wordy"), p.share("date_shape"))
    if name == "nhs_number":
        return p.share("nhs")
    if name == "home_postcode":
        return p.share("postcode")
    if name == "upn":
        return max(p.share("upn"), 0.8 * p.share("upn_shape"))
    if name == "lsoa21_code":
        return p.share("lsoa")
    if name == "record_id":
        return p.share("id") * min(1.0, p.unique_share / 0.95) * not_text
    if name == "la_child_id":
        return p.share("la_id") * not_text
    return p.share("id") * not_text


def recode_column(name: str, p: ColumnProfile, coding: Coding) -> list[Recode]:
    """Recode every distinct value (or piece) of a column for code field ``name``."""
    m = matcher(name, coding.scheme)
    if coding.split:
        values = p.pieces(coding.split)
    else:
        values = p.values if p.values is not None else distinct_counts(p.series)
    return [m.match(v, n) for v, n in values]
